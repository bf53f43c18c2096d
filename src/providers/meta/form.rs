//! Meta's connection form: what each field must look like, checked before anything is sent.

use crate::error::{AppError, FieldErrors};
use messaging::Account;
use secrecy::SecretString;

/// What the connection form sends, untrimmed.
#[derive(Debug, Default, Clone)]
pub struct ConnectInput {
    pub phone_number_id: String,
    pub access_token: String,
    pub business_account_id: String,
    pub phone_number: String,
    pub app_id: String,
    pub app_secret: String,
}

fn numeric_id(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    value: &str,
    required: bool,
) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        if required {
            errors.add(
                field,
                format!("Enter the {label} from WhatsApp → API Setup in Meta for Developers."),
            );
        }
        return None;
    }
    if v.starts_with('+') {
        errors.add(field, format!("This looks like a phone number. The {label} is a long number such as 123456789012345, shown under API Setup."));
    } else if !v.chars().all(|c| c.is_ascii_digit()) {
        errors.add(
            field,
            format!("The {label} contains only digits, such as 123456789012345."),
        );
    } else if !(5..=25).contains(&v.len()) {
        errors.add(
            field,
            format!("The {label} is a number of 5 to 25 digits; check that you copied all of it."),
        );
    }
    Some(v.to_string())
}

pub(super) fn token(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    to_meta: bool,
) -> SecretString {
    let v = value.trim();
    if v.is_empty() {
        errors.add(field, "Paste your access token.");
    } else if v.chars().any(char::is_whitespace) {
        errors.add(
            field,
            "An access token has no spaces or line breaks. Copy it again in one piece.",
        );
    } else if v.len() < 20 {
        errors.add(
            field,
            "This is too short to be an access token. Copy the whole token.",
        );
    } else if to_meta && v.starts_with("SANDBOX") {
        errors.add(
            field,
            "This is a sandbox token. It only works with the sandbox: use \"Use sandbox\" instead.",
        );
    }
    SecretString::from(v.to_string())
}

/// E.164 for an optional business phone number, parsed with the `phonenumber` crate.
pub fn parse_phone(errors: &mut FieldErrors, field: &str, value: &str) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    match phonenumber::parse(None, v) {
        Ok(n) if phonenumber::is_valid(&n) => {
            Some(n.format().mode(phonenumber::Mode::E164).to_string())
        }
        Ok(_) => {
            errors.add(
                field,
                "This is not a valid phone number. Check the digits and the country code.",
            );
            None
        }
        Err(_) => {
            errors.add(
                field,
                "Enter the number with its country code, like +44 7911 123456.",
            );
            None
        }
    }
}

/// Checks every field of the form before anything reaches Meta, and returns the credentials
/// with the business number in E.164. `to_meta`: the credentials will go to Meta itself, so a
/// sandbox token is refused here.
pub fn validate(
    input: &ConnectInput,
    to_meta: bool,
) -> Result<(Account, Option<String>), AppError> {
    let mut errors = FieldErrors::new();
    let phone_number_id = numeric_id(
        &mut errors,
        "phone_number_id",
        "Phone Number ID",
        &input.phone_number_id,
        true,
    );
    let access_token = token(&mut errors, "access_token", &input.access_token, to_meta);
    let business_account_id = numeric_id(
        &mut errors,
        "business_account_id",
        "Business Account ID",
        &input.business_account_id,
        false,
    );
    let phone = parse_phone(&mut errors, "phone_number", &input.phone_number);
    let app_id = numeric_id(&mut errors, "app_id", "App ID", &input.app_id, false);
    let secret = input.app_secret.trim();
    if secret.chars().any(char::is_whitespace) {
        errors.add(
            "app_secret",
            "An App Secret has no spaces. Copy it again from App settings → Basic.",
        );
    }
    match (app_id.is_some(), secret.is_empty()) {
        (true, true) => errors.add(
            "app_secret",
            "Enter the App Secret too, or leave the App ID empty.",
        ),
        (false, false) => errors.add(
            "app_id",
            "Enter the App ID too, or leave the App Secret empty.",
        ),
        _ => {}
    }
    errors.into_result()?;
    let app = app_id.map(|app_id| (app_id, SecretString::from(secret.to_string())));
    Ok((
        Account {
            sender: phone_number_id.unwrap_or_default(),
            token: access_token,
            account_id: business_account_id,
            app_id: app.as_ref().map(|a| a.0.clone()),
            signing_secret: app.map(|a| a.1),
        },
        phone,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ConnectInput {
        ConnectInput {
            phone_number_id: " 123456789012345 ".into(),
            access_token: "EAAGm0PX4ZCpsBAabcdefghijklmnop".into(),
            ..Default::default()
        }
    }

    #[test]
    fn accepts_the_minimum() {
        let (c, phone) = validate(&input(), true).unwrap();
        assert_eq!(c.sender, "123456789012345");
        assert!(c.account_id.is_none() && c.app_id.is_none() && c.signing_secret.is_none());
        assert!(phone.is_none());
        assert!(!format!("{c:?}").contains("EAAG"), "Debug hides the token");
    }

    #[test]
    fn checks_each_field_before_any_network_call() {
        let bad = ConnectInput {
            phone_number_id: "+44 7911 123456".into(),
            access_token: "EAAG token with spaces in it".into(),
            business_account_id: "abc".into(),
            phone_number: "07700 900123".into(),
            app_id: "123456".into(),
            app_secret: String::new(),
        };
        let e = validate(&bad, true).unwrap_err();
        assert!(e
            .field("phone_number_id")
            .unwrap()
            .contains("looks like a phone number"));
        assert!(e.field("access_token").unwrap().contains("no spaces"));
        assert!(e
            .field("business_account_id")
            .unwrap()
            .contains("only digits"));
        assert!(e.field("phone_number").unwrap().contains("country code"));
        assert!(e.field("app_secret").unwrap().contains("App Secret too"));
        let e = validate(&ConnectInput::default(), true).unwrap_err();
        assert!(e.field("phone_number_id").unwrap().contains("API Setup"));
        assert_eq!(
            e.field("access_token").as_deref(),
            Some("Paste your access token.")
        );
    }

    #[test]
    fn phone_numbers_become_e164() {
        let mut i = input();
        i.phone_number = "+44 7911 123456".into();
        assert_eq!(
            validate(&i, true).unwrap().1.as_deref(),
            Some("+447911123456")
        );
        i.phone_number = "+1 555".into();
        assert!(validate(&i, true)
            .unwrap_err()
            .field("phone_number")
            .is_some());
    }

    #[test]
    fn sandbox_tokens_never_go_to_meta() {
        let mut i = input();
        i.access_token = "SANDBOXabcdefghijklmnopqrstuvwxyz".into();
        assert!(validate(&i, true)
            .unwrap_err()
            .field("access_token")
            .unwrap()
            .contains("sandbox token"));
        assert!(validate(&i, false).is_ok());
    }
}

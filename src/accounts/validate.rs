//! Validation of account input. Pure functions, shared by the server functions and their tests.

use crate::{
    error::{AppError, FieldErrors},
    input::{self, rules},
};

pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 256;

/// Sign-up input after trimming and normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub name: String,
    pub business_name: String,
    /// As typed (trimmed), for display.
    pub email: String,
    /// Lower-cased: emails are unique case-insensitively.
    pub email_key: String,
    pub password: String,
}

/// Normalises an email for comparison: trimmed and lower-cased.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn check_email(errors: &mut FieldErrors, email: &str) -> String {
    let email = email.trim();
    if email.is_empty() {
        errors.add("email", "Enter your email address.");
    } else if !input::is_plain_email(email) {
        errors.add(
            "email",
            "Enter a valid email address, like name@example.com.",
        );
    }
    email.to_string()
}

pub fn check_password(errors: &mut FieldErrors, password: &str) {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        errors.add(
            "password",
            format!("Use a password of at least {PASSWORD_MIN} characters."),
        );
    } else if len > PASSWORD_MAX {
        errors.add(
            "password",
            format!("Use a password of at most {PASSWORD_MAX} characters."),
        );
    } else if password.trim().is_empty() {
        errors.add("password", "A password cannot be only spaces.");
    }
}

pub fn check_profile(name: &str, business_name: &str) -> Result<(String, String), AppError> {
    let mut errors = FieldErrors::new();
    let name = input::text(&mut errors, "name", &rules::USER_NAME, name);
    let business = input::text(
        &mut errors,
        "business_name",
        &rules::BUSINESS_NAME,
        business_name,
    );
    errors.into_result()?;
    Ok((name, business))
}

pub fn check_new_account(
    name: &str,
    business_name: &str,
    email: &str,
    password: &str,
) -> Result<NewAccount, AppError> {
    let mut errors = FieldErrors::new();
    let name = input::text(&mut errors, "name", &rules::USER_NAME, name);
    let business_name = input::text(
        &mut errors,
        "business_name",
        &rules::BUSINESS_NAME,
        business_name,
    );
    let email = check_email(&mut errors, email);
    check_password(&mut errors, password);
    errors.into_result()?;
    Ok(NewAccount {
        email_key: email_key(&email),
        name,
        business_name,
        email,
        password: password.to_string(),
    })
}

/// Where to go after logging in or sending: a path of this site only ([`input::next_path`]).
#[cfg(feature = "ssr")]
pub fn safe_next(next: Option<&str>) -> String {
    input::next_path(next, "/invoices")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_good_account_and_normalises_it() {
        let a = check_new_account(
            " Ana Silva ",
            "Silva Lettings",
            " Ana@Example.COM ",
            "correct horse",
        )
        .unwrap();
        assert_eq!(a.name, "Ana Silva");
        assert_eq!(a.email, "Ana@Example.COM");
        assert_eq!(a.email_key, "ana@example.com");
    }

    #[test]
    fn reports_every_bad_field_at_once() {
        let err = check_new_account("", "  ", "not-an-email", "short").unwrap_err();
        assert_eq!(err.field("name").as_deref(), Some("Enter your name."));
        assert_eq!(
            err.field("business_name").as_deref(),
            Some("Enter your business name.")
        );
        assert!(err.field("email").unwrap().contains("valid email"));
        assert!(err.field("password").unwrap().contains("at least 10"));
    }

    #[test]
    fn rejects_malformed_emails() {
        for bad in [
            "a@",
            "@b.com",
            "a b@c.com",
            "ana@localhost",
            "ana@@x.com",
            "\"Second\" <ana@example.com>",
        ] {
            let mut e = FieldErrors::new();
            check_email(&mut e, bad);
            assert!(e.get("email").is_some(), "{bad} should be refused");
        }
        let mut e = FieldErrors::new();
        check_email(&mut e, "");
        assert_eq!(e.get("email"), Some("Enter your email address."));
    }

    #[test]
    fn password_bounds() {
        let mut e = FieldErrors::new();
        check_password(&mut e, &"x".repeat(PASSWORD_MIN));
        assert!(e.is_empty());
        check_password(&mut e, &"x".repeat(PASSWORD_MAX + 1));
        assert!(e.get("password").unwrap().contains("at most"));
        let mut e = FieldErrors::new();
        check_password(&mut e, &" ".repeat(12));
        assert!(e.get("password").is_some());
    }

    #[test]
    fn long_and_control_text_is_refused() {
        assert!(check_profile(&"n".repeat(101), "B")
            .unwrap_err()
            .field("name")
            .unwrap()
            .contains("at most 100"));
        assert!(check_profile("Ana\u{0007}", "B").is_err());
        assert_eq!(
            check_profile(" Ana ", " B ").unwrap(),
            ("Ana".into(), "B".into())
        );
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn next_is_only_a_local_path() {
        assert_eq!(safe_next(Some("/settings")), "/settings");
        assert_eq!(safe_next(Some("//evil.example")), "/invoices");
        assert_eq!(safe_next(Some("https://evil.example")), "/invoices");
        assert_eq!(safe_next(Some("/\\evil.example")), "/invoices");
        assert_eq!(safe_next(Some("/api/logout")), "/invoices");
        assert_eq!(safe_next(None), "/invoices");
    }
}

//! Tenants: their phone numbers, read with the business's default country, and where they live.

use super::{fields::text, profile::profile};
use crate::{
    error::{AppError, FieldErrors},
    input::rules,
    invoices::types::*,
    platform::db::{now, Db},
};
use sqlx::{any::AnyRow, Row};

/// A phone number parsed with the business's default country: E.164, and whether it can be a
/// mobile (WhatsApp needs one).
pub fn parse_tenant_phone(raw: &str, country: &str) -> Result<Option<(String, bool)>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    // libphonenumber reads letters as keypad digits ("1-800-FLOWERS"): a tenant's "O" for "0"
    // would become someone else's number.
    if let Some(c) = raw.chars().find(|c| c.is_alphabetic()) {
        return Err(format!(
            "A phone number has only digits, spaces, +, - and brackets; remove the \"{c}\"."
        ));
    }
    let region = country.parse::<phonenumber::country::Id>().ok();
    let number = phonenumber::parse(region, raw).map_err(|_| {
        format!("This is not a phone number we can read. Include the country code (like +44 7911 123456) or use a {country} number.")
    })?;
    if !phonenumber::is_valid(&number) {
        return Err(
            "This phone number is not valid. Check the digits and the country code.".into(),
        );
    }
    use phonenumber::metadata::DATABASE;
    let is_fixed = matches!(number.number_type(&DATABASE), phonenumber::Type::FixedLine);
    Ok(Some((
        number.format().mode(phonenumber::Mode::E164).to_string(),
        !is_fixed,
    )))
}

pub(super) const TENANT_COLUMNS: &str = "t.id, t.name, t.phone_raw, t.phone_e164, t.phone_is_mobile, t.email, t.property_id, t.unit_id, \
    t.provider_user_id, t.username, \
    CASE WHEN u.name IS NULL THEN p.name ELSE p.name || ', ' || u.name END AS place";

pub(super) fn tenant_view(r: &AnyRow) -> Result<TenantView, sqlx::Error> {
    Ok(TenantView {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        phone_raw: r.try_get("phone_raw")?,
        phone: r.try_get("phone_e164")?,
        is_mobile: r.try_get::<i64, _>("phone_is_mobile")? != 0,
        email: r.try_get("email")?,
        property_id: r.try_get("property_id")?,
        unit_id: r.try_get("unit_id")?,
        property: r.try_get("place")?,
        whatsapp_user: whatsapp_user(r.try_get("provider_user_id")?, r.try_get("username")?),
    })
}

/// How a tenant known by user id is shown ([`super::identities::shown_user`]).
fn whatsapp_user(id: Option<String>, username: Option<String>) -> Option<String> {
    id?;
    Some(super::identities::shown_user(username.as_deref()))
}

pub async fn tenants(db: &Db, user_id: i64) -> Result<Vec<TenantView>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants t LEFT JOIN properties p ON p.id = t.property_id LEFT JOIN units u ON u.id = t.unit_id \
         WHERE t.user_id = $1 ORDER BY t.name, t.id"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(tenant_view).collect::<Result<_, _>>()?)
}

#[derive(Debug, Clone, Default)]
pub struct TenantInput {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub property_id: Option<i64>,
    pub unit_id: Option<i64>,
}

pub async fn save_tenant(
    db: &Db,
    user_id: i64,
    id: Option<i64>,
    input: &TenantInput,
) -> Result<i64, AppError> {
    let country = profile(db, user_id).await?.default_country;
    // A unit implies its property (only among this user's units).
    let mut input = input.clone();
    if let (None, Some(uid)) = (input.property_id, input.unit_id) {
        input.property_id =
            sqlx::query_scalar("SELECT property_id FROM units WHERE id = $1 AND user_id = $2")
                .bind(uid)
                .bind(user_id)
                .fetch_optional(&db.pool)
                .await?;
    }
    let input = &input;
    let mut e = FieldErrors::new();
    let name = text(&mut e, "name", &rules::TENANT_NAME, &input.name);
    let email = text(&mut e, "email", &rules::TENANT_EMAIL, &input.email);
    if !email.is_empty() && e.get("email").is_none() && !crate::input::is_plain_email(&email) {
        e.add(
            "email",
            "Enter a valid email address, like name@example.com, or leave it empty.",
        );
    }
    let phone_raw = text(&mut e, "phone", &rules::TENANT_PHONE, &input.phone);
    let phone = match e.get("phone") {
        Some(_) => None,
        None => match parse_tenant_phone(&phone_raw, &country) {
            Ok(p) => p,
            Err(msg) => {
                e.add("phone", msg);
                None
            }
        },
    };
    // The property and unit must be this user's, and the unit must be in the property.
    if let Some(pid) = input.property_id {
        let owned: Option<i64> =
            sqlx::query_scalar("SELECT id FROM properties WHERE id = $1 AND user_id = $2")
                .bind(pid)
                .bind(user_id)
                .fetch_optional(&db.pool)
                .await?;
        if owned.is_none() {
            e.add("property_id", "Choose one of your properties.");
        }
    }
    if let Some(uid) = input.unit_id {
        let in_property: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM units WHERE id = $1 AND user_id = $2 AND property_id = $3",
        )
        .bind(uid)
        .bind(user_id)
        .bind(input.property_id.unwrap_or(-1))
        .fetch_optional(&db.pool)
        .await?;
        if in_property.is_none() {
            e.add("unit_id", "Choose a unit of the chosen property.");
        }
    }
    e.into_result()?;
    let (e164, mobile) = phone.map(|(n, m)| (Some(n), m)).unwrap_or((None, true));
    match id {
        Some(id) => {
            let done = sqlx::query(
                "UPDATE tenants SET name = $1, phone_raw = $2, phone_e164 = $3, phone_is_mobile = $4, email = $5, property_id = $6, unit_id = $7, \
                 name_fold = $10 WHERE id = $8 AND user_id = $9",
            )
            .bind(&name)
            .bind(&phone_raw)
            .bind(&e164)
            .bind(mobile as i64)
            .bind(&email)
            .bind(input.property_id)
            .bind(input.unit_id)
            .bind(id)
            .bind(user_id)
            .bind(crate::input::fold(&name))
            .execute(&db.pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(AppError::NotFound);
            }
            Ok(id)
        }
        None => Ok(sqlx::query_scalar(
            "INSERT INTO tenants (user_id, name, phone_raw, phone_e164, phone_is_mobile, email, property_id, unit_id, created_at, name_fold) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(user_id)
        .bind(&name)
        .bind(&phone_raw)
        .bind(&e164)
        .bind(mobile as i64)
        .bind(&email)
        .bind(input.property_id)
        .bind(input.unit_id)
        .bind(now())
        .bind(crate::input::fold(&name))
        .fetch_one(&db.pool)
        .await?),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_parse_with_the_default_country() {
        assert_eq!(
            parse_tenant_phone("07911 123456", "GB").unwrap(),
            Some(("+447911123456".into(), true))
        );
        assert_eq!(
            parse_tenant_phone("+49 1512 3456789", "GB")
                .unwrap()
                .unwrap()
                .0,
            "+4915123456789"
        );
        let (n, mobile) = parse_tenant_phone("0117 496 0123", "GB").unwrap().unwrap();
        assert_eq!(n, "+441174960123");
        assert!(!mobile, "a fixed line is flagged");
        assert!(parse_tenant_phone("12", "GB").is_err());
        assert_eq!(parse_tenant_phone("  ", "GB").unwrap(), None);
    }
}

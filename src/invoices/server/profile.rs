//! The business profile: address, tax id, payment instructions and the defaults of new invoices.

use super::fields::{check_currency, text};
use crate::{
    error::{AppError, FieldErrors},
    input::rules,
    invoices::types::*,
    platform::db::Db,
};
use sqlx::Row;

pub async fn profile(db: &Db, user_id: i64) -> Result<Profile, AppError> {
    sqlx::query(
        "INSERT INTO business_profiles (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .execute(&db.pool)
    .await?;
    let r = sqlx::query(
        "SELECT address, tax_id, payment_instructions, default_currency, default_country, invoice_prefix FROM business_profiles WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(Profile {
        address: r.try_get("address")?,
        tax_id: r.try_get("tax_id")?,
        payment_instructions: r.try_get("payment_instructions")?,
        default_currency: r.try_get("default_currency")?,
        default_country: r.try_get("default_country")?,
        invoice_prefix: r.try_get("invoice_prefix")?,
    })
}

pub async fn save_profile(db: &Db, user_id: i64, p: &Profile) -> Result<(), AppError> {
    let mut e = FieldErrors::new();
    let address = text(&mut e, "address", &rules::ADDRESS, &p.address);
    let tax_id = text(&mut e, "tax_id", &rules::TAX_ID, &p.tax_id);
    let pay = text(
        &mut e,
        "payment_instructions",
        &rules::PAYMENT_INSTRUCTIONS,
        &p.payment_instructions,
    );
    let currency = check_currency(&mut e, "default_currency", &p.default_currency);
    let country = p.default_country.trim().to_ascii_uppercase();
    if country.parse::<phonenumber::country::Id>().is_err() {
        e.add(
            "default_country",
            "Enter a two-letter country code, like GB, DE or US.",
        );
    }
    let prefix = text(
        &mut e,
        "invoice_prefix",
        &rules::INVOICE_PREFIX,
        &p.invoice_prefix,
    );
    e.into_result()?;
    profile(db, user_id).await?;
    sqlx::query(
        "UPDATE business_profiles SET address = $1, tax_id = $2, payment_instructions = $3, default_currency = $4, \
         default_country = $5, invoice_prefix = $6 WHERE user_id = $7",
    )
    .bind(address)
    .bind(tax_id)
    .bind(pay)
    .bind(currency)
    .bind(country)
    .bind(prefix)
    .bind(user_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

//! Today's date and the field checks that several forms share.

use crate::{error::FieldErrors, input, invoices::money};

pub fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

pub(super) fn text(
    errors: &mut FieldErrors,
    field: &str,
    rule: &input::TextRule,
    value: &str,
) -> String {
    input::text(errors, field, rule, value)
}

/// The currency code typed into `field`, checked: ISO 4217 and money.
pub(super) fn check_currency(errors: &mut FieldErrors, field: &str, value: &str) -> String {
    let currency = value.trim().to_ascii_uppercase();
    if !money::is_currency(&currency) {
        errors.add(
            field,
            "Enter a three-letter ISO 4217 currency code, like GBP, EUR or USD.",
        );
    }
    currency
}

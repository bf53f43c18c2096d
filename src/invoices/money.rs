//! Money: `rust_decimal` amounts in a currency, rounded to the currency's minor units (ISO 4217
//! exponent from `iso_currency`: 2 for GBP, 0 for JPY, 3 for KWD). Never a float.
//! Shared by the server and the browser, so totals update as the user types.

use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr;

/// The number of decimal places of `code`, if it is an ISO 4217 currency with minor units.
pub fn minor_units(code: &str) -> Option<u32> {
    iso_currency::Currency::from_code(&code.trim().to_ascii_uppercase())
        .map(|c| c.exponent().map(u32::from).unwrap_or(0))
}

pub fn is_currency(code: &str) -> bool {
    code.trim().len() == 3 && minor_units(code).is_some()
}

/// Rounds half away from zero (commercial rounding) to the currency's minor units.
pub fn round(amount: Decimal, currency: &str) -> Decimal {
    amount.round_dp_with_strategy(
        minor_units(currency).unwrap_or(2),
        RoundingStrategy::MidpointAwayFromZero,
    )
}

/// Amount in minor units (pence, cents), for sorting and sums in SQL.
pub fn to_minor(amount: Decimal, currency: &str) -> i64 {
    let dp = minor_units(currency).unwrap_or(2);
    let scaled = round(amount, currency) * Decimal::from(10i64.pow(dp));
    i64::try_from(scaled.trunc()).unwrap_or(i64::MAX)
}

pub fn from_minor(minor: i64, currency: &str) -> Decimal {
    Decimal::new(minor, minor_units(currency).unwrap_or(2))
}

/// Parses user input such as `1,250.50` or ` 3 `; `None` if it is not a number.
pub fn parse(input: &str) -> Option<Decimal> {
    let cleaned: String = input
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != '_' && !c.is_whitespace())
        .collect();
    if cleaned.is_empty() {
        return None;
    }
    Decimal::from_str(&cleaned).ok()
}

/// `£1,234.50`, `¥1,235`, `CHF 12.00`, `KWD 1.250`: a one-character symbol (£ € $ ¥ ₹ ₽), otherwise
/// the ISO code, which reads unambiguously in any script.
pub fn format(amount: Decimal, currency: &str) -> String {
    let code = currency.trim().to_ascii_uppercase();
    let dp = minor_units(&code).unwrap_or(2);
    let rounded = round(amount, &code);
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let text = format!("{:.*}", dp as usize, rounded.abs());
    let (int, frac) = text
        .split_once('.')
        .map(|(i, f)| (i.to_string(), Some(f.to_string())))
        .unwrap_or((text.clone(), None));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let number = match frac {
        Some(f) => format!("{grouped}.{f}"),
        None => grouped,
    };
    let symbol = iso_currency::Currency::from_code(&code)
        .map(|c| c.symbol().to_string())
        .unwrap_or_default();
    let prefix = if symbol.chars().count() == 1 {
        symbol
    } else {
        format!("{code} ")
    };
    format!("{}{prefix}{number}", if negative { "-" } else { "" })
}

/// One line of an invoice, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineInput {
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    /// Percent, e.g. `20` for 20 %.
    pub tax_rate: String,
}

impl LineInput {
    /// A line the user left completely empty (ignored, not an error).
    pub fn is_blank(&self) -> bool {
        [
            &self.description,
            &self.quantity,
            &self.unit_price,
            &self.tax_rate,
        ]
        .iter()
        .all(|s| s.trim().is_empty())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub subtotal: Decimal,
    pub tax: Decimal,
    pub total: Decimal,
}

/// A line's net amount and tax, each rounded to the currency (so the invoice adds up on paper).
pub fn line_amounts(
    quantity: Decimal,
    unit_price: Decimal,
    tax_rate: Decimal,
    currency: &str,
) -> (Decimal, Decimal) {
    let net = round(quantity * unit_price, currency);
    let tax = round(net * tax_rate / Decimal::ONE_HUNDRED, currency);
    (net, tax)
}

/// Totals of the lines that parse; lines with unreadable numbers count as zero (the form shows
/// their errors separately).
pub fn totals(lines: &[LineInput], currency: &str) -> Totals {
    let mut t = Totals::default();
    for l in lines.iter().filter(|l| !l.is_blank()) {
        let q = parse(&l.quantity).unwrap_or(Decimal::ZERO);
        let p = parse(&l.unit_price).unwrap_or(Decimal::ZERO);
        let r = if l.tax_rate.trim().is_empty() {
            Decimal::ZERO
        } else {
            parse(&l.tax_rate).unwrap_or(Decimal::ZERO)
        };
        let (net, tax) = line_amounts(q, p, r, currency);
        t.subtotal += net;
        t.tax += tax;
    }
    t.total = t.subtotal + t.tax;
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros_free::d;

    mod rust_decimal_macros_free {
        pub fn d(s: &str) -> rust_decimal::Decimal {
            s.parse().unwrap()
        }
    }

    #[test]
    fn minor_units_per_currency() {
        assert_eq!(minor_units("GBP"), Some(2));
        assert_eq!(minor_units("jpy"), Some(0));
        assert_eq!(minor_units("KWD"), Some(3));
        assert_eq!(minor_units("XXX1"), None);
        assert!(is_currency("EUR") && !is_currency("EURO") && !is_currency("ABC"));
    }

    #[test]
    fn rounding_is_commercial_and_per_currency() {
        assert_eq!(round(d("2.345"), "GBP"), d("2.35"));
        assert_eq!(round(d("-2.345"), "GBP"), d("-2.35"));
        assert_eq!(round(d("1234.5"), "JPY"), d("1235"));
        assert_eq!(round(d("1.2345"), "KWD"), d("1.235"));
        // 0.1 + 0.2 is exactly 0.3: no float in sight.
        assert_eq!(d("0.1") + d("0.2"), d("0.3"));
    }

    #[test]
    fn totals_round_each_line_then_add() {
        let lines = vec![
            LineInput {
                description: "Rent".into(),
                quantity: "1".into(),
                unit_price: "950".into(),
                tax_rate: "0".into(),
            },
            LineInput {
                description: "Cleaning".into(),
                quantity: "3".into(),
                unit_price: "33.333".into(),
                tax_rate: "20".into(),
            },
            LineInput::default(),
        ];
        let t = totals(&lines, "GBP");
        // 3 × 33.333 = 99.999 → 100.00; tax 20 % = 20.00.
        assert_eq!(t.subtotal, d("1050.00"));
        assert_eq!(t.tax, d("20.00"));
        assert_eq!(t.total, d("1070.00"));
        let yen = totals(
            &[LineInput {
                description: "x".into(),
                quantity: "1".into(),
                unit_price: "999.5".into(),
                tax_rate: "10".into(),
            }],
            "JPY",
        );
        assert_eq!(
            (yen.subtotal, yen.tax, yen.total),
            (d("1000"), d("100"), d("1100"))
        );
    }

    #[test]
    fn minor_unit_conversion() {
        assert_eq!(to_minor(d("1070.00"), "GBP"), 107000);
        assert_eq!(to_minor(d("1100"), "JPY"), 1100);
        assert_eq!(from_minor(107000, "GBP"), d("1070.00"));
        assert_eq!(from_minor(1235, "KWD"), d("1.235"));
    }

    #[test]
    fn parses_what_people_type() {
        assert_eq!(parse(" 1,250.50 "), Some(d("1250.50")));
        assert_eq!(parse("3"), Some(d("3")));
        assert_eq!(parse("abc"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn formats_with_symbol_and_grouping() {
        assert_eq!(format(d("1234.5"), "GBP"), "£1,234.50");
        assert_eq!(format(d("1234567"), "JPY"), "¥1,234,567");
        assert_eq!(format(d("-5"), "EUR"), "-€5.00");
        assert_eq!(format(d("12"), "KWD"), "KWD 12.000");
        assert_eq!(format(d("0.5"), "USD"), "$0.50");
    }
}

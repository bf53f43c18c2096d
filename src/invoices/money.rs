//! Money: `rust_decimal` amounts in a currency, rounded to the currency's minor units (ISO 4217
//! exponent from `iso_currency`: 2 for GBP, 0 for JPY, 3 for KWD). Never a float.
//! Shared by the server and the browser, so totals update as the user types.

use crate::{error::FieldErrors, input};
use rust_decimal::{Decimal, RoundingStrategy};

/// The largest quantity of one line.
pub const QUANTITY_MAX: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// The largest unit price, in the currency's major unit.
pub const PRICE_MAX: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0); // 10^12
/// The largest line, subtotal, tax or total.
pub const TOTAL_MAX: Decimal = Decimal::from_parts(1_316_134_912, 2_328, 0, false, 0); // 10^13
const QUANTITY_DP: u32 = 4;
const PRICE_DP: u32 = 6;
const TAX_DP: u32 = 3;

/// ISO 4217 codes that are not money one can invoice in: precious metals, the IMF's and other
/// units of account, the testing code and "no currency".
const NOT_MONEY: [&str; 12] = [
    "XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA", "XBB", "XBC", "XBD", "XTS",
];

/// The number of decimal places of `code`, if it is an ISO 4217 currency with minor units.
pub fn minor_units(code: &str) -> Option<u32> {
    iso_currency::Currency::from_code(&code.trim().to_ascii_uppercase())
        .map(|c| c.exponent().map(u32::from).unwrap_or(0))
}

/// A currency an invoice can be in: ISO 4217, and money (not gold, SDRs, `XTS` or `XXX`).
pub fn is_currency(code: &str) -> bool {
    let code = code.trim().to_ascii_uppercase();
    code.len() == 3
        && code != "XXX"
        && !NOT_MONEY.contains(&code.as_str())
        && minor_units(&code).is_some()
}

/// Rounds half away from zero (commercial rounding) to the currency's minor units.
pub fn round(amount: Decimal, currency: &str) -> Decimal {
    amount.round_dp_with_strategy(
        minor_units(currency).unwrap_or(2),
        RoundingStrategy::MidpointAwayFromZero,
    )
}

/// Amount in minor units (pence, cents), for sorting and sums in SQL; `None` if it does not fit
/// (amounts are bounded far below that: [`TOTAL_MAX`]).
pub fn to_minor(amount: Decimal, currency: &str) -> Option<i64> {
    let dp = minor_units(currency).unwrap_or(2);
    let scaled = round(amount, currency).checked_mul(Decimal::from(10i64.pow(dp)))?;
    i64::try_from(scaled.trunc()).ok()
}

pub fn from_minor(minor: i64, currency: &str) -> Decimal {
    Decimal::new(minor, minor_units(currency).unwrap_or(2))
}

/// Parses user input such as `1,250.50` or ` 3 ` ([`input::number`]); `None` if it is not a
/// number.
pub fn parse(input: &str) -> Option<Decimal> {
    input::number(input).ok()
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

/// A line's net amount and tax, each rounded to the currency (so the invoice adds up on paper);
/// `None` where the arithmetic would overflow.
pub fn line_amounts(
    quantity: Decimal,
    unit_price: Decimal,
    tax_rate: Decimal,
    currency: &str,
) -> Option<(Decimal, Decimal)> {
    let net = round(quantity.checked_mul(unit_price)?, currency);
    let tax = round(net.checked_mul(tax_rate)? / Decimal::ONE_HUNDRED, currency);
    Some((net, tax))
}

/// A line that passed [`check_line`]: its numbers as stored, and its amounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedLine {
    pub input: LineInput,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub tax_rate: Decimal,
    pub net: Decimal,
    pub tax: Decimal,
}

fn too_precise(d: Decimal, dp: u32) -> bool {
    d.normalize().scale() > dp
}

/// Checks one line that is not blank, adding its errors under `{prefix}.{field}`.
pub fn check_line(
    errors: &mut FieldErrors,
    prefix: &str,
    line: &LineInput,
    currency: &str,
) -> Option<CheckedLine> {
    let field = |name: &str| format!("{prefix}.{name}");
    let before = errors.0.len();
    let description = input::text(
        errors,
        &field("description"),
        &input::rules::LINE_DESCRIPTION,
        &line.description,
    );
    let quantity = match input::number(&line.quantity) {
        Err(e) => Err(e.message("2")),
        Ok(q) if q <= Decimal::ZERO => Err("Enter a quantity above zero.".into()),
        Ok(q) if q > QUANTITY_MAX => Err("A quantity can be at most 1,000,000.".into()),
        Ok(q) if too_precise(q, QUANTITY_DP) => Err(format!(
            "A quantity can have at most {QUANTITY_DP} decimal places."
        )),
        Ok(q) => Ok(q),
    };
    let price = match input::number(&line.unit_price) {
        Err(e) => Err(e.message("950.00")),
        Ok(p) if p < Decimal::ZERO => Err(
            "A price cannot be negative: Axis CRM does not make credit notes. Lower another line instead.".into(),
        ),
        Ok(p) if p > PRICE_MAX => Err("A price can be at most 1,000,000,000,000.".into()),
        Ok(p) if too_precise(p, PRICE_DP) => {
            Err(format!("A price can have at most {PRICE_DP} decimal places."))
        }
        Ok(p) => Ok(p),
    };
    let rate = if line.tax_rate.trim().is_empty() {
        Ok(Decimal::ZERO)
    } else {
        match input::number(&line.tax_rate) {
            Err(e) => Err(e.message("20")),
            Ok(r) if r < Decimal::ZERO || r > Decimal::ONE_HUNDRED => {
                Err("Enter a tax rate from 0 to 100 (percent).".into())
            }
            Ok(r) if too_precise(r, TAX_DP) => Err(format!(
                "A tax rate can have at most {TAX_DP} decimal places."
            )),
            Ok(r) => Ok(r),
        }
    };
    for (name, r) in [
        ("quantity", &quantity),
        ("unit_price", &price),
        ("tax_rate", &rate),
    ] {
        if let Err(m) = r {
            errors.add(&field(name), m.clone());
        }
    }
    let (Ok(q), Ok(p), Ok(r)) = (quantity, price, rate) else {
        return None;
    };
    match line_amounts(q, p, r, currency) {
        Some((net, tax)) if net + tax <= TOTAL_MAX => {}
        _ => {
            errors.add(
                &field("unit_price"),
                "This line comes to more than 10,000,000,000,000. Split the amount or check the numbers.",
            );
            return None;
        }
    }
    if errors.0.len() > before {
        return None;
    }
    let (net, tax) = line_amounts(q, p, r, currency)?;
    Some(CheckedLine {
        input: LineInput {
            description,
            quantity: q.normalize().to_string(),
            unit_price: p.to_string(),
            tax_rate: r.normalize().to_string(),
        },
        quantity: q,
        unit_price: p,
        tax_rate: r,
        net,
        tax,
    })
}

/// Totals of the lines that pass [`check_line`]; other lines count as zero (the form shows their
/// errors separately). Never panics, whatever was typed: the browser runs it on every key.
pub fn totals(lines: &[LineInput], currency: &str) -> Totals {
    let mut t = Totals::default();
    let mut scratch = FieldErrors::new();
    for l in lines.iter().filter(|l| !l.is_blank()) {
        if let Some(c) = check_line(&mut scratch, "line", l, currency) {
            t.subtotal = t.subtotal.checked_add(c.net).unwrap_or(t.subtotal);
            t.tax = t.tax.checked_add(c.tax).unwrap_or(t.tax);
        }
    }
    t.total = t.subtotal.checked_add(t.tax).unwrap_or(t.subtotal);
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
        assert!(
            is_currency("xof") && is_currency("XAF") && is_currency("XCD"),
            "real X currencies"
        );
        for not_money in ["XXX", "XTS", "XAU", "XAG", "XDR", "XPT", "XSU", "xau"] {
            assert!(!is_currency(not_money), "{not_money}");
        }
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

    fn line(q: &str, p: &str, r: &str) -> LineInput {
        LineInput {
            description: "Rent".into(),
            quantity: q.into(),
            unit_price: p.into(),
            tax_rate: r.into(),
        }
    }

    fn line_errors(l: &LineInput) -> Vec<(String, String)> {
        let mut e = FieldErrors::new();
        let ok = check_line(&mut e, "lines.0", l, "GBP");
        assert_eq!(ok.is_some(), e.is_empty());
        e.0
    }

    #[test]
    fn lines_are_bounded_and_explained() {
        let msg = |l: &LineInput, field: &str| {
            line_errors(l)
                .into_iter()
                .find(|(f, _)| f == &format!("lines.0.{field}"))
                .map(|(_, m)| m)
                .unwrap_or_else(|| panic!("no {field} error for {l:?}"))
        };
        assert!(line_errors(&line("1", "950", "20")).is_empty());
        assert_eq!(
            msg(&line("NaN", "950", ""), "quantity"),
            "Enter a number, like 2."
        );
        assert!(msg(&line("1,5", "950", ""), "quantity").contains("Use a point for decimals"));
        assert_eq!(
            msg(&line("0", "950", ""), "quantity"),
            "Enter a quantity above zero."
        );
        assert_eq!(
            msg(&line("-1", "950", ""), "quantity"),
            "Enter a quantity above zero."
        );
        assert!(msg(&line(&"9".repeat(29), "1", ""), "quantity").contains("too many digits"));
        assert!(msg(&line("1000001", "1", ""), "quantity").contains("at most 1,000,000"));
        assert!(msg(&line("1.00001", "1", ""), "quantity").contains("4 decimal places"));
        assert!(msg(&line("1", "-5", ""), "unit_price").contains("cannot be negative"));
        assert!(msg(&line("1", "1e27", ""), "unit_price").contains("Enter a number"));
        assert!(msg(&line("1", "1000000000001", ""), "unit_price")
            .contains("at most 1,000,000,000,000"));
        assert!(msg(&line("1000000", "1000000000000", ""), "unit_price")
            .contains("more than 10,000,000,000,000"));
        assert!(msg(&line("1", "1", "101"), "tax_rate").contains("from 0 to 100"));
        assert!(msg(&line("1", "1", "-1"), "tax_rate").contains("from 0 to 100"));
        let mut no_description = line("1", "1", "");
        no_description.description = " ".into();
        assert_eq!(
            msg(&no_description, "description"),
            "Enter the description."
        );
        // The largest line is exact, and its minor units fit.
        let mut e = FieldErrors::new();
        let big = check_line(&mut e, "l", &line("10", "1000000000000", ""), "KWD").unwrap();
        assert_eq!(big.net, TOTAL_MAX);
        assert!(to_minor(big.net, "KWD").is_some());
    }

    #[test]
    fn totals_never_panic_on_what_is_typed() {
        for (q, p, r) in [
            (&"9".repeat(28)[..], &"9".repeat(28)[..], "100"),
            ("79228162514264337593543950335", "2", ""),
            ("1e27", "1e27", "1e27"),
            (
                "-79228162514264337593543950335",
                "79228162514264337593543950335",
                "",
            ),
        ] {
            let t = totals(&[line(q, p, r), line("1", "10", "")], "GBP");
            assert_eq!(
                t.total,
                d("10.00"),
                "{q} × {p}: the bad line counts as zero"
            );
        }
    }

    #[test]
    fn minor_unit_conversion() {
        assert_eq!(to_minor(d("1070.00"), "GBP"), Some(107000));
        assert_eq!(to_minor(d("1100"), "JPY"), Some(1100));
        assert_eq!(to_minor(d("1000000000000000000"), "GBP"), None);
        assert_eq!(to_minor(TOTAL_MAX, "KWD"), Some(10_000_000_000_000_000));
        assert_eq!(from_minor(107000, "GBP"), d("1070.00"));
        assert_eq!(from_minor(1235, "KWD"), d("1.235"));
    }

    #[test]
    fn parses_what_people_type() {
        assert_eq!(parse(" 1,250.50 "), Some(d("1250.50")));
        assert_eq!(parse("1,5"), None, "a decimal comma is not read as 15");
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

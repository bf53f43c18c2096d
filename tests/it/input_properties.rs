//! Properties of the input rules over arbitrary and hostile text: nothing panics, and what is
//! accepted is within its rule and stored in a form the same rule accepts unchanged.

use crate::common;

use axis_crm::{
    error::FieldErrors,
    input::{self, check_text, is_forbidden, next_path, number, rules, TextRule, YEARS},
    invoices::money::{check_line, to_minor, totals, LineInput, TOTAL_MAX},
};
use common::hostile::{amount, text};
use proptest::prelude::*;
use rust_decimal::Decimal;

const RULES: &[TextRule] = &[
    rules::USER_NAME,
    rules::ADDRESS,
    rules::NOTES,
    rules::TENANT_PHONE,
    rules::INVOICE_PREFIX,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn accepted_text_is_within_its_rule_and_stable(value in text(), which in 0..RULES.len()) {
        let rule = &RULES[which];
        let (stored, problem) = check_text(rule, &value);
        if problem.is_none() {
            prop_assert!(stored.chars().count() <= rule.max);
            prop_assert!(!stored.chars().any(|c| is_forbidden(c, rule.lines > 1)));
            prop_assert!(stored.lines().count() <= rule.lines.max(1));
            prop_assert_eq!(check_text(rule, &stored), (stored.clone(), None));
        }
    }

    #[test]
    fn accepted_numbers_read_back_the_same(value in amount()) {
        if let Ok(n) = number(&value) {
            prop_assert_eq!(number(&n.to_string()), Ok(n));
        }
    }

    #[test]
    fn dates_agree_with_the_calendar(y in 1990i32..2110, m in 0u8..14, d in 0u8..33) {
        let typed = format!("{y:04}-{m:02}-{d:02}");
        let real = time::Month::try_from(m)
            .ok()
            .and_then(|month| time::Date::from_calendar_date(y, month, d).ok())
            .is_some();
        prop_assert_eq!(input::date(&typed).is_ok(), real && YEARS.contains(&y), "{}", typed);
    }

    #[test]
    fn odd_dates_never_panic(value in text()) {
        if let Ok(d) = input::date(&value) {
            prop_assert_eq!(input::date(&d), Ok(d.clone()));
        }
    }

    #[test]
    fn next_never_leaves_the_site(
        value in text(),
        prefix in proptest::sample::select(&["", "/", "//", "/\\", "/%2F", "/.//", "/a/..//", "/\t/"][..]),
    ) {
        let typed = format!("{prefix}{value}");
        let path = next_path(Some(&typed), "/fallback");
        prop_assert!(path.starts_with('/') && !path.starts_with("//"), "{:?} -> {:?}", typed, path);
        prop_assert!(!path.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\'), "{:?}", path);
        prop_assert!(!path.starts_with("/api/"));
        // What a browser does with it: resolved against the site, it stays there.
        let site = url::Url::parse("https://axis.example/").unwrap();
        prop_assert_eq!(site.join(&path).unwrap().origin(), site.origin());
        // And it is a fixed point: checking it again changes nothing.
        prop_assert_eq!(next_path(Some(&path), "/fallback"), path);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any line is refused with field errors, or it is checked, stays within the bounds, and its
    /// stored form checks to the same amounts.
    #[test]
    fn lines_are_refused_or_bounded(
        description in text(),
        quantity in amount(),
        unit_price in amount(),
        tax_rate in amount(),
        currency in proptest::sample::select(&["GBP", "JPY", "KWD", "EUR", "XXX", ""][..]),
    ) {
        let line = LineInput { description, quantity, unit_price, tax_rate };
        let mut errors = FieldErrors::new();
        match check_line(&mut errors, "lines.0", &line, currency) {
            None => prop_assert!(!errors.0.is_empty(), "a refused line says why"),
            Some(c) => {
                prop_assert!(errors.0.is_empty());
                prop_assert!(c.net >= Decimal::ZERO && c.tax >= Decimal::ZERO);
                prop_assert!(c.net + c.tax <= TOTAL_MAX);
                prop_assert!(to_minor(c.net + c.tax, currency).is_some());
                let again = check_line(&mut errors, "lines.0", &c.input, currency).expect("the stored form checks");
                prop_assert_eq!((again.net, again.tax), (c.net, c.tax));
            }
        }
        let _ = totals(&[line], currency);
    }
}

//! The rules every value a person types goes through, in one place, on both sides (the browser
//! runs the same code for live totals, the server for every save).
//!
//! - [`TextRule`]: one rule per text field (its label, length, lines). [`text`] applies it:
//!   trims, folds line endings, and refuses control and bidi-override characters, so nothing
//!   invisible can reorder an invoice or break a page.
//! - [`number`]: decimals as people type them (`1,250.50`, `1 250.5`, Arabic-Indic digits), with
//!   a decimal comma (`1,5`) refused rather than misread, and no exponents, `NaN` or 40 digits.
//! - [`date`]: a real calendar date between 2000 and 2099, as `YYYY-MM-DD`.
//! - [`email`]: one plain address (`name@example.com`), never a display-name form.
//! - [`next_path`]: where to send the browser after a form: a path of this site only.

use crate::error::FieldErrors;
use rust_decimal::Decimal;
use std::str::FromStr;

/// How one text field is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    /// As it reads inside a sentence: "the tenant's name", "your name".
    pub label: &'static str,
    /// Characters (Unicode scalar values), after trimming.
    pub max: usize,
    /// 1 for a one-line field; a textarea allows up to this many lines.
    pub lines: usize,
    pub required: bool,
}

impl TextRule {
    const fn line(label: &'static str, max: usize, required: bool) -> Self {
        TextRule {
            label,
            max,
            lines: 1,
            required,
        }
    }
    const fn area(label: &'static str, max: usize, lines: usize) -> Self {
        TextRule {
            label,
            max,
            lines,
            required: false,
        }
    }
}

/// Every text field of the app and its limits. (The PDF benchmark renders an invoice with each of
/// them at its maximum: `crates/invoice-pdf`'s `worst_case_invoice`.)
pub mod rules {
    use super::TextRule;

    pub const USER_NAME: TextRule = TextRule::line("your name", 100, true);
    pub const BUSINESS_NAME: TextRule = TextRule::line("your business name", 200, true);
    pub const ADDRESS: TextRule = TextRule::area("the address", 500, 10);
    pub const TAX_ID: TextRule = TextRule::line("the tax id", 50, false);
    pub const PAYMENT_INSTRUCTIONS: TextRule =
        TextRule::area("the payment instructions", 1_000, 20);
    pub const INVOICE_PREFIX: TextRule = TextRule::line("the invoice number prefix", 20, false);
    pub const PROPERTY_NAME: TextRule = TextRule::line("the property name", 200, true);
    pub const UNIT_NAME: TextRule = TextRule::line("a unit name", 100, false);
    /// The units box of a property: one unit per line.
    pub const UNITS: TextRule = TextRule::area("the list of units", 200 * 101, MAX_UNITS);
    pub const TENANT_NAME: TextRule = TextRule::line("the tenant's name", 200, true);
    pub const TENANT_PHONE: TextRule = TextRule::line("the phone number", 40, false);
    pub const TENANT_EMAIL: TextRule = TextRule::line("the email address", 254, false);
    pub const INVOICE_NUMBER: TextRule = TextRule::line("the invoice number", 50, true);
    pub const NOTES: TextRule = TextRule::area("the notes", 2_000, 30);
    pub const LINE_DESCRIPTION: TextRule = TextRule::line("the description", 300, true);

    /// Units one property can have.
    pub const MAX_UNITS: usize = 200;
    /// Lines one invoice can have.
    pub const MAX_INVOICE_LINES: usize = 50;
}

/// A character that has no place in typed text: C0 and C1 controls (but the newline of a
/// multi-line field; tabs are turned into spaces before this), the bidi embeddings, overrides and
/// isolates that can make text display in another order than it is stored, line and paragraph
/// separators, interlinear annotation marks and the byte-order mark.
pub fn is_forbidden(c: char, multiline: bool) -> bool {
    (c.is_control() && !(multiline && c == '\n'))
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{FEFF}'
                | '\u{FFFE}'
                | '\u{FFFF}'
        )
}

fn capitalized(label: &str) -> String {
    let mut c = label.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// What is wrong with `value` under `rule`, if anything, and the value to store (trimmed, line
/// endings folded to `\n`, tabs as spaces, trailing spaces of each line removed).
pub fn check_text(rule: &TextRule, value: &str) -> (String, Option<String>) {
    let multiline = rule.lines > 1;
    let folded = value
        .replace("\r\n", "\n")
        .replace(['\r'], "\n")
        .replace('\t', " ");
    let v = if multiline {
        folded
            .lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_string()
    } else {
        folded.trim().to_string()
    };
    let label = rule.label;
    let count = v.chars().count();
    let problem = if v.is_empty() {
        rule.required.then(|| format!("Enter {label}."))
    } else if count > rule.max {
        Some(format!(
            "{} can be at most {} characters (this has {}).",
            capitalized(label),
            group(rule.max),
            group(count)
        ))
    } else if let Some(c) = v.chars().find(|&c| is_forbidden(c, multiline)) {
        Some(if c == '\n' {
            format!("{} must be on one line.", capitalized(label))
        } else {
            format!(
                "{} contains an invisible control character (U+{:04X}) that is not allowed. Retype it without that character.",
                capitalized(label),
                c as u32
            )
        })
    } else if multiline && v.lines().count() > rule.lines {
        Some(format!(
            "{} can have at most {} lines.",
            capitalized(label),
            rule.lines
        ))
    } else {
        None
    };
    (v, problem)
}

/// Applies `rule` to `value`, adding its message to `errors` under `field`; returns the value to
/// store.
pub fn text(errors: &mut FieldErrors, field: &str, rule: &TextRule, value: &str) -> String {
    let (v, problem) = check_text(rule, value);
    if let Some(p) = problem {
        errors.add(field, p);
    }
    v
}

fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---- numbers --------------------------------------------------------------------------------------

/// Why typed text is not a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    Empty,
    /// Letters, an exponent, `NaN`, two points…
    NotANumber,
    /// `1,5` or `1.250,50`: a decimal comma, which this app does not guess at.
    DecimalComma,
    /// More digits than any amount here can have.
    TooLong,
}

impl NumberError {
    /// The sentence for a field error, with an example the user can copy.
    pub fn message(self, example: &str) -> String {
        match self {
            NumberError::Empty | NumberError::NotANumber => {
                format!("Enter a number, like {example}.")
            }
            NumberError::DecimalComma => format!(
                "Use a point for decimals, like {example}: a comma can only separate thousands (1,250.50)."
            ),
            NumberError::TooLong => "This number has too many digits.".into(),
        }
    }
}

/// The ASCII digit for a decimal digit of another script (Arabic-Indic, Extended Arabic-Indic
/// (Persian, Urdu), Devanagari, Bengali, full-width), so numbers typed on those keyboards read.
fn ascii_digit(c: char) -> Option<char> {
    const ZEROS: [u32; 6] = [0x30, 0x660, 0x6F0, 0x966, 0x9E6, 0xFF10];
    let cp = c as u32;
    ZEROS
        .iter()
        .find(|&&z| (z..z + 10).contains(&cp))
        .and_then(|&z| char::from_digit(cp - z, 10))
}

/// Reads a decimal as people type it: spaces, apostrophes and commas between groups of three
/// digits are thousands separators (`1,250.50`, `1 250.50`, `1'250.50`), the point is the decimal
/// separator, and digits of other scripts count. A comma anywhere else (`1,5`, `1.250,50`) is
/// refused as [`NumberError::DecimalComma`]: read either way, one of them would be a wrong bill.
pub fn number(input: &str) -> Result<Decimal, NumberError> {
    let mut s = String::with_capacity(input.len());
    for c in input.trim().chars() {
        match c {
            // The Arabic decimal and thousands separators.
            '\u{066B}' => s.push('.'),
            '\u{066C}' => s.push(','),
            // Spaces (incl. no-break and narrow no-break), apostrophes and underscores group.
            c if c.is_whitespace() || matches!(c, '\'' | '\u{2019}' | '_') => s.push(' '),
            '+' | '-' | '.' | ',' => s.push(c),
            '\u{2212}' => s.push('-'), // the minus sign
            c => s.push(ascii_digit(c).ok_or(NumberError::NotANumber)?),
        }
    }
    if s.is_empty() {
        return Err(NumberError::Empty);
    }
    let (sign, body) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s.strip_prefix('+').unwrap_or(&s)),
    };
    let body = body.trim_start();
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if frac.is_some_and(|f| !f.chars().all(|c| c.is_ascii_digit())) {
        // A second point, a comma after the point, a sign inside.
        return Err(if frac.is_some_and(|f| f.contains(',')) {
            NumberError::DecimalComma
        } else {
            NumberError::NotANumber
        });
    }
    // The integer part: digits, and separators only between groups of three.
    let groups: Vec<&str> = int.split([',', ' ']).collect();
    let grouped_ok = groups.len() == 1
        || (groups[0].len() <= 3
            && !groups[0].is_empty()
            && groups[1..].iter().all(|g| g.len() == 3));
    if !groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit())) {
        return Err(NumberError::NotANumber);
    }
    if !grouped_ok {
        return Err(if int.contains(',') {
            NumberError::DecimalComma
        } else {
            NumberError::NotANumber
        });
    }
    let digits: String = groups.concat();
    let frac = frac.unwrap_or("");
    if digits.is_empty() && frac.is_empty() {
        return Err(NumberError::NotANumber);
    }
    if digits.trim_start_matches('0').len() > 15 || frac.len() > 12 {
        return Err(NumberError::TooLong);
    }
    let text = format!(
        "{sign}{}{}{frac}",
        if digits.is_empty() { "0" } else { &digits },
        if frac.is_empty() { "" } else { "." }
    );
    Decimal::from_str(&text).map_err(|_| NumberError::NotANumber)
}

// ---- search -------------------------------------------------------------------------------------

/// Text folded for case-insensitive search in any script: Unicode lower case, with the Greek
/// final sigma read as σ. The invoice list stores this beside tenant names and invoice numbers
/// and folds the query the same way, so "ΣΟΦΊΑ", "иван" and "ÉLODIE" find "Σοφία", "Иван" and
/// "élodie" on SQLite and PostgreSQL alike.
pub fn fold(text: &str) -> String {
    text.to_lowercase().replace('ς', "σ")
}

// ---- dates ----------------------------------------------------------------------------------------

/// The years an invoice date can be in.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2099;

/// A real calendar date in [`YEARS`], typed as `YYYY-MM-DD` (what a date input sends). Returns
/// it in that exact form, so dates compare correctly as text.
///
/// Written out rather than taken from `time`: the browser runs this check too, `time` is a
/// server-only dependency, and the rule is the Gregorian month lengths and nothing more. A
/// property test holds it to `time::Date` for every input.
pub fn date(input: &str) -> Result<String, String> {
    let v = input.trim();
    let b = v.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err("as a date (YYYY-MM-DD)".into());
    }
    let (y, m, d): (i32, u32, u32) = (
        v[..4].parse().unwrap_or(0),
        v[5..7].parse().unwrap_or(0),
        v[8..].parse().unwrap_or(0),
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if d == 0 || d > days {
        return Err("as a real date (YYYY-MM-DD)".into());
    }
    if !YEARS.contains(&y) {
        return Err(format!(
            "as a date between {} and {}",
            YEARS.start(),
            YEARS.end()
        ));
    }
    Ok(v.to_string())
}

// ---- emails ---------------------------------------------------------------------------------------

/// One plain address with a domain that has a dot: `name@example.com`. Display-name forms
/// (`"Ana" <ana@example.com>`), domain literals and over-long local parts are refused, so one
/// mailbox cannot be written two ways.
pub fn is_plain_email(email: &str) -> bool {
    let options = email_address::Options {
        minimum_sub_domains: 2,
        allow_domain_literal: false,
        allow_display_text: false,
        allow_long_local_parts: false,
    };
    email.len() <= 254
        && !email
            .chars()
            .any(|c| c.is_whitespace() || is_forbidden(c, false))
        && email_address::EmailAddress::parse_with_options(email, options)
            .is_ok_and(|a| a.as_str() == email)
}

// ---- where to go next -----------------------------------------------------------------------------

/// Where to send the browser after a form, from a `next` the request carried: a path of this
/// site, or `fallback`.
///
/// `next` is resolved as a URL relative to this site and accepted only if it stays on the
/// site's origin; anything with a control character, whitespace or a backslash is refused
/// before that, because browsers strip or rewrite those (`/\t/evil.example` becomes
/// `//evil.example`) and a CR or LF cannot go into a `Location` header. The result is the
/// resolved path and query, so what a browser follows is exactly what was checked.
#[cfg(feature = "ssr")]
pub fn next_path(next: Option<&str>, fallback: &str) -> String {
    next.and_then(local_path)
        .unwrap_or_else(|| fallback.to_string())
}

#[cfg(feature = "ssr")]
fn local_path(next: &str) -> Option<String> {
    if !next.starts_with('/')
        || next.len() > 2_000
        || next
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\' || is_forbidden(c, false))
    {
        return None;
    }
    const SITE: &str = "https://axis-crm.invalid";
    let base = url::Url::parse(SITE).ok()?;
    let resolved = base.join(next).ok()?;
    if resolved.origin() != base.origin() || resolved.path().starts_with("/api/") {
        return None;
    }
    let mut out = resolved.path().to_string();
    if let Some(q) = resolved.query() {
        out.push('?');
        out.push_str(q);
    }
    // `//host` is a path of this site to `url`, but another site to a browser.
    (!out.starts_with("//")).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn text_is_trimmed_and_limited() {
        let (v, p) = check_text(&rules::TENANT_NAME, "  Ana Pereira \t");
        assert_eq!((v.as_str(), p), ("Ana Pereira", None));
        let (_, p) = check_text(&rules::TENANT_NAME, "   ");
        assert_eq!(p.as_deref(), Some("Enter the tenant's name."));
        let (_, p) = check_text(&rules::TENANT_NAME, &"é".repeat(201));
        assert_eq!(
            p.as_deref(),
            Some("The tenant's name can be at most 200 characters (this has 201).")
        );
        let (_, p) = check_text(&rules::NOTES, &"x".repeat(2_001));
        assert!(p.unwrap().contains("at most 2,000 characters"));
        assert_eq!(check_text(&rules::NOTES, "").1, None, "optional");
    }

    #[test]
    fn control_and_bidi_characters_are_refused() {
        for c in [
            '\u{0}', '\u{7}', '\u{1B}', '\u{7F}', '\u{85}', '\u{9B}', '\u{202E}', '\u{202A}',
            '\u{2066}', '\u{2069}', '\u{2028}', '\u{FEFF}',
        ] {
            let (_, p) = check_text(&rules::TENANT_NAME, &format!("Ana{c}Pereira"));
            let p = p.unwrap_or_else(|| panic!("U+{:04X} accepted", c as u32));
            assert!(p.contains(&format!("U+{:04X}", c as u32)), "{p}");
        }
        // What real names and scripts need stays: ZWJ and ZWNJ (Indic, Persian), accents.
        for ok in ["می‌خواهم", "क्‍ष", "Zoë O'Brien-Łukasz", "محمد الأحمد"]
        {
            assert_eq!(check_text(&rules::TENANT_NAME, ok).1, None, "{ok}");
        }
    }

    #[test]
    fn lines_are_folded_and_counted() {
        let (v, p) = check_text(&rules::ADDRESS, "12 Harbour Road  \r\nBristol\rBS1 4QA\n");
        assert_eq!((v.as_str(), p), ("12 Harbour Road\nBristol\nBS1 4QA", None));
        let (_, p) = check_text(&rules::ADDRESS, &"a\n".repeat(11));
        assert_eq!(p.as_deref(), Some("The address can have at most 10 lines."));
        let (_, p) = check_text(&rules::TENANT_NAME, "Ana\nPereira");
        assert_eq!(p.as_deref(), Some("The tenant's name must be on one line."));
    }

    #[test]
    fn numbers_read_as_people_type_them() {
        for (typed, value) in [
            ("3", "3"),
            (" 1,250.50 ", "1250.50"),
            ("1 250.5", "1250.5"),
            ("1'250.5", "1250.5"),
            ("1\u{202F}250", "1250"),
            ("12,345,678", "12345678"),
            ("0.5", "0.5"),
            (".5", "0.5"),
            ("-2", "-2"),
            ("+2", "2"),
            ("١٢٣٫٥", "123.5"),
            ("۱۲۰۰", "1200"),
            ("१२५०", "1250"),
            ("１２", "12"),
        ] {
            assert_eq!(number(typed), Ok(d(value)), "{typed}");
        }
    }

    #[test]
    fn ambiguous_and_broken_numbers_are_refused() {
        use NumberError::*;
        for (typed, why) in [
            ("1,5", DecimalComma),
            ("12,50", DecimalComma),
            ("1.250,50", DecimalComma),
            ("1,2345", DecimalComma),
            ("", Empty),
            ("NaN", NotANumber),
            ("inf", NotANumber),
            ("1e27", NotANumber),
            ("1E3", NotANumber),
            ("1.2.3", NotANumber),
            ("12O", NotANumber),
            ("0x10", NotANumber),
            ("--1", NotANumber),
            ("1-", NotANumber),
            ("12 34", NotANumber),
            (".", NotANumber),
            ("99999999999999999999999999999", TooLong),
            ("1.0000000000001", TooLong),
        ] {
            assert_eq!(number(typed), Err(why), "{typed}");
        }
        assert!(DecimalComma.message("1.5").contains("like 1.5"));
        assert_eq!(NotANumber.message("2"), "Enter a number, like 2.");
    }

    #[test]
    fn search_folds_every_script() {
        assert_eq!(fold("ИВАН Петров"), fold("иван петров"));
        assert_eq!(fold("ΣΟΦΊΑ"), fold("σοφία"));
        assert_eq!(fold("Οδυσσέας"), fold("ΟΔΥΣΣΈΑΣ"), "final sigma");
        assert_eq!(fold("ÉLODIE Ünal"), "élodie ünal");
        assert_eq!(fold("محمد"), "محمد");
    }

    #[test]
    fn dates_are_real_and_in_range() {
        assert_eq!(date(" 2026-11-30 ").as_deref(), Ok("2026-11-30"));
        assert_eq!(date("2028-02-29").as_deref(), Ok("2028-02-29"));
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-04-31",
            "2026-00-10",
            "2026-01-00",
            "+2099-01-01",
            "0000-01-01",
            "1999-12-31",
            "2100-01-01",
            "2026-1-5",
            "26-11-30",
            "2026/11/30",
            "2026-١١-30",
            "",
        ] {
            assert!(date(bad).is_err(), "{bad}");
        }
        assert!(date("1999-12-31")
            .unwrap_err()
            .contains("between 2000 and 2099"));
    }

    #[test]
    fn only_plain_email_addresses() {
        assert!(is_plain_email("ana@example.com"));
        assert!(is_plain_email("ana.pereira+rent@mail.example.co.uk"));
        for bad in [
            "\"Second\" <a@b.com>",
            "Second <a@b.com>",
            "<a@b.com>",
            "a@[127.0.0.1]",
            "ana@localhost",
            "a b@c.com",
            "ana@@x.com",
            "ana@example.com\u{202E}",
            "",
        ] {
            assert!(!is_plain_email(bad), "{bad}");
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn next_is_a_path_of_this_site() {
        let n = |s: &str| next_path(Some(s), "/invoices");
        assert_eq!(n("/settings"), "/settings");
        assert_eq!(n("/invoices?page=2&sort=due"), "/invoices?page=2&sort=due");
        assert_eq!(
            n("/onboarding/send?invoice=3"),
            "/onboarding/send?invoice=3"
        );
        assert_eq!(n("/a/../settings"), "/settings");
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\nSet-Cookie: x=1",
            "/ /evil.example",
            "/\u{0}/evil.example",
            "/\u{202E}/evil.example",
            "/./\t/evil.example",
            "///evil.example",
            "/api/logout",
            "/../api/logout",
            "javascript:alert(1)",
            "evil.example",
            "",
        ] {
            assert_eq!(n(evil), "/invoices", "{evil:?}");
        }
        // Percent-encoded, a tab is only text in a path of this site.
        assert_eq!(n("/%09/evil.example"), "/%09/evil.example");
        assert_eq!(next_path(None, "/onboarding"), "/onboarding");
    }
}

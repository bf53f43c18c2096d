//! Invoices, tenants, properties and the business profile on the server. Every query is scoped to
//! the signed-in user: another user's id is "not found".

use crate::platform::db::{is_unique_violation, now, Db, Statement};
use crate::{
    error::{AppError, FieldErrors},
    input::{self, rules},
    invoices::{
        money::{self, LineInput},
        types::*,
    },
};
use rust_decimal::Decimal;
use sqlx::{any::AnyRow, Row};

pub fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

fn check_date(errors: &mut FieldErrors, field: &str, label: &str, value: &str) -> String {
    match input::date(value) {
        Ok(d) => d,
        Err(how) => {
            errors.add(field, format!("Enter the {label} {how}."));
            value.trim().to_string()
        }
    }
}

fn text(errors: &mut FieldErrors, field: &str, rule: &input::TextRule, value: &str) -> String {
    input::text(errors, field, rule, value)
}

/// The currency code typed into `field`, checked: ISO 4217 and money.
fn check_currency(errors: &mut FieldErrors, field: &str, value: &str) -> String {
    let currency = value.trim().to_ascii_uppercase();
    if !money::is_currency(&currency) {
        errors.add(
            field,
            "Enter a three-letter ISO 4217 currency code, like GBP, EUR or USD.",
        );
    }
    currency
}

/// Minor units of an amount that [`money::check_line`] and [`money::TOTAL_MAX`] have bounded.
fn minor(amount: Decimal, currency: &str) -> Result<i64, AppError> {
    money::to_minor(amount, currency)
        .ok_or_else(|| AppError::invalid("lines", "The invoice total is too large."))
}

/// Fills in the search folds of rows written before migration 006 (or by hand): idempotent, and a
/// no-op once every row has them.
pub async fn backfill_folds(db: &Db) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    let tenants: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM tenants WHERE name_fold IS NULL")
            .fetch_all(&mut *tx)
            .await?;
    for (id, name) in &tenants {
        sqlx::query("UPDATE tenants SET name_fold = $1 WHERE id = $2")
            .bind(input::fold(name))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let invoices: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, number FROM invoices WHERE number_fold IS NULL")
            .fetch_all(&mut *tx)
            .await?;
    for (id, number) in &invoices {
        sqlx::query("UPDATE invoices SET number_fold = $1 WHERE id = $2")
            .bind(input::fold(number))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    if !tenants.is_empty() || !invoices.is_empty() {
        tracing::info!(
            tenants = tenants.len(),
            invoices = invoices.len(),
            "filled in search folds"
        );
    }
    Ok(())
}

// ---- profile ------------------------------------------------------------------------------------

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

// ---- properties ---------------------------------------------------------------------------------

pub async fn properties(db: &Db, user_id: i64) -> Result<Vec<PropertyView>, AppError> {
    let rows = sqlx::query(
        "SELECT id, name, address FROM properties WHERE user_id = $1 ORDER BY name, id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let units =
        sqlx::query("SELECT id, property_id, name FROM units WHERE user_id = $1 ORDER BY name, id")
            .bind(user_id)
            .fetch_all(&db.pool)
            .await?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.try_get("id")?;
            Ok(PropertyView {
                id,
                name: r.try_get("name")?,
                address: r.try_get("address")?,
                units: units
                    .iter()
                    .filter(|u| u.try_get::<i64, _>("property_id").ok() == Some(id))
                    .map(|u| {
                        Ok(UnitView {
                            id: u.try_get("id")?,
                            name: u.try_get("name")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Creates or updates a property; `units` is one unit name per line (new names are added).
pub async fn save_property(
    db: &Db,
    user_id: i64,
    id: Option<i64>,
    name: &str,
    address: &str,
    units: &str,
) -> Result<i64, AppError> {
    let mut e = FieldErrors::new();
    let name = text(&mut e, "name", &rules::PROPERTY_NAME, name);
    let address = text(&mut e, "address", &rules::ADDRESS, address);
    let units = text(&mut e, "units", &rules::UNITS, units);
    let mut unit_names: Vec<String> = Vec::new();
    for unit in units.lines().map(str::trim).filter(|u| !u.is_empty()) {
        let (unit, problem) = input::check_text(&rules::UNIT_NAME, unit);
        match problem {
            Some(p) if e.get("units").is_none() => e.add("units", format!("{p} ({unit:.20}…)")),
            _ if !unit_names.contains(&unit) => unit_names.push(unit),
            _ => {}
        }
    }
    e.into_result()?;
    let mut tx = db.pool.begin().await?;
    let id = match id {
        Some(id) => {
            let done = sqlx::query("UPDATE properties SET name = $1, address = $2 WHERE id = $3 AND user_id = $4")
                .bind(&name)
                .bind(&address)
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(AppError::NotFound);
            }
            id
        }
        None => sqlx::query_scalar("INSERT INTO properties (user_id, name, address, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(user_id)
            .bind(&name)
            .bind(&address)
            .bind(now())
            .fetch_one(&mut *tx)
            .await?,
    };
    let existing: Vec<String> = sqlx::query_scalar("SELECT name FROM units WHERE property_id = $1")
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
    let new: Vec<&String> = unit_names
        .iter()
        .filter(|u| !existing.contains(u))
        .collect();
    if existing.len() + new.len() > rules::MAX_UNITS {
        return Err(AppError::invalid(
            "units",
            format!(
                "A property can have at most {} units; this one has {} and you added {}.",
                rules::MAX_UNITS,
                existing.len(),
                new.len()
            ),
        ));
    }
    for unit in new {
        sqlx::query("INSERT INTO units (user_id, property_id, name) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(id)
            .bind(unit)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(id)
}

// ---- tenants ------------------------------------------------------------------------------------

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

const TENANT_COLUMNS: &str = "t.id, t.name, t.phone_raw, t.phone_e164, t.phone_is_mobile, t.email, t.property_id, t.unit_id, \
    CASE WHEN u.name IS NULL THEN p.name ELSE p.name || ', ' || u.name END AS place";

fn tenant_view(r: &AnyRow) -> Result<TenantView, sqlx::Error> {
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
    })
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

// ---- invoices -----------------------------------------------------------------------------------

/// A draft that passed [`check_invoice`]: normalised text, real dates, and bounded lines.
#[derive(Debug)]
struct CheckedInvoice {
    number: String,
    issue_date: String,
    due_date: String,
    currency: String,
    notes: String,
    lines: Vec<money::CheckedLine>,
    subtotal: i64,
    tax: i64,
    total: i64,
}

/// Validates a draft: every field, every line that is not blank, and the totals.
fn check_invoice(d: &InvoiceDraft) -> Result<CheckedInvoice, AppError> {
    let mut e = FieldErrors::new();
    let number = text(&mut e, "number", &rules::INVOICE_NUMBER, &d.number);
    let issue = check_date(&mut e, "issue_date", "issue date", &d.issue_date);
    let due = check_date(&mut e, "due_date", "due date", &d.due_date);
    if e.get("issue_date").is_none() && e.get("due_date").is_none() && due < issue {
        e.add("due_date", "The due date cannot be before the issue date.");
    }
    let currency = check_currency(&mut e, "currency", &d.currency);
    let notes = text(&mut e, "notes", &rules::NOTES, &d.notes);
    if d.tenant_id.is_none() {
        e.add("tenant_id", "Choose the tenant this invoice is for.");
    }
    let filled: Vec<(usize, &LineInput)> = d
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.is_blank())
        .collect();
    if filled.len() > rules::MAX_INVOICE_LINES {
        e.add(
            "lines",
            format!(
                "An invoice can have at most {} lines (this one has {}).",
                rules::MAX_INVOICE_LINES,
                filled.len()
            ),
        );
        return Err(AppError::Invalid(e));
    }
    let lines: Vec<money::CheckedLine> = filled
        .iter()
        .filter_map(|(i, l)| money::check_line(&mut e, &format!("lines.{i}"), l, &currency))
        .collect();
    if lines.is_empty() && e.is_empty() {
        e.add(
            "lines",
            "Add at least one line with a description, a quantity and a price.",
        );
    }
    let subtotal: Decimal = lines.iter().map(|l| l.net).sum();
    let tax: Decimal = lines.iter().map(|l| l.tax).sum();
    if e.is_empty() && subtotal + tax > money::TOTAL_MAX {
        e.add(
            "lines",
            "The invoice total can be at most 10,000,000,000,000. Split it into several invoices.",
        );
    }
    e.into_result()?;
    Ok(CheckedInvoice {
        subtotal: minor(subtotal, &currency)?,
        tax: minor(tax, &currency)?,
        total: minor(subtotal + tax, &currency)?,
        number,
        issue_date: issue,
        due_date: due,
        currency,
        notes,
        lines,
    })
}

/// The next invoice number for the user (prefix + four digits), without using it.
pub async fn next_number(db: &Db, user_id: i64) -> Result<String, AppError> {
    let p = profile(db, user_id).await?;
    let n: i64 = sqlx::query_scalar("SELECT next_number FROM business_profiles WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&db.pool)
        .await?;
    Ok(format!("{}{n:04}", p.invoice_prefix))
}

pub async fn new_draft(db: &Db, user_id: i64) -> Result<InvoiceDraft, AppError> {
    let p = profile(db, user_id).await?;
    let today = time::OffsetDateTime::now_utc().date();
    Ok(InvoiceDraft {
        id: None,
        number: next_number(db, user_id).await?,
        tenant_id: None,
        issue_date: today.to_string(),
        due_date: (today + time::Duration::days(14)).to_string(),
        currency: p.default_currency,
        notes: String::new(),
        lines: vec![LineInput::default()],
    })
}

/// Creates (status `draft` or `issued`) or updates an invoice. Returns its id.
pub async fn save_invoice(
    db: &Db,
    user_id: i64,
    d: &InvoiceDraft,
    issue: bool,
) -> Result<i64, AppError> {
    let CheckedInvoice {
        number,
        issue_date,
        due_date,
        currency,
        notes,
        lines,
        subtotal,
        tax,
        total,
    } = check_invoice(d)?;
    let tenant_id = d.tenant_id.unwrap_or_default();
    let owned: Option<i64> =
        sqlx::query_scalar("SELECT id FROM tenants WHERE id = $1 AND user_id = $2")
            .bind(tenant_id)
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    if owned.is_none() {
        return Err(AppError::invalid(
            "tenant_id",
            "Choose one of your tenants.",
        ));
    }
    let ts = now();
    let mut tx = db.pool.begin().await?;
    let id = match d.id {
        Some(id) => {
            let status: Option<String> =
                sqlx::query_scalar("SELECT status FROM invoices WHERE id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let status = status
                .and_then(|s| Status::parse(&s))
                .ok_or(AppError::NotFound)?;
            if !status.editable() {
                return Err(AppError::invalid(
                    "form",
                    format!(
                        "{} invoice can no longer be changed.",
                        status.with_article(true)
                    ),
                ));
            }
            let new_status = if issue && status == Status::Draft {
                Status::Issued
            } else {
                status
            };
            let r = sqlx::query(
                "UPDATE invoices SET number = $1, tenant_id = $2, issue_date = $3, due_date = $4, currency = $5, notes = $6, \
                 subtotal_minor = $7, tax_minor = $8, total_minor = $9, status = $10, updated_at = $11, number_fold = $14 \
                 WHERE id = $12 AND user_id = $13",
            )
            .bind(&number)
            .bind(tenant_id)
            .bind(&issue_date)
            .bind(&due_date)
            .bind(&currency)
            .bind(&notes)
            .bind(subtotal)
            .bind(tax)
            .bind(total)
            .bind(new_status.as_str())
            .bind(ts)
            .bind(id)
            .bind(user_id)
            .bind(input::fold(&number))
            .execute(&mut *tx)
            .await;
            match r {
                Err(e) if is_unique_violation(&e) => {
                    return Err(AppError::invalid(
                        "number",
                        format!("Invoice number {number} is already used. Choose another."),
                    ))
                }
                r => r?,
            };
            sqlx::query("DELETE FROM invoice_lines WHERE invoice_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            id
        }
        None => {
            let r = sqlx::query_scalar(
                "INSERT INTO invoices (user_id, number, tenant_id, issue_date, due_date, currency, status, notes, subtotal_minor, tax_minor, \
                 total_minor, created_at, updated_at, number_fold) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$12,$13) RETURNING id",
            )
            .bind(user_id)
            .bind(&number)
            .bind(tenant_id)
            .bind(&issue_date)
            .bind(&due_date)
            .bind(&currency)
            .bind(if issue { "issued" } else { "draft" })
            .bind(&notes)
            .bind(subtotal)
            .bind(tax)
            .bind(total)
            .bind(ts)
            .bind(input::fold(&number))
            .fetch_one(&mut *tx)
            .await;
            let id: i64 = match r {
                Err(e) if is_unique_violation(&e) => {
                    return Err(AppError::invalid(
                        "number",
                        format!("Invoice number {number} is already used. Choose another."),
                    ))
                }
                r => r?,
            };
            // Advance the counter past a number that used it.
            sqlx::query(
                "UPDATE business_profiles SET next_number = next_number + 1 WHERE user_id = $1",
            )
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    for (i, line) in lines.iter().enumerate() {
        let l = &line.input;
        sqlx::query(
            "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price, tax_rate, net_minor, tax_minor) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(i as i64)
        .bind(&l.description)
        .bind(&l.quantity)
        .bind(&l.unit_price)
        .bind(&l.tax_rate)
        .bind(minor(line.net, &currency)?)
        .bind(minor(line.tax, &currency)?)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

pub async fn set_status(db: &Db, user_id: i64, id: i64, next: Status) -> Result<(), AppError> {
    let current: Option<String> =
        sqlx::query_scalar("SELECT status FROM invoices WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    let current = current
        .and_then(|s| Status::parse(&s))
        .ok_or(AppError::NotFound)?;
    if !current.can_become(next) {
        return Err(AppError::invalid(
            "form",
            format!(
                "{} invoice cannot become {}.",
                current.with_article(true),
                next.as_str()
            ),
        ));
    }
    sqlx::query("UPDATE invoices SET status = $1, paid_at = $2, updated_at = $3 WHERE id = $4 AND user_id = $5 AND status = $6")
        .bind(next.as_str())
        .bind((next == Status::Paid).then(now))
        .bind(now())
        .bind(id)
        .bind(user_id)
        .bind(current.as_str())
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// The list's `WHERE` clause for `q` (already normalised): the user's invoices, the search over
/// numbers and tenant names (both sides folded by `input::fold`, so case-insensitive in every
/// script), and the status filter.
fn push_filter(s: &mut Statement, user_id: i64, q: &ListQuery, today: &str) {
    s.push("i.user_id = ").push_bind(user_id);
    if !q.q.is_empty() {
        let pattern = format!(
            "%{}%",
            input::fold(&q.q)
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        // Tenants are few: match their names first, then invoices by tenant id or by number.
        s.push(" AND (i.number_fold LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR i.tenant_id IN (SELECT id FROM tenants WHERE user_id = ")
            .push_bind(user_id)
            .push(" AND name_fold LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\'))");
    }
    match q.status.as_str() {
        "overdue" => {
            s.push(" AND i.status = 'issued' AND i.due_date < ")
                .push_bind(today);
        }
        "issued" => {
            s.push(" AND i.status = 'issued' AND i.due_date >= ")
                .push_bind(today);
        }
        "" => {}
        status => {
            s.push(" AND i.status = ").push_bind(status);
        }
    }
}

pub async fn list(db: &Db, user_id: i64, query: ListQuery) -> Result<InvoiceList, AppError> {
    let q = query.normalized();
    let today = today();
    // The count needs no join: the search matches tenants in a sub-query.
    let mut count = Statement::new("SELECT COUNT(*) FROM invoices i WHERE ");
    push_filter(&mut count, user_id, &q, &today);
    let total = count.query_scalar::<i64>().fetch_one(&db.pool).await?;
    // LEFT JOIN (tenant_id is NOT NULL, so the result is the same) keeps SQLite driving the query
    // from the invoices' index instead of reordering the join.
    let mut select = Statement::new(
        "SELECT i.id, i.number, i.status, i.due_date, i.total_minor, i.currency, t.id AS tenant_id, t.name AS tenant, \
         t.phone_e164, t.phone_is_mobile, \
         CASE WHEN u.name IS NULL THEN p.name ELSE p.name || ', ' || u.name END AS place \
         FROM invoices i LEFT JOIN tenants t ON t.id = i.tenant_id LEFT JOIN properties p ON p.id = t.property_id \
         LEFT JOIN units u ON u.id = t.unit_id WHERE ",
    );
    push_filter(&mut select, user_id, &q, &today);
    let dir = if q.dir == "asc" { " ASC" } else { " DESC" };
    select
        .push(" ORDER BY ")
        .push(match q.sort.as_str() {
            "number" => "i.number",
            "tenant" => "t.name",
            "property" => "p.name",
            "amount" => "i.total_minor",
            "status" => "i.status",
            "phone" => "t.phone_e164",
            _ => "i.due_date",
        })
        .push(dir)
        .push(", i.id")
        .push(dir)
        .push(" LIMIT ")
        .push_bind(PAGE_SIZE)
        .push(" OFFSET ")
        .push_bind((q.page - 1) * PAGE_SIZE);
    let rows = select.query().fetch_all(&db.pool).await?;
    let mut stored = std::collections::HashMap::new();
    let mut mobile = Vec::with_capacity(rows.len());
    for r in &rows {
        let status: String = r.try_get("status")?;
        stored.insert(
            r.try_get::<i64, _>("id")?,
            Status::parse(&status).unwrap_or(Status::Draft),
        );
        mobile.push(r.try_get::<i64, _>("phone_is_mobile")? == 1);
    }
    let rows = rows
        .iter()
        .map(|r| {
            let currency: String = r.try_get("currency")?;
            let status: String = r.try_get("status")?;
            let due: String = r.try_get("due_date")?;
            Ok(InvoiceRow {
                id: r.try_get("id")?,
                number: r.try_get("number")?,
                tenant_name: r.try_get("tenant")?,
                property: r.try_get("place")?,
                amount: money::format(
                    money::from_minor(r.try_get("total_minor")?, &currency),
                    &currency,
                ),
                status: Status::parse(&status)
                    .map(|s| s.display(&due, &today))
                    .unwrap_or("draft")
                    .to_string(),
                due_date: due,
                phone: r.try_get("phone_e164")?,
                tenant_id: r.try_get("tenant_id")?,
                whatsapp: None,
                blocker: None,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let mut rows = rows;
    let facts = rows
        .iter()
        .zip(&mobile)
        .map(|(row, m)| {
            (
                row.id,
                stored[&row.id],
                row.tenant_id,
                row.phone.clone(),
                *m,
            )
        })
        .collect::<Vec<_>>();
    let mut blockers = crate::sending::server::outbox::blockers(db, user_id, &facts).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut badges = crate::sending::server::outbox::latest_badges(db, user_id, &ids).await?;
    for row in &mut rows {
        row.blocker = blockers.remove(&row.id);
        row.whatsapp = badges.remove(&row.id);
    }
    let empty_account = total == 0 && {
        let any: Option<i64> =
            sqlx::query_scalar("SELECT id FROM invoices WHERE user_id = $1 LIMIT 1")
                .bind(user_id)
                .fetch_optional(&db.pool)
                .await?;
        any.is_none()
    };
    Ok(InvoiceList {
        rows,
        total,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        query: q,
        empty_account,
        batch: crate::sending::server::outbox::batch_progress(db, user_id).await?,
    })
}

pub async fn draft_of(db: &Db, user_id: i64, id: i64) -> Result<InvoiceDraft, AppError> {
    let r = sqlx::query("SELECT number, tenant_id, issue_date, due_date, currency, notes FROM invoices WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or(AppError::NotFound)?;
    let lines = sqlx::query("SELECT description, quantity, unit_price, tax_rate FROM invoice_lines WHERE invoice_id = $1 ORDER BY position")
        .bind(id)
        .fetch_all(&db.pool)
        .await?;
    Ok(InvoiceDraft {
        id: Some(id),
        number: r.try_get("number")?,
        tenant_id: Some(r.try_get("tenant_id")?),
        issue_date: r.try_get("issue_date")?,
        due_date: r.try_get("due_date")?,
        currency: r.try_get("currency")?,
        notes: r.try_get("notes")?,
        lines: lines
            .iter()
            .map(|l| {
                Ok(LineInput {
                    description: l.try_get("description")?,
                    quantity: l.try_get("quantity")?,
                    unit_price: l.try_get("unit_price")?,
                    tax_rate: l.try_get("tax_rate")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?,
    })
}

pub async fn detail(db: &Db, user_id: i64, id: i64) -> Result<InvoiceDetail, AppError> {
    let d = draft_of(db, user_id, id).await?;
    let r = sqlx::query(&format!(
        "SELECT i.status, i.subtotal_minor, i.tax_minor, i.total_minor, {TENANT_COLUMNS} FROM invoices i JOIN tenants t ON t.id = i.tenant_id \
         LEFT JOIN properties p ON p.id = t.property_id LEFT JOIN units u ON u.id = t.unit_id WHERE i.id = $1 AND i.user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_one(&db.pool)
    .await?;
    let tenant = tenant_view(&r)?;
    let stored = Status::parse(&r.try_get::<String, _>("status")?).unwrap_or(Status::Draft);
    let cur = d.currency.clone();
    let fmt = |minor: i64| money::format(money::from_minor(minor, &cur), &cur);
    let lines = d
        .lines
        .iter()
        .map(|l| {
            let q = money::parse(&l.quantity).unwrap_or_default();
            let p = money::parse(&l.unit_price).unwrap_or_default();
            let t = money::parse(&l.tax_rate).unwrap_or_default();
            let (net, _) = money::line_amounts(q, p, t, &cur).unwrap_or_default();
            LineView {
                description: l.description.clone(),
                quantity: l.quantity.clone(),
                unit_price: money::format(p, &cur),
                tax_rate: format!("{}%", t.normalize()),
                amount: money::format(net, &cur),
            }
        })
        .collect();
    Ok(InvoiceDetail {
        id,
        number: d.number,
        status: stored.display(&d.due_date, &today()).to_string(),
        stored_status: stored,
        tenant_id: tenant.id,
        tenant_name: tenant.name,
        tenant_phone: tenant.phone,
        property: tenant.property,
        issue_date: d.issue_date,
        due_date: d.due_date,
        currency: d.currency,
        lines,
        subtotal: fmt(r.try_get("subtotal_minor")?),
        tax: fmt(r.try_get("tax_minor")?),
        total: fmt(r.try_get("total_minor")?),
        notes: d.notes,
    })
}

/// The invoice as a PDF, for its owner.
pub async fn pdf(db: &Db, user_id: i64, id: i64) -> Result<(String, Vec<u8>), AppError> {
    let d = detail(db, user_id, id).await?;
    let p = profile(db, user_id).await?;
    let user = crate::accounts::server::user_by_id(db, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut business_lines: Vec<String> = p.address.lines().map(str::to_string).collect();
    if !p.tax_id.is_empty() {
        business_lines.push(format!("Tax id: {}", p.tax_id));
    }
    business_lines.push(user.email.clone());
    let inv = invoice_pdf::Invoice {
        paper: invoice_pdf::Paper::for_country(&p.default_country),
        number: d.number.clone(),
        status: capitalize(&d.status),
        watermark: match d.stored_status {
            Status::Paid => Some("PAID".into()),
            Status::Void => Some("VOID".into()),
            _ => None,
        },
        business: invoice_pdf::Party {
            name: user.business_name,
            lines: business_lines,
        },
        tenant: invoice_pdf::Party {
            name: d.tenant_name.clone(),
            lines: [d.property.clone(), d.tenant_phone.clone()]
                .into_iter()
                .flatten()
                .collect(),
        },
        issue_date: d.issue_date.clone(),
        due_date: d.due_date.clone(),
        currency: d.currency.clone(),
        items: d
            .lines
            .iter()
            .map(|l| invoice_pdf::LineItem {
                description: l.description.clone(),
                quantity: l.quantity.clone(),
                unit_price: l.unit_price.clone(),
                tax_rate: l.tax_rate.clone(),
                amount: l.amount.clone(),
            })
            .collect(),
        subtotal: d.subtotal.clone(),
        tax: d.tax.clone(),
        total: d.total.clone(),
        payment_instructions: Some(p.payment_instructions).filter(|s| !s.is_empty()),
        notes: Some(d.notes).filter(|s| !s.is_empty()),
    };
    Ok((format!("{}.pdf", d.number), render_pdf(inv).await?))
}

/// How long one PDF may take to draw. Inputs are bounded so that the largest invoice takes
/// milliseconds; this only stops a render that has gone wrong from holding a core.
const PDF_RENDER_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a request waits for a free render slot before it is told to try again.
const PDF_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Renders on the blocking pool, at most one PDF per core at a time (pages, downloads and the
/// outbox share the slots), each within [`PDF_RENDER_BUDGET`]. A client that hangs up cannot
/// leave more renders running than there are slots, and none runs past its budget.
pub async fn render_pdf(inv: invoice_pdf::Invoice) -> Result<Vec<u8>, AppError> {
    use std::sync::OnceLock;
    use tokio::sync::Semaphore;
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        Semaphore::new(
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(8),
        )
    });
    let permit = take_slot(slots, PDF_QUEUE_WAIT).await?;
    let deadline = std::time::Instant::now() + PDF_RENDER_BUDGET;
    let number = inv.number.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        let _permit = permit; // held until the render ends, even if the request is gone
        invoice_pdf::render_within(&inv, deadline)
    })
    .await
    .map_err(AppError::internal)?;
    rendered.map_err(|e| AppError::internal(format_args!("PDF of invoice {number}: {e}")))
}

/// A render slot, or [`AppError::Busy`] when none frees up within `wait`.
async fn take_slot(
    slots: &'static tokio::sync::Semaphore,
    wait: std::time::Duration,
) -> Result<tokio::sync::SemaphorePermit<'static>, AppError> {
    match tokio::time::timeout(wait, slots.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(e)) => Err(AppError::internal(format_args!("PDF slots closed: {e}"))),
        Err(_) => {
            tracing::warn!("every PDF slot stayed busy for {wait:?}");
            Err(AppError::Busy {
                retry_after_secs: 5,
            })
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Sample data for a newcomer: properties, tenants with sandbox-friendly numbers (one that the
/// sandbox marks undeliverable), and invoices in every status.
pub async fn load_sample_data(db: &Db, user_id: i64) -> Result<(), AppError> {
    let p1 = save_property(
        db,
        user_id,
        None,
        "Harbour View",
        "12 Harbour Road\nBristol BS1 4QA",
        "Flat 1\nFlat 2\nFlat 3",
    )
    .await?;
    let p2 = save_property(
        db,
        user_id,
        None,
        "Mill Lane Cottages",
        "3 Mill Lane\nBath BA1 2QT",
        "No. 3\nNo. 5",
    )
    .await?;
    let props = properties(db, user_id).await?;
    let unit = |pid: i64, name: &str| {
        props
            .iter()
            .find(|p| p.id == pid)
            .and_then(|p| p.units.iter().find(|u| u.name == name))
            .map(|u| u.id)
    };
    let people = [
        (
            "Ana Pereira",
            "+44 7911 123456",
            "ana.pereira@example.com",
            p1,
            "Flat 1",
        ),
        (
            "محمد الأحمد",
            "+44 7911 123457",
            "m.alahmad@example.com",
            p1,
            "Flat 2",
        ),
        ("Иван Петров", "+44 7911 123458", "", p1, "Flat 3"),
        (
            "अनीता शर्मा",
            "+44 7911 123459",
            "anita@example.com",
            p2,
            "No. 3",
        ),
        ("Tom Undeliverable", "+44 7911 120000", "", p2, "No. 5"),
        (
            "Grace Landline",
            "+44 117 496 0123",
            "grace@example.com",
            p2,
            "No. 5",
        ),
        ("Noor No-Phone", "", "noor@example.com", p1, "Flat 2"),
    ];
    let mut tenant_ids = Vec::new();
    for (name, phone, email, pid, unit_name) in people {
        let input = TenantInput {
            name: name.into(),
            phone: phone.into(),
            email: email.into(),
            property_id: Some(pid),
            unit_id: unit(pid, unit_name),
        };
        tenant_ids.push(save_tenant(db, user_id, None, &input).await?);
    }
    let currency = profile(db, user_id).await?.default_currency;
    let today = time::OffsetDateTime::now_utc().date();
    let plan: [(i64, i64, Option<Status>, &str); 8] = [
        (0, -40, Some(Status::Paid), "950"),
        (1, -20, None, "875"), // issued, overdue
        (2, 10, None, "1020"), // issued, due soon
        (3, 20, Some(Status::Draft), "640.50"),
        (4, 5, None, "780"),
        (5, -70, Some(Status::Void), "99"),
        (6, 12, None, "910"),
        (0, 25, None, "950"),
    ];
    for (tenant, due_in, status, rent) in plan {
        let issue = today + time::Duration::days(due_in - 14);
        let due = today + time::Duration::days(due_in);
        let draft = InvoiceDraft {
            id: None,
            number: next_number(db, user_id).await?,
            tenant_id: Some(tenant_ids[tenant as usize]),
            issue_date: issue.to_string(),
            due_date: due.to_string(),
            currency: currency.clone(),
            notes: "Thank you for paying on time.".into(),
            lines: vec![
                LineInput {
                    description: format!("Rent, {}", due.month()),
                    quantity: "1".into(),
                    unit_price: rent.into(),
                    tax_rate: "0".into(),
                },
                LineInput {
                    description: "Cleaning of common areas".into(),
                    quantity: "1".into(),
                    unit_price: "25".into(),
                    tax_rate: "20".into(),
                },
            ],
        };
        let id = save_invoice(db, user_id, &draft, status != Some(Status::Draft)).await?;
        if let Some(s @ (Status::Paid | Status::Void)) = status {
            set_status(db, user_id, id, s).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_render_queue_answers_busy_and_frees_up() {
        static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
        let wait = std::time::Duration::from_millis(50);
        let held = take_slot(&SLOTS, wait).await.expect("a free slot");
        let e = take_slot(&SLOTS, wait).await.unwrap_err();
        assert!(matches!(e, AppError::Busy { .. }), "{e:?}");
        assert_eq!(e.status_code(), 503);
        drop(held);
        assert!(take_slot(&SLOTS, wait).await.is_ok(), "the slot is back");
    }

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

    fn draft() -> InvoiceDraft {
        InvoiceDraft {
            id: None,
            number: "INV-0001".into(),
            tenant_id: Some(1),
            issue_date: "2026-11-01".into(),
            due_date: "2026-11-15".into(),
            currency: "gbp".into(),
            notes: String::new(),
            lines: vec![
                LineInput {
                    description: "Rent".into(),
                    quantity: "1".into(),
                    unit_price: "950".into(),
                    tax_rate: "".into(),
                },
                LineInput::default(),
            ],
        }
    }

    #[test]
    fn invoice_checks() {
        let checked = check_invoice(&draft()).unwrap();
        assert_eq!(checked.currency, "GBP");
        assert_eq!(checked.lines.len(), 1, "blank lines are ignored");
        let mut bad = draft();
        bad.due_date = "2026-10-01".into();
        bad.currency = "POUNDS".into();
        bad.lines[0].quantity = "0".into();
        bad.lines[0].tax_rate = "120".into();
        bad.tenant_id = None;
        let e = check_invoice(&bad).unwrap_err();
        for f in [
            "due_date",
            "currency",
            "lines.0.quantity",
            "lines.0.tax_rate",
            "tenant_id",
        ] {
            assert!(e.field(f).is_some(), "{f}: {e:?}");
        }
        let mut empty = draft();
        empty.lines = vec![LineInput::default()];
        assert!(check_invoice(&empty).unwrap_err().field("lines").is_some());
        let mut date = draft();
        date.issue_date = "1 Nov".into();
        assert!(check_invoice(&date)
            .unwrap_err()
            .field("issue_date")
            .unwrap()
            .contains("YYYY-MM-DD"));
    }
}

//! One invoice: its checks, its number, a new draft, saving, its status, and reading it back.

use super::{
    fields::{check_currency, text, today},
    profile::profile,
    tenants::{tenant_view, TENANT_COLUMNS},
};
use crate::{
    error::{AppError, FieldErrors},
    input::{self, rules},
    invoices::{
        money::{self, LineInput},
        types::*,
    },
    platform::db::{is_unique_violation, now, Db},
};
use rust_decimal::Decimal;
use sqlx::Row;

fn check_date(errors: &mut FieldErrors, field: &str, label: &str, value: &str) -> String {
    match input::date(value) {
        Ok(d) => d,
        Err(how) => {
            errors.add(field, format!("Enter the {label} {how}."));
            value.trim().to_string()
        }
    }
}

/// Minor units of an amount that [`money::check_line`] and [`money::TOTAL_MAX`] have bounded.
fn minor(amount: Decimal, currency: &str) -> Result<i64, AppError> {
    money::to_minor(amount, currency)
        .ok_or_else(|| AppError::invalid("lines", "The invoice total is too large."))
}

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
    let mut tx = db.write().await?;
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
#[cfg(test)]
mod tests {
    use super::*;

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

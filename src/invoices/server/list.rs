//! The invoice list: search, status filter, sort and pages, with each row's WhatsApp badge and
//! what blocks sending it.

use super::fields::today;
use crate::sending::server::outbox::Reach;
use crate::{
    error::AppError,
    input,
    invoices::{money, types::*},
    platform::db::{Db, Statement},
};
use sqlx::Row;

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
         t.phone_e164, t.phone_is_mobile, t.provider_user_id, \
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
    let mut reach = Vec::with_capacity(rows.len());
    for r in &rows {
        let status: String = r.try_get("status")?;
        stored.insert(
            r.try_get::<i64, _>("id")?,
            Status::parse(&status).unwrap_or(Status::Draft),
        );
        reach.push(Reach::of(
            r.try_get("phone_e164")?,
            r.try_get::<i64, _>("phone_is_mobile")? == 1,
            r.try_get("provider_user_id")?,
        ));
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
        .zip(reach)
        .map(|(row, reach)| (row.id, stored[&row.id], row.tenant_id, reach))
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

//! The commands that queue: one invoice, many at once, and the sandbox's simulated reply.

use super::{
    policy::{blocker, connection_info, invoice_facts},
    read::latest_badges,
    WINDOW_SECS,
};
use crate::{
    error::AppError,
    invoices::server as invoices,
    platform::{
        db::{self, Db},
        AppState,
    },
    sending::*,
};

/// Inserts a queued send for `invoice_id`. Refuses when one is under way, and when one was sent
/// unless `again`. Returns the send's id.
async fn insert_send(
    db: &Db,
    user_id: i64,
    invoice_id: i64,
    again: bool,
    batch_id: Option<i64>,
) -> Result<i64, AppError> {
    let f = invoice_facts(db, user_id, invoice_id).await?;
    let conn = connection_info(db, user_id).await?;
    if let Some(b) = blocker(
        conn.as_ref(),
        f.stored_status,
        &f.reach,
        f.tenant_id,
        invoice_id,
    ) {
        return Err(AppError::invalid("form", b.reason));
    }
    let now = db::now();
    if let Some(latest) = latest_badges(db, user_id, &[invoice_id])
        .await?
        .remove(&invoice_id)
    {
        if matches!(latest.state.as_str(), "queued" | "sending" | "unknown") {
            return Err(AppError::invalid(
                "form",
                format!("Invoice {} is already on its way to the tenant.", f.number),
            ));
        }
        if latest.state != SendState::Failed && !again {
            return Err(AppError::invalid(
                "form",
                format!(
                    "Invoice {} was already sent over WhatsApp. Choose \"Send again\" to send it once more.",
                    f.number
                ),
            ));
        }
    }
    let recipient = f
        .reach
        .recipient()
        .map(|r| r.as_str().to_string())
        .unwrap_or_default();
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO whatsapp_sends (user_id, invoice_id, tenant_id, batch_id, recipient, state, state_rank, \
         next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $6, $6) RETURNING id",
    )
    .bind(user_id)
    .bind(invoice_id)
    .bind(f.tenant_id)
    .bind(batch_id)
    .bind(&recipient)
    .bind(now)
    .fetch_one(&db.pool)
    .await;
    match inserted {
        Ok(id) => Ok(id),
        // Two clicks at once: the partial unique index lets only one through.
        Err(e) if db::is_unique_violation(&e) => Err(AppError::invalid(
            "form",
            format!("Invoice {} is already on its way to the tenant.", f.number),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn queue(
    state: &AppState,
    user_id: i64,
    invoice_id: i64,
    again: bool,
) -> Result<i64, AppError> {
    let id = insert_send(&state.db, user_id, invoice_id, again, None).await?;
    tracing::info!(
        user_id,
        invoice_id,
        send_id = id,
        "invoice queued for WhatsApp"
    );
    state.outbox.wake();
    Ok(id)
}

pub enum Bulk {
    Selected(Vec<i64>),
    Overdue,
}

/// Queues many invoices at once. Invoices already on their way, or sent in the last 24 hours,
/// and those that cannot be sent are skipped and listed with the reason.
pub async fn queue_bulk(
    state: &AppState,
    user_id: i64,
    which: Bulk,
) -> Result<BulkResult, AppError> {
    let db = &state.db;
    let (ids, label): (Vec<i64>, &str) = match which {
        Bulk::Selected(ids) => {
            let mut ids = ids;
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                return Err(AppError::invalid(
                    "form",
                    "Select at least one invoice to send.",
                ));
            }
            if ids.len() > 1000 {
                return Err(AppError::invalid(
                    "form",
                    "Select at most 1,000 invoices at a time.",
                ));
            }
            (ids, "Selected invoices")
        }
        Bulk::Overdue => {
            let ids = sqlx::query_scalar::<_, i64>(
                "SELECT id FROM invoices WHERE user_id = $1 AND status = 'issued' AND due_date < $2 ORDER BY due_date, id LIMIT 5000",
            )
            .bind(user_id)
            .bind(invoices::today())
            .fetch_all(&db.pool)
            .await?;
            if ids.is_empty() {
                return Err(AppError::invalid("form", "No invoice is overdue."));
            }
            (ids, "All overdue invoices")
        }
    };
    let now = db::now();
    let batch_id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO whatsapp_batches (user_id, label, total, created_at) VALUES ($1, $2, 0, $3) RETURNING id",
    )
    .bind(user_id)
    .bind(label)
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    let recent = latest_badges(db, user_id, &ids).await?;
    let mut queued = 0i64;
    let mut skipped = Vec::new();
    for id in ids {
        if let Some(b) = recent.get(&id) {
            let sent_recently = b.state != SendState::Failed && now - b.updated_at < WINDOW_SECS;
            let active = matches!(b.state.as_str(), "queued" | "sending" | "unknown");
            if active || sent_recently {
                let number = invoice_number(db, user_id, id).await?;
                skipped.push((number, "already sent or on its way".to_string()));
                continue;
            }
        }
        match insert_send(db, user_id, id, true, Some(batch_id)).await {
            Ok(_) => queued += 1,
            Err(AppError::NotFound) => skipped.push((format!("#{id}"), "not found".into())),
            Err(AppError::Invalid(e)) => {
                let number = invoice_number(db, user_id, id).await?;
                skipped.push((number, e.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    sqlx::query("UPDATE whatsapp_batches SET total = $1 WHERE id = $2")
        .bind(queued)
        .bind(batch_id)
        .execute(&db.pool)
        .await?;
    tracing::info!(
        user_id,
        batch_id,
        queued,
        skipped = skipped.len(),
        "bulk WhatsApp send queued"
    );
    state.outbox.wake();
    Ok(BulkResult {
        batch_id: (queued > 0).then_some(batch_id),
        queued,
        skipped,
    })
}

async fn invoice_number(db: &Db, user_id: i64, id: i64) -> Result<String, AppError> {
    Ok(sqlx::query_scalar::<_, String>(
        "SELECT number FROM invoices WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?
    .unwrap_or_else(|| format!("#{id}")))
}

/// Sandbox connections only: the tenant "writes" to the business number.
pub async fn sandbox_reply(state: &AppState, user_id: i64, tenant_id: i64) -> Result<(), AppError> {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT name, phone_e164, provider_user_id, username FROM tenants WHERE id = $1 AND user_id = $2",
    )
    .bind(tenant_id)
    .bind(user_id)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let who = messaging::Person {
        phone: row.try_get("phone_e164")?,
        user_id: row.try_get("provider_user_id")?,
        name: Some(row.try_get("name")?),
        username: row.try_get("username")?,
    };
    crate::providers::meta::simulate_reply(
        state,
        user_id,
        &who,
        "Hello, thanks for the reminder. (Simulated by the sandbox.)",
    )
    .await
}

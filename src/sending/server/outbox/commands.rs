//! The commands that queue: one invoice, many at once, and the sandbox's simulated reply.

use super::{
    policy::{blocker, connection_info, invoice_facts},
    read::latest_badges,
    WINDOW_SECS,
};
use std::collections::HashSet;

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
///
/// Unless `confirmed`, a bulk send that would reach more tenants outside their 24-hour window
/// than the messaging limit allows in 24 hours is refused first with a warning (field
/// `confirm`), which the user may override.
pub async fn queue_bulk(
    state: &AppState,
    user_id: i64,
    which: Bulk,
    confirmed: bool,
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
    if !confirmed {
        if let Some(over) = limit_excess(db, user_id, &ids, now).await? {
            return Err(AppError::invalid("confirm", over.warning()));
        }
    }
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

/// A bulk send that would go past the messaging limit: Meta counts the unique customers a
/// business reaches outside their 24-hour window in a rolling 24 hours, and refuses the rest.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct LimitExcess {
    /// Tenants this send reaches outside their window who were not reached in the last 24 hours.
    pub new: usize,
    /// Tenants already reached outside their window in the last 24 hours.
    pub recent: usize,
    pub limit: u32,
}

impl LimitExcess {
    /// Whether `outside` (the tenants a send reaches outside their window), with `recent`, go
    /// past `limit`.
    pub(super) fn of(
        limit: Option<u32>,
        recent: &HashSet<i64>,
        outside: &HashSet<i64>,
    ) -> Option<LimitExcess> {
        let limit = limit?;
        let new = outside.difference(recent).count();
        (new > 0 && recent.len() + new > limit as usize).then_some(LimitExcess {
            new,
            recent: recent.len(),
            limit,
        })
    }

    pub(super) fn warning(&self) -> String {
        let total = self.recent + self.new;
        let earlier = if self.recent == 0 {
            String::new()
        } else {
            format!(
                " Together with the {} reached in the last 24 hours that makes {}.",
                self.recent, total
            )
        };
        format!(
            "This would send templates to {} tenants outside their 24-hour window.{earlier} Your messaging limit \
             allows {} customers outside their window in 24 hours, across every number of your business \
             portfolio, so Meta would refuse about {} of these messages. Send them in smaller groups over \
             several days, or send anyway.",
            self.new,
            crate::connections::grouped(self.limit),
            total - self.limit as usize
        )
    }
}

/// The excess over the messaging limit that sending `ids` would cause, if any.
async fn limit_excess(
    db: &Db,
    user_id: i64,
    ids: &[i64],
    now: i64,
) -> Result<Option<LimitExcess>, AppError> {
    let limit: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT daily_unique_limit FROM whatsapp_connections WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(limit) = limit.flatten().and_then(|n| u32::try_from(n).ok()) else {
        return Ok(None);
    };
    let since = now - WINDOW_SECS;
    let recent: HashSet<i64> = sqlx::query_scalar::<_, i64>(
        "SELECT DISTINCT tenant_id FROM whatsapp_sends WHERE user_id = $1 AND kind = 'template' AND accepted_at >= $2",
    )
    .bind(user_id)
    .bind(since)
    .fetch_all(&db.pool)
    .await?
    .into_iter()
    .collect();
    let mut outside = HashSet::new();
    for chunk in ids.chunks(500) {
        // Placeholders only ($3, $4, …): the ids themselves are bound.
        let list = (0..chunk.len())
            .map(|i| format!("${}", i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT DISTINCT i.tenant_id FROM invoices i JOIN tenants t ON t.id = i.tenant_id \
             WHERE i.user_id = $1 AND (t.last_inbound_at IS NULL OR t.last_inbound_at <= $2) AND i.id IN ({list})"
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(user_id).bind(since);
        for id in chunk {
            q = q.bind(*id);
        }
        outside.extend(q.fetch_all(&db.pool).await?);
    }
    Ok(LimitExcess::of(Some(limit), &recent, &outside))
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

#[cfg(test)]
mod tests {
    use super::LimitExcess;
    use std::collections::HashSet;

    fn set(ids: &[i64]) -> HashSet<i64> {
        ids.iter().copied().collect()
    }

    #[test]
    fn the_limit_counts_unique_tenants_with_those_reached_in_the_last_day() {
        let all: Vec<i64> = (1..=6).collect();
        // No limit known, or unlimited: never a warning.
        assert_eq!(LimitExcess::of(None, &set(&[]), &set(&all)), None);
        // Up to the limit is fine; one over is not.
        assert_eq!(LimitExcess::of(Some(6), &set(&[]), &set(&all)), None);
        assert_eq!(
            LimitExcess::of(Some(5), &set(&[]), &set(&all)),
            Some(LimitExcess {
                new: 6,
                recent: 0,
                limit: 5
            })
        );
        // Tenants reached earlier today count once, whether or not this send reaches them again.
        assert_eq!(LimitExcess::of(Some(6), &set(&[1, 2]), &set(&all)), None);
        assert_eq!(
            LimitExcess::of(Some(6), &set(&[10, 11]), &set(&all)),
            Some(LimitExcess {
                new: 6,
                recent: 2,
                limit: 6
            })
        );
        // A send that reaches nobody new cannot be what goes over.
        assert_eq!(
            LimitExcess::of(Some(1), &set(&[1, 2, 3]), &set(&[1, 2])),
            None
        );
    }

    #[test]
    fn the_warning_says_how_many_meta_would_refuse() {
        let w = LimitExcess {
            new: 240,
            recent: 30,
            limit: 250,
        }
        .warning();
        assert!(
            w.contains("240 tenants outside their 24-hour window"),
            "{w}"
        );
        assert!(
            w.contains("the 30 reached in the last 24 hours that makes 270"),
            "{w}"
        );
        assert!(w.contains("allows 250 customers"), "{w}");
        assert!(w.contains("refuse about 20 of these"), "{w}");
    }
}

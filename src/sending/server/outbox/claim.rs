//! Claiming due sends for this instance, with a lease: a worker that vanishes (a crash, a
//! restart) loses its claims when the lease runs out, and they are reaped here.

use super::settle::Failure;
use crate::{
    error::AppError,
    platform::{
        db::{self, Backend},
        AppState,
    },
    sending::SendState,
};

/// PostgreSQL: the rows are picked (and locked) once, `MATERIALIZED`. As a plain `IN (…)`
/// sub-query PostgreSQL may re-run it per row and claim far more than the limit.
const CLAIM_POSTGRES: &str = "WITH picked AS MATERIALIZED (\
       SELECT id FROM whatsapp_sends WHERE state = $5 AND next_attempt_at <= $3 \
       ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
     UPDATE whatsapp_sends s SET state = $6, state_rank = $7, locked_by = $1, locked_until = $2, \
       attempts = attempts + 1, in_flight = 0, updated_at = $3 \
     FROM picked WHERE s.id = picked.id AND s.state = $5 RETURNING s.id";

/// SQLite has one writer at a time; the sub-query's list is computed once.
const CLAIM_SQLITE: &str =
    "UPDATE whatsapp_sends SET state = $6, state_rank = $7, locked_by = $1, \
       locked_until = $2, attempts = attempts + 1, in_flight = 0, updated_at = $3 \
     WHERE id IN (SELECT id FROM whatsapp_sends WHERE state = $5 AND next_attempt_at <= $3 \
       ORDER BY next_attempt_at, id LIMIT $4) AND state = $5 RETURNING id";

/// Takes over sends whose worker vanished, settles unknown outcomes, and claims up to `limit`
/// due sends for this instance.
pub(super) async fn claim(state: &AppState, limit: usize) -> Result<Vec<i64>, AppError> {
    let db = &state.db;
    let s = &state.outbox.settings;
    let now = db::now();
    use SendState::*;
    // A worker died while sending. If the message call had started, only a webhook can say
    // whether the provider took it; otherwise it is simply queued again.
    sqlx::query(
        "UPDATE whatsapp_sends SET \
           state = CASE WHEN in_flight = 1 THEN $3 ELSE $4 END, \
           state_rank = CASE WHEN in_flight = 1 THEN $5 ELSE $6 END, \
           next_attempt_at = CASE WHEN in_flight = 1 THEN $1 ELSE $2 END, \
           locked_by = NULL, locked_until = NULL, updated_at = $2 \
         WHERE state = $7 AND locked_until < $2",
    )
    .bind(now + s.reconcile.as_secs() as i64)
    .bind(now)
    .bind(Unknown.as_str())
    .bind(Queued.as_str())
    .bind(Unknown.rank())
    .bind(Queued.rank())
    .bind(Sending.as_str())
    .execute(&db.pool)
    .await?;
    // No webhook came for an unknown outcome. Where webhooks are known to arrive, silence means
    // the provider never took the message: send it again. Elsewhere, sending again could
    // duplicate it.
    sqlx::query(
        "UPDATE whatsapp_sends SET state = $2, state_rank = $3, in_flight = 0, next_attempt_at = $1, \
           retrying = 1, error_title = $5, error_anchor = $6, updated_at = $1 \
         WHERE state = $4 AND next_attempt_at <= $1 AND provider_message_id IS NULL AND user_id IN \
           (SELECT user_id FROM whatsapp_connections WHERE webhook_last_event_at IS NOT NULL)",
    )
    .bind(now)
    .bind(Queued.as_str())
    .bind(Queued.rank())
    .bind(Unknown.as_str())
    .bind(Failure::NO_ANSWER.title)
    .bind(Failure::NO_ANSWER.anchor)
    .execute(&db.pool)
    .await?;
    sqlx::query(
        "UPDATE whatsapp_sends SET state = $2, state_rank = $3, in_flight = 0, failed_at = $1, retrying = 0, \
           error_title = $5, error_anchor = $6, error_detail = $7, updated_at = $1 \
         WHERE state = $4 AND next_attempt_at <= $1 AND provider_message_id IS NULL",
    )
    .bind(now)
    .bind(Failed.as_str())
    .bind(Failed.rank())
    .bind(Unknown.as_str())
    .bind(Failure::OUTCOME_UNKNOWN.title)
    .bind(Failure::OUTCOME_UNKNOWN.anchor)
    .bind(Failure::OUTCOME_UNKNOWN.detail)
    .execute(&db.pool)
    .await?;
    let sql = match db.backend {
        Backend::Postgres => CLAIM_POSTGRES,
        Backend::Sqlite => CLAIM_SQLITE,
    };
    let ids = sqlx::query_scalar::<_, i64>(sql)
        .bind(&state.outbox.instance)
        .bind(now + s.lease.as_secs() as i64)
        .bind(now)
        .bind(limit as i64)
        .bind(Queued.as_str())
        .bind(Sending.as_str())
        .bind(Sending.rank())
        .fetch_all(&db.pool)
        .await?;
    Ok(ids)
}

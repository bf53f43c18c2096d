//! One attempt at a claimed send: decide document or template, prepare the PDF with the
//! connection's provider, wait for the pacer, and send. How the attempt ends is [`super::settle`].

use super::{
    callback_tag,
    policy::{chosen_template_body, connection_info, invoice_facts},
    settle::{accepted, failed, Failure},
};
use crate::{
    connections::server as whatsapp,
    error::AppError,
    invoices::server as invoices,
    platform::{
        db::{self, Db},
        AppState,
    },
    sending::SendState,
};
use messaging::{Media, Message, Recipient};
use std::time::Instant;

/// A claimed send, as the worker needs it.
pub(super) struct Job {
    pub id: i64,
    pub user_id: i64,
    pub invoice_id: i64,
    pub recipient: Recipient,
    pub force_template: bool,
    pub attempts: i64,
    /// The document prepared by an earlier attempt, when and for which sender.
    pub media: Option<String>,
    pub media_prepared_at: Option<i64>,
    pub media_sender: Option<String>,
}

/// A claimed send's row, as stored.
#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    user_id: i64,
    invoice_id: i64,
    recipient: String,
    force_template: i64,
    attempts: i64,
    media_ref: Option<String>,
    media_prepared_at: Option<i64>,
    sender_id: Option<String>,
}

impl From<JobRow> for Job {
    fn from(r: JobRow) -> Self {
        Job {
            id: r.id,
            user_id: r.user_id,
            invoice_id: r.invoice_id,
            recipient: Recipient::from_stored(&r.recipient),
            force_template: r.force_template == 1,
            attempts: r.attempts,
            media: r.media_ref,
            media_prepared_at: r.media_prepared_at,
            media_sender: r.sender_id,
        }
    }
}

async fn load_job(db: &Db, id: i64, instance: &str) -> Result<Option<Job>, AppError> {
    let row = sqlx::query_as::<_, JobRow>(
        "SELECT id, user_id, invoice_id, recipient, force_template, attempts, media_ref, media_prepared_at, \
         sender_id FROM whatsapp_sends WHERE id = $1 AND state = $3 AND locked_by = $2",
    )
    .bind(id)
    .bind(instance)
    .bind(SendState::Sending.as_str())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(Job::from))
}

/// Carries out one attempt of the claimed send `id`.
pub(super) async fn process(state: &AppState, id: i64) -> Result<(), AppError> {
    let db = &state.db;
    let outbox = &state.outbox;
    let Some(job) = load_job(db, id, &outbox.instance).await? else {
        return Ok(()); // someone else settled it
    };
    let Some(stored) = whatsapp::load(db, &state.keyring, job.user_id).await? else {
        return failed(state, &job, "-", Failure::not_connected()).await;
    };
    let provider = state.providers.get(&stored.provider, stored.mode)?;
    let account = &stored.account;
    let sender = account.sender.clone();
    let facts = invoice_facts(db, job.user_id, job.invoice_id).await?;
    let now = db::now();
    // Meta restricted or disabled the account, or removed the app: the send waits, saying why,
    // instead of failing like every other one would. It is looked at again every 15 minutes.
    if let Some(whatsapp::Pause { why, until }) = stored.pause.clone() {
        let again = until.map_or(now + PAUSE_RECHECK_SECS, |u| {
            u.min(now + PAUSE_RECHECK_SECS)
        });
        let note = (
            super::settle::PAUSED.title,
            why.as_str(),
            super::settle::PAUSED.anchor,
        );
        put_back(db, &job, again, now, Some(note)).await?;
        return Ok(());
    }

    let template = if job.force_template || !facts.window_open(now) {
        let conn = connection_info(db, job.user_id).await?;
        let chosen = conn.and_then(|c| c.template);
        let stored = match &chosen {
            Some(t) => chosen_template_body(db, job.user_id, t).await?,
            None => None,
        };
        match (chosen, stored) {
            (Some(t), Some(s)) => match s.problem {
                None => Some(t),
                // Paused, archived, moved to MARKETING, …: the send says so, with what to do.
                Some(p) => return failed(state, &job, "template", Failure::template(p)).await,
            },
            _ => return failed(state, &job, "template", Failure::no_template()).await,
        }
    } else {
        None
    };
    let kind = if template.is_some() {
        "template"
    } else {
        "document"
    };

    // One message every few seconds to the same tenant: come back later rather than wait here.
    if let Err(wait) = outbox.pair_ready(&sender, job.recipient.as_str()) {
        put_back(db, &job, now + wait.as_secs().max(1) as i64, now, None).await?;
        return Ok(());
    }

    let filename = format!("{}.pdf", facts.number);
    // A prepared document is used again while the provider keeps it, and only by its sender.
    let lifetime = provider.media_lifetime().as_secs() as i64;
    let fresh = job
        .media
        .clone()
        .filter(|_| job.media_sender.as_deref() == Some(sender.as_str()))
        .filter(|_| job.media_prepared_at.is_some_and(|t| now - t < lifetime));
    let media = match fresh {
        Some(reference) => Media { reference },
        None => {
            let (_, pdf) = invoices::pdf(db, job.user_id, job.invoice_id).await?;
            match provider.prepare_document(account, &filename, pdf).await {
                Ok(m) => {
                    sqlx::query(
                        "UPDATE whatsapp_sends SET media_ref = $1, media_prepared_at = $2, sender_id = $3 WHERE id = $4",
                    )
                    .bind(&m.reference)
                    .bind(now)
                    .bind(&sender)
                    .bind(job.id)
                    .execute(&db.pool)
                    .await?;
                    m
                }
                Err(e) => {
                    return super::settle::provider_failed(state, &job, &sender, "upload", e, false)
                        .await
                }
            }
        }
    };

    let message = match template.clone() {
        Some((name, language)) => Message::Template {
            name,
            language,
            media,
            filename,
            params: facts.template_params(),
        },
        None => Message::Document {
            media,
            filename,
            caption: Some(facts.caption()),
        },
    };

    // Throughput: wait for this sender's next slot. A wait near the lease holds the claim for
    // its length first: a lease that ran out while the send waits would hand it to another claim,
    // which would reserve a later slot, whose wait outlives its lease in turn, and so on for ever.
    let slot = outbox.reserve_slot(&sender, stored.max_per_second);
    let wait = slot.saturating_duration_since(Instant::now());
    if wait >= outbox.settings.lease / 2 {
        let held = sqlx::query(
            "UPDATE whatsapp_sends SET locked_until = $1 WHERE id = $2 AND state = $5 AND locked_by = $3 AND attempts = $4",
        )
        .bind(db::now() + (wait + outbox.settings.lease).as_secs() as i64 + 1)
        .bind(job.id)
        .bind(&outbox.instance)
        .bind(job.attempts)
        .bind(SendState::Sending.as_str())
        .execute(&db.pool)
        .await?
        .rows_affected();
        if held == 0 {
            return Ok(()); // the claim was lost meanwhile: its new holder sends
        }
    }
    tokio::time::sleep_until(slot.into()).await;

    // From here on the provider may take the message even if we never hear back.
    let marked = sqlx::query(
        "UPDATE whatsapp_sends SET in_flight = 1, kind = $1, sender_id = $2, updated_at = $3, locked_until = $6, \
         provider = $9 WHERE id = $4 AND state = $8 AND locked_by = $5 AND attempts = $7",
    )
    .bind(kind)
    .bind(&sender)
    .bind(db::now())
    .bind(job.id)
    .bind(&outbox.instance)
    .bind(db::now() + outbox.settings.lease.as_secs() as i64)
    .bind(job.attempts)
    .bind(SendState::Sending.as_str())
    .bind(provider.id())
    .execute(&db.pool)
    .await?
    .rows_affected();
    if marked == 0 {
        return Ok(()); // the lease was lost; another worker owns it now
    }
    let tag = callback_tag(job.id, job.attempts);
    match provider.send(account, &job.recipient, &message, &tag).await {
        Ok(a) => {
            accepted(state, &job, kind, a).await?;
            if let Some((name, language)) = &template {
                crate::templates::server::sent_with(db, job.user_id, name, language).await?;
            }
            Ok(())
        }
        Err(e) => super::settle::provider_failed(state, &job, &sender, kind, e, true).await,
    }
}

/// How often a paused account's sends are looked at again.
const PAUSE_RECHECK_SECS: i64 = 15 * 60;

/// Puts a claimed send back in the queue (the attempt is not counted), due at `at`. With a
/// `note` (title, detail, troubleshooting anchor) the send says why it waits, in the same
/// statement.
async fn put_back(
    db: &Db,
    job: &Job,
    at: i64,
    now: i64,
    note: Option<(&str, &str, &str)>,
) -> Result<(), AppError> {
    let (title, detail, anchor) =
        note.map_or((None, None, None), |(t, d, a)| (Some(t), Some(d), Some(a)));
    sqlx::query(
        "UPDATE whatsapp_sends SET state = $5, state_rank = $6, attempts = attempts - 1, locked_by = NULL, \
         locked_until = NULL, next_attempt_at = $1, updated_at = $2, \
         retrying = CASE WHEN $8 IS NULL THEN retrying ELSE 1 END, error_title = COALESCE($8, error_title), \
         error_detail = COALESCE($9, error_detail), error_anchor = COALESCE($10, error_anchor) \
         WHERE id = $3 AND state = $7 AND attempts = $4",
    )
    .bind(at)
    .bind(now)
    .bind(job.id)
    .bind(job.attempts)
    .bind(SendState::Queued.as_str())
    .bind(SendState::Queued.rank())
    .bind(SendState::Sending.as_str())
    .bind(title)
    .bind(detail)
    .bind(anchor)
    .execute(&db.pool)
    .await?;
    Ok(())
}

//! How an attempt ends: accepted by the provider, or failed and classified into what happens
//! next. Every way a claimed send moves on after its call is an [`Outcome`], and the one
//! statement that writes it is [`settle`]: the states, ranks and columns each outcome sets are
//! listed once, in [`Outcome::row`].

use super::{deliver::Job, retry_delay};
use crate::{
    connections::server as whatsapp,
    error::AppError,
    platform::{db, AppState},
    sending::SendState,
};
use messaging::{Accepted, Disposition, Pace, ProviderError};
use rand::Rng;

/// How one failure is written down (on the send and in its attempt log).
pub(super) struct Failure {
    title: String,
    anchor: String,
    code: Option<i64>,
    detail: Option<String>,
    trace_id: Option<String>,
}

impl Failure {
    fn from_provider(e: &ProviderError, sender: &str) -> Self {
        let p = whatsapp::problem(e, sender);
        Failure {
            title: p.title,
            anchor: p.anchor,
            code: p.code,
            detail: p.provider_message.or(Some(p.explanation)),
            trace_id: p.trace_id,
        }
    }

    fn plain(p: AppProblem) -> Self {
        Failure {
            title: p.title.into(),
            anchor: p.anchor.into(),
            code: None,
            detail: Some(p.detail.into()),
            trace_id: None,
        }
    }

    /// Retrying after no answer came and the provider never took the message (the claim loop
    /// writes it; the entry is "Could not reach WhatsApp").
    pub(super) const NO_ANSWER: AppProblem = AppProblem {
        title: "No answer from WhatsApp",
        anchor: "could-not-reach-whatsapp",
        detail: "",
    };

    /// No answer, and no webhook could ever say whether the message was taken.
    pub(super) const OUTCOME_UNKNOWN: AppProblem = AppProblem {
        title: "Outcome unknown",
        anchor: "outcome-unknown",
        detail: "WhatsApp did not answer in time, and no webhook has reached this connection, so Axis CRM cannot tell whether the message arrived. Check with the tenant or in WhatsApp Manager, then use Send again if it did not.",
    };

    pub(super) fn not_connected() -> Self {
        Failure::plain(AppProblem {
            title: "WhatsApp is not connected",
            anchor: "not-connected",
            detail: "Connect WhatsApp under Settings → WhatsApp Integration, then send again.",
        })
    }

    /// The chosen invoice template cannot be sent (see `templates::lifecycle`).
    pub(super) fn template(p: crate::templates::lifecycle::Lifecycle) -> Self {
        Failure::plain(AppProblem {
            title: p.title,
            anchor: "template-problems",
            detail: p.detail,
        })
    }

    pub(super) fn no_template() -> Self {
        Failure::plain(AppProblem {
            title: "No approved invoice template",
            anchor: "template-problems",
            detail: "The tenant has not written in the last 24 hours, so WhatsApp only allows an approved template. Create or choose the invoice template under Settings → WhatsApp Integration → Message templates.",
        })
    }
}

/// Not a failure: the account's sends wait while Meta restricts or disables the account (the
/// provider's notice is the detail).
pub(super) const PAUSED: AppProblem = AppProblem {
    title: "Sending paused by Meta",
    anchor: "account-restricted",
    detail: "",
};

/// A failure the app itself reports: its reason, the troubleshooting entry that explains it
/// (`help::troubleshooting::ENTRIES`, by anchor), and what to do.
#[derive(Debug, Clone, Copy)]
pub(super) struct AppProblem {
    pub title: &'static str,
    pub anchor: &'static str,
    pub detail: &'static str,
}

/// Where a failed attempt leaves its send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The call may have reached the provider: wait for a webhook until `until`.
    Unknown { until: i64 },
    /// The window was closed: queue the template at once.
    Fallback,
    /// Try again at `at`.
    Retry { at: i64 },
    /// Stop; the user must act.
    Failed,
}

/// The columns an outcome sets, besides the failure and the lock.
struct Row {
    state: SendState,
    in_flight: bool,
    retrying: bool,
    force_template: bool,
    next_attempt_at: Option<i64>,
    failed_at: Option<i64>,
}

impl Outcome {
    /// The name in the attempt log.
    fn logged(self) -> &'static str {
        match self {
            Outcome::Unknown { .. } => "unknown",
            Outcome::Fallback => "fallback",
            Outcome::Retry { .. } => "retry",
            Outcome::Failed => "failed",
        }
    }

    fn row(self, now: i64) -> Row {
        let queued = |at| Row {
            state: SendState::Queued,
            in_flight: false,
            retrying: true,
            force_template: false,
            next_attempt_at: Some(at),
            failed_at: None,
        };
        match self {
            // The message may be at the provider: it stays in flight until a webhook or the
            // reconciliation decides.
            Outcome::Unknown { until } => Row {
                state: SendState::Unknown,
                in_flight: true,
                ..queued(until)
            },
            Outcome::Fallback => Row {
                force_template: true,
                ..queued(now)
            },
            Outcome::Retry { at } => queued(at),
            Outcome::Failed => Row {
                state: SendState::Failed,
                in_flight: false,
                retrying: false,
                force_template: false,
                next_attempt_at: None,
                failed_at: Some(now),
            },
        }
    }
}

/// The provider failed a call. `sent` says whether the request may have reached its message
/// endpoint (before that, an unknown outcome is simply a retry).
pub(super) async fn provider_failed(
    state: &AppState,
    job: &Job,
    sender: &str,
    kind: &str,
    e: ProviderError,
    sent: bool,
) -> Result<(), AppError> {
    let s = &state.outbox.settings;
    let failure = Failure::from_provider(&e, sender);
    tracing::warn!(send_id = job.id, attempt = job.attempts, kind, problem = ?e.problem, code = ?e.code,
        trace_id = ?e.trace_id, "WhatsApp call failed");
    let now = db::now();
    let retry = |pace: Pace| {
        let jitter = rand::thread_rng().gen_range(0.5..1.5);
        let delay = retry_delay(pace, job.attempts, s.retry_base, s.pair_interval, jitter);
        Outcome::Retry {
            at: now + delay.as_secs() as i64 + i64::from(delay.subsec_millis() > 0),
        }
    };
    let may_retry = job.attempts < s.max_attempts;
    let outcome = match e.disposition {
        Disposition::Unknown if sent => Outcome::Unknown {
            until: now + s.reconcile.as_secs() as i64,
        },
        Disposition::Unknown if may_retry => retry(Pace::Backoff),
        Disposition::WindowClosed if kind == "document" => Outcome::Fallback,
        Disposition::Retry(pace) if may_retry => retry(pace),
        _ => Outcome::Failed,
    };
    settle(state, job, kind, outcome, &failure).await?;
    match outcome {
        Outcome::Fallback => state.outbox.wake(),
        Outcome::Failed => {
            tracing::info!(send_id = job.id, title = %failure.title, "WhatsApp send failed")
        }
        _ => {}
    }
    Ok(())
}

/// Fails the send for a reason found before any call.
pub(super) async fn failed(
    state: &AppState,
    job: &Job,
    kind: &str,
    f: Failure,
) -> Result<(), AppError> {
    settle(state, job, kind, Outcome::Failed, &f).await?;
    tracing::info!(send_id = job.id, title = %f.title, "WhatsApp send failed");
    Ok(())
}

/// Ends this attempt of a claimed send with a failure: the outcome moves the row on, the
/// failure is recorded on the row and in the attempt log, and the lock is released. Only the
/// attempt that holds the row can settle it.
async fn settle(
    state: &AppState,
    job: &Job,
    kind: &str,
    outcome: Outcome,
    f: &Failure,
) -> Result<(), AppError> {
    let now = db::now();
    let row = outcome.row(now);
    let mut tx = state.db.write().await?;
    sqlx::query(
        "UPDATE whatsapp_sends SET state = $8, state_rank = $9, in_flight = $10, retrying = $11, \
           force_template = CASE WHEN $12 = 1 THEN 1 ELSE force_template END, \
           next_attempt_at = COALESCE($13, next_attempt_at), failed_at = COALESCE($14, failed_at), \
           error_code = $1, error_title = $2, error_detail = $3, error_anchor = $4, \
           updated_at = $5, locked_by = NULL, locked_until = NULL \
         WHERE id = $6 AND state = $15 AND attempts = $7",
    )
    .bind(f.code)
    .bind(&f.title)
    .bind(&f.detail)
    .bind(&f.anchor)
    .bind(now)
    .bind(job.id)
    .bind(job.attempts)
    .bind(row.state.as_str())
    .bind(row.state.rank())
    .bind(i64::from(row.in_flight))
    .bind(i64::from(row.retrying))
    .bind(i64::from(row.force_template))
    .bind(row.next_attempt_at)
    .bind(row.failed_at)
    .bind(SendState::Sending.as_str())
    .execute(&mut *tx)
    .await?;
    record_attempt(&mut tx, job, kind, outcome.logged(), None, Some(f)).await?;
    tx.commit().await?;
    Ok(())
}

/// The provider took the message.
pub(super) async fn accepted(
    state: &AppState,
    job: &Job,
    kind: &str,
    a: Accepted,
) -> Result<(), AppError> {
    let db = &state.db;
    let now = db::now();
    let recipient_id = a.recipient_id.map(|w| w.trim().to_string());
    let mut tx = db.write().await?;
    // A webhook may have beaten the answer here (it adopts the message id by tag): then the send
    // is already further along and only the missing facts are filled in.
    sqlx::query(
        "UPDATE whatsapp_sends SET \
           state = CASE WHEN state_rank < $7 THEN $6 ELSE state END, \
           state_rank = CASE WHEN state_rank < $7 THEN $7 ELSE state_rank END, \
           provider_message_id = COALESCE(provider_message_id, $1), wa_id = $2, accepted_at = COALESCE(accepted_at, $3), in_flight = 0, \
           locked_by = NULL, locked_until = NULL, retrying = 0, error_code = NULL, error_title = NULL, \
           error_detail = NULL, error_anchor = NULL, updated_at = $3 \
         WHERE id = $4 AND attempts = $5",
    )
    .bind(&a.message_id)
    .bind(&recipient_id)
    .bind(now)
    .bind(job.id)
    .bind(job.attempts)
    .bind(SendState::Accepted.as_str())
    .bind(SendState::Accepted.rank())
    .execute(&mut *tx)
    .await?;
    if let Some(w) = &recipient_id {
        sqlx::query("UPDATE tenants SET wa_id = $1 WHERE id = (SELECT tenant_id FROM whatsapp_sends WHERE id = $2)")
            .bind(w)
            .bind(job.id)
            .execute(&mut *tx)
            .await?;
    }
    record_attempt(
        &mut tx,
        job,
        kind,
        "accepted",
        a.message_id.as_deref(),
        None,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        send_id = job.id,
        attempt = job.attempts,
        kind,
        "WhatsApp accepted the invoice message"
    );
    Ok(())
}

async fn record_attempt(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    job: &Job,
    kind: &str,
    outcome: &str,
    message_id: Option<&str>,
    failure: Option<&Failure>,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO whatsapp_attempts (send_id, number, kind, at, outcome, provider_message_id, error_code, error_text, trace_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(job.id)
    .bind(job.attempts)
    .bind(kind)
    .bind(db::now())
    .bind(outcome)
    .bind(message_id)
    .bind(failure.and_then(|f| f.code))
    .bind(failure.map(|f| f.title.clone()))
    .bind(failure.and_then(|f| f.trace_id.clone()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// After an internal error: back to the queue in 30 s (or to reconciliation if the message
/// may have left).
pub(super) async fn release_for_retry(state: &AppState, id: i64) -> Result<(), AppError> {
    let now = db::now();
    use SendState::*;
    sqlx::query(
        "UPDATE whatsapp_sends SET state = CASE WHEN in_flight = 1 THEN $4 ELSE $5 END, \
         state_rank = CASE WHEN in_flight = 1 THEN $6 ELSE $7 END, next_attempt_at = $1, locked_by = NULL, \
         locked_until = NULL, retrying = 1, error_title = 'Internal error', updated_at = $2 \
         WHERE id = $3 AND state = $8",
    )
    .bind(now + 30)
    .bind(now)
    .bind(id)
    .bind(Unknown.as_str())
    .bind(Queued.as_str())
    .bind(Unknown.rank())
    .bind(Queued.rank())
    .bind(Sending.as_str())
    .execute(&state.db.pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_writes_its_own_row() {
        let now = 1_000;
        let u = Outcome::Unknown { until: 1_060 }.row(now);
        assert_eq!(
            (u.state, u.in_flight, u.retrying, u.next_attempt_at),
            (SendState::Unknown, true, true, Some(1_060))
        );
        let f = Outcome::Fallback.row(now);
        assert!(f.force_template && !f.in_flight);
        assert_eq!((f.state, f.next_attempt_at), (SendState::Queued, Some(now)));
        let r = Outcome::Retry { at: 1_002 }.row(now);
        assert_eq!((r.state, r.force_template), (SendState::Queued, false));
        let x = Outcome::Failed.row(now);
        assert_eq!(
            (x.state, x.retrying, x.failed_at, x.next_attempt_at),
            (SendState::Failed, false, Some(now), None)
        );
    }

    /// Each failure the app reports itself links to an entry that exists.
    #[test]
    fn app_failures_link_to_their_entries() {
        let all = [Failure::NO_ANSWER, Failure::OUTCOME_UNKNOWN];
        for p in all {
            assert!(
                crate::help::troubleshooting::entry(p.anchor).is_some(),
                "{p:?}"
            );
        }
        for f in [Failure::not_connected(), Failure::no_template()] {
            assert!(
                crate::help::troubleshooting::entry(&f.anchor).is_some(),
                "{}",
                f.anchor
            );
        }
        // The reason a stopped send shows is the entry's own title where the entry is the app's.
        assert_eq!(
            crate::help::troubleshooting::entry("outcome-unknown")
                .unwrap()
                .title,
            Failure::OUTCOME_UNKNOWN.title
        );
        assert_eq!(
            crate::help::troubleshooting::entry("not-connected")
                .unwrap()
                .title,
            Failure::not_connected().title
        );
    }
}

//! The setup wizard's progress: stored per user (where they are, what they marked done, finished
//! or skipped), combined with what the app can check for itself.

use crate::{
    connections::server::{self as whatsapp, format_time},
    platform::{
        db::{self, Db},
        AppState,
    },
};
use crate::{
    error::AppError,
    onboarding::{
        steps::{self, Check, STEPS},
        InvoiceChoice, SetupReminder, StepState, WebhookStatus, Wizard,
    },
};
use sqlx::Row;
use std::collections::HashSet;

/// Starts the wizard for a new account: it opens after sign-up and log-in until finished or
/// skipped. (Accounts from before the wizard have no row, and are not sent to it.)
pub async fn start(db: &Db, user_id: i64) -> Result<(), AppError> {
    let now = db::now();
    sqlx::query(
        "INSERT INTO onboarding (user_id, current_step, started_at, updated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(STEPS[0].key)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

struct Progress {
    current: String,
    finished_at: Option<i64>,
    skipped: bool,
    marked: HashSet<String>,
}

async fn progress(db: &Db, user_id: i64) -> Result<Option<Progress>, AppError> {
    let Some(row) = sqlx::query(
        "SELECT current_step, finished_at, skipped_at FROM onboarding WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?
    else {
        return Ok(None);
    };
    let marked =
        sqlx::query_scalar::<_, String>("SELECT step FROM onboarding_steps WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&db.pool)
            .await?
            .into_iter()
            .collect();
    Ok(Some(Progress {
        current: row.try_get("current_step")?,
        finished_at: row.try_get("finished_at")?,
        skipped: row.try_get::<Option<i64>, _>("skipped_at")?.is_some(),
        marked,
    }))
}

/// The wizard should open by itself: started (at sign-up) and neither finished nor skipped.
pub async fn pending(db: &Db, user_id: i64) -> Result<bool, AppError> {
    Ok(progress(db, user_id)
        .await?
        .is_some_and(|p| p.finished_at.is_none() && !p.skipped))
}

/// What the app sees for itself.
struct Facts {
    connected: Option<bool>, // Some(sandbox?) when connected
    webhook: Option<WebhookStatus>,
    sent: bool,
}

pub async fn webhook_status(db: &Db, user_id: i64) -> Result<Option<WebhookStatus>, AppError> {
    let row = sqlx::query(
        "SELECT webhook_verified_at, webhook_last_event_at, app_secret_enc FROM whatsapp_connections WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(match row {
        None => None,
        Some(r) => Some(WebhookStatus {
            verified_at_text: r
                .try_get::<Option<i64>, _>("webhook_verified_at")?
                .map(format_time),
            last_event_at_text: r
                .try_get::<Option<i64>, _>("webhook_last_event_at")?
                .map(format_time),
            has_app_secret: r.try_get::<Option<String>, _>("app_secret_enc")?.is_some(),
        }),
    })
}

async fn facts(db: &Db, user_id: i64) -> Result<Facts, AppError> {
    let connected =
        sqlx::query_scalar::<_, String>("SELECT mode FROM whatsapp_connections WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?
            .map(|mode| mode == "sandbox");
    let sent = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM whatsapp_sends WHERE user_id = $1 AND state IN ('sent', 'delivered', 'read')",
    )
    .bind(user_id)
    .fetch_one(&db.pool)
    .await?
        > 0;
    Ok(Facts {
        connected,
        webhook: webhook_status(db, user_id).await?,
        sent,
    })
}

/// Each step's state: checked by the app where it can tell, else as the user marked it.
fn states(facts: &Facts, marked: &HashSet<String>) -> Vec<StepState> {
    let how_checked = |sandbox: bool| if sandbox { "sandbox" } else { "checked" };
    STEPS
        .iter()
        .map(|s| {
            let checked = match (s.check, facts.connected) {
                (_, Some(false)) if s.proved_by_connection => Some("checked"),
                (Check::Connection, Some(sandbox)) => Some(how_checked(sandbox)),
                (Check::Webhook, Some(sandbox))
                    if facts.webhook.as_ref().is_some_and(WebhookStatus::complete) =>
                {
                    Some(how_checked(sandbox))
                }
                (Check::Send, Some(sandbox)) if facts.sent => Some(how_checked(sandbox)),
                _ => None,
            };
            let how = checked.or_else(|| marked.contains(s.key).then_some("marked"));
            StepState {
                key: s.key.to_string(),
                done: how.is_some(),
                how: how.unwrap_or_default().to_string(),
            }
        })
        .collect()
}

pub async fn wizard(
    state: &AppState,
    user_id: i64,
    step: Option<&str>,
) -> Result<Wizard, AppError> {
    let db = &state.db;
    start(db, user_id).await?;
    let step = match step {
        Some(key) => {
            let key = steps::step(key).ok_or(AppError::NotFound)?.key;
            sqlx::query(
                "UPDATE onboarding SET current_step = $1, updated_at = $2 WHERE user_id = $3",
            )
            .bind(key)
            .bind(db::now())
            .bind(user_id)
            .execute(&db.pool)
            .await?;
            key.to_string()
        }
        None => String::new(),
    };
    let p = progress(db, user_id).await?.ok_or(AppError::NotFound)?;
    let step = if step.is_empty() {
        // A step key from an older version of the wizard falls back to the start.
        steps::step(&p.current)
            .map_or(STEPS[0].key, |s| s.key)
            .to_string()
    } else {
        step
    };
    let facts = facts(db, user_id).await?;
    let steps = states(&facts, &p.marked);
    let page = whatsapp::page(state, user_id).await?;
    let (invoices, has_invoices) = invoice_choices(db, user_id).await?;
    Ok(Wizard {
        done: steps.iter().filter(|s| s.done).count(),
        steps,
        step,
        finished_text: p.finished_at.map(format_time),
        skipped: p.skipped,
        connection: page.connection,
        webhook: facts.webhook,
        public_url_warning: public_url_warning(&state.config.public_url),
        sandbox_available: page.sandbox_available,
        invoices,
        has_invoices,
    })
}

/// Meta calls only https addresses it can reach from the internet.
pub fn public_url_warning(public_url: &str) -> Option<String> {
    let url = url::Url::parse(public_url).ok()?;
    let host = url.host_str().unwrap_or_default();
    let local = host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| match ip {
            std::net::IpAddr::V4(v4) => {
                v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
            }
            std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.is_unspecified(),
        });
    if url.scheme() != "https" || local {
        Some(format!(
            "This server's public address is {public_url}, which Meta cannot call: Meta only sends webhooks to https addresses reachable from the internet. Ask whoever runs Axis CRM to set AXIS_PUBLIC_URL to its public https address. The sandbox works without it."
        ))
    } else {
        None
    }
}

async fn invoice_choices(db: &Db, user_id: i64) -> Result<(Vec<InvoiceChoice>, bool), AppError> {
    let rows = sqlx::query(
        "SELECT i.id, i.number, t.name, t.phone_e164 FROM invoices i JOIN tenants t ON t.id = i.tenant_id \
         WHERE i.user_id = $1 AND i.status IN ('issued', 'paid') AND t.phone_e164 IS NOT NULL AND t.phone_is_mobile = 1 \
         ORDER BY i.due_date DESC, i.id DESC LIMIT 50",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let choices = rows
        .iter()
        .map(|r| {
            Ok(InvoiceChoice {
                id: r.try_get("id")?,
                number: r.try_get("number")?,
                tenant_name: r.try_get("name")?,
                phone: r.try_get("phone_e164")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let any = !choices.is_empty()
        || sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM invoices WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&db.pool)
            .await?
            > 0;
    Ok((choices, any))
}

/// Marks `step` done (or not) and answers the step to show next: the following one after
/// marking it done, the same one after taking the mark away.
pub async fn mark(db: &Db, user_id: i64, step: &str, done: bool) -> Result<&'static str, AppError> {
    let s = steps::step(step)
        .ok_or_else(|| AppError::invalid("step", format!("There is no step called \"{step}\".")))?;
    start(db, user_id).await?;
    let now = db::now();
    let mut tx = db.write().await?;
    if done {
        sqlx::query(
            "INSERT INTO onboarding_steps (user_id, step, done_at) VALUES ($1, $2, $3) ON CONFLICT (user_id, step) DO NOTHING",
        )
        .bind(user_id)
        .bind(s.key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query("DELETE FROM onboarding_steps WHERE user_id = $1 AND step = $2")
            .bind(user_id)
            .bind(s.key)
            .execute(&mut *tx)
            .await?;
    }
    let to = if done {
        steps::next(s.key).unwrap_or(s).key
    } else {
        s.key
    };
    sqlx::query("UPDATE onboarding SET current_step = $1, updated_at = $2 WHERE user_id = $3")
        .bind(to)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(to)
}

/// How the wizard ended: skipped or finished.
#[derive(Debug, Clone, Copy)]
enum End {
    Skipped,
    Finished,
}

async fn set_end(db: &Db, user_id: i64, end: End) -> Result<(), AppError> {
    start(db, user_id).await?;
    let now = db::now();
    sqlx::query(match end {
        End::Skipped => "UPDATE onboarding SET skipped_at = $1, updated_at = $1 WHERE user_id = $2",
        End::Finished => {
            "UPDATE onboarding SET finished_at = $1, updated_at = $1 WHERE user_id = $2"
        }
    })
    .bind(now)
    .bind(user_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn skip(db: &Db, user_id: i64) -> Result<(), AppError> {
    set_end(db, user_id, End::Skipped).await
}

pub async fn finish(db: &Db, user_id: i64) -> Result<(), AppError> {
    set_end(db, user_id, End::Finished).await
}

/// Opens a finished or skipped wizard again, at the step where the user was.
pub async fn resume(db: &Db, user_id: i64) -> Result<String, AppError> {
    start(db, user_id).await?;
    sqlx::query("UPDATE onboarding SET finished_at = NULL, skipped_at = NULL, updated_at = $1 WHERE user_id = $2")
        .bind(db::now())
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    let p = progress(db, user_id).await?.ok_or(AppError::NotFound)?;
    Ok(steps::step(&p.current)
        .map_or(STEPS[0].key, |s| s.key)
        .to_string())
}

pub async fn reminder(db: &Db, user_id: i64) -> Result<Option<SetupReminder>, AppError> {
    let Some(p) = progress(db, user_id).await? else {
        return Ok(None);
    };
    if p.finished_at.is_some() || p.skipped {
        return Ok(None);
    }
    let facts = facts(db, user_id).await?;
    Ok(Some(SetupReminder {
        done: states(&facts, &p.marked).iter().filter(|s| s.done).count(),
        total: STEPS.len(),
    }))
}

/// With a sandbox connection, does what Meta does on "Verify and save" or "Test".
pub async fn sandbox_webhook(state: &AppState, user_id: i64, action: &str) -> Result<(), AppError> {
    let (rt, stored) = crate::providers::meta::sandbox_of(
        state,
        user_id,
        "These buttons work only with a sandbox connection; with Meta, use the buttons in your app's webhook settings.",
    )
    .await?;
    let app_id = stored.account.app_id.clone().ok_or_else(|| {
        AppError::invalid(
            "form",
            "This sandbox connection has no app to send webhooks from.",
        )
    })?;
    let outcome = match action {
        "verify" => {
            let page = whatsapp::page(state, user_id).await?;
            let token = page.connection.map(|c| c.verify_token).unwrap_or_default();
            rt.sandbox.verify_webhook(&app_id, &token).await
        }
        "test" => rt.sandbox.send_test_event(&app_id).await,
        _ => return Err(AppError::invalid("form", "Unknown sandbox action.")),
    };
    outcome.map_err(|why| AppError::invalid("form", format!("The sandbox says: {why}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(connected: Option<bool>, webhook: bool, sent: bool) -> Facts {
        Facts {
            connected,
            webhook: connected.map(|_| WebhookStatus {
                verified_at_text: webhook.then(|| "now".into()),
                last_event_at_text: webhook.then(|| "now".into()),
                has_app_secret: true,
            }),
            sent,
        }
    }

    fn how(states: &[StepState], key: &str) -> String {
        states.iter().find(|s| s.key == key).unwrap().how.clone()
    }

    #[test]
    fn a_live_connection_proves_the_steps_before_it() {
        let s = states(&facts(Some(false), false, false), &HashSet::new());
        for key in [
            "prerequisites",
            "business-account",
            "whatsapp-account",
            "meta-app",
            "whatsapp-product",
            "credentials",
            "connect",
        ] {
            assert_eq!(how(&s, key), "checked", "{key}");
        }
        assert_eq!(how(&s, "webhook"), "");
        assert_eq!(how(&s, "send"), "");
    }

    #[test]
    fn the_sandbox_checks_only_what_it_did() {
        let marked: HashSet<String> = ["business-account".to_string()].into();
        let s = states(&facts(Some(true), true, true), &marked);
        assert_eq!(how(&s, "prerequisites"), "");
        assert_eq!(how(&s, "business-account"), "marked");
        assert_eq!(how(&s, "connect"), "sandbox");
        assert_eq!(how(&s, "webhook"), "sandbox");
        assert_eq!(how(&s, "send"), "sandbox");
    }

    #[test]
    fn without_a_connection_only_marks_count() {
        let marked: HashSet<String> = ["webhook".to_string(), "send".to_string()].into();
        let s = states(&facts(None, false, true), &marked);
        assert_eq!(how(&s, "connect"), "");
        assert_eq!(how(&s, "webhook"), "marked");
        assert_eq!(s.iter().filter(|x| x.done).count(), 2);
    }

    #[test]
    fn warns_when_meta_cannot_call_the_public_url() {
        assert!(public_url_warning("http://localhost:3000").is_some());
        assert!(public_url_warning("https://127.0.0.1").is_some());
        assert!(public_url_warning("https://192.168.1.10").is_some());
        assert!(public_url_warning("http://crm.example.com").is_some());
        assert!(public_url_warning("https://crm.example.com").is_none());
    }
}

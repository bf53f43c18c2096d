//! What the pages ask: the latest send of each invoice, what blocks sending, the preview, the
//! progress of a bulk send, an invoice's history, a tenant's messages, and how they read.

use super::{
    policy::{
        blocker, chosen_template_body, connection_info, invoice_facts, shown_recipient, Reach,
    },
    WINDOW_SECS,
};
use crate::{
    connections::server as whatsapp,
    error::AppError,
    invoices::types::Status,
    platform::db::{self, Db, Statement},
    providers::Providers,
    sending::*,
};
use sqlx::Row;
use std::collections::HashMap;

/// A send's row as the ticks need it.
#[derive(sqlx::FromRow)]
struct BadgeRow {
    id: i64,
    invoice_id: i64,
    state: String,
    kind: Option<String>,
    error_title: Option<String>,
    error_anchor: Option<String>,
    retrying: i64,
    updated_at: i64,
}

impl BadgeRow {
    /// `state` is written only by this module's transitions, so an unknown one is corruption.
    fn badge(self) -> Result<SendBadge, sqlx::Error> {
        let state = SendState::parse(&self.state).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown send state {:?}", self.state).into())
        })?;
        Ok(SendBadge {
            send_id: self.id,
            state,
            kind: self.kind,
            reason: self.error_title,
            anchor: self.error_anchor,
            retrying: self.retrying == 1,
            updated_at: self.updated_at,
        })
    }
}

fn badge_of(r: &sqlx::any::AnyRow) -> Result<SendBadge, sqlx::Error> {
    use sqlx::FromRow;
    BadgeRow::from_row(r)?.badge()
}

/// The latest send of each of `invoice_ids` (the user's own only).
pub async fn latest_badges(
    db: &Db,
    user_id: i64,
    invoice_ids: &[i64],
) -> Result<HashMap<i64, SendBadge>, AppError> {
    let mut out = HashMap::new();
    if invoice_ids.is_empty() {
        return Ok(out);
    }
    let mut sql = Statement::new(
        "SELECT s.id, s.invoice_id, s.state, s.kind, s.error_title, s.error_anchor, s.retrying, s.updated_at \
         FROM whatsapp_sends s WHERE s.id IN (SELECT MAX(id) FROM whatsapp_sends WHERE user_id = ",
    );
    sql.push_bind(user_id)
        .push(" AND invoice_id IN (")
        .push_binds(invoice_ids.iter().take(200).copied())
        .push(") GROUP BY invoice_id)");
    let rows: Vec<BadgeRow> = sql.query_as().fetch_all(&db.pool).await?;
    for r in rows {
        out.insert(r.invoice_id, r.badge()?);
    }
    Ok(out)
}

/// Which rows of the invoices table cannot be sent, and why (one query for the page).
pub async fn blockers(
    db: &Db,
    user_id: i64,
    rows: &[(i64, Status, i64, Reach)],
) -> Result<HashMap<i64, Blocker>, AppError> {
    let conn = connection_info(db, user_id).await?;
    Ok(rows
        .iter()
        .filter_map(|(id, status, tenant, reach)| {
            blocker(conn.as_ref(), *status, reach, *tenant, *id).map(|b| (*id, b))
        })
        .collect())
}

/// "23 h 10 min" left in a window that opened at `last_inbound_at`.
pub fn window_left(last_inbound_at: Option<i64>, now: i64) -> Option<String> {
    let left = last_inbound_at? + WINDOW_SECS - now;
    (left > 0).then(|| format!("{} h {} min", left / 3600, (left % 3600) / 60))
}

/// "1 December 2026" from "2026-12-01".
pub fn human_date(iso: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let mut parts = iso.split('-');
    match (
        parts.next().and_then(|y| y.parse::<i32>().ok()),
        parts.next().and_then(|m| m.parse::<usize>().ok()),
        parts.next().and_then(|d| d.parse::<u32>().ok()),
    ) {
        (Some(y), Some(m @ 1..=12), Some(d)) => format!("{d} {} {y}", MONTHS[m - 1]),
        _ => iso.to_string(),
    }
}

/// Fills `{{1}}`…`{{n}}` in a template body.
pub fn fill_template(body: &str, params: &[String]) -> String {
    let mut out = body.to_string();
    for (i, p) in params.iter().enumerate() {
        out = out.replace(&format!("{{{{{}}}}}", i + 1), p);
    }
    out
}

/// Writes a phone number the international way for people (`+44 7911 123456`).
pub fn international(e164: &str) -> String {
    phonenumber::parse(None, e164)
        .map(|n| {
            n.format()
                .mode(phonenumber::Mode::International)
                .to_string()
        })
        .unwrap_or_else(|_| e164.to_string())
}

pub async fn preview(db: &Db, user_id: i64, invoice_id: i64) -> Result<SendPreview, AppError> {
    let f = invoice_facts(db, user_id, invoice_id).await?;
    let conn = connection_info(db, user_id).await?;
    let now = db::now();
    let latest = latest_badges(db, user_id, &[invoice_id])
        .await?
        .remove(&invoice_id);
    let mut blocker = blocker(
        conn.as_ref(),
        f.stored_status,
        &f.reach,
        f.tenant_id,
        invoice_id,
    );
    let document = f.window_open(now);
    let (message, template, billing) = if document {
        (
            f.caption(),
            None,
            crate::help::pricing::DOCUMENT.to_string(),
        )
    } else {
        let chosen = conn.as_ref().and_then(|c| c.template.clone());
        let body = match &chosen {
            Some(t) => chosen_template_body(db, user_id, t).await?,
            None => None,
        };
        let text = match (&chosen, &body) {
            (Some(_), Some(t)) if t.problem.is_none() => {
                fill_template(&t.body, &f.template_params())
            }
            (Some((name, _)), Some(t)) => {
                let problem = t.problem.expect("checked above");
                if blocker.is_none() {
                    blocker = Some(Blocker {
                        short: problem.short.into(),
                        reason: format!("\"{name}\": {}", problem.detail),
                        fix_href: "/settings/whatsapp#templates".into(),
                        fix_label: "Message templates".into(),
                    });
                }
                String::new()
            }
            _ => {
                if blocker.is_none() {
                    blocker = Some(Blocker {
                        short: "No template".into(),
                        reason: "The tenant has not written to you in the last 24 hours, so WhatsApp only allows an approved template, and no invoice template is chosen.".into(),
                        fix_href: "/settings/whatsapp#templates".into(),
                        fix_label: "Create the invoice template".into(),
                    });
                }
                String::new()
            }
        };
        (
            text,
            chosen.map(|(n, l)| format!("{n} ({l})")),
            crate::help::pricing::TEMPLATE.to_string(),
        )
    };
    let needs_again = latest
        .as_ref()
        .is_some_and(|b| b.state != SendState::Failed);
    Ok(SendPreview {
        invoice_id,
        number: f.number.clone(),
        tenant_id: f.tenant_id,
        tenant_name: f.tenant_name.clone(),
        recipient: f
            .reach
            .recipient()
            .map(|r| shown_recipient(r.as_str(), f.username.as_deref())),
        kind: if document { "document" } else { "template" }.into(),
        window_left: window_left(f.last_inbound_at, now),
        message,
        template,
        billing,
        blocker,
        latest,
        needs_again,
        sandbox: conn.as_ref().is_some_and(|c| c.sandbox),
    })
}

/// The most recent bulk send, while it runs and for ten minutes after.
pub async fn batch_progress(db: &Db, user_id: i64) -> Result<Option<BatchProgress>, AppError> {
    let Some(b) = sqlx::query(
        "SELECT id, label, total, created_at FROM whatsapp_batches WHERE user_id = $1 AND total > 0 ORDER BY id DESC LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?
    else {
        return Ok(None);
    };
    let id: i64 = b.try_get("id")?;
    let counts = sqlx::query(
        "SELECT \
           COALESCE(SUM(CASE WHEN state_rank >= 2 AND state <> 'failed' THEN 1 ELSE 0 END), 0) AS done, \
           COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS failed, \
           COALESCE(SUM(CASE WHEN state_rank < 2 THEN 1 ELSE 0 END), 0) AS waiting, \
           COALESCE(MAX(updated_at), 0) AS last \
         FROM whatsapp_sends WHERE batch_id = $1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await?;
    let progress = BatchProgress {
        id,
        label: b.try_get("label")?,
        total: b.try_get("total")?,
        done: counts.try_get("done")?,
        failed: counts.try_get("failed")?,
        waiting: counts.try_get("waiting")?,
    };
    let last: i64 = counts.try_get("last")?;
    if progress.finished() && db::now() - last > 600 {
        return Ok(None);
    }
    Ok(Some(progress))
}

pub async fn news(db: &Db, user_id: i64, ids: &[i64]) -> Result<SendNews, AppError> {
    let badges = latest_badges(db, user_id, ids).await?.into_iter().collect();
    Ok(SendNews {
        badges,
        batch: batch_progress(db, user_id).await?,
    })
}

/// Every send of an invoice, newest first, with its attempts.
pub async fn history(
    db: &Db,
    providers: &Providers,
    user_id: i64,
    invoice_id: i64,
) -> Result<Vec<SendView>, AppError> {
    // Another user's invoice is "not found", not an empty history.
    let owned: Option<i64> =
        sqlx::query_scalar("SELECT id FROM invoices WHERE id = $1 AND user_id = $2")
            .bind(invoice_id)
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    if owned.is_none() {
        return Err(AppError::NotFound);
    }
    let rows = sqlx::query(
        "SELECT s.id, s.invoice_id, s.state, s.kind, s.error_title, s.error_anchor, s.retrying, s.updated_at, \
         s.recipient, s.created_at, s.provider_message_id, s.error_code, s.error_detail, s.accepted_at, s.sent_at, s.delivered_at, \
         s.read_at, s.failed_at, s.provider FROM whatsapp_sends s WHERE s.user_id = $1 AND s.invoice_id = $2 ORDER BY s.id DESC LIMIT 20",
    )
    .bind(user_id)
    .bind(invoice_id)
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let badge = badge_of(&r)?;
        let mut times = Vec::new();
        for (col, label) in [
            ("accepted_at", "Accepted by WhatsApp"),
            ("sent_at", "Sent"),
            ("delivered_at", "Delivered"),
            ("read_at", "Read"),
            ("failed_at", "Failed"),
        ] {
            if let Some(t) = r.try_get::<Option<i64>, _>(col)? {
                times.push((label.to_string(), whatsapp::format_time(t)));
            }
        }
        let problem = match (&badge.reason, badge.state.as_str()) {
            (Some(title), "failed") => Some(whatsapp::stored_problem(
                providers
                    .any_mode(&r.try_get::<String, _>("provider")?)
                    .as_deref(),
                title,
                r.try_get("error_code")?,
                r.try_get("error_detail")?,
                badge.anchor.clone(),
            )),
            _ => None,
        };
        let attempts = sqlx::query(
            "SELECT number, kind, at, outcome, provider_message_id, error_code, error_text, trace_id FROM whatsapp_attempts \
             WHERE send_id = $1 ORDER BY id",
        )
        .bind(badge.send_id)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|a| {
            let code: Option<i64> = a.try_get("error_code")?;
            let text: Option<String> = a.try_get("error_text")?;
            Ok(AttemptView {
                number: a.try_get("number")?,
                kind: a.try_get("kind")?,
                at_text: whatsapp::format_time(a.try_get("at")?),
                outcome: a.try_get("outcome")?,
                provider_message_id: a.try_get("provider_message_id")?,
                error: match (code, text) {
                    (Some(c), Some(t)) => Some(format!("{t} (error {c})")),
                    (None, Some(t)) => Some(t),
                    (Some(c), None) => Some(format!("error {c}")),
                    _ => None,
                },
                trace_id: a.try_get("trace_id")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        out.push(SendView {
            recipient: shown_recipient(&r.try_get::<String, _>("recipient")?, None),
            created_text: whatsapp::format_time(r.try_get("created_at")?),
            provider_message_id: r.try_get("provider_message_id")?,
            times,
            problem,
            attempts,
            badge,
        });
    }
    Ok(out)
}

/// The customers whose 24-hour window is open at `now`: who wrote (their WhatsApp id, or their
/// user id when they share no number) and when they last did.
pub async fn open_windows(db: &Db, user_id: i64, now: i64) -> Result<Vec<(String, i64)>, AppError> {
    let rows = sqlx::query(
        "SELECT wa_id, MAX(received_at) AS last FROM whatsapp_inbound \
         WHERE user_id = $1 AND wa_id IS NOT NULL AND received_at > $2 GROUP BY wa_id",
    )
    .bind(user_id)
    .bind(now - WINDOW_SECS)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("wa_id")?, r.try_get("last")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

pub async fn tenant_messages(
    db: &Db,
    user_id: i64,
    tenant_id: i64,
) -> Result<TenantMessages, AppError> {
    let t = sqlx::query(
        "SELECT name, phone_e164, last_inbound_at FROM tenants WHERE id = $1 AND user_id = $2",
    )
    .bind(tenant_id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let last: Option<i64> = t.try_get("last_inbound_at")?;
    let messages = sqlx::query(
        "SELECT received_at, kind, body FROM whatsapp_inbound WHERE user_id = $1 AND tenant_id = $2 \
         ORDER BY received_at DESC, id DESC LIMIT 20",
    )
    .bind(user_id)
    .bind(tenant_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|m| {
        Ok((
            whatsapp::format_time(m.try_get("received_at")?),
            m.try_get("kind")?,
            m.try_get("body")?,
        ))
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let conn = connection_info(db, user_id).await?;
    Ok(TenantMessages {
        tenant_id,
        name: t.try_get("name")?,
        phone: t
            .try_get::<Option<String>, _>("phone_e164")?
            .as_deref()
            .map(international),
        window_left: window_left(last, db::now()),
        last_inbound_text: last.map(whatsapp::format_time),
        messages,
        sandbox: conn.is_some_and(|c| c.sandbox),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_dates_read_well() {
        assert_eq!(
            window_left(Some(1000), 1000 + 3600),
            Some("23 h 0 min".into())
        );
        assert_eq!(window_left(Some(0), WINDOW_SECS + 1), None);
        assert_eq!(window_left(None, 5), None);
        assert_eq!(human_date("2026-12-01"), "1 December 2026");
        assert_eq!(human_date("nonsense"), "nonsense");
        assert_eq!(
            fill_template(
                "Hi {{1}}, {{2}} for {{3}} due {{4}}.",
                &[
                    "Ana".into(),
                    "INV-1".into(),
                    "£5.00".into(),
                    "1 May 2026".into()
                ]
            ),
            "Hi Ana, INV-1 for £5.00 due 1 May 2026."
        );
    }
}

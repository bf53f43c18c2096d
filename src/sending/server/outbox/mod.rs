//! The WhatsApp outbox: a send is a row in `whatsapp_sends`, queued by a click and carried out by
//! a worker, never inside the request. The row survives crashes and restarts; on PostgreSQL
//! several instances claim rows with `FOR UPDATE SKIP LOCKED`, so no two work on the same send.
//!
//! A send moves along [`SendState`]: `queued → sending → accepted` when the provider takes the
//! message, then `sent → delivered → read` (or `failed`) as status webhooks arrive; its rank only
//! ever grows, so duplicated and reordered webhooks leave the right final state. A call whose
//! outcome is unknown (a time-out after the request left) parks the send as `unknown`: every
//! message carries a tag naming the send and attempt ([`callback_tag`]), so a status webhook for
//! it settles the question. Only when none has come after `reconcile`, and webhooks are known to
//! reach this connection, is the message sent again.
//!
//! This module holds what the pages ask and the commands that queue; the worker is in
//! [`worker`] (the loop), [`claim`] (leases, reaping, reconciling), [`pacer`] (throughput and
//! the pair limit), [`deliver`] (one attempt, through the connection's provider) and [`settle`]
//! (how an attempt ends). None of them names a provider's types: they speak `messaging`.

mod claim;
mod deliver;
mod pacer;
mod settle;
mod worker;

pub use pacer::retry_delay;
pub use worker::{run_due, spawn_worker, Outbox};

use crate::{
    connections::server::{self as whatsapp, Mode, WhatsAppService},
    invoices::server as invoices,
    platform::{
        db::{self, Db, Statement},
        AppState,
    },
};
use crate::{
    error::AppError,
    invoices::{money, types::Status},
    sending::*,
};
use sqlx::Row;
use std::collections::HashMap;

pub use crate::platform::config::OutboxSettings;

/// The four body variables of an invoice template: tenant, number, amount, due date.
pub const TEMPLATE_PARAMS: usize = 4;

/// The 24-hour customer service window.
pub const WINDOW_SECS: i64 = 24 * 3600;

/// The tag a provider echoes in status webhooks: which send, which attempt.
pub fn callback_tag(send_id: i64, attempt: i64) -> String {
    format!("axis:{send_id}:{attempt}")
}

pub fn parse_callback(tag: &str) -> Option<(i64, i64)> {
    let rest = tag.strip_prefix("axis:")?;
    let (send, attempt) = rest.split_once(':')?;
    Some((send.parse().ok()?, attempt.parse().ok()?))
}

// ---- what the pages ask -------------------------------------------------------------------------

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

/// What stands between the user and sending this tenant an invoice, if anything.
fn blocker(
    connected: Option<&ConnectionInfo>,
    stored_status: Status,
    phone: Option<&str>,
    is_mobile: bool,
    tenant_id: i64,
    invoice_id: i64,
) -> Option<Blocker> {
    let b = |short: &str, reason: &str, href: String, label: &str| {
        Some(Blocker {
            short: short.into(),
            reason: reason.into(),
            fix_href: href,
            fix_label: label.into(),
        })
    };
    if connected.is_none() {
        return b(
            "Not connected",
            "WhatsApp is not connected.",
            "/settings/whatsapp".into(),
            "Connect WhatsApp",
        );
    }
    if phone.is_none() {
        return b(
            "No phone",
            "The tenant has no phone number.",
            format!("/tenants#tenant-{tenant_id}"),
            "Add a phone number",
        );
    }
    if !is_mobile {
        return b(
            "Landline",
            "The tenant's number is a fixed line; WhatsApp needs a mobile number.",
            format!("/tenants#tenant-{tenant_id}"),
            "Change the number",
        );
    }
    match stored_status {
        Status::Draft => b(
            "Draft",
            "This invoice is a draft; issue it before sending.",
            format!("/invoices/{invoice_id}"),
            "Open the invoice",
        ),
        Status::Void => b(
            "Void",
            "This invoice is void.",
            format!("/invoices/{invoice_id}"),
            "Open the invoice",
        ),
        _ => None,
    }
}

/// What the send path needs to know about the user's connection, without secrets.
pub struct ConnectionInfo {
    pub sandbox: bool,
    pub template: Option<(String, String)>,
    pub webhooks_seen: bool,
}

pub async fn connection_info(db: &Db, user_id: i64) -> Result<Option<ConnectionInfo>, AppError> {
    let row = sqlx::query(
        "SELECT mode, invoice_template_name, invoice_template_language, webhook_last_event_at \
         FROM whatsapp_connections WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let name: Option<String> = r.try_get("invoice_template_name")?;
    let lang: Option<String> = r.try_get("invoice_template_language")?;
    Ok(Some(ConnectionInfo {
        sandbox: r.try_get::<String, _>("mode")? == "sandbox",
        template: name.zip(lang),
        webhooks_seen: r
            .try_get::<Option<i64>, _>("webhook_last_event_at")?
            .is_some(),
    }))
}

/// Which rows of the invoices table cannot be sent, and why (one query for the page).
pub async fn blockers(
    db: &Db,
    user_id: i64,
    rows: &[(i64, Status, i64, Option<String>, bool)],
) -> Result<HashMap<i64, Blocker>, AppError> {
    let conn = connection_info(db, user_id).await?;
    Ok(rows
        .iter()
        .filter_map(|(id, status, tenant, phone, mobile)| {
            blocker(
                conn.as_ref(),
                *status,
                phone.as_deref(),
                *mobile,
                *tenant,
                *id,
            )
            .map(|b| (*id, b))
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

struct InvoiceFacts {
    number: String,
    stored_status: Status,
    tenant_id: i64,
    tenant_name: String,
    phone: Option<String>,
    is_mobile: bool,
    last_inbound_at: Option<i64>,
    amount: String,
    due_date: String,
    business: String,
}

async fn invoice_facts(db: &Db, user_id: i64, invoice_id: i64) -> Result<InvoiceFacts, AppError> {
    let r = sqlx::query(
        "SELECT i.number, i.status, i.due_date, i.total_minor, i.currency, t.id AS tenant_id, t.name, \
         t.phone_e164, t.phone_is_mobile, t.last_inbound_at, u.business_name \
         FROM invoices i JOIN tenants t ON t.id = i.tenant_id JOIN users u ON u.id = i.user_id \
         WHERE i.id = $1 AND i.user_id = $2",
    )
    .bind(invoice_id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let currency: String = r.try_get("currency")?;
    Ok(InvoiceFacts {
        number: r.try_get("number")?,
        stored_status: Status::parse(&r.try_get::<String, _>("status")?).unwrap_or(Status::Draft),
        tenant_id: r.try_get("tenant_id")?,
        tenant_name: r.try_get("name")?,
        phone: r.try_get("phone_e164")?,
        is_mobile: r.try_get::<i64, _>("phone_is_mobile")? == 1,
        last_inbound_at: r.try_get("last_inbound_at")?,
        amount: money::format(
            money::from_minor(r.try_get("total_minor")?, &currency),
            &currency,
        ),
        due_date: r.try_get("due_date")?,
        business: r.try_get("business_name")?,
    })
}

impl InvoiceFacts {
    fn window_open(&self, now: i64) -> bool {
        self.last_inbound_at
            .is_some_and(|at| now - at < WINDOW_SECS)
    }

    fn caption(&self) -> String {
        format!(
            "Invoice {} from {} for {}, due {}. The PDF is attached.",
            self.number,
            self.business,
            self.amount,
            human_date(&self.due_date)
        )
    }

    fn template_params(&self) -> Vec<String> {
        vec![
            self.tenant_name.clone(),
            self.number.clone(),
            self.amount.clone(),
            human_date(&self.due_date),
        ]
    }
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

async fn chosen_template_body(
    db: &Db,
    user_id: i64,
    template: &(String, String),
) -> Result<Option<(String, String)>, AppError> {
    let row = sqlx::query(
        "SELECT status, body_text FROM whatsapp_templates WHERE user_id = $1 AND name = $2 AND language = $3",
    )
    .bind(user_id)
    .bind(&template.0)
    .bind(&template.1)
    .fetch_optional(&db.pool)
    .await?;
    Ok(match row {
        Some(r) => Some((r.try_get("status")?, r.try_get("body_text")?)),
        None => None,
    })
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
        f.phone.as_deref(),
        f.is_mobile,
        f.tenant_id,
        invoice_id,
    );
    let document = f.window_open(now);
    let (message, template, billing) = if document {
        (
            f.caption(),
            None,
            "Service message: sent inside the 24-hour window, which Meta has not charged for (providers report that since 1 October 2026 only the first 1,000 a month per number are free; see Help → Important notes).".to_string(),
        )
    } else {
        let chosen = conn.as_ref().and_then(|c| c.template.clone());
        let body = match &chosen {
            Some(t) => chosen_template_body(db, user_id, t).await?,
            None => None,
        };
        let text = match (&chosen, &body) {
            (Some(_), Some((status, body))) if status == "APPROVED" => {
                fill_template(body, &f.template_params())
            }
            (Some((name, _)), Some((status, _))) => {
                if blocker.is_none() {
                    blocker = Some(Blocker {
                        short: "Template pending".into(),
                        reason: format!("The invoice template \"{name}\" is {}; Meta must approve it before it can be sent.", status.to_lowercase()),
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
            "Billed by Meta: a utility template outside the 24-hour window is charged per delivered message, at the rate for the tenant's country (per-message pricing since 1 July 2025). If the tenant writes to you first, the PDF goes as a service message instead.".to_string(),
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
        recipient: f.phone.as_deref().map(international),
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
        f.phone.as_deref(),
        f.is_mobile,
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
    let recipient = f.phone.clone().unwrap_or_default();
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
pub async fn history(db: &Db, user_id: i64, invoice_id: i64) -> Result<Vec<SendView>, AppError> {
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
         s.read_at, s.failed_at FROM whatsapp_sends s WHERE s.user_id = $1 AND s.invoice_id = $2 ORDER BY s.id DESC LIMIT 20",
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
            (Some(title), "failed") => Some(stored_problem(
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
            recipient: international(&r.try_get::<String, _>("recipient")?),
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

/// Rebuilds the troubleshooting entry for a stored failure: Meta's entry for its code, else
/// the app's own title and explanation.
fn stored_problem(
    title: &str,
    code: Option<i64>,
    detail: Option<String>,
    anchor: Option<String>,
) -> crate::error::WhatsAppProblem {
    match code {
        Some(c) => whatsapp::problem_for_code(c, detail),
        None => crate::error::WhatsAppProblem {
            title: title.to_string(),
            explanation: detail.unwrap_or_default(),
            steps: Vec::new(),
            code: None,
            provider_message: None,
            trace_id: None,
            anchor: anchor.unwrap_or_else(|| "other-errors".into()),
        },
    }
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

/// Sandbox connections only: the tenant "writes" to the business number.
pub async fn sandbox_reply(
    db: &Db,
    wa: &WhatsAppService,
    user_id: i64,
    tenant_id: i64,
) -> Result<(), AppError> {
    let stored = whatsapp::load(db, wa, user_id)
        .await?
        .filter(|s| s.mode == Mode::Sandbox)
        .ok_or_else(|| {
            AppError::invalid("form", "Replies can only be simulated with the sandbox.")
        })?;
    let rt = wa
        .sandbox
        .as_ref()
        .ok_or_else(|| AppError::invalid("form", "The sandbox is turned off on this server."))?;
    let phone: Option<String> =
        sqlx::query_scalar("SELECT phone_e164 FROM tenants WHERE id = $1 AND user_id = $2")
            .bind(tenant_id)
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?
            .ok_or(AppError::NotFound)?;
    let phone =
        phone.ok_or_else(|| AppError::invalid("form", "The tenant has no phone number."))?;
    rt.sandbox.simulate_inbound(
        &stored.creds.phone_number_id,
        &phone,
        "Hello, thanks for the reminder. (Simulated by the sandbox.)",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_tags_round_trip() {
        assert_eq!(parse_callback(&callback_tag(42, 3)), Some((42, 3)));
        assert_eq!(parse_callback("inv:1"), None);
        assert_eq!(parse_callback("axis:x:1"), None);
    }

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

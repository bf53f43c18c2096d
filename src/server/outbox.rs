//! The WhatsApp outbox: a send is a row in `whatsapp_sends`, queued by a click and carried out by
//! a worker, never inside the request. The row survives crashes and restarts; on PostgreSQL
//! several instances claim rows with `FOR UPDATE SKIP LOCKED`, so no two work on the same send.
//!
//! A send goes `queued → sending → accepted` when Meta takes the message, then `sent →
//! delivered → read` (or `failed`) as status webhooks arrive; `state_rank` only ever grows, so
//! duplicated and reordered webhooks leave the right final state. A call whose outcome is unknown
//! (a time-out after the request left) parks the send as `unknown`: every message carries
//! `biz_opaque_callback_data` naming the send and attempt, so a status webhook for it settles the
//! question. Only when none has come after `reconcile`, and webhooks are known to reach this
//! connection, is the message sent again.

use super::{
    db::{self, Backend, Db},
    invoices,
    whatsapp::{self, Mode, WhatsAppService},
    AppState,
};
use crate::{
    error::AppError,
    invoices::{money, types::Status},
    whatsapp::sending::*,
};
use parking_lot::Mutex;
use rand::Rng;
use sqlx::Row;
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::{Notify, Semaphore};
use whatsapp_cloud::{types::Outgoing, ErrorKind, GraphError, Retry};

pub use super::config::OutboxSettings;

/// States and their ranks. Webhooks move a send only to a higher rank.
pub const RANKS: &[(&str, i64)] = &[
    ("queued", 0),
    ("sending", 1),
    ("unknown", 1),
    ("accepted", 2),
    ("sent", 3),
    ("delivered", 4),
    ("read", 5),
    ("failed", 6),
];

pub fn rank(state: &str) -> Option<i64> {
    RANKS.iter().find(|(s, _)| *s == state).map(|(_, r)| *r)
}

/// The four body variables of an invoice template: tenant, number, amount, due date.
pub const TEMPLATE_PARAMS: usize = 4;

/// The 24-hour customer service window.
pub const WINDOW_SECS: i64 = 24 * 3600;

/// The callback tag Meta echoes in status webhooks: which send, which attempt.
pub fn callback_tag(send_id: i64, attempt: i64) -> String {
    format!("axis:{send_id}:{attempt}")
}

pub fn parse_callback(tag: &str) -> Option<(i64, i64)> {
    let rest = tag.strip_prefix("axis:")?;
    let (send, attempt) = rest.split_once(':')?;
    Some((send.parse().ok()?, attempt.parse().ok()?))
}

/// Delay before retry number `attempt` (1-based): exponential with ±50% jitter, capped at
/// 15 minutes; the pair limit (131056) waits at least the pair interval, growing 4× a time.
pub fn retry_delay(
    retry: Retry,
    attempt: i64,
    base: Duration,
    pair_interval: Duration,
    jitter: f64,
) -> Duration {
    let cap = Duration::from_secs(15 * 60);
    let n = attempt.clamp(1, 20) as u32;
    let raw = match retry {
        Retry::PairBackoff => pair_interval
            .max(Duration::from_secs(1))
            .saturating_mul(4u32.saturating_pow(n - 1)),
        _ => base.saturating_mul(2u32.saturating_pow(n - 1)),
    };
    raw.min(cap).mul_f64(jitter.clamp(0.5, 1.5))
}

/// Spaces messages per phone number (throughput) and per recipient (pair limit) inside this
/// instance. Several instances each pace themselves; Meta's 130429 and 131056 are retried.
#[derive(Default)]
struct Pacer {
    next_slot: HashMap<String, Instant>,
    pair_last: HashMap<(String, String), Instant>,
}

pub struct Outbox {
    pub settings: OutboxSettings,
    notify: Notify,
    pacer: Mutex<Pacer>,
    /// Names this instance's claims (visible in `locked_by`).
    pub instance: String,
}

impl Outbox {
    pub fn new(settings: OutboxSettings) -> Arc<Self> {
        Arc::new(Outbox {
            settings,
            notify: Notify::new(),
            pacer: Mutex::new(Pacer::default()),
            instance: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        })
    }

    /// Wakes the worker: something was queued.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Time between two messages of one number: the throughput with 3% headroom, so network
    /// jitter cannot push one second over Meta's limit.
    fn slot_interval(&self) -> Duration {
        Duration::from_secs_f64(1.03 / f64::from(self.settings.throughput_per_sec.max(1)))
    }

    /// Reserves the next free slot for `pnid` and returns when it begins.
    fn reserve_slot(&self, pnid: &str) -> Instant {
        let interval = self.slot_interval();
        let mut p = self.pacer.lock();
        let now = Instant::now();
        let slot = p
            .next_slot
            .get(pnid)
            .copied()
            .filter(|t| *t > now)
            .unwrap_or(now);
        p.next_slot.insert(pnid.to_string(), slot + interval);
        slot
    }

    /// Ok when a message to `to` may go now (and records it), else how long to wait.
    fn pair_ready(&self, pnid: &str, to: &str) -> Result<(), Duration> {
        let gap = self.settings.pair_interval;
        let mut p = self.pacer.lock();
        let now = Instant::now();
        let key = (pnid.to_string(), to.to_string());
        if let Some(last) = p.pair_last.get(&key) {
            let since = now.duration_since(*last);
            if since < gap {
                return Err(gap - since);
            }
        }
        p.pair_last.insert(key, now);
        if p.pair_last.len() > 50_000 {
            p.pair_last.retain(|_, t| now.duration_since(*t) < gap);
        }
        Ok(())
    }
}

// ---- what the pages ask -------------------------------------------------------------------------

fn badge_of(r: &sqlx::any::AnyRow) -> Result<SendBadge, sqlx::Error> {
    Ok(SendBadge {
        send_id: r.try_get("id")?,
        state: r.try_get("state")?,
        kind: r.try_get("kind")?,
        reason: r.try_get("error_title")?,
        anchor: r.try_get("error_anchor")?,
        retrying: r.try_get::<i64, _>("retrying")? == 1,
        updated_at: r.try_get("updated_at")?,
    })
}

const BADGE_COLUMNS: &str =
    "s.id, s.invoice_id, s.state, s.kind, s.error_title, s.error_anchor, s.retrying, s.updated_at";

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
    let ids: Vec<String> = invoice_ids
        .iter()
        .take(200)
        .map(|i| i.to_string())
        .collect();
    // The ids are integers the server parsed: safe to inline, and one statement serves any count.
    let sql = format!(
        "SELECT {BADGE_COLUMNS} FROM whatsapp_sends s WHERE s.id IN \
         (SELECT MAX(id) FROM whatsapp_sends WHERE user_id = $1 AND invoice_id IN ({}) GROUP BY invoice_id)",
        ids.join(",")
    );
    for r in sqlx::query(&sql).bind(user_id).fetch_all(&db.pool).await? {
        out.insert(r.try_get::<i64, _>("invoice_id")?, badge_of(&r)?);
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
    let needs_again = latest.as_ref().is_some_and(|b| b.state != "failed");
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
        if latest.state != "failed" && !again {
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
            let sent_recently = b.state != "failed" && now - b.updated_at < WINDOW_SECS;
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
         s.recipient, s.created_at, s.wamid, s.error_code, s.error_detail, s.accepted_at, s.sent_at, s.delivered_at, \
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
            "SELECT number, kind, at, outcome, wamid, error_code, error_text, fbtrace_id FROM whatsapp_attempts \
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
                wamid: a.try_get("wamid")?,
                error: match (code, text) {
                    (Some(c), Some(t)) => Some(format!("{t} (error {c})")),
                    (None, Some(t)) => Some(t),
                    (Some(c), None) => Some(format!("error {c}")),
                    _ => None,
                },
                fbtrace_id: a.try_get("fbtrace_id")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        out.push(SendView {
            recipient: international(&r.try_get::<String, _>("recipient")?),
            created_text: whatsapp::format_time(r.try_get("created_at")?),
            wamid: r.try_get("wamid")?,
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
            meta_message: None,
            fbtrace_id: None,
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

// ---- the worker ---------------------------------------------------------------------------------

/// Runs the worker until the process ends.
pub fn spawn_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let outbox = state.outbox.clone();
        let permits = Arc::new(Semaphore::new(outbox.settings.concurrency));
        tracing::info!(instance = %outbox.instance, concurrency = outbox.settings.concurrency, "WhatsApp outbox worker started");
        loop {
            let free = permits.available_permits();
            let claimed = if free == 0 {
                Vec::new()
            } else {
                match claim(&state, free.min(64)).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox: could not claim sends");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        continue;
                    }
                }
            };
            let got = claimed.len();
            for id in claimed {
                let permit = permits
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("semaphore open");
                let st = state.clone();
                tokio::spawn(async move {
                    if let Err(e) = process(&st, id).await {
                        tracing::warn!(send_id = id, error = %e, "outbox: send processing failed; it will be retried");
                        let _ = release_for_retry(&st, id).await;
                    }
                    drop(permit);
                });
            }
            if got == 0 {
                let wait = next_due_in(&state).await.unwrap_or(Duration::from_secs(1));
                tokio::select! {
                    _ = outbox.notify.notified() => {},
                    _ = tokio::time::sleep(wait.clamp(Duration::from_millis(20), Duration::from_secs(1))) => {},
                }
            } else if permits.available_permits() == 0 {
                // Wait for a free slot before claiming more.
                let _ = permits.acquire().await.map(drop);
            }
        }
    })
}

async fn next_due_in(state: &AppState) -> Option<Duration> {
    let next: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(next_attempt_at) FROM whatsapp_sends WHERE state IN ('queued', 'unknown')",
    )
    .fetch_one(&state.db.pool)
    .await
    .ok()?;
    let secs = next? - db::now();
    Some(Duration::from_secs(secs.max(0) as u64))
}

/// One pass for tests and tools: reaps, claims and processes everything due now.
pub async fn run_due(state: &AppState) -> Result<usize, AppError> {
    let mut total = 0;
    loop {
        let ids = claim(state, 64).await?;
        if ids.is_empty() {
            return Ok(total);
        }
        total += ids.len();
        let mut set = tokio::task::JoinSet::new();
        for id in ids {
            let st = state.clone();
            set.spawn(async move { process(&st, id).await });
        }
        while let Some(r) = set.join_next().await {
            r.map_err(AppError::internal)??;
        }
    }
}

/// Takes over sends whose worker vanished, settles unknown outcomes, and claims up to `limit`
/// due sends for this instance.
async fn claim(state: &AppState, limit: usize) -> Result<Vec<i64>, AppError> {
    let db = &state.db;
    let s = &state.outbox.settings;
    let now = db::now();
    // A worker died while sending. If the /messages call had started, only a webhook can say
    // whether Meta took it; otherwise it is simply queued again.
    sqlx::query(
        "UPDATE whatsapp_sends SET \
           state = CASE WHEN in_flight = 1 THEN 'unknown' ELSE 'queued' END, \
           state_rank = CASE WHEN in_flight = 1 THEN 1 ELSE 0 END, \
           next_attempt_at = CASE WHEN in_flight = 1 THEN $1 ELSE $2 END, \
           locked_by = NULL, locked_until = NULL, updated_at = $2 \
         WHERE state = 'sending' AND locked_until < $2",
    )
    .bind(now + s.reconcile.as_secs() as i64)
    .bind(now)
    .execute(&db.pool)
    .await?;
    // No webhook came for an unknown outcome. Where webhooks are known to arrive, silence means
    // Meta never took the message: send it again. Elsewhere, sending again could duplicate it.
    sqlx::query(
        "UPDATE whatsapp_sends SET state = 'queued', state_rank = 0, in_flight = 0, next_attempt_at = $1, \
           retrying = 1, error_title = 'No answer from WhatsApp', error_anchor = 'could-not-reach-whatsapp', updated_at = $1 \
         WHERE state = 'unknown' AND next_attempt_at <= $1 AND wamid IS NULL AND user_id IN \
           (SELECT user_id FROM whatsapp_connections WHERE webhook_last_event_at IS NOT NULL)",
    )
    .bind(now)
    .execute(&db.pool)
    .await?;
    sqlx::query(
        "UPDATE whatsapp_sends SET state = 'failed', state_rank = 6, in_flight = 0, failed_at = $1, retrying = 0, \
           error_title = 'Outcome unknown', error_anchor = 'outcome-unknown', \
           error_detail = 'WhatsApp did not answer in time, and no webhook has reached this connection, so Axis CRM cannot tell whether the message arrived. Check with the tenant or in WhatsApp Manager, then use Send again if it did not.', \
           updated_at = $1 \
         WHERE state = 'unknown' AND next_attempt_at <= $1 AND wamid IS NULL",
    )
    .bind(now)
    .execute(&db.pool)
    .await?;
    let set = "state = 'sending', state_rank = 1, locked_by = $1, locked_until = $2, \
               attempts = attempts + 1, in_flight = 0, updated_at = $3";
    let pick = format!(
        "SELECT id FROM whatsapp_sends WHERE state = 'queued' AND next_attempt_at <= $3 \
         ORDER BY next_attempt_at, id LIMIT {limit}"
    );
    let sql = if db.backend == Backend::Postgres {
        // MATERIALIZED: the rows are picked (and locked) once. As a plain `IN (…)` sub-query
        // PostgreSQL may re-run it per row and claim far more than `limit`.
        format!(
            "WITH picked AS MATERIALIZED ({pick} FOR UPDATE SKIP LOCKED) \
             UPDATE whatsapp_sends s SET {set} FROM picked WHERE s.id = picked.id AND s.state = 'queued' RETURNING s.id"
        )
    } else {
        // SQLite has one writer at a time; the sub-query's list is computed once.
        format!("UPDATE whatsapp_sends SET {set} WHERE id IN ({pick}) AND state = 'queued' RETURNING id")
    };
    let ids = sqlx::query_scalar::<_, i64>(&sql)
        .bind(&state.outbox.instance)
        .bind(now + s.lease.as_secs() as i64)
        .bind(now)
        .fetch_all(&db.pool)
        .await?;
    Ok(ids)
}

struct Job {
    id: i64,
    user_id: i64,
    invoice_id: i64,
    recipient: String,
    force_template: bool,
    attempts: i64,
    media_id: Option<String>,
    media_uploaded_at: Option<i64>,
    phone_number_id: Option<String>,
}

async fn load_job(db: &Db, id: i64, instance: &str) -> Result<Option<Job>, AppError> {
    let Some(r) = sqlx::query(
        "SELECT id, user_id, invoice_id, recipient, force_template, attempts, media_id, media_uploaded_at, \
         phone_number_id FROM whatsapp_sends WHERE id = $1 AND state = 'sending' AND locked_by = $2",
    )
    .bind(id)
    .bind(instance)
    .fetch_optional(&db.pool)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(Job {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        invoice_id: r.try_get("invoice_id")?,
        recipient: r.try_get("recipient")?,
        force_template: r.try_get::<i64, _>("force_template")? == 1,
        attempts: r.try_get("attempts")?,
        media_id: r.try_get("media_id")?,
        media_uploaded_at: r.try_get("media_uploaded_at")?,
        phone_number_id: r.try_get("phone_number_id")?,
    }))
}

/// How one failure is written down.
struct Failure {
    title: String,
    anchor: String,
    code: Option<i64>,
    detail: Option<String>,
    fbtrace_id: Option<String>,
}

impl Failure {
    fn from_graph(e: &GraphError, pnid: &str) -> Self {
        let p = whatsapp::problem(e, pnid);
        Failure {
            title: p.title,
            anchor: p.anchor,
            code: p.code,
            detail: p.meta_message.or(Some(p.explanation)),
            fbtrace_id: p.fbtrace_id,
        }
    }

    fn plain(title: &str, anchor: &str, detail: &str) -> Self {
        Failure {
            title: title.into(),
            anchor: anchor.into(),
            code: None,
            detail: Some(detail.into()),
            fbtrace_id: None,
        }
    }
}

async fn process(state: &AppState, id: i64) -> Result<(), AppError> {
    let db = &state.db;
    let outbox = &state.outbox;
    let Some(job) = load_job(db, id, &outbox.instance).await? else {
        return Ok(()); // someone else settled it
    };
    let Some(stored) = whatsapp::load(db, &state.whatsapp, job.user_id).await? else {
        return fail(
            state,
            &job,
            "-",
            Failure::plain(
                "WhatsApp is not connected",
                "not-connected",
                "Connect WhatsApp under Settings → WhatsApp Integration, then send again.",
            ),
        )
        .await;
    };
    let pnid = stored.creds.phone_number_id.clone();
    let facts = invoice_facts(db, job.user_id, job.invoice_id).await?;
    let now = db::now();
    let template = if job.force_template || !facts.window_open(now) {
        let conn = connection_info(db, job.user_id).await?;
        let chosen = conn.and_then(|c| c.template);
        let approved = match &chosen {
            Some(t) => chosen_template_body(db, job.user_id, t)
                .await?
                .is_some_and(|(status, _)| status == "APPROVED"),
            None => false,
        };
        match chosen.filter(|_| approved) {
            Some(t) => Some(t),
            None => {
                return fail(state, &job, "template", Failure::plain(
                    "No approved invoice template",
                    "template-problems",
                    "The tenant has not written in the last 24 hours, so WhatsApp only allows an approved template. Create or choose the invoice template under Settings → WhatsApp Integration → Message templates.",
                ))
                .await;
            }
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
    if let Err(wait) = outbox.pair_ready(&pnid, &job.recipient) {
        sqlx::query(
            "UPDATE whatsapp_sends SET state = 'queued', state_rank = 0, attempts = attempts - 1, locked_by = NULL, \
             locked_until = NULL, next_attempt_at = $1, updated_at = $2 WHERE id = $3 AND state = 'sending' AND attempts = $4",
        )
        .bind(now + wait.as_secs().max(1) as i64)
        .bind(now)
        .bind(job.id)
        .bind(job.attempts)
        .execute(&db.pool)
        .await?;
        return Ok(());
    }

    let client = state.whatsapp.client(stored.mode)?;
    let token = &stored.creds.access_token;
    let secret = stored.creds.app.as_ref().map(|a| &a.app_secret);
    let filename = format!("{}.pdf", facts.number);

    // Media ids live 30 days at Meta; re-upload after 29, or when the number changed.
    let fresh_media = job
        .media_id
        .clone()
        .filter(|_| job.phone_number_id.as_deref() == Some(pnid.as_str()))
        .filter(|_| job.media_uploaded_at.is_some_and(|t| now - t < 29 * 86_400));
    let media_id = match fresh_media {
        Some(m) => m,
        None => {
            let (_, pdf) = invoices::pdf(db, job.user_id, job.invoice_id).await?;
            match client
                .upload_pdf(&pnid, token, secret, &filename, pdf)
                .await
            {
                Ok(m) => {
                    sqlx::query(
                        "UPDATE whatsapp_sends SET media_id = $1, media_uploaded_at = $2, phone_number_id = $3 WHERE id = $4",
                    )
                    .bind(&m.id)
                    .bind(now)
                    .bind(&pnid)
                    .bind(job.id)
                    .execute(&db.pool)
                    .await?;
                    m.id
                }
                Err(e) => return graph_failed(state, &job, &pnid, "upload", e, false).await,
            }
        }
    };

    let message = match &template {
        Some((name, language)) => Outgoing::Template {
            name: name.clone(),
            language: language.clone(),
            components: vec![
                serde_json::json!({"type": "header", "parameters": [
                    {"type": "document", "document": {"id": media_id, "filename": filename}}]}),
                serde_json::json!({"type": "body", "parameters": facts.template_params().into_iter()
                    .map(|p| serde_json::json!({"type": "text", "text": p})).collect::<Vec<_>>()}),
            ],
        },
        None => Outgoing::Document {
            media_id: media_id.clone(),
            filename: filename.clone(),
            caption: Some(facts.caption()),
        },
    };

    // Throughput: wait for this number's next slot. A wait near the lease holds the claim for
    // its length first: a lease that ran out while the send waits would hand it to another claim,
    // which would reserve a later slot, whose wait outlives its lease in turn, and so on for ever.
    let slot = outbox.reserve_slot(&pnid);
    let wait = slot.saturating_duration_since(Instant::now());
    if wait >= outbox.settings.lease / 2 {
        let held = sqlx::query(
            "UPDATE whatsapp_sends SET locked_until = $1 WHERE id = $2 AND state = 'sending' AND locked_by = $3 AND attempts = $4",
        )
        .bind(db::now() + (wait + outbox.settings.lease).as_secs() as i64 + 1)
        .bind(job.id)
        .bind(&outbox.instance)
        .bind(job.attempts)
        .execute(&db.pool)
        .await?
        .rows_affected();
        if held == 0 {
            return Ok(()); // the claim was lost meanwhile: its new holder sends
        }
    }
    tokio::time::sleep_until(slot.into()).await;

    // From here on Meta may take the message even if we never hear back.
    let marked = sqlx::query(
        "UPDATE whatsapp_sends SET in_flight = 1, kind = $1, phone_number_id = $2, updated_at = $3, locked_until = $6 \
         WHERE id = $4 AND state = 'sending' AND locked_by = $5 AND attempts = $7",
    )
    .bind(kind)
    .bind(&pnid)
    .bind(db::now())
    .bind(job.id)
    .bind(&outbox.instance)
    .bind(db::now() + outbox.settings.lease.as_secs() as i64)
    .bind(job.attempts)
    .execute(&db.pool)
    .await?
    .rows_affected();
    if marked == 0 {
        return Ok(()); // the lease was lost; another worker owns it now
    }
    let callback = callback_tag(job.id, job.attempts);
    match client
        .send_message(
            &pnid,
            token,
            secret,
            &job.recipient,
            &message,
            Some(&callback),
        )
        .await
    {
        Ok(resp) => {
            let wamid = resp.wamid().map(str::to_string);
            let wa_id = resp.wa_id().map(|w| w.trim().to_string());
            accepted(state, &job, kind, wamid, wa_id).await
        }
        Err(e) => graph_failed(state, &job, &pnid, kind, e, true).await,
    }
}

async fn accepted(
    state: &AppState,
    job: &Job,
    kind: &str,
    wamid: Option<String>,
    wa_id: Option<String>,
) -> Result<(), AppError> {
    let db = &state.db;
    let now = db::now();
    let mut tx = db.pool.begin().await?;
    // A webhook may have beaten the answer here (it adopts the wamid by callback): then the send
    // is already further along and only the missing facts are filled in.
    sqlx::query(
        "UPDATE whatsapp_sends SET \
           state = CASE WHEN state_rank < 2 THEN 'accepted' ELSE state END, \
           state_rank = CASE WHEN state_rank < 2 THEN 2 ELSE state_rank END, \
           wamid = COALESCE(wamid, $1), wa_id = $2, accepted_at = COALESCE(accepted_at, $3), in_flight = 0, \
           locked_by = NULL, locked_until = NULL, retrying = 0, error_code = NULL, error_title = NULL, \
           error_detail = NULL, error_anchor = NULL, updated_at = $3 \
         WHERE id = $4 AND attempts = $5",
    )
    .bind(&wamid)
    .bind(&wa_id)
    .bind(now)
    .bind(job.id)
    .bind(job.attempts)
    .execute(&mut *tx)
    .await?;
    if let Some(w) = &wa_id {
        sqlx::query("UPDATE tenants SET wa_id = $1 WHERE id = (SELECT tenant_id FROM whatsapp_sends WHERE id = $2)")
            .bind(w)
            .bind(job.id)
            .execute(&mut *tx)
            .await?;
    }
    record_attempt(&mut tx, job, kind, "accepted", wamid.as_deref(), None).await?;
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
    wamid: Option<&str>,
    failure: Option<&Failure>,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO whatsapp_attempts (send_id, number, kind, at, outcome, wamid, error_code, error_text, fbtrace_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(job.id)
    .bind(job.attempts)
    .bind(kind)
    .bind(db::now())
    .bind(outcome)
    .bind(wamid)
    .bind(failure.and_then(|f| f.code))
    .bind(failure.map(|f| f.title.clone()))
    .bind(failure.and_then(|f| f.fbtrace_id.clone()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A Graph call failed. `sent` says whether the request may have reached Meta's /messages.
async fn graph_failed(
    state: &AppState,
    job: &Job,
    pnid: &str,
    kind: &str,
    e: GraphError,
    sent: bool,
) -> Result<(), AppError> {
    let s = &state.outbox.settings;
    let failure = Failure::from_graph(&e, pnid);
    tracing::warn!(send_id = job.id, attempt = job.attempts, kind, error_kind = %e.kind(), code = ?failure.code,
        fbtrace_id = ?failure.fbtrace_id, "WhatsApp call failed");
    let now = db::now();
    // A time-out or a dropped connection after the request left: Meta may have taken it.
    if sent && matches!(e, GraphError::Timeout | GraphError::Network(_)) {
        let until = now + s.reconcile.as_secs() as i64;
        return settle(
            state,
            job,
            kind,
            "unknown",
            &failure,
            "state = 'unknown', state_rank = 1, retrying = 1, next_attempt_at = $8",
            until,
        )
        .await;
    }
    // Meta says the window is closed: send the template instead, at once.
    if e.kind() == ErrorKind::ReEngagement && kind == "document" {
        settle(state, job, kind, "fallback", &failure,
            "state = 'queued', state_rank = 0, force_template = 1, in_flight = 0, retrying = 1, next_attempt_at = $8",
            now).await?;
        state.outbox.wake();
        return Ok(());
    }
    let retry = e.retry();
    if retry != Retry::No && job.attempts < s.max_attempts {
        let jitter = rand::thread_rng().gen_range(0.5..1.5);
        let delay = retry_delay(retry, job.attempts, s.retry_base, s.pair_interval, jitter);
        let when = now + delay.as_secs() as i64 + i64::from(delay.subsec_millis() > 0);
        return settle(
            state,
            job,
            kind,
            "retry",
            &failure,
            "state = 'queued', state_rank = 0, in_flight = 0, retrying = 1, next_attempt_at = $8",
            when,
        )
        .await;
    }
    fail(state, job, kind, failure).await
}

async fn fail(state: &AppState, job: &Job, kind: &str, f: Failure) -> Result<(), AppError> {
    settle(
        state,
        job,
        kind,
        "failed",
        &f,
        "state = 'failed', state_rank = 6, in_flight = 0, retrying = 0, failed_at = $8",
        db::now(),
    )
    .await?;
    tracing::info!(send_id = job.id, title = %f.title, "WhatsApp send failed");
    Ok(())
}

/// Ends this attempt of a claimed send with a failure: `set` moves the row on (its one time
/// parameter is `$8` = `at`), the failure is recorded on the row and in the attempt log, and the
/// lock is released. Only the attempt that holds the row can settle it.
async fn settle(
    state: &AppState,
    job: &Job,
    kind: &str,
    outcome: &str,
    f: &Failure,
    set: &str,
    at: i64,
) -> Result<(), AppError> {
    let mut tx = state.db.pool.begin().await?;
    sqlx::query(&format!(
        "UPDATE whatsapp_sends SET {set}, error_code = $1, error_title = $2, error_detail = $3, error_anchor = $4, \
         updated_at = $5, locked_by = NULL, locked_until = NULL WHERE id = $6 AND state = 'sending' AND attempts = $7"
    ))
    .bind(f.code)
    .bind(&f.title)
    .bind(&f.detail)
    .bind(&f.anchor)
    .bind(db::now())
    .bind(job.id)
    .bind(job.attempts)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    record_attempt(&mut tx, job, kind, outcome, None, Some(f)).await?;
    tx.commit().await?;
    Ok(())
}

/// After an internal error: back to the queue in 30 s (or to reconciliation if the message
/// may have left).
async fn release_for_retry(state: &AppState, id: i64) -> Result<(), AppError> {
    let now = db::now();
    sqlx::query(
        "UPDATE whatsapp_sends SET state = CASE WHEN in_flight = 1 THEN 'unknown' ELSE 'queued' END, \
         state_rank = CASE WHEN in_flight = 1 THEN 1 ELSE 0 END, next_attempt_at = $1, locked_by = NULL, \
         locked_until = NULL, retrying = 1, error_title = 'Internal error', updated_at = $2 \
         WHERE id = $3 AND state = 'sending'",
    )
    .bind(now + 30)
    .bind(now)
    .bind(id)
    .execute(&state.db.pool)
    .await?;
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
    fn ranks_only_grow_along_the_lifecycle() {
        let order = [
            "queued",
            "sending",
            "accepted",
            "sent",
            "delivered",
            "read",
            "failed",
        ];
        for w in order.windows(2) {
            assert!(rank(w[0]) < rank(w[1]), "{} before {}", w[0], w[1]);
        }
        assert_eq!(rank("unknown"), rank("sending"));
        assert_eq!(rank("played"), None);
    }

    #[test]
    fn retry_delays_grow_and_are_capped() {
        let base = Duration::from_secs(2);
        let pair = Duration::from_secs(6);
        let d = |n| retry_delay(Retry::Backoff, n, base, pair, 1.0);
        assert_eq!(d(1), Duration::from_secs(2));
        assert_eq!(d(2), Duration::from_secs(4));
        assert_eq!(d(5), Duration::from_secs(32));
        assert_eq!(d(30), Duration::from_secs(900));
        let p = |n| retry_delay(Retry::PairBackoff, n, base, pair, 1.0);
        assert_eq!(p(1), Duration::from_secs(6));
        assert_eq!(p(2), Duration::from_secs(24));
        assert!(retry_delay(Retry::Backoff, 1, base, pair, 0.5) == Duration::from_secs(1));
        assert!(retry_delay(Retry::Backoff, 1, base, pair, 9.0) == Duration::from_secs(3));
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

    #[test]
    fn pacer_spaces_messages_and_pairs() {
        let outbox = Outbox::new(OutboxSettings {
            throughput_per_sec: 100,
            pair_interval: Duration::from_secs(6),
            ..Default::default()
        });
        let a = outbox.reserve_slot("p");
        let b = outbox.reserve_slot("p");
        let gap = b.duration_since(a);
        assert!(gap >= Duration::from_millis(10), "{gap:?}");
        // Another number has its own slots.
        let c = outbox.reserve_slot("q");
        assert!(c <= b);
        assert!(outbox.pair_ready("p", "+1").is_ok());
        let wait = outbox.pair_ready("p", "+1").unwrap_err();
        assert!(wait > Duration::from_secs(5));
        assert!(outbox.pair_ready("p", "+2").is_ok());
    }
}

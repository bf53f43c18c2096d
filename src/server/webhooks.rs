//! `/webhooks/whatsapp/{key}`: Meta's calls for one connection. The key in the path picks the
//! connection, so its verify token and app secret are known before anything is parsed.
//!
//! - `GET` is the verification handshake: `hub.mode=subscribe`, the connection's verify token,
//!   and `hub.challenge` echoed back; anything else gets 403.
//! - `POST` must carry `X-Hub-Signature-256` over the raw body with the connection's app secret
//!   (checked in constant time before parsing); a missing or wrong signature gets 401 and changes
//!   nothing. Every entry, change and item of a batch is stored in one transaction, then 200.

use super::{db, outbox, whatsapp::ctx, AppState};
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sqlx::Row;
use std::collections::HashMap;

#[derive(Debug, Deserialize)]
pub struct Envelope {
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
pub struct Entry {
    #[serde(default)]
    pub changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
pub struct Change {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

#[derive(Debug, Deserialize, Default)]
pub struct MessagesValue {
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub statuses: Vec<StatusEvent>,
    #[serde(default)]
    pub messages: Vec<Inbound>,
}

#[derive(Debug, Deserialize, Default)]
pub struct Metadata {
    #[serde(default)]
    pub phone_number_id: String,
}

#[derive(Debug, Deserialize)]
pub struct StatusEvent {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub biz_opaque_callback_data: Option<String>,
    #[serde(default)]
    pub pricing: Option<Pricing>,
    #[serde(default)]
    pub errors: Vec<StatusError>,
}

#[derive(Debug, Deserialize)]
pub struct Pricing {
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub billable: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct StatusError {
    pub code: i64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_data: Option<ErrorData>,
}

#[derive(Debug, Deserialize)]
pub struct ErrorData {
    #[serde(default)]
    pub details: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Inbound {
    pub id: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<TextBody>,
    #[serde(default)]
    pub document: Option<DocumentBody>,
    #[serde(default)]
    pub button: Option<TextBody>,
}

#[derive(Debug, Deserialize)]
pub struct TextBody {
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DocumentBody {
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TemplateStatus {
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub message_template_id: serde_json::Value,
    #[serde(default)]
    pub message_template_name: Option<String>,
    #[serde(default)]
    pub message_template_language: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The connection behind a webhook key.
struct Target {
    user_id: i64,
    phone_number_id: String,
    app_secret: Option<secrecy::SecretString>,
    /// Still sealed: only the verification handshake needs it.
    verify_token_enc: String,
}

async fn target(state: &AppState, key: &str) -> Result<Option<Target>, Response> {
    // Keys are 32 hex characters; anything else cannot match and is not worth a query.
    if key.len() > 64 || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT user_id, phone_number_id, app_secret_enc, verify_token_enc FROM whatsapp_connections WHERE webhook_key = $1",
    )
    .bind(key)
    .fetch_optional(&state.db.pool)
    .await
    .map_err(|e| internal(&e))?;
    let Some(r) = row else { return Ok(None) };
    let user_id: i64 = r.try_get("user_id").map_err(|e| internal(&e))?;
    let secret_enc: Option<String> = r.try_get("app_secret_enc").map_err(|e| internal(&e))?;
    let app_secret = match secret_enc {
        Some(enc) => Some(
            state
                .whatsapp
                .keyring
                .decrypt(&enc, &ctx("app_secret", user_id))
                .map_err(|e| internal(&e))?,
        ),
        None => None,
    };
    Ok(Some(Target {
        user_id,
        phone_number_id: r.try_get("phone_number_id").map_err(|e| internal(&e))?,
        app_secret,
        verify_token_enc: r.try_get("verify_token_enc").map_err(|e| internal(&e))?,
    }))
}

fn internal(e: &dyn std::fmt::Display) -> Response {
    let reference = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    tracing::error!(reference, error = %e, "webhook handling failed");
    // Meta retries a non-2xx delivery, so nothing is lost.
    (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
}

/// `GET /webhooks/whatsapp/{key}`: Meta's verification request.
pub async fn verify(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let t = match target(&state, &key).await {
        Ok(Some(t)) => t,
        Ok(None) => return (StatusCode::FORBIDDEN, "Forbidden").into_response(),
        Err(r) => return r,
    };
    let verify_token = match state
        .whatsapp
        .keyring
        .decrypt(&t.verify_token_enc, &ctx("verify_token", t.user_id))
    {
        Ok(v) => v,
        Err(e) => return internal(&e),
    };
    let mode_ok = q.get("hub.mode").map(String::as_str) == Some("subscribe");
    let token_ok = q.get("hub.verify_token").is_some_and(|given| {
        use subtle::ConstantTimeEq;
        bool::from(
            given
                .as_bytes()
                .ct_eq(verify_token.expose_secret().as_bytes()),
        )
    });
    let Some(challenge) = q.get("hub.challenge").filter(|_| mode_ok && token_ok) else {
        tracing::warn!(user_id = t.user_id, "webhook verification refused");
        return (StatusCode::FORBIDDEN, "Forbidden").into_response();
    };
    if let Err(e) =
        sqlx::query("UPDATE whatsapp_connections SET webhook_verified_at = $1 WHERE user_id = $2")
            .bind(db::now())
            .bind(t.user_id)
            .execute(&state.db.pool)
            .await
    {
        return internal(&e);
    }
    tracing::info!(user_id = t.user_id, "webhook verified by Meta");
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "text/plain")],
        challenge.clone(),
    )
        .into_response()
}

/// `POST /webhooks/whatsapp/{key}`: statuses, inbound messages, template updates.
pub async fn receive(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let t = match target(&state, &key).await {
        Ok(Some(t)) => t,
        Ok(None) => return (StatusCode::NOT_FOUND, "Unknown webhook").into_response(),
        Err(r) => return r,
    };
    let Some(secret) = &t.app_secret else {
        tracing::warn!(
            user_id = t.user_id,
            "webhook refused: the connection has no App Secret to check signatures with"
        );
        return (StatusCode::UNAUTHORIZED, "Signature cannot be checked").into_response();
    };
    let sig = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !whatsapp_cloud::signature::verify(secret.expose_secret().as_bytes(), &body, sig) {
        tracing::warn!(
            user_id = t.user_id,
            "webhook refused: missing or wrong X-Hub-Signature-256"
        );
        return (StatusCode::UNAUTHORIZED, "Bad signature").into_response();
    }
    let envelope: Envelope = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(user_id = t.user_id, error = %e, "webhook body is not Meta's envelope");
            return (StatusCode::BAD_REQUEST, "Not a WhatsApp webhook").into_response();
        }
    };
    match ingest(&state, t.user_id, &t.phone_number_id, &envelope).await {
        Ok(()) => (StatusCode::OK, "OK").into_response(),
        Err(e) => internal(&e),
    }
}

/// Stores every event of a delivery in one transaction.
pub async fn ingest(
    state: &AppState,
    user_id: i64,
    phone_number_id: &str,
    envelope: &Envelope,
) -> Result<(), sqlx::Error> {
    let now = db::now();
    let mut tx = state.db.pool.begin().await?;
    let mut fallback = false;
    if envelope.object == "whatsapp_business_account" || envelope.object.is_empty() {
        for change in envelope.entry.iter().flat_map(|e| &e.changes) {
            match change.field.as_str() {
                "messages" => {
                    let Ok(v) = serde_json::from_value::<MessagesValue>(change.value.clone())
                    else {
                        tracing::warn!(user_id, "webhook change with an unreadable value skipped");
                        continue;
                    };
                    if !v.metadata.phone_number_id.is_empty()
                        && v.metadata.phone_number_id != phone_number_id
                    {
                        tracing::warn!(user_id, "webhook for another phone number skipped");
                        continue;
                    }
                    for s in &v.statuses {
                        fallback |= apply_status(&mut tx, user_id, s, now).await?;
                    }
                    for m in &v.messages {
                        record_inbound(&mut tx, user_id, m, now).await?;
                    }
                }
                "message_template_status_update" => {
                    if let Ok(t) = serde_json::from_value::<TemplateStatus>(change.value.clone()) {
                        template_status(&mut tx, user_id, &t, now).await?;
                    }
                }
                other => tracing::debug!(user_id, field = other, "webhook field ignored"),
            }
        }
    }
    sqlx::query("UPDATE whatsapp_connections SET webhook_last_event_at = $1 WHERE user_id = $2")
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if fallback {
        state.outbox.wake();
    }
    Ok(())
}

/// How far back an event's own time may be: Meta retries a delivery for up to 7 days.
const EVENT_MAX_AGE_SECS: i64 = 30 * 24 * 3600;
/// How far ahead of our clock an event's time may be (clock skew).
const EVENT_MAX_SKEW_SECS: i64 = 300;

/// An event's Unix time as Meta sent it, when it is plausible; otherwise the time it arrived. A
/// timestamp is only the sender's word: one from 1970 or 2999 would misorder ticks, open a
/// 24-hour window that never closes, or end one that is open.
fn unix(ts: &Option<String>, now: i64) -> i64 {
    let Some(raw) = ts.as_deref() else { return now };
    match raw.parse::<i64>() {
        Ok(t) if (now - EVENT_MAX_AGE_SECS..=now + EVENT_MAX_SKEW_SECS).contains(&t) => t,
        _ => {
            tracing::warn!(timestamp = %raw.chars().take(40).collect::<String>(), "webhook event time is implausible; using the time it arrived");
            now
        }
    }
}

/// Applies one status. Returns true when a refused document was queued again as a template.
async fn apply_status(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    s: &StatusEvent,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let Some(rank) = outbox::rank(&s.status).filter(|r| *r >= 3) else {
        return Ok(false); // `played`, `deleted` and the like do not concern invoices
    };
    let at = unix(&s.timestamp, now);
    // A send whose /messages call timed out learns its wamid from the callback tag.
    if let Some((send_id, attempt)) = s
        .biz_opaque_callback_data
        .as_deref()
        .and_then(outbox::parse_callback)
    {
        sqlx::query(
            "UPDATE whatsapp_sends SET wamid = $1, accepted_at = COALESCE(accepted_at, $2) WHERE id = $3 AND user_id = $4 \
             AND attempts = $5 AND wamid IS NULL AND state IN ('sending', 'unknown') \
             AND NOT EXISTS (SELECT 1 FROM whatsapp_sends o WHERE o.wamid = $1)",
        )
        .bind(&s.id)
        .bind(at)
        .bind(send_id)
        .bind(user_id)
        .bind(attempt)
        .execute(&mut **tx)
        .await?;
    }
    let error = s.errors.first();
    if s.status == "failed" && error.is_some_and(|e| e.code == 131047) {
        // The window was closed after all: send the approved template instead.
        let moved = sqlx::query(
            "UPDATE whatsapp_sends SET state = 'queued', state_rank = 0, force_template = 1, wamid = NULL, in_flight = 0, \
             locked_by = NULL, locked_until = NULL, next_attempt_at = $1, retrying = 1, error_code = 131047, \
             error_title = 'Outside the 24-hour window', error_anchor = 'outside-24-hour-window', updated_at = $1 \
             WHERE wamid = $2 AND user_id = $3 AND kind = 'document' AND state_rank < 6",
        )
        .bind(now)
        .bind(&s.id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if moved > 0 {
            sqlx::query(
                "INSERT INTO whatsapp_attempts (send_id, number, kind, at, outcome, wamid, error_code, error_text) \
                 SELECT id, attempts, 'document', $1, 'fallback', $2, 131047, 'Outside the 24-hour window' \
                 FROM whatsapp_sends WHERE id = (SELECT send_id FROM whatsapp_attempts WHERE wamid = $2 LIMIT 1)",
            )
            .bind(now)
            .bind(&s.id)
            .execute(&mut **tx)
            .await?;
            return Ok(true);
        }
    }
    let column = match s.status.as_str() {
        "sent" => "sent_at",
        "delivered" => "delivered_at",
        "read" => "read_at",
        _ => "failed_at",
    };
    let (code, title, detail, anchor) = match error {
        Some(e) => {
            let detail = e
                .error_data
                .as_ref()
                .and_then(|d| d.details.clone())
                .or_else(|| e.title.clone());
            let p = super::whatsapp::problem_for_code(e.code, detail.clone());
            (Some(e.code), Some(p.title), detail, Some(p.anchor))
        }
        None => (None, None, None, None),
    };
    let pricing = s.pricing.as_ref();
    // One statement: the state moves only forward; the time of each status is kept whatever
    // order they came in; pricing and errors are filled once.
    let sql = format!(
        "UPDATE whatsapp_sends SET \
           state = CASE WHEN state_rank < $1 THEN $2 ELSE state END, \
           retrying = CASE WHEN state_rank < $1 THEN 0 ELSE retrying END, \
           error_code = CASE WHEN state_rank < $1 THEN COALESCE($3, error_code) ELSE error_code END, \
           error_title = CASE WHEN state_rank < $1 THEN COALESCE($4, error_title) ELSE error_title END, \
           error_detail = CASE WHEN state_rank < $1 THEN COALESCE($5, error_detail) ELSE error_detail END, \
           error_anchor = CASE WHEN state_rank < $1 THEN COALESCE($6, error_anchor) ELSE error_anchor END, \
           state_rank = CASE WHEN state_rank < $1 THEN $1 ELSE state_rank END, \
           {column} = COALESCE({column}, $7), \
           pricing_category = COALESCE(pricing_category, $8), \
           pricing_type = COALESCE(pricing_type, $9), \
           in_flight = 0, locked_by = NULL, locked_until = NULL, updated_at = $10 \
         WHERE wamid = $11 AND user_id = $12"
    );
    sqlx::query(&sql)
        .bind(rank)
        .bind(&s.status)
        .bind(code)
        .bind(title)
        .bind(detail)
        .bind(anchor)
        .bind(at)
        .bind(pricing.and_then(|p| p.category.clone()))
        .bind(pricing.and_then(|p| {
            p.kind.clone().or_else(|| {
                p.billable
                    .map(|b| if b { "regular" } else { "free" }.into())
            })
        }))
        .bind(now)
        .bind(&s.id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(false)
}

fn inbound_text(m: &Inbound) -> String {
    let text = match m.kind.as_str() {
        "text" => m.text.as_ref().and_then(|t| t.body.clone()),
        "document" => m.document.as_ref().map(|d| {
            format!(
                "[document] {}{}",
                d.filename.clone().unwrap_or_default(),
                d.caption
                    .as_ref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            )
        }),
        "button" => m.button.as_ref().and_then(|b| b.text.clone()),
        _ => None,
    };
    let text = text.unwrap_or_else(|| {
        format!(
            "[{}]",
            if m.kind.is_empty() {
                "message"
            } else {
                &m.kind
            }
        )
    });
    text.chars().take(2000).collect()
}

async fn record_inbound(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    m: &Inbound,
    now: i64,
) -> Result<(), sqlx::Error> {
    let at = unix(&m.timestamp, now);
    let wa_id: Option<String> = m
        .from
        .as_ref()
        .map(|f| f.chars().filter(char::is_ascii_digit).collect())
        .filter(|f: &String| !f.is_empty());
    let tenant_id: Option<i64> = match &wa_id {
        Some(w) => {
            sqlx::query_scalar(
                "SELECT id FROM tenants WHERE user_id = $1 AND (wa_id = $2 OR phone_e164 = $3) ORDER BY id LIMIT 1",
            )
            .bind(user_id)
            .bind(w)
            .bind(format!("+{w}"))
            .fetch_optional(&mut **tx)
            .await?
        }
        None => None,
    };
    let inserted = sqlx::query(
        "INSERT INTO whatsapp_inbound (user_id, tenant_id, wamid, wa_id, kind, body, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, wamid) DO NOTHING",
    )
    .bind(user_id)
    .bind(tenant_id)
    .bind(&m.id)
    .bind(&wa_id)
    .bind(if m.kind.is_empty() {
        "message"
    } else {
        &m.kind
    })
    .bind(inbound_text(m))
    .bind(at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if let (Some(t), Some(w), 1) = (tenant_id, &wa_id, inserted) {
        sqlx::query(
            "UPDATE tenants SET wa_id = COALESCE(wa_id, $1), \
             last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at < $2 THEN $2 ELSE last_inbound_at END \
             WHERE id = $3",
        )
        .bind(w)
        .bind(at)
        .bind(t)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn template_status(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    t: &TemplateStatus,
    now: i64,
) -> Result<(), sqlx::Error> {
    let id = match &t.message_template_id {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let reason = t.reason.clone().filter(|r| r != "NONE");
    sqlx::query(
        "UPDATE whatsapp_templates SET status = $1, reason = $2, updated_at = $3 \
         WHERE user_id = $4 AND (template_id = $5 OR (name = $6 AND language = $7))",
    )
    .bind(t.event.to_ascii_uppercase())
    .bind(reason)
    .bind(now)
    .bind(user_id)
    .bind(id)
    .bind(t.message_template_name.clone().unwrap_or_default())
    .bind(t.message_template_language.clone().unwrap_or_default())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times_are_checked_for_sanity() {
        let now = 1_780_000_000;
        let t = |s: &str| unix(&Some(s.to_string()), now);
        assert_eq!(t("1779999000"), 1_779_999_000, "a recent time is kept");
        assert_eq!(
            t(&(now + 60).to_string()),
            now + 60,
            "a little clock skew is fine"
        );
        for implausible in [
            "0",
            "-1",
            "1",
            "99999999999",
            "9223372036854775807",
            "1e9",
            "soon",
            "",
        ] {
            assert_eq!(t(implausible), now, "{implausible}");
        }
        assert_eq!(
            t(&(now - 31 * 24 * 3600).to_string()),
            now,
            "older than any retry"
        );
        assert_eq!(unix(&None, now), now);
    }

    #[test]
    fn reads_a_batched_envelope() {
        let body = r#"{"object":"whatsapp_business_account","entry":[
          {"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",
             "metadata":{"display_phone_number":"15550001","phone_number_id":"42"},
             "statuses":[{"id":"wamid.A","status":"read","timestamp":"1751371200","recipient_id":"447911",
                          "pricing":{"billable":true,"pricing_model":"PMP","type":"regular","category":"utility"}},
                         {"id":"wamid.B","status":"failed","timestamp":"1751371201","recipient_id":"447911",
                          "errors":[{"code":131026,"title":"Message undeliverable","error_data":{"details":"x"}}]}]}}]},
          {"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"42"},
             "contacts":[{"profile":{"name":"Sheena"},"wa_id":"16505551234"}],
             "messages":[{"from":"16505551234","id":"wamid.IN","timestamp":"1751371300","type":"text","text":{"body":"Hi"}}]}},
             {"field":"message_template_status_update","value":{"event":"APPROVED","message_template_id":123,
               "message_template_name":"axis_invoice","message_template_language":"en","reason":"NONE"}}]}]}"#;
        let e: Envelope = serde_json::from_str(body).unwrap();
        assert_eq!(e.entry.len(), 2);
        let v: MessagesValue = serde_json::from_value(e.entry[0].changes[0].value.clone()).unwrap();
        assert_eq!(v.statuses.len(), 2);
        assert_eq!(v.statuses[1].errors[0].code, 131026);
        assert_eq!(
            v.statuses[0].pricing.as_ref().unwrap().kind.as_deref(),
            Some("regular")
        );
        let m: MessagesValue = serde_json::from_value(e.entry[1].changes[0].value.clone()).unwrap();
        assert_eq!(inbound_text(&m.messages[0]), "Hi");
        let t: TemplateStatus =
            serde_json::from_value(e.entry[1].changes[1].value.clone()).unwrap();
        assert_eq!(t.event, "APPROVED");
    }

    #[test]
    fn describes_inbound_messages_of_every_kind() {
        let m: Inbound = serde_json::from_str(
            r#"{"id":"w","from":"1","type":"document","document":{"filename":"lease.pdf","caption":"signed"}}"#,
        )
        .unwrap();
        assert_eq!(inbound_text(&m), "[document] lease.pdf: signed");
        let m: Inbound = serde_json::from_str(r#"{"id":"w","type":"sticker"}"#).unwrap();
        assert_eq!(inbound_text(&m), "[sticker]");
    }
}

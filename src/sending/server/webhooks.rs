//! Webhooks for one connection. The key in the path picks the connection, so its provider,
//! verify token and signing secret are known before anything is parsed.
//!
//! - `/webhooks/{provider}/{key}`; connections made before providers existed keep answering at
//!   `/webhooks/whatsapp/{key}` (Meta's). A path whose provider is not the connection's is 404.
//! - `GET` is Meta's verification handshake: `hub.mode=subscribe`, the connection's verify token,
//!   and `hub.challenge` echoed back; anything else gets 403.
//! - `POST` must be signed over the raw body with the connection's secret, checked by the
//!   provider in constant time before parsing; a missing or wrong signature gets 401 and changes
//!   nothing. The provider reads the body into neutral [`DeliveryEvent`]s, and every event of a
//!   delivery is stored in one transaction, then 200.

use super::outbox;
use crate::invoices::server::identities;
use crate::sending::SendState;
use crate::{
    connections::server::ctx,
    platform::{db, AppState},
    providers::{meta::META, Mode},
};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use messaging::{
    Account, DeliveryEvent, DeliveryState, Disposition, Inbound, Provider, StatusUpdate,
    TemplateUpdate,
};
use secrecy::ExposeSecret;
use sqlx::Row;
use std::{collections::HashMap, sync::Arc};

/// The path segment of connections made before providers existed: Meta's.
pub const LEGACY_SEGMENT: &str = "whatsapp";

/// The connection behind a webhook key.
struct Target {
    user_id: i64,
    provider: Arc<dyn Provider>,
    /// The sender and the signing secret (no API token: webhooks never call out).
    account: Account,
    /// Still sealed: only the verification handshake needs it.
    verify_token_enc: String,
}

/// The connection behind `/webhooks/{segment}/{key}`, when the segment names its provider.
async fn target(state: &AppState, segment: &str, key: &str) -> Result<Option<Target>, Response> {
    // Keys are 32 hex characters; anything else cannot match and is not worth a query.
    if key.len() > 64 || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT user_id, provider, mode, phone_number_id, app_secret_enc, verify_token_enc FROM whatsapp_connections WHERE webhook_key = $1",
    )
    .bind(key)
    .fetch_optional(&state.db.pool)
    .await
    .map_err(|e| internal(&e))?;
    let Some(r) = row else { return Ok(None) };
    let user_id: i64 = r.try_get("user_id").map_err(|e| internal(&e))?;
    let name: String = r.try_get("provider").map_err(|e| internal(&e))?;
    let legacy = segment == LEGACY_SEGMENT && name == META;
    if segment != name && !legacy {
        return Ok(None);
    }
    let mode = Mode::parse(&r.try_get::<String, _>("mode").map_err(|e| internal(&e))?);
    let Ok(provider) = state.providers.get(&name, mode) else {
        tracing::warn!(user_id, provider = %name, ?mode, "webhook for a provider this server does not run");
        return Ok(None);
    };
    let secret_enc: Option<String> = r.try_get("app_secret_enc").map_err(|e| internal(&e))?;
    let app_secret = match secret_enc {
        Some(enc) => Some(
            state
                .keyring
                .decrypt(&enc, &ctx("app_secret", user_id))
                .map_err(|e| internal(&e))?,
        ),
        None => None,
    };
    Ok(Some(Target {
        user_id,
        provider,
        account: Account {
            sender: r.try_get("phone_number_id").map_err(|e| internal(&e))?,
            token: secrecy::SecretString::from(String::new()),
            account_id: None,
            app_id: None,
            signing_secret: app_secret,
        },
        verify_token_enc: r.try_get("verify_token_enc").map_err(|e| internal(&e))?,
    }))
}

fn internal(e: &dyn std::fmt::Display) -> Response {
    let reference = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    tracing::error!(reference, error = %e, "webhook handling failed");
    // Meta retries a non-2xx delivery, so nothing is lost.
    (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
}

/// `GET /webhooks/{provider}/{key}`: Meta's verification request.
pub async fn verify(
    State(state): State<AppState>,
    Path((segment, key)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let t = match target(&state, &segment, &key).await {
        Ok(Some(t)) => t,
        Ok(None) => return (StatusCode::FORBIDDEN, "Forbidden").into_response(),
        Err(r) => return r,
    };
    let verify_token = match state
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

/// The largest delivery accepted. Meta's payloads can reach 3 MB (a batch of statuses and
/// inbound messages); axum's default of 2 MiB refused them. Anything larger is refused and logged.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// `POST /webhooks/{provider}/{key}`: statuses, inbound messages, template updates. Every
/// refused delivery leaves a log line with its reason.
pub async fn receive(
    State(state): State<AppState>,
    Path((segment, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(
                provider = %segment.chars().take(40).collect::<String>(),
                status = e.status().as_u16(),
                limit_bytes = MAX_BODY,
                length = ?headers.get(axum::http::header::CONTENT_LENGTH),
                reason = %e.body_text(),
                "webhook refused: its body could not be read"
            );
            return e.into_response();
        }
    };
    let t = match target(&state, &segment, &key).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            tracing::warn!(
                provider = %segment.chars().take(40).collect::<String>(),
                "webhook refused: no connection has this webhook address"
            );
            return (StatusCode::NOT_FOUND, "Unknown webhook").into_response();
        }
        Err(r) => return r,
    };
    if t.account.signing_secret.is_none() {
        tracing::warn!(
            user_id = t.user_id,
            "webhook refused: the connection has no App Secret to check signatures with"
        );
        return (StatusCode::UNAUTHORIZED, "Signature cannot be checked").into_response();
    }
    if !t.provider.verify_webhook(&t.account, &headers, &body) {
        tracing::warn!(
            user_id = t.user_id,
            provider = t.provider.id(),
            "webhook refused: missing or wrong signature"
        );
        return (StatusCode::UNAUTHORIZED, "Bad signature").into_response();
    }
    let events = match t.provider.parse_webhook(&t.account, &body) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(user_id = t.user_id, error = %e, "webhook body is not the provider's envelope");
            return (StatusCode::BAD_REQUEST, "Not a WhatsApp webhook").into_response();
        }
    };
    match ingest(&state, t.user_id, t.account.account_id.as_deref(), &events).await {
        Ok(()) => (StatusCode::OK, "OK").into_response(),
        Err(e) => internal(&e),
    }
}

/// Stores every event of a delivery in one transaction, in the order the provider sent them.
/// `scope` is the provider account the connection belongs to (Meta's WhatsApp Business
/// Account): user ids are valid only there.
pub async fn ingest(
    state: &AppState,
    user_id: i64,
    scope: Option<&str>,
    events: &[DeliveryEvent],
) -> Result<(), sqlx::Error> {
    let now = db::now();
    let mut tx = state.db.write().await?;
    let mut fallback = false;
    for event in events {
        match event {
            DeliveryEvent::Status(s) => {
                fallback |= apply_status(&mut tx, user_id, scope, s, now).await?
            }
            DeliveryEvent::Inbound(m) => record_inbound(&mut tx, user_id, scope, m, now).await?,
            DeliveryEvent::Template(t) => template_status(&mut tx, user_id, t, now).await?,
            DeliveryEvent::Account(n) => {
                crate::connections::server::account_notice(&mut tx, user_id, n, now).await?;
                if n.clears {
                    // Sends that waited for the pause go now.
                    sqlx::query(
                        "UPDATE whatsapp_sends SET next_attempt_at = $1 WHERE user_id = $2 AND state = $3 AND error_anchor = $4",
                    )
                    .bind(now)
                    .bind(user_id)
                    .bind(SendState::Queued.as_str())
                    .bind(outbox::PAUSED_ANCHOR)
                    .execute(&mut *tx)
                    .await?;
                    fallback = true;
                }
                tracing::warn!(user_id, event = %n.event, pauses = n.blocks_sending, "account update from the provider");
            }
            DeliveryEvent::Identity(c) => {
                if !identities::rekey(&mut tx, user_id, c).await? {
                    tracing::info!(
                        user_id,
                        "an identity change for someone who is not a tenant"
                    );
                }
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
fn unix(at: Option<i64>, text: Option<&str>, now: i64) -> i64 {
    match (at, text) {
        (Some(t), _) if (now - EVENT_MAX_AGE_SECS..=now + EVENT_MAX_SKEW_SECS).contains(&t) => t,
        (None, None) => now,
        (_, raw) => {
            tracing::warn!(timestamp = %raw.unwrap_or_default().chars().take(40).collect::<String>(), "webhook event time is implausible; using the time it arrived");
            now
        }
    }
}

/// The state a delivery state moves a send to.
fn send_state(d: DeliveryState) -> SendState {
    match d {
        DeliveryState::Sent => SendState::Sent,
        DeliveryState::Delivered => SendState::Delivered,
        DeliveryState::Read => SendState::Read,
        DeliveryState::Failed => SendState::Failed,
    }
}

/// The statement for a status: one per time column, each complete at compile time, so no
/// column name is ever spliced into SQL at run time.
fn time_column_update(d: DeliveryState) -> &'static str {
    match d {
        DeliveryState::Sent => STATUS_UPDATE_SENT,
        DeliveryState::Delivered => STATUS_UPDATE_DELIVERED,
        DeliveryState::Read => STATUS_UPDATE_READ,
        DeliveryState::Failed => STATUS_UPDATE_FAILED,
    }
}

/// One statement: the state moves only forward; the time of each status is kept whatever order
/// they came in; pricing and errors are filled once. `$at` is the status's own time column.
macro_rules! status_update {
    ($at:literal) => {
        concat!(
            "UPDATE whatsapp_sends SET \
               state = CASE WHEN state_rank < $1 THEN $2 ELSE state END, \
               retrying = CASE WHEN state_rank < $1 THEN 0 ELSE retrying END, \
               error_code = CASE WHEN state_rank < $1 THEN COALESCE($3, error_code) ELSE error_code END, \
               error_title = CASE WHEN state_rank < $1 THEN COALESCE($4, error_title) ELSE error_title END, \
               error_detail = CASE WHEN state_rank < $1 THEN COALESCE($5, error_detail) ELSE error_detail END, \
               error_anchor = CASE WHEN state_rank < $1 THEN COALESCE($6, error_anchor) ELSE error_anchor END, \
               state_rank = CASE WHEN state_rank < $1 THEN $1 ELSE state_rank END, ",
            $at, " = COALESCE(", $at, ", $7), \
               pricing_category = COALESCE(pricing_category, $8), \
               pricing_type = COALESCE(pricing_type, $9), \
               in_flight = 0, locked_by = NULL, locked_until = NULL, updated_at = $10 \
             WHERE provider_message_id = $11 AND user_id = $12"
        )
    };
}
const STATUS_UPDATE_SENT: &str = status_update!("sent_at");
const STATUS_UPDATE_DELIVERED: &str = status_update!("delivered_at");
const STATUS_UPDATE_READ: &str = status_update!("read_at");
const STATUS_UPDATE_FAILED: &str = status_update!("failed_at");

/// Applies one status. Returns true when a refused document was queued again as a template.
async fn apply_status(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    scope: Option<&str>,
    s: &StatusUpdate,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let to = send_state(s.state);
    let at = unix(s.at, s.at_text.as_deref(), now);
    // A tenant reached by phone learns their user id (and username) from the status. Once per
    // message is enough (delivered, or read if that comes first), not on every status: this
    // runs for each status of every send.
    let learns = matches!(s.state, DeliveryState::Delivered | DeliveryState::Read);
    if let Some(p) = s
        .recipient
        .as_ref()
        .filter(|p| learns && p.user_id.is_some())
    {
        let tenant: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT tenant_id FROM whatsapp_sends WHERE provider_message_id = $1 AND user_id = $2",
        )
        .bind(&s.message_id)
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(Some(t)) = tenant {
            identities::learn(tx, user_id, t, scope, p).await?;
        }
    }
    // A send whose message call timed out learns its message id from the tag.
    if let Some((send_id, attempt)) = s.tag.as_deref().and_then(outbox::parse_callback) {
        sqlx::query(
            "UPDATE whatsapp_sends SET provider_message_id = $1, accepted_at = COALESCE(accepted_at, $2) WHERE id = $3 AND user_id = $4 \
             AND attempts = $5 AND provider_message_id IS NULL AND state IN ($6, $7) \
             AND NOT EXISTS (SELECT 1 FROM whatsapp_sends o WHERE o.provider_message_id = $1)",
        )
        .bind(&s.message_id)
        .bind(at)
        .bind(send_id)
        .bind(user_id)
        .bind(attempt)
        .bind(SendState::Sending.as_str())
        .bind(SendState::Unknown.as_str())
        .execute(&mut **tx)
        .await?;
    }
    let error = s.error.as_ref();
    let window_closed = error.is_some_and(|e| e.disposition == Disposition::WindowClosed);
    if to == SendState::Failed && window_closed {
        // The window was closed after all: send the approved template instead.
        let p = crate::connections::server::problem(error.expect("checked"), "");
        let moved = sqlx::query(
            "UPDATE whatsapp_sends SET state = $6, state_rank = $7, force_template = 1, provider_message_id = NULL, in_flight = 0, \
             locked_by = NULL, locked_until = NULL, next_attempt_at = $1, retrying = 1, error_code = $4, \
             error_title = $5, error_anchor = $9, updated_at = $1 \
             WHERE provider_message_id = $2 AND user_id = $3 AND kind = 'document' AND state_rank < $8",
        )
        .bind(now)
        .bind(&s.message_id)
        .bind(user_id)
        .bind(error.and_then(|e| e.code))
        .bind(&p.title)
        .bind(SendState::Queued.as_str())
        .bind(SendState::Queued.rank())
        .bind(SendState::Failed.rank())
        .bind(&p.anchor)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if moved > 0 {
            sqlx::query(
                "INSERT INTO whatsapp_attempts (send_id, number, kind, at, outcome, provider_message_id, error_code, error_text) \
                 SELECT id, attempts, 'document', $1, 'fallback', $2, $3, $4 \
                 FROM whatsapp_sends WHERE id = (SELECT send_id FROM whatsapp_attempts WHERE provider_message_id = $2 LIMIT 1)",
            )
            .bind(now)
            .bind(&s.message_id)
            .bind(error.and_then(|e| e.code))
            .bind(&p.title)
            .execute(&mut **tx)
            .await?;
            return Ok(true);
        }
    }
    let (code, title, detail, anchor) = match error {
        Some(e) => {
            let p = crate::connections::server::problem(e, "");
            (e.code, Some(p.title), e.message.clone(), Some(p.anchor))
        }
        None => (None, None, None, None),
    };
    let pricing = s.pricing.as_ref();
    let updated = sqlx::query(time_column_update(s.state))
        .bind(to.rank())
        .bind(to.as_str())
        .bind(code)
        .bind(title)
        .bind(detail)
        .bind(anchor)
        .bind(at)
        .bind(pricing.and_then(|p| p.category.clone()))
        .bind(pricing.and_then(|p| p.kind.clone()))
        .bind(now)
        .bind(&s.message_id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    // No send has this message: it may be the user's self-test.
    if updated == 0 && !crate::selftest::server::apply_status(tx, user_id, s, at, now).await? {
        tracing::debug!(user_id, "a status for a message Axis CRM does not know");
    }
    Ok(false)
}

async fn record_inbound(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    scope: Option<&str>,
    m: &Inbound,
    now: i64,
) -> Result<(), sqlx::Error> {
    let at = unix(m.at, m.at_text.as_deref(), now);
    let p = &m.from;
    let mut tenant_id = identities::find(tx, user_id, p).await?;
    // Who wrote, as stored with the message: their WhatsApp id (digits), else their user id.
    let sender = p
        .phone
        .as_deref()
        .map(|ph| ph.trim_start_matches('+').to_string())
        .or_else(|| p.user_id.clone());
    let inserted = sqlx::query(
        "INSERT INTO whatsapp_inbound (user_id, tenant_id, provider_message_id, wa_id, kind, body, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, provider_message_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(tenant_id)
    .bind(&m.message_id)
    .bind(&sender)
    .bind(&m.kind)
    .bind(&m.text)
    .bind(at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted != 1 {
        return Ok(()); // a duplicate delivery
    }
    if tenant_id.is_none() && p.phone.is_none() {
        // Someone who writes from a username only can be matched by nobody's number: they
        // become a tenant, so they can be invoiced.
        tenant_id = identities::tenant_for_user_id(tx, user_id, scope, p, now).await?;
        sqlx::query(
            "UPDATE whatsapp_inbound SET tenant_id = $1 WHERE user_id = $2 AND provider_message_id = $3",
        )
        .bind(tenant_id)
        .bind(user_id)
        .bind(&m.message_id)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(t) = tenant_id {
        identities::learn(tx, user_id, t, scope, p).await?;
        sqlx::query(
            "UPDATE tenants SET last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at < $1 THEN $1 ELSE last_inbound_at END \
             WHERE id = $2",
        )
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
    t: &TemplateUpdate,
    now: i64,
) -> Result<(), sqlx::Error> {
    // A status update sets the status and its reason; a category update only the category.
    sqlx::query(
        "UPDATE whatsapp_templates SET status = COALESCE($1, status), \
         reason = CASE WHEN $1 IS NULL THEN reason ELSE $2 END, category = COALESCE($8, category), updated_at = $3 \
         WHERE user_id = $4 AND (template_id = $5 OR (name = $6 AND language = $7))",
    )
    .bind(&t.status)
    .bind(&t.reason)
    .bind(now)
    .bind(user_id)
    .bind(t.template_id.clone().unwrap_or_default())
    .bind(t.name.clone().unwrap_or_default())
    .bind(t.language.clone().unwrap_or_default())
    .bind(&t.category)
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
        let t = |s: &str| unix(s.parse().ok(), Some(s), now);
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
        assert_eq!(unix(None, None, now), now);
    }

    #[test]
    fn each_status_keeps_its_own_time() {
        for (d, col) in [
            (DeliveryState::Sent, "sent_at = COALESCE(sent_at"),
            (
                DeliveryState::Delivered,
                "delivered_at = COALESCE(delivered_at",
            ),
            (DeliveryState::Read, "read_at = COALESCE(read_at"),
            (DeliveryState::Failed, "failed_at = COALESCE(failed_at"),
        ] {
            assert!(time_column_update(d).contains(col), "{d:?}");
        }
        assert_eq!(send_state(DeliveryState::Read), SendState::Read);
    }
}

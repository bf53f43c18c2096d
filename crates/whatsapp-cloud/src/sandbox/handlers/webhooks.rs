//! Webhook delivery: every webhook (statuses, inbound messages, template reviews) is posted
//! signed with the app secret over the exact bytes Meta would send, and a refused or failed
//! delivery is retried with backoff, as Meta retries.

use crate::{
    sandbox::{Counters, Sandbox},
    signature,
};
use axum::http::header;
use serde_json::{json, Value};
use std::time::Duration;

/// Meta escapes every non-ASCII character as `\uXXXX` in webhook bodies, and signs those bytes.
pub(crate) fn meta_json(value: &Value) -> String {
    let plain = value.to_string();
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

const WEBHOOK_FIRST_BACKOFF: Duration = Duration::from_millis(250);
const WEBHOOK_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The pause after failed attempt `attempt` (0-based): 250 ms, doubling, capped at 5 s.
fn webhook_backoff(attempt: u32) -> Duration {
    WEBHOOK_FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(attempt.min(16)))
        .min(WEBHOOK_MAX_BACKOFF)
}

/// Posts one signed webhook to the app's callback URL. Like Meta, a refused or failed delivery
/// is retried with capped exponential backoff, here for `webhook_retry_for`. The app is read
/// again before every attempt, so a changed URL is used and a removed one ends the retries.
pub(super) async fn post_webhook(
    sb: &Sandbox,
    app_id: &str,
    waba_id: &str,
    field: &str,
    value: Value,
) {
    // An app that is not subscribed to the Business Account gets nothing from it.
    if sb.inner.state.lock().unsubscribed.contains(waba_id) {
        tracing::debug!(
            waba_id,
            field,
            "sandbox webhook not sent: the app is not subscribed"
        );
        return;
    }
    let envelope = json!({ "object": "whatsapp_business_account", "entry": [{ "id": waba_id, "changes": [{ "field": field, "value": value }] }] });
    let body = meta_json(&envelope);
    let retry_for = sb.inner.config.lock().webhook_retry_for;
    let deadline = tokio::time::Instant::now() + retry_for;
    for attempt in 0u32.. {
        let Some(app) = sb.inner.state.lock().apps.get(app_id).cloned() else {
            return;
        };
        let Some(url) = app.webhook_url else {
            return;
        };
        match deliver(sb, &app.secret, &url, &body).await {
            Ok(()) => return,
            Err(why) => tracing::debug!(attempt, why, "sandbox webhook not delivered"),
        }
        let pause = webhook_backoff(attempt);
        if tokio::time::Instant::now() + pause > deadline {
            tracing::debug!(attempt, field, "sandbox webhook given up");
            return;
        }
        tokio::time::sleep(pause).await;
    }
}

/// One signed POST of `body` to `url`; a 2xx answer counts as delivered.
pub(super) async fn deliver(
    sb: &Sandbox,
    secret: &str,
    url: &str,
    body: &str,
) -> Result<(), String> {
    let sig = signature::sign(secret.as_bytes(), body.as_bytes());
    let res = sb
        .inner
        .http
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-hub-signature-256", &sig)
        .body(body.to_string())
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => {
            Counters::bump(&sb.inner.counters.webhook_deliveries);
            Ok(())
        }
        Ok(r) => Err(format!("the callback URL answered {}", r.status())),
        Err(e) => Err(format!(
            "the callback URL could not be reached ({})",
            e.without_url()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_meta() {
        assert_eq!(
            meta_json(&json!({"n": "Jürgen 😀"})),
            r#"{"n":"J\u00fcrgen \ud83d\ude00"}"#
        );
    }

    #[test]
    fn webhook_backoff_doubles_to_five_seconds() {
        let ms: Vec<u128> = (0..8).map(|a| webhook_backoff(a).as_millis()).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(webhook_backoff(u32::MAX), Duration::from_secs(5));
    }
}

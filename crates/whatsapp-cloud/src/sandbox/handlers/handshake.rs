//! The webhook handshake and test event: what the buttons of the app's webhook settings in
//! Meta's dashboard do ("Verify and save", and "Test" beside the `messages` field).

use super::webhooks::{deliver, meta_json};
use crate::sandbox::{state::numeric_id, Sandbox};
use serde_json::json;

/// Meta's "Verify and save": a GET to the app's callback URL with `hub.mode=subscribe`, the
/// verify token and a challenge, which must come back as the whole body of a 200.
pub(in crate::sandbox) async fn verify_webhook(
    sb: &Sandbox,
    app_id: &str,
    verify_token: &str,
) -> Result<(), String> {
    let url = sb
        .inner
        .state
        .lock()
        .apps
        .get(app_id)
        .and_then(|a| a.webhook_url.clone())
        .ok_or_else(|| "this app has no callback URL".to_string())?;
    let challenge = numeric_id();
    let res = sb
        .inner
        .http
        .get(&url)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", verify_token),
            ("hub.challenge", challenge.as_str()),
        ])
        .send()
        .await
        .map_err(|e| {
            format!(
                "the callback URL could not be reached ({})",
                e.without_url()
            )
        })?;
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    if status.is_success() && body == challenge {
        Ok(())
    } else {
        Err("The callback URL or verify token couldn't be validated. Please verify the provided information or try again later.".into())
    }
}

/// The "Test" button beside the `messages` field in Meta's webhook settings: Meta's fixed sample
/// event (a text from a test user to a test number), signed, delivered once.
pub(in crate::sandbox) async fn send_test_event(sb: &Sandbox, app_id: &str) -> Result<(), String> {
    let app = sb
        .inner
        .state
        .lock()
        .apps
        .get(app_id)
        .cloned()
        .ok_or_else(|| "unknown app".to_string())?;
    let url = app
        .webhook_url
        .ok_or_else(|| "this app has no callback URL".to_string())?;
    let sample = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "0", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "16505551111", "phone_number_id": "123456123" },
        "contacts": [{ "profile": { "name": "test user name" }, "wa_id": "16315551181" }],
        "messages": [{ "from": "16315551181", "id": "ABGGFlA5Fpa", "timestamp": "1504902988", "type": "text",
                       "text": { "body": "this is a text message" } }]
    } }] }] });
    deliver(sb, &app.secret, &url, &meta_json(&sample)).await
}

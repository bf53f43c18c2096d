//! `GET` and `POST /{waba-id}/subscribed_apps`: whether the app is subscribed to the Business
//! Account's webhooks, and subscribing it. Without the subscription Meta sends no webhook at all,
//! the usual reason no status ever arrives.

use super::{Answer, Q};
use crate::sandbox::Sandbox;
use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::Response,
};
use serde_json::json;

pub(super) async fn subscribed_apps(
    State(sb): State<Sandbox>,
    Path((_v, waba)): Path<(String, String)>,
    headers: HeaderMap,
    q: Q,
) -> Response {
    let answer = async {
        let token = match sb.admit_waba(&headers, &waba).await {
            Ok(t) => t,
            Err(a) => return a,
        };
        let data = if sb.inner.state.lock().unsubscribed.contains(&waba) {
            json!([])
        } else {
            json!([{ "whatsapp_business_api_data": { "id": token.app_id, "name": "Axis CRM (sandbox)",
                "link": format!("https://www.facebook.com/games/?app_id={}", token.app_id) } }])
        };
        Answer::ok(json!({ "data": data }))
    }
    .await;
    sb.respond(
        "/{Version}/{WABA-ID}/subscribed_apps",
        "get",
        q.0,
        None,
        None,
        answer,
    )
}

pub(super) async fn subscribe_app(
    State(sb): State<Sandbox>,
    Path((_v, waba)): Path<(String, String)>,
    headers: HeaderMap,
    q: Q,
) -> Response {
    let answer = async {
        if let Err(a) = sb.admit_waba(&headers, &waba).await {
            return a;
        }
        sb.inner.state.lock().unsubscribed.remove(&waba);
        Answer::ok(json!({ "success": true }))
    }
    .await;
    sb.respond(
        "/{Version}/{WABA-ID}/subscribed_apps",
        "post",
        q.0,
        None,
        None,
        answer,
    )
}

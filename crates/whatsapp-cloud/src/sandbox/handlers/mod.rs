//! The sandbox's Graph API endpoints.
//!
//! This module holds the router, Meta's error shapes and the one place every answer goes out
//! (and is recorded for the contract tests). Each surface has its own file:
//!
//! - [`faults`]: injected and random faults, and Meta's answers for them;
//! - [`auth`]: tokens (`admit`, `authenticate`) and `GET /debug_token`;
//! - [`phone`]: phone-number nodes and `GET /{waba}/phone_numbers`;
//! - [`media`]: `POST /{phone-number-id}/media` and media nodes;
//! - [`uploads`]: the Resumable Upload API (`POST /{app-id}/uploads`, `POST /upload:…`);
//! - [`templates`]: template listing, creation, review, and the checks of a template send;
//! - [`messages`]: `POST /{phone-number-id}/messages`, and inbound messages (the 24-hour window);
//! - [`statuses`]: the sent/delivered/read (or failed) status webhooks of one message;
//! - [`webhooks`]: signed webhook delivery with retries;
//! - [`handshake`]: the webhook settings' "Verify and save" and "Test" buttons.

mod auth;
mod faults;
mod handshake;
mod media;
mod messages;
mod phone;
mod statuses;
mod subscriptions;
mod templates;
mod uploads;
mod webhooks;

pub(crate) use faults::MESSAGES_SCOPE;
pub(super) use handshake::{send_test_event, verify_webhook};
pub use messages::Customer;
pub(super) use messages::{identity_change, inbound};
pub(super) use templates::template_change;

use super::{state::Exchange, Sandbox};
use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde_json::{json, Value};

type Q = Query<Vec<(String, String)>>;

/// The largest document Meta takes, by the media endpoint and by the Resumable Upload API.
const MAX_DOCUMENT_BYTES: usize = 100 * 1024 * 1024;

pub(super) fn router(sb: Sandbox) -> Router {
    Router::new()
        .route("/{version}/debug_token", get(auth::debug_token))
        .route("/{version}/{id}", get(get_node).post(uploads::post_node))
        .route(
            "/{version}/{id}/uploads",
            axum::routing::post(uploads::start_upload),
        )
        .route("/{version}/{id}/phone_numbers", get(phone::phone_numbers))
        .route(
            "/{version}/{id}/media",
            axum::routing::post(media::upload_media),
        )
        .route(
            "/{version}/{id}/messages",
            axum::routing::post(messages::send_message),
        )
        .route(
            "/{version}/{id}/subscribed_apps",
            get(subscriptions::subscribed_apps).post(subscriptions::subscribe_app),
        )
        .route(
            "/{version}/{id}/message_templates",
            get(templates::list_templates).post(templates::create_template),
        )
        .layer(axum::extract::DefaultBodyLimit::max(
            MAX_DOCUMENT_BYTES + 1024 * 1024,
        ))
        .with_state(sb)
}

/// `GET /{id}`: one path for three kinds of node, told apart by the id: an upload session
/// (`upload:…`), a media file, or a phone number.
async fn get_node(
    State(sb): State<Sandbox>,
    Path((_v, id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
) -> Response {
    let is_media = sb.inner.state.lock().media.contains_key(&id);
    let is_upload = id.starts_with(uploads::UPLOAD_PREFIX);
    let spec_path = if is_upload {
        uploads::UPLOAD_SESSION_PATH
    } else if is_media {
        "/{Version}/{Media-ID}"
    } else {
        "/{Version}/{Phone-Number-ID}"
    };
    let answer = async {
        let token = match sb.admit(&headers, Some(&id)).await {
            Ok(t) => t,
            Err(a) => return a,
        };
        let st = sb.inner.state.lock();
        if is_upload {
            return uploads::session_offset(&st, &token, &id);
        }
        if let Some(m) = st.media.get(&id) {
            return media::media_node(&st, &token, &id, m);
        }
        let fields = q
            .iter()
            .find(|(k, _)| k == "fields")
            .map(|(_, v)| v.as_str());
        phone::number_node(&st, &token, &id, fields)
    }
    .await;
    sb.respond(spec_path, "get", q, None, None, answer)
}

/// An answer: status and JSON (or, for a proxy failure, plain text).
struct Answer {
    status: u16,
    body: Value,
    plain_text: bool,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Answer {
            status: 200,
            body,
            plain_text: false,
        }
    }
}

fn meta_error(
    status: u16,
    code: i64,
    subcode: Option<i64>,
    kind: &str,
    message: &str,
    details: Option<&str>,
) -> Answer {
    let mut error = json!({
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": format!("Sbx{}", super::state::numeric_id()),
    });
    if let Some(s) = subcode {
        error["error_subcode"] = json!(s);
    }
    if let Some(d) = details {
        error["error_data"] = json!({ "messaging_product": "whatsapp", "details": d });
    }
    if code == 1 || code == 2 {
        error["is_transient"] = json!(true);
    }
    Answer {
        status,
        body: json!({ "error": error }),
        plain_text: false,
    }
}

fn invalid_param(message: &str) -> Answer {
    meta_error(400, 100, None, "OAuthException", message, None)
}

fn unknown_object(id: &str) -> Answer {
    unknown_object_for("get", id)
}

fn unknown_object_for(method: &str, id: &str) -> Answer {
    meta_error(
        400,
        100,
        Some(33),
        "GraphMethodException",
        &format!(
            "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, \
             or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
        ),
        None,
    )
}

impl Sandbox {
    fn record(&self, ex: Exchange) {
        if self.inner.config.lock().record_exchanges {
            self.inner.state.lock().exchanges.push(ex);
        }
    }

    fn respond(
        &self,
        spec_path: &'static str,
        method: &'static str,
        query: Vec<(String, String)>,
        content_type: Option<String>,
        request_body: Option<Value>,
        answer: Answer,
    ) -> Response {
        // `input_token` and `appsecret_proof` are credentials: never kept.
        let query = query
            .into_iter()
            .filter(|(k, _)| k != "input_token" && k != "appsecret_proof")
            .collect();
        self.record(Exchange {
            spec_path,
            method,
            query,
            request_content_type: content_type,
            request_body,
            status: answer.status,
            response_body: answer.body.clone(),
        });
        let status =
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if answer.plain_text {
            (status, answer.body.as_str().unwrap_or_default().to_string()).into_response()
        } else {
            (status, axum::Json(answer.body)).into_response()
        }
    }
}

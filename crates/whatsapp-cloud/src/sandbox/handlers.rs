//! The sandbox's Graph API endpoints.

use super::{
    state::{
        numeric_id, random_text, unix_now, Exchange, Fault, Media, SentRecord, StoredTemplate,
        UploadSession, UploadedFile,
    },
    Counters, Sandbox,
};
use crate::signature;
use axum::{
    body::Bytes,
    extract::{Multipart, Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use rand::{seq::SliceRandom, Rng};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

type Q = Query<Vec<(String, String)>>;

/// Every field the phone-number node has in the sandbox.
const PHONE_FIELDS: &[&str] = &[
    "id",
    "display_phone_number",
    "verified_name",
    "quality_rating",
    "code_verification_status",
    "name_status",
    "status",
    "platform_type",
    "throughput",
    "account_mode",
    "health_status",
    "whatsapp_business_manager_messaging_limit",
    "is_pin_enabled",
    "messaging_limit_tier",
    "is_official_business_account",
];
const MAX_DOCUMENT_BYTES: usize = 100 * 1024 * 1024;
/// Resumable Upload API session ids start with this.
const UPLOAD_PREFIX: &str = "upload:";
/// What the Resumable Upload API accepts in the sandbox (template header samples).
const UPLOAD_TYPES: &[&str] = &["application/pdf", "image/jpeg", "image/png", "video/mp4"];
// The Resumable Upload API is part of the core Graph API, not Meta's Business Messaging spec:
// these exchanges are recorded under the paths Meta's upload guide uses.
const UPLOADS_PATH: &str = "/{Version}/{App-ID}/uploads";
const UPLOAD_SESSION_PATH: &str = "/{Version}/{Upload-Session-ID}";

pub(super) fn router(sb: Sandbox) -> Router {
    Router::new()
        .route("/{version}/debug_token", get(debug_token))
        .route("/{version}/{id}", get(get_node).post(post_node))
        .route("/{version}/{id}/uploads", axum::routing::post(start_upload))
        .route("/{version}/{id}/phone_numbers", get(phone_numbers))
        .route("/{version}/{id}/media", axum::routing::post(upload_media))
        .route(
            "/{version}/{id}/messages",
            axum::routing::post(send_message),
        )
        .route(
            "/{version}/{id}/message_templates",
            get(list_templates).post(create_template),
        )
        .layer(axum::extract::DefaultBodyLimit::max(
            MAX_DOCUMENT_BYTES + 1024 * 1024,
        ))
        .with_state(sb)
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
        "fbtrace_id": format!("Sbx{}", numeric_id()),
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

fn invalid_token() -> Answer {
    meta_error(
        401,
        190,
        None,
        "OAuthException",
        "Invalid OAuth access token - Cannot parse access token",
        None,
    )
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

fn fault_answer(fault: &Fault) -> Answer {
    match fault {
        Fault::Api {
            code,
            subcode,
            status,
        } => {
            let (message, details) = match code {
                130429 => ("(#130429) Rate limit hit", Some("Cloud API message throughput has been reached.")),
                131056 => (
                    "(#131056) (Business Account, Consumer Account) pair rate limit hit",
                    Some("Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."),
                ),
                80007 => ("(#80007) There have been too many calls to this WhatsApp Business account.", None),
                4 => ("(#4) Application request limit reached", None),
                190 => ("Error validating access token: Session has expired.", None),
                133010 => ("(#133010) Account not registered", Some("The phone number is not registered on the WhatsApp Business Platform.")),
                131000 => ("(#131000) Something went wrong", Some("Message failed to send due to an unknown error.")),
                10 => ("(#10) Application does not have permission for this action", None),
                _ => ("(#100) Invalid parameter", None),
            };
            meta_error(*status, *code, *subcode, "OAuthException", message, details)
        }
        Fault::ServerError => meta_error(
            500,
            1,
            None,
            "OAuthException",
            "An unknown error occurred",
            None,
        ),
        Fault::BadGateway => Answer {
            status: 503,
            body: json!("Service Unavailable"),
            plain_text: true,
        },
        Fault::Slow | Fault::LostResponse => meta_error(
            504,
            2,
            None,
            "OAuthException",
            "Service temporarily unavailable",
            None,
        ),
    }
}

/// One of the random faults, about equally often.
fn random_fault(rng: &mut impl Rng) -> Fault {
    match rng.gen_range(0..5) {
        0 => Fault::ServerError,
        1 => Fault::BadGateway,
        2 => Fault::Api {
            code: 130429,
            subcode: None,
            status: 400,
        },
        3 => Fault::Slow,
        _ => Fault::LostResponse,
    }
}

/// Scope prefix of faults injected for one number's `/messages` calls only.
pub(crate) const MESSAGES_SCOPE: &str = "messages:";

impl Sandbox {
    /// An injected fault for this call (scoped to `phone_number_id`, or unscoped), else a
    /// random one at `fault_rate`. Counted in [`super::SandboxStats::faults`].
    fn pick_fault(&self, phone_number_id: Option<&str>) -> Option<Fault> {
        self.pick_fault_for(phone_number_id, false)
    }

    /// As [`Self::pick_fault`]; `messages` also matches faults injected for `/messages` only.
    fn pick_fault_for(&self, phone_number_id: Option<&str>, messages: bool) -> Option<Fault> {
        let injected = {
            let mut st = self.inner.state.lock();
            let messages_scope = phone_number_id.map(|p| format!("{MESSAGES_SCOPE}{p}"));
            let pos = st.faults.iter().position(|(scope, _)| {
                scope.is_none()
                    || scope.as_deref() == phone_number_id
                    || (messages && scope.is_some() && *scope == messages_scope)
            });
            pos.and_then(|i| st.faults.remove(i)).map(|(_, f)| f)
        };
        let picked = injected.or_else(|| {
            let rate = self.inner.config.lock().fault_rate;
            let mut rng = rand::thread_rng();
            (rate > 0.0 && rng.gen_bool(rate.min(1.0))).then(|| random_fault(&mut rng))
        })?;
        Counters::bump(&self.inner.counters.faults);
        Some(picked)
    }

    /// Meta's answer for `fault`; a slow or lost answer is held for `slow_delay` first.
    async fn serve_fault(&self, fault: &Fault) -> Answer {
        if matches!(fault, Fault::Slow | Fault::LostResponse) {
            let delay = self.inner.config.lock().slow_delay;
            tokio::time::sleep(delay).await;
        }
        fault_answer(fault)
    }

    /// A fault for a call that has no answer to lose (`LostResponse` acts as `Slow`).
    async fn fault(&self, phone_number_id: Option<&str>) -> Option<Answer> {
        let picked = self.pick_fault(phone_number_id)?;
        Some(self.serve_fault(&picked).await)
    }

    /// Every authenticated call starts here: an injected or random fault for `scope` first, then
    /// the token's account (or Meta's answer for a bad token).
    async fn admit(
        &self,
        headers: &HeaderMap,
        scope: Option<&str>,
    ) -> Result<super::state::Token, Answer> {
        if let Some(a) = self.fault(scope).await {
            return Err(a);
        }
        self.authenticate(headers)
    }

    /// [`Self::admit`] for a call on a WhatsApp Business Account the token must belong to.
    async fn admit_waba(
        &self,
        headers: &HeaderMap,
        waba: &str,
    ) -> Result<super::state::Token, Answer> {
        let token = self.admit(headers, None).await?;
        if token.waba_id != waba {
            return Err(unknown_object(waba));
        }
        Ok(token)
    }

    /// The token's account, or Meta's answer for a bad token. Only sandbox tokens are looked up.
    fn authenticate(&self, headers: &HeaderMap) -> Result<super::state::Token, Answer> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("OAuth "))
            })
            .map(str::trim)
            .ok_or_else(invalid_token)?;
        if !token.starts_with("SANDBOX") {
            return Err(invalid_token());
        }
        let found = self
            .inner
            .state
            .lock()
            .tokens
            .get(token)
            .cloned()
            .ok_or_else(invalid_token)?;
        let lapsed = found
            .temporary_until
            .is_some_and(|until| until <= unix_now());
        if found.expired || lapsed {
            return Err(meta_error(
                401,
                190,
                Some(463),
                "OAuthException",
                "Error validating access token: Session has expired.",
                None,
            ));
        }
        Ok(found)
    }

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

async fn debug_token(State(sb): State<Sandbox>, headers: HeaderMap, Query(q): Q) -> Response {
    let answer = async {
        if let Some(a) = sb.fault(None).await {
            return a;
        }
        // The inspector must be this app's own token: `{app_id}|{app_secret}`.
        let inspector = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let Some((app_id, secret)) = inspector.split_once('|') else {
            return meta_error(400, 100, None, "OAuthException",
                "(#100) You must provide an app access token, or a user access token that is an owner or developer of the app", None);
        };
        let st = sb.inner.state.lock();
        let app_ok = st.apps.get(app_id).is_some_and(|a| a.secret.len() == secret.len() && subtle::ConstantTimeEq::ct_eq(a.secret.as_bytes(), secret.as_bytes()).into());
        if !app_ok {
            return invalid_token();
        }
        let input = q.iter().find(|(k, _)| k == "input_token").map(|(_, v)| v.as_str()).unwrap_or_default();
        let Some(t) = st.tokens.get(input).filter(|t| t.app_id == app_id) else {
            return Answer::ok(json!({ "data": { "is_valid": false, "error": { "code": 190, "message": "Invalid OAuth access token." }, "scopes": [] } }));
        };
        let lapsed = t.temporary_until.is_some_and(|u| u <= unix_now());
        let (kind, expires_at) = match t.temporary_until {
            Some(until) => ("USER", until),
            None => ("SYSTEM_USER", 0),
        };
        Answer::ok(json!({ "data": {
            "app_id": t.app_id,
            "type": kind,
            "application": "Axis CRM (sandbox)",
            "data_access_expires_at": 0,
            "expires_at": expires_at,
            "is_valid": !(t.expired || lapsed),
            "scopes": ["whatsapp_business_management", "whatsapp_business_messaging"],
            "granular_scopes": [
                { "scope": "whatsapp_business_management", "target_ids": [t.waba_id] },
                { "scope": "whatsapp_business_messaging", "target_ids": [t.waba_id] }
            ],
            "user_id": t.user_id,
        }}))
    }
    .await;
    sb.respond("/{Version}/debug_token", "get", q, None, None, answer)
}

fn phone_node(id: &str, n: &super::state::Number) -> Value {
    json!({
        "id": id,
        "display_phone_number": format_display(&n.display_phone_number),
        "verified_name": n.verified_name,
        "quality_rating": "GREEN",
        "code_verification_status": "VERIFIED",
        "name_status": "APPROVED",
        "status": "CONNECTED",
        "platform_type": "CLOUD_API",
        "throughput": { "level": "STANDARD" },
        "account_mode": "SANDBOX",
        "is_pin_enabled": false,
        "is_official_business_account": false,
        "messaging_limit_tier": "TIER_250",
        "whatsapp_business_manager_messaging_limit": "TIER_250",
        "health_status": { "can_send_message": "AVAILABLE", "entities": [
            { "entity_type": "PHONE_NUMBER", "id": id, "can_send_message": "AVAILABLE" },
            { "entity_type": "WABA", "id": n.waba_id, "can_send_message": "AVAILABLE" }
        ]},
    })
}

/// The requested fields of a phone-number node (Meta's defaults when none are asked for), or
/// Meta's error for a field the node does not have.
fn select_fields(
    id: &str,
    n: &super::state::Number,
    fields: Option<&str>,
) -> Result<Value, Answer> {
    let node = phone_node(id, n);
    let wanted: Vec<&str> = match fields {
        Some(f) => f
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect(),
        None => vec![
            "id",
            "display_phone_number",
            "verified_name",
            "quality_rating",
        ],
    };
    if let Some(bad) = wanted.iter().find(|f| !PHONE_FIELDS.contains(f)) {
        return Err(meta_error(400, 100, None, "OAuthException",
            &format!("(#100) Tried accessing nonexisting field ({bad}) on node type (WhatsAppBusinessPhoneNumber)"), None));
    }
    let mut out = serde_json::Map::new();
    for f in wanted {
        out.insert(f.to_string(), node[f].clone());
    }
    out.insert("id".into(), json!(id));
    Ok(Value::Object(out))
}

/// `15550001234` → `+1 555-000-1234`, as Meta displays US numbers; others get `+<digits>`.
fn format_display(digits: &str) -> String {
    if digits.len() == 11 && digits.starts_with('1') {
        format!("+1 {}-{}-{}", &digits[1..4], &digits[4..7], &digits[7..])
    } else {
        format!("+{digits}")
    }
}

async fn get_node(
    State(sb): State<Sandbox>,
    Path((_v, id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
) -> Response {
    let is_media = sb.inner.state.lock().media.contains_key(&id);
    let is_upload = id.starts_with(UPLOAD_PREFIX);
    let spec_path = if is_upload {
        UPLOAD_SESSION_PATH
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
            // Where to resume an interrupted upload.
            return match st.uploads.get(&id).filter(|u| u.app_id == token.app_id) {
                Some(u) => Answer::ok(json!({ "id": id, "file_offset": u.received })),
                None => unknown_object(&id),
            };
        }
        if let Some(m) = st.media.get(&id) {
            let owner = st.numbers.get(&m.phone_number_id).map(|n| n.app_id.as_str());
            if owner != Some(token.app_id.as_str()) {
                return unknown_object(&id);
            }
            return Answer::ok(json!({
                "messaging_product": "whatsapp",
                "url": format!("https://sandbox.invalid/media/{id}"),
                "mime_type": m.mime_type, "sha256": m.sha256, "file_size": m.file_size.to_string(), "id": id,
            }));
        }
        let Some(n) = st.numbers.get(&id).filter(|n| n.waba_id == token.waba_id) else {
            return unknown_object(&id);
        };
        let fields = q.iter().find(|(k, _)| k == "fields").map(|(_, v)| v.as_str());
        select_fields(&id, n, fields).map(Answer::ok).unwrap_or_else(|e| e)
    }
    .await;
    sb.respond(spec_path, "get", q, None, None, answer)
}

async fn phone_numbers(
    State(sb): State<Sandbox>,
    Path((_v, waba)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
) -> Response {
    let answer = async {
        if let Err(a) = sb.admit_waba(&headers, &waba).await {
            return a;
        }
        let fields = q.iter().find(|(k, _)| k == "fields").map(|(_, v)| v.as_str());
        let st = sb.inner.state.lock();
        let data: Vec<Value> = match st
            .numbers
            .iter()
            .filter(|(_, n)| n.waba_id == waba)
            .map(|(id, n)| select_fields(id, n, fields))
            .collect::<Result<_, _>>()
        {
            Ok(d) => d,
            Err(a) => return a,
        };
        Answer::ok(json!({ "data": data, "paging": { "cursors": { "before": "QVFIUjAZD", "after": "QVFIUjAZD" } } }))
    }
    .await;
    sb.respond(
        "/{Version}/{WABA-ID}/phone_numbers",
        "get",
        q,
        None,
        None,
        answer,
    )
}

async fn upload_media(
    State(sb): State<Sandbox>,
    Path((_v, pnid)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
    mut form: Multipart,
) -> Response {
    let mut fields = serde_json::Map::new();
    let mut file: Option<(Option<String>, Bytes)> = None;
    let mut read_error = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                if name == "file" {
                    let ct = field.content_type().map(str::to_string);
                    let filename = field.file_name().map(str::to_string);
                    match field.bytes().await {
                        Ok(b) => {
                            fields.insert("file".into(), json!({ "filename": filename, "content_type": ct, "size": b.len() }));
                            file = Some((ct, b));
                        }
                        Err(e) => read_error = Some(e.to_string()),
                    }
                } else if let Ok(text) = field.text().await {
                    fields.insert(name, json!(text));
                }
            }
            Ok(None) => break,
            Err(e) => {
                read_error = Some(e.to_string());
                break;
            }
        }
    }
    let answer = async {
        let token = match sb.admit(&headers, Some(&pnid)).await {
            Ok(t) => t,
            Err(a) => return a,
        };
        if sb
            .inner
            .state
            .lock()
            .numbers
            .get(&pnid)
            .is_none_or(|n| n.waba_id != token.waba_id)
        {
            return unknown_object(&pnid);
        }
        if let Some(e) = read_error {
            return meta_error(
                400,
                100,
                None,
                "OAuthException",
                &format!("(#100) Invalid multipart body: {e}"),
                None,
            );
        }
        if fields.get("messaging_product").and_then(|v| v.as_str()) != Some("whatsapp") {
            return meta_error(
                400,
                100,
                None,
                "OAuthException",
                "(#100) The parameter messaging_product is required.",
                None,
            );
        }
        let Some((ct, bytes)) = file.take() else {
            return meta_error(
                400,
                100,
                None,
                "OAuthException",
                "(#100) The parameter file is required.",
                None,
            );
        };
        let declared = fields
            .get("type")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or(ct.clone())
            .unwrap_or_default();
        let allowed = [
            "application/pdf",
            "text/plain",
            "application/msword",
            "image/jpeg",
            "image/png",
        ];
        if !allowed.contains(&declared.as_str()) {
            return meta_error(
                400,
                131053,
                None,
                "OAuthException",
                "(#131053) Media upload error",
                Some(&format!("Unsupported file type {declared}")),
            );
        }
        if declared == "application/pdf" && !bytes.starts_with(b"%PDF-") {
            return meta_error(
                400,
                131053,
                None,
                "OAuthException",
                "(#131053) Media upload error",
                Some("The file is not a valid PDF document."),
            );
        }
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return meta_error(
                400,
                131053,
                None,
                "OAuthException",
                "(#131053) Media upload error",
                Some("Documents can be at most 100 MB."),
            );
        }
        let id = numeric_id();
        sb.inner.state.lock().media.insert(
            id.clone(),
            Media {
                phone_number_id: pnid.clone(),
                mime_type: declared,
                file_size: bytes.len(),
                sha256: hex::encode(Sha256::digest(&bytes)),
            },
        );
        Answer::ok(json!({ "id": id }))
    }
    .await;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or(s).to_string());
    sb.respond(
        "/{Version}/{Phone-Number-ID}/media",
        "post",
        q,
        ct,
        Some(Value::Object(fields)),
        answer,
    )
}

/// Standard base64 without padding, as in the mime-type part of Meta's upload handles
/// (`4::YXBwbGljYXRpb24vcGRm:…` for `application/pdf`).
fn base64_unpadded(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

/// `file_name`, `file_length` and `file_type` of `POST /{app-id}/uploads`, or Meta's message.
fn upload_params(
    file_name: Option<&str>,
    file_length: Option<&str>,
    file_type: Option<&str>,
) -> Result<(String, usize, String), String> {
    let name = file_name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or("(#100) The parameter file_name is required.")?;
    let length = file_length.ok_or("(#100) The parameter file_length is required.")?;
    let length: usize = length
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(format!(
            "(#100) Param file_length must be a positive integer number of bytes, got '{length}'."
        ))?;
    if length > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "(#100) Param file_length must be at most {MAX_DOCUMENT_BYTES} bytes."
        ));
    }
    let kind = file_type.ok_or("(#100) The parameter file_type is required.")?;
    if !UPLOAD_TYPES.contains(&kind) {
        return Err(format!(
            "(#100) Param file_type must be one of {}, got '{kind}'.",
            UPLOAD_TYPES.join(", ")
        ));
    }
    Ok((name.to_string(), length, kind.to_string()))
}

fn invalid_param(message: &str) -> Answer {
    meta_error(400, 100, None, "OAuthException", message, None)
}

/// `POST /{app-id}/uploads`: starts a Resumable Upload API session.
async fn start_upload(
    State(sb): State<Sandbox>,
    Path((_v, app_id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
) -> Response {
    let answer = async {
        let token = match sb.admit(&headers, None).await {
            Ok(t) => t,
            Err(a) => return a,
        };
        // Sessions belong to an app; the token's user must have a role on it.
        if token.app_id != app_id {
            return unknown_object_for("post", &app_id);
        }
        let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let (_name, file_length, file_type) =
            match upload_params(get("file_name"), get("file_length"), get("file_type")) {
                Ok(p) => p,
                Err(message) => return invalid_param(&message),
            };
        let id = format!("{UPLOAD_PREFIX}{}", random_text(48));
        sb.inner.state.lock().uploads.insert(
            id.clone(),
            UploadSession {
                app_id,
                file_length,
                file_type,
                received: 0,
                handle: None,
            },
        );
        Answer::ok(json!({ "id": id }))
    }
    .await;
    sb.respond(UPLOADS_PATH, "post", q, None, None, answer)
}

/// `POST /{id}`: the file's bytes for an upload session (`upload:…`). Other nodes cannot be
/// changed in the sandbox.
async fn post_node(
    State(sb): State<Sandbox>,
    Path((_v, id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let offset_header = headers
        .get("file_offset")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let answer = async {
        let token = match sb.admit(&headers, None).await {
            Ok(t) => t,
            Err(a) => return a,
        };
        if !id.starts_with(UPLOAD_PREFIX) {
            return unknown_object_for("post", &id);
        }
        let mut st = sb.inner.state.lock();
        let Some(session) = st.uploads.get_mut(&id).filter(|u| u.app_id == token.app_id) else {
            return unknown_object_for("post", &id);
        };
        let Some(offset_text) = offset_header.as_deref() else {
            return invalid_param("(#100) The file_offset header is required (0 for a new upload session).");
        };
        let Ok(offset) = offset_text.trim().parse::<usize>() else {
            return invalid_param(&format!("(#100) The file_offset header must be a number of bytes, got '{offset_text}'."));
        };
        if offset != session.received {
            return invalid_param(&format!(
                "(#100) file_offset {offset} does not match this session: {} bytes were received so far.",
                session.received
            ));
        }
        if offset + body.len() != session.file_length {
            return invalid_param(&format!(
                "(#100) The session expects {} bytes from offset {offset} (file_length {}), got {}.",
                session.file_length - offset.min(session.file_length),
                session.file_length,
                body.len()
            ));
        }
        if let Some(h) = &session.handle {
            // Already complete: the same handle again.
            return Answer::ok(json!({ "h": h }));
        }
        if session.file_type == "application/pdf" && !body.starts_with(b"%PDF-") {
            return invalid_param("(#100) The uploaded file is not a valid PDF document (file_type is application/pdf).");
        }
        let handle = format!(
            "4::{}:{}",
            base64_unpadded(session.file_type.as_bytes()),
            random_text(64)
        );
        session.received = session.file_length;
        session.handle = Some(handle.clone());
        let file = UploadedFile {
            app_id: session.app_id.clone(),
            mime_type: session.file_type.clone(),
        };
        st.handles.insert(handle.clone(), file);
        Answer::ok(json!({ "h": handle }))
    }
    .await;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let spec_path = if id.starts_with(UPLOAD_PREFIX) {
        UPLOAD_SESSION_PATH
    } else {
        "/{Version}/{Phone-Number-ID}"
    };
    // The file itself is left out of the record.
    let request = json!({ "file_offset": offset_header, "bytes": body.len() });
    sb.respond(spec_path, "post", q, ct, Some(request), answer)
}

/// The mime types a media header's sample may have, by header format.
fn header_sample_types(format: &str) -> Option<&'static [&'static str]> {
    match format.to_ascii_uppercase().as_str() {
        "DOCUMENT" => Some(&["application/pdf"]),
        "IMAGE" => Some(&["image/jpeg", "image/png"]),
        "VIDEO" => Some(&["video/mp4"]),
        _ => None,
    }
}

/// Meta's checks of a new template's examples: a media header needs a sample uploaded with the
/// Resumable Upload API (`example.header_handle[0]`, a handle `issued` knows with a fitting
/// mime type), and a body with variables needs one sample value per variable.
fn check_examples(
    components: &[Value],
    issued: impl Fn(&str) -> Option<String>,
) -> Result<(), Answer> {
    let kind_is = |c: &Value, k: &str| {
        c["type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case(k))
    };
    for c in components.iter().filter(|c| kind_is(c, "HEADER")) {
        let format = c["format"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let Some(types) = header_sample_types(&format) else {
            continue;
        };
        let handle = c["example"]["header_handle"][0]
            .as_str()
            .unwrap_or_default();
        let fits = issued(handle).is_some_and(|mime| types.contains(&mime.as_str()));
        if !fits {
            let what = match format.as_str() {
                "DOCUMENT" => "a sample PDF",
                "IMAGE" => "a sample JPEG or PNG image",
                _ => "a sample MP4 video",
            };
            let mut a = meta_error(
                400,
                100,
                Some(2388273),
                "OAuthException",
                "Invalid parameter",
                None,
            );
            a.body["error"]["error_user_title"] = json!("Invalid header example");
            a.body["error"]["error_user_msg"] = json!(format!(
                "A {format} header needs {what} as its example: upload the file with the Resumable Upload API \
                 (POST /{{app-id}}/uploads, then POST /upload:…) and put the returned handle (h) in example.header_handle."
            ));
            return Err(a);
        }
    }
    for c in components.iter().filter(|c| kind_is(c, "BODY")) {
        let expected = crate::types::template_variables(c["text"].as_str().unwrap_or_default());
        if expected == 0 {
            continue;
        }
        let got = c["example"]["body_text"][0].as_array().map(Vec::len);
        if got != Some(expected) {
            let got = got.map_or("none".to_string(), |n| n.to_string());
            let mut a = meta_error(
                400,
                100,
                Some(2388043),
                "OAuthException",
                "Invalid parameter",
                None,
            );
            a.body["error"]["error_user_title"] = json!("Message template invalid");
            a.body["error"]["error_user_msg"] = json!(format!(
                "The body has {expected} variables, so example.body_text[0] needs {expected} sample values (got {got})."
            ));
            return Err(a);
        }
    }
    Ok(())
}

/// Checks a template send against the stored template; `Err` is Meta's answer.
fn check_template(templates: &[StoredTemplate], t: &Value) -> Result<String, Answer> {
    let name = t["name"].as_str().unwrap_or_default();
    let lang = t["language"]["code"].as_str().unwrap_or_default();
    let Some(stored) = templates
        .iter()
        .find(|s| s.name == name && s.language == lang && s.status == "APPROVED")
    else {
        return Err(meta_error(
            404,
            132001,
            None,
            "OAuthException",
            "(#132001) Template name does not exist in the translation",
            Some(&format!("template name ({name}) does not exist in {lang}")),
        ));
    };
    let sent = t["components"].as_array().cloned().unwrap_or_default();
    let sent_of = |kind: &str| {
        sent.iter()
            .find(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
            .cloned()
    };
    for comp in &stored.components {
        let kind = comp["type"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match (kind.as_str(), comp["format"].as_str()) {
            ("HEADER", Some("DOCUMENT")) => {
                let ok = sent_of("header")
                    .and_then(|h| h["parameters"].as_array().cloned())
                    .is_some_and(|p| {
                        p.len() == 1
                            && p[0]["type"] == "document"
                            && (p[0]["document"]["id"].is_string()
                                || p[0]["document"]["link"].is_string())
                    });
                if !ok {
                    return Err(meta_error(
                        400,
                        132012,
                        None,
                        "OAuthException",
                        "(#132012) Parameter format does not match format in the created template",
                        Some("header: Format mismatch, expected DOCUMENT, received UNKNOWN"),
                    ));
                }
            }
            ("BODY", _) => {
                let expected =
                    crate::types::template_variables(comp["text"].as_str().unwrap_or_default());
                let got = sent_of("body")
                    .and_then(|b| b["parameters"].as_array().map(Vec::len))
                    .unwrap_or(0);
                if expected != got {
                    return Err(meta_error(400, 132000, None, "OAuthException",
                        "(#132000) Number of parameters does not match the expected number of params",
                        Some(&format!("body: number of localizable_params ({got}) does not match the expected number of params ({expected})"))));
                }
            }
            _ => {}
        }
    }
    Ok(stored.category.to_lowercase())
}

async fn send_message(
    State(sb): State<Sandbox>,
    Path((_v, pnid)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let answer = async {
        let lost = match sb.pick_fault_for(Some(&pnid), true) {
            Some(Fault::LostResponse) => true,
            Some(other) => return sb.serve_fault(&other).await,
            None => false,
        };
        let answer = accept_message(&sb, &pnid, &headers, parsed.as_ref());
        if lost {
            // Meta took the message; the answer never arrives.
            return sb.serve_fault(&Fault::LostResponse).await;
        }
        answer
    }
    .await;
    sb.respond(
        "/{Version}/{Phone-Number-ID}/messages",
        "post",
        q,
        Some("application/json".into()),
        parsed,
        answer,
    )
}

/// Validates, rate-limits and accepts one message (recorded in `sent`, status webhooks
/// scheduled); the answer is Meta's.
fn accept_message(sb: &Sandbox, pnid: &str, headers: &HeaderMap, parsed: Option<&Value>) -> Answer {
    let pnid = pnid.to_string();
    let token = match sb.authenticate(headers) {
        Ok(t) => t,
        Err(a) => return a,
    };
    let Some(msg) = parsed.cloned() else {
        return meta_error(
            400,
            100,
            None,
            "OAuthException",
            "(#100) The request body is not valid JSON.",
            None,
        );
    };
    let mut st = sb.inner.state.lock();
    let Some(number) = st
        .numbers
        .get(&pnid)
        .filter(|n| n.waba_id == token.waba_id)
        .cloned()
    else {
        return unknown_object(&pnid);
    };
    if msg["messaging_product"] != "whatsapp" {
        return meta_error(
            400,
            100,
            None,
            "OAuthException",
            "(#100) The parameter messaging_product is required.",
            None,
        );
    }
    let to_raw = msg["to"].as_str().unwrap_or_default().to_string();
    let wa_id: String = to_raw.chars().filter(char::is_ascii_digit).collect();
    if wa_id.len() < 8 || wa_id.len() > 15 {
        return meta_error(
            400,
            131009,
            None,
            "OAuthException",
            "(#131009) Parameter value is not valid",
            Some("The 'to' phone number is not a valid WhatsApp phone number."),
        );
    }
    if wa_id == number.display_phone_number {
        return meta_error(
            400,
            131021,
            None,
            "OAuthException",
            "(#131021) Recipient cannot be sender",
            Some("Sender and recipient phone number is the same."),
        );
    }
    let kind = msg["type"].as_str().unwrap_or("text").to_string();
    let category = match kind.as_str() {
        "text" => {
            if msg["text"]["body"].as_str().is_none_or(str::is_empty) {
                return meta_error(
                    400,
                    131008,
                    None,
                    "OAuthException",
                    "(#131008) Required parameter is missing",
                    Some("The parameter text['body'] is required."),
                );
            }
            "service".to_string()
        }
        "document" => {
            let doc = &msg["document"];
            match (doc["id"].as_str(), doc["link"].as_str()) {
                (Some(_), Some(_)) => {
                    return meta_error(
                        400,
                        131009,
                        None,
                        "OAuthException",
                        "(#131009) Parameter value is not valid",
                        Some("Use either id or link for a document, not both."),
                    );
                }
                (Some(id), None) if st.media.get(id).is_none_or(|m| m.phone_number_id != pnid) => {
                    return meta_error(
                        400,
                        131009,
                        None,
                        "OAuthException",
                        "(#131009) Parameter value is not valid",
                        Some(&format!(
                            "Media id {id} is not valid for this phone number."
                        )),
                    );
                }
                (None, None) => {
                    return meta_error(
                        400,
                        131008,
                        None,
                        "OAuthException",
                        "(#131008) Required parameter is missing",
                        Some("The parameter document['id'] or document['link'] is required."),
                    );
                }
                _ => {}
            }
            if doc["caption"]
                .as_str()
                .is_some_and(|c| c.chars().count() > 1024)
            {
                return meta_error(
                    400,
                    131009,
                    None,
                    "OAuthException",
                    "(#131009) Parameter value is not valid",
                    Some("Captions can be at most 1024 characters."),
                );
            }
            "service".to_string()
        }
        "template" => match check_template(
            st.templates
                .get(&number.waba_id)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
            &msg["template"],
        ) {
            Ok(cat) => cat,
            Err(a) => return a,
        },
        other => {
            return meta_error(
                400,
                131051,
                None,
                "OAuthException",
                "(#131051) Unsupported message type",
                Some(&format!(
                    "Message type {other} is not supported by the sandbox."
                )),
            );
        }
    };

    // Throughput per number, then the pair limit per recipient.
    let (limit, burst, interval) = {
        let c = sb.inner.config.lock();
        (c.throughput_per_sec, c.pair_burst, c.pair_interval)
    };
    let now = Instant::now();
    let window = st.throughput.entry(pnid.clone()).or_insert((now, 0));
    if now.duration_since(window.0) >= Duration::from_secs(1) {
        *window = (now, 0);
    }
    if window.1 >= limit {
        Counters::bump(&sb.inner.counters.throughput_refusals);
        return fault_answer(&Fault::Api {
            code: 130429,
            subcode: None,
            status: 400,
        });
    }
    let bucket = st
        .pair
        .entry((pnid.clone(), wa_id.clone()))
        .or_insert((burst as f64, now));
    let refill = now.duration_since(bucket.1).as_secs_f64() / interval.as_secs_f64().max(0.001);
    *bucket = ((bucket.0 + refill).min(burst as f64), now);
    if bucket.0 < 1.0 {
        Counters::bump(&sb.inner.counters.pair_refusals);
        return fault_answer(&Fault::Api {
            code: 131056,
            subcode: None,
            status: 400,
        });
    }
    bucket.0 -= 1.0;
    st.throughput.get_mut(&pnid).expect("window").1 += 1;

    let wamid = format!("wamid.SBX{}", numeric_id());
    let callback = msg["biz_opaque_callback_data"].as_str().map(str::to_string);
    let window_open = st
        .last_inbound
        .get(&(pnid.clone(), wa_id.clone()))
        .is_some_and(|at| unix_now() - at < 24 * 3600);
    st.sent.push(SentRecord {
        wamid: wamid.clone(),
        phone_number_id: pnid.clone(),
        to: to_raw.clone(),
        kind: kind.clone(),
        body: msg.clone(),
        callback: callback.clone(),
        at: unix_now(),
    });
    if st.sent.len() > 100_000 {
        st.sent.drain(..10_000);
    }
    Counters::bump(&sb.inner.counters.accepted);
    let outcome = if wa_id.ends_with("0000") {
        Outcome::Failed(131026)
    } else if kind != "template" && !window_open {
        Outcome::Failed(131047)
    } else {
        Outcome::Delivered
    };
    let has_app = st.apps.contains_key(&number.app_id);
    drop(st);
    if has_app {
        let pricing = match (kind.as_str(), window_open) {
            ("template", false) => {
                json!({ "billable": true, "pricing_model": "PMP", "type": "regular", "category": category })
            }
            (_, _) => {
                json!({ "billable": false, "pricing_model": "PMP", "type": "free_customer_service", "category": category })
            }
        };
        let ctx = StatusCtx {
            sb: sb.clone(),
            number,
            pnid: pnid.clone(),
            wamid: wamid.clone(),
            wa_id: wa_id.clone(),
            callback,
            pricing,
        };
        tokio::spawn(ctx.play(outcome));
    }
    let mut reply = json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": to_raw, "wa_id": wa_id }],
        "messages": [{ "id": wamid }],
    });
    if kind == "template" {
        reply["messages"][0]["message_status"] = json!("accepted");
    }
    Answer::ok(reply)
}

enum Outcome {
    Delivered,
    Failed(i64),
}

struct StatusCtx {
    sb: Sandbox,
    number: super::state::Number,
    pnid: String,
    wamid: String,
    wa_id: String,
    callback: Option<String>,
    pricing: Value,
}

impl StatusCtx {
    async fn play(self, outcome: Outcome) {
        let (delay, shuffle, duplicate) = {
            let c = self.sb.inner.config.lock();
            (c.status_delay, c.shuffle_statuses, c.duplicate_statuses)
        };
        let steps: Vec<Value> = match outcome {
            Outcome::Delivered => ["sent", "delivered", "read"]
                .iter()
                .map(|s| self.status(s, None))
                .collect(),
            Outcome::Failed(code) => vec![self.status("failed", Some(code))],
        };
        let steps = status_chaos(steps, shuffle, duplicate, &mut rand::thread_rng());
        for status in steps {
            tokio::time::sleep(delay).await;
            let value = json!({
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": self.number.display_phone_number, "phone_number_id": self.pnid },
                "statuses": [status],
            });
            post_webhook(
                &self.sb,
                &self.number.app_id,
                &self.number.waba_id,
                "messages",
                value,
            )
            .await;
        }
    }

    fn status(&self, status: &str, error: Option<i64>) -> Value {
        let mut s = json!({
            "id": self.wamid,
            "status": status,
            "timestamp": unix_now().to_string(),
            "recipient_id": self.wa_id,
        });
        if let Some(cb) = &self.callback {
            s["biz_opaque_callback_data"] = json!(cb);
        }
        match error {
            None => s["pricing"] = self.pricing.clone(),
            Some(code) => {
                let (title, details) = match code {
                    131047 => ("Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number."),
                    131026 => ("Message undeliverable", "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number; the recipient has not accepted WhatsApp's new Terms of Service; the recipient is using an old WhatsApp version."),
                    _ => ("Message failed", "Message failed to send."),
                };
                s["errors"] = json!([{ "code": code, "title": title, "message": title,
                    "error_data": { "details": details },
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/" }]);
            }
        }
        s
    }
}

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

/// The order status webhooks go out in: each twice with `duplicate`, any order with `shuffle`.
fn status_chaos<T: Clone>(
    steps: Vec<T>,
    shuffle: bool,
    duplicate: bool,
    rng: &mut impl Rng,
) -> Vec<T> {
    let mut steps: Vec<T> = if duplicate {
        steps.into_iter().flat_map(|s| [s.clone(), s]).collect()
    } else {
        steps
    };
    if shuffle {
        steps.shuffle(rng);
    }
    steps
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
async fn post_webhook(sb: &Sandbox, app_id: &str, waba_id: &str, field: &str, value: Value) {
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
async fn deliver(sb: &Sandbox, secret: &str, url: &str, body: &str) -> Result<(), String> {
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

/// Meta's "Verify and save": a GET to the app's callback URL with `hub.mode=subscribe`, the
/// verify token and a challenge, which must come back as the whole body of a 200.
pub(super) async fn verify_webhook(
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
pub(super) async fn send_test_event(sb: &Sandbox, app_id: &str) -> Result<(), String> {
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

pub(super) fn inbound(sb: Sandbox, pnid: &str, from: &str, text: &str) {
    let wa_id: String = from.chars().filter(char::is_ascii_digit).collect();
    let number = {
        let mut st = sb.inner.state.lock();
        st.last_inbound
            .insert((pnid.to_string(), wa_id.clone()), unix_now());
        let Some(number) = st.numbers.get(pnid).cloned() else {
            return;
        };
        number
    };
    let value = json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": number.display_phone_number, "phone_number_id": pnid },
        "contacts": [{ "profile": { "name": "Sandbox tenant" }, "wa_id": wa_id }],
        "messages": [{ "from": wa_id, "id": format!("wamid.SBXIN{}", numeric_id()), "timestamp": unix_now().to_string(),
                       "type": "text", "text": { "body": text } }],
    });
    let waba = number.waba_id.clone();
    tokio::spawn(async move { post_webhook(&sb, &number.app_id, &waba, "messages", value).await });
}

async fn list_templates(
    State(sb): State<Sandbox>,
    Path((_v, waba)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
) -> Response {
    let answer = async {
        if let Err(a) = sb.admit_waba(&headers, &waba).await {
            return a;
        }
        let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        let limit: usize = get("limit").and_then(|l| l.parse().ok()).unwrap_or(25).clamp(1, 100);
        let offset: usize = get("after").and_then(|a| a.strip_prefix("off").and_then(|n| n.parse().ok())).unwrap_or(0);
        let st = sb.inner.state.lock();
        let all = st.templates.get(&waba).cloned().unwrap_or_default();
        let page: Vec<Value> = all
            .iter()
            .skip(offset)
            .take(limit)
            .map(|t| json!({ "id": t.id, "name": t.name, "language": t.language, "status": t.status, "category": t.category, "components": t.components }))
            .collect();
        let mut paging = json!({ "cursors": { "before": format!("off{offset}"), "after": format!("off{}", offset + page.len()) } });
        if offset + page.len() < all.len() {
            paging["next"] = json!(format!("https://graph.facebook.com/v23.0/{waba}/message_templates?limit={limit}&after=off{}", offset + page.len()));
        }
        Answer::ok(json!({ "data": page, "paging": paging }))
    }
    .await;
    sb.respond(
        "/{Version}/{WABA-ID}/message_templates",
        "get",
        q,
        None,
        None,
        answer,
    )
}

async fn create_template(
    State(sb): State<Sandbox>,
    Path((_v, waba)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let answer = async {
        let token = match sb.admit_waba(&headers, &waba).await {
            Ok(t) => t,
            Err(a) => return a,
        };
        let Some(t) = parsed.clone() else {
            return meta_error(400, 100, None, "OAuthException", "(#100) The request body is not valid JSON.", None);
        };
        let name = t["name"].as_str().unwrap_or_default().to_string();
        let language = t["language"].as_str().unwrap_or_default().to_string();
        let category = t["category"].as_str().unwrap_or_default().to_ascii_uppercase();
        let components = t["components"].as_array().cloned().unwrap_or_default();
        let invalid = |msg: &str| {
            let mut a = meta_error(400, 100, Some(2388043), "OAuthException", "Invalid parameter", None);
            a.body["error"]["error_user_title"] = json!("Message template invalid");
            a.body["error"]["error_user_msg"] = json!(msg);
            a
        };
        if name.is_empty() || name.len() > 512 || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return invalid("Template names may contain only lower-case letters, digits and underscores.");
        }
        if !["UTILITY", "MARKETING", "AUTHENTICATION"].contains(&category.as_str()) {
            return invalid("Category must be UTILITY, MARKETING or AUTHENTICATION.");
        }
        let body_text = components.iter().find(|c| c["type"] == "BODY").and_then(|c| c["text"].as_str()).unwrap_or_default();
        if body_text.is_empty() || body_text.chars().count() > 1024 {
            return invalid("The body is required and can be at most 1024 characters.");
        }
        if body_text.trim_start().starts_with("{{") || body_text.trim_end().ends_with("}}") {
            return invalid("The body cannot start or end with a variable.");
        }
        let mut st = sb.inner.state.lock();
        let issued = |h: &str| {
            st.handles
                .get(h)
                .filter(|f| f.app_id == token.app_id)
                .map(|f| f.mime_type.clone())
        };
        if let Err(a) = check_examples(&components, issued) {
            return a;
        }
        let list = st.templates.entry(waba.clone()).or_default();
        if list.iter().any(|x| x.name == name && x.language == language) {
            let mut a = meta_error(400, 100, Some(2388024), "OAuthException", "Invalid parameter", None);
            a.body["error"]["error_user_title"] = json!("Message template already exists");
            a.body["error"]["error_user_msg"] = json!(format!("There is already {language} content for this template. You can create a new template and try again."));
            return a;
        }
        let id = numeric_id();
        list.push(StoredTemplate { id: id.clone(), name: name.clone(), language: language.clone(), status: "PENDING".into(), category: category.clone(), components });
        let app_id = token.app_id.clone();
        drop(st);
        let review = sb.inner.config.lock().template_review;
        let sb2 = sb.clone();
        let (id2, waba2) = (id.clone(), waba.clone());
        tokio::spawn(async move {
            tokio::time::sleep(review).await;
            let verdict = if name.contains("reject") { "REJECTED" } else { "APPROVED" };
            if let Some(t) = sb2.inner.state.lock().templates.get_mut(&waba2).and_then(|l| l.iter_mut().find(|t| t.id == id2)) {
                t.status = verdict.into();
            }
            let value = json!({ "event": verdict, "message_template_id": id2.parse::<i64>().unwrap_or_default(),
                "message_template_name": name, "message_template_language": language,
                "reason": if verdict == "REJECTED" { "INVALID_FORMAT" } else { "NONE" } });
            post_webhook(&sb2, &app_id, &waba2, "message_template_status_update", value).await;
        });
        Answer::ok(json!({ "id": id, "status": "PENDING", "category": category }))
    }
    .await;
    sb.respond(
        "/{Version}/{WABA-ID}/message_templates",
        "post",
        q,
        Some("application/json".into()),
        parsed,
        answer,
    )
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
    fn base64_like_metas_handles() {
        assert_eq!(base64_unpadded(b"application/pdf"), "YXBwbGljYXRpb24vcGRm");
        assert_eq!(base64_unpadded(b"image/jpg"), "aW1hZ2UvanBn");
        assert_eq!(base64_unpadded(b"image/png"), "aW1hZ2UvcG5n");
        assert_eq!(base64_unpadded(b"video/mp4"), "dmlkZW8vbXA0");
        assert_eq!(base64_unpadded(b"image/jpeg"), "aW1hZ2UvanBlZw");
        assert_eq!(base64_unpadded(b"ab"), "YWI");
        assert_eq!(base64_unpadded(b""), "");
    }

    #[test]
    fn upload_parameters() {
        assert_eq!(
            upload_params(Some("a.pdf"), Some("12"), Some("application/pdf")),
            Ok(("a.pdf".into(), 12, "application/pdf".into()))
        );
        let err =
            |n: Option<&str>, l: Option<&str>, t: Option<&str>| upload_params(n, l, t).unwrap_err();
        let pdf = Some("application/pdf");
        assert!(err(None, Some("1"), pdf).contains("file_name"));
        assert!(err(Some(" "), Some("1"), pdf).contains("file_name"));
        assert!(err(Some("a"), None, pdf).contains("file_length is required"));
        for bad in ["0", "-1", "ten", "1.5"] {
            assert!(
                err(Some("a"), Some(bad), pdf).contains("positive integer"),
                "{bad}"
            );
        }
        assert!(err(Some("a"), Some("999999999999"), pdf).contains("at most"));
        assert!(err(Some("a"), Some("1"), None).contains("file_type is required"));
        assert!(err(Some("a"), Some("1"), Some("text/plain")).contains("must be one of"));
    }

    #[test]
    fn template_examples() {
        let issued = |h: &str| match h {
            "pdf" => Some("application/pdf".to_string()),
            "png" => Some("image/png".to_string()),
            _ => None,
        };
        let header = |format: &str, handle: &str| json!({ "type": "HEADER", "format": format, "example": { "header_handle": [handle] } });
        let body = json!({ "type": "BODY", "text": "Hi {{1}} and {{2}}", "example": { "body_text": [["a", "b"]] } });
        let subcode = |r: Result<(), Answer>| r.unwrap_err().body["error"]["error_subcode"].clone();

        assert!(check_examples(&[header("DOCUMENT", "pdf"), body.clone()], issued).is_ok());
        assert!(check_examples(&[header("IMAGE", "png"), body.clone()], issued).is_ok());
        assert!(check_examples(&[header("TEXT", ""), body.clone()], issued).is_ok());
        for h in ["png", "unknown", ""] {
            assert_eq!(
                subcode(check_examples(
                    &[header("DOCUMENT", h), body.clone()],
                    issued
                )),
                json!(2388273),
                "{h}"
            );
        }
        assert_eq!(
            subcode(check_examples(&[header("VIDEO", "pdf")], issued)),
            json!(2388273)
        );
        let lower = json!({ "type": "header", "format": "document" });
        let err = check_examples(&[lower], issued).unwrap_err();
        assert_eq!(
            err.body["error"]["error_user_title"],
            "Invalid header example"
        );

        let mut short = body.clone();
        short["example"]["body_text"][0] = json!(["a"]);
        let err = check_examples(&[short], issued).unwrap_err();
        assert_eq!(err.body["error"]["code"], 100);
        assert!(err.body["error"]["error_user_msg"]
            .as_str()
            .unwrap()
            .contains("needs 2 sample values (got 1)"));
        let mut missing = body;
        missing.as_object_mut().unwrap().remove("example");
        assert!(check_examples(&[missing], issued).is_err());
        let plain = json!({ "type": "BODY", "text": "No variables." });
        assert!(check_examples(&[plain], issued).is_ok());
    }

    #[test]
    fn status_order_chaos() {
        use rand::{rngs::StdRng, SeedableRng};
        let steps = vec!["sent", "delivered", "read"];
        let mut rng = StdRng::seed_from_u64(7);
        assert_eq!(status_chaos(steps.clone(), false, false, &mut rng), steps);
        assert_eq!(
            status_chaos(steps.clone(), false, true, &mut rng),
            ["sent", "sent", "delivered", "delivered", "read", "read"]
        );
        let mut orders = std::collections::HashSet::new();
        for _ in 0..50 {
            let mut out = status_chaos(steps.clone(), true, false, &mut rng);
            orders.insert(out.clone());
            out.sort();
            assert_eq!(out, ["delivered", "read", "sent"]);
        }
        assert!(orders.len() > 3, "{orders:?}");
        let mut both = status_chaos(steps.clone(), true, true, &mut rng);
        both.sort();
        assert_eq!(
            both,
            ["delivered", "delivered", "read", "read", "sent", "sent"]
        );
    }

    #[test]
    fn webhook_backoff_doubles_to_five_seconds() {
        let ms: Vec<u128> = (0..8).map(|a| webhook_backoff(a).as_millis()).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(webhook_backoff(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn random_faults_are_mixed_evenly() {
        use rand::{rngs::StdRng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(42);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..5000 {
            *counts
                .entry(format!("{:?}", random_fault(&mut rng)))
                .or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 5, "{counts:?}");
        assert!(
            counts.values().all(|n| (800..1200).contains(n)),
            "{counts:?}"
        );
        assert!(counts.contains_key("LostResponse"));
    }
}

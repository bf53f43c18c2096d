//! The sandbox's Graph API endpoints.

use super::{
    state::{numeric_id, unix_now, Exchange, Fault, Media, SentRecord, StoredTemplate},
    Sandbox,
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
use rand::Rng;
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

pub(super) fn router(sb: Sandbox) -> Router {
    Router::new()
        .route("/{version}/debug_token", get(debug_token))
        .route("/{version}/{id}", get(get_node))
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
    meta_error(
        400,
        100,
        Some(33),
        "GraphMethodException",
        &format!(
            "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, \
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
        Fault::Slow => meta_error(
            504,
            2,
            None,
            "OAuthException",
            "Service temporarily unavailable",
            None,
        ),
    }
}

impl Sandbox {
    /// An injected or random fault for this call, if any; holds the answer for a slow fault.
    async fn fault(&self, phone_number_id: Option<&str>) -> Option<Answer> {
        let picked = {
            let mut st = self.inner.state.lock();
            let pos = st
                .faults
                .iter()
                .position(|(scope, _)| scope.is_none() || scope.as_deref() == phone_number_id);
            pos.and_then(|i| st.faults.remove(i)).map(|(_, f)| f)
        };
        let picked = picked.or_else(|| {
            let rate = self.inner.config.lock().fault_rate;
            let mut rng = rand::thread_rng();
            (rate > 0.0 && rng.gen_bool(rate.min(1.0))).then(|| match rng.gen_range(0..4) {
                0 => Fault::ServerError,
                1 => Fault::BadGateway,
                2 => Fault::Api {
                    code: 130429,
                    subcode: None,
                    status: 400,
                },
                _ => Fault::Slow,
            })
        })?;
        if picked == Fault::Slow {
            let delay = self.inner.config.lock().slow_delay;
            tokio::time::sleep(delay).await;
        }
        Some(fault_answer(&picked))
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
        let app_ok = st.apps.get(app_id).is_some_and(|a| a.secret.as_bytes().len() == secret.len() && subtle::ConstantTimeEq::ct_eq(a.secret.as_bytes(), secret.as_bytes()).into());
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
    let spec_path = if is_media {
        "/{Version}/{Media-ID}"
    } else {
        "/{Version}/{Phone-Number-ID}"
    };
    let answer = async {
        if let Some(a) = sb.fault(Some(&id)).await {
            return a;
        }
        let token = match sb.authenticate(&headers) {
            Ok(t) => t,
            Err(a) => return a,
        };
        let st = sb.inner.state.lock();
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
        if let Some(a) = sb.fault(None).await {
            return a;
        }
        let token = match sb.authenticate(&headers) {
            Ok(t) => t,
            Err(a) => return a,
        };
        if token.waba_id != waba {
            return unknown_object(&waba);
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
        if let Some(a) = sb.fault(Some(&pnid)).await {
            return a;
        }
        let token = match sb.authenticate(&headers) {
            Ok(t) => t,
            Err(a) => return a,
        };
        if !sb
            .inner
            .state
            .lock()
            .numbers
            .get(&pnid)
            .is_some_and(|n| n.waba_id == token.waba_id)
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

fn placeholders(text: &str) -> usize {
    let mut n = 0;
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        rest = &rest[i + 2..];
        if let Some(j) = rest.find("}}") {
            n += 1;
            rest = &rest[j + 2..];
        }
    }
    n
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
                let expected = placeholders(comp["text"].as_str().unwrap_or_default());
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
        if let Some(a) = sb.fault(Some(&pnid)).await {
            return a;
        }
        let token = match sb.authenticate(&headers) {
            Ok(t) => t,
            Err(a) => return a,
        };
        let Some(msg) = parsed.clone() else {
            return meta_error(400, 100, None, "OAuthException", "(#100) The request body is not valid JSON.", None);
        };
        let mut st = sb.inner.state.lock();
        let Some(number) = st.numbers.get(&pnid).filter(|n| n.waba_id == token.waba_id).cloned() else {
            return unknown_object(&pnid);
        };
        if msg["messaging_product"] != "whatsapp" {
            return meta_error(400, 100, None, "OAuthException", "(#100) The parameter messaging_product is required.", None);
        }
        let to_raw = msg["to"].as_str().unwrap_or_default().to_string();
        let wa_id: String = to_raw.chars().filter(char::is_ascii_digit).collect();
        if wa_id.len() < 8 || wa_id.len() > 15 {
            return meta_error(400, 131009, None, "OAuthException", "(#131009) Parameter value is not valid",
                Some("The 'to' phone number is not a valid WhatsApp phone number."));
        }
        if wa_id == number.display_phone_number {
            return meta_error(400, 131021, None, "OAuthException", "(#131021) Recipient cannot be sender",
                Some("Sender and recipient phone number is the same."));
        }
        let kind = msg["type"].as_str().unwrap_or("text").to_string();
        let category = match kind.as_str() {
            "text" => {
                if msg["text"]["body"].as_str().is_none_or(str::is_empty) {
                    return meta_error(400, 131008, None, "OAuthException", "(#131008) Required parameter is missing",
                        Some("The parameter text['body'] is required."));
                }
                "service".to_string()
            }
            "document" => {
                let doc = &msg["document"];
                match (doc["id"].as_str(), doc["link"].as_str()) {
                    (Some(_), Some(_)) => {
                        return meta_error(400, 131009, None, "OAuthException", "(#131009) Parameter value is not valid",
                            Some("Use either id or link for a document, not both."));
                    }
                    (Some(id), None) if !st.media.get(id).is_some_and(|m| m.phone_number_id == pnid) => {
                        return meta_error(400, 131009, None, "OAuthException", "(#131009) Parameter value is not valid",
                            Some(&format!("Media id {id} is not valid for this phone number.")));
                    }
                    (None, None) => {
                        return meta_error(400, 131008, None, "OAuthException", "(#131008) Required parameter is missing",
                            Some("The parameter document['id'] or document['link'] is required."));
                    }
                    _ => {}
                }
                if doc["caption"].as_str().is_some_and(|c| c.chars().count() > 1024) {
                    return meta_error(400, 131009, None, "OAuthException", "(#131009) Parameter value is not valid",
                        Some("Captions can be at most 1024 characters."));
                }
                "service".to_string()
            }
            "template" => match check_template(st.templates.get(&number.waba_id).map(Vec::as_slice).unwrap_or(&[]), &msg["template"]) {
                Ok(cat) => cat,
                Err(a) => return a,
            },
            other => {
                return meta_error(400, 131051, None, "OAuthException", "(#131051) Unsupported message type",
                    Some(&format!("Message type {other} is not supported by the sandbox.")));
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
            return fault_answer(&Fault::Api { code: 130429, subcode: None, status: 400 });
        }
        let bucket = st.pair.entry((pnid.clone(), wa_id.clone())).or_insert((burst as f64, now));
        let refill = now.duration_since(bucket.1).as_secs_f64() / interval.as_secs_f64().max(0.001);
        *bucket = ((bucket.0 + refill).min(burst as f64), now);
        if bucket.0 < 1.0 {
            return fault_answer(&Fault::Api { code: 131056, subcode: None, status: 400 });
        }
        bucket.0 -= 1.0;
        st.throughput.get_mut(&pnid).expect("window").1 += 1;

        let wamid = format!("wamid.SBX{}", numeric_id());
        let callback = msg["biz_opaque_callback_data"].as_str().map(str::to_string);
        let window_open = st.last_inbound.get(&(pnid.clone(), wa_id.clone())).is_some_and(|at| unix_now() - at < 24 * 3600);
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
        let outcome = if wa_id.ends_with("0000") {
            Outcome::Failed(131026)
        } else if kind != "template" && !window_open {
            Outcome::Failed(131047)
        } else {
            Outcome::Delivered
        };
        let app = st.apps.get(&number.app_id).cloned();
        drop(st);
        if let Some(app) = app {
            let pricing = match (kind.as_str(), window_open) {
                ("template", false) => json!({ "billable": true, "pricing_model": "PMP", "type": "regular", "category": category }),
                (_, _) => json!({ "billable": false, "pricing_model": "PMP", "type": "free_customer_service", "category": category }),
            };
            let ctx = StatusCtx { sb: sb.clone(), app, number, pnid: pnid.clone(), wamid: wamid.clone(), wa_id: wa_id.clone(), callback, pricing };
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

enum Outcome {
    Delivered,
    Failed(i64),
}

struct StatusCtx {
    sb: Sandbox,
    app: super::state::App,
    number: super::state::Number,
    pnid: String,
    wamid: String,
    wa_id: String,
    callback: Option<String>,
    pricing: Value,
}

impl StatusCtx {
    async fn play(self, outcome: Outcome) {
        let delay = self.sb.inner.config.lock().status_delay;
        let steps: Vec<Value> = match outcome {
            Outcome::Delivered => ["sent", "delivered", "read"]
                .iter()
                .map(|s| self.status(s, None))
                .collect(),
            Outcome::Failed(code) => vec![self.status("failed", Some(code))],
        };
        for status in steps {
            tokio::time::sleep(delay).await;
            let value = json!({
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": self.number.display_phone_number, "phone_number_id": self.pnid },
                "statuses": [status],
            });
            post_webhook(&self.sb, &self.app, &self.number.waba_id, "messages", value).await;
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

async fn post_webhook(
    sb: &Sandbox,
    app: &super::state::App,
    waba_id: &str,
    field: &str,
    value: Value,
) {
    let Some(url) = app.webhook_url.clone() else {
        return;
    };
    let envelope = json!({ "object": "whatsapp_business_account", "entry": [{ "id": waba_id, "changes": [{ "field": field, "value": value }] }] });
    let body = meta_json(&envelope);
    let sig = signature::sign(app.secret.as_bytes(), body.as_bytes());
    // Meta retries failed deliveries with backoff; the sandbox tries a few times.
    for attempt in 0..4u32 {
        let res = sb
            .inner
            .http
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-hub-signature-256", &sig)
            .body(body.clone())
            .send()
            .await;
        match res {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::debug!(status = %r.status(), attempt, "sandbox webhook refused"),
            Err(e) => tracing::debug!(error = %e, attempt, "sandbox webhook not delivered"),
        }
        tokio::time::sleep(Duration::from_millis(250 * 2u64.pow(attempt))).await;
    }
}

pub(super) fn inbound(sb: Sandbox, pnid: &str, from: &str, text: &str) {
    let wa_id: String = from.chars().filter(char::is_ascii_digit).collect();
    let (number, app) = {
        let mut st = sb.inner.state.lock();
        st.last_inbound
            .insert((pnid.to_string(), wa_id.clone()), unix_now());
        let Some(number) = st.numbers.get(pnid).cloned() else {
            return;
        };
        let app = st.apps.get(&number.app_id).cloned();
        (number, app)
    };
    let Some(app) = app else { return };
    let value = json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": number.display_phone_number, "phone_number_id": pnid },
        "contacts": [{ "profile": { "name": "Sandbox tenant" }, "wa_id": wa_id }],
        "messages": [{ "from": wa_id, "id": format!("wamid.SBXIN{}", numeric_id()), "timestamp": unix_now().to_string(),
                       "type": "text", "text": { "body": text } }],
    });
    let waba = number.waba_id.clone();
    tokio::spawn(async move { post_webhook(&sb, &app, &waba, "messages", value).await });
}

async fn list_templates(
    State(sb): State<Sandbox>,
    Path((_v, waba)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
) -> Response {
    let answer = async {
        if let Some(a) = sb.fault(None).await {
            return a;
        }
        let token = match sb.authenticate(&headers) {
            Ok(t) => t,
            Err(a) => return a,
        };
        if token.waba_id != waba {
            return unknown_object(&waba);
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
        if let Some(a) = sb.fault(None).await {
            return a;
        }
        let token = match sb.authenticate(&headers) {
            Ok(t) => t,
            Err(a) => return a,
        };
        if token.waba_id != waba {
            return unknown_object(&waba);
        }
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
        let list = st.templates.entry(waba.clone()).or_default();
        if list.iter().any(|x| x.name == name && x.language == language) {
            let mut a = meta_error(400, 100, Some(2388024), "OAuthException", "Invalid parameter", None);
            a.body["error"]["error_user_title"] = json!("Message template already exists");
            a.body["error"]["error_user_msg"] = json!(format!("There is already {language} content for this template. You can create a new template and try again."));
            return a;
        }
        let id = numeric_id();
        list.push(StoredTemplate { id: id.clone(), name: name.clone(), language: language.clone(), status: "PENDING".into(), category: category.clone(), components });
        let app = st.apps.values().find(|_| true).cloned();
        let app = st.numbers.values().find(|n| n.waba_id == waba).and_then(|n| st.apps.get(&n.app_id).cloned()).or(app);
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
            if let Some(app) = app {
                let value = json!({ "event": verdict, "message_template_id": id2.parse::<i64>().unwrap_or_default(),
                    "message_template_name": name, "message_template_language": language,
                    "reason": if verdict == "REJECTED" { "INVALID_FORMAT" } else { "NONE" } });
                post_webhook(&sb2, &app, &waba2, "message_template_status_update", value).await;
            }
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
    fn counts_placeholders() {
        assert_eq!(
            placeholders("Hi {{1}}, invoice {{2}} for {{3}} is attached."),
            3
        );
        assert_eq!(placeholders("no vars"), 0);
    }
}

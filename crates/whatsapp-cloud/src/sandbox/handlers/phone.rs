//! Phone-number nodes: `GET /{phone-number-id}` (the node's fields) and
//! `GET /{waba-id}/phone_numbers` (every number of a WhatsApp Business Account).

use super::{meta_error, unknown_object, Answer, Q};
use crate::sandbox::{
    state::{Number, State as SandboxState, Token},
    Sandbox,
};
use axum::{
    extract::{Path, Query, State},
    http::HeaderMap,
    response::Response,
};
use serde_json::{json, Value};

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
    "is_on_biz_app",
];

fn phone_node(id: &str, n: &Number) -> Value {
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
        "is_on_biz_app": n.shared_with_app,
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
fn select_fields(id: &str, n: &Number, fields: Option<&str>) -> Result<Value, Answer> {
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

/// `GET /{phone-number-id}` (routed by [`super::get_node`]): the number's requested `fields`,
/// if it belongs to the token's WhatsApp Business Account.
pub(super) fn number_node(
    st: &SandboxState,
    token: &Token,
    id: &str,
    fields: Option<&str>,
) -> Answer {
    let Some(n) = st.numbers.get(id).filter(|n| n.waba_id == token.waba_id) else {
        return unknown_object(id);
    };
    select_fields(id, n, fields)
        .map(Answer::ok)
        .unwrap_or_else(|e| e)
}

pub(super) async fn phone_numbers(
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

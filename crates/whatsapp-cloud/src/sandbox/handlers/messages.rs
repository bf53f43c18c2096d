//! Messages: `POST /{phone-number-id}/messages` (text, document and template messages), and
//! the inbound messages of [`Sandbox::simulate_inbound`] that open the 24-hour window.
//!
//! A send is answered at once; how it ends (delivered and read, or failed) comes later by status
//! webhook, as with Meta: a message outside the window is accepted here and fails with 131047.

use super::{
    faults::fault_answer,
    meta_error,
    statuses::{Outcome, StatusCtx},
    templates::check_template,
    unknown_object,
    webhooks::post_webhook,
    Answer, Q,
};
use crate::sandbox::{
    state::{numeric_id, unix_now, Fault, Number, SentRecord, State as SandboxState},
    Counters, Sandbox,
};
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::HeaderMap,
    response::Response,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub(super) async fn send_message(
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
            if (200..300).contains(&answer.status) {
                // Meta took the message; the answer never arrives.
                return sb.serve_fault(&Fault::LostResponse).await;
            }
            // Meta refused this one (a rate limit, a bad number): there is no message whose
            // answer could be lost, so the refusal is answered and the lost answer waits for the
            // next message Meta takes.
            sb.unpick_lost_answer(&pnid);
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
    accept(sb, pnid, headers, parsed).unwrap_or_else(|refusal| refusal)
}

/// The steps of [`accept_message`], in Meta's order; the first refusal is the `Err`.
fn accept(
    sb: &Sandbox,
    pnid: &str,
    headers: &HeaderMap,
    parsed: Option<&Value>,
) -> Result<Answer, Answer> {
    let token = sb.authenticate(headers)?;
    let msg = parsed.cloned().ok_or_else(|| {
        meta_error(
            400,
            100,
            None,
            "OAuthException",
            "(#100) The request body is not valid JSON.",
            None,
        )
    })?;
    let mut st = sb.inner.state.lock();
    let number = st
        .numbers
        .get(pnid)
        .filter(|n| n.waba_id == token.waba_id)
        .cloned()
        .ok_or_else(|| unknown_object(pnid))?;
    if msg["messaging_product"] != "whatsapp" {
        return Err(meta_error(
            400,
            100,
            None,
            "OAuthException",
            "(#100) The parameter messaging_product is required.",
            None,
        ));
    }
    let to = check_recipient(&msg, &number)?;
    let kind = msg["type"].as_str().unwrap_or("text").to_string();
    let category = check_kind(&st, pnid, &number, &kind, &msg)?;
    check_rate_limits(sb, &mut st, pnid, &to.wa_id)?;

    let window_open = window_open(&st, pnid, &to.wa_id);
    let callback = msg["biz_opaque_callback_data"].as_str().map(str::to_string);
    let wamid = record(sb, &mut st, pnid, &to, &kind, &msg, callback.clone());
    let outcome = outcome(&to.wa_id, &kind, window_open);
    let has_app = st.apps.contains_key(&number.app_id);
    drop(st);
    // A user id in `to`: Meta answers 200 with a wamid and drops the message, with no status.
    if has_app && !to.dropped {
        let ctx = StatusCtx {
            sb: sb.clone(),
            number,
            pnid: pnid.to_string(),
            wamid: wamid.clone(),
            wa_id: to.phone.clone(),
            user_id: to.user_id.clone(),
            callback,
            pricing: pricing(&category),
        };
        tokio::spawn(ctx.play(outcome));
    }
    Ok(reply(&to, &wamid, &kind))
}

/// Who a message is for: `to` as sent, and its digits (the WhatsApp id Meta answers with).
struct Recipient {
    /// What was sent, as Meta echoes it in `contacts[].input`.
    input: String,
    /// The customer's key in the sandbox (windows, pair limits): the phone's digits, or the
    /// user id for a customer reached by it.
    wa_id: String,
    /// The phone's digits, when the message went by phone.
    phone: Option<String>,
    /// The customer's business-scoped user id.
    user_id: String,
    /// True when a user id came in `to`: Meta strips its prefix, reads the rest as a number,
    /// answers 200 with a wamid and never delivers it.
    dropped: bool,
}

/// The user id the sandbox gives the customer with this WhatsApp id (stable, so a status and an
/// inbound message about the same person agree).
pub(in crate::sandbox) fn user_id_for(wa_id: &str) -> String {
    let cc = match wa_id {
        w if w.starts_with("44") => "GB",
        w if w.starts_with("49") => "DE",
        w if w.starts_with('1') => "US",
        _ => "ZZ",
    };
    // FNV-1a: deterministic, no dependency.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in wa_id.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!(
        "{cc}.{}",
        10_000_000_000_000_000_000u64.wrapping_add(h % 8_000_000_000_000_000_000)
    )
}

/// The recipient, as Meta reads it since 2026: `to` (a phone number, 8 to 15 digits, 131009; not
/// the sending number, 131021) wins over `recipient` (a business-scoped user id, code 100 when
/// malformed). A user id in `to` is "accepted" and dropped.
fn check_recipient(msg: &Value, number: &Number) -> Result<Recipient, Answer> {
    let to = msg["to"].as_str().filter(|t| !t.is_empty());
    if let (None, Some(id)) = (to, msg["recipient"].as_str()) {
        if !crate::types::is_user_id(id) {
            return Err(meta_error(
                400,
                100,
                None,
                "OAuthException",
                "(#100) Invalid parameter",
                Some("The recipient is not a valid business-scoped user ID."),
            ));
        }
        return Ok(Recipient {
            input: id.to_string(),
            wa_id: id.to_string(),
            phone: None,
            user_id: id.to_string(),
            dropped: false,
        });
    }
    let input = to.unwrap_or_default().to_string();
    let wa_id: String = input.chars().filter(char::is_ascii_digit).collect();
    if input.bytes().any(|b| b.is_ascii_alphabetic()) && !wa_id.is_empty() {
        return Ok(Recipient {
            user_id: user_id_for(&wa_id),
            input,
            phone: Some(wa_id.clone()),
            wa_id,
            dropped: true,
        });
    }
    if wa_id.len() < 8 || wa_id.len() > 15 {
        return Err(meta_error(
            400,
            131009,
            None,
            "OAuthException",
            "(#131009) Parameter value is not valid",
            Some("The 'to' phone number is not a valid WhatsApp phone number."),
        ));
    }
    if wa_id == number.display_phone_number {
        return Err(meta_error(
            400,
            131021,
            None,
            "OAuthException",
            "(#131021) Recipient cannot be sender",
            Some("Sender and recipient phone number is the same."),
        ));
    }
    Ok(Recipient {
        input,
        phone: Some(wa_id.clone()),
        user_id: user_id_for(&wa_id),
        wa_id,
        dropped: false,
    })
}

/// The message kind (`type`, `text` when absent): a text, a document or a template, each
/// checked as Meta checks it; any other kind is refused with 131051. `Ok` is the category the
/// message is priced in: `service`, or the template's category.
fn check_kind(
    st: &SandboxState,
    pnid: &str,
    number: &Number,
    kind: &str,
    msg: &Value,
) -> Result<String, Answer> {
    match kind {
        "text" => {
            check_text(msg)?;
            Ok("service".to_string())
        }
        "document" => {
            check_document(st, pnid, &msg["document"])?;
            Ok("service".to_string())
        }
        "template" => check_template(
            st.templates
                .get(&number.waba_id)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
            &msg["template"],
        ),
        other => Err(meta_error(
            400,
            131051,
            None,
            "OAuthException",
            "(#131051) Unsupported message type",
            Some(&format!(
                "Message type {other} is not supported by the sandbox."
            )),
        )),
    }
}

/// A text message needs a non-empty `text.body`.
fn check_text(msg: &Value) -> Result<(), Answer> {
    if msg["text"]["body"].as_str().is_none_or(str::is_empty) {
        return Err(meta_error(
            400,
            131008,
            None,
            "OAuthException",
            "(#131008) Required parameter is missing",
            Some("The parameter text['body'] is required."),
        ));
    }
    Ok(())
}

/// A document is either media this number uploaded (`id`) or a `link`, not both, and its caption
/// has at most 1024 characters.
fn check_document(st: &SandboxState, pnid: &str, doc: &Value) -> Result<(), Answer> {
    match (doc["id"].as_str(), doc["link"].as_str()) {
        (Some(_), Some(_)) => {
            return Err(meta_error(
                400,
                131009,
                None,
                "OAuthException",
                "(#131009) Parameter value is not valid",
                Some("Use either id or link for a document, not both."),
            ));
        }
        (Some(id), None) if st.media.get(id).is_none_or(|m| m.phone_number_id != pnid) => {
            return Err(meta_error(
                400,
                131009,
                None,
                "OAuthException",
                "(#131009) Parameter value is not valid",
                Some(&format!(
                    "Media id {id} is not valid for this phone number."
                )),
            ));
        }
        (None, None) => {
            return Err(meta_error(
                400,
                131008,
                None,
                "OAuthException",
                "(#131008) Required parameter is missing",
                Some("The parameter document['id'] or document['link'] is required."),
            ));
        }
        _ => {}
    }
    if doc["caption"]
        .as_str()
        .is_some_and(|c| c.chars().count() > 1024)
    {
        return Err(meta_error(
            400,
            131009,
            None,
            "OAuthException",
            "(#131009) Parameter value is not valid",
            Some("Captions can be at most 1024 characters."),
        ));
    }
    Ok(())
}

/// Throughput per number (`throughput_per_sec` in a one-second window, 20 for a number shared
/// with the WhatsApp Business app, else 130429), then the
/// pair limit per recipient (a bucket of `pair_burst`, refilled one per `pair_interval`, else
/// 131056). Only a message that passes both uses up a place in either.
fn check_rate_limits(
    sb: &Sandbox,
    st: &mut SandboxState,
    pnid: &str,
    wa_id: &str,
) -> Result<(), Answer> {
    let (limit, burst, interval) = {
        let c = sb.inner.config.lock();
        (c.throughput_per_sec, c.pair_burst, c.pair_interval)
    };
    let shared = st.numbers.get(pnid).is_some_and(|n| n.shared_with_app);
    let limit = if shared {
        limit.min(crate::COEXISTENCE_PER_SECOND)
    } else {
        limit
    };
    let now = Instant::now();
    let window = st.throughput.entry(pnid.to_string()).or_insert((now, 0));
    if now.duration_since(window.0) >= Duration::from_secs(1) {
        *window = (now, 0);
    }
    if window.1 >= limit {
        Counters::bump(&sb.inner.counters.throughput_refusals);
        return Err(fault_answer(&Fault::Api {
            code: 130429,
            subcode: None,
            status: 400,
        }));
    }
    let bucket = st
        .pair
        .entry((pnid.to_string(), wa_id.to_string()))
        .or_insert((burst as f64, now));
    let refill = now.duration_since(bucket.1).as_secs_f64() / interval.as_secs_f64().max(0.001);
    *bucket = ((bucket.0 + refill).min(burst as f64), now);
    if bucket.0 < 1.0 {
        Counters::bump(&sb.inner.counters.pair_refusals);
        return Err(fault_answer(&Fault::Api {
            code: 131056,
            subcode: None,
            status: 400,
        }));
    }
    bucket.0 -= 1.0;
    st.throughput.get_mut(pnid).expect("window").1 += 1;
    Ok(())
}

/// The 24-hour window: open while the customer wrote to this number less than 24 hours ago.
fn window_open(st: &SandboxState, pnid: &str, wa_id: &str) -> bool {
    st.last_inbound
        .get(&(pnid.to_string(), wa_id.to_string()))
        .is_some_and(|at| unix_now() - at < 24 * 3600)
}

/// Records the accepted message in `sent` (the oldest 10,000 dropped past 100,000) and counts
/// it; the answer is its new wamid.
fn record(
    sb: &Sandbox,
    st: &mut SandboxState,
    pnid: &str,
    to: &Recipient,
    kind: &str,
    msg: &Value,
    callback: Option<String>,
) -> String {
    let wamid = format!("wamid.SBX{}", numeric_id());
    st.sent.push(SentRecord {
        wamid: wamid.clone(),
        phone_number_id: pnid.to_string(),
        to: to.input.clone(),
        kind: kind.to_string(),
        body: msg.clone(),
        callback,
        at: unix_now(),
    });
    if st.sent.len() > 100_000 {
        st.sent.drain(..10_000);
    }
    Counters::bump(&sb.inner.counters.accepted);
    wamid
}

/// How an accepted message ends, told later by status webhook: a number ending in `0000` is not
/// on WhatsApp (131026), and outside the 24-hour window only a template gets through (131047).
fn outcome(wa_id: &str, kind: &str, window_open: bool) -> Outcome {
    if wa_id.ends_with("0000") {
        Outcome::Failed(131026)
    } else if kind != "template" && !window_open {
        Outcome::Failed(131047)
    } else {
        Outcome::Delivered
    }
}

/// The `pricing` of the message's statuses, as Meta prices since 1 October 2026: every message
/// is billable (`regular`); a non-template message is category `service`, a template its own
/// category, inside or outside the window. (`free_customer_service` no longer appears for them;
/// only the 72-hour free entry point is free, and the sandbox has no ads to open one.)
fn pricing(category: &str) -> Value {
    json!({ "billable": true, "pricing_model": "PMP", "type": "regular", "category": category })
}

/// Meta's answer to an accepted message (a template's also says it was `accepted`).
fn reply(to: &Recipient, wamid: &str, kind: &str) -> Answer {
    let mut reply = json!({
        "messaging_product": "whatsapp",
        // `wa_id` only when sent by phone, `user_id` only when sent by user id.
        "contacts": [match &to.phone {
            Some(p) => json!({ "input": to.input, "wa_id": p }),
            None => json!({ "input": to.input, "user_id": to.user_id }),
        }],
        "messages": [{ "id": wamid }],
    });
    if kind == "template" {
        reply["messages"][0]["message_status"] = json!("accepted");
    }
    Answer::ok(reply)
}

/// A customer writes to the business: by phone (`from` has digits) or, for a customer with a
/// username who shares no number, by user id only (no `from`, no `wa_id` anywhere).
pub(in crate::sandbox) fn inbound(sb: Sandbox, pnid: &str, from: &Customer, text: &str) {
    let key = from.key();
    let number = {
        let mut st = sb.inner.state.lock();
        st.last_inbound
            .insert((pnid.to_string(), key.clone()), unix_now());
        let Some(number) = st.numbers.get(pnid).cloned() else {
            return;
        };
        number
    };
    let mut contact = json!({ "profile": { "name": from.name }, "user_id": from.user_id() });
    let mut message = json!({ "from_user_id": from.user_id(), "id": format!("wamid.SBXIN{}", numeric_id()),
        "timestamp": unix_now().to_string(), "type": "text", "text": { "body": text } });
    if let Some(u) = &from.username {
        contact["profile"]["username"] = json!(u);
    }
    if let Some(w) = &from.wa_id {
        contact["wa_id"] = json!(w);
        message["from"] = json!(w);
    }
    let value = json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": number.display_phone_number, "phone_number_id": pnid },
        "contacts": [contact],
        "messages": [message],
    });
    let waba = number.waba_id.clone();
    tokio::spawn(async move { post_webhook(&sb, &number.app_id, &waba, "messages", value).await });
}

/// A customer changes their number (`user_changed_number`, with the new number) or only their
/// user id (`user_changed_user_id`): Meta's `system` message, with no `contacts`.
pub(in crate::sandbox) fn identity_change(
    sb: Sandbox,
    pnid: &str,
    before: &Customer,
    after: &Customer,
) {
    let Some(number) = sb.inner.state.lock().numbers.get(pnid).cloned() else {
        return;
    };
    let mut system = json!({ "user_id": after.user_id(), "previous_user_id": before.user_id() });
    let mut message = json!({ "from_user_id": before.user_id(), "id": format!("wamid.SBXSYS{}", numeric_id()),
        "timestamp": unix_now().to_string(), "type": "system" });
    if let Some(w) = &before.wa_id {
        message["from"] = json!(w);
    }
    match &after.wa_id {
        Some(w) if after.wa_id != before.wa_id => {
            system["type"] = json!("user_changed_number");
            system["wa_id"] = json!(w);
            system["body"] = json!(format!(
                "{} changed their phone number to a new number +{w}",
                before.name
            ));
        }
        _ => {
            system["type"] = json!("user_changed_user_id");
            system["body"] = json!(format!("{} changed their WhatsApp account", before.name));
        }
    }
    message["system"] = system;
    let value = json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": number.display_phone_number, "phone_number_id": pnid },
        "messages": [message],
    });
    let waba = number.waba_id.clone();
    tokio::spawn(async move { post_webhook(&sb, &number.app_id, &waba, "messages", value).await });
}

/// A WhatsApp customer as the sandbox plays them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Their WhatsApp id (phone digits), when they share their number.
    pub wa_id: Option<String>,
    /// Their business-scoped user id; derived from the number when not set.
    pub user_id: Option<String>,
    pub name: String,
    pub username: Option<String>,
}

impl Customer {
    /// A customer who writes from their phone number (digits, with or without `+`).
    pub fn phone(number: &str) -> Customer {
        Customer {
            wa_id: Some(number.chars().filter(char::is_ascii_digit).collect()),
            user_id: None,
            name: "Sandbox tenant".into(),
            username: None,
        }
    }

    /// A customer with a username who shares no number: only their user id reaches the app.
    pub fn username_only(user_id: &str, username: &str, name: &str) -> Customer {
        Customer {
            wa_id: None,
            user_id: Some(user_id.into()),
            name: name.into(),
            username: Some(username.into()),
        }
    }

    pub fn user_id(&self) -> String {
        self.user_id
            .clone()
            .unwrap_or_else(|| user_id_for(self.wa_id.as_deref().unwrap_or_default()))
    }

    /// Their key for windows and limits: the digits, else the user id.
    fn key(&self) -> String {
        self.wa_id.clone().unwrap_or_else(|| self.user_id())
    }
}

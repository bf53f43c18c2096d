//! Meta's webhook envelope (`object`, `entry[].changes[]`), read into the neutral
//! [`messaging::DeliveryEvent`]s. Only `messages` (statuses, inbound messages and identity
//! changes) and `message_template_status_update` concern Axis CRM; other fields are skipped.
//!
//! Every shape Meta sends today is read (v23 to the current version): statuses without
//! `conversation` (v24+), `contacts` inside status payloads, business-scoped user ids
//! (`user_id`, `from_user_id`, `recipient_user_id`) with phone fields that may be missing,
//! value-level `errors`, and every inbound type. Each status and message is read on its own, so
//! one unexpected element skips only itself; unknown fields are ignored.

use crate::error::classify_code;
use messaging::{
    AccountNotice, DeliveryEvent, DeliveryState, IdentityChange, Inbound as NeutralInbound, Person,
    Pricing as NeutralPricing, StatusUpdate, TemplateUpdate,
};
use serde::Deserialize;

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

/// A `messages` change. Its lists are kept as raw values and read one element at a time.
#[derive(Debug, Deserialize, Default)]
pub struct MessagesValue {
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub contacts: Vec<serde_json::Value>,
    #[serde(default)]
    pub statuses: Vec<serde_json::Value>,
    #[serde(default)]
    pub messages: Vec<serde_json::Value>,
    /// Errors about the change itself (for example a message type Meta could not deliver).
    #[serde(default)]
    pub errors: Vec<serde_json::Value>,
}

/// One of `contacts[]`: who a message came from or went to.
#[derive(Debug, Deserialize, Default)]
pub struct Contact {
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub profile: Profile,
}

#[derive(Debug, Deserialize, Default)]
pub struct Profile {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
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
    /// The recipient's WhatsApp id (phone digits); omitted when the number may not be shared.
    #[serde(default)]
    pub recipient_id: Option<String>,
    /// The recipient's business-scoped user id; missing on `failed` for sends by phone.
    #[serde(default)]
    pub recipient_user_id: Option<String>,
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
    /// The sender's WhatsApp id (phone digits); omitted when the number may not be shared.
    #[serde(default)]
    pub from: Option<String>,
    /// The sender's business-scoped user id (always present since 2026).
    #[serde(default)]
    pub from_user_id: Option<String>,
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
    #[serde(default)]
    pub system: Option<System>,
    /// The body of every other type (`reaction`, `location`, `interactive`, …), by its name.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// A `system` message: Meta telling that a customer's number or user id changed.
#[derive(Debug, Deserialize, Default)]
pub struct System {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// The new WhatsApp id (phone digits), on `user_changed_number`.
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub previous_user_id: Option<String>,
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
    #[serde(flatten)]
    pub template: TemplateRef,
    #[serde(default)]
    pub reason: Option<String>,
    /// For pauses: `FIRST_PAUSE`, `SECOND_PAUSE`, `RATE_LIMITING_PAUSE`, `UNPAUSE`, `DISABLED`.
    #[serde(default)]
    pub other_info: Option<OtherInfo>,
}

#[derive(Debug, Deserialize)]
pub struct OtherInfo {
    #[serde(default)]
    pub title: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TemplateCategory {
    #[serde(flatten)]
    pub template: TemplateRef,
    #[serde(default)]
    pub new_category: Option<String>,
}

/// Which template a template webhook is about; Meta sends the id as a number or a string.
#[derive(Debug, Deserialize)]
pub struct TemplateRef {
    #[serde(default)]
    pub message_template_id: serde_json::Value,
    #[serde(default)]
    pub message_template_name: Option<String>,
    #[serde(default)]
    pub message_template_language: Option<String>,
}

impl TemplateRef {
    /// The update's template fields, with the event's own status, reason and category.
    fn update(
        &self,
        status: Option<String>,
        reason: Option<String>,
        category: Option<String>,
    ) -> TemplateUpdate {
        TemplateUpdate {
            template_id: template_id(&self.message_template_id),
            name: self.message_template_name.clone(),
            language: self.message_template_language.clone(),
            status,
            reason,
            category,
        }
    }
}

/// Reads a delivery for the number `phone_number_id`. Changes for another number, statuses
/// that do not concern invoices (`played`, `deleted`) and unreadable changes are skipped with
/// a note in `skipped`; a body that is not an envelope at all is an error.
pub fn parse(
    body: &[u8],
    phone_number_id: &str,
    skipped: &mut Vec<&'static str>,
) -> Result<Vec<DeliveryEvent>, String> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    if !(envelope.object == "whatsapp_business_account" || envelope.object.is_empty()) {
        skipped.push("an envelope for another object");
        return Ok(events);
    }
    for change in envelope.entry.iter().flat_map(|e| &e.changes) {
        match change.field.as_str() {
            "messages" => {
                let Ok(v) = serde_json::from_value::<MessagesValue>(change.value.clone()) else {
                    skipped.push("a change with an unreadable value");
                    continue;
                };
                if !v.metadata.phone_number_id.is_empty()
                    && v.metadata.phone_number_id != phone_number_id
                {
                    skipped.push("a change for another phone number");
                    continue;
                }
                let contacts: Vec<Contact> = v
                    .contacts
                    .iter()
                    .filter_map(|c| serde_json::from_value(c.clone()).ok())
                    .collect();
                if !v.errors.is_empty() {
                    skipped.push("errors about the change itself");
                }
                for raw in &v.statuses {
                    match serde_json::from_value::<StatusEvent>(raw.clone()) {
                        Ok(st) => events.extend(status(&st, &contacts)),
                        Err(_) => skipped.push("an unreadable status"),
                    }
                }
                for raw in &v.messages {
                    match serde_json::from_value::<Inbound>(raw.clone()) {
                        Ok(m) => events.extend(inbound(&m, &contacts)),
                        Err(_) => skipped.push("an unreadable message"),
                    }
                }
            }
            "template_category_update" => {
                match serde_json::from_value::<TemplateCategory>(change.value.clone()) {
                    Ok(t) => match category(&t) {
                        Some(e) => events.push(e),
                        // Only `correct_category`: a notice of a change to come.
                        None => skipped.push("a notice of a category change to come"),
                    },
                    Err(_) => skipped.push("a category update with an unreadable value"),
                }
            }
            "message_template_status_update" => {
                match serde_json::from_value::<TemplateStatus>(change.value.clone()) {
                    Ok(t) => events.push(template(&t)),
                    Err(_) => skipped.push("a template update with an unreadable value"),
                }
            }
            "account_update" => match account_notice(&change.value) {
                Some(n) => events.push(DeliveryEvent::Account(n)),
                None => skipped.push("an account update Axis CRM does not act on"),
            },
            _ => skipped.push("a field Axis CRM does not use"),
        }
    }
    Ok(events)
}

fn unix(ts: &Option<String>) -> Option<i64> {
    ts.as_deref().and_then(|t| t.parse().ok())
}

/// A phone number in E.164 from a WhatsApp id (its digits). `None` for anything else: a user id
/// never passes through here (`US.1349…` must not become `+1349…`).
fn phone(wa_id: Option<&str>) -> Option<String> {
    let w = wa_id?.trim();
    (!w.is_empty() && w.len() <= 15 && w.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("+{w}"))
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The person a message or status is about: its own fields, completed from the `contacts[]`
/// entry with the same user id or WhatsApp id (or the only one).
fn person(wa_id: Option<&str>, user_id: Option<&str>, contacts: &[Contact]) -> Person {
    let contact = contacts
        .iter()
        .find(|c| {
            (user_id.is_some() && c.user_id.as_deref() == user_id)
                || (wa_id.is_some() && c.wa_id.as_deref() == wa_id)
        })
        .or(if contacts.len() == 1 {
            contacts.first()
        } else {
            None
        });
    let wa_id = wa_id.or_else(|| contact.and_then(|c| c.wa_id.as_deref()));
    let user_id = user_id
        .map(str::to_string)
        .or_else(|| contact.and_then(|c| nonempty(&c.user_id)));
    Person {
        phone: phone(wa_id),
        user_id: user_id.filter(|u| !u.trim().is_empty()),
        name: contact.and_then(|c| nonempty(&c.profile.name)),
        username: contact
            .and_then(|c| nonempty(&c.profile.username))
            .map(|u| u.trim_start_matches('@').to_string()),
    }
}

fn status(s: &StatusEvent, contacts: &[Contact]) -> Option<DeliveryEvent> {
    let state = match s.status.as_str() {
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "failed" => DeliveryState::Failed,
        _ => return None, // `played`, `deleted` and the like do not concern invoices
    };
    let error = s.errors.first().map(|e| {
        let detail = e
            .error_data
            .as_ref()
            .and_then(|d| d.details.clone())
            .or_else(|| e.title.clone());
        classify_code(e.code, detail)
    });
    let pricing = s.pricing.as_ref().map(|p| NeutralPricing {
        category: p.category.clone(),
        kind: p.kind.clone().or_else(|| {
            p.billable
                .map(|b| if b { "regular" } else { "free" }.into())
        }),
    });
    Some(DeliveryEvent::Status(StatusUpdate {
        message_id: s.id.clone(),
        state,
        at: unix(&s.timestamp),
        at_text: s.timestamp.clone(),
        tag: s.biz_opaque_callback_data.clone(),
        pricing,
        error,
        recipient: Some(person(
            s.recipient_id.as_deref(),
            s.recipient_user_id.as_deref(),
            contacts,
        ))
        .filter(|p| p.phone.is_some() || p.user_id.is_some()),
    }))
}

/// What a tenant sent, as text for the history (at most 2,000 characters).
pub fn inbound_text(m: &Inbound) -> String {
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
        kind => {
            let body = m.other.get(kind);
            let field = |k: &str| body.and_then(|b| b.get(k)).and_then(|v| v.as_str());
            match kind {
                "image" | "video" | "audio" | "sticker" => Some(match field("caption") {
                    Some(c) => format!("[{kind}] {c}"),
                    None => format!("[{kind}]"),
                }),
                "reaction" => Some(format!(
                    "[reaction] {}",
                    field("emoji").unwrap_or("removed")
                )),
                "location" => Some(format!(
                    "[location] {}",
                    [field("name"), field("address")]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                "contacts" => Some(format!(
                    "[contacts] {}",
                    body.and_then(|b| b.as_array())
                        .map(|cs| cs
                            .iter()
                            .filter_map(|c| c["name"]["formatted_name"].as_str())
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                )),
                "interactive" => body.and_then(|b| {
                    ["button_reply", "list_reply", "nfm_reply"]
                        .iter()
                        .find_map(|k| b.get(*k))
                        .and_then(|r| r.get("title").or_else(|| r.get("body")))
                        .and_then(|t| t.as_str())
                        .map(str::to_string)
                }),
                "order" => Some(format!(
                    "[order] {} item(s)",
                    body.and_then(|b| b["product_items"].as_array())
                        .map_or(0, Vec::len)
                )),
                _ => None,
            }
        }
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

/// A message from a customer, or an identity change when it is a `system` message (which opens
/// no window: the customer wrote nothing).
fn inbound(m: &Inbound, contacts: &[Contact]) -> Option<DeliveryEvent> {
    let from = person(m.from.as_deref(), m.from_user_id.as_deref(), contacts);
    if m.kind == "system" {
        let sys = m.system.as_ref()?;
        return match sys.kind.as_deref() {
            Some("user_changed_number") | Some("user_changed_user_id") => {
                let previous = Person {
                    phone: from.phone.clone(),
                    user_id: nonempty(&sys.previous_user_id).or(from.user_id.clone()),
                    ..Person::default()
                };
                let now = Person {
                    phone: phone(sys.wa_id.as_deref()),
                    user_id: nonempty(&sys.user_id),
                    ..Person::default()
                };
                Some(DeliveryEvent::Identity(IdentityChange { previous, now }))
            }
            _ => None,
        };
    }
    Some(DeliveryEvent::Inbound(NeutralInbound {
        message_id: m.id.clone(),
        from,
        at: unix(&m.timestamp),
        at_text: m.timestamp.clone(),
        kind: if m.kind.is_empty() {
            "message".into()
        } else {
            m.kind.clone()
        },
        text: inbound_text(m),
    }))
}

/// A template id as Meta sends it: a number in some payloads, a string in others.
fn template_id(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn template(t: &TemplateStatus) -> DeliveryEvent {
    let reason = t
        .reason
        .clone()
        .or_else(|| t.other_info.as_ref().and_then(|o| o.title.clone()))
        .filter(|r| r != "NONE");
    let status = Some(t.event.to_ascii_uppercase()).filter(|s| !s.is_empty());
    DeliveryEvent::Template(t.template.update(status, reason, None))
}

/// An `account_update` as the user must hear it (Meta's account_update reference, 2026).
fn account_notice(v: &serde_json::Value) -> Option<AccountNotice> {
    let event = v["event"].as_str()?.to_ascii_uppercase();
    let notice = |text: String, blocks: bool, until: Option<i64>, clears: bool| AccountNotice {
        event: event.clone(),
        text,
        blocks_sending: blocks,
        until,
        clears,
    };
    Some(match event.as_str() {
        "ACCOUNT_RESTRICTION" => {
            let info = v["restriction_info"].as_array().cloned().unwrap_or_default();
            let kinds: Vec<String> = info
                .iter()
                .filter_map(|r| r["restriction_type"].as_str())
                .map(|t| t.replace('_', " ").to_lowercase())
                .collect();
            let until = info
                .iter()
                .filter_map(|r| r["expiration"].as_i64())
                .max();
            notice(
                format!(
                    "Meta restricted this WhatsApp Business Account ({}). Sends are paused until the restriction ends; see WhatsApp Manager → Account quality.",
                    if kinds.is_empty() { "no details given".into() } else { kinds.join(", ") }
                ),
                true,
                until,
                false,
            )
        }
        "DISABLED_UPDATE" => {
            let state = v["ban_info"]["waba_ban_state"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_uppercase();
            if state == "REINSTATE" {
                notice("Meta reinstated this WhatsApp Business Account: sending works again.".into(), false, None, true)
            } else {
                notice(
                    "Meta disabled this WhatsApp Business Account. Sends are paused; request a review in WhatsApp Manager → Account quality.".into(),
                    true,
                    None,
                    false,
                )
            }
        }
        "PARTNER_APP_UNINSTALLED" | "PARTNER_REMOVED" | "ACCOUNT_OFFBOARDED" => notice(
            "Your app was removed from this WhatsApp Business Account, so it can no longer send for it. Sends are paused; connect again (add the app to the account in Business Settings).".into(),
            true,
            None,
            false,
        ),
        "ACCOUNT_RECONNECTED" | "PARTNER_APP_INSTALLED" => notice(
            "The app is connected to this WhatsApp Business Account again: sending works again.".into(),
            false,
            None,
            true,
        ),
        "ACCOUNT_VIOLATION" => notice(
            format!(
                "Meta reports a policy violation on this account ({}). Sending continues; review it in WhatsApp Manager → Account quality before it leads to a restriction.",
                v["violation_info"]["violation_type"].as_str().unwrap_or("no details given").replace('_', " ").to_lowercase()
            ),
            false,
            None,
            false,
        ),
        "VOLUME_BASED_PRICING_TIER_UPDATE" => notice(
            format!(
                "Meta moved this account to a new volume pricing tier for {} messages ({}).",
                v["volume_tier_info"]["pricing_category"].as_str().unwrap_or("utility").to_lowercase(),
                v["volume_tier_info"]["tier"].as_str().unwrap_or("tier not given")
            ),
            false,
            None,
            false,
        ),
        _ => return None,
    })
}

/// `template_category_update`: Meta moved the template to another category (a utility template
/// judged marketing is billed, and treated, as marketing from then on).
fn category(t: &TemplateCategory) -> Option<DeliveryEvent> {
    let category = Some(t.new_category.clone()?.to_ascii_uppercase());
    Some(DeliveryEvent::Template(
        t.template.update(None, None, category),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use messaging::{Disposition, Problem};

    #[test]
    fn reads_a_batched_envelope() {
        let body = r#"{"object":"whatsapp_business_account","entry":[
          {"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",
             "metadata":{"display_phone_number":"15550001","phone_number_id":"42"},
             "statuses":[{"id":"wamid.A","status":"read","timestamp":"1751371200","recipient_id":"447911",
                          "biz_opaque_callback_data":"axis:7:1",
                          "pricing":{"billable":true,"pricing_model":"PMP","type":"regular","category":"utility"}},
                         {"id":"wamid.B","status":"failed","timestamp":"1751371201","recipient_id":"447911",
                          "errors":[{"code":131026,"title":"Message undeliverable","error_data":{"details":"x"}}]},
                         {"id":"wamid.C","status":"played","timestamp":"1751371202"}]}}]},
          {"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"42"},
             "contacts":[{"profile":{"name":"Sheena"},"wa_id":"16505551234"}],
             "messages":[{"from":"16505551234","id":"wamid.IN","timestamp":"1751371300","type":"text","text":{"body":"Hi"}}]}},
             {"field":"message_template_status_update","value":{"event":"approved","message_template_id":123,
               "message_template_name":"axis_invoice","message_template_language":"en","reason":"NONE"}},
             {"field":"messages","value":{"metadata":{"phone_number_id":"99"},
               "messages":[{"from":"1","id":"wamid.OTHER","type":"text","text":{"body":"not ours"}}]}},
             {"field":"account_review_update","value":{}}]}]}"#;
        let mut skipped = Vec::new();
        let events = parse(body.as_bytes(), "42", &mut skipped).unwrap();
        assert_eq!(events.len(), 4, "{events:?}");
        let DeliveryEvent::Status(read) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(read.state, DeliveryState::Read);
        assert_eq!(read.at, Some(1_751_371_200));
        assert_eq!(read.tag.as_deref(), Some("axis:7:1"));
        assert_eq!(
            read.pricing.as_ref().unwrap().kind.as_deref(),
            Some("regular")
        );
        let DeliveryEvent::Status(failed) = &events[1] else {
            panic!()
        };
        let e = failed.error.as_ref().unwrap();
        assert_eq!(
            (e.problem, e.code, e.message.as_deref()),
            (Problem::Undeliverable, Some(131026), Some("x"))
        );
        assert_eq!(e.disposition, Disposition::Final);
        let DeliveryEvent::Inbound(m) = &events[2] else {
            panic!()
        };
        assert_eq!(m.from.phone.as_deref(), Some("+16505551234"));
        assert_eq!(m.from.name.as_deref(), Some("Sheena"));
        assert_eq!(m.text, "Hi");
        let DeliveryEvent::Template(t) = &events[3] else {
            panic!()
        };
        assert_eq!(
            (
                t.status.as_deref(),
                t.template_id.as_deref(),
                t.reason.as_ref()
            ),
            (Some("APPROVED"), Some("123"), None)
        );
        assert_eq!(
            skipped,
            [
                "a change for another phone number",
                "a field Axis CRM does not use"
            ]
        );
        assert!(parse(b"<html>", "42", &mut skipped).is_err());
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

    #[test]
    fn a_closed_window_in_a_status_is_told_as_such() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
            "statuses":[{"id":"wamid.W","status":"failed","errors":[{"code":131047,"title":"Re-engagement message"}]}]}}]}]}"#;
        let events = parse(body, "42", &mut Vec::new()).unwrap();
        let DeliveryEvent::Status(s) = &events[0] else {
            panic!()
        };
        assert_eq!(
            s.error.as_ref().unwrap().disposition,
            Disposition::WindowClosed
        );
    }

    fn value(v: &str) -> Vec<DeliveryEvent> {
        let body = format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"W","changes":[{{"field":"messages","value":{v}}}]}}]}}"#
        );
        parse(body.as_bytes(), "42", &mut Vec::new()).unwrap()
    }

    /// A customer with a username who shares no number: no `from`, no `wa_id`; the user id is
    /// kept whole and never turned into a phone number.
    #[test]
    fn a_username_only_customer_has_no_phone() {
        let events = value(
            r#"{"messaging_product":"whatsapp","metadata":{"phone_number_id":"42"},
              "contacts":[{"profile":{"name":"Sheena Nelson","username":"realsheenanelson"},
                           "user_id":"US.13491208655302741918","parent_user_id":"US.ENT.11815799212886844830"}],
              "messages":[{"from_user_id":"US.13491208655302741918","from_parent_user_id":"US.ENT.11815799212886844830",
                           "id":"wamid.U","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}}]}"#,
        );
        let DeliveryEvent::Inbound(m) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(
            m.from,
            Person {
                phone: None,
                user_id: Some("US.13491208655302741918".into()),
                name: Some("Sheena Nelson".into()),
                username: Some("realsheenanelson".into()),
            }
        );
        assert_eq!(phone(Some("US.13491208655302741918")), None);
    }

    /// Today's statuses: no `conversation` (v24+), `contacts` inside, the recipient's user id,
    /// pricing on `sent` and one of delivered/read; `failed` has neither contacts nor user id.
    #[test]
    fn statuses_of_today_are_read() {
        let events = value(
            r#"{"messaging_product":"whatsapp","metadata":{"phone_number_id":"42"},
              "contacts":[{"profile":{"name":"Pablo M.","username":"pablomorales"},"wa_id":"16505551234","user_id":"US.1349"}],
              "statuses":[{"id":"wamid.S","status":"delivered","timestamp":"1750030073","recipient_id":"16505551234",
                           "recipient_user_id":"US.1349","pricing":{"billable":true,"pricing_model":"PMP","type":"regular","category":"service"}},
                          {"status":"read"},
                          {"id":"wamid.F","status":"failed","timestamp":"1750030074","recipient_id":"16505551234",
                           "errors":[{"code":131049,"title":"healthy ecosystem","error_data":{"details":"x"},"href":"/e"}]}]}"#,
        );
        assert_eq!(events.len(), 2, "the unreadable status skips only itself");
        let DeliveryEvent::Status(d) = &events[0] else {
            panic!()
        };
        let r = d.recipient.as_ref().unwrap();
        assert_eq!(
            (
                r.phone.as_deref(),
                r.user_id.as_deref(),
                r.username.as_deref()
            ),
            (Some("+16505551234"), Some("US.1349"), Some("pablomorales"))
        );
        assert_eq!(
            d.pricing.as_ref().unwrap().category.as_deref(),
            Some("service")
        );
        let DeliveryEvent::Status(f) = &events[1] else {
            panic!()
        };
        assert_eq!(f.state, DeliveryState::Failed);
        assert_eq!(f.error.as_ref().unwrap().code, Some(131049));
    }

    /// `system` messages re-key the customer and open no window.
    #[test]
    fn identity_changes_are_told() {
        let events = value(
            r#"{"messaging_product":"whatsapp","metadata":{"phone_number_id":"42"},
              "messages":[{"from":"16505551234","id":"wamid.N","timestamp":"1","type":"system",
                           "system":{"body":"User A changed from +1 650-555-1234 to +1 650-555-9999","wa_id":"16505559999",
                                     "type":"user_changed_number","user_id":"US.NEW","previous_user_id":"US.OLD"}},
                          {"from_user_id":"US.OLD2","id":"wamid.M","timestamp":"1","type":"system",
                           "system":{"body":"changed","type":"user_changed_user_id","user_id":"US.NEW2","previous_user_id":"US.OLD2"}},
                          {"id":"wamid.Q","type":"system","system":{"type":"customer_identity_changed"}}]}"#,
        );
        assert_eq!(events.len(), 2, "{events:?}");
        let DeliveryEvent::Identity(c) = &events[0] else {
            panic!()
        };
        assert_eq!(
            (c.previous.phone.as_deref(), c.previous.user_id.as_deref()),
            (Some("+16505551234"), Some("US.OLD"))
        );
        assert_eq!(
            (c.now.phone.as_deref(), c.now.user_id.as_deref()),
            (Some("+16505559999"), Some("US.NEW"))
        );
        let DeliveryEvent::Identity(c) = &events[1] else {
            panic!()
        };
        assert_eq!(
            (
                c.previous.user_id.as_deref(),
                c.now.user_id.as_deref(),
                c.now.phone.as_deref()
            ),
            (Some("US.OLD2"), Some("US.NEW2"), None)
        );
    }

    /// Every inbound type Meta sends is stored with a readable line; unknown ones by their name.
    #[test]
    fn every_inbound_type_is_described() {
        let cases = [
            (
                r#""type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍"}"#,
                "[reaction] 👍",
            ),
            (
                r#""type":"sticker","sticker":{"id":"1","mime_type":"image/webp"}"#,
                "[sticker]",
            ),
            (
                r#""type":"image","image":{"id":"1","caption":"the leak"}"#,
                "[image] the leak",
            ),
            (
                r#""type":"location","location":{"latitude":1,"longitude":2,"name":"Flat 3","address":"1 High St"}"#,
                "[location] Flat 3, 1 High St",
            ),
            (
                r#""type":"contacts","contacts":[{"name":{"formatted_name":"Ann Lee"},"phones":[]}]"#,
                "[contacts] Ann Lee",
            ),
            (
                r#""type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"pay","title":"Paid"}}"#,
                "Paid",
            ),
            (
                r#""type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"a","title":"March"}}"#,
                "March",
            ),
            (
                r#""type":"order","order":{"catalog_id":"1","product_items":[{},{}]}"#,
                "[order] 2 item(s)",
            ),
            (
                r#""type":"unsupported","errors":[{"code":131051,"title":"Message type unknown"}]"#,
                "[unsupported]",
            ),
            (
                r#""type":"something_new","something_new":{"x":1}"#,
                "[something_new]",
            ),
        ];
        for (fields, text) in cases {
            let events = value(&format!(
                r#"{{"metadata":{{"phone_number_id":"42"}},"messages":[{{"from":"447911123456","id":"w","timestamp":"1",{fields}}}]}}"#
            ));
            let DeliveryEvent::Inbound(m) = &events[0] else {
                panic!("{fields}")
            };
            assert_eq!(m.text, text, "{fields}");
        }
        // Errors about the change itself are noted and skipped, never an error.
        let mut skipped = Vec::new();
        let body = br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":"42"},"errors":[{"code":131000,"title":"Something went wrong"}]}},
            {"field":"user_preferences","value":{"user_preferences":[{"wa_id":"1","user_id":"US.1","category":"marketing_messages","value":"stop"}]}},
            {"field":"account_update","value":{"event":"SOMETHING_NEW"}}]}]}"#;
        assert!(parse(body, "42", &mut skipped).unwrap().is_empty());
        assert!(skipped.contains(&"errors about the change itself"));
        // A utility template judged marketing, and a pause with its title.
        let body = br#"{"object":"whatsapp_business_account","entry":[{"changes":[
            {"field":"template_category_update","value":{"message_template_id":7,"message_template_name":"axis_invoice_pdf",
              "message_template_language":"en","previous_category":"UTILITY","new_category":"MARKETING"}},
            {"field":"message_template_status_update","value":{"event":"PAUSED","message_template_id":7,
              "message_template_name":"axis_invoice_pdf","message_template_language":"en","reason":null,
              "other_info":{"title":"FIRST_PAUSE","description":"paused for 3 hours"}}}]}]}"#;
        let events = parse(body, "42", &mut Vec::new()).unwrap();
        let [DeliveryEvent::Template(c), DeliveryEvent::Template(p)] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(
            (c.category.as_deref(), c.status.as_deref()),
            (Some("MARKETING"), None)
        );
        assert_eq!(
            (p.status.as_deref(), p.reason.as_deref()),
            (Some("PAUSED"), Some("FIRST_PAUSE"))
        );
    }

    #[test]
    fn account_updates_pause_or_inform() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"changes":[
            {"field":"account_update","value":{"event":"ACCOUNT_RESTRICTION","restriction_info":[
                {"restriction_type":"RESTRICTED_BIZ_INITIATED_MESSAGING","expiration":1800000000}]}},
            {"field":"account_update","value":{"event":"PARTNER_APP_UNINSTALLED"}},
            {"field":"account_update","value":{"event":"DISABLED_UPDATE","ban_info":{"waba_ban_state":"REINSTATE"}}},
            {"field":"account_update","value":{"event":"VOLUME_BASED_PRICING_TIER_UPDATE",
                "volume_tier_info":{"pricing_category":"UTILITY","tier":"25001:50000"}}}]}]}"#;
        let events = parse(body, "42", &mut Vec::new()).unwrap();
        let notices: Vec<&AccountNotice> = events
            .iter()
            .map(|e| match e {
                DeliveryEvent::Account(n) => n,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(notices.len(), 4);
        assert!(notices[0].blocks_sending && notices[0].until == Some(1_800_000_000));
        assert!(
            notices[0]
                .text
                .contains("restricted biz initiated messaging"),
            "{}",
            notices[0].text
        );
        assert!(notices[1].blocks_sending && notices[1].until.is_none());
        assert!(!notices[2].blocks_sending && notices[2].clears);
        assert!(!notices[3].blocks_sending && notices[3].text.contains("25001:50000"));
    }
}

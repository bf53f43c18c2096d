//! Meta's webhook envelope (`object`, `entry[].changes[]`), read into the neutral
//! [`messaging::DeliveryEvent`]s. Only `messages` (statuses and inbound messages) and
//! `message_template_status_update` concern Axis CRM; other fields are skipped.

use crate::error::classify_code;
use messaging::{
    DeliveryEvent, DeliveryState, Inbound as NeutralInbound, Pricing as NeutralPricing, Recipient,
    StatusUpdate, TemplateUpdate,
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

#[derive(Debug, Deserialize, Default)]
pub struct MessagesValue {
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub statuses: Vec<StatusEvent>,
    #[serde(default)]
    pub messages: Vec<Inbound>,
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
    #[serde(default)]
    pub from: Option<String>,
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
    #[serde(default)]
    pub message_template_id: serde_json::Value,
    #[serde(default)]
    pub message_template_name: Option<String>,
    #[serde(default)]
    pub message_template_language: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
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
                events.extend(v.statuses.iter().filter_map(status));
                events.extend(v.messages.iter().map(inbound));
            }
            "message_template_status_update" => {
                match serde_json::from_value::<TemplateStatus>(change.value.clone()) {
                    Ok(t) => events.push(template(&t)),
                    Err(_) => skipped.push("a template update with an unreadable value"),
                }
            }
            _ => skipped.push("a field Axis CRM does not use"),
        }
    }
    Ok(events)
}

fn unix(ts: &Option<String>) -> Option<i64> {
    ts.as_deref().and_then(|t| t.parse().ok())
}

fn status(s: &StatusEvent) -> Option<DeliveryEvent> {
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
        _ => None,
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

fn inbound(m: &Inbound) -> DeliveryEvent {
    // `from` is the sender's WhatsApp id: their number's digits without the `+`.
    let from = m
        .from
        .as_deref()
        .map(|f| f.chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|d| !d.is_empty())
        .map(|d| Recipient::Phone(format!("+{d}")));
    DeliveryEvent::Inbound(NeutralInbound {
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
    })
}

fn template(t: &TemplateStatus) -> DeliveryEvent {
    let id = match &t.message_template_id {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    DeliveryEvent::Template(TemplateUpdate {
        template_id: id,
        name: t.message_template_name.clone(),
        language: t.message_template_language.clone(),
        status: t.event.to_ascii_uppercase(),
        reason: t.reason.clone().filter(|r| r != "NONE"),
    })
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
        assert_eq!(m.from, Some(Recipient::Phone("+16505551234".into())));
        assert_eq!(m.text, "Hi");
        let DeliveryEvent::Template(t) = &events[3] else {
            panic!()
        };
        assert_eq!(
            (
                t.status.as_str(),
                t.template_id.as_deref(),
                t.reason.as_ref()
            ),
            ("APPROVED", Some("123"), None)
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
}

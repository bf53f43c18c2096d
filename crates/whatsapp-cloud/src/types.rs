//! Graph API payloads. Enum-like values are kept as open strings: Meta's schemas disagree with
//! each other and new values appear without notice.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// `GET /{phone-number-id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumber {
    pub id: String,
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(default)]
    pub verified_name: Option<String>,
    #[serde(default)]
    pub quality_rating: Option<String>,
    #[serde(default)]
    pub code_verification_status: Option<String>,
    #[serde(default)]
    pub name_status: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub platform_type: Option<String>,
    #[serde(default)]
    pub throughput: Option<Throughput>,
    #[serde(default)]
    pub account_mode: Option<String>,
    #[serde(default)]
    pub health_status: Option<HealthStatus>,
    /// Shape varies (a tier string such as `TIER_2K`, or an object); kept as JSON.
    #[serde(default)]
    pub whatsapp_business_manager_messaging_limit: Option<Value>,
    /// The number is also used in the WhatsApp Business app (coexistence). Not in the v23
    /// contract; documented on Meta's coexistence page (2026).
    #[serde(default)]
    pub is_on_biz_app: Option<bool>,
}

impl PhoneNumber {
    /// The messaging limit as text, whatever shape Meta sent.
    pub fn messaging_limit(&self) -> Option<String> {
        match self.whatsapp_business_manager_messaging_limit.as_ref()? {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o
                .get("current_limit")
                .or_else(|| o.get("tier"))
                .and_then(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .or_else(|| Some(v.to_string()))
                }),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// Unique customers a day the messaging limit allows (`TIER_250` … `TIER_100K`); `None`
    /// for `TIER_UNLIMITED`, a tier not known, or no limit read.
    pub fn daily_unique_limit(&self) -> Option<u32> {
        let tier = self.messaging_limit()?;
        let n = tier.strip_prefix("TIER_")?;
        let (digits, scale) = match n.strip_suffix('K') {
            Some(d) => (d, 1000),
            None => (n, 1),
        };
        digits.parse::<u32>().ok()?.checked_mul(scale)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throughput {
    #[serde(default)]
    pub level: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthStatus {
    #[serde(default)]
    pub can_send_message: Option<String>,
    #[serde(default)]
    pub entities: Vec<HealthEntity>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthEntity {
    #[serde(default)]
    pub entity_type: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub can_send_message: Option<String>,
    #[serde(default)]
    pub errors: Vec<HealthError>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthError {
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(default)]
    pub possible_solution: Option<String>,
}

impl HealthStatus {
    /// Every problem Meta lists, as readable sentences.
    pub fn problems(&self) -> Vec<String> {
        self.entities
            .iter()
            .flat_map(|e| e.errors.iter().map(move |err| (e, err)))
            .map(|(e, err)| {
                let what = e.entity_type.as_deref().unwrap_or("ACCOUNT");
                let desc = err.error_description.as_deref().unwrap_or("blocked");
                match &err.possible_solution {
                    Some(fix) => format!("{what}: {desc} {fix}"),
                    None => format!("{what}: {desc}"),
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paging {
    #[serde(default)]
    pub cursors: Option<Cursors>,
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursors {
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

/// `GET /debug_token`: what Meta knows of an access token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(rename = "type", default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub application: Option<String>,
    /// Unix seconds; 0 means never.
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub data_access_expires_at: Option<i64>,
    #[serde(default)]
    pub is_valid: bool,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub granular_scopes: Vec<GranularScope>,
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GranularScope {
    pub scope: String,
    #[serde(default)]
    pub target_ids: Vec<String>,
}

/// How long a token lives, as far as Axis CRM cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenKind {
    /// A user token from the API Setup page: about 24 hours.
    Temporary { expires_at: i64 },
    /// A system-user token with an expiry (for example 60 days).
    Expiring { expires_at: i64 },
    /// A system-user token that never expires.
    Permanent,
    /// Meta was not asked (no app secret) or would not say.
    Unknown,
}

impl TokenInfo {
    pub fn kind(&self) -> TokenKind {
        let expires_at = self.expires_at.unwrap_or(0);
        let system_user = self.token_type.as_deref() == Some("SYSTEM_USER");
        match (system_user, expires_at) {
            (true, 0) => TokenKind::Permanent,
            (true, at) => TokenKind::Expiring { expires_at: at },
            (false, 0) => TokenKind::Unknown,
            (false, at) => TokenKind::Temporary { expires_at: at },
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaId {
    pub id: String,
}

/// What to send in `POST /{phone-number-id}/messages`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    Text {
        body: String,
    },
    Document {
        media_id: String,
        filename: String,
        caption: Option<String>,
    },
    Template {
        name: String,
        language: String,
        components: Vec<Value>,
    },
}

/// A business-scoped user id as Meta formats them: ISO country code, `.`, up to 128
/// alphanumerics (a parent id has `ENT.` in between). A phone number never has this shape.
pub fn is_user_id(s: &str) -> bool {
    let Some((cc, rest)) = s.split_once('.') else {
        return false;
    };
    let rest = rest.strip_prefix("ENT.").unwrap_or(rest);
    cc.len() == 2
        && cc.bytes().all(|b| b.is_ascii_uppercase())
        && (1..=128).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Outgoing {
    /// The request body, with an optional callback tag echoed in status webhooks. `to` is a phone
    /// number (sent as `to`) or a business-scoped user id (`US.1349…`, sent as `recipient`). A user id in `to` is accepted by Meta and silently dropped, so it never goes
    /// there; `recipient_type` stays `individual` either way.
    pub fn to_body(&self, to: &str, callback: Option<&str>) -> Value {
        let field = if is_user_id(to) { "recipient" } else { "to" };
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
        });
        body[field] = json!(to);
        match self {
            Outgoing::Text { body: text } => {
                body["type"] = json!("text");
                body["text"] = json!({ "preview_url": false, "body": text });
            }
            Outgoing::Document {
                media_id,
                filename,
                caption,
            } => {
                body["type"] = json!("document");
                let mut doc = json!({ "id": media_id, "filename": filename });
                if let Some(c) = caption {
                    doc["caption"] = json!(c);
                }
                body["document"] = doc;
            }
            Outgoing::Template {
                name,
                language,
                components,
            } => {
                body["type"] = json!("template");
                body["template"] = json!({
                    "name": name,
                    "language": { "code": language, "policy": "deterministic" },
                    "components": components,
                });
            }
        }
        if let Some(cb) = callback {
            body["biz_opaque_callback_data"] = json!(cb);
        }
        body
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendContact {
    pub input: String,
    /// Present only when the message was sent by phone number.
    #[serde(default)]
    pub wa_id: Option<String>,
    /// Present only when the message was sent by business-scoped user id.
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    pub id: String,
    #[serde(default)]
    pub message_status: Option<String>,
}

/// The answer to a send: accepted, not yet delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    #[serde(default)]
    pub messaging_product: Option<String>,
    #[serde(default)]
    pub contacts: Vec<SendContact>,
    pub messages: Vec<SentMessage>,
}

impl SendResponse {
    pub fn wamid(&self) -> Option<&str> {
        self.messages.first().map(|m| m.id.as_str())
    }
    /// Meta's canonical id for the recipient (trimmed: one spec example has a trailing space).
    pub fn wa_id(&self) -> Option<&str> {
        self.contacts
            .first()
            .and_then(|c| c.wa_id.as_deref())
            .map(str::trim)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Template {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub components: Vec<Value>,
    #[serde(default)]
    pub rejected_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedTemplate {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
}

/// The variables `{{…}}` of a template text, each counted once (`{{1}} … {{1}}` is one): what
/// Meta expects one example value and one send parameter for.
pub use messaging::template_variables;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_template_variables_once_each() {
        assert_eq!(
            template_variables("Hi {{1}}, invoice {{2}} for {{3}} is attached."),
            3
        );
        assert_eq!(template_variables("Hi {{1}}, {{2}} and {{1}} again"), 2);
        assert_eq!(template_variables("none"), 0);
        assert_eq!(template_variables("open {{1 never closed"), 0);
    }

    #[test]
    fn token_kinds() {
        let t = |ty: &str, exp: i64| TokenInfo {
            token_type: Some(ty.into()),
            expires_at: Some(exp),
            ..Default::default()
        };
        assert_eq!(t("SYSTEM_USER", 0).kind(), TokenKind::Permanent);
        assert_eq!(
            t("SYSTEM_USER", 99).kind(),
            TokenKind::Expiring { expires_at: 99 }
        );
        assert_eq!(
            t("USER", 1_700_000_000).kind(),
            TokenKind::Temporary {
                expires_at: 1_700_000_000
            }
        );
        assert_eq!(t("USER", 0).kind(), TokenKind::Unknown);
    }

    #[test]
    fn message_bodies() {
        let doc = Outgoing::Document {
            media_id: "m1".into(),
            filename: "INV-1.pdf".into(),
            caption: Some("Invoice INV-1".into()),
        };
        let by_id = doc.to_body("US.13491208655302741918", None);
        assert_eq!(by_id["recipient"], "US.13491208655302741918");
        assert!(by_id.get("to").is_none());
        assert_eq!(by_id["recipient_type"], "individual");
        let body = doc.to_body("+4915112345678", Some("inv:1"));
        assert_eq!(body["type"], "document");
        assert_eq!(body["document"]["filename"], "INV-1.pdf");
        assert_eq!(body["biz_opaque_callback_data"], "inv:1");
        let tpl = Outgoing::Template {
            name: "invoice_ready".into(),
            language: "en_US".into(),
            components: vec![],
        };
        assert_eq!(
            tpl.to_body("+1", None)["template"]["language"]["code"],
            "en_US"
        );
    }

    #[test]
    fn messaging_limit_any_shape() {
        let mut p = PhoneNumber {
            whatsapp_business_manager_messaging_limit: Some(json!("TIER_2K")),
            ..Default::default()
        };
        assert_eq!(p.messaging_limit().as_deref(), Some("TIER_2K"));
        p.whatsapp_business_manager_messaging_limit = Some(json!({"current_limit": "TIER_10K"}));
        assert_eq!(p.messaging_limit().as_deref(), Some("TIER_10K"));
        assert_eq!(p.daily_unique_limit(), Some(10_000));
        for (tier, limit) in [
            ("TIER_250", Some(250)),
            ("TIER_2K", Some(2_000)),
            ("TIER_100K", Some(100_000)),
            ("TIER_UNLIMITED", None),
            ("TIER_", None),
            ("RED", None),
        ] {
            p.whatsapp_business_manager_messaging_limit = Some(json!(tier));
            assert_eq!(p.daily_unique_limit(), limit, "{tier}");
        }
    }

    #[test]
    fn send_response_trims_wa_id() {
        let r: SendResponse = serde_json::from_value(json!({"messaging_product":"whatsapp",
            "contacts":[{"input":"+4915112345678","wa_id":"4915112345678 "}],"messages":[{"id":"wamid.X"}]})).unwrap();
        assert_eq!(r.wa_id(), Some("4915112345678"));
        assert_eq!(r.wamid(), Some("wamid.X"));
    }
}

//! Meta's errors, typed and classified. Branch on `code` (and `subcode` for 100 and 190), never on
//! HTTP status or titles; show `details` / `error_user_msg`; log `fbtrace_id`.

use messaging::{Disposition, Pace, Problem, ProviderError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Meta's error object: `{"error": {...}}` from the Graph API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The HTTP status the error came with (informational only).
    #[serde(default)]
    pub http_status: u16,
    pub code: i64,
    #[serde(default)]
    pub subcode: Option<i64>,
    #[serde(default)]
    pub error_type: Option<String>,
    pub message: String,
    /// `error_data.details`: the most useful text for the user.
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub user_title: Option<String>,
    #[serde(default)]
    pub user_msg: Option<String>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
    #[serde(default)]
    pub is_transient: bool,
}

impl ApiError {
    /// Parses Meta's error envelope; `None` when the body is not one.
    pub fn from_body(http_status: u16, body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Envelope {
            error: Raw,
        }
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            message: String,
            #[serde(rename = "type", default)]
            error_type: Option<String>,
            code: i64,
            #[serde(default)]
            error_subcode: Option<i64>,
            #[serde(default)]
            error_data: Option<serde_json::Value>,
            #[serde(default)]
            error_user_title: Option<String>,
            #[serde(default)]
            error_user_msg: Option<String>,
            #[serde(default)]
            fbtrace_id: Option<String>,
            #[serde(default)]
            is_transient: Option<bool>,
        }
        let raw = serde_json::from_slice::<Envelope>(body).ok()?.error;
        // `error_data` is an object with `details` for messaging errors, a plain string for
        // template-management errors.
        let details = match raw.error_data {
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Object(o)) => o
                .get("details")
                .and_then(|d| d.as_str())
                .map(str::to_string),
            _ => None,
        };
        Some(ApiError {
            http_status,
            code: raw.code,
            subcode: raw.error_subcode,
            error_type: raw.error_type,
            message: raw.message,
            details,
            user_title: raw.error_user_title,
            user_msg: raw.error_user_msg,
            fbtrace_id: raw.fbtrace_id,
            is_transient: raw.is_transient.unwrap_or(false),
        })
    }

    /// The clearest text Meta gave, for showing to the user.
    pub fn best_text(&self) -> &str {
        self.user_msg
            .as_deref()
            .or(self.details.as_deref())
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("Graph API error {}: {}", .0.code, .0.message)]
    Api(ApiError),
    #[error("the Graph API did not answer in time")]
    Timeout,
    #[error("could not reach the Graph API: {0}")]
    Network(String),
    /// An answer that is not Meta's error envelope (a proxy page, an HTML error).
    #[error("unexpected answer from the Graph API (HTTP {status})")]
    Http { status: u16, snippet: String },
    #[error("could not read the Graph API answer: {0}")]
    Decode(String),
}

/// What went wrong, in the terms of the setup guide's troubleshooting section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// 0, 190 (+ subcodes): token expired, invalid, revoked.
    InvalidToken,
    /// 3, 10, 200–299, 131005: the token lacks a permission or asset.
    MissingPermission,
    /// 100 with subcode 33: the ID does not exist or is not shared with this token.
    UnknownObject,
    /// 133010, 131045: the number is not registered with the Cloud API.
    NotRegistered,
    /// 4, 17, 80007, 130429: call-rate or throughput limits.
    RateLimited,
    /// 131056: too many messages to the same recipient.
    PairRateLimited,
    /// 131048: spam rate limit (low quality).
    SpamLimited,
    /// 368, 131031: Meta restricted or locked the account.
    AccountRestricted,
    /// 131026: the recipient cannot receive WhatsApp messages.
    Undeliverable,
    /// 131047: more than 24 hours since the customer last wrote.
    ReEngagement,
    /// 131030: recipient not in the test number's allowed list.
    RecipientNotAllowed,
    /// 131042: payment or eligibility problem.
    Payment,
    /// 131053: the media could not be processed.
    MediaFailed,
    /// 132000, 132012: template parameters do not match.
    TemplateMismatch,
    /// 132001: template missing or not approved in that language.
    TemplateNotFound,
    /// 132015, 132016: template paused or disabled.
    TemplatePaused,
    /// 131021: sender and recipient are the same number.
    SelfMessage,
    /// 1, 2, 131000, 131016, 133004, 131057, 5xx: temporary trouble at Meta.
    Temporary,
    /// 100 (other), 131008, 131009: a parameter is missing or invalid.
    InvalidParameter,
    Timeout,
    Network,
    Other,
}

/// Whether and how to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    No,
    /// Retry with exponential backoff and jitter.
    Backoff,
    /// Same recipient too fast: wait longer (Meta suggests 4^n seconds).
    PairBackoff,
}

impl GraphError {
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            GraphError::Api(e) => Some(e),
            _ => None,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        let e = match self {
            GraphError::Api(e) => e,
            GraphError::Timeout => return ErrorKind::Timeout,
            GraphError::Network(_) => return ErrorKind::Network,
            GraphError::Http { status, .. } if *status >= 500 => return ErrorKind::Temporary,
            GraphError::Http { status: 429, .. } => return ErrorKind::RateLimited,
            GraphError::Http { .. } | GraphError::Decode(_) => return ErrorKind::Other,
        };
        match (e.code, e.subcode) {
            (0 | 190, _) => ErrorKind::InvalidToken,
            (3 | 10 | 131005, _) | (200..=299, _) => ErrorKind::MissingPermission,
            (100, Some(33)) | (803, _) => ErrorKind::UnknownObject,
            (133010 | 131045, _) => ErrorKind::NotRegistered,
            (4 | 17 | 80007 | 130429, _) => ErrorKind::RateLimited,
            (131056, _) => ErrorKind::PairRateLimited,
            (131048, _) => ErrorKind::SpamLimited,
            (368 | 131031, _) => ErrorKind::AccountRestricted,
            (131026, _) => ErrorKind::Undeliverable,
            (131047, _) => ErrorKind::ReEngagement,
            (131030, _) => ErrorKind::RecipientNotAllowed,
            (131042, _) => ErrorKind::Payment,
            (131053, _) => ErrorKind::MediaFailed,
            (132000 | 132012, _) => ErrorKind::TemplateMismatch,
            (132001, _) => ErrorKind::TemplateNotFound,
            (132015 | 132016, _) => ErrorKind::TemplatePaused,
            (131021, _) => ErrorKind::SelfMessage,
            (1 | 2 | 131000 | 131016 | 133004 | 131057, _) => ErrorKind::Temporary,
            (100 | 131008 | 131009, _) => ErrorKind::InvalidParameter,
            _ if e.http_status >= 500 => ErrorKind::Temporary,
            _ => ErrorKind::Other,
        }
    }

    pub fn retry(&self) -> Retry {
        match self.kind() {
            ErrorKind::Temporary
            | ErrorKind::RateLimited
            | ErrorKind::Timeout
            | ErrorKind::Network => Retry::Backoff,
            ErrorKind::PairRateLimited => Retry::PairBackoff,
            _ if self.api().is_some_and(|e| e.is_transient) => Retry::Backoff,
            _ => Retry::No,
        }
    }

    pub fn fbtrace_id(&self) -> Option<&str> {
        self.api().and_then(|e| e.fbtrace_id.as_deref())
    }
}

impl ErrorKind {
    /// The neutral troubleshooting key of this kind.
    pub fn problem(self, subcode: Option<i64>) -> Problem {
        match self {
            ErrorKind::InvalidToken => Problem::InvalidCredentials {
                expired: subcode == Some(463),
            },
            ErrorKind::MissingPermission => Problem::MissingPermission,
            ErrorKind::UnknownObject => Problem::UnknownSender,
            ErrorKind::NotRegistered => Problem::SenderNotRegistered,
            ErrorKind::RateLimited | ErrorKind::PairRateLimited | ErrorKind::SpamLimited => {
                Problem::RateLimited
            }
            ErrorKind::AccountRestricted => Problem::AccountRestricted,
            ErrorKind::Undeliverable => Problem::Undeliverable,
            ErrorKind::ReEngagement => Problem::WindowClosed,
            ErrorKind::RecipientNotAllowed => Problem::RecipientNotAllowed,
            ErrorKind::Payment => Problem::PaymentNeeded,
            ErrorKind::MediaFailed => Problem::MediaFailed,
            ErrorKind::TemplateMismatch => Problem::TemplateMismatch,
            ErrorKind::TemplateNotFound => Problem::TemplateNotFound,
            ErrorKind::TemplatePaused => Problem::TemplatePaused,
            ErrorKind::SelfMessage => Problem::SelfMessage,
            ErrorKind::Temporary => Problem::Temporary,
            ErrorKind::InvalidParameter => Problem::InvalidParameter,
            ErrorKind::Timeout => Problem::Timeout,
            ErrorKind::Network => Problem::Network,
            ErrorKind::Other => Problem::Other,
        }
    }
}

impl GraphError {
    /// This failure in the outbox's terms. A time-out or a dropped connection may have reached
    /// Meta, so its outcome is unknown; a closed window (131047) asks for a template.
    pub fn to_provider_error(&self) -> ProviderError {
        let kind = self.kind();
        let disposition = match (self, kind, self.retry()) {
            // A time-out, a broken connection, or a 2xx answer that cannot be read: Meta may
            // have taken the message, so it must not be called final (nor simply sent again).
            (GraphError::Timeout | GraphError::Network(_) | GraphError::Decode(_), _, _) => {
                Disposition::Unknown
            }
            (_, ErrorKind::ReEngagement, _) => Disposition::WindowClosed,
            (_, _, Retry::Backoff) => Disposition::Retry(Pace::Backoff),
            (_, _, Retry::PairBackoff) => Disposition::Retry(Pace::Recipient),
            (_, _, Retry::No) => Disposition::Final,
        };
        let api = self.api();
        ProviderError {
            disposition,
            problem: kind.problem(api.and_then(|a| a.subcode)),
            code: api.map(|a| a.code),
            message: api.map(|a| a.best_text().to_string()),
            trace_id: api.and_then(|a| a.fbtrace_id.clone()),
        }
    }
}

/// A code Meta reported after the fact (in a status webhook's `errors`), classified as if the
/// call had failed with it.
pub fn classify_code(code: i64, details: Option<String>) -> ProviderError {
    GraphError::Api(ApiError {
        http_status: 200,
        code,
        subcode: None,
        error_type: None,
        message: details.clone().unwrap_or_default(),
        details,
        user_title: None,
        user_msg: None,
        fbtrace_id: None,
        is_transient: false,
    })
    .to_provider_error()
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: i64, subcode: Option<i64>) -> GraphError {
        GraphError::Api(ApiError {
            http_status: 400,
            code,
            subcode,
            error_type: None,
            message: "m".into(),
            details: None,
            user_title: None,
            user_msg: None,
            fbtrace_id: None,
            is_transient: false,
        })
    }

    #[test]
    fn parses_meta_error_bodies() {
        let body = br#"{"error":{"message":"(#131030) Recipient phone number not in allowed list","type":"OAuthException","code":131030,
            "error_data":{"messaging_product":"whatsapp","details":"Recipient phone number not in allowed list"},"fbtrace_id":"AXsg"}}"#;
        let e = ApiError::from_body(400, body).unwrap();
        assert_eq!(e.code, 131030);
        assert_eq!(
            e.details.as_deref(),
            Some("Recipient phone number not in allowed list")
        );
        assert_eq!(e.fbtrace_id.as_deref(), Some("AXsg"));
        assert_eq!(e.error_type.as_deref(), Some("OAuthException"));

        let template = br#"{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2388024,
            "error_data":"Message template already exists","error_user_title":"Duplicate","error_user_msg":"Pick another name","is_transient":false}}"#;
        let e = ApiError::from_body(400, template).unwrap();
        assert_eq!(
            e.details.as_deref(),
            Some("Message template already exists")
        );
        assert_eq!(e.best_text(), "Pick another name");
        assert!(ApiError::from_body(502, b"<html>Bad gateway</html>").is_none());
    }

    #[test]
    fn classifies_the_guide_cases() {
        assert_eq!(api(190, Some(463)).kind(), ErrorKind::InvalidToken);
        assert_eq!(api(100, Some(33)).kind(), ErrorKind::UnknownObject);
        assert_eq!(api(100, None).kind(), ErrorKind::InvalidParameter);
        assert_eq!(api(133010, None).kind(), ErrorKind::NotRegistered);
        for code in [4, 80007, 130429] {
            assert_eq!(api(code, None).kind(), ErrorKind::RateLimited, "{code}");
        }
        for code in [10, 200, 299] {
            assert_eq!(
                api(code, None).kind(),
                ErrorKind::MissingPermission,
                "{code}"
            );
        }
        assert_eq!(api(131047, None).kind(), ErrorKind::ReEngagement);
        assert_eq!(api(131026, None).kind(), ErrorKind::Undeliverable);
    }

    #[test]
    fn retry_policy() {
        assert_eq!(api(130429, None).retry(), Retry::Backoff);
        assert_eq!(api(131000, None).retry(), Retry::Backoff);
        assert_eq!(api(131056, None).retry(), Retry::PairBackoff);
        assert_eq!(api(190, None).retry(), Retry::No);
        assert_eq!(api(131047, None).retry(), Retry::No);
        assert_eq!(GraphError::Timeout.retry(), Retry::Backoff);
        assert_eq!(
            GraphError::Http {
                status: 503,
                snippet: String::new()
            }
            .retry(),
            Retry::Backoff
        );
        let mut transient = api(135000, None);
        if let GraphError::Api(e) = &mut transient {
            e.is_transient = true;
        }
        assert_eq!(transient.retry(), Retry::Backoff);
    }

    #[test]
    fn neutral_dispositions() {
        let d = |e: GraphError| e.to_provider_error().disposition;
        assert_eq!(d(GraphError::Timeout), Disposition::Unknown);
        assert_eq!(d(GraphError::Network("reset".into())), Disposition::Unknown);
        assert_eq!(d(api(131047, None)), Disposition::WindowClosed);
        assert_eq!(d(api(130429, None)), Disposition::Retry(Pace::Backoff));
        assert_eq!(d(api(131056, None)), Disposition::Retry(Pace::Recipient));
        assert_eq!(d(api(131026, None)), Disposition::Final);
        let e = api(190, Some(463)).to_provider_error();
        assert_eq!(e.problem, Problem::InvalidCredentials { expired: true });
        assert_eq!(e.code, Some(190));
        assert_eq!(classify_code(131047, None).problem, Problem::WindowClosed);
    }

    #[test]
    fn an_unreadable_success_is_an_unknown_outcome() {
        let e = GraphError::Decode("missing field `wa_id`".into()).to_provider_error();
        assert_eq!(e.disposition, messaging::Disposition::Unknown);
        let e = GraphError::Http {
            status: 502,
            snippet: "<html>".into(),
        }
        .to_provider_error();
        assert_ne!(e.disposition, messaging::Disposition::Unknown);
    }
}

//! The one user-safe error type that crosses the wire.
//!
//! Server functions return `Result<T, AppError>`. Every variant carries only text that is safe to
//! show a user; the real cause of an internal failure is logged on the server with the reference
//! id that `Internal` carries, so support can find it.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Inline validation messages, keyed by the form field they belong to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_string(), message.into()));
    }
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(())` when nothing was added, otherwise the errors as an [`AppError::Invalid`].
    pub fn into_result(self) -> Result<(), AppError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(self))
        }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msgs: Vec<&str> = self.0.iter().map(|(_, m)| m.as_str()).collect();
        f.write_str(&msgs.join(" "))
    }
}

/// A WhatsApp (Graph API) failure explained for the user: one of the setup guide's
/// troubleshooting entries, what to do, and Meta's own words and trace id for support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhatsAppProblem {
    /// The troubleshooting entry, e.g. "Invalid Access Token".
    pub title: String,
    pub explanation: String,
    pub steps: Vec<String>,
    /// The provider's error code, its own words and its trace id (for its support), when it
    /// answered.
    pub code: Option<i64>,
    pub provider_message: Option<String>,
    pub trace_id: Option<String>,
    /// The anchor of the matching entry on the troubleshooting page.
    pub anchor: String,
}

/// How a request whose arguments could not be read is explained (see [`AppError::is_bad_request`]).
const INCOMPLETE_FORM: &str = "The form was incomplete or malformed";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Bad input: one message per offending field. Nothing was changed.
    #[error("{0}")]
    Invalid(FieldErrors),
    /// A request that needs a signed-in user came without a valid session.
    #[error("Your session has ended. Please log in again.")]
    Unauthorized,
    /// The thing asked for does not exist, or belongs to someone else.
    #[error("Not found.")]
    NotFound,
    /// Too many attempts; the user must wait before trying again.
    #[error("Too many attempts. Please wait {retry_after_secs} seconds and try again.")]
    Throttled { retry_after_secs: u64 },
    /// The server is at its limit for this kind of work (drawing PDFs); nothing was changed.
    #[error(
        "Axis CRM is busy drawing other invoices. Please try again in {retry_after_secs} seconds."
    )]
    Busy { retry_after_secs: u64 },
    /// WhatsApp (Meta's Graph API) refused or failed; nothing was changed.
    #[error("{}: {}", .0.title, .0.explanation)]
    WhatsApp(Box<WhatsAppProblem>),
    /// The request came from another site and was refused.
    #[error("This request came from another site and was refused.")]
    Forbidden,
    /// Something failed on the server. The cause is in the server log under `reference`.
    #[error("Something went wrong on our side. Please try again; if it keeps happening, contact support and quote reference {reference}.")]
    Internal { reference: String },
    /// The request never reached the server function, or its answer could not be read.
    #[error("Could not reach Axis CRM ({0}). Check your connection and try again.")]
    Transport(String),
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        AppError::Invalid(errors)
    }

    /// The message for one form field, if this error carries one.
    pub fn field(&self, field: &str) -> Option<String> {
        match self {
            AppError::Invalid(errors) => errors.get(field).map(str::to_string),
            _ => None,
        }
    }

    /// A message for the whole form: everything that is not tied to a field.
    pub fn form_message(&self) -> Option<String> {
        match self {
            AppError::Invalid(_) | AppError::WhatsApp(_) => None,
            other => Some(other.to_string()),
        }
    }

    pub fn whatsapp(&self) -> Option<&WhatsAppProblem> {
        match self {
            AppError::WhatsApp(p) => Some(p),
            _ => None,
        }
    }

    /// True when the request itself could not be read (missing or malformed arguments): HTTP 400
    /// rather than a field's 422.
    pub fn is_bad_request(&self) -> bool {
        self.field("form")
            .is_some_and(|m| m.starts_with(INCOMPLETE_FORM))
    }

    /// The HTTP status this error answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            e if e.is_bad_request() => 400,
            AppError::Invalid(_) | AppError::WhatsApp(_) => 422,
            AppError::Unauthorized => 401,
            AppError::Forbidden => 403,
            AppError::NotFound => 404,
            AppError::Throttled { .. } => 429,
            AppError::Busy { .. } => 503,
            AppError::Internal { .. } => 500,
            AppError::Transport(_) => 502,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(e) => AppError::Transport(e),
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::MissingArg(e) => {
                AppError::invalid("form", format!("{INCOMPLETE_FORM}: {e}"))
            }
            other => AppError::Transport(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::AppError;

    impl AppError {
        /// Logs `cause` with a fresh reference id and returns the user-safe error that names it.
        pub fn internal(cause: impl std::fmt::Display) -> Self {
            let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
            tracing::error!(reference = %reference, error = %cause, "internal error");
            AppError::Internal { reference }
        }
    }

    impl From<sqlx::Error> for AppError {
        fn from(e: sqlx::Error) -> Self {
            AppError::internal(format_args!("database: {e}"))
        }
    }

    impl From<tower_sessions::session::Error> for AppError {
        fn from(e: tower_sessions::session::Error) -> Self {
            AppError::internal(format_args!("session: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_collect_and_convert() {
        let mut e = FieldErrors::new();
        assert_eq!(e.clone().into_result(), Ok(()));
        e.add("email", "Enter an email address.");
        e.add("password", "Too short.");
        let err = e.into_result().unwrap_err();
        assert_eq!(
            err.field("email").as_deref(),
            Some("Enter an email address.")
        );
        assert_eq!(err.field("password").as_deref(), Some("Too short."));
        assert_eq!(err.field("name"), None);
        assert_eq!(err.form_message(), None);
        assert_eq!(err.status_code(), 422);
    }

    #[test]
    fn round_trips_through_the_wire_encoding() {
        for err in [
            AppError::invalid("email", "That email is already registered."),
            AppError::Unauthorized,
            AppError::Throttled {
                retry_after_secs: 42,
            },
            AppError::Internal {
                reference: "abc123".into(),
            },
        ] {
            let bytes = err.ser();
            assert_eq!(AppError::de(bytes), err);
        }
    }

    #[test]
    fn user_facing_text_is_specific() {
        assert!(AppError::Throttled {
            retry_after_secs: 30
        }
        .to_string()
        .contains("30 seconds"));
        let internal = AppError::Internal {
            reference: "r-1".into(),
        }
        .to_string();
        assert!(internal.contains("r-1"));
        assert_eq!(AppError::Unauthorized.status_code(), 401);
    }

    #[test]
    fn transport_failures_map_to_a_transport_error() {
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Request("offline".into()));
        assert!(matches!(e, AppError::Transport(ref m) if m == "offline"));
    }
}

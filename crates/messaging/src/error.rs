//! Every provider failure, in the outbox's terms.

use std::fmt;

/// What the outbox does after a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Try again later; the provider did not take the message.
    Retry(Pace),
    /// The request may have reached the provider (a time-out, a dropped connection): whether the
    /// message went is unknown until a webhook says so. Before the message call it is a retry.
    Unknown,
    /// The 24-hour customer service window is closed: only a template may go.
    WindowClosed,
    /// Trying again would fail the same way; the user must act.
    Final,
}

/// How long to wait before a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Exponential backoff with jitter.
    Backoff,
    /// Too many messages to this recipient: wait at least the pair interval, growing fast.
    Recipient,
}

/// Which troubleshooting entry explains a failure. The app keeps one catalogue keyed by these
/// (with the provider's code for the wording); providers only classify.
///
/// Each variant is explained by exactly one entry of the app's catalogue
/// (`help::troubleshooting::ENTRIES`, which also holds the sentence a problem box shows for it);
/// a test there lists every variant, so a new one must be given to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    /// The API secret expired, was revoked, or is wrong. `expired` when the provider says so.
    InvalidCredentials { expired: bool },
    /// The credentials lack a permission or the asset.
    MissingPermission,
    /// The sender id does not exist or is not visible to the credentials.
    UnknownSender,
    /// The sending number is not registered for the API.
    SenderNotRegistered,
    /// Call-rate, throughput, pair or spam limits.
    RateLimited,
    /// The provider restricted or locked the account.
    AccountRestricted,
    /// The provider did not answer in time.
    Timeout,
    /// The provider could not be reached.
    Network,
    /// The provider answered with a temporary error.
    Temporary,
    /// The recipient cannot receive WhatsApp messages.
    Undeliverable,
    /// Outside the 24-hour window.
    WindowClosed,
    /// A test sender may only write to its allowed list.
    RecipientNotAllowed,
    /// A payment method is missing or failing.
    PaymentNeeded,
    /// The template's parameters do not match the approved one.
    TemplateMismatch,
    /// No approved template with this name and language.
    TemplateNotFound,
    /// The template was paused or disabled.
    TemplatePaused,
    /// The document could not be processed.
    MediaFailed,
    /// The recipient is the sender itself.
    SelfMessage,
    /// A parameter is missing or invalid.
    InvalidParameter,
    /// Anything else.
    Other,
}

/// A failed provider call or a failure reported later, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub disposition: Disposition,
    pub problem: Problem,
    /// The provider's own error code, when it gave one.
    pub code: Option<i64>,
    /// The provider's clearest words for the user.
    pub message: Option<String>,
    /// The provider's trace id, for its support.
    pub trace_id: Option<String>,
}

impl ProviderError {
    pub fn new(disposition: Disposition, problem: Problem) -> Self {
        ProviderError {
            disposition,
            problem,
            code: None,
            message: None,
            trace_id: None,
        }
    }

    pub fn with_code(mut self, code: i64) -> Self {
        self.code = Some(code);
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// The outcome of a call that may have reached the provider is unknown.
    pub fn outcome_unknown(&self) -> bool {
        self.disposition == Disposition::Unknown
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.problem)?;
        if let Some(c) = self.code {
            write!(f, " (code {c})")?;
        }
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProviderError {}

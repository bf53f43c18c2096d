//! What a webhook delivery says, provider-neutral.

use crate::{ProviderError, Recipient};

/// Where a message is, as the provider reports it. Later states outrank earlier ones; `Failed`
/// outranks all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Sent,
    Delivered,
    Read,
    Failed,
}

/// How the provider prices a message, as it says in the status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pricing {
    pub category: Option<String>,
    /// `regular`, `free_customer_service`, …; `free` or `regular` where only billability is told.
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    /// The provider's message id.
    pub message_id: String,
    pub state: DeliveryState,
    /// The provider's time of the status, Unix seconds, as it sent it (not yet checked).
    pub at: Option<i64>,
    /// The raw time text, for the log when it is implausible.
    pub at_text: Option<String>,
    /// The tag the message was sent with, echoed back.
    pub tag: Option<String>,
    pub pricing: Option<Pricing>,
    /// Why it failed, classified.
    pub error: Option<ProviderError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub message_id: String,
    pub from: Option<Recipient>,
    pub at: Option<i64>,
    pub at_text: Option<String>,
    /// What kind of message it is (`text`, `document`, `button`, …; `message` when unsaid).
    pub kind: String,
    /// What the tenant wrote, or a description of what they sent.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateUpdate {
    /// The provider's template id, when it gave one.
    pub template_id: Option<String>,
    pub name: Option<String>,
    pub language: Option<String>,
    /// The new status in the provider's words (`APPROVED`, `REJECTED`, `PAUSED`, …).
    pub status: String,
    pub reason: Option<String>,
}

/// One fact from a webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryEvent {
    Status(StatusUpdate),
    Inbound(Inbound),
    Template(TemplateUpdate),
}

//! What a webhook delivery says, provider-neutral.

use crate::ProviderError;

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
    /// The recipient as the provider knows them, when it says (Meta's `recipient_user_id`), so a
    /// tenant reached by phone learns their id.
    pub recipient: Option<Person>,
}

/// Who a message came from or went to, as far as the provider tells: any of the fields may be
/// missing (a customer with a username may share no phone number).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// Their phone number in E.164, when it may be shared.
    pub phone: Option<String>,
    /// The provider's id for them (Meta's business-scoped user id), never a phone number.
    pub user_id: Option<String>,
    /// The name on their profile.
    pub name: Option<String>,
    /// Their WhatsApp username, without `@`.
    pub username: Option<String>,
}

/// A customer's identity changed: a new number (`user_changed_number`) or a new user id
/// (`user_changed_user_id`). The record known by `previous` is re-keyed to `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityChange {
    pub previous: Person,
    pub now: Person,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub message_id: String,
    pub from: Person,
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
    /// The new status in the provider's words (`APPROVED`, `REJECTED`, `PAUSED`, …), when the
    /// update is about its status.
    pub status: Option<String>,
    pub reason: Option<String>,
    /// The new category (`MARKETING`, …), when the provider re-categorised the template.
    pub category: Option<String>,
}

/// One fact from a webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryEvent {
    Status(StatusUpdate),
    Inbound(Inbound),
    Template(TemplateUpdate),
    Identity(IdentityChange),
    Account(AccountNotice),
}

/// Something the provider says about the whole account: a restriction, a ban, the app removed,
/// a new pricing tier. `blocks_sending` pauses the account's sends (until `until`, when given)
/// instead of letting each one fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountNotice {
    /// The provider's event name (`ACCOUNT_RESTRICTION`, `PARTNER_APP_UNINSTALLED`, …).
    pub event: String,
    /// What it means for the user, in a sentence.
    pub text: String,
    pub blocks_sending: bool,
    /// When it ends (Unix seconds), if the provider says.
    pub until: Option<i64>,
    /// Whether this notice lifts an earlier one (a reinstated account).
    pub clears: bool,
}

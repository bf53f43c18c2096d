//! The seam between Axis CRM and the services that deliver its WhatsApp messages.
//!
//! The outbox, the webhooks and the pages speak only these types; each provider (Meta's Cloud
//! API in `whatsapp-cloud`, and the ones that follow) implements [`Provider`] in its own crate
//! and translates its wire format, its errors and its webhook envelope into them.
//!
//! - [`Recipient`]: who a message goes to, a phone number or a provider-scoped user id.
//! - [`Account`]: one user's credentials at a provider, already decrypted.
//! - [`Message`], [`Media`], [`Accepted`]: what is sent and what the provider answers.
//! - [`ProviderError`]: every failure, classified into what the outbox does next
//!   ([`Disposition`]) and which troubleshooting entry explains it ([`Problem`]).
//! - [`DeliveryEvent`]: what a verified webhook says, in the order it said it.
//! - [`ConnectionCheck`], [`TemplateInfo`], [`TemplateDraft`], [`AccountError`]: what the
//!   settings page learns about a connection and its templates.

mod account;
mod error;
mod event;

pub use account::{
    template_variables, AccountError, AccountField, ConnectionCheck, SenderStatus, TemplateDraft,
    TemplateInfo, TokenLifetime, WebhookSubscription,
};
pub use error::{Disposition, Pace, Problem, ProviderError};
pub use event::{
    AccountNotice, DeliveryEvent, DeliveryState, IdentityChange, Inbound, Person, Pricing,
    StatusUpdate, TemplateUpdate,
};
pub use secrecy::{ExposeSecret, SecretString};

use async_trait::async_trait;
use std::time::Duration;

/// A provider's name as stored with a connection (`whatsapp_connections.provider`) and used in
/// webhook paths (`/webhooks/{provider}/{key}`): lower-case ASCII, stable forever.
pub type ProviderId = &'static str;

/// Who a message goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Recipient {
    /// A phone number in E.164 (`+447911123456`).
    Phone(String),
    /// An id the provider gave the person, for people who hide their number behind a username
    /// (Meta's business-scoped user id).
    UserId(String),
}

impl Recipient {
    /// The stored form: the E.164 number itself, or the user id.
    pub fn as_str(&self) -> &str {
        match self {
            Recipient::Phone(p) | Recipient::UserId(p) => p,
        }
    }

    /// Reads the stored form: a leading `+` means a phone number.
    pub fn from_stored(s: &str) -> Recipient {
        if s.starts_with('+') {
            Recipient::Phone(s.to_string())
        } else {
            Recipient::UserId(s.to_string())
        }
    }
}

/// One user's credentials at a provider, decrypted for the call and never logged (`Debug` shows
/// only the sender). The fields are the shape every planned provider shares: a sending identity,
/// an API secret, an optional account, and an optional secret that signs webhooks.
#[derive(Clone)]
pub struct Account {
    /// The sending identity: Meta's phone number id, Twilio's `whatsapp:+…` sender, …
    pub sender: String,
    /// The API secret: Meta's access token, Twilio's auth token, 360dialog's API key, …
    pub token: SecretString,
    /// The account the sender belongs to: Meta's WhatsApp Business Account id, Twilio's SID, …
    pub account_id: Option<String>,
    /// The application the credentials belong to (Meta's App ID), when the provider has one.
    pub app_id: Option<String>,
    /// What webhooks are signed with (Meta's App Secret), when it differs from nothing.
    pub signing_secret: Option<SecretString>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

/// A document ready to be referred to in a message: Meta's uploaded media id, or a link the
/// provider fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub reference: String,
}

/// What the outbox sends. The invoice PDF travels as a prepared [`Media`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A document with a caption; only inside the 24-hour customer service window.
    Document {
        media: Media,
        filename: String,
        caption: Option<String>,
    },
    /// An approved template whose header is the document, with its body variables in order.
    Template {
        name: String,
        language: String,
        media: Media,
        filename: String,
        params: Vec<String>,
    },
    /// An approved template without a document or variables (Meta's `hello_world`): what the
    /// self-test sends when no invoice template is approved yet.
    Greeting { name: String, language: String },
}

impl Message {
    /// `document` or `template`, as the send's `kind` is stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Document { .. } => "document",
            Message::Template { .. } | Message::Greeting { .. } => "template",
        }
    }
}

/// The provider took the message: it is on its way, not yet delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    /// The provider's id of the message, which its status webhooks name.
    pub message_id: Option<String>,
    /// The provider's own id of the recipient, when it tells one (Meta's `wa_id`).
    pub recipient_id: Option<String>,
}

/// What the app needs from a provider to connect an account and deliver an invoice.
/// Implementations translate and classify; they keep no state about sends (the outbox does).
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The stored name of this provider.
    fn id(&self) -> ProviderId;

    /// Proves the credentials work and describes the sending number: what the settings page
    /// shows after "Connect" and "Test connection".
    async fn check_connection(&self, account: &Account) -> Result<ConnectionCheck, AccountError>;

    /// Subscribes the app to the account's webhooks, where the provider needs that step
    /// (Meta's `subscribed_apps`). Providers whose webhooks need no subscription do nothing.
    async fn subscribe_webhooks(&self, _account: &Account) -> Result<(), AccountError> {
        Ok(())
    }

    /// The account's message templates, every status.
    async fn templates(&self, account: &Account) -> Result<Vec<TemplateInfo>, AccountError>;

    /// Submits a template for approval and returns it as the provider now lists it.
    async fn create_template(
        &self,
        account: &Account,
        draft: &TemplateDraft,
    ) -> Result<TemplateInfo, AccountError>;

    /// How long a prepared document may be referred to again (a retry, a template fallback)
    /// before it must be prepared anew.
    fn media_lifetime(&self) -> Duration;

    /// Makes the PDF available to the provider: Meta uploads it and returns a media id.
    async fn prepare_document(
        &self,
        account: &Account,
        filename: &str,
        pdf: Vec<u8>,
    ) -> Result<Media, ProviderError>;

    /// Sends `message` to `to`. `tag` names the send and its attempt; the provider carries it
    /// along so that a status webhook can settle a send whose answer never arrived.
    async fn send(
        &self,
        account: &Account,
        to: &Recipient,
        message: &Message,
        tag: &str,
    ) -> Result<Accepted, ProviderError>;

    /// Checks a webhook delivery's signature over the raw body, in constant time.
    fn verify_webhook(&self, account: &Account, headers: &http::HeaderMap, body: &[u8]) -> bool;

    /// Reads a verified delivery into neutral events for the connection of `account`. Events
    /// for another sender are left out; an unreadable body is an error.
    fn parse_webhook(&self, account: &Account, body: &[u8]) -> Result<Vec<DeliveryEvent>, String>;

    /// What an error code a provider reported after the fact (in a status webhook, or stored
    /// with a failed send) means.
    fn classify_code(&self, code: i64, detail: Option<String>) -> ProviderError;
}

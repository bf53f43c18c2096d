//! What a provider says about a connection and its templates, provider-neutral.

use crate::ProviderError;

/// How long the API secret lives, as the provider tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenLifetime {
    /// A short-lived token for trying things out (Meta's 24-hour API Setup token).
    Temporary { expires_at: i64 },
    /// A token that expires on a date (a system-user token with an expiry).
    Expiring { expires_at: i64 },
    /// A token or key that never expires.
    Permanent,
    /// The provider was not asked, or would not say.
    Unknown,
}

impl TokenLifetime {
    /// The stored form: `temporary`, `expiring`, `permanent` or `unknown`, and the expiry.
    pub fn stored(self) -> (&'static str, Option<i64>) {
        match self {
            TokenLifetime::Temporary { expires_at } => ("temporary", Some(expires_at)),
            TokenLifetime::Expiring { expires_at } => ("expiring", Some(expires_at)),
            TokenLifetime::Permanent => ("permanent", None),
            TokenLifetime::Unknown => ("unknown", None),
        }
    }
}

/// What a connection check learned about the sending number. Every field is the provider's
/// own word, shown on the settings page as it came; a provider fills what it knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderStatus {
    pub verified_name: Option<String>,
    pub display_phone_number: Option<String>,
    pub quality_rating: Option<String>,
    pub name_status: Option<String>,
    pub code_verification_status: Option<String>,
    /// The number's own status (`CONNECTED`, `FLAGGED`, …).
    pub status: Option<String>,
    /// `LIVE` or `SANDBOX` at the provider.
    pub account_mode: Option<String>,
    pub throughput_level: Option<String>,
    pub messaging_limit: Option<String>,
    /// Unique customers the sender may reach outside their window in 24 hours (Meta's
    /// messaging limit, per business portfolio); `None` when unlimited or not known.
    pub daily_unique_limit: Option<u32>,
    /// Messages a second the provider allows this sender when it caps it below the usual rate
    /// (Meta fixes a number shared with the WhatsApp Business app at 20).
    pub max_per_second: Option<u32>,
    /// The number is also used in the provider's own app (Meta's coexistence with the WhatsApp
    /// Business app).
    pub shared_with_app: bool,
    /// What the provider says blocks messaging, one sentence each.
    pub health_problems: Vec<String>,
}

/// A successful connection check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionCheck {
    pub sender: SenderStatus,
    pub token: TokenLifetime,
    /// Whether the provider will send this app the account's webhooks.
    pub webhooks: WebhookSubscription,
}

/// Whether webhooks will come: Meta sends none to an app that is not subscribed to the
/// WhatsApp Business Account, the common reason no status ever arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookSubscription {
    Subscribed,
    NotSubscribed,
    /// Not known: no account id to ask about, the question failed, or the provider has no
    /// such step.
    Unknown,
}

impl WebhookSubscription {
    /// The stored form: 1, 0 or NULL.
    pub fn stored(self) -> Option<i64> {
        match self {
            WebhookSubscription::Subscribed => Some(1),
            WebhookSubscription::NotSubscribed => Some(0),
            WebhookSubscription::Unknown => None,
        }
    }
}

/// The part of a connection's credentials a provider found wrong or missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountField {
    /// The account the sender belongs to (Meta's WhatsApp Business Account ID).
    AccountId,
    /// The application and its secret (Meta's App ID and App Secret).
    App,
}

/// Why a connection or template call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    /// The provider refused or failed, classified like a send.
    Provider(ProviderError),
    /// A part of the credentials is wrong, or missing for this operation; `message` tells the
    /// user what to change, in the provider's terms.
    Field {
        field: AccountField,
        message: String,
    },
}

impl From<ProviderError> for AccountError {
    fn from(e: ProviderError) -> Self {
        AccountError::Provider(e)
    }
}

impl std::fmt::Display for AccountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountError::Provider(e) => e.fmt(f),
            AccountError::Field { field, message } => write!(f, "{field:?}: {message}"),
        }
    }
}

impl std::error::Error for AccountError {}

/// One message template as the provider lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateInfo {
    /// The provider's id of the template, when it has one.
    pub id: Option<String>,
    pub name: String,
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, … (upper case).
    pub status: String,
    /// `UTILITY`, `MARKETING`, `AUTHENTICATION` (upper case; empty when unsaid).
    pub category: String,
    /// `DOCUMENT`, `TEXT`, `IMAGE`, … when the template has a header.
    pub header_format: Option<String>,
    pub body_text: String,
    /// Why the provider rejected or paused it.
    pub reason: Option<String>,
}

/// A template to submit for approval: a document header, a body with `{{1}}`… variables,
/// an optional footer, and an example for the reviewers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateDraft {
    pub name: String,
    pub language: String,
    pub category: String,
    pub body: String,
    /// One example value per body variable, in order.
    pub body_example: Vec<String>,
    pub footer: Option<String>,
    /// A sample of the header document (a PDF), for the review.
    pub example_filename: String,
    pub example_pdf: Vec<u8>,
}

/// How many distinct `{{…}}` variables a template body has.
pub fn template_variables(text: &str) -> usize {
    let mut seen = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        rest = &rest[i + 2..];
        if let Some(j) = rest.find("}}") {
            let name = rest[..j].trim();
            if !seen.contains(&name) {
                seen.push(name);
            }
            rest = &rest[j + 2..];
        }
    }
    seen.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_variables() {
        assert_eq!(template_variables("Hi {{1}}, {{2}} and {{1}} again"), 2);
        assert_eq!(template_variables("no variables"), 0);
        assert_eq!(template_variables("{{ 1 }} {{1}} {{unclosed"), 1);
    }

    #[test]
    fn token_lifetimes_are_stored_by_name() {
        assert_eq!(
            TokenLifetime::Temporary { expires_at: 5 }.stored(),
            ("temporary", Some(5))
        );
        assert_eq!(TokenLifetime::Permanent.stored(), ("permanent", None));
    }
}

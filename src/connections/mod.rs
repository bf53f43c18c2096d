//! Settings → WhatsApp Integration: connect your own WhatsApp Cloud API number (or the sandbox),
//! see its status, test it, replace the token, disconnect. The server half ([`server`]) owns the
//! `whatsapp_connections` table.

mod components;
#[cfg(feature = "ssr")]
pub mod server;

pub use components::{
    problem_of, ConnectForm, CopyField, ProblemBox, SandboxOffer, SandboxPlays,
    WhatsAppSettingsPage,
};

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Everything the settings page shows. It never carries the access token or the app secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhatsAppPage {
    pub connection: Option<ConnectionView>,
    /// Credentials come from the server's environment for users without their own.
    pub env_managed: bool,
    pub sandbox_available: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenView {
    /// `temporary`, `expiring`, `permanent` or `unknown`.
    pub kind: String,
    pub expires_at_text: Option<String>,
    pub seconds_left: Option<i64>,
}

impl TokenView {
    pub fn label(&self) -> &'static str {
        match self.kind.as_str() {
            "temporary" => "Temporary token",
            "expiring" => "System-user token with an expiry date",
            "permanent" => "Permanent system-user token (never expires)",
            _ => "Unknown (add the App ID and App Secret to check)",
        }
    }

    /// "23 h 10 min", "expired".
    pub fn time_left(&self) -> Option<String> {
        let s = self.seconds_left?;
        Some(if s <= 0 {
            "expired".into()
        } else if s >= 2 * 86_400 {
            format!("{} days", s / 86_400)
        } else {
            format!("{} h {} min", s / 3600, (s % 3600) / 60)
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionView {
    pub sandbox: bool,
    pub phone_number_id: String,
    pub business_account_id: Option<String>,
    pub phone_number: Option<String>,
    pub app_id: Option<String>,
    pub has_app_secret: bool,
    /// The last four characters of the token: enough to recognise it, useless to anyone else.
    pub token_last4: String,
    pub token: TokenView,
    pub verified_name: Option<String>,
    pub display_phone_number: Option<String>,
    pub quality_rating: Option<String>,
    pub name_status: Option<String>,
    pub code_verification_status: Option<String>,
    pub number_status: Option<String>,
    pub account_mode: Option<String>,
    pub throughput_level: Option<String>,
    pub messaging_limit: Option<String>,
    /// Unique customers a day outside their window the messaging limit allows (`None`:
    /// unlimited or not known).
    pub daily_unique_limit: Option<u32>,
    /// The number is also used in the WhatsApp Business app (coexistence): paced at 20 a second.
    pub shared_with_app: bool,
    pub health_problems: Vec<String>,
    pub connected_at_text: String,
    pub last_checked_at_text: String,
    pub last_check_error: Option<String>,
    /// `{AXIS_PUBLIC_URL}/webhooks/whatsapp/{key}`, to paste into Meta's webhook settings.
    pub webhook_url: String,
    pub verify_token: String,
    /// Whether Meta will send this app the account's webhooks (`None`: not known).
    pub webhooks_subscribed: Option<bool>,
    /// When Meta last verified the Callback URL, and when its last event arrived.
    pub webhook_verified_text: Option<String>,
    pub webhook_event_text: Option<String>,
    /// What Meta last said about the whole account (restriction, ban, app removed, tier).
    pub account_notice: Option<String>,
    /// Set while the account's sends are paused by such a notice.
    pub paused_text: Option<String>,
}

impl ConnectionView {
    /// The messaging limit with what it means: "TIER_2K: 2,000 customers a day outside their
    /// 24-hour window".
    pub fn messaging_limit_text(&self) -> Option<String> {
        let tier = self.messaging_limit.clone()?;
        Some(match self.daily_unique_limit {
            Some(n) => format!(
                "{tier}: {} customers a day outside their 24-hour window",
                grouped(n)
            ),
            None => tier,
        })
    }

    /// The throughput level, or the coexistence cap when the number is shared with the app.
    pub fn throughput_text(&self) -> Option<String> {
        if self.shared_with_app {
            return Some(
                "20 messages a second (the number is shared with the WhatsApp Business app)".into(),
            );
        }
        self.throughput_level.clone()
    }
}

/// `2000` as "2,000".
pub fn grouped(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The result of testing credentials supplied by the environment. No credentials in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvManagedView {
    pub verified_name: Option<String>,
    pub display_phone_number: Option<String>,
    pub quality_rating: Option<String>,
    pub token: TokenView,
    pub checked: bool,
}

#[server(endpoint = "whatsapp/get")]
pub async fn get_whatsapp() -> Result<WhatsAppPage, AppError> {
    use crate::{connections::server as whatsapp, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let user_id = srv::require_user_id().await?;
        whatsapp::page(&state, user_id).await
    }
    .await;
    srv::finish("", &[], result).await
}

#[server(endpoint = "whatsapp/connect")]
pub async fn connect_whatsapp(
    phone_number_id: String,
    access_token: String,
    business_account_id: String,
    phone_number: String,
    app_id: String,
    app_secret: String,
) -> Result<(), AppError> {
    use crate::{platform::context as srv, providers::meta};
    let result = async {
        let state = srv::app_state()?;
        let user_id = srv::require_user_id().await?;
        let input = meta::form::ConnectInput {
            phone_number_id: phone_number_id.clone(),
            access_token,
            business_account_id: business_account_id.clone(),
            phone_number: phone_number.clone(),
            app_id: app_id.clone(),
            app_secret,
        };
        meta::connect(&state, user_id, &input).await
    }
    .await;
    // Values typed come back after a failed no-JavaScript post; the token and secret never do.
    let values = [
        ("phone_number_id", phone_number_id.as_str()),
        ("business_account_id", business_account_id.as_str()),
        ("phone_number", phone_number.as_str()),
        ("app_id", app_id.as_str()),
    ];
    srv::finish("whatsapp-connect", &values, result).await
}

#[server(endpoint = "whatsapp/sandbox")]
pub async fn connect_sandbox() -> Result<(), AppError> {
    use crate::{accounts::server as auth, platform::context as srv, providers::meta};
    let result = async {
        let state = srv::app_state()?;
        let user_id = srv::require_user_id().await?;
        let business = auth::user_by_id(&state.db, user_id)
            .await?
            .map(|u| u.business_name)
            .unwrap_or_default();
        meta::connect_sandbox(&state, user_id, &business).await
    }
    .await;
    srv::finish("whatsapp-sandbox", &[], result).await
}

#[server(endpoint = "whatsapp/test")]
pub async fn test_whatsapp() -> Result<(), AppError> {
    use crate::{connections::server as whatsapp, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let user_id = srv::require_user_id().await?;
        whatsapp::test(&state, user_id).await
    }
    .await;
    srv::finish("whatsapp-test", &[], result).await
}

#[server(endpoint = "whatsapp/subscribe")]
pub async fn subscribe_whatsapp_webhooks() -> Result<(), AppError> {
    use crate::{connections::server as whatsapp, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let user_id = srv::require_user_id().await?;
        whatsapp::subscribe_webhooks(&state, user_id).await
    }
    .await;
    srv::finish("whatsapp-subscribe", &[], result).await
}

#[server(endpoint = "whatsapp/test_env")]
pub async fn test_env_whatsapp() -> Result<EnvManagedView, AppError> {
    use crate::{platform::context as srv, providers::meta};
    let result = async {
        let state = srv::app_state()?;
        srv::require_user_id().await?;
        meta::test_env(&state).await
    }
    .await;
    srv::finish("whatsapp-test-env", &[], result).await
}

#[server(endpoint = "whatsapp/replace_token")]
pub async fn replace_whatsapp_token(access_token: String) -> Result<(), AppError> {
    use crate::{platform::context as srv, providers::meta};
    let result = async {
        let state = srv::app_state()?;
        let user_id = srv::require_user_id().await?;
        meta::replace_token(&state, user_id, &access_token).await
    }
    .await;
    srv::finish("whatsapp-replace", &[], result).await
}

#[server(endpoint = "whatsapp/disconnect")]
pub async fn disconnect_whatsapp() -> Result<(), AppError> {
    use crate::{connections::server as whatsapp, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let user_id = srv::require_user_id().await?;
        whatsapp::disconnect(&state.db, user_id).await
    }
    .await;
    srv::finish("whatsapp-disconnect", &[], result).await
}

/// What the sandbox plays of Meta's or a customer's part from the settings page, so a newcomer
/// can see each case Axis CRM handles without waiting for it to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SandboxPlay {
    /// A customer writes from a WhatsApp username, sharing no number.
    UsernameCustomer,
    TemplateArchived,
    TemplatePaused,
    /// Meta moves the invoice template from UTILITY to MARKETING.
    TemplateMarketing,
    /// The number joins the WhatsApp Business app (coexistence).
    SharedWithApp,
}

impl SandboxPlay {
    pub const ALL: [SandboxPlay; 5] = [
        SandboxPlay::UsernameCustomer,
        SandboxPlay::TemplateArchived,
        SandboxPlay::TemplatePaused,
        SandboxPlay::TemplateMarketing,
        SandboxPlay::SharedWithApp,
    ];

    pub fn key(self) -> &'static str {
        match self {
            SandboxPlay::UsernameCustomer => "username-customer",
            SandboxPlay::TemplateArchived => "template-archived",
            SandboxPlay::TemplatePaused => "template-paused",
            SandboxPlay::TemplateMarketing => "template-marketing",
            SandboxPlay::SharedWithApp => "shared-with-app",
        }
    }

    pub fn parse(key: &str) -> Option<SandboxPlay> {
        SandboxPlay::ALL.into_iter().find(|p| p.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            SandboxPlay::UsernameCustomer => {
                "A new customer writes from a WhatsApp username (no number shared)"
            }
            SandboxPlay::TemplateArchived => "Meta archives the invoice template",
            SandboxPlay::TemplatePaused => "Meta pauses the invoice template",
            SandboxPlay::TemplateMarketing => "Meta moves the invoice template to MARKETING",
            SandboxPlay::SharedWithApp => {
                "The number joins the WhatsApp Business app (coexistence)"
            }
        }
    }
}

#[server(endpoint = "whatsapp/sandbox_play")]
pub async fn play_sandbox(event: String) -> Result<String, AppError> {
    use crate::{platform::context as srv, providers::meta};
    let result = async {
        let state = srv::app_state()?;
        let user_id = srv::require_user_id().await?;
        let play = SandboxPlay::parse(&event)
            .ok_or_else(|| AppError::invalid("event", "Choose what the sandbox should play."))?;
        meta::play(&state, user_id, play).await
    }
    .await;
    srv::finish("sandbox-play", &[("event", event.as_str())], result).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_plays_read_back_their_keys() {
        for p in SandboxPlay::ALL {
            assert_eq!(SandboxPlay::parse(p.key()), Some(p));
        }
        assert_eq!(SandboxPlay::parse("drop-tables"), None);
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        let cases = [
            (0, "0"),
            (250, "250"),
            (2000, "2,000"),
            (100_000, "100,000"),
            (1_234_567, "1,234,567"),
        ];
        for (n, text) in cases {
            assert_eq!(grouped(n), text);
        }
    }

    #[test]
    fn time_left_reads_well() {
        let t = |s| TokenView {
            kind: "temporary".into(),
            expires_at_text: None,
            seconds_left: Some(s),
        };
        assert_eq!(
            t(23 * 3600 + 10 * 60).time_left().as_deref(),
            Some("23 h 10 min")
        );
        assert_eq!(t(-5).time_left().as_deref(), Some("expired"));
        assert_eq!(t(10 * 86_400).time_left().as_deref(), Some("10 days"));
        assert!(t(1).label().starts_with("Temporary"));
    }
}

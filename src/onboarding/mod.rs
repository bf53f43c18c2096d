//! The setup wizard at `/onboarding`: the user's guide as steps, with progress saved per user,
//! live checks where the app can make them, and the sandbox as a way through without Meta.

#[cfg(feature = "ssr")]
pub mod server;
pub mod steps;
mod wizard;

pub use wizard::{SetupBanner, WizardPage};

use crate::{connections::ConnectionView, error::AppError};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One step as this user stands on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepState {
    pub key: String,
    pub done: bool,
    /// `checked` (Axis CRM saw it), `sandbox` (checked, with the sandbox), `marked` (the user
    /// said so), or empty.
    pub how: String,
}

/// What the webhook step waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookStatus {
    pub verified_at_text: Option<String>,
    pub last_event_at_text: Option<String>,
    /// Without the App Secret, signed events cannot be checked and are refused.
    pub has_app_secret: bool,
}

impl WebhookStatus {
    pub fn complete(&self) -> bool {
        self.verified_at_text.is_some() && self.last_event_at_text.is_some()
    }

    /// What arrived (see `components::live`).
    pub fn live_key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.verified_at_text.is_some(),
            self.last_event_at_text.is_some(),
            self.has_app_secret
        )
    }
}

/// An invoice the last step can send: issued or paid, tenant with a mobile number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceChoice {
    pub id: i64,
    pub number: String,
    pub tenant_name: String,
    pub phone: String,
}

/// Everything the wizard shows. No secrets: the connection view carries only the token's last
/// four characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wizard {
    /// The step shown, which is also where the user will resume.
    pub step: String,
    pub steps: Vec<StepState>,
    pub done: usize,
    pub finished_text: Option<String>,
    pub skipped: bool,
    pub connection: Option<ConnectionView>,
    pub webhook: Option<WebhookStatus>,
    /// Meta only calls public https addresses: set when `AXIS_PUBLIC_URL` is not one.
    pub public_url_warning: Option<String>,
    pub sandbox_available: bool,
    pub invoices: Vec<InvoiceChoice>,
    /// The user has invoices at all (else the last step offers sample data).
    pub has_invoices: bool,
}

impl Wizard {
    pub fn state(&self, key: &str) -> Option<&StepState> {
        self.steps.iter().find(|s| s.key == key)
    }
}

/// For the navigation's reminder: where an unfinished wizard stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupReminder {
    pub done: usize,
    pub total: usize,
}

/// Loads the wizard at `step` (or where the user left off) and remembers it as the place to
/// resume.
#[server(endpoint = "onboarding/get")]
pub async fn get_wizard(step: Option<String>) -> Result<Wizard, AppError> {
    use crate::{onboarding::server as onboarding, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let user = srv::require_user_id().await?;
        onboarding::wizard(&state, user, step.as_deref()).await
    }
    .await;
    srv::finish("", &[], result).await
}

/// `done` is "1" to mark the step done (and go on to the next one), "0" to take the mark away.
#[server(endpoint = "onboarding/mark")]
pub async fn mark_step(step: String, done: String) -> Result<(), AppError> {
    use crate::{onboarding::server as onboarding, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let user = srv::require_user_id().await?;
        let to = onboarding::mark(&state.db, user, &step, done == "1").await?;
        leptos_axum::redirect(&format!("/onboarding/{to}"));
        Ok(())
    }
    .await;
    srv::finish("onboarding-mark", &[], result).await
}

/// "Skip the setup guide": it stops opening after log-in; it stays under "Setup guide".
#[server(endpoint = "onboarding/skip")]
pub async fn skip_wizard() -> Result<(), AppError> {
    use crate::{onboarding::server as onboarding, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let user = srv::require_user_id().await?;
        onboarding::skip(&state.db, user).await?;
        leptos_axum::redirect("/invoices");
        Ok(())
    }
    .await;
    srv::finish("onboarding-skip", &[], result).await
}

#[server(endpoint = "onboarding/finish")]
pub async fn finish_wizard() -> Result<(), AppError> {
    use crate::{onboarding::server as onboarding, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let user = srv::require_user_id().await?;
        onboarding::finish(&state.db, user).await?;
        leptos_axum::redirect("/invoices");
        Ok(())
    }
    .await;
    srv::finish("onboarding-finish", &[], result).await
}

/// Takes a finished or skipped wizard up again.
#[server(endpoint = "onboarding/resume")]
pub async fn resume_wizard() -> Result<(), AppError> {
    use crate::{onboarding::server as onboarding, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let user = srv::require_user_id().await?;
        let at = onboarding::resume(&state.db, user).await?;
        leptos_axum::redirect(&format!("/onboarding/{at}"));
        Ok(())
    }
    .await;
    srv::finish("onboarding-resume", &[], result).await
}

/// The webhook step asks this every two seconds while it waits.
#[server(endpoint = "onboarding/webhook")]
pub async fn get_webhook_status() -> Result<Option<WebhookStatus>, AppError> {
    use crate::{onboarding::server as onboarding, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let user = srv::require_user_id().await?;
        onboarding::webhook_status(&state.db, user).await
    }
    .await;
    srv::finish("", &[], result).await
}

/// With the sandbox: what Meta does on "Verify and save" (`action` = "verify") or on "Test"
/// beside the messages field (`action` = "test").
#[server(endpoint = "onboarding/sandbox_webhook")]
pub async fn sandbox_webhook(action: String) -> Result<(), AppError> {
    use crate::{onboarding::server as onboarding, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let user = srv::require_user_id().await?;
        onboarding::sandbox_webhook(&state, user, &action).await
    }
    .await;
    srv::finish("onboarding-sandbox-webhook", &[], result).await
}

/// For the reminder in the navigation: `None` once the wizard is finished or skipped (or for
/// accounts from before the wizard existed).
#[server(endpoint = "onboarding/reminder")]
pub async fn get_setup_reminder() -> Result<Option<SetupReminder>, AppError> {
    use crate::{onboarding::server as onboarding, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let user = srv::require_user_id().await?;
        onboarding::reminder(&state.db, user).await
    }
    .await;
    srv::finish("", &[], result).await
}

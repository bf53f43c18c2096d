//! Sending invoices over WhatsApp: the wire types the pages show and the server functions behind
//! the WhatsApp button, the confirmation, bulk sends, templates and usage; the pages and cells in
//! [`pages`]; the outbox, the webhooks and the provider registry in [`server`].

mod pages;
#[cfg(feature = "ssr")]
pub mod server;

pub use pages::{
    poll_news, BatchBar, LiveBatch, LiveSends, LiveTicks, SendConfirm, SendHistory,
    SendInvoicePage, SendTicks, SendingSection, TenantMessagesPage, WhatsAppCell,
};

use crate::error::{AppError, WhatsAppProblem};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Why an invoice cannot be sent, and where to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    /// Two or three words for the table cell ("No phone").
    pub short: String,
    pub reason: String,
    pub fix_href: String,
    pub fix_label: String,
}

/// Where a send is. A send goes `Queued → Sending → Accepted` when the provider takes the
/// message, then `Sent → Delivered → Read` (or `Failed`) as status webhooks arrive. The rank only
/// ever grows along that line, so duplicated and reordered webhooks leave the right final state;
/// `Unknown` (the provider may or may not have taken it) ranks with `Sending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SendState {
    Queued,
    Sending,
    Unknown,
    Accepted,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl SendState {
    pub const ALL: [SendState; 8] = [
        SendState::Queued,
        SendState::Sending,
        SendState::Unknown,
        SendState::Accepted,
        SendState::Sent,
        SendState::Delivered,
        SendState::Read,
        SendState::Failed,
    ];

    /// The stored name (`whatsapp_sends.state`).
    pub fn as_str(self) -> &'static str {
        match self {
            SendState::Queued => "queued",
            SendState::Sending => "sending",
            SendState::Unknown => "unknown",
            SendState::Accepted => "accepted",
            SendState::Sent => "sent",
            SendState::Delivered => "delivered",
            SendState::Read => "read",
            SendState::Failed => "failed",
        }
    }

    /// The stored rank (`whatsapp_sends.state_rank`): webhooks move a send only to a higher one.
    pub fn rank(self) -> i64 {
        match self {
            SendState::Queued => 0,
            SendState::Sending | SendState::Unknown => 1,
            SendState::Accepted => 2,
            SendState::Sent => 3,
            SendState::Delivered => 4,
            SendState::Read => 5,
            SendState::Failed => 6,
        }
    }

    pub fn parse(stored: &str) -> Option<SendState> {
        SendState::ALL.into_iter().find(|s| s.as_str() == stored)
    }

    /// The tenant's phone has it, or further.
    pub fn reached_phone(self) -> bool {
        matches!(
            self,
            SendState::Sent | SendState::Delivered | SendState::Read
        )
    }
}

impl std::fmt::Display for SendState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The latest WhatsApp send of an invoice, as the table's ticks show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendBadge {
    pub send_id: i64,
    pub state: SendState,
    /// "document" or "template" once decided.
    pub kind: Option<String>,
    /// Why it failed, or why it is waiting to be retried.
    pub reason: Option<String>,
    pub anchor: Option<String>,
    pub retrying: bool,
    pub updated_at: i64,
}

impl SendBadge {
    /// What a screen reader hears and a tooltip shows.
    pub fn label(&self) -> String {
        let base = match self.state {
            SendState::Queued if self.retrying => "Queued, will retry",
            SendState::Queued => "Queued",
            SendState::Sending => "Sending",
            SendState::Unknown => "Waiting for WhatsApp to confirm",
            SendState::Accepted => "Accepted by WhatsApp",
            SendState::Sent => "Sent",
            SendState::Delivered => "Delivered",
            SendState::Read => "Read",
            SendState::Failed => "Failed",
        };
        match (&self.reason, self.state) {
            (Some(r), SendState::Failed) => format!("{base}: {r}"),
            (Some(r), SendState::Queued) if self.retrying => format!("{base} ({r})"),
            _ => base.to_string(),
        }
    }

    /// Still moving: the page keeps asking for news while any badge is. A delivered message may
    /// still be read (unless the tenant turned read receipts off).
    pub fn in_progress(&self) -> bool {
        !matches!(self.state, SendState::Read | SendState::Failed)
    }
}

/// What the confirmation shows before an invoice is queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendPreview {
    pub invoice_id: i64,
    pub number: String,
    pub tenant_id: i64,
    pub tenant_name: String,
    /// The tenant's number, written internationally.
    pub recipient: Option<String>,
    /// "document" (inside the 24-hour window) or "template".
    pub kind: String,
    /// "23 h 10 min" left in the window, when it is open.
    pub window_left: Option<String>,
    pub message: String,
    pub template: Option<String>,
    pub billing: String,
    pub blocker: Option<Blocker>,
    pub latest: Option<SendBadge>,
    /// A send is already queued, under way or done: only "Send again" queues another.
    pub needs_again: bool,
    pub sandbox: bool,
}

/// One call to Meta for a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    pub number: i64,
    pub kind: String,
    pub at_text: String,
    pub outcome: String,
    pub provider_message_id: Option<String>,
    pub error: Option<String>,
    pub trace_id: Option<String>,
}

/// A send with its attempts, for the invoice's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendView {
    pub badge: SendBadge,
    pub recipient: String,
    pub created_text: String,
    pub provider_message_id: Option<String>,
    pub times: Vec<(String, String)>,
    pub problem: Option<WhatsAppProblem>,
    pub attempts: Vec<AttemptView>,
}

/// A bulk send's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchProgress {
    pub id: i64,
    pub label: String,
    pub total: i64,
    /// Accepted by WhatsApp or further.
    pub done: i64,
    pub failed: i64,
    pub waiting: i64,
}

impl BatchProgress {
    pub fn finished(&self) -> bool {
        self.waiting == 0
    }
}

/// What "Send selected" or "Send all overdue" did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkResult {
    pub batch_id: Option<i64>,
    pub queued: i64,
    /// (invoice number, why it was left out)
    pub skipped: Vec<(String, String)>,
}

/// The live part of the invoices table, refreshed while sends are moving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendNews {
    pub badges: Vec<(i64, SendBadge)>,
    pub batch: Option<BatchProgress>,
}

/// A message template of the connected account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateView {
    pub name: String,
    pub language: String,
    pub status: String,
    pub category: String,
    pub body_text: String,
    /// Why it cannot carry invoices (no document header, wrong number of variables).
    pub unusable: Option<String>,
    pub reason: Option<String>,
    pub chosen: bool,
    /// What its state means and what to do (paused, archived, moved to MARKETING, nearing
    /// archival for lack of use, …).
    pub notice: Option<String>,
}

/// Messages sent this month, as Meta reported them in status webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageView {
    pub month: String,
    /// (category, messages, billable)
    pub by_category: Vec<(String, i64, i64)>,
    pub total: i64,
    pub billable: i64,
    /// Accepted, but Meta has not said yet how it prices them.
    pub unpriced: i64,
}

/// What the invoice page's send history shows that can change (see `components::live`): each
/// send's state and number of attempts.
pub fn live_key_of_sends(sends: &[SendView]) -> String {
    sends
        .iter()
        .map(|s| format!("{}:{}", s.badge.state.as_str(), s.attempts.len()))
        .collect::<Vec<_>>()
        .join(",")
}

impl SendingSettings {
    /// The templates and their statuses, and the one chosen (see `components::live`).
    pub fn live_key(&self) -> String {
        let mut key = self.chosen.clone().unwrap_or_default();
        for t in &self.templates {
            key.push_str(&format!(";{}|{}|{}", t.name, t.language, t.status));
        }
        key
    }
}

impl SendPreview {
    /// How it would go, what blocks it and the latest send (see `components::live`).
    pub fn live_key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.kind,
            self.blocker
                .as_ref()
                .map(|b| b.short.as_str())
                .unwrap_or(""),
            self.latest.as_ref().map(|b| b.state.as_str()).unwrap_or(""),
            self.needs_again
        )
    }
}

impl TenantMessages {
    /// Whether the window is open and how many messages came (see `components::live`).
    pub fn live_key(&self) -> String {
        format!("{}|{}", self.window_left.is_some(), self.messages.len())
    }
}

/// Everything below the connection on the WhatsApp settings page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendingSettings {
    pub templates: Vec<TemplateView>,
    pub chosen: Option<String>,
    pub can_create_template: bool,
    pub usage: UsageView,
}

/// The tenant's side: the 24-hour window and the last messages they wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantMessages {
    pub tenant_id: i64,
    pub name: String,
    pub phone: Option<String>,
    pub window_left: Option<String>,
    pub last_inbound_text: Option<String>,
    /// (time, kind, text)
    pub messages: Vec<(String, String, String)>,
    pub sandbox: bool,
}

#[server(endpoint = "whatsapp/preview")]
pub async fn get_send_preview(invoice_id: i64) -> Result<SendPreview, AppError> {
    use crate::{platform::context as srv, sending::server::outbox};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        outbox::preview(&st.db, user, invoice_id).await
    }
    .await;
    srv::finish("", &[], result).await
}

#[server(endpoint = "whatsapp/send")]
pub async fn send_invoice(
    invoice_id: i64,
    again: Option<String>,
    next: Option<String>,
) -> Result<i64, AppError> {
    use crate::{platform::context as srv, sending::server::outbox};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        let id = outbox::queue(&st, user, invoice_id, again.is_some()).await?;
        // Back to the table, where the row now shows "queued" (or to the wizard that sent it).
        leptos_axum::redirect(&crate::accounts::validate::safe_next(next.as_deref()));
        Ok(id)
    }
    .await;
    srv::finish("whatsapp-send", &[], result).await
}

#[server(endpoint = "whatsapp/bulk")]
pub async fn send_bulk(
    which: String,
    #[server(default)] ids: Vec<i64>,
    #[server(default)] confirm: Option<String>,
) -> Result<BulkResult, AppError> {
    use crate::{platform::context as srv, sending::server::outbox};
    // A warning to confirm comes back with the selection, so a page without JavaScript can
    // offer "Send anyway" for the same invoices.
    let selected = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        let which = match which.as_str() {
            "overdue" => outbox::Bulk::Overdue,
            "selected" => outbox::Bulk::Selected(ids),
            _ => return Err(AppError::invalid("form", "Choose what to send.")),
        };
        outbox::queue_bulk(&st, user, which, confirm.is_some()).await
    }
    .await;
    srv::finish(
        "whatsapp-bulk",
        &[("which", which.as_str()), ("ids", selected.as_str())],
        result,
    )
    .await
}

#[server(endpoint = "whatsapp/news")]
pub async fn get_send_news(#[server(default)] ids: Vec<i64>) -> Result<SendNews, AppError> {
    use crate::{platform::context as srv, sending::server::outbox};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        outbox::news(&st.db, user, &ids).await
    }
    .await;
    srv::finish("", &[], result).await
}

#[server(endpoint = "whatsapp/history")]
pub async fn send_history(invoice_id: i64) -> Result<Vec<SendView>, AppError> {
    use crate::{platform::context as srv, sending::server::outbox};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        outbox::history(&st.db, &st.providers, user, invoice_id).await
    }
    .await;
    srv::finish("", &[], result).await
}

#[server(endpoint = "whatsapp/sending")]
pub async fn get_sending_settings() -> Result<SendingSettings, AppError> {
    use crate::{platform::context as srv, templates::server as templates};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        templates::settings(&st.db, user).await
    }
    .await;
    srv::finish("", &[], result).await
}

#[server(endpoint = "whatsapp/templates/refresh")]
pub async fn refresh_templates() -> Result<(), AppError> {
    use crate::{platform::context as srv, templates::server as templates};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        templates::refresh(&st, user).await
    }
    .await;
    srv::finish("whatsapp-templates", &[], result).await
}

#[server(endpoint = "whatsapp/templates/create")]
pub async fn create_invoice_template() -> Result<(), AppError> {
    use crate::{platform::context as srv, templates::server as templates};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        templates::create_invoice_template(&st, user).await
    }
    .await;
    srv::finish("whatsapp-templates", &[], result).await
}

#[server(endpoint = "whatsapp/templates/choose")]
pub async fn choose_template(template: String) -> Result<(), AppError> {
    use crate::{platform::context as srv, templates::server as templates};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        templates::choose(&st.db, user, &template).await
    }
    .await;
    srv::finish("whatsapp-templates", &[], result).await
}

#[server(endpoint = "tenants/messages")]
pub async fn get_tenant_messages(tenant_id: i64) -> Result<TenantMessages, AppError> {
    use crate::{platform::context as srv, sending::server::outbox};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        outbox::tenant_messages(&st.db, user, tenant_id).await
    }
    .await;
    srv::finish("", &[], result).await
}

/// Sandbox only: plays a message from the tenant, which opens the 24-hour window.
#[server(endpoint = "whatsapp/sandbox_reply")]
pub async fn sandbox_reply(tenant_id: i64) -> Result<(), AppError> {
    use crate::{platform::context as srv, sending::server::outbox};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        outbox::sandbox_reply(&st, user, tenant_id).await
    }
    .await;
    srv::finish("sandbox-reply", &[], result).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn badge(state: &str, reason: Option<&str>, retrying: bool) -> SendBadge {
        let state = SendState::parse(state).unwrap();
        SendBadge {
            send_id: 1,
            state,
            kind: None,
            reason: reason.map(str::to_string),
            anchor: None,
            retrying,
            updated_at: 0,
        }
    }

    #[test]
    fn labels_say_what_happened() {
        assert_eq!(badge("read", None, false).label(), "Read");
        assert_eq!(
            badge("failed", Some("Failed to send message"), false).label(),
            "Failed: Failed to send message"
        );
        assert_eq!(
            badge("queued", Some("Could not reach WhatsApp"), true).label(),
            "Queued, will retry (Could not reach WhatsApp)"
        );
        assert!(badge("sent", None, false).in_progress());
        assert!(badge("delivered", None, false).in_progress());
        assert!(!badge("read", None, false).in_progress());
        assert!(!badge("failed", None, false).in_progress());
    }

    #[test]
    fn states_read_back_and_ranks_only_grow_along_the_lifecycle() {
        for s in SendState::ALL {
            assert_eq!(SendState::parse(s.as_str()), Some(s));
        }
        assert_eq!(SendState::parse("played"), None);
        use SendState::*;
        let order = [Queued, Sending, Accepted, Sent, Delivered, Read, Failed];
        for w in order.windows(2) {
            assert!(w[0].rank() < w[1].rank(), "{} before {}", w[0], w[1]);
        }
        assert_eq!(Unknown.rank(), Sending.rank());
    }
}

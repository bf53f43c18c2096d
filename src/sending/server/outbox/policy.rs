//! The rules a send follows, for the pages and the worker alike: what blocks it, the user's
//! connection, the invoice's facts and the 24-hour window, and the chosen template.

use super::{read::human_date, WINDOW_SECS};
use crate::templates::lifecycle::{Lifecycle, TemplateState, RECATEGORISED};
use crate::{
    error::AppError,
    invoices::{money, types::Status},
    platform::db::Db,
    sending::Blocker,
};
use messaging::Recipient;
use sqlx::Row;

/// How a tenant can be reached on WhatsApp: by their number, or (when they shared none) by the
/// provider's user id for them. A user id never passes through phone parsing or formatting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Nothing,
    Phone { e164: String, mobile: bool },
    UserId(String),
}

impl Reach {
    /// From a tenant's stored columns: the phone when there is one (Meta advises sending by
    /// phone: it keeps numbers coming in webhooks), else the user id.
    pub fn of(phone: Option<String>, mobile: bool, user_id: Option<String>) -> Reach {
        match (phone, user_id) {
            (Some(e164), _) => Reach::Phone { e164, mobile },
            (None, Some(u)) => Reach::UserId(u),
            (None, None) => Reach::Nothing,
        }
    }

    pub fn recipient(&self) -> Option<Recipient> {
        match self {
            Reach::Phone { e164, .. } => Some(Recipient::Phone(e164.clone())),
            Reach::UserId(u) => Some(Recipient::UserId(u.clone())),
            Reach::Nothing => None,
        }
    }
}

/// A stored recipient as a person reads it: a phone number in international format, or the
/// username for a user id ([`identities::shown_user`](crate::invoices::server::identities::shown_user)).
pub fn shown_recipient(stored: &str, username: Option<&str>) -> String {
    match Recipient::from_stored(stored) {
        Recipient::Phone(p) => super::read::international(&p),
        Recipient::UserId(_) => crate::invoices::server::identities::shown_user(username),
    }
}

/// What stands between the user and sending this tenant an invoice, if anything.
pub(super) fn blocker(
    connected: Option<&ConnectionInfo>,
    stored_status: Status,
    reach: &Reach,
    tenant_id: i64,
    invoice_id: i64,
) -> Option<Blocker> {
    let b = |short: &str, reason: &str, href: String, label: &str| {
        Some(Blocker {
            short: short.into(),
            reason: reason.into(),
            fix_href: href,
            fix_label: label.into(),
        })
    };
    if connected.is_none() {
        return b(
            "Not connected",
            "WhatsApp is not connected.",
            "/settings/whatsapp".into(),
            "Connect WhatsApp",
        );
    }
    if *reach == Reach::Nothing {
        return b(
            "No phone",
            "The tenant has no phone number.",
            format!("/tenants#tenant-{tenant_id}"),
            "Add a phone number",
        );
    }
    if matches!(reach, Reach::Phone { mobile: false, .. }) {
        return b(
            "Landline",
            "The tenant's number is a fixed line; WhatsApp needs a mobile number.",
            format!("/tenants#tenant-{tenant_id}"),
            "Change the number",
        );
    }
    match stored_status {
        Status::Draft => b(
            "Draft",
            "This invoice is a draft; issue it before sending.",
            format!("/invoices/{invoice_id}"),
            "Open the invoice",
        ),
        Status::Void => b(
            "Void",
            "This invoice is void.",
            format!("/invoices/{invoice_id}"),
            "Open the invoice",
        ),
        _ => None,
    }
}

/// What the send path needs to know about the user's connection, without secrets.
pub struct ConnectionInfo {
    pub sandbox: bool,
    pub template: Option<(String, String)>,
    pub webhooks_seen: bool,
}

pub async fn connection_info(db: &Db, user_id: i64) -> Result<Option<ConnectionInfo>, AppError> {
    let row = sqlx::query(
        "SELECT mode, invoice_template_name, invoice_template_language, webhook_last_event_at \
         FROM whatsapp_connections WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let name: Option<String> = r.try_get("invoice_template_name")?;
    let lang: Option<String> = r.try_get("invoice_template_language")?;
    Ok(Some(ConnectionInfo {
        sandbox: r.try_get::<String, _>("mode")? == "sandbox",
        template: name.zip(lang),
        webhooks_seen: r
            .try_get::<Option<i64>, _>("webhook_last_event_at")?
            .is_some(),
    }))
}

pub(super) struct InvoiceFacts {
    pub(super) number: String,
    pub(super) stored_status: Status,
    pub(super) tenant_id: i64,
    pub(super) tenant_name: String,
    pub(super) reach: Reach,
    pub(super) username: Option<String>,
    pub(super) last_inbound_at: Option<i64>,
    pub(super) amount: String,
    pub(super) due_date: String,
    pub(super) business: String,
}

pub(super) async fn invoice_facts(
    db: &Db,
    user_id: i64,
    invoice_id: i64,
) -> Result<InvoiceFacts, AppError> {
    let r = sqlx::query(
        "SELECT i.number, i.status, i.due_date, i.total_minor, i.currency, t.id AS tenant_id, t.name, \
         t.phone_e164, t.phone_is_mobile, t.provider_user_id, t.username, t.last_inbound_at, u.business_name \
         FROM invoices i JOIN tenants t ON t.id = i.tenant_id JOIN users u ON u.id = i.user_id \
         WHERE i.id = $1 AND i.user_id = $2",
    )
    .bind(invoice_id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let currency: String = r.try_get("currency")?;
    Ok(InvoiceFacts {
        number: r.try_get("number")?,
        stored_status: Status::parse(&r.try_get::<String, _>("status")?).unwrap_or(Status::Draft),
        tenant_id: r.try_get("tenant_id")?,
        tenant_name: r.try_get("name")?,
        reach: Reach::of(
            r.try_get("phone_e164")?,
            r.try_get::<i64, _>("phone_is_mobile")? == 1,
            r.try_get("provider_user_id")?,
        ),
        username: r.try_get("username")?,
        last_inbound_at: r.try_get("last_inbound_at")?,
        amount: money::format(
            money::from_minor(r.try_get("total_minor")?, &currency),
            &currency,
        ),
        due_date: r.try_get("due_date")?,
        business: r.try_get("business_name")?,
    })
}

impl InvoiceFacts {
    pub(super) fn window_open(&self, now: i64) -> bool {
        self.last_inbound_at
            .is_some_and(|at| now - at < WINDOW_SECS)
    }

    pub(super) fn caption(&self) -> String {
        format!(
            "Invoice {} from {} for {}, due {}. The PDF is attached.",
            self.number,
            self.business,
            self.amount,
            human_date(&self.due_date)
        )
    }

    pub(super) fn template_params(&self) -> Vec<String> {
        vec![
            self.tenant_name.clone(),
            self.number.clone(),
            self.amount.clone(),
            human_date(&self.due_date),
        ]
    }
}

/// The chosen invoice template as stored: its body, and what stops it, if anything.
pub(super) struct ChosenTemplate {
    pub(super) body: String,
    /// Why it cannot be sent now (its state, or Meta moved it to MARKETING).
    pub(super) problem: Option<Lifecycle>,
}

pub(super) async fn chosen_template_body(
    db: &Db,
    user_id: i64,
    template: &(String, String),
) -> Result<Option<ChosenTemplate>, AppError> {
    let row = sqlx::query(
        "SELECT status, category, body_text FROM whatsapp_templates WHERE user_id = $1 AND name = $2 AND language = $3",
    )
    .bind(user_id)
    .bind(&template.0)
    .bind(&template.1)
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let state = TemplateState::parse(&r.try_get::<String, _>("status")?);
    let marketing = r
        .try_get::<String, _>("category")?
        .eq_ignore_ascii_case("MARKETING");
    let problem = match (state.sendable(), marketing) {
        (false, _) => state.explain(),
        (true, true) => Some(RECATEGORISED),
        (true, false) => None,
    };
    Ok(Some(ChosenTemplate {
        body: r.try_get("body_text")?,
        problem,
    }))
}

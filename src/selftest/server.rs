//! The self-test's server half: it owns `whatsapp_self_tests`. A test goes straight through the
//! connection's provider (not the outbox: it is no invoice, and the user waits for it on the
//! page), and its status webhooks land here when no send claims their message id.

use super::{RoundTrip, SelfTestView, Step};
use crate::{
    connections::server::{self as whatsapp, format_time, stored_problem},
    error::AppError,
    invoices::server::{parse_tenant_phone, profile},
    platform::{db, AppState},
    templates::{lifecycle::TemplateState, server::unusable},
};
use messaging::{DeliveryState, Media, Message, Recipient, StatusUpdate};
use sqlx::Row;

/// Meta's sample template, approved on every new WhatsApp Business Account.
pub const GREETING_TEMPLATE: (&str, &str) = ("hello_world", "en_US");

/// A new test may start this long after the last one (a double click sends one message).
const SPACING_SECS: i64 = 10;
/// Without a status webhook this long after Meta took the message, the page says webhooks are
/// not arriving.
pub const WEBHOOK_PATIENCE_SECS: i64 = 60;
/// A test that has not been read this long after it started is over (read receipts may be off).
const GIVE_UP_SECS: i64 = 10 * 60;

/// The tag a test's message carries, which its status webhooks echo back.
fn tag(id: i64) -> String {
    format!("axis-selftest:{id}")
}

fn parse_tag(tag: &str) -> Option<i64> {
    tag.strip_prefix("axis-selftest:")?.parse().ok()
}

/// The test message: the invoice template with a sample PDF when it can carry one, else Meta's
/// `hello_world`. `None` when neither is approved.
async fn choose_message(
    state: &AppState,
    user_id: i64,
    provider: &dyn messaging::Provider,
    account: &messaging::Account,
    params: Vec<String>,
) -> Result<Option<(Message, String, bool)>, AppError> {
    let db = &state.db;
    let approved = |status: &str| TemplateState::parse(status).sendable();
    let invoice = sqlx::query(
        "SELECT t.name, t.language, t.status, t.category, t.header_format, t.body_params FROM whatsapp_connections c \
         JOIN whatsapp_templates t ON t.user_id = c.user_id AND t.name = c.invoice_template_name \
         AND t.language = c.invoice_template_language WHERE c.user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    if let Some(r) = invoice {
        let status: String = r.try_get("status")?;
        let category: String = r.try_get("category")?;
        let header: Option<String> = r.try_get("header_format")?;
        let variables: i64 = r.try_get("body_params")?;
        if approved(&status) && unusable(header.as_deref(), variables, &category).is_none() {
            let pdf =
                tokio::task::spawn_blocking(|| invoice_pdf::render(&invoice_pdf::sample_invoice()))
                    .await
                    .map_err(AppError::internal)?
                    .map_err(AppError::internal)?;
            let filename = "axis-test-invoice.pdf".to_string();
            let media: Media = match provider.prepare_document(account, &filename, pdf).await {
                Ok(m) => m,
                Err(e) => return Err(AppError::WhatsApp(Box::new(whatsapp::problem(&e, "")))),
            };
            let name: String = r.try_get("name")?;
            let message = Message::Template {
                name: name.clone(),
                language: r.try_get("language")?,
                media,
                filename,
                params,
            };
            return Ok(Some((message, name, true)));
        }
    }
    let greeting: Option<String> = sqlx::query_scalar(
        "SELECT status FROM whatsapp_templates WHERE user_id = $1 AND name = $2 AND language = $3",
    )
    .bind(user_id)
    .bind(GREETING_TEMPLATE.0)
    .bind(GREETING_TEMPLATE.1)
    .fetch_optional(&db.pool)
    .await?;
    let greeting_ok = match greeting {
        Some(s) => approved(&s),
        // Not listed yet: the templates were never read. Read them once.
        None => {
            crate::templates::server::refresh(state, user_id).await?;
            sqlx::query_scalar::<_, String>(
                "SELECT status FROM whatsapp_templates WHERE user_id = $1 AND name = $2 AND language = $3",
            )
            .bind(user_id)
            .bind(GREETING_TEMPLATE.0)
            .bind(GREETING_TEMPLATE.1)
            .fetch_optional(&db.pool)
            .await?
            .is_some_and(|s| approved(&s))
        }
    };
    Ok(greeting_ok.then(|| {
        (
            Message::Greeting {
                name: GREETING_TEMPLATE.0.into(),
                language: GREETING_TEMPLATE.1.into(),
            },
            GREETING_TEMPLATE.0.to_string(),
            false,
        )
    }))
}

/// Sends a test message to `number`, the user's own WhatsApp. Bad input, no connection or no
/// approved template are errors that change nothing; a refusal by the provider is stored with
/// the test and shown with its troubleshooting entry.
pub async fn start(state: &AppState, user_id: i64, number: &str) -> Result<i64, AppError> {
    let db = &state.db;
    let field = |m: String| AppError::invalid("number", m);
    let business = profile(db, user_id).await?;
    let (country, currency) = (business.default_country, business.default_currency);
    let (to, mobile) = parse_tenant_phone(number, &country)
        .map_err(field)?
        .ok_or_else(|| field("Enter your own WhatsApp number, which receives the test.".into()))?;
    if !mobile {
        return Err(field(
            "This is a landline number; WhatsApp needs a mobile number.".into(),
        ));
    }
    let Some(stored) = whatsapp::load(db, &state.keyring, user_id).await? else {
        return Err(AppError::invalid("form", "Connect WhatsApp first."));
    };
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    if stored
        .display_phone_number
        .as_deref()
        .is_some_and(|d| digits(d) == digits(&to))
    {
        return Err(field(
            "This is the number Axis CRM sends from, and a number cannot message itself. Enter your personal WhatsApp number."
                .into(),
        ));
    }
    if let Some(p) = &stored.pause {
        return Err(AppError::invalid(
            "form",
            format!("Sending is paused: {}", p.why),
        ));
    }
    let now = db::now();
    let last: Option<i64> =
        sqlx::query_scalar("SELECT MAX(created_at) FROM whatsapp_self_tests WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&db.pool)
            .await?;
    if last.is_some_and(|t| now - t < SPACING_SECS) {
        return Err(AppError::invalid(
            "form",
            "A test was sent a moment ago; its result is below.",
        ));
    }
    let provider = state.providers.get(&stored.provider, stored.mode)?;
    // The invoice template's variables: the user's own name, a test number, nothing to pay, today.
    let name = crate::accounts::server::user_by_id(db, user_id)
        .await?
        .map(|u| u.name)
        .unwrap_or_default();
    let params = vec![
        name,
        "TEST-0001".into(),
        crate::invoices::money::format(rust_decimal::Decimal::ZERO, &currency),
        crate::invoices::server::today(),
    ];
    let Some((message, template, with_document)) =
        choose_message(state, user_id, &*provider, &stored.account, params).await?
    else {
        return Err(AppError::invalid(
            "form",
            format!(
                "No approved template to test with: neither the invoice template nor Meta's {} is approved on this account. \
                 Create the invoice template below and wait for its approval.",
                GREETING_TEMPLATE.0
            ),
        ));
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO whatsapp_self_tests (user_id, recipient, template_name, with_document, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(&to)
    .bind(&template)
    .bind(i64::from(with_document))
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    let sent = provider
        .send(&stored.account, &Recipient::Phone(to), &message, &tag(id))
        .await;
    match sent {
        Ok(a) => {
            // A status webhook may have come first (the tag names the test): keep what it set.
            sqlx::query(
                "UPDATE whatsapp_self_tests SET accepted_at = COALESCE(accepted_at, $1), \
                 provider_message_id = COALESCE(provider_message_id, $2) WHERE id = $3",
            )
            .bind(db::now())
            .bind(&a.message_id)
            .bind(id)
            .execute(&db.pool)
            .await?;
            tracing::info!(user_id, self_test = id, "self-test message accepted");
        }
        Err(e) => {
            let p = whatsapp::problem(&e, &stored.account.sender);
            sqlx::query(
                "UPDATE whatsapp_self_tests SET failed_at = $1, error_code = $2, error_title = $3, error_detail = $4, \
                 error_anchor = $5 WHERE id = $6",
            )
            .bind(db::now())
            .bind(e.code)
            .bind(&p.title)
            .bind(e.message.clone().unwrap_or(p.explanation))
            .bind(&p.anchor)
            .bind(id)
            .execute(&db.pool)
            .await?;
            tracing::warn!(user_id, self_test = id, code = ?e.code, "self-test message refused");
        }
    }
    Ok(id)
}

/// One statement per status: each time column is set once, the first webhook's arrival kept,
/// errors and pricing filled once. Returns whether a test had the message.
pub async fn apply_status(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    s: &StatusUpdate,
    at: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    // A test whose answer never came learns its message id from the tag.
    if let Some(id) = s.tag.as_deref().and_then(parse_tag) {
        sqlx::query(
            "UPDATE whatsapp_self_tests SET provider_message_id = $1, accepted_at = COALESCE(accepted_at, $2) \
             WHERE id = $3 AND user_id = $4 AND provider_message_id IS NULL",
        )
        .bind(&s.message_id)
        .bind(at)
        .bind(id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    }
    let state = match s.state {
        DeliveryState::Sent => "sent",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Read => "read",
        DeliveryState::Failed => "failed",
    };
    let error = s.error.as_ref();
    let (title, anchor) = error
        .map(|e| whatsapp::problem(e, ""))
        .map_or((None, None), |p| (Some(p.title), Some(p.anchor)));
    let pricing = s.pricing.as_ref();
    let updated = sqlx::query(
        "UPDATE whatsapp_self_tests SET \
           sent_at = CASE WHEN $1 = 'sent' THEN COALESCE(sent_at, $2) ELSE sent_at END, \
           delivered_at = CASE WHEN $1 = 'delivered' THEN COALESCE(delivered_at, $2) ELSE delivered_at END, \
           read_at = CASE WHEN $1 = 'read' THEN COALESCE(read_at, $2) ELSE read_at END, \
           failed_at = CASE WHEN $1 = 'failed' THEN COALESCE(failed_at, $2) ELSE failed_at END, \
           first_webhook_at = COALESCE(first_webhook_at, $3), \
           error_code = COALESCE(error_code, $4), error_title = COALESCE(error_title, $5), \
           error_detail = COALESCE(error_detail, $6), error_anchor = COALESCE(error_anchor, $7), \
           pricing_category = COALESCE(pricing_category, $8), pricing_type = COALESCE(pricing_type, $9) \
         WHERE provider_message_id = $10 AND user_id = $11",
    )
    .bind(state)
    .bind(at)
    .bind(now)
    .bind(error.and_then(|e| e.code))
    .bind(title)
    .bind(error.and_then(|e| e.message.clone()))
    .bind(anchor)
    .bind(pricing.and_then(|p| p.category.clone()))
    .bind(pricing.and_then(|p| p.kind.clone()))
    .bind(&s.message_id)
    .bind(user_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(updated > 0)
}

/// What the card shows: the number to prefill, and the latest test's round trip.
pub async fn view(state: &AppState, user_id: i64) -> Result<SelfTestView, AppError> {
    let db = &state.db;
    let row = sqlx::query(
        "SELECT id, recipient, template_name, with_document, created_at, accepted_at, sent_at, delivered_at, read_at, \
         failed_at, first_webhook_at, error_code, error_title, error_detail, error_anchor \
         FROM whatsapp_self_tests WHERE user_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else {
        return Ok(SelfTestView::default());
    };
    // Only the provider's name, to read a stored error code: no secret is decrypted per poll.
    let provider_name: Option<String> =
        sqlx::query_scalar("SELECT provider FROM whatsapp_connections WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    let provider = provider_name.and_then(|n| state.providers.any_mode(&n));
    let now = db::now();
    let time = |col: &str| -> Result<Option<i64>, sqlx::Error> { r.try_get(col) };
    let created: i64 = r.try_get("created_at")?;
    let accepted = time("accepted_at")?;
    let failed = time("failed_at")?;
    let webhook = time("first_webhook_at")?;
    let read = time("read_at")?;
    let steps = vec![
        (Step::Accepted, accepted.map(format_time)),
        (Step::Sent, time("sent_at")?.map(format_time)),
        (Step::Delivered, time("delivered_at")?.map(format_time)),
        (Step::Read, read.map(format_time)),
        (Step::Webhook, webhook.map(format_time)),
    ];
    let problem = match (failed, r.try_get::<Option<String>, _>("error_title")?) {
        (Some(_), Some(title)) => Some(stored_problem(
            provider.as_deref(),
            &title,
            r.try_get("error_code")?,
            r.try_get("error_detail")?,
            r.try_get("error_anchor")?,
        )),
        _ => None,
    };
    let finished = failed.is_some() || read.is_some() || now - created > GIVE_UP_SECS;
    let silent = accepted.is_some_and(|a| now - a > WEBHOOK_PATIENCE_SECS) && webhook.is_none();
    let recipient: String = r.try_get("recipient")?;
    Ok(SelfTestView {
        number: recipient.clone(),
        test: Some(RoundTrip {
            id: r.try_get("id")?,
            to: recipient,
            template: r.try_get("template_name")?,
            with_document: r.try_get::<i64, _>("with_document")? == 1,
            started_text: format_time(created),
            steps,
            problem,
            finished,
            webhooks_silent: silent,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_the_test_and_never_a_send() {
        assert_eq!(parse_tag(&tag(17)), Some(17));
        assert_eq!(parse_tag("axis:17:1"), None);
        assert_eq!(
            crate::sending::server::outbox::parse_callback(&tag(17)),
            None
        );
    }
}

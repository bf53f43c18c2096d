//! Message templates (needed outside the 24-hour window), the invoice template, and this
//! month's usage for the WhatsApp settings page.

use super::lifecycle::{archive_warning, TemplateState, RECATEGORISED};
use crate::{
    connections::server::{self as whatsapp, Stored},
    platform::{
        db::{self, Db},
        state::AppState,
    },
};
use crate::{error::AppError, sending::*};
use messaging::{Provider, TemplateDraft, TemplateInfo};
use sqlx::Row;
use std::sync::Arc;

/// The name Axis CRM gives the template it creates.
pub const INVOICE_TEMPLATE: &str = "axis_invoice_pdf";
pub const INVOICE_TEMPLATE_LANGUAGE: &str = "en";
/// Tenant name, invoice number, amount, due date.
pub const INVOICE_TEMPLATE_BODY: &str = "Hello {{1}}, here is your invoice {{2}} for {{3}}, due on {{4}}. The PDF is attached. Thank you!";

/// How many variables a body has.
pub fn placeholders(text: &str) -> i64 {
    messaging::template_variables(text) as i64
}

/// Why a template cannot carry an invoice, if it cannot.
pub fn unusable(header_format: Option<&str>, body_params: i64, category: &str) -> Option<String> {
    if header_format != Some("DOCUMENT") {
        return Some("It has no document header, so the PDF cannot be attached.".into());
    }
    if body_params != crate::sending::server::outbox::TEMPLATE_PARAMS as i64 {
        return Some(format!(
            "Its body has {body_params} variable(s); invoices fill 4 (tenant, number, amount, due date)."
        ));
    }
    if category.eq_ignore_ascii_case("MARKETING") {
        return Some("It is a marketing template; invoices go as utility templates.".into());
    }
    None
}

pub async fn settings(db: &Db, user_id: i64) -> Result<SendingSettings, AppError> {
    let conn = sqlx::query(
        "SELECT invoice_template_name, invoice_template_language, app_id, app_secret_enc \
         FROM whatsapp_connections WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    let (chosen, can_create) = match &conn {
        Some(r) => {
            let name: Option<String> = r.try_get("invoice_template_name")?;
            let lang: Option<String> = r.try_get("invoice_template_language")?;
            let has_app = r.try_get::<Option<String>, _>("app_id")?.is_some();
            let has_secret = r.try_get::<Option<String>, _>("app_secret_enc")?.is_some();
            (name.zip(lang), has_app && has_secret)
        }
        None => (None, false),
    };
    let templates = sqlx::query(
        "SELECT name, language, status, category, header_format, body_text, body_params, reason, created_at, last_sent_at \
         FROM whatsapp_templates WHERE user_id = $1 ORDER BY name, language",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        let name: String = r.try_get("name")?;
        let language: String = r.try_get("language")?;
        let category: String = r.try_get("category")?;
        let header: Option<String> = r.try_get("header_format")?;
        let status: String = r.try_get("status")?;
        let is_chosen = chosen
            .as_ref()
            .is_some_and(|(n, l)| *n == name && *l == language);
        let activity = [
            r.try_get::<Option<i64>, _>("created_at")?,
            r.try_get::<Option<i64>, _>("last_sent_at")?,
        ]
        .into_iter()
        .flatten()
        .max();
        Ok(TemplateView {
            notice: notice(&status, &category, is_chosen, activity, db::now()),
            chosen: is_chosen,
            unusable: unusable(header.as_deref(), r.try_get("body_params")?, &category),
            status,
            body_text: r.try_get("body_text")?,
            reason: r.try_get("reason")?,
            category,
            name,
            language,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(SendingSettings {
        templates,
        chosen: chosen.map(|(n, l)| format!("{n} ({l})")),
        can_create_template: can_create,
        usage: usage(db, user_id).await?,
    })
}

/// The first second (UTC) of the month containing `now`, and its name.
pub fn month_start(now: i64) -> (i64, String) {
    let t =
        time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let start = t
        .replace_day(1)
        .map(|d| d.replace_time(time::Time::MIDNIGHT))
        .unwrap_or(t);
    (
        start.unix_timestamp(),
        format!("{} {}", t.month(), t.year()),
    )
}

/// A message went out with this template: Meta counts that as activity, which keeps it from
/// being archived for 12 months.
pub async fn sent_with(db: &Db, user_id: i64, name: &str, language: &str) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE whatsapp_templates SET last_sent_at = $1 WHERE user_id = $2 AND name = $3 AND language = $4",
    )
    .bind(db::now())
    .bind(user_id)
    .bind(name)
    .bind(language)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// What the settings page says under a template's status: what its state means and what to do
/// (see `lifecycle`), that Meta moved the invoice template to MARKETING, or that it nears
/// archival for lack of use.
fn notice(
    status: &str,
    category: &str,
    chosen: bool,
    last_activity: Option<i64>,
    now: i64,
) -> Option<String> {
    let state = TemplateState::parse(status);
    if let Some(l) = state.explain() {
        return Some(l.detail.to_string());
    }
    if chosen && category.eq_ignore_ascii_case("MARKETING") {
        return Some(RECATEGORISED.detail.to_string());
    }
    archive_warning(last_activity, now)
}

pub async fn usage(db: &Db, user_id: i64) -> Result<UsageView, AppError> {
    let (start, month) = month_start(db::now());
    let rows = sqlx::query(
        "SELECT category, COUNT(*) AS n, COALESCE(SUM(billable), 0) AS billable FROM ( \
           SELECT COALESCE(pricing_category, '') AS category, CASE WHEN pricing_type = 'regular' THEN 1 ELSE 0 END AS billable \
           FROM whatsapp_sends WHERE user_id = $1 AND accepted_at >= $2 \
           UNION ALL \
           SELECT COALESCE(pricing_category, '') AS category, CASE WHEN pricing_type = 'regular' THEN 1 ELSE 0 END AS billable \
           FROM whatsapp_self_tests WHERE user_id = $1 AND accepted_at >= $2 \
         ) messages GROUP BY category ORDER BY 1",
    )
    .bind(user_id)
    .bind(start)
    .fetch_all(&db.pool)
    .await?;
    let mut view = UsageView {
        month,
        by_category: Vec::new(),
        total: 0,
        billable: 0,
        unpriced: 0,
    };
    for r in rows {
        let category: String = r.try_get("category")?;
        let n: i64 = r.try_get("n")?;
        let billable: i64 = r.try_get("billable")?;
        view.total += n;
        view.billable += billable;
        if category.is_empty() {
            view.unpriced += n;
        } else {
            view.by_category.push((category, n, billable));
        }
    }
    Ok(view)
}

async fn store(db: &Db, user_id: i64, templates: &[TemplateInfo]) -> Result<(), AppError> {
    let now = db::now();
    let mut tx = db.write().await?;
    // What Meta does not tell (when Axis CRM first saw and last sent each template) survives the
    // re-read; a template first seen now counts as active now.
    let mut activity = std::collections::HashMap::new();
    for r in sqlx::query(
        "SELECT name, language, created_at, last_sent_at FROM whatsapp_templates WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_all(&mut *tx)
    .await?
    {
        activity.insert(
            (
                r.try_get::<String, _>("name")?,
                r.try_get::<String, _>("language")?,
            ),
            (
                r.try_get::<Option<i64>, _>("created_at")?,
                r.try_get::<Option<i64>, _>("last_sent_at")?,
            ),
        );
    }
    sqlx::query("DELETE FROM whatsapp_templates WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    for t in templates {
        let (created_at, last_sent_at) = activity
            .get(&(t.name.clone(), t.language.clone()))
            .copied()
            .unwrap_or((Some(now), None));
        sqlx::query(
            "INSERT INTO whatsapp_templates (user_id, template_id, name, language, status, category, header_format, \
             body_text, body_params, reason, updated_at, created_at, last_sent_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (user_id, name, language) DO NOTHING",
        )
        .bind(user_id)
        .bind(t.id.clone().unwrap_or_default())
        .bind(&t.name)
        .bind(&t.language)
        .bind(&t.status)
        .bind(&t.category)
        .bind(&t.header_format)
        .bind(&t.body_text)
        .bind(placeholders(&t.body_text))
        .bind(&t.reason)
        .bind(now)
        .bind(created_at.unwrap_or(now))
        .bind(last_sent_at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The templates as Axis CRM last read or created them (what a restarted sandbox is given back).
pub async fn known(db: &Db, user_id: i64) -> Result<Vec<TemplateInfo>, AppError> {
    let rows = sqlx::query(
        "SELECT template_id, name, language, status, category, header_format, body_text, reason \
         FROM whatsapp_templates WHERE user_id = $1 ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TemplateInfo {
                id: Some(r.try_get::<String, _>("template_id")?).filter(|id| !id.is_empty()),
                name: r.try_get("name")?,
                language: r.try_get("language")?,
                status: r.try_get("status")?,
                category: r.try_get("category")?,
                header_format: r.try_get("header_format")?,
                body_text: r.try_get("body_text")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// The invoice template as Axis CRM submits it: what a sandbox account starts with, approved.
pub fn invoice_template(status: &str) -> TemplateInfo {
    TemplateInfo {
        id: None,
        name: INVOICE_TEMPLATE.into(),
        language: INVOICE_TEMPLATE_LANGUAGE.into(),
        status: status.into(),
        category: "UTILITY".into(),
        header_format: Some("DOCUMENT".into()),
        body_text: INVOICE_TEMPLATE_BODY.into(),
        reason: None,
    }
}

/// The user's connection and the provider it goes through.
async fn connected(
    state: &AppState,
    user_id: i64,
) -> Result<(Arc<dyn Provider>, Stored), AppError> {
    let stored = whatsapp::load(&state.db, &state.keyring, user_id)
        .await?
        .ok_or_else(|| AppError::invalid("form", "Connect WhatsApp first."))?;
    Ok((state.providers.get(&stored.provider, stored.mode)?, stored))
}

/// Reads the account's templates from its provider.
pub async fn refresh(state: &AppState, user_id: i64) -> Result<(), AppError> {
    let (provider, stored) = connected(state, user_id).await?;
    let list = provider
        .templates(&stored.account)
        .await
        .map_err(|e| whatsapp::template_failure(e, &stored.account.sender))?;
    let db = &state.db;
    store(db, user_id, &list).await?;
    // Keep the choice only while it still exists.
    sqlx::query(
        "UPDATE whatsapp_connections SET invoice_template_name = NULL, invoice_template_language = NULL \
         WHERE user_id = $1 AND invoice_template_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM whatsapp_templates t \
         WHERE t.user_id = $1 AND t.name = whatsapp_connections.invoice_template_name \
         AND t.language = whatsapp_connections.invoice_template_language)",
    )
    .bind(user_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Submits Axis CRM's invoice template (UTILITY, a DOCUMENT header, four variables) and chooses it.
pub async fn create_invoice_template(state: &AppState, user_id: i64) -> Result<(), AppError> {
    let (provider, stored) = connected(state, user_id).await?;
    let fail = |e| whatsapp::template_failure(e, &stored.account.sender);
    // Reviewers want a sample of the header document.
    let example_pdf =
        tokio::task::spawn_blocking(|| invoice_pdf::render(&invoice_pdf::sample_invoice()))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)?;
    let draft = TemplateDraft {
        name: INVOICE_TEMPLATE.into(),
        language: INVOICE_TEMPLATE_LANGUAGE.into(),
        category: "UTILITY".into(),
        body: INVOICE_TEMPLATE_BODY.into(),
        body_example: ["Ana Silva", "INV-0001", "£1,200.00", "1 December 2026"]
            .map(String::from)
            .to_vec(),
        footer: Some("Sent with Axis CRM".into()),
        example_filename: "invoice-sample.pdf".into(),
        example_pdf,
    };
    let created = provider
        .create_template(&stored.account, &draft)
        .await
        .map_err(fail)?;
    let created_id = created.id.clone().unwrap_or_default();
    let db = &state.db;
    let now = db::now();
    let mut tx = db.write().await?;
    sqlx::query(
        "DELETE FROM whatsapp_templates WHERE user_id = $1 AND name = $2 AND language = $3",
    )
    .bind(user_id)
    .bind(INVOICE_TEMPLATE)
    .bind(INVOICE_TEMPLATE_LANGUAGE)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO whatsapp_templates (user_id, template_id, name, language, status, category, header_format, \
         body_text, body_params, updated_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'DOCUMENT', $7, $8, $9, $9)",
    )
    .bind(user_id)
    .bind(&created_id)
    .bind(INVOICE_TEMPLATE)
    .bind(INVOICE_TEMPLATE_LANGUAGE)
    .bind(&created.status)
    .bind(&created.category)
    .bind(INVOICE_TEMPLATE_BODY)
    .bind(placeholders(INVOICE_TEMPLATE_BODY))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE whatsapp_connections SET invoice_template_name = $1, invoice_template_language = $2 WHERE user_id = $3",
    )
    .bind(INVOICE_TEMPLATE)
    .bind(INVOICE_TEMPLATE_LANGUAGE)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(user_id, template_id = %created_id, provider = provider.id(), "invoice template submitted");
    // Meta may finish its review (a utility template can be approved in seconds) between its
    // answer above and this commit; its status webhook then found no row to update. Read the
    // status once more now that the row exists: anything later arrives by webhook.
    match provider.templates(&stored.account).await {
        Ok(list) => {
            let current = list
                .into_iter()
                .find(|t| t.id.is_some() && t.id == created.id)
                .map(|t| t.status);
            // Only a row still pending is moved: a webhook that came after the commit is newer
            // than what was read here.
            if let Some(status) = current.filter(|s| s != "PENDING") {
                sqlx::query(
                    "UPDATE whatsapp_templates SET status = $1, updated_at = $2 \
                     WHERE user_id = $3 AND template_id = $4 AND status = 'PENDING'",
                )
                .bind(status)
                .bind(db::now())
                .bind(user_id)
                .bind(&created_id)
                .execute(&db.pool)
                .await?;
            }
        }
        // The template is submitted and stored; its status comes by webhook or Refresh.
        Err(e) => {
            tracing::warn!(user_id, error = %e, "could not re-read the new template's status")
        }
    }
    Ok(())
}

/// Chooses the template invoices go out with outside the window ("name|language").
pub async fn choose(db: &Db, user_id: i64, choice: &str) -> Result<(), AppError> {
    let (name, language) = choice
        .split_once('|')
        .ok_or_else(|| AppError::invalid("template", "Choose a template."))?;
    let row = sqlx::query(
        "SELECT header_format, body_params, category FROM whatsapp_templates WHERE user_id = $1 AND name = $2 AND language = $3",
    )
    .bind(user_id)
    .bind(name)
    .bind(language)
    .fetch_optional(&db.pool)
    .await?
    .ok_or_else(|| AppError::invalid("template", "That template is not on this account."))?;
    let header: Option<String> = row.try_get("header_format")?;
    if let Some(why) = unusable(
        header.as_deref(),
        row.try_get("body_params")?,
        &row.try_get::<String, _>("category")?,
    ) {
        return Err(AppError::invalid("template", why));
    }
    sqlx::query(
        "UPDATE whatsapp_connections SET invoice_template_name = $1, invoice_template_language = $2 WHERE user_id = $3",
    )
    .bind(name)
    .bind(language)
    .bind(user_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_variables_and_judges_templates() {
        assert_eq!(placeholders(INVOICE_TEMPLATE_BODY), 4);
        assert_eq!(placeholders("no variables"), 0);
        assert!(unusable(Some("DOCUMENT"), 4, "UTILITY").is_none());
        assert!(unusable(Some("TEXT"), 4, "UTILITY")
            .unwrap()
            .contains("document header"));
        assert!(unusable(Some("DOCUMENT"), 3, "UTILITY")
            .unwrap()
            .contains("3 variable"));
        assert!(unusable(Some("DOCUMENT"), 4, "MARKETING").is_some());
    }

    #[test]
    fn months_start_at_midnight_on_the_first() {
        // 2026-11-24 12:00:00 UTC
        let (start, name) = month_start(1_795_521_600);
        assert_eq!(name, "November 2026");
        assert_eq!(start, 1_793_491_200); // 2026-11-01 00:00:00 UTC
    }
}

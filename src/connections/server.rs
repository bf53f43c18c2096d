//! Each user's messaging connection, whatever the provider: encrypted storage, the checks the
//! settings page runs through the provider, and what the page shows. This module owns
//! `whatsapp_connections`; provider-specific forms live in `crate::providers::{name}`.

use crate::platform::{
    crypto::Keyring,
    db::{now, Db},
    AppState,
};
use crate::providers::Mode;
use crate::{
    connections::{ConnectionView, TokenView, WhatsAppPage},
    error::{AppError, WhatsAppProblem},
};
use messaging::{Account, AccountError, AccountField, ConnectionCheck, Provider, ProviderError};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;

// ---- failures, explained ------------------------------------------------------------------------

/// Turns a provider failure into its troubleshooting entry: the entry's title, anchor and steps,
/// worded once in `help::troubleshooting::ENTRIES`, with the entry's sentence for this particular
/// problem as the explanation, and the provider's code, words and trace id.
pub fn problem(e: &ProviderError, sender: &str) -> WhatsAppProblem {
    use crate::help::troubleshooting;
    let (entry, sentence) = troubleshooting::for_problem(e.problem);
    WhatsAppProblem {
        title: entry.title.into(),
        explanation: troubleshooting::explanation(sentence, sender),
        steps: entry.steps.iter().map(|s| s.to_string()).collect(),
        code: e.code,
        provider_message: e.message.clone(),
        trace_id: e.trace_id.clone(),
        anchor: entry.anchor.into(),
    }
}

/// The troubleshooting entry for an error `provider` reported by code alone (in a status
/// webhook, or stored with a failed send).
pub fn problem_for_code(
    provider: &dyn Provider,
    code: i64,
    details: Option<String>,
) -> WhatsAppProblem {
    problem(&provider.classify_code(code, details), "")
}

/// Rebuilds the troubleshooting entry for a stored failure: the entry for the code of the
/// provider that reported it, else the app's own title and explanation.
pub fn stored_problem(
    provider: Option<&dyn messaging::Provider>,
    title: &str,
    code: Option<i64>,
    detail: Option<String>,
    anchor: Option<String>,
) -> crate::error::WhatsAppProblem {
    match code.zip(provider) {
        Some((c, p)) => problem_for_code(p, c, detail),
        None => crate::error::WhatsAppProblem {
            title: title.to_string(),
            explanation: detail.unwrap_or_default(),
            steps: Vec::new(),
            code: None,
            provider_message: None,
            trace_id: None,
            anchor: anchor.unwrap_or_else(|| "other-errors".into()),
        },
    }
}

/// A failed connection check: a wrong part of the credentials is shown at its field of the
/// connection form, anything else as its troubleshooting entry.
pub fn check_failure(e: AccountError, sender: &str) -> AppError {
    match e {
        AccountError::Provider(p) => AppError::WhatsApp(Box::new(problem(&p, sender))),
        AccountError::Field { field, message } => AppError::invalid(
            match field {
                AccountField::AccountId => "business_account_id",
                AccountField::App => "app_secret",
            },
            message,
        ),
    }
}

/// A failed template call: the templates page has no credential fields, so a wrong or missing
/// part of the credentials is said at the top of its form.
pub fn template_failure(e: AccountError, sender: &str) -> AppError {
    match e {
        AccountError::Provider(p) => AppError::WhatsApp(Box::new(problem(&p, sender))),
        AccountError::Field { message, .. } => AppError::invalid("form", message),
    }
}

// ---- storage ------------------------------------------------------------------------------------

/// The associated data a secret column of a user's connection is sealed with.
pub(crate) fn ctx(column: &str, user_id: i64) -> String {
    format!("whatsapp_connections.{column}:{user_id}")
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

fn last4(token: &SecretString) -> String {
    let t = token.expose_secret();
    t.chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// Checks `account` with `provider` and stores it as the connection of `user_id` (replacing
/// any earlier one) with what the check learnt. Returns the new webhook key.
pub async fn connect(
    state: &AppState,
    user_id: i64,
    provider: &dyn Provider,
    mode: Mode,
    account: &Account,
    phone_e164: Option<&str>,
) -> Result<String, AppError> {
    let check = provider
        .check_connection(account)
        .await
        .map_err(|e| check_failure(e, &account.sender))?;
    let mut tx = state.db.write().await?;
    let key = insert_connection(
        &mut tx,
        &state.keyring,
        user_id,
        provider.id(),
        mode,
        account,
        phone_e164,
    )
    .await?;
    write_status(&mut *tx, user_id, &check).await?;
    tx.commit().await?;
    tracing::info!(
        user_id,
        provider = provider.id(),
        mode = mode.as_str(),
        "WhatsApp connected"
    );
    Ok(key)
}

/// Stores a connection to `provider` for `user_id` without checking it, replacing any earlier
/// one, with its secrets sealed and a fresh webhook key and verify token.
pub async fn save_account(
    db: &Db,
    keyring: &Keyring,
    user_id: i64,
    provider: &str,
    mode: Mode,
    account: &Account,
    phone_e164: Option<&str>,
) -> Result<(), AppError> {
    let mut tx = db.write().await?;
    insert_connection(
        &mut tx, keyring, user_id, provider, mode, account, phone_e164,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        user_id,
        provider,
        mode = mode.as_str(),
        "WhatsApp connected"
    );
    Ok(())
}

async fn insert_connection(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    keyring: &Keyring,
    user_id: i64,
    provider: &str,
    mode: Mode,
    account: &Account,
    phone_e164: Option<&str>,
) -> Result<String, AppError> {
    let ts = now();
    let webhook_key = random_hex(16);
    let verify_token = random_hex(20);
    sqlx::query("DELETE FROM whatsapp_connections WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO whatsapp_connections (user_id, provider, mode, phone_number_id, business_account_id, phone_number, app_id, \
         access_token_enc, token_last4, app_secret_enc, token_kind, webhook_key, verify_token_enc, connected_at, last_checked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'unknown', $11, $12, $13, $13)",
    )
    .bind(user_id)
    .bind(provider)
    .bind(mode.as_str())
    .bind(&account.sender)
    .bind(&account.account_id)
    .bind(phone_e164)
    .bind(&account.app_id)
    .bind(keyring.encrypt(account.token.expose_secret(), &ctx("access_token", user_id)))
    .bind(last4(&account.token))
    .bind(account.signing_secret.as_ref().map(|s| keyring.encrypt(s.expose_secret(), &ctx("app_secret", user_id))))
    .bind(&webhook_key)
    .bind(keyring.encrypt(&verify_token, &ctx("verify_token", user_id)))
    .bind(ts)
    .execute(&mut **tx)
    .await?;
    Ok(webhook_key)
}

/// The stored columns a connection is used with.
#[derive(sqlx::FromRow)]
struct StoredRow {
    provider: String,
    mode: String,
    phone_number_id: String,
    business_account_id: Option<String>,
    phone_number: Option<String>,
    app_id: Option<String>,
    access_token_enc: String,
    app_secret_enc: Option<String>,
    display_phone_number: Option<String>,
    verified_name: Option<String>,
    webhook_key: String,
    account_notice: Option<String>,
    paused: i64,
    paused_until: Option<i64>,
    max_per_second: Option<i64>,
}

/// Sends paused by the provider's account notice: why (the provider's words) and until when
/// (`None`: until lifted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    pub why: String,
    pub until: Option<i64>,
}

impl Pause {
    /// The pause in force at `now`, from the stored columns: none once its end has passed.
    fn of(notice: Option<&str>, paused: i64, until: Option<i64>, now: i64) -> Option<Pause> {
        (paused == 1 && until.is_none_or(|u| u > now)).then(|| Pause {
            why: notice
                .unwrap_or("Meta paused this account's sending.")
                .to_string(),
            until,
        })
    }
}

/// A stored connection with its secrets decrypted, for the calls that need them.
pub struct Stored {
    /// The provider's stored name (`meta`, …).
    pub provider: String,
    pub mode: Mode,
    pub account: Account,
    pub phone_number: Option<String>,
    pub display_phone_number: Option<String>,
    pub verified_name: Option<String>,
    pub webhook_key: String,
    /// Set while the provider's account notice pauses the connection's sends.
    pub pause: Option<Pause>,
    /// The provider's cap on this sender's messages a second, below the usual rate (a number
    /// shared with the WhatsApp Business app).
    pub max_per_second: Option<u32>,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored")
            .field("provider", &self.provider)
            .field("mode", &self.mode)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

pub async fn load(db: &Db, keyring: &Keyring, user_id: i64) -> Result<Option<Stored>, AppError> {
    let Some(row) = sqlx::query_as::<_, StoredRow>(
        "SELECT provider, mode, phone_number_id, business_account_id, phone_number, app_id, access_token_enc, app_secret_enc, \
         display_phone_number, verified_name, webhook_key, account_notice, paused, paused_until, max_per_second \
         FROM whatsapp_connections WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?
    else {
        return Ok(None);
    };
    let token = keyring
        .decrypt(&row.access_token_enc, &ctx("access_token", user_id))
        .map_err(AppError::internal)?;
    let signing_secret = match &row.app_secret_enc {
        Some(enc) => Some(
            keyring
                .decrypt(enc, &ctx("app_secret", user_id))
                .map_err(AppError::internal)?,
        ),
        None => None,
    };
    Ok(Some(Stored {
        provider: row.provider,
        mode: Mode::parse(&row.mode),
        account: Account {
            sender: row.phone_number_id,
            token,
            account_id: row.business_account_id,
            app_id: row.app_id,
            signing_secret,
        },
        phone_number: row.phone_number,
        display_phone_number: row.display_phone_number,
        verified_name: row.verified_name,
        webhook_key: row.webhook_key,
        pause: Pause::of(
            row.account_notice.as_deref(),
            row.paused,
            row.paused_until,
            now(),
        ),
        max_per_second: row
            .max_per_second
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0),
    }))
}

/// The users connected to `provider` in `mode`.
pub async fn users_with(db: &Db, provider: &str, mode: Mode) -> Result<Vec<i64>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT user_id FROM whatsapp_connections WHERE provider = $1 AND mode = $2 ORDER BY user_id",
    )
    .bind(provider)
    .bind(mode.as_str())
    .fetch_all(&db.pool)
    .await?)
}

/// Writes what a successful check learnt (number status, token kind) and clears the last error.
async fn write_status<'e, E>(
    executor: E,
    user_id: i64,
    check: &ConnectionCheck,
) -> Result<(), AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let (kind, expires_at) = check.token.stored();
    let s = &check.sender;
    sqlx::query(
        "UPDATE whatsapp_connections SET verified_name = $1, display_phone_number = $2, quality_rating = $3, \
         name_status = $4, code_verification_status = $5, number_status = $6, account_mode = $7, throughput_level = $8, \
         messaging_limit = $9, health_problems = $10, token_kind = $11, token_expires_at = $12, last_checked_at = $13, \
         last_check_error = NULL, webhooks_subscribed = $15, daily_unique_limit = $16, max_per_second = $17, \
         shared_with_app = $18, paused = CASE WHEN paused_until IS NULL THEN 0 ELSE paused END WHERE user_id = $14",
    )
    .bind(&s.verified_name)
    .bind(&s.display_phone_number)
    .bind(&s.quality_rating)
    .bind(&s.name_status)
    .bind(&s.code_verification_status)
    .bind(&s.status)
    .bind(&s.account_mode)
    .bind(&s.throughput_level)
    .bind(&s.messaging_limit)
    .bind(serde_json::to_string(&s.health_problems).unwrap_or_else(|_| "[]".into()))
    .bind(kind)
    .bind(expires_at)
    .bind(now())
    .bind(user_id)
    .bind(check.webhooks.stored())
    .bind(s.daily_unique_limit.map(i64::from))
    .bind(s.max_per_second.map(i64::from))
    .bind(i64::from(s.shared_with_app))
    .execute(executor)
    .await?;
    Ok(())
}

async fn record_check(
    db: &Db,
    user_id: i64,
    outcome: Result<&ConnectionCheck, &AppError>,
) -> Result<(), AppError> {
    match outcome {
        Ok(c) => write_status(&db.pool, user_id, c).await?,
        Err(e) => {
            let text = e
                .whatsapp()
                .map(|p| p.title.clone())
                .unwrap_or_else(|| e.to_string());
            sqlx::query("UPDATE whatsapp_connections SET last_checked_at = $1, last_check_error = $2 WHERE user_id = $3")
                .bind(now())
                .bind(text)
                .bind(user_id)
                .execute(&db.pool)
                .await?;
        }
    }
    Ok(())
}

/// "Test connection": runs the provider's check again with the stored credentials and records
/// the result.
pub async fn test(state: &AppState, user_id: i64) -> Result<(), AppError> {
    let stored = load(&state.db, &state.keyring, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let provider = state.providers.get(&stored.provider, stored.mode)?;
    let result = provider
        .check_connection(&stored.account)
        .await
        .map_err(|e| check_failure(e, &stored.account.sender));
    record_check(&state.db, user_id, result.as_ref()).await?;
    result.map(|_| ())
}

/// Stores what the provider said about the whole account. A notice that blocks sending pauses
/// the connection's sends (until its end, when told); one that lifts it resumes them.
pub async fn account_notice(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    n: &messaging::AccountNotice,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE whatsapp_connections SET account_notice = $1, account_notice_at = $2, \
         paused = CASE WHEN $3 = 1 THEN 1 WHEN $4 = 1 THEN 0 ELSE paused END, \
         paused_until = CASE WHEN $3 = 1 THEN $5 WHEN $4 = 1 THEN NULL ELSE paused_until END \
         WHERE user_id = $6",
    )
    .bind(&n.text)
    .bind(now)
    .bind(n.blocks_sending as i64)
    .bind(n.clears as i64)
    .bind(n.until)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// "Subscribe": subscribes the connection's app to its account's webhooks, then checks again
/// so the page shows the subscription as the provider now reports it.
pub async fn subscribe_webhooks(state: &AppState, user_id: i64) -> Result<(), AppError> {
    let stored = load(&state.db, &state.keyring, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let provider = state.providers.get(&stored.provider, stored.mode)?;
    provider
        .subscribe_webhooks(&stored.account)
        .await
        .map_err(|e| check_failure(e, &stored.account.sender))?;
    tracing::info!(user_id, "subscribed the app to the account's webhooks");
    test(state, user_id).await
}

/// "Replace token": checks the new token (already in the provider's shape) with the stored
/// IDs, then swaps it in.
pub async fn replace_token(
    state: &AppState,
    user_id: i64,
    stored: Stored,
    token: SecretString,
) -> Result<(), AppError> {
    let account = Account {
        token,
        ..stored.account
    };
    let provider = state.providers.get(&stored.provider, stored.mode)?;
    let check = provider
        .check_connection(&account)
        .await
        .map_err(|e| check_failure(e, &account.sender))?;
    sqlx::query("UPDATE whatsapp_connections SET access_token_enc = $1, token_last4 = $2 WHERE user_id = $3")
        .bind(state.keyring.encrypt(account.token.expose_secret(), &ctx("access_token", user_id)))
        .bind(last4(&account.token))
        .bind(user_id)
        .execute(&state.db.pool)
        .await?;
    record_check(&state.db, user_id, Ok(&check)).await?;
    tracing::info!(user_id, "WhatsApp access token replaced");
    Ok(())
}

pub async fn disconnect(db: &Db, user_id: i64) -> Result<(), AppError> {
    let done = sqlx::query("DELETE FROM whatsapp_connections WHERE user_id = $1")
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    tracing::info!(user_id, "WhatsApp disconnected");
    Ok(())
}

// ---- what the page shows ------------------------------------------------------------------------

pub fn format_time(ts: i64) -> String {
    let fmt =
        time::macros::format_description!("[day] [month repr:short] [year] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

pub fn token_view(kind: &str, expires_at: Option<i64>) -> TokenView {
    let left = expires_at.map(|at| at - now());
    TokenView {
        kind: kind.to_string(),
        expires_at_text: expires_at.map(format_time),
        seconds_left: left,
    }
}

/// The path a connection's webhooks arrive at. Meta's connections keep the path they had
/// before there were several providers, so nobody has to change Meta's webhook settings.
pub fn webhook_path(provider: &str, key: &str) -> String {
    use crate::sending::server::webhooks::LEGACY_SEGMENT;
    let segment = if provider == crate::providers::meta::META {
        LEGACY_SEGMENT
    } else {
        provider
    };
    format!("/webhooks/{segment}/{key}")
}

/// Every column the settings page shows.
#[derive(sqlx::FromRow)]
struct PageRow {
    provider: String,
    mode: String,
    phone_number_id: String,
    business_account_id: Option<String>,
    phone_number: Option<String>,
    app_id: Option<String>,
    app_secret_enc: Option<String>,
    token_last4: String,
    token_kind: String,
    token_expires_at: Option<i64>,
    verified_name: Option<String>,
    display_phone_number: Option<String>,
    quality_rating: Option<String>,
    name_status: Option<String>,
    code_verification_status: Option<String>,
    number_status: Option<String>,
    account_mode: Option<String>,
    throughput_level: Option<String>,
    messaging_limit: Option<String>,
    health_problems: Option<String>,
    connected_at: i64,
    last_checked_at: i64,
    last_check_error: Option<String>,
    webhook_key: String,
    verify_token_enc: String,
    webhooks_subscribed: Option<i64>,
    webhook_verified_at: Option<i64>,
    webhook_last_event_at: Option<i64>,
    account_notice: Option<String>,
    account_notice_at: Option<i64>,
    paused: i64,
    paused_until: Option<i64>,
    daily_unique_limit: Option<i64>,
    shared_with_app: i64,
}

pub async fn page(state: &AppState, user_id: i64) -> Result<WhatsAppPage, AppError> {
    let row = sqlx::query_as::<_, PageRow>(
        "SELECT provider, mode, phone_number_id, business_account_id, phone_number, app_id, app_secret_enc, token_last4, \
         token_kind, token_expires_at, verified_name, display_phone_number, quality_rating, name_status, \
         code_verification_status, number_status, account_mode, throughput_level, messaging_limit, health_problems, \
         connected_at, last_checked_at, last_check_error, webhook_key, verify_token_enc, webhooks_subscribed, \
         webhook_verified_at, webhook_last_event_at, account_notice, account_notice_at, paused, paused_until, daily_unique_limit, shared_with_app \
         FROM whatsapp_connections WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&state.db.pool)
    .await?;
    let connection = match row {
        None => None,
        Some(r) => {
            let verify = state
                .keyring
                .decrypt(&r.verify_token_enc, &ctx("verify_token", user_id))
                .map_err(AppError::internal)?;
            Some(ConnectionView {
                sandbox: Mode::parse(&r.mode) == Mode::Sandbox,
                phone_number_id: r.phone_number_id,
                business_account_id: r.business_account_id,
                phone_number: r.phone_number,
                app_id: r.app_id,
                has_app_secret: r.app_secret_enc.is_some(),
                token_last4: r.token_last4,
                token: token_view(&r.token_kind, r.token_expires_at),
                verified_name: r.verified_name,
                display_phone_number: r.display_phone_number,
                quality_rating: r.quality_rating,
                name_status: r.name_status,
                code_verification_status: r.code_verification_status,
                number_status: r.number_status,
                account_mode: r.account_mode,
                throughput_level: r.throughput_level,
                messaging_limit: r.messaging_limit,
                daily_unique_limit: r.daily_unique_limit.and_then(|n| u32::try_from(n).ok()),
                shared_with_app: r.shared_with_app == 1,
                health_problems: r
                    .health_problems
                    .and_then(|h| serde_json::from_str(&h).ok())
                    .unwrap_or_default(),
                connected_at_text: format_time(r.connected_at),
                last_checked_at_text: format_time(r.last_checked_at),
                last_check_error: r.last_check_error,
                webhook_url: format!(
                    "{}{}",
                    state.config.public_url,
                    webhook_path(&r.provider, &r.webhook_key)
                ),
                verify_token: verify.expose_secret().to_string(),
                webhooks_subscribed: r.webhooks_subscribed.map(|v| v != 0),
                webhook_verified_text: r.webhook_verified_at.map(format_time),
                webhook_event_text: r.webhook_last_event_at.map(format_time),
                account_notice: r.account_notice.map(|n| match r.account_notice_at {
                    Some(at) => format!("{n} ({})", format_time(at)),
                    None => n,
                }),
                paused_text: Pause::of(None, r.paused, r.paused_until, now()).map(|p| {
                    match p.until {
                        Some(u) => format!("Sends are paused until {}.", format_time(u)),
                        None => {
                            "Sends are paused until Meta lifts this, or a Test connection succeeds."
                                .into()
                        }
                    }
                }),
            })
        }
    };
    Ok(WhatsAppPage {
        connection,
        env_managed: state.meta.env.is_some(),
        sandbox_available: state.meta.sandbox.is_some(),
    })
}

/// Re-encrypts every stored secret under the current master key (`axis-crm rotate-key`).
/// Returns how many secrets were re-encrypted; running it again changes nothing.
pub async fn rotate_secrets(db: &Db, keyring: &Keyring) -> Result<usize, AppError> {
    let rows = sqlx::query("SELECT user_id, access_token_enc, app_secret_enc, verify_token_enc FROM whatsapp_connections")
        .fetch_all(&db.pool)
        .await?;
    let mut rotated = 0;
    for r in rows {
        let user_id: i64 = r.try_get("user_id")?;
        // Each sealed column with the statement that reseals it, written out in full.
        for (column, sealed, update) in [
            (
                "access_token",
                "access_token_enc",
                "UPDATE whatsapp_connections SET access_token_enc = $1 WHERE user_id = $2 AND access_token_enc = $3",
            ),
            (
                "app_secret",
                "app_secret_enc",
                "UPDATE whatsapp_connections SET app_secret_enc = $1 WHERE user_id = $2 AND app_secret_enc = $3",
            ),
            (
                "verify_token",
                "verify_token_enc",
                "UPDATE whatsapp_connections SET verify_token_enc = $1 WHERE user_id = $2 AND verify_token_enc = $3",
            ),
        ] {
            let stored: Option<String> = r.try_get(sealed)?;
            let Some(stored) = stored.filter(|s| keyring.needs_rotation(s)) else {
                continue;
            };
            let plain = keyring
                .decrypt(&stored, &ctx(column, user_id))
                .map_err(AppError::internal)?;
            let resealed = keyring.encrypt(plain.expose_secret(), &ctx(column, user_id));
            sqlx::query(update)
                .bind(resealed)
                .bind(user_id)
                .bind(&stored)
                .execute(&db.pool)
                .await?;
            rotated += 1;
        }
    }
    Ok(rotated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_keeps_its_webhook_path_and_others_get_their_own() {
        assert_eq!(webhook_path("meta", "k1"), "/webhooks/whatsapp/k1");
        assert_eq!(webhook_path("twilio", "k1"), "/webhooks/twilio/k1");
    }

    #[test]
    fn a_wrong_part_of_the_credentials_is_shown_at_its_field() {
        let e = check_failure(
            AccountError::Field {
                field: AccountField::AccountId,
                message: "no such account".into(),
            },
            "1",
        );
        assert_eq!(
            e.field("business_account_id").as_deref(),
            Some("no such account")
        );
        let e = template_failure(
            AccountError::Field {
                field: AccountField::App,
                message: "needs the app".into(),
            },
            "1",
        );
        assert_eq!(e.field("form").as_deref(), Some("needs the app"));
    }
}

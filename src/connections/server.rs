//! Each user's WhatsApp Cloud API connection: validation, the live checks against Graph,
//! encrypted storage, and the built-in sandbox.

use crate::platform::{
    config::{Config, EnvWhatsApp},
    crypto::Keyring,
    db::{now, Db},
};
use crate::{
    connections::{ConnectionView, EnvManagedView, TokenView, WhatsAppPage},
    error::{AppError, FieldErrors, WhatsAppProblem},
};
use messaging::ProviderError;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;
use std::{net::SocketAddr, sync::Arc};
use whatsapp_cloud::{
    sandbox::{NewAccount, Sandbox, SandboxAccount, SandboxConfig},
    types::{PhoneNumber, TokenKind},
    AppCredentials, ErrorKind, GraphClient, GraphConfig, GraphError,
};

/// What the connection form sends, untrimmed.
#[derive(Debug, Default, Clone)]
pub struct ConnectInput {
    pub phone_number_id: String,
    pub access_token: String,
    pub business_account_id: String,
    pub phone_number: String,
    pub app_id: String,
    pub app_secret: String,
}

/// Credentials after validation. Debug never shows the token or the secret.
#[derive(Clone)]
pub struct Credentials {
    pub phone_number_id: String,
    pub access_token: SecretString,
    pub business_account_id: Option<String>,
    pub app: Option<AppCredentials>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("phone_number_id", &self.phone_number_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Live,
    Sandbox,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Sandbox => "sandbox",
        }
    }
}

/// The built-in Cloud API simulator and a client pointed at it.
#[derive(Clone)]
pub struct SandboxRuntime {
    pub sandbox: Sandbox,
    pub client: GraphClient,
    pub base_url: String,
}

/// Graph clients, the keyring, and credentials from the environment.
pub struct WhatsAppService {
    pub live: GraphClient,
    /// The live client talks to Meta itself (not a simulator set in `WHATSAPP_GRAPH_URL`):
    /// sandbox tokens are then refused before they could leave the server.
    pub live_is_meta: bool,
    pub sandbox: Option<SandboxRuntime>,
    pub keyring: Keyring,
    pub env: Option<EnvWhatsApp>,
    /// Where the sandbox posts webhooks: this server, on loopback.
    pub local_base: String,
}

impl std::fmt::Debug for WhatsAppService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppService")
            .field("live", &self.live.base_url())
            .finish_non_exhaustive()
    }
}

impl WhatsAppService {
    pub async fn start(config: &Config, site_addr: SocketAddr) -> anyhow::Result<Arc<Self>> {
        let graph = |base: String| {
            let mut c = GraphConfig::new(base, config.graph_version.clone());
            c.timeout = config.outbox.http_timeout;
            GraphClient::new(c)
        };
        let live = graph(config.graph_url.clone())?;
        let sandbox = if config.sandbox {
            let sandbox = Sandbox::new(SandboxConfig::default());
            let (base_url, _task) = sandbox.serve(config.sandbox_addr).await?;
            tracing::info!(%base_url, "WhatsApp Cloud API sandbox running");
            let client = graph(base_url.clone())?;
            Some(SandboxRuntime {
                sandbox,
                client,
                base_url,
            })
        } else {
            None
        };
        let loopback = if site_addr.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], site_addr.port()))
        } else {
            site_addr
        };
        let live_is_meta = url::Url::parse(&config.graph_url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| h == "facebook.com" || h.ends_with(".facebook.com"))
            })
            .unwrap_or(false);
        Ok(Arc::new(WhatsAppService {
            live,
            live_is_meta,
            sandbox,
            keyring: Keyring::new(&config.master_key, &config.previous_master_keys),
            env: config.env_whatsapp.clone(),
            local_base: format!("http://{loopback}"),
        }))
    }

    /// Meta's Cloud API as a provider: live through `WHATSAPP_GRAPH_URL`, sandbox through the
    /// built-in simulator when it runs.
    pub fn providers(&self) -> crate::sending::server::providers::Providers {
        use whatsapp_cloud::MetaProvider;
        let providers = crate::sending::server::providers::Providers::default();
        providers.register(Mode::Live, Arc::new(MetaProvider::new(self.live.clone())));
        if let Some(s) = &self.sandbox {
            providers.register(Mode::Sandbox, Arc::new(MetaProvider::new(s.client.clone())));
        }
        providers
    }

    /// Sandbox connections only ever talk to the sandbox, live ones only to `WHATSAPP_GRAPH_URL`.
    pub fn client(&self, mode: Mode) -> Result<&GraphClient, AppError> {
        match mode {
            Mode::Live => Ok(&self.live),
            Mode::Sandbox => self.sandbox.as_ref().map(|s| &s.client).ok_or_else(|| {
                AppError::invalid(
                    "form",
                    "The sandbox is turned off on this server (AXIS_SANDBOX=off).",
                )
            }),
        }
    }
}

// ---- validation ---------------------------------------------------------------------------------

fn numeric_id(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    value: &str,
    required: bool,
) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        if required {
            errors.add(
                field,
                format!("Enter the {label} from WhatsApp → API Setup in Meta for Developers."),
            );
        }
        return None;
    }
    if v.starts_with('+') {
        errors.add(field, format!("This looks like a phone number. The {label} is a long number such as 123456789012345, shown under API Setup."));
    } else if !v.chars().all(|c| c.is_ascii_digit()) {
        errors.add(
            field,
            format!("The {label} contains only digits, such as 123456789012345."),
        );
    } else if !(5..=25).contains(&v.len()) {
        errors.add(
            field,
            format!("The {label} is a number of 5 to 25 digits; check that you copied all of it."),
        );
    }
    Some(v.to_string())
}

fn token(errors: &mut FieldErrors, field: &str, value: &str, to_meta: bool) -> SecretString {
    let v = value.trim();
    if v.is_empty() {
        errors.add(field, "Paste your access token.");
    } else if v.chars().any(char::is_whitespace) {
        errors.add(
            field,
            "An access token has no spaces or line breaks. Copy it again in one piece.",
        );
    } else if v.len() < 20 {
        errors.add(
            field,
            "This is too short to be an access token. Copy the whole token.",
        );
    } else if to_meta && v.starts_with("SANDBOX") {
        errors.add(
            field,
            "This is a sandbox token. It only works with the sandbox: use \"Use sandbox\" instead.",
        );
    }
    SecretString::from(v.to_string())
}

/// E.164 for an optional business phone number, parsed with the `phonenumber` crate.
pub fn parse_phone(errors: &mut FieldErrors, field: &str, value: &str) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    match phonenumber::parse(None, v) {
        Ok(n) if phonenumber::is_valid(&n) => {
            Some(n.format().mode(phonenumber::Mode::E164).to_string())
        }
        Ok(_) => {
            errors.add(
                field,
                "This is not a valid phone number. Check the digits and the country code.",
            );
            None
        }
        Err(_) => {
            errors.add(
                field,
                "Enter the number with its country code, like +44 7911 123456.",
            );
            None
        }
    }
}

/// `to_meta`: the credentials will go to Meta itself, so a sandbox token is refused here.
pub fn validate(
    input: &ConnectInput,
    to_meta: bool,
) -> Result<(Credentials, Option<String>), AppError> {
    let mut errors = FieldErrors::new();
    let phone_number_id = numeric_id(
        &mut errors,
        "phone_number_id",
        "Phone Number ID",
        &input.phone_number_id,
        true,
    );
    let access_token = token(&mut errors, "access_token", &input.access_token, to_meta);
    let business_account_id = numeric_id(
        &mut errors,
        "business_account_id",
        "Business Account ID",
        &input.business_account_id,
        false,
    );
    let phone = parse_phone(&mut errors, "phone_number", &input.phone_number);
    let app_id = numeric_id(&mut errors, "app_id", "App ID", &input.app_id, false);
    let secret = input.app_secret.trim();
    if secret.chars().any(char::is_whitespace) {
        errors.add(
            "app_secret",
            "An App Secret has no spaces. Copy it again from App settings → Basic.",
        );
    }
    match (app_id.is_some(), secret.is_empty()) {
        (true, true) => errors.add(
            "app_secret",
            "Enter the App Secret too, or leave the App ID empty.",
        ),
        (false, false) => errors.add(
            "app_id",
            "Enter the App ID too, or leave the App Secret empty.",
        ),
        _ => {}
    }
    errors.into_result()?;
    let app = app_id.map(|app_id| AppCredentials {
        app_id,
        app_secret: SecretString::from(secret.to_string()),
    });
    Ok((
        Credentials {
            phone_number_id: phone_number_id.unwrap_or_default(),
            access_token,
            business_account_id,
            app,
        },
        phone,
    ))
}

// ---- Meta's errors, explained -------------------------------------------------------------------

/// Turns a provider failure into its troubleshooting entry: the entry's title, anchor and steps,
/// worded once in `help::troubleshooting::ENTRIES`, with the entry's sentence for this particular
/// problem as the explanation, and the provider's code, words and trace id.
pub fn problem(e: &ProviderError, phone_number_id: &str) -> WhatsAppProblem {
    use crate::help::troubleshooting;
    let (entry, sentence) = troubleshooting::for_problem(e.problem);
    WhatsAppProblem {
        title: entry.title.into(),
        explanation: troubleshooting::explanation(sentence, phone_number_id),
        steps: entry.steps.iter().map(|s| s.to_string()).collect(),
        code: e.code,
        provider_message: e.message.clone(),
        trace_id: e.trace_id.clone(),
        anchor: entry.anchor.into(),
    }
}

/// The troubleshooting entry for an error Meta reported by code alone (stored with a failed
/// send).
pub fn problem_for_code(code: i64, details: Option<String>) -> WhatsAppProblem {
    problem(&whatsapp_cloud::classify_code(code, details), "")
}

pub(crate) fn graph_failure(e: GraphError, phone_number_id: &str) -> AppError {
    tracing::warn!(kind = %e.kind(), code = ?e.api().map(|a| a.code), fbtrace_id = ?e.fbtrace_id(), error = %e, "Graph API call failed");
    AppError::WhatsApp(problem(&e.to_provider_error(), phone_number_id))
}

// ---- the live check -----------------------------------------------------------------------------

pub struct CheckOutcome {
    pub phone: PhoneNumber,
    pub token: TokenKind,
}

/// Proves the credentials work: the number is visible to the token, belongs to the business
/// account if one was given, and (with app credentials) tells what kind of token it is.
pub async fn check(client: &GraphClient, creds: &Credentials) -> Result<CheckOutcome, AppError> {
    let secret = creds.app.as_ref().map(|a| &a.app_secret);
    let phone = client
        .phone_number(&creds.phone_number_id, &creds.access_token, secret)
        .await
        .map_err(|e| graph_failure(e, &creds.phone_number_id))?;
    if let Some(waba) = &creds.business_account_id {
        let numbers = client
            .business_phone_numbers(waba, &creds.access_token, secret)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::UnknownObject => AppError::invalid(
                    "business_account_id",
                    format!("Meta has no Business Account {waba} that this token may use. Check the ID, or leave it empty."),
                ),
                _ => graph_failure(e, &creds.phone_number_id),
            })?;
        if !numbers.iter().any(|n| n.id == creds.phone_number_id) {
            return Err(AppError::invalid(
                "business_account_id",
                format!("Phone Number ID {} is not a number of Business Account {waba}. Check both IDs under API Setup.", creds.phone_number_id),
            ));
        }
    }
    let token = match &creds.app {
        None => TokenKind::Unknown,
        Some(app) => match client.debug_token(&creds.access_token, app).await {
            Ok(info) if !info.is_valid => {
                let e = GraphError::Api(whatsapp_cloud::ApiError {
                    http_status: 200,
                    code: 190,
                    subcode: None,
                    error_type: None,
                    message: "Meta reports this access token as not valid.".into(),
                    details: None,
                    user_title: None,
                    user_msg: None,
                    fbtrace_id: None,
                    is_transient: false,
                });
                return Err(graph_failure(e, &creds.phone_number_id));
            }
            Ok(info) => info.kind(),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::InvalidToken | ErrorKind::InvalidParameter
                ) =>
            {
                return Err(AppError::invalid(
                    "app_secret",
                    "Meta refused this App ID and App Secret. Copy both again from App settings → Basic in your Meta app.",
                ));
            }
            Err(e) => return Err(graph_failure(e, &creds.phone_number_id)),
        },
    };
    Ok(CheckOutcome { phone, token })
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

fn token_columns(kind: TokenKind) -> (&'static str, Option<i64>) {
    match kind {
        TokenKind::Temporary { expires_at } => ("temporary", Some(expires_at)),
        TokenKind::Expiring { expires_at } => ("expiring", Some(expires_at)),
        TokenKind::Permanent => ("permanent", None),
        TokenKind::Unknown => ("unknown", None),
    }
}

fn health_json(p: &PhoneNumber) -> String {
    serde_json::to_string(
        &p.health_status
            .as_ref()
            .map(|h| h.problems())
            .unwrap_or_default(),
    )
    .unwrap_or_else(|_| "[]".into())
}

/// Stores a checked Meta connection for `user_id`, replacing any earlier one.
pub async fn save(
    db: &Db,
    wa: &WhatsAppService,
    user_id: i64,
    mode: Mode,
    creds: &Credentials,
    phone_e164: Option<&str>,
    outcome: &CheckOutcome,
) -> Result<(), AppError> {
    let account = Stored::account_of(creds);
    let mut tx = db.pool.begin().await?;
    insert_connection(
        &mut tx,
        &wa.keyring,
        user_id,
        whatsapp_cloud::META,
        mode,
        &account,
        phone_e164,
    )
    .await?;
    write_status(&mut *tx, user_id, outcome).await?;
    tx.commit().await?;
    tracing::info!(user_id, mode = mode.as_str(), "WhatsApp connected");
    Ok(())
}

/// Stores a connection to `provider` for `user_id`, replacing any earlier one, with its secrets
/// sealed and a fresh webhook key and verify token. What a provider's check learned about the
/// number is written by that provider's glue afterwards.
pub async fn save_account(
    db: &Db,
    keyring: &Keyring,
    user_id: i64,
    provider: &str,
    mode: Mode,
    account: &messaging::Account,
    phone_e164: Option<&str>,
) -> Result<(), AppError> {
    let mut tx = db.pool.begin().await?;
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
    account: &messaging::Account,
    phone_e164: Option<&str>,
) -> Result<(), AppError> {
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
         VALUES ($1, $13, $2, $3, $4, $5, $6, $7, $8, $9, 'unknown', $10, $11, $12, $12)",
    )
    .bind(user_id)
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
    .bind(provider)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A stored connection with its secrets decrypted, for the calls that need them.
pub struct Stored {
    /// The provider's stored name (`meta`, …).
    pub provider: String,
    pub mode: Mode,
    pub creds: Credentials,
    pub phone_number: Option<String>,
    pub display_phone_number: Option<String>,
    pub verified_name: Option<String>,
    pub webhook_key: String,
}

pub async fn load(db: &Db, wa: &WhatsAppService, user_id: i64) -> Result<Option<Stored>, AppError> {
    let Some(row) = sqlx::query(
        "SELECT provider, mode, phone_number_id, business_account_id, phone_number, app_id, access_token_enc, app_secret_enc, \
         display_phone_number, verified_name, webhook_key FROM whatsapp_connections WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?
    else {
        return Ok(None);
    };
    let mode = if row.try_get::<String, _>("mode")? == "sandbox" {
        Mode::Sandbox
    } else {
        Mode::Live
    };
    let token = wa
        .keyring
        .decrypt(
            &row.try_get::<String, _>("access_token_enc")?,
            &ctx("access_token", user_id),
        )
        .map_err(AppError::internal)?;
    let app_id: Option<String> = row.try_get("app_id")?;
    let secret_enc: Option<String> = row.try_get("app_secret_enc")?;
    let app = match (app_id, secret_enc) {
        (Some(app_id), Some(enc)) => Some(AppCredentials {
            app_id,
            app_secret: wa
                .keyring
                .decrypt(&enc, &ctx("app_secret", user_id))
                .map_err(AppError::internal)?,
        }),
        _ => None,
    };
    let stored = Stored {
        provider: row.try_get("provider")?,
        mode,
        creds: Credentials {
            phone_number_id: row.try_get("phone_number_id")?,
            access_token: token,
            business_account_id: row.try_get("business_account_id")?,
            app,
        },
        phone_number: row.try_get("phone_number")?,
        display_phone_number: row.try_get("display_phone_number")?,
        verified_name: row.try_get("verified_name")?,
        webhook_key: row.try_get("webhook_key")?,
    };
    if stored.mode == Mode::Sandbox && stored.provider == whatsapp_cloud::META {
        restore_sandbox(wa, &stored);
    }
    Ok(Some(stored))
}

impl Stored {
    /// The credentials in the providers' neutral shape.
    pub fn account(&self) -> messaging::Account {
        Stored::account_of(&self.creds)
    }

    fn account_of(creds: &Credentials) -> messaging::Account {
        messaging::Account {
            sender: creds.phone_number_id.clone(),
            token: creds.access_token.clone(),
            account_id: creds.business_account_id.clone(),
            app_id: creds.app.as_ref().map(|a| a.app_id.clone()),
            signing_secret: creds.app.as_ref().map(|a| a.app_secret.clone()),
        }
    }
}

/// The sandbox keeps nothing across restarts: put a stored sandbox account back before use.
fn restore_sandbox(wa: &WhatsAppService, stored: &Stored) {
    let (Some(rt), Some(app)) = (&wa.sandbox, &stored.creds.app) else {
        return;
    };
    if rt
        .sandbox
        .knows_token(stored.creds.access_token.expose_secret())
    {
        return;
    }
    let account = SandboxAccount {
        app_id: app.app_id.clone(),
        app_secret: app.app_secret.expose_secret().to_string(),
        business_account_id: stored.creds.business_account_id.clone().unwrap_or_default(),
        phone_number_id: stored.creds.phone_number_id.clone(),
        display_phone_number: stored
            .display_phone_number
            .clone()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_digit)
            .collect(),
        access_token: stored.creds.access_token.expose_secret().to_string(),
    };
    rt.sandbox.restore_account(
        &account,
        stored
            .verified_name
            .as_deref()
            .unwrap_or("Sandbox Lettings"),
        Some(local_webhook(wa, &stored.webhook_key)),
    );
}

fn local_webhook(wa: &WhatsAppService, key: &str) -> String {
    format!("{}/webhooks/whatsapp/{key}", wa.local_base)
}

// ---- the operations the settings page offers ----------------------------------------------------

pub async fn connect(
    db: &Db,
    wa: &WhatsAppService,
    user_id: i64,
    input: &ConnectInput,
) -> Result<(), AppError> {
    let (creds, phone) = validate(input, wa.live_is_meta)?;
    let outcome = check(wa.client(Mode::Live)?, &creds).await?;
    save(
        db,
        wa,
        user_id,
        Mode::Live,
        &creds,
        phone.as_deref(),
        &outcome,
    )
    .await
}

/// Creates a sandbox account for the user and connects it through the same checks as a real one.
pub async fn connect_sandbox(
    db: &Db,
    wa: &WhatsAppService,
    user_id: i64,
    business_name: &str,
) -> Result<(), AppError> {
    let rt = wa.sandbox.as_ref().ok_or_else(|| {
        AppError::invalid(
            "form",
            "The sandbox is turned off on this server (AXIS_SANDBOX=off).",
        )
    })?;
    let account = rt.sandbox.create_account(NewAccount {
        verified_name: business_name.to_string(),
        ..Default::default()
    });
    let creds = Credentials {
        phone_number_id: account.phone_number_id.clone(),
        access_token: SecretString::from(account.access_token.clone()),
        business_account_id: Some(account.business_account_id.clone()),
        app: Some(AppCredentials {
            app_id: account.app_id.clone(),
            app_secret: SecretString::from(account.app_secret.clone()),
        }),
    };
    let outcome = check(&rt.client, &creds).await?;
    save(db, wa, user_id, Mode::Sandbox, &creds, None, &outcome).await?;
    let key: String =
        sqlx::query_scalar("SELECT webhook_key FROM whatsapp_connections WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&db.pool)
            .await?;
    rt.sandbox
        .set_webhook(&account.app_id, Some(local_webhook(wa, &key)));
    Ok(())
}

/// Writes what a successful check learnt (number status, token kind) and clears the last error.
async fn write_status<'e, E>(executor: E, user_id: i64, o: &CheckOutcome) -> Result<(), AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let (kind, expires_at) = token_columns(o.token);
    let p = &o.phone;
    sqlx::query(
        "UPDATE whatsapp_connections SET verified_name = $1, display_phone_number = $2, quality_rating = $3, \
         name_status = $4, code_verification_status = $5, number_status = $6, account_mode = $7, throughput_level = $8, \
         messaging_limit = $9, health_problems = $10, token_kind = $11, token_expires_at = $12, last_checked_at = $13, \
         last_check_error = NULL WHERE user_id = $14",
    )
    .bind(&p.verified_name)
    .bind(&p.display_phone_number)
    .bind(&p.quality_rating)
    .bind(&p.name_status)
    .bind(&p.code_verification_status)
    .bind(&p.status)
    .bind(&p.account_mode)
    .bind(p.throughput.as_ref().and_then(|t| t.level.clone()))
    .bind(p.messaging_limit())
    .bind(health_json(p))
    .bind(kind)
    .bind(expires_at)
    .bind(now())
    .bind(user_id)
    .execute(executor)
    .await?;
    Ok(())
}

async fn record_check(
    db: &Db,
    user_id: i64,
    outcome: Result<&CheckOutcome, &AppError>,
) -> Result<(), AppError> {
    match outcome {
        Ok(o) => write_status(&db.pool, user_id, o).await?,
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

/// "Test connection": runs the checks again with the stored credentials and records the result.
pub async fn test(db: &Db, wa: &WhatsAppService, user_id: i64) -> Result<(), AppError> {
    let stored = load(db, wa, user_id).await?.ok_or(AppError::NotFound)?;
    let result = check(wa.client(stored.mode)?, &stored.creds).await;
    record_check(db, user_id, result.as_ref()).await?;
    result.map(|_| ())
}

/// "Replace token": checks the new token with the stored IDs, then swaps it in.
pub async fn replace_token(
    db: &Db,
    wa: &WhatsAppService,
    user_id: i64,
    new_token: &str,
) -> Result<(), AppError> {
    let stored = load(db, wa, user_id).await?.ok_or(AppError::NotFound)?;
    let mut errors = FieldErrors::new();
    let token = token(
        &mut errors,
        "access_token",
        new_token,
        stored.mode == Mode::Live && wa.live_is_meta,
    );
    errors.into_result()?;
    let creds = Credentials {
        access_token: token,
        ..stored.creds
    };
    let outcome = check(wa.client(stored.mode)?, &creds).await?;
    sqlx::query("UPDATE whatsapp_connections SET access_token_enc = $1, token_last4 = $2 WHERE user_id = $3")
        .bind(wa.keyring.encrypt(creds.access_token.expose_secret(), &ctx("access_token", user_id)))
        .bind(last4(&creds.access_token))
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    record_check(db, user_id, Ok(&outcome)).await?;
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

/// "Test connection" for credentials supplied by the environment; nothing is stored.
pub async fn test_env(wa: &WhatsAppService) -> Result<EnvManagedView, AppError> {
    let env = wa.env.as_ref().ok_or(AppError::NotFound)?;
    let creds = Credentials {
        phone_number_id: env.phone_number_id.clone(),
        access_token: env.access_token.clone(),
        business_account_id: env.business_account_id.clone(),
        app: env
            .app_id
            .clone()
            .zip(env.app_secret.clone())
            .map(|(app_id, app_secret)| AppCredentials { app_id, app_secret }),
    };
    let o = check(&wa.live, &creds).await?;
    Ok(EnvManagedView {
        verified_name: o.phone.verified_name.clone(),
        display_phone_number: o.phone.display_phone_number.clone(),
        quality_rating: o.phone.quality_rating.clone(),
        token: token_view(token_columns(o.token).0, token_columns(o.token).1),
        checked: true,
    })
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

fn token_view(kind: &str, expires_at: Option<i64>) -> TokenView {
    let left = expires_at.map(|at| at - now());
    TokenView {
        kind: kind.to_string(),
        expires_at_text: expires_at.map(format_time),
        seconds_left: left,
    }
}

pub async fn page(
    db: &Db,
    wa: &WhatsAppService,
    public_url: &str,
    user_id: i64,
) -> Result<WhatsAppPage, AppError> {
    let row = sqlx::query("SELECT * FROM whatsapp_connections WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?;
    let connection = match row {
        None => None,
        Some(r) => {
            let key: String = r.try_get("webhook_key")?;
            let verify = wa
                .keyring
                .decrypt(
                    &r.try_get::<String, _>("verify_token_enc")?,
                    &ctx("verify_token", user_id),
                )
                .map_err(AppError::internal)?;
            let health: Option<String> = r.try_get("health_problems")?;
            Some(ConnectionView {
                sandbox: r.try_get::<String, _>("mode")? == "sandbox",
                phone_number_id: r.try_get("phone_number_id")?,
                business_account_id: r.try_get("business_account_id")?,
                phone_number: r.try_get("phone_number")?,
                app_id: r.try_get("app_id")?,
                has_app_secret: r.try_get::<Option<String>, _>("app_secret_enc")?.is_some(),
                token_last4: r.try_get("token_last4")?,
                token: token_view(
                    &r.try_get::<String, _>("token_kind")?,
                    r.try_get("token_expires_at")?,
                ),
                verified_name: r.try_get("verified_name")?,
                display_phone_number: r.try_get("display_phone_number")?,
                quality_rating: r.try_get("quality_rating")?,
                name_status: r.try_get("name_status")?,
                code_verification_status: r.try_get("code_verification_status")?,
                number_status: r.try_get("number_status")?,
                account_mode: r.try_get("account_mode")?,
                throughput_level: r.try_get("throughput_level")?,
                messaging_limit: r.try_get("messaging_limit")?,
                health_problems: health
                    .and_then(|h| serde_json::from_str(&h).ok())
                    .unwrap_or_default(),
                connected_at_text: format_time(r.try_get("connected_at")?),
                last_checked_at_text: format_time(r.try_get("last_checked_at")?),
                last_check_error: r.try_get("last_check_error")?,
                webhook_url: format!("{public_url}/webhooks/whatsapp/{key}"),
                verify_token: verify.expose_secret().to_string(),
            })
        }
    };
    Ok(WhatsAppPage {
        connection,
        env_managed: wa.env.is_some(),
        sandbox_available: wa.sandbox.is_some(),
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

    fn input() -> ConnectInput {
        ConnectInput {
            phone_number_id: " 123456789012345 ".into(),
            access_token: "EAAGm0PX4ZCpsBAabcdefghijklmnop".into(),
            ..Default::default()
        }
    }

    #[test]
    fn accepts_the_minimum() {
        let (c, phone) = validate(&input(), true).unwrap();
        assert_eq!(c.phone_number_id, "123456789012345");
        assert!(c.business_account_id.is_none() && c.app.is_none() && phone.is_none());
        assert!(!format!("{c:?}").contains("EAAG"), "Debug hides the token");
    }

    #[test]
    fn checks_each_field_before_any_network_call() {
        let bad = ConnectInput {
            phone_number_id: "+44 7911 123456".into(),
            access_token: "EAAG token with spaces in it".into(),
            business_account_id: "abc".into(),
            phone_number: "07700 900123".into(),
            app_id: "123456".into(),
            app_secret: String::new(),
        };
        let e = validate(&bad, true).unwrap_err();
        assert!(e
            .field("phone_number_id")
            .unwrap()
            .contains("looks like a phone number"));
        assert!(e.field("access_token").unwrap().contains("no spaces"));
        assert!(e
            .field("business_account_id")
            .unwrap()
            .contains("only digits"));
        assert!(e.field("phone_number").unwrap().contains("country code"));
        assert!(e.field("app_secret").unwrap().contains("App Secret too"));
        let e = validate(&ConnectInput::default(), true).unwrap_err();
        assert!(e.field("phone_number_id").unwrap().contains("API Setup"));
        assert_eq!(
            e.field("access_token").as_deref(),
            Some("Paste your access token.")
        );
    }

    #[test]
    fn phone_numbers_become_e164() {
        let mut i = input();
        i.phone_number = "+44 7911 123456".into();
        assert_eq!(
            validate(&i, true).unwrap().1.as_deref(),
            Some("+447911123456")
        );
        i.phone_number = "+1 555".into();
        assert!(validate(&i, true)
            .unwrap_err()
            .field("phone_number")
            .is_some());
    }

    #[test]
    fn sandbox_tokens_never_go_to_meta() {
        let mut i = input();
        i.access_token = "SANDBOXabcdefghijklmnopqrstuvwxyz".into();
        assert!(validate(&i, true)
            .unwrap_err()
            .field("access_token")
            .unwrap()
            .contains("sandbox token"));
        assert!(validate(&i, false).is_ok());
    }

    fn api(code: i64, subcode: Option<i64>) -> ProviderError {
        GraphError::Api(whatsapp_cloud::ApiError {
            http_status: 400,
            code,
            subcode,
            error_type: None,
            message: "(#x) Meta says".into(),
            details: Some("details from Meta".into()),
            user_title: None,
            user_msg: None,
            fbtrace_id: Some("Atrace".into()),
            is_transient: false,
        })
        .to_provider_error()
    }

    #[test]
    fn errors_become_the_guides_troubleshooting_entries() {
        let p = problem(&api(190, Some(463)), "1");
        assert_eq!(p.title, "Invalid Access Token");
        assert!(p.explanation.contains("expired"));
        assert_eq!(p.trace_id.as_deref(), Some("Atrace"));
        assert_eq!(p.provider_message.as_deref(), Some("details from Meta"));
        assert_eq!(
            problem(&api(100, Some(33)), "42").title,
            "Phone number not registered"
        );
        assert!(problem(&api(100, Some(33)), "42")
            .explanation
            .contains("42"));
        assert_eq!(
            problem(&api(133010, None), "1").title,
            "Phone number not registered"
        );
        for code in [4, 80007, 130429] {
            assert_eq!(problem(&api(code, None), "1").title, "Rate limit exceeded");
        }
        for code in [10, 200, 299] {
            assert_eq!(problem(&api(code, None), "1").title, "Missing permissions");
        }
        let t = problem(&GraphError::Timeout.to_provider_error(), "1");
        assert_eq!(t.title, "Could not reach WhatsApp");
        assert!(t.steps[0].contains("Nothing was saved"));
        assert_eq!(
            problem(
                &GraphError::Network("refused".into()).to_provider_error(),
                "1"
            )
            .code,
            None
        );
    }
}

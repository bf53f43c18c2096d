//! Meta's WhatsApp Cloud API: the glue between the `whatsapp-cloud` crate and the app.
//!
//! - [`MetaRuntime`]: the Graph client for live connections, the built-in sandbox (a Cloud API
//!   simulator) when it runs, and credentials from the environment;
//! - [`form`]: the connection form's checks;
//! - the operations of the settings page that only Meta has: connecting with Meta's IDs,
//!   creating a sandbox account, replacing a token, testing environment credentials.
//!
//! Everything else (storing the connection, the outbox, webhooks, templates) is provider-neutral
//! and reaches Meta through [`messaging::Provider`].

pub mod form;

use crate::connections::server::{self as connections, Stored};
use crate::connections::SandboxPlay;
use crate::error::{AppError, FieldErrors};
use crate::platform::{
    config::{Config, EnvWhatsApp},
    crypto::Keyring,
    db::Db,
    AppState,
};
use crate::providers::{Mode, Providers};
use crate::sending::server::outbox;
use crate::templates::server as templates;
use form::ConnectInput;
use messaging::{Account, Provider};
use secrecy::{ExposeSecret, SecretString};
use std::{net::SocketAddr, sync::Arc};
use whatsapp_cloud::{
    sandbox::{KnownTemplate, NewAccount, Sandbox, SandboxAccount, SandboxConfig},
    GraphClient, GraphConfig, MetaProvider,
};

pub use whatsapp_cloud::META;

/// The built-in Cloud API simulator and a client pointed at it.
#[derive(Clone)]
pub struct SandboxRuntime {
    pub sandbox: Sandbox,
    pub client: GraphClient,
    pub base_url: String,
}

/// Meta as this server runs it.
pub struct MetaRuntime {
    pub live: GraphClient,
    /// The live client talks to Meta itself (not a simulator set in `WHATSAPP_GRAPH_URL`):
    /// sandbox tokens are then refused before they could leave the server.
    pub live_is_meta: bool,
    pub sandbox: Option<SandboxRuntime>,
    pub env: Option<EnvWhatsApp>,
    /// Where the sandbox posts webhooks: this server, on loopback.
    pub local_base: String,
}

impl std::fmt::Debug for MetaRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaRuntime")
            .field("live", &self.live.base_url())
            .finish_non_exhaustive()
    }
}

impl MetaRuntime {
    /// Builds the live client and starts the sandbox when `AXIS_SANDBOX` allows it.
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
        Ok(Arc::new(MetaRuntime {
            live,
            live_is_meta,
            sandbox,
            env: config.env_whatsapp.clone(),
            local_base: format!("http://{loopback}"),
        }))
    }

    /// Meta as a provider: live through `WHATSAPP_GRAPH_URL`, sandbox through the simulator.
    pub fn register(&self, providers: &Providers) {
        providers.register(Mode::Live, Arc::new(MetaProvider::new(self.live.clone())));
        if let Some(s) = &self.sandbox {
            providers.register(Mode::Sandbox, Arc::new(MetaProvider::new(s.client.clone())));
        }
    }

    fn sandbox(&self) -> Result<&SandboxRuntime, AppError> {
        self.sandbox.as_ref().ok_or_else(|| {
            AppError::invalid(
                "form",
                "The sandbox is turned off on this server (AXIS_SANDBOX=off).",
            )
        })
    }

    fn local_webhook(&self, key: &str) -> String {
        format!(
            "{}/webhooks/{}/{key}",
            self.local_base,
            crate::sending::server::webhooks::LEGACY_SEGMENT
        )
    }

    /// The sandbox keeps nothing across restarts: at start, every stored sandbox connection
    /// is put back as the app last knew it (its webhook pointed at this server, its templates,
    /// the 24-hour windows still open), so every send that worked before a restart works
    /// after it. Returns how many.
    pub async fn restore_sandbox_accounts(
        &self,
        db: &Db,
        keyring: &Keyring,
    ) -> anyhow::Result<usize> {
        let Some(rt) = &self.sandbox else {
            return Ok(0);
        };
        let mut restored = 0;
        for user_id in connections::users_with(db, META, Mode::Sandbox).await? {
            let stored = match connections::load(db, keyring, user_id).await {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(user_id, error = %e, "a sandbox connection could not be restored");
                    continue;
                }
            };
            if self.restore(rt, &stored) {
                restored += 1;
            }
            if let Err(e) = restore_history(rt, db, user_id, &stored).await {
                tracing::warn!(user_id, error = %e, "a sandbox account's templates and windows could not be restored");
            }
        }
        Ok(restored)
    }

    fn restore(&self, rt: &SandboxRuntime, stored: &Stored) -> bool {
        let a = &stored.account;
        let (Some(app_id), Some(secret)) = (&a.app_id, &a.signing_secret) else {
            return false;
        };
        if rt.sandbox.knows_token(a.token.expose_secret()) {
            return false;
        }
        let account = SandboxAccount {
            app_id: app_id.clone(),
            app_secret: secret.expose_secret().to_string(),
            business_account_id: a.account_id.clone().unwrap_or_default(),
            phone_number_id: a.sender.clone(),
            display_phone_number: stored
                .display_phone_number
                .clone()
                .unwrap_or_default()
                .chars()
                .filter(char::is_ascii_digit)
                .collect(),
            access_token: a.token.expose_secret().to_string(),
        };
        rt.sandbox.restore_account(
            &account,
            stored
                .verified_name
                .as_deref()
                .unwrap_or("Sandbox Lettings"),
            Some(self.local_webhook(&stored.webhook_key)),
        );
        true
    }
}

/// A template as the sandbox keeps it.
fn known(t: &messaging::TemplateInfo) -> KnownTemplate {
    KnownTemplate {
        id: t.id.clone(),
        name: t.name.clone(),
        language: t.language.clone(),
        status: t.status.clone(),
        category: t.category.clone(),
        header_format: t.header_format.clone(),
        body: t.body_text.clone(),
    }
}

/// Gives a restarted sandbox the account's templates (with the ids the app knows them by) and
/// the windows still open, from what the app stored.
async fn restore_history(
    rt: &SandboxRuntime,
    db: &Db,
    user_id: i64,
    stored: &Stored,
) -> Result<(), AppError> {
    let waba = stored.account.account_id.clone().unwrap_or_default();
    for t in templates::known(db, user_id).await? {
        rt.sandbox.put_template(&waba, &known(&t));
    }
    let now = crate::platform::db::now();
    for (customer, at) in outbox::open_windows(db, user_id, now).await? {
        rt.sandbox
            .restore_window(&stored.account.sender, &customer, at);
    }
    Ok(())
}

fn provider(state: &AppState, mode: Mode) -> Result<Arc<dyn Provider>, AppError> {
    state.providers.get(META, mode)
}

/// "Connect": checks the form, proves the credentials with Meta, and stores them.
pub async fn connect(state: &AppState, user_id: i64, input: &ConnectInput) -> Result<(), AppError> {
    let (account, phone) = form::validate(input, state.meta.live_is_meta)?;
    connections::connect(
        state,
        user_id,
        &*provider(state, Mode::Live)?,
        Mode::Live,
        &account,
        phone.as_deref(),
    )
    .await
    .map(|_key| ())
}

/// Creates a sandbox account for the user and connects it through the same checks as a real one.
pub async fn connect_sandbox(
    state: &AppState,
    user_id: i64,
    business_name: &str,
) -> Result<(), AppError> {
    let rt = state.meta.sandbox()?;
    let created = rt.sandbox.create_account(NewAccount {
        verified_name: business_name.to_string(),
        ..Default::default()
    });
    let account = Account {
        sender: created.phone_number_id.clone(),
        token: SecretString::from(created.access_token.clone()),
        account_id: Some(created.business_account_id.clone()),
        app_id: Some(created.app_id.clone()),
        signing_secret: Some(SecretString::from(created.app_secret.clone())),
    };
    let key = connections::connect(
        state,
        user_id,
        &*provider(state, Mode::Sandbox)?,
        Mode::Sandbox,
        &account,
        None,
    )
    .await?;
    rt.sandbox
        .set_webhook(&created.app_id, Some(state.meta.local_webhook(&key)));
    // Like Meta's test accounts, which start with `hello_world` approved, a sandbox account
    // starts with the invoice template approved and chosen: a newcomer's first send needs no
    // detour through review.
    rt.sandbox.put_template(
        &created.business_account_id,
        &known(&templates::invoice_template("APPROVED")),
    );
    templates::refresh(state, user_id).await?;
    templates::choose(
        &state.db,
        user_id,
        &format!(
            "{}|{}",
            templates::INVOICE_TEMPLATE,
            templates::INVOICE_TEMPLATE_LANGUAGE
        ),
    )
    .await?;
    Ok(())
}

/// "Replace token": checks the new token's shape, then the neutral check and swap.
pub async fn replace_token(
    state: &AppState,
    user_id: i64,
    new_token: &str,
) -> Result<(), AppError> {
    let stored = connections::load(&state.db, &state.keyring, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut errors = FieldErrors::new();
    let token = form::token(
        &mut errors,
        "access_token",
        new_token,
        stored.mode == Mode::Live && state.meta.live_is_meta,
    );
    errors.into_result()?;
    connections::replace_token(state, user_id, stored, token).await
}

/// "Test connection" for credentials supplied by the environment; nothing is stored.
pub async fn test_env(state: &AppState) -> Result<crate::connections::EnvManagedView, AppError> {
    let env = state.meta.env.as_ref().ok_or(AppError::NotFound)?;
    let account = Account {
        sender: env.phone_number_id.clone(),
        token: env.access_token.clone(),
        account_id: env.business_account_id.clone(),
        app_id: env.app_id.clone().filter(|_| env.app_secret.is_some()),
        signing_secret: env.app_secret.clone().filter(|_| env.app_id.is_some()),
    };
    let check = provider(state, Mode::Live)?
        .check_connection(&account)
        .await
        .map_err(|e| connections::check_failure(e, &account.sender))?;
    let (kind, expires_at) = check.token.stored();
    Ok(crate::connections::EnvManagedView {
        verified_name: check.sender.verified_name.clone(),
        display_phone_number: check.sender.display_phone_number.clone(),
        quality_rating: check.sender.quality_rating.clone(),
        token: connections::token_view(kind, expires_at),
        checked: true,
    })
}

/// The sandbox connection of `user_id` and its simulator, for the buttons that play Meta's or a
/// tenant's part.
pub async fn sandbox_of<'a>(
    state: &'a AppState,
    user_id: i64,
    why: &str,
) -> Result<(&'a SandboxRuntime, Stored), AppError> {
    let refuse = || AppError::invalid("form", why.to_string());
    let rt = state.meta.sandbox.as_ref().ok_or_else(refuse)?;
    let stored = connections::load(&state.db, &state.keyring, user_id)
        .await?
        .filter(|s| s.mode == Mode::Sandbox && s.provider == META)
        .ok_or_else(refuse)?;
    Ok((rt, stored))
}

/// The sandbox plays `who` writing `text` to the user's sandbox number: by phone, or (for a
/// tenant known only by user id) as a customer with a username who shares no number.
pub async fn simulate_reply(
    state: &AppState,
    user_id: i64,
    who: &messaging::Person,
    text: &str,
) -> Result<(), AppError> {
    let (rt, stored) = sandbox_of(
        state,
        user_id,
        "Replies can only be simulated with the sandbox.",
    )
    .await?;
    let customer = match (&who.phone, &who.user_id) {
        (Some(p), _) => whatsapp_cloud::sandbox::Customer::phone(p),
        (None, Some(u)) => whatsapp_cloud::sandbox::Customer::username_only(
            u,
            who.username.as_deref().unwrap_or_default(),
            who.name.as_deref().unwrap_or("Sandbox tenant"),
        ),
        (None, None) => return Err(AppError::invalid("form", "The tenant has no phone number.")),
    };
    rt.sandbox
        .simulate_inbound_from(&stored.account.sender, &customer, text);
    Ok(())
}

/// The customer the sandbox plays for [`SandboxPlay::UsernameCustomer`]: a tenant who writes
/// from a WhatsApp username and shares no number.
const USERNAME_CUSTOMER: (&str, &str, &str) =
    ("GB.10480293847561029384", "ada_flat3", "Ada Lovelace");

/// Plays one of Meta's (or a customer's) moves on the user's sandbox connection, and says what
/// will happen. Webhooks carry the effect a moment later, as from Meta.
pub async fn play(state: &AppState, user_id: i64, play: SandboxPlay) -> Result<String, AppError> {
    let (rt, stored) = sandbox_of(
        state,
        user_id,
        "Only a sandbox connection can play Meta's part.",
    )
    .await?;
    let sender = stored.account.sender.clone();
    let template = || async {
        let info = crate::sending::server::outbox::connection_info(&state.db, user_id).await?;
        let chosen = info.and_then(|i| i.template).ok_or_else(|| {
            AppError::invalid(
                "event",
                "Create the invoice template first (Message templates below).",
            )
        })?;
        let waba = stored.account.account_id.clone().unwrap_or_default();
        Ok::<_, AppError>((waba, chosen))
    };
    let change = |status: Option<&'static str>, category: Option<&'static str>| async move {
        let (waba, (name, language)) = template().await?;
        rt.sandbox
            .simulate_template_change(&waba, &name, &language, status, category)
            .await;
        Ok::<_, AppError>(name)
    };
    Ok(match play {
        SandboxPlay::UsernameCustomer => {
            let (id, username, name) = USERNAME_CUSTOMER;
            let customer = whatsapp_cloud::sandbox::Customer::username_only(id, username, name);
            rt.sandbox.simulate_inbound_from(
                &sender,
                &customer,
                "Hi, it's Ada from Flat 3. Could you send me this month's invoice here?",
            );
            format!("{name} (@{username}) wrote from a WhatsApp username without sharing a number: she is now under Tenants, and her 24-hour window is open.")
        }
        SandboxPlay::TemplateArchived => {
            let name = change(Some("ARCHIVED"), None).await?;
            format!("Meta archived the template {name}: see Message templates below.")
        }
        SandboxPlay::TemplatePaused => {
            let name = change(Some("PAUSED"), None).await?;
            format!("Meta paused the template {name}: see Message templates below.")
        }
        SandboxPlay::TemplateMarketing => {
            let name = change(None, Some("MARKETING")).await?;
            format!("Meta moved the template {name} to MARKETING: see Message templates below.")
        }
        SandboxPlay::SharedWithApp => {
            rt.sandbox.set_shared_with_app(&sender, true);
            connections::test(state, user_id).await?;
            "The number is now also in the WhatsApp Business app (coexistence): invoices go at most 20 a second.".into()
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::connections::server::problem;
    use messaging::ProviderError;
    use whatsapp_cloud::GraphError;

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

    /// Meta's codes and transport failures reach the guide's troubleshooting entries.
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

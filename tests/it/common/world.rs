//! One test world: the app on a fresh database, served on a loopback port, and as much of "a
//! property manager set up to send invoices over WhatsApp" as a test needs. Built in steps, each
//! optional, like crates.io's `TestApp::full().with_user()`:
//!
//! ```ignore
//! let w = World::builder(backend)
//!     .env(&[("AXIS_SANDBOX", "off")])          // configuration, later values win
//!     .sandbox_config(|c| c.status_delay = Duration::from_millis(30)) // a fake Meta, adjusted
//!     .connected()        // signed up (Lee of Harbour Lettings), connected to the fake Meta,
//!                         // its webhooks pointed at the app
//!     .with_sample_data() // the sample invoices
//!     .with_template()    // the invoice template created and approved
//!     .build()
//!     .await;
//! w.send_invoice("INV-0003").await;
//! w.drive("read", || async { w.state_of("INV-0003").await == "read" }).await;
//! w.close().await;
//! ```
//!
//! The fake Meta is `whatsapp_cloud::sandbox::Sandbox`, with the app's `WHATSAPP_GRAPH_URL`
//! pointed at it; without `.fake_meta()` (or a step that needs it) the app keeps its own
//! configuration (Meta itself, or its built-in sandbox).

use super::{
    reads::{Reads, Stage},
    Backend, Browser, Client, Resp, TestApp, PATIENCE,
};
use axis_crm::platform::{self, AppState};
use std::{
    future::Future,
    sync::OnceLock,
    time::{Duration, Instant},
};
use whatsapp_cloud::sandbox::{NewAccount, Sandbox, SandboxAccount, SandboxConfig, SentRecord};

/// Who signs up, unless a test says otherwise.
pub const NAME: &str = "Lee";
pub const BUSINESS: &str = "Harbour Lettings";
pub const EMAIL: &str = "lee@example.com";
pub const PASSWORD: &str = "correct horse battery";

type Adjust = Box<dyn FnOnce(&mut SandboxConfig)>;
type AccountEnv = Box<dyn FnOnce(&SandboxAccount) -> Vec<(&'static str, String)>>;

/// Steps towards a [`World`]; see the module's documentation.
pub struct WorldBuilder {
    backend: Backend,
    env: Vec<(String, String)>,
    fake_meta: bool,
    adjust: Vec<Adjust>,
    account: NewAccount,
    account_env: Option<AccountEnv>,
    user: Option<(String, String, String)>,
    connected: bool,
    sample_data: bool,
    template: bool,
}

/// The app, the fake Meta, the user and their session; see the module's documentation.
pub struct World {
    pub app: TestApp,
    /// The app served on a loopback port (where webhooks go), e.g. `http://127.0.0.1:40123`.
    pub site: String,
    /// Every response the setup received, in order (sign-up, connect, sample data, template).
    pub setup_responses: Vec<Resp>,
    env: Vec<(String, String)>,
    sandbox: Option<Sandbox>,
    account: Option<SandboxAccount>,
    email: Option<String>,
    user_id: Option<i64>,
    cookie: Option<String>,
    webhook_key: OnceLock<String>,
}

impl World {
    /// A world on `backend` with nothing in it yet but the app.
    pub fn builder(backend: Backend) -> WorldBuilder {
        WorldBuilder {
            backend,
            env: Vec::new(),
            fake_meta: false,
            adjust: Vec::new(),
            account: NewAccount {
                verified_name: BUSINESS.into(),
                ..Default::default()
            },
            account_env: None,
            user: None,
            connected: false,
            sample_data: false,
            template: false,
        }
    }
}

impl WorldBuilder {
    /// Configuration for the app (`AXIS_*`, `WHATSAPP_*`, …). A variable given again replaces
    /// the earlier value.
    pub fn env(mut self, vars: &[(&str, &str)]) -> Self {
        for (k, v) in vars {
            self.env.retain(|(key, _)| key != k);
            self.env.push((k.to_string(), v.to_string()));
        }
        self
    }

    /// A sandbox standing in for Meta (recording every exchange, "slow" answers held 30 s), with
    /// one account on it (see [`WorldBuilder::account`]); the app's Graph URL points at it.
    pub fn fake_meta(mut self) -> Self {
        self.fake_meta = true;
        self
    }

    /// Adjusts the fake Meta's settings before it starts (implies [`WorldBuilder::fake_meta`]).
    /// Several adjustments apply in order.
    pub fn sandbox_config(mut self, adjust: impl FnOnce(&mut SandboxConfig) + 'static) -> Self {
        self.adjust.push(Box::new(adjust));
        self.fake_meta()
    }

    /// The account to create on the fake Meta (implies [`WorldBuilder::fake_meta`]); by
    /// default one whose number's verified name is "Harbour Lettings".
    pub fn account(mut self, account: NewAccount) -> Self {
        self.account = account;
        self.fake_meta()
    }

    /// Configuration taken from the fake Meta's account, e.g. credentials in the environment
    /// (implies [`WorldBuilder::fake_meta`]); applied after [`WorldBuilder::env`].
    pub fn env_from_account(
        mut self,
        vars: impl FnOnce(&SandboxAccount) -> Vec<(&'static str, String)> + 'static,
    ) -> Self {
        self.account_env = Some(Box::new(vars));
        self.fake_meta()
    }

    /// A user signed up, their session kept: Lee of Harbour Lettings, unless
    /// [`WorldBuilder::user`] says who.
    pub fn signed_up(mut self) -> Self {
        if self.user.is_none() {
            self.user = Some((NAME.into(), BUSINESS.into(), EMAIL.into()));
        }
        self
    }

    /// Who signs up (with [`PASSWORD`]); implies [`WorldBuilder::signed_up`].
    pub fn user(mut self, name: &str, business: &str, email: &str) -> Self {
        self.user = Some((name.into(), business.into(), email.into()));
        self
    }

    /// The user connected to the fake Meta's account (every field of the form but the phone
    /// number), and the account's webhooks pointed at the app. Implies a user and a fake Meta.
    pub fn connected(mut self) -> Self {
        self.connected = true;
        self.signed_up().fake_meta()
    }

    /// The sample invoices loaded ("Load sample data"). Implies a user.
    pub fn with_sample_data(mut self) -> Self {
        self.sample_data = true;
        self.signed_up()
    }

    /// The invoice template created, and approved by the fake Meta. Implies a connection.
    pub fn with_template(mut self) -> Self {
        self.template = true;
        self.connected()
    }

    pub async fn build(self) -> World {
        let mut env = self.env;
        let mut account = None;
        let sandbox = if self.fake_meta {
            let adjustments = self.adjust;
            let (sandbox, graph) = super::fake_meta_with(|config| {
                for adjust in adjustments {
                    adjust(config);
                }
            })
            .await;
            env.retain(|(k, _)| k != "WHATSAPP_GRAPH_URL");
            env.push(("WHATSAPP_GRAPH_URL".into(), graph));
            let a = sandbox.create_account(self.account);
            if let Some(vars) = self.account_env {
                for (k, v) in vars(&a) {
                    env.retain(|(key, _)| key != k);
                    env.push((k.to_string(), v));
                }
            }
            account = Some(a);
            Some(sandbox)
        } else {
            None
        };
        let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let app = TestApp::with_env(self.backend, &vars).await;
        let site = app.serve().await;
        let mut w = World {
            app,
            site,
            setup_responses: Vec::new(),
            env,
            sandbox,
            account,
            email: None,
            user_id: None,
            cookie: None,
            webhook_key: OnceLock::new(),
        };
        let Some((name, business, email)) = self.user else {
            return w;
        };
        let mut b = w.app.browser();
        let mut responses = Vec::new();
        let r = b.signup(&name, &business, &email, PASSWORD).await;
        assert!(r.status.is_success(), "sign-up: {}", r.body);
        responses.push(r);
        if self.connected {
            let a = w.account();
            let r = b
                .call(
                    "whatsapp/connect",
                    &[
                        ("phone_number_id", a.phone_number_id.as_str()),
                        ("access_token", a.access_token.as_str()),
                        ("business_account_id", a.business_account_id.as_str()),
                        ("phone_number", ""),
                        ("app_id", a.app_id.as_str()),
                        ("app_secret", a.app_secret.as_str()),
                    ],
                    Client::Wasm,
                )
                .await;
            assert!(r.status.is_success(), "connect: {}", r.body);
            responses.push(r);
        }
        if self.sample_data {
            let r = b.call("invoices/sample", &[], Client::Wasm).await;
            assert!(r.status.is_success(), "sample data: {}", r.body);
            responses.push(r);
        }
        let cookie = b.cookie.clone().expect("signed up: a session cookie");
        drop(b);
        w.setup_responses = responses;
        w.cookie = Some(cookie);
        w.user_id = Some(w.reads().user_id(&email).await);
        w.email = Some(email);
        if self.connected {
            let site = w.site.clone();
            w.point_webhooks_at(&site).await;
        }
        if self.template {
            let r = w.call("whatsapp/templates/create", &[]).await;
            assert!(r.status.is_success(), "template: {}", r.body);
            w.setup_responses.push(r);
            w.wait_for("the template's approval", || async {
                w.reads()
                    .approved_templates()
                    .await
                    .iter()
                    .any(|t| t == "axis_invoice_pdf")
            })
            .await;
        }
        w
    }
}

impl World {
    // ---- what the world holds -------------------------------------------------------------------

    pub fn state(&self) -> &AppState {
        &self.app.state
    }

    pub fn pool(&self) -> &sqlx::AnyPool {
        &self.app.state.db.pool
    }

    /// Typed reads of the app's database.
    pub fn reads(&self) -> Reads<'_> {
        Reads::of(self.pool())
    }

    /// Writes that stage a state in the app's database.
    pub fn stage(&self) -> Stage<'_> {
        Stage::of(self.pool())
    }

    /// The fake Meta.
    pub fn sandbox(&self) -> &Sandbox {
        self.sandbox
            .as_ref()
            .expect("this world has no fake Meta (add .fake_meta() to its builder)")
    }

    /// The account on the fake Meta.
    pub fn account(&self) -> &SandboxAccount {
        self.account
            .as_ref()
            .expect("this world has no fake Meta (add .fake_meta() to its builder)")
    }

    /// The signed-up user's session cookie.
    pub fn cookie(&self) -> &str {
        self.cookie
            .as_deref()
            .expect("nobody signed up in this world (add .signed_up() to its builder)")
    }

    pub fn user_id(&self) -> i64 {
        self.user_id
            .expect("nobody signed up in this world (add .signed_up() to its builder)")
    }

    pub fn email(&self) -> &str {
        self.email
            .as_deref()
            .expect("nobody signed up in this world (add .signed_up() to its builder)")
    }

    /// The secret part of the connection's webhook address.
    pub fn webhook_key(&self) -> &str {
        self.webhook_key
            .get()
            .expect("no webhooks pointed at the app yet (add .connected() to its builder)")
    }

    /// Where the fake Meta sends this connection's webhooks: the app served by this world.
    pub fn webhook_url(&self) -> String {
        format!("{}/webhooks/whatsapp/{}", self.site, self.webhook_key())
    }

    /// Points the fake Meta's webhooks for the account at `site` (this world's app, or another
    /// server on its database). Reads the connection's webhook key the first time.
    pub async fn point_webhooks_at(&self, site: &str) {
        if self.webhook_key.get().is_none() {
            let key = self.reads().webhook_key(self.user_id()).await;
            let _ = self.webhook_key.set(key);
        }
        self.sandbox().set_webhook(
            &self.account().app_id,
            Some(format!("{site}/webhooks/whatsapp/{}", self.webhook_key())),
        );
    }

    // ---- acting as the user ---------------------------------------------------------------------

    /// A browser holding the user's session (or none, if nobody signed up).
    pub fn browser(&self) -> Browser<'_> {
        let mut b = self.app.browser();
        b.cookie = self.cookie.clone();
        b
    }

    /// Calls a server function as the user, the way the WASM app does.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> Resp {
        self.browser().call(endpoint, form, Client::Wasm).await
    }

    /// Gets a page as the user.
    pub async fn get(&self, path: &str) -> Resp {
        self.browser().get(path).await
    }

    /// The id of the invoice numbered `number`.
    pub async fn invoice_id(&self, number: &str) -> i64 {
        self.reads().invoice_id(number).await
    }

    /// "Send on WhatsApp" for the invoice numbered `number`.
    pub async fn send_invoice(&self, number: &str) -> Resp {
        let id = self.invoice_id(number).await.to_string();
        self.call("whatsapp/send", &[("invoice_id", id.as_str())])
            .await
    }

    /// The state of the latest send of the invoice numbered `number` ("" before any).
    pub async fn state_of(&self, number: &str) -> String {
        let id = self.invoice_id(number).await;
        self.reads().send_state(id).await.unwrap_or_default()
    }

    /// Seeds `count` issued invoices by SQL (see [`super::seed_issued_invoices`]).
    pub async fn seed_invoices(
        &self,
        count: usize,
        phone_prefix: &str,
        number_prefix: &str,
    ) -> Vec<i64> {
        super::seed_issued_invoices(
            self.pool(),
            self.user_id(),
            count,
            phone_prefix,
            number_prefix,
        )
        .await
    }

    /// Seeds `count` issued invoices to distinct tenants and queues them all with one bulk call.
    pub async fn queue_invoices(
        &self,
        count: usize,
        phone_prefix: &str,
        number_prefix: &str,
    ) -> Vec<i64> {
        let invoices = self.seed_invoices(count, phone_prefix, number_prefix).await;
        let ids: Vec<String> = invoices.iter().map(i64::to_string).collect();
        let mut form: Vec<(&str, &str)> = vec![("which", "selected")];
        form.extend(ids.iter().map(|id| ("ids[]", id.as_str())));
        let r = self.call("whatsapp/bulk", &form).await;
        assert!(r.status.is_success(), "{}", r.body);
        assert_eq!(r.json()["queued"], count as i64, "{}", r.body);
        invoices
    }

    // ---- what the fake Meta saw -----------------------------------------------------------------

    /// Messages the fake Meta accepted for the invoice numbered `number` (by their callback
    /// tag's send id).
    pub async fn accepted_for(&self, number: &str) -> Vec<SentRecord> {
        let id = self.invoice_id(number).await;
        let sends = self.reads().send_ids(id).await;
        self.sandbox()
            .sent()
            .into_iter()
            .filter(|s| {
                s.callback
                    .as_deref()
                    .and_then(axis_crm::sending::server::outbox::parse_callback)
                    .is_some_and(|(send, _)| sends.contains(&send))
            })
            .collect()
    }

    /// Invoices the fake Meta did not accept exactly once, with how often it did.
    pub async fn not_exactly_once(&self, invoices: &[i64]) -> Vec<(i64, usize)> {
        let per_invoice = self
            .reads()
            .accepted_per_invoice(&self.sandbox().sent())
            .await;
        invoices
            .iter()
            .map(|id| (*id, per_invoice.get(id).copied().unwrap_or(0)))
            .filter(|(_, n)| *n != 1)
            .collect()
    }

    // ---- waiting --------------------------------------------------------------------------------

    /// Waits until `done` holds; fails after [`PATIENCE`].
    pub async fn wait_for<F, Fut>(&self, what: &str, done: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = bool>,
    {
        self.wait_for_within(what, PATIENCE, done).await
    }

    /// Waits until `done` holds; fails after `limit`, with what the outbox and the fake Meta
    /// were doing.
    pub async fn wait_for_within<F, Fut>(&self, what: &str, limit: Duration, done: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = bool>,
    {
        let start = Instant::now();
        while !done().await {
            if start.elapsed() >= limit {
                panic!(
                    "timed out waiting for {what} ({:.0} s); {}",
                    limit.as_secs_f64(),
                    self.diagnosis().await
                );
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// Runs the outbox worker over everything due until `done` holds; fails after [`PATIENCE`].
    pub async fn drive<F, Fut>(&self, what: &str, done: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = bool>,
    {
        self.drive_within(what, PATIENCE, done).await
    }

    /// Like [`World::drive`], failing after `limit`.
    pub async fn drive_within<F, Fut>(&self, what: &str, limit: Duration, done: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = bool>,
    {
        let start = Instant::now();
        loop {
            axis_crm::sending::server::outbox::run_due(&self.app.state)
                .await
                .unwrap();
            if done().await {
                return;
            }
            if start.elapsed() >= limit {
                panic!(
                    "timed out waiting for {what} ({:.0} s); {}",
                    limit.as_secs_f64(),
                    self.diagnosis().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The outbox's sends (each, when there are few), its attempts and the fake Meta's counters:
    /// for failure messages.
    pub async fn diagnosis(&self) -> String {
        let reads = self.reads();
        let sends = reads.sends().await;
        let sends = if sends.len() <= 100 {
            format!("{sends:?}")
        } else {
            format!("{:?}", reads.send_states().await)
        };
        let stats = self.sandbox.as_ref().map(|s| s.stats());
        format!(
            "sends {sends}; attempts {:?}; sandbox {stats:?}",
            reads.attempt_outcomes().await
        )
    }

    // ---- webhooks -------------------------------------------------------------------------------

    /// The account's app secret's signature of `body`, as Meta sends it.
    pub fn sign(&self, body: &str) -> String {
        whatsapp_cloud::signature::sign(self.account().app_secret.as_bytes(), body.as_bytes())
    }

    /// Posts a webhook body to the app, signed with `secret` (or unsigned).
    pub async fn post_webhook(&self, body: &str, secret: Option<&str>) -> reqwest::StatusCode {
        let mut req = reqwest::Client::new()
            .post(self.webhook_url())
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(s) = secret {
            req = req.header(
                "x-hub-signature-256",
                whatsapp_cloud::signature::sign(s.as_bytes(), body.as_bytes()),
            );
        }
        req.send().await.unwrap().status()
    }

    /// A webhook body carrying `statuses` for the account's number, as Meta sends it.
    pub fn status_body(&self, statuses: &[serde_json::Value]) -> String {
        let a = self.account();
        serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": a.business_account_id,
            "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
                "metadata": {"display_phone_number": a.display_phone_number, "phone_number_id": a.phone_number_id},
                "statuses": statuses}}]}]})
        .to_string()
    }

    /// Silences the fake Meta's own webhooks, sends the invoice numbered `number`, waits until the
    /// fake Meta took it and puts every send back to "accepted", so the test alone speaks from
    /// here on. Returns the message id.
    pub async fn accepted_then_alone(&self, number: &str) -> String {
        // Webhooks off before the send, not after: a status already on its way when they were
        // turned off could land after the staging below and move the send on.
        self.sandbox().set_webhook(&self.account().app_id, None);
        self.send_invoice(number).await;
        let invoice = self.invoice_id(number).await;
        self.drive("accepted", || async {
            self.reads()
                .send_of(invoice)
                .await
                .is_some_and(|s| s.message_id.is_some())
        })
        .await;
        let wamid = self
            .reads()
            .send_of(invoice)
            .await
            .unwrap()
            .message_id
            .unwrap();
        self.stage().sends_back_to_accepted().await;
        wamid
    }

    /// The tenant of the invoice numbered `number` writes to the business (which opens their
    /// window); returns once the app has heard of it.
    pub async fn tenant_writes(&self, number: &str, text: &str) {
        let phone = self.reads().tenant_phone(number).await;
        self.sandbox()
            .simulate_inbound(&self.account().phone_number_id, &phone, text);
        self.wait_for("the inbound message", || async {
            self.reads().tenants_heard_from().await > 0
        })
        .await;
    }

    // ---- more servers on the same database ------------------------------------------------------

    /// This world's configuration with its app's database and data directory: what another
    /// instance of the server needs to share them.
    pub fn instance_env(&self) -> Vec<(String, String)> {
        let config = &self.app.state.config;
        let mut env = self.env.clone();
        env.retain(|(k, _)| k != "DATABASE_URL" && k != "AXIS_DATA_DIR");
        env.push(("DATABASE_URL".into(), config.database_url.clone()));
        env.push((
            "AXIS_DATA_DIR".into(),
            config.data_dir.display().to_string(),
        ));
        env
    }

    /// A second server instance (in this process, not served) on this world's database.
    pub async fn another_instance(&self) -> AppState {
        let env = self.instance_env();
        let config = platform::config::Config::from_lookup(
            |k| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()),
            super::HOST.parse().unwrap(),
        )
        .expect("test configuration");
        let options = leptos::config::LeptosOptions::builder()
            .output_name("axis-crm")
            .build();
        platform::prepare(config, options)
            .await
            .expect("database ready")
    }

    /// Closes the app and drops its database.
    pub async fn close(self) {
        self.app.close().await;
    }
}

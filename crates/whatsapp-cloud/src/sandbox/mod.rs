//! A WhatsApp Cloud API simulator. It answers the calls Axis CRM makes the way Meta does, fails
//! the way Meta fails (same error bodies and codes), enforces throughput and pair-rate limits,
//! tracks the 24-hour window, and posts status webhooks signed with the app secret (retried
//! with backoff like Meta's, optionally duplicated or out of order). It also runs the Resumable
//! Upload API, whose handles a template's media header example must use.
//!
//! It only accepts tokens it issued itself (they start with `SANDBOX`): a real Meta token sent
//! here is refused with error 190 and is never stored or logged.

mod handlers;
mod state;

pub use handlers::Customer;
pub use state::{Exchange, Fault, KnownTemplate, NewAccount, SandboxAccount, SentRecord};

use axum::Router;
use parking_lot::Mutex;
use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Messages per second per phone number before 130429 (Meta's default is 80).
    pub throughput_per_sec: u32,
    /// Messages to one recipient that may go at once before 131056 (Meta allows short bursts).
    pub pair_burst: u32,
    /// One more message to the same recipient is allowed after this long.
    pub pair_interval: Duration,
    /// Pause between the status webhooks of one message (sent, delivered, read).
    pub status_delay: Duration,
    /// How long a submitted template waits before the sandbox approves it.
    pub template_review: Duration,
    /// How long the answer to a template submission is held (its review runs meanwhile): with a
    /// review shorter than this, the status webhook arrives before the answer, as it can at Meta.
    pub template_answer_delay: Duration,
    /// Share of calls that fail at random: a 500, a plain-text 503, a 130429, a slow answer or
    /// a lost answer (a message accepted, its answer held), about equally often.
    pub fault_rate: f64,
    /// How long a "slow" fault holds the answer.
    pub slow_delay: Duration,
    /// Keep every request and answer for contract tests.
    pub record_exchanges: bool,
    /// How long a refused or failed webhook delivery keeps being retried (backoff from 250 ms,
    /// doubling, capped at 5 s), as Meta retries for days.
    pub webhook_retry_for: Duration,
    /// Deliver a message's status webhooks (sent, delivered, read) in random order.
    pub shuffle_statuses: bool,
    /// Deliver every status webhook twice, as Meta's at-least-once delivery sometimes does.
    pub duplicate_statuses: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            throughput_per_sec: 80,
            pair_burst: 45,
            pair_interval: Duration::from_secs(6),
            status_delay: Duration::from_millis(700),
            template_review: Duration::from_secs(5),
            template_answer_delay: Duration::ZERO,
            fault_rate: 0.0,
            slow_delay: Duration::from_secs(30),
            record_exchanges: false,
            webhook_retry_for: Duration::from_secs(600),
            shuffle_statuses: false,
            duplicate_statuses: false,
        }
    }
}

/// Counters for benchmarks, from [`Sandbox::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxStats {
    /// Messages accepted (`POST /messages` processed, including those whose answer was lost).
    pub accepted: u64,
    /// 130429 answers from the throughput limiter (injected faults not counted).
    pub throughput_refusals: u64,
    /// 131056 answers from the pair-rate limiter.
    pub pair_refusals: u64,
    /// Injected or random faults served.
    pub faults: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub accepted: AtomicU64,
    pub throughput_refusals: AtomicU64,
    pub pair_refusals: AtomicU64,
    pub faults: AtomicU64,
    pub webhook_deliveries: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The simulator. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct Sandbox {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Mutex<SandboxConfig>,
    pub(crate) state: Mutex<state::State>,
    pub(crate) http: reqwest::Client,
    pub(crate) counters: Counters,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client for webhooks");
        Sandbox {
            inner: Arc::new(Inner {
                config: Mutex::new(config),
                state: Mutex::new(state::State::default()),
                http,
                counters: Counters::default(),
            }),
        }
    }

    /// The Graph API, as an axum router (paths start with the version, like Meta's).
    pub fn router(&self) -> Router {
        handlers::router(self.clone())
    }

    /// Serves the sandbox on `addr` (use port 0 for any free port) and returns its base URL.
    pub async fn serve(
        &self,
        addr: SocketAddr,
    ) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let router = self.router();
        let handle = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "sandbox server stopped");
            }
        });
        Ok((format!("http://{local}"), handle))
    }

    /// Creates an app, a WhatsApp Business Account, a phone number and a token for them.
    pub fn create_account(&self, new: NewAccount) -> SandboxAccount {
        self.inner.state.lock().create_account(new)
    }

    /// Puts back an account created earlier (the sandbox keeps nothing across restarts; the app
    /// stores the credentials and restores them on use). Does nothing if it is already there.
    pub fn restore_account(
        &self,
        account: &SandboxAccount,
        verified_name: &str,
        webhook_url: Option<String>,
    ) {
        self.inner
            .state
            .lock()
            .restore_account(account, verified_name, webhook_url);
    }

    /// Gives the Business Account `template` as it is (no review, no webhook), replacing one
    /// of the same name and language; returns its id.
    pub fn put_template(&self, business_account_id: &str, template: &KnownTemplate) -> String {
        let stored = template.stored();
        let id = stored.id.clone();
        let mut st = self.inner.state.lock();
        let list = st
            .templates
            .entry(business_account_id.to_string())
            .or_default();
        list.retain(|t| !(t.name == stored.name && t.language == stored.language));
        list.push(stored);
        id
    }

    /// Puts back a customer's last message to a number, as it was before a restart (the window
    /// is open for 24 hours from `at`, Unix seconds). `customer` is their WhatsApp id (digits),
    /// or their user id when they share no number. A later message already known wins.
    pub fn restore_window(&self, phone_number_id: &str, customer: &str, at: i64) {
        let mut st = self.inner.state.lock();
        let last = st
            .last_inbound
            .entry((phone_number_id.to_string(), customer.to_string()))
            .or_insert(at);
        *last = (*last).max(at);
    }

    /// True when the sandbox knows this token.
    pub fn knows_token(&self, token: &str) -> bool {
        self.inner.state.lock().tokens.contains_key(token)
    }

    /// Where status and inbound-message webhooks for this account's app go.
    pub fn set_webhook(&self, app_id: &str, url: Option<String>) {
        if let Some(app) = self.inner.state.lock().apps.get_mut(app_id) {
            app.webhook_url = url;
        }
    }

    /// Issues another token for an existing account (as generating a new token in Meta does).
    pub fn issue_token(&self, account: &SandboxAccount, temporary: bool) -> String {
        self.inner.state.lock().issue_token(account, temporary)
    }

    /// Makes `token` expired: Meta answers 190 with subcode 463.
    pub fn expire_token(&self, token: &str) {
        if let Some(t) = self.inner.state.lock().tokens.get_mut(token) {
            t.expired = true;
        }
    }

    /// The next `times` calls (optionally only those for `phone_number_id`) fail with `fault`.
    pub fn inject(&self, fault: Fault, times: usize, phone_number_id: Option<&str>) {
        let mut st = self.inner.state.lock();
        for _ in 0..times {
            st.faults
                .push_back((phone_number_id.map(str::to_string), fault.clone()));
        }
    }

    /// The next `times` calls of `POST /{phone_number_id}/messages` (not uploads or reads) fail
    /// with `fault`.
    pub fn inject_messages(&self, fault: Fault, times: usize, phone_number_id: &str) {
        let mut st = self.inner.state.lock();
        for _ in 0..times {
            st.faults.push_back((
                Some(format!("{}{phone_number_id}", handlers::MESSAGES_SCOPE)),
                fault.clone(),
            ));
        }
    }

    pub fn update_config(&self, f: impl FnOnce(&mut SandboxConfig)) {
        f(&mut self.inner.config.lock());
    }

    /// The customer `from` writes to the business number: opens the 24-hour window and posts an
    /// inbound-message webhook.
    pub fn simulate_inbound(&self, phone_number_id: &str, from: &str, text: &str) {
        handlers::inbound(self.clone(), phone_number_id, &Customer::phone(from), text);
    }

    /// A customer writes, as `from` is: by phone, or by username only (no number anywhere in
    /// the webhook, as Meta sends for customers who hide their number).
    pub fn simulate_inbound_from(&self, phone_number_id: &str, from: &Customer, text: &str) {
        handlers::inbound(self.clone(), phone_number_id, from, text);
    }

    /// A customer's number or user id changes: Meta's `system` message
    /// (`user_changed_number` when `after` has a new number, else `user_changed_user_id`).
    pub fn simulate_identity_change(
        &self,
        phone_number_id: &str,
        before: &Customer,
        after: &Customer,
    ) {
        handlers::identity_change(self.clone(), phone_number_id, before, after);
    }

    /// The app is no longer subscribed to `waba_id`'s webhooks (as when it was never subscribed
    /// in the App Dashboard): no webhook comes until `POST /{waba-id}/subscribed_apps`.
    /// Puts the number `pnid` in the WhatsApp Business app too (coexistence), or takes it out:
    /// its phone node says `is_on_biz_app` and its throughput is fixed at
    /// [`crate::COEXISTENCE_PER_SECOND`].
    pub fn set_shared_with_app(&self, pnid: &str, shared: bool) {
        if let Some(n) = self.inner.state.lock().numbers.get_mut(pnid) {
            n.shared_with_app = shared;
        }
    }

    pub fn unsubscribe_app(&self, waba_id: &str) {
        self.inner
            .state
            .lock()
            .unsubscribed
            .insert(waba_id.to_string());
    }

    /// Meta changes a template of `waba_id`: a new status (`PAUSED`, `DISABLED`, `ARCHIVED`,
    /// `UNARCHIVED`, …) and/or a new category (`MARKETING`), each announced by its webhook.
    pub async fn simulate_template_change(
        &self,
        waba_id: &str,
        name: &str,
        language: &str,
        status: Option<&str>,
        category: Option<&str>,
    ) {
        handlers::template_change(self, waba_id, name, language, status, category).await
    }

    /// What Meta does on "Verify and save" in the app's webhook settings: a GET to the callback
    /// URL with the verify token, which must answer with the challenge. `Err` carries Meta's
    /// words.
    pub async fn verify_webhook(&self, app_id: &str, verify_token: &str) -> Result<(), String> {
        handlers::verify_webhook(self, app_id, verify_token).await
    }

    /// What Meta's "Test" button beside the `messages` webhook field does: posts Meta's fixed
    /// sample event (for test number 123456123), signed with the app secret, once.
    pub async fn send_test_event(&self, app_id: &str) -> Result<(), String> {
        handlers::send_test_event(self, app_id).await
    }

    /// Every message the sandbox accepted, in order.
    pub fn sent(&self) -> Vec<SentRecord> {
        self.inner.state.lock().sent.clone()
    }

    /// Every recorded request and answer (with `record_exchanges` on).
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.inner.state.lock().exchanges.clone()
    }

    /// Counters since the sandbox started.
    pub fn stats(&self) -> SandboxStats {
        let c = &self.inner.counters;
        SandboxStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            throughput_refusals: c.throughput_refusals.load(Ordering::Relaxed),
            pair_refusals: c.pair_refusals.load(Ordering::Relaxed),
            faults: c.faults.load(Ordering::Relaxed),
        }
    }

    /// Webhook POSTs the receiver answered with a 2xx (retries of one delivery count once).
    pub fn webhook_deliveries(&self) -> u64 {
        self.inner
            .counters
            .webhook_deliveries
            .load(Ordering::Relaxed)
    }
}

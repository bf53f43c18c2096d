//! A bulk send through a Meta that misbehaves: a fifth of all Graph calls fail at random (500s,
//! plain-text 503s, 130429, answers slower than the client's time-out, and answers lost after the
//! message was taken). Every invoice must still reach the tenant exactly once: retried where Meta
//! refused, reconciled by webhook where the answer was lost, never sent twice. Runs on SQLite and
//! on PostgreSQL.
//!
//! The `known_bugs` tests at the end are ignored: they reproduce outbox bugs that are not fixed
//! yet (`cargo test --features ssr --test faults -- --ignored`).

mod common;

use common::{fake_meta_with, Backend, Client, TestApp};
use std::time::{Duration, Instant};
use whatsapp_cloud::sandbox::{NewAccount, Sandbox, SandboxConfig};

const INVOICES: usize = 60;

/// A user connected to a fake Meta, its webhooks pointed at the app, the invoice template approved.
struct Rig {
    app: TestApp,
    sandbox: Sandbox,
    pool: sqlx::AnyPool,
    cookie: String,
}

impl Rig {
    async fn new(
        backend: Backend,
        adjust: impl FnOnce(&mut SandboxConfig),
        env: &[(&str, &str)],
    ) -> Rig {
        let (sandbox, graph) = fake_meta_with(|c| {
            c.status_delay = Duration::from_millis(30);
            c.template_review = Duration::from_millis(50);
            c.record_exchanges = false;
            adjust(c);
        })
        .await;
        let mut env = env.to_vec();
        env.push(("AXIS_SANDBOX", "off"));
        env.push(("WHATSAPP_GRAPH_URL", &graph));
        let app = TestApp::with_env(backend, &env).await;
        let site = app.serve().await;
        let pool = app.state.db.pool.clone();
        let account = sandbox.create_account(NewAccount {
            verified_name: "Harbour Lettings".into(),
            ..Default::default()
        });
        let mut b = app.browser();
        let r = b
            .signup(
                "Lee",
                "Harbour Lettings",
                "lee@example.com",
                "correct horse battery",
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
        let r = b
            .call(
                "whatsapp/connect",
                &[
                    ("phone_number_id", account.phone_number_id.as_str()),
                    ("access_token", account.access_token.as_str()),
                    ("business_account_id", account.business_account_id.as_str()),
                    ("phone_number", ""),
                    ("app_id", account.app_id.as_str()),
                    ("app_secret", account.app_secret.as_str()),
                ],
                Client::Wasm,
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
        let cookie = b.cookie.clone().unwrap();
        let key: String = sqlx::query_scalar("SELECT webhook_key FROM whatsapp_connections")
            .fetch_one(&pool)
            .await
            .unwrap();
        sandbox.set_webhook(
            &account.app_id,
            Some(format!("{site}/webhooks/whatsapp/{key}")),
        );
        let rig = Rig {
            app,
            sandbox,
            pool,
            cookie,
        };
        let r = rig.call("whatsapp/templates/create", &[]).await;
        assert!(r.status.is_success(), "{}", r.body);
        rig.wait_for("the template's approval", common::PATIENCE, || async {
            rig.scalar("SELECT COUNT(*) FROM whatsapp_templates WHERE status = 'APPROVED' AND name = 'axis_invoice_pdf'")
                .await
                == 1
        })
        .await;
        rig
    }

    async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> common::Resp {
        let mut b = self.app.browser();
        b.cookie = Some(self.cookie.clone());
        b.call(endpoint, form, Client::Wasm).await
    }

    async fn scalar(&self, sql: &str) -> i64 {
        self.app.count(sql).await
    }

    async fn wait_for<F, Fut>(&self, what: &str, limit: Duration, done: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while !done().await {
            if start.elapsed() >= limit {
                let rows: Vec<(i64, String, i64, i64, Option<String>, Option<String>)> = sqlx::query_as(
                    "SELECT id, state, attempts, in_flight, wamid, error_title FROM whatsapp_sends ORDER BY id",
                )
                .fetch_all(&self.pool)
                .await
                .unwrap();
                panic!(
                    "timed out waiting for {what}; sends {rows:?}; attempts {:?}; sandbox {:?}",
                    common::attempt_outcomes(&self.pool).await,
                    self.sandbox.stats()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Seeds `count` issued invoices to distinct tenants and queues them all with one bulk call.
    async fn queue_invoices(&self, count: usize, phone_prefix: &str) -> Vec<i64> {
        let user_id = self.scalar("SELECT id FROM users").await;
        let invoices =
            common::seed_issued_invoices(&self.pool, user_id, count, phone_prefix, "F-").await;
        let ids: Vec<String> = invoices.iter().map(i64::to_string).collect();
        let mut form: Vec<(&str, &str)> = vec![("which", "selected")];
        form.extend(ids.iter().map(|id| ("ids[]", id.as_str())));
        let r = self.call("whatsapp/bulk", &form).await;
        assert!(r.status.is_success(), "{}", r.body);
        assert_eq!(r.json()["queued"], count as i64, "{}", r.body);
        invoices
    }

    /// Invoices the sandbox did not accept exactly once, with how often it did.
    async fn not_exactly_once(&self, invoices: &[i64]) -> Vec<(i64, usize)> {
        let per_invoice = common::accepted_per_invoice(&self.pool, &self.sandbox.sent()).await;
        invoices
            .iter()
            .map(|id| (*id, per_invoice.get(id).copied().unwrap_or(0)))
            .filter(|(_, n)| *n != 1)
            .collect()
    }
}

async fn every_invoice_is_sent_exactly_once_through_a_faulty_meta(backend: Backend) {
    let started = Instant::now();
    let rig = Rig::new(
        backend,
        |c| c.slow_delay = Duration::from_secs(2),
        &[
            ("WHATSAPP_HTTP_TIMEOUT_SECS", "1"),
            ("AXIS_OUTBOX_RECONCILE_SECS", "2"),
            ("AXIS_OUTBOX_RETRY_BASE_MS", "20"),
            ("AXIS_OUTBOX_MAX_ATTEMPTS", "30"),
            ("WHATSAPP_PAIR_INTERVAL_SECS", "0"),
        ],
    )
    .await;
    // From now on one Graph call in five fails.
    rig.sandbox.update_config(|c| c.fault_rate = 0.2);
    let queueing = Instant::now();
    let invoices = rig.queue_invoices(INVOICES, "+4479115").await;
    let queued_in = queueing.elapsed();

    let sending = Instant::now();
    let worker = axis_crm::server::outbox::spawn_worker(rig.app.state.clone());
    let limit = Duration::from_secs(120);
    loop {
        let done = rig
            .scalar(
                "SELECT COUNT(*) FROM whatsapp_sends WHERE state_rank >= 2 AND state <> 'failed'",
            )
            .await;
        let failed = rig
            .scalar("SELECT COUNT(*) FROM whatsapp_sends WHERE state = 'failed'")
            .await;
        if failed > 0 || sending.elapsed() > limit {
            let unfinished: Vec<(i64, String, Option<String>, i64)> = sqlx::query_as(
                "SELECT id, state, error_title, attempts FROM whatsapp_sends WHERE state = 'failed' OR state_rank < 2",
            )
            .fetch_all(&rig.pool)
            .await
            .unwrap();
            panic!(
                "{failed} failed, {done} of {INVOICES} on their way after {:.1} s; states {:?}; attempts {:?}; unfinished {unfinished:?}; sandbox {:?}",
                sending.elapsed().as_secs_f64(),
                common::send_states(&rig.pool).await,
                common::attempt_outcomes(&rig.pool).await,
                rig.sandbox.stats()
            );
        }
        if done == INVOICES as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all_accepted = sending.elapsed();
    // Every message's status webhooks come through, those of the lost answers too.
    rig.wait_for(
        "every send to be read",
        Duration::from_secs(120),
        || async {
            rig.scalar("SELECT COUNT(*) FROM whatsapp_sends WHERE state = 'read'")
                .await
                == INVOICES as i64
        },
    )
    .await;
    worker.abort();

    // Exactly once: each invoice's message was taken by Meta once, whatever failed on the way.
    let wrong = rig.not_exactly_once(&invoices).await;
    assert!(
        wrong.is_empty(),
        "not accepted exactly once (invoice, times): {wrong:?}"
    );
    let sent = rig.sandbox.sent();
    assert_eq!(sent.len(), INVOICES);
    assert!(sent.iter().all(|s| s.kind == "template"));
    let stats = rig.sandbox.stats();
    assert!(stats.faults > 0, "the sandbox served no fault: {stats:?}");
    assert_eq!(
        rig.scalar("SELECT COUNT(*) FROM whatsapp_sends").await,
        INVOICES as i64
    );
    println!(
        "{backend:?}: queued {INVOICES} in {:.0} ms; all accepted in {:.1} s, all read in {:.1} s \
         (test {:.1} s); sandbox {stats:?}; attempts by outcome {:?}",
        queued_in.as_secs_f64() * 1000.0,
        all_accepted.as_secs_f64(),
        sending.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64(),
        common::attempt_outcomes(&rig.pool).await
    );
    rig.app.close().await;
}

per_backend!(every_invoice_is_sent_exactly_once_through_a_faulty_meta);

// ---- known bugs (ignored until fixed) -----------------------------------------------------------

/// A claimed send waits in this instance's pacer for its slot. When that wait outlives the lease,
/// `claim` hands the send back to the queue and this same instance claims it again; the first
/// task still passes the `state = 'sending' AND locked_by = <instance>` check before calling Meta
/// (the attempt number is not checked), so both tasks send: the tenant gets the invoice twice.
async fn a_lease_that_expires_in_the_pacer_does_not_send_twice(backend: Backend) {
    let rig = Rig::new(
        backend,
        |_| {},
        &[
            // Six sends at one a second: the last waits about 5 s for its slot, over the 2 s lease.
            // (A 1 s lease also expired during slow /messages calls on a loaded machine, which is
            // another path than the one this test is about.)
            ("AXIS_OUTBOX_LEASE_SECS", "2"),
            ("WHATSAPP_THROUGHPUT", "1"),
            ("AXIS_OUTBOX_CONCURRENCY", "8"),
            ("WHATSAPP_PAIR_INTERVAL_SECS", "0"),
        ],
    )
    .await;
    let invoices = rig.queue_invoices(6, "+4479118").await;
    let worker = axis_crm::server::outbox::spawn_worker(rig.app.state.clone());
    rig.wait_for(
        "every send to be read",
        Duration::from_secs(180),
        || async {
            rig.scalar("SELECT COUNT(*) FROM whatsapp_sends WHERE state = 'read'")
                .await
                == 6
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    worker.abort();
    let wrong = rig.not_exactly_once(&invoices).await;
    let callbacks: Vec<String> = rig
        .sandbox
        .sent()
        .into_iter()
        .filter_map(|s| s.callback)
        .collect();
    rig.app.close().await;
    assert!(
        wrong.is_empty(),
        "sent more than once (invoice, times): {wrong:?}; callback tags {callbacks:?}"
    );
}

/// PostgreSQL only. `claim`'s `UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`
/// may be planned as a nested-loop semi join that re-runs the subquery for every outer row (the
/// usual plan while the table's statistics say it is small, e.g. right after a bulk send): it
/// then claims every due send, not `n`. The worker asks for as many as it has free permits.
async fn the_worker_claims_no_more_than_it_can_work_on(backend: Backend) {
    let rig = Rig::new(
        backend,
        |_| {},
        &[
            ("AXIS_OUTBOX_CONCURRENCY", "2"),
            ("WHATSAPP_THROUGHPUT", "5"),
            ("WHATSAPP_PAIR_INTERVAL_SECS", "0"),
        ],
    )
    .await;
    rig.queue_invoices(60, "+4479119").await;
    let worker = axis_crm::server::outbox::spawn_worker(rig.app.state.clone());
    let mut most = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        most = most.max(
            rig.scalar("SELECT COUNT(*) FROM whatsapp_sends WHERE state = 'sending'")
                .await,
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.abort();
    rig.app.close().await;
    assert!(
        most <= 2,
        "{most} sends were claimed at once by a worker with 2 permits"
    );
}

mod regressions {
    use super::common::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lease_expiry_in_the_pacer_sqlite() {
        super::a_lease_that_expires_in_the_pacer_does_not_send_twice(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lease_expiry_in_the_pacer_postgres() {
        super::a_lease_that_expires_in_the_pacer_does_not_send_twice(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn claim_respects_its_limit_postgres() {
        super::the_worker_claims_no_more_than_it_can_work_on(Backend::Postgres).await;
    }
}

//! A bulk send through a Meta that misbehaves: a fifth of all Graph calls fail at random (500s,
//! plain-text 503s, 130429, answers slower than the client's time-out, and answers lost after the
//! message was taken). Every invoice must still reach the tenant exactly once: retried where Meta
//! refused, reconciled by webhook where the answer was lost, never sent twice. Runs on SQLite and
//! on PostgreSQL.
//!
//! The `known_bugs` tests at the end are ignored: they reproduce outbox bugs that are not fixed
//! yet (`cargo test --features ssr --test it faults:: -- --ignored`).

use crate::common;

use common::{world::World, Backend};
use std::time::{Duration, Instant};
use whatsapp_cloud::sandbox::SandboxConfig;

const INVOICES: usize = 60;

/// A user connected to a fake Meta, its webhooks pointed at the app, the invoice template approved.
async fn rig(
    backend: Backend,
    adjust: impl FnOnce(&mut SandboxConfig) + 'static,
    env: &[(&str, &str)],
) -> World {
    World::builder(backend)
        .sandbox_config(|c| {
            c.status_delay = Duration::from_millis(30);
            c.template_review = Duration::from_millis(50);
            c.record_exchanges = false;
        })
        .sandbox_config(adjust)
        .env(env)
        .env(&[("AXIS_SANDBOX", "off")])
        .with_template()
        .build()
        .await
}

async fn every_invoice_is_sent_exactly_once_through_a_faulty_meta(backend: Backend) {
    let started = Instant::now();
    let rig = rig(
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
    rig.sandbox().update_config(|c| c.fault_rate = 0.2);
    let queueing = Instant::now();
    let invoices = rig.queue_invoices(INVOICES, "+4479115", "F-").await;
    let queued_in = queueing.elapsed();

    let sending = Instant::now();
    let worker = axis_crm::sending::server::outbox::spawn_worker(rig.app.state.clone());
    let limit = Duration::from_secs(120);
    loop {
        let done = rig.reads().sends_on_their_way().await;
        let failed = rig.reads().sends_in_state("failed").await;
        if failed > 0 || sending.elapsed() > limit {
            let unfinished = rig.reads().unfinished_sends().await;
            panic!(
                "{failed} failed, {done} of {INVOICES} on their way after {:.1} s; states {:?}; attempts {:?}; unfinished {unfinished:?}; sandbox {:?}",
                sending.elapsed().as_secs_f64(),
                rig.reads().send_states().await,
                rig.reads().attempt_outcomes().await,
                rig.sandbox().stats()
            );
        }
        if done == INVOICES as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all_accepted = sending.elapsed();
    // Every message's status webhooks come through, those of the lost answers too.
    rig.wait_for_within(
        "every send to be read",
        Duration::from_secs(120),
        || async { rig.reads().sends_in_state("read").await == INVOICES as i64 },
    )
    .await;
    worker.abort();

    // Exactly once: each invoice's message was taken by Meta once, whatever failed on the way.
    let wrong = rig.not_exactly_once(&invoices).await;
    assert!(
        wrong.is_empty(),
        "not accepted exactly once (invoice, times): {wrong:?}"
    );
    let sent = rig.sandbox().sent();
    assert_eq!(sent.len(), INVOICES);
    assert!(sent.iter().all(|s| s.kind == "template"));
    let stats = rig.sandbox().stats();
    assert!(stats.faults > 0, "the sandbox served no fault: {stats:?}");
    assert_eq!(rig.reads().send_count().await, INVOICES as i64);
    println!(
        "{backend:?}: queued {INVOICES} in {:.0} ms; all accepted in {:.1} s, all read in {:.1} s \
         (test {:.1} s); sandbox {stats:?}; attempts by outcome {:?}",
        queued_in.as_secs_f64() * 1000.0,
        all_accepted.as_secs_f64(),
        sending.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64(),
        rig.reads().attempt_outcomes().await
    );
    rig.close().await;
}

per_backend!(every_invoice_is_sent_exactly_once_through_a_faulty_meta);

// ---- known bugs (ignored until fixed) -----------------------------------------------------------

/// A claimed send waits in this instance's pacer for its slot. When that wait outlives the lease,
/// `claim` hands the send back to the queue and this same instance claims it again; the first
/// task still passes the `state = 'sending' AND locked_by = <instance>` check before calling Meta
/// (the attempt number is not checked), so both tasks send: the tenant gets the invoice twice.
async fn a_lease_that_expires_in_the_pacer_does_not_send_twice(backend: Backend) {
    let rig = rig(
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
    let invoices = rig.queue_invoices(6, "+4479118", "F-").await;
    let worker = axis_crm::sending::server::outbox::spawn_worker(rig.app.state.clone());
    rig.wait_for_within(
        "every send to be read",
        Duration::from_secs(180),
        || async { rig.reads().sends_in_state("read").await == 6 },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    worker.abort();
    let wrong = rig.not_exactly_once(&invoices).await;
    let callbacks: Vec<String> = rig
        .sandbox()
        .sent()
        .into_iter()
        .filter_map(|s| s.callback)
        .collect();
    rig.close().await;
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
    let rig = rig(
        backend,
        |_| {},
        &[
            ("AXIS_OUTBOX_CONCURRENCY", "2"),
            ("WHATSAPP_THROUGHPUT", "5"),
            ("WHATSAPP_PAIR_INTERVAL_SECS", "0"),
        ],
    )
    .await;
    rig.queue_invoices(60, "+4479119", "F-").await;
    let worker = axis_crm::sending::server::outbox::spawn_worker(rig.app.state.clone());
    let mut most = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        most = most.max(rig.reads().sends_in_state("sending").await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.abort();
    rig.close().await;
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

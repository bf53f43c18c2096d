//! The outbox survives a crash: the real `axis-crm` binary sends 300 invoices, is killed with
//! SIGKILL a third of the way through, and is started again on the same database. Every invoice
//! must reach the tenant exactly once: sends that were claimed but not sent go again, sends whose
//! answer died with the process are settled by Meta's (retried) status webhooks instead of being
//! sent twice. Runs on SQLite and on PostgreSQL.

use crate::common;

use common::{world::World, Backend};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use whatsapp_cloud::sandbox::Fault;

const INVOICES: usize = 300;
/// Kill the server once the sandbox has accepted this many messages (or, should the bulk call
/// itself take longer, this many more than were accepted while it ran).
const KILL_AFTER: u64 = 100;
const KILL_AFTER_MORE: u64 = 20;
/// Messages Meta takes right before the kill without the server hearing back.
const ANSWERS_LOST: usize = 3;

/// One crash test at a time: two debug servers sending at once on two cores slow each other's
/// bulk call down until the kill would come too late to matter.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The server as a child process; killed (SIGKILL) when dropped, so a failing test leaves
/// nothing running.
struct Server {
    child: Option<Child>,
    log: PathBuf,
}

impl Server {
    fn start(env: &[(String, String)], log: &Path) -> Server {
        let out = std::fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_axis-crm"))
            .arg("serve")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("the axis-crm binary starts");
        Server {
            child: Some(child),
            log: log.to_path_buf(),
        }
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL the server");
            let status = c.wait().unwrap();
            assert!(!status.success(), "the server was killed: {status:?}");
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Calls one of the server's functions over HTTP the way the WASM app does, with `cookie`.
async fn call_over_http(
    site: &str,
    cookie: &str,
    endpoint: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let res = reqwest::Client::new()
        .post(format!("{site}/api/{endpoint}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .header("origin", site)
        .header(
            "cookie",
            format!("{}={cookie}", axis_crm::platform::SESSION_COOKIE),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

async fn wait_healthy(site: &str, server: &Server) {
    let start = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(format!("{site}/healthz")).await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            start.elapsed() < common::PATIENCE,
            "the server did not come up:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn the_outbox_survives_sigkill(backend: Backend) {
    let _one = ONE_AT_A_TIME.lock().await;
    let started = Instant::now();
    // Messages a second (server and sandbox alike): slow enough that the kill lands a third of the
    // way through. PostgreSQL gets less because the debug build's 300 round-trip-heavy inserts of
    // the bulk call compete for two cores with the sending itself.
    let throughput: u32 = match backend {
        Backend::Sqlite => 40,
        Backend::Postgres => 20,
    };
    // How long a claimed send stays with a vanished server. SQLite: 2 s, so the restart takes
    // over quickly. PostgreSQL: 20 s, because one claim there may take every due send (the first
    // known bug in tests/faults.rs); handing those out 8 at a time at 20/s outlives a 2 s lease,
    // and a lease that runs out under a live task sends twice (the other known bug there).
    let lease = match backend {
        Backend::Sqlite => "2",
        Backend::Postgres => "20",
    };
    let master_key = axis_crm::platform::config::MasterKey::generate().to_base64();
    // Sign up, connect to the fake Meta, get the template (through this process's own copy of
    // the app, on the database the server will use), then start the server on that database.
    let w = World::builder(backend)
        .sandbox_config(|c| {
            c.status_delay = Duration::from_millis(50);
            c.template_review = Duration::from_millis(50);
            c.slow_delay = Duration::from_secs(3);
            c.record_exchanges = false;
        })
        .env(&[
            ("AXIS_MASTER_KEY", &master_key),
            ("AXIS_SANDBOX", "off"),
            ("WHATSAPP_THROUGHPUT", &throughput.to_string()),
            // A send waiting for its pacing slot must not outlive its lease (the second known bug
            // in tests/faults.rs): 8 at a time wait at most 8 slots, 0.2–0.4 s.
            ("AXIS_OUTBOX_CONCURRENCY", "8"),
            ("WHATSAPP_PAIR_INTERVAL_SECS", "0"),
            ("AXIS_OUTBOX_LEASE_SECS", lease),
            ("AXIS_OUTBOX_RECONCILE_SECS", "2"),
            ("AXIS_OUTBOX_RETRY_BASE_MS", "50"),
        ])
        .with_template()
        .build()
        .await;
    let sandbox = w.sandbox();
    let reads = w.reads();
    let addr = format!("127.0.0.1:{}", free_port());
    let site = format!("http://{addr}");
    let logs = w.state().config.data_dir.clone();
    let mut env = w.instance_env();
    env.extend(
        [
            ("LEPTOS_SITE_ADDR", addr.as_str()),
            ("LEPTOS_OUTPUT_NAME", "axis-crm"),
            ("RUST_LOG", "warn"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );

    let mut server = Server::start(&env, &logs.join("server-1.log"));
    wait_healthy(&site, &server).await;
    // Meta's webhooks go to the server from now on.
    w.point_webhooks_at(&site).await;
    // Slow enough that the run takes several seconds (the server paces itself the same).
    sandbox.update_config(|c| c.throughput_per_sec = throughput);

    let invoices = w.seed_invoices(INVOICES, "+4479117", "C-").await;
    let ids: Vec<String> = invoices.iter().map(i64::to_string).collect();
    // 300 tenants who never wrote are past the sandbox's 250 tier: confirmed, as "Send anyway".
    let mut form: Vec<(&str, &str)> = vec![("which", "selected"), ("confirm", "1")];
    form.extend(ids.iter().map(|id| ("ids[]", id.as_str())));
    let bulk = Instant::now();
    let (status, body) = call_over_http(&site, w.cookie(), "whatsapp/bulk", &form).await;
    assert_eq!(status, 200, "{body}");
    let queued_in = bulk.elapsed();
    let accepted_while_queueing = sandbox.stats().accepted;
    let queued: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(queued["queued"], INVOICES as i64, "{body}");

    // A third of the way through: SIGKILL. Just before, Meta takes the next few messages but
    // holds their answers (3 s), so the kill surely finds sends whose message is out and whose
    // answer never comes: only the status webhooks (refused while the server is down, retried)
    // can settle those.
    let sending = Instant::now();
    let kill_at = KILL_AFTER.max(accepted_while_queueing + KILL_AFTER_MORE);
    let wait = |what: &'static str| {
        assert!(
            sending.elapsed() < common::PATIENCE,
            "{what}: {} accepted:\n{}",
            sandbox.stats().accepted,
            server.log_tail()
        )
    };
    while sandbox.stats().accepted < kill_at {
        wait("too few messages before the kill");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sandbox.inject_messages(
        Fault::LostResponse,
        ANSWERS_LOST,
        &w.account().phone_number_id,
    );
    while sandbox.stats().faults < ANSWERS_LOST as u64 {
        wait("the lost answers were not served");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill();
    let at_kill = sandbox.stats().accepted;
    let states_at_kill = reads.send_states().await;
    assert!(
        (at_kill as usize) < INVOICES,
        "everything was sent before the kill"
    );

    // Up again on the same database and master key.
    let restarted = Instant::now();
    let mut server = Server::start(&env, &logs.join("server-2.log"));
    wait_healthy(&site, &server).await;
    let startup = restarted.elapsed();
    loop {
        let done = reads.sends_on_their_way().await;
        let failed = reads.sends_in_state("failed").await;
        if failed > 0 || restarted.elapsed() > Duration::from_secs(120) {
            panic!(
                "{failed} failed, {done} of {INVOICES} on their way; states {:?}; attempts {:?}; sandbox {:?}\n{}",
                reads.send_states().await,
                reads.attempt_outcomes().await,
                sandbox.stats(),
                server.log_tail()
            );
        }
        if done == INVOICES as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all_accepted = sending.elapsed();
    // Every status webhook gets through too (those refused while the server was down are retried).
    w.wait_for("every send to be read", || async {
        reads.sends_in_state("read").await == INVOICES as i64
    })
    .await;

    // Exactly once per invoice, across the crash.
    let sent = sandbox.sent();
    let twice = w.not_exactly_once(&invoices).await;
    assert!(
        twice.is_empty(),
        "invoices not accepted exactly once (invoice, times): {twice:?}; attempts {:?}",
        reads.attempt_outcomes().await
    );
    assert_eq!(sent.len(), INVOICES);
    assert_eq!(
        reads.sends_in_states(&["sent", "delivered", "read"]).await,
        INVOICES as i64
    );
    assert_eq!(reads.send_count().await, INVOICES as i64);
    // Sends whose answer died with the first server: Meta's status webhooks settled them.
    let settled_by_webhook = reads.sends_without_accepted_attempt().await;
    assert!(
        settled_by_webhook >= ANSWERS_LOST as i64,
        "only {settled_by_webhook} sends were settled by webhook"
    );
    let stats = sandbox.stats();
    println!(
        "{backend:?}: bulk call {:.1} s ({accepted_while_queueing} accepted meanwhile); killed after {at_kill} accepted (states then {states_at_kill:?}); restarted in {:.1} s; \
         {settled_by_webhook} settled by webhook alone; all {INVOICES} accepted {:.1} s after the bulk send; test {:.1} s; sandbox {stats:?}; attempts {:?}",
        queued_in.as_secs_f64(),
        startup.as_secs_f64(),
        all_accepted.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        reads.attempt_outcomes().await
    );
    server.kill();
    w.close().await;
}

per_backend!(the_outbox_survives_sigkill);

//! WhatsApp figures (a benchmark: figures only, no assertions).
//!
//!     cargo run --release --features ssr --example whatsapp_bench
//!
//! a. Webhook ingestion on SQLite: the real router on a loopback port, 20,000 accepted sends with
//!    distinct wamids, and 60,000 signed status webhooks (sent, delivered and read for each, one
//!    status a POST) from concurrent clients (`BENCH_CLIENTS`, default 32). Reports events a
//!    second and latency percentiles; the target to compare with is 3,000 events/s.
//! b. A bulk send of 1,000 invoices (template path: no tenant has written) through the outbox
//!    worker to an in-process Cloud API sandbox at its default 80 messages/s. Reports the rate
//!    the sandbox accepted them at and the throughput and pair-rate refusals it answered.
use axis_crm::server::{self, config::Config, outbox, AppState};
use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use whatsapp_cloud::sandbox::{NewAccount, Sandbox, SandboxAccount, SandboxConfig};

const SENDS: usize = 20_000;
const STATUSES: [&str; 3] = ["sent", "delivered", "read"];
const INGEST_LIMIT: Duration = Duration::from_secs(90);
const BULK: usize = 1_000;

/// The app served on a loopback port, a sandbox standing in for Meta, and a connected user
/// whose invoice template is approved.
struct Rig {
    state: AppState,
    site: String,
    sandbox: Sandbox,
    account: SandboxAccount,
    user_id: i64,
    webhook_key: String,
    _dir: tempfile::TempDir,
}

async fn rig(adjust: impl FnOnce(&mut SandboxConfig)) -> anyhow::Result<Rig> {
    let dir = tempfile::tempdir()?;
    let mut config = SandboxConfig {
        template_review: Duration::from_millis(50),
        ..Default::default()
    };
    adjust(&mut config);
    let sandbox = Sandbox::new(config);
    let (graph, _) = sandbox.serve("127.0.0.1:0".parse()?).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let env = [
        ("AXIS_DATA_DIR", dir.path().display().to_string()),
        ("AXIS_SANDBOX", "off".to_string()),
        ("WHATSAPP_GRAPH_URL", graph),
    ];
    let config = Config::from_lookup(
        |k| {
            env.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.clone())
        },
        addr,
    )?;
    let options = leptos::config::LeptosOptions::builder()
        .output_name("axis-crm")
        .site_addr(addr)
        .build();
    let state = server::prepare(config, options).await?;
    let router = server::router(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    let site = format!("http://{addr}");

    let account = sandbox.create_account(NewAccount {
        verified_name: "Harbour Lettings".into(),
        ..Default::default()
    });
    let http = reqwest::Client::new();
    let mut cookie = None;
    call(
        &http,
        &site,
        &mut cookie,
        "signup",
        &[
            ("name", "Lee"),
            ("business_name", "Harbour Lettings"),
            ("email", "lee@example.com"),
            ("password", "correct horse battery"),
        ],
    )
    .await?;
    call(
        &http,
        &site,
        &mut cookie,
        "whatsapp/connect",
        &[
            ("phone_number_id", account.phone_number_id.as_str()),
            ("access_token", account.access_token.as_str()),
            ("business_account_id", account.business_account_id.as_str()),
            ("phone_number", ""),
            ("app_id", account.app_id.as_str()),
            ("app_secret", account.app_secret.as_str()),
        ],
    )
    .await?;
    let pool = &state.db.pool;
    let webhook_key: String = sqlx::query_scalar("SELECT webhook_key FROM whatsapp_connections")
        .fetch_one(pool)
        .await?;
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users")
        .fetch_one(pool)
        .await?;
    sandbox.set_webhook(
        &account.app_id,
        Some(format!("{site}/webhooks/whatsapp/{webhook_key}")),
    );
    call(&http, &site, &mut cookie, "whatsapp/templates/create", &[]).await?;
    let start = Instant::now();
    loop {
        let approved: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM whatsapp_templates WHERE status = 'APPROVED'")
                .fetch_one(pool)
                .await?;
        if approved > 0 {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(20),
            "the template was not approved"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Rig {
        state,
        site,
        sandbox,
        account,
        user_id,
        webhook_key,
        _dir: dir,
    })
}

/// A server function called the way the WASM app calls it; keeps the session cookie.
async fn call(
    http: &reqwest::Client,
    site: &str,
    cookie: &mut Option<String>,
    endpoint: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<String> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = http
        .post(format!("{site}/api/{endpoint}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .header("origin", site)
        .body(body);
    if let Some(c) = cookie.as_deref() {
        req = req.header("cookie", format!("{}={c}", server::SESSION_COOKIE));
    }
    let res = req.send().await?;
    for v in res.headers().get_all("set-cookie") {
        if let Some(rest) = v
            .to_str()?
            .strip_prefix(&format!("{}=", server::SESSION_COOKIE))
        {
            *cookie = Some(rest.split(';').next().unwrap_or_default().to_string());
        }
    }
    let status = res.status();
    let text = res.text().await?;
    anyhow::ensure!(status.is_success(), "{endpoint}: {status} {text}");
    Ok(text)
}

/// `count` issued invoices, each to its own tenant with a distinct mobile number.
async fn seed_invoices(
    state: &AppState,
    user_id: i64,
    count: usize,
    phone_prefix: &str,
) -> anyhow::Result<Vec<(i64, i64)>> {
    let now = server::db::now();
    let mut tx = state.db.pool.begin().await?;
    let mut out = Vec::with_capacity(count);
    for i in 1..=count {
        let tenant: i64 = sqlx::query_scalar(
            "INSERT INTO tenants (user_id, name, phone_raw, phone_e164, phone_is_mobile, created_at, name_fold) \
             VALUES ($1, $2, $3, $3, 1, $4, lower($2)) RETURNING id",
        )
        .bind(user_id)
        .bind(format!("Tenant {i:05}"))
        .bind(format!("{phone_prefix}{i:05}"))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let total = 100_000 + (i as i64 * 7919) % 50_000;
        let invoice: i64 = sqlx::query_scalar(
            "INSERT INTO invoices (user_id, number, tenant_id, issue_date, due_date, currency, status, \
             subtotal_minor, tax_minor, total_minor, created_at, updated_at, number_fold) \
             VALUES ($1, $2, $3, '2026-11-01', '2026-12-01', 'GBP', 'issued', $4, 0, $4, $5, $5, lower($2)) RETURNING id",
        )
        .bind(user_id)
        .bind(format!("B-{i:05}"))
        .bind(tenant)
        .bind(total)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price, tax_rate, \
             net_minor, tax_minor) VALUES ($1, 1, 'Rent for December', '1', $2, '0', $3, 0)",
        )
        .bind(invoice)
        .bind(format!("{}.{:02}", total / 100, total % 100))
        .bind(total)
        .execute(&mut *tx)
        .await?;
        out.push((invoice, tenant));
    }
    tx.commit().await?;
    Ok(out)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

// ---- a. webhook ingestion -----------------------------------------------------------------------

async fn webhook_ingestion() -> anyhow::Result<()> {
    let clients: usize = std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let r = rig(|_| {}).await?;
    // 20,000 sends already accepted by Meta, over 1,000 tenants (20 invoices each).
    let t0 = Instant::now();
    let invoices = seed_invoices(&r.state, r.user_id, 1_000, "+4479120").await?;
    let now = server::db::now();
    let mut tx = r.state.db.pool.begin().await?;
    let mut wamids = Vec::with_capacity(SENDS);
    for i in 0..SENDS {
        let (invoice, tenant) = invoices[i % invoices.len()];
        let wamid = format!("wamid.BENCH{i:06}");
        sqlx::query(
            "INSERT INTO whatsapp_sends (user_id, invoice_id, tenant_id, recipient, state, state_rank, kind, \
             attempts, next_attempt_at, wamid, phone_number_id, created_at, updated_at, accepted_at) \
             VALUES ($1, $2, $3, $4, 'accepted', 2, 'template', 1, $5, $6, $7, $5, $5, $5)",
        )
        .bind(r.user_id)
        .bind(invoice)
        .bind(tenant)
        .bind(format!("+4479120{:05}", 1 + i % invoices.len()))
        .bind(now)
        .bind(&wamid)
        .bind(&r.account.phone_number_id)
        .execute(&mut *tx)
        .await?;
        wamids.push(wamid);
    }
    tx.commit().await?;
    let seeded_in = t0.elapsed();

    // One signed delivery per status, made before the clock starts.
    let secret = r.account.app_secret.as_bytes();
    let ts = now + 10;
    let a = &r.account;
    let mut events: Vec<(String, String)> = Vec::with_capacity(SENDS * STATUSES.len());
    for (i, wamid) in wamids.iter().enumerate() {
        for (k, status) in STATUSES.iter().enumerate() {
            let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [{
                "id": a.business_account_id,
                "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": a.display_phone_number,
                                 "phone_number_id": a.phone_number_id},
                    "statuses": [{"id": wamid, "status": status, "timestamp": (ts + k as i64).to_string(),
                        "recipient_id": format!("4479120{:05}", 1 + i % 1_000),
                        "pricing": {"billable": true, "pricing_model": "PMP", "type": "regular", "category": "utility"}}]}}]}]})
            .to_string();
            let sig = whatsapp_cloud::signature::sign(secret, body.as_bytes());
            events.push((body, sig));
        }
    }
    let events = Arc::new(events);
    let url = Arc::new(format!("{}/webhooks/whatsapp/{}", r.site, r.webhook_key));
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (events, url, next) = (events.clone(), url.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut lat = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= events.len() || start.elapsed() > INGEST_LIMIT {
                    break;
                }
                let (body, sig) = &events[i];
                let t = Instant::now();
                let res = http
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", sig)
                    .body(body.clone())
                    .send()
                    .await;
                match res {
                    Ok(res) if res.status().is_success() => {
                        let _ = res.bytes().await;
                    }
                    _ => errors += 1,
                }
                lat.push(t.elapsed());
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let wall = start.elapsed();
    lat.sort_unstable();
    let pool = &r.state.db.pool;
    let read: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM whatsapp_sends WHERE state = 'read'")
        .fetch_one(pool)
        .await?;
    let complete: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM whatsapp_sends WHERE sent_at IS NOT NULL AND delivered_at IS NOT NULL AND read_at IS NOT NULL",
    )
    .fetch_one(pool)
    .await?;
    let rate = lat.len() as f64 / wall.as_secs_f64();
    println!(
        "a. Webhook ingestion (SQLite, one status per signed POST, {clients} concurrent clients)"
    );
    println!(
        "   seeded {SENDS} accepted sends in {:.1} s",
        seeded_in.as_secs_f64()
    );
    println!("   {:<28} {:>12}", "events posted", lat.len());
    println!("   {:<28} {:>12}", "non-2xx or failed", errors);
    println!("   {:<28} {:>10.1} s", "wall time", wall.as_secs_f64());
    println!(
        "   {:<28} {:>12.0}   (target 3,000: {:.0}%)",
        "events/s sustained",
        rate,
        rate / 3000.0 * 100.0
    );
    for (name, p) in [("p50", 0.50), ("p95", 0.95), ("p99", 0.99)] {
        println!(
            "   {:<28} {:>12}",
            format!("latency {name}"),
            ms(percentile(&lat, p))
        );
    }
    println!(
        "   {:<28} {:>12}",
        "latency max",
        ms(lat.last().copied().unwrap_or_default())
    );
    println!(
        "   {:<28} {:>12}",
        "sends read afterwards",
        format!("{read}/{SENDS}")
    );
    println!(
        "   {:<28} {:>12}",
        "with all three times",
        format!("{complete}/{SENDS}")
    );
    r.state.db.pool.close().await;
    Ok(())
}

// ---- b. bulk send pacing -------------------------------------------------------------------------

async fn bulk_send() -> anyhow::Result<()> {
    let r = rig(|_| {}).await?;
    let cfg = r.state.outbox.settings.clone();
    let ids: Vec<i64> = seed_invoices(&r.state, r.user_id, BULK, "+4479121")
        .await?
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    let t0 = Instant::now();
    let queued = outbox::queue_bulk(&r.state, r.user_id, outbox::Bulk::Selected(ids))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let queued_in = t0.elapsed();
    anyhow::ensure!(
        queued.queued == BULK as i64,
        "queued {} of {BULK}",
        queued.queued
    );

    let worker_start = Instant::now();
    let worker = outbox::spawn_worker(r.state.clone());
    let mut samples: Vec<(Instant, u64)> = Vec::new();
    loop {
        let n = r.sandbox.stats().accepted;
        samples.push((Instant::now(), n));
        if n >= BULK as u64 || worker_start.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.abort();
    let stats = r.sandbox.stats();
    let first = samples.iter().find(|(_, n)| *n >= 1).map(|(t, _)| *t);
    let last = samples.last().map(|(t, _)| *t);
    // The most messages accepted within any one second, as far as 50 ms samples can tell.
    let mut peak = 0;
    for (j, (tj, nj)) in samples.iter().enumerate() {
        let earliest = samples[..=j]
            .iter()
            .find(|(ti, _)| tj.duration_since(*ti) <= Duration::from_secs(1))
            .map(|(_, n)| *n)
            .unwrap_or(0);
        peak = peak.max(nj - earliest);
    }
    let retries: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM whatsapp_attempts WHERE outcome = 'retry'")
            .fetch_one(&r.state.db.pool)
            .await?;
    println!();
    println!(
        "b. Bulk send of {BULK} invoices (templates) to the sandbox at {} msg/s (worker: pace {} msg/s, \
         {} at a time, pair interval {} s)",
        80,
        cfg.throughput_per_sec,
        cfg.concurrency,
        cfg.pair_interval.as_secs()
    );
    println!("   {:<34} {:>12}", "queued (queue_bulk)", ms(queued_in));
    println!(
        "   {:<34} {:>12}",
        "accepted by the sandbox",
        format!("{}/{BULK}", stats.accepted)
    );
    if let (Some(first), Some(last)) = (first, last) {
        let span = last.duration_since(first);
        let rate = (stats.accepted.saturating_sub(1)) as f64 / span.as_secs_f64();
        println!(
            "   {:<34} {:>12}",
            "worker start → first accepted",
            ms(first.duration_since(worker_start))
        );
        println!(
            "   {:<34} {:>10.2} s",
            "first → last accepted",
            span.as_secs_f64()
        );
        println!(
            "   {:<34} {:>12.1}   ({:.1}% of the allowed 80)",
            "messages/s achieved",
            rate,
            rate / 80.0 * 100.0
        );
    }
    println!("   {:<34} {:>12}", "peak in any 1 s (50 ms samples)", peak);
    println!(
        "   {:<34} {:>12}",
        "throughput refusals (130429)", stats.throughput_refusals
    );
    println!(
        "   {:<34} {:>12}",
        "pair refusals (131056)", stats.pair_refusals
    );
    println!("   {:<34} {:>12}", "retries recorded by the app", retries);
    r.state.db.pool.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    webhook_ingestion().await?;
    bulk_send().await?;
    Ok(())
}

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
#[path = "../tests/it/common/mod.rs"]
mod common;

use axis_crm::{platform, sending::server::outbox};
use common::{world::World, Backend};
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

const SENDS: usize = 20_000;
const STATUSES: [&str; 3] = ["sent", "delivered", "read"];
const INGEST_LIMIT: Duration = Duration::from_secs(90);
const BULK: usize = 1_000;

/// The app (SQLite) served on a loopback port, a sandbox standing in for Meta at its default
/// pace, and a connected user whose invoice template is approved.
async fn world() -> World {
    World::builder(Backend::Sqlite)
        .env(&[("AXIS_SANDBOX", "off")])
        .sandbox_config(|c| {
            c.template_review = Duration::from_millis(50);
            c.record_exchanges = false;
        })
        .with_template()
        .build()
        .await
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
    let w = world().await;
    // 20,000 sends already accepted by Meta, over 1,000 tenants (20 invoices each).
    let t0 = Instant::now();
    w.seed_invoices(1_000, "+4479120", "B-").await;
    let now = platform::db::now();
    let sends = w
        .stage()
        .accepted_sends(
            w.user_id(),
            SENDS,
            &w.account().phone_number_id,
            "wamid.BENCH",
        )
        .await;
    let seeded_in = t0.elapsed();

    // One signed delivery per status, made before the clock starts.
    let ts = now + 10;
    let mut events: Vec<(String, String)> = Vec::with_capacity(SENDS * STATUSES.len());
    for (wamid, phone) in &sends {
        for (k, status) in STATUSES.iter().enumerate() {
            let body = w.status_body(&[serde_json::json!({"id": wamid, "status": status,
                "timestamp": (ts + k as i64).to_string(),
                "recipient_id": phone.trim_start_matches('+'),
                "pricing": {"billable": true, "pricing_model": "PMP", "type": "regular", "category": "utility"}})]);
            let sig = w.sign(&body);
            events.push((body, sig));
        }
    }
    let events = Arc::new(events);
    let url = Arc::new(w.webhook_url());
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
    let read = w.reads().sends_in_state("read").await;
    let complete = w.reads().sends_with_every_status_time().await;
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
    w.close().await;
    Ok(())
}

// ---- b. bulk send pacing -------------------------------------------------------------------------

async fn bulk_send() -> anyhow::Result<()> {
    let w = world().await;
    let cfg = w.state().outbox.settings.clone();
    let ids = w.seed_invoices(BULK, "+4479121", "B-").await;
    let t0 = Instant::now();
    let queued = outbox::queue_bulk(w.state(), w.user_id(), outbox::Bulk::Selected(ids), true)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let queued_in = t0.elapsed();
    anyhow::ensure!(
        queued.queued == BULK as i64,
        "queued {} of {BULK}",
        queued.queued
    );

    let worker_start = Instant::now();
    let worker = outbox::spawn_worker(w.state().clone());
    let mut samples: Vec<(Instant, u64)> = Vec::new();
    loop {
        let n = w.sandbox().stats().accepted;
        samples.push((Instant::now(), n));
        if n >= BULK as u64 || worker_start.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.abort();
    let stats = w.sandbox().stats();
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
    let retries = w.reads().attempts_with_outcome("retry").await;
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
    w.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    webhook_ingestion().await?;
    bulk_send().await?;
    Ok(())
}

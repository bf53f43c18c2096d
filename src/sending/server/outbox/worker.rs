//! The worker loop: claims due sends and runs each attempt on its own task, at most
//! `AXIS_OUTBOX_CONCURRENCY` at a time.

use super::{claim::claim, deliver::process, pacer::Pacer, settle::release_for_retry};
use crate::{
    error::AppError,
    platform::{config::OutboxSettings, db, AppState},
};
use parking_lot::Mutex;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::{Notify, Semaphore};

pub struct Outbox {
    pub settings: OutboxSettings,
    notify: Notify,
    pacer: Mutex<Pacer>,
    /// Names this instance's claims (visible in `locked_by`).
    pub instance: String,
}

impl Outbox {
    pub fn new(settings: OutboxSettings) -> Arc<Self> {
        Arc::new(Outbox {
            settings,
            notify: Notify::new(),
            pacer: Mutex::new(Pacer::default()),
            instance: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        })
    }

    /// Wakes the worker: something was queued.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Time between two messages of one sender: the throughput (or the provider's lower cap for
    /// this sender) with 3% headroom, so network jitter cannot push one second over the limit.
    fn slot_interval(&self, cap: Option<u32>) -> Duration {
        let rate = cap.map_or(self.settings.throughput_per_sec, |c| {
            c.min(self.settings.throughput_per_sec)
        });
        Duration::from_secs_f64(1.03 / f64::from(rate.max(1)))
    }

    /// Reserves the next free slot for `sender` (capped at `cap` messages a second when the
    /// provider says so) and returns when it begins.
    pub(super) fn reserve_slot(&self, sender: &str, cap: Option<u32>) -> Instant {
        let interval = self.slot_interval(cap);
        self.pacer.lock().reserve_slot(sender, interval)
    }

    /// Ok when a message to `to` may go now (and records it), else how long to wait.
    pub(super) fn pair_ready(&self, sender: &str, to: &str) -> Result<(), Duration> {
        let gap = self.settings.pair_interval;
        self.pacer.lock().pair_ready(sender, to, gap)
    }
}

/// Runs the worker until the process ends.
pub fn spawn_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let outbox = state.outbox.clone();
        let permits = Arc::new(Semaphore::new(outbox.settings.concurrency));
        tracing::info!(instance = %outbox.instance, concurrency = outbox.settings.concurrency, "WhatsApp outbox worker started");
        loop {
            let free = permits.available_permits();
            let claimed = if free == 0 {
                Vec::new()
            } else {
                match claim(&state, free.min(64)).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox: could not claim sends");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        continue;
                    }
                }
            };
            let got = claimed.len();
            for id in claimed {
                let permit = permits
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("semaphore open");
                let st = state.clone();
                tokio::spawn(async move {
                    if let Err(e) = process(&st, id).await {
                        tracing::warn!(send_id = id, error = %e, "outbox: send processing failed; it will be retried");
                        let _ = release_for_retry(&st, id).await;
                    }
                    drop(permit);
                });
            }
            if got == 0 {
                let wait = next_due_in(&state).await.unwrap_or(Duration::from_secs(1));
                tokio::select! {
                    _ = outbox.notify.notified() => {},
                    _ = tokio::time::sleep(wait.clamp(Duration::from_millis(20), Duration::from_secs(1))) => {},
                }
            } else if permits.available_permits() == 0 {
                // Wait for a free slot before claiming more.
                let _ = permits.acquire().await.map(drop);
            }
        }
    })
}

async fn next_due_in(state: &AppState) -> Option<Duration> {
    let next: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(next_attempt_at) FROM whatsapp_sends WHERE state IN ('queued', 'unknown')",
    )
    .fetch_one(&state.db.pool)
    .await
    .ok()?;
    let secs = next? - db::now();
    Some(Duration::from_secs(secs.max(0) as u64))
}

/// One pass for tests and tools: reaps, claims and processes everything due now.
pub async fn run_due(state: &AppState) -> Result<usize, AppError> {
    let mut total = 0;
    loop {
        let ids = claim(state, 64).await?;
        if ids.is_empty() {
            return Ok(total);
        }
        total += ids.len();
        let mut set = tokio::task::JoinSet::new();
        for id in ids {
            let st = state.clone();
            set.spawn(async move { process(&st, id).await });
        }
        while let Some(r) = set.join_next().await {
            r.map_err(AppError::internal)??;
        }
    }
}

//! Pacing inside this instance: messages per sending number (throughput) and per recipient (the
//! pair limit). Several instances each pace themselves; the provider's rate-limit answers are
//! retried.

use messaging::Pace;
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

#[derive(Default)]
pub(super) struct Pacer {
    next_slot: HashMap<String, Instant>,
    pair_last: HashMap<(String, String), Instant>,
}

impl Pacer {
    /// Reserves the next free slot for `sender`, `interval` after the last, and returns when it
    /// begins.
    pub(super) fn reserve_slot(&mut self, sender: &str, interval: Duration) -> Instant {
        let now = Instant::now();
        let slot = self
            .next_slot
            .get(sender)
            .copied()
            .filter(|t| *t > now)
            .unwrap_or(now);
        self.next_slot.insert(sender.to_string(), slot + interval);
        slot
    }

    /// Ok when a message from `sender` to `to` may go now (and records it), else how long to
    /// wait for `gap` to pass since the last one.
    pub(super) fn pair_ready(
        &mut self,
        sender: &str,
        to: &str,
        gap: Duration,
    ) -> Result<(), Duration> {
        let now = Instant::now();
        let key = (sender.to_string(), to.to_string());
        if let Some(last) = self.pair_last.get(&key) {
            let since = now.duration_since(*last);
            if since < gap {
                return Err(gap - since);
            }
        }
        self.pair_last.insert(key, now);
        if self.pair_last.len() > 50_000 {
            self.pair_last.retain(|_, t| now.duration_since(*t) < gap);
        }
        Ok(())
    }
}

/// Delay before retry number `attempt` (1-based): exponential with ±50% jitter, capped at
/// 15 minutes; the pair limit waits at least the pair interval, growing 4× a time.
pub fn retry_delay(
    pace: Pace,
    attempt: i64,
    base: Duration,
    pair_interval: Duration,
    jitter: f64,
) -> Duration {
    let cap = Duration::from_secs(15 * 60);
    let n = attempt.clamp(1, 20) as u32;
    let raw = match pace {
        Pace::Recipient => pair_interval
            .max(Duration::from_secs(1))
            .saturating_mul(4u32.saturating_pow(n - 1)),
        Pace::Backoff => base.saturating_mul(2u32.saturating_pow(n - 1)),
    };
    raw.min(cap).mul_f64(jitter.clamp(0.5, 1.5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_and_are_capped() {
        let base = Duration::from_secs(2);
        let pair = Duration::from_secs(6);
        let d = |n| retry_delay(Pace::Backoff, n, base, pair, 1.0);
        assert_eq!(d(1), Duration::from_secs(2));
        assert_eq!(d(2), Duration::from_secs(4));
        assert_eq!(d(5), Duration::from_secs(32));
        assert_eq!(d(30), Duration::from_secs(900));
        let p = |n| retry_delay(Pace::Recipient, n, base, pair, 1.0);
        assert_eq!(p(1), Duration::from_secs(6));
        assert_eq!(p(2), Duration::from_secs(24));
        assert!(retry_delay(Pace::Backoff, 1, base, pair, 0.5) == Duration::from_secs(1));
        assert!(retry_delay(Pace::Backoff, 1, base, pair, 9.0) == Duration::from_secs(3));
    }

    #[test]
    fn pacer_spaces_messages_and_pairs() {
        let mut p = Pacer::default();
        let gap = Duration::from_millis(10);
        let a = p.reserve_slot("p", gap);
        let b = p.reserve_slot("p", gap);
        assert!(b.duration_since(a) >= gap);
        // Another number has its own slots.
        let c = p.reserve_slot("q", gap);
        assert!(c <= b);
        let pair = Duration::from_secs(6);
        assert!(p.pair_ready("p", "+1", pair).is_ok());
        let wait = p.pair_ready("p", "+1", pair).unwrap_err();
        assert!(wait > Duration::from_secs(5));
        assert!(p.pair_ready("p", "+2", pair).is_ok());
    }
}

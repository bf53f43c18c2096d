//! Fault injection: faults queued with [`Sandbox::inject`] (optionally scoped to one number, or
//! to one number's `/messages` calls), random faults at `fault_rate`, and Meta's answer for each.

use super::{meta_error, Answer};
use crate::sandbox::{state::Fault, Counters, Sandbox};
use rand::Rng;
use serde_json::json;

/// Scope prefix of faults injected for one number's `/messages` calls only.
pub(crate) const MESSAGES_SCOPE: &str = "messages:";

pub(super) fn fault_answer(fault: &Fault) -> Answer {
    match fault {
        Fault::Api {
            code,
            subcode,
            status,
        } => {
            let (message, details) = match code {
                130429 => ("(#130429) Rate limit hit", Some("Cloud API message throughput has been reached.")),
                131056 => (
                    "(#131056) (Business Account, Consumer Account) pair rate limit hit",
                    Some("Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."),
                ),
                80007 => ("(#80007) There have been too many calls to this WhatsApp Business account.", None),
                4 => ("(#4) Application request limit reached", None),
                190 => ("Error validating access token: Session has expired.", None),
                133010 => ("(#133010) Account not registered", Some("The phone number is not registered on the WhatsApp Business Platform.")),
                131000 => ("(#131000) Something went wrong", Some("Message failed to send due to an unknown error.")),
                10 => ("(#10) Application does not have permission for this action", None),
                _ => ("(#100) Invalid parameter", None),
            };
            meta_error(*status, *code, *subcode, "OAuthException", message, details)
        }
        Fault::ServerError => meta_error(
            500,
            1,
            None,
            "OAuthException",
            "An unknown error occurred",
            None,
        ),
        Fault::BadGateway => Answer {
            status: 503,
            body: json!("Service Unavailable"),
            plain_text: true,
        },
        Fault::Slow | Fault::LostResponse => meta_error(
            504,
            2,
            None,
            "OAuthException",
            "Service temporarily unavailable",
            None,
        ),
    }
}

/// One of the random faults, about equally often.
fn random_fault(rng: &mut impl Rng) -> Fault {
    match rng.gen_range(0..5) {
        0 => Fault::ServerError,
        1 => Fault::BadGateway,
        2 => Fault::Api {
            code: 130429,
            subcode: None,
            status: 400,
        },
        3 => Fault::Slow,
        _ => Fault::LostResponse,
    }
}

impl Sandbox {
    /// An injected fault for this call (scoped to `phone_number_id`, or unscoped), else a
    /// random one at `fault_rate`. Counted in [`crate::sandbox::SandboxStats::faults`].
    fn pick_fault(&self, phone_number_id: Option<&str>) -> Option<Fault> {
        self.pick_fault_for(phone_number_id, false)
    }

    /// As [`Self::pick_fault`]; `messages` also matches faults injected for `/messages` only.
    pub(super) fn pick_fault_for(
        &self,
        phone_number_id: Option<&str>,
        messages: bool,
    ) -> Option<Fault> {
        let injected = {
            let mut st = self.inner.state.lock();
            let messages_scope = phone_number_id.map(|p| format!("{MESSAGES_SCOPE}{p}"));
            let pos = st.faults.iter().position(|(scope, _)| {
                scope.is_none()
                    || scope.as_deref() == phone_number_id
                    || (messages && scope.is_some() && *scope == messages_scope)
            });
            pos.and_then(|i| st.faults.remove(i)).map(|(_, f)| f)
        };
        let picked = injected.or_else(|| {
            let rate = self.inner.config.lock().fault_rate;
            let mut rng = rand::thread_rng();
            (rate > 0.0 && rng.gen_bool(rate.min(1.0))).then(|| random_fault(&mut rng))
        })?;
        Counters::bump(&self.inner.counters.faults);
        Some(picked)
    }

    /// Puts a lost answer back in front of `phone_number_id`'s message faults, uncounted: it was
    /// picked for a message Meta refused, which has no answer to lose.
    pub(super) fn unpick_lost_answer(&self, phone_number_id: &str) {
        self.inner.state.lock().faults.push_front((
            Some(format!("{MESSAGES_SCOPE}{phone_number_id}")),
            Fault::LostResponse,
        ));
        self.inner
            .counters
            .faults
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Meta's answer for `fault`; a slow or lost answer is held for `slow_delay` first.
    pub(super) async fn serve_fault(&self, fault: &Fault) -> Answer {
        if matches!(fault, Fault::Slow | Fault::LostResponse) {
            let delay = self.inner.config.lock().slow_delay;
            tokio::time::sleep(delay).await;
        }
        fault_answer(fault)
    }

    /// A fault for a call that has no answer to lose (`LostResponse` acts as `Slow`).
    pub(super) async fn fault(&self, phone_number_id: Option<&str>) -> Option<Answer> {
        let picked = self.pick_fault(phone_number_id)?;
        Some(self.serve_fault(&picked).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_faults_are_mixed_evenly() {
        use rand::{rngs::StdRng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(42);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..5000 {
            *counts
                .entry(format!("{:?}", random_fault(&mut rng)))
                .or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 5, "{counts:?}");
        assert!(
            counts.values().all(|n| (800..1200).contains(n)),
            "{counts:?}"
        );
        assert!(counts.contains_key("LostResponse"));
    }
}

//! Status playback: after a message is accepted, its status webhooks (sent, delivered, read, or
//! a single failed with Meta's error) are posted one `status_delay` apart, optionally
//! duplicated or shuffled as Meta's at-least-once, unordered delivery sometimes has them.

use super::webhooks::post_webhook;
use crate::sandbox::{
    state::{unix_now, Number},
    Sandbox,
};
use rand::{seq::SliceRandom, Rng};
use serde_json::{json, Value};

/// How an accepted message ends: delivered and read, or failed with Meta's error code.
pub(super) enum Outcome {
    Delivered,
    Failed(i64),
}

/// What the status webhooks of one accepted message carry.
pub(super) struct StatusCtx {
    pub(super) sb: Sandbox,
    pub(super) number: Number,
    pub(super) pnid: String,
    pub(super) wamid: String,
    /// The recipient's phone digits, when the message went by phone.
    pub(super) wa_id: Option<String>,
    /// The recipient's business-scoped user id.
    pub(super) user_id: String,
    pub(super) callback: Option<String>,
    pub(super) pricing: Value,
}

impl StatusCtx {
    /// Posts the statuses of `outcome`, one `status_delay` apart.
    pub(super) async fn play(self, outcome: Outcome) {
        let (delay, shuffle, duplicate) = {
            let c = self.sb.inner.config.lock();
            (c.status_delay, c.shuffle_statuses, c.duplicate_statuses)
        };
        let steps: Vec<Value> = match outcome {
            Outcome::Delivered => ["sent", "delivered", "read"]
                .iter()
                .map(|s| self.status(s, None))
                .collect(),
            Outcome::Failed(code) => vec![self.status("failed", Some(code))],
        };
        let steps = status_chaos(steps, shuffle, duplicate, &mut rand::thread_rng());
        for status in steps {
            tokio::time::sleep(delay).await;
            let mut value = json!({
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": self.number.display_phone_number, "phone_number_id": self.pnid },
                "statuses": [status],
            });
            // Since 2026 statuses other than `failed` carry the recipient in `contacts`.
            if value["statuses"][0]["status"] != "failed" {
                let mut contact =
                    json!({ "profile": { "name": "Sandbox tenant" }, "user_id": self.user_id });
                if let Some(w) = &self.wa_id {
                    contact["wa_id"] = json!(w);
                }
                value["contacts"] = json!([contact]);
            }
            post_webhook(
                &self.sb,
                &self.number.app_id,
                &self.number.waba_id,
                "messages",
                value,
            )
            .await;
        }
    }

    fn status(&self, status: &str, error: Option<i64>) -> Value {
        let mut s = json!({
            "id": self.wamid,
            "status": status,
            "timestamp": unix_now().to_string(),
        });
        // `recipient_id` only when the number may be shared; `recipient_user_id` always, except
        // on `failed` for a message sent by phone.
        if let Some(w) = &self.wa_id {
            s["recipient_id"] = json!(w);
        }
        if !(status == "failed" && self.wa_id.is_some()) {
            s["recipient_user_id"] = json!(self.user_id);
        }
        if let Some(cb) = &self.callback {
            s["biz_opaque_callback_data"] = json!(cb);
        }
        match error {
            // Meta puts `pricing` on `sent` and on one of `delivered` / `read`, never both.
            None if status != "read" => s["pricing"] = self.pricing.clone(),
            None => {}
            Some(code) => {
                let (title, details) = match code {
                    131047 => ("Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number."),
                    131026 => ("Message undeliverable", "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number; the recipient has not accepted WhatsApp's new Terms of Service; the recipient is using an old WhatsApp version."),
                    _ => ("Message failed", "Message failed to send."),
                };
                s["errors"] = json!([{ "code": code, "title": title, "message": title,
                    "error_data": { "details": details },
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/" }]);
            }
        }
        s
    }
}

/// The order status webhooks go out in: each twice with `duplicate`, any order with `shuffle`.
fn status_chaos<T: Clone>(
    steps: Vec<T>,
    shuffle: bool,
    duplicate: bool,
    rng: &mut impl Rng,
) -> Vec<T> {
    let mut steps: Vec<T> = if duplicate {
        steps.into_iter().flat_map(|s| [s.clone(), s]).collect()
    } else {
        steps
    };
    if shuffle {
        steps.shuffle(rng);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_order_chaos() {
        use rand::{rngs::StdRng, SeedableRng};
        let steps = vec!["sent", "delivered", "read"];
        let mut rng = StdRng::seed_from_u64(7);
        assert_eq!(status_chaos(steps.clone(), false, false, &mut rng), steps);
        assert_eq!(
            status_chaos(steps.clone(), false, true, &mut rng),
            ["sent", "sent", "delivered", "delivered", "read", "read"]
        );
        let mut orders = std::collections::HashSet::new();
        for _ in 0..50 {
            let mut out = status_chaos(steps.clone(), true, false, &mut rng);
            orders.insert(out.clone());
            out.sort();
            assert_eq!(out, ["delivered", "read", "sent"]);
        }
        assert!(orders.len() > 3, "{orders:?}");
        let mut both = status_chaos(steps.clone(), true, true, &mut rng);
        both.sort();
        assert_eq!(
            both,
            ["delivered", "delivered", "read", "read", "sent", "sent"]
        );
    }
}

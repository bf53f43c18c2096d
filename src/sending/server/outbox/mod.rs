//! The WhatsApp outbox: a send is a row in `whatsapp_sends`, queued by a click and carried out by
//! a worker, never inside the request. The row survives crashes and restarts; on PostgreSQL
//! several instances claim rows with `FOR UPDATE SKIP LOCKED`, so no two work on the same send.
//!
//! A send moves along [`SendState`](crate::sending::SendState): `queued → sending → accepted`
//! when the provider takes the message, then `sent → delivered → read` (or `failed`) as status
//! webhooks arrive; its rank only ever grows, so duplicated and reordered webhooks leave the right
//! final state. A call whose outcome is unknown (a time-out after the request left) parks the send
//! as `unknown`: every message carries a tag naming the send and attempt ([`callback_tag`]), so a
//! status webhook for it settles the question. Only when none has come after `reconcile`, and
//! webhooks are known to reach this connection, is the message sent again.
//!
//! What the pages ask is in [`read`], the commands that queue in [`commands`], and the rules both
//! share with the worker (what blocks a send, the 24-hour window, the chosen template) in
//! [`policy`]. The worker is in [`worker`] (the loop), [`claim`] (leases, reaping, reconciling),
//! [`pacer`] (throughput and the pair limit), [`deliver`] (one attempt, through the connection's
//! provider) and [`settle`] (how an attempt ends). None of them names a provider's types: they
//! speak `messaging`.

mod claim;
mod commands;
mod deliver;
mod pacer;
mod policy;
mod read;
mod settle;
mod worker;

pub use commands::{queue, queue_bulk, sandbox_reply, Bulk};
pub use pacer::retry_delay;
/// The troubleshooting anchor a send paused with its account carries.
pub const PAUSED_ANCHOR: &str = settle::PAUSED.anchor;
pub use policy::{connection_info, shown_recipient, ConnectionInfo, Reach};
pub use read::{
    batch_progress, blockers, fill_template, history, human_date, international, latest_badges,
    news, open_windows, preview, tenant_messages, window_left,
};
pub use worker::{run_due, spawn_worker, Outbox};

pub use crate::platform::config::OutboxSettings;

/// The four body variables of an invoice template: tenant, number, amount, due date.
pub const TEMPLATE_PARAMS: usize = 4;

/// The 24-hour customer service window.
pub const WINDOW_SECS: i64 = 24 * 3600;

/// The tag a provider echoes in status webhooks: which send, which attempt.
pub fn callback_tag(send_id: i64, attempt: i64) -> String {
    format!("axis:{send_id}:{attempt}")
}

pub fn parse_callback(tag: &str) -> Option<(i64, i64)> {
    let rest = tag.strip_prefix("axis:")?;
    let (send, attempt) = rest.split_once(':')?;
    Some((send.parse().ok()?, attempt.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_tags_round_trip() {
        assert_eq!(parse_callback(&callback_tag(42, 3)), Some((42, 3)));
        assert_eq!(parse_callback("inv:1"), None);
        assert_eq!(parse_callback("axis:x:1"), None);
    }
}

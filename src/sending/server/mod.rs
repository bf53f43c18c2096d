//! The server half of sending: the outbox (a table and its worker), the webhooks that report
//! what became of each message. The providers messages go through are in `crate::providers`.

pub mod outbox;
pub mod webhooks;

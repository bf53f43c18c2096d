//! The server half of sending: the outbox (a table and its worker), the webhooks that report
//! what became of each message, and the providers messages go through.

pub mod outbox;
pub mod providers;
pub mod webhooks;

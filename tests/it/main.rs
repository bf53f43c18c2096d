//! Every integration test, in one binary: the app and its dependencies are linked once, not once
//! per file, which keeps the build's time and disk down. Each module is one area; run one with
//! `cargo test --features ssr --test it sending::` (or `sending::sqlite::` for one backend).
//! `tests/secrets.rs` is the one test outside: it captures the whole process's logs.

#[macro_use]
mod common;

mod accounts;
mod crash;
mod faults;
mod first_send;
mod input_properties;
mod invoices;
mod limits;
mod onboarding;
mod schema;
mod seam;
mod selftest;
mod sending;
mod templates;
mod upgrade;
mod usernames;
mod webhooks;
mod whatsapp;

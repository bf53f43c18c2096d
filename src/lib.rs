//! Axis CRM: property managers send invoices to tenants over their own WhatsApp Business account.
#![recursion_limit = "256"]

pub mod accounts;
pub mod app;
pub mod components;
pub mod connections;
pub mod error;
pub mod help;
pub mod input;
pub mod invoices;
pub mod onboarding;
pub mod pages;
pub mod selftest;
pub mod sending;
pub mod templates;

#[cfg(feature = "ssr")]
pub mod platform;
#[cfg(feature = "ssr")]
pub mod providers;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}

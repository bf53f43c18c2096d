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

/// The browser's entry point. Pages are server-rendered HTML that works without JavaScript; this
/// starts the islands (Leptos then hydrates each `#[island]` on the page), and marks `<body>`
/// with `data-hydrated` once they have been (`components::live::mark_hydrated`).
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    use leptos::prelude::*;
    console_error_panic_hook::set_once();
    // A server function called from an island that answers with a redirect (a saved invoice
    // opens its page) moves the whole page: there is no client-side router.
    let _ = leptos::server_fn::redirect::set_redirect_hook(|to: &str| {
        let _ = window().location().set_href(to);
    });
    leptos::mount::hydrate_islands();
    // The island script hydrates the islands right after this returns, in microtasks; a
    // zero-delay timer runs after them. The invoice editor is a lazy island, hydrated once its
    // WASM chunk has arrived: a page with it is marked by the editor itself.
    set_timeout(
        || {
            let lazy_editor = document()
                .query_selector("form.invoice-form")
                .ok()
                .flatten();
            if lazy_editor.is_none() {
                components::live::mark_hydrated();
            }
        },
        std::time::Duration::ZERO,
    );
}

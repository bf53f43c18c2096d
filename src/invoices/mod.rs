//! Invoices, tenants and properties.

pub mod api;
pub mod money;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;
pub mod types;

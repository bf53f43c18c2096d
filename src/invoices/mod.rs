//! Invoices, tenants and properties.

pub mod api;
pub mod money;
pub mod pages;
pub mod types;

pub mod guide;
pub mod invoices;
pub mod not_found;
pub mod settings;

//! Message templates (needed outside the 24-hour window): the invoice template, the account's
//! templates and this month's usage. The server half owns the `whatsapp_templates` table; the
//! wire types and server functions are with sending, whose settings section shows them.

#[cfg(feature = "ssr")]
pub mod lifecycle;
#[cfg(feature = "ssr")]
pub mod server;

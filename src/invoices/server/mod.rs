//! Invoices, tenants, properties and the business profile on the server. Every query is scoped to
//! the signed-in user: another user's id is "not found".
//!
//! One file per concern: [`profile`] (the business profile), [`properties`] (properties and their
//! units), [`tenants`], [`invoices`] (checking, creating, editing, reading one, its status),
//! [`list`] (the filtered, sorted, paged list), [`pdf`] (drawing an invoice within budget),
//! [`sample`] (sample data for a newcomer) and [`folds`] (backfilling the search folds);
//! [`fields`] holds today's date and the field checks several forms share.

mod fields;
mod folds;
pub mod identities;
mod invoices;
mod list;
mod pdf;
mod profile;
mod properties;
mod sample;
mod tenants;

pub use fields::today;
pub use folds::backfill_folds;
pub use invoices::{detail, draft_of, new_draft, next_number, save_invoice, set_status};
pub use list::list;
pub use pdf::{pdf, render_pdf};
pub use profile::{profile, save_profile};
pub use properties::{properties, save_property};
pub use sample::load_sample_data;
pub use tenants::{parse_tenant_phone, save_tenant, tenants, TenantInput};

//! Meta's WhatsApp Cloud API, as Axis CRM uses it.
//!
//! - [`GraphClient`]: one typed client with a configurable base URL and API version.
//! - [`GraphError`]: Meta's error body, typed, with [`ErrorKind`] and [`Retry`] classification.
//! - [`MetaProvider`]: the client behind the neutral `messaging::Provider` trait, with
//!   [`webhook`] reading Meta's envelope into neutral delivery events.
//! - [`signature`]: `X-Hub-Signature-256` for webhooks.
//! - `sandbox` (feature): a Cloud API simulator that answers and fails the way Meta does.
//!
//! No web framework types leak from the client; it is tested on its own.

// `GraphError::Api` carries Meta's whole error body by value so callers can match on it;
// boxing it would change the public API for a few bytes on an error path.
#![allow(clippy::result_large_err)]

mod client;
mod error;
mod provider;
pub mod signature;
pub mod types;
pub mod webhook;

#[cfg(feature = "sandbox")]
pub mod sandbox;

/// Messages a second Meta allows a number shared with the WhatsApp Business app (coexistence),
/// whatever its throughput level.
pub const COEXISTENCE_PER_SECOND: u32 = 20;

pub use client::{AppCredentials, GraphClient, GraphConfig, PHONE_NUMBER_FIELDS};
pub use error::{classify_code, ApiError, ErrorKind, GraphError, Retry};
pub use provider::{outgoing, MetaProvider, META};
pub use secrecy::{ExposeSecret, SecretString};

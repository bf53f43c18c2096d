use crate::{
    platform::{config::Config, crypto::Keyring, db::Db},
    providers::{meta::MetaRuntime, Providers},
};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// Everything a request handler or server function needs, handed to server functions as context.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<Config>,
    /// Seals every secret at rest (connection credentials, flash cookies).
    pub keyring: Arc<Keyring>,
    pub outbox: Arc<crate::sending::server::outbox::Outbox>,
    /// The messaging providers, by stored name and mode.
    pub providers: Arc<Providers>,
    /// Meta's Cloud API as this server runs it: live client, sandbox, environment credentials.
    pub meta: Arc<MetaRuntime>,
}

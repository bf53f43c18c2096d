use crate::{
    connections::server::WhatsAppService,
    platform::{config::Config, db::Db},
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
    pub whatsapp: Arc<WhatsAppService>,
    pub outbox: Arc<crate::sending::server::outbox::Outbox>,
    /// The messaging providers, by stored name and mode.
    pub providers: Arc<crate::sending::server::providers::Providers>,
}

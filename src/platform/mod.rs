//! The platform under every feature, server-only (never compiled to WASM): configuration, the
//! database, the keyring, sessions, security headers and checks, the state handed to handlers,
//! and the context server functions run in ([`context`]). It also assembles the application:
//! [`prepare`] builds the state and [`router`] mounts every feature's pages and routes.

pub mod assets;
pub mod config;
pub mod context;
pub mod crypto;
pub mod db;
pub mod security;
pub mod sessions;
pub mod state;

use crate::{
    accounts::server as auth,
    invoices::server as invoices,
    providers::{meta::MetaRuntime, Providers},
    sending::server::{outbox, webhooks},
};

use axum::{
    extract::State,
    http::{header, HeaderName, StatusCode},
    middleware::{from_fn, from_fn_with_state},
    response::IntoResponse,
    routing::get,
    Json, Router,
};
use leptos::prelude::*;
use leptos_axum::LeptosRoutes;
use std::{sync::Arc, time::Duration};
use tower_http::{
    compression::CompressionLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use tower_sessions::{cookie::SameSite, Expiry, Session, SessionManagerLayer};

pub use state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "axis_session";
/// A session ends after this long without a request.
pub const SESSION_IDLE_DAYS: i64 = 7;

/// Opens the database, runs migrations and builds the state, as `main` and the tests do.
pub async fn prepare(
    config: config::Config,
    leptos_options: LeptosOptions,
) -> anyhow::Result<AppState> {
    let db = db::Db::connect(&config.database_url).await?;
    db.migrate().await?;
    invoices::backfill_folds(&db).await?;
    db.optimize().await?;
    let keyring = Arc::new(crypto::Keyring::new(
        &config.master_key,
        &config.previous_master_keys,
    ));
    let meta = MetaRuntime::start(&config, leptos_options.site_addr).await?;
    let restored = meta.restore_sandbox_accounts(&db, &keyring).await?;
    if restored > 0 {
        tracing::info!(restored, "sandbox connections restored");
    }
    let providers = Providers::default();
    meta.register(&providers);
    let outbox = outbox::Outbox::new(config.outbox.clone());
    Ok(AppState {
        leptos_options,
        db,
        config: Arc::new(config),
        keyring,
        outbox,
        providers: Arc::new(providers),
        meta,
    })
}

/// The whole HTTP application: pages, server functions, probes and middleware.
pub fn router(state: AppState) -> Router {
    use crate::app::shell;
    let routes = route_list();
    let sessions = SessionManagerLayer::new(sessions::DbSessionStore::new(state.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.public_is_https())
        .with_expiry(Expiry::OnInactivity(time::Duration::days(
            SESSION_IDLE_DAYS,
        )));
    let request_id = HeaderName::from_static("x-request-id");

    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/invoices/{id}/pdf", get(invoice_pdf))
        .route("/fonts/{file}", get(web_font))
        .nest_service("/pkg", assets::service(&state.leptos_options))
        .route(
            "/webhooks/{provider}/{key}",
            get(webhooks::verify)
                .post(webhooks::receive)
                .layer(axum::extract::DefaultBodyLimit::max(webhooks::MAX_BODY)),
        )
        .leptos_routes_with_context(&state, routes, leptos::nonce::provide_nonce, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            leptos::nonce::provide_nonce,
            shell,
        ))
        .layer(from_fn(security::server_fn_status))
        .layer(from_fn(security::page_gate))
        .layer(sessions)
        .layer(from_fn_with_state(state.clone(), security::refuse_cross_origin))
        .layer(from_fn_with_state(state.clone(), security::security_headers))
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// The app's routes, listed once per process. Listing them renders the route tree with resource
/// loading switched off process-wide (leptos_server 0.8, `SuppressResourceLoad`): a page that
/// another router serves while a list is being made would wait forever for its data
/// (leptos-rs/leptos#4773). Listed once, before any router exists, no page can be in flight.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES
        .get_or_init(|| leptos_axum::generate_route_list(crate::app::App))
        .clone()
}

/// `GET /fonts/{name}.ttf`: the Noto fonts the PDFs embed, for pages showing those scripts.
async fn web_font(
    axum::extract::Path(file): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::http::HeaderValue;
    let Some(bytes) = file.strip_suffix(".ttf").and_then(invoice_pdf::web_font) else {
        return (StatusCode::NOT_FOUND, "Not found.").into_response();
    };
    let mut res = bytes.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("font/ttf"));
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    res
}

/// `GET /invoices/{id}/pdf[?download=1]`: the invoice's PDF, for its owner only.
async fn invoice_pdf(
    State(state): State<AppState>,
    session: Session,
    axum::extract::Path(id): axum::extract::Path<i64>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::http::HeaderValue;
    let Ok(Some(user_id)) = session.get::<i64>(auth::SESSION_USER_KEY).await else {
        return axum::response::Redirect::to("/login").into_response();
    };
    match invoices::pdf(&state.db, user_id, id).await {
        Ok((filename, bytes)) => {
            let safe: String = filename
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let disposition = if query.contains_key("download") {
                "attachment"
            } else {
                "inline"
            };
            let mut res = bytes.into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{safe}\"")) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            // Shown inside the invoice page: this site may frame it, no one else. (No `default-src`:
            // it would also forbid the browser's own PDF viewer.)
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("frame-ancestors 'self'"),
            );
            h.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
            res
        }
        Err(e) => (
            StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            e.to_string(),
        )
            .into_response(),
    }
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready", "database": "ok" })),
        ),
        Err(e) => {
            tracing::error!(error = %e, "readiness: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable", "database": "unreachable" })),
            )
        }
    }
}

/// Background housekeeping: expired sessions and stale throttle records.
pub fn spawn_housekeeping(state: &AppState) -> tokio::task::JoinHandle<()> {
    let db = state.db.clone();
    tokio::spawn(async move {
        use tower_sessions::session_store::ExpiredDeletion;
        let store = sessions::DbSessionStore::new(db.clone());
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            if let Err(e) = store.delete_expired().await {
                tracing::warn!(error = %e, "could not delete expired sessions");
            }
            if let Err(e) = auth::prune_login_failures(&db).await {
                tracing::warn!(error = %e, "could not prune login failures");
            }
            if let Err(e) = db.optimize().await {
                tracing::warn!(error = %e, "could not refresh query statistics");
            }
        }
    })
}

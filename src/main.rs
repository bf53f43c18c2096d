//! The `axis-crm` server: configuration, database, migrations, router, serve. Nothing else.

use anyhow::{bail, Context};
use axis_crm::platform::{self, config::Config};
use std::{net::SocketAddr, process::ExitCode};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: axis-crm [serve | rotate-key]\n\n  serve        run the web server (the default)\n  rotate-key   re-encrypt every stored secret under AXIS_MASTER_KEY\n               (old keys in AXIS_MASTER_KEY_PREVIOUS)\n\nSettings come from the environment; see README.md.";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("serve") => serve().await,
        Some("rotate-key") => rotate_key().await,
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

async fn serve() -> anyhow::Result<()> {
    let leptos = leptos::config::get_configuration(None).context("reading the Leptos settings")?;
    let options = platform::assets::with_hashes(leptos.leptos_options);
    let addr = options.site_addr;
    let config = Config::from_env(addr)?;
    tracing::info!(env = ?config.env, database = %platform::db::redact_url(&config.database_url), public_url = %config.public_url, "starting");

    let state = platform::prepare(config, options).await?;
    let housekeeping = platform::spawn_housekeeping(&state);
    let worker = state
        .config
        .outbox
        .worker
        .then(|| axis_crm::sending::server::outbox::spawn_worker(state.clone()));
    let app = platform::router(state.clone());

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!("listening on http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    housekeeping.abort();
    if let Some(w) = worker {
        w.abort();
    }
    state.db.pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Re-encrypts every stored secret under the current master key. See README.md, "Rotating the
/// master key".
async fn rotate_key() -> anyhow::Result<()> {
    let addr: SocketAddr = std::env::var("LEPTOS_SITE_ADDR")
        .ok()
        .and_then(|a| a.parse().ok())
        .unwrap_or(([127, 0, 0, 1], 3000).into());
    let config = Config::from_env(addr)?;
    let db = platform::db::Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let keyring = platform::crypto::Keyring::new(&config.master_key, &config.previous_master_keys);
    let n = axis_crm::connections::server::rotate_secrets(&db, &keyring)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Re-encrypted {n} secret(s) under master key {}.",
        keyring.current_id()
    );
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM: in-flight requests finish, new ones are refused.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

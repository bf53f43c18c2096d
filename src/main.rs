//! The `axis-crm` server: configuration, database, migrations, router, serve. Nothing else.

use anyhow::{bail, Context};
use axis_crm::server::{self, config::Config};
use std::{net::SocketAddr, process::ExitCode};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: axis-crm [serve]\n\n  serve   run the web server (the default)\n\nSettings come from the environment; see README.md.";

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
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

async fn serve() -> anyhow::Result<()> {
    let leptos = leptos::config::get_configuration(None).context("reading the Leptos settings")?;
    let options = leptos.leptos_options;
    let addr = options.site_addr;
    let config = Config::from_env(addr)?;
    tracing::info!(env = ?config.env, database = %server::db::redact_url(&config.database_url), public_url = %config.public_url, "starting");

    let state = server::prepare(config, options).await?;
    let housekeeping = server::spawn_housekeeping(&state);
    let app = server::router(state.clone());

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
    state.db.pool.close().await;
    tracing::info!("stopped");
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

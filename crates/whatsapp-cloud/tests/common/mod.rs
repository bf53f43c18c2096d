#![allow(dead_code)]
use axum::{body::Bytes, http::HeaderMap, routing::post, Router};
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};
use tokio::sync::Mutex;
use whatsapp_cloud::{
    sandbox::{NewAccount, Sandbox, SandboxAccount, SandboxConfig},
    GraphClient, GraphConfig, SecretString,
};

pub struct Env {
    pub sandbox: Sandbox,
    pub client: GraphClient,
    pub account: SandboxAccount,
    pub base: String,
    pub hooks: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl Env {
    pub fn token(&self) -> SecretString {
        SecretString::from(self.account.access_token.clone())
    }

    /// Waits until `n` webhooks have arrived (or panics after 10 s).
    pub async fn wait_hooks(&self, n: usize) -> Vec<(HeaderMap, Bytes)> {
        for _ in 0..200 {
            let got = self.hooks.lock().await.clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {n} webhooks, got {}",
            self.hooks.lock().await.len()
        );
    }
}

pub async fn env(config: SandboxConfig, temporary: bool) -> Env {
    let hooks: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let sink = hooks.clone();
    let receiver = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().await.push((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let sandbox = Sandbox::new(config);
    let (base, _) = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let account = sandbox.create_account(NewAccount {
        temporary_token: temporary,
        webhook_url: Some(hook_url),
        ..Default::default()
    });
    let mut cfg = GraphConfig::new(base.clone(), "v23.0");
    cfg.timeout = Duration::from_secs(2);
    let client = GraphClient::new(cfg).unwrap();
    Env {
        sandbox,
        client,
        account,
        base,
        hooks,
    }
}

pub fn fast() -> SandboxConfig {
    SandboxConfig {
        status_delay: Duration::from_millis(20),
        template_review: Duration::from_millis(50),
        slow_delay: Duration::from_secs(5),
        record_exchanges: true,
        ..Default::default()
    }
}

pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec()
}

/// A webhook receiver that answers 500 to its first `refuse` POSTs (`usize::MAX`: always).
pub struct Receiver {
    pub url: String,
    /// Every POST, refused or not.
    pub attempts: Arc<AtomicUsize>,
    /// The accepted ones.
    pub accepted: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl Receiver {
    pub async fn start(refuse: usize) -> Self {
        let attempts = Arc::new(AtomicUsize::new(0));
        let accepted: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
        let (a, sink) = (attempts.clone(), accepted.clone());
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let (a, sink) = (a.clone(), sink.clone());
                async move {
                    if a.fetch_add(1, Ordering::SeqCst) < refuse {
                        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down");
                    }
                    sink.lock().await.push((headers, body));
                    (axum::http::StatusCode::OK, "ok")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url,
            attempts,
            accepted,
        }
    }

    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }

    /// Waits until `n` webhooks were accepted (or panics after 10 s).
    pub async fn wait(&self, n: usize) -> Vec<(HeaderMap, Bytes)> {
        for _ in 0..200 {
            let got = self.accepted.lock().await.clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {n} accepted webhooks, got {}",
            self.accepted.lock().await.len()
        );
    }
}

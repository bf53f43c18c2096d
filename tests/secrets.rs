//! The access token and app secret never appear in an HTTP response, a log line, or a database
//! column in plain text, whatever the user does with the connection.
//!
//! One test in its own binary: it installs a global log subscriber at TRACE for every crate
//! (sqlx, hyper, reqwest included) and keeps every line.

// The world the other integration tests (tests/it/) use.
#[path = "it/common/mod.rs"]
mod common;

use axum::http::StatusCode;
use common::{reads::CONNECTIONS_TABLE, world::World, Backend, Client};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use whatsapp_cloud::sandbox::NewAccount;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_appear_in_no_response_log_or_column() {
    let logs = Captured::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .init();

    for backend in [Backend::Sqlite, Backend::Postgres] {
        let w = World::builder(backend)
            .account(NewAccount {
                temporary_token: true,
                ..Default::default()
            })
            .user("Ana", "Silva Lettings", "ana@example.com")
            .build()
            .await;
        let (meta, account) = (w.sandbox(), w.account());
        let mut b = w.browser();
        // The sign-up's response first.
        let mut responses = w.setup_responses.clone();

        // Everything a user can do with the connection, failures included.
        let form = |token: &str| {
            vec![
                ("phone_number_id", account.phone_number_id.clone()),
                ("access_token", token.to_string()),
                ("business_account_id", account.business_account_id.clone()),
                ("phone_number", String::new()),
                ("app_id", account.app_id.clone()),
                ("app_secret", account.app_secret.clone()),
            ]
        };
        for (i, token) in [
            account.access_token.clone(),
            format!("{}x", account.access_token),
        ]
        .iter()
        .rev()
        .enumerate()
        {
            let f = form(token);
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let client = if i == 0 {
                Client::PlainForm {
                    referer: "/settings/whatsapp",
                }
            } else {
                Client::Wasm
            };
            responses.push(b.call("whatsapp/connect", &pairs, client).await);
        }
        responses.push(b.call("whatsapp/get", &[], Client::Wasm).await);
        responses.push(b.call("whatsapp/test", &[], Client::Wasm).await);
        responses.push(b.get("/settings/whatsapp").await);
        let fresh = meta.issue_token(account, false);
        responses.push(
            b.call(
                "whatsapp/replace_token",
                &[("access_token", fresh.as_str())],
                Client::Wasm,
            )
            .await,
        );
        // Sending: a template submitted (with its resumable upload), the tenant's reply and the
        // statuses arriving as signed webhooks, an invoice through the outbox worker.
        w.point_webhooks_at(&w.site).await;
        responses.push(b.call("invoices/sample", &[], Client::Wasm).await);
        responses.push(b.call("whatsapp/templates/create", &[], Client::Wasm).await);
        meta.simulate_inbound(&account.phone_number_id, "+447911123458", "Hello");
        let invoice = w.invoice_id("INV-0003").await;
        let start = Instant::now();
        w.wait_for_within("the reply", Duration::from_secs(15), || async {
            w.reads().tenants_heard_from().await > 0
        })
        .await;
        let id = invoice.to_string();
        responses.push(
            b.call(
                "whatsapp/send",
                &[("invoice_id", id.as_str())],
                Client::Wasm,
            )
            .await,
        );
        let limit = Duration::from_secs(30).saturating_sub(start.elapsed());
        w.drive_within("the invoice to be read", limit, || async {
            w.reads().sends_in_state("read").await > 0
        })
        .await;
        responses.push(
            b.call(
                "whatsapp/history",
                &[("invoice_id", id.as_str())],
                Client::Wasm,
            )
            .await,
        );
        responses.push(b.call("whatsapp/sending", &[], Client::Wasm).await);
        meta.expire_token(&fresh);
        responses.push(b.call("whatsapp/test", &[], Client::Wasm).await);
        responses.push(b.get("/settings/whatsapp").await);
        assert_eq!(
            responses[2].status,
            StatusCode::OK,
            "the good connect worked: {}",
            responses[2].body
        );

        let secrets = [
            account.access_token.as_str(),
            fresh.as_str(),
            account.app_secret.as_str(),
        ];
        for r in &responses {
            let headers = format!("{:?}", r.headers);
            for s in secrets {
                assert!(
                    !r.body.contains(s) && !headers.contains(s),
                    "a secret reached a response: {}",
                    r.body
                );
            }
        }

        // Every text column of every table (but sqlx's own bookkeeping, which holds only the
        // migrations' SQL).
        let scan = w.reads().text_cells(backend).await;
        assert!(scan.tables.iter().any(|t| t == CONNECTIONS_TABLE));
        for (t, text) in &scan.cells {
            for s in secrets {
                assert!(!text.contains(s), "a secret sits in plain text in {t}");
            }
        }
        let cells = scan.cells.len();
        assert!(
            cells > 20,
            "the scan read the database ({cells} text cells)"
        );
        w.close().await;
    }

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        text.lines().count() > 100,
        "logs were captured ({} lines)",
        text.lines().count()
    );
    assert!(
        text.contains("WhatsApp connected"),
        "the app's own events are in the capture"
    );
    // The sandbox standing in for Meta ran in this process too; nothing anywhere logged a secret.
    for line in text.lines() {
        assert!(!line.contains("SANDBOX"), "a token reached the log: {line}");
    }
}

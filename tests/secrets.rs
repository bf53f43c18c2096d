//! The access token and app secret never appear in an HTTP response, a log line, or a database
//! column in plain text, whatever the user does with the connection.
//!
//! One test in its own binary: it installs a global log subscriber at TRACE for every crate
//! (sqlx, hyper, reqwest included) and keeps every line.

mod common;

use axum::http::StatusCode;
use common::{fake_meta, Backend, Client, TestApp};
use sqlx::Row;
use std::sync::{Arc, Mutex};
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
        let (meta, base) = fake_meta().await;
        let account = meta.create_account(NewAccount {
            temporary_token: true,
            ..Default::default()
        });
        let app = TestApp::with_env(backend, &[("WHATSAPP_GRAPH_URL", &base)]).await;
        let mut b = app.browser();
        let mut responses = Vec::new();
        responses.push(
            b.signup(
                "Ana",
                "Silva Lettings",
                "ana@example.com",
                "correct horse battery",
            )
            .await,
        );

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
        let fresh = meta.issue_token(&account, false);
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
        let site = app.serve().await;
        let key: String = sqlx::query_scalar("SELECT webhook_key FROM whatsapp_connections")
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
        meta.set_webhook(
            &account.app_id,
            Some(format!("{site}/webhooks/whatsapp/{key}")),
        );
        responses.push(b.call("invoices/sample", &[], Client::Wasm).await);
        responses.push(b.call("whatsapp/templates/create", &[], Client::Wasm).await);
        meta.simulate_inbound(&account.phone_number_id, "+447911123458", "Hello");
        let invoice: i64 = sqlx::query_scalar("SELECT id FROM invoices WHERE number = 'INV-0003'")
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
        let start = std::time::Instant::now();
        while app
            .count("SELECT COUNT(*) FROM tenants WHERE last_inbound_at IS NOT NULL")
            .await
            == 0
        {
            assert!(start.elapsed().as_secs() < 15, "the reply arrived");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let id = invoice.to_string();
        responses.push(
            b.call(
                "whatsapp/send",
                &[("invoice_id", id.as_str())],
                Client::Wasm,
            )
            .await,
        );
        while app
            .count("SELECT COUNT(*) FROM whatsapp_sends WHERE state = 'read'")
            .await
            == 0
        {
            axis_crm::server::outbox::run_due(&app.state).await.unwrap();
            assert!(start.elapsed().as_secs() < 30, "the invoice was read");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
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

        // Every text column of every table.
        let tables: Vec<String> = match backend {
            Backend::Sqlite => {
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(&app.state.db.pool)
                    .await
                    .unwrap()
            }
            Backend::Postgres => sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
            )
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap(),
        };
        assert!(tables.iter().any(|t| t == "whatsapp_connections"));
        let mut cells = 0;
        // sqlx's own bookkeeping holds only the migrations' SQL (and a timestamp type Any can't read).
        for t in tables
            .iter()
            .filter(|t| *t != "_sqlx_migrations" && *t != "sqlite_sequence")
        {
            let rows = sqlx::query(&format!("SELECT * FROM {t}"))
                .fetch_all(&app.state.db.pool)
                .await
                .unwrap();
            for row in rows {
                for i in 0..row.len() {
                    if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
                        cells += 1;
                        for s in secrets {
                            assert!(!text.contains(s), "a secret sits in plain text in {t}");
                        }
                    }
                }
            }
        }
        assert!(
            cells > 20,
            "the scan read the database ({cells} text cells)"
        );
        app.close().await;
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

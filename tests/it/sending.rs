//! Sending invoices over WhatsApp, end to end against a sandbox standing in for Meta: the
//! outbox, the worker, the webhooks and what the pages are told. Each test runs on SQLite and
//! on PostgreSQL.

use crate::common;

use common::{
    reads::Reads,
    world::{World, WorldBuilder},
    Backend, Client, FAST,
};
use std::time::Duration;
use whatsapp_cloud::sandbox::Fault;

/// A user connected to a fake Meta with sample data, webhooks pointed at the app, and the
/// invoice template created and approved; the outbox's timings made short.
fn world(backend: Backend) -> WorldBuilder {
    World::builder(backend)
        .env(FAST)
        .sandbox_config(|c| {
            c.status_delay = Duration::from_millis(30);
            c.template_review = Duration::from_millis(50);
            c.slow_delay = Duration::from_secs(3);
        })
        .connected()
        .with_sample_data()
        .with_template()
}

async fn document_inside_the_window(backend: Backend) {
    let w = world(backend).build().await;
    w.tenant_writes("INV-0003", "Got it, thanks").await;
    let r = w.send_invoice("INV-0003").await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(w.state_of("INV-0003").await, "queued");
    w.drive("read", || async { w.state_of("INV-0003").await == "read" })
        .await;
    let sent = w.accepted_for("INV-0003").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "document");
    assert_eq!(sent[0].body["document"]["filename"], "INV-0003.pdf");
    assert!(sent[0].body["document"]["caption"]
        .as_str()
        .unwrap()
        .contains("Invoice INV-0003 from Harbour Lettings"));
    assert_eq!(sent[0].to, "+447911123458");
    // The wamid, the tenant's wa_id and each status's time are kept; the attempt is listed.
    let invoice = w.invoice_id("INV-0003").await;
    let send = w.reads().send_of(invoice).await.unwrap();
    assert_eq!(send.message_id.as_deref(), Some(sent[0].wamid.as_str()));
    assert_eq!(
        w.reads()
            .tenant_provider_id("+447911123458")
            .await
            .as_deref(),
        Some("447911123458")
    );
    assert_eq!(w.reads().sends_with_every_status_time().await, 1);
    let id = invoice.to_string();
    let history = w
        .call("whatsapp/history", &[("invoice_id", id.as_str())])
        .await
        .json();
    assert_eq!(history[0]["badge"]["state"], "read");
    assert_eq!(history[0]["attempts"][0]["outcome"], "accepted");
    // Inside the window it is one service message, billable since 1 October 2026.
    let usage = w.call("whatsapp/sending", &[]).await.json();
    assert_eq!(usage["usage"]["total"], 1);
    assert_eq!(usage["usage"]["billable"], 1);
    assert_eq!(usage["usage"]["by_category"][0][0], "service");
    w.close().await;
}

async fn template_outside_the_window(backend: Backend) {
    let w = world(backend).build().await;
    let id = w.invoice_id("INV-0003").await.to_string();
    let preview = w
        .call("whatsapp/preview", &[("invoice_id", id.as_str())])
        .await
        .json();
    assert_eq!(preview["kind"], "template");
    assert!(preview["message"].as_str().unwrap().contains("INV-0003"));
    assert!(preview["blocker"].is_null());
    w.send_invoice("INV-0003").await;
    w.drive("read", || async { w.state_of("INV-0003").await == "read" })
        .await;
    let sent = w.accepted_for("INV-0003").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "template");
    let t = &sent[0].body["template"];
    assert_eq!(t["name"], "axis_invoice_pdf");
    assert_eq!(t["components"][0]["parameters"][0]["type"], "document");
    assert_eq!(
        t["components"][0]["parameters"][0]["document"]["filename"],
        "INV-0003.pdf"
    );
    let body: Vec<&str> = t["components"][1]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(body.len(), 4);
    assert_eq!(body[0], "Иван Петров");
    assert_eq!(body[1], "INV-0003");
    // A template outside the window is billed.
    let usage = w.call("whatsapp/sending", &[]).await.json();
    assert_eq!(usage["usage"]["billable"], 1);
    assert_eq!(usage["usage"]["by_category"][0][0], "utility");
    w.close().await;
}

async fn a_refused_document_goes_again_as_the_template(backend: Backend) {
    let w = world(backend).build().await;
    // The app believes the tenant wrote recently; Meta knows better and refuses with 131047.
    w.stage()
        .every_tenant_wrote_at(axis_crm::platform::db::now())
        .await;
    w.send_invoice("INV-0003").await;
    w.drive("read", || async { w.state_of("INV-0003").await == "read" })
        .await;
    let kinds: Vec<String> = w
        .accepted_for("INV-0003")
        .await
        .into_iter()
        .map(|s| s.kind)
        .collect();
    assert_eq!(kinds, ["document", "template"]);
    let attempts = w.reads().attempts().await;
    assert_eq!(
        attempts
            .iter()
            .filter(|a| a.outcome == "fallback" && a.error_code == Some(131047))
            .count(),
        1
    );
    // Still one send for the invoice: the fallback is part of it.
    assert_eq!(w.reads().send_count().await, 1);
    w.close().await;
}

async fn retryable_errors_are_retried_and_send_once(backend: Backend) {
    let w = world(backend).build().await;
    let pnid = w.account().phone_number_id.clone();
    for fault in [
        Fault::ServerError,
        Fault::BadGateway,
        Fault::Api {
            code: 131000,
            subcode: None,
            status: 500,
        },
        Fault::Api {
            code: 2,
            subcode: None,
            status: 503,
        },
        Fault::Api {
            code: 4,
            subcode: None,
            status: 400,
        },
        Fault::Api {
            code: 80007,
            subcode: None,
            status: 400,
        },
        Fault::Api {
            code: 130429,
            subcode: None,
            status: 400,
        },
    ] {
        w.sandbox().inject_messages(fault, 1, &pnid);
    }
    // An upload failure is retried too.
    w.sandbox().inject(Fault::ServerError, 1, Some(&pnid));
    w.send_invoice("INV-0003").await;
    w.drive("read", || async { w.state_of("INV-0003").await == "read" })
        .await;
    assert_eq!(w.accepted_for("INV-0003").await.len(), 1);
    assert_eq!(w.reads().attempts_with_outcome("retry").await, 8);
    w.close().await;
}

async fn the_pair_limit_waits_longer(backend: Backend) {
    let w = world(backend)
        .env(&[("WHATSAPP_PAIR_INTERVAL_SECS", "1")])
        .build()
        .await;
    w.sandbox().inject_messages(
        Fault::Api {
            code: 131056,
            subcode: None,
            status: 400,
        },
        1,
        &w.account().phone_number_id,
    );
    w.send_invoice("INV-0003").await;
    axis_crm::sending::server::outbox::run_due(&w.app.state)
        .await
        .unwrap();
    // Retried no sooner than the pair interval.
    let send = w
        .reads()
        .send_of(w.invoice_id("INV-0003").await)
        .await
        .unwrap();
    let wait = send.next_attempt_at - send.updated_at;
    assert!(wait >= 1, "{wait}");
    assert_eq!(send.error_title.as_deref(), Some("Rate limit exceeded"));
    w.drive("read", || async { w.state_of("INV-0003").await == "read" })
        .await;
    // Two invoices to the same tenant: the second waits for the pair interval.
    w.send_invoice("INV-0001").await; // Ana (paid)
    w.send_invoice("INV-0008").await; // Ana again
    w.drive("both read", || async {
        w.state_of("INV-0001").await == "read" && w.state_of("INV-0008").await == "read"
    })
    .await;
    let a = w.accepted_for("INV-0001").await[0].at;
    let b = w.accepted_for("INV-0008").await[0].at;
    assert!((b - a).abs() >= 1, "{a} {b}");
    w.close().await;
}

async fn final_errors_stop_with_guidance(backend: Backend) {
    let w = world(backend).build().await;
    // Tom's number ends in 0000: Meta takes the message, then reports 131026 by webhook.
    w.send_invoice("INV-0005").await;
    w.drive("failed", || async {
        w.state_of("INV-0005").await == "failed"
    })
    .await;
    let invoice = w.invoice_id("INV-0005").await;
    let send = w.reads().send_of(invoice).await.unwrap();
    assert_eq!(send.error_title.as_deref(), Some("Failed to send message"));
    assert_eq!(send.error_anchor.as_deref(), Some("failed-to-send-message"));
    let id = invoice.to_string();
    let history = w
        .call("whatsapp/history", &[("invoice_id", id.as_str())])
        .await
        .json();
    assert_eq!(history[0]["problem"]["code"], 131026);
    assert!(history[0]["problem"]["steps"][0]
        .as_str()
        .unwrap()
        .contains("E.164"));
    // Refused at once: an invalid token and a test-number recipient are not retried.
    for (number, code) in [("INV-0003", 190), ("INV-0008", 131030)] {
        w.sandbox().inject_messages(
            Fault::Api {
                code,
                subcode: None,
                status: 400,
            },
            1,
            &w.account().phone_number_id,
        );
        w.send_invoice(number).await;
        w.drive("failed", || async { w.state_of(number).await == "failed" })
            .await;
        assert!(w.accepted_for(number).await.is_empty());
    }
    assert_eq!(w.reads().attempts_with_outcome("retry").await, 0);
    // A failed send may be retried.
    let r = w.send_invoice("INV-0008").await;
    assert!(r.status.is_success(), "{}", r.body);
    w.close().await;
}

async fn a_lost_answer_is_reconciled_not_resent(backend: Backend) {
    let w = world(backend).build().await;
    w.sandbox()
        .inject_messages(Fault::LostResponse, 1, &w.account().phone_number_id);
    w.send_invoice("INV-0003").await;
    w.drive("read", || async { w.state_of("INV-0003").await == "read" })
        .await;
    // Meta took it once; the webhook told the app so; it was not sent again.
    assert_eq!(w.accepted_for("INV-0003").await.len(), 1);
    assert_eq!(w.reads().attempts_with_outcome("unknown").await, 1);
    let send = w
        .reads()
        .send_of(w.invoice_id("INV-0003").await)
        .await
        .unwrap();
    assert!(send.message_id.is_some());
    w.close().await;
}

async fn no_double_sends(backend: Backend) {
    let w = world(backend).build().await;
    assert!(w.send_invoice("INV-0003").await.status.is_success());
    let again = w.send_invoice("INV-0003").await;
    assert_eq!(again.status, 422);
    assert!(again.body.contains("already on its way"), "{}", again.body);
    w.drive("read", || async { w.state_of("INV-0003").await == "read" })
        .await;
    let third = w.send_invoice("INV-0003").await;
    assert!(third.body.contains("Send again"), "{}", third.body);
    let id = w.invoice_id("INV-0003").await.to_string();
    let r = w
        .call(
            "whatsapp/send",
            &[("invoice_id", id.as_str()), ("again", "1")],
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    w.drive("second read", || async {
        w.reads().sends_in_state("read").await == 2
    })
    .await;
    assert_eq!(w.accepted_for("INV-0003").await.len(), 2);
    // Drafts, void invoices and tenants without a mobile number cannot be sent.
    for (number, why) in [
        ("INV-0004", "draft"),
        ("INV-0006", "fixed line"),
        ("INV-0007", "no phone number"),
    ] {
        let r = w.send_invoice(number).await;
        assert_eq!(r.status, 422, "{number}");
        assert!(r.body.contains(why), "{number}: {}", r.body);
    }
    // Another user cannot send mine.
    let mut other = w.app.browser();
    other
        .signup(
            "Eve",
            "Eve Lets",
            "eve@example.com",
            "correct horse battery",
        )
        .await;
    let r = other
        .call(
            "whatsapp/send",
            &[("invoice_id", id.as_str())],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.status, 404);
    w.close().await;
}

async fn webhooks_are_checked_and_idempotent(backend: Backend) {
    let w = world(backend).build().await;
    let wamid = w.accepted_then_alone("INV-0003").await;
    let invoice = w.invoice_id("INV-0003").await;
    let secret = w.account().app_secret.clone();
    // Meta's times, a few minutes ago (times far from now are refused as implausible).
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 600;
    let st = |s: &str, t: i64| serde_json::json!({"id": wamid, "status": s, "timestamp": (t0 + t).to_string(), "recipient_id": "447911123458"});
    // Bad or missing signatures change nothing.
    let read = w.status_body(&[st("read", 300)]);
    assert_eq!(w.post_webhook(&read, None).await, 401);
    assert_eq!(w.post_webhook(&read, Some("wrong secret")).await, 401);
    assert_eq!(w.state_of("INV-0003").await, "accepted");
    // Out of order and duplicated, in one batch and across deliveries: read wins.
    assert_eq!(w.post_webhook(&read, Some(&secret)).await, 200);
    let rest = w.status_body(&[st("delivered", 200), st("sent", 100), st("read", 300)]);
    assert_eq!(w.post_webhook(&rest, Some(&secret)).await, 200);
    assert_eq!(w.post_webhook(&rest, Some(&secret)).await, 200);
    assert_eq!(w.state_of("INV-0003").await, "read");
    let send = w.reads().send_of(invoice).await.unwrap();
    assert_eq!(
        send.sent_at.unwrap() + send.delivered_at.unwrap() + send.read_at.unwrap(),
        3 * t0 + 100 + 200 + 300
    );
    // An unknown webhook key is 404; the GET handshake needs the connection's verify token.
    let unknown = reqwest::Client::new()
        .post(format!("{}/webhooks/whatsapp/nope", w.site))
        .body(read.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let connection = w.reads().connection().await;
    let token = w
        .app
        .state
        .keyring
        .decrypt(
            &connection.verify_token_sealed,
            &Reads::secret_context("verify_token", connection.user_id),
        )
        .unwrap();
    use secrecy::ExposeSecret;
    let url = |t: &str| {
        format!(
            "{}/webhooks/whatsapp/{}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={t}",
            w.site,
            w.webhook_key()
        )
    };
    let ok = reqwest::get(url(token.expose_secret())).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    assert_eq!(reqwest::get(url("guess")).await.unwrap().status(), 403);
    let page = w.call("whatsapp/get", &[]).await.json();
    assert!(page["connection"]["webhook_verified_text"].is_string());
    assert!(page["connection"]["webhook_event_text"].is_string());
    w.close().await;
}

async fn replies_open_the_window_and_are_logged(backend: Backend) {
    let w = world(backend).build().await;
    w.tenant_writes("INV-0003", "Got it, thanks").await;
    let tenant = w
        .reads()
        .tenant_of(w.invoice_id("INV-0003").await)
        .await
        .to_string();
    let m = w
        .call("tenants/messages", &[("tenant_id", tenant.as_str())])
        .await
        .json();
    assert!(
        m["window_left"].as_str().unwrap().starts_with("23 h")
            || m["window_left"].as_str().unwrap().starts_with("24 h")
    );
    assert_eq!(m["messages"][0][2], "Got it, thanks");
    let id = w.invoice_id("INV-0003").await.to_string();
    let preview = w
        .call("whatsapp/preview", &[("invoice_id", id.as_str())])
        .await
        .json();
    assert_eq!(preview["kind"], "document");
    w.close().await;
}

async fn bulk_sends_queue_many_with_progress(backend: Backend) {
    let w = world(backend).build().await;
    let r = w
        .call("whatsapp/bulk", &[("which", "overdue")])
        .await
        .json();
    assert_eq!(r["queued"], 1, "{r}"); // INV-0002 is the only overdue invoice
    let (a, b, c, d) = (
        w.invoice_id("INV-0002").await.to_string(),
        w.invoice_id("INV-0003").await.to_string(),
        w.invoice_id("INV-0004").await.to_string(),
        w.invoice_id("INV-0008").await.to_string(),
    );
    let r = w
        .call(
            "whatsapp/bulk",
            &[
                ("which", "selected"),
                ("ids[]", &a),
                ("ids[]", &b),
                ("ids[]", &c),
                ("ids[]", &d),
            ],
        )
        .await
        .json();
    assert_eq!(r["queued"], 2, "{r}");
    let skipped = r["skipped"].to_string();
    assert!(
        skipped.contains("INV-0002") && skipped.contains("INV-0004"),
        "{skipped}"
    );
    let news = w
        .call("whatsapp/news", &[("ids[]", &b), ("ids[]", &d)])
        .await
        .json();
    assert_eq!(news["batch"]["total"], 2);
    assert_eq!(news["batch"]["waiting"], 2);
    w.drive("all read", || async {
        w.reads().sends_in_state("read").await == 3
    })
    .await;
    let news = w.call("whatsapp/news", &[("ids[]", &b)]).await.json();
    assert_eq!(news["batch"]["done"], 2);
    assert_eq!(news["badges"][0][1]["state"], "read");
    w.close().await;
}

/// Two server instances on one database: their workers never take the same send.
async fn two_instances_share_the_outbox(backend: Backend) {
    let w = world(backend).build().await;
    let first = &w.app.state;
    let second = w.another_instance().await;
    // Every sendable sample invoice, twice over (a second "Send again" round), from both workers.
    let numbers = ["INV-0001", "INV-0002", "INV-0003", "INV-0008"];
    for n in numbers {
        assert!(w.send_invoice(n).await.status.is_success());
    }
    let run = |st: axis_crm::platform::AppState| async move {
        for _ in 0..40 {
            axis_crm::sending::server::outbox::run_due(&st)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    tokio::join!(run(first.clone()), run(second.clone()));
    w.drive("all read", || async {
        w.reads().sends_in_state("read").await == 4
    })
    .await;
    for n in numbers {
        assert_eq!(w.accepted_for(n).await.len(), 1, "{n}");
    }
    second.db.pool.close().await;
    w.close().await;
}

/// Meta can approve a utility template at once: its status webhook may come before the app has
/// stored the template it just created. The approval must not be lost.
async fn a_template_approved_at_once_is_approved(backend: Backend) {
    let w = World::builder(backend)
        .env(FAST)
        .sandbox_config(|c| {
            c.template_review = Duration::ZERO;
            c.template_answer_delay = Duration::from_millis(500);
        })
        .connected()
        .with_template() // waits (within PATIENCE) for the approval to be stored
        .build()
        .await;
    assert!(w
        .reads()
        .approved_templates()
        .await
        .iter()
        .any(|t| t == "axis_invoice_pdf"));
    w.close().await;
}

per_backend!(
    a_template_approved_at_once_is_approved,
    two_instances_share_the_outbox,
    document_inside_the_window,
    template_outside_the_window,
    a_refused_document_goes_again_as_the_template,
    retryable_errors_are_retried_and_send_once,
    the_pair_limit_waits_longer,
    final_errors_stop_with_guidance,
    a_lost_answer_is_reconciled_not_resent,
    no_double_sends,
    webhooks_are_checked_and_idempotent,
    replies_open_the_window_and_are_logged,
    bulk_sends_queue_many_with_progress,
);

//! A newcomer's first send with the built-in sandbox ("Use sandbox"): the account starts with
//! the invoice template approved, so nothing waits for a review; and a restart of the server
//! (the sandbox lives in memory) loses neither the template nor the 24-hour windows.

use crate::common::{world::World, Backend};
use axum::http::StatusCode;
use whatsapp_cloud::sandbox::Sandbox;

fn builtin(w: &World) -> Sandbox {
    w.state()
        .meta
        .sandbox
        .as_ref()
        .expect("the built-in sandbox runs")
        .sandbox
        .clone()
}

/// Points the built-in sandbox's webhooks at the world's served app (by default they go to the
/// server's own address, which the tests do not listen on).
async fn webhooks_to_the_world(w: &World) {
    let key = w.reads().webhook_key(w.user_id()).await;
    let page = w.call("whatsapp/get", &[]).await.json();
    let app_id = page["connection"]["app_id"]
        .as_str()
        .expect("an app id")
        .to_string();
    builtin(w).set_webhook(&app_id, Some(format!("{}/webhooks/whatsapp/{key}", w.site)));
}

/// What the sandbox accepted for the invoice numbered `number`: "template" or "document".
async fn accepted_kinds(w: &World, number: &str) -> Vec<String> {
    let id = w.invoice_id(number).await;
    let sends = w.reads().send_ids(id).await;
    builtin(w)
        .sent()
        .iter()
        .filter(|s| {
            s.callback
                .as_deref()
                .and_then(axis_crm::sending::server::outbox::parse_callback)
                .is_some_and(|(send, _)| sends.contains(&send))
        })
        .map(|s| s.body["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Sends the invoice and waits until WhatsApp reports it delivered, as a `kind` message.
async fn sent_as(w: &World, number: &str, kind: &str) {
    let r = w.send_invoice(number).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Accepted is not enough: a document outside the window is refused later, by webhook
    // (131047), as Meta refuses it.
    w.drive(&format!("{number} delivered"), || async {
        let state = w.state_of(number).await;
        assert_ne!(state, "failed", "{number}: {}", w.diagnosis().await);
        state == "delivered" || state == "read"
    })
    .await;
    assert_eq!(accepted_kinds(w, number).await, [kind], "{number}");
}

async fn sandbox_first_send_needs_no_review_and_survives_a_restart(backend: Backend) {
    let mut w = World::builder(backend).with_sample_data().build().await;
    let r = w.call("whatsapp/sandbox", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    webhooks_to_the_world(&w).await;

    // The invoice template is there, approved and chosen, before anything else happens.
    assert_eq!(
        w.reads().approved_templates().await,
        ["axis_invoice_pdf", "hello_world"]
    );
    let settings = w.call("whatsapp/sending", &[]).await.json();
    assert_eq!(settings["chosen"], "axis_invoice_pdf (en)");
    let preview = w
        .call(
            "whatsapp/preview",
            &[("invoice_id", &w.invoice_id("INV-0003").await.to_string())],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(preview.json()["blocker"].is_null(), "{}", preview.body);

    // INV-0003's tenant never wrote: the template carries the PDF.
    sent_as(&w, "INV-0003", "template").await;

    // INV-0008's tenant writes back, which opens their window.
    let tenant = w.reads().tenant_of(w.invoice_id("INV-0008").await).await;
    let r = w
        .call(
            "whatsapp/sandbox_reply",
            &[("tenant_id", &tenant.to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    w.wait_for("the reply", || async {
        w.reads().tenant_last_inbound("INV-0008").await.is_some()
    })
    .await;

    // The server stops and starts again: a new, empty sandbox, given back what the app stored.
    w.app.restart().await;
    w.site = w.app.serve().await;
    webhooks_to_the_world(&w).await;

    // The template still sends (without it: 132001), and the tenant who wrote still gets the
    // PDF as a document inside their window (without it: 131047).
    sent_as(&w, "INV-0002", "template").await;
    sent_as(&w, "INV-0008", "document").await;
    w.close().await;
}

per_backend!(sandbox_first_send_needs_no_review_and_survives_a_restart);

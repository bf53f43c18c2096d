//! The invoice template's life at Meta: paused, archived, moved to MARKETING or idle for
//! nearly a year. Each shows on the settings page with what to do, blocks the confirmation
//! page with the same words, and a send that meets it fails saying so, never silently.

use crate::common;
use common::{world::World, Backend, FAST};
use std::time::Duration;

const TEMPLATE: &str = "axis_invoice_pdf";

fn world(backend: Backend) -> common::world::WorldBuilder {
    World::builder(backend)
        .env(FAST)
        .sandbox_config(|c| {
            c.status_delay = Duration::from_millis(30);
            c.template_review = Duration::from_millis(50);
        })
        .connected()
        .with_sample_data()
        .with_template()
}

async fn notice(w: &World) -> Option<String> {
    let s = w.call("whatsapp/sending", &[]).await.json();
    s["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == TEMPLATE)
        .and_then(|t| t["notice"].as_str().map(str::to_string))
}

async fn blocker_of(w: &World, number: &str) -> serde_json::Value {
    let id = w.invoice_id(number).await.to_string();
    w.call("whatsapp/preview", &[("invoice_id", id.as_str())])
        .await
        .json()["blocker"]
        .clone()
}

async fn archived_paused_and_recategorised_templates_are_told(backend: Backend) {
    let w = world(backend).build().await;
    let waba = w.account().business_account_id.clone();
    assert_eq!(notice(&w).await, None);
    assert!(blocker_of(&w, "INV-0003").await.is_null());

    // Archived: the settings page and the confirmation page say so, and a send fails with it.
    w.sandbox()
        .simulate_template_change(&waba, TEMPLATE, "en", Some("ARCHIVED"), None)
        .await;
    w.wait_for("the archived notice", || async {
        notice(&w).await.is_some_and(|n| n.contains("archived"))
    })
    .await;
    let b = blocker_of(&w, "INV-0003").await;
    assert_eq!(b["short"], "Template archived", "{b}");
    assert!(b["reason"].as_str().unwrap().contains("WhatsApp Manager"));
    let r = w.send_invoice("INV-0003").await;
    assert!(r.status.is_success(), "{}", r.body);
    let invoice = w.invoice_id("INV-0003").await;
    w.drive("the send to fail", || async {
        w.state_of("INV-0003").await == "failed"
    })
    .await;
    let send = w.reads().send_of(invoice).await.unwrap();
    assert_eq!(
        send.error_title.as_deref(),
        Some("Invoice template archived by Meta")
    );
    assert_eq!(send.error_anchor.as_deref(), Some("template-problems"));
    assert!(w.accepted_for("INV-0003").await.is_empty());

    // Unarchived, but moved to MARKETING.
    w.sandbox()
        .simulate_template_change(&waba, TEMPLATE, "en", Some("UNARCHIVED"), Some("MARKETING"))
        .await;
    w.wait_for("the marketing notice", || async {
        notice(&w).await.is_some_and(|n| n.contains("MARKETING"))
    })
    .await;
    assert_eq!(blocker_of(&w, "INV-0002").await["short"], "Now marketing");

    // Paused: Meta's pause title is kept as the reason.
    w.sandbox()
        .simulate_template_change(&waba, TEMPLATE, "en", Some("PAUSED"), Some("UTILITY"))
        .await;
    w.wait_for("the paused notice", || async {
        notice(&w).await.is_some_and(|n| n.contains("paused"))
    })
    .await;
    let s = w.call("whatsapp/sending", &[]).await.json();
    let t = s["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == TEMPLATE)
        .unwrap()
        .clone();
    assert_eq!(
        (t["status"].as_str(), t["reason"].as_str()),
        (Some("PAUSED"), Some("FIRST_PAUSE"))
    );
    assert_eq!(blocker_of(&w, "INV-0002").await["short"], "Template paused");
    w.close().await;
}

/// Meta archives a template after 12 months without use: a month before, the settings page
/// warns; a send with the template counts as use and ends the warning.
async fn an_idle_template_is_warned_before_it_is_archived(backend: Backend) {
    let w = world(backend).build().await;
    w.stage().templates_idle_for(340).await;
    let n = notice(&w).await.expect("a warning");
    assert!(
        n.contains("Meta archives templates after 12 months without use"),
        "{n}"
    );
    assert!(n.contains("in about 25 days"), "{n}");
    // Still sendable meanwhile: the invoice goes as the template, which is activity.
    w.send_invoice("INV-0003").await;
    w.drive("accepted", || async {
        matches!(
            w.state_of("INV-0003").await.as_str(),
            "accepted" | "sent" | "delivered" | "read"
        )
    })
    .await;
    assert_eq!(w.accepted_for("INV-0003").await[0].kind, "template");
    assert_eq!(notice(&w).await, None);
    // Refreshing the list from Meta keeps what Meta does not tell (the last use).
    let r = w.call("whatsapp/templates/refresh", &[]).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(notice(&w).await, None);
    w.close().await;
}

per_backend!(
    archived_paused_and_recategorised_templates_are_told,
    an_idle_template_is_warned_before_it_is_archived,
);

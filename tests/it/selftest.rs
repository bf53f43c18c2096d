//! "Send a test message to my own number": a template to the user's own WhatsApp through the
//! sandbox, and its round trip (accepted, sent, delivered, read, the webhook) as the page reads it.

use crate::common;
use common::{world::World, Backend, Client, FAST};
use serde_json::Value;
use std::time::Duration;
use whatsapp_cloud::sandbox::NewAccount;

const MINE: &str = "+447911123456";

fn world(backend: Backend) -> common::world::WorldBuilder {
    World::builder(backend)
        .env(FAST)
        .sandbox_config(|c| c.status_delay = Duration::from_millis(30))
        .connected()
}

async fn round_trip(w: &World) -> Value {
    w.call("whatsapp/self_test", &[]).await.json()["test"].clone()
}

fn leg(trip: &Value, step: &str) -> Value {
    trip["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s[0] == step)
        .map(|s| s[1].clone())
        .unwrap_or_else(|| panic!("no {step} in {trip}"))
}

async fn tests_in_db(w: &World) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM whatsapp_self_tests")
        .fetch_one(w.pool())
        .await
        .unwrap()
}

/// Without an approved invoice template the test is Meta's hello_world; every leg of the round
/// trip arrives, the first webhook is noted, and the message counts in this month's usage.
async fn the_round_trip_shows_every_leg(backend: Backend) {
    let w = world(backend).build().await;
    let r = w
        .call("whatsapp/self_test/start", &[("number", "07911 123456")])
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    w.wait_for("the whole round trip", || async {
        let t = round_trip(&w).await;
        ["Accepted", "Sent", "Delivered", "Read", "Webhook"]
            .iter()
            .all(|s| !leg(&t, s).is_null())
    })
    .await;
    let t = round_trip(&w).await;
    assert_eq!(t["to"], MINE, "read with the default country (GB)");
    assert_eq!(t["template"], "hello_world");
    assert_eq!(t["with_document"], false);
    assert_eq!(t["finished"], true);
    assert!(t["problem"].is_null(), "{t}");
    let sent: Vec<_> = w
        .sandbox()
        .sent()
        .into_iter()
        .filter(|s| s.to.trim_start_matches('+') == "447911123456")
        .collect();
    assert_eq!(sent.len(), 1, "one message per test");
    assert_eq!(sent[0].body["template"]["name"], "hello_world");
    let page = w.call("whatsapp/self_test", &[]).await.json();
    assert_eq!(page["number"], MINE, "offered again next time");
    let usage = w.call("whatsapp/sending", &[]).await.json();
    assert_eq!(usage["usage"]["total"], 1, "{usage}");
    w.close().await;
}

/// With the invoice template approved the test is that template with a sample PDF in its
/// header: the same path an invoice outside the 24-hour window takes.
async fn with_the_invoice_template_it_carries_a_sample_pdf(backend: Backend) {
    let w = world(backend).with_template().build().await;
    let r = w
        .call("whatsapp/self_test/start", &[("number", MINE)])
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    w.wait_for("read", || async {
        !leg(&round_trip(&w).await, "Read").is_null()
    })
    .await;
    let t = round_trip(&w).await;
    assert_eq!(t["template"], "axis_invoice_pdf");
    assert_eq!(t["with_document"], true);
    let sent = w.sandbox().sent();
    let msg = sent
        .iter()
        .find(|s| s.to.trim_start_matches('+') == "447911123456")
        .expect("sent");
    let header = &msg.body["template"]["components"][0];
    assert_eq!(header["type"], "header", "{}", msg.body);
    assert!(
        header["parameters"][0]["document"]["id"].is_string(),
        "{}",
        msg.body
    );
    assert_eq!(
        msg.body["template"]["components"][1]["parameters"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    w.close().await;
}

/// Bad numbers, the business's own number and a second click at once are refused with their
/// reason and change nothing; a number WhatsApp cannot deliver to ends as failed, explained.
async fn bad_input_changes_nothing_and_a_failure_is_explained(backend: Backend) {
    let w = world(backend)
        .account(NewAccount {
            display_phone_number: Some("447911000111".into()),
            ..NewAccount::default()
        })
        .build()
        .await;
    let own = "+44 7911 000111".to_string();
    for (number, says) in [
        ("", "Enter your own WhatsApp number"),
        ("07911 12E456", "remove the"),
        ("+44 20 7123 4567", "landline"),
        (own.as_str(), "the number Axis CRM sends from"),
    ] {
        let r = w
            .call("whatsapp/self_test/start", &[("number", number)])
            .await;
        assert_eq!(r.status.as_u16(), 422, "{number}: {}", r.body);
        assert!(r.body.contains(says), "{number}: {}", r.body);
    }
    assert_eq!(tests_in_db(&w).await, 0);
    assert!(w.sandbox().sent().is_empty());

    // The sandbox cannot deliver to numbers ending in 0000 (Meta's 131026).
    let r = w
        .call("whatsapp/self_test/start", &[("number", "+447911120000")])
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let again = w
        .call("whatsapp/self_test/start", &[("number", MINE)])
        .await;
    assert_eq!(again.status.as_u16(), 422, "{}", again.body);
    assert!(again.body.contains("a moment ago"), "{}", again.body);
    assert_eq!(tests_in_db(&w).await, 1);
    w.wait_for("the failure", || async {
        !round_trip(&w).await["problem"].is_null()
    })
    .await;
    let t = round_trip(&w).await;
    assert_eq!(t["finished"], true);
    assert_eq!(t["problem"]["code"], 131026, "{t}");
    assert!(leg(&t, "Delivered").is_null());
    assert!(!leg(&t, "Webhook").is_null(), "the failure came by webhook");
    w.close().await;
}

/// Accepted, but no webhook a minute later: the page says webhooks are not arriving.
async fn a_silent_webhook_is_called_out(backend: Backend) {
    let w = world(backend).build().await;
    // Meta's webhooks go nowhere.
    w.point_webhooks_at("http://127.0.0.1:9").await;
    let r = w
        .call("whatsapp/self_test/start", &[("number", MINE)])
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let t = round_trip(&w).await;
    assert!(!leg(&t, "Accepted").is_null(), "{t}");
    assert_eq!(
        t["webhooks_silent"], false,
        "not yet: it was accepted just now"
    );
    sqlx::query("UPDATE whatsapp_self_tests SET accepted_at = accepted_at - 120, created_at = created_at - 120")
        .execute(w.pool())
        .await
        .unwrap();
    let t = round_trip(&w).await;
    assert_eq!(t["webhooks_silent"], true, "{t}");
    assert_eq!(t["finished"], false);
    w.close().await;
}

/// Without JavaScript a refused number comes back at its field, with what was typed.
async fn without_javascript_a_refusal_shows_at_its_field(backend: Backend) {
    let w = world(backend).build().await;
    let mut b = w.browser();
    let r = b
        .call(
            "whatsapp/self_test/start",
            &[("number", "07911 12E456")],
            Client::PlainForm {
                referer: "/settings/whatsapp",
            },
        )
        .await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.body);
    let rows: Vec<String> = sqlx::query_scalar("SELECT CAST(data AS TEXT) FROM sessions")
        .fetch_all(w.pool())
        .await
        .unwrap_or_default();
    eprintln!("SESSIONS {rows:?} LOCATION {:?}", r.location());
    let page = b.get("/settings/whatsapp").await;
    assert!(
        page.body.contains("remove the &quot;E&quot;") || page.body.contains("remove the \"E\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("07911 12E456"));
    assert_eq!(tests_in_db(&w).await, 0);
    w.close().await;
}

per_backend!(
    without_javascript_a_refusal_shows_at_its_field,
    the_round_trip_shows_every_leg,
    with_the_invoice_template_it_carries_a_sample_pdf,
    bad_input_changes_nothing_and_a_failure_is_explained,
    a_silent_webhook_is_called_out,
);

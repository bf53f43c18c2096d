//! Webhooks as Meta delivers them: several at once, late, twice, out of order, in batches, and
//! up to 3 MB each. Every delivery must be answered 2xx and leave the right final state.

use crate::common;
use common::{world::World, Backend, FAST};
use std::time::Duration;

/// A small deterministic shuffle (xorshift), so a failure can be replayed.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

/// A user connected to the sandbox with sample data and the approved invoice template.
async fn world(backend: Backend) -> World {
    World::builder(backend)
        .env(FAST)
        .sandbox_config(|c| c.status_delay = Duration::from_millis(30))
        .connected()
        .with_sample_data()
        .with_template()
        .build()
        .await
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Signed deliveries posted 8 and more at a time, shuffled, duplicated and batched: inbound
/// messages from three tenants (the reads-then-writes that SQLite refused with `database is
/// locked` when two transactions met) and the statuses of one send, out of order.
async fn parallel_deliveries_all_succeed(backend: Backend) {
    let w = world(backend).await;
    let wamid = w.accepted_then_alone("INV-0003").await;
    let invoice = w.invoice_id("INV-0003").await;

    let a = w.account().clone();
    let t0 = now() - 900;
    let mut phones = Vec::new();
    for number in ["INV-0001", "INV-0002", "INV-0003"] {
        phones.push(
            w.reads()
                .tenant_phone(number)
                .await
                .trim_start_matches('+')
                .to_string(),
        );
    }
    let message = |i: usize| {
        let from = &phones[i % phones.len()];
        serde_json::json!({"from": from, "id": format!("wamid.inbound.{i}"), "timestamp": (t0 + i as i64).to_string(),
            "type": "text", "text": {"body": format!("Message {i}")}})
    };
    let contact = |i: usize| {
        let from = &phones[i % phones.len()];
        serde_json::json!({"profile": {"name": format!("Tenant {}", i % phones.len())}, "wa_id": from})
    };
    let inbound = |ids: &[usize]| {
        serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": a.business_account_id,
            "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
                "metadata": {"display_phone_number": a.display_phone_number, "phone_number_id": a.phone_number_id},
                "contacts": ids.iter().map(|&i| contact(i)).collect::<Vec<_>>(),
                "messages": ids.iter().map(|&i| message(i)).collect::<Vec<_>>()}}]}]})
        .to_string()
    };
    let status = |s: &str, t: i64| serde_json::json!({"id": wamid, "status": s, "timestamp": (t0 + t).to_string(), "recipient_id": phones[2]});

    // 24 unique inbound messages: alone, in batches of three, and every one delivered twice.
    const UNIQUE: usize = 24;
    let mut bodies = Vec::new();
    for i in 0..UNIQUE {
        bodies.push(inbound(&[i]));
    }
    for chunk in (0..UNIQUE).collect::<Vec<_>>().chunks(3) {
        bodies.push(inbound(chunk));
    }
    for (s, t) in [("read", 300), ("delivered", 200), ("sent", 100)] {
        bodies.push(w.status_body(&[status(s, t)]));
        bodies.push(w.status_body(&[status(s, t)]));
    }
    bodies.push(w.status_body(&[
        status("delivered", 200),
        status("sent", 100),
        status("read", 300),
    ]));
    shuffle(&mut bodies, 0x5eed_cafe);

    let client = reqwest::Client::new();
    let url = w.webhook_url();
    let mut codes = Vec::new();
    // Waves of at least eight in flight.
    for wave in bodies.chunks(12) {
        let mut set = tokio::task::JoinSet::new();
        for body in wave {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            let signature = w.sign(&body);
            set.spawn(async move {
                client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", signature)
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            });
        }
        while let Some(code) = set.join_next().await {
            codes.push(code.unwrap());
        }
    }
    assert!(
        codes.iter().all(|&c| c == 200),
        "every delivery is answered 200: {codes:?}"
    );
    assert_eq!(w.reads().inbound_messages().await, UNIQUE as i64);
    assert_eq!(w.state_of("INV-0003").await, "read");
    let send = w.reads().send_of(invoice).await.unwrap();
    assert_eq!(
        (send.sent_at, send.delivered_at, send.read_at),
        (Some(t0 + 100), Some(t0 + 200), Some(t0 + 300))
    );
    // Every tenant's window opened at their latest message, whatever order they came in.
    for (k, number) in ["INV-0001", "INV-0002", "INV-0003"].iter().enumerate() {
        let latest = (0..UNIQUE).filter(|i| i % 3 == k).max().unwrap() as i64;
        assert_eq!(
            w.reads().tenant_last_inbound(number).await,
            Some(t0 + latest),
            "{number}"
        );
    }
    w.close().await;
}

/// Meta's deliveries can reach 3 MB; a body over the limit is refused with 413 (and logged).
async fn large_deliveries_are_accepted_up_to_the_limit(backend: Backend) {
    let w = World::builder(backend).env(FAST).connected().build().await;
    w.sandbox().set_webhook(&w.account().app_id, None);
    let t = now().to_string();
    let statuses = |n: usize| -> Vec<serde_json::Value> {
        (0..n)
            // Each status carries a field Axis CRM does not know, 1 KB long: ignored, never an error.
            .map(|i| serde_json::json!({"id": format!("wamid.unknown.{i:08}"), "status": "delivered", "timestamp": t,
                "recipient_id": "447911123458", "field_from_the_future": "x".repeat(1000)}))
            .collect()
    };
    let three_mb = w.status_body(&statuses(2_900));
    assert!(
        three_mb.len() > 2_900_000 && three_mb.len() < 4 * 1024 * 1024,
        "{}",
        three_mb.len()
    );
    let secret = w.account().app_secret.clone();
    assert_eq!(w.post_webhook(&three_mb, Some(&secret)).await, 200);
    let too_big = w.status_body(&statuses(4_200));
    assert!(too_big.len() > 4 * 1024 * 1024);
    // Refused from its Content-Length with 413 before it is read; the server may close the
    // connection while the client is still writing, which the client sees as a broken pipe.
    let refused = reqwest::Client::new()
        .post(w.webhook_url())
        .header("content-type", "application/json")
        .header("x-hub-signature-256", w.sign(&too_big))
        .body(too_big)
        .send()
        .await;
    match refused {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    // The server is unharmed and takes the next delivery.
    let small = w.status_body(&statuses(1));
    assert_eq!(w.post_webhook(&small, Some(&secret)).await, 200);
    w.close().await;
}

async fn subscribed(w: &World) -> serde_json::Value {
    w.call("whatsapp/get", &[]).await.json()["connection"]["webhooks_subscribed"].clone()
}

/// Meta sends no webhook to an app that is not subscribed to the Business Account: the
/// connection card says so after a check, and Subscribe makes them come.
async fn an_unsubscribed_app_is_found_and_subscribed(backend: Backend) {
    let w = World::builder(backend)
        .env(FAST)
        .connected()
        .with_sample_data()
        .build()
        .await;
    assert_eq!(subscribed(&w).await, true, "checked when connecting");
    let waba = w.account().business_account_id.clone();
    w.sandbox().unsubscribe_app(&waba);
    assert!(w.call("whatsapp/test", &[]).await.status.is_success());
    assert_eq!(subscribed(&w).await, false);
    let page = w.get("/settings/whatsapp").await.body;
    assert!(
        page.contains("Your app is not subscribed to this WhatsApp Business Account"),
        "the card says so"
    );
    // Nothing arrives meanwhile.
    let phone = w.reads().tenant_phone("INV-0003").await;
    w.sandbox()
        .simulate_inbound(&w.account().phone_number_id, &phone, "lost");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.reads().inbound_messages().await, 0);
    // Subscribe: the card shows it, and webhooks come again.
    let r = w.call("whatsapp/subscribe", &[]).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(subscribed(&w).await, true);
    w.tenant_writes("INV-0003", "Now it arrives").await;
    w.close().await;
}

/// Meta restricts the account: the card says so, sends wait (saying why) instead of failing one
/// by one, and go out as soon as Meta lifts it.
async fn an_account_restriction_pauses_sends_until_lifted(backend: Backend) {
    let w = world(backend).await;
    let a = w.account().clone();
    let account_update = |value: serde_json::Value| {
        serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": a.business_account_id,
            "changes": [{"field": "account_update", "value": value}]}]})
        .to_string()
    };
    let restricted = account_update(serde_json::json!({"event": "ACCOUNT_RESTRICTION",
        "restriction_info": [{"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": now() + 7 * 86_400}]}));
    assert_eq!(w.post_webhook(&restricted, Some(&a.app_secret)).await, 200);
    let card = w.call("whatsapp/get", &[]).await.json()["connection"].clone();
    assert!(
        card["account_notice"]
            .as_str()
            .unwrap()
            .contains("restricted biz initiated messaging"),
        "{card}"
    );
    assert!(card["paused_text"]
        .as_str()
        .unwrap()
        .starts_with("Sends are paused until"));
    w.send_invoice("INV-0003").await;
    let invoice = w.invoice_id("INV-0003").await;
    w.drive("the send to wait for the pause", || async {
        w.reads()
            .send_of(invoice)
            .await
            .is_some_and(|s| s.error_title.as_deref() == Some("Sending paused by Meta"))
    })
    .await;
    let send = w.reads().send_of(invoice).await.unwrap();
    assert_eq!(send.state, "queued");
    assert_eq!(send.error_anchor.as_deref(), Some("account-restricted"));
    assert!(w.accepted_for("INV-0003").await.is_empty());

    // Lifted: the waiting send goes at once.
    let lifted = account_update(
        serde_json::json!({"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": "REINSTATE"}}),
    );
    assert_eq!(w.post_webhook(&lifted, Some(&a.app_secret)).await, 200);
    w.drive("the send after the pause", || async {
        !w.accepted_for("INV-0003").await.is_empty()
    })
    .await;
    assert!(w.call("whatsapp/get", &[]).await.json()["connection"]["paused_text"].is_null());
    w.close().await;
}

per_backend!(
    an_account_restriction_pauses_sends_until_lifted,
    parallel_deliveries_all_succeed,
    large_deliveries_are_accepted_up_to_the_limit,
    an_unsubscribed_app_is_found_and_subscribed,
);

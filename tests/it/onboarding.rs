//! The setup wizard through the real router: a new account lands in it, progress is saved per
//! user and resumed after log-in, skip/finish/resume, the checks the app makes itself (a live
//! connection, the sandbox's webhook handshake and test event, an invoice reaching "sent"), and
//! the same forms without JavaScript.

use crate::common;

use axum::http::StatusCode;
use common::{world::World, Backend, Client, TestApp};
use serde_json::Value;
use std::time::Duration;
use whatsapp_cloud::sandbox::NewAccount;

const PASSWORD: &str = "correct horse battery";

async fn wizard(b: &mut common::Browser<'_>, step: Option<&str>) -> Value {
    let form: Vec<(&str, &str)> = step.map(|s| vec![("step", s)]).unwrap_or_default();
    let r = b.call("onboarding/get", &form, Client::Wasm).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

fn how(w: &Value, key: &str) -> String {
    w["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no step {key}"))["how"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn mark(b: &mut common::Browser<'_>, step: &str, done: bool) -> common::Resp {
    b.call(
        "onboarding/mark",
        &[("step", step), ("done", if done { "1" } else { "0" })],
        Client::Wasm,
    )
    .await
}

async fn progress_is_saved_per_user_and_resumed(backend: Backend) {
    let app = TestApp::new(backend).await;
    let mut b = app.browser();
    let r = b
        .signup("Ana", "Silva Lettings", "ana@example.com", PASSWORD)
        .await;
    assert_eq!(
        r.location(),
        Some("/onboarding"),
        "sign-up lands in the wizard"
    );

    let page = b.get("/onboarding").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("What you need"),
        "starts at the prerequisites"
    );
    assert!(page.body.contains("0 of 9 steps done"));
    assert!(page.body.contains("https://developers.facebook.com"));
    assert!(page.body.contains("target=\"_blank\""));

    // Mark as done moves on to the next step.
    let r = mark(&mut b, "prerequisites", true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.location(), Some("/onboarding/business-account"));
    assert_eq!(
        mark(&mut b, "business-account", true).await.location(),
        Some("/onboarding/whatsapp-account")
    );
    // Twice is harmless.
    assert_eq!(
        mark(&mut b, "business-account", true).await.status,
        StatusCode::OK
    );
    let w = wizard(&mut b, None).await;
    assert_eq!(w["step"], "whatsapp-account");
    assert_eq!(w["done"], 2);
    assert_eq!(how(&w, "prerequisites"), "marked");
    assert_eq!(how(&w, "connect"), "");

    // Looking at a step makes it the place to resume.
    let w = wizard(&mut b, Some("meta-app")).await;
    assert_eq!(w["step"], "meta-app");

    // Leave, log in again: back in the wizard, at the same step.
    assert_eq!(
        b.call("logout", &[], Client::Wasm).await.status,
        StatusCode::OK
    );
    let r = b.login("ana@example.com", PASSWORD).await;
    assert_eq!(r.location(), Some("/onboarding"));
    let page = b.get("/onboarding").await;
    assert!(page.body.contains("Create a Meta app"), "resumes at step 3");
    assert!(page.body.contains("2 of 9 steps done"));
    // An explicit destination still wins.
    b.call("logout", &[], Client::Wasm).await;
    let r = b
        .call(
            "login",
            &[
                ("email", "ana@example.com"),
                ("password", PASSWORD),
                ("next", "/settings"),
            ],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.location(), Some("/settings"));

    // Taking a mark away.
    assert_eq!(
        mark(&mut b, "business-account", false).await.location(),
        Some("/onboarding/business-account")
    );
    assert_eq!(wizard(&mut b, None).await["done"], 1);

    // Bad input changes nothing.
    let r = mark(&mut b, "step-99", true).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.error().field("step").unwrap().contains("step-99"));
    assert_eq!(app.count("SELECT COUNT(*) FROM onboarding_steps").await, 1);
    let page = b.get("/onboarding/step-99").await;
    assert!(page.body.contains("There is no such step"), "{}", page.body);

    // Another user has their own progress, and cannot touch Ana's.
    let mut other = app.browser();
    other
        .signup("Bo", "Bo Homes", "bo@example.com", PASSWORD)
        .await;
    let w = wizard(&mut other, None).await;
    assert_eq!(
        (w["step"].as_str(), w["done"].as_i64()),
        (Some("prerequisites"), Some(0))
    );
    mark(&mut other, "meta-app", true).await;
    assert_eq!(wizard(&mut b, None).await["done"], 1);

    // The reminder above other pages, until skipped.
    let r = b.call("onboarding/reminder", &[], Client::Wasm).await;
    assert_eq!(r.json()["done"], 1);
    assert_eq!(r.json()["total"], 9);
    let r = b.call("onboarding/skip", &[], Client::Wasm).await;
    assert_eq!(r.location(), Some("/invoices"));
    assert_eq!(
        b.call("onboarding/reminder", &[], Client::Wasm)
            .await
            .json(),
        Value::Null
    );
    b.call("logout", &[], Client::Wasm).await;
    assert_eq!(
        b.login("ana@example.com", PASSWORD).await.location(),
        Some("/invoices")
    );
    assert!(b
        .get("/onboarding")
        .await
        .body
        .contains("You skipped the setup guide"));
    // Taken up again: opens after log-in again, where it was.
    let r = b.call("onboarding/resume", &[], Client::Wasm).await;
    assert_eq!(r.location(), Some("/onboarding/business-account"));
    b.call("logout", &[], Client::Wasm).await;
    assert_eq!(
        b.login("ana@example.com", PASSWORD).await.location(),
        Some("/onboarding")
    );
    // Finished: no more reminder or redirect, and the page says so.
    assert_eq!(
        b.call("onboarding/finish", &[], Client::Wasm)
            .await
            .location(),
        Some("/invoices")
    );
    assert_eq!(
        b.call("onboarding/reminder", &[], Client::Wasm)
            .await
            .json(),
        Value::Null
    );
    assert!(b
        .get("/onboarding")
        .await
        .body
        .contains("You finished the setup on"));

    // Accounts from before the wizard are not sent to it.
    sqlx::query("DELETE FROM onboarding WHERE user_id = (SELECT id FROM users WHERE email_key = 'bo@example.com')")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    other.call("logout", &[], Client::Wasm).await;
    assert_eq!(
        other.login("bo@example.com", PASSWORD).await.location(),
        Some("/invoices")
    );

    // Without JavaScript: the same forms, answered with redirects.
    let r = other
        .call(
            "onboarding/mark",
            &[("step", "prerequisites"), ("done", "1")],
            Client::PlainForm {
                referer: "/onboarding/prerequisites",
            },
        )
        .await;
    assert!(r.status.is_redirection(), "{}", r.status);
    assert_eq!(r.location(), Some("/onboarding/business-account"));
    let r = other
        .call(
            "onboarding/mark",
            &[("step", "nope"), ("done", "1")],
            Client::PlainForm {
                referer: "/onboarding/prerequisites",
            },
        )
        .await;
    assert_eq!(
        r.location(),
        Some("/onboarding/prerequisites"),
        "back to the form, with the error kept"
    );
    app.close().await;
}

async fn a_live_connection_checks_the_steps_it_proves(backend: Backend) {
    let world = World::builder(backend)
        .env(&[("AXIS_PUBLIC_URL", "https://crm.example.com")])
        .account(NewAccount::default())
        .user("Ana", "Silva Lettings", "ana@example.com")
        .build()
        .await;
    let a = world.account();
    // The temporary token from API Setup.
    let temporary = world.sandbox().issue_token(a, true);
    let mut b = world.browser();
    let page = b.get("/onboarding/connect").await;
    assert!(
        page.body.contains("id=\"connect-form\""),
        "step 6 holds the settings page's form"
    );
    let fields = [
        ("phone_number_id", a.phone_number_id.as_str()),
        ("access_token", temporary.as_str()),
        ("business_account_id", ""),
        ("phone_number", ""),
        ("app_id", a.app_id.as_str()),
        ("app_secret", a.app_secret.as_str()),
    ];
    let r = b.call("whatsapp/connect", &fields, Client::Wasm).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let w = wizard(&mut b, Some("connect")).await;
    for key in [
        "prerequisites",
        "business-account",
        "whatsapp-account",
        "meta-app",
        "whatsapp-product",
        "credentials",
        "connect",
    ] {
        assert_eq!(how(&w, key), "checked", "{key}");
    }
    assert_eq!(how(&w, "webhook"), "");
    assert_eq!(w["done"], 7);
    assert_eq!(w["connection"]["token"]["kind"], "temporary");
    assert!(w["connection"]["token"]["seconds_left"].as_i64().unwrap() > 3600);
    assert_eq!(
        w["public_url_warning"],
        Value::Null,
        "a public https address"
    );
    let page = b.get("/onboarding/connect").await;
    assert!(
        page.body.contains("This temporary token stops working in"),
        "countdown and how to get a permanent one"
    );
    assert!(page.body.contains("Sandbox Lettings"), "the verified name");
    // The sandbox buttons are for sandbox connections only.
    let r = b
        .call(
            "onboarding/sandbox_webhook",
            &[("action", "verify")],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .error()
        .to_string()
        .contains("only with a sandbox connection"));
    // The webhook step waits for Meta: nothing yet.
    let s = b.call("onboarding/webhook", &[], Client::Wasm).await.json();
    assert_eq!(
        (
            s["verified_at_text"].clone(),
            s["last_event_at_text"].clone()
        ),
        (Value::Null, Value::Null)
    );
    assert_eq!(s["has_app_secret"], true);
    world.close().await;
}

async fn the_sandbox_walks_to_a_sent_invoice(backend: Backend) {
    let world = World::builder(backend)
        .user("Ana", "Silva Lettings", "ana@example.com")
        .build()
        .await;
    let (app, served) = (&world.app, &world.site);
    let mut b = world.browser();
    let w = wizard(&mut b, Some("send")).await;
    assert_eq!(w["connection"], Value::Null);
    assert!(
        w["public_url_warning"]
            .as_str()
            .unwrap()
            .contains("AXIS_PUBLIC_URL"),
        "http://127.0.0.1 cannot be called by Meta"
    );

    assert_eq!(
        b.call("whatsapp/sandbox", &[], Client::Wasm).await.status,
        StatusCode::OK
    );
    let w = wizard(&mut b, Some("webhook")).await;
    assert_eq!(how(&w, "connect"), "sandbox");
    assert_eq!(how(&w, "credentials"), "sandbox");
    assert_eq!(
        how(&w, "prerequisites"),
        "",
        "the sandbox proves nothing about Meta's steps"
    );
    // Point the sandbox at this test's served router (the app's own address is not served here).
    let sandbox = &app.state.meta.sandbox.as_ref().unwrap().sandbox;
    let app_id = w["connection"]["app_id"].as_str().unwrap().to_string();
    let path = url::Url::parse(w["connection"]["webhook_url"].as_str().unwrap())
        .unwrap()
        .path()
        .to_string();
    sandbox.set_webhook(&app_id, Some(format!("{served}{path}")));

    let r = b
        .call(
            "onboarding/sandbox_webhook",
            &[("action", "verify")],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let s = b.call("onboarding/webhook", &[], Client::Wasm).await.json();
    assert!(s["verified_at_text"].is_string(), "{s}");
    assert_eq!(s["last_event_at_text"], Value::Null);
    assert_eq!(how(&wizard(&mut b, None).await, "webhook"), "", "half way");
    let r = b
        .call(
            "onboarding/sandbox_webhook",
            &[("action", "test")],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let w = wizard(&mut b, None).await;
    assert_eq!(how(&w, "webhook"), "sandbox");
    // Meta's sample event is for test number 123456123: recorded as an event, nothing stored.
    assert_eq!(app.reads().inbound_messages().await, 0);
    let r = b
        .call(
            "onboarding/sandbox_webhook",
            &[("action", "explode")],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Step 7 offers sample data when there are no invoices, then the invoices with a mobile.
    let w = wizard(&mut b, Some("send")).await;
    assert_eq!(
        (
            w["has_invoices"].as_bool(),
            w["invoices"].as_array().unwrap().len()
        ),
        (Some(false), 0)
    );
    assert_eq!(
        b.call("invoices/sample", &[], Client::Wasm).await.status,
        StatusCode::OK
    );
    let w = wizard(&mut b, Some("send")).await;
    let choices = w["invoices"].as_array().unwrap().clone();
    assert!(!choices.is_empty());
    assert!(choices
        .iter()
        .all(|c| c["phone"].as_str().unwrap().starts_with('+')));
    let invoice = choices[0]["id"].as_i64().unwrap();

    // The tenant writes first (the window opens), so the PDF goes as a document.
    let tenant = app.reads().tenant_of(invoice).await;
    let t = tenant.to_string();
    assert_eq!(
        b.call(
            "whatsapp/sandbox_reply",
            &[("tenant_id", t.as_str())],
            Client::Wasm
        )
        .await
        .status,
        StatusCode::OK
    );
    let id = invoice.to_string();
    let next = format!("/onboarding/send?invoice={invoice}");
    for _ in 0..100 {
        if b.call(
            "whatsapp/preview",
            &[("invoice_id", id.as_str())],
            Client::Wasm,
        )
        .await
        .json()["kind"]
            == "document"
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = b.get(&next).await;
    assert!(page.body.contains("Show what will be sent"));
    assert!(
        page.body.contains(&format!("value=\"{next}\"")),
        "sends come back to the wizard: {}",
        page.body
    );
    let r = b
        .call(
            "whatsapp/send",
            &[("invoice_id", id.as_str()), ("next", next.as_str())],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.location(), Some(next.as_str()));
    let mut state = String::new();
    for _ in 0..150 {
        axis_crm::sending::server::outbox::run_due(&app.state)
            .await
            .unwrap();
        let w = wizard(&mut b, None).await;
        if how(&w, "send") == "sandbox" {
            state = "done".into();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        state, "done",
        "the last step ticks itself when WhatsApp reports the invoice sent"
    );
    // A destination on another site is refused.
    let r = b
        .call(
            "whatsapp/send",
            &[
                ("invoice_id", id.as_str()),
                ("again", "1"),
                ("next", "https://evil.example/x"),
            ],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.location(), Some("/invoices"));
    world.close().await;
}

per_backend!(
    progress_is_saved_per_user_and_resumed,
    a_live_connection_checks_the_steps_it_proves,
    the_sandbox_walks_to_a_sent_invoice,
);

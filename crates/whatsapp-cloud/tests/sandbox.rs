//! The client against the sandbox: every call Axis CRM makes, and every failure it must handle.

mod common;

use common::{env, fast, pdf};
use serde_json::{json, Value};
use std::time::Duration;
use whatsapp_cloud::{
    sandbox::Fault,
    signature,
    types::{Outgoing, TokenKind},
    AppCredentials, ErrorKind, Retry, SecretString,
};

#[tokio::test]
async fn reads_the_phone_number_and_checks_it_belongs_to_the_account() {
    let e = env(fast(), false).await;
    let p = e
        .client
        .phone_number(&e.account.phone_number_id, &e.token(), None)
        .await
        .unwrap();
    assert_eq!(p.id, e.account.phone_number_id);
    assert_eq!(p.verified_name.as_deref(), Some("Sandbox Lettings"));
    assert_eq!(p.quality_rating.as_deref(), Some("GREEN"));
    assert_eq!(
        p.throughput.as_ref().unwrap().level.as_deref(),
        Some("STANDARD")
    );
    assert_eq!(p.messaging_limit().as_deref(), Some("TIER_250"));
    assert!(p.health_status.unwrap().problems().is_empty());

    let numbers = e
        .client
        .business_phone_numbers(&e.account.business_account_id, &e.token(), None)
        .await
        .unwrap();
    assert!(numbers.iter().any(|n| n.id == e.account.phone_number_id));

    // Another account's ids are invisible to this token: 100 / 33.
    let other = e.sandbox.create_account(Default::default());
    let err = e
        .client
        .phone_number(&other.phone_number_id, &e.token(), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownObject);
    assert_eq!(err.api().unwrap().subcode, Some(33));
    let err = e
        .client
        .business_phone_numbers(&other.business_account_id, &e.token(), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownObject);
}

#[tokio::test]
async fn refuses_bad_expired_and_real_tokens() {
    let e = env(fast(), false).await;
    for bad in ["SANDBOXnotissued", "EAAGm0PX4ZCpsBAlooksreal", ""] {
        let err = e
            .client
            .phone_number(&e.account.phone_number_id, &SecretString::from(bad), None)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidToken, "{bad}");
        assert_eq!(err.api().unwrap().code, 190);
        assert!(err.fbtrace_id().is_some());
        assert_eq!(err.retry(), Retry::No);
    }
    e.sandbox.expire_token(&e.account.access_token);
    let err = e
        .client
        .phone_number(&e.account.phone_number_id, &e.token(), None)
        .await
        .unwrap_err();
    assert_eq!(err.api().unwrap().subcode, Some(463));
}

#[tokio::test]
async fn debug_token_tells_temporary_from_permanent() {
    let perm = env(fast(), false).await;
    let app = AppCredentials {
        app_id: perm.account.app_id.clone(),
        app_secret: SecretString::from(perm.account.app_secret.clone()),
    };
    let info = perm.client.debug_token(&perm.token(), &app).await.unwrap();
    assert!(info.is_valid);
    assert_eq!(info.kind(), TokenKind::Permanent);
    assert!(info.has_scope("whatsapp_business_messaging"));

    let temp = env(fast(), true).await;
    let app = AppCredentials {
        app_id: temp.account.app_id.clone(),
        app_secret: SecretString::from(temp.account.app_secret.clone()),
    };
    let info = temp.client.debug_token(&temp.token(), &app).await.unwrap();
    match info.kind() {
        TokenKind::Temporary { expires_at } => {
            let left = expires_at
                - std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64;
            assert!((23 * 3600..=24 * 3600).contains(&left), "{left}");
        }
        other => panic!("{other:?}"),
    }
    // A wrong app secret is refused like any bad token.
    let wrong = AppCredentials {
        app_id: temp.account.app_id.clone(),
        app_secret: SecretString::from("nope"),
    };
    assert_eq!(
        temp.client
            .debug_token(&temp.token(), &wrong)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidToken
    );
}

#[tokio::test]
async fn injected_failures_come_back_typed_and_classified() {
    let e = env(fast(), false).await;
    let pnid = e.account.phone_number_id.clone();
    let cases = [
        (
            Fault::Api {
                code: 130429,
                subcode: None,
                status: 400,
            },
            ErrorKind::RateLimited,
            Retry::Backoff,
        ),
        (
            Fault::Api {
                code: 80007,
                subcode: None,
                status: 400,
            },
            ErrorKind::RateLimited,
            Retry::Backoff,
        ),
        (
            Fault::Api {
                code: 133010,
                subcode: None,
                status: 400,
            },
            ErrorKind::NotRegistered,
            Retry::No,
        ),
        (
            Fault::Api {
                code: 10,
                subcode: None,
                status: 403,
            },
            ErrorKind::MissingPermission,
            Retry::No,
        ),
        (Fault::ServerError, ErrorKind::Temporary, Retry::Backoff),
        (Fault::BadGateway, ErrorKind::Temporary, Retry::Backoff),
        (Fault::Slow, ErrorKind::Timeout, Retry::Backoff),
    ];
    for (fault, kind, retry) in cases {
        e.sandbox.inject(fault.clone(), 1, Some(&pnid));
        let err = e
            .client
            .phone_number(&pnid, &e.token(), None)
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind(), err.retry()),
            (kind, retry),
            "{fault:?} → {err:?}"
        );
    }
    // After the faults, the next call works again.
    e.client
        .phone_number(&pnid, &e.token(), None)
        .await
        .unwrap();
}

fn statuses(hooks: &[(axum::http::HeaderMap, axum::body::Bytes)], secret: &str) -> Vec<Value> {
    hooks
        .iter()
        .map(|(h, body)| {
            let sig = h.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
            assert!(
                signature::verify(secret.as_bytes(), body, sig),
                "every webhook is signed with the app secret"
            );
            let v: Value = serde_json::from_slice(body).unwrap();
            v["entry"][0]["changes"][0]["value"]["statuses"][0].clone()
        })
        .collect()
}

#[tokio::test]
async fn document_inside_the_window_is_delivered_and_read() {
    let e = env(fast(), false).await;
    let pnid = e.account.phone_number_id.clone();
    e.sandbox
        .simulate_inbound(&pnid, "+44 7700 900123", "Hello, can you send my invoice?");
    e.wait_hooks(1).await; // the inbound message itself
    let media = e
        .client
        .upload_pdf(&pnid, &e.token(), None, "INV-1.pdf", pdf())
        .await
        .unwrap();
    let doc = Outgoing::Document {
        media_id: media.id,
        filename: "INV-1.pdf".into(),
        caption: Some("Invoice INV-1".into()),
    };
    let sent = e
        .client
        .send_message(
            &pnid,
            &e.token(),
            None,
            "+447700900123",
            &doc,
            Some("send:1"),
        )
        .await
        .unwrap();
    assert_eq!(sent.wa_id(), Some("447700900123"));
    let wamid = sent.wamid().unwrap().to_string();

    let hooks = e.wait_hooks(4).await;
    let st = statuses(&hooks[1..], &e.account.app_secret);
    let seq: Vec<&str> = st.iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(seq, ["sent", "delivered", "read"]);
    assert!(st
        .iter()
        .all(|s| s["id"] == wamid.as_str() && s["biz_opaque_callback_data"] == "send:1"));
    assert_eq!(st[1]["pricing"]["type"], "free_customer_service");
    assert_eq!(e.sandbox.sent().len(), 1);
}

#[tokio::test]
async fn document_outside_the_window_fails_with_131047_by_webhook() {
    let e = env(fast(), false).await;
    let pnid = e.account.phone_number_id.clone();
    let media = e
        .client
        .upload_pdf(&pnid, &e.token(), None, "INV-2.pdf", pdf())
        .await
        .unwrap();
    let doc = Outgoing::Document {
        media_id: media.id,
        filename: "INV-2.pdf".into(),
        caption: None,
    };
    // Accepted (200) first: the failure only arrives by webhook, like Meta.
    e.client
        .send_message(&pnid, &e.token(), None, "+447700900123", &doc, None)
        .await
        .unwrap();
    let st = statuses(&e.wait_hooks(1).await, &e.account.app_secret);
    assert_eq!(st[0]["status"], "failed");
    assert_eq!(st[0]["errors"][0]["code"], 131047);
}

#[tokio::test]
async fn undeliverable_numbers_fail_with_131026() {
    let e = env(fast(), false).await;
    let tpl = Outgoing::Template {
        name: "hello_world".into(),
        language: "en_US".into(),
        components: vec![],
    };
    e.client
        .send_message(
            &e.account.phone_number_id,
            &e.token(),
            None,
            "+447700900000",
            &tpl,
            None,
        )
        .await
        .unwrap();
    let st = statuses(&e.wait_hooks(1).await, &e.account.app_secret);
    assert_eq!(st[0]["errors"][0]["code"], 131026);
}

#[tokio::test]
async fn templates_are_listed_created_approved_and_checked_at_send() {
    let e = env(fast(), false).await;
    let waba = e.account.business_account_id.clone();
    let list = e.client.templates(&waba, &e.token(), None).await.unwrap();
    assert_eq!(
        list.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["hello_world"]
    );

    let tpl = json!({ "name": "invoice_ready", "language": "en_US", "category": "UTILITY", "components": [
        { "type": "HEADER", "format": "DOCUMENT", "example": { "header_handle": ["4::YXBwbGljYXRpb24vcGRm:ARZ"] } },
        { "type": "BODY", "text": "Hi {{1}}, invoice {{2}} for {{3}} is attached. Thank you!",
          "example": { "body_text": [["Ana", "INV-001", "€120.00"]] } } ] });
    let created = e
        .client
        .create_template(&waba, &e.token(), None, &tpl)
        .await
        .unwrap();
    assert_eq!(created.status.as_deref(), Some("PENDING"));
    let dup = e
        .client
        .create_template(&waba, &e.token(), None, &tpl)
        .await
        .unwrap_err();
    assert_eq!(dup.api().unwrap().subcode, Some(2388024));
    assert!(dup
        .api()
        .unwrap()
        .user_msg
        .as_deref()
        .unwrap()
        .contains("already"));

    // Approval arrives by webhook.
    let hooks = e.wait_hooks(1).await;
    let v: Value = serde_json::from_slice(&hooks[0].1).unwrap();
    assert_eq!(
        v["entry"][0]["changes"][0]["field"],
        "message_template_status_update"
    );
    assert_eq!(v["entry"][0]["changes"][0]["value"]["event"], "APPROVED");

    let pnid = e.account.phone_number_id.clone();
    let media = e
        .client
        .upload_pdf(&pnid, &e.token(), None, "INV-3.pdf", pdf())
        .await
        .unwrap();
    let header = json!({ "type": "header", "parameters": [{ "type": "document", "document": { "id": media.id, "filename": "INV-3.pdf" } }] });
    let body = |n: usize| json!({ "type": "body", "parameters": (0..n).map(|i| json!({"type": "text", "text": format!("p{i}")})).collect::<Vec<_>>() });
    let send = |components: Vec<Value>| Outgoing::Template {
        name: "invoice_ready".into(),
        language: "en_US".into(),
        components,
    };
    let ok = e
        .client
        .send_message(
            &pnid,
            &e.token(),
            None,
            "+447700900123",
            &send(vec![header.clone(), body(3)]),
            None,
        )
        .await
        .unwrap();
    assert!(ok.wamid().is_some());
    let err = e
        .client
        .send_message(
            &pnid,
            &e.token(),
            None,
            "+447700900124",
            &send(vec![header.clone(), body(2)]),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TemplateMismatch);
    let err = e
        .client
        .send_message(
            &pnid,
            &e.token(),
            None,
            "+447700900125",
            &send(vec![body(3)]),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.api().unwrap().code, 132012);
    let missing = Outgoing::Template {
        name: "no_such".into(),
        language: "en_US".into(),
        components: vec![],
    };
    let err = e
        .client
        .send_message(&pnid, &e.token(), None, "+447700900126", &missing, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TemplateNotFound);
}

#[tokio::test]
async fn throughput_and_pair_limits() {
    let mut cfg = fast();
    cfg.throughput_per_sec = 5;
    cfg.pair_burst = 1;
    cfg.pair_interval = Duration::from_secs(60);
    let e = env(cfg, false).await;
    let pnid = e.account.phone_number_id.clone();
    let hello = Outgoing::Template {
        name: "hello_world".into(),
        language: "en_US".into(),
        components: vec![],
    };
    e.client
        .send_message(&pnid, &e.token(), None, "+447700900501", &hello, None)
        .await
        .unwrap();
    let err = e
        .client
        .send_message(&pnid, &e.token(), None, "+447700900501", &hello, None)
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.retry()),
        (ErrorKind::PairRateLimited, Retry::PairBackoff)
    );
    for i in 2..=5 {
        e.client
            .send_message(
                &pnid,
                &e.token(),
                None,
                &format!("+44770090050{i}"),
                &hello,
                None,
            )
            .await
            .unwrap();
    }
    let err = e
        .client
        .send_message(&pnid, &e.token(), None, "+447700900509", &hello, None)
        .await
        .unwrap_err();
    assert_eq!(err.api().unwrap().code, 130429);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    e.client
        .send_message(&pnid, &e.token(), None, "+447700900509", &hello, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_sends_are_refused_like_meta() {
    let e = env(fast(), false).await;
    let pnid = e.account.phone_number_id.clone();
    let text = Outgoing::Text { body: "hi".into() };
    let err = e
        .client
        .send_message(&pnid, &e.token(), None, "12", &text, None)
        .await
        .unwrap_err();
    assert_eq!(err.api().unwrap().code, 131009);
    let own = format!("+{}", e.account.display_phone_number);
    let err = e
        .client
        .send_message(&pnid, &e.token(), None, &own, &text, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SelfMessage);
    let doc = Outgoing::Document {
        media_id: "999".into(),
        filename: "x.pdf".into(),
        caption: None,
    };
    assert_eq!(
        e.client
            .send_message(&pnid, &e.token(), None, "+447700900123", &doc, None)
            .await
            .unwrap_err()
            .api()
            .unwrap()
            .code,
        131009
    );
    let err = e
        .client
        .upload_pdf(&pnid, &e.token(), None, "x.pdf", b"not a pdf".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MediaFailed);
}

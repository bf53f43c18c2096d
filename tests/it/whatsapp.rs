//! Settings → WhatsApp Integration through the real router, against a sandbox standing in for
//! Meta: connecting, every error the guide's troubleshooting covers, temporary tokens, test,
//! replace, disconnect, the built-in sandbox, ownership, environment credentials, key rotation.

use crate::common;

use axis_crm::error::AppError;
use axum::http::StatusCode;
use common::{
    reads::Reads,
    world::{World, WorldBuilder},
    Backend, Client,
};
use serde_json::Value;
use whatsapp_cloud::sandbox::{Fault, NewAccount, SandboxAccount};

const PASSWORD: &str = "correct horse battery";

/// Ana of Silva Lettings, signed up (not connected).
fn ana(backend: Backend) -> WorldBuilder {
    World::builder(backend).user("Ana", "Silva Lettings", "ana@example.com")
}

/// Ana, signed up, and a fake Meta with `account` on it.
async fn ana_with_meta(backend: Backend, account: NewAccount) -> World {
    ana(backend).account(account).build().await
}

fn form(a: &SandboxAccount, with_app: bool) -> Vec<(&'static str, String)> {
    vec![
        ("phone_number_id", a.phone_number_id.clone()),
        ("access_token", a.access_token.clone()),
        ("business_account_id", a.business_account_id.clone()),
        ("phone_number", "+44 7911 123456".into()),
        (
            "app_id",
            if with_app {
                a.app_id.clone()
            } else {
                String::new()
            },
        ),
        (
            "app_secret",
            if with_app {
                a.app_secret.clone()
            } else {
                String::new()
            },
        ),
    ]
}

async fn connect(b: &mut common::Browser<'_>, fields: &[(&'static str, String)]) -> common::Resp {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.call("whatsapp/connect", &pairs, Client::Wasm).await
}

async fn page(b: &mut common::Browser<'_>) -> Value {
    let r = b.call("whatsapp/get", &[], Client::Wasm).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

fn problem(r: &common::Resp) -> axis_crm::error::WhatsAppProblem {
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    r.error()
        .whatsapp()
        .cloned()
        .unwrap_or_else(|| panic!("not a WhatsApp problem: {}", r.body))
}

async fn connects_after_graph_confirms_and_shows_the_card(backend: Backend) {
    let w = ana_with_meta(
        backend,
        NewAccount {
            verified_name: "Silva Lettings".into(),
            ..Default::default()
        },
    )
    .await;
    let account = w.account();
    let mut b = w.browser();
    let r = connect(&mut b, &form(account, true)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let p = page(&mut b).await;
    let c = &p["connection"];
    assert_eq!(c["sandbox"], false);
    assert_eq!(c["verified_name"], "Silva Lettings");
    assert_eq!(c["quality_rating"], "GREEN");
    assert_eq!(c["messaging_limit"], "TIER_250");
    assert_eq!(c["throughput_level"], "STANDARD");
    assert_eq!(c["phone_number"], "+447911123456");
    assert_eq!(c["token"]["kind"], "permanent");
    assert_eq!(
        c["token_last4"],
        &account.access_token[account.access_token.len() - 4..]
    );
    let hook = c["webhook_url"].as_str().unwrap();
    assert!(
        hook.starts_with("http://127.0.0.1:3000/webhooks/whatsapp/") && hook.len() > 45,
        "{hook}"
    );
    assert_eq!(c["verify_token"].as_str().unwrap().len(), 40);
    assert!(
        !p.to_string().contains(&account.access_token),
        "the token never goes back to the browser"
    );
    assert!(!p.to_string().contains(&account.app_secret));

    let stored = w.reads().connection().await;
    let (tok, sec) = (
        stored.access_token_sealed,
        stored.app_secret_sealed.unwrap(),
    );
    assert!(tok.starts_with("v1.") && !tok.contains(&account.access_token));
    assert!(sec.starts_with("v1.") && !sec.contains(&account.app_secret));
    w.close().await;
}

async fn a_temporary_token_is_recognised(backend: Backend) {
    let w = ana_with_meta(
        backend,
        NewAccount {
            temporary_token: true,
            ..Default::default()
        },
    )
    .await;
    let (app, meta, account) = (&w.app, w.sandbox(), w.account());
    let mut b = w.browser();
    assert_eq!(
        connect(&mut b, &form(account, true)).await.status,
        StatusCode::OK
    );
    let p = page(&mut b).await;
    assert_eq!(p["connection"]["token"]["kind"], "temporary");
    let left = p["connection"]["token"]["seconds_left"].as_i64().unwrap();
    assert!((23 * 3600..=24 * 3600).contains(&left), "{left}");
    // The settings page warns with the time left and how to make a permanent token.
    let html = b.get("/settings/whatsapp").await.body;
    assert!(html.contains("This is a temporary token"), "warning shown");
    assert!(html.contains("System users"));
    // Without app credentials the kind is unknown, not guessed.
    let mut c = app.browser();
    c.signup("Bo", "Bo Homes", "bo@example.com", PASSWORD).await;
    let other = meta.create_account(Default::default());
    assert_eq!(
        connect(&mut c, &form(&other, false)).await.status,
        StatusCode::OK
    );
    assert_eq!(page(&mut c).await["connection"]["token"]["kind"], "unknown");
    w.close().await;
}

async fn each_graph_error_gets_its_guidance_and_stores_nothing(backend: Backend) {
    let w = ana_with_meta(backend, NewAccount::default()).await;
    let (meta, account) = (w.sandbox(), w.account());
    let mut b = w.browser();

    let mut bad_token = form(account, false);
    bad_token[1].1 = "EAAGm0PX4ZCpsBAnotarealtokenatall1234".into();
    let p = problem(&connect(&mut b, &bad_token).await);
    assert_eq!(p.title, "Invalid Access Token");
    assert_eq!(p.code, Some(190));
    assert!(p.trace_id.is_some(), "Meta's trace id is shown for support");
    assert!(p.steps.iter().any(|s| s.contains("permanent token")));

    let mut unknown = form(account, false);
    unknown[0].1 = "987654321098765".into();
    unknown[2].1 = String::new();
    let p = problem(&connect(&mut b, &unknown).await);
    assert_eq!(p.title, "Phone number not registered");
    assert!(p.explanation.contains("987654321098765"));

    let cases = [
        (
            Fault::Api {
                code: 133010,
                subcode: None,
                status: 400,
            },
            "Phone number not registered",
        ),
        (
            Fault::Api {
                code: 130429,
                subcode: None,
                status: 400,
            },
            "Rate limit exceeded",
        ),
        (
            Fault::Api {
                code: 80007,
                subcode: None,
                status: 400,
            },
            "Rate limit exceeded",
        ),
        (
            Fault::Api {
                code: 4,
                subcode: None,
                status: 400,
            },
            "Rate limit exceeded",
        ),
        (
            Fault::Api {
                code: 10,
                subcode: None,
                status: 403,
            },
            "Missing permissions",
        ),
        (
            Fault::Api {
                code: 200,
                subcode: None,
                status: 403,
            },
            "Missing permissions",
        ),
        (Fault::ServerError, "Could not reach WhatsApp"),
        (Fault::BadGateway, "Could not reach WhatsApp"),
    ];
    for (fault, title) in cases {
        meta.inject(fault.clone(), 1, Some(&account.phone_number_id));
        let p = problem(&connect(&mut b, &form(account, false)).await);
        assert_eq!(p.title, title, "{fault:?}");
    }
    assert_eq!(
        w.reads().connections().await,
        0,
        "nothing stored on any error"
    );

    // The Business Account must own the number; the App Secret must be right.
    let other = meta.create_account(Default::default());
    let mut wrong_waba = form(account, false);
    wrong_waba[2].1 = other.business_account_id.clone();
    let r = connect(&mut b, &wrong_waba).await;
    assert!(
        r.error().field("business_account_id").is_some(),
        "{}",
        r.body
    );
    let mut wrong_secret = form(account, true);
    wrong_secret[5].1 = "0123456789abcdef0123456789abcdef".into();
    let r = connect(&mut b, &wrong_secret).await;
    assert!(
        r.error().field("app_secret").unwrap().contains("refused"),
        "{}",
        r.body
    );
    assert_eq!(w.reads().connections().await, 0);
    w.close().await;
}

async fn network_failures_and_timeouts_are_explained(backend: Backend) {
    // Nothing listens on port 9 of loopback: connection refused.
    let w = ana(backend)
        .env(&[("WHATSAPP_GRAPH_URL", "http://127.0.0.1:9")])
        .build()
        .await;
    let mut b = w.browser();
    let fields = vec![
        ("phone_number_id", "123456789012345".to_string()),
        (
            "access_token",
            "EAAGm0PX4ZCpsBAabcdefghijklmnop".to_string(),
        ),
        ("business_account_id", String::new()),
        ("phone_number", String::new()),
        ("app_id", String::new()),
        ("app_secret", String::new()),
    ];
    let p = problem(&connect(&mut b, &fields).await);
    assert_eq!(p.title, "Could not reach WhatsApp");
    assert!(p.steps[0].contains("Nothing was saved"));
    assert_eq!(w.reads().connections().await, 0);
    w.close().await;
}

async fn bad_input_is_refused_before_any_call_to_meta(backend: Backend) {
    let w = ana(backend).fake_meta().build().await;
    let meta = w.sandbox();
    let mut b = w.browser();
    let fields = vec![
        ("phone_number_id", "+44 7911 123456".to_string()),
        ("access_token", "has spaces in it".to_string()),
        ("business_account_id", "WABA".to_string()),
        ("phone_number", "07911 123456".to_string()),
        ("app_id", String::new()),
        ("app_secret", "orphan".to_string()),
    ];
    let r = connect(&mut b, &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let e = r.error();
    for f in [
        "phone_number_id",
        "access_token",
        "business_account_id",
        "phone_number",
        "app_id",
    ] {
        assert!(e.field(f).is_some(), "{f}: {e:?}");
    }
    assert!(meta.exchanges().is_empty(), "no request reached Meta");
    w.close().await;

    // With the real Meta configured, a sandbox token typed into the form never leaves the server.
    let w = ana(backend).build().await;
    let mut b = w.browser();
    let sandbox_token = vec![
        ("phone_number_id", "123456789012345".to_string()),
        (
            "access_token",
            "SANDBOXabcdefghijklmnopqrstuvwxyz0123".to_string(),
        ),
        ("business_account_id", String::new()),
        ("phone_number", String::new()),
        ("app_id", String::new()),
        ("app_secret", String::new()),
    ];
    assert!(connect(&mut b, &sandbox_token)
        .await
        .error()
        .field("access_token")
        .unwrap()
        .contains("sandbox"));
    w.close().await;
}

async fn test_replace_and_disconnect(backend: Backend) {
    let w = ana_with_meta(backend, NewAccount::default()).await;
    let (meta, account) = (w.sandbox(), w.account());
    let mut b = w.browser();
    assert_eq!(
        connect(&mut b, &form(account, true)).await.status,
        StatusCode::OK
    );

    assert_eq!(
        b.call("whatsapp/test", &[], Client::Wasm).await.status,
        StatusCode::OK
    );

    // The token expires at Meta: the test says so, keeps the connection and records the failure.
    meta.expire_token(&account.access_token);
    let p = problem(&b.call("whatsapp/test", &[], Client::Wasm).await);
    assert_eq!(p.title, "Invalid Access Token");
    assert!(p.explanation.contains("expired"));
    assert_eq!(
        page(&mut b).await["connection"]["last_check_error"],
        "Invalid Access Token"
    );

    // A bad replacement changes nothing; a good one is checked, stored and clears the error.
    let before = w.reads().connection().await.access_token_sealed;
    let p = problem(
        &b.call(
            "whatsapp/replace_token",
            &[("access_token", "SANDBOXnotatokenthesandboxissued")],
            Client::Wasm,
        )
        .await,
    );
    assert_eq!(p.title, "Invalid Access Token");
    let after = w.reads().connection().await.access_token_sealed;
    assert_eq!(before, after);
    let fresh = meta.issue_token(account, true);
    let r = b
        .call(
            "whatsapp/replace_token",
            &[("access_token", fresh.as_str())],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = page(&mut b).await;
    assert_eq!(p["connection"]["token_last4"], &fresh[fresh.len() - 4..]);
    assert_eq!(p["connection"]["token"]["kind"], "temporary");
    assert_eq!(
        p["connection"]["last_check_error"],
        Value::Null,
        "a good token clears the failure"
    );
    w.close().await;

    // The same on a connection made with "Use sandbox" (the built-in sandbox).
    let w = ana(backend).build().await;
    let app = &w.app;
    let mut b = w.browser();
    assert_eq!(
        b.call("whatsapp/sandbox", &[], Client::Wasm).await.status,
        StatusCode::OK
    );
    let p = page(&mut b).await;
    assert_eq!(p["connection"]["sandbox"], true);
    assert_eq!(p["connection"]["verified_name"], "Silva Lettings");
    let sandbox = &app.state.meta.sandbox.as_ref().unwrap().sandbox;
    let pnid = p["connection"]["phone_number_id"]
        .as_str()
        .unwrap()
        .to_string();
    let waba = p["connection"]["business_account_id"]
        .as_str()
        .unwrap()
        .to_string();
    let app_id = p["connection"]["app_id"].as_str().unwrap().to_string();
    let acct = SandboxAccount {
        app_id,
        app_secret: String::new(),
        business_account_id: waba,
        phone_number_id: pnid,
        display_phone_number: String::new(),
        access_token: String::new(),
    };
    let new_token = sandbox.issue_token(&acct, true);
    let r = b
        .call(
            "whatsapp/replace_token",
            &[("access_token", new_token.as_str())],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        page(&mut b).await["connection"]["token_last4"],
        &new_token[new_token.len() - 4..]
    );

    assert_eq!(
        b.call("whatsapp/disconnect", &[], Client::Wasm)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(w.reads().connections().await, 0, "credentials deleted");
    assert_eq!(page(&mut b).await["connection"], Value::Null);
    assert_eq!(
        b.call("whatsapp/test", &[], Client::Wasm).await.status,
        StatusCode::NOT_FOUND
    );
    w.close().await;
}

async fn a_connection_is_its_owners_alone(backend: Backend) {
    let w = ana_with_meta(backend, NewAccount::default()).await;
    let app = &w.app;
    let mut ana = w.browser();
    assert_eq!(
        connect(&mut ana, &form(w.account(), true)).await.status,
        StatusCode::OK
    );
    let mut eve = app.browser();
    eve.signup("Eve", "Eve Lets", "eve@example.com", PASSWORD)
        .await;

    assert_eq!(
        page(&mut eve).await["connection"],
        Value::Null,
        "Eve sees no connection"
    );
    assert_eq!(
        eve.call("whatsapp/test", &[], Client::Wasm).await.error(),
        AppError::NotFound
    );
    assert_eq!(
        eve.call(
            "whatsapp/replace_token",
            &[("access_token", "EAAGm0PX4ZCpsBAabcdefghijklmnop")],
            Client::Wasm
        )
        .await
        .error(),
        AppError::NotFound
    );
    assert_eq!(
        eve.call("whatsapp/disconnect", &[], Client::Wasm)
            .await
            .error(),
        AppError::NotFound
    );
    assert_eq!(w.reads().connections().await, 1);
    assert_eq!(
        page(&mut ana).await["connection"]["last_check_error"],
        Value::Null
    );

    // And nobody without a session gets anywhere.
    let mut anon = app.browser();
    for endpoint in [
        "whatsapp/get",
        "whatsapp/test",
        "whatsapp/disconnect",
        "whatsapp/sandbox",
    ] {
        assert_eq!(
            anon.call(endpoint, &[], Client::Wasm).await.status,
            StatusCode::UNAUTHORIZED,
            "{endpoint}"
        );
    }
    w.close().await;
}

async fn environment_credentials_are_used_and_never_shown(backend: Backend) {
    let w = ana(backend)
        .account(NewAccount {
            verified_name: "Env Lettings".into(),
            ..Default::default()
        })
        .env_from_account(|a| {
            vec![
                ("WHATSAPP_PHONE_NUMBER_ID", a.phone_number_id.clone()),
                ("WHATSAPP_ACCESS_TOKEN", a.access_token.clone()),
                (
                    "WHATSAPP_BUSINESS_ACCOUNT_ID",
                    a.business_account_id.clone(),
                ),
            ]
        })
        .build()
        .await;
    let account = w.account();
    let mut b = w.browser();
    let p = page(&mut b).await;
    assert_eq!(p["env_managed"], true);
    let html = b.get("/settings/whatsapp").await.body;
    assert!(html.contains("Managed by environment"));
    assert!(!html.contains(&account.access_token) && !html.contains(&account.phone_number_id));
    let r = b.call("whatsapp/test_env", &[], Client::Wasm).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["verified_name"], "Env Lettings");
    assert!(!r.body.contains(&account.access_token));
    w.close().await;
}

async fn rotate_key_reencrypts_every_secret(backend: Backend) {
    use axis_crm::{
        connections::server::rotate_secrets,
        platform::{config::MasterKey, crypto::Keyring},
    };
    let w = ana_with_meta(backend, NewAccount::default()).await;
    let (app, account) = (&w.app, w.account());
    let mut b = w.browser();
    assert_eq!(
        connect(&mut b, &form(account, true)).await.status,
        StatusCode::OK
    );

    let old = app.state.config.master_key.clone();
    let new = MasterKey::generate();
    let ring = Keyring::new(&new, &[old]);
    assert_eq!(
        rotate_secrets(&app.state.db, &ring).await.unwrap(),
        3,
        "token, app secret, verify token"
    );
    assert_eq!(
        rotate_secrets(&app.state.db, &ring).await.unwrap(),
        0,
        "idempotent"
    );
    // Readable with the new key alone now.
    let only_new = Keyring::new(&new, &[]);
    let stored = w.reads().connection().await;
    use secrecy::ExposeSecret;
    assert_eq!(
        only_new
            .decrypt(
                &stored.access_token_sealed,
                &Reads::secret_context("access_token", stored.user_id)
            )
            .unwrap()
            .expose_secret(),
        account.access_token
    );
    w.close().await;
}

per_backend!(
    connects_after_graph_confirms_and_shows_the_card,
    a_temporary_token_is_recognised,
    each_graph_error_gets_its_guidance_and_stores_nothing,
    network_failures_and_timeouts_are_explained,
    bad_input_is_refused_before_any_call_to_meta,
    test_replace_and_disconnect,
    a_connection_is_its_owners_alone,
    environment_credentials_are_used_and_never_shown,
    rotate_key_reencrypts_every_secret,
);

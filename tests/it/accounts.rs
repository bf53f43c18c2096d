//! Accounts through the real router: sign-up, log-in, throttling, sessions, cross-origin refusal,
//! and the no-JavaScript form path. Every test runs on SQLite and on PostgreSQL.

use crate::common;

use axis_crm::error::AppError;
use axum::http::StatusCode;
use common::{Client, TestApp};

const PASSWORD: &str = "correct horse battery";

async fn signup_signs_in_and_stores_an_argon2id_hash(app: TestApp) -> TestApp {
    let mut b = app.browser();
    let r = b
        .signup("Ana Silva", "Silva Lettings", "Ana@Example.com", PASSWORD)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.location(), Some("/onboarding"));
    assert!(
        r.header("serverfnredirect").is_some(),
        "the WASM client is told to navigate"
    );
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http public URL: no Secure flag"
    );

    let page = b.get("/invoices").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Silva Lettings"),
        "the header shows the business name"
    );

    let (email, key, hash): (String, String, String) =
        sqlx::query_as("SELECT email, email_key, password_hash FROM users")
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (email.as_str(), key.as_str()),
        ("Ana@Example.com", "ana@example.com")
    );
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
    app
}

async fn secure_cookie_when_public_url_is_https(app: TestApp) -> TestApp {
    app.close().await;
    let app = TestApp::with_env(
        common::Backend::Sqlite,
        &[("AXIS_PUBLIC_URL", "https://crm.example")],
    )
    .await;
    let mut b = app.browser();
    let form = [
        ("name", "Ana"),
        ("business_name", "Silva Lettings"),
        ("email", "ana@example.com"),
        ("password", PASSWORD),
    ];
    // The browser is on the public https origin (an http page of the same host is another site).
    let r = b
        .call_from("signup", &form, Client::Wasm, Some("https://crm.example"))
        .await;
    assert!(
        r.header("set-cookie").unwrap().contains("Secure"),
        "{} {}",
        r.status,
        r.body
    );
    app
}

async fn duplicate_email_is_refused_case_insensitively(app: TestApp) -> TestApp {
    app.browser()
        .signup("Ana", "Silva Lettings", "ana@example.com", PASSWORD)
        .await;
    let r = app
        .browser()
        .signup("Other", "Other Ltd", "  ANA@EXAMPLE.COM ", PASSWORD)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.error().field("email").unwrap().contains("already exists"));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    app
}

async fn bad_input_gets_field_errors_and_stores_nothing(app: TestApp) -> TestApp {
    let mut b = app.browser();
    let r = b
        .signup("", "Silva Lettings", "not-an-email", "short")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let err = r.error();
    assert_eq!(err.field("name").as_deref(), Some("Enter your name."));
    assert!(err.field("email").unwrap().contains("valid email"));
    assert!(err.field("password").unwrap().contains("at least 10"));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    assert_eq!(
        b.get("/invoices").await.status,
        StatusCode::SEE_OTHER,
        "not signed in"
    );
    app
}

async fn login_cycles_the_session_id_and_logout_ends_it_server_side(app: TestApp) -> TestApp {
    app.browser()
        .signup("Ana", "Silva Lettings", "ana@example.com", PASSWORD)
        .await;
    let mut b = app.browser();
    // A failed plain-form log-in keeps its error in a short-lived cookie: a visitor gets no
    // session row, however many forms they post.
    let rows = app.count("SELECT COUNT(*) FROM sessions").await;
    for _ in 0..3 {
        b.call(
            "login",
            &[("email", "ana@example.com"), ("password", "wrong password")],
            Client::PlainForm { referer: "/login" },
        )
        .await;
    }
    assert!(b.cookie.is_none(), "no session for a visitor");
    assert!(b.others.iter().any(|(n, _)| n == "axis_flash"));
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, rows);
    let page = b.get("/login").await;
    assert!(
        page.body.contains("do not match an account"),
        "the visitor's error still shows without JavaScript"
    );
    assert!(
        !b.get("/login")
            .await
            .body
            .contains("do not match an account"),
        "once"
    );

    let r = b.login("ANA@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let anonymous = b.cookie.clone().unwrap();
    let r = b.login("ana@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let signed_in = b.cookie.clone().unwrap();
    assert_ne!(anonymous, signed_in, "the session id changes at log-in");
    assert_eq!(b.get("/invoices").await.status, StatusCode::OK);

    // The old id is dead: someone who planted it learns nothing.
    let mut attacker = app.browser();
    attacker.cookie = Some(anonymous);
    assert_eq!(
        attacker.get("/invoices").await.status,
        StatusCode::SEE_OTHER
    );

    let before = app.count("SELECT COUNT(*) FROM sessions").await;
    let r = b.call("logout", &[], Client::Wasm).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.location(), Some("/login"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessions").await,
        before - 1,
        "the session row is deleted"
    );
    // Replaying the signed-in cookie after log-out does not work.
    let mut replay = app.browser();
    replay.cookie = Some(signed_in);
    let r = replay.get("/invoices").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/login?next=%2Finvoices"));
    app
}

async fn wrong_password_and_unknown_email_get_the_same_answer(app: TestApp) -> TestApp {
    app.browser()
        .signup("Ana", "Silva Lettings", "ana@example.com", PASSWORD)
        .await;
    let wrong = app
        .browser()
        .login("ana@example.com", "not the password")
        .await;
    let unknown = app
        .browser()
        .login("nobody@example.com", "not the password")
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.body, unknown.body);
    app
}

async fn failed_logins_are_throttled_per_email(app: TestApp) -> TestApp {
    app.browser()
        .signup("Ana", "Silva Lettings", "ana@example.com", PASSWORD)
        .await;
    for _ in 0..5 {
        let r = app
            .browser()
            .login("ana@example.com", "wrong password")
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Now even the right password waits.
    let r = app.browser().login("ana@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    match r.error() {
        AppError::Throttled { retry_after_secs } => assert!((1..=60).contains(&retry_after_secs)),
        other => panic!("{other:?}"),
    }
    assert!(r.error().to_string().contains("wait"));
    // Once the window has passed, the user gets in and the count is cleared.
    sqlx::query("UPDATE login_failures SET at = at - 61")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(
        app.browser()
            .login("ana@example.com", PASSWORD)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM login_failures WHERE email_key = 'ana@example.com'")
            .await,
        0
    );
    app
}

async fn failed_logins_are_throttled_per_client_address(app: TestApp) -> TestApp {
    app.browser()
        .signup("Ana", "Silva Lettings", "ana@example.com", PASSWORD)
        .await;
    for i in 0..20 {
        let r = app
            .browser()
            .login(&format!("guess{i}@example.com"), "wrong password")
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = app.browser().login("ana@example.com", PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "same address, different email"
    );
    app
}

async fn forwarded_address_counts_only_behind_a_trusted_proxy(app: TestApp) -> TestApp {
    let backend = app.backend;
    app.close().await;
    let app = TestApp::with_env(backend, &[("AXIS_TRUST_PROXY", "1")]).await;
    app.browser()
        .signup("Ana", "Silva Lettings", "ana@example.com", PASSWORD)
        .await;
    for i in 0..20 {
        let mut b = app.browser();
        b.ip = Some("198.51.100.1".into());
        b.login(&format!("guess{i}@example.com"), "wrong").await;
    }
    let mut other = app.browser();
    other.ip = Some("198.51.100.2".into());
    assert_eq!(
        other.login("ana@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "another client is not punished"
    );
    let mut same = app.browser();
    same.ip = Some("10.0.0.1, 198.51.100.1".into());
    assert_eq!(
        same.login("ana@example.com", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    app
}

async fn expired_sessions_are_refused(app: TestApp) -> TestApp {
    let mut b = app.browser();
    b.signup("Ana", "Silva Lettings", "ana@example.com", PASSWORD)
        .await;
    assert_eq!(b.get("/settings").await.status, StatusCode::OK);
    sqlx::query("UPDATE sessions SET expires_at = 0")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let r = b.get("/settings").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/login?next=%2Fsettings"));
    let r = b
        .call(
            "update_profile",
            &[("name", "X"), ("business_name", "Y")],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error(), AppError::Unauthorized);
    app
}

async fn cross_origin_posts_are_refused(app: TestApp) -> TestApp {
    let mut b = app.browser();
    let form = [
        ("name", "Eve"),
        ("business_name", "Evil"),
        ("email", "eve@example.com"),
        ("password", PASSWORD),
    ];
    let r = b
        .call_from("signup", &form, Client::Wasm, Some("https://evil.example"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.error(), AppError::Forbidden);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);

    // A signed-in user's cookie does not help a forged log-out or profile change either.
    b.signup("Ana", "Silva Lettings", "ana@example.com", PASSWORD)
        .await;
    let r = b
        .call_from(
            "update_profile",
            &[("name", "Eve"), ("business_name", "Owned")],
            Client::Wasm,
            Some("null"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b
        .call_from("logout", &[], Client::Wasm, Some("https://evil.example"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(b.get("/settings").await.body.contains("Silva Lettings"));
    app
}

async fn pages_need_a_session_and_guests_pages_send_members_on(app: TestApp) -> TestApp {
    let mut b = app.browser();
    for path in ["/invoices", "/settings", "/onboarding", "/"] {
        let r = b.get(path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert!(r.location().unwrap().starts_with("/login"), "{path}");
    }
    assert_eq!(b.get("/login").await.status, StatusCode::OK);
    assert_eq!(b.get("/signup").await.status, StatusCode::OK);
    for endpoint in ["current_user", "logout", "update_profile"] {
        let r = b
            .call(
                endpoint,
                &[("name", "x"), ("business_name", "y")],
                Client::Wasm,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{endpoint} needs a session"
        );
    }

    b.signup("Ana", "Silva Lettings", "ana@example.com", PASSWORD)
        .await;
    let r = b.get("/login").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/invoices"));
    assert_eq!(b.get("/no-such-page").await.status, StatusCode::NOT_FOUND);
    app
}

async fn plain_form_errors_come_back_to_the_page(app: TestApp) -> TestApp {
    let mut b = app.browser();
    let form = [
        ("name", "Ana"),
        ("business_name", "Silva Lettings"),
        ("email", "ana@"),
        ("password", "tiny-pw-9"),
    ];
    let r = b
        .call("signup", &form, Client::PlainForm { referer: "/signup" })
        .await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), Some("/signup"));
    let page = b.get("/signup").await;
    assert!(
        page.body.contains("Enter a valid email address"),
        "the error shows without JavaScript"
    );
    assert!(
        page.body.contains("value=\"Silva Lettings\""),
        "typed values are kept"
    );
    assert!(
        !page.body.contains("tiny-pw-9"),
        "the password is never echoed"
    );
    // Shown once.
    assert!(!b
        .get("/signup")
        .await
        .body
        .contains("Enter a valid email address"));

    // A good plain-form sign-up lands in the setup wizard.
    let form = [
        ("name", "Ana"),
        ("business_name", "Silva Lettings"),
        ("email", "ana@example.com"),
        ("password", PASSWORD),
    ];
    let r = b
        .call("signup", &form, Client::PlainForm { referer: "/signup" })
        .await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), Some("/onboarding"));
    // And a plain-form log-in follows `next`, but never off-site.
    let mut c = app.browser();
    let r = c
        .call(
            "login",
            &[
                ("email", "ana@example.com"),
                ("password", PASSWORD),
                ("next", "/settings"),
            ],
            Client::PlainForm { referer: "/login" },
        )
        .await;
    assert_eq!(r.location(), Some("/settings"));
    let mut d = app.browser();
    let r = d
        .call(
            "login",
            &[
                ("email", "ana@example.com"),
                ("password", PASSWORD),
                ("next", "//evil.example"),
            ],
            Client::PlainForm { referer: "/login" },
        )
        .await;
    assert_eq!(r.location(), Some("/invoices"));
    app
}

/// Issue 11: `next` is a path of this site whatever is put in it, and no input drops the
/// connection.
async fn next_never_leaves_the_site(app: TestApp) -> TestApp {
    app.browser()
        .signup("Ana", "Silva Lettings", "ana@example.com", PASSWORD)
        .await;
    for (next, to) in [
        ("/settings", "/settings"),
        ("/invoices?page=2&sort=due", "/invoices?page=2&sort=due"),
        ("/\t/evil.example", "/invoices"),
        ("/\n/evil.example", "/invoices"),
        ("/\r\nLocation: https://evil.example", "/invoices"),
        ("/\u{0}/evil.example", "/invoices"),
        ("/ /evil.example", "/invoices"),
        ("/\u{202E}/evil.example", "/invoices"),
        ("//evil.example", "/invoices"),
        ("///evil.example", "/invoices"),
        ("/\\evil.example", "/invoices"),
        ("https://evil.example", "/invoices"),
        ("javascript:alert(1)", "/invoices"),
        ("/%0d%0aSet-Cookie:x=1", "/%0d%0aSet-Cookie:x=1"),
    ] {
        for client in [Client::Wasm, Client::PlainForm { referer: "/login" }] {
            let plain = matches!(client, Client::PlainForm { .. });
            let mut b = app.browser();
            let r = b
                .call(
                    "login",
                    &[
                        ("email", "ana@example.com"),
                        ("password", PASSWORD),
                        ("next", next),
                    ],
                    client,
                )
                .await;
            assert!(r.status.as_u16() < 400, "{next:?}: {} {}", r.status, r.body);
            assert_eq!(r.location(), Some(to), "{next:?} (plain form: {plain})");
        }
    }
    app
}

/// Issue 11: requests that are not forms of this app get a 4xx with a message, never a 500.
async fn malformed_requests_get_client_errors(app: TestApp) -> TestApp {
    let mut b = app.browser();
    b.signup("Ana", "Silva Lettings", "ana@example.com", PASSWORD)
        .await;
    // Missing and malformed arguments: 400, with what was wrong.
    for (endpoint, form) in [
        ("login", vec![]),
        ("invoices/detail", vec![]),
        ("invoices/detail", vec![("id", "not-a-number")]),
        (
            "whatsapp/history",
            vec![("invoice_id", "99999999999999999999999")],
        ),
    ] {
        let r = b.call(endpoint, &form, Client::Wasm).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{endpoint} {form:?}: {}",
            r.body
        );
        assert!(r
            .error()
            .field("form")
            .unwrap()
            .contains("incomplete or malformed"));
    }
    // A body far over any form: 413, before it is read.
    let huge = "x".repeat(5 * 1024 * 1024);
    let r = b
        .call(
            "update_profile",
            &[("name", &huge), ("business_name", "B")],
            Client::Wasm,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        &r.body[..r.body.len().min(200)]
    );
    assert!(r.error().field("form").is_some());
    // The server still answers.
    assert_eq!(b.get("/healthz").await.status, StatusCode::OK);
    // Pages and server-function answers carry personal data: never cached.
    for path in ["/invoices", "/settings", "/login"] {
        assert_eq!(
            b.get(path).await.header("cache-control"),
            Some("no-store"),
            "{path}"
        );
    }
    let r = b
        .call(
            "invoices/list",
            &[
                ("page", "1"),
                ("sort", ""),
                ("dir", ""),
                ("q", ""),
                ("status", ""),
            ],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(b
        .get("/fonts/noto-sans-arabic.ttf")
        .await
        .header("cache-control")
        .unwrap()
        .contains("immutable"));
    // An origin of this host under another scheme is another site.
    let r = b
        .call_from(
            "update_profile",
            &[("name", "Eve"), ("business_name", "E")],
            Client::Wasm,
            Some("https://127.0.0.1:3000"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    app
}

async fn profile_updates_validate_and_save(app: TestApp) -> TestApp {
    let mut b = app.browser();
    b.signup("Ana", "Silva Lettings", "ana@example.com", PASSWORD)
        .await;
    let r = b
        .call(
            "update_profile",
            &[("name", " "), ("business_name", "New Name")],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        b.get("/settings").await.body.contains("Silva Lettings"),
        "nothing changed"
    );
    let r = b
        .call(
            "update_profile",
            &[("name", "Ana S."), ("business_name", "Silva & Co")],
            Client::Wasm,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["business_name"], "Silva & Co");
    app
}

async fn probes_and_security_headers(app: TestApp) -> TestApp {
    let mut b = app.browser();
    let r = b.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], "ok");
    let r = b.get("/readyz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["database"], "ok");
    assert!(r.header("x-request-id").is_some());

    let page = b.get("/login").await;
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        page.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("a nonce");
    assert!(
        page.body.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script carries this response's nonce"
    );
    let other = b.get("/login").await;
    assert!(
        !other
            .header("content-security-policy")
            .unwrap()
            .contains(nonce),
        "a fresh nonce per response"
    );
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'none'"));
    let font = b.get("/fonts/noto-sans-devanagari.ttf").await;
    assert_eq!(font.header("content-type"), Some("font/ttf"));
    assert!(font.header("cache-control").unwrap().contains("immutable"));
    assert_eq!(
        b.get("/fonts/other.ttf").await.status,
        StatusCode::NOT_FOUND
    );
    app
}

async fn readiness_reports_a_lost_database(app: TestApp) -> TestApp {
    app.state.db.pool.close().await;
    let r = app.browser().get("/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json()["database"], "unreachable");
    assert_eq!(app.browser().get("/healthz").await.status, StatusCode::OK);
    app
}

per_backend!(
    signup_signs_in_and_stores_an_argon2id_hash,
    duplicate_email_is_refused_case_insensitively,
    bad_input_gets_field_errors_and_stores_nothing,
    login_cycles_the_session_id_and_logout_ends_it_server_side,
    wrong_password_and_unknown_email_get_the_same_answer,
    failed_logins_are_throttled_per_email,
    failed_logins_are_throttled_per_client_address,
    forwarded_address_counts_only_behind_a_trusted_proxy,
    expired_sessions_are_refused,
    cross_origin_posts_are_refused,
    pages_need_a_session_and_guests_pages_send_members_on,
    plain_form_errors_come_back_to_the_page,
    profile_updates_validate_and_save,
    probes_and_security_headers,
    readiness_reports_a_lost_database,
    next_never_leaves_the_site,
    malformed_requests_get_client_errors,
);

#[tokio::test]
async fn secure_cookie_with_https_public_url() {
    common::run(
        common::Backend::Sqlite,
        secure_cookie_when_public_url_is_https,
    )
    .await;
}

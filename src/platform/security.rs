//! HTTP hardening: security headers, the cross-origin refusal for state-changing requests, and
//! the page gate that sends logged-out visitors to /login.

use crate::platform::{sessions::SESSION_USER_KEY, state::AppState};
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use tower_sessions::Session;

/// The Content-Security-Policy for everything that is not an HTML page (pages carry one with a
/// per-response nonce, set while rendering: see `app::shell`).
pub const STATIC_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The page CSP: scripts only from this origin or with this response's nonce; WASM may compile.
pub fn page_csp(nonce: &str, dev_reload: Option<u16>) -> String {
    let connect = match dev_reload {
        Some(port) => format!("'self' ws://127.0.0.1:{port} ws://localhost:{port}"),
        None => "'self'".to_string(),
    };
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; font-src 'self'; connect-src {connect}; object-src 'none'; \
         frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )
}

/// Refuses POST/PUT/PATCH/DELETE that a browser sent from another origin. Browsers always send
/// `Origin` on cross-origin writes (and `Sec-Fetch-Site`), so a request without either comes from
/// a non-browser client, which cannot ride on a user's cookies.
pub async fn refuse_cross_origin(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // Meta's webhook deliveries are server-to-server and authenticated by their signature.
    if safe
        || req.uri().path().starts_with("/webhooks/")
        || same_origin(req.headers(), &state.config.public_origin())
    {
        return next.run(req).await;
    }
    tracing::warn!(path = %req.uri().path(), origin = ?req.headers().get(header::ORIGIN), "refused a cross-origin request");
    (
        StatusCode::FORBIDDEN,
        axum::Json(crate::error::AppError::Forbidden),
    )
        .into_response()
}

pub fn same_origin(headers: &HeaderMap, public_origin: &str) -> bool {
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => {
            if origin.eq_ignore_ascii_case(public_origin) {
                return true;
            }
            // Same host the request was addressed to (local runs, tests, several hostnames), and
            // the scheme this site is served with: `http://crm.example` is another origin than
            // `https://crm.example`, and a page there must not post here.
            let scheme = public_origin.split_once("://").map(|(s, _)| s);
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            let origin_parts = origin.split_once("://");
            matches!((origin_parts, scheme, host),
                (Some((os, oh)), Some(s), Some(h)) if os.eq_ignore_ascii_case(s) && oh.eq_ignore_ascii_case(h))
        }
        None => !matches!(
            headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
            Some("cross-site") | Some("same-site")
        ),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Access {
    /// Not a page (API, assets, probes): the page gate does not apply.
    NotAPage,
    /// Log-in and sign-up: a signed-in user is sent on to the app.
    GuestOnly,
    /// Everything else needs a session.
    Private,
}

pub fn classify(path: &str) -> Access {
    const NOT_PAGES: [&str; 5] = ["/api/", "/pkg/", "/webhooks/", "/healthz", "/readyz"];
    if NOT_PAGES.iter().any(|p| path.starts_with(p)) {
        return Access::NotAPage;
    }
    // Static files from the assets directory have an extension; pages never do.
    if path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
    {
        return Access::NotAPage;
    }
    match path.trim_end_matches('/') {
        "/login" | "/signup" => Access::GuestOnly,
        _ => Access::Private,
    }
}

/// Sends logged-out visitors of private pages to `/login?next=…`, and signed-in visitors of the
/// log-in and sign-up pages to the app.
pub async fn page_gate(session: Session, req: Request, next: Next) -> Response {
    if req.method() != Method::GET {
        return next.run(req).await;
    }
    let access = classify(req.uri().path());
    if access == Access::NotAPage {
        return next.run(req).await;
    }
    let signed_in = matches!(session.get::<i64>(SESSION_USER_KEY).await, Ok(Some(_)));
    match (access, signed_in) {
        (Access::Private, false) => {
            let target = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let next_param = if target == "/" {
                String::new()
            } else {
                format!("?next={}", urlencode(target))
            };
            Redirect::to(&format!("/login{next_param}")).into_response()
        }
        (Access::GuestOnly, true) => Redirect::to("/invoices").into_response(),
        _ => next.run(req).await,
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Adds the headers every response carries. HTML pages get the page CSP with the nonce that
/// leptos wrote into their script tags (read from the rendered page itself, so the header and the
/// page can never disagree); everything else gets the static CSP unless it set its own.
pub async fn security_headers(
    State(state): State<AppState>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let cacheable = is_static_asset(req.uri().path());
    let res = next.run(req).await;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    let mut res = if is_html && !res.headers().contains_key(header::CONTENT_SECURITY_POLICY) {
        let (mut parts, body) = res.into_parts();
        match axum::body::to_bytes(body, 16 * 1024 * 1024).await {
            Ok(bytes) => {
                let opts = &state.leptos_options;
                let dev_reload = dev_reload_port(opts);
                let csp = match find_nonce(&bytes) {
                    Some(nonce) => page_csp(nonce, dev_reload),
                    None => page_csp("", dev_reload).replace(" 'nonce-'", ""),
                };
                if let Ok(v) = HeaderValue::from_str(&csp) {
                    parts.headers.insert(header::CONTENT_SECURITY_POLICY, v);
                }
                Response::from_parts(parts, Body::from(bytes))
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read a page to set its CSP");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
            }
        }
    } else {
        res
    };
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "referrer-policy",
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    if !h.contains_key("x-frame-options") {
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    }
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(STATIC_CSP),
        );
    }
    if !cacheable && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// The largest request body a server function reads (the largest form, an invoice of 50 lines with
/// every field full, is about a tenth of this).
pub const API_BODY_LIMIT: usize = 1024 * 1024;

/// Server functions answer every error with 500 (server_fn's own choice), also when the request
/// itself was bad: missing or malformed arguments never reach our code, so `finish()` cannot set
/// the status. This reads the `AppError` such an answer carries and gives it its own status (400
/// for arguments, 401, 404, 422…), and logs client errors as warnings, not as internal errors.
///
/// It also bounds what a server function reads: a body over [`API_BODY_LIMIT`] is answered 413
/// before any of it is parsed.
pub async fn server_fn_status(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if !path.starts_with("/api/") {
        return next.run(req).await;
    }
    let too_large = || {
        tracing::warn!(%path, limit = API_BODY_LIMIT, "refused a request body over the limit");
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(crate::error::AppError::invalid(
                "form",
                "This form is far larger than any form of Axis CRM can be, and was not read.",
            )),
        )
            .into_response()
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > API_BODY_LIMIT) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, API_BODY_LIMIT).await else {
        return too_large();
    };
    let res = next.run(Request::from_parts(parts, Body::from(body))).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<crate::error::AppError>(&bytes) {
        let status =
            StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_client_error() {
            tracing::warn!(%path, status = status.as_u16(), error = %error, "server function refused a request");
        }
        parts.status = status;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The port of cargo-leptos's live-reload socket, which the page CSP must allow: only in a debug
/// build run in development. A release build never reloads itself, whatever `LEPTOS_ENV` says.
fn dev_reload_port(opts: &leptos::config::LeptosOptions) -> Option<u16> {
    (cfg!(debug_assertions) && opts.env == leptos::config::Env::DEV)
        .then_some(opts.reload_port as u16)
}

/// Whether a response may be kept by the browser or a shared cache: the hashed or static assets
/// (`/pkg/`, fonts, files with an extension) may; pages, server-function answers and PDFs carry
/// personal data and must not.
fn is_static_asset(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path.starts_with("/fonts/")
        || (classify(path) == Access::NotAPage
            && !path.starts_with("/api/")
            && !path.starts_with("/webhooks/"))
}

/// The first `nonce="…"` in a page (leptos gives every script of one response the same nonce).
pub fn find_nonce(html: &[u8]) -> Option<&str> {
    let key = b"nonce=\"";
    let start = html.windows(key.len()).position(|w| w == key)? + key.len();
    let len = html[start..].iter().position(|&b| b == b'"')?;
    let nonce = std::str::from_utf8(&html[start..start + len]).ok()?;
    nonce
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_+/=".contains(&b))
        .then_some(nonce)
        .filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn origin_rules() {
        let public = "https://crm.example";
        assert!(same_origin(
            &headers(&[("origin", "https://crm.example")]),
            public
        ));
        assert!(
            same_origin(
                &headers(&[
                    ("origin", "https://crm-2.example"),
                    ("host", "crm-2.example")
                ]),
                public
            ),
            "another hostname of the same deployment"
        );
        assert!(same_origin(
            &headers(&[
                ("origin", "http://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000")
            ]),
            "http://127.0.0.1:3000"
        ));
        assert!(!same_origin(
            &headers(&[("origin", "https://evil.example"), ("host", "crm.example")]),
            public
        ));
        assert!(!same_origin(
            &headers(&[("origin", "null"), ("host", "crm.example")]),
            public
        ));
        assert!(
            !same_origin(
                &headers(&[("origin", "http://crm.example"), ("host", "crm.example")]),
                public
            ),
            "the scheme is part of the origin"
        );
        assert!(!same_origin(
            &headers(&[("origin", "http://crm.example")]),
            public
        ));
        assert!(
            same_origin(&headers(&[]), public),
            "non-browser clients carry no cookies to abuse"
        );
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site")]),
            public
        ));
    }

    #[test]
    fn page_classification() {
        assert_eq!(classify("/login"), Access::GuestOnly);
        assert_eq!(classify("/signup/"), Access::GuestOnly);
        assert_eq!(classify("/invoices"), Access::Private);
        assert_eq!(classify("/"), Access::Private);
        assert_eq!(classify("/api/login"), Access::NotAPage);
        assert_eq!(classify("/pkg/axis-crm.wasm"), Access::NotAPage);
        assert_eq!(classify("/favicon.ico"), Access::NotAPage);
        assert_eq!(classify("/healthz"), Access::NotAPage);
    }

    #[test]
    fn finds_the_pages_nonce() {
        assert_eq!(
            find_nonce(br#"<script nonce="abc-_1" type="module">"#),
            Some("abc-_1")
        );
        assert_eq!(find_nonce(b"<p>no scripts</p>"), None);
        assert_eq!(
            find_nonce(br#"<script nonce="a'b">"#),
            None,
            "only nonce characters"
        );
    }

    #[test]
    fn csp_allows_wasm_and_the_nonce_only() {
        let csp = page_csp("abc", None);
        assert!(csp.contains("'nonce-abc'"));
        assert!(csp.contains("'wasm-unsafe-eval'"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(page_csp("n", Some(3001)).contains("ws://127.0.0.1:3001"));
    }

    #[test]
    fn only_assets_may_be_cached() {
        for asset in [
            "/pkg/axis-crm.wasm",
            "/fonts/noto-sans-arabic.ttf",
            "/favicon.svg",
        ] {
            assert!(is_static_asset(asset), "{asset}");
        }
        for private in [
            "/invoices",
            "/invoices/3/pdf",
            "/api/login",
            "/settings",
            "/",
            "/webhooks/whatsapp/x",
        ] {
            assert!(!is_static_asset(private), "{private}");
        }
    }
}

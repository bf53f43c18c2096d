//! Test harness: the real router on a fresh SQLite file or a fresh PostgreSQL database, and a
//! tiny cookie-keeping browser that speaks to it without a network. [`world`] builds the usual
//! setting on top of it (a user connected to a fake Meta, sample data, an approved template);
//! [`reads`] is the one place tests read (or stage) what the app stores about WhatsApp.
#![allow(dead_code)]

pub mod hostile;
pub mod reads;
pub mod world;

use axis_crm::platform::{self, config::Config, AppState};
use axum::{
    body::Body,
    extract::connect_info::MockConnectInfo,
    http::{header, HeaderMap, Request, StatusCode},
    Router,
};
use http_body_util::BodyExt;
use std::{future::Future, net::SocketAddr};
use tower::ServiceExt;

pub const ORIGIN: &str = "http://127.0.0.1:3000";
pub const HOST: &str = "127.0.0.1:3000";

/// How long a test waits for something that must happen (a template's approval, a send settling,
/// a server coming up) before it fails. A liveness bound, not a deadline: waits poll for the
/// event and end as soon as it happens, and the bound is generous so a busy 2-core machine never
/// fails a test that is only slow.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub backend: Backend,
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
    pg_name: Option<String>,
}

/// PostgreSQL server used for the tests' own databases (trust auth on the project's machines).
pub fn pg_admin_url() -> String {
    std::env::var("AXIS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn with_db(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("AXIS_TEST_POSTGRES_URL is a URL");
    u.set_path(db);
    u.to_string()
}

async fn admin_exec(sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&pg_admin_url()).await.expect(
        "PostgreSQL must be reachable for the PostgreSQL tests (set AXIS_TEST_POSTGRES_URL)",
    );
    sqlx::query(sql).execute(&mut conn).await.expect(sql);
    let _ = conn.close().await;
}

impl TestApp {
    pub async fn new(backend: Backend) -> Self {
        Self::with_env(backend, &[]).await
    }

    pub async fn with_env(backend: Backend, vars: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut env: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("AXIS_DATA_DIR".into(), dir.path().display().to_string()));
        let mut pg_name = None;
        if backend == Backend::Postgres {
            let name = format!("axis_test_{}", uuid::Uuid::new_v4().simple());
            admin_exec(&format!("CREATE DATABASE {name}")).await;
            env.push(("DATABASE_URL".into(), with_db(&pg_admin_url(), &name)));
            pg_name = Some(name);
        }
        let (state, router) = Self::start(&env).await;
        TestApp {
            router,
            state,
            backend,
            env,
            _dir: dir,
            pg_name,
        }
    }

    async fn start(env: &[(String, String)]) -> (AppState, Router) {
        let config = Config::from_lookup(
            |k| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()),
            HOST.parse().unwrap(),
        )
        .expect("test configuration");
        let options = leptos::config::LeptosOptions::builder()
            .output_name("axis-crm")
            .build();
        let state = platform::prepare(config, options)
            .await
            .expect("database ready");
        let router = platform::router(state.clone())
            .layer(MockConnectInfo(SocketAddr::from(([203, 0, 113, 7], 40000))));
        (state, router)
    }

    /// Stops the app and starts it again on the same database and data directory, as stopping
    /// and starting `run.sh` does: what lived only in memory (the built-in sandbox) starts afresh.
    /// Serve it again (`serve`) where webhooks must reach it.
    pub async fn restart(&mut self) {
        self.state.db.pool.close().await;
        let (state, router) = Self::start(&self.env).await;
        self.state = state;
        self.router = router;
    }

    /// Also serves the router on a loopback port (for webhooks from a sandbox); returns its base URL.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = platform::router(self.state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        format!("http://{addr}")
    }

    pub async fn close(self) {
        self.state.db.pool.close().await;
        if let Some(name) = &self.pg_name {
            admin_exec(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }

    pub fn browser(&self) -> Browser<'_> {
        Browser {
            app: self,
            cookie: None,
            others: Vec::new(),
            ip: None,
        }
    }

    /// One request through the router. A request that has not answered within two minutes fails
    /// the test with its method and path, instead of holding the whole run.
    pub async fn send(&self, req: Request<Body>) -> Resp {
        let what = format!("{} {}", req.method(), req.uri());
        let answer = async {
            let res = self
                .router
                .clone()
                .oneshot(req)
                .await
                .expect("router is infallible");
            let (parts, body) = res.into_parts();
            (parts, body.collect().await.unwrap().to_bytes())
        };
        let (parts, bytes) = tokio::time::timeout(std::time::Duration::from_secs(120), answer)
            .await
            .unwrap_or_else(|_| panic!("{what} did not answer within 120 s"));
        let (status, headers) = (parts.status, parts.headers);
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Typed reads of this app's database.
    pub fn reads(&self) -> reads::Reads<'_> {
        reads::Reads::of(&self.state.db.pool)
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap();
        n
    }
}

/// A Cloud API sandbox standing in for Meta (recording every exchange, "slow" answers held 30 s),
/// with `adjust` applied to its settings; returns it and its base URL, for the app's
/// `WHATSAPP_GRAPH_URL`. Worlds make theirs with this (see [`world::WorldBuilder::fake_meta`]).
pub async fn fake_meta_with(
    adjust: impl FnOnce(&mut whatsapp_cloud::sandbox::SandboxConfig),
) -> (whatsapp_cloud::sandbox::Sandbox, String) {
    let mut config = whatsapp_cloud::sandbox::SandboxConfig {
        record_exchanges: true,
        slow_delay: std::time::Duration::from_secs(30),
        ..Default::default()
    };
    adjust(&mut config);
    let sandbox = whatsapp_cloud::sandbox::Sandbox::new(config);
    let (base, _) = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sandbox, base)
}

/// A test that runs on one database backend: an `async fn(Backend)`, which makes its own app
/// or world, or an `async fn(TestApp) -> TestApp`, given a fresh app and closing the one it
/// returns. `Shape` only tells the two apart.
pub trait BackendTest<Shape> {
    fn run_on(self, backend: Backend) -> impl Future<Output = ()>;
}

impl<F, Fut> BackendTest<Backend> for F
where
    F: FnOnce(Backend) -> Fut,
    Fut: Future<Output = ()>,
{
    async fn run_on(self, backend: Backend) {
        self(backend).await
    }
}

impl<F, Fut> BackendTest<TestApp> for F
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = TestApp>,
{
    async fn run_on(self, backend: Backend) {
        let app = TestApp::new(backend).await;
        self(app).await.close().await;
    }
}

/// Runs `test` on `backend` (see [`BackendTest`]).
pub async fn run<Shape>(backend: Backend, test: impl BackendTest<Shape>) {
    test.run_on(backend).await
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn error(&self) -> axis_crm::error::AppError {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not an AppError ({e}): {}", self.body))
    }
}

/// Keeps the session cookie (and any other cookie, like a visitor's form flash) between requests,
/// like a browser.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    /// The session cookie's value.
    pub cookie: Option<String>,
    /// Every other cookie the app set: (name, value).
    pub others: Vec<(String, String)>,
    pub ip: Option<String>,
}

pub enum Client {
    /// The WASM app's server-function client: wants JSON back.
    Wasm,
    /// A plain HTML form post, with JavaScript off.
    PlainForm { referer: &'static str },
}

impl Browser<'_> {
    fn keep_cookie(&mut self, resp: &Resp) {
        for value in resp.headers.get_all(header::SET_COOKIE) {
            let value = value.to_str().unwrap();
            let Some((name, rest)) = value.split_once('=') else {
                continue;
            };
            let id = rest.split(';').next().unwrap_or_default();
            let removed = value.contains("Max-Age=0") || id.is_empty();
            if name == platform::SESSION_COOKIE {
                self.cookie = if removed { None } else { Some(id.to_string()) };
            } else {
                self.others.retain(|(n, _)| n != name);
                if !removed {
                    self.others.push((name.to_string(), id.to_string()));
                }
            }
        }
    }

    fn base(&self, method: &str, path: &str) -> axum::http::request::Builder {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, HOST);
        let mut cookies: Vec<String> = self
            .cookie
            .iter()
            .map(|c| format!("{}={c}", platform::SESSION_COOKIE))
            .collect();
        cookies.extend(self.others.iter().map(|(n, v)| format!("{n}={v}")));
        if !cookies.is_empty() {
            b = b.header(header::COOKIE, cookies.join("; "));
        }
        if let Some(ip) = &self.ip {
            b = b.header("x-forwarded-for", ip);
        }
        b
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        let req = self
            .base("GET", path)
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .unwrap();
        let resp = self.app.send(req).await;
        self.keep_cookie(&resp);
        resp
    }

    /// The origin a browser on this app's pages sends: its public URL's (`AXIS_PUBLIC_URL`, or
    /// the local address when that is not set).
    pub fn origin(&self) -> String {
        self.app.state.config.public_origin()
    }

    /// Calls a server function the way `client` would, from this app's own origin.
    pub async fn call(&mut self, endpoint: &str, form: &[(&str, &str)], client: Client) -> Resp {
        let origin = self.origin();
        self.call_from(endpoint, form, client, Some(&origin)).await
    }

    pub async fn call_from(
        &mut self,
        endpoint: &str,
        form: &[(&str, &str)],
        client: Client,
        origin: Option<&str>,
    ) -> Resp {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut b = self
            .base("POST", &format!("/api/{endpoint}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        b = match client {
            Client::Wasm => b.header(header::ACCEPT, "application/json"),
            Client::PlainForm { referer } => b
                .header(header::ACCEPT, "text/html,application/xhtml+xml")
                .header(header::REFERER, format!("{}{referer}", self.origin())),
        };
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        let resp = self.app.send(b.body(Body::from(body)).unwrap()).await;
        self.keep_cookie(&resp);
        resp
    }

    pub async fn signup(
        &mut self,
        name: &str,
        business: &str,
        email: &str,
        password: &str,
    ) -> Resp {
        self.call(
            "signup",
            &[
                ("name", name),
                ("business_name", business),
                ("email", email),
                ("password", password),
            ],
            Client::Wasm,
        )
        .await
    }

    pub async fn login(&mut self, email: &str, password: &str) -> Resp {
        self.call(
            "login",
            &[("email", email), ("password", password)],
            Client::Wasm,
        )
        .await
    }
}

/// The outbox's timings made short for tests, and the built-in sandbox off (each world brings
/// its own fake provider).
pub const FAST: &[(&str, &str)] = &[
    ("AXIS_SANDBOX", "off"),
    ("AXIS_OUTBOX_RETRY_BASE_MS", "20"),
    ("AXIS_OUTBOX_RECONCILE_SECS", "2"),
    ("AXIS_OUTBOX_MAX_ATTEMPTS", "10"),
    ("WHATSAPP_HTTP_TIMEOUT_SECS", "1"),
    ("WHATSAPP_PAIR_INTERVAL_SECS", "0"),
];

/// Declares each listed test once per database backend: `async fn(Backend)`, or
/// `async fn(TestApp) -> TestApp` (given a fresh app, which is closed afterwards).
#[macro_export]
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::common::run($crate::common::Backend::Sqlite, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::common::run($crate::common::Backend::Postgres, super::$name).await;
                }
            )*
        }
    };
}

/// Seeds `count` issued invoices for `user_id` by SQL, each to its own new tenant with a mobile
/// number `{phone_prefix}{i:05}` (i from 1; keep it clear of numbers ending in 0000, which the
/// sandbox reports undeliverable) and one invoice line. Numbers are `{number_prefix}{i:05}`.
/// Returns the invoice ids in order.
pub async fn seed_issued_invoices(
    pool: &sqlx::AnyPool,
    user_id: i64,
    count: usize,
    phone_prefix: &str,
    number_prefix: &str,
) -> Vec<i64> {
    let now = time_now();
    let mut tx = pool.begin().await.unwrap();
    let mut ids = Vec::with_capacity(count);
    for i in 1..=count {
        let tenant: i64 = sqlx::query_scalar(
            "INSERT INTO tenants (user_id, name, phone_raw, phone_e164, phone_is_mobile, created_at, name_fold) \
             VALUES ($1, $2, $3, $3, 1, $4, lower($2)) RETURNING id",
        )
        .bind(user_id)
        .bind(format!("Tenant {number_prefix}{i:05}"))
        .bind(format!("{phone_prefix}{i:05}"))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        let total = 100_000 + (i as i64 * 7919) % 50_000;
        let invoice: i64 = sqlx::query_scalar(
            "INSERT INTO invoices (user_id, number, tenant_id, issue_date, due_date, currency, status, \
             subtotal_minor, tax_minor, total_minor, created_at, updated_at, number_fold) \
             VALUES ($1, $2, $3, '2026-11-01', '2026-12-01', 'GBP', 'issued', $4, 0, $4, $5, $5, lower($2)) RETURNING id",
        )
        .bind(user_id)
        .bind(format!("{number_prefix}{i:05}"))
        .bind(tenant)
        .bind(total)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price, tax_rate, \
             net_minor, tax_minor) VALUES ($1, 1, 'Rent for December', '1', $2, '0', $3, 0)",
        )
        .bind(invoice)
        .bind(format!("{}.{:02}", total / 100, total % 100))
        .bind(total)
        .execute(&mut *tx)
        .await
        .unwrap();
        ids.push(invoice);
    }
    tx.commit().await.unwrap();
    ids
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

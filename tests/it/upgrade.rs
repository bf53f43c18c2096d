//! Upgrading a database of the last release (2026-12-02) with the current server, on SQLite and
//! PostgreSQL: the released migrations only, then `tests/fixtures/release-2026-12-02.sql` (two
//! accounts, a live Meta and a sandbox connection with real ciphertexts, invoices, a send in every
//! state, templates, inbound messages, the setup guide's progress), then the server started the
//! way `main` starts it, which runs every newer migration on top. After that nothing may be lost
//! and everything must still work: log-ins, pages, webhooks, and the outbox sending the send that
//! was queued when the old server stopped.
//!
//! When a later migration renames a table or a column, say so in [`RENAMED_TABLES`] or
//! [`RENAMED_COLUMNS`]: the test then checks the data arrived under the new name.

use crate::common;

use axis_crm::{
    accounts::server as auth,
    platform::{
        config::{MasterKey, DEFAULT_GRAPH_VERSION},
        crypto::Keyring,
        db::Db,
    },
    sending::{server::outbox, SendState},
    templates::server::{INVOICE_TEMPLATE, INVOICE_TEMPLATE_BODY, INVOICE_TEMPLATE_LANGUAGE},
};
use common::{reads::Reads, Backend, Browser, Client, TestApp, PATIENCE};
use secrecy::SecretString;
use sqlx::{AnyPool, Column, Row};
use std::{
    collections::BTreeMap,
    path::Path,
    time::{Duration, Instant},
};
use whatsapp_cloud::{
    sandbox::{Sandbox, SandboxAccount},
    GraphClient, GraphConfig,
};

// ---- the release ----------------------------------------------------------------------------------

/// The newest migration of the release; everything after it is the upgrade.
const RELEASED_LAST: i64 = 20261202000006;

/// The released migrations and the first 8 bytes of their sqlx checksums (SHA-384 of the file),
/// (version, SQLite, PostgreSQL). Every database of the release recorded these checksums, and
/// sqlx refuses to start on a database whose applied migration has since changed ("migration …
/// was previously applied but has been modified"). A mismatch here means a released migration
/// was edited: put the change in a new migration instead, and restore the file.
const RELEASED_MIGRATIONS: [(i64, &str, &str); 6] = [
    (20261124000001, "2ea34b0c7e178800", "c6469eaf2c267b25"),
    (20261124000002, "6179e70dd7f06dbf", "3e63d870d40db379"),
    (20261124000003, "fb704b2650ca0167", "6662a6fc357219aa"),
    (20261124000004, "9b0f4878b8c77edc", "9b14f3ac38749289"),
    (20261125000005, "1a519282f8a48b71", "1a519282f8a48b71"),
    (20261202000006, "7e8c1e5f600ce316", "7e8c1e5f600ce316"),
];

/// Tables a migration after the release renamed: (released name, current name).
const RENAMED_TABLES: &[(&str, &str)] = &[];
/// Columns a migration after the release renamed: (released table, released column, current
/// column).
const RENAMED_COLUMNS: &[(&str, &str, &str)] = &[
    // 20261203000008_neutral_message_columns
    ("whatsapp_sends", "wamid", "provider_message_id"),
    ("whatsapp_sends", "phone_number_id", "sender_id"),
    ("whatsapp_sends", "media_id", "media_ref"),
    ("whatsapp_sends", "media_uploaded_at", "media_prepared_at"),
    ("whatsapp_attempts", "wamid", "provider_message_id"),
    ("whatsapp_attempts", "fbtrace_id", "trace_id"),
    ("whatsapp_inbound", "wamid", "provider_message_id"),
];

const FIXTURE: &str = include_str!("../fixtures/release-2026-12-02.sql");

/// The test's master key (`AXIS_MASTER_KEY`); the fixture's secrets are sealed with it.
const MASTER_KEY: [u8; 32] = *b"axis upgrade test master key 32b";

/// Someone in the fixture: their id (rows get ids in the order the fixture writes them) and
/// how they log in.
struct Person {
    id: i64,
    email: &'static str,
    password: &'static str,
    access_token: &'static str,
    app_secret: &'static str,
    verify_token: &'static str,
}

/// Lee Harper of Harbour Lettings: the live Meta connection. The fake Meta only takes tokens of
/// its own kind (`SANDBOX…`), so Lee's "live" token looks like one.
const LEE: Person = Person {
    id: 1,
    email: "lee@harbour-lettings.example",
    password: "harbour lettings since 2019",
    access_token: "SANDBOXreleaseFixtureHarbourLettingsSystemUserToken0001",
    app_secret: "4f1c9e2d7b6a5f3e8d0c1b2a9f8e7d6c",
    verify_token: "9c3e5a7b1d2f4e6a8b0c9d1e3f5a7b9c0d2e4f6a",
};

/// Bo Okafor of Okafor Homes: a connection to the built-in sandbox.
const BO: Person = Person {
    id: 2,
    email: "bo@okafor-homes.example",
    password: "okafor homes of dublin",
    access_token: "SANDBOXreleaseFixtureOkaforHomesSandboxAccessTokenb0b0",
    app_secret: "sandboxappsecretokaforhomes00042",
    verify_token: "1f2e3d4c5b6a79880796a5b4c3d2e1f0a9b8c7d6",
};

/// The states a send could have in the release (its CHECK constraint); the fixture has each.
const RELEASED_STATES: [&str; 8] = [
    "queued",
    "sending",
    "unknown",
    "accepted",
    "sent",
    "delivered",
    "read",
    "failed",
];

/// Invoices of the fixture the test looks at.
const READ_AFTER_A_FAILURE: &str = "HL-0001"; // sends 1 (failed) and 2 (read)
const DELIVERED: &str = "HL-0002"; // send 3: read by a webhook after the upgrade
const QUEUED: &str = "HL-0005"; // send 6: queued when the old server stopped
const IN_FLIGHT: &str = "HL-0006"; // send 7: the old worker was inside its call to Meta
const SANDBOX_DELIVERED: &str = "OH-0001"; // send 10, Bo's

// ---- the test ---------------------------------------------------------------------------------------

async fn upgrade_from_release_2026_12_02(backend: Backend) {
    // The database as the release left it (connected as the release connected: db.rs has not
    // changed since).
    let old = OldDatabase::create(backend).await;
    let db = Db::connect(&old.url).await.expect("the released database");
    apply_released_migrations(&db.pool, backend).await;
    load_fixture(&db.pool).await;
    let before = snapshot(&db.pool, backend).await;
    check_the_fixture(&before);
    let live = live_account_in_the_fixture(&db.pool).await;
    db.pool.close().await;

    // A fake Meta that knows Lee's account, and the new server on the old database.
    let (meta, graph_url) = common::fake_meta_with(|c| {
        c.template_review = Duration::from_millis(10);
        c.status_delay = Duration::from_millis(30);
    })
    .await;
    meta.restore_account(&live.account, "Harbour Lettings", None);
    let key = MasterKey(MASTER_KEY).to_base64();
    let mut env = old.app_env();
    env.push(("AXIS_MASTER_KEY".into(), key));
    env.push(("WHATSAPP_GRAPH_URL".into(), graph_url.clone()));
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::with_env(backend, &vars).await;
    assert_eq!(
        app.state.config.database_url, old.url,
        "the server must open the released database, not a fresh one"
    );
    let site = app.serve().await;
    meta.set_webhook(
        &live.account.app_id,
        Some(format!("{site}/webhooks/whatsapp/{}", live.webhook_key)),
    );

    // Nothing lost: every row of every released table, with the values it had. (Only the
    // migrations and the start-up backfills have run so far: no log-in, no request.)
    let after = snapshot(&app.state.db.pool, backend).await;
    assert_nothing_lost(&before, &after);
    for person in [&LEE, &BO] {
        assert_eq!(
            provider_of(&app.state.db.pool, person.id).await,
            "meta",
            "connections made before providers existed are Meta's"
        );
    }

    // Everything still works.
    lee_finds_everything(&app, &live).await;
    bo_finds_everything(&app).await;
    webhooks_still_answer(&app, &site, &live).await;
    the_queued_send_goes_out(&app, &meta, &graph_url, &live).await;

    app.close().await;
    old.drop().await;
}

per_backend!(upgrade_from_release_2026_12_02);

// ---- the released database ----------------------------------------------------------------------

/// An empty database for the release, where the new server will look for it: for SQLite the
/// `axis.db` that `AXIS_DATA_DIR` implies (as most installations run), for PostgreSQL a database
/// of its own, named by `DATABASE_URL`.
struct OldDatabase {
    url: String,
    dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl OldDatabase {
    async fn create(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => OldDatabase {
                // What `Config` derives from AXIS_DATA_DIR when DATABASE_URL is not set.
                url: format!("sqlite://{}?mode=rwc", dir.path().join("axis.db").display()),
                dir,
                pg_name: None,
            },
            Backend::Postgres => {
                let name = format!("axis_upgrade_{}", uuid::Uuid::new_v4().simple());
                pg_admin(&format!("CREATE DATABASE {name}")).await;
                let mut url = url::Url::parse(&common::pg_admin_url()).unwrap();
                url.set_path(&name);
                OldDatabase {
                    url: url.to_string(),
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// What tells the server where the database is. (`TestApp::with_env` uses the first value
    /// given for a variable, so these win over its own fresh database.)
    fn app_env(&self) -> Vec<(String, String)> {
        match &self.pg_name {
            None => vec![(
                "AXIS_DATA_DIR".into(),
                self.dir.path().display().to_string(),
            )],
            Some(_) => vec![("DATABASE_URL".into(), self.url.clone())],
        }
    }

    async fn drop(self) {
        if let Some(name) = &self.pg_name {
            pg_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}

async fn pg_admin(sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&common::pg_admin_url())
        .await
        .expect("PostgreSQL must be reachable (set AXIS_TEST_POSTGRES_URL)");
    sqlx::query(sql).execute(&mut conn).await.expect(sql);
    let _ = conn.close().await;
}

/// Runs the released migrations (and only those) from the app's folder for `backend`, checking
/// they are still the files the release shipped.
async fn apply_released_migrations(pool: &AnyPool, backend: Backend) {
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let all = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    let released = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let version: i64 = name
            .split('_')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name}: not a migration"));
        if version <= RELEASED_LAST {
            std::fs::copy(&path, released.path().join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(released.path())
        .await
        .expect("the released migrations");
    let shipped: Vec<(i64, String)> = migrator
        .iter()
        .map(|m| {
            let prefix: String = m
                .checksum
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect();
            (m.version, prefix)
        })
        .collect();
    let expected: Vec<(i64, String)> = RELEASED_MIGRATIONS
        .iter()
        .map(|(v, sqlite, postgres)| {
            let sum = match backend {
                Backend::Sqlite => sqlite,
                Backend::Postgres => postgres,
            };
            (*v, sum.to_string())
        })
        .collect();
    assert_eq!(
        shipped, expected,
        "migrations/{folder}: the released migrations are not the files the release shipped \
         (a version missing, or a file edited); databases of the release would refuse to start"
    );
    migrator
        .run(pool)
        .await
        .expect("the released migrations run on an empty database");
}

/// Loads the fixture, its placeholders filled with real argon2 hashes (the app's own function)
/// and real ciphertexts (the app's keyring, bound to the row like the app binds them).
async fn load_fixture(pool: &AnyPool) {
    let keyring = Keyring::new(&MasterKey(MASTER_KEY), &[]);
    let seal = |column: &str, p: &Person, plain: &str| {
        keyring.encrypt(plain, &Reads::secret_context(column, p.id))
    };
    let mut values = Vec::new();
    for (name, p) in [("LEE", &LEE), ("BO", &BO)] {
        let hash = auth::hash_password(p.password.to_string())
            .await
            .expect("argon2");
        values.push((format!("{name}_PASSWORD_HASH"), hash));
        values.push((
            format!("{name}_ACCESS_TOKEN"),
            seal("access_token", p, p.access_token),
        ));
        values.push((
            format!("{name}_APP_SECRET"),
            seal("app_secret", p, p.app_secret),
        ));
        values.push((
            format!("{name}_VERIFY_TOKEN"),
            seal("verify_token", p, p.verify_token),
        ));
    }
    let mut sql = FIXTURE.to_string();
    for (name, value) in &values {
        let placeholder = format!("'<<{name}>>'");
        assert!(
            sql.contains(&placeholder),
            "the fixture has no {placeholder}"
        );
        sql = sql.replace(&placeholder, &format!("'{value}'"));
    }
    let body = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !body.contains("<<"),
        "a placeholder of the fixture was left unfilled"
    );
    let mut tx = pool.begin().await.unwrap();
    sqlx::raw_sql(&sql)
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("the fixture does not load into the released schema: {e}"));
    tx.commit().await.unwrap();
}

/// What the fixture promises: ids 1..n in every table (its foreign keys rely on that), and a
/// send in every state.
fn check_the_fixture(before: &Snapshot) {
    for (table, rows) in before {
        let mut ids: Vec<i64> = rows
            .iter()
            .filter_map(|r| match r.get("id") {
                Some(Cell::Int(id)) => Some(*id),
                _ => None,
            })
            .collect();
        if ids.is_empty() {
            continue;
        }
        ids.sort_unstable();
        let expected: Vec<i64> = (1..=rows.len() as i64).collect();
        assert_eq!(
            ids, expected,
            "{table}: rows did not get ids 1..n in the order the fixture writes them"
        );
    }
    let states: Vec<Cell> = before["whatsapp_sends"]
        .iter()
        .map(|r| r["state"].clone())
        .collect();
    for s in RELEASED_STATES {
        assert!(
            states.contains(&Cell::Text(s.into())),
            "the fixture has no send in state {s}"
        );
    }
}

/// Lee's live connection as the fake Meta must know it, read in the released schema.
struct LiveAccount {
    account: SandboxAccount,
    webhook_key: String,
}

async fn live_account_in_the_fixture(pool: &AnyPool) -> LiveAccount {
    let r = sqlx::query(
        "SELECT phone_number_id, business_account_id, app_id, display_phone_number, webhook_key \
         FROM whatsapp_connections WHERE user_id = $1 AND mode = 'live'",
    )
    .bind(LEE.id)
    .fetch_one(pool)
    .await
    .expect("Lee's live connection in the fixture");
    let display: String = r.get("display_phone_number");
    LiveAccount {
        account: SandboxAccount {
            app_id: r.get("app_id"),
            app_secret: LEE.app_secret.into(),
            business_account_id: r.get("business_account_id"),
            phone_number_id: r.get("phone_number_id"),
            display_phone_number: display.chars().filter(char::is_ascii_digit).collect(),
            access_token: LEE.access_token.into(),
        },
        webhook_key: r.get("webhook_key"),
    }
}

// ---- nothing lost -------------------------------------------------------------------------------------

/// One stored value, compared as stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Cell {
    Null,
    Int(i64),
    Text(String),
    Other(String),
}

type Record = BTreeMap<String, Cell>;
/// Every row of every table (but sqlx's and SQLite's own bookkeeping), rows in a fixed order.
type Snapshot = BTreeMap<String, Vec<Record>>;

async fn snapshot(pool: &AnyPool, backend: Backend) -> Snapshot {
    let tables: Vec<String> = match backend {
        Backend::Sqlite => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '_sqlx_migrations'",
        ),
        Backend::Postgres => sqlx::query_scalar(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
             AND tablename <> '_sqlx_migrations'",
        ),
    }
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = Snapshot::new();
    for table in tables {
        let rows = sqlx::query(&format!("SELECT * FROM {table}"))
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        let mut records: Vec<Record> = rows
            .iter()
            .map(|r| {
                r.columns()
                    .iter()
                    .map(|c| (c.name().to_string(), cell(r, c.ordinal())))
                    .collect()
            })
            .collect();
        records.sort();
        out.insert(table, records);
    }
    out
}

fn cell(r: &sqlx::any::AnyRow, i: usize) -> Cell {
    if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
        return v.map_or(Cell::Null, Cell::Int);
    }
    if let Ok(v) = r.try_get::<Option<String>, _>(i) {
        return v.map_or(Cell::Null, Cell::Text);
    }
    match r.try_get::<Option<f64>, _>(i) {
        Ok(v) => v.map_or(Cell::Null, |f| Cell::Other(f.to_string())),
        Err(e) => Cell::Other(format!("unreadable: {e}")),
    }
}

/// Every released table still has every row, with every released column's value (under its
/// new name, if it was renamed). Columns and tables the upgrade added are not compared here.
fn assert_nothing_lost(before: &Snapshot, after: &Snapshot) {
    for (table, old_rows) in before {
        let now_called = RENAMED_TABLES
            .iter()
            .find(|(old, _)| old == table)
            .map_or(table.as_str(), |(_, new)| new);
        let new_rows = after.get(now_called).unwrap_or_else(|| {
            panic!("table {table} is gone after the upgrade (renamed? add it to RENAMED_TABLES)")
        });
        assert_eq!(
            new_rows.len(),
            old_rows.len(),
            "{table}: {} rows before the upgrade, {} after",
            old_rows.len(),
            new_rows.len()
        );
        let Some(first) = old_rows.first() else {
            continue;
        };
        let column_now = |old: &str| -> String {
            RENAMED_COLUMNS
                .iter()
                .find(|(t, c, _)| t == table && *c == old)
                .map_or(old, |(_, _, new)| new)
                .to_string()
        };
        for column in first.keys() {
            let now = column_now(column);
            assert!(
                new_rows[0].contains_key(&now),
                "column {table}.{column} is gone after the upgrade (renamed? add it to RENAMED_COLUMNS)"
            );
        }
        let mut carried: Vec<Record> = new_rows
            .iter()
            .map(|r| {
                first
                    .keys()
                    .map(|c| (c.clone(), r[&column_now(c)].clone()))
                    .collect()
            })
            .collect();
        carried.sort();
        for (old, new) in old_rows.iter().zip(&carried) {
            assert_eq!(
                old, new,
                "{table}: a row changed in the upgrade (left: before, right: after)"
            );
        }
    }
}

async fn provider_of(pool: &AnyPool, user_id: i64) -> String {
    sqlx::query_scalar(&format!(
        "SELECT provider FROM {} WHERE user_id = $1",
        common::reads::CONNECTIONS_TABLE
    ))
    .bind(user_id)
    .fetch_one(pool)
    .await
    .unwrap_or_else(|e| panic!("user {user_id}'s connection has no provider: {e}"))
}

// ---- everything still works ------------------------------------------------------------------------

/// Logs `p` in with the password the fixture's hash was made from; returns the browser and
/// where the app sent them.
async fn log_in<'a>(app: &'a TestApp, p: &Person) -> (Browser<'a>, String) {
    let mut b = app.browser();
    let r = b.login(p.email, p.password).await;
    assert!(
        r.status.is_success() && b.cookie.is_some(),
        "{} cannot log in after the upgrade: {} {}",
        p.email,
        r.status,
        r.body
    );
    (b, r.location().unwrap_or_default().to_string())
}

async fn page(b: &mut Browser<'_>, path: &str) -> String {
    let r = b.get(path).await;
    let start: String = r.body.chars().take(2000).collect();
    assert_eq!(r.status, 200, "GET {path}: {start}");
    r.body
}

async fn wizard(b: &mut Browser<'_>) -> serde_json::Value {
    let r = b.call("onboarding/get", &[], Client::Wasm).await;
    assert_eq!(r.status, 200, "onboarding/get: {}", r.body);
    r.json()
}

fn how(wizard: &serde_json::Value, step: &str) -> String {
    wizard["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == step)
        .unwrap_or_else(|| panic!("no step {step}"))["how"]
        .as_str()
        .unwrap()
        .to_string()
}

/// "Test connection": the stored secrets decrypt and the provider accepts them.
async fn test_connection(b: &mut Browser<'_>, who: &str) {
    let r = b.call("whatsapp/test", &[], Client::Wasm).await;
    assert_eq!(
        r.status, 200,
        "{who}'s connection no longer works after the upgrade: {}",
        r.body
    );
}

async fn lee_finds_everything(app: &TestApp, live: &LiveAccount) {
    let reads = app.reads();
    let (mut lee, landed) = log_in(app, &LEE).await;
    assert_ne!(
        landed, "/onboarding",
        "Lee finished the setup guide before the upgrade; it must not open again"
    );

    // The invoices, each with its latest send's state.
    let list = page(&mut lee, "/invoices").await;
    for n in 1..=10 {
        let number = format!("HL-{n:04}");
        assert!(list.contains(&number), "{number} is missing from /invoices");
    }
    for s in RELEASED_STATES {
        assert!(
            list.contains(&format!("data-state=\"{s}\"")),
            "/invoices shows no send in state {s}"
        );
    }

    // An invoice with two sends: the failure and the later success, with their attempts.
    let id = reads.invoice_id(READ_AFTER_A_FAILURE).await;
    let message_id = reads.send_of(id).await.and_then(|s| s.message_id).unwrap();
    let invoice = page(&mut lee, &format!("/invoices/{id}")).await;
    for shown in [
        "data-state=\"read\"",
        "data-state=\"failed\"",
        "No approved invoice template",
        message_id.as_str(),
        "1 attempt(s)",
    ] {
        assert!(
            invoice.contains(shown),
            "the page of {READ_AFTER_A_FAILURE} does not show {shown:?}"
        );
    }

    // What Ana wrote before the upgrade.
    let tenant = reads.tenant_of(id).await;
    let messages = page(&mut lee, &format!("/tenants/{tenant}")).await;
    assert!(
        messages.contains("Thanks, paid the November one."),
        "/tenants/{tenant} lost the tenant's messages"
    );

    // WhatsApp settings: still connected (the verify token decrypted), not asking to connect.
    let settings = page(&mut lee, "/settings/whatsapp").await;
    let last4 = format!("…{}", &LEE.access_token[LEE.access_token.len() - 4..]);
    let webhook = format!("/webhooks/whatsapp/{}", live.webhook_key);
    for shown in [
        "Connected",
        "Harbour Lettings",
        live.account.phone_number_id.as_str(),
        last4.as_str(),
        LEE.verify_token,
        webhook.as_str(),
        INVOICE_TEMPLATE,
    ] {
        assert!(
            settings.contains(shown),
            "/settings/whatsapp does not show {shown:?}"
        );
    }
    assert!(
        !settings.contains("Connect your WhatsApp Business account"),
        "/settings/whatsapp asks Lee to connect again"
    );
    test_connection(&mut lee, "Lee").await;

    // The setup guide: finished, and says so.
    let guide = page(&mut lee, "/onboarding").await;
    assert!(
        guide.contains("You finished the setup on"),
        "/onboarding forgot that Lee finished the setup"
    );
    let w = wizard(&mut lee).await;
    assert!(w["finished_text"].is_string(), "{w}");
    assert_eq!(how(&w, "connect"), "checked", "{w}");
}

async fn bo_finds_everything(app: &TestApp) {
    let (mut bo, landed) = log_in(app, &BO).await;
    assert_eq!(
        landed, "/onboarding",
        "Bo's setup guide was in progress: log-in must resume it"
    );
    let guide = page(&mut bo, "/onboarding").await;
    assert!(
        guide.contains("steps done"),
        "/onboarding: no progress shown"
    );
    let w = wizard(&mut bo).await;
    assert_eq!(
        w["step"], "business-account",
        "Bo's place in the guide: {w}"
    );
    assert_eq!(how(&w, "prerequisites"), "marked", "Bo's marked step: {w}");
    assert_eq!(how(&w, "connect"), "sandbox", "{w}");

    let settings = page(&mut bo, "/settings/whatsapp").await;
    for shown in ["Connected", "SANDBOX", "Okafor Homes", BO.verify_token] {
        assert!(
            settings.contains(shown),
            "Bo's /settings/whatsapp does not show {shown:?}"
        );
    }
    assert!(
        !settings.contains("Connect your WhatsApp Business account"),
        "/settings/whatsapp asks Bo to connect again"
    );
    test_connection(&mut bo, "Bo").await;

    let list = page(&mut bo, "/invoices").await;
    assert!(list.contains("OH-0001") && list.contains("OH-0002"));
    assert!(
        !list.contains("HL-0001"),
        "Bo sees Lee's invoices after the upgrade"
    );
    let id = app.reads().invoice_id(SANDBOX_DELIVERED).await;
    let invoice = page(&mut bo, &format!("/invoices/{id}")).await;
    assert!(invoice.contains("data-state=\"delivered\""));
}

/// The live connection's webhook, at the address Meta was given before the upgrade.
async fn webhooks_still_answer(app: &TestApp, site: &str, live: &LiveAccount) {
    let http = reqwest::Client::new();
    let legacy = format!("{site}/webhooks/whatsapp/{}", live.webhook_key);
    let neutral = format!("{site}/webhooks/meta/{}", live.webhook_key);

    // Meta's verification handshake: the stored verify token still decrypts and matches.
    for url in [&legacy, &neutral] {
        let r = http
            .get(url.as_str())
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.verify_token", LEE.verify_token),
                ("hub.challenge", "1158201444"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {url}: verification refused");
        assert_eq!(r.text().await.unwrap(), "1158201444");
    }
    let wrong = http
        .get(legacy.as_str())
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", "not-the-token"),
            ("hub.challenge", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403, "a wrong verify token must be refused");

    // A signed status: the delivered send (its message id from before the upgrade) is read.
    let reads = app.reads();
    let invoice = reads.invoice_id(DELIVERED).await;
    let delivered = reads.send_of(invoice).await.unwrap();
    assert_eq!(delivered.state, "delivered");
    let message_id = delivered.message_id.clone().unwrap();
    let a = &live.account;
    let now = axis_crm::platform::db::now();
    let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": a.business_account_id,
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": a.display_phone_number, "phone_number_id": a.phone_number_id},
            "statuses": [{"id": message_id, "status": "read", "timestamp": now.to_string(),
                "recipient_id": "447911123458"}]}}]}]})
    .to_string();
    let post = |signature: String| {
        http.post(legacy.as_str())
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body.clone())
            .send()
    };
    let forged = post(whatsapp_cloud::signature::sign(
        b"another secret",
        body.as_bytes(),
    ))
    .await
    .unwrap();
    assert_eq!(
        forged.status(),
        401,
        "a wrongly signed webhook must be refused"
    );
    let signed = post(whatsapp_cloud::signature::sign(
        LEE.app_secret.as_bytes(),
        body.as_bytes(),
    ))
    .await
    .unwrap();
    assert_eq!(signed.status(), 200, "a signed webhook was refused");
    let read = reads.send_of(invoice).await.unwrap();
    assert_eq!(read.state, "read", "{read:?}");
    assert_eq!(read.read_at, Some(now), "{read:?}");
}

/// The send queued before the upgrade goes out once, with the template chosen before the upgrade
/// (the tenant's window has closed since); the one the old worker was in the middle of is not
/// sent again blindly but waits for Meta's word (`unknown`); nothing goes out twice.
async fn the_queued_send_goes_out(
    app: &TestApp,
    meta: &Sandbox,
    graph_url: &str,
    live: &LiveAccount,
) {
    fake_meta_approves_the_invoice_template(graph_url, &live.account).await;
    let reads = app.reads();
    let queued = reads.invoice_id(QUEUED).await;
    let in_flight = reads.invoice_id(IN_FLIGHT).await;
    let start = Instant::now();
    loop {
        outbox::run_due(&app.state).await.unwrap();
        let s = reads.send_of(queued).await.unwrap();
        assert_ne!(s.state, "failed", "the queued send failed: {s:?}");
        if s.state_rank >= SendState::Accepted.rank() {
            break;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the queued send was not sent: {s:?}; sends {:?}",
            reads.sends().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let messages = meta.sent();
    let of = |send: i64| {
        messages
            .iter()
            .filter(|m| {
                m.callback
                    .as_deref()
                    .and_then(outbox::parse_callback)
                    .is_some_and(|(id, _)| id == send)
            })
            .collect::<Vec<_>>()
    };
    let queued_send = reads.send_of(queued).await.unwrap();
    let sent = of(queued_send.id);
    assert_eq!(
        sent.len(),
        1,
        "the queued send went out {} times",
        sent.len()
    );
    assert_eq!(sent[0].kind, "template", "{:?}", sent[0].body);
    assert_eq!(sent[0].body["template"]["name"], INVOICE_TEMPLATE);
    assert_eq!(
        sent[0].body["template"]["language"]["code"],
        INVOICE_TEMPLATE_LANGUAGE
    );
    let in_flight_send = reads.send_of(in_flight).await.unwrap();
    assert!(
        of(in_flight_send.id).is_empty(),
        "the send the old worker was in the middle of was sent again without waiting for Meta"
    );
    assert_eq!(in_flight_send.state, "unknown", "{in_flight_send:?}");
    for send in reads.sends().await {
        assert!(of(send.id).len() <= 1, "send {} went out twice", send.id);
    }

    // The fake Meta's own status webhooks reach the upgraded server and move the send on.
    let start = Instant::now();
    while reads.send_of(queued).await.unwrap().state != "read" {
        assert!(
            start.elapsed() < PATIENCE,
            "the fake Meta's statuses did not arrive: {:?}",
            reads.send_of(queued).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Puts the invoice template on the fake Meta (Meta's copy of Lee's approved template, which a
/// fresh fake does not have), through the Graph API as the app would, and waits for approval.
async fn fake_meta_approves_the_invoice_template(graph_url: &str, a: &SandboxAccount) {
    let client = GraphClient::new(GraphConfig::new(graph_url, DEFAULT_GRAPH_VERSION)).unwrap();
    let token = SecretString::from(a.access_token.clone());
    let secret = SecretString::from(a.app_secret.clone());
    let sample = b"%PDF-1.4\n% a sample invoice\n".to_vec();
    let handle = client
        .upload_header_example(&a.app_id, &token, Some(&secret), "sample.pdf", sample)
        .await
        .expect("upload the template's sample PDF");
    let template = serde_json::json!({
        "name": INVOICE_TEMPLATE,
        "language": INVOICE_TEMPLATE_LANGUAGE,
        "category": "UTILITY",
        "components": [
            {"type": "HEADER", "format": "DOCUMENT", "example": {"header_handle": [handle]}},
            {"type": "BODY", "text": INVOICE_TEMPLATE_BODY,
             "example": {"body_text": [["Ana Pereira", "HL-0005", "£980.00", "31 December 2026"]]}},
        ]
    });
    client
        .create_template(&a.business_account_id, &token, Some(&secret), &template)
        .await
        .expect("create the template on the fake Meta");
    let start = Instant::now();
    loop {
        let templates = client
            .templates(&a.business_account_id, &token, Some(&secret))
            .await
            .unwrap();
        if templates
            .iter()
            .any(|t| t.name == INVOICE_TEMPLATE && t.status.as_deref() == Some("APPROVED"))
        {
            return;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the fake Meta never approved the template"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

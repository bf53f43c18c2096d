//! Typed reads of what the app stored about WhatsApp, and the few writes tests make to stage a
//! state: the one test file that names the `whatsapp_*` tables and their columns (and the
//! columns the WhatsApp migration added to `tenants`).
//!
//! Tests ask questions ("what state is this invoice's send in?", "how many attempts were
//! retries?") and get Rust values back, so a change to how sends are stored (a renamed column,
//! a `provider` column, a table split) is made here, once. Rows come back as structs whose field
//! names say what a value is, not what its column is called today: [`Send::message_id`] is the
//! provider's id for the message (`provider_message_id`).
//!
//! Everything goes through sqlx's `Any` driver with `$n` placeholders, so it reads both SQLite
//! and PostgreSQL.

use super::Backend;
use sqlx::{AnyPool, Row};
use std::collections::HashMap;

/// The table that holds each user's connection and its sealed secrets.
pub const CONNECTIONS_TABLE: &str = "whatsapp_connections";

/// One request to send an invoice (a row of the outbox).
#[derive(Debug, Clone)]
pub struct Send {
    pub id: i64,
    pub invoice_id: i64,
    pub state: String,
    /// Orders the states, so a status only ever moves a send forward.
    pub state_rank: i64,
    pub attempts: i64,
    pub in_flight: bool,
    /// The provider's id for the message, once it took it.
    pub message_id: Option<String>,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub error_anchor: Option<String>,
    pub next_attempt_at: i64,
    pub updated_at: i64,
    pub sent_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub read_at: Option<i64>,
}

/// One call to the provider's messages endpoint for a send, and what came of it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub send_id: i64,
    pub number: i64,
    pub kind: String,
    pub outcome: String,
    pub message_id: Option<String>,
    pub error_code: Option<i64>,
}

/// A user's stored connection, secrets as stored (sealed).
#[derive(Debug, Clone)]
pub struct Connection {
    pub user_id: i64,
    pub webhook_key: String,
    pub access_token_sealed: String,
    pub app_secret_sealed: Option<String>,
    pub verify_token_sealed: String,
}

/// Every text cell of every table (for scans that look for plain-text secrets).
pub struct TextCells {
    pub tables: Vec<String>,
    /// (table, text)
    pub cells: Vec<(String, String)>,
}

const SEND_COLUMNS: &str = "id, invoice_id, state, state_rank, attempts, in_flight, provider_message_id, \
     error_code, error_title, error_anchor, next_attempt_at, updated_at, sent_at, delivered_at, read_at";

fn send_of_row(r: &sqlx::any::AnyRow) -> Send {
    Send {
        id: r.get("id"),
        invoice_id: r.get("invoice_id"),
        state: r.get("state"),
        state_rank: r.get("state_rank"),
        attempts: r.get("attempts"),
        in_flight: r.get::<i64, _>("in_flight") != 0,
        message_id: r.get("provider_message_id"),
        error_code: r.get("error_code"),
        error_title: r.get("error_title"),
        error_anchor: r.get("error_anchor"),
        next_attempt_at: r.get("next_attempt_at"),
        updated_at: r.get("updated_at"),
        sent_at: r.get("sent_at"),
        delivered_at: r.get("delivered_at"),
        read_at: r.get("read_at"),
    }
}

/// Reads of one app's database.
#[derive(Clone, Copy)]
pub struct Reads<'a> {
    pool: &'a AnyPool,
}

impl<'a> Reads<'a> {
    pub fn of(pool: &'a AnyPool) -> Self {
        Reads { pool }
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    // ---- users, invoices, tenants ---------------------------------------------------------------

    pub async fn user_id(&self, email: &str) -> i64 {
        sqlx::query_scalar("SELECT id FROM users WHERE email_key = $1")
            .bind(email.to_lowercase())
            .fetch_one(self.pool)
            .await
            .unwrap_or_else(|e| panic!("no user {email}: {e}"))
    }

    /// The id of the invoice numbered `number`.
    pub async fn invoice_id(&self, number: &str) -> i64 {
        sqlx::query_scalar("SELECT id FROM invoices WHERE number = $1")
            .bind(number)
            .fetch_one(self.pool)
            .await
            .unwrap_or_else(|e| panic!("no invoice {number}: {e}"))
    }

    /// The tenant an invoice is to.
    pub async fn tenant_of(&self, invoice_id: i64) -> i64 {
        sqlx::query_scalar("SELECT tenant_id FROM invoices WHERE id = $1")
            .bind(invoice_id)
            .fetch_one(self.pool)
            .await
            .unwrap()
    }

    /// The E.164 number of the tenant of the invoice numbered `number`.
    pub async fn tenant_phone(&self, number: &str) -> String {
        sqlx::query_scalar(
            "SELECT t.phone_e164 FROM invoices i JOIN tenants t ON t.id = i.tenant_id WHERE i.number = $1",
        )
        .bind(number)
        .fetch_one(self.pool)
        .await
        .unwrap()
    }

    /// The provider's id for the tenant with this number (learnt from a send or a message).
    pub async fn tenant_provider_id(&self, phone_e164: &str) -> Option<String> {
        sqlx::query_scalar("SELECT wa_id FROM tenants WHERE phone_e164 = $1")
            .bind(phone_e164)
            .fetch_one(self.pool)
            .await
            .unwrap()
    }

    /// How many tenants have written to the business (their 24-hour window was opened).
    /// The tenant known by this provider user id: (id, name, phone in E.164).
    pub async fn tenant_by_user_id(&self, user_id: &str) -> Option<(i64, String, Option<String>)> {
        sqlx::query_as("SELECT id, name, phone_e164 FROM tenants WHERE provider_user_id = $1")
            .bind(user_id)
            .fetch_optional(self.pool)
            .await
            .unwrap()
    }

    /// The tenant an inbound message with this text was filed under.
    pub async fn inbound_tenant(&self, body: &str) -> Option<i64> {
        sqlx::query_scalar("SELECT tenant_id FROM whatsapp_inbound WHERE body = $1")
            .bind(body)
            .fetch_one(self.pool)
            .await
            .unwrap()
    }

    /// When the tenant of the invoice numbered `number` last wrote (their window's start).
    pub async fn tenant_last_inbound(&self, number: &str) -> Option<i64> {
        sqlx::query_scalar(
            "SELECT t.last_inbound_at FROM invoices i JOIN tenants t ON t.id = i.tenant_id WHERE i.number = $1",
        )
        .bind(number)
        .fetch_one(self.pool)
        .await
        .unwrap()
    }

    pub async fn tenants_heard_from(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM tenants WHERE last_inbound_at IS NOT NULL")
            .await
    }

    // ---- the connection ---------------------------------------------------------------------------

    /// How many users have a connection.
    pub async fn connections(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM whatsapp_connections")
            .await
    }

    /// The only stored connection (panics unless there is exactly one).
    pub async fn connection(&self) -> Connection {
        let rows = sqlx::query(
            "SELECT user_id, webhook_key, access_token_enc, app_secret_enc, verify_token_enc \
             FROM whatsapp_connections",
        )
        .fetch_all(self.pool)
        .await
        .unwrap();
        assert_eq!(rows.len(), 1, "expected exactly one connection");
        let r = &rows[0];
        Connection {
            user_id: r.get("user_id"),
            webhook_key: r.get("webhook_key"),
            access_token_sealed: r.get("access_token_enc"),
            app_secret_sealed: r.get("app_secret_enc"),
            verify_token_sealed: r.get("verify_token_enc"),
        }
    }

    /// The secret part of the webhook address of `user_id`'s connection.
    pub async fn webhook_key(&self, user_id: i64) -> String {
        sqlx::query_scalar("SELECT webhook_key FROM whatsapp_connections WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.pool)
            .await
            .unwrap_or_else(|e| panic!("user {user_id} has no connection: {e}"))
    }

    /// The associated data a connection's secret (`access_token`, `app_secret`, `verify_token`)
    /// is sealed with: the app's own rule, for tests that open a stored secret.
    pub fn secret_context(secret: &str, user_id: i64) -> String {
        format!("whatsapp_connections.{secret}:{user_id}")
    }

    // ---- templates ------------------------------------------------------------------------------

    /// Names of the approved message templates.
    pub async fn approved_templates(&self) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT name FROM whatsapp_templates WHERE status = 'APPROVED' ORDER BY name",
        )
        .fetch_all(self.pool)
        .await
        .unwrap()
    }

    // ---- sends ----------------------------------------------------------------------------------

    /// Every send, oldest first.
    pub async fn sends(&self) -> Vec<Send> {
        sqlx::query(&format!(
            "SELECT {SEND_COLUMNS} FROM whatsapp_sends ORDER BY id"
        ))
        .fetch_all(self.pool)
        .await
        .unwrap()
        .iter()
        .map(send_of_row)
        .collect()
    }

    /// The latest send of an invoice.
    pub async fn send_of(&self, invoice_id: i64) -> Option<Send> {
        sqlx::query(&format!(
            "SELECT {SEND_COLUMNS} FROM whatsapp_sends WHERE invoice_id = $1 ORDER BY id DESC LIMIT 1"
        ))
        .bind(invoice_id)
        .fetch_optional(self.pool)
        .await
        .unwrap()
        .as_ref()
        .map(send_of_row)
    }

    /// The state of the latest send of an invoice.
    pub async fn send_state(&self, invoice_id: i64) -> Option<String> {
        self.send_of(invoice_id).await.map(|s| s.state)
    }

    /// The ids of every send of an invoice.
    pub async fn send_ids(&self, invoice_id: i64) -> Vec<i64> {
        sqlx::query_scalar("SELECT id FROM whatsapp_sends WHERE invoice_id = $1 ORDER BY id")
            .bind(invoice_id)
            .fetch_all(self.pool)
            .await
            .unwrap()
    }

    pub async fn send_count(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM whatsapp_sends").await
    }

    /// Sends whose sent, delivered and read times are all known.
    pub async fn sends_with_every_status_time(&self) -> i64 {
        self.count(
            "SELECT COUNT(*) FROM whatsapp_sends \
             WHERE sent_at IS NOT NULL AND delivered_at IS NOT NULL AND read_at IS NOT NULL",
        )
        .await
    }

    /// Sends in `state`.
    pub async fn sends_in_state(&self, state: &str) -> i64 {
        self.sends_in_states(&[state]).await
    }

    /// Sends in any of `states`.
    pub async fn sends_in_states(&self, states: &[&str]) -> i64 {
        let marks: Vec<String> = (1..=states.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT COUNT(*) FROM whatsapp_sends WHERE state IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql);
        for s in states {
            q = q.bind(*s);
        }
        q.fetch_one(self.pool).await.unwrap()
    }

    /// Sends the provider took (accepted or later) and that have not failed.
    pub async fn sends_on_their_way(&self) -> i64 {
        self.count(
            "SELECT COUNT(*) FROM whatsapp_sends WHERE state_rank >= 2 AND state <> 'failed'",
        )
        .await
    }

    /// Sends that failed, or that the provider has not taken yet.
    pub async fn unfinished_sends(&self) -> Vec<Send> {
        self.sends()
            .await
            .into_iter()
            .filter(|s| s.state == "failed" || s.state_rank < 2)
            .collect()
    }

    /// `state → count` over every send, for failure messages and progress lines.
    pub async fn send_states(&self) -> Vec<(String, i64)> {
        sqlx::query_as("SELECT state, COUNT(*) FROM whatsapp_sends GROUP BY state ORDER BY state")
            .fetch_all(self.pool)
            .await
            .unwrap()
    }

    /// Sends no attempt of which was answered "accepted": only a status webhook can have
    /// settled them (their answer was lost).
    pub async fn sends_without_accepted_attempt(&self) -> i64 {
        self.count(
            "SELECT COUNT(*) FROM whatsapp_sends s WHERE NOT EXISTS \
             (SELECT 1 FROM whatsapp_attempts a WHERE a.send_id = s.id AND a.outcome = 'accepted')",
        )
        .await
    }

    /// How many messages the sandbox accepted for each invoice (by `callback` → send id →
    /// invoice id). Panics on a message without a tag, or whose send id the database does not
    /// know.
    pub async fn accepted_per_invoice(
        &self,
        sent: &[whatsapp_cloud::sandbox::SentRecord],
    ) -> HashMap<i64, usize> {
        let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT id, invoice_id FROM whatsapp_sends")
            .fetch_all(self.pool)
            .await
            .unwrap();
        let invoice_of: HashMap<i64, i64> = rows.into_iter().collect();
        let mut out = HashMap::new();
        for s in sent {
            let tag = s
                .callback
                .as_deref()
                .unwrap_or_else(|| panic!("message {} has no callback tag", s.wamid));
            let (send, _attempt) = axis_crm::sending::server::outbox::parse_callback(tag)
                .unwrap_or_else(|| panic!("unreadable callback tag {tag}"));
            let invoice = *invoice_of
                .get(&send)
                .unwrap_or_else(|| panic!("callback {tag} names an unknown send"));
            *out.entry(invoice).or_insert(0usize) += 1;
        }
        out
    }

    // ---- attempts -------------------------------------------------------------------------------

    /// Every recorded call to the provider's messages endpoint, oldest first.
    pub async fn attempts(&self) -> Vec<Attempt> {
        sqlx::query(
            "SELECT send_id, number, kind, outcome, provider_message_id, error_code FROM whatsapp_attempts ORDER BY id",
        )
        .fetch_all(self.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| Attempt {
            send_id: r.get("send_id"),
            number: r.get("number"),
            kind: r.get("kind"),
            outcome: r.get("outcome"),
            message_id: r.get("provider_message_id"),
            error_code: r.get("error_code"),
        })
        .collect()
    }

    /// Attempts whose outcome was `outcome` (accepted, retry, failed, unknown, fallback).
    pub async fn attempts_with_outcome(&self, outcome: &str) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM whatsapp_attempts WHERE outcome = $1")
            .bind(outcome)
            .fetch_one(self.pool)
            .await
            .unwrap()
    }

    /// `outcome → count` over every recorded call to the provider's messages endpoint.
    pub async fn attempt_outcomes(&self) -> Vec<(String, i64)> {
        sqlx::query_as(
            "SELECT outcome, COUNT(*) FROM whatsapp_attempts GROUP BY outcome ORDER BY outcome",
        )
        .fetch_all(self.pool)
        .await
        .unwrap()
    }

    // ---- inbound --------------------------------------------------------------------------------

    /// Messages tenants wrote that were stored.
    pub async fn inbound_messages(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM whatsapp_inbound").await
    }

    // ---- raw storage ----------------------------------------------------------------------------

    /// Every text cell of every table but sqlx's own bookkeeping (which holds only the
    /// migrations' SQL, and a timestamp type `Any` cannot read).
    pub async fn text_cells(&self, backend: Backend) -> TextCells {
        let tables: Vec<String> = match backend {
            Backend::Sqlite => {
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(self.pool)
                    .await
                    .unwrap()
            }
            Backend::Postgres => sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
            )
            .fetch_all(self.pool)
            .await
            .unwrap(),
        };
        let mut cells = Vec::new();
        for t in tables
            .iter()
            .filter(|t| *t != "_sqlx_migrations" && *t != "sqlite_sequence")
        {
            let rows = sqlx::query(&format!("SELECT * FROM {t}"))
                .fetch_all(self.pool)
                .await
                .unwrap();
            for row in rows {
                for i in 0..row.len() {
                    if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
                        cells.push((t.clone(), text));
                    }
                }
            }
        }
        TextCells { tables, cells }
    }
}

/// Writes that put the database into a state the app would not reach quickly by itself.
#[derive(Clone, Copy)]
pub struct Stage<'a> {
    pool: &'a AnyPool,
}

impl<'a> Stage<'a> {
    pub fn of(pool: &'a AnyPool) -> Self {
        Stage { pool }
    }

    /// Every tenant "wrote" at `at`: the app believes their 24-hour windows are open.
    pub async fn every_tenant_wrote_at(&self, at: i64) {
        sqlx::query("UPDATE tenants SET last_inbound_at = $1")
            .bind(at)
            .execute(self.pool)
            .await
            .unwrap();
    }

    /// An approved template on `user_id`'s account that can carry an invoice (a document
    /// header, four body variables, utility), as a provider's template list would have stored it.
    pub async fn approved_invoice_template(&self, user_id: i64, name: &str, language: &str) {
        sqlx::query(
            "INSERT INTO whatsapp_templates (user_id, template_id, name, language, status, category, header_format, \
             body_text, body_params, updated_at) VALUES ($1, $2, $3, $4, 'APPROVED', 'UTILITY', 'DOCUMENT', $5, 4, $6)",
        )
        .bind(user_id)
        .bind(format!("tpl-{name}"))
        .bind(name)
        .bind(language)
        .bind("Hello {{1}}, invoice {{2}} for {{3}} is due on {{4}}.")
        .bind(axis_crm::platform::db::now())
        .execute(self.pool)
        .await
        .unwrap();
    }

    /// Every template was last active (created or sent) `days` ago.
    pub async fn templates_idle_for(&self, days: i64) {
        sqlx::query("UPDATE whatsapp_templates SET created_at = $1, last_sent_at = NULL")
            .bind(axis_crm::platform::db::now() - days * 86_400)
            .execute(self.pool)
            .await
            .unwrap();
    }

    /// Every send back to "accepted", without the times of its later statuses.
    pub async fn sends_back_to_accepted(&self) {
        sqlx::query(
            "UPDATE whatsapp_sends SET state = 'accepted', state_rank = 2, sent_at = NULL, \
             delivered_at = NULL, read_at = NULL",
        )
        .execute(self.pool)
        .await
        .unwrap();
    }

    /// `count` sends the provider already accepted, over `user_id`'s invoices in id order (the
    /// first invoice again after the last), each with message id `{id_prefix}{i:06}`. Returns
    /// (message id, recipient's number in E.164) for each, in order.
    pub async fn accepted_sends(
        &self,
        user_id: i64,
        count: usize,
        phone_number_id: &str,
        id_prefix: &str,
    ) -> Vec<(String, String)> {
        let invoices: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT i.id, t.id, t.phone_e164 FROM invoices i JOIN tenants t ON t.id = i.tenant_id \
             WHERE i.user_id = $1 ORDER BY i.id",
        )
        .bind(user_id)
        .fetch_all(self.pool)
        .await
        .unwrap();
        assert!(!invoices.is_empty(), "user {user_id} has no invoices");
        let now = axis_crm::platform::db::now();
        let mut tx = self.pool.begin().await.unwrap();
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let (invoice, tenant, phone) = &invoices[i % invoices.len()];
            let message_id = format!("{id_prefix}{i:06}");
            sqlx::query(
                "INSERT INTO whatsapp_sends (user_id, invoice_id, tenant_id, recipient, state, state_rank, kind, \
                 attempts, next_attempt_at, provider_message_id, sender_id, created_at, updated_at, accepted_at) \
                 VALUES ($1, $2, $3, $4, 'accepted', 2, 'template', 1, $5, $6, $7, $5, $5, $5)",
            )
            .bind(user_id)
            .bind(*invoice)
            .bind(*tenant)
            .bind(phone)
            .bind(now)
            .bind(&message_id)
            .bind(phone_number_id)
            .execute(&mut *tx)
            .await
            .unwrap();
            out.push((message_id, phone.clone()));
        }
        tx.commit().await.unwrap();
        out
    }
}

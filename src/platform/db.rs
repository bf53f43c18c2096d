//! One database layer for both SQLite (embedded default) and PostgreSQL (several instances).
//!
//! Queries go through sqlx's `Any` driver and use `$1, $2, …` placeholders, which both backends
//! bind by number. Each dialect has its own migration folder because DDL differs.

use anyhow::{Context, Result};
use sqlx::{any::AnyPoolOptions, AnyPool};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

impl Db {
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            options = options.max_connections(8).after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer; foreign keys and the busy
                    // timeout are sqlx's defaults for SQLite already.
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        } else {
            options = options.max_connections(16);
        }
        let pool = options
            .connect(url)
            .await
            .with_context(|| format!("cannot open the database ({})", redact_url(url)))?;
        Ok(Db { pool, backend })
    }

    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&self.pool).await,
        }
        .context("database migration failed")
    }

    /// Keeps the query planner's statistics current (SQLite's recommended `PRAGMA optimize`;
    /// PostgreSQL's autovacuum does this by itself).
    pub async fn optimize(&self) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA optimize").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock first
    /// (`BEGIN IMMEDIATE`), waiting up to the busy timeout for another writer: a deferred
    /// transaction that reads and then writes cannot wait in WAL mode and fails at once with
    /// `database is locked` (codes 5 and 517) when another writer got there between its read and
    /// its write. PostgreSQL's `BEGIN` already waits on row locks.
    pub async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Cheap round trip for the readiness probe.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

/// The current time as Unix seconds, the one timestamp format of the schema.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Hides a password in a database URL before it goes into a message.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// True when `e` is a unique-constraint violation (SQLite 2067/1555, PostgreSQL 23505).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation),
        _ => false,
    }
}

/// A value bound to a [`Statement`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Text(String),
    Int(i64),
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_string())
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Arg::Int(n)
    }
}

/// A statement assembled from fixed SQL fragments and bound values, for the few queries whose
/// shape depends on the request (list filters, id lists). Fragments are `&'static str`, so no
/// value can become SQL; values are bound, each behind a `$n` this builder numbers itself.
/// (sqlx's `QueryBuilder` writes `?` placeholders under the `Any` driver, which PostgreSQL
/// refuses: launchbadge/sqlx#3000.)
#[derive(Debug, Clone, Default)]
pub struct Statement {
    sql: String,
    args: Vec<Arg>,
}

impl Statement {
    pub fn new(sql: &'static str) -> Self {
        Statement {
            sql: sql.to_string(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, fragment: &'static str) -> &mut Self {
        self.sql.push_str(fragment);
        self
    }

    /// Binds `value` behind the next placeholder.
    pub fn push_bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.args.push(value.into());
        self.sql.push('$');
        self.sql.push_str(&self.args.len().to_string());
        self
    }

    /// Binds each of `values`, separated by commas (for `IN (…)`).
    pub fn push_binds<A: Into<Arg>>(&mut self, values: impl IntoIterator<Item = A>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.push_bind(v);
        }
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Its values, in placeholder order.
    fn arguments(&self) -> sqlx::any::AnyArguments<'_> {
        use sqlx::Arguments;
        let mut args = sqlx::any::AnyArguments::default();
        for a in &self.args {
            let added = match a {
                Arg::Text(t) => args.add(t.as_str()),
                Arg::Int(n) => args.add(*n),
            };
            // Encoding text or an integer for `Any` only copies it; it has no way to fail (and a
            // missing value would be refused by the database as a wrong parameter count).
            debug_assert!(added.is_ok(), "{added:?}");
        }
        args
    }

    /// The statement with its values bound.
    pub fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        sqlx::query_with(&self.sql, self.arguments())
    }

    /// The statement with its values bound, read into `T`'s fields.
    pub fn query_as<T>(&self) -> sqlx::query::QueryAs<'_, sqlx::Any, T, sqlx::any::AnyArguments<'_>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_as_with(&self.sql, self.arguments())
    }

    /// The statement with its values bound, reading one column.
    pub fn query_scalar<T>(
        &self,
    ) -> sqlx::query::QueryScalar<'_, sqlx::Any, T, sqlx::any::AnyArguments<'_>>
    where
        (T,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_scalar_with(&self.sql, self.arguments())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_number_their_placeholders() {
        let mut s = Statement::new("SELECT 1 FROM t WHERE a = ");
        s.push_bind(7)
            .push(" AND b IN (")
            .push_binds(["x", "y"])
            .push(")");
        assert_eq!(s.sql(), "SELECT 1 FROM t WHERE a = $1 AND b IN ($2, $3)");
        assert_eq!(
            s.args,
            [Arg::Int(7), Arg::Text("x".into()), Arg::Text("y".into())]
        );
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}

//! The two migration folders describe one schema: both databases, migrated from scratch, have
//! the same tables, columns (with their nullability and kind of type), primary keys, unique and
//! plain indexes, and foreign keys. A migration written for one dialect only, or a column that is
//! NOT NULL in one and nullable in the other, fails here.

use crate::common;

use common::{Backend, TestApp};
use std::collections::BTreeSet;

/// One fact of a schema, as text that is the same in both dialects.
type Facts = BTreeSet<String>;

/// The kind of a column's type: what the app may rely on in both dialects.
fn kind(declared: &str) -> &'static str {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") || t == "serial" || t == "bigserial" {
        "integer"
    } else if t.contains("char") || t.contains("text") || t.contains("clob") {
        "text"
    } else if t.contains("blob") || t.contains("bytea") {
        "bytes"
    } else if t.contains("bool") {
        "boolean"
    } else if t.contains("real")
        || t.contains("double")
        || t.contains("float")
        || t.contains("numeric")
    {
        "number"
    } else {
        "other"
    }
}

/// The wording of each fact, one place for both dialects.
fn column(t: &str, name: &str, declared: &str, not_null: bool) -> String {
    let null = if not_null { "not null" } else { "null" };
    format!("column {t}.{name} {} {null}", kind(declared))
}
fn index(t: &str, unique: bool, columns: &str) -> String {
    format!(
        "{} {t}({columns})",
        if unique { "unique index" } else { "index" }
    )
}
fn foreign_key(t: &str, f: &[String]) -> String {
    format!(
        "foreign key {t}.{} -> {}.{} on delete {}",
        f[0],
        f[1],
        f[2],
        f[3].to_ascii_lowercase()
    )
}

async fn rows(app: &TestApp, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Row;
    sqlx::query(sql)
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    r.try_get::<String, _>(i)
                        .unwrap_or_else(|_| r.get::<i64, _>(i).to_string())
                })
                .collect()
        })
        .collect()
}

async fn sqlite_facts(app: &TestApp) -> Facts {
    let mut facts = Facts::new();
    let tables = rows(app, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' AND name NOT LIKE 'tower_sessions%'").await;
    for t in tables.iter().map(|r| r[0].clone()) {
        facts.insert(format!("table {t}"));
        for c in rows(
            app,
            &format!("SELECT name, type, \"notnull\", pk FROM pragma_table_info('{t}')"),
        )
        .await
        {
            // SQLite lets a primary key column be NULL unless it says so; PostgreSQL never does.
            let not_null = c[2] == "1" || c[3] != "0";
            facts.insert(column(&t, &c[0], &c[1], not_null));
            if c[3] != "0" {
                facts.insert(format!("primary key {t}.{}", c[0]));
            }
        }
        for i in rows(
            app,
            &format!("SELECT name, \"unique\", origin FROM pragma_index_list('{t}')"),
        )
        .await
        {
            if i[2] == "pk" {
                continue; // listed as the primary key
            }
            let cols: Vec<String> = rows(
                app,
                &format!(
                    "SELECT name FROM pragma_index_info('{}') ORDER BY seqno",
                    i[0]
                ),
            )
            .await
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
            facts.insert(index(&t, i[1] == "1", &cols.join(", ")));
        }
        for f in rows(
            app,
            &format!(
                "SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list('{t}')"
            ),
        )
        .await
        {
            facts.insert(foreign_key(&t, &f));
        }
    }
    facts
}

async fn postgres_facts(app: &TestApp) -> Facts {
    let mut facts = Facts::new();
    let tables = rows(app, "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE '_sqlx%' AND table_name NOT LIKE 'tower_sessions%'").await;
    for t in tables.iter().map(|r| r[0].clone()) {
        facts.insert(format!("table {t}"));
        for c in rows(app, &format!("SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{t}'")).await {
            facts.insert(column(&t, &c[0], &c[1], c[2] == "NO"));
        }
        // Indexes with their columns in order; the primary key apart.
        let indexes = rows(app, &format!(
            "SELECT i.indisprimary::text, i.indisunique::text, string_agg(a.attname::text, ', ' ORDER BY k.n)
             FROM pg_index i
             JOIN pg_class c ON c.oid = i.indrelid
             JOIN pg_namespace s ON s.oid = c.relnamespace
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
             WHERE s.nspname = 'public' AND c.relname = '{t}'
             GROUP BY i.indexrelid, i.indisprimary, i.indisunique"
        )).await;
        for i in indexes {
            if i[0] == "true" {
                for col in i[2].split(", ") {
                    facts.insert(format!("primary key {t}.{col}"));
                }
            } else {
                facts.insert(index(&t, i[1] == "true", &i[2]));
            }
        }
        let fks = rows(app, &format!(
            "SELECT kcu.column_name::text, ccu.table_name::text, ccu.column_name::text, rc.delete_rule::text
             FROM information_schema.referential_constraints rc
             JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = rc.constraint_name AND kcu.constraint_schema = rc.constraint_schema
             JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = rc.unique_constraint_name AND ccu.constraint_schema = rc.unique_constraint_schema
             WHERE kcu.table_schema = 'public' AND kcu.table_name = '{t}'"
        )).await;
        for f in fks {
            facts.insert(foreign_key(&t, &f));
        }
    }
    facts
}

#[tokio::test]
async fn both_dialects_migrate_to_the_same_schema() {
    let sqlite = TestApp::new(Backend::Sqlite).await;
    let postgres = TestApp::new(Backend::Postgres).await;
    let (s, p) = (sqlite_facts(&sqlite).await, postgres_facts(&postgres).await);
    assert!(
        s.iter().any(|f| f.starts_with("foreign key")),
        "the reader sees foreign keys"
    );
    assert!(
        s.iter().any(|f| f.starts_with("unique index")),
        "the reader sees unique indexes"
    );
    let only_sqlite: Vec<_> = s.difference(&p).collect();
    let only_postgres: Vec<_> = p.difference(&s).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the migration folders disagree.\nonly in SQLite:\n  {}\nonly in PostgreSQL:\n  {}",
        only_sqlite
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        only_postgres
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
    );
    sqlite.close().await;
    postgres.close().await;
}

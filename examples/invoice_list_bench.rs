//! Times the invoices table's query with 100,000 invoices for one user (a benchmark: figures only).
//!
//!     cargo run --release --features ssr --example invoice_list_bench [-- postgres://…/db]
//!
//! Seeds a fresh database (a temporary SQLite file by default), then runs `list` for each sort,
//! a search and each filter, and prints the median and worst of 15 runs.
use axis_crm::{
    invoices::{server as invoices, types::ListQuery},
    platform::db::Db,
};
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = std::env::args().nth(1).unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let db = Db::connect(&url).await?;
    db.migrate().await?;
    let user: i64 = sqlx::query_scalar("INSERT INTO users (email, email_key, name, business_name, password_hash, created_at, updated_at) VALUES ('b@x.io','b@x.io','B','B','x',0,0) RETURNING id").fetch_one(&db.pool).await?;
    let t0 = Instant::now();
    let mut tx = db.pool.begin().await?;
    let mut tenants = Vec::new();
    for i in 0..500 {
        let id: i64 = sqlx::query_scalar("INSERT INTO tenants (user_id, name, phone_e164, created_at) VALUES ($1, $2, $3, 0) RETURNING id")
            .bind(user).bind(format!("Tenant {i:03}")).bind(format!("+4479110{i:05}")).fetch_one(&mut *tx).await?;
        tenants.push(id);
    }
    let statuses = ["draft", "issued", "paid", "void"];
    for i in 0..100_000i64 {
        sqlx::query("INSERT INTO invoices (user_id, number, tenant_id, issue_date, due_date, currency, status, subtotal_minor, tax_minor, total_minor, created_at, updated_at) VALUES ($1,$2,$3,'2026-01-01',$4,'GBP',$5,$6,0,$6,0,0)")
            .bind(user).bind(format!("INV-{i:06}")).bind(tenants[(i % 500) as usize])
            .bind(format!("2026-{:02}-{:02}", 1 + i % 12, 1 + i % 28)).bind(statuses[(i % 4) as usize]).bind(10_000 + (i * 7919) % 200_000)
            .execute(&mut *tx).await?;
    }
    tx.commit().await?;
    axis_crm::invoices::server::backfill_folds(&db).await?;
    println!(
        "seeded 100,000 invoices in {:.1} s ({})",
        t0.elapsed().as_secs_f64(),
        if url.starts_with("sqlite") {
            "SQLite"
        } else {
            "PostgreSQL"
        }
    );
    let cases: Vec<(&str, ListQuery)> = vec![
        (
            "due date, page 1",
            ListQuery {
                page: 1,
                sort: "due".into(),
                dir: "desc".into(),
                ..Default::default()
            },
        ),
        (
            "amount, page 200",
            ListQuery {
                page: 200,
                sort: "amount".into(),
                dir: "asc".into(),
                ..Default::default()
            },
        ),
        (
            "number",
            ListQuery {
                page: 1,
                sort: "number".into(),
                dir: "asc".into(),
                ..Default::default()
            },
        ),
        (
            "tenant",
            ListQuery {
                page: 1,
                sort: "tenant".into(),
                dir: "asc".into(),
                ..Default::default()
            },
        ),
        (
            "search 'tenant 042'",
            ListQuery {
                page: 1,
                sort: "due".into(),
                dir: "desc".into(),
                q: "tenant 042".into(),
                ..Default::default()
            },
        ),
        (
            "filter overdue",
            ListQuery {
                page: 1,
                sort: "due".into(),
                dir: "desc".into(),
                status: "overdue".into(),
                ..Default::default()
            },
        ),
        (
            "filter paid",
            ListQuery {
                page: 1,
                sort: "amount".into(),
                dir: "desc".into(),
                status: "paid".into(),
                ..Default::default()
            },
        ),
    ];
    for (name, q) in cases {
        let mut times = Vec::new();
        for _ in 0..15 {
            let t = Instant::now();
            let l = invoices::list(&db, user, q.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(!l.rows.is_empty());
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{name:<22} median {:>7.2} ms   worst {:>7.2} ms",
            times[7], times[14]
        );
    }
    Ok(())
}

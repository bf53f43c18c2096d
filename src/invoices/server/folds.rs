//! The search folds (`name_fold`, `number_fold`) of rows written before they existed.

use crate::{input, platform::db::Db};

/// Fills in the search folds of rows written before migration 006 (or by hand): idempotent, and a
/// no-op once every row has them.
pub async fn backfill_folds(db: &Db) -> Result<(), sqlx::Error> {
    let mut tx = db.write().await?;
    let tenants: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM tenants WHERE name_fold IS NULL")
            .fetch_all(&mut *tx)
            .await?;
    for (id, name) in &tenants {
        sqlx::query("UPDATE tenants SET name_fold = $1 WHERE id = $2")
            .bind(input::fold(name))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let invoices: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, number FROM invoices WHERE number_fold IS NULL")
            .fetch_all(&mut *tx)
            .await?;
    for (id, number) in &invoices {
        sqlx::query("UPDATE invoices SET number_fold = $1 WHERE id = $2")
            .bind(input::fold(number))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    if !tenants.is_empty() || !invoices.is_empty() {
        tracing::info!(
            tenants = tenants.len(),
            invoices = invoices.len(),
            "filled in search folds"
        );
    }
    Ok(())
}

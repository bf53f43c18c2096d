//! Properties and their units.

use super::fields::text;
use crate::{
    error::{AppError, FieldErrors},
    input::{self, rules},
    invoices::types::*,
    platform::db::{now, Db},
};
use sqlx::Row;

pub async fn properties(db: &Db, user_id: i64) -> Result<Vec<PropertyView>, AppError> {
    let rows = sqlx::query(
        "SELECT id, name, address FROM properties WHERE user_id = $1 ORDER BY name, id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let units =
        sqlx::query("SELECT id, property_id, name FROM units WHERE user_id = $1 ORDER BY name, id")
            .bind(user_id)
            .fetch_all(&db.pool)
            .await?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.try_get("id")?;
            Ok(PropertyView {
                id,
                name: r.try_get("name")?,
                address: r.try_get("address")?,
                units: units
                    .iter()
                    .filter(|u| u.try_get::<i64, _>("property_id").ok() == Some(id))
                    .map(|u| {
                        Ok(UnitView {
                            id: u.try_get("id")?,
                            name: u.try_get("name")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Creates or updates a property; `units` is one unit name per line (new names are added).
pub async fn save_property(
    db: &Db,
    user_id: i64,
    id: Option<i64>,
    name: &str,
    address: &str,
    units: &str,
) -> Result<i64, AppError> {
    let mut e = FieldErrors::new();
    let name = text(&mut e, "name", &rules::PROPERTY_NAME, name);
    let address = text(&mut e, "address", &rules::ADDRESS, address);
    let units = text(&mut e, "units", &rules::UNITS, units);
    let mut unit_names: Vec<String> = Vec::new();
    for unit in units.lines().map(str::trim).filter(|u| !u.is_empty()) {
        let (unit, problem) = input::check_text(&rules::UNIT_NAME, unit);
        match problem {
            Some(p) if e.get("units").is_none() => e.add("units", format!("{p} ({unit:.20}…)")),
            _ if !unit_names.contains(&unit) => unit_names.push(unit),
            _ => {}
        }
    }
    e.into_result()?;
    let mut tx = db.write().await?;
    let id = match id {
        Some(id) => {
            let done = sqlx::query("UPDATE properties SET name = $1, address = $2 WHERE id = $3 AND user_id = $4")
                .bind(&name)
                .bind(&address)
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(AppError::NotFound);
            }
            id
        }
        None => sqlx::query_scalar("INSERT INTO properties (user_id, name, address, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(user_id)
            .bind(&name)
            .bind(&address)
            .bind(now())
            .fetch_one(&mut *tx)
            .await?,
    };
    let existing: Vec<String> = sqlx::query_scalar("SELECT name FROM units WHERE property_id = $1")
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
    let new: Vec<&String> = unit_names
        .iter()
        .filter(|u| !existing.contains(u))
        .collect();
    if existing.len() + new.len() > rules::MAX_UNITS {
        return Err(AppError::invalid(
            "units",
            format!(
                "A property can have at most {} units; this one has {} and you added {}.",
                rules::MAX_UNITS,
                existing.len(),
                new.len()
            ),
        ));
    }
    for unit in new {
        sqlx::query("INSERT INTO units (user_id, property_id, name) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(id)
            .bind(unit)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(id)
}

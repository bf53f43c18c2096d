//! Who a tenant is on WhatsApp: their number, and the provider's user id for people who hide
//! their number behind a username (Meta's business-scoped user id, valid only for the business
//! account it came from). The webhooks call these inside their write transaction.
//!
//! A tenant is found by user id first, then by phone; a phone match learns the user id. A user
//! id never passes through phone parsing.

use messaging::{IdentityChange, Person};
use sqlx::{Any, Transaction};

/// How a person known only by user id is shown, everywhere (the tenants list, the
/// confirmation, a send's history): their username, never a made-up number.
pub fn shown_user(username: Option<&str>) -> String {
    match username {
        Some(u) => format!("@{u} (WhatsApp username)"),
        None => "WhatsApp user (no number shared)".into(),
    }
}

/// The tenant a person is, when Axis CRM knows them.
pub async fn find(
    tx: &mut Transaction<'_, Any>,
    user_id: i64,
    p: &Person,
) -> Result<Option<i64>, sqlx::Error> {
    if let Some(u) = &p.user_id {
        let by_id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM tenants WHERE user_id = $1 AND provider_user_id = $2 ORDER BY id LIMIT 1",
        )
        .bind(user_id)
        .bind(u)
        .fetch_optional(&mut **tx)
        .await?;
        if by_id.is_some() {
            return Ok(by_id);
        }
    }
    let Some(phone) = &p.phone else {
        return Ok(None);
    };
    sqlx::query_scalar(
        "SELECT id FROM tenants WHERE user_id = $1 AND (phone_e164 = $2 OR wa_id = $3) ORDER BY id LIMIT 1",
    )
    .bind(user_id)
    .bind(phone)
    .bind(phone.trim_start_matches('+'))
    .fetch_optional(&mut **tx)
    .await
}

/// Completes what is known of a tenant from what the provider told: the WhatsApp id, the user
/// id (with the account it belongs to) and the username. Nothing known is overwritten but the
/// username, which the customer may change; a user id another tenant already holds is left.
pub async fn learn(
    tx: &mut Transaction<'_, Any>,
    user_id: i64,
    tenant_id: i64,
    scope: Option<&str>,
    p: &Person,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tenants SET wa_id = COALESCE(wa_id, $1), username = COALESCE($2, username), \
         provider_user_scope = CASE WHEN provider_user_id IS NULL AND $3 IS NOT NULL THEN $4 ELSE provider_user_scope END, \
         provider_user_id = COALESCE(provider_user_id, $3) \
         WHERE id = $5 AND user_id = $6 \
           AND ($3 IS NULL OR provider_user_id IS NOT NULL OR NOT EXISTS \
                (SELECT 1 FROM tenants o WHERE o.user_id = $6 AND o.provider_user_id = $3))",
    )
    .bind(p.phone.as_deref().map(|ph| ph.trim_start_matches('+')))
    .bind(&p.username)
    .bind(&p.user_id)
    .bind(scope)
    .bind(tenant_id)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The tenant for a customer who wrote from a username and shared no number: made once (two
/// deliveries at once make one), named by their profile name, else their username. They can be
/// invoiced over WhatsApp by their user id; the tenant page shows no phone for them.
pub async fn tenant_for_user_id(
    tx: &mut Transaction<'_, Any>,
    user_id: i64,
    scope: Option<&str>,
    p: &Person,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let Some(u) = &p.user_id else {
        return Ok(None);
    };
    let name = p
        .name
        .clone()
        .or_else(|| p.username.as_ref().map(|n| format!("@{n}")))
        .unwrap_or_else(|| "WhatsApp customer".into());
    let name: String = name.chars().take(200).collect();
    sqlx::query(
        "INSERT INTO tenants (user_id, name, phone_raw, phone_e164, phone_is_mobile, email, created_at, name_fold, \
                              provider_user_id, provider_user_scope, username) \
         VALUES ($1, $2, '', NULL, 1, '', $3, $4, $5, $6, $7) \
         ON CONFLICT (user_id, provider_user_id) WHERE provider_user_id IS NOT NULL DO NOTHING",
    )
    .bind(user_id)
    .bind(&name)
    .bind(now)
    .bind(crate::input::fold(&name))
    .bind(u)
    .bind(scope)
    .bind(&p.username)
    .execute(&mut **tx)
    .await?;
    sqlx::query_scalar("SELECT id FROM tenants WHERE user_id = $1 AND provider_user_id = $2")
        .bind(user_id)
        .bind(u)
        .fetch_optional(&mut **tx)
        .await
}

/// Re-keys the tenant a changed identity belonged to: a new number (`user_changed_number`) or
/// a new user id (`user_changed_user_id`). Returns whether a tenant was found.
pub async fn rekey(
    tx: &mut Transaction<'_, Any>,
    user_id: i64,
    c: &IdentityChange,
) -> Result<bool, sqlx::Error> {
    let Some(tenant) = find(tx, user_id, &c.previous).await? else {
        return Ok(false);
    };
    if let Some(new_id) = &c.now.user_id {
        sqlx::query(
            "UPDATE tenants SET provider_user_id = $1 WHERE id = $2 AND user_id = $3 \
             AND NOT EXISTS (SELECT 1 FROM tenants o WHERE o.user_id = $3 AND o.provider_user_id = $1 AND o.id <> $2)",
        )
        .bind(new_id)
        .bind(tenant)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(phone) = &c.now.phone {
        // The new number comes from Meta as digits; it is the tenant's number now.
        sqlx::query(
            "UPDATE tenants SET phone_e164 = $1, phone_raw = $1, phone_is_mobile = 1, wa_id = $2 WHERE id = $3 AND user_id = $4",
        )
        .bind(phone)
        .bind(phone.trim_start_matches('+'))
        .bind(tenant)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(true)
}

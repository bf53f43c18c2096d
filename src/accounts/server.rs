//! Accounts on the server: password hashing, sign-up, log-in with throttling, and sessions.

use crate::platform::db::{is_unique_violation, now, Db};
use crate::{accounts::validate::NewAccount, accounts::User, error::AppError};
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use std::sync::OnceLock;
use tower_sessions::Session;

/// The session key that holds the signed-in user's id.
pub use crate::platform::sessions::SESSION_USER_KEY;

/// Failed log-ins allowed per email address within [`THROTTLE_WINDOW_SECS`].
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
/// Failed log-ins allowed per client address (higher: an office may share one address).
pub const MAX_FAILURES_PER_CLIENT: i64 = 20;
pub const THROTTLE_WINDOW_SECS: i64 = 60;

fn argon2() -> Argon2<'static> {
    // argon2id, version 0x13, m=19 MiB, t=2, p=1: the OWASP recommendation and the crate default.
    Argon2::default()
}

pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(AppError::internal)?
    .map_err(|e| AppError::internal(format_args!("argon2: {e}")))
}

pub async fn verify_password(hash: String, password: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| AppError::internal(format_args!("stored hash: {e}")))?;
        Ok(argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(AppError::internal)?
}

/// A hash to verify against when the email is unknown, so that both cases take as long.
async fn dummy_hash() -> Result<String, AppError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h.clone());
    }
    let h = hash_password("not a real password, only for timing".into()).await?;
    Ok(DUMMY.get_or_init(|| h).clone())
}

pub async fn create_account(db: &Db, account: NewAccount) -> Result<i64, AppError> {
    let hash = hash_password(account.password).await?;
    let ts = now();
    let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO users (email, email_key, name, business_name, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(&account.email)
    .bind(&account.email_key)
    .bind(&account.name)
    .bind(&account.business_name)
    .bind(&hash)
    .bind(ts)
    .fetch_one(&db.pool)
    .await;
    match inserted {
        Ok((id,)) => {
            tracing::info!(user_id = id, "account created");
            Ok(id)
        }
        Err(e) if is_unique_violation(&e) => Err(AppError::invalid(
            "email",
            "An account with this email already exists. Log in instead, or use another email.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// How long the caller must wait before another attempt, if throttled.
pub async fn throttled_for(
    db: &Db,
    email_key: &str,
    client_ip: &str,
) -> Result<Option<u64>, AppError> {
    let since = now() - THROTTLE_WINDOW_SECS;
    let (email_count, email_oldest): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(at) FROM login_failures WHERE email_key = $1 AND at > $2",
    )
    .bind(email_key)
    .bind(since)
    .fetch_one(&db.pool)
    .await?;
    let (ip_count, ip_oldest): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(at) FROM login_failures WHERE client_ip = $1 AND at > $2",
    )
    .bind(client_ip)
    .bind(since)
    .fetch_one(&db.pool)
    .await?;
    let wait = |oldest: Option<i64>| {
        (oldest.unwrap_or_else(now) + THROTTLE_WINDOW_SECS - now()).max(1) as u64
    };
    Ok(if email_count >= MAX_FAILURES_PER_EMAIL {
        Some(wait(email_oldest))
    } else if ip_count >= MAX_FAILURES_PER_CLIENT {
        Some(wait(ip_oldest))
    } else {
        None
    })
}

async fn record_failure(db: &Db, email_key: &str, client_ip: &str) -> Result<(), AppError> {
    sqlx::query("INSERT INTO login_failures (email_key, client_ip, at) VALUES ($1, $2, $3)")
        .bind(email_key)
        .bind(client_ip)
        .bind(now())
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Checks an email and password. Unknown emails and wrong passwords get the same answer and take
/// the same time; failures count towards the throttle, a success clears the email's count.
pub async fn authenticate(
    db: &Db,
    email: &str,
    password: &str,
    client_ip: &str,
) -> Result<i64, AppError> {
    let key = crate::accounts::validate::email_key(email);
    if key.is_empty() || password.is_empty() {
        return Err(AppError::invalid(
            "form",
            "Enter your email address and password.",
        ));
    }
    if let Some(retry_after_secs) = throttled_for(db, &key, client_ip).await? {
        tracing::warn!(client_ip, "log-in throttled");
        return Err(AppError::Throttled { retry_after_secs });
    }
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email_key = $1")
            .bind(&key)
            .fetch_optional(&db.pool)
            .await?;
    let (user_id, ok) = match row {
        Some((id, hash)) => (Some(id), verify_password(hash, password.to_string()).await?),
        None => {
            // The same work for an unknown email as for a wrong password: timing tells nothing.
            verify_password(dummy_hash().await?, password.to_string()).await?;
            (None, false)
        }
    };
    match user_id {
        Some(id) if ok => {
            sqlx::query("DELETE FROM login_failures WHERE email_key = $1")
                .bind(&key)
                .execute(&db.pool)
                .await?;
            Ok(id)
        }
        _ => {
            record_failure(db, &key, client_ip).await?;
            Err(AppError::invalid(
                "form",
                "That email and password do not match an account. Check them and try again.",
            ))
        }
    }
}

/// Drops throttle records that can no longer count.
pub async fn prune_login_failures(db: &Db) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM login_failures WHERE at <= $1")
        .bind(now() - THROTTLE_WINDOW_SECS)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}

/// Signs `user_id` in on this session, under a fresh session id (no fixation).
pub async fn start_session(session: &Session, user_id: i64) -> Result<(), AppError> {
    session.cycle_id().await?;
    session.insert(SESSION_USER_KEY, user_id).await?;
    Ok(())
}

/// Ends the session on the server and clears its data.
pub async fn end_session(session: &Session) -> Result<(), AppError> {
    session.flush().await?;
    Ok(())
}

pub async fn user_by_id(db: &Db, id: i64) -> Result<Option<User>, AppError> {
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT name, business_name, email FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(name, business_name, email)| User {
        name,
        business_name,
        email,
    }))
}

pub async fn update_profile(
    db: &Db,
    id: i64,
    name: &str,
    business_name: &str,
) -> Result<(), AppError> {
    let done = sqlx::query(
        "UPDATE users SET name = $1, business_name = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(name)
    .bind(business_name)
    .bind(now())
    .bind(id)
    .execute(&db.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

//! What a server function runs in: the state, the session, the signed-in user, the client's
//! address, and [`finish`], which every server function ends with.

use super::{sessions::SESSION_USER_KEY, AppState};
use crate::{components::form::FormFlash, error::AppError};
use axum::{
    extract::ConnectInfo,
    http::{header, StatusCode},
};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use std::net::SocketAddr;
use tower_sessions::{cookie::SameSite, Session};

const FLASH_KEY: &str = "flash";

// ---- helpers for server functions -------------------------------------------------------------

pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>()
        .ok_or_else(|| AppError::internal("AppState is missing from the server function context"))
}

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|e| AppError::internal(format_args!("session layer: {e}")))
}

/// The signed-in user's id, or `Unauthorized`.
pub async fn require_user_id() -> Result<i64, AppError> {
    session()
        .await?
        .get::<i64>(SESSION_USER_KEY)
        .await?
        .ok_or(AppError::Unauthorized)
}

/// The client's address: the TCP peer, or behind a trusted proxy the last `X-Forwarded-For` hop.
pub async fn client_ip(trust_proxy: bool) -> String {
    let parts = use_context::<axum::http::request::Parts>();
    if trust_proxy {
        let forwarded = parts
            .as_ref()
            .and_then(|p| p.headers.get("x-forwarded-for"))
            .and_then(|v| v.to_str().ok());
        if let Some(last) = forwarded
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            return last.to_string();
        }
    }
    parts
        .and_then(|p| {
            p.extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// True when this request is a call of a server function (not a page being rendered).
pub fn is_server_fn_request() -> bool {
    use_context::<axum::http::request::Parts>().is_some_and(|p| p.uri.path().starts_with("/api/"))
}

/// True for an ordinary HTML form submission (no WASM): the browser wants a page back.
pub fn is_plain_form_post() -> bool {
    use_context::<axum::http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(|a| a.contains("text/html"))
        })
        .unwrap_or(false)
}

/// Ends every server function: an error sets the HTTP status, and for a plain form post the error
/// and the typed `values` are kept in the session so the page the browser is sent back to can
/// show them beside the fields.
pub async fn finish<T>(
    form: &str,
    values: &[(&str, &str)],
    result: Result<T, AppError>,
) -> Result<T, AppError> {
    if let Err(error) = &result {
        if !is_server_fn_request() {
            // Called while rendering a page: the page's own status is not this function's to set.
        } else if !is_plain_form_post() {
            // A plain form post keeps leptos_axum's 302 back to the page instead.
            if let Some(res) = use_context::<ResponseOptions>() {
                res.set_status(
                    StatusCode::from_u16(error.status_code())
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                );
            }
        } else {
            // Back to the page the form was on, without the `__err` query leptos would add: the
            // page reads the error (and the typed values) from the flash instead.
            leptos_axum::redirect(&referer_path());
            let flash = FormFlash {
                form: form.to_string(),
                error: error.clone(),
                values: values
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            };
            keep_flash(flash).await;
        }
    }
    result
}

/// The local path (and query) of the page a form was posted from.
fn referer_path() -> String {
    use_context::<axum::http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .and_then(|r| url::Url::parse(&r).ok())
        .map(|u| {
            let query: Vec<(String, String)> = u
                .query_pairs()
                .filter(|(k, _)| k != "__err" && k != "__path")
                .map(|(k, v)| (k.into(), v.into()))
                .collect();
            let mut path = u.path().to_string();
            if !query.is_empty() {
                path.push('?');
                path.push_str(
                    &url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(query)
                        .finish(),
                );
            }
            path
        })
        .filter(|p| crate::accounts::validate::safe_next(Some(p)) == *p)
        .unwrap_or_else(|| "/".to_string())
}

/// The cookie that carries a visitor's form flash while they have no session (log-in, sign-up).
const FLASH_COOKIE: &str = "axis_flash";
/// Browsers keep cookies of about 4 KB; a flash larger than this keeps its error but not the values.
const FLASH_COOKIE_MAX: usize = 3_500;

/// Keeps a flash for the next page: in the session of a signed-in user, and for a visitor in a
/// short-lived encrypted cookie, so that anonymous form posts never create session rows (anyone
/// could otherwise fill the sessions table with failed log-ins).
async fn keep_flash(mut flash: FormFlash) {
    let Ok(session) = session().await else { return };
    if matches!(session.get::<i64>(SESSION_USER_KEY).await, Ok(Some(_))) {
        if let Err(e) = session.insert(FLASH_KEY, flash).await {
            tracing::warn!(error = %e, "could not keep a form error for the page");
        }
        return;
    }
    let (Ok(state), Some(res)) = (app_state(), use_context::<ResponseOptions>()) else {
        return;
    };
    let seal = |f: &FormFlash| {
        serde_json::to_string(f)
            .map(|json| state.keyring.encrypt(&json, FLASH_COOKIE))
            .unwrap_or_default()
    };
    let mut sealed = seal(&flash);
    if sealed.len() > FLASH_COOKIE_MAX {
        flash.values.clear();
        sealed = seal(&flash);
    }
    set_flash_cookie(&res, &state, &sealed, 300);
}

fn set_flash_cookie(res: &ResponseOptions, state: &AppState, value: &str, max_age_secs: i64) {
    let cookie = tower_sessions::cookie::Cookie::build((FLASH_COOKIE, value.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.public_is_https())
        .max_age(time::Duration::seconds(max_age_secs))
        .build();
    if let Ok(v) = axum::http::HeaderValue::from_str(&cookie.to_string()) {
        res.append_header(header::SET_COOKIE, v);
    }
}

/// Takes (once) the flash a failed plain form post left for `form`: from the session, or from a
/// visitor's flash cookie.
pub async fn take_flash(form: &str) -> Result<Option<FormFlash>, AppError> {
    let session = session().await?;
    let flash: Option<FormFlash> = session.get(FLASH_KEY).await?;
    match flash {
        Some(f) if f.form == form => {
            session.remove_value(FLASH_KEY).await?;
            return Ok(Some(f));
        }
        Some(_) => return Ok(None),
        None => {}
    }
    let sealed = use_context::<axum::http::request::Parts>().and_then(|p| {
        p.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| tower_sessions::cookie::Cookie::split_parse(v.to_string()))
            .filter_map(Result::ok)
            .find(|c| c.name() == FLASH_COOKIE)
            .map(|c| c.value().to_string())
    });
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let state = app_state()?;
    let flash = state
        .keyring
        .decrypt(&sealed, FLASH_COOKIE)
        .ok()
        .and_then(|json| {
            use secrecy::ExposeSecret;
            serde_json::from_str::<FormFlash>(json.expose_secret()).ok()
        });
    match flash {
        Some(f) if f.form == form => {
            if let Some(res) = use_context::<ResponseOptions>() {
                set_flash_cookie(&res, &state, "", 0);
            }
            Ok(Some(f))
        }
        _ => Ok(None),
    }
}

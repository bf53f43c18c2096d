//! Access tokens: how every authenticated call is admitted, and `GET /debug_token`, Meta's token
//! inspector. Only tokens the sandbox issued (`SANDBOX…`) are ever looked up.

use super::{meta_error, unknown_object, Answer, Q};
use crate::sandbox::{
    state::{unix_now, Token},
    Sandbox,
};
use axum::{
    extract::{Query, State},
    http::{header, HeaderMap},
    response::Response,
};
use serde_json::json;

fn invalid_token() -> Answer {
    meta_error(
        401,
        190,
        None,
        "OAuthException",
        "Invalid OAuth access token - Cannot parse access token",
        None,
    )
}

impl Sandbox {
    /// Every authenticated call starts here: an injected or random fault for `scope` first, then
    /// the token's account (or Meta's answer for a bad token).
    pub(super) async fn admit(
        &self,
        headers: &HeaderMap,
        scope: Option<&str>,
    ) -> Result<Token, Answer> {
        if let Some(a) = self.fault(scope).await {
            return Err(a);
        }
        self.authenticate(headers)
    }

    /// [`Self::admit`] for a call on a WhatsApp Business Account the token must belong to.
    pub(super) async fn admit_waba(
        &self,
        headers: &HeaderMap,
        waba: &str,
    ) -> Result<Token, Answer> {
        let token = self.admit(headers, None).await?;
        if token.waba_id != waba {
            return Err(unknown_object(waba));
        }
        Ok(token)
    }

    /// The token's account, or Meta's answer for a bad token. Only sandbox tokens are looked up.
    pub(super) fn authenticate(&self, headers: &HeaderMap) -> Result<Token, Answer> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("OAuth "))
            })
            .map(str::trim)
            .ok_or_else(invalid_token)?;
        if !token.starts_with("SANDBOX") {
            return Err(invalid_token());
        }
        let found = self
            .inner
            .state
            .lock()
            .tokens
            .get(token)
            .cloned()
            .ok_or_else(invalid_token)?;
        let lapsed = found
            .temporary_until
            .is_some_and(|until| until <= unix_now());
        if found.expired || lapsed {
            return Err(meta_error(
                401,
                190,
                Some(463),
                "OAuthException",
                "Error validating access token: Session has expired.",
                None,
            ));
        }
        Ok(found)
    }
}

pub(super) async fn debug_token(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Query(q): Q,
) -> Response {
    let answer = async {
        if let Some(a) = sb.fault(None).await {
            return a;
        }
        // The inspector must be this app's own token: `{app_id}|{app_secret}`.
        let inspector = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let Some((app_id, secret)) = inspector.split_once('|') else {
            return meta_error(400, 100, None, "OAuthException",
                "(#100) You must provide an app access token, or a user access token that is an owner or developer of the app", None);
        };
        let st = sb.inner.state.lock();
        let app_ok = st.apps.get(app_id).is_some_and(|a| a.secret.len() == secret.len() && subtle::ConstantTimeEq::ct_eq(a.secret.as_bytes(), secret.as_bytes()).into());
        if !app_ok {
            return invalid_token();
        }
        let input = q.iter().find(|(k, _)| k == "input_token").map(|(_, v)| v.as_str()).unwrap_or_default();
        let Some(t) = st.tokens.get(input).filter(|t| t.app_id == app_id) else {
            return Answer::ok(json!({ "data": { "is_valid": false, "error": { "code": 190, "message": "Invalid OAuth access token." }, "scopes": [] } }));
        };
        let lapsed = t.temporary_until.is_some_and(|u| u <= unix_now());
        let (kind, expires_at) = match t.temporary_until {
            Some(until) => ("USER", until),
            None => ("SYSTEM_USER", 0),
        };
        Answer::ok(json!({ "data": {
            "app_id": t.app_id,
            "type": kind,
            "application": "Axis CRM (sandbox)",
            "data_access_expires_at": 0,
            "expires_at": expires_at,
            "is_valid": !(t.expired || lapsed),
            "scopes": ["whatsapp_business_management", "whatsapp_business_messaging"],
            "granular_scopes": [
                { "scope": "whatsapp_business_management", "target_ids": [t.waba_id] },
                { "scope": "whatsapp_business_messaging", "target_ids": [t.waba_id] }
            ],
            "user_id": t.user_id,
        }}))
    }
    .await;
    sb.respond("/{Version}/debug_token", "get", q, None, None, answer)
}

//! Accounts: sign up, log in, log out, the current user, and the pages for them.

#[cfg(feature = "ssr")]
pub mod server;
pub mod validate;

use crate::{
    components::form::{use_flash, FormFlash, FormMessage, FormState, TextField},
    error::AppError,
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// The signed-in user as the browser sees it. No id, no password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub business_name: String,
    pub email: String,
}

#[server(endpoint = "signup")]
pub async fn signup(
    name: String,
    business_name: String,
    email: String,
    password: String,
) -> Result<(), AppError> {
    use crate::{accounts::server as auth, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let account = validate::check_new_account(&name, &business_name, &email, &password)?;
        let id = auth::create_account(&state.db, account).await?;
        auth::start_session(&srv::session().await?, id).await?;
        // A new account starts in the setup wizard, which opens after each log-in until it is
        // finished or skipped.
        crate::onboarding::server::start(&state.db, id).await?;
        leptos_axum::redirect("/onboarding");
        Ok(())
    }
    .await;
    let values = [
        ("name", name.as_str()),
        ("business_name", business_name.as_str()),
        ("email", email.as_str()),
    ];
    srv::finish("signup", &values, result).await
}

#[server(endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::{accounts::server as auth, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let ip = srv::client_ip(state.config.trust_proxy).await;
        let id = auth::authenticate(&state.db, &email, &password, &ip).await?;
        auth::start_session(&srv::session().await?, id).await?;
        tracing::info!(user_id = id, "logged in");
        let asked = next.as_deref().filter(|n| !n.is_empty());
        let to = if asked.is_none() && crate::onboarding::server::pending(&state.db, id).await? {
            "/onboarding".to_string()
        } else {
            validate::safe_next(asked)
        };
        leptos_axum::redirect(&to);
        Ok(())
    }
    .await;
    let next = next.unwrap_or_default();
    srv::finish(
        "login",
        &[("email", email.as_str()), ("next", next.as_str())],
        result,
    )
    .await
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::{accounts::server as auth, platform::context as srv};
    let result = async {
        srv::require_user_id().await?;
        auth::end_session(&srv::session().await?).await?;
        leptos_axum::redirect("/login");
        Ok(())
    }
    .await;
    srv::finish("logout", &[], result).await
}

#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<User>, AppError> {
    use crate::{accounts::server as auth, platform::context as srv};
    let result = async {
        let state = srv::app_state()?;
        let id = srv::require_user_id().await?;
        auth::user_by_id(&state.db, id).await
    }
    .await;
    srv::finish("", &[], result).await
}

/// The one server function open without a session besides sign-up and log-in: it returns only
/// the caller's own one-time form error (the log-in and sign-up pages need it).
#[server(endpoint = "take_flash")]
pub async fn take_flash(form: String) -> Result<Option<FormFlash>, AppError> {
    crate::platform::context::take_flash(&form).await
}

/// The account actions and the signed-in user, shared through context by the whole app.
#[derive(Clone, Copy)]
pub struct Auth {
    pub login: ServerAction<Login>,
    pub signup: ServerAction<Signup>,
    pub logout: ServerAction<Logout>,
    pub user: Resource<Result<Option<User>, AppError>>,
}

impl Auth {
    pub fn provide() -> Self {
        let login = ServerAction::<Login>::new();
        let signup = ServerAction::<Signup>::new();
        let logout = ServerAction::<Logout>::new();
        let user = Resource::new_blocking(
            move || {
                (
                    login.version().get(),
                    signup.version().get(),
                    logout.version().get(),
                )
            },
            |_| current_user(),
        );
        let auth = Auth {
            login,
            signup,
            logout,
            user,
        };
        provide_context(auth);
        auth
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let flash = use_flash("login");
    let query = use_query_map();
    view! {
        <main class="auth-page" id="main">
            <div class="auth-card">
                <p class="brand brand-large">"Axis CRM"</p>
                <h1>"Log in"</h1>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let form = FormState::new(auth.login.value(), flash.await);
                        let next = form.value("next").or_else(|| query.read_untracked().get("next")).unwrap_or_default();
                        view! {
                            <ActionForm action=auth.login attr:novalidate=true attr:class="stack">
                                <FormMessage message=form.message()/>
                                <input type="hidden" name="next" value=next/>
                                <TextField label="Email" name="email" kind="email" autocomplete="email" required=true
                                    value=form.value("email").unwrap_or_default() error=form.field("email")/>
                                <TextField label="Password" name="password" kind="password" autocomplete="current-password"
                                    required=true error=form.field("password")/>
                                <button type="submit" class="button primary" disabled=move || auth.login.pending().get()>
                                    {move || if auth.login.pending().get() { "Logging in…" } else { "Log in" }}
                                </button>
                            </ActionForm>
                        }
                    })}
                </Suspense>
                <p class="switch">"New to Axis CRM? " <a href="/signup">"Create an account"</a></p>
            </div>
        </main>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let flash = use_flash("signup");
    view! {
        <main class="auth-page" id="main">
            <div class="auth-card">
                <p class="brand brand-large">"Axis CRM"</p>
                <h1>"Create your account"</h1>
                <p class="lead">"Send invoices to your tenants over your own WhatsApp Business account."</p>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let form = FormState::new(auth.signup.value(), flash.await);
                        view! {
                            <ActionForm action=auth.signup attr:novalidate=true attr:class="stack">
                                <FormMessage message=form.message()/>
                                <TextField label="Your name" name="name" autocomplete="name" required=true
                                    value=form.value("name").unwrap_or_default() error=form.field("name")/>
                                <TextField label="Business name" name="business_name" autocomplete="organization" required=true
                                    hint="Shown on your invoices and to your tenants."
                                    value=form.value("business_name").unwrap_or_default() error=form.field("business_name")/>
                                <TextField label="Email" name="email" kind="email" autocomplete="email" required=true
                                    value=form.value("email").unwrap_or_default() error=form.field("email")/>
                                <TextField label="Password" name="password" kind="password" autocomplete="new-password" required=true
                                    hint="At least 10 characters." error=form.field("password")/>
                                <button type="submit" class="button primary" disabled=move || auth.signup.pending().get()>
                                    {move || if auth.signup.pending().get() { "Creating account…" } else { "Create account" }}
                                </button>
                            </ActionForm>
                        }
                    })}
                </Suspense>
                <p class="switch">"Already have an account? " <a href="/login">"Log in"</a></p>
            </div>
        </main>
    }
}

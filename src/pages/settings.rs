//! Settings: the account's name and business name.

use crate::{
    accounts::{Auth, User},
    components::form::{use_flash, FormFlash, FormMessage, FormState, TextArea, TextField},
    error::AppError,
};
use leptos::prelude::*;

#[server(endpoint = "update_profile")]
pub async fn update_profile(name: String, business_name: String) -> Result<User, AppError> {
    use crate::{
        accounts::{server as auth, validate},
        platform::context as srv,
    };
    let result = async {
        let state = srv::app_state()?;
        let user_id = srv::require_user_id().await?;
        let (name, business_name) = validate::check_profile(&name, &business_name)?;
        auth::update_profile(&state.db, user_id, &name, &business_name).await?;
        auth::user_by_id(&state.db, user_id)
            .await?
            .ok_or(AppError::NotFound)
    }
    .await;
    srv::finish(
        "profile",
        &[
            ("name", name.as_str()),
            ("business_name", business_name.as_str()),
        ],
        result,
    )
    .await
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let save = ServerAction::<UpdateProfile>::new();
    let flash = use_flash("profile");
    // Refresh the header's business name after a save.
    Effect::new(move |_| {
        if matches!(save.value().get(), Some(Ok(_))) {
            auth.user.refetch();
        }
    });
    view! {
        <h1>"Settings"</h1>
        <BusinessProfile/>
        <section class="card" aria-labelledby="integrations-heading">
            <h2 id="integrations-heading">"Integrations"</h2>
            <p>
                <a href="/settings/whatsapp">"WhatsApp Integration"</a>
                ": connect your WhatsApp Business account (or the sandbox) to send invoices over WhatsApp."
            </p>
        </section>
        <section class="card" aria-labelledby="profile-heading">
            <h2 id="profile-heading">"Your account"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let flash: Option<FormFlash> = flash.await;
                    let user = auth.user.await;
                    let form = FormState::new(save.value(), flash);
                    match user {
                        Ok(Some(user)) => view! {
                            <ActionForm action=save attr:novalidate=true attr:class="stack">
                                <FormMessage message=form.message()/>
                                <p class="muted">"Email: " <strong>{user.email.clone()}</strong></p>
                                <TextField label="Your name" name="name" autocomplete="name" required=true
                                    value=form.value("name").unwrap_or(user.name.clone()) error=form.field("name")/>
                                <TextField label="Business name" name="business_name" autocomplete="organization" required=true
                                    value=form.value("business_name").unwrap_or(user.business_name.clone())
                                    error=form.field("business_name")/>
                                <div class="actions">
                                    <button type="submit" class="button primary">"Save account details"</button>
                                    <p class="status" role="status">
                                        {move || matches!(save.value().get(), Some(Ok(_))).then_some("Saved.")}
                                    </p>
                                </div>
                            </ActionForm>
                        }.into_any(),
                        _ => view! { <p class="alert alert-error">{AppError::Unauthorized.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The business details printed on invoices, and the defaults for new tenants and invoices.
#[component]
fn BusinessProfile() -> impl IntoView {
    use crate::invoices::api::{get_business_profile, SaveBusinessProfile};
    let save = ServerAction::<SaveBusinessProfile>::new();
    let data = Resource::new_blocking(move || save.version().get(), |_| get_business_profile());
    let flash = use_flash("business-profile");
    view! {
        <section class="card" aria-labelledby="business-heading">
            <h2 id="business-heading">"Business profile"</h2>
            <p class="hint">"Printed on your invoices. The currency and country are the defaults for new invoices and tenants' phone numbers."</p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let form = FormState::new(save.value(), flash.await);
                    let p = data.await.unwrap_or_default();
                    let v = move |name: &str, current: &str| form.value(name).unwrap_or_else(|| current.to_string());
                    view! {
                        <ActionForm action=save attr:novalidate=true attr:class="stack">
                            <FormMessage message=form.message()/>
                            <TextArea label="Address" name="address"
                                value=v("address", &p.address) error=form.field("address")/>
                            <TextField label="Tax id" name="tax_id" value=v("tax_id", &p.tax_id) error=form.field("tax_id")/>
                            <TextArea label="Payment instructions" name="payment_instructions"
                                value=v("payment_instructions", &p.payment_instructions) error=form.field("payment_instructions")/>
                            <TextField label="Default currency" name="default_currency" required=true hint="ISO 4217 code, like GBP, EUR or USD."
                                value=v("default_currency", &p.default_currency) error=form.field("default_currency")/>
                            <TextField label="Default country" name="default_country" required=true hint="Two letters, like GB, DE or US: for phone numbers without a country code, and the paper size."
                                value=v("default_country", &p.default_country) error=form.field("default_country")/>
                            <TextField label="Invoice number prefix" name="invoice_prefix" value=v("invoice_prefix", &p.invoice_prefix) error=form.field("invoice_prefix")/>
                            <div class="actions">
                                <button type="submit" class="button primary">"Save business profile"</button>
                                <p class="status" role="status">{move || matches!(save.value().get(), Some(Ok(_))).then_some("Saved.")}</p>
                            </div>
                        </ActionForm>
                    }
                })}
            </Transition>
        </section>
    }
}

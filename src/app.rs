//! The HTML shell, the root component and the route table.

use crate::{
    accounts::{Auth, LoginPage, SignupPage},
    connections::WhatsAppSettingsPage,
    help::{
        notes::NotesPage, providers::ProvidersPage, troubleshooting::TroubleshootingPage, HelpPage,
    },
    invoices::pages::InvoicesPage,
    invoices::pages::{InvoiceDetailPage, InvoiceFormPage, PropertiesPage, TenantsPage},
    onboarding::{SetupBanner, WizardPage},
    pages::{not_found::NotFound, settings::SettingsPage},
    sending::{SendInvoicePage, TenantMessagesPage},
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, MetaTags, Title};
use leptos_router::{
    components::{Outlet, ParentRoute, Redirect, Route, Router, Routes, A},
    path, SsrMode,
};

/// The HTML document around the app. (The page's Content-Security-Policy, with this response's
/// script nonce, is set by `server::security::security_headers`.)
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <AutoReload options=options.clone()/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    Auth::provide();
    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Title formatter=|page: String| if page.is_empty() { "Axis CRM".to_string() } else { format!("{page} · Axis CRM") }/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/login") view=|| view! { <Title text="Log in"/><LoginPage/> } ssr=SsrMode::Async/>
                <Route path=path!("/signup") view=|| view! { <Title text="Sign up"/><SignupPage/> } ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=AppLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=|| view! { <Redirect path="/invoices"/> } ssr=SsrMode::Async/>
                    <Route path=path!("invoices") view=|| view! { <Title text="Invoices"/><InvoicesPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("invoices/new") view=|| view! { <Title text="Create invoice"/><InvoiceFormPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("invoices/:id") view=|| view! { <Title text="Invoice"/><InvoiceDetailPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("invoices/:id/send") view=|| view! { <Title text="Send via WhatsApp"/><SendInvoicePage/> } ssr=SsrMode::Async/>
                    <Route path=path!("invoices/:id/edit") view=|| view! { <Title text="Edit invoice"/><InvoiceFormPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("tenants/:id") view=|| view! { <Title text="Tenant"/><TenantMessagesPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("tenants") view=|| view! { <Title text="Tenants"/><TenantsPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("properties") view=|| view! { <Title text="Properties"/><PropertiesPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("onboarding") view=|| view! { <Title text="Setup guide"/><WizardPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("onboarding/:step") view=|| view! { <Title text="Setup guide"/><WizardPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("help") view=|| view! { <Title text="Help"/><HelpPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("help/notes") view=|| view! { <Title text="Important notes"/><NotesPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("help/troubleshooting") view=|| view! { <Title text="Troubleshooting"/><TroubleshootingPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("help/providers") view=|| view! { <Title text="Other WhatsApp providers"/><ProvidersPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("settings") view=|| view! { <Title text="Settings"/><SettingsPage/> } ssr=SsrMode::Async/>
                    <Route path=path!("settings/whatsapp") view=|| view! { <Title text="WhatsApp Integration"/><WhatsAppSettingsPage/> } ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// The signed-in frame: skip link, navigation, business name, log out.
#[component]
fn AppLayout() -> impl IntoView {
    let auth = expect_context::<Auth>();
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/invoices">"Axis CRM"</a>
            <nav class="mainnav" aria-label="Main">
                <A href="/invoices">"Invoices"</A>
                <A href="/onboarding">"Setup guide"</A>
                <A href="/help">"Help"</A>
                <A href="/settings">"Settings"</A>
            </nav>
            <div class="account">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match auth.user.await {
                            Ok(Some(user)) => view! {
                                <span class="business" title=user.email.clone()>{user.business_name.clone()}</span>
                            }.into_any(),
                            // The session ended while the page was open: back to the log-in page.
                            _ => view! { <Redirect path="/login"/> }.into_any(),
                        }
                    })}
                </Transition>
                <ActionForm action=auth.logout attr:class="logout">
                    <button type="submit" class="button subtle">"Log out"</button>
                </ActionForm>
            </div>
        </header>
        <main id="main" class="content" tabindex="-1">
            <SetupBanner/>
            <Outlet/>
        </main>
    }
}

//! The in-app help: important notes, troubleshooting (every WhatsApp problem links there) and
//! other ways to send WhatsApp messages. Plain server-rendered pages; they work without JavaScript.

use leptos::prelude::*;

pub mod notes;
pub mod pricing;
pub mod providers;
pub mod troubleshooting;

pub use notes::NotesPage;
pub use providers::ProvidersPage;
pub use troubleshooting::TroubleshootingPage;

#[component]
pub fn HelpPage() -> impl IntoView {
    view! {
        <h1>"Help"</h1>
        <p class="lead">
            "Answers about sending invoices to your tenants over WhatsApp. To connect WhatsApp for the first time, "
            "start with the " <a href="/onboarding">"setup guide"</a> "."
        </p>
        <section class="card" aria-labelledby="help-notes-h">
            <h2 id="help-notes-h"><a href="/help/notes">"Important notes"</a></h2>
            <p>"What WhatsApp costs, which phone numbers work, templates and the 24-hour window, messaging limits and keeping your token safe."</p>
        </section>
        <section class="card" aria-labelledby="help-troubleshooting-h">
            <h2 id="help-troubleshooting-h"><a href="/help/troubleshooting">"Troubleshooting"</a></h2>
            <p>"What each WhatsApp error in Axis CRM means and how to fix it, from an expired access token to a webhook Meta cannot verify."</p>
        </section>
        <section class="card" aria-labelledby="help-providers-h">
            <h2 id="help-providers-h"><a href="/help/providers">"Other ways to send WhatsApp messages"</a></h2>
            <p>"What providers such as Twilio, 360dialog and Bird offer if you would rather not set up the Cloud API yourself."</p>
        </section>
        <section class="card" aria-labelledby="help-guide-h">
            <h2 id="help-guide-h"><a href="/onboarding">"Setup guide"</a></h2>
            <p>"Step by step: create the Meta accounts and app, get a permanent access token, and connect WhatsApp in Axis CRM."</p>
        </section>
    }
}

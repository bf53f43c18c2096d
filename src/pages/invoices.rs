//! The invoices page.

use leptos::prelude::*;

#[component]
pub fn InvoicesPage() -> impl IntoView {
    view! {
        <h1>"Invoices"</h1>
        <section class="card empty-state">
            <h2>"No invoices yet"</h2>
            <p>"Invoices you create will be listed here, with a WhatsApp button to send each one to its tenant."</p>
            <p><a href="/onboarding">"Read the setup guide"</a>" to prepare your WhatsApp Business account meanwhile."</p>
        </section>
    }
}

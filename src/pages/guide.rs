//! The setup guide: how to get a WhatsApp Cloud API number and connect it, from the user's own
//! setup guide, with the notes brought up to date with Meta's current rules.

use leptos::prelude::*;

struct Step {
    id: &'static str,
    title: &'static str,
    intro: &'static str,
    items: &'static [&'static str],
    links: &'static [(&'static str, &'static str)],
}

const PREREQUISITES: &[&str] = &[
    "A Meta Business Account (free).",
    "A WhatsApp Business Account (free).",
    "A phone number for your business that can receive an SMS or a call, and is not already used by the WhatsApp app.",
    "Access to Meta for Developers (developers.facebook.com).",
];

const STEPS: &[Step] = &[
    Step {
        id: "step-1",
        title: "Create a Meta Business Account",
        intro: "Your business portfolio in Meta Business Suite owns your WhatsApp accounts.",
        items: &[
            "Go to business.facebook.com.",
            "Click Create Account, or sign in.",
            "Follow the set-up wizard to create your business account.",
            "Verify your business information. Unverified businesses can message at most 250 customers a day with templates.",
        ],
        links: &[("Meta Business Suite", "https://business.facebook.com")],
    },
    Step {
        id: "step-2",
        title: "Set up a WhatsApp Business Account",
        intro: "This is where your business phone number lives.",
        items: &[
            "In Meta Business Suite, open WhatsApp Accounts.",
            "Click Add, then Add Phone Number.",
            "Enter your business phone number.",
            "Verify the number with the code sent by SMS or call.",
            "Complete business verification.",
        ],
        links: &[("WhatsApp accounts in Business Suite", "https://business.facebook.com/settings/whatsapp-business-accounts")],
    },
    Step {
        id: "step-3",
        title: "Create a Meta app",
        intro: "The app is what gets permission to send messages for your number.",
        items: &[
            "Go to developers.facebook.com.",
            "Click My Apps, then Create App.",
            "Choose Business as the app type.",
            "App name: Axis CRM (or any name you like); contact email: your email.",
            "Click Create App.",
        ],
        links: &[("Meta for Developers: My Apps", "https://developers.facebook.com/apps")],
    },
    Step {
        id: "step-4",
        title: "Add the WhatsApp product",
        intro: "",
        items: &[
            "In your app's dashboard, find WhatsApp in the list of products.",
            "Click Set Up on WhatsApp.",
            "You arrive on the WhatsApp configuration pages.",
        ],
        links: &[],
    },
    Step {
        id: "step-5",
        title: "Get your credentials",
        intro: "WhatsApp → API Setup shows what Axis CRM needs.",
        items: &[
            "Phone Number ID: a long number, for example 123456789012345.",
            "Temporary access token: it stops working after 24 hours, so use it only to try things out.",
            "WhatsApp Business Account ID (optional in Axis CRM).",
            "For a permanent token: in Business Settings → Users → System users, add a system user with the Admin role, assign it your app and your WhatsApp account, then Generate Token with the permissions whatsapp_business_messaging and whatsapp_business_management, and expiry Never.",
            "Copy the token once and keep it secret: anyone holding it can send messages as your business.",
        ],
        links: &[("System users in Business Settings", "https://business.facebook.com/settings/system-users")],
    },
    Step {
        id: "step-6",
        title: "Connect in Axis CRM",
        intro: "",
        items: &[
            "Open Settings → WhatsApp Integration.",
            "Enter the Phone Number ID and the access token; the Business Account ID and the phone number are optional.",
            "Click Connect. Axis CRM checks the credentials with Meta before it keeps them, and stores the token encrypted.",
        ],
        links: &[],
    },
    Step {
        id: "step-7",
        title: "Send a test invoice",
        intro: "",
        items: &[
            "Open Invoices.",
            "Find an invoice whose tenant has a mobile phone number.",
            "Click its WhatsApp button: the invoice goes to the tenant with the PDF attached.",
        ],
        links: &[],
    },
];

#[component]
pub fn GuidePage() -> impl IntoView {
    view! {
        <h1>"Setup guide: WhatsApp Cloud API"</h1>
        <p class="lead">
            "Connect your own WhatsApp Business account through Meta's WhatsApp Cloud API, then send invoices "
            "to your tenants over WhatsApp with the PDF attached."
        </p>
        <nav class="card toc" aria-label="Steps">
            <h2>"Contents"</h2>
            <ul>
                <li><a href="#prerequisites">"Prerequisites"</a></li>
                {STEPS
                    .iter()
                    .enumerate()
                    .map(|(i, s)| view! { <li><a href=format!("#{}", s.id)>{format!("Step {}: {}", i + 1, s.title)}</a></li> })
                    .collect_view()}
                <li><a href="#notes">"Important notes"</a></li>
            </ul>
        </nav>
        <section class="card" id="prerequisites" aria-labelledby="prerequisites-h">
            <h2 id="prerequisites-h">"Prerequisites"</h2>
            <ul>{PREREQUISITES.iter().map(|p| view! { <li>{*p}</li> }).collect_view()}</ul>
        </section>
        {STEPS
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let heading = format!("{}-h", s.id);
                let labelled_by = heading.clone();
                view! {
                    <section class="card step" id=s.id aria-labelledby=labelled_by>
                        <h2 id=heading>{format!("Step {}: {}", i + 1, s.title)}</h2>
                        {(!s.intro.is_empty()).then(|| view! { <p>{s.intro}</p> })}
                        <ol>{s.items.iter().map(|it| view! { <li>{*it}</li> }).collect_view()}</ol>
                        {(!s.links.is_empty()).then(|| view! {
                            <p class="links">
                                {s.links.iter().map(|(label, href)| view! {
                                    <a href=*href target="_blank" rel="noopener noreferrer">
                                        {*label}<span class="visually-hidden">" (opens in a new tab)"</span>
                                    </a>
                                }).collect_view()}
                            </p>
                        })}
                    </section>
                }
            })
            .collect_view()}
        <section class="card" id="notes" aria-labelledby="notes-h">
            <h2 id="notes-h">"Important notes"</h2>
            <h3>"What it costs"</h3>
            <p>
                "Since 1 July 2025 Meta charges per delivered template message, by category and country, instead of "
                "per conversation; the old \"1,000 free conversations a month\" no longer applies. Messages you send "
                "inside a customer's 24-hour window are free, and utility templates sent inside that window have been "
                "free too; a template sent outside it is charged. Templates need a payment method on your WhatsApp account."
            </p>
            <h3>"The 24-hour window and templates"</h3>
            <p>
                "Your first message to a tenant, or any message more than 24 hours after they last wrote to you, must be "
                "a template that Meta has approved. Once the tenant replies you can send ordinary messages, such as the "
                "invoice PDF, for 24 hours."
            </p>
            <h3>"Phone numbers"</h3>
            <p>
                "Your business number must be real, able to receive an SMS or a call for verification, and not in use "
                "by the WhatsApp app. Tenants' numbers need their country code (for example +44 7911 123456). While you "
                "use Meta's test number, only up to 5 recipients you add under API Setup can receive messages."
            </p>
            <h3>"Keep your token safe"</h3>
            <ul>
                <li>"Never share your access token or paste it anywhere public."</li>
                <li>"Axis CRM stores it encrypted and never shows it again after you connect."</li>
                <li>"If it may have leaked, generate a new one in Meta and replace it in Axis CRM."</li>
                <li>"In production, a server administrator can supply credentials through environment variables."</li>
            </ul>
        </section>
    }
}

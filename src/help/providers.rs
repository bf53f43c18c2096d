//! "Other ways to send WhatsApp messages": the providers the setup guide mentions, described
//! honestly. Axis CRM itself talks to Meta's Cloud API directly and integrates none of them.

use crate::components::links::ExternalLink;
use leptos::prelude::*;

struct Provider {
    id: &'static str,
    name: &'static str,
    what: &'static str,
    offers: &'static [&'static str],
    link: (&'static str, &'static str),
}

const PROVIDERS: &[Provider] = &[
    Provider {
        id: "twilio",
        name: "Twilio",
        what: "A communications platform whose messaging API sends WhatsApp messages as well as SMS, with voice \
               and email among its other products.",
        offers: &[
            "Connects your WhatsApp number through Twilio's own sign-up flow, alongside the SMS numbers you may already have there.",
            "WhatsApp templates are created and sent through Twilio's Content API rather than Meta's template tools.",
            "Billing and support come from Twilio.",
        ],
        link: ("Twilio's WhatsApp page", "https://www.twilio.com/whatsapp"),
    },
    Provider {
        id: "360dialog",
        name: "360dialog",
        what: "A provider that specialises in WhatsApp. Its API takes the same message format as Meta's Cloud API, \
               with its own address and API key.",
        offers: &[
            "Guides you through connecting a number and gives you an API key instead of Meta's access tokens.",
            "Offers a sandbox key for trying things out.",
            "Billing and support come from 360dialog.",
        ],
        link: ("360dialog's website", "https://www.360dialog.com"),
    },
    Provider {
        id: "bird",
        name: "Bird (formerly MessageBird)",
        what: "A communication platform, formerly called MessageBird, that handles WhatsApp alongside other \
               channels such as SMS and email.",
        offers: &[
            "Connects your WhatsApp number from Bird's own dashboard.",
            "Lets you manage WhatsApp next to your other channels in one place.",
            "Billing and support come from Bird.",
        ],
        link: ("Bird's website", "https://bird.com"),
    },
];

#[component]
pub fn ProvidersPage() -> impl IntoView {
    view! {
        <h1>"Other ways to send WhatsApp messages"</h1>
        <p class="lead">
            "If you would rather not set up the WhatsApp Cloud API yourself, a WhatsApp Business Solution Provider "
            "can do much of it for you. Twilio, 360dialog and Bird (formerly MessageBird) are three of them."
        </p>
        <p class="hint"><a href="/help">"All help pages"</a></p>

        <section class="card" id="axis-crm" aria-labelledby="axis-crm-h">
            <h2 id="axis-crm-h">"How Axis CRM connects"</h2>
            <p>
                "Axis CRM connects to Meta's WhatsApp Cloud API directly, with your own WhatsApp Business account, "
                "Phone Number ID and access token. It does not integrate these providers: it cannot send through "
                "their services. The information below is for comparison only."
            </p>
            <p><a href="/onboarding">"Set up the Cloud API with the setup guide"</a></p>
        </section>

        <section class="card" id="what-providers-do" aria-labelledby="what-providers-do-h">
            <h2 id="what-providers-do-h">"What a provider does"</h2>
            <p>
                "Business Solution Providers are companies Meta approves to offer WhatsApp to businesses. They are "
                "built on the same Cloud API: the messages still go through Meta, under the same rules on templates, "
                "the 24-hour window and messaging limits."
            </p>
            <ul>
                <li>"Onboarding: they walk you through connecting your number, so you need not create a Meta app or a system-user token."</li>
                <li>"Billing: Meta's message charges are usually paid to the provider, together with its own fees."</li>
                <li>"Support: you get help from the provider instead of Meta's developer support."</li>
                <li>"Other channels: most also offer SMS, email or a shared inbox."</li>
            </ul>
            <h3>"The trade-offs"</h3>
            <ul>
                <li>"They charge their own fees on top of Meta's per-message charges. Compare their current prices before you choose."</li>
                <li>"You still need a Meta Business account for your business, and Meta's business verification to raise your limits."</li>
                <li>"Your messages pass through one more company, and moving your number away from a provider later takes extra steps."</li>
            </ul>
        </section>

        {PROVIDERS
            .iter()
            .map(|p| {
                let heading = format!("{}-h", p.id);
                let labelled_by = heading.clone();
                let (label, href) = p.link;
                view! {
                    <section class="card" id=p.id aria-labelledby=labelled_by>
                        <h2 id=heading>{p.name}</h2>
                        <p>{p.what}</p>
                        <ul>{p.offers.iter().map(|o| view! { <li>{*o}</li> }).collect_view()}</ul>
                        <p class="links"><ExternalLink label href/></p>
                    </section>
                }
            })
            .collect_view()}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_link_to_their_own_https_pages() {
        let urls: Vec<_> = PROVIDERS.iter().map(|p| p.link.1).collect();
        assert_eq!(
            urls,
            [
                "https://www.twilio.com/whatsapp",
                "https://www.360dialog.com",
                "https://bird.com"
            ]
        );
    }
}

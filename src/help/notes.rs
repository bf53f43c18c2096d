//! "Important notes": the setup guide's notes on cost, phone numbers, templates and security,
//! brought up to date with Meta's rules as of November 2026.

use crate::components::links::ExternalLink;
use leptos::prelude::*;

/// A link that opens in a new tab and says so to screen readers.

#[component]
pub fn NotesPage() -> impl IntoView {
    view! {
        <h1>"Important notes"</h1>
        <p class="lead">
            "What sending invoices over WhatsApp costs, which phone numbers work, when WhatsApp needs an approved "
            "template, how many messages you may send, and how to keep your access token safe."
        </p>
        <p class="hint"><a href="/help">"All help pages"</a></p>
        <nav class="card toc" aria-labelledby="notes-toc-h">
            <h2 id="notes-toc-h">"Contents"</h2>
            <ul>
                <li><a href="#pricing">"What WhatsApp costs"</a></li>
                <li><a href="#phone-numbers">"Phone numbers"</a></li>
                <li><a href="#templates">"Templates and the 24-hour window"</a></li>
                <li><a href="#limits">"Messaging limits"</a></li>
                <li><a href="#test-number">"Meta's test number"</a></li>
                <li><a href="#security">"Keeping your token safe"</a></li>
            </ul>
        </nav>

        <section class="card" id="pricing" aria-labelledby="pricing-h">
            <h2 id="pricing-h">"What WhatsApp costs"</h2>
            <p>
                "Meta bills your own WhatsApp Business Account directly for the messages you send. Since 1 July 2025 "
                "Meta charges per message instead of per conversation, so the old \"1,000 free conversations a "
                "month\" no longer applies."
            </p>
            <h3>"What is charged since 1 October 2026"</h3>
            <ul>
                <li>
                    "Every message Meta delivers for you is charged, inside or outside the tenant's 24-hour customer "
                    "service window."
                </li>
                <li>
                    "Service messages (ordinary messages that are not templates, such as the invoice PDF sent while "
                    "the tenant's window is open) are charged at the utility rate of the tenant's country, with no "
                    "volume discounts. Until 30 September 2026 they were free."
                </li>
                <li>
                    "Utility templates (the invoice template) are charged at the utility rate of the tenant's "
                    "country, inside and outside the window; volume tiers lower the rate for busy accounts. Until "
                    "30 September 2026 they were free inside an open window."
                </li>
                <li>"Marketing and authentication templates are always charged."</li>
                <li>
                    "Templates need a payment method on your WhatsApp Business Account; without one Meta refuses "
                    "them (error 131042)."
                </li>
            </ul>
            <h3>"What is still free"</h3>
            <ul>
                <li>
                    "Everything sent in the 72-hour free entry point window, which opens when someone contacts you "
                    "through a click-to-WhatsApp ad or a Facebook Page's call-to-action button."
                </li>
            </ul>
            <p class="alert alert-warn">{super::pricing::ALLOWANCE_UNCONFIRMED}</p>
            <p>
                "For invoices this means: each invoice is one message (the PDF with its caption), and each message "
                "is one charge, whether it goes as a document inside the window or as the template outside it. "
                "Settings → WhatsApp Integration → Usage shows how many of your messages Meta reported as billable, "
                "by category."
            </p>
            <p class="links">
                <ExternalLink label="Meta's WhatsApp pricing page" href="https://developers.facebook.com/docs/whatsapp/pricing"/>
            </p>
        </section>

        <section class="card" id="phone-numbers" aria-labelledby="phone-numbers-h">
            <h2 id="phone-numbers-h">"Phone numbers"</h2>
            <h3>"Your business number"</h3>
            <ul>
                <li>"It must be a real number that you own."</li>
                <li>
                    "It must be able to receive Meta's verification code by SMS or by voice call. A landline can "
                    "work if it takes the call."
                </li>
                <li>
                    "It must not be in use with the WhatsApp or WhatsApp Business app. If it is, delete that "
                    "WhatsApp account in the app first, then add the number in Meta Business Suite."
                </li>
                <li>
                    "Meta reviews the display name, the business name tenants see, against its guidelines. WhatsApp "
                    "Manager → Phone numbers shows whether it is approved; a declined name has to be changed."
                </li>
            </ul>
            <h3>"Your tenants' numbers"</h3>
            <ul>
                <li>
                    "Enter them in international (E.164) form: + and the country code, then the number without its "
                    "leading 0. For example 07911 123456 in the UK becomes +44 7911 123456."
                </li>
                <li>
                    "Without a country code Meta adds your business number's own country code, which can reach the "
                    "wrong person; Axis CRM therefore asks for the country code."
                </li>
                <li>"The tenant must use WhatsApp on that number."</li>
            </ul>
        </section>

        <section class="card" id="templates" aria-labelledby="templates-h">
            <h2 id="templates-h">"Templates and the 24-hour window"</h2>
            <p>
                "Each time a tenant writes to your business number, a 24-hour customer service window opens, or "
                "starts again. While it is open you can send any message, including the invoice PDF on its own. "
                "Outside it, including your first message to a tenant, WhatsApp only delivers templates: messages "
                "written in advance and approved by Meta."
            </p>
            <h3>"Template categories"</h3>
            <ul>
                <li>
                    <strong>"Utility"</strong>
                    ": updates about something the tenant already has with you, such as an invoice or a payment. "
                    "Axis CRM sends invoices as utility templates."
                </li>
                <li><strong>"Marketing"</strong>": promotions and offers. Always charged, and not usable for invoices in Axis CRM."</li>
                <li><strong>"Authentication"</strong>": one-time login codes."</li>
            </ul>
            <h3>"Approval"</h3>
            <p>
                "A new template waits for Meta's review and can only be sent once approved. Meta may move a utility "
                "template to marketing if its wording is promotional, and can pause or disable a template whose "
                "quality is low."
            </p>
            <h3>"The Axis CRM invoice template"</h3>
            <p>
                "Under Settings → WhatsApp Integration → Message templates, Axis CRM can create its own template, "
                <code>"axis_invoice_pdf"</code>
                ". It is a utility template with a document header that carries the invoice PDF, and a body with 4 "
                "variables: the tenant's name, the invoice number, the amount and the due date. Creating it needs the "
                "App ID and App Secret. You can also choose another approved template with a document header and "
                "exactly 4 body variables."
            </p>
            <p>
                "When a tenant's window is open, Axis CRM sends the PDF as an ordinary message; when it is closed, "
                "it sends the invoice template you chose."
            </p>
        </section>

        <section class="card" id="limits" aria-labelledby="limits-h">
            <h2 id="limits-h">"Messaging limits"</h2>
            <h3>"How many tenants a day"</h3>
            <p>
                "Your messaging limit counts how many different people you reach with templates that you start, "
                "over a rolling 24 hours. Replies inside an open window do not count. Since 7 October 2025 the limit "
                "belongs to your business portfolio and is shared by all its numbers."
            </p>
            <ul>
                <li>"The steps are 250, 2,000, 10,000 and 100,000 people, then unlimited."</li>
                <li>"Businesses that have not completed business verification stay at 250."</li>
                <li>
                    "Meta checks every 6 hours and moves you up one step when you have used at least half of your "
                    "limit over the last 7 days and your quality rating is good."
                </li>
            </ul>
            <h3>"How fast"</h3>
            <ul>
                <li>
                    "Each number sends up to 80 messages a second by default. Meta raises this automatically, up to "
                    "1,000, for busy accounts with an unlimited messaging limit."
                </li>
                <li>
                    "To the same tenant, about 1 message every 6 seconds. Faster sending fails with error 131056; "
                    "Axis CRM spaces messages to the same tenant by itself."
                </li>
            </ul>
            <p>
                "WhatsApp Manager shows your current limit and quality rating. "
                <a href="/help/troubleshooting#rate-limit-exceeded">"What to do when a limit is reached"</a>
            </p>
        </section>

        <section class="card" id="test-number" aria-labelledby="test-number-h">
            <h2 id="test-number-h">"Meta's test number"</h2>
            <p>
                "When you add WhatsApp to a Meta app, Meta gives you a test number to try things out. It sends only to "
                "up to 5 recipient numbers, each added under WhatsApp → API Setup (the \"To\" field) and confirmed "
                "with a code WhatsApp sends to it. Messages to any other number fail with error 131030."
            </p>
            <p>
                "The temporary access token on the same page lasts 24 hours. To send to tenants, add your own business "
                "number and use a permanent token. "
                <a href="/help/troubleshooting#test-number-recipients">"When a tenant is not in the test list"</a>
            </p>
        </section>

        <section class="card" id="security" aria-labelledby="security-h">
            <h2 id="security-h">"Keeping your token safe"</h2>
            <ul>
                <li>
                    "Never share your access token or paste it anywhere public: anyone holding it can send messages as "
                    "your business."
                </li>
                <li>
                    "Use a permanent token from a system user (Business Settings → Users → System users, expiry "
                    "Never), not a temporary token or one tied to a person's own Facebook account."
                </li>
                <li>
                    "Axis CRM checks the token with Meta, stores it encrypted, and never shows it again or sends it to "
                    "your browser."
                </li>
                <li>
                    "If it may have leaked, generate a new token in Meta, revoke the old one there, and paste the new one "
                    "under Settings → WhatsApp Integration → Replace token."
                </li>
                <li>
                    "The App Secret lets Axis CRM check that webhook calls really come from Meta: each call is signed "
                    "with it, and Axis CRM refuses calls whose signature does not match. It is stored encrypted too. If "
                    "you reset it in Meta, connect again with the new one."
                </li>
            </ul>
            <h3>"For server administrators"</h3>
            <p>
                "Credentials can also be supplied through environment variables: "
                <code>"WHATSAPP_PHONE_NUMBER_ID"</code>" and "<code>"WHATSAPP_ACCESS_TOKEN"</code>
                ", optionally with "<code>"WHATSAPP_BUSINESS_ACCOUNT_ID"</code>", "<code>"WHATSAPP_APP_ID"</code>
                " and "<code>"WHATSAPP_APP_SECRET"</code>". Stored tokens are encrypted with "
                <code>"AXIS_MASTER_KEY"</code>", which is required in production. Keep these values out of version "
                "control and out of logs."
            </p>
        </section>
    }
}

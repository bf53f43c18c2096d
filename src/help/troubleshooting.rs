//! The troubleshooting catalogue: one entry per problem Axis CRM can report while talking to
//! WhatsApp, and the page at `/help/troubleshooting` that shows them.
//!
//! This is the only place a problem is worded. Each entry names the neutral
//! `messaging::Problem` keys it explains (a provider classifies its errors into those) and the
//! provider codes it covers, as `(provider, code)` pairs. The problem box of a failed call, the
//! reason on a failed send's tick and the page are all built from the same entry: the same title,
//! the same anchor and the same steps. Only the one sentence that depends on the live error (which
//! of an entry's problems it was, the Phone Number ID) is chosen per problem, and it lives here too.
//!
//! The guide's four original cases come first, with their titles kept word for word.

use crate::components::links::ExternalLinks;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use messaging::Problem;

/// Meta's WhatsApp Cloud API, as providers name it (`whatsapp_cloud::META`, which the browser
/// build cannot see).
pub const META: &str = "meta";

/// One problem: what it means, why it happens and what to do about it.
#[derive(Debug)]
pub struct Entry {
    /// The fragment on the troubleshooting page; problem boxes and failed sends link to it.
    pub anchor: &'static str,
    /// The one title: the entry's heading, the problem box's title, a failed send's reason.
    pub title: &'static str,
    /// The provider-neutral problems this entry explains, each with the sentence a problem box
    /// shows under the title (`{phone_number_id}` is filled in, or dropped with its brackets when
    /// unknown). Every `messaging::Problem` is explained by exactly one entry; app-level entries
    /// have none. (Server only: the browser build has no `messaging`.)
    #[cfg(feature = "ssr")]
    pub problems: &'static [(Problem, &'static str)],
    /// The provider codes this entry covers, as (provider, code); empty for app-level problems.
    /// The provider's own classification decides; a test checks that it agrees with this list.
    pub codes: &'static [(&'static str, i64)],
    /// What the user sees / what it means, one or two sentences.
    pub summary: &'static str,
    pub causes: &'static [&'static str],
    /// What to do, in order: shown on the page and, word for word, in every problem box.
    pub steps: &'static [&'static str],
    /// (label, https url) provider pages to open, new tab.
    pub links: &'static [(&'static str, &'static str)],
}

const META_APPS: (&str, &str) = (
    "Your apps in Meta for Developers",
    "https://developers.facebook.com/apps",
);
/// Also linked from the setup guide.
pub const SYSTEM_USERS: (&str, &str) = (
    "System users in Business Settings",
    "https://business.facebook.com/settings/system-users",
);
const WHATSAPP_MANAGER: (&str, &str) = (
    "WhatsApp Manager in Meta Business Suite",
    "https://business.facebook.com/wa/manage/home/",
);
const ERROR_CODES: (&str, &str) = (
    "Meta's list of Cloud API error codes",
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes",
);

/// How to make a permanent access token, worded once: the Invalid Access Token and Missing
/// permissions entries, the setup guide's step 5 and its temporary-token warning show these.
pub const PERMANENT_TOKEN: [&str; 3] = [
    "Generate a permanent token: in Business Settings → Users → System users, add a system user with the Admin role, or choose one you have.",
    "Select the system user, choose Assign assets, and give it your app and your WhatsApp account, both with full control.",
    "Click Generate new token, choose your app, set the expiry to Never, and tick the permissions whatsapp_business_messaging and whatsapp_business_management.",
];

/// Putting a new token into Axis CRM, after [`PERMANENT_TOKEN`].
pub const REPLACE_TOKEN: &str = "In Axis CRM open Settings → WhatsApp Integration, open Replace token and paste the new token. Axis CRM checks it with Meta before it replaces the old one.";

/// 3, 10, 131005 and the whole 200–299 range: Meta's permission errors.
const PERMISSION_CODES: [(&str, i64); 103] = {
    let mut codes = [(META, 0i64); 103];
    codes[0] = (META, 3);
    codes[1] = (META, 10);
    codes[2] = (META, 131005);
    let mut i = 0;
    while i < 100 {
        codes[3 + i] = (META, 200 + i as i64);
        i += 1;
    }
    codes
};

pub const ENTRIES: &[Entry] = &[
    // ---- the four cases of the original setup guide ----------------------------------------------
    Entry {
        anchor: "invalid-access-token",
        title: "Invalid Access Token",
        #[cfg(feature = "ssr")]
        problems: &[
            (
                Problem::InvalidCredentials { expired: true },
                "Meta says this access token has expired. Temporary tokens from the API Setup page last only 24 hours.",
            ),
            (
                Problem::InvalidCredentials { expired: false },
                "Meta did not accept this access token: it has expired, was revoked, or was not copied completely.",
            ),
        ],
        codes: &[(META, 190), (META, 0)],
        summary: "Meta did not accept the access token Axis CRM holds for your WhatsApp account, so nothing can be \
                  sent or checked until you replace it.",
        causes: &[
            "The token is a temporary one from WhatsApp → API Setup: those stop working after 24 hours (Meta reports error 190 with subcode 463 when a token has expired).",
            "The token was generated for a system user with an expiry date (for example 60 days), and that date has passed.",
            "The token was revoked: its system user was removed, the app was removed from your business, or the token was revoked in Business Settings.",
            "The token belonged to a person rather than a system user, and that person changed their Facebook password or Meta asked them to log in again.",
            "The token was not copied completely, or something else was pasted with it.",
        ],
        steps: &[
            "Check whether your token has expired: Meta's Access Token Debugger shows whether a token is valid and when it expires (temporary tokens last 24 hours).",
            PERMANENT_TOKEN[0],
            PERMANENT_TOKEN[1],
            PERMANENT_TOKEN[2],
            REPLACE_TOKEN,
            "Make sure you are using the Phone Number ID of the same WhatsApp account that the token's system user has been given.",
        ],
        links: &[
            ("Access Token Debugger", "https://developers.facebook.com/tools/debug/accesstoken/"),
            SYSTEM_USERS,
        ],
    },
    Entry {
        anchor: "phone-number-not-registered",
        title: "Phone number not registered",
        #[cfg(feature = "ssr")]
        problems: &[
            (
                Problem::UnknownSender,
                "Meta has no phone number with this Phone Number ID ({phone_number_id}) that this token may use: the ID is wrong, or the number is not shared with the token.",
            ),
            (
                Problem::SenderNotRegistered,
                "This number is not registered with the WhatsApp Cloud API yet.",
            ),
        ],
        codes: &[(META, 133010), (META, 131045), (META, 100), (META, 803)],
        summary: "Meta cannot find a WhatsApp number with the Phone Number ID Axis CRM uses, or the number exists but \
                  is not registered with the WhatsApp Cloud API, so it cannot send.",
        causes: &[
            "The Phone Number ID is wrong. It is a long ID shown under WhatsApp → API Setup, not the phone number itself; Meta then answers error 100 with subcode 33 (\"object does not exist\").",
            "The WhatsApp account that holds the number is not assigned to the system user whose token Axis CRM uses, so to that token the number does not exist (also error 100, subcode 33).",
            "The number was added but never verified with the code sent by SMS or voice call.",
            "The number is not registered with the Cloud API, or its registration did not finish (errors 133010 and 131045).",
            "The number was deleted, or moved to another WhatsApp Business Account or provider.",
        ],
        steps: &[
            "Copy the Phone Number ID again from WhatsApp → API Setup in your Meta app (it is a long ID, not the phone number itself), and connect again under Settings → WhatsApp Integration.",
            "In Business Settings → Users → System users, select the token's system user, choose Assign assets and give it your WhatsApp account with full control.",
            "Verify your phone number in Meta Business Suite: WhatsApp Manager → Phone numbers shows whether it is connected or still pending; finish verification with the SMS or call code.",
            "Ensure WhatsApp Business is properly set up: the number must show as verified under WhatsApp → API Setup, in the same app as your token.",
            "If the number is verified but still not registered, register it with the Cloud API using its two-step verification PIN, as Meta's registration guide explains (your server administrator or developer can do this), then try again.",
        ],
        links: &[
            WHATSAPP_MANAGER,
            SYSTEM_USERS,
            ("Meta's guide to registering a number", "https://developers.facebook.com/docs/whatsapp/cloud-api/reference/registration"),
        ],
    },
    Entry {
        anchor: "rate-limit-exceeded",
        title: "Rate limit exceeded",
        #[cfg(feature = "ssr")]
        problems: &[(
            Problem::RateLimited,
            "Meta is limiting requests or messages for this account right now.",
        )],
        codes: &[
            (META, 4),
            (META, 17),
            (META, 80007),
            (META, 130429),
            (META, 131056),
            (META, 131048),
        ],
        summary: "Meta is limiting how fast or how much this account may send right now. This is not a free allowance \
                  running out: the old free tier of 1,000 conversations a month no longer exists.",
        causes: &[
            "Too many calls to Meta in a short time from your app or WhatsApp account (errors 4, 17 and 80007).",
            "More messages a second than your number's throughput, which is 80 a second by default (error 130429).",
            "Several messages to the same tenant in quick succession: Meta allows about one message every 6 seconds to the same person (error 131056).",
            "Meta has restricted sending because of low quality, for example after tenants blocked or reported your messages (error 131048).",
            "Templates sent to more different people in 24 hours than your messaging limit allows; unverified businesses can reach 250 a day.",
        ],
        steps: &[
            "Wait a few minutes, then try again. When sending, Axis CRM already retries sends held back by errors 4, 17, 80007, 130429 and 131056 by itself, waiting longer each time; an invoice shows this only once those retries have run out.",
            "Avoid sending several invoices to the same tenant at once: wait a minute between them.",
            "Check your messaging limit, quality rating and usage in WhatsApp Manager (Meta Business Suite).",
            "If the quality rating is low (error 131048), send only messages tenants expect from you; Meta lifts the restriction once quality recovers.",
            "Complete business verification: Meta raises limits for verified businesses that keep a good quality rating.",
        ],
        links: &[
            WHATSAPP_MANAGER,
            ("Meta's explanation of messaging limits", "https://developers.facebook.com/docs/whatsapp/messaging-limits"),
        ],
    },
    Entry {
        anchor: "failed-to-send-message",
        title: "Failed to send message",
        #[cfg(feature = "ssr")]
        problems: &[(
            Problem::Undeliverable,
            "WhatsApp could not deliver the message to this number (error 131026).",
        )],
        codes: &[(META, 131026)],
        summary: "Meta accepted the message, but WhatsApp could not deliver it to the tenant's number (error 131026). \
                  Meta does not say which of the reasons below applies.",
        causes: &[
            "The number lacks its country code or has a wrong digit, so it points at someone else or at nobody. A number without + is read with your business number's own country code.",
            "The tenant does not use WhatsApp on that number.",
            "The tenant's WhatsApp app is out of date, or they have not accepted WhatsApp's latest terms.",
            "The tenant has blocked your business number.",
            "Your WhatsApp Business account is not active.",
        ],
        steps: &[
            "Verify the recipient's phone number is in E.164 format, with the country code (for example +447911123456), and correct it on the tenant's page if needed.",
            "Ensure the recipient has WhatsApp installed on that number and has accepted WhatsApp's current terms: ask them to update the app and open it once.",
            "Ask the tenant whether they have blocked your business number.",
            "Check that your WhatsApp Business account is active in WhatsApp Manager.",
            "Then open the invoice and use Send again.",
        ],
        links: &[WHATSAPP_MANAGER],
    },
    // ---- Meta's other errors ------------------------------------------------------------------------
    Entry {
        anchor: "test-number-recipients",
        title: "Recipient not in the test number's list",
        #[cfg(feature = "ssr")]
        problems: &[(
            Problem::RecipientNotAllowed,
            "Meta's test number only sends to up to 5 phone numbers you have verified (error 131030).",
        )],
        codes: &[(META, 131030)],
        summary: "You are sending from Meta's test number, which only delivers to up to 5 phone numbers that you have \
                  added and verified (error 131030).",
        causes: &[
            "The tenant's number has not been added to the test number's recipient list.",
            "The number was added, but its verification code was never confirmed.",
            "The number was added in a different form from the one WhatsApp uses. For Mexican numbers the list expects 52 followed by the 10-digit number; for Argentinian numbers, 54 without the 9 that mobile numbers carry.",
            "All 5 places are already taken.",
        ],
        steps: &[
            "In Meta for Developers → your app → WhatsApp → API Setup, add the tenant's number under \"To\" and confirm the code WhatsApp sends to it.",
            "To free a place, remove a number you no longer test with.",
            "Or connect a real business phone number, which can message anyone.",
        ],
        links: &[META_APPS],
    },
    Entry {
        anchor: "outside-24-hour-window",
        title: "Outside the 24-hour window",
        #[cfg(feature = "ssr")]
        problems: &[(
            Problem::WindowClosed,
            "More than 24 hours have passed since the tenant last wrote, so only an approved template may be sent (error 131047).",
        )],
        codes: &[(META, 131047)],
        summary: "More than 24 hours have passed since the tenant last wrote to you, so only an approved template may \
                  be sent, and the invoice sent as an ordinary message was refused (error 131047).",
        causes: &[
            "The tenant has never written to your business number, or last wrote more than 24 hours ago.",
            "No approved invoice template is chosen in Axis CRM, so it had nothing to send instead.",
            "The tenant's window closed between the moment the invoice was queued and the moment it was sent. Meta reports this only after the send.",
        ],
        steps: &[
            "Axis CRM sends the invoice template automatically when this happens; choose one under Settings → WhatsApp Integration → Message templates.",
            "If you have no approved template yet, create the invoice template there and wait for Meta to approve it.",
            "Or ask the tenant to send you a message first: that opens a new 24-hour window.",
        ],
        links: &[WHATSAPP_MANAGER],
    },
    Entry {
        anchor: "template-problems",
        title: "Template problem",
        #[cfg(feature = "ssr")]
        problems: &[
            (
                Problem::TemplateMismatch,
                "The template's parameters no longer match the approved template (error 132000/132012).",
            ),
            (
                Problem::TemplateNotFound,
                "Meta has no approved template with this name in this language (error 132001).",
            ),
            (
                Problem::TemplatePaused,
                "Meta paused or disabled this template, usually because of low quality (error 132015/132016).",
            ),
        ],
        codes: &[
            (META, 132000),
            (META, 132001),
            (META, 132012),
            (META, 132015),
            (META, 132016),
        ],
        summary: "WhatsApp refused the template Axis CRM used for the invoice, or Axis CRM held the invoice back: the \
                  template is not approved in that language, no longer matches what Meta approved, or Meta has paused, \
                  disabled, archived or re-categorised it.",
        causes: &[
            "The number of variables no longer matches the approved template, for example after the template was edited in WhatsApp Manager (error 132000).",
            "The template's header is not a document (for example an image), so the PDF does not fit in it (error 132012).",
            "There is no approved template with this name in this language: it is still pending, was rejected, or was deleted (error 132001).",
            "Meta paused the template because of low quality, or disabled it (errors 132015 and 132016).",
            "Meta archived the template after 12 months without use (it is deleted 28 days later), or moved it from UTILITY to MARKETING; Axis CRM shows either on the settings page and does not send with it.",
        ],
        steps: &[
            "Open Settings → WhatsApp Integration → Message templates and press Refresh templates.",
            "Choose an approved template with a document header and four body variables, or create the invoice template there.",
            "If a template was paused or disabled, create another one: a disabled template cannot be sent.",
            "If it was archived, unarchive it in WhatsApp Manager within 28 days, or create the invoice template again; Axis CRM warns a month before a template reaches 12 months without use.",
            "If Meta moved it to MARKETING, create the invoice template again (its wording is transactional) or request a review in WhatsApp Manager within 60 days.",
            "WhatsApp Manager → Message templates shows each template's status and, for rejected ones, the reason.",
        ],
        links: &[WHATSAPP_MANAGER],
    },
    Entry {
        anchor: "payment-method",
        title: "Payment method needed",
        #[cfg(feature = "ssr")]
        problems: &[(
            Problem::PaymentNeeded,
            "Meta needs a valid payment method on the WhatsApp Business Account to send templates (error 131042).",
        )],
        codes: &[(META, 131042)],
        summary: "Meta needs a valid payment method on the WhatsApp Business Account to send templates, and refused to \
                  send because there is none or it failed (error 131042).",
        causes: &[
            "No payment method has been added to the WhatsApp Business Account.",
            "The card has expired or was declined, or the account's credit limit has been reached.",
            "The account's billing has not been fully set up in Meta Business Suite.",
        ],
        steps: &[
            "In WhatsApp Manager → Account tools → Payment methods, add or fix a payment method.",
            "Check for declined or unpaid charges under Billing and payments in Meta Business Suite.",
            "Then open the invoice and use Send again.",
            "Help → Important notes → Pricing explains what Meta charges for.",
        ],
        links: &[WHATSAPP_MANAGER],
    },
    Entry {
        anchor: "missing-permissions",
        title: "Missing permissions",
        #[cfg(feature = "ssr")]
        problems: &[(
            Problem::MissingPermission,
            "This token may not use this WhatsApp account.",
        )],
        codes: &PERMISSION_CODES,
        summary: "The access token is valid, but it is not allowed to do what Axis CRM asked for this WhatsApp \
                  account, such as sending messages or reading templates.",
        causes: &[
            "The token was generated without the whatsapp_business_messaging or whatsapp_business_management permission.",
            "The WhatsApp account is not assigned to the token's system user, or only with partial access.",
            "The app is not assigned to the system user, or the WhatsApp product was removed from the app.",
            "The system user was created with the Employee role rather than Admin.",
        ],
        steps: &[
            "In Business Settings → Users → System users, check that the token's system user has the Admin role.",
            PERMANENT_TOKEN[1],
            PERMANENT_TOKEN[2],
            REPLACE_TOKEN,
        ],
        links: &[SYSTEM_USERS],
    },
    Entry {
        anchor: "account-restricted",
        title: "Account restricted by Meta",
        #[cfg(feature = "ssr")]
        problems: &[(
            Problem::AccountRestricted,
            "Meta has restricted or locked this WhatsApp account.",
        )],
        codes: &[(META, 368), (META, 131031)],
        summary: "Meta has restricted or locked this WhatsApp Business Account, so it cannot send for now.",
        causes: &[
            "Meta found a breach of its WhatsApp Business policies, often after many recipients blocked or reported messages (error 368).",
            "Meta locked the account, for example because it could not verify information about the business (error 131031).",
        ],
        steps: &[
            "Open WhatsApp Manager in Meta Business Suite to see why, and request a review there.",
            "Read the WhatsApp Business policy that Meta names, and change how you message tenants before sending again.",
            "Until Meta lifts the restriction, send invoices another way.",
            "If you think it is a mistake, contact Meta support and quote the trace id shown with the error.",
        ],
        links: &[
            WHATSAPP_MANAGER,
            ("WhatsApp Business policy", "https://business.whatsapp.com/policy"),
        ],
    },
    Entry {
        anchor: "media-failed",
        title: "The PDF could not be sent",
        #[cfg(feature = "ssr")]
        problems: &[(
            Problem::MediaFailed,
            "Meta could not process the invoice PDF (error 131053).",
        )],
        codes: &[(META, 131053)],
        summary: "Meta could not upload or process the invoice PDF, so the invoice was not sent (error 131053).",
        causes: &[
            "Meta could not process the file at that moment.",
            "The PDF is damaged or could not be read.",
            "The file is larger than WhatsApp accepts for documents (100 MB); an invoice PDF is normally far smaller.",
        ],
        steps: &[
            "Try again; if it fails again, download the PDF and check that it opens.",
            "If the downloaded PDF does not open, tell your Axis CRM administrator: the fault is in the PDF, not in WhatsApp.",
            "If the PDF opens but WhatsApp still refuses it, contact Meta support and quote the trace id shown with the error.",
        ],
        links: &[ERROR_CODES],
    },
    Entry {
        anchor: "own-number",
        title: "Cannot message your own number",
        #[cfg(feature = "ssr")]
        problems: &[(
            Problem::SelfMessage,
            "The tenant's phone number is your WhatsApp business number itself (error 131021).",
        )],
        codes: &[(META, 131021)],
        summary: "The tenant's phone number is the business number Axis CRM sends from, and WhatsApp does not let a \
                  number send a message to itself (error 131021).",
        causes: &[
            "Your business number was entered as the tenant's number, for example while trying Axis CRM out with your own details.",
            "The tenant's number was copied from the wrong place, such as your own contact details on the invoice.",
        ],
        steps: &[
            "Correct the tenant's phone number on the tenant's page: it must be the tenant's own WhatsApp number.",
            "To try a send yourself, use a personal WhatsApp number other than the business number.",
            "Then open the invoice and use Send again.",
        ],
        links: &[],
    },
    Entry {
        anchor: "could-not-reach-whatsapp",
        title: "Could not reach WhatsApp",
        #[cfg(feature = "ssr")]
        problems: &[
            (Problem::Timeout, "Meta's servers did not answer in time."),
            (Problem::Network, "Axis CRM could not connect to Meta's servers."),
            (Problem::Temporary, "Meta answered with a temporary error."),
        ],
        codes: &[
            (META, 1),
            (META, 2),
            (META, 131000),
            (META, 131016),
            (META, 133004),
            (META, 131057),
        ],
        summary: "Meta's servers did not answer in time, could not be reached, or answered with a temporary error. \
                  A send that Axis CRM is still retrying shows as \"No answer from WhatsApp\".",
        causes: &[
            "A short outage or maintenance at Meta (errors 1, 2, 131000, 131016 and 133004).",
            "Meta is raising your number's throughput, which pauses sending for about a minute (error 131057).",
            "Meta's servers were slow and the request timed out.",
            "A network problem between the Axis CRM server and Meta, for example a firewall blocking graph.facebook.com.",
        ],
        steps: &[
            "Nothing was saved if you were connecting or testing: try again in a minute.",
            "When sending: Axis CRM retries by itself, waiting longer each time. There is nothing to press while the invoice shows that it is retrying.",
            "If it keeps happening, check Meta's status page (metastatus.com).",
            "If Meta reports no problem, ask your server administrator to check that the server can reach graph.facebook.com over HTTPS.",
        ],
        links: &[("Meta's status page", "https://metastatus.com")],
    },
    // ---- problems Axis CRM reports itself --------------------------------------------------------
    Entry {
        anchor: "not-connected",
        title: "WhatsApp is not connected",
        #[cfg(feature = "ssr")]
        problems: &[],
        codes: &[],
        summary: "Axis CRM has no WhatsApp connection for your account, so it cannot send invoices over WhatsApp.",
        causes: &[
            "WhatsApp has not been connected yet.",
            "WhatsApp was disconnected under Settings → WhatsApp Integration, which deletes the stored access token and App Secret.",
            "WhatsApp was disconnected after an invoice had been queued, so that invoice could not go.",
            "Your server administrator removed the WhatsApp credentials the server supplied through its environment.",
        ],
        steps: &[
            "If you have not set up WhatsApp yet, follow the setup guide first.",
            "Open Settings → WhatsApp Integration and connect with your Phone Number ID and a permanent access token.",
            "Then open the invoice and send it again.",
        ],
        links: &[],
    },
    Entry {
        anchor: "outcome-unknown",
        title: "Outcome unknown",
        #[cfg(feature = "ssr")]
        problems: &[],
        codes: &[],
        summary: "The invoice left Axis CRM, but Meta did not answer in time, so Axis CRM cannot tell whether WhatsApp \
                  accepted it. Sending it again could give the tenant the invoice twice.",
        causes: &[
            "Meta's servers or the network were slow, and the request timed out after the message had been sent.",
            "Axis CRM waited for a webhook from Meta, which would say whether the message was taken, but none arrived.",
            "Webhooks are not set up or not working for your connection, so Axis CRM has no way to find out. Where webhooks do arrive, Axis CRM resolves this itself: it sends again only when Meta never took the message.",
        ],
        steps: &[
            "Check with the tenant, or in WhatsApp Manager, whether the invoice arrived.",
            "If it did not, open the invoice and use Send again.",
            "Set up webhooks so that Axis CRM can settle this itself next time (see Webhook not verified below).",
        ],
        links: &[WHATSAPP_MANAGER],
    },
    Entry {
        anchor: "webhook-not-verified",
        title: "Webhook not verified",
        #[cfg(feature = "ssr")]
        problems: &[],
        codes: &[],
        summary: "Meta shows \"The callback URL or verify token couldn't be validated\" when you save the webhook, or \
                  no events arrive (\"Last event received: never\" under Settings → WhatsApp Integration → Webhook), so \
                  delivery ticks stop at accepted and tenants' replies are not seen.",
        causes: &[
            "AXIS_PUBLIC_URL, from which Axis CRM builds the Callback URL, is not an https address, or Meta cannot reach it from the internet (for example localhost, a private network address, or a server behind a firewall). Meta only calls https addresses with a valid certificate.",
            "The Verify Token pasted in Meta differs from the one Axis CRM shows, even by one character or a space, so Axis CRM refuses the check.",
            "The Callback URL pasted in Meta is not the one shown for your connection on the settings page.",
            "No App Secret is stored with the connection, so Axis CRM cannot check Meta's signatures and refuses every event (HTTP 401).",
            "The App Secret is wrong, belongs to another app, or was reset in Meta, so the signatures do not match (also HTTP 401).",
            "The app is not subscribed to the messages webhook field, so Meta verifies the address but never sends events.",
        ],
        steps: &[
            "Ask your server administrator to set AXIS_PUBLIC_URL to the public https address of Axis CRM, and check that the address opens from outside your network.",
            "Copy the Callback URL and Verify Token again from Settings → WhatsApp Integration. In your Meta app open WhatsApp → Configuration, click Edit under Webhook, paste both and click Verify and save.",
            "Under Webhook fields, subscribe to messages, and to message_template_status_update for template approvals.",
            "Make sure the connection has the App ID and App Secret (App settings → Basic in your Meta app): connect again with them under Advanced if it does not, or if the secret was reset.",
            "Check Settings → WhatsApp Integration → Webhook: Last verification by Meta and Last event received show a time once it works.",
        ],
        links: &[
            META_APPS,
            ("Meta's guide to setting up webhooks", "https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks"),
        ],
    },
    Entry {
        anchor: "other-errors",
        title: "WhatsApp refused the request",
        #[cfg(feature = "ssr")]
        problems: &[
            (
                Problem::InvalidParameter,
                "Meta did not accept a value in the request: it is missing or not valid.",
            ),
            (Problem::Other, "Meta did not accept the request."),
        ],
        codes: &[(META, 100), (META, 131008), (META, 131009)],
        summary: "Meta refused the request for a reason not covered above. Axis CRM shows Meta's own words, its error \
                  code and a trace id under the explanation.",
        causes: &[
            "A value Meta needs is missing or not valid, such as the phone number or the PDF (errors 100, 131008 and 131009).",
            "Another error Meta rarely returns; its code is in Meta's list of error codes.",
        ],
        steps: &[
            "Read what Meta said under the explanation: it usually names the value at fault.",
            "Check the details you entered, such as the tenant's phone number, then try again.",
            "Look up the error code in Meta's list of Cloud API error codes.",
            "If it keeps happening, contact Meta support and quote the trace id shown with the error: it lets Meta find your request.",
        ],
        links: &[
            ERROR_CODES,
            ("Meta for Developers support", "https://developers.facebook.com/support"),
        ],
    },
];

/// The entry with this anchor.
pub fn entry(anchor: &str) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| e.anchor == anchor)
}

/// "/help/troubleshooting#{anchor}"
pub fn href(anchor: &str) -> String {
    format!("/help/troubleshooting#{anchor}")
}

/// The entry that explains `problem`, and the sentence a problem box shows for it (unfilled: see
/// [`explanation`]). Every problem has an entry (the tests check it); `Other`'s is the fallback.
#[cfg(feature = "ssr")]
pub fn for_problem(problem: Problem) -> (&'static Entry, &'static str) {
    let find = |key: Problem| {
        ENTRIES.iter().find_map(|e| {
            e.problems
                .iter()
                .find(|(p, _)| *p == key)
                .map(|(_, sentence)| (e, *sentence))
        })
    };
    find(problem)
        .or_else(|| find(Problem::Other))
        .expect("the catalogue explains Problem::Other")
}

/// An entry's sentence for one problem, with the Phone Number ID filled in; without one, the
/// bracketed placeholder is dropped.
#[cfg(feature = "ssr")]
pub fn explanation(sentence: &str, phone_number_id: &str) -> String {
    const SLOT: &str = "{phone_number_id}";
    if phone_number_id.is_empty() {
        sentence
            .replace(" ({phone_number_id})", "")
            .replace(SLOT, "")
    } else {
        sentence.replace(SLOT, phone_number_id)
    }
}

/// The anchor for a problem title the app stored (e.g. "Invalid Access Token"); titles the app
/// uses besides the entries' own are mapped too, anything else goes to "other-errors".
pub fn anchor_for_title(title: &str) -> &'static str {
    let title = title.trim();
    if let Some(e) = ENTRIES.iter().find(|e| e.title.eq_ignore_ascii_case(title)) {
        return e.anchor;
    }
    match title {
        "No answer from WhatsApp" => "could-not-reach-whatsapp",
        "No approved invoice template" => "template-problems",
        _ => "other-errors",
    }
}

/// "Meta" for "meta"; a provider the page does not know by name is shown by its id.
fn provider_name(provider: &str) -> &str {
    match provider {
        META => "Meta",
        other => other,
    }
}

/// "Meta error codes: 190, 0", one part per provider, in the order they are listed.
fn codes_text(codes: &[(&str, i64)]) -> String {
    if codes.is_empty() {
        return "No error code from WhatsApp: Axis CRM reports this itself.".to_string();
    }
    let mut providers: Vec<&str> = Vec::new();
    for (p, _) in codes {
        if !providers.contains(p) {
            providers.push(p);
        }
    }
    providers
        .iter()
        .map(|p| {
            let own: Vec<i64> = codes
                .iter()
                .filter(|(q, _)| q == p)
                .map(|(_, c)| *c)
                .collect();
            format!("{} error codes: {}", provider_name(p), codes_label(&own))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// "190, 0"; runs of three or more consecutive codes read as a range ("200–299").
fn codes_label(codes: &[i64]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < codes.len() {
        let mut j = i;
        while j + 1 < codes.len() && codes[j + 1] == codes[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            parts.push(format!("{}–{}", codes[i], codes[j]));
        } else {
            parts.extend(codes[i..=j].iter().map(i64::to_string));
        }
        i = j + 1;
    }
    parts.join(", ")
}

#[component]
pub fn TroubleshootingPage() -> impl IntoView {
    view! {
        <h1>"Troubleshooting"</h1>
        <p class="lead">
            "What each WhatsApp problem in Axis CRM means, why it happens and how to fix it. Every WhatsApp error "
            "shown in Axis CRM links to its entry on this page."
        </p>
        <p class="hint">
            "Under the explanation, Axis CRM shows what Meta said, its error code and a trace id. The code tells you "
            "which entry below applies; the trace id is what Meta support asks for. "
            <a href="/help">"All help pages"</a>
        </p>
        <nav class="card toc" aria-labelledby="toc-h">
            <h2 id="toc-h">"Contents"</h2>
            <ul>
                {ENTRIES
                    .iter()
                    .map(|e| view! { <li><a href=format!("#{}", e.anchor)>{e.title}</a></li> })
                    .collect_view()}
            </ul>
        </nav>
        {ENTRIES.iter().map(|e| view! { <EntryCard e/> }).collect_view()}
    }
}

#[component]
fn EntryCard(e: &'static Entry) -> impl IntoView {
    let heading = format!("{}-h", e.anchor);
    let labelled_by = heading.clone();
    view! {
        <section class="card" id=e.anchor aria-labelledby=labelled_by>
            <h2 id=heading>{e.title}</h2>
            <p class="small muted">{codes_text(e.codes)}</p>
            <p>{e.summary}</p>
            <h3>"Causes"</h3>
            <ul>{e.causes.iter().map(|c| view! { <li>{*c}</li> }).collect_view()}</ul>
            <h3>"What to do"</h3>
            <ol>{e.steps.iter().map(|s| view! { <li>{*s}</li> }).collect_view()}</ol>
            {(!e.links.is_empty()).then(|| view! { <ExternalLinks links=e.links/> })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const EXPECTED: &[&str] = &[
        "invalid-access-token",
        "phone-number-not-registered",
        "rate-limit-exceeded",
        "failed-to-send-message",
        "test-number-recipients",
        "outside-24-hour-window",
        "template-problems",
        "payment-method",
        "missing-permissions",
        "account-restricted",
        "media-failed",
        "own-number",
        "could-not-reach-whatsapp",
        "not-connected",
        "outcome-unknown",
        "webhook-not-verified",
        "other-errors",
    ];

    #[test]
    fn anchors_and_titles_are_unique_and_complete() {
        let mut seen = HashSet::new();
        let mut titles = HashSet::new();
        for e in ENTRIES {
            assert!(seen.insert(e.anchor), "duplicate anchor {}", e.anchor);
            assert!(
                titles.insert(e.title.to_ascii_lowercase()),
                "duplicate title {}",
                e.title
            );
            assert!(
                e.anchor
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "anchor {} is not a plain fragment",
                e.anchor
            );
        }
        let anchors: Vec<_> = ENTRIES.iter().map(|e| e.anchor).collect();
        assert_eq!(anchors, EXPECTED);
    }

    #[test]
    fn every_entry_has_causes_steps_and_text() {
        for e in ENTRIES {
            assert!(!e.title.is_empty() && !e.summary.is_empty(), "{}", e.anchor);
            assert!(!e.causes.is_empty(), "{} has no causes", e.anchor);
            assert!(!e.steps.is_empty(), "{} has no steps", e.anchor);
            for (label, url) in e.links {
                assert!(!label.is_empty(), "{}", e.anchor);
                assert!(url.starts_with("https://"), "{}: {url}", e.anchor);
            }
            for (provider, _) in e.codes {
                assert_eq!(
                    *provider, META,
                    "{}: a provider the page cannot name",
                    e.anchor
                );
            }
        }
    }

    #[test]
    fn lookup_and_href() {
        let e = entry("invalid-access-token").expect("entry");
        assert_eq!(e.title, "Invalid Access Token");
        assert_eq!(e.codes, &[(META, 190), (META, 0)]);
        assert!(entry("no-such-thing").is_none());
        assert_eq!(
            href("payment-method"),
            "/help/troubleshooting#payment-method"
        );
    }

    #[test]
    fn titles_lead_to_their_anchors() {
        for e in ENTRIES {
            assert_eq!(anchor_for_title(e.title), e.anchor);
        }
        assert_eq!(
            anchor_for_title("No answer from WhatsApp"),
            "could-not-reach-whatsapp"
        );
        assert_eq!(
            anchor_for_title("No approved invoice template"),
            "template-problems"
        );
        assert_eq!(
            anchor_for_title("Cannot message your own number"),
            "own-number"
        );
        assert_eq!(anchor_for_title("something else entirely"), "other-errors");
    }

    #[test]
    fn the_guides_four_titles_come_first_verbatim() {
        let titles: Vec<_> = ENTRIES.iter().take(4).map(|e| e.title).collect();
        assert_eq!(
            titles,
            [
                "Invalid Access Token",
                "Phone number not registered",
                "Rate limit exceeded",
                "Failed to send message"
            ]
        );
    }

    #[test]
    fn codes_are_labelled_with_ranges() {
        assert_eq!(codes_label(&[190, 0]), "190, 0");
        assert_eq!(codes_label(&[1, 2, 131000]), "1, 2, 131000");
        assert_eq!(
            codes_text(&PERMISSION_CODES),
            "Meta error codes: 3, 10, 131005, 200–299"
        );
        assert_eq!(
            codes_text(&[]),
            "No error code from WhatsApp: Axis CRM reports this itself."
        );
        assert_eq!(
            codes_text(&[(META, 4), ("other", 7), (META, 17)]),
            "Meta error codes: 4, 17 · other error codes: 7"
        );
        let e = entry("missing-permissions").unwrap();
        assert!(e.codes.contains(&(META, 250)));
    }

    /// The permanent-token steps are worded once and shown by both token entries.
    #[test]
    fn token_steps_are_shared() {
        let invalid = entry("invalid-access-token").unwrap().steps;
        let missing = entry("missing-permissions").unwrap().steps;
        for step in PERMANENT_TOKEN.iter().chain([&REPLACE_TOKEN]) {
            assert!(invalid.contains(step), "{step}");
        }
        for step in PERMANENT_TOKEN[1..].iter().chain([&REPLACE_TOKEN]) {
            assert!(missing.contains(step), "{step}");
        }
    }

    /// Anchors the app writes or links to outside this module: found in the source, so a new one
    /// cannot be missed (SQL `error_anchor = '…'`, `AppProblem { anchor: "…" }`,
    /// `troubleshooting::href("…")` and `/help/troubleshooting#…` links), plus the defaults.
    #[test]
    fn anchors_used_by_the_app_exist() {
        fn scan(dir: &std::path::Path, found: &mut Vec<(String, String)>) {
            for item in std::fs::read_dir(dir).expect("src") {
                let path = item.expect("dir entry").path();
                if path.is_dir() {
                    scan(&path, found);
                    continue;
                }
                if path.extension().is_none_or(|x| x != "rs")
                    || path.ends_with("help/troubleshooting.rs")
                {
                    continue;
                }
                let src = std::fs::read_to_string(&path).expect("source");
                let at = path.display().to_string();
                for (pattern, quote) in [
                    ("error_anchor = '", '\''),
                    // The outbox's own failures (`AppProblem`).
                    ("anchor: \"", '"'),
                    ("troubleshooting::href(\"", '"'),
                    ("/help/troubleshooting#", '"'),
                ] {
                    for (i, _) in src.match_indices(pattern) {
                        let rest = &src[i + pattern.len()..];
                        let end = rest.find(quote).expect("closed literal");
                        found.push((rest[..end].to_string(), at.clone()));
                    }
                }
            }
        }
        let mut found = Vec::new();
        scan(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        let anchors: HashSet<_> = found.iter().map(|(a, _)| a.as_str()).collect();
        for a in [
            "not-connected",
            "template-problems",
            "outcome-unknown",
            "could-not-reach-whatsapp",
            "webhook-not-verified",
        ] {
            assert!(anchors.contains(a), "the scan no longer finds {a}");
        }
        for (a, at) in &found {
            assert!(entry(a).is_some(), "{at} uses #{a}, which no entry has");
        }
        // The defaults for a send without an anchor (outbox, send badges).
        assert!(entry("other-errors").is_some());
    }

    #[cfg(feature = "ssr")]
    mod problems {
        use super::super::*;
        use crate::connections::server::problem;
        use messaging::{Disposition, ProviderError};

        /// Every neutral problem. The match below stops compiling when `Problem` gains a variant,
        /// so this list cannot fall behind.
        const ALL: &[Problem] = &[
            Problem::InvalidCredentials { expired: false },
            Problem::InvalidCredentials { expired: true },
            Problem::MissingPermission,
            Problem::UnknownSender,
            Problem::SenderNotRegistered,
            Problem::RateLimited,
            Problem::AccountRestricted,
            Problem::Timeout,
            Problem::Network,
            Problem::Temporary,
            Problem::Undeliverable,
            Problem::WindowClosed,
            Problem::RecipientNotAllowed,
            Problem::PaymentNeeded,
            Problem::TemplateMismatch,
            Problem::TemplateNotFound,
            Problem::TemplatePaused,
            Problem::MediaFailed,
            Problem::SelfMessage,
            Problem::InvalidParameter,
            Problem::Other,
        ];

        #[allow(dead_code)]
        fn listed(p: Problem) {
            match p {
                Problem::InvalidCredentials {
                    expired: false | true,
                }
                | Problem::MissingPermission
                | Problem::UnknownSender
                | Problem::SenderNotRegistered
                | Problem::RateLimited
                | Problem::AccountRestricted
                | Problem::Timeout
                | Problem::Network
                | Problem::Temporary
                | Problem::Undeliverable
                | Problem::WindowClosed
                | Problem::RecipientNotAllowed
                | Problem::PaymentNeeded
                | Problem::TemplateMismatch
                | Problem::TemplateNotFound
                | Problem::TemplatePaused
                | Problem::MediaFailed
                | Problem::SelfMessage
                | Problem::InvalidParameter
                | Problem::Other => {}
            }
        }

        #[test]
        fn meta_is_the_providers_own_name() {
            assert_eq!(META, whatsapp_cloud::META);
        }

        #[test]
        fn every_problem_has_exactly_one_entry() {
            for &p in ALL {
                let holders: Vec<_> = ENTRIES
                    .iter()
                    .filter(|e| e.problems.iter().any(|(q, _)| *q == p))
                    .map(|e| e.anchor)
                    .collect();
                assert_eq!(holders.len(), 1, "{p:?} is explained by {holders:?}");
                let (e, sentence) = for_problem(p);
                assert_eq!(e.anchor, holders[0]);
                assert!(!sentence.is_empty(), "{p:?}");
                let times = e.problems.iter().filter(|(q, _)| *q == p).count();
                assert_eq!(times, 1, "{p:?} twice in {}", e.anchor);
            }
            let listed: usize = ENTRIES.iter().map(|e| e.problems.len()).sum();
            assert_eq!(listed, ALL.len(), "an entry lists a problem twice");
        }

        /// A problem box shows its entry's title, anchor and steps, word for word, for every
        /// problem; only the explanation is the problem's own.
        #[test]
        fn problem_boxes_show_the_entrys_steps() {
            for &p in ALL {
                let e = ProviderError::new(Disposition::Final, p)
                    .with_code(1)
                    .with_message("what the provider said");
                let (entry, sentence) = for_problem(p);
                let b = problem(&e, "123456789012345");
                assert_eq!(b.title, entry.title, "{p:?}");
                assert_eq!(b.anchor, entry.anchor, "{p:?}");
                assert_eq!(b.steps, entry.steps, "{p:?}");
                assert_eq!(b.explanation, explanation(sentence, "123456789012345"));
                assert!(!b.explanation.contains('{'), "{p:?}: {}", b.explanation);
                assert_eq!(b.code, Some(1));
                assert_eq!(
                    b.provider_message.as_deref(),
                    Some("what the provider said")
                );
            }
        }

        /// Each Meta code listed on the page is classified by the provider into this entry, and
        /// its stored failure shows this entry's steps.
        #[test]
        fn meta_codes_lead_to_their_entry() {
            for e in ENTRIES {
                for &(provider, code) in e.codes {
                    assert_eq!(provider, META);
                    // 100 belongs here only with subcode 33, which a bare code cannot carry.
                    if e.anchor == "phone-number-not-registered" && code == 100 {
                        continue;
                    }
                    let p = problem(&whatsapp_cloud::classify_code(code, None), "");
                    assert_eq!(p.anchor, e.anchor, "code {code}");
                    assert_eq!(p.title, e.title, "code {code}");
                    assert_eq!(p.steps, e.steps, "code {code}");
                }
            }
        }

        #[test]
        fn the_phone_number_id_is_filled_in_or_left_out() {
            let (_, sentence) = for_problem(Problem::UnknownSender);
            assert!(explanation(sentence, "42").contains("Phone Number ID (42) that"));
            let bare = explanation(sentence, "");
            assert!(bare.contains("Phone Number ID that"), "{bare}");
            assert!(!bare.contains('(') && !bare.contains('{'), "{bare}");
        }
    }
}

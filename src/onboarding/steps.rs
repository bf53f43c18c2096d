//! The setup guide's steps, in order: what the wizard shows for each, and how it can tell that a
//! step is done. The text follows the user's own guide, brought up to date with Meta's pages.
//! Instructions the troubleshooting page also gives (the permanent token) are taken from it, so
//! they are worded once.

use crate::help::troubleshooting::{PERMANENT_TOKEN, SYSTEM_USERS};

/// How a step counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Only the user can tell: "Mark as done".
    Manual,
    /// Done once a working connection is stored (the credentials passed Meta's check).
    Connection,
    /// Done once Meta's verification request and a first event have arrived.
    Webhook,
    /// Done once an invoice reached WhatsApp's "sent" (or delivered, or read).
    Send,
}

pub struct Step {
    /// The URL segment: `/onboarding/{key}`.
    pub key: &'static str,
    /// "Step 3", as the user's guide numbers it.
    pub label: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    pub items: &'static [&'static str],
    /// Meta's pages this step names, opened in a new tab.
    pub links: &'static [(&'static str, &'static str)],
    pub check: Check,
    /// A live connection proves this step was done (steps 1 to 5 are needed to connect).
    pub proved_by_connection: bool,
}

pub const STEPS: &[Step] = &[
    Step {
        key: "prerequisites",
        label: "Before you start",
        title: "What you need",
        intro: "Setting up takes about 30 minutes, most of it in Meta's own pages. You need:",
        items: &[
            "A Meta Business Account (free). Step 1 creates one if you have none.",
            "A WhatsApp Business Account (free). Step 2 creates it.",
            "A phone number for your business that can receive an SMS or a call, and is not in use by the WhatsApp or WhatsApp Business app.",
            "Access to Meta for Developers (developers.facebook.com), with the same Facebook login.",
        ],
        links: &[("Meta for Developers", "https://developers.facebook.com")],
        check: Check::Manual,
        proved_by_connection: true,
    },
    Step {
        key: "business-account",
        label: "Step 1",
        title: "Create a Meta Business Account",
        intro: "Your business portfolio in Meta Business Suite owns your WhatsApp accounts and your app.",
        items: &[
            "Go to business.facebook.com.",
            "Click Create Account, or sign in if your business has one.",
            "Follow Meta's set-up wizard to create the business account.",
            "Verify your business information (Business Settings → Security Centre). Until Meta has verified your business, you can send templates to at most 250 different customers a day.",
        ],
        links: &[("Meta Business Suite", "https://business.facebook.com")],
        check: Check::Manual,
        proved_by_connection: true,
    },
    Step {
        key: "whatsapp-account",
        label: "Step 2",
        title: "Set up a WhatsApp Business Account",
        intro: "This is where your business phone number lives.",
        items: &[
            "In Meta Business Suite, open Settings → Accounts → WhatsApp accounts.",
            "Click Add, then follow Add phone number.",
            "Enter your business phone number with its country code.",
            "Verify the number with the code Meta sends by SMS or voice call.",
            "Complete the business verification process if Meta asks for it.",
        ],
        links: &[("WhatsApp accounts in Business Settings", "https://business.facebook.com/settings/whatsapp-business-accounts")],
        check: Check::Manual,
        proved_by_connection: true,
    },
    Step {
        key: "meta-app",
        label: "Step 3",
        title: "Create a Meta app",
        intro: "The app is what gets permission to send messages for your number.",
        items: &[
            "Go to developers.facebook.com and log in.",
            "Click My Apps, then Create App.",
            "Choose Business as the app type (Meta may call it \"Other\" → \"Business\").",
            "App name: Axis CRM (or any name you like). App contact email: your email.",
            "Connect it to the business account from step 1, then click Create App.",
        ],
        links: &[("Meta for Developers: My Apps", "https://developers.facebook.com/apps")],
        check: Check::Manual,
        proved_by_connection: true,
    },
    Step {
        key: "whatsapp-product",
        label: "Step 4",
        title: "Add the WhatsApp product",
        intro: "This gives your app the WhatsApp Cloud API.",
        items: &[
            "In your app's dashboard, find WhatsApp in the list of products.",
            "Click Set Up on WhatsApp.",
            "Choose the business account from step 1 when Meta asks.",
            "You arrive on WhatsApp → API Setup, which the next step uses.",
        ],
        links: &[("Meta for Developers: My Apps", "https://developers.facebook.com/apps")],
        check: Check::Manual,
        proved_by_connection: true,
    },
    Step {
        key: "credentials",
        label: "Step 5",
        title: "Get your credentials",
        intro: "WhatsApp → API Setup in your app shows what Axis CRM needs. Paste each value into the form as you find it.",
        items: &[
            "Phone Number ID: a long number such as 123456789012345, under the phone number you send from. It is an ID, not the phone number.",
            "Temporary access token: the Generate access token button. It stops working after 24 hours, so use it only to try things out.",
            "WhatsApp Business Account ID (optional): shown beside the phone number.",
            // The permanent token, worded as in the troubleshooting entry Invalid Access Token.
            PERMANENT_TOKEN[0],
            PERMANENT_TOKEN[1],
            PERMANENT_TOKEN[2],
            "Optional, recommended: App ID and App Secret from App settings → Basic. With them Axis CRM tells a temporary token from a permanent one, checks Meta's webhook signatures and creates the invoice template.",
            "Copy the token once and keep it secret: anyone holding it can send messages as your business.",
        ],
        links: &[
            ("Meta for Developers: My Apps", "https://developers.facebook.com/apps"),
            SYSTEM_USERS,
        ],
        check: Check::Connection,
        proved_by_connection: true,
    },
    Step {
        key: "connect",
        label: "Step 6",
        title: "Connect in Axis CRM",
        intro: "Axis CRM checks the credentials with Meta before it keeps them, and stores the token encrypted.",
        items: &[
            "Enter the Phone Number ID and the access token (the permanent one, if you have it).",
            "Add the Business Account ID and the phone number if you like: Axis CRM then checks that they belong together.",
            "Click Connect.",
        ],
        links: &[],
        check: Check::Connection,
        proved_by_connection: false,
    },
    Step {
        key: "webhook",
        label: "Step 6b",
        title: "Receive delivery reports (webhook)",
        intro: "Meta tells Axis CRM when an invoice is delivered and read, when a tenant replies, and when a template is approved, by calling this address.",
        items: &[
            "In your Meta app, open WhatsApp → Configuration and click Edit under Webhook.",
            "Paste the Callback URL and the Verify Token below, then click Verify and save. Meta calls Axis CRM at once; this page shows when it arrives.",
            "Under Webhook fields, subscribe to messages, message_template_status_update, template_category_update and account_update.",
            "Meta also sends nothing for a WhatsApp Business Account your app is not subscribed to: Settings → WhatsApp Integration shows whether it is, and its Subscribe button fixes it.",
            "Click Test beside messages to send a first event, or send yourself a message: this page shows when it arrives.",
        ],
        links: &[("Meta for Developers: My Apps", "https://developers.facebook.com/apps")],
        check: Check::Webhook,
        proved_by_connection: false,
    },
    Step {
        key: "send",
        label: "Step 7",
        title: "Send a test invoice",
        intro: "Pick an invoice whose tenant has a mobile number and send it: the PDF goes as a WhatsApp document, and the ticks below follow it to the tenant's phone.",
        items: &[],
        links: &[],
        check: Check::Send,
        proved_by_connection: false,
    },
];

pub fn index_of(key: &str) -> Option<usize> {
    STEPS.iter().position(|s| s.key == key)
}

pub fn step(key: &str) -> Option<&'static Step> {
    STEPS.iter().find(|s| s.key == key)
}

/// The step after `key`, if any.
pub fn next(key: &str) -> Option<&'static Step> {
    index_of(key).and_then(|i| STEPS.get(i + 1))
}

pub fn previous(key: &str) -> Option<&'static Step> {
    index_of(key)
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| STEPS.get(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_walkable() {
        let mut keys: Vec<_> = STEPS.iter().map(|s| s.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), STEPS.len());
        assert_eq!(next("prerequisites").unwrap().key, "business-account");
        assert_eq!(previous("business-account").unwrap().key, "prerequisites");
        assert!(previous("prerequisites").is_none());
        assert!(next("send").is_none());
        assert!(step("nope").is_none());
    }

    #[test]
    fn follows_the_users_guide() {
        // The prerequisites and the guide's seven steps, plus the webhook between 6 and 7.
        let labels: Vec<_> = STEPS.iter().map(|s| s.label).collect();
        assert_eq!(
            labels,
            [
                "Before you start",
                "Step 1",
                "Step 2",
                "Step 3",
                "Step 4",
                "Step 5",
                "Step 6",
                "Step 6b",
                "Step 7"
            ]
        );
        for s in STEPS {
            for (_, href) in s.links {
                assert!(href.starts_with("https://"), "{href}");
            }
        }
    }
}

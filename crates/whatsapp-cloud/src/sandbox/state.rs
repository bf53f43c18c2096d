//! The sandbox's memory: apps, accounts, numbers, tokens, media, templates, sent messages.

use rand::{distributions::Alphanumeric, Rng};
use serde::Serialize;
use serde_json::{json, Value};
use std::{
    collections::{HashMap, VecDeque},
    time::{Instant, SystemTime, UNIX_EPOCH},
};

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn numeric_id() -> String {
    let mut rng = rand::thread_rng();
    let first: u8 = rng.gen_range(1..=9);
    let rest: String = (0..14)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect();
    format!("{first}{rest}")
}

pub(crate) fn random_text(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// What to create with [`super::Sandbox::create_account`].
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub verified_name: String,
    /// Digits with country code, as Meta shows them, e.g. `15550001234`.
    pub display_phone_number: Option<String>,
    /// A 24-hour user token (as from API Setup) instead of a permanent system-user token.
    pub temporary_token: bool,
    pub webhook_url: Option<String>,
}

impl Default for NewAccount {
    fn default() -> Self {
        NewAccount {
            verified_name: "Sandbox Lettings".into(),
            display_phone_number: None,
            temporary_token: false,
            webhook_url: None,
        }
    }
}

/// Credentials for a sandbox account. Debug hides the secrets.
#[derive(Clone)]
pub struct SandboxAccount {
    pub app_id: String,
    pub app_secret: String,
    pub business_account_id: String,
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub access_token: String,
}

impl std::fmt::Debug for SandboxAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxAccount")
            .field("app_id", &self.app_id)
            .field("business_account_id", &self.business_account_id)
            .field("phone_number_id", &self.phone_number_id)
            .finish_non_exhaustive()
    }
}

/// A failure to serve instead of the real answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Meta's error body with this code (and subcode), at this HTTP status.
    Api {
        code: i64,
        subcode: Option<i64>,
        status: u16,
    },
    /// A 500 with Meta's "unknown error" body (code 1, transient).
    ServerError,
    /// A 503 that is not JSON, as a proxy in front of Meta would answer.
    BadGateway,
    /// Hold the answer for the configured `slow_delay` (clients time out).
    Slow,
    /// Meta accepted the call but the answer never reached the client: a message is fully
    /// processed (recorded in `sent`, status webhooks played), then the answer is held for
    /// `slow_delay` and comes back like [`Fault::Slow`]. Other calls treat it as `Slow`.
    LostResponse,
}

#[derive(Debug, Clone)]
pub(crate) struct App {
    pub secret: String,
    pub webhook_url: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub app_id: String,
    pub waba_id: String,
    pub temporary_until: Option<i64>,
    pub expired: bool,
    pub user_id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub waba_id: String,
    pub app_id: String,
    pub display_phone_number: String,
    pub verified_name: String,
    /// Also used in the WhatsApp Business app (coexistence): fixed at 20 messages a second.
    pub shared_with_app: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Media {
    pub phone_number_id: String,
    pub mime_type: String,
    pub file_size: usize,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct StoredTemplate {
    pub id: String,
    pub name: String,
    pub language: String,
    pub status: String,
    pub category: String,
    pub components: Vec<Value>,
}

/// A template an account has without going through review: one it had before the sandbox
/// restarted (the app keeps what it read), or one a new account starts with, as Meta's test
/// accounts start with `hello_world`.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownTemplate {
    /// The template id the app knows it by; a new one is issued when `None`.
    pub id: Option<String>,
    pub name: String,
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`.
    pub status: String,
    /// `UTILITY`, `MARKETING` or `AUTHENTICATION`.
    pub category: String,
    /// `TEXT`, `DOCUMENT`, `IMAGE`, ...; `None` without a header.
    pub header_format: Option<String>,
    /// The body with its `{{n}}` variables.
    pub body: String,
}

impl KnownTemplate {
    pub(crate) fn stored(&self) -> StoredTemplate {
        let mut components = Vec::new();
        if let Some(format) = &self.header_format {
            components.push(json!({"type": "HEADER", "format": format}));
        }
        components.push(json!({"type": "BODY", "text": self.body}));
        StoredTemplate {
            id: self.id.clone().unwrap_or_else(numeric_id),
            name: self.name.clone(),
            language: self.language.clone(),
            status: self.status.clone(),
            category: self.category.to_ascii_uppercase(),
            components,
        }
    }
}

/// One message the sandbox accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct SentRecord {
    pub wamid: String,
    pub phone_number_id: String,
    pub to: String,
    /// `text`, `document` or `template`.
    pub kind: String,
    pub body: Value,
    pub callback: Option<String>,
    /// Unix seconds.
    pub at: i64,
}

/// A request the sandbox served and its answer, named by the spec operation it implements.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The path template in Meta's OpenAPI spec, e.g. `/{Version}/{Phone-Number-ID}/messages`;
    /// for core Graph API calls the spec lacks, the path as Meta documents it
    /// (`/{Version}/debug_token`, `/{Version}/{App-ID}/uploads`, `/{Version}/{Upload-Session-ID}`).
    pub spec_path: &'static str,
    /// Lower-case HTTP method as in the spec (`get`, `post`).
    pub method: &'static str,
    pub query: Vec<(String, String)>,
    pub request_content_type: Option<String>,
    /// JSON body, or for multipart the form fields (file contents left out).
    pub request_body: Option<Value>,
    pub status: u16,
    pub response_body: Value,
}

/// A Resumable Upload API session (`upload:<id>`).
#[derive(Debug, Clone)]
pub(crate) struct UploadSession {
    pub app_id: String,
    pub file_length: usize,
    pub file_type: String,
    /// Bytes received so far (the sandbox takes the rest of a file in one request).
    pub received: usize,
    /// The handle issued once the whole file arrived.
    pub handle: Option<String>,
}

/// A file handle (`4::…`) issued by the Resumable Upload API.
#[derive(Debug, Clone)]
pub(crate) struct UploadedFile {
    pub app_id: String,
    pub mime_type: String,
}

#[derive(Default)]
pub(crate) struct State {
    pub apps: HashMap<String, App>,
    pub tokens: HashMap<String, Token>,
    pub numbers: HashMap<String, Number>,
    pub templates: HashMap<String, Vec<StoredTemplate>>,
    pub media: HashMap<String, Media>,
    /// Upload session id (with the `upload:` prefix) → session.
    pub uploads: HashMap<String, UploadSession>,
    /// Header handle → what was uploaded.
    pub handles: HashMap<String, UploadedFile>,
    pub sent: Vec<SentRecord>,
    /// (phone number id, wa_id) → when the customer last wrote.
    pub last_inbound: HashMap<(String, String), i64>,
    pub faults: VecDeque<(Option<String>, Fault)>,
    pub exchanges: Vec<Exchange>,
    /// Per phone number: the start of the current one-second window and its count.
    pub throughput: HashMap<String, (Instant, u32)>,
    /// Per (phone number, recipient): tokens left and when they were last refilled.
    pub pair: HashMap<(String, String), (f64, Instant)>,
    /// Business Accounts whose app is not subscribed to their webhooks (`subscribed_apps`):
    /// Meta sends them none. Accounts are subscribed when created, as "Use sandbox" does.
    pub unsubscribed: std::collections::HashSet<String>,
}

impl State {
    pub fn issue_token(&mut self, a: &SandboxAccount, temporary: bool) -> String {
        let token = format!("SANDBOX{}", random_text(56));
        self.tokens.insert(
            token.clone(),
            Token {
                app_id: a.app_id.clone(),
                waba_id: a.business_account_id.clone(),
                temporary_until: temporary.then(|| unix_now() + 24 * 3600),
                expired: false,
                user_id: numeric_id(),
            },
        );
        token
    }

    pub fn restore_account(
        &mut self,
        a: &SandboxAccount,
        verified_name: &str,
        webhook_url: Option<String>,
    ) {
        if self.tokens.contains_key(&a.access_token) {
            return;
        }
        self.apps.insert(
            a.app_id.clone(),
            App {
                secret: a.app_secret.clone(),
                webhook_url,
            },
        );
        self.tokens.insert(
            a.access_token.clone(),
            Token {
                app_id: a.app_id.clone(),
                waba_id: a.business_account_id.clone(),
                temporary_until: None,
                expired: false,
                user_id: numeric_id(),
            },
        );
        self.numbers.insert(
            a.phone_number_id.clone(),
            Number {
                waba_id: a.business_account_id.clone(),
                app_id: a.app_id.clone(),
                display_phone_number: a.display_phone_number.clone(),
                verified_name: verified_name.to_string(),
                shared_with_app: false,
            },
        );
        self.templates
            .entry(a.business_account_id.clone())
            .or_insert_with(Self::starter_templates);
    }

    fn starter_templates() -> Vec<StoredTemplate> {
        // Like Meta's own test accounts, a new account has the approved `hello_world` template.
        vec![StoredTemplate {
            id: numeric_id(),
            name: "hello_world".into(),
            language: "en_US".into(),
            status: "APPROVED".into(),
            category: "UTILITY".into(),
            components: vec![
                json!({"type": "HEADER", "format": "TEXT", "text": "Hello World"}),
                json!({"type": "BODY", "text": "Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta."}),
            ],
        }]
    }

    pub fn create_account(&mut self, new: NewAccount) -> SandboxAccount {
        let app_id = numeric_id();
        let app_secret = random_text(32).to_lowercase();
        let waba_id = numeric_id();
        let phone_number_id = numeric_id();
        let display = new.display_phone_number.unwrap_or_else(|| {
            // 555 numbers in the North American fictional range, like Meta's test numbers.
            format!("1555{:07}", rand::thread_rng().gen_range(0..10_000_000))
        });
        let access_token = format!("SANDBOX{}", random_text(56));
        self.apps.insert(
            app_id.clone(),
            App {
                secret: app_secret.clone(),
                webhook_url: new.webhook_url,
            },
        );
        self.tokens.insert(
            access_token.clone(),
            Token {
                app_id: app_id.clone(),
                waba_id: waba_id.clone(),
                temporary_until: new.temporary_token.then(|| unix_now() + 24 * 3600),
                expired: false,
                user_id: numeric_id(),
            },
        );
        self.numbers.insert(
            phone_number_id.clone(),
            Number {
                waba_id: waba_id.clone(),
                app_id: app_id.clone(),
                display_phone_number: display.clone(),
                verified_name: new.verified_name,
                shared_with_app: false,
            },
        );
        self.templates
            .insert(waba_id.clone(), Self::starter_templates());
        SandboxAccount {
            app_id,
            app_secret,
            business_account_id: waba_id,
            phone_number_id,
            display_phone_number: display,
            access_token,
        }
    }
}

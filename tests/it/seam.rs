//! The outbox is provider-neutral by proof: a provider written here, implementing only the
//! `messaging::Provider` trait, drives a send through success, retries, an unknown outcome that
//! a webhook settles, a closed window that falls back to the template, and a final failure. No
//! Meta type appears in this file. Each test runs on SQLite and on PostgreSQL.

use crate::common;

use async_trait::async_trait;
use axis_crm::{connections::server as whatsapp, providers::Mode, templates::server as templates};
use common::{world::World, Backend, FAST};
use messaging::{
    Accepted, Account, AccountError, ConnectionCheck, DeliveryEvent, DeliveryState, Disposition,
    Inbound, Media, Message, Pace, Person, Problem, Provider, ProviderError, ProviderId, Recipient,
    SecretString, SenderStatus, StatusUpdate, TemplateDraft, TemplateInfo, TokenLifetime,
    WebhookSubscription,
};
use parking_lot::Mutex;
use std::{collections::VecDeque, sync::Arc, time::Duration};

/// The provider's stored name: connections to it have webhooks at `/webhooks/script/{key}`.
const SCRIPT: ProviderId = "script";
const SENDER: &str = "script-sender-1";
const SIGNING_SECRET: &str = "script-signing-secret";

/// One message call, as the provider saw it.
#[derive(Debug, Clone)]
struct Call {
    to: Recipient,
    kind: &'static str,
    tag: String,
    template: Option<(String, String, Vec<String>)>,
    media: String,
}

/// A provider that answers message calls from a script (then accepts), and reads webhooks in its
/// own small format: `{"events":[{"status":"delivered","id":"m1","tag":"axis:1:1"}, {"from":
/// "+44…","id":"in1","text":"hi"}]}`, signed by sending the secret in `x-script-secret`.
#[derive(Default)]
struct ScriptProvider {
    answers: Mutex<VecDeque<Result<String, ProviderError>>>,
    calls: Mutex<Vec<Call>>,
    prepared: Mutex<usize>,
    /// Templates submitted, approved at once.
    templates: Mutex<Vec<TemplateInfo>>,
}

impl ScriptProvider {
    fn answering(answers: Vec<Result<&str, ProviderError>>) -> Arc<Self> {
        Arc::new(ScriptProvider {
            answers: Mutex::new(answers.into_iter().map(|a| a.map(str::to_string)).collect()),
            ..Default::default()
        })
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().clone()
    }
}

#[async_trait]
impl Provider for ScriptProvider {
    fn id(&self) -> ProviderId {
        SCRIPT
    }

    fn media_lifetime(&self) -> Duration {
        Duration::from_secs(3600)
    }

    async fn check_connection(&self, account: &Account) -> Result<ConnectionCheck, AccountError> {
        use messaging::ExposeSecret;
        if account.token.expose_secret() != "script-api-token" {
            return Err(ProviderError::new(
                Disposition::Final,
                Problem::InvalidCredentials { expired: false },
            )
            .into());
        }
        Ok(ConnectionCheck {
            sender: SenderStatus {
                verified_name: Some("Script Lettings".into()),
                display_phone_number: Some("+44 7700 900999".into()),
                ..Default::default()
            },
            token: TokenLifetime::Permanent,
            webhooks: WebhookSubscription::Unknown,
        })
    }

    async fn templates(&self, _: &Account) -> Result<Vec<TemplateInfo>, AccountError> {
        Ok(self.templates.lock().clone())
    }

    async fn create_template(
        &self,
        _: &Account,
        draft: &TemplateDraft,
    ) -> Result<TemplateInfo, AccountError> {
        assert!(
            draft.example_pdf.starts_with(b"%PDF"),
            "a sample for review"
        );
        assert_eq!(
            draft.body_example.len(),
            messaging::template_variables(&draft.body)
        );
        let t = TemplateInfo {
            id: Some(format!("tpl-{}", draft.name)),
            name: draft.name.clone(),
            language: draft.language.clone(),
            status: "APPROVED".into(),
            category: draft.category.clone(),
            header_format: Some("DOCUMENT".into()),
            body_text: draft.body.clone(),
            reason: None,
        };
        self.templates.lock().push(t.clone());
        // It answers "pending"; a re-read finds it approved.
        Ok(TemplateInfo {
            status: "PENDING".into(),
            ..t
        })
    }

    async fn prepare_document(
        &self,
        account: &Account,
        filename: &str,
        pdf: Vec<u8>,
    ) -> Result<Media, ProviderError> {
        assert_eq!(account.sender, SENDER);
        assert!(pdf.starts_with(b"%PDF"), "the invoice PDF is handed over");
        let mut n = self.prepared.lock();
        *n += 1;
        Ok(Media {
            reference: format!("doc-{n}-{filename}"),
        })
    }

    async fn send(
        &self,
        account: &Account,
        to: &Recipient,
        message: &Message,
        tag: &str,
    ) -> Result<Accepted, ProviderError> {
        use messaging::ExposeSecret;
        assert_eq!(account.token.expose_secret(), "script-api-token");
        let (template, media) = match message {
            Message::Document { media, .. } => (None, media.reference.clone()),
            Message::Template {
                name,
                language,
                media,
                params,
                ..
            } => (
                Some((name.clone(), language.clone(), params.clone())),
                media.reference.clone(),
            ),
            Message::Greeting { name, language } => (
                Some((name.clone(), language.clone(), Vec::new())),
                String::new(),
            ),
        };
        self.calls.lock().push(Call {
            to: to.clone(),
            kind: message.kind(),
            tag: tag.to_string(),
            template,
            media,
        });
        let answer = self.answers.lock().pop_front();
        match answer {
            Some(Err(e)) => Err(e),
            Some(Ok(id)) => Ok(Accepted {
                message_id: Some(id),
                recipient_id: None,
            }),
            None => Ok(Accepted {
                message_id: Some(format!("m-{}", self.calls.lock().len())),
                recipient_id: None,
            }),
        }
    }

    fn verify_webhook(&self, account: &Account, headers: &http::HeaderMap, _body: &[u8]) -> bool {
        use messaging::ExposeSecret;
        let given = headers.get("x-script-secret").and_then(|v| v.to_str().ok());
        given.is_some() && given == account.signing_secret.as_ref().map(|s| s.expose_secret())
    }

    fn parse_webhook(&self, _: &Account, body: &[u8]) -> Result<Vec<DeliveryEvent>, String> {
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let events = v["events"].as_array().ok_or("no events")?;
        let text = |e: &serde_json::Value, k: &str| e[k].as_str().map(str::to_string);
        Ok(events
            .iter()
            .map(|e| match e["status"].as_str() {
                Some(s) => DeliveryEvent::Status(StatusUpdate {
                    message_id: text(e, "id").unwrap_or_default(),
                    state: match s {
                        "sent" => DeliveryState::Sent,
                        "delivered" => DeliveryState::Delivered,
                        "read" => DeliveryState::Read,
                        _ => DeliveryState::Failed,
                    },
                    at: None,
                    at_text: None,
                    tag: text(e, "tag"),
                    pricing: None,
                    error: None,
                    recipient: None,
                }),
                None => DeliveryEvent::Inbound(Inbound {
                    message_id: text(e, "id").unwrap_or_default(),
                    from: Person {
                        phone: text(e, "from"),
                        ..Person::default()
                    },
                    at: None,
                    at_text: None,
                    kind: "text".into(),
                    text: text(e, "text").unwrap_or_default(),
                }),
            })
            .collect())
    }

    fn classify_code(&self, code: i64, detail: Option<String>) -> ProviderError {
        let e = ProviderError::new(Disposition::Final, Problem::Other).with_code(code);
        match detail {
            Some(d) => e.with_message(d),
            None => e,
        }
    }
}

fn failure(disposition: Disposition, problem: Problem) -> Result<&'static str, ProviderError> {
    Err(ProviderError::new(disposition, problem)
        .with_code(4711)
        .with_message("the script says no"))
}

/// A signed-up user with the sample data, connected to `provider` (and nothing else: the
/// server's Meta sandbox is off).
async fn world(backend: Backend, provider: Arc<ScriptProvider>) -> World {
    let w = World::builder(backend)
        .env(FAST)
        .signed_up()
        .with_sample_data()
        .build()
        .await;
    let state = w.state();
    state.providers.register(Mode::Live, provider.clone());
    let account = Account {
        sender: SENDER.into(),
        token: SecretString::from("script-api-token"),
        account_id: None,
        app_id: None,
        signing_secret: Some(SecretString::from(SIGNING_SECRET)),
    };
    let key = whatsapp::connect(state, w.user_id(), &*provider, Mode::Live, &account, None)
        .await
        .unwrap();
    assert_eq!(key, w.reads().connection().await.webhook_key);
    w
}

/// Posts `events` to the connection's webhook under `segment`, signed with `secret`.
async fn webhook(w: &World, segment: &str, secret: &str, events: serde_json::Value) -> u16 {
    let key = w.reads().connection().await.webhook_key;
    reqwest::Client::new()
        .post(format!("{}/webhooks/{segment}/{key}", w.site))
        .header("x-script-secret", secret)
        .body(serde_json::json!({ "events": events }).to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The tenant of `number` writes: their 24-hour window opens.
async fn tenant_writes(w: &World, number: &str) {
    let phone = w.reads().tenant_phone(number).await;
    let status = webhook(
        w,
        SCRIPT,
        SIGNING_SECRET,
        serde_json::json!([{"from": phone, "id": format!("in-{number}"), "text": "Thanks"}]),
    )
    .await;
    assert_eq!(status, 200);
}

async fn outcomes(w: &World) -> Vec<String> {
    w.reads()
        .attempts()
        .await
        .into_iter()
        .map(|a| a.outcome)
        .collect()
}

const INVOICE: &str = "INV-0003";

async fn success_after_retries(backend: Backend) {
    let p = ScriptProvider::answering(vec![
        failure(Disposition::Retry(Pace::Backoff), Problem::Temporary),
        failure(Disposition::Retry(Pace::Backoff), Problem::RateLimited),
        Ok("m-ok"),
    ]);
    let w = world(backend, p.clone()).await;
    tenant_writes(&w, INVOICE).await;
    assert!(w.send_invoice(INVOICE).await.status.is_success());
    w.drive("acceptance", || async {
        w.state_of(INVOICE).await == "accepted"
    })
    .await;
    let calls = p.calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    let phone = w.reads().tenant_phone(INVOICE).await;
    let send = w
        .reads()
        .send_of(w.invoice_id(INVOICE).await)
        .await
        .unwrap();
    for (i, c) in calls.iter().enumerate() {
        assert_eq!(c.to, Recipient::Phone(phone.clone()));
        assert_eq!(c.kind, "document", "inside the window");
        assert_eq!(c.tag, format!("axis:{}:{}", send.id, i + 1));
        assert_eq!(c.media, calls[0].media, "the prepared PDF is used again");
    }
    assert_eq!(*p.prepared.lock(), 1);
    assert_eq!(outcomes(&w).await, ["retry", "retry", "accepted"]);
    assert_eq!(send.message_id.as_deref(), Some("m-ok"));

    // The provider's webhooks move it on, duplicated and out of order.
    for s in ["read", "delivered", "read", "sent"] {
        let events = serde_json::json!([{"status": s, "id": "m-ok"}]);
        assert_eq!(webhook(&w, SCRIPT, SIGNING_SECRET, events).await, 200);
    }
    assert_eq!(w.state_of(INVOICE).await, "read");
    // Another provider's path, or a wrong signature, is turned away and changes nothing.
    let failed = serde_json::json!([{"status": "failed", "id": "m-ok"}]);
    assert_eq!(
        webhook(&w, "whatsapp", SIGNING_SECRET, failed.clone()).await,
        404
    );
    assert_eq!(
        webhook(&w, "meta", SIGNING_SECRET, failed.clone()).await,
        404
    );
    assert_eq!(webhook(&w, SCRIPT, "wrong", failed).await, 401);
    assert_eq!(w.state_of(INVOICE).await, "read");
    w.close().await;
}

async fn unknown_outcome_is_settled_by_a_webhook(backend: Backend) {
    let p = ScriptProvider::answering(vec![failure(Disposition::Unknown, Problem::Timeout)]);
    let w = world(backend, p.clone()).await;
    tenant_writes(&w, INVOICE).await;
    assert!(w.send_invoice(INVOICE).await.status.is_success());
    w.drive("the unknown outcome", || async {
        w.state_of(INVOICE).await == "unknown"
    })
    .await;
    let tag = p.calls()[0].tag.clone();
    // The provider did take it: its status webhook names the tag the message was sent with.
    let events = serde_json::json!([{"status": "delivered", "id": "m-late", "tag": tag}]);
    assert_eq!(webhook(&w, SCRIPT, SIGNING_SECRET, events).await, 200);
    assert_eq!(w.state_of(INVOICE).await, "delivered");
    let send = w
        .reads()
        .send_of(w.invoice_id(INVOICE).await)
        .await
        .unwrap();
    assert_eq!(send.message_id.as_deref(), Some("m-late"));
    // Past the reconcile time, nothing is sent again: the webhook settled it.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    axis_crm::sending::server::outbox::run_due(w.state())
        .await
        .unwrap();
    assert_eq!(p.calls().len(), 1);
    assert_eq!(w.state_of(INVOICE).await, "delivered");
    assert_eq!(outcomes(&w).await, ["unknown"]);
    w.close().await;
}

async fn closed_window_falls_back_to_the_template(backend: Backend) {
    let p = ScriptProvider::answering(vec![
        failure(Disposition::WindowClosed, Problem::WindowClosed),
        Ok("m-template"),
    ]);
    let w = world(backend, p.clone()).await;
    // The invoice template is created through the provider, chosen, and approved on re-reading.
    templates::create_invoice_template(w.state(), w.user_id())
        .await
        .unwrap();
    templates::choose(&w.state().db, w.user_id(), "axis_invoice_pdf|en")
        .await
        .unwrap();
    // The app believes the window is open; the provider knows better.
    tenant_writes(&w, INVOICE).await;
    assert!(w.send_invoice(INVOICE).await.status.is_success());
    w.drive("the template's acceptance", || async {
        w.state_of(INVOICE).await == "accepted"
    })
    .await;
    let calls = p.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].kind, "document");
    assert_eq!(calls[1].kind, "template");
    let (name, language, params) = calls[1].template.clone().unwrap();
    assert_eq!(
        (name.as_str(), language.as_str()),
        ("axis_invoice_pdf", "en")
    );
    assert_eq!(params.len(), 4, "tenant, number, amount, due date");
    assert_eq!(params[1], INVOICE);
    assert_eq!(calls[1].media, calls[0].media, "the same PDF in the header");
    assert_eq!(outcomes(&w).await, ["fallback", "accepted"]);
    w.close().await;
}

async fn final_failure_stops_with_guidance(backend: Backend) {
    let p = ScriptProvider::answering(vec![failure(Disposition::Final, Problem::Undeliverable)]);
    let w = world(backend, p.clone()).await;
    tenant_writes(&w, INVOICE).await;
    assert!(w.send_invoice(INVOICE).await.status.is_success());
    w.drive("the failure", || async {
        w.state_of(INVOICE).await == "failed"
    })
    .await;
    let send = w
        .reads()
        .send_of(w.invoice_id(INVOICE).await)
        .await
        .unwrap();
    assert_eq!(send.error_code, Some(4711));
    assert_eq!(send.error_title.as_deref(), Some("Failed to send message"));
    assert_eq!(send.error_anchor.as_deref(), Some("failed-to-send-message"));
    // Nothing more happens by itself.
    axis_crm::sending::server::outbox::run_due(w.state())
        .await
        .unwrap();
    assert_eq!(p.calls().len(), 1);
    assert_eq!(outcomes(&w).await, ["failed"]);
    // The invoice's page tells the user what went wrong and where to read more.
    let id = w.invoice_id(INVOICE).await;
    let page = w.get(&format!("/invoices/{id}")).await;
    assert!(
        page.body.contains("Failed to send message"),
        "{}",
        page.body
    );
    assert!(page.body.contains("the script says no"));
    w.close().await;
}

per_backend!(
    success_after_retries,
    unknown_outcome_is_settled_by_a_webhook,
    closed_window_falls_back_to_the_template,
    final_failure_stops_with_guidance,
);

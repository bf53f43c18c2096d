//! Meta's Cloud API behind the neutral [`messaging::Provider`] trait: the only place where the
//! outbox's messages become Graph calls and Graph answers become neutral ones.

use crate::{
    error::{ApiError, ErrorKind, GraphError},
    signature,
    types::{Outgoing, PhoneNumber, Template, TokenKind},
    webhook, AppCredentials, GraphClient,
};
use async_trait::async_trait;
use messaging::{
    Accepted, Account, AccountError, AccountField, ConnectionCheck, DeliveryEvent, Media, Message,
    Provider, ProviderError, ProviderId, Recipient, SenderStatus, TemplateDraft, TemplateInfo,
    TokenLifetime, WebhookSubscription,
};
use serde_json::json;
use std::time::Duration;

/// The stored name of Meta's Cloud API as a provider.
pub const META: ProviderId = "meta";

/// One Graph client (Meta itself, or a simulator) as a provider.
#[derive(Debug, Clone)]
pub struct MetaProvider {
    pub client: GraphClient,
}

impl MetaProvider {
    pub fn new(client: GraphClient) -> Self {
        MetaProvider { client }
    }
}

fn app(account: &Account) -> Option<AppCredentials> {
    account
        .app_id
        .clone()
        .zip(account.signing_secret.clone())
        .map(|(app_id, app_secret)| AppCredentials { app_id, app_secret })
}

fn failed(e: GraphError) -> AccountError {
    tracing::warn!(kind = %e.kind(), code = ?e.api().map(|a| a.code), fbtrace_id = ?e.fbtrace_id(), error = %e, "Graph API call failed");
    AccountError::Provider(e.to_provider_error())
}

/// Templates belong to the WhatsApp Business Account.
fn business_account(account: &Account) -> Result<&str, AccountError> {
    account.account_id.as_deref().ok_or_else(|| AccountError::Field {
        field: AccountField::AccountId,
        message: "Templates belong to the WhatsApp Business Account: reconnect with the Business Account ID to use them.".into(),
    })
}

/// What the settings page shows of a number.
pub fn sender_status(p: &PhoneNumber) -> SenderStatus {
    let shared = p.is_on_biz_app == Some(true);
    SenderStatus {
        verified_name: p.verified_name.clone(),
        display_phone_number: p.display_phone_number.clone(),
        quality_rating: p.quality_rating.clone(),
        name_status: p.name_status.clone(),
        code_verification_status: p.code_verification_status.clone(),
        status: p.status.clone(),
        account_mode: p.account_mode.clone(),
        throughput_level: p.throughput.as_ref().and_then(|t| t.level.clone()),
        messaging_limit: p.messaging_limit(),
        daily_unique_limit: p.daily_unique_limit(),
        max_per_second: shared.then_some(crate::COEXISTENCE_PER_SECOND),
        shared_with_app: shared,
        health_problems: p
            .health_status
            .as_ref()
            .map(|h| h.problems())
            .unwrap_or_default(),
    }
}

fn lifetime(kind: TokenKind) -> TokenLifetime {
    match kind {
        TokenKind::Temporary { expires_at } => TokenLifetime::Temporary { expires_at },
        TokenKind::Expiring { expires_at } => TokenLifetime::Expiring { expires_at },
        TokenKind::Permanent => TokenLifetime::Permanent,
        TokenKind::Unknown => TokenLifetime::Unknown,
    }
}

/// A template's header format and body text, from its components.
pub fn template_info(t: &Template) -> TemplateInfo {
    let of = |kind: &str| {
        t.components.iter().find(|c| {
            c["type"]
                .as_str()
                .is_some_and(|k| k.eq_ignore_ascii_case(kind))
        })
    };
    TemplateInfo {
        id: t.id.clone(),
        name: t.name.clone(),
        language: t.language.clone().unwrap_or_default(),
        status: t
            .status
            .as_deref()
            .unwrap_or("UNKNOWN")
            .to_ascii_uppercase(),
        category: t.category.clone().unwrap_or_default().to_ascii_uppercase(),
        header_format: of("HEADER").and_then(|h| h["format"].as_str().map(str::to_ascii_uppercase)),
        body_text: of("BODY")
            .and_then(|b| b["text"].as_str())
            .unwrap_or_default()
            .to_string(),
        reason: t.rejected_reason.clone().filter(|r| r != "NONE"),
    }
}

/// The Graph body of a neutral message. The template's header carries the document, its body
/// the variables in order.
pub fn outgoing(message: &Message) -> Outgoing {
    match message {
        Message::Document {
            media,
            filename,
            caption,
        } => Outgoing::Document {
            media_id: media.reference.clone(),
            filename: filename.clone(),
            caption: caption.clone(),
        },
        Message::Template {
            name,
            language,
            media,
            filename,
            params,
        } => Outgoing::Template {
            name: name.clone(),
            language: language.clone(),
            components: vec![
                json!({"type": "header", "parameters": [
                    {"type": "document", "document": {"id": media.reference, "filename": filename}}]}),
                json!({"type": "body", "parameters": params.iter()
                    .map(|p| json!({"type": "text", "text": p})).collect::<Vec<_>>()}),
            ],
        },
        Message::Greeting { name, language } => Outgoing::Template {
            name: name.clone(),
            language: language.clone(),
            components: vec![],
        },
    }
}

#[async_trait]
impl Provider for MetaProvider {
    fn id(&self) -> ProviderId {
        META
    }

    /// The number is visible to the token, belongs to the Business Account if one was given,
    /// and (with the app's credentials) Meta tells what kind of token it is.
    async fn check_connection(&self, account: &Account) -> Result<ConnectionCheck, AccountError> {
        let token = &account.token;
        let secret = account.signing_secret.as_ref();
        let pnid = &account.sender;
        let phone = self
            .client
            .phone_number(pnid, token, secret)
            .await
            .map_err(failed)?;
        if let Some(waba) = &account.account_id {
            let numbers = self
                .client
                .business_phone_numbers(waba, token, secret)
                .await
                .map_err(|e| match e.kind() {
                    ErrorKind::UnknownObject => AccountError::Field {
                        field: AccountField::AccountId,
                        message: format!("Meta has no Business Account {waba} that this token may use. Check the ID, or leave it empty."),
                    },
                    _ => failed(e),
                })?;
            if !numbers.iter().any(|n| n.id == *pnid) {
                return Err(AccountError::Field {
                    field: AccountField::AccountId,
                    message: format!("Phone Number ID {pnid} is not a number of Business Account {waba}. Check both IDs under API Setup."),
                });
            }
        }
        let kind = match app(account) {
            None => TokenKind::Unknown,
            Some(app) => match self.client.debug_token(token, &app).await {
                Ok(info) if !info.is_valid => {
                    return Err(failed(GraphError::Api(ApiError {
                        http_status: 200,
                        code: 190,
                        subcode: None,
                        error_type: None,
                        message: "Meta reports this access token as not valid.".into(),
                        details: None,
                        user_title: None,
                        user_msg: None,
                        fbtrace_id: None,
                        is_transient: false,
                    })));
                }
                Ok(info) => info.kind(),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::InvalidToken | ErrorKind::InvalidParameter
                    ) =>
                {
                    return Err(AccountError::Field {
                        field: AccountField::App,
                        message: "Meta refused this App ID and App Secret. Copy both again from App settings → Basic in your Meta app.".into(),
                    });
                }
                Err(e) => return Err(failed(e)),
            },
        };
        // Asked, not required: a token without the permission to read subscriptions still sends.
        let webhooks = match &account.account_id {
            None => WebhookSubscription::Unknown,
            Some(waba) => match self.client.subscribed_apps(waba, token, secret).await {
                Ok(apps) => match &account.app_id {
                    Some(app) if apps.iter().any(|a| a == app) => WebhookSubscription::Subscribed,
                    Some(_) => WebhookSubscription::NotSubscribed,
                    None if apps.is_empty() => WebhookSubscription::NotSubscribed,
                    None => WebhookSubscription::Subscribed,
                },
                Err(e) => {
                    tracing::info!(error = %e, "could not read the Business Account's webhook subscriptions");
                    WebhookSubscription::Unknown
                }
            },
        };
        Ok(ConnectionCheck {
            sender: sender_status(&phone),
            token: lifetime(kind),
            webhooks,
        })
    }

    async fn subscribe_webhooks(&self, account: &Account) -> Result<(), AccountError> {
        let waba = account.account_id.as_deref().ok_or_else(|| AccountError::Field {
            field: AccountField::AccountId,
            message: "Webhooks are subscribed per WhatsApp Business Account: reconnect with the Business Account ID to subscribe.".into(),
        })?;
        self.client
            .subscribe_app(waba, &account.token, account.signing_secret.as_ref())
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn templates(&self, account: &Account) -> Result<Vec<TemplateInfo>, AccountError> {
        let waba = business_account(account)?;
        let list = self
            .client
            .templates(waba, &account.token, account.signing_secret.as_ref())
            .await
            .map_err(failed)?;
        Ok(list.iter().map(template_info).collect())
    }

    /// Meta wants a sample of the header document, uploaded through the app's Resumable Upload
    /// API, so creating a document template needs the App ID and App Secret.
    async fn create_template(
        &self,
        account: &Account,
        draft: &TemplateDraft,
    ) -> Result<TemplateInfo, AccountError> {
        let waba = business_account(account)?;
        let app = app(account).ok_or_else(|| AccountError::Field {
            field: AccountField::App,
            message: "Creating a template with a PDF header needs the App ID and App Secret (Meta's upload API belongs to the app): add them under Advanced when you connect.".into(),
        })?;
        let token = &account.token;
        let handle = self
            .client
            .upload_header_example(
                &app.app_id,
                token,
                Some(&app.app_secret),
                &draft.example_filename,
                draft.example_pdf.clone(),
            )
            .await
            .map_err(failed)?;
        let mut components = vec![
            json!({"type": "HEADER", "format": "DOCUMENT", "example": {"header_handle": [handle]}}),
            json!({"type": "BODY", "text": draft.body, "example": {"body_text": [draft.body_example]}}),
        ];
        if let Some(footer) = &draft.footer {
            components.push(json!({"type": "FOOTER", "text": footer}));
        }
        let body = json!({
            "name": draft.name,
            "language": draft.language,
            "category": draft.category,
            "components": components,
        });
        let created = self
            .client
            .create_template(waba, token, Some(&app.app_secret), &body)
            .await
            .map_err(failed)?;
        Ok(TemplateInfo {
            id: Some(created.id),
            name: draft.name.clone(),
            language: draft.language.clone(),
            status: created
                .status
                .as_deref()
                .unwrap_or("PENDING")
                .to_ascii_uppercase(),
            category: created
                .category
                .as_deref()
                .unwrap_or(&draft.category)
                .to_ascii_uppercase(),
            header_format: Some("DOCUMENT".into()),
            body_text: draft.body.clone(),
            reason: None,
        })
    }

    /// Media ids live 30 days at Meta; one day of margin.
    fn media_lifetime(&self) -> Duration {
        Duration::from_secs(29 * 86_400)
    }

    async fn prepare_document(
        &self,
        account: &Account,
        filename: &str,
        pdf: Vec<u8>,
    ) -> Result<Media, ProviderError> {
        self.client
            .upload_pdf(
                &account.sender,
                &account.token,
                account.signing_secret.as_ref(),
                filename,
                pdf,
            )
            .await
            .map(|m| Media { reference: m.id })
            .map_err(|e| e.to_provider_error())
    }

    async fn send(
        &self,
        account: &Account,
        to: &Recipient,
        message: &Message,
        tag: &str,
    ) -> Result<Accepted, ProviderError> {
        let resp = self
            .client
            .send_message(
                &account.sender,
                &account.token,
                account.signing_secret.as_ref(),
                to.as_str(),
                &outgoing(message),
                Some(tag),
            )
            .await
            .map_err(|e| e.to_provider_error())?;
        Ok(Accepted {
            message_id: resp.wamid().map(str::to_string),
            recipient_id: resp.wa_id().map(str::to_string),
        })
    }

    fn verify_webhook(&self, account: &Account, headers: &http::HeaderMap, body: &[u8]) -> bool {
        let Some(secret) = &account.signing_secret else {
            return false;
        };
        use secrecy::ExposeSecret;
        let sig = headers
            .get("x-hub-signature-256")
            .and_then(|v| v.to_str().ok());
        signature::verify(secret.expose_secret().as_bytes(), body, sig)
    }

    fn parse_webhook(&self, account: &Account, body: &[u8]) -> Result<Vec<DeliveryEvent>, String> {
        let mut skipped = Vec::new();
        let events = webhook::parse(body, &account.sender, &mut skipped)?;
        for what in skipped {
            tracing::debug!(what, "Meta webhook: part of a delivery skipped");
        }
        Ok(events)
    }

    fn classify_code(&self, code: i64, detail: Option<String>) -> ProviderError {
        crate::error::classify_code(code, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_shared_with_the_business_app_is_capped_at_20_a_second() {
        let mut p = PhoneNumber {
            whatsapp_business_manager_messaging_limit: Some(serde_json::json!("TIER_2K")),
            ..PhoneNumber::default()
        };
        let s = sender_status(&p);
        assert_eq!((s.shared_with_app, s.max_per_second), (false, None));
        assert_eq!(s.daily_unique_limit, Some(2_000));
        p.is_on_biz_app = Some(true);
        let s = sender_status(&p);
        assert_eq!(
            (s.shared_with_app, s.max_per_second),
            (true, Some(crate::COEXISTENCE_PER_SECOND))
        );
    }
}

//! Meta's Cloud API behind the neutral [`messaging::Provider`] trait: the only place where the
//! outbox's messages become Graph calls and Graph answers become neutral ones.

use crate::{signature, types::Outgoing, webhook, GraphClient};
use async_trait::async_trait;
use messaging::{
    Accepted, Account, DeliveryEvent, Media, Message, Provider, ProviderError, ProviderId,
    Recipient,
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
    }
}

#[async_trait]
impl Provider for MetaProvider {
    fn id(&self) -> ProviderId {
        META
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

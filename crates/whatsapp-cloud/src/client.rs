//! The one Graph API client. Base URL and version are settings; every call has a connect and a
//! total time-out; tokens are `SecretString` and only exposed to build the header.

use crate::{
    error::{ApiError, GraphError},
    signature::appsecret_proof,
    types::*,
};
use reqwest::{multipart, Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// The phone-number fields read when validating a connection.
pub const PHONE_NUMBER_FIELDS: &str = "id,display_phone_number,verified_name,quality_rating,code_verification_status,\
name_status,status,platform_type,throughput,account_mode,health_status,whatsapp_business_manager_messaging_limit,\
is_on_biz_app";
/// Meta's default field set, used if an account rejects one of the fields above.
const PHONE_NUMBER_BASIC_FIELDS: &str = "id,display_phone_number,verified_name,quality_rating";

#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// For example `https://graph.facebook.com`, or a sandbox's address.
    pub base_url: String,
    /// For example `v23.0`.
    pub version: String,
    pub connect_timeout: Duration,
    pub timeout: Duration,
}

impl GraphConfig {
    pub fn new(base_url: impl Into<String>, version: impl Into<String>) -> Self {
        GraphConfig {
            base_url: base_url.into(),
            version: version.into(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(20),
        }
    }
}

/// A Meta app's id and secret: enables `debug_token`, `appsecret_proof` and webhook signatures.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub app_id: String,
    pub app_secret: SecretString,
}

#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base: String,
    version: String,
}

impl GraphClient {
    pub fn new(config: GraphConfig) -> Result<Self, GraphError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("axis-crm/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GraphError::Network(e.to_string()))?;
        Ok(GraphClient {
            http,
            base: config.base_url.trim_end_matches('/').to_string(),
            version: config.version,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.base,
            self.version,
            path.trim_start_matches('/')
        )
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        token: &SecretString,
        app_secret: Option<&SecretString>,
    ) -> RequestBuilder {
        let req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(token.expose_secret());
        Self::with_proof(req, token, app_secret)
    }

    /// `appsecret_proof` for `token`, added to the query when the app secret is known.
    fn with_proof(
        req: RequestBuilder,
        token: &SecretString,
        app_secret: Option<&SecretString>,
    ) -> RequestBuilder {
        match app_secret {
            Some(secret) => req.query(&[(
                "appsecret_proof",
                appsecret_proof(secret.expose_secret().as_bytes(), token.expose_secret()),
            )]),
            None => req,
        }
    }

    async fn send<T: DeserializeOwned>(req: RequestBuilder) -> Result<T, GraphError> {
        let res = req.send().await.map_err(transport)?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await.map_err(transport)?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|e| GraphError::Decode(e.to_string()));
        }
        Err(match ApiError::from_body(status, &bytes) {
            Some(e) => GraphError::Api(e),
            None => GraphError::Http {
                status,
                snippet: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            },
        })
    }

    /// Reads every page of a Graph edge (`limit=100`, following `paging.cursors.after` while
    /// Meta says there is a `next` page), up to `max_pages`.
    async fn all_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        fields: &str,
        max_pages: usize,
        token: &SecretString,
        app_secret: Option<&SecretString>,
    ) -> Result<Vec<T>, GraphError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..max_pages {
            let mut req = self
                .request(Method::GET, path, token, app_secret)
                .query(&[("fields", fields), ("limit", "100")]);
            if let Some(a) = &after {
                req = req.query(&[("after", a)]);
            }
            let page: Page<T> = Self::send(req).await?;
            out.extend(page.data);
            after = page
                .paging
                .filter(|p| p.next.is_some())
                .and_then(|p| p.cursors)
                .and_then(|c| c.after);
            if after.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// Reads a phone number's status. Confirms that the token can see the Phone Number ID.
    pub async fn phone_number(
        &self,
        phone_number_id: &str,
        token: &SecretString,
        app_secret: Option<&SecretString>,
    ) -> Result<PhoneNumber, GraphError> {
        let full = self
            .request(Method::GET, phone_number_id, token, app_secret)
            .query(&[("fields", PHONE_NUMBER_FIELDS)]);
        match Self::send(full).await {
            // An unknown field fails the whole call with a plain 100: fall back to the defaults.
            Err(GraphError::Api(e)) if e.code == 100 && e.subcode.is_none() => {
                let basic = self
                    .request(Method::GET, phone_number_id, token, app_secret)
                    .query(&[("fields", PHONE_NUMBER_BASIC_FIELDS)]);
                Self::send(basic).await
            }
            other => other,
        }
    }

    /// The phone numbers of a WhatsApp Business Account (follows up to 10 pages).
    pub async fn business_phone_numbers(
        &self,
        waba_id: &str,
        token: &SecretString,
        app_secret: Option<&SecretString>,
    ) -> Result<Vec<PhoneNumber>, GraphError> {
        self.all_pages(
            &format!("{waba_id}/phone_numbers"),
            "id,display_phone_number,verified_name,quality_rating",
            10,
            token,
            app_secret,
        )
        .await
    }

    /// The ids of the apps subscribed to the Business Account's webhooks. Meta sends an app no
    /// webhook for an account it is not subscribed to.
    pub async fn subscribed_apps(
        &self,
        waba_id: &str,
        token: &SecretString,
        app_secret: Option<&SecretString>,
    ) -> Result<Vec<String>, GraphError> {
        #[derive(serde::Deserialize)]
        struct Data {
            #[serde(default)]
            whatsapp_business_api_data: Option<AppData>,
        }
        #[derive(serde::Deserialize)]
        struct AppData {
            #[serde(default)]
            id: Option<String>,
        }
        #[derive(serde::Deserialize)]
        struct Wrapper {
            #[serde(default)]
            data: Vec<Data>,
        }
        let req = self.request(
            Method::GET,
            &format!("{waba_id}/subscribed_apps"),
            token,
            app_secret,
        );
        Ok(Self::send::<Wrapper>(req)
            .await?
            .data
            .into_iter()
            .filter_map(|d| d.whatsapp_business_api_data.and_then(|a| a.id))
            .collect())
    }

    /// Subscribes the token's app to the Business Account's webhooks.
    pub async fn subscribe_app(
        &self,
        waba_id: &str,
        token: &SecretString,
        app_secret: Option<&SecretString>,
    ) -> Result<bool, GraphError> {
        #[derive(serde::Deserialize)]
        struct Success {
            #[serde(default)]
            success: bool,
        }
        let req = self.request(
            Method::POST,
            &format!("{waba_id}/subscribed_apps"),
            token,
            app_secret,
        );
        Ok(Self::send::<Success>(req).await?.success)
    }

    /// Asks Meta about `token` with the app's own access token (`{app_id}|{app_secret}`), which
    /// works for system-user tokens too.
    pub async fn debug_token(
        &self,
        token: &SecretString,
        app: &AppCredentials,
    ) -> Result<TokenInfo, GraphError> {
        #[derive(serde::Deserialize)]
        struct Wrapper {
            data: TokenInfo,
        }
        let app_token =
            SecretString::from(format!("{}|{}", app.app_id, app.app_secret.expose_secret()));
        let req = self
            .request(Method::GET, "debug_token", &app_token, None)
            .query(&[("input_token", token.expose_secret())]);
        Ok(Self::send::<Wrapper>(req).await?.data)
    }

    /// Uploads a PDF for sending; media ids live 30 days.
    pub async fn upload_pdf(
        &self,
        phone_number_id: &str,
        token: &SecretString,
        app_secret: Option<&SecretString>,
        filename: &str,
        pdf: Vec<u8>,
    ) -> Result<MediaId, GraphError> {
        let part = multipart::Part::bytes(pdf)
            .file_name(filename.to_string())
            .mime_str("application/pdf")
            .map_err(|e| GraphError::Decode(e.to_string()))?;
        let form = multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", "application/pdf")
            .part("file", part);
        Self::send(
            self.request(
                Method::POST,
                &format!("{phone_number_id}/media"),
                token,
                app_secret,
            )
            .multipart(form),
        )
        .await
    }

    pub async fn send_message(
        &self,
        phone_number_id: &str,
        token: &SecretString,
        app_secret: Option<&SecretString>,
        to: &str,
        message: &Outgoing,
        callback: Option<&str>,
    ) -> Result<SendResponse, GraphError> {
        let body = message.to_body(to, callback);
        Self::send(
            self.request(
                Method::POST,
                &format!("{phone_number_id}/messages"),
                token,
                app_secret,
            )
            .json(&body),
        )
        .await
    }

    /// All message templates of a WhatsApp Business Account (follows the paging cursor).
    pub async fn templates(
        &self,
        waba_id: &str,
        token: &SecretString,
        app_secret: Option<&SecretString>,
    ) -> Result<Vec<Template>, GraphError> {
        self.all_pages(
            &format!("{waba_id}/message_templates"),
            "id,name,language,status,category,components,rejected_reason",
            20,
            token,
            app_secret,
        )
        .await
    }

    /// Submits a template for approval.
    pub async fn create_template(
        &self,
        waba_id: &str,
        token: &SecretString,
        app_secret: Option<&SecretString>,
        template: &Value,
    ) -> Result<CreatedTemplate, GraphError> {
        Self::send(
            self.request(
                Method::POST,
                &format!("{waba_id}/message_templates"),
                token,
                app_secret,
            )
            .json(template),
        )
        .await
    }
}

/// Resumable Upload API: a file handle for a template's media header example
/// (`example.header_handle`). Handles are not media ids: `/media` uploads cannot be used there.
impl GraphClient {
    /// Starts an upload session for a file of `file_length` bytes (`POST /{app_id}/uploads`)
    /// and returns its id (`upload:…`). The token's user needs a role on the app.
    pub async fn start_upload(
        &self,
        app_id: &str,
        token: &SecretString,
        app_secret: Option<&SecretString>,
        file_name: &str,
        file_length: usize,
        file_type: &str,
    ) -> Result<String, GraphError> {
        #[derive(serde::Deserialize)]
        struct Session {
            id: String,
        }
        let req = self
            .request(
                Method::POST,
                &format!("{app_id}/uploads"),
                token,
                app_secret,
            )
            .query(&[
                ("file_name", file_name),
                ("file_length", &file_length.to_string()),
                ("file_type", file_type),
            ]);
        Ok(Self::send::<Session>(req).await?.id)
    }

    /// Sends the whole file to an upload session (`POST /{session_id}`, `file_offset: 0`) and
    /// returns the file handle (`h`, `4::…`). Authenticates with `Authorization: OAuth`, as
    /// Meta's upload guide shows.
    pub async fn upload_file(
        &self,
        session_id: &str,
        token: &SecretString,
        app_secret: Option<&SecretString>,
        bytes: Vec<u8>,
    ) -> Result<String, GraphError> {
        #[derive(serde::Deserialize)]
        struct Uploaded {
            h: String,
        }
        // Like `bearer_auth`: a token that cannot be a header value fails as a request error,
        // and the value is marked sensitive so it never shows in debug output.
        let mut auth =
            reqwest::header::HeaderValue::from_str(&format!("OAuth {}", token.expose_secret()))
                .map_err(|_| {
                    GraphError::Network("the access token is not a valid header value".into())
                })?;
        auth.set_sensitive(true);
        // A session id may carry its own query (`upload:…?sig=…`); the URL keeps it.
        let req = self
            .http
            .post(self.url(session_id))
            .header(reqwest::header::AUTHORIZATION, auth)
            .header("file_offset", "0")
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes);
        let req = Self::with_proof(req, token, app_secret);
        Ok(Self::send::<Uploaded>(req).await?.h)
    }

    /// Uploads a sample PDF for a DOCUMENT header and returns the handle to put in
    /// `example.header_handle` when creating the template.
    pub async fn upload_header_example(
        &self,
        app_id: &str,
        token: &SecretString,
        app_secret: Option<&SecretString>,
        file_name: &str,
        pdf: Vec<u8>,
    ) -> Result<String, GraphError> {
        let session = self
            .start_upload(
                app_id,
                token,
                app_secret,
                file_name,
                pdf.len(),
                "application/pdf",
            )
            .await?;
        self.upload_file(&session, token, app_secret, pdf).await
    }
}

fn transport(e: reqwest::Error) -> GraphError {
    if e.is_timeout() {
        GraphError::Timeout
    } else {
        // reqwest's text never contains the bearer token; the URL may carry `input_token` for
        // debug_token, so drop the URL from the message.
        GraphError::Network(e.without_url().to_string())
    }
}

//! Media: `POST /{phone-number-id}/media` (a multipart upload of a file a message can send by
//! id) and `GET /{media-id}` (its URL, type, size and hash).

use super::{meta_error, unknown_object, Answer, MAX_DOCUMENT_BYTES, Q};
use crate::sandbox::{
    state::{numeric_id, Media, State as SandboxState, Token},
    Sandbox,
};
use axum::{
    body::Bytes,
    extract::{Multipart, Path, Query, State},
    http::{header, HeaderMap},
    response::Response,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// `GET /{media-id}` (routed by [`super::get_node`]): the media node, if a number of the token's
/// app uploaded it.
pub(super) fn media_node(st: &SandboxState, token: &Token, id: &str, m: &Media) -> Answer {
    let owner = st
        .numbers
        .get(&m.phone_number_id)
        .map(|n| n.app_id.as_str());
    if owner != Some(token.app_id.as_str()) {
        return unknown_object(id);
    }
    Answer::ok(json!({
        "messaging_product": "whatsapp",
        "url": format!("https://sandbox.invalid/media/{id}"),
        "mime_type": m.mime_type, "sha256": m.sha256, "file_size": m.file_size.to_string(), "id": id,
    }))
}

pub(super) async fn upload_media(
    State(sb): State<Sandbox>,
    Path((_v, pnid)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
    mut form: Multipart,
) -> Response {
    let mut fields = serde_json::Map::new();
    let mut file: Option<(Option<String>, Bytes)> = None;
    let mut read_error = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                if name == "file" {
                    let ct = field.content_type().map(str::to_string);
                    let filename = field.file_name().map(str::to_string);
                    match field.bytes().await {
                        Ok(b) => {
                            fields.insert("file".into(), json!({ "filename": filename, "content_type": ct, "size": b.len() }));
                            file = Some((ct, b));
                        }
                        Err(e) => read_error = Some(e.to_string()),
                    }
                } else if let Ok(text) = field.text().await {
                    fields.insert(name, json!(text));
                }
            }
            Ok(None) => break,
            Err(e) => {
                read_error = Some(e.to_string());
                break;
            }
        }
    }
    let answer = async {
        let token = match sb.admit(&headers, Some(&pnid)).await {
            Ok(t) => t,
            Err(a) => return a,
        };
        if sb
            .inner
            .state
            .lock()
            .numbers
            .get(&pnid)
            .is_none_or(|n| n.waba_id != token.waba_id)
        {
            return unknown_object(&pnid);
        }
        if let Some(e) = read_error {
            return meta_error(
                400,
                100,
                None,
                "OAuthException",
                &format!("(#100) Invalid multipart body: {e}"),
                None,
            );
        }
        if fields.get("messaging_product").and_then(|v| v.as_str()) != Some("whatsapp") {
            return meta_error(
                400,
                100,
                None,
                "OAuthException",
                "(#100) The parameter messaging_product is required.",
                None,
            );
        }
        let Some((ct, bytes)) = file.take() else {
            return meta_error(
                400,
                100,
                None,
                "OAuthException",
                "(#100) The parameter file is required.",
                None,
            );
        };
        let declared = fields
            .get("type")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or(ct.clone())
            .unwrap_or_default();
        let allowed = [
            "application/pdf",
            "text/plain",
            "application/msword",
            "image/jpeg",
            "image/png",
        ];
        if !allowed.contains(&declared.as_str()) {
            return meta_error(
                400,
                131053,
                None,
                "OAuthException",
                "(#131053) Media upload error",
                Some(&format!("Unsupported file type {declared}")),
            );
        }
        if declared == "application/pdf" && !bytes.starts_with(b"%PDF-") {
            return meta_error(
                400,
                131053,
                None,
                "OAuthException",
                "(#131053) Media upload error",
                Some("The file is not a valid PDF document."),
            );
        }
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return meta_error(
                400,
                131053,
                None,
                "OAuthException",
                "(#131053) Media upload error",
                Some("Documents can be at most 100 MB."),
            );
        }
        let id = numeric_id();
        sb.inner.state.lock().media.insert(
            id.clone(),
            Media {
                phone_number_id: pnid.clone(),
                mime_type: declared,
                file_size: bytes.len(),
                sha256: hex::encode(Sha256::digest(&bytes)),
            },
        );
        Answer::ok(json!({ "id": id }))
    }
    .await;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or(s).to_string());
    sb.respond(
        "/{Version}/{Phone-Number-ID}/media",
        "post",
        q,
        ct,
        Some(Value::Object(fields)),
        answer,
    )
}

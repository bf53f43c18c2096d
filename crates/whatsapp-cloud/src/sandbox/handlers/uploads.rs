//! The Resumable Upload API: `POST /{app-id}/uploads` opens a session, `POST /upload:…` sends
//! the file's bytes from an offset and answers with a handle (`4::…`), and `GET /upload:…` tells
//! where to resume. A template's media header example must be such a handle.

use super::{invalid_param, unknown_object, unknown_object_for, Answer, MAX_DOCUMENT_BYTES, Q};
use crate::sandbox::{
    state::{random_text, State as SandboxState, Token, UploadSession, UploadedFile},
    Sandbox,
};
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, HeaderMap},
    response::Response,
};
use serde_json::json;

/// Resumable Upload API session ids start with this.
pub(super) const UPLOAD_PREFIX: &str = "upload:";
/// What the Resumable Upload API accepts in the sandbox (template header samples).
const UPLOAD_TYPES: &[&str] = &["application/pdf", "image/jpeg", "image/png", "video/mp4"];
// The Resumable Upload API is part of the core Graph API, not Meta's Business Messaging spec:
// these exchanges are recorded under the paths Meta's upload guide uses.
const UPLOADS_PATH: &str = "/{Version}/{App-ID}/uploads";
pub(super) const UPLOAD_SESSION_PATH: &str = "/{Version}/{Upload-Session-ID}";

/// Standard base64 without padding, as in the mime-type part of Meta's upload handles
/// (`4::YXBwbGljYXRpb24vcGRm:…` for `application/pdf`).
fn base64_unpadded(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

/// `file_name`, `file_length` and `file_type` of `POST /{app-id}/uploads`, or Meta's message.
fn upload_params(
    file_name: Option<&str>,
    file_length: Option<&str>,
    file_type: Option<&str>,
) -> Result<(String, usize, String), String> {
    let name = file_name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or("(#100) The parameter file_name is required.")?;
    let length = file_length.ok_or("(#100) The parameter file_length is required.")?;
    let length: usize = length
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(format!(
            "(#100) Param file_length must be a positive integer number of bytes, got '{length}'."
        ))?;
    if length > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "(#100) Param file_length must be at most {MAX_DOCUMENT_BYTES} bytes."
        ));
    }
    let kind = file_type.ok_or("(#100) The parameter file_type is required.")?;
    if !UPLOAD_TYPES.contains(&kind) {
        return Err(format!(
            "(#100) Param file_type must be one of {}, got '{kind}'.",
            UPLOAD_TYPES.join(", ")
        ));
    }
    Ok((name.to_string(), length, kind.to_string()))
}

/// `POST /{app-id}/uploads`: starts a Resumable Upload API session.
pub(super) async fn start_upload(
    State(sb): State<Sandbox>,
    Path((_v, app_id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
) -> Response {
    let answer = async {
        let token = match sb.admit(&headers, None).await {
            Ok(t) => t,
            Err(a) => return a,
        };
        // Sessions belong to an app; the token's user must have a role on it.
        if token.app_id != app_id {
            return unknown_object_for("post", &app_id);
        }
        let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let (_name, file_length, file_type) =
            match upload_params(get("file_name"), get("file_length"), get("file_type")) {
                Ok(p) => p,
                Err(message) => return invalid_param(&message),
            };
        let id = format!("{UPLOAD_PREFIX}{}", random_text(48));
        sb.inner.state.lock().uploads.insert(
            id.clone(),
            UploadSession {
                app_id,
                file_length,
                file_type,
                received: 0,
                handle: None,
            },
        );
        Answer::ok(json!({ "id": id }))
    }
    .await;
    sb.respond(UPLOADS_PATH, "post", q, None, None, answer)
}

/// `GET /upload:…` (routed by [`super::get_node`]): where to resume an interrupted upload.
pub(super) fn session_offset(st: &SandboxState, token: &Token, id: &str) -> Answer {
    match st.uploads.get(id).filter(|u| u.app_id == token.app_id) {
        Some(u) => Answer::ok(json!({ "id": id, "file_offset": u.received })),
        None => unknown_object(id),
    }
}

/// `POST /{id}`: the file's bytes for an upload session (`upload:…`). Other nodes cannot be
/// changed in the sandbox.
pub(super) async fn post_node(
    State(sb): State<Sandbox>,
    Path((_v, id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let offset_header = headers
        .get("file_offset")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let answer = async {
        let token = match sb.admit(&headers, None).await {
            Ok(t) => t,
            Err(a) => return a,
        };
        if !id.starts_with(UPLOAD_PREFIX) {
            return unknown_object_for("post", &id);
        }
        let mut st = sb.inner.state.lock();
        let Some(session) = st.uploads.get_mut(&id).filter(|u| u.app_id == token.app_id) else {
            return unknown_object_for("post", &id);
        };
        let Some(offset_text) = offset_header.as_deref() else {
            return invalid_param("(#100) The file_offset header is required (0 for a new upload session).");
        };
        let Ok(offset) = offset_text.trim().parse::<usize>() else {
            return invalid_param(&format!("(#100) The file_offset header must be a number of bytes, got '{offset_text}'."));
        };
        if offset != session.received {
            return invalid_param(&format!(
                "(#100) file_offset {offset} does not match this session: {} bytes were received so far.",
                session.received
            ));
        }
        if offset + body.len() != session.file_length {
            return invalid_param(&format!(
                "(#100) The session expects {} bytes from offset {offset} (file_length {}), got {}.",
                session.file_length - offset.min(session.file_length),
                session.file_length,
                body.len()
            ));
        }
        if let Some(h) = &session.handle {
            // Already complete: the same handle again.
            return Answer::ok(json!({ "h": h }));
        }
        if session.file_type == "application/pdf" && !body.starts_with(b"%PDF-") {
            return invalid_param("(#100) The uploaded file is not a valid PDF document (file_type is application/pdf).");
        }
        let handle = format!(
            "4::{}:{}",
            base64_unpadded(session.file_type.as_bytes()),
            random_text(64)
        );
        session.received = session.file_length;
        session.handle = Some(handle.clone());
        let file = UploadedFile {
            app_id: session.app_id.clone(),
            mime_type: session.file_type.clone(),
        };
        st.handles.insert(handle.clone(), file);
        Answer::ok(json!({ "h": handle }))
    }
    .await;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let spec_path = if id.starts_with(UPLOAD_PREFIX) {
        UPLOAD_SESSION_PATH
    } else {
        "/{Version}/{Phone-Number-ID}"
    };
    // The file itself is left out of the record.
    let request = json!({ "file_offset": offset_header, "bytes": body.len() });
    sb.respond(spec_path, "post", q, ct, Some(request), answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_like_metas_handles() {
        assert_eq!(base64_unpadded(b"application/pdf"), "YXBwbGljYXRpb24vcGRm");
        assert_eq!(base64_unpadded(b"image/jpg"), "aW1hZ2UvanBn");
        assert_eq!(base64_unpadded(b"image/png"), "aW1hZ2UvcG5n");
        assert_eq!(base64_unpadded(b"video/mp4"), "dmlkZW8vbXA0");
        assert_eq!(base64_unpadded(b"image/jpeg"), "aW1hZ2UvanBlZw");
        assert_eq!(base64_unpadded(b"ab"), "YWI");
        assert_eq!(base64_unpadded(b""), "");
    }

    #[test]
    fn upload_parameters() {
        assert_eq!(
            upload_params(Some("a.pdf"), Some("12"), Some("application/pdf")),
            Ok(("a.pdf".into(), 12, "application/pdf".into()))
        );
        let err =
            |n: Option<&str>, l: Option<&str>, t: Option<&str>| upload_params(n, l, t).unwrap_err();
        let pdf = Some("application/pdf");
        assert!(err(None, Some("1"), pdf).contains("file_name"));
        assert!(err(Some(" "), Some("1"), pdf).contains("file_name"));
        assert!(err(Some("a"), None, pdf).contains("file_length is required"));
        for bad in ["0", "-1", "ten", "1.5"] {
            assert!(
                err(Some("a"), Some(bad), pdf).contains("positive integer"),
                "{bad}"
            );
        }
        assert!(err(Some("a"), Some("999999999999"), pdf).contains("at most"));
        assert!(err(Some("a"), Some("1"), None).contains("file_type is required"));
        assert!(err(Some("a"), Some("1"), Some("text/plain")).contains("must be one of"));
    }
}

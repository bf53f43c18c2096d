//! Message templates: `GET` and `POST /{waba-id}/message_templates` (listing, and creation with
//! Meta's checks of the name, category, body and examples), the review that approves or rejects
//! a new template a little later (announced by a `message_template_status_update` webhook), and
//! the checks of a template message against the approved template.

use super::{meta_error, webhooks::post_webhook, Answer, Q};
use crate::sandbox::{
    state::{numeric_id, StoredTemplate},
    Sandbox,
};
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::HeaderMap,
    response::Response,
};
use serde_json::{json, Value};

/// The mime types a media header's sample may have, by header format.
fn header_sample_types(format: &str) -> Option<&'static [&'static str]> {
    match format.to_ascii_uppercase().as_str() {
        "DOCUMENT" => Some(&["application/pdf"]),
        "IMAGE" => Some(&["image/jpeg", "image/png"]),
        "VIDEO" => Some(&["video/mp4"]),
        _ => None,
    }
}

/// Meta's checks of a new template's examples: a media header needs a sample uploaded with the
/// Resumable Upload API (`example.header_handle[0]`, a handle `issued` knows with a fitting
/// mime type), and a body with variables needs one sample value per variable.
fn check_examples(
    components: &[Value],
    issued: impl Fn(&str) -> Option<String>,
) -> Result<(), Answer> {
    let kind_is = |c: &Value, k: &str| {
        c["type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case(k))
    };
    for c in components.iter().filter(|c| kind_is(c, "HEADER")) {
        let format = c["format"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let Some(types) = header_sample_types(&format) else {
            continue;
        };
        let handle = c["example"]["header_handle"][0]
            .as_str()
            .unwrap_or_default();
        let fits = issued(handle).is_some_and(|mime| types.contains(&mime.as_str()));
        if !fits {
            let what = match format.as_str() {
                "DOCUMENT" => "a sample PDF",
                "IMAGE" => "a sample JPEG or PNG image",
                _ => "a sample MP4 video",
            };
            let mut a = meta_error(
                400,
                100,
                Some(2388273),
                "OAuthException",
                "Invalid parameter",
                None,
            );
            a.body["error"]["error_user_title"] = json!("Invalid header example");
            a.body["error"]["error_user_msg"] = json!(format!(
                "A {format} header needs {what} as its example: upload the file with the Resumable Upload API \
                 (POST /{{app-id}}/uploads, then POST /upload:…) and put the returned handle (h) in example.header_handle."
            ));
            return Err(a);
        }
    }
    for c in components.iter().filter(|c| kind_is(c, "BODY")) {
        let expected = crate::types::template_variables(c["text"].as_str().unwrap_or_default());
        if expected == 0 {
            continue;
        }
        let got = c["example"]["body_text"][0].as_array().map(Vec::len);
        if got != Some(expected) {
            let got = got.map_or("none".to_string(), |n| n.to_string());
            let mut a = meta_error(
                400,
                100,
                Some(2388043),
                "OAuthException",
                "Invalid parameter",
                None,
            );
            a.body["error"]["error_user_title"] = json!("Message template invalid");
            a.body["error"]["error_user_msg"] = json!(format!(
                "The body has {expected} variables, so example.body_text[0] needs {expected} sample values (got {got})."
            ));
            return Err(a);
        }
    }
    Ok(())
}

/// Checks a template send against the stored template; `Err` is Meta's answer.
pub(super) fn check_template(templates: &[StoredTemplate], t: &Value) -> Result<String, Answer> {
    let name = t["name"].as_str().unwrap_or_default();
    let lang = t["language"]["code"].as_str().unwrap_or_default();
    // A paused or disabled template exists but may not be sent (132015, 132016).
    if let Some(s) = templates
        .iter()
        .find(|s| s.name == name && s.language == lang)
    {
        match s.status.as_str() {
            "PAUSED" => {
                return Err(meta_error(400, 132015, None, "OAuthException",
                    "(#132015) Template is Paused", Some("Template is paused due to low quality so it cannot be sent in a template message.")));
            }
            "DISABLED" => {
                return Err(meta_error(400, 132016, None, "OAuthException",
                    "(#132016) Template is Disabled", Some("Template has been paused too many times due to low quality and is now permanently disabled.")));
            }
            _ => {}
        }
    }
    let Some(stored) = templates
        .iter()
        .find(|s| s.name == name && s.language == lang && s.status == "APPROVED")
    else {
        return Err(meta_error(
            404,
            132001,
            None,
            "OAuthException",
            "(#132001) Template name does not exist in the translation",
            Some(&format!("template name ({name}) does not exist in {lang}")),
        ));
    };
    let sent = t["components"].as_array().cloned().unwrap_or_default();
    let sent_of = |kind: &str| {
        sent.iter()
            .find(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
            .cloned()
    };
    for comp in &stored.components {
        let kind = comp["type"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match (kind.as_str(), comp["format"].as_str()) {
            ("HEADER", Some("DOCUMENT")) => {
                let ok = sent_of("header")
                    .and_then(|h| h["parameters"].as_array().cloned())
                    .is_some_and(|p| {
                        p.len() == 1
                            && p[0]["type"] == "document"
                            && (p[0]["document"]["id"].is_string()
                                || p[0]["document"]["link"].is_string())
                    });
                if !ok {
                    return Err(meta_error(
                        400,
                        132012,
                        None,
                        "OAuthException",
                        "(#132012) Parameter format does not match format in the created template",
                        Some("header: Format mismatch, expected DOCUMENT, received UNKNOWN"),
                    ));
                }
            }
            ("BODY", _) => {
                let expected =
                    crate::types::template_variables(comp["text"].as_str().unwrap_or_default());
                let got = sent_of("body")
                    .and_then(|b| b["parameters"].as_array().map(Vec::len))
                    .unwrap_or(0);
                if expected != got {
                    return Err(meta_error(400, 132000, None, "OAuthException",
                        "(#132000) Number of parameters does not match the expected number of params",
                        Some(&format!("body: number of localizable_params ({got}) does not match the expected number of params ({expected})"))));
                }
            }
            _ => {}
        }
    }
    Ok(stored.category.to_lowercase())
}

pub(super) async fn list_templates(
    State(sb): State<Sandbox>,
    Path((_v, waba)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
) -> Response {
    let answer = async {
        if let Err(a) = sb.admit_waba(&headers, &waba).await {
            return a;
        }
        let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        let limit: usize = get("limit").and_then(|l| l.parse().ok()).unwrap_or(25).clamp(1, 100);
        let offset: usize = get("after").and_then(|a| a.strip_prefix("off").and_then(|n| n.parse().ok())).unwrap_or(0);
        let st = sb.inner.state.lock();
        let all = st.templates.get(&waba).cloned().unwrap_or_default();
        let page: Vec<Value> = all
            .iter()
            .skip(offset)
            .take(limit)
            .map(|t| json!({ "id": t.id, "name": t.name, "language": t.language, "status": t.status, "category": t.category, "components": t.components }))
            .collect();
        let mut paging = json!({ "cursors": { "before": format!("off{offset}"), "after": format!("off{}", offset + page.len()) } });
        if offset + page.len() < all.len() {
            paging["next"] = json!(format!("https://graph.facebook.com/v23.0/{waba}/message_templates?limit={limit}&after=off{}", offset + page.len()));
        }
        Answer::ok(json!({ "data": page, "paging": paging }))
    }
    .await;
    sb.respond(
        "/{Version}/{WABA-ID}/message_templates",
        "get",
        q,
        None,
        None,
        answer,
    )
}

pub(super) async fn create_template(
    State(sb): State<Sandbox>,
    Path((_v, waba)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Q,
    body: Bytes,
) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let answer = async {
        let token = match sb.admit_waba(&headers, &waba).await {
            Ok(t) => t,
            Err(a) => return a,
        };
        let Some(t) = parsed.clone() else {
            return meta_error(400, 100, None, "OAuthException", "(#100) The request body is not valid JSON.", None);
        };
        let name = t["name"].as_str().unwrap_or_default().to_string();
        let language = t["language"].as_str().unwrap_or_default().to_string();
        let category = t["category"].as_str().unwrap_or_default().to_ascii_uppercase();
        let components = t["components"].as_array().cloned().unwrap_or_default();
        let invalid = |msg: &str| {
            let mut a = meta_error(400, 100, Some(2388043), "OAuthException", "Invalid parameter", None);
            a.body["error"]["error_user_title"] = json!("Message template invalid");
            a.body["error"]["error_user_msg"] = json!(msg);
            a
        };
        if name.is_empty() || name.len() > 512 || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return invalid("Template names may contain only lower-case letters, digits and underscores.");
        }
        if !["UTILITY", "MARKETING", "AUTHENTICATION"].contains(&category.as_str()) {
            return invalid("Category must be UTILITY, MARKETING or AUTHENTICATION.");
        }
        let body_text = components.iter().find(|c| c["type"] == "BODY").and_then(|c| c["text"].as_str()).unwrap_or_default();
        if body_text.is_empty() || body_text.chars().count() > 1024 {
            return invalid("The body is required and can be at most 1024 characters.");
        }
        if body_text.trim_start().starts_with("{{") || body_text.trim_end().ends_with("}}") {
            return invalid("The body cannot start or end with a variable.");
        }
        let mut st = sb.inner.state.lock();
        let issued = |h: &str| {
            st.handles
                .get(h)
                .filter(|f| f.app_id == token.app_id)
                .map(|f| f.mime_type.clone())
        };
        if let Err(a) = check_examples(&components, issued) {
            return a;
        }
        let list = st.templates.entry(waba.clone()).or_default();
        if list.iter().any(|x| x.name == name && x.language == language) {
            let mut a = meta_error(400, 100, Some(2388024), "OAuthException", "Invalid parameter", None);
            a.body["error"]["error_user_title"] = json!("Message template already exists");
            a.body["error"]["error_user_msg"] = json!(format!("There is already {language} content for this template. You can create a new template and try again."));
            return a;
        }
        let id = numeric_id();
        list.push(StoredTemplate { id: id.clone(), name: name.clone(), language: language.clone(), status: "PENDING".into(), category: category.clone(), components });
        let app_id = token.app_id.clone();
        drop(st);
        let review = sb.inner.config.lock().template_review;
        let sb2 = sb.clone();
        let (id2, waba2) = (id.clone(), waba.clone());
        tokio::spawn(async move {
            tokio::time::sleep(review).await;
            let verdict = if name.contains("reject") { "REJECTED" } else { "APPROVED" };
            if let Some(t) = sb2.inner.state.lock().templates.get_mut(&waba2).and_then(|l| l.iter_mut().find(|t| t.id == id2)) {
                t.status = verdict.into();
            }
            let value = json!({ "event": verdict, "message_template_id": id2.parse::<i64>().unwrap_or_default(),
                "message_template_name": name, "message_template_language": language,
                "reason": if verdict == "REJECTED" { "INVALID_FORMAT" } else { "NONE" } });
            post_webhook(&sb2, &app_id, &waba2, "message_template_status_update", value).await;
        });
        Answer::ok(json!({ "id": id, "status": "PENDING", "category": category }))
    }
    .await;
    let hold = sb.inner.config.lock().template_answer_delay;
    tokio::time::sleep(hold).await;
    sb.respond(
        "/{Version}/{WABA-ID}/message_templates",
        "post",
        q,
        Some("application/json".into()),
        parsed,
        answer,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_examples() {
        let issued = |h: &str| match h {
            "pdf" => Some("application/pdf".to_string()),
            "png" => Some("image/png".to_string()),
            _ => None,
        };
        let header = |format: &str, handle: &str| json!({ "type": "HEADER", "format": format, "example": { "header_handle": [handle] } });
        let body = json!({ "type": "BODY", "text": "Hi {{1}} and {{2}}", "example": { "body_text": [["a", "b"]] } });
        let subcode = |r: Result<(), Answer>| r.unwrap_err().body["error"]["error_subcode"].clone();

        assert!(check_examples(&[header("DOCUMENT", "pdf"), body.clone()], issued).is_ok());
        assert!(check_examples(&[header("IMAGE", "png"), body.clone()], issued).is_ok());
        assert!(check_examples(&[header("TEXT", ""), body.clone()], issued).is_ok());
        for h in ["png", "unknown", ""] {
            assert_eq!(
                subcode(check_examples(
                    &[header("DOCUMENT", h), body.clone()],
                    issued
                )),
                json!(2388273),
                "{h}"
            );
        }
        assert_eq!(
            subcode(check_examples(&[header("VIDEO", "pdf")], issued)),
            json!(2388273)
        );
        let lower = json!({ "type": "header", "format": "document" });
        let err = check_examples(&[lower], issued).unwrap_err();
        assert_eq!(
            err.body["error"]["error_user_title"],
            "Invalid header example"
        );

        let mut short = body.clone();
        short["example"]["body_text"][0] = json!(["a"]);
        let err = check_examples(&[short], issued).unwrap_err();
        assert_eq!(err.body["error"]["code"], 100);
        assert!(err.body["error"]["error_user_msg"]
            .as_str()
            .unwrap()
            .contains("needs 2 sample values (got 1)"));
        let mut missing = body;
        missing.as_object_mut().unwrap().remove("example");
        assert!(check_examples(&[missing], issued).is_err());
        let plain = json!({ "type": "BODY", "text": "No variables." });
        assert!(check_examples(&[plain], issued).is_ok());
    }
}

/// Meta changes a template under the business's feet: a new status (`PAUSED`, `DISABLED`,
/// `ARCHIVED`, `UNARCHIVED`, …, announced by `message_template_status_update`, with `other_info`
/// for pauses) or a new category (`template_category_update`, e.g. UTILITY to MARKETING). The
/// stored template changes too, so listing shows it.
pub(in crate::sandbox) async fn template_change(
    sb: &Sandbox,
    waba_id: &str,
    name: &str,
    language: &str,
    status: Option<&str>,
    category: Option<&str>,
) {
    let (id, app_id, previous) = {
        let mut st = sb.inner.state.lock();
        let app_id = st
            .numbers
            .values()
            .find(|n| n.waba_id == waba_id)
            .map(|n| n.app_id.clone());
        let Some(t) = st.templates.get_mut(waba_id).and_then(|l| {
            l.iter_mut()
                .find(|t| t.name == name && t.language == language)
        }) else {
            return;
        };
        let previous = t.category.clone();
        if let Some(s) = status {
            t.status = if s == "UNARCHIVED" {
                "APPROVED".into()
            } else {
                s.into()
            };
        }
        if let Some(c) = category {
            t.category = c.into();
        }
        let Some(app_id) = app_id else { return };
        (t.id.clone(), app_id, previous)
    };
    let id_num = id.parse::<i64>().unwrap_or_default();
    if let Some(s) = status {
        let mut value = json!({ "event": s, "message_template_id": id_num,
            "message_template_name": name, "message_template_language": language, "reason": null });
        if s == "PAUSED" {
            value["other_info"] = json!({ "title": "FIRST_PAUSE", "description": "Your template has been paused for 3 hours due to low quality." });
        }
        post_webhook(
            sb,
            &app_id,
            waba_id,
            "message_template_status_update",
            value,
        )
        .await;
    }
    if let Some(c) = category {
        let value = json!({ "message_template_id": id_num, "message_template_name": name,
            "message_template_language": language, "previous_category": previous, "new_category": c });
        post_webhook(sb, &app_id, waba_id, "template_category_update", value).await;
    }
}

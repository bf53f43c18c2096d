//! Contract tests: every request the client makes and every answer the sandbox gives, held
//! against Meta's official OpenAPI spec (`contracts/meta-business-messaging-api_v23.0.yaml`, vendored).
//!
//! The sandbox records each exchange under the spec operation it implements, so there is no
//! guessing between the spec's overlapping paths (`/{Version}/{Phone-Number-ID}`,
//! `/{Version}/{Media-ID}`, `/{Version}/{Business-ID}` all match the same URL).
//!
//! Where the spec is known to be wrong or incomplete, Meta's documented behaviour wins; each such
//! place is listed in `KNOWN_SPEC_GAPS` with the reason, and nothing else is tolerated.

mod common;

use common::{env, fast, pdf};
use serde_json::{json, Value};
use std::{collections::HashMap, path::PathBuf};
use whatsapp_cloud::{
    sandbox::{Exchange, Fault},
    types::Outgoing,
    AppCredentials, SecretString,
};

/// (operation, query parameter) pairs the client sends though the spec does not declare them.
const KNOWN_SPEC_GAPS: &[(&str, &str, &str)] = &[
    ("/{Version}/{WABA-ID}/message_templates", "fields", "the spec declares only `name`; Meta documents fields/limit/after on this edge (pywa, wajs use them)"),
    ("/{Version}/{WABA-ID}/message_templates", "limit", "cursor paging, documented by Meta for every edge"),
    ("/{Version}/{WABA-ID}/message_templates", "after", "cursor paging, documented by Meta for every edge"),
];

/// Operations the client uses that Meta's Business Messaging spec does not describe.
const NOT_IN_SPEC: &[&str] = &[
    "/{Version}/debug_token",
    "/{Version}/{App-ID}/uploads",
    "/{Version}/{Upload-Session-ID}",
];

fn spec_path() -> PathBuf {
    match std::env::var("AXIS_CONTRACTS_DIR") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts"),
    }
    .join("meta-business-messaging-api_v23.0.yaml")
}

struct Spec {
    doc: Value,
    validators: HashMap<String, jsonschema::Validator>,
}

impl Spec {
    fn load() -> Self {
        let path = spec_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("Meta's spec at {}: {e}", path.display()));
        let mut doc: Value = serde_yaml_ng::from_str(&text).expect("the spec parses");
        correct_known_defects(&mut doc);
        Spec {
            doc,
            validators: HashMap::new(),
        }
    }

    fn operation(&self, path: &str, method: &str) -> &Value {
        let op = &self.doc["paths"][path][method];
        assert!(op.is_object(), "the spec has no {method} {path}");
        op
    }

    /// Validates `instance` against the schema at JSON pointer `pointer` inside the spec, so
    /// `#/components/...` references resolve against the whole document.
    fn check(&mut self, pointer: &str, instance: &Value) -> Vec<String> {
        if !self.validators.contains_key(pointer) {
            let mut root = self.doc.clone();
            // A URI fragment: `{` and `}` (in the spec's path templates) must be percent-encoded.
            let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
            root.as_object_mut()
                .unwrap()
                .insert("$ref".into(), json!(format!("#{fragment}")));
            let v = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema at {pointer}: {e}"));
            self.validators.insert(pointer.to_string(), v);
        }
        self.validators[pointer]
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }
}

/// The spec's known defects, corrected the way Meta's documentation and real answers show.
/// Each correction keeps the schema as strict as it was meant to be.
fn correct_known_defects(doc: &mut Value) {
    // 1. `allOf: [Base, {additionalProperties: false, ...}]`: in JSON Schema the second branch
    //    cannot see Base's properties, so *no* message (which must have `messaging_product` and
    //    `to`) could ever pass. The intent is "nothing beyond Base and these", which 2020-12
    //    spells `unevaluatedProperties: false` on the parent.
    fn fix_all_of(v: &mut Value) {
        match v {
            Value::Object(map) => {
                let mut strict = false;
                if let Some(Value::Array(branches)) = map.get_mut("allOf") {
                    for b in branches.iter_mut() {
                        if b.get("additionalProperties") == Some(&Value::Bool(false)) {
                            b.as_object_mut().unwrap().remove("additionalProperties");
                            strict = true;
                        }
                    }
                }
                if strict {
                    map.insert("unevaluatedProperties".into(), Value::Bool(false));
                }
                map.values_mut().for_each(fix_all_of);
            }
            Value::Array(items) => items.iter_mut().for_each(fix_all_of),
            _ => {}
        }
    }
    fix_all_of(doc);
    // 2. `biz_opaque_callback_data` is defined only for calls in the spec; Meta documents it for
    //    every message (≤ 512 characters) and echoes it in status webhooks.
    doc["components"]["schemas"]["BaseMessageProperties"]["properties"]
        ["biz_opaque_callback_data"] = json!({ "type": "string", "maxLength": 512 });
    // 3. `WhatsAppBusinessAccountPhoneNumber` requires `status`, but Meta's reference for
    //    `GET /{WABA-ID}/phone_numbers` shows the default fields without it (`id`,
    //    `display_phone_number`, `verified_name`, `quality_rating`, `code_verification_status`),
    //    and a field selection returns only what was asked for.
    doc["components"]["schemas"]["WhatsAppBusinessAccountPhoneNumber"]["required"] =
        json!(["id", "display_phone_number"]);
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn declared_query_params(spec: &Spec, op: &Value, path: &str) -> Vec<String> {
    let path_params = spec.doc["paths"][path]["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let op_params = op["parameters"].as_array().cloned().unwrap_or_default();
    path_params
        .iter()
        .chain(op_params.iter())
        .filter_map(|p| {
            let p = match p["$ref"].as_str() {
                Some(r) => spec
                    .doc
                    .pointer(r.trim_start_matches('#'))
                    .cloned()
                    .unwrap_or_default(),
                None => p.clone(),
            };
            (p["in"] == "query").then(|| p["name"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

/// Everything wrong with one exchange, according to the spec.
fn violations(spec: &mut Spec, ex: &Exchange) -> Vec<String> {
    let mut out = Vec::new();
    let op = spec.operation(ex.spec_path, ex.method).clone();
    let base = format!("/paths/{}/{}", escape(ex.spec_path), ex.method);

    // Query parameters: every one the client sends is declared (or a listed gap).
    let declared = declared_query_params(spec, &op, ex.spec_path);
    for (name, _) in &ex.query {
        let gap = KNOWN_SPEC_GAPS
            .iter()
            .any(|(p, q, _)| *p == ex.spec_path && q == name);
        if !declared.contains(name) && !gap {
            out.push(format!("query parameter `{name}` is not in the spec"));
        }
    }

    // Request body against the schema for its content type.
    if let (Some(ct), Some(body)) = (&ex.request_content_type, &ex.request_body) {
        let content = &op["requestBody"]["content"][ct.as_str()];
        if !content.is_object() {
            out.push(format!("the spec has no {ct} request body"));
        } else {
            let mut instance = body.clone();
            if ct == "multipart/form-data" {
                // The file part is binary; `type` is required by Meta but missing from the spec
                // (Meta's media guide and pywa send it). Check the rest of the form.
                instance["file"] = json!("<binary>");
                instance.as_object_mut().unwrap().remove("type");
            }
            let pointer = format!("{base}/requestBody/content/{}/schema", escape(ct));
            out.extend(
                spec.check(&pointer, &instance)
                    .into_iter()
                    .map(|e| format!("request: {e}")),
            );
        }
    }

    // Response against the schema for its status (or `default`). Operations whose spec lists
    // only 200 say nothing about errors; those are held against the shared GraphAPIError schema.
    let status = ex.status.to_string();
    let response_pointer =
        if op["responses"][&status]["content"]["application/json"]["schema"].is_object() {
            Some(format!(
                "{base}/responses/{status}/content/application~1json/schema"
            ))
        } else if ex.status >= 400 && ex.response_body.is_object() {
            Some("/components/schemas/GraphAPIError".to_string())
        } else if ex.status >= 400 {
            None // a non-JSON proxy failure: outside Meta's contract by design
        } else {
            out.push(format!("the spec has no {status} response"));
            None
        };
    if let Some(p) = response_pointer {
        out.extend(
            spec.check(&p, &ex.response_body)
                .into_iter()
                .map(|e| format!("response {status}: {e}")),
        );
    }
    out
}

#[tokio::test]
async fn every_request_and_answer_matches_metas_spec() {
    let e = env(fast(), true).await;
    let token = e.token();
    let pnid = e.account.phone_number_id.clone();
    let waba = e.account.business_account_id.clone();
    let app = AppCredentials {
        app_id: e.account.app_id.clone(),
        app_secret: SecretString::from(e.account.app_secret.clone()),
    };

    // The calls the product makes, successful ones first.
    e.client.phone_number(&pnid, &token, None).await.unwrap();
    e.client
        .phone_number(&pnid, &token, Some(&app.app_secret))
        .await
        .unwrap();
    e.client
        .business_phone_numbers(&waba, &token, None)
        .await
        .unwrap();
    e.client.debug_token(&token, &app).await.unwrap();
    let media = e
        .client
        .upload_pdf(&pnid, &token, None, "INV-9.pdf", pdf())
        .await
        .unwrap();
    e.sandbox.simulate_inbound(&pnid, "+447700900123", "hi");
    let doc = Outgoing::Document {
        media_id: media.id.clone(),
        filename: "INV-9.pdf".into(),
        caption: Some("Invoice INV-9".into()),
    };
    e.client
        .send_message(&pnid, &token, None, "+447700900123", &doc, Some("send:9"))
        .await
        .unwrap();
    e.client
        .send_message(
            &pnid,
            &token,
            None,
            "+447700900123",
            &Outgoing::Text {
                body: "Thanks!".into(),
            },
            None,
        )
        .await
        .unwrap();
    // The DOCUMENT header's example comes from the Resumable Upload API.
    let handle = e
        .client
        .upload_header_example(
            &app.app_id,
            &token,
            Some(&app.app_secret),
            "sample.pdf",
            pdf(),
        )
        .await
        .unwrap();
    let tpl = json!({ "name": "invoice_ready", "language": "en_US", "category": "UTILITY", "components": [
        { "type": "HEADER", "format": "DOCUMENT", "example": { "header_handle": [handle] } },
        { "type": "BODY", "text": "Hi {{1}}, invoice {{2}} for {{3}} is attached.", "example": { "body_text": [["Ana", "INV-1", "€1.00"]] } } ] });
    e.client
        .create_template(&waba, &token, None, &tpl)
        .await
        .unwrap();
    e.client.templates(&waba, &token, None).await.unwrap();
    let hello = Outgoing::Template {
        name: "hello_world".into(),
        language: "en_US".into(),
        components: vec![],
    };
    e.client
        .send_message(
            &pnid,
            &token,
            None,
            "+447700900124",
            &hello,
            Some("send:10"),
        )
        .await
        .unwrap();

    // And the failures, in Meta's error format.
    let _ = e
        .client
        .phone_number(&pnid, &SecretString::from("SANDBOXwrong"), None)
        .await;
    let _ = e.client.phone_number("123456789012345", &token, None).await;
    e.sandbox.inject(
        Fault::Api {
            code: 130429,
            subcode: None,
            status: 400,
        },
        1,
        Some(&pnid),
    );
    let _ = e
        .client
        .send_message(&pnid, &token, None, "+447700900125", &hello, None)
        .await;
    e.sandbox.inject(Fault::ServerError, 1, Some(&pnid));
    let _ = e
        .client
        .send_message(&pnid, &token, None, "+447700900125", &hello, None)
        .await;
    let _ = e
        .client
        .send_message(
            &pnid,
            &token,
            None,
            "+447700900126",
            &Outgoing::Template {
                name: "nope".into(),
                language: "en_US".into(),
                components: vec![],
            },
            None,
        )
        .await;
    let _ = e.client.create_template(&waba, &token, None, &tpl).await;
    let mut fake_header = tpl.clone();
    fake_header["name"] = json!("invoice_fake_header");
    fake_header["components"][0]["example"]["header_handle"][0] =
        json!("4::YXBwbGljYXRpb24vcGRm:ARZ");
    let _ = e
        .client
        .create_template(&waba, &token, None, &fake_header)
        .await;
    let _ = e
        .client
        .start_upload(&app.app_id, &token, None, "x.gif", 3, "image/gif")
        .await;

    let exchanges = e.sandbox.exchanges();
    assert!(exchanges.len() >= 20, "recorded {}", exchanges.len());
    let mut spec = Spec::load();
    let mut report = Vec::new();
    let mut checked = 0;
    let mut uploads = 0;
    for ex in &exchanges {
        // debug_token and the Resumable Upload API (`POST /{App-ID}/uploads`,
        // `GET|POST /{Upload-Session-ID}`) belong to the core Graph API: Meta's Business
        // Messaging spec has no such operations, so there is nothing to check them against.
        if NOT_IN_SPEC.contains(&ex.spec_path) {
            uploads += usize::from(ex.spec_path != "/{Version}/debug_token");
            continue;
        }
        checked += 1;
        for v in violations(&mut spec, ex) {
            report.push(format!(
                "{} {} → {}: {v}",
                ex.method.to_uppercase(),
                ex.spec_path,
                ex.status
            ));
        }
    }
    assert!(checked >= 16, "checked {checked}");
    assert!(uploads >= 3, "upload exchanges recorded: {uploads}");
    assert!(
        report.is_empty(),
        "contract violations:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_checker_catches_a_bad_request() {
    // A test of the test: a message without `messaging_product`/`to`, and an unknown query
    // parameter, must be reported.
    let mut spec = Spec::load();
    let bad = Exchange {
        spec_path: "/{Version}/{Phone-Number-ID}/messages",
        method: "post",
        query: vec![("bogus".into(), "1".into())],
        request_content_type: Some("application/json".into()),
        request_body: Some(json!({ "type": 17 })),
        status: 200,
        response_body: json!({ "messages": "not an array" }),
    };
    let v = violations(&mut spec, &bad);
    assert!(v.iter().any(|m| m.contains("bogus")), "{v:?}");
    assert!(v.iter().any(|m| m.starts_with("request:")), "{v:?}");
    assert!(v.iter().any(|m| m.starts_with("response 200:")), "{v:?}");
}

//! Form pieces shared by every page: labelled fields with inline errors, and the state that makes
//! a form's errors show both with WASM (from the action) and without it (from the session flash).

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What a plain (no-JavaScript) form post left behind when it failed: the error and the values
/// the user typed (never a password), shown once by the page it was sent back to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormFlash {
    pub form: String,
    pub error: AppError,
    pub values: Vec<(String, String)>,
}

/// The flash a failed no-JavaScript post of `form` left, read (once) while the page renders.
pub fn use_flash(form: &'static str) -> Resource<Option<FormFlash>> {
    Resource::new_blocking(
        || (),
        move |_| async move {
            crate::accounts::take_flash(form.to_string())
                .await
                .ok()
                .flatten()
        },
    )
}

/// The error and typed values of one form, whichever way it was submitted.
#[derive(Clone, Copy)]
pub struct FormState {
    error: Signal<Option<AppError>>,
    flash: StoredValue<Option<FormFlash>>,
}

impl FormState {
    pub fn new<T, S>(result: S, flash: Option<FormFlash>) -> Self
    where
        T: Send + Sync + Clone + 'static,
        S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
    {
        let flash_error = flash.as_ref().map(|f| f.error.clone());
        let error = Signal::derive(move || match result.get() {
            Some(Err(e)) => Some(e),
            Some(Ok(_)) => None,
            None => flash_error.clone(),
        });
        FormState {
            error,
            flash: StoredValue::new(flash),
        }
    }

    pub fn field(&self, name: &'static str) -> Signal<Option<String>> {
        let error = self.error;
        Signal::derive(move || error.get().and_then(|e| e.field(name)))
    }

    /// The message for a field whose name is computed (for example `lines.3.quantity`).
    pub fn field_dyn(
        &self,
        name: impl Fn() -> String + Send + Sync + 'static,
    ) -> Signal<Option<String>> {
        let error = self.error;
        Signal::derive(move || error.get().and_then(|e| e.field(&name())))
    }

    /// The message that is not tied to one field (also validation messages keyed `form`).
    pub fn message(&self) -> Signal<Option<String>> {
        let error = self.error;
        Signal::derive(move || {
            error
                .get()
                .and_then(|e| e.form_message().or_else(|| e.field("form")))
        })
    }

    /// The value the user typed before a failed plain form post.
    pub fn value(&self, name: &str) -> Option<String> {
        self.flash.with_value(|f| {
            f.as_ref().and_then(|f| {
                f.values
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
        })
    }
}

/// A labelled input with its hint and inline error, wired for screen readers.
#[component]
pub fn TextField(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] value: Option<String>,
    #[prop(optional)] required: bool,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let described_by = described_by(&id, hint.is_some(), error);
    view! {
        <FieldFrame id=id.clone() label required hint error>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                value=value
                required=required
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=described_by
            />
        </FieldFrame>
    }
}

/// What a field's control is described by: its hint, if it has one, and its error while shown.
fn described_by(
    id: &str,
    has_hint: bool,
    error: Signal<Option<String>>,
) -> impl Fn() -> Option<String> + Clone + Send + Sync + 'static {
    let (error_id, hint_id) = (format!("{id}-error"), format!("{id}-hint"));
    move || {
        let mut ids = Vec::new();
        if has_hint {
            ids.push(hint_id.clone());
        }
        if error.get().is_some() {
            ids.push(error_id.clone());
        }
        (!ids.is_empty()).then(|| ids.join(" "))
    }
}

/// The label, hint and inline error around one field's control (ids as [`described_by`] reads
/// them).
#[component]
fn FieldFrame(
    id: String,
    label: &'static str,
    required: bool,
    hint: Option<&'static str>,
    error: Signal<Option<String>>,
    children: Children,
) -> impl IntoView {
    let (error_id, hint_id) = (format!("{id}-error"), format!("{id}-hint"));
    view! {
        <div class="field" class:has-error=move || error.get().is_some()>
            <label for=id>
                {label}
                {(!required).then(|| view! { <span class="optional">" (optional)"</span> })}
            </label>
            {hint.map(|h| view! { <p class="hint" id=hint_id>{h}</p> })}
            {children()}
            <p class="field-error" id=error_id aria-live="polite">
                {move || error.get()}
            </p>
        </div>
    }
}

/// The banner for an error that belongs to the whole form.
#[component]
pub fn FormMessage(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <div class="form-message" role="alert" aria-live="assertive">
            {move || message.get().map(|m| view! { <p class="alert alert-error">{m}</p> })}
        </div>
    }
}

/// Text for the inside of a `<textarea>`: its content is not escaped when a page is rendered on
/// the server (it is raw text to HTML, like `<script>`), so a note holding `</textarea>` would end
/// the field and inject the rest as markup. `&` and `<` are all that RCDATA needs escaped.
pub fn textarea_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;")
}

/// A labelled textarea with its hint and inline error: the multi-line sibling of [`TextField`].
#[component]
pub fn TextArea(
    label: &'static str,
    name: &'static str,
    /// The element id, when one page has several forms with the same field (`field-{name}`).
    #[prop(optional)]
    id: Option<String>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] value: String,
    #[prop(default = 3)] rows: u32,
    #[prop(optional)] required: bool,
    #[prop(into, optional)] error: Signal<Option<String>>,
) -> impl IntoView {
    let id = id.unwrap_or_else(|| format!("field-{name}"));
    let described_by = described_by(&id, hint.is_some(), error);
    view! {
        <FieldFrame id=id.clone() label required hint error>
            <textarea
                id=id
                name=name
                rows=rows
                required=required
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=described_by
                inner_html=textarea_html(&value)
            ></textarea>
        </FieldFrame>
    }
}

/// An error in place of a page's content. While the page renders on the server it also sets the
/// response's status from the error (404 for another user's invoice, 401, 500…), so no error
/// page answers 200.
#[component]
pub fn ErrorNotice(
    error: AppError,
    /// The page's heading, when the error replaces the whole page.
    #[prop(optional)]
    heading: Option<&'static str>,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        if !crate::platform::context::is_server_fn_request() {
            res.set_status(
                axum::http::StatusCode::from_u16(error.status_code())
                    .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
            );
        }
    }
    view! {
        {heading.map(|h| view! { <h1>{h}</h1> })}
        <p class="alert alert-error" role="alert">{error.to_string()}</p>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn textarea_text_cannot_close_its_element() {
        let html = super::textarea_html("a </textarea><meta http-equiv=refresh> & b");
        assert_eq!(html, "a &lt;/textarea>&lt;meta http-equiv=refresh> &amp; b");
        assert!(!html.to_ascii_lowercase().contains("</textarea"));
    }
}

//! "Send a test message to my own number", on Settings → WhatsApp Integration and the wizard's
//! last step: a template to the user's own WhatsApp (the invoice template with a sample PDF
//! when it is approved, else Meta's `hello_world`), and its round trip shown live as the
//! provider reports it: accepted, sent, delivered, read, and the status webhook's arrival. It
//! proves the token, the template, the number and the webhooks before a tenant relies on them,
//! and works with the sandbox too. The server half ([`server`]) owns `whatsapp_self_tests`.

#[cfg(feature = "ssr")]
pub mod server;

use crate::{
    components::form::{FormFlash, FormMessage, FormState, TextField},
    components::live::{Refresh, Watch},
    connections::ProblemBox,
    error::{AppError, WhatsAppProblem},
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One leg of the round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    Accepted,
    Sent,
    Delivered,
    Read,
    /// The first status webhook reached Axis CRM.
    Webhook,
}

impl Step {
    pub fn label(self) -> &'static str {
        match self {
            Step::Accepted => "Accepted by WhatsApp",
            Step::Sent => "Sent",
            Step::Delivered => "Delivered to your phone",
            Step::Read => "Read on your phone",
            Step::Webhook => "Status webhook received by Axis CRM",
        }
    }
}

/// The latest test and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundTrip {
    pub id: i64,
    pub to: String,
    pub template: String,
    /// The invoice template with a sample PDF (else a template without attachment).
    pub with_document: bool,
    pub started_text: String,
    /// Each leg, with when it happened.
    pub steps: Vec<(Step, Option<String>)>,
    pub problem: Option<WhatsAppProblem>,
    /// Read, failed, or given up on: the page stops asking.
    pub finished: bool,
    /// Accepted over a minute ago and no status webhook has come.
    pub webhooks_silent: bool,
}

impl RoundTrip {
    /// Every leg done: the whole path works.
    pub fn works(&self) -> bool {
        self.steps.iter().all(|(_, at)| at.is_some())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SelfTestView {
    /// The number the last test went to, to offer again.
    pub number: String,
    pub test: Option<RoundTrip>,
}

impl SelfTestView {
    /// The test and the legs of its round trip done so far (see `components::live`).
    pub fn live_key(&self) -> String {
        self.test
            .as_ref()
            .map(|t| {
                let legs: String = t
                    .steps
                    .iter()
                    .map(|(_, at)| if at.is_some() { '1' } else { '0' })
                    .collect();
                format!("{}|{legs}|{}|{}", t.id, t.finished, t.webhooks_silent)
            })
            .unwrap_or_default()
    }
}

#[server(endpoint = "whatsapp/self_test")]
pub async fn get_self_test() -> Result<SelfTestView, AppError> {
    use crate::platform::context as srv;
    let result = async {
        let state = srv::app_state()?;
        let user_id = srv::require_user_id().await?;
        server::view(&state, user_id).await
    }
    .await;
    srv::finish("", &[], result).await
}

#[server(endpoint = "whatsapp/self_test/start")]
pub async fn start_self_test(number: String) -> Result<i64, AppError> {
    use crate::platform::context as srv;
    let result = async {
        let state = srv::app_state()?;
        let user_id = srv::require_user_id().await?;
        server::start(&state, user_id, &number).await
    }
    .await;
    srv::finish("self-test", &[("number", number.as_str())], result).await
}

/// The self-test card. `back` is the page a "Check again" link reloads without JavaScript;
/// `flash` is the page's `use_flash("self-test")`, taken where the page starts (as every
/// page's flashes are).
///
/// On its own page the card's heading is an `h2`; inside a wizard step (`nested`), whose title
/// is the `h2`, it is an `h3`, so the outline stays one level at a time.
#[component]
pub fn SelfTestCard(
    back: &'static str,
    flash: Option<FormFlash>,
    #[prop(optional)] nested: bool,
) -> impl IntoView {
    const TITLE: &str = "Send a test message to my own number";
    let heading = if nested {
        view! { <h3 id="self-test-h">{TITLE}</h3> }.into_any()
    } else {
        view! { <h2 id="self-test-h">{TITLE}</h2> }.into_any()
    };
    let start = ServerAction::<StartSelfTest>::new();
    let form_data = Resource::new_blocking(move || start.version().get(), |_| get_self_test());
    let trip = Resource::new_blocking(move || start.version().get(), |_| get_self_test());
    view! {
        <section class="card" aria-labelledby="self-test-h" id="self-test">
            {heading}
            <p>
                "Axis CRM sends a template to your own WhatsApp and shows the round trip as it happens: accepted, "
                "sent, delivered, read, and the status webhook that told Axis CRM. It uses the invoice template "
                "with a sample PDF once that is approved, else Meta's hello_world. "
                {crate::help::pricing::SELF_TEST}
            </p>
            <Transition fallback=|| ()>
                {move || {
                    let flash = flash.clone();
                    Suspend::new(async move {
                    let v = form_data.await.unwrap_or_default();
                    let form = FormState::new(start.value(), flash);
                    view! {
                        <ActionForm action=start attr:novalidate=true attr:class="stack">
                            <FormMessage message=form.message()/>
                            <TextField label="Your WhatsApp number" name="number" kind="tel" autocomplete="tel" required=true
                                hint="Your personal WhatsApp, not the business number. Without a country code it is read as your default country."
                                value=form.value("number").unwrap_or(v.number) error=form.field("number")/>
                            <div class="actions">
                                <button type="submit" class="button secondary" disabled=move || start.pending().get()>
                                    {move || if start.pending().get() { "Sending…" } else { "Send a test message" }}
                                </button>
                            </div>
                        </ActionForm>
                    }
                })}}
            </Transition>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let v = trip.await.ok()?;
                    // Hydrated, the page follows the round trip while it runs (ten minutes at most).
                    let refresh = v.test.as_ref().is_some_and(|t| !t.finished).then(|| view! {
                        <Refresh watch=Watch::SelfTest seen=v.live_key() every_ms=1500 limit=400/>
                    });
                    v.test.map(|t| view! { {refresh} <RoundTripView t back nested/> })
                })}
            </Transition>
        </section>
    }
}

#[component]
fn RoundTripView(t: RoundTrip, back: &'static str, nested: bool) -> impl IntoView {
    let what = if t.with_document {
        format!("{} with a sample PDF", t.template)
    } else {
        t.template.clone()
    };
    let works = t.works();
    view! {
        <div class="round-trip" aria-live="polite">
            {if nested {
                view! { <h4>{format!("Test to {}", t.to)}</h4> }.into_any()
            } else {
                view! { <h3>{format!("Test to {}", t.to)}</h3> }.into_any()
            }}
            <p class="muted">{format!("{what}, started {}.", t.started_text)}</p>
            <ol class="trip-steps">
                {t.steps.iter().map(|(step, at)| {
                    let done = at.is_some();
                    view! {
                        <li class:done=done>
                            <span class="trip-mark" aria-hidden="true">{if done { "✓" } else { "○" }}</span>
                            " " {step.label()} ": "
                            {at.clone().unwrap_or_else(|| if t.finished { "did not happen".into() } else { "waiting".into() })}
                        </li>
                    }
                }).collect_view()}
            </ol>
            {works.then(|| view! {
                <p class="alert alert-ok" role="status">
                    "The round trip works: WhatsApp took the message, your phone received and read it, and its status reached Axis CRM by webhook."
                </p>
            })}
            {t.webhooks_silent.then(|| view! {
                <p class="alert alert-warn">
                    "WhatsApp took the message, but no status webhook has reached Axis CRM, so invoices will show no ticks and replies will not open the 24-hour window. "
                    <a href=crate::help::troubleshooting::href("webhook-not-verified")>"Troubleshooting: Webhook not verified"</a>
                </p>
            })}
            {t.problem.clone().map(|p| view! { <ProblemBox problem=p/> })}
            // Hydrated, the steps update by themselves; without JavaScript this reloads them.
            {(!t.finished).then(|| view! {
                <p><a href=format!("{back}#self-test")>"Check again"</a></p>
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trip(done: &[Step]) -> RoundTrip {
        let all = [
            Step::Accepted,
            Step::Sent,
            Step::Delivered,
            Step::Read,
            Step::Webhook,
        ];
        RoundTrip {
            id: 1,
            to: "+447700900123".into(),
            template: "hello_world".into(),
            with_document: false,
            started_text: String::new(),
            steps: all
                .iter()
                .map(|s| (*s, done.contains(s).then(|| "12:00".to_string())))
                .collect(),
            problem: None,
            finished: false,
            webhooks_silent: false,
        }
    }

    #[test]
    fn the_round_trip_works_only_when_every_leg_happened() {
        assert!(!trip(&[Step::Accepted, Step::Sent, Step::Delivered, Step::Read]).works());
        let all = trip(&[
            Step::Accepted,
            Step::Sent,
            Step::Delivered,
            Step::Read,
            Step::Webhook,
        ]);
        assert!(all.works());
    }
}

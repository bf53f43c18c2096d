//! The WhatsApp Integration page and its pieces. `ConnectForm` is shared with the setup wizard.

use super::*;
use crate::{
    components::form::{use_flash, FormFlash, FormMessage, FormState, TextField},
    error::WhatsAppProblem,
};

/// Meta's answer explained: the troubleshooting entry, what to do, and Meta's own words.
#[component]
pub fn ProblemBox(problem: WhatsAppProblem) -> impl IntoView {
    view! {
        <div class="problem" role="alert">
            <h3 class="problem-title">{problem.title.clone()}</h3>
            <p>{problem.explanation.clone()}</p>
            <ol class="problem-steps">{problem.steps.iter().map(|s| view! { <li>{s.clone()}</li> }).collect_view()}</ol>
            <p class="problem-link">
                <a href=crate::help::troubleshooting::href(&problem.anchor)>{format!("Troubleshooting: {}", problem.title)}</a>
            </p>
            {(problem.provider_message.is_some() || problem.trace_id.is_some()).then(|| view! {
                <p class="problem-meta">
                    "Meta said"
                    {problem.code.map(|c| format!(" (error {c})"))}
                    ": "
                    <q>{problem.provider_message.clone().unwrap_or_default()}</q>
                    {problem.trace_id.clone().map(|id| view! { " · trace id " <code>{id}</code> " (quote it to Meta support)" })}
                </p>
            })}
        </div>
    }
}

pub fn problem_of<T: Clone + Send + Sync + 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
    flash: Option<AppError>,
) -> Signal<Option<WhatsAppProblem>> {
    Signal::derive(move || match value.get() {
        Some(Err(e)) => e.whatsapp().cloned(),
        Some(Ok(_)) => None,
        None => flash.as_ref().and_then(|e| e.whatsapp().cloned()),
    })
}

/// The connection form of the setup guide's step 6, with the optional advanced fields.
#[component]
pub fn ConnectForm(
    action: ServerAction<ConnectWhatsapp>,
    flash: Option<FormFlash>,
) -> impl IntoView {
    let problem = problem_of(action.value(), flash.as_ref().map(|f| f.error.clone()));
    let form = FormState::new(action.value(), flash);
    let open_advanced = form.value("app_id").is_some_and(|v| !v.is_empty())
        || form.field("app_secret").get_untracked().is_some();
    view! {
        <ActionForm action=action attr:novalidate=true attr:class="stack" attr:id="connect-form">
            <FormMessage message=form.message()/>
            {move || problem.get().map(|p| view! { <ProblemBox problem=p/> })}
            <TextField label="Phone Number ID" name="phone_number_id" required=true
                hint="A long number such as 123456789012345, under WhatsApp → API Setup. Not the phone number itself."
                value=form.value("phone_number_id").unwrap_or_default() error=form.field("phone_number_id")/>
            <TextField label="Access Token" name="access_token" kind="password" required=true autocomplete="off"
                hint="Use a permanent system-user token; temporary tokens stop working after 24 hours. Stored encrypted, never shown again."
                error=form.field("access_token")/>
            <TextField label="Business Account ID" name="business_account_id"
                hint="Your WhatsApp Business Account ID. When given, Axis CRM checks that the number belongs to it."
                value=form.value("business_account_id").unwrap_or_default() error=form.field("business_account_id")/>
            <TextField label="Phone Number" name="phone_number" kind="tel" autocomplete="tel"
                hint="Your WhatsApp Business number with its country code, like +44 7911 123456."
                value=form.value("phone_number").unwrap_or_default() error=form.field("phone_number")/>
            <details class="advanced" open=open_advanced>
                <summary>"Advanced: App ID and App Secret"</summary>
                <p class="hint">
                    "From your Meta app's App settings → Basic. With them Axis CRM can tell a temporary token from a "
                    "permanent one and warn before it expires, check the signatures of Meta's webhooks, and create "
                    "message templates. The App Secret is stored encrypted."
                </p>
                <TextField label="App ID" name="app_id" value=form.value("app_id").unwrap_or_default() error=form.field("app_id")/>
                <TextField label="App Secret" name="app_secret" kind="password" autocomplete="off" error=form.field("app_secret")/>
            </details>
            <button type="submit" class="button primary" disabled=move || action.pending().get()>
                {move || if action.pending().get() { "Checking with Meta…" } else { "Connect" }}
            </button>
        </ActionForm>
    }
}

/// The offer to connect the built-in simulator instead of Meta, on the settings page and in the
/// setup wizard.
#[component]
pub fn SandboxOffer(
    action: ServerAction<ConnectSandbox>,
    flash: Option<FormFlash>,
) -> impl IntoView {
    let problem = problem_of(action.value(), flash.as_ref().map(|f| f.error.clone()));
    let message = FormState::new(action.value(), flash).message();
    view! {
        <section class="card sandbox-offer" aria-labelledby="sandbox-h">
            <div class="card-head">
                <h2 id="sandbox-h">"No Meta account yet? Try the sandbox"</h2>
                <span class="badge sandbox">"SANDBOX"</span>
            </div>
            <p>
                "The sandbox is a simulator of the WhatsApp Cloud API built into Axis CRM. It answers and "
                "fails the way Meta does, so you can try every step without a Meta account. Nothing "
                "reaches Meta or a real phone, and your real credentials never go to it. Steps done with "
                "it are marked Sandbox; to use your real account later, disconnect the sandbox under "
                "Settings → WhatsApp Integration and connect again."
            </p>
            <ActionForm action=action>
                <FormMessage message=message/>
                {move || problem.get().map(|p| view! { <ProblemBox problem=p/> })}
                <button type="submit" class="button secondary" disabled=move || action.pending().get()>"Use sandbox"</button>
            </ActionForm>
        </section>
    }
}

/// A read-only value with a copy button (the button needs JavaScript, so it shows once the
/// islands have hydrated; without it the value is selected and copied by hand).
#[component]
pub fn CopyField(label: &'static str, name: &'static str, value: String) -> impl IntoView {
    let id = format!("copy-{name}");
    view! {
        <div class="field copy-field">
            <label for=id.clone()>{label}</label>
            <div class="copy-row">
                <input id=id readonly value=value.clone()/>
                <CopyButton label=label.to_string() value/>
            </div>
        </div>
    }
}

/// "Copy": puts `value` on the clipboard.
#[island]
fn CopyButton(label: String, value: String) -> impl IntoView {
    let (copied, set_copied) = signal(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let _ = window().navigator().clipboard().write_text(&value);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &value;
        set_copied.set(true);
    };
    view! {
        <button type="button" class="button secondary copy-button js-only" on:click=copy aria-label=format!("Copy {label}")>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

fn row(label: &'static str, value: Option<String>) -> impl IntoView {
    value
        .filter(|v| !v.is_empty())
        .map(|v| view! { <dt>{label}</dt><dd>{v}</dd> })
}

#[component]
fn ConnectionCard(
    c: ConnectionView,
    test: ServerAction<TestWhatsapp>,
    replace: ServerAction<ReplaceWhatsappToken>,
    disconnect: ServerAction<DisconnectWhatsapp>,
    subscribe: ServerAction<SubscribeWhatsappWebhooks>,
    flashes: (Option<FormFlash>, Option<FormFlash>, Option<FormFlash>),
) -> impl IntoView {
    let subscribe_problem = problem_of(
        subscribe.value(),
        flashes.2.as_ref().map(|f| f.error.clone()),
    );
    let test_problem = problem_of(test.value(), flashes.0.as_ref().map(|f| f.error.clone()));
    let replace_form = FormState::new(replace.value(), flashes.1.clone());
    let replace_problem = problem_of(replace.value(), flashes.1.as_ref().map(|f| f.error.clone()));
    let temporary = c.token.kind == "temporary";
    let expiring = c.token.kind == "expiring";
    let title = c
        .verified_name
        .clone()
        .unwrap_or_else(|| "WhatsApp Business number".into());
    view! {
        <section class="card connection" aria-labelledby="connection-h">
            <div class="card-head">
                <h2 id="connection-h">{title}</h2>
                {c.sandbox.then(|| view! { <span class="badge sandbox" title="A simulator: nothing reaches Meta or real phones">"SANDBOX"</span> })}
                <span class="badge ok">"Connected"</span>
            </div>
            {temporary.then(|| view! {
                <div class="alert alert-warn" role="status">
                    <strong>"This is a temporary token. "</strong>
                    {format!("It stops working in {} ({}). ",
                        c.token.time_left().unwrap_or_default(), c.token.expires_at_text.clone().unwrap_or_default())}
                    "Make a permanent one: Business Settings → Users → System users → add a system user (Admin), assign it "
                    "your app and WhatsApp account, then Generate token with whatsapp_business_messaging and "
                    "whatsapp_business_management and expiry Never. Then use Replace token below."
                </div>
            })}
            {expiring.then(|| view! {
                <div class="alert alert-warn" role="status">
                    {format!("This token expires in {} ({}). Generate one with expiry Never and use Replace token.",
                        c.token.time_left().unwrap_or_default(), c.token.expires_at_text.clone().unwrap_or_default())}
                </div>
            })}
            {(!c.health_problems.is_empty()).then(|| view! {
                <div class="alert alert-error" role="status">
                    <strong>"Meta reports problems that block sending: "</strong>
                    <ul>{c.health_problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view()}</ul>
                </div>
            })}
            {c.account_notice.clone().map(|n| view! {
                <div class=if c.paused_text.is_some() { "alert alert-error" } else { "alert alert-warn" } role="status" id="account-notice">
                    <p><strong>"Meta about this account: "</strong>{n}</p>
                    {c.paused_text.clone().map(|p| view! { <p><strong>{p}</strong>" Invoices stay queued and go out when it ends."</p> })}
                </div>
            })}
            {c.last_check_error.clone().map(|e| view! {
                <p class="alert alert-error">
                    {format!("The last check failed: {e}. Test the connection again after fixing it. ")}
                    <a href=crate::help::troubleshooting::href(crate::help::troubleshooting::anchor_for_title(&e))>"How to fix it"</a>
                </p>
            })}
            <dl class="facts">
                {row("Display phone number", c.display_phone_number.clone())}
                {row("Phone Number ID", Some(c.phone_number_id.clone()))}
                {row("Business Account ID", c.business_account_id.clone())}
                {row("Quality rating", c.quality_rating.clone())}
                {row("Display name status", c.name_status.clone())}
                {row("Messaging limit", c.messaging_limit_text())}
                {row("Throughput", c.throughput_text())}
                {row("Account mode", c.account_mode.clone())}
                <dt>"Access token"</dt>
                <dd>{format!("…{} · {}", c.token_last4, c.token.label())}</dd>
                {row("Token expires", c.token.expires_at_text.clone())}
                {row("App ID", c.app_id.clone())}
                {row("Connected", Some(c.connected_at_text.clone()))}
                {row("Last checked", Some(c.last_checked_at_text.clone()))}
            </dl>
            <div class="actions">
                <ActionForm action=test>
                    <button type="submit" class="button secondary" disabled=move || test.pending().get()>
                        {move || if test.pending().get() { "Testing…" } else { "Test connection" }}
                    </button>
                </ActionForm>
                <p class="status" role="status">{move || matches!(test.value().get(), Some(Ok(_))).then_some("Connection works.")}</p>
            </div>
            {move || test_problem.get().map(|p| view! { <ProblemBox problem=p/> })}

            <details class="action-panel" open=flashes.1.is_some()>
                <summary>"Replace token"</summary>
                <ActionForm action=replace attr:novalidate=true attr:class="stack">
                    {move || replace_problem.get().map(|p| view! { <ProblemBox problem=p/> })}
                    <TextField label="New Access Token" name="access_token" kind="password" required=true
                        hint="Checked with Meta before it replaces the current one." error=replace_form.field("access_token")/>
                    <button type="submit" class="button primary">"Replace token"</button>
                </ActionForm>
            </details>
            <details class="action-panel danger">
                <summary>"Disconnect"</summary>
                <ActionForm action=disconnect attr:class="stack">
                    <p>"Disconnect WhatsApp? Axis CRM deletes the stored access token and App Secret. Invoices can no longer be sent until you connect again."</p>
                    <button type="submit" class="button danger">"Yes, disconnect"</button>
                </ActionForm>
            </details>
        </section>
        <section class="card" aria-labelledby="webhook-h">
            <h2 id="webhook-h">"Webhook"</h2>
            <p>
                "Meta reports deliveries, read receipts and tenants' replies to this address. In your Meta app open "
                "WhatsApp → Configuration, click Edit under Webhook, paste the Callback URL and the Verify Token, then "
                "subscribe to the " <code>"messages"</code> " and " <code>"message_template_status_update"</code> " fields. "
                "Meta only calls https addresses that it can reach from the internet (set AXIS_PUBLIC_URL). "
                <a href="/onboarding/webhook">"The setup guide's webhook step"</a> " shows live when Meta's verification request and first event arrive."
            </p>
            <CopyField label="Callback URL" name="callback" value=c.webhook_url.clone()/>
            <CopyField label="Verify Token" name="verify" value=c.verify_token.clone()/>
            {(!c.has_app_secret).then(|| view! {
                <p class="alert alert-warn">"Add the App Secret (Advanced, when connecting) so Axis CRM can check Meta's signatures. Until then webhooks are refused, and the ticks stop at \"accepted\"."</p>
            })}
            <dl class="facts">
                <dt>"Last verification by Meta"</dt>
                <dd>{c.webhook_verified_text.clone().unwrap_or_else(|| "never".into())}</dd>
                <dt>"Last event received"</dt>
                <dd>{c.webhook_event_text.clone().unwrap_or_else(|| "never".into())}</dd>
            </dl>
            {match c.webhooks_subscribed {
                Some(true) => view! {
                    <p class="status" id="webhook-subscription">"Subscribed: Meta sends this app the account's webhooks."</p>
                }.into_any(),
                Some(false) => view! {
                    <div class="alert alert-warn" id="webhook-subscription" role="status">
                        <p>
                            <strong>"Your app is not subscribed to this WhatsApp Business Account. "</strong>
                            "Until it is, Meta sends no webhook at all: the ticks stop at \"accepted\" and tenants' replies "
                            "never arrive, even with the Callback URL saved. Subscribe fixes it (the same as "
                            <code>"POST /{waba-id}/subscribed_apps"</code> ")."
                        </p>
                        <ActionForm action=subscribe>
                            <button type="submit" class="button primary" disabled=move || subscribe.pending().get()>"Subscribe"</button>
                        </ActionForm>
                    </div>
                }.into_any(),
                None => view! {
                    <p class="muted" id="webhook-subscription">"Whether the app is subscribed to the account's webhooks is not known (it needs the Business Account ID). Test connection checks it."</p>
                }.into_any(),
            }}
            {move || subscribe_problem.get().map(|p| view! { <ProblemBox problem=p/> })}
        </section>
    }
}

/// Sandbox connections only: play one of Meta's or a customer's moves, to see how Axis CRM
/// handles it.
#[component]
pub fn SandboxPlays(flash: Option<FormFlash>) -> impl IntoView {
    let play = ServerAction::<PlaySandbox>::new();
    view! {
        <section class="card" aria-labelledby="plays-h" id="sandbox-plays">
            <h2 id="plays-h">"Play Meta's part (sandbox)"</h2>
            <p>"See what Axis CRM does when Meta or a customer does something you cannot make happen on demand. The effect arrives by webhook a moment later, as from Meta."</p>
            <Suspense fallback=|| ()>
                {move || {
                    let form = FormState::new(play.value(), flash.clone());
                    let chosen = form.value("event");
                    view! {
                        <ActionForm action=play attr:class="inline-form" attr:novalidate=true>
                            <FormMessage message=form.message()/>
                            <div class="field">
                                <label for="sandbox-event">"What happens"</label>
                                <select id="sandbox-event" name="event" aria-describedby="sandbox-event-error">
                                    {SandboxPlay::ALL.iter().map(|p| view! {
                                        <option value=p.key() selected=chosen.as_deref() == Some(p.key())>{p.label()}</option>
                                    }).collect_view()}
                                </select>
                                <p class="field-error" id="sandbox-event-error" aria-live="polite">{move || form.field("event").get()}</p>
                            </div>
                            <button type="submit" class="button secondary" disabled=move || play.pending().get()>"Play (sandbox)"</button>
                        </ActionForm>
                    }
                }}
            </Suspense>
            <p class="status" role="status">{move || play.value().get().and_then(|r| r.ok())}</p>
        </section>
    }
}

#[component]
pub fn WhatsAppSettingsPage() -> impl IntoView {
    let connect = ServerAction::<ConnectWhatsapp>::new();
    let sandbox = ServerAction::<ConnectSandbox>::new();
    let test = ServerAction::<TestWhatsapp>::new();
    let test_env = ServerAction::<TestEnvWhatsapp>::new();
    let replace = ServerAction::<ReplaceWhatsappToken>::new();
    let disconnect = ServerAction::<DisconnectWhatsapp>::new();
    let subscribe = ServerAction::<SubscribeWhatsappWebhooks>::new();
    let data = Resource::new_blocking(
        move || {
            (
                connect.version().get(),
                sandbox.version().get(),
                test.version().get(),
                replace.version().get(),
                disconnect.version().get(),
                subscribe.version().get(),
            )
        },
        |_| get_whatsapp(),
    );
    let flashes = (
        use_flash("whatsapp-connect"),
        use_flash("whatsapp-sandbox"),
        use_flash("whatsapp-test"),
        use_flash("whatsapp-replace"),
        use_flash("whatsapp-subscribe"),
        use_flash("self-test"),
        use_flash("sandbox-play"),
        use_flash("whatsapp-templates"),
    );
    view! {
        <h1>"WhatsApp Integration"</h1>
        <p class="lead">
            "Connect your own WhatsApp Business account through Meta's WhatsApp Cloud API to send invoices to your "
            "tenants with the PDF attached. " <a href="/onboarding">"The setup guide"</a> " shows where to find each value."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let page = data.await;
                let (connect_flash, sandbox_flash, test_flash, replace_flash, subscribe_flash) =
                    (flashes.0.await, flashes.1.await, flashes.2.await, flashes.3.await, flashes.4.await);
                let (self_test_flash, play_flash, templates_flash) =
                    (flashes.5.await, flashes.6.await, flashes.7.await);
                match page {
                    Err(e) => view! { <p class="alert alert-error">{e.to_string()}</p> }.into_any(),
                    Ok(WhatsAppPage { connection: Some(c), .. }) => {
                        let sandbox_connected = c.sandbox;
                        view! {
                            <ConnectionCard c test replace disconnect subscribe flashes=(test_flash, replace_flash, subscribe_flash)/>
                            <crate::selftest::SelfTestCard back="/settings/whatsapp" flash=self_test_flash/>
                            {sandbox_connected.then(|| view! { <SandboxPlays flash=play_flash/> })}
                            <crate::sending::SendingSection flash=templates_flash/>
                        }.into_any()
                    }
                    Ok(page) => {
                        let env_problem = problem_of(test_env.value(), None);
                        view! {
                            {page.env_managed.then(|| view! {
                                <section class="card" aria-labelledby="env-h">
                                    <div class="card-head">
                                        <h2 id="env-h">"Managed by environment"</h2>
                                        <span class="badge">"Server settings"</span>
                                    </div>
                                    <p>
                                        "This server supplies WhatsApp credentials through its environment, and Axis CRM uses "
                                        "them until you connect an account of your own below. They are not shown here."
                                    </p>
                                    <ActionForm action=test_env>
                                        <button type="submit" class="button secondary">"Test connection"</button>
                                    </ActionForm>
                                    {move || test_env.value().get().and_then(|r| r.ok()).map(|v| view! {
                                        <p class="status" role="status">
                                            {format!("Connection works: {} ({}), {}.",
                                                v.verified_name.unwrap_or_default(), v.display_phone_number.unwrap_or_default(), v.token.label())}
                                        </p>
                                    })}
                                    {move || env_problem.get().map(|p| view! { <ProblemBox problem=p/> })}
                                </section>
                            })}
                            <section class="card" aria-labelledby="connect-h">
                                <h2 id="connect-h">"Connect your WhatsApp Business account"</h2>
                                <ConnectForm action=connect flash=connect_flash/>
                            </section>
                            {page.sandbox_available.then(|| view! { <SandboxOffer action=sandbox flash=sandbox_flash.clone()/> })}
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
    }
}

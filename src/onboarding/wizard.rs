//! The wizard's pages: one step at a time at `/onboarding/{step}`, with the progress bar and the
//! list of steps beside it. Every control is a plain form or link, so it works without WASM; with
//! it, the webhook and send steps look again for Meta's answers (`components::live`).

use super::{
    steps::{self, Check, Step, STEPS},
    *,
};
use crate::{
    components::{
        form::{use_flash, ErrorNotice, FormFlash, FormMessage, FormState},
        links::{ExternalLink, ExternalLinks},
        live::{use_interval, Refresh, Watch},
    },
    connections::{
        problem_of, ConnectForm, ConnectSandbox, ConnectWhatsapp, CopyField, ProblemBox,
        SandboxOffer,
    },
    help::troubleshooting::{PERMANENT_TOKEN, REPLACE_TOKEN, SYSTEM_USERS},
    invoices::api::LoadSampleData,
    sending::{
        get_send_preview, CreateInvoiceTemplate, SandboxReply, SendBadge, SendConfirm, SendInvoice,
        SendTicks,
    },
};
use leptos_router::hooks::{use_location, use_params_map, use_query_map};

/// Every action the wizard's forms post to. (All are `Copy`.)
#[derive(Clone, Copy)]
struct Actions {
    mark: ServerAction<MarkStep>,
    skip: ServerAction<SkipWizard>,
    finish: ServerAction<FinishWizard>,
    resume: ServerAction<ResumeWizard>,
    connect: ServerAction<ConnectWhatsapp>,
    sandbox: ServerAction<ConnectSandbox>,
    hook: ServerAction<SandboxWebhook>,
    sample: ServerAction<LoadSampleData>,
    send: ServerAction<SendInvoice>,
}

struct Flashes {
    connect: Option<FormFlash>,
    sandbox: Option<FormFlash>,
    hook: Option<FormFlash>,
    send: Option<FormFlash>,
    self_test: Option<FormFlash>,
}

/// `/onboarding` (where the user left off) and `/onboarding/{step}`.
#[component]
pub fn WizardPage() -> impl IntoView {
    let params = use_params_map();
    let a = Actions {
        mark: ServerAction::new(),
        skip: ServerAction::new(),
        finish: ServerAction::new(),
        resume: ServerAction::new(),
        connect: ServerAction::new(),
        sandbox: ServerAction::new(),
        hook: ServerAction::new(),
        sample: ServerAction::new(),
        send: ServerAction::new(),
    };
    let data = Resource::new_blocking(
        move || {
            (
                params.read().get("step"),
                (a.mark.version().get(), a.resume.version().get()),
                (
                    a.connect.version().get(),
                    a.sandbox.version().get(),
                    a.hook.version().get(),
                ),
                (a.sample.version().get(), a.send.version().get()),
            )
        },
        |(step, ..)| get_wizard(step),
    );
    let flashes = (
        use_flash("whatsapp-connect"),
        use_flash("whatsapp-sandbox"),
        use_flash("onboarding-sandbox-webhook"),
        use_flash("whatsapp-send"),
        use_flash("self-test"),
    );
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let f = Flashes {
                    connect: flashes.0.await,
                    sandbox: flashes.1.await,
                    hook: flashes.2.await,
                    send: flashes.3.await,
                    self_test: flashes.4.await,
                };
                match data.await {
                    Err(AppError::NotFound) => view! {
                        <h1>"Setup guide"</h1>
                        <p class="alert alert-error" role="alert">
                            "There is no such step. " <a href="/onboarding">"Go to the setup guide"</a>
                        </p>
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e heading="Setup guide"/> }.into_any(),
                    Ok(w) => wizard_view(w, a, f).into_any(),
                }
            })}
        </Transition>
    }
}

fn wizard_view(w: Wizard, a: Actions, f: Flashes) -> impl IntoView {
    let s: &'static Step = steps::step(&w.step).unwrap_or(&STEPS[0]);
    let state = w.state(s.key).cloned();
    let sandbox = w.connection.as_ref().is_some_and(|c| c.sandbox);
    let ended = w.finished_text.is_some() || w.skipped;
    view! {
        <div class="page-head">
            <h1>"Set up WhatsApp"</h1>
            {sandbox.then(|| view! { <span class="badge sandbox">"SANDBOX"</span> })}
        </div>
        <p class="lead">
            "From nothing to an invoice on your tenant's phone: the prerequisites and the seven steps of the setup "
            "guide. Axis CRM checks the steps it can see for itself; mark the others done as you go. Your progress "
            "is saved, so you can leave and come back."
        </p>
        {w.finished_text.clone().map(|t| view! {
            <p class="alert status" role="status">{format!("You finished the setup on {t}. The guide stays here for reference.")}</p>
        })}
        {w.skipped.then(|| view! {
            <div class="alert alert-warn" role="status">
                <p>"You skipped the setup guide, so it no longer opens after you log in."</p>
                <ActionForm action=a.resume>
                    <button type="submit" class="button secondary">"Take the guide up again"</button>
                </ActionForm>
            </div>
        })}
        <div class="wizard">
            <nav class="wizard-nav card" aria-label="Setup steps">
                <label for="setup-progress" class="progress-label">{format!("{} of {} steps done", w.done, STEPS.len())}</label>
                <progress id="setup-progress" max=STEPS.len() value=w.done>{format!("{} of {}", w.done, STEPS.len())}</progress>
                <ol class="wizard-steps">
                    {STEPS.iter().map(|x| {
                        let done = w.state(x.key).is_some_and(|st| st.done);
                        let current = x.key == s.key;
                        view! {
                            <li class:done=done class:current=current>
                                <a href=format!("/onboarding/{}", x.key) aria-current=current.then_some("step")>
                                    <span class="wizard-mark" aria-hidden="true">{if done { "✓" } else { "○" }}</span>
                                    <span>{x.label} ": " {x.title}</span>
                                    {done.then(|| view! { <span class="visually-hidden">" (done)"</span> })}
                                </a>
                            </li>
                        }
                    }).collect_view()}
                </ol>
                {(!ended).then(|| view! {
                    <ActionForm action=a.skip attr:class="wizard-skip">
                        <button type="submit" class="button subtle">"Skip the setup guide"</button>
                    </ActionForm>
                })}
            </nav>
            <div class="wizard-main">
                <section class="card wizard-step" aria-labelledby="wizard-step-h">
                    <p class="step-label">{format!("{} of the setup guide", s.label)}</p>
                    <h2 id="wizard-step-h">{s.title}</h2>
                    <StepStatus how=state.as_ref().map(|st| st.how.clone()).unwrap_or_default() check=s.check/>
                    {(!s.intro.is_empty()).then(|| view! { <p>{s.intro}</p> })}
                    {(!s.items.is_empty()).then(|| view! {
                        <ol class="wizard-items">{s.items.iter().map(|it| view! { <li>{*it}</li> }).collect_view()}</ol>
                    })}
                    {(!s.links.is_empty()).then(|| view! { <ExternalLinks links=s.links/> })}
                    {step_panel(s, &w, a, &f)}
                    <Controls s state a/>
                </section>
                {(matches!(s.key, "prerequisites" | "credentials" | "connect") && w.connection.is_none() && w.sandbox_available)
                    .then(|| view! { <SandboxOffer action=a.sandbox flash=f.sandbox.clone()/> })}
            </div>
        </div>
    }
}

/// Whether the step is done, and who says so.
#[component]
fn StepStatus(how: String, check: Check) -> impl IntoView {
    let (class, text) = match how.as_str() {
        "checked" => ("step-status done", "✓ Done: checked by Axis CRM"),
        "sandbox" => ("step-status done", "✓ Done with the sandbox: checked by Axis CRM"),
        "marked" => ("step-status done", "✓ Marked as done"),
        _ => match check {
            Check::Manual => ("step-status", "Not done yet: mark it done when you have finished it in Meta's pages."),
            Check::Connection => ("step-status", "Not done yet: Axis CRM ticks this step once the connection works."),
            Check::Webhook => ("step-status", "Not done yet: Axis CRM ticks this step when Meta's verification request and a first event arrive."),
            Check::Send => ("step-status", "Not done yet: Axis CRM ticks this step when WhatsApp reports an invoice sent."),
        },
    };
    view! { <p class=class>{text}</p> }
}

/// Back, Mark as done (or not), Next, and Finish on the last step.
#[component]
fn Controls(s: &'static Step, state: Option<StepState>, a: Actions) -> impl IntoView {
    let how = state.map(|st| st.how).unwrap_or_default();
    let next = steps::next(s.key);
    let prev = steps::previous(s.key);
    let mark = |done: bool, label: &'static str, class: &'static str| {
        view! {
            <ActionForm action=a.mark>
                <input type="hidden" name="step" value=s.key/>
                <input type="hidden" name="done" value=if done { "1" } else { "0" }/>
                <button type="submit" class=class disabled=move || a.mark.pending().get()>{label}</button>
            </ActionForm>
        }
    };
    view! {
        <div class="wizard-controls">
            {prev.map(|p| view! { <a class="button secondary" href=format!("/onboarding/{}", p.key)>"Back"<span class="visually-hidden">{format!(": {}", p.title)}</span></a> })}
            {match how.as_str() {
                "marked" => mark(false, "Mark as not done", "button secondary").into_any(),
                "" => mark(true, if next.is_some() { "Mark as done and continue" } else { "Mark as done" }, "button primary").into_any(),
                _ => ().into_any(),
            }}
            {next.map(|n| view! {
                <a class=if how.is_empty() { "button secondary" } else { "button primary" } href=format!("/onboarding/{}", n.key)>
                    {format!("Next: {}", n.label)}<span class="visually-hidden">{format!(" ({})", n.title)}</span>
                </a>
            })}
            {next.is_none().then(|| view! {
                <ActionForm action=a.finish>
                    <button type="submit" class="button primary">"Finish setup"</button>
                </ActionForm>
            })}
        </div>
    }
}

fn step_panel(s: &'static Step, w: &Wizard, a: Actions, f: &Flashes) -> AnyView {
    match s.key {
        "credentials" | "connect" => match w.connection.clone() {
            Some(c) => view! { <ConnectionSummary c/> }.into_any(),
            None => view! {
                <h3>"Your credentials"</h3>
                <ConnectForm action=a.connect flash=f.connect.clone()/>
            }
            .into_any(),
        },
        "webhook" => match (w.connection.clone(), w.webhook.clone()) {
            (Some(c), Some(status)) => view! {
                <WebhookPanel c status warning=w.public_url_warning.clone() a flash=f.hook.clone()/>
            }
            .into_any(),
            _ => connect_first().into_any(),
        },
        "send" => match w.connection {
            Some(_) => view! {
                <SendPanel w=w.clone() a flash=f.send.clone()/>
                <crate::selftest::SelfTestCard back="/onboarding/send" flash=f.self_test.clone() nested=true/>
            }
            .into_any(),
            None => connect_first().into_any(),
        },
        _ => ().into_any(),
    }
}

fn connect_first() -> impl IntoView {
    view! {
        <p class="alert alert-warn">
            "Connect WhatsApp first: " <a href="/onboarding/connect">"Step 6: Connect in Axis CRM"</a>
            " (or use the sandbox there)."
        </p>
    }
}

/// After connecting: what Meta confirmed, and what to do about a temporary token.
#[component]
fn ConnectionSummary(c: ConnectionView) -> impl IntoView {
    let temporary = c.token.kind == "temporary";
    let expiring = c.token.kind == "expiring";
    view! {
        <div class="connected" role="status">
            <p>
                <strong>"Connected. "</strong>
                {format!("Meta confirmed {} ({}).",
                    c.verified_name.clone().unwrap_or_else(|| "your business".into()),
                    c.display_phone_number.clone().unwrap_or_else(|| c.phone_number_id.clone()))}
                {c.sandbox.then(|| view! { " " <span class="badge sandbox">"SANDBOX"</span> })}
            </p>
            <dl class="facts">
                <dt>"Verified name"</dt><dd>{c.verified_name.clone().unwrap_or_default()}</dd>
                <dt>"Phone number"</dt><dd>{c.display_phone_number.clone().unwrap_or_default()}</dd>
                <dt>"Access token"</dt><dd>{format!("…{} · {}", c.token_last4, c.token.label())}</dd>
                {c.token.expires_at_text.clone().map(|t| view! { <dt>"Token expires"</dt><dd>{t}</dd> })}
            </dl>
        </div>
        {(temporary || expiring).then(|| view! {
            <div class="alert alert-warn">
                <p>
                    {if temporary { "This temporary token stops working in " } else { "This token stops working in " }}
                    <Countdown seconds=c.token.seconds_left.unwrap_or(0)/>
                    ". Invoices cannot be sent after that. Replace it with a permanent token now:"
                </p>
                // The steps of the troubleshooting entry Invalid Access Token, word for word.
                <ol>
                    {PERMANENT_TOKEN.iter().chain([&REPLACE_TOKEN]).map(|s| view! { <li>{*s}</li> }).collect_view()}
                </ol>
                <p class="links">
                    <ExternalLink label=SYSTEM_USERS.0 href=SYSTEM_USERS.1/>
                    <a href="/settings/whatsapp">"Replace token in Settings"</a>
                </p>
            </div>
        })}
        {(c.token.kind == "unknown").then(|| view! {
            <p class="hint">
                "Axis CRM cannot tell whether this token is temporary without the App ID and App Secret (Advanced, when connecting). "
                "If you used the temporary token from API Setup, it stops working 24 hours after you generated it."
            </p>
        })}
    }
}

/// Seconds counting down in the browser ("23 h 59 min 58 s"); a fixed text without WASM.
#[island]
fn Countdown(seconds: i64) -> impl IntoView {
    let left = RwSignal::new(seconds);
    use_interval(1000, move || left.update(|s| *s = (*s - 1).max(0)));
    let text = move || {
        let s = left.get();
        if s <= 0 {
            "no time: it has expired".to_string()
        } else {
            format!("{} h {:02} min {:02} s", s / 3600, (s % 3600) / 60, s % 60)
        }
    };
    view! { <span class="countdown" role="timer">{text}</span> }
}

/// The Callback URL and Verify Token to paste into Meta, and the two things the step waits for.
#[component]
fn WebhookPanel(
    c: ConnectionView,
    status: WebhookStatus,
    warning: Option<String>,
    a: Actions,
    flash: Option<FormFlash>,
) -> impl IntoView {
    // Hydrated, the page looks again every 2 s until both arrived (for at most 30 minutes).
    let refresh = (!status.complete()).then(|| {
        view! { <Refresh watch=Watch::Webhook seen=status.live_key() every_ms=2000 limit=900/> }
    });
    let problem = problem_of(a.hook.value(), flash.as_ref().map(|f| f.error.clone()));
    let message = FormState::new(a.hook.value(), flash).message();
    let sandbox = c.sandbox;
    view! {
        {refresh}
        {(!sandbox).then(|| warning.map(|w| view! { <p class="alert alert-warn">{w}</p> }))}
        {(!status.has_app_secret).then(|| view! {
            <div class="alert alert-error" role="alert">
                <p>
                    "Axis CRM has no App Secret for this connection, so it cannot check the signature on Meta's events and refuses them. "
                    "Disconnect under Settings → WhatsApp Integration and connect again with the App ID and App Secret (Advanced)."
                </p>
                <p><a href=crate::help::troubleshooting::href("webhook-not-verified")>"Troubleshooting: webhook not verified"</a></p>
            </div>
        })}
        <h3>"Paste these into Meta"</h3>
        <CopyField label="Callback URL" name="wizard-callback" value=c.webhook_url.clone()/>
        <CopyField label="Verify Token" name="wizard-verify" value=c.verify_token.clone()/>
        <h3>"Waiting for Meta"</h3>
        <ul class="checklist" aria-live="polite">
            <li class:done=status.verified_at_text.is_some()>
                {match status.verified_at_text.clone() {
                    Some(t) => format!("✓ Meta's verification request arrived ({t})."),
                    None => "◷ Waiting for Meta's verification request (click Verify and save in Meta)…".to_string(),
                }}
            </li>
            <li class:done=status.last_event_at_text.is_some()>
                {match status.last_event_at_text.clone() {
                    Some(t) => format!("✓ A first event arrived ({t})."),
                    None => "◷ Waiting for a first event (click Test beside the messages field in Meta)…".to_string(),
                }}
            </li>
        </ul>
        <p class="hint">
            "This page looks again every 2 seconds. " <a href="/onboarding/webhook">"Check again"</a> " · "
            <a href=crate::help::troubleshooting::href("webhook-not-verified")>"Nothing arrives?"</a>
        </p>
        {sandbox.then(|| view! {
            <div class="sandbox-actions">
                <p>
                    <span class="badge sandbox">"SANDBOX"</span>
                    " The sandbox already knows this server's address. Press the buttons Meta would show you:"
                </p>
                <FormMessage message=message/>
                {move || problem.get().map(|p| view! { <ProblemBox problem=p/> })}
                <div class="actions">
                    <ActionForm action=a.hook>
                        <input type="hidden" name="action" value="verify"/>
                        <button type="submit" class="button secondary" disabled=move || a.hook.pending().get()>"Verify and save (sandbox)"</button>
                    </ActionForm>
                    <ActionForm action=a.hook>
                        <input type="hidden" name="action" value="test"/>
                        <button type="submit" class="button secondary" disabled=move || a.hook.pending().get()>"Send a test event (sandbox)"</button>
                    </ActionForm>
                </div>
            </div>
        })}
    }
}

/// Step 7: pick an invoice, see what goes, send it, and watch the ticks.
#[component]
fn SendPanel(w: Wizard, a: Actions, flash: Option<FormFlash>) -> impl IntoView {
    let query = use_query_map();
    let chosen = query
        .read_untracked()
        .get("invoice")
        .and_then(|v| v.parse::<i64>().ok());
    let sandbox = w.connection.as_ref().is_some_and(|c| c.sandbox);
    if w.invoices.is_empty() {
        return if w.has_invoices {
            view! {
                <p class="alert alert-warn">
                    "None of your issued invoices is for a tenant with a mobile phone number. Add one to a tenant under "
                    <a href="/tenants">"Tenants"</a> ", or issue a draft invoice, then come back."
                </p>
            }
            .into_any()
        } else {
            view! {
                <p>"You have no invoices yet. Create one, or load the sample data (three properties, tenants and invoices) to try this step."</p>
                <div class="actions">
                    <ActionForm action=a.sample>
                        <button type="submit" class="button secondary" disabled=move || a.sample.pending().get()>"Load sample data"</button>
                    </ActionForm>
                    <a class="button secondary" href="/invoices/new">"Create an invoice"</a>
                </div>
            }
            .into_any()
        };
    }
    view! {
        {sandbox.then(|| view! {
            <p class="hint"><span class="badge sandbox">"SANDBOX"</span> " Nothing reaches a real phone: the sandbox plays WhatsApp's sent, delivered and read reports."</p>
        })}
        <form method="get" action="/onboarding/send" class="inline-form">
            <div class="field">
                <label for="wizard-invoice">"Invoice to send"</label>
                <select id="wizard-invoice" name="invoice">
                    {w.invoices.iter().map(|i| view! {
                        <option value=i.id selected=chosen == Some(i.id)>
                            {format!("{} · {} · {}", i.number, i.tenant_name, i.phone)}
                        </option>
                    }).collect_view()}
                </select>
            </div>
            <button type="submit" class="button secondary">"Show what will be sent"</button>
        </form>
        {chosen.map(|id| view! { <SendStep invoice_id=id a flash=flash.clone()/> })}
    }
    .into_any()
}

#[component]
fn SendStep(invoice_id: i64, a: Actions, flash: Option<FormFlash>) -> impl IntoView {
    let create = ServerAction::<CreateInvoiceTemplate>::new();
    let reply = ServerAction::<SandboxReply>::new();
    let preview = Resource::new_blocking(
        move || {
            (
                a.send.version().get(),
                create.version().get(),
                reply.version().get(),
            )
        },
        move |_| get_send_preview(invoice_id),
    );
    let message = FormState::new(a.send.value(), flash).message();
    let create_problem = problem_of(create.value(), None);
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match preview.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(p) => {
                        let latest = p.latest.clone();
                        let template_blocked = p.blocker.as_ref().map(|b| b.short.clone()).filter(|s| s == "No template" || s == "Template pending");
                        let (tenant_id, tenant, sandbox) = (p.tenant_id, p.tenant_name.clone(), p.sandbox);
                        // While the template waits for Meta's review (or a simulated reply
                        // travels), and while the send moves, look again every 2 s.
                        let moving = latest.as_ref().is_some_and(SendBadge::in_progress);
                        let refresh = (template_blocked.is_some() || moving).then(|| {
                            view! { <Refresh watch=Watch::Preview(invoice_id) seen=p.live_key() every_ms=2000 limit=300/> }
                        });
                        view! {
                            {refresh}
                            {template_blocked.map(|short| view! {
                                <section class="template-help" aria-labelledby="template-help-h">
                                    <h3 id="template-help-h">"First, a template or a reply"</h3>
                                    <p>
                                        "WhatsApp lets a business start a conversation only with a template Meta has approved. "
                                        "Axis CRM can create its invoice template for you (a document header with the PDF, and the "
                                        "tenant's name, the invoice number, the amount and the due date); Meta reviews it, usually "
                                        "within minutes. Once a tenant writes to you, the PDF can go as a plain document for 24 hours."
                                    </p>
                                    {if short == "No template" {
                                        view! {
                                            {move || create_problem.get().map(|p| view! { <ProblemBox problem=p/> })}
                                            <ActionForm action=create>
                                                <button type="submit" class="button secondary" disabled=move || create.pending().get()>
                                                    {move || if create.pending().get() { "Submitting to Meta…" } else { "Create the invoice template" }}
                                                </button>
                                            </ActionForm>
                                        }.into_any()
                                    } else {
                                        view! { <p class="status" role="status">"◷ Meta is reviewing the invoice template. This page looks again every 3 seconds."</p> }.into_any()
                                    }}
                                    {sandbox.then(|| view! {
                                        <ActionForm action=reply>
                                            <input type="hidden" name="tenant_id" value=tenant_id/>
                                            <button type="submit" class="button secondary" disabled=move || reply.pending().get()>
                                                {format!("Simulate a reply from {tenant} (sandbox)")}
                                            </button>
                                        </ActionForm>
                                    })}
                                </section>
                            })}
                            <SendConfirm preview=p send=a.send message next=Some(format!("/onboarding/send?invoice={invoice_id}"))/>
                            {latest.map(|b| view! { <SentTicks invoice_id badge=b/> })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// The latest send's ticks (the page looks again while it moves; see `SendStep`).
#[component]
fn SentTicks(invoice_id: i64, badge: SendBadge) -> impl IntoView {
    view! {
        <section class="live-ticks" aria-labelledby="live-ticks-h">
            <h3 id="live-ticks-h">"On its way"</h3>
            <p aria-live="polite"><SendTicks badge invoice_id/></p>
            <p class="hint">
                "◷ queued → ✓ sent → ✓✓ delivered to the tenant's phone → blue ✓✓ read. "
                <a href=format!("/invoices/{invoice_id}")>"The invoice's page"</a> " keeps the full history."
            </p>
        </section>
    }
}

/// The reminder above every page while the setup guide is neither finished nor skipped.
#[component]
pub fn SetupBanner() -> impl IntoView {
    let location = use_location();
    let reminder = Resource::new(move || location.pathname.get(), |_| get_setup_reminder());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let on_wizard = location.pathname.get_untracked().starts_with("/onboarding");
                reminder.await.ok().flatten().filter(|_| !on_wizard).map(|r| view! {
                    <aside class="setup-banner" aria-label="Setup">
                        <span>{format!("WhatsApp setup: {} of {} steps done.", r.done, r.total)}</span>
                        <a class="button secondary" href="/onboarding">"Continue setup"</a>
                    </aside>
                })
            })}
        </Transition>
    }
}

//! The WhatsApp pieces of the invoice pages: the button and ticks in each row, the confirmation
//! page, a send's history, the bulk progress bar, the tenant's window and messages, and the
//! templates, webhooks and usage sections of the settings page.

use super::*;
use crate::components::form::{use_flash, ErrorNotice, FormMessage, FormState};
use crate::components::live::{use_interval, Refresh, Watch};
use crate::connections::ProblemBox;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use std::collections::HashMap;

/// WhatsApp's speech-bubble mark, decorative (the button carries the name).
#[component]
pub fn WhatsAppIcon() -> impl IntoView {
    view! {
        <svg class="wa-icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
            <path fill="currentColor" d="M12 2a10 10 0 0 0-8.6 15.1L2 22l5-1.3A10 10 0 1 0 12 2zm0 18.2a8.2 8.2 0 0 1-4.2-1.2l-.3-.2-3 .8.8-2.9-.2-.3A8.2 8.2 0 1 1 12 20.2zm4.5-6.1c-.2-.1-1.5-.7-1.7-.8s-.4-.1-.6.1-.7.8-.8 1-.3.2-.5.1a6.7 6.7 0 0 1-3.3-2.9c-.3-.4.3-.4.7-1.4.1-.2 0-.3 0-.4l-.8-1.8c-.2-.5-.4-.4-.6-.4h-.5a1 1 0 0 0-.7.3 3 3 0 0 0-.9 2.2 5.2 5.2 0 0 0 1.1 2.8 11.9 11.9 0 0 0 4.6 4c1.7.7 2.4.8 3.2.7.5-.1 1.5-.6 1.8-1.2s.2-1.1.1-1.2-.2-.2-.4-.3z"/>
        </svg>
    }
}

/// The status of a send as WhatsApp-style ticks, with its meaning for screen readers.
#[component]
pub fn SendTicks(badge: SendBadge, invoice_id: i64) -> impl IntoView {
    let label = badge.label();
    let (mark, class) = match badge.state {
        SendState::Queued | SendState::Sending | SendState::Unknown => ("◷", "ticks ticks-pending"),
        SendState::Accepted => ("✓", "ticks ticks-accepted"),
        SendState::Sent => ("✓", "ticks ticks-sent"),
        SendState::Delivered => ("✓✓", "ticks ticks-delivered"),
        SendState::Read => ("✓✓", "ticks ticks-read"),
        SendState::Failed => ("✕", "ticks ticks-failed"),
    };
    let failed = badge.state == SendState::Failed;
    view! {
        <span class="send-status" data-state=badge.state.as_str()>
            <span class=class role="img" aria-label=format!("WhatsApp: {label}") title=label.clone()>{mark}</span>
            <span class="send-word">{match badge.state {
                SendState::Queued | SendState::Sending => "queued",
                SendState::Unknown => "checking",
                other => other.as_str(),
            }}</span>
            {failed.then(|| view! {
                <a class="send-reason" href=crate::help::troubleshooting::href(badge.anchor.as_deref().unwrap_or("other-errors"))>
                    {badge.reason.clone().unwrap_or_default()}
                    <span class="visually-hidden">" (troubleshooting)"</span>
                </a>
                <a class="send-retry" href=format!("/invoices/{invoice_id}/send")>"Retry"<span class="visually-hidden">{format!(" sending invoice {invoice_id}")}</span></a>
            })}
        </span>
    }
}

/// The WhatsApp cell of an invoice row: the button (or why it is disabled) and the ticks, kept
/// current inside a [`LiveSends`].
#[component]
pub fn WhatsAppCell(
    invoice_id: i64,
    number: String,
    blocker: Option<Blocker>,
    badge: Option<SendBadge>,
) -> impl IntoView {
    let name = format!("Send invoice {number} via WhatsApp");
    let button = match blocker {
        None => view! {
            <a class="wa-button" href=format!("/invoices/{invoice_id}/send") aria-label=name.clone() title=name.clone()>
                <WhatsAppIcon/>
            </a>
        }
        .into_any(),
        Some(b) => {
            let reason_id = format!("wa-why-{invoice_id}");
            view! {
                <button type="button" class="wa-button" disabled=true aria-label=name.clone() aria-describedby=reason_id.clone() title=b.reason.clone()>
                    <WhatsAppIcon/>
                </button>
                <span class="wa-why" id=reason_id>
                    <span class="visually-hidden">{b.reason.clone()} " "</span>
                    <a href=b.fix_href.clone() title=b.reason.clone()>{b.short.clone()}</a>
                </span>
            }
            .into_any()
        }
    };
    view! {
        <div class="wa-cell">
            {button}
            <LiveTicks invoice_id badge/>
        </div>
    }
}

/// The progress of a bulk send.
#[component]
pub fn BatchBar(progress: BatchProgress) -> impl IntoView {
    let settled = progress.done + progress.failed;
    let text = if progress.finished() {
        format!(
            "{}: {} of {} accepted by WhatsApp{}.",
            progress.label,
            progress.done,
            progress.total,
            if progress.failed > 0 {
                format!(", {} failed", progress.failed)
            } else {
                String::new()
            }
        )
    } else {
        format!(
            "{}: sending {} of {} ({} failed so far)…",
            progress.label, settled, progress.total, progress.failed
        )
    };
    view! {
        <div class="batch card" role="status">
            <label for=format!("batch-{}", progress.id)>{text}</label>
            <progress id=format!("batch-{}", progress.id) max=progress.total value=settled>{format!("{settled}/{}", progress.total)}</progress>
        </div>
    }
}

/// The latest send of each invoice on the page and the bulk send in progress, as
/// [`LiveSends`] keeps them (its children read them from context).
#[derive(Clone, Copy)]
struct Live {
    badges: RwSignal<HashMap<i64, SendBadge>>,
    batch: RwSignal<Option<BatchProgress>>,
}

/// Keeps the ticks ([`LiveTicks`]) and the bulk progress ([`LiveBatch`]) inside it current while
/// sends are moving. An island around server-rendered children (the invoice table): only the
/// ticks and the bar are drawn again.
#[island]
pub fn LiveSends(
    ids: Vec<i64>,
    badges: Vec<(i64, SendBadge)>,
    batch: Option<BatchProgress>,
    children: Children,
) -> impl IntoView {
    let live = Live {
        badges: RwSignal::new(badges.into_iter().collect()),
        batch: RwSignal::new(batch),
    };
    provide_context(live);
    poll_news(ids, live.badges, live.batch, RwSignal::new(0));
    children()
}

/// An invoice's latest send as ticks: `badge` as the server rendered it, then as a
/// [`LiveSends`] around it hears.
#[island]
pub fn LiveTicks(invoice_id: i64, badge: Option<SendBadge>) -> impl IntoView {
    let live = use_context::<Live>();
    move || {
        live.map(|l| l.badges.with(|m| m.get(&invoice_id).cloned()))
            .unwrap_or_else(|| badge.clone())
            .map(|b| view! { <SendTicks badge=b invoice_id/> })
    }
}

/// The bulk send's progress bar, kept current by a [`LiveSends`] around it.
#[island]
pub fn LiveBatch(progress: Option<BatchProgress>) -> impl IntoView {
    let live = use_context::<Live>();
    move || {
        live.map(|l| l.batch.get())
            .unwrap_or_else(|| progress.clone())
            .map(|b| view! { <BatchBar progress=b/> })
    }
}

/// Keeps `badges` and `batch` current while sends are moving.
pub fn poll_news(
    ids: Vec<i64>,
    badges: RwSignal<HashMap<i64, SendBadge>>,
    batch: RwSignal<Option<BatchProgress>>,
    force: RwSignal<u32>,
) {
    let busy = RwSignal::new(false);
    let seen_force = RwSignal::new(0u32);
    // Polls in a row that changed nothing: after five minutes of quiet (say, messages delivered
    // to a tenant with read receipts off) the page stops asking until something new is sent.
    let quiet = RwSignal::new(0u32);
    use_interval(2000, move || {
        let active = badges.with_untracked(|m| m.values().any(SendBadge::in_progress))
            || batch.with_untracked(|b| b.as_ref().is_some_and(|b| !b.finished()));
        let poked = force.get_untracked() != seen_force.get_untracked();
        if poked {
            quiet.set(0);
        }
        if busy.get_untracked() || !(active || poked) || quiet.get_untracked() > 150 {
            return;
        }
        seen_force.set(force.get_untracked());
        busy.set(true);
        let ids = ids.clone();
        leptos::task::spawn_local(async move {
            if let Ok(news) = get_send_news(ids).await {
                let fresh: HashMap<i64, SendBadge> = news.badges.into_iter().collect();
                let same = badges.with_untracked(|b| *b == fresh)
                    && batch.with_untracked(|b| *b == news.batch);
                quiet.update(|q| *q = if same { *q + 1 } else { 0 });
                if !same {
                    badges.set(fresh);
                    batch.set(news.batch);
                }
            }
            busy.set(false);
        });
    });
}

/// `/invoices/{id}/send`: what will be sent, to whom, how, and what it costs; then queue it.
#[component]
pub fn SendInvoicePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let send = ServerAction::<SendInvoice>::new();
    let preview = Resource::new_blocking(id, get_send_preview);
    let flash = use_flash("whatsapp-send");
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let form = FormState::new(send.value(), flash.await);
                match preview.await {
                    Err(e) => view! { <ErrorNotice error=e heading="Send via WhatsApp"/> }.into_any(),
                    Ok(p) => view! {
                        <div class="page-head">
                            <h1>{format!("Send invoice {} via WhatsApp", p.number)}</h1>
                            {p.sandbox.then(|| view! { <span class="badge sandbox">"SANDBOX"</span> })}
                        </div>
                        <SendConfirm preview=p send message=form.message() next=None/>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// What will be sent, to whom, how and at what cost, and the button that queues it (or why it
/// cannot be sent and where to fix that). The confirmation page and the setup wizard's last step
/// both show it. After sending, the browser goes to `next` (a local path), else the invoices.
#[component]
pub fn SendConfirm(
    preview: SendPreview,
    send: ServerAction<SendInvoice>,
    #[prop(into)] message: Signal<Option<String>>,
    next: Option<String>,
) -> impl IntoView {
    let p = preview;
    let how = if p.kind == "document" {
        format!("As a PDF document: the tenant wrote to you recently, and the 24-hour window is open for {} more.", p.window_left.clone().unwrap_or_default())
    } else {
        "As the approved invoice template with the PDF attached: the tenant has not written to you in the last 24 hours, so WhatsApp allows only an approved template.".to_string()
    };
    let back = format!("/invoices/{}", p.invoice_id);
    let cancel = next.clone().unwrap_or_else(|| "/invoices".into());
    view! {
        <section class="card confirm" aria-labelledby=format!("confirm-h-{}", p.invoice_id)>
            <h2 id=format!("confirm-h-{}", p.invoice_id) class="visually-hidden">{format!("What will be sent: invoice {}", p.number)}</h2>
            <dl class="facts">
                <dt>"To"</dt>
                <dd>{p.tenant_name.clone()} " · " {p.recipient.clone().unwrap_or_else(|| "no phone number".into())}</dd>
                <dt>"How"</dt>
                <dd>{how}</dd>
                {p.template.clone().map(|t| view! { <dt>"Template"</dt><dd>{t}</dd> })}
                <dt>"Attachment"</dt>
                <dd>{format!("{}.pdf", p.number)} " (" <a href=format!("/invoices/{}/pdf", p.invoice_id) target="_blank" rel="noopener">"open the PDF"<span class="visually-hidden">" (opens in a new tab)"</span></a> ")"</dd>
                <dt>"Cost"</dt>
                <dd>{p.billing.clone()}</dd>
            </dl>
            {(!p.message.is_empty()).then(|| view! {
                <h3>"Message"</h3>
                <blockquote class="wa-preview">{p.message.clone()}</blockquote>
            })}
            {p.latest.clone().map(|b| view! {
                <p class="muted">"Last send: " <SendTicks badge=b invoice_id=p.invoice_id/></p>
            })}
            {match p.blocker.clone() {
                Some(b) => view! {
                    <div class="alert alert-error" role="alert">
                        <p>{b.reason.clone()}</p>
                        <p><a href=b.fix_href.clone()>{b.fix_label.clone()}</a></p>
                    </div>
                    <p><a class="button secondary" href=back.clone()>"Back to the invoice"</a></p>
                }.into_any(),
                None => view! {
                    <ActionForm action=send attr:class="actions">
                        <input type="hidden" name="invoice_id" value=p.invoice_id/>
                        {next.clone().map(|n| view! { <input type="hidden" name="next" value=n/> })}
                        {p.needs_again.then(|| view! {
                            <p class="alert alert-warn">"This invoice was already sent over WhatsApp. Sending it again delivers a second copy."</p>
                            <input type="hidden" name="again" value="1"/>
                        })}
                        <FormMessage message=message/>
                        <button type="submit" class="button primary" disabled=move || send.pending().get()>
                            <WhatsAppIcon/>
                            {if p.needs_again { " Send again" } else { " Send invoice" }}
                        </button>
                        <a class="button secondary" href=cancel>"Cancel"</a>
                    </ActionForm>
                }.into_any(),
            }}
        </section>
    }
}

/// Every send of an invoice with its attempts, kept current (hydrated) while one is moving.
#[component]
pub fn SendHistory(invoice_id: i64) -> impl IntoView {
    let history = Resource::new_blocking(|| (), move |_| send_history(invoice_id));
    view! {
        <section class="card" aria-labelledby="wa-history-h">
            <h2 id="wa-history-h">"WhatsApp"</h2>
            <p><a class="button primary" href=format!("/invoices/{invoice_id}/send")><WhatsAppIcon/>" Send via WhatsApp"</a></p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="muted">"Not sent over WhatsApp yet."</p> }.into_any(),
                        Ok(list) => {
                            // While the latest send moves, for at most five minutes.
                            let refresh = list.first().is_some_and(|s| s.badge.in_progress()).then(|| {
                                let seen = live_key_of_sends(&list);
                                view! { <Refresh watch=Watch::Sends(invoice_id) seen every_ms=2500 limit=120/> }
                            });
                            view! {
                            {refresh}
                            <ol class="sends">
                                {list.into_iter().map(|s| view! {
                                    <li class="send">
                                        <p>
                                            <SendTicks badge=s.badge.clone() invoice_id=invoice_id/>
                                            " to " {s.recipient.clone()} " · queued " {s.created_text.clone()}
                                            {s.badge.kind.clone().map(|k| format!(" · as a {k}"))}
                                        </p>
                                        {(!s.times.is_empty()).then(|| view! {
                                            <p class="muted">{s.times.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(" · ")}</p>
                                        })}
                                        {s.provider_message_id.clone().map(|w| view! { <p class="muted">"Message id " <code>{w}</code></p> })}
                                        {s.problem.clone().map(|p| view! { <ProblemBox problem=p/> })}
                                        {(!s.attempts.is_empty()).then(|| view! {
                                            <details>
                                                <summary>{format!("{} attempt(s)", s.attempts.len())}</summary>
                                                <table class="data compact">
                                                    <caption class="visually-hidden">"Attempts"</caption>
                                                    <thead><tr><th scope="col">"#"</th><th scope="col">"When"</th><th scope="col">"As"</th><th scope="col">"Outcome"</th><th scope="col">"Details"</th></tr></thead>
                                                    <tbody>
                                                        {s.attempts.iter().map(|a| view! {
                                                            <tr>
                                                                <td>{a.number}</td>
                                                                <td>{a.at_text.clone()}</td>
                                                                <td>{a.kind.clone()}</td>
                                                                <td>{a.outcome.clone()}</td>
                                                                <td>
                                                                    {a.error.clone()}
                                                                    {a.provider_message_id.clone().map(|w| view! { <code>{w}</code> })}
                                                                    {a.trace_id.clone().map(|t| view! { " · trace id " <code>{t}</code> })}
                                                                </td>
                                                            </tr>
                                                        }).collect_view()}
                                                    </tbody>
                                                </table>
                                            </details>
                                        })}
                                    </li>
                                }).collect_view()}
                            </ol>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

/// `/tenants/{id}`: the 24-hour window and the messages the tenant wrote.
#[component]
pub fn TenantMessagesPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let reply = ServerAction::<SandboxReply>::new();
    let data = Resource::new_blocking(
        move || (id(), reply.version().get()),
        |(id, _)| get_tenant_messages(id),
    );
    let flash = use_flash("sandbox-reply");
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let form = FormState::new(reply.value(), flash.await);
                match data.await {
                    Err(e) => view! { <ErrorNotice error=e heading="Tenant"/> }.into_any(),
                    Ok(t) => view! {
                        <div class="page-head">
                            <h1>{t.name.clone()}</h1>
                            <div class="actions"><a class="button secondary" href="/tenants">"All tenants"</a></div>
                        </div>
                        <section class="card" aria-labelledby="window-h">
                            <h2 id="window-h">"24-hour window"</h2>
                            <p>{t.phone.clone().unwrap_or_else(|| "No phone number".into())}</p>
                            {match t.window_left.clone() {
                                Some(left) => view! { <p class="window open"><strong>"Open"</strong> {format!(" for {left} more: invoices go as a PDF document (a service message).")}</p> }.into_any(),
                                None => view! { <p class="window closed"><strong>"Closed"</strong> ": the tenant has not written in the last 24 hours, so invoices go as the approved template (billed by Meta)."</p> }.into_any(),
                            }}
                            {t.last_inbound_text.clone().map(|l| view! { <p class="muted">"Last message from the tenant: " {l}</p> })}
                            // A simulated reply arrives by webhook a moment after the page comes back.
                            {t.sandbox.then(|| view! { <Refresh watch=Watch::Tenant(t.tenant_id) seen=t.live_key() every_ms=1000 limit=15/> })}
                            {t.sandbox.then(|| view! {
                                <ActionForm action=reply>
                                    <input type="hidden" name="tenant_id" value=t.tenant_id/>
                                    <FormMessage message=form.message()/>
                                    <button type="submit" class="button secondary">"Simulate a reply from this tenant (sandbox)"</button>
                                </ActionForm>
                            })}
                        </section>
                        <section class="card" aria-labelledby="messages-h">
                            <h2 id="messages-h">"Messages from the tenant"</h2>
                            {if t.messages.is_empty() {
                                view! { <p class="muted">"No messages yet."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="messages">
                                        {t.messages.iter().map(|(at, kind, body)| view! {
                                            <li><span class="muted">{at.clone()} " · " {kind.clone()}</span><p>{body.clone()}</p></li>
                                        }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                        </section>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Message templates and usage, below the connection on the settings page.
/// `flash` is the page's `use_flash("whatsapp-templates")`: a flash must be taken where the
/// page starts, not in a component built after the page's first await, or the server render
/// never sees it.
#[component]
pub fn SendingSection(flash: Option<crate::components::form::FormFlash>) -> impl IntoView {
    let refresh = ServerAction::<RefreshTemplates>::new();
    let create = ServerAction::<CreateInvoiceTemplate>::new();
    let choose = ServerAction::<ChooseTemplate>::new();
    let data = Resource::new_blocking(
        move || {
            (
                refresh.version().get(),
                create.version().get(),
                choose.version().get(),
            )
        },
        |_| get_sending_settings(),
    );
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let flash = flash.clone();
                Suspend::new(async move {
                // One flash serves the three forms (a no-JS error comes back once).
                let create_form = FormState::new(create.value(), flash);
                let refresh_form = FormState::new(refresh.value(), None);
                let choose_form = FormState::new(choose.value(), None);
                match data.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(s) => {
                        let usable: Vec<TemplateView> = s.templates.iter().filter(|t| t.unusable.is_none() && t.status == "APPROVED").cloned().collect();
                        // A new template waits for Meta's review: look again every few seconds.
                        let pending = s.templates.iter().any(|t| t.status == "PENDING")
                            .then(|| view! { <Refresh watch=Watch::Templates seen=s.live_key() every_ms=3000 limit=400/> });
                        view! {
                            {pending}
                            <section class="card" id="templates" aria-labelledby="templates-h">
                                <h2 id="templates-h">"Message templates"</h2>
                                <p>"Outside the 24-hour window WhatsApp only delivers approved templates. Invoices use a UTILITY template with a document header (the PDF) and four variables: tenant, invoice number, amount and due date."</p>
                                <p>"Invoice template: " <strong>{s.chosen.clone().unwrap_or_else(|| "none chosen".into())}</strong></p>
                                <div class="actions">
                                    <ActionForm action=create>
                                        <button type="submit" class="button primary" disabled=move || create.pending().get() || !s.can_create_template>"Create invoice template"</button>
                                    </ActionForm>
                                    <ActionForm action=refresh>
                                        <button type="submit" class="button secondary" disabled=move || refresh.pending().get()>"Refresh templates"</button>
                                    </ActionForm>
                                </div>
                                {(!s.can_create_template).then(|| view! {
                                    <p class="muted">"Creating a template needs the App ID and App Secret (Meta's upload API for the sample PDF belongs to the app)."</p>
                                })}
                                <FormMessage message=create_form.message()/>
                                <FormMessage message=refresh_form.message()/>
                                {if s.templates.is_empty() {
                                    view! { <p class="muted">"No templates read yet: press Refresh templates."</p> }.into_any()
                                } else {
                                    view! {
                                        <div class="table-wrap" tabindex="0" role="region" aria-label="Templates of this WhatsApp account">
                                            <table class="data">
                                                <caption class="visually-hidden">"Templates of this WhatsApp account"</caption>
                                                <thead><tr><th scope="col">"Name"</th><th scope="col">"Language"</th><th scope="col">"Category"</th><th scope="col">"Status"</th><th scope="col">"For invoices"</th></tr></thead>
                                                <tbody>
                                                    {s.templates.iter().map(|t| view! {
                                                        <tr>
                                                            <td>{t.name.clone()}<div class="muted small">{t.body_text.clone()}</div></td>
                                                            <td>{t.language.clone()}</td>
                                                            <td>{t.category.clone()}</td>
                                                            <td><span class=format!("badge template-{}", t.status.to_lowercase())>{t.status.clone()}</span>{t.reason.clone().map(|r| view! { <div class="muted small">{r}</div> })}{t.notice.clone().map(|n| view! { <div class="template-notice small" role="note">{n}</div> })}</td>
                                                            <td>{if t.chosen { "chosen".to_string() } else { t.unusable.clone().unwrap_or_else(|| "usable".into()) }}</td>
                                                        </tr>
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                        </div>
                                    }.into_any()
                                }}
                                {(!usable.is_empty()).then(|| view! {
                                    <ActionForm action=choose attr:class="inline-form">
                                        <div class="field">
                                            <label for="template-choice">"Send invoices with"</label>
                                            <select id="template-choice" name="template">
                                                {usable.iter().map(|t| view! {
                                                    <option value=format!("{}|{}", t.name, t.language) selected=t.chosen>{format!("{} ({})", t.name, t.language)}</option>
                                                }).collect_view()}
                                            </select>
                                        </div>
                                        <FormMessage message=choose_form.message()/>
                                        <button type="submit" class="button secondary">"Use this template"</button>
                                    </ActionForm>
                                })}
                            </section>
                            <section class="card" id="usage" aria-labelledby="usage-h">
                                <h2 id="usage-h">{format!("Usage in {}", s.usage.month)}</h2>
                                <p>{format!("{} invoice message(s) accepted by WhatsApp; {} billable.", s.usage.total, s.usage.billable)}</p>
                                {(!s.usage.by_category.is_empty()).then(|| view! {
                                    <table class="data compact">
                                        <caption class="visually-hidden">"Messages by category"</caption>
                                        <thead><tr><th scope="col">"Category"</th><th scope="col">"Messages"</th><th scope="col">"Billable"</th></tr></thead>
                                        <tbody>
                                            {s.usage.by_category.iter().map(|(c, n, b)| view! { <tr><td>{c.clone()}</td><td class="num">{*n}</td><td class="num">{*b}</td></tr> }).collect_view()}
                                        </tbody>
                                    </table>
                                })}
                                {(s.usage.unpriced > 0).then(|| view! { <p class="muted">{format!("{} not priced yet (Meta reports pricing in the status webhooks).", s.usage.unpriced)}</p> })}
                                <p class="muted">{crate::help::pricing::USAGE}" "<a href="/help/notes#pricing">"What WhatsApp costs"</a></p>
                            </section>
                        }.into_any()
                    }
                }
            })}}
        </Transition>
    }
}

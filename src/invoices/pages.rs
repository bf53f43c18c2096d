//! The invoices table, an invoice's page with its PDF, the invoice form, tenants and properties.
//! Lists, sorting, search and paging are links and GET forms, so they work without WASM.

use super::{
    api::*,
    money::{self, LineInput},
    types::*,
};
use crate::components::form::{
    use_flash, ErrorNotice, FormMessage, FormState, TextArea, TextField,
};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

fn status_badge(status: &str) -> impl IntoView {
    view! { <span class=format!("badge status-{status}")>{status.to_string()}</span> }
}

#[component]
pub fn InvoicesPage() -> impl IntoView {
    let query = use_query_map();
    let sample = ServerAction::<LoadSampleData>::new();
    let list = Resource::new_blocking(
        move || {
            let q = query.get();
            let get = |k: &str| q.get(k).unwrap_or_default();
            (
                ListQuery {
                    page: get("page").parse().unwrap_or(1),
                    sort: get("sort"),
                    dir: get("dir"),
                    q: get("q"),
                    status: get("status"),
                },
                sample.version().get(),
            )
        },
        |(q, _)| list_invoices(q.page, q.sort, q.dir, q.q, q.status),
    );
    // Taken here, where the page starts: the table is built after the list's await, too late
    // for the server render to see a flash taken there.
    let bulk_flash = crate::components::form::use_flash("whatsapp-bulk");
    view! {
        <div class="page-head">
            <h1>"Invoices"</h1>
            <div class="actions">
                <a class="button primary" href="/invoices/new">"Create invoice"</a>
                <a class="button secondary" href="/tenants">"Tenants"</a>
                <a class="button secondary" href="/properties">"Properties"</a>
            </div>
        </div>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = bulk_flash.await;
                match list.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(l) if l.empty_account => view! {
                        <section class="card empty-state">
                            <h2>"No invoices yet"</h2>
                            <p>"Create your first invoice, or load sample properties, tenants and invoices to try Axis CRM at once."</p>
                            <div class="actions center">
                                <a class="button primary" href="/invoices/new">"Create invoice"</a>
                                <ActionForm action=sample>
                                    <button type="submit" class="button secondary" disabled=move || sample.pending().get()>"Load sample data"</button>
                                </ActionForm>
                            </div>
                        </section>
                    }.into_any(),
                    Ok(l) => view! { <InvoiceTable list=l flash/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A bulk send refused first because it would go past the messaging limit: the warning, and
/// "Send anyway" for the same invoices. Hydrated, the checked boxes are still checked; after a
/// post without JavaScript the selection comes back from the flash as hidden fields.
#[component]
fn LimitWarning(
    action: ServerAction<crate::sending::SendBulk>,
    which: &'static str,
    flash: Option<crate::components::form::FormFlash>,
) -> impl IntoView {
    let live = move || {
        action
            .value()
            .get()
            .and_then(|r| r.err())
            .and_then(|e| e.field("confirm"))
            .map(|text| (text, Vec::new()))
    };
    let box_of = |(text, ids): (String, Vec<String>)| {
        view! {
            <div class="alert alert-warn limit-warning" role="alert">
                <p><strong>"Over your messaging limit. "</strong>{text}</p>
                {ids.into_iter().map(|id| view! { <input type="hidden" name="ids[]" value=id/> }).collect_view()}
                <button type="submit" class="button secondary" name="confirm" value="1">"Send anyway"</button>
            </div>
        }
    };
    let posted = flash.and_then(|f| {
        let text = f.error.field("confirm")?;
        let value = |k: &str| {
            f.values
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        (value("which").as_deref() == Some(which)).then(|| {
            let ids = value("ids").unwrap_or_default();
            (
                text,
                ids.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            )
        })
    });
    move || live().or_else(|| posted.clone()).map(box_of)
}

#[component]
fn InvoiceTable(
    list: InvoiceList,
    flash: Option<crate::components::form::FormFlash>,
) -> impl IntoView {
    use crate::sending::{LiveBatch, LiveSends, SendBulk, WhatsAppCell};
    let q = list.query.clone();
    let ids: Vec<i64> = list.rows.iter().map(|r| r.id).collect();
    let badges: Vec<_> = list
        .rows
        .iter()
        .filter_map(|r| r.whatsapp.clone().map(|b| (r.id, b)))
        .collect();
    let batch = list.batch.clone();
    let bulk = ServerAction::<SendBulk>::new();
    let overdue = ServerAction::<SendBulk>::new();
    let (overdue_flash, selected_flash) = (flash.clone(), flash.clone());
    let bulk_result = move || {
        bulk.value()
            .get()
            .or_else(|| overdue.value().get())
            // A messaging-limit warning shows inside its form, with "Send anyway".
            .filter(|r| !matches!(r, Err(e) if e.field("confirm").is_some()))
            .map(|r| match r {
                Ok(r) => {
                    let skipped = r
                        .skipped
                        .iter()
                        .map(|(n, why)| format!("{n} ({why})"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let text = if r.skipped.is_empty() {
                        format!("{} invoice(s) queued for WhatsApp.", r.queued)
                    } else {
                        format!(
                            "{} invoice(s) queued for WhatsApp. Skipped: {skipped}.",
                            r.queued
                        )
                    };
                    view! { <p class="status" role="status">{text}</p> }.into_any()
                }
                Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
            })
    };
    let header = {
        let q = q.clone();
        move |key: &'static str, label: &'static str| {
            let active = q.sort == key;
            let next_dir = if active && q.dir == "asc" {
                "desc"
            } else {
                "asc"
            };
            let href = q.href(|n| {
                n.sort = key.into();
                n.dir = next_dir.into();
                n.page = 1;
            });
            let sort = match (active, q.dir.as_str()) {
                (true, "asc") => "ascending",
                (true, _) => "descending",
                _ => "none",
            };
            let arrow = match sort {
                "ascending" => " ▲",
                "descending" => " ▼",
                _ => "",
            };
            view! { <th scope="col" role="columnheader" aria-sort=sort><a href=href>{label}{arrow}</a></th> }
        }
    };
    let prev = (q.page > 1).then(|| q.href(|n| n.page -= 1));
    let next = (q.page < list.pages).then(|| q.href(|n| n.page += 1));
    view! {
        <form method="get" action="/invoices" class="filters" role="search">
            <input type="hidden" name="sort" value=q.sort.clone()/>
            <input type="hidden" name="dir" value=q.dir.clone()/>
            <div class="field">
                <label for="invoice-search">"Search by number or tenant"</label>
                <input id="invoice-search" type="search" name="q" value=q.q.clone()/>
            </div>
            <div class="field">
                <label for="invoice-status">"Status"</label>
                <select id="invoice-status" name="status">
                    <option value="" selected=q.status.is_empty()>"All"</option>
                    {FILTERS.iter().map(|s| view! { <option value=*s selected=q.status == *s>{*s}</option> }).collect_view()}
                </select>
            </div>
            <button type="submit" class="button secondary">"Apply"</button>
        </form>
        <p class="muted" role="status">{format!("{} invoice{}", list.total, if list.total == 1 { "" } else { "s" })}</p>
        // The ticks and the bulk progress stay current (hydrated) inside `LiveSends`.
        <LiveSends ids badges batch=batch.clone()>
        <LiveBatch progress=batch/>
        {flash
            .clone()
            .filter(|f| f.error.field("confirm").is_none())
            .map(|f| view! { <p class="alert alert-error" role="alert">{f.error.to_string()}</p> })}
        {bulk_result}
        <ActionForm action=overdue attr:class="bulk-overdue">
            <input type="hidden" name="which" value="overdue"/>
            <button type="submit" class="button secondary" disabled=move || overdue.pending().get()>"Send all overdue via WhatsApp"</button>
            <LimitWarning action=overdue which="overdue" flash=overdue_flash/>
        </ActionForm>
        <ActionForm action=bulk attr:id="bulk-form">
        <div class="bulk-bar">
            <input type="hidden" name="which" value="selected"/>
            <button type="submit" class="button secondary" disabled=move || bulk.pending().get()>"Send selected via WhatsApp"</button>
        </div>
        <LimitWarning action=bulk which="selected" flash=selected_flash/>
        // Below 640 px each row is a card (see `table.cards` in main.css); the explicit roles keep
        // it a table for screen readers when CSS changes how it is displayed.
        <div class="table-wrap" tabindex="0" role="region" aria-label="Invoices">
            <table class="data cards" role="table">
                <caption class="visually-hidden">"Invoices"</caption>
                <thead role="rowgroup">
                    <tr role="row">
                        <th scope="col" role="columnheader"><span class="visually-hidden">"Select"</span></th>
                        {header("number", "Number")}
                        {header("tenant", "Tenant")}
                        {header("property", "Property")}
                        {header("amount", "Amount")}
                        {header("due", "Due date")}
                        {header("status", "Status")}
                        {header("phone", "Phone")}
                        <th scope="col" role="columnheader">"WhatsApp"</th>
                    </tr>
                </thead>
                <tbody role="rowgroup">
                    {list.rows.into_iter().map(|r| view! {
                        <tr role="row">
                            <td role="cell" class="card-select"><input type="checkbox" name="ids[]" value=r.id aria-label=format!("Select invoice {}", r.number)/></td>
                            <td role="cell" class="card-title"><a href=format!("/invoices/{}", r.id)>{r.number.clone()}</a></td>
                            <td role="cell" data-label="Tenant">{r.tenant_name.clone()}</td>
                            <td role="cell" data-label="Property" class="card-optional">{r.property.clone().unwrap_or_default()}</td>
                            <td role="cell" data-label="Amount" class="num">{r.amount.clone()}</td>
                            <td role="cell" data-label="Due date">{r.due_date.clone()}</td>
                            <td role="cell" data-label="Status">{status_badge(&r.status)}</td>
                            <td role="cell" data-label="Phone">{r.phone.clone().unwrap_or_else(|| "—".into())}</td>
                            <td role="cell" data-label="WhatsApp" class="card-action"><WhatsAppCell invoice_id=r.id number=r.number.clone() blocker=r.blocker.clone() badge=r.whatsapp.clone()/></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        </ActionForm>
        </LiveSends>
        <nav class="pager" aria-label="Pages">
            {prev.map(|h| view! { <a href=h rel="prev">"Previous"</a> })}
            <span>{format!("Page {} of {}", q.page, list.pages)}</span>
            {next.map(|h| view! { <a href=h rel="next">"Next"</a> })}
        </nav>
    }
}

#[component]
pub fn InvoiceDetailPage() -> impl IntoView {
    let params = use_params_map();
    let status = ServerAction::<SetInvoiceStatus>::new();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let detail = Resource::new_blocking(
        move || (id(), status.version().get()),
        |(id, _)| get_invoice(id),
    );
    let flash = use_flash("invoice-status");
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let form = FormState::new(status.value(), flash.await);
                match detail.await {
                    Err(e) => view! { <ErrorNotice error=e heading="Invoice"/> }.into_any(),
                    Ok(d) => {
                        let pdf = format!("/invoices/{}/pdf", d.id);
                        let id = d.id;
                        let action = move |label: &'static str, next: &'static str, class: &'static str| view! {
                            <ActionForm action=status>
                                <input type="hidden" name="id" value=id/>
                                <input type="hidden" name="status" value=next/>
                                <button type="submit" class=format!("button {class}")>{label}</button>
                            </ActionForm>
                        };
                        view! {
                            <div class="page-head">
                                <h1>{format!("Invoice {}", d.number)} " " {status_badge(&d.status)}</h1>
                                <div class="actions">
                                    {d.stored_status.editable().then(|| view! { <a class="button secondary" href=format!("/invoices/{id}/edit")>"Edit"</a> })}
                                    {(d.stored_status == Status::Draft).then(|| action("Issue", "issued", "primary"))}
                                    {(d.stored_status == Status::Issued).then(|| action("Mark as paid", "paid", "primary"))}
                                    {d.stored_status.can_become(Status::Void).then(|| view! {
                                        <details class="inline-confirm">
                                            <summary class="button subtle-dark">"Void"</summary>
                                            <p>"Void this invoice? It stays on record, marked VOID, and can no longer be paid or changed."</p>
                                            {action("Yes, void it", "void", "danger")}
                                        </details>
                                    })}
                                </div>
                            </div>
                            <FormMessage message=form.message()/>
                            <section class="card">
                                <dl class="facts">
                                    <dt>"Tenant"</dt><dd>{d.tenant_name.clone()}</dd>
                                    <dt>"Property"</dt><dd>{d.property.clone().unwrap_or_else(|| "—".into())}</dd>
                                    <dt>"Phone"</dt><dd>{d.tenant_phone.clone().unwrap_or_else(|| "—".into())}</dd>
                                    <dt>"Issued"</dt><dd>{d.issue_date.clone()}</dd>
                                    <dt>"Due"</dt><dd>{d.due_date.clone()}</dd>
                                    <dt>"Total"</dt><dd><strong>{d.total.clone()}</strong></dd>
                                </dl>
                                <p class="actions">
                                    <a class="button secondary" href=format!("{pdf}?download=1") download=format!("{}.pdf", d.number)>"Download PDF"</a>
                                    <a href=pdf.clone() target="_blank" rel="noopener">"Open the PDF in a new tab"</a>
                                </p>
                            </section>
                            <crate::sending::SendHistory invoice_id=id/>
                            <iframe class="pdf-frame" src=pdf title=format!("PDF of invoice {}", d.number)></iframe>
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// One editable line: stable key plus its fields as signals.
#[derive(Clone, Copy)]
struct LineRow {
    key: usize,
    description: RwSignal<String>,
    quantity: RwSignal<String>,
    unit_price: RwSignal<String>,
    tax_rate: RwSignal<String>,
}

impl LineRow {
    fn new(key: usize, l: LineInput) -> Self {
        LineRow {
            key,
            description: RwSignal::new(l.description),
            quantity: RwSignal::new(l.quantity),
            unit_price: RwSignal::new(l.unit_price),
            tax_rate: RwSignal::new(l.tax_rate),
        }
    }
    fn input(&self) -> LineInput {
        LineInput {
            description: self.description.get(),
            quantity: self.quantity.get(),
            unit_price: self.unit_price.get(),
            tax_rate: self.tax_rate.get(),
        }
    }
}

#[component]
pub fn InvoiceFormPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let editor = Resource::new_blocking(id, invoice_editor);
    let flash = use_flash("invoice");
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await;
                match editor.await {
                    Err(e) => view! { <ErrorNotice error=e heading="Invoice"/> }.into_any(),
                    Ok(ed) => view! { <InvoiceForm ed flash/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The invoice form. An island: hydrated, the totals follow the typing and lines can be added
/// and removed in place; without JavaScript it is a plain form with two spare lines. Lazy: its
/// code (with the money rules and the currency table) is a WASM chunk of its own, fetched only
/// by the pages that show the form.
#[island(lazy)]
fn InvoiceForm(ed: Editor, flash: Option<crate::components::form::FormFlash>) -> impl IntoView {
    let save = ServerAction::<SaveInvoice>::new();
    // Effects run in the browser only, once the island is live.
    Effect::new(|_| crate::components::live::mark_hydrated());
    let form = FormState::new(save.value(), flash);
    let d = ed.draft;
    let editing = d.id.is_some();
    // After a refused plain form post the lines come back as typed, in their places (the errors
    // name lines by position). Without WASM the form cannot grow, so it comes with two spare rows.
    let typed: Vec<LineInput> = (0..crate::input::rules::MAX_INVOICE_LINES * 2)
        .map_while(|i| {
            let v = |f: &str| form.value(&format!("lines[{i}][{f}]"));
            let fields = [
                v("description"),
                v("quantity"),
                v("unit_price"),
                v("tax_rate"),
            ];
            fields.iter().any(Option::is_some).then(|| {
                let [description, quantity, unit_price, tax_rate] =
                    fields.map(Option::unwrap_or_default);
                LineInput {
                    description,
                    quantity,
                    unit_price,
                    tax_rate,
                }
            })
        })
        .collect();
    let mut lines = if typed.is_empty() {
        d.lines.clone()
    } else {
        typed
    };
    lines.push(LineInput::default());
    lines.push(LineInput::default());
    let next_key = StoredValue::new(lines.len());
    let rows = RwSignal::new(
        lines
            .into_iter()
            .enumerate()
            .map(|(k, l)| LineRow::new(k, l))
            .collect::<Vec<_>>(),
    );
    let currency = RwSignal::new(form.value("currency").unwrap_or(d.currency.clone()));
    let totals = Memo::new(move |_| {
        let inputs: Vec<LineInput> = rows.get().iter().map(LineRow::input).collect();
        let t = money::totals(&inputs, &currency.get());
        let c = currency.get();
        (
            money::format(t.subtotal, &c),
            money::format(t.tax, &c),
            money::format(t.total, &c),
        )
    });
    let add = move |_| {
        let key = next_key.get_value();
        next_key.set_value(key + 1);
        rows.update(|r| r.push(LineRow::new(key, LineInput::default())));
    };
    let tenant_choice = form
        .value("tenant_id")
        .or(d.tenant_id.map(|t| t.to_string()))
        .unwrap_or_default();
    let no_tenants = ed.tenants.is_empty();
    view! {
        <h1>{if editing { format!("Edit invoice {}", d.number) } else { "Create invoice".to_string() }}</h1>
        {no_tenants.then(|| view! {
            <p class="alert alert-warn">"You have no tenants yet. " <a href="/tenants">"Add a tenant"</a> " first, then create the invoice."</p>
        })}
        <ActionForm action=save attr:novalidate=true attr:class="stack card invoice-form">
            <FormMessage message=form.message()/>
            <p class="field-error" aria-live="polite">{move || form.field("lines").get()}</p>
            <input type="hidden" name="id" value=d.id.map(|i| i.to_string()).unwrap_or_default()/>
            <div class="grid-2">
                <div class="field" class:has-error=move || form.field("tenant_id").get().is_some()>
                    <label for="field-tenant_id">"Tenant"</label>
                    <select id="field-tenant_id" name="tenant_id" aria-describedby="field-tenant_id-error">
                        <option value="">"Choose a tenant"</option>
                        {ed.tenants.iter().map(|t| {
                            let v = t.id.to_string();
                            let selected = v == tenant_choice;
                            view! { <option value=v selected=selected>{t.name.clone()}{t.property.clone().map(|p| format!(" — {p}"))}</option> }
                        }).collect_view()}
                    </select>
                    <p class="field-error" id="field-tenant_id-error" aria-live="polite">{move || form.field("tenant_id").get()}</p>
                </div>
                <TextField label="Invoice number" name="number" required=true value=form.value("number").unwrap_or(d.number.clone()) error=form.field("number")/>
                <TextField label="Issue date" name="issue_date" kind="date" required=true value=form.value("issue_date").unwrap_or(d.issue_date.clone()) error=form.field("issue_date")/>
                <TextField label="Due date" name="due_date" kind="date" required=true value=form.value("due_date").unwrap_or(d.due_date.clone()) error=form.field("due_date")/>
                <div class="field" class:has-error=move || form.field("currency").get().is_some()>
                    <label for="field-currency">"Currency"</label>
                    <p class="hint" id="field-currency-hint">"ISO code, like GBP, EUR or USD."</p>
                    <input id="field-currency" name="currency" maxlength="3" value=currency.get_untracked()
                        on:input=move |ev| currency.set(event_target_value(&ev)) aria-describedby="field-currency-hint field-currency-error"/>
                    <p class="field-error" id="field-currency-error" aria-live="polite">{move || form.field("currency").get()}</p>
                </div>
            </div>
            <fieldset class="lines">
                <legend>"Lines"</legend>
                <div class="table-wrap" tabindex="0" role="region" aria-label="Lines">
                    <table class="data line-table">
                        <thead><tr>
                            <th scope="col">"Description"</th><th scope="col">"Quantity"</th><th scope="col">"Unit price"</th>
                            <th scope="col">"Tax %"</th><th scope="col"><span class="visually-hidden">"Remove"</span></th>
                        </tr></thead>
                        <tbody>
                            <For each=move || rows.get() key=|r| r.key let:row>
                                {
                                    let pos = move || rows.read().iter().position(|r| r.key == row.key).unwrap_or(0);
                                    let name = move |f: &'static str| move || format!("lines[{}][{f}]", pos());
                                    let err = move |f: &'static str| form.field_dyn(move || format!("lines.{}.{f}", pos()));
                                    let label = move |what: &'static str| move || format!("{what}, line {}", pos() + 1);
                                    view! {
                                        <tr>
                                            <td><input name=name("description") aria-label=label("Description") value=row.description.get_untracked()
                                                on:input=move |ev| row.description.set(event_target_value(&ev))/>
                                                <span class="field-error">{err("description")}</span></td>
                                            <td><input name=name("quantity") inputmode="decimal" aria-label=label("Quantity") value=row.quantity.get_untracked()
                                                on:input=move |ev| row.quantity.set(event_target_value(&ev))/>
                                                <span class="field-error">{err("quantity")}</span></td>
                                            <td><input name=name("unit_price") inputmode="decimal" aria-label=label("Unit price") value=row.unit_price.get_untracked()
                                                on:input=move |ev| row.unit_price.set(event_target_value(&ev))/>
                                                <span class="field-error">{err("unit_price")}</span></td>
                                            <td><input name=name("tax_rate") inputmode="decimal" aria-label=label("Tax rate in percent") value=row.tax_rate.get_untracked()
                                                on:input=move |ev| row.tax_rate.set(event_target_value(&ev))/>
                                                <span class="field-error">{err("tax_rate")}</span></td>
                                            <td><button type="button" class="button subtle-dark js-only" aria-label=label("Remove")
                                                on:click=move |_| rows.update(|r| r.retain(|x| x.key != row.key))>"Remove"</button></td>
                                        </tr>
                                    }
                                }
                            </For>
                        </tbody>
                    </table>
                </div>
                <button type="button" class="button secondary js-only" on:click=add>"Add line"</button>
                <p class="hint no-js-only">"Empty lines are ignored. Save the draft to get more empty lines."</p>
            </fieldset>
            <dl class="totals" aria-live="polite">
                <dt>"Subtotal"</dt><dd>{move || totals.get().0}</dd>
                <dt>"Tax"</dt><dd>{move || totals.get().1}</dd>
                <dt>"Total"</dt><dd><strong>{move || totals.get().2}</strong></dd>
            </dl>
            <TextArea label="Notes" name="notes"
                value=form.value("notes").unwrap_or(d.notes.clone()) error=form.field("notes")/>
            <div class="actions">
                <button type="submit" name="intent" value="draft" class="button secondary">"Save draft"</button>
                <button type="submit" name="intent" value="issue" class="button primary">{if editing { "Save" } else { "Save and issue" }}</button>
            </div>
        </ActionForm>
    }
}

#[component]
pub fn TenantsPage() -> impl IntoView {
    let save = ServerAction::<SaveTenant>::new();
    let people = Resource::new_blocking(move || save.version().get(), |_| list_people());
    let flash = use_flash("tenant-new");
    view! {
        <div class="page-head"><h1>"Tenants"</h1><a class="button secondary" href="/properties">"Properties"</a></div>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await;
                match people.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(p) => {
                        let props = StoredValue::new(p.properties.clone());
                        view! {
                            <div class="table-wrap" tabindex="0" role="region" aria-label="Tenants">
                                <table class="data cards" role="table">
                                    <caption class="visually-hidden">"Tenants"</caption>
                                    <thead role="rowgroup"><tr role="row"><th scope="col" role="columnheader">"Name"</th><th scope="col" role="columnheader">"Mobile phone"</th><th scope="col" role="columnheader">"Email"</th><th scope="col" role="columnheader">"Property"</th><th scope="col" role="columnheader">"Edit"</th></tr></thead>
                                    <tbody role="rowgroup">
                                        {p.tenants.iter().map(|t| {
                                            let t2 = t.clone();
                                            view! {
                                                <tr role="row" id=format!("tenant-{}", t.id)>
                                                    <td role="cell" class="card-title"><a href=format!("/tenants/{}", t.id)>{t.name.clone()}</a></td>
                                                    <td role="cell" data-label="Mobile phone">{t.phone.clone().or_else(|| t.whatsapp_user.clone()).unwrap_or_else(|| "—".into())}
                                                        {(t.phone.is_some() && !t.is_mobile).then(|| view! { <span class="badge warn" title="WhatsApp needs a mobile number">"fixed line"</span> })}</td>
                                                    <td role="cell" data-label="Email">{t.email.clone()}</td>
                                                    <td role="cell" data-label="Property">{t.property.clone().unwrap_or_default()}</td>
                                                    <td role="cell" class="card-action"><details><summary>{format!("Edit {}", t.name)}</summary>
                                                        <TenantForm save tenant=Some(t2) properties=props.get_value() flash=None/></details></td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <section class="card">
                                <h2>"Add a tenant"</h2>
                                <TenantForm save tenant=None properties=props.get_value() flash/>
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn TenantForm(
    save: ServerAction<SaveTenant>,
    tenant: Option<TenantView>,
    properties: Vec<PropertyView>,
    flash: Option<crate::components::form::FormFlash>,
) -> impl IntoView {
    let form = FormState::new(save.value(), flash);
    let t = tenant.clone();
    let current_unit = t.as_ref().and_then(|t| t.unit_id);
    let prefix = t
        .as_ref()
        .map(|t| format!("t{}-", t.id))
        .unwrap_or_default();
    view! {
        <ActionForm action=save attr:novalidate=true attr:class="stack">
            {tenant.is_none().then(|| view! { <FormMessage message=form.message()/> })}
            <input type="hidden" name="id" value=t.as_ref().map(|t| t.id.to_string()).unwrap_or_default()/>
            <div class="field">
                <label for=format!("{prefix}name")>"Name"</label>
                <input id=format!("{prefix}name") name="name" value=form.value("name").or(t.as_ref().map(|t| t.name.clone())).unwrap_or_default()/>
                {tenant.is_none().then(|| view! { <p class="field-error" aria-live="polite">{move || form.field("name").get()}</p> })}
            </div>
            <div class="field">
                <label for=format!("{prefix}phone")>"Mobile phone"</label>
                <p class="hint">"With the country code, or a number of your business's default country."</p>
                <input id=format!("{prefix}phone") name="phone" type="tel" value=form.value("phone").or(t.as_ref().map(|t| t.phone_raw.clone())).unwrap_or_default()/>
                {tenant.is_none().then(|| view! { <p class="field-error" id="field-phone-error" aria-live="polite">{move || form.field("phone").get()}</p> })}
            </div>
            <div class="field">
                <label for=format!("{prefix}email")>"Email " <span class="optional">"(optional)"</span></label>
                <input id=format!("{prefix}email") name="email" type="email" value=form.value("email").or(t.as_ref().map(|t| t.email.clone())).unwrap_or_default()/>
                {tenant.is_none().then(|| view! { <p class="field-error" aria-live="polite">{move || form.field("email").get()}</p> })}
            </div>
            <div class="field">
                <label for=format!("{prefix}unit")>"Property and unit " <span class="optional">"(optional)"</span></label>
                <select id=format!("{prefix}unit") name="unit_id">
                    <option value="">"None"</option>
                    {properties.iter().flat_map(|p| p.units.iter().map(move |u| (p.id, p.name.clone(), u.clone()))).map(|(pid, pname, u)| {
                        let selected = current_unit == Some(u.id);
                        view! { <option value=u.id data-property=pid selected=selected>{format!("{pname}, {}", u.name)}</option> }
                    }).collect_view()}
                </select>
            </div>
            // The server takes the property from the chosen unit.
            <input type="hidden" name="property_id" value=""/>
            <button type="submit" class="button primary">{if tenant.is_some() { "Save tenant" } else { "Add tenant" }}</button>
        </ActionForm>
    }
}

#[component]
pub fn PropertiesPage() -> impl IntoView {
    let save = ServerAction::<SaveProperty>::new();
    let people = Resource::new_blocking(move || save.version().get(), |_| list_people());
    let flash = use_flash("property-new");
    view! {
        <div class="page-head"><h1>"Properties"</h1><a class="button secondary" href="/tenants">"Tenants"</a></div>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flash = flash.await;
                match people.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(p) => {
                        let form = FormState::new(save.value(), flash);
                        view! {
                            <div class="table-wrap" tabindex="0" role="region" aria-label="Properties">
                                <table class="data">
                                    <caption class="visually-hidden">"Properties"</caption>
                                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Address"</th><th scope="col">"Units"</th><th scope="col">"Edit"</th></tr></thead>
                                    <tbody>
                                        {p.properties.into_iter().map(|pr| {
                                            let units = pr.units.iter().map(|u| u.name.clone()).collect::<Vec<_>>();
                                            view! {
                                                <tr>
                                                    <td>{pr.name.clone()}</td>
                                                    <td>{pr.address.clone()}</td>
                                                    <td>{units.join(", ")}</td>
                                                    <td><details><summary>{format!("Edit {}", pr.name)}</summary>
                                                        <ActionForm action=save attr:class="stack">
                                                            <input type="hidden" name="id" value=pr.id/>
                                                            <div class="field"><label for=format!("p{}-name", pr.id)>"Name"</label>
                                                                <input id=format!("p{}-name", pr.id) name="name" value=pr.name.clone()/></div>
                                                            <TextArea label="Address" name="address" id=format!("p{}-address", pr.id) rows=2 value=pr.address.clone()/>
                                                            <TextArea label="Add units, one per line" name="units" id=format!("p{}-units", pr.id) rows=2/>
                                                            <button type="submit" class="button primary">"Save property"</button>
                                                        </ActionForm></details></td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <section class="card">
                                <h2>"Add a property"</h2>
                                <ActionForm action=save attr:novalidate=true attr:class="stack">
                                    <FormMessage message=form.message()/>
                                    <input type="hidden" name="id" value=""/>
                                    <TextField label="Property name" name="name" required=true value=form.value("name").unwrap_or_default() error=form.field("name")/>
                                    <TextArea label="Address" name="address" rows=2
                                        value=form.value("address").unwrap_or_default() error=form.field("address")/>
                                    <TextArea label="Units, one per line" name="units" hint="At most 200 units, each up to 100 characters."
                                        value=form.value("units").unwrap_or_default() error=form.field("units")/>
                                    <button type="submit" class="button primary">"Add property"</button>
                                </ActionForm>
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

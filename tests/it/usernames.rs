//! WhatsApp usernames (2026): customers who hide their number are known by a business-scoped
//! user id. They become tenants, are invoiced by `recipient` (never `to`), are matched by id
//! before phone, and are re-keyed when their number or id changes.

use crate::common;
use common::{world::World, Backend, FAST};
use std::time::Duration;
use whatsapp_cloud::sandbox::Customer;

const ADA: &str = "GB.70423120938475610293";

fn world(backend: Backend) -> common::world::WorldBuilder {
    World::builder(backend)
        .env(FAST)
        .sandbox_config(|c| c.status_delay = Duration::from_millis(30))
        .connected()
        .with_sample_data()
        .with_template()
}

async fn tenant_row(w: &World, provider_user_id: &str) -> Option<(i64, String, Option<String>)> {
    w.reads().tenant_by_user_id(provider_user_id).await
}

/// A customer with a username who shares no number writes; they become a tenant shown by
/// name and username (no fake number), and an invoice to them goes by `recipient`.
async fn a_username_only_customer_can_be_invoiced(backend: Backend) {
    let w = world(backend).build().await;
    let ada = Customer::username_only(ADA, "ada_flat3", "Ada Lovelace");
    let pnid = w.account().phone_number_id.clone();
    w.sandbox()
        .simulate_inbound_from(&pnid, &ada, "Can you send this month's invoice here?");
    // The same message delivered twice at once makes one tenant.
    w.wait_for("the username-only tenant", || async {
        tenant_row(&w, ADA).await.is_some()
    })
    .await;
    let (tenant, name, phone) = tenant_row(&w, ADA).await.unwrap();
    assert_eq!((name.as_str(), phone), ("Ada Lovelace", None));
    let tenants = w.call("tenants/list", &[]).await.json();
    let shown = tenants["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == tenant)
        .unwrap_or_else(|| panic!("{tenants}"));
    assert_eq!(shown["whatsapp_user"], "@ada_flat3 (WhatsApp username)");
    assert!(shown["phone"].is_null());

    let tenant_s = tenant.to_string();
    let saved = w
        .call(
            "invoices/save",
            &[
                ("id", ""),
                ("number", "INV-ADA-1"),
                ("tenant_id", tenant_s.as_str()),
                ("issue_date", "2026-12-01"),
                ("due_date", "2026-12-31"),
                ("currency", "GBP"),
                ("notes", ""),
                ("intent", "issue"),
                ("lines[0][description]", "Rent, December"),
                ("lines[0][quantity]", "1"),
                ("lines[0][unit_price]", "950"),
                ("lines[0][tax_rate]", "0"),
            ],
        )
        .await;
    assert!(saved.status.is_success(), "{}", saved.body);
    let id = w.invoice_id("INV-ADA-1").await.to_string();
    let preview = w
        .call("whatsapp/preview", &[("invoice_id", id.as_str())])
        .await
        .json();
    assert!(preview["blocker"].is_null(), "{preview}");
    assert_eq!(preview["recipient"], "@ada_flat3 (WhatsApp username)");
    assert_eq!(preview["kind"], "document", "she wrote: her window is open");
    w.send_invoice("INV-ADA-1").await;
    w.drive("delivered", || async {
        matches!(w.state_of("INV-ADA-1").await.as_str(), "delivered" | "read")
    })
    .await;
    let sent = w.accepted_for("INV-ADA-1").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["recipient"], ADA);
    assert!(sent[0].body.get("to").is_none(), "{}", sent[0].body);
    assert_eq!(sent[0].kind, "document");
    w.close().await;
}

/// A tenant known by phone learns their user id from a message, and is then found by it; a
/// changed number re-keys them instead of making a stranger of them.
async fn a_phone_match_learns_the_id_and_identity_changes_rekey(backend: Backend) {
    let w = world(backend).build().await;
    w.tenant_writes("INV-0003", "Got it").await;
    let phone = w.reads().tenant_phone("INV-0003").await;
    let digits = phone.trim_start_matches('+').to_string();
    let before = Customer::phone(&digits);
    let old_id = before.user_id();
    w.wait_for("the tenant's user id", || async {
        tenant_row(&w, &old_id).await.is_some()
    })
    .await;
    let (tenant, _, _) = tenant_row(&w, &old_id).await.unwrap();

    // The tenant changes their number: Meta's `user_changed_number`.
    let new_digits = "447911987654";
    let after = Customer {
        wa_id: Some(new_digits.into()),
        user_id: Some("GB.99990000111122223333".into()),
        ..before.clone()
    };
    let pnid = w.account().phone_number_id.clone();
    w.sandbox().simulate_identity_change(&pnid, &before, &after);
    w.wait_for("the re-keyed tenant", || async {
        tenant_row(&w, "GB.99990000111122223333").await.is_some()
    })
    .await;
    let (same, _, phone) = tenant_row(&w, "GB.99990000111122223333").await.unwrap();
    assert_eq!(same, tenant, "the same tenant, re-keyed");
    assert_eq!(phone.as_deref(), Some("+447911987654"));
    // A later message from the new number is theirs, not a new tenant's.
    let heard = w.reads().inbound_messages().await;
    w.sandbox()
        .simulate_inbound_from(&pnid, &after, "New number, same flat");
    w.wait_for("the message from the new number", || async {
        w.reads().inbound_messages().await > heard
    })
    .await;
    let owner = w.reads().inbound_tenant("New number, same flat").await;
    assert_eq!(owner, Some(tenant));
    w.close().await;
}

per_backend!(
    a_username_only_customer_can_be_invoiced,
    a_phone_match_learns_the_id_and_identity_changes_rekey,
);

//! What Meta caps for a number: the messaging limit (unique customers outside their 24-hour
//! window in 24 hours, per business portfolio) and the throughput of a number shared with the
//! WhatsApp Business app (coexistence, 20 messages a second).

use crate::common;
use common::{world::World, Backend, Client, FAST};
use std::time::Duration;

fn world(backend: Backend) -> common::world::WorldBuilder {
    World::builder(backend)
        .env(FAST)
        .sandbox_config(|c| c.status_delay = Duration::from_millis(30))
        .connected()
        .with_template()
}

fn bulk_form<'a>(ids: &'a [String], confirm: bool) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("which", "selected")];
    form.extend(ids.iter().map(|id| ("ids[]", id.as_str())));
    if confirm {
        form.push(("confirm", "1"));
    }
    form
}

/// The sandbox number is on the 250 tier. A bulk send to 260 tenants who never wrote (so each
/// gets a template) is refused first with a warning that queues nothing; "Send anyway" queues
/// them all. 250 tenants are not over the limit.
async fn a_bulk_send_past_the_messaging_limit_is_confirmed_first(backend: Backend) {
    let w = world(backend).build().await;
    let page = w.call("whatsapp/get", &[]).await.json();
    let c = &page["connection"];
    assert_eq!(c["messaging_limit"], "TIER_250", "{page}");
    assert_eq!(c["daily_unique_limit"], 250, "{page}");

    let invoices = w.seed_invoices(260, "+4479111", "LIM-").await;
    let ids: Vec<String> = invoices.iter().map(i64::to_string).collect();
    let refused = w.call("whatsapp/bulk", &bulk_form(&ids, false)).await;
    assert_eq!(refused.status.as_u16(), 422, "{}", refused.body);
    let warning = refused.body.clone();
    assert!(
        warning.contains("260 tenants outside their 24-hour window")
            && warning.contains("allows 250 customers")
            && warning.contains("refuse about 10"),
        "{warning}"
    );
    assert_eq!(w.reads().send_count().await, 0, "a warning queues nothing");

    // 250 of them fit.
    let fits = w
        .call("whatsapp/bulk", &bulk_form(&ids[..250], false))
        .await;
    assert!(fits.status.is_success(), "{}", fits.body);
    assert_eq!(fits.json()["queued"], 250);
    // Once they are reached, ten more go past the limit, counted with those reached today.
    w.drive_within("250 accepted", Duration::from_secs(60), || async {
        w.reads()
            .sends_in_states(&["sent", "delivered", "read"])
            .await
            == 250
    })
    .await;
    let more = w
        .call("whatsapp/bulk", &bulk_form(&ids[250..], false))
        .await;
    assert_eq!(more.status.as_u16(), 422, "{}", more.body);
    assert!(
        more.body.contains("10 tenants outside")
            && more
                .body
                .contains("the 250 reached in the last 24 hours that makes 260"),
        "{}",
        more.body
    );
    let anyway = w.call("whatsapp/bulk", &bulk_form(&ids[250..], true)).await;
    assert!(anyway.status.is_success(), "{}", anyway.body);
    assert_eq!(anyway.json()["queued"], 10);
    w.close().await;
}

/// A number shared with the WhatsApp Business app is paced at 20 messages a second whatever
/// `WHATSAPP_THROUGHPUT` says: 60 invoices go without a single 130429 from the sandbox, which
/// holds such a number to 20 a second. The card says why.
async fn a_number_shared_with_the_business_app_is_paced_at_20_a_second(backend: Backend) {
    let w = world(backend)
        .env(&[("WHATSAPP_THROUGHPUT", "80")])
        .build()
        .await;
    let pnid = w.account().phone_number_id.clone();
    w.sandbox().set_shared_with_app(&pnid, true);
    let tested = w.call("whatsapp/test", &[]).await;
    assert!(tested.status.is_success(), "{}", tested.body);
    let page = w.call("whatsapp/get", &[]).await.json();
    assert_eq!(page["connection"]["shared_with_app"], true, "{page}");

    let invoices = w.queue_invoices(60, "+4479222", "CO-").await;
    w.drive_within("60 accepted", Duration::from_secs(60), || async {
        w.reads()
            .sends_in_states(&["sent", "delivered", "read"])
            .await
            == 60
    })
    .await;
    assert_eq!(w.sandbox().stats().throughput_refusals, 0);
    assert!(w.not_exactly_once(&invoices).await.is_empty());
    w.close().await;
}

/// Without JavaScript the warning comes back on the invoices page with the selection as hidden
/// fields, so "Send anyway" sends the same invoices.
async fn the_limit_warning_works_without_javascript(backend: Backend) {
    let w = world(backend).build().await;
    let invoices = w.seed_invoices(251, "+4479333", "NJ-").await;
    let ids: Vec<String> = invoices.iter().map(i64::to_string).collect();
    let mut b = w.browser();
    let r = b
        .call(
            "whatsapp/bulk",
            &bulk_form(&ids, false),
            Client::PlainForm {
                referer: "/invoices",
            },
        )
        .await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.body);
    let page = b.get("/invoices").await;
    assert!(
        page.body.contains("Over your messaging limit"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("251 tenants outside their 24-hour window"));
    let hidden = page.body.matches("type=\"hidden\" name=\"ids[]\"").count();
    assert_eq!(hidden, 251, "the selection comes back");
    assert_eq!(w.reads().send_count().await, 0);
    // "Send anyway" posts the hidden selection with confirm.
    let r = b
        .call(
            "whatsapp/bulk",
            &bulk_form(&ids, true),
            Client::PlainForm {
                referer: "/invoices",
            },
        )
        .await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.body);
    assert_eq!(w.reads().send_count().await, 251);
    w.close().await;
}

per_backend!(
    the_limit_warning_works_without_javascript,
    a_bulk_send_past_the_messaging_limit_is_confirmed_first,
    a_number_shared_with_the_business_app_is_paced_at_20_a_second,
);

//! Pages that change while they are open: a template in review, Meta's webhook awaited, a send
//! moving, a self-test under way, a tenant's reply on its way.
//!
//! The pages stay server-rendered. A page that is waiting for something puts a [`Refresh`] island
//! on it, with what it watches and the key of what it shows; hydrated, the island asks the server
//! every few seconds for the key of the same thing now ([`watch_key`]) and reloads the page when
//! it differs. Without JavaScript, "Check again" (or a reload) does the same. Each feature says
//! what its key is (`live_key` beside its type): what the page shows that can change, never a
//! relative time that would change by itself.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What a page waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Watch {
    /// The webhook step's two arrivals: Meta's verification request and a first event.
    Webhook,
    /// The account's templates, while one is in review.
    Templates,
    /// An invoice's sends, while one is moving.
    Sends(i64),
    /// What the confirmation of an invoice says (a template in review, a reply awaited).
    Preview(i64),
    /// A tenant's window and messages (a simulated reply on its way).
    Tenant(i64),
    /// The self-test's round trip.
    SelfTest,
}

/// The key of what `watch` shows now.
#[server(endpoint = "live")]
pub async fn watch_key(watch: Watch) -> Result<String, AppError> {
    Ok(match watch {
        Watch::Webhook => crate::onboarding::get_webhook_status()
            .await?
            .map(|s| s.live_key())
            .unwrap_or_default(),
        Watch::Templates => crate::sending::get_sending_settings().await?.live_key(),
        Watch::Sends(id) => {
            crate::sending::live_key_of_sends(&crate::sending::send_history(id).await?)
        }
        Watch::Preview(id) => crate::sending::get_send_preview(id).await?.live_key(),
        Watch::Tenant(id) => crate::sending::get_tenant_messages(id).await?.live_key(),
        Watch::SelfTest => crate::selftest::get_self_test().await?.live_key(),
    })
}

/// Reloads the page when what it shows of `watch` is no longer `seen`, asking every `every_ms`
/// milliseconds, at most `limit` times. Renders nothing.
#[island]
pub fn Refresh(watch: Watch, seen: String, every_ms: u32, limit: u32) -> impl IntoView {
    let asked = StoredValue::new(0u32);
    let busy = StoredValue::new(false);
    use_interval(u64::from(every_ms), move || {
        if busy.get_value() || asked.get_value() >= limit {
            return;
        }
        busy.set_value(true);
        asked.update_value(|n| *n += 1);
        let (watch, seen) = (watch.clone(), seen.clone());
        leptos::task::spawn_local(async move {
            match watch_key(watch).await {
                Ok(now) if now != seen => {
                    let _ = window().location().reload();
                }
                _ => busy.set_value(false),
            }
        });
    });
}

/// Marks `<body>` with `data-hydrated` once every island on the page is live: the end-to-end
/// tests wait for it, and CSS shows the `.js-only` controls from then on. Browser only.
pub fn mark_hydrated() {
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}

/// Calls `tick` every `ms` milliseconds in the browser while the component lives.
pub fn use_interval(ms: u64, tick: impl Fn() + Clone + 'static) {
    Effect::new(move |_| {
        let tick = tick.clone();
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_millis(ms)) {
            on_cleanup(move || handle.clear());
        }
    });
}

//! The messaging providers this server can send through (server only), by the name stored with
//! each connection and by mode: a sandbox connection only ever reaches its provider's simulator,
//! a live one only the real service (or the simulator an operator pointed it at).
//!
//! Each provider is a crate implementing [`messaging::Provider`] plus one folder of glue here:
//! what its connection form asks and checks, and how its sandbox starts. [`meta`] is Meta's
//! Cloud API. The outbox, the webhooks and the pages reach providers only through [`Providers`].

pub mod meta;

use crate::error::AppError;
use messaging::Provider;
use parking_lot::RwLock;
use std::{collections::HashMap, sync::Arc};

/// Whether a connection is real or reaches the built-in simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Live,
    Sandbox,
}

impl Mode {
    /// The stored form (`whatsapp_connections.mode`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Sandbox => "sandbox",
        }
    }

    /// Reads the stored form; anything but `sandbox` is live, as the column's default is.
    pub fn parse(stored: &str) -> Mode {
        if stored == "sandbox" {
            Mode::Sandbox
        } else {
            Mode::Live
        }
    }
}

#[derive(Default)]
pub struct Providers {
    by_name: RwLock<HashMap<(String, Mode), Arc<dyn Provider>>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .by_name
            .read()
            .keys()
            .map(|(n, m)| format!("{n}/{m:?}"))
            .collect();
        f.debug_struct("Providers").field("known", &names).finish()
    }
}

impl Providers {
    /// Makes `provider` the one connections of its name in `mode` use.
    pub fn register(&self, mode: Mode, provider: Arc<dyn Provider>) {
        self.by_name
            .write()
            .insert((provider.id().to_string(), mode), provider);
    }

    /// The provider a connection stored as `name` in `mode` sends through.
    pub fn get(&self, name: &str, mode: Mode) -> Result<Arc<dyn Provider>, AppError> {
        if let Some(p) = self.by_name.read().get(&(name.to_string(), mode)) {
            return Ok(p.clone());
        }
        Err(match mode {
            Mode::Sandbox => AppError::invalid(
                "form",
                "The sandbox is turned off on this server (AXIS_SANDBOX=off).",
            ),
            Mode::Live => AppError::internal(format!(
                "no provider named {name:?} is configured on this server"
            )),
        })
    }

    /// A provider named `name` in either mode, for what does not depend on the mode (reading
    /// its error codes).
    pub fn any_mode(&self, name: &str) -> Option<Arc<dyn Provider>> {
        let known = self.by_name.read();
        [Mode::Live, Mode::Sandbox]
            .into_iter()
            .find_map(|m| known.get(&(name.to_string(), m)).cloned())
    }

    /// Whether `name` names a provider this server knows, in any mode (for webhook paths).
    pub fn knows(&self, name: &str) -> bool {
        self.by_name.read().keys().any(|(n, _)| n == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_back_what_they_store() {
        for m in [Mode::Live, Mode::Sandbox] {
            assert_eq!(Mode::parse(m.as_str()), m);
        }
        assert_eq!(Mode::parse(""), Mode::Live);
    }
}

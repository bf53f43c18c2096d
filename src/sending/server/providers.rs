//! The messaging providers this server can send through, by the name stored with each
//! connection and by mode: a sandbox connection only ever reaches its provider's simulator, a
//! live one only the real service (or the simulator an operator pointed it at).

use crate::connections::server::Mode;
use crate::error::AppError;
use messaging::Provider;
use parking_lot::RwLock;
use std::{collections::HashMap, sync::Arc};

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

    /// Whether `name` names a provider this server knows, in any mode (for webhook paths).
    pub fn knows(&self, name: &str) -> bool {
        self.by_name.read().keys().any(|(n, _)| n == name)
    }
}

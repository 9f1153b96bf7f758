//! `server drain|disable|enable|weight`: applied to every running proxy of the backend,
//! since a backend used by several frontends has one proxy (and one server state) per
//! frontend.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use baton::control_request::{ServerChange, shown};

use crate::daemon::frontends::Registry;

/// Applies `change` to the server at `address` of `backend`; the reply, or its error text.
pub(crate) fn apply(
    registry: &Registry,
    backend: &str,
    address: SocketAddr,
    change: ServerChange,
) -> Result<serde_json::Value, String> {
    let views = registry.read().unwrap_or_else(|e| e.into_inner()).clone();
    let ours: Vec<_> = views.iter().filter(|v| v.backend == backend).collect();
    let Some(first) = ours.first() else {
        let running: BTreeSet<&str> = views.iter().map(|v| v.backend.as_str()).collect();
        let running: Vec<&str> = running.into_iter().collect();
        return Err(if running.is_empty() {
            format!("unknown backend {}: no frontend is running", shown(backend))
        } else {
            format!(
                "unknown backend {}; backends in use: {}",
                shown(backend),
                running.join(", ")
            )
        });
    };
    let servers = first.proxy.servers();
    if !servers.iter().any(|s| s.address == address) {
        let listed: Vec<String> = servers.iter().map(|s| s.address.to_string()).collect();
        return Err(format!(
            "no server {address} in backend {backend}; its servers: {}",
            listed.join(", ")
        ));
    }
    for view in &ours {
        let result = match change {
            ServerChange::Admin(state) => view.proxy.set_admin(address, state),
            ServerChange::Weight(weight) => view.proxy.set_weight(address, weight),
        };
        // Only a reload racing with this command can get here.
        result.map_err(|error| format!("frontend {}: {error}", view.frontend))?;
    }
    let now = first
        .proxy
        .servers()
        .into_iter()
        .find(|s| s.address == address);
    let frontends: Vec<&str> = ours.iter().map(|v| v.frontend.as_str()).collect();
    Ok(serde_json::json!({
        "ok": true,
        "backend": backend,
        "address": address.to_string(),
        "admin": now.as_ref().map(|s| s.admin.as_str()),
        "weight": now.as_ref().map(|s| s.weight),
        "frontends": frontends,
    }))
}

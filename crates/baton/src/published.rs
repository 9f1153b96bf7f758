//! What the running daemon publishes for its readers, the control socket and the admin
//! listener: every frontend's proxy, the L4 virtual servers, and the snapshot that puts them
//! together with the VRRP status the protocol task last sent. It sits below both `daemon`
//! and `admin`, so that the admin listener reads the daemon's state without importing it.

use std::sync::{Arc, RwLock};

use baton_proxy::Proxy;
use tokio::sync::watch;

use crate::status::{ServerEntry, Status, VirtualServerEntry};

/// What `baton status` reads: every running frontend's proxy, current after each reload.
pub(crate) type ProxyRegistry = Arc<RwLock<Vec<ProxyView>>>;

/// One frontend's proxy, with the names to show it under.
#[derive(Debug, Clone)]
pub(crate) struct ProxyView {
    pub(crate) frontend: String,
    pub(crate) backend: String,
    pub(crate) proxy: Proxy,
}

/// What `baton status` and the metrics read: every virtual server as last published.
pub(crate) type VirtualServerRegistry = Arc<RwLock<Vec<VirtualServerEntry>>>;

/// The VRRP state as last published, with the servers as they are this instant: what
/// `baton status --json` and the admin listener's `/status.json` show.
pub(crate) fn snapshot(
    status: &watch::Receiver<Status>,
    proxies: &ProxyRegistry,
    virtual_servers: &VirtualServerRegistry,
) -> Status {
    let mut snapshot = status.borrow().clone();
    let views = proxies.read().unwrap_or_else(|e| e.into_inner()).clone();
    snapshot.backends = views
        .iter()
        .flat_map(|view| ServerEntry::of(&view.frontend, &view.backend, &view.proxy))
        .collect();
    snapshot.virtual_servers = virtual_servers
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    // Fresh, not as of the last VRRP event: a host behind BGP may run no instance at all.
    snapshot.anycast = crate::anycast_status::snapshot();
    snapshot
}

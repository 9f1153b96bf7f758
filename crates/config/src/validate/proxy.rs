//! What frontends and backends must agree on between themselves.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use super::Names;
use crate::diagnostic::{Diagnostics, Location};
use crate::model::Backend;
use crate::proxy_spec::{BackendDraft, FrontendDraft};

/// Each frontend names a backend that exists, listens where no other does, and can read
/// its certificates; each backend is used by some frontend.
pub(crate) fn frontends(
    frontends: &[FrontendDraft],
    backends: &[BackendDraft],
    names: &Names,
    d: &mut Diagnostics,
) {
    let mut listening: HashMap<SocketAddr, (&str, &Location)> = HashMap::new();
    for f in frontends {
        let name = &f.name;
        if let Some(backend) = &f.backend {
            if !Names::has(&names.backends, &backend.value) {
                d.error(
                    &backend.at,
                    format!(
                        "frontend {name}: backend {0}: no backend named {0}",
                        backend.value
                    ),
                );
            }
        }
        if let Some(listen) = &f.listen {
            match listening.get(&listen.value) {
                Some((first, at)) if first != name => d.error(
                    &listen.at,
                    format!(
                        "frontend {name}: listen {} is already used by frontend {first} at {at}",
                        listen.value
                    ),
                ),
                Some(_) => {}
                None => {
                    listening.insert(listen.value, (name, &listen.at));
                }
            }
        }
        for tls in &f.tls {
            let mut both_read = true;
            for (what, path) in [("cert", &tls.cert), ("key", &tls.key)] {
                if let Err(error) = readable(path) {
                    both_read = false;
                    d.error(
                        &tls.location,
                        format!(
                            "frontend {name}: tls {what} {}: cannot read: {error}",
                            path.display()
                        ),
                    );
                }
            }
            // Loaded as the daemon will load them, so a bad PEM or a key that belongs to
            // another certificate is found by `baton check`, not at startup.
            if both_read {
                let pair = [(tls.cert.clone(), tls.key.clone())];
                if let Err(error) = baton_proxy::TlsConfig::from_pem_files(&pair) {
                    d.error(&tls.location, format!("frontend {name}: tls: {error}"));
                }
            }
        }
    }
    for b in backends {
        let used = frontends
            .iter()
            .any(|f| f.backend.as_ref().is_some_and(|u| u.value == b.name));
        if !used {
            d.warn(
                &b.location,
                format!("backend {}: no frontend uses it", b.name),
            );
        }
    }
}

/// Read, as `nginx -t` loads them: a file that opens but cannot be read (a directory, say)
/// fails at startup just the same.
fn readable(path: &Path) -> std::io::Result<()> {
    std::fs::read(path).map(drop)
}

/// Each server is listed once; an empty backend is allowed, as a place to add servers to
/// later, but every request to it gets a 503.
pub(crate) fn backends(backends: &[Backend], d: &mut Diagnostics) {
    for b in backends {
        let name = &b.name;
        if b.servers.is_empty() {
            d.warn(
                &b.location,
                format!("backend {name}: no servers; every request to it gets a 503"),
            );
        }
        let mut seen: HashMap<SocketAddr, &Location> = HashMap::new();
        for s in &b.servers {
            if let Some(first) = seen.get(&s.address) {
                d.error(
                    &s.location,
                    format!(
                        "backend {name}: server {} is listed twice (first at {first})",
                        s.address
                    ),
                );
            } else {
                seen.insert(s.address, &s.location);
            }
        }
    }
}

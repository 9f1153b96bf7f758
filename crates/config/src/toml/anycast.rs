//! `[[anycast]]`: prefixes announced through the host's routing daemon (see
//! `crate::anycast`):
//!
//! ```toml
//! [[anycast]]
//! name = "web"
//! prefixes = ["10.0.9.100/32"]
//! table = 100                   # baton's routing table, which bird2 or FRR exports
//! track_frontend = ["web"]      # announced only while frontend "web" can serve
//! # track_virtual_server = ["dns"]
//! # track_interface = ["eth0"]
//! # track_script = ["chk_web"]  # [[vrrp_script]]s: any failing one withdraws
//! # track_file = ["maint"]      # [[track_file]]s: any value but 0 withdraws
//! # withdraw_delay = 1.0        # at a stop: withdraw, wait this long, then drain
//! # interface = "eth0"          # where the routers send it: DR services forward out of it
//! # peers = ["10.0.3.5", "10.0.3.6", "10.0.3.7"]  # every LB's address by the routers:
//! #                             # connections the routers move are relayed to their owner
//! # local_route = true          # the address as a local route, not on lo (what FRR needs)
//! ```

use std::net::IpAddr;

use serde::Deserialize;
use toml::{Spanned, Value};

use super::Reader;
use crate::anycast::{Anycast, DEFAULT_TABLE, DEFAULT_WITHDRAW_DELAY, Prefix, Tracked};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AnycastToml {
    name: String,
    prefixes: Vec<Spanned<String>>,
    table: Option<Spanned<i64>>,
    #[serde(default)]
    track_frontend: Vec<String>,
    #[serde(default)]
    track_virtual_server: Vec<String>,
    #[serde(default)]
    track_interface: Vec<String>,
    #[serde(default)]
    track_script: Vec<Spanned<Value>>,
    #[serde(default)]
    track_file: Vec<Spanned<Value>>,
    withdraw_delay: Option<Spanned<Value>>,
    interface: Option<String>,
    #[serde(default)]
    peers: Vec<Spanned<String>>,
    #[serde(default)]
    local_route: bool,
}

impl Reader<'_> {
    pub(super) fn anycast(&mut self, t: AnycastToml, start: usize) -> Option<Anycast> {
        let c = format!("anycast {}", t.name);
        let location = self.at(start);
        if t.prefixes.is_empty() {
            self.d
                .error(&location, format!("{c}: prefixes: at least one is needed"));
        }
        let mut prefixes = Vec::new();
        for text in &t.prefixes {
            let result = Prefix::parse(text.get_ref()).map_err(|e| format!("prefixes: {e}"));
            if let Some(prefix) = self.check(text.span().start, &c, result) {
                prefixes.push(prefix);
            }
        }
        let table = match &t.table {
            Some(n) => {
                let result = u32::try_from(*n.get_ref())
                    .ok()
                    // 0 is no table; 255 (local) holds the host's own addresses.
                    .filter(|&n| n != 0 && n != 255)
                    .ok_or_else(|| {
                        format!(
                            "table {} is not a routing table: 1..=4294967295, not 255 (local)",
                            n.get_ref()
                        )
                    });
                self.check(n.span().start, &c, result)?
            }
            None => DEFAULT_TABLE,
        };
        let withdraw_delay = match &t.withdraw_delay {
            Some(value) => self.seconds(&c, "withdraw_delay", value)?.value,
            None => DEFAULT_WITHDRAW_DELAY,
        };
        if prefixes.len() != t.prefixes.len() || prefixes.is_empty() {
            return None;
        }
        let mut tracked = |what: &str, names: Vec<Spanned<Value>>| -> Vec<Tracked> {
            let mut list = Vec::new();
            for name in names {
                let start = name.span().start;
                let result = match name.into_inner() {
                    Value::String(name) => Ok(name),
                    // `{ name, weight }`, as in a VRRP instance's list.
                    _ => Err(format!(
                        "{what} entries are names: an [[anycast]] section has no priority \
                         for a weight to change, any failing one withdraws"
                    )),
                };
                if let Some(name) = self.check(start, &c, result) {
                    let location = self.at(start).into();
                    list.push(Tracked { name, location });
                }
            }
            list
        };
        let track_scripts = tracked("track_script", t.track_script);
        let track_files = tracked("track_file", t.track_file);
        let peers = self.peers(&c, &t.peers, &prefixes);
        Some(Anycast {
            name: t.name,
            prefixes,
            table,
            track_frontends: t.track_frontend,
            track_virtual_servers: t.track_virtual_server,
            track_interfaces: t.track_interface,
            track_scripts,
            track_files,
            withdraw_delay,
            interface: t.interface,
            peers,
            local_route: t.local_route,
            location: location.into(),
        })
    }

    /// `peers`: addresses of load balancers, each once, none of them announced (a peer
    /// is reached at its own address, not at the anycast one every peer has).
    fn peers(&mut self, c: &str, texts: &[Spanned<String>], prefixes: &[Prefix]) -> Vec<IpAddr> {
        let mut peers = Vec::new();
        for text in texts {
            let result = text
                .get_ref()
                .trim()
                .parse::<IpAddr>()
                .map_err(|_| format!("peers: '{}' is not an address", text.get_ref()))
                .and_then(|peer| {
                    if peer.is_unspecified() || peer.is_multicast() || peer.is_loopback() {
                        Err(format!("peers: {peer} is not a load balancer's address"))
                    } else if let Some(prefix) = prefixes.iter().find(|p| p.contains(peer)) {
                        Err(format!(
                            "peers: {peer} is in the announced {prefix}: a peer is named by \
                             its own address on the routers' segment"
                        ))
                    } else if peers.contains(&peer) {
                        Err(format!("peers: {peer} is listed twice"))
                    } else {
                        Ok(peer)
                    }
                });
            if let Some(peer) = self.check(text.span().start, c, result) {
                peers.push(peer);
            }
        }
        peers
    }
}

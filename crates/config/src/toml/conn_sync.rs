//! `[conn_sync]`: conntrackd carries the NAT virtual servers' flows to the other load
//! balancers (docs/conn-sync.md):
//!
//! ```toml
//! [conn_sync]
//! interface = "eth1"          # the sync link
//! peer = "10.0.9.2"           # unicast UDP to the other LB; without it, multicast
//! # group = "225.0.0.50"      # the multicast group (conntrackd's default)
//! # port = 3780
//! # instance = ["VI_1"]       # default: the instances holding a NAT virtual server's address
//! # conntrackd = "/usr/sbin/conntrackd"
//! ```

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::Reader;
use crate::conn_sync::{ConnSync, DEFAULT_CONNTRACKD, DEFAULT_GROUP, DEFAULT_PORT, SyncTransport};
use crate::spec::Draft;
use crate::values::parse_ip;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnSyncToml {
    interface: String,
    peer: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    #[serde(default)]
    instance: Vec<String>,
    conntrackd: Option<PathBuf>,
}

impl Reader<'_> {
    pub(super) fn conn_sync(&mut self, t: ConnSyncToml, start: usize, draft: &mut Draft) {
        let c = "[conn_sync]";
        let location = self.at(start);
        let address = |r: &mut Self, value: &Spanned<String>, key: &str| -> Option<IpAddr> {
            let result = parse_ip(value.get_ref()).map_err(|e| format!("{key}: {e}"));
            r.check(value.span().start, c, result)
        };
        let port = match &t.port {
            Some(p) => {
                let result = u16::try_from(*p.get_ref())
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("port {} is not 1..=65535", p.get_ref()));
                self.check(p.span().start, c, result)
                    .unwrap_or(DEFAULT_PORT)
            }
            None => DEFAULT_PORT,
        };
        let transport = match (&t.peer, &t.group) {
            (Some(_), Some(group)) => {
                let result: Result<(), String> =
                    Err("peer (unicast) and group (multicast) exclude each other".into());
                self.check(group.span().start, c, result);
                return;
            }
            (Some(peer), None) => match address(self, peer, "peer") {
                Some(peer) => SyncTransport::Unicast { peer, port },
                None => return,
            },
            (None, Some(group)) => match address(self, group, "group") {
                Some(group) => SyncTransport::Multicast { group, port },
                None => return,
            },
            (None, None) => SyncTransport::Multicast {
                group: DEFAULT_GROUP,
                port,
            },
        };
        draft.global.conn_sync = Some(ConnSync {
            interface: t.interface,
            transport,
            instances: t.instance,
            conntrackd: t.conntrackd.unwrap_or_else(|| DEFAULT_CONNTRACKD.into()),
            location: location.into(),
        });
    }
}

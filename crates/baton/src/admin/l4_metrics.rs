//! The L4 families of `GET /metrics`: one series per virtual server and per real server,
//! from the status the virtual-server runtime last published. docs/metrics.md lists them.

use super::encode::{Encoder, Kind};
use crate::status::{RealServerEntry, VirtualServerEntry};

/// A real-server family: its name, kind, help and how to read its value.
type RealServerFamily = (
    &'static str,
    Kind,
    &'static str,
    fn(&RealServerEntry) -> u64,
);

const REAL_SERVER_FAMILIES: [RealServerFamily; 6] = [
    (
        "baton_real_server_up",
        Kind::Gauge,
        "1 while the real server takes new flows (checkers pass, ready, weight above 0).",
        |r| u64::from(r.up),
    ),
    (
        "baton_real_server_weight",
        Kind::Gauge,
        "The real server's weight in the nftables data plane now.",
        |r| u64::from(r.weight),
    ),
    (
        "baton_real_server_connections_active",
        Kind::Gauge,
        "Connections to the real server in the kernel's connection tracking table (NAT).",
        |r| r.active,
    ),
    (
        "baton_real_server_connections_total",
        Kind::Counter,
        "New connections (flows) sent to the real server.",
        |r| r.connections,
    ),
    (
        "baton_real_server_packets_total",
        Kind::Counter,
        "Packets of the real server's flows, both directions.",
        |r| r.packets,
    ),
    (
        "baton_real_server_bytes_total",
        Kind::Counter,
        "Bytes of the real server's flows, both directions.",
        |r| r.bytes,
    ),
];

/// Writes every L4 family, also when there is no virtual server (an empty family tells a
/// dashboard the metric exists).
pub(super) fn render(out: &mut Encoder, services: &[VirtualServerEntry]) {
    let name = "baton_virtual_server_quorum_up";
    out.family(
        name,
        Kind::Gauge,
        "1 while the live real servers' weights reach the virtual server's quorum.",
    );
    for vs in services {
        out.sample(
            name,
            &[("virtual_server", vs.name.as_str())],
            u8::from(vs.quorum_up),
        );
    }
    let name = "baton_virtual_server_sorry_active";
    out.family(
        name,
        Kind::Gauge,
        "1 while the sorry server takes the virtual server's new flows.",
    );
    for vs in services {
        out.sample(
            name,
            &[("virtual_server", vs.name.as_str())],
            u8::from(vs.sorry_active),
        );
    }
    for (name, kind, help, value) in REAL_SERVER_FAMILIES {
        out.family(name, kind, help);
        for vs in services {
            for rs in &vs.real_servers {
                let labels = [
                    ("virtual_server", vs.name.as_str()),
                    ("real_server", rs.address.as_str()),
                ];
                out.sample(name, &labels, value(rs));
            }
        }
    }
}

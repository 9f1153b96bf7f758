//! L4 balancing on nf_tables: keepalived's `virtual_server` (IPVS) as atomic nftables
//! transactions. Packets never pass through userspace; this crate writes the rules.
//!
//! The daemon describes every service in a [`Table`] and hands it to
//! [`DataPlane::apply`], which runs one `nft -f -` transaction: the whole table the first
//! time (replacing what a killed predecessor left), only the differences afterwards, so
//! counters and persistence entries of unchanged services and backends survive a weight
//! change or a checker's verdict. [`DataPlane::render`] shows the script without running it.
//!
//! # Tables
//! - `inet NAME` (only with NAT services, so a DR-only LB loads no NAT hooks): a `nat`
//!   prerouting chain DNATs a new flow through a map `slot -> backend address . port`
//!   (port-0 services: address only, the flow keeps its port); a `filter` forward chain
//!   counts packets and bytes per backend in sets with per-element counters (one rule per
//!   VIP and one lookup keyed by the conntrack entry's reply source, the backend in both
//!   directions), and refreshes persistence entries (in a service chain of its own); a
//!   `nat` postrouting chain at -150 counts new flows (nat chains see only a flow's first
//!   packet), and one at `srcnat` masquerades when `snat` is set. The same rules in the
//!   output and input hooks serve clients on the LB itself, as IPVS does.
//! - `netdev NAME` (only with DR services): an ingress chain per interface that sends the
//!   unchanged frame to the real server with `fwd ... device` (the kernel resolves its MAC
//!   through the neighbour table). `fwd` exists only in the netdev family.
//!
//! # Schedulers
//! Each scheduler becomes "which slot" (the key) and "how many slots per backend" (the
//! weights, [`effective_weights`]):
//!
//! | `lb_algo` | NAT | DR (stateless) |
//! |---|---|---|
//! | rr, wrr | `numgen inc` over weight-proportional, interleaved slots (weights divided by their gcd, at most 1024 slots) | Maglev table keyed by `jhash` of the client address and port: weighted flow hashing, not round robin |
//! | sh, mh | Maglev table (4093 slots) keyed by `jhash` of the client address (and port with `hash_port`) | same |
//! | dh, lblc, lblcr | Maglev keyed by `jhash` of the destination address | same |
//! | lc, wlc, sed, nq, twos | `numgen inc` over slots weighted by [`effective_weights`] from the active connection counts | Maglev by flow with the configured weights (no LB counts DR flows, and all LBs must agree) |
//! | fo, ovf | one slot: the chosen backend | same |
//!
//! The connection-based schedulers are **approximations**: IPVS looks at every backend's
//! connection count for each new connection, while a slot table changes only when the
//! daemon applies a new one. New flows are spread in inverse proportion to each backend's
//! load (`weight / (active + 1)`), and the daemon recomputes the weights from
//! [`DataPlane::counters`] as often as it likes. lblc/lblcr keep locality (a destination
//! sticks to a backend) with those weights; twos becomes the same weighted spread.
//!
//! In DR nothing remembers a flow, so every scheduler must give all packets of a flow the
//! same backend: they hash the flow, never `numgen`. A change of the backend set moves
//! the flows of Maglev's changed slots only (about the share of the backend that came or
//! went).
//!
//! Every `jhash` uses one fixed seed and every Maglev table depends only on the backends'
//! addresses and weights (DR: the configured ones, never a host's connection counts), not
//! on their order in the config, the host or its history, so all LBs with the same config
//! and the same checker verdicts send a flow to the same backend, and a flow keeps its
//! real server when the VIP moves. The backup's tables are in the kernel while it is
//! backup (the daemon writes them whatever the VRRP state), so the first packet after a
//! takeover is forwarded.
//!
//! # Persistence
//! NAT: a dynamic map per service, client address (masked to the granularity) ->
//! backend, with the configured timeout. A prerouting rule before the scheduler sends a
//! known client to its backend; the forward chain refreshes the entry on every packet to
//! a backend that still takes new flows. Entries pointing at a backend that is removed or
//! set to weight 0 are deleted in the transaction that does it. DR: the slot is a hash of
//! the masked client address instead, the same backend while the backend set is unchanged.
//!
//! # Without a backend
//! While no backend has weight > 0 new flows go to the `fallback` (keepalived's
//! `sorry_server`); without one they are dropped (IPVS answers ICMP port unreachable, which
//! a nat chain cannot).
//!
//! # Counters
//! [`DataPlane::counters`]: packets and bytes per backend from the counter sets, new
//! flows (NAT: conntrack's first packet; DR: TCP SYNs), and active connections from
//! `conntrack -L` (established TCP/SCTP, and every UDP flow; the listing asks for those
//! only). [`DataPlane::counters_without_active`] skips conntrack, whose listing is the
//! costly part under load. Fwmark services count their
//! replies by backend alone. When a UDP backend is removed its conntrack entries are
//! deleted, so its clients' flows move to the others at their next packet.

mod conntrack;
mod dataplane;
mod error;
mod exec;
mod maglev;
mod model;
mod nft_json;
mod plan;
mod render;
mod ruleset;
mod weights;

pub use dataplane::{BackendCounters, DataPlane};
pub use error::Error;
pub use model::{
    Backend, Family, Forwarding, Match, Persistence, Protocol, Scheduler, Service, Table,
};
pub use weights::effective_weights;

#[cfg(test)]
mod render_tests;

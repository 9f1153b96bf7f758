//! From services to nft objects. Pure: no kernel, no clock.
//!
//! Names inside a table derive from each service's name (`s` and 8 hex digits of its
//! hash), so adding or removing one service leaves the objects of the others untouched.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use crate::model::{Family, Forwarding, Match, Protocol, Service, Table};
use crate::plan::{Key, Plan};
use crate::ruleset::{Chain, NftTable, Ruleset, Set, Update};

/// The jhash seed of every table. Fixed, so that every LB with the same config computes the
/// same slot for the same flow (a flow keeps its backend across a failover).
pub(crate) const SEED: u32 = 0xba70_4c34;

/// Per service id, the DR ordinal of each server: the `meta mark` a packet carries between
/// "pick a slot" and "forward", and the key of the server's counters. Stable across
/// transactions so that counters stay with their server.
pub(crate) type Ordinals = BTreeMap<String, BTreeMap<SocketAddr, u32>>;

/// The object-name prefix of each service, in table order.
pub(crate) fn service_ids(table: &Table) -> Vec<String> {
    let mut ids: Vec<String> = Vec::with_capacity(table.services.len());
    for service in &table.services {
        let base = format!("s{:08x}", fnv32(service.name.as_bytes()));
        let mut id = base.clone();
        let mut n = 2;
        while ids.contains(&id) {
            id = format!("{base}_{n}");
            n += 1;
        }
        ids.push(id);
    }
    ids
}

fn fnv32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Ordinals for `table`, keeping those of `old` for servers still present.
pub(crate) fn ordinals(table: &Table, old: &Ordinals) -> Ordinals {
    let mut all = Ordinals::new();
    for (service, id) in table.services.iter().zip(service_ids(table)) {
        if !matches!(service.forwarding, Forwarding::Dr { .. }) {
            continue;
        }
        let before = old.get(&id);
        let mut mine: BTreeMap<SocketAddr, u32> = BTreeMap::new();
        let servers: Vec<SocketAddr> = servers(service);
        for server in &servers {
            if let Some(&n) = before.and_then(|b| b.get(server)) {
                mine.insert(*server, n);
            }
        }
        for server in &servers {
            if !mine.contains_key(server) {
                let free = (1..).find(|n| !mine.values().any(|v| v == n)).unwrap_or(1);
                mine.insert(*server, free);
            }
        }
        all.insert(id, mine);
    }
    all
}

/// The backends and the fallback: everything that has counters.
fn servers(service: &Service) -> Vec<SocketAddr> {
    service
        .backends
        .iter()
        .map(|b| b.address)
        .chain(service.fallback)
        .collect()
}

/// The tables for `table` (validated). `ordinals` from [`ordinals`].
pub(crate) fn ruleset(name: &str, table: &Table, ordinals: &Ordinals) -> Ruleset {
    let mut inet = NftTable {
        family: "inet",
        name: name.to_owned(),
        sets: BTreeMap::new(),
        chains: Vec::new(),
    };
    let mut prerouting = Vec::new();
    let mut forward = Vec::new();
    let mut local_out = Vec::new();
    let mut local_in = Vec::new();
    let mut new_flows = Vec::new();
    let mut postrouting = Vec::new();
    let mut netdev = NftTable {
        family: "netdev",
        name: name.to_owned(),
        sets: BTreeMap::new(),
        chains: Vec::new(),
    };
    let mut ingress: BTreeMap<String, Vec<String>> = BTreeMap::new();

    for (service, id) in table.services.iter().zip(service_ids(table)) {
        let plan = Plan::of(service);
        match &service.forwarding {
            Forwarding::Nat { snat } => {
                let mut nat = Nat {
                    service,
                    id: &id,
                    plan: &plan,
                    table: &mut inet,
                };
                nat.objects();
                for m in &service.matches {
                    let comment = comment(&service.name);
                    prerouting.push(format!("{} jump {id} {comment}", packet_match(service, m)));
                    let ct = ct_match(service, m);
                    let dnat = format!("ct status dnat {ct}");
                    // Without persistence to refresh, a rule counts by itself: no jump.
                    let count = if service.persistence.is_some() {
                        format!("jump {id}_count")
                    } else {
                        format!("{} @{id}_traffic", traffic_key(service))
                    };
                    if let Match::Fwmark(_) = m {
                        // The mark is on the client's packets only; replies are told apart
                        // by their backend alone, in the counter set.
                        let original = format!("ct status dnat ct direction original {ct}");
                        let reply = format!(
                            "ct status dnat ct direction reply meta nfproto {} meta l4proto {}",
                            nfproto(service.family),
                            service.protocol.keyword()
                        );
                        forward.push(format!("{original} {count}"));
                        forward.push(format!("{reply} {count}"));
                        local_out.push(format!("{original} {count}"));
                        local_in.push(format!("{reply} {count}"));
                    } else {
                        // Both directions in one rule: the counters are keyed by the
                        // conntrack entry's reply source, the server either way.
                        forward.push(format!("{dnat} {count}"));
                        // On the LB itself a backend there would see both directions at
                        // both hooks; count each packet once.
                        local_out
                            .push(format!("ct status dnat ct direction original {ct} {count}"));
                        local_in.push(format!("ct status dnat ct direction reply {ct} {count}"));
                    }
                    // The packet is DNATed by now, so its destination is the server.
                    new_flows.push(format!("{dnat} {} @{id}_new", server_dst(service)));
                    if *snat {
                        postrouting.push(format!(
                            "ct status dnat ct direction original {ct} masquerade {comment}"
                        ));
                    }
                }
            }
            Forwarding::Dr { interface } => {
                let mine = ordinals.get(&id).cloned().unwrap_or_default();
                dr_objects(&mut netdev, service, &id, &plan, &mine, interface);
                let chain = ingress.entry(interface.clone()).or_default();
                for m in &service.matches {
                    chain.push(format!(
                        "{} jump {id} {}",
                        packet_match(service, m),
                        comment(&service.name)
                    ));
                }
            }
        }
    }
    let mut tables = Vec::new();
    if table
        .services
        .iter()
        .any(|s| matches!(s.forwarding, Forwarding::Nat { .. }))
    {
        let base = |name: &str, hook: &str, rules: Vec<String>| Chain {
            name: name.to_owned(),
            hook: Some(format!("type {hook}; policy accept;")),
            rules,
        };
        // Clients on the LB itself too, as with IPVS: their packets take output and input
        // instead of prerouting and forward.
        let mut chains = vec![
            base(
                "prerouting",
                "nat hook prerouting priority dstnat",
                prerouting.clone(),
            ),
            // nft 1.0.6 knows the name dstnat only for prerouting; -100 is its value.
            base("output", "nat hook output priority -100", prerouting),
            // Every packet of every forwarded flow passes here: one rule per VIP, which
            // counts the packet itself (or jumps, to refresh persistence too).
            base("forward", "filter hook forward priority filter", forward),
            base("local_out", "filter hook output priority filter", local_out),
            base("local_in", "filter hook input priority filter", local_in),
            // nat chains see only a flow's first packet, so new flows are counted there
            // rather than by a `ct state new` test of every forwarded packet. Before any
            // srcnat chain (-150, mangle's value): the kernel stops walking the nat
            // chains of a hook at the first one that sets a source NAT, which would
            // skip this one if it came after another table's masquerade.
            base("new_flows", "nat hook postrouting priority -150", new_flows),
            base(
                "postrouting",
                "nat hook postrouting priority srcnat",
                postrouting,
            ),
        ];
        chains.append(&mut inet.chains);
        inet.chains = chains;
        tables.push(inet);
    }
    if !ingress.is_empty() {
        for (position, (interface, rules)) in ingress.into_iter().enumerate() {
            netdev.chains.insert(
                position,
                Chain {
                    name: format!("in_{}", sanitize(&interface)),
                    // Early (-500): before any other ingress filter of the operator's sees
                    // packets that are not for this host anyway.
                    hook: Some(format!(
                        "type filter hook ingress device \"{interface}\" priority -500; policy accept;"
                    )),
                    rules,
                },
            );
        }
        tables.push(netdev);
    }
    Ruleset { tables }
}

fn sanitize(interface: &str) -> String {
    interface
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The service's name as an nft comment: quotes replaced, cut to nft's 128 bytes.
fn comment(name: &str) -> String {
    let mut text = name.replace(['"', '\\'], "'");
    let mut end = text.len().min(128);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    format!("comment \"{text}\"")
}

fn nfproto(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "ipv4",
        Family::Ipv6 => "ipv6",
    }
}

fn address_match(first: IpAddr, last: Option<IpAddr>) -> String {
    match last {
        Some(last) if last != first => format!("{first}-{last}"),
        _ => first.to_string(),
    }
}

/// The addresses (`a` or `a-b`) and port of an address or range match; a fwmark's mark.
fn destination(m: &Match) -> Result<(String, u16), u32> {
    match *m {
        Match::Address(a) => Ok((address_match(a.ip(), None), a.port())),
        Match::Range { first, last, port } => Ok((address_match(first, Some(last)), port)),
        Match::Fwmark(mark) => Err(mark),
    }
}

/// A fwmark match: the mark, the family and the protocol.
fn mark_match(service: &Service, mark: u32) -> String {
    format!(
        "meta mark {mark} meta nfproto {} meta l4proto {}",
        nfproto(service.family),
        service.protocol.keyword()
    )
}

/// Matches the client's packets of service `m` as they arrive (before DNAT).
fn packet_match(service: &Service, m: &Match) -> String {
    let f = service.family.keyword();
    let p = service.protocol.keyword();
    let (addresses, port) = match destination(m) {
        Ok(destination) => destination,
        Err(mark) => return mark_match(service, mark),
    };
    if port == 0 {
        format!("{f} daddr {addresses} meta l4proto {p}")
    } else {
        format!("{f} daddr {addresses} {p} dport {port}")
    }
}

/// Matches the flows of service `m` by their conntrack entry (after DNAT, both directions).
fn ct_match(service: &Service, m: &Match) -> String {
    let f = service.family.keyword();
    let p = service.protocol.keyword();
    let (addresses, port) = match destination(m) {
        Ok(destination) => destination,
        Err(mark) => return mark_match(service, mark),
    };
    let mut out = format!("meta l4proto {p} ct original {f} daddr {addresses}");
    if port != 0 {
        let _ = write!(out, " ct original proto-dst {port}");
    }
    out
}

/// `ip saddr`, or `ip saddr & 255.255.255.0` for a /24 granularity.
fn masked_source(family: Family, prefix: Option<u8>) -> String {
    let f = family.keyword();
    match (family, prefix) {
        (Family::Ipv4, Some(bits)) if bits < 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            format!("{f} saddr & {}", std::net::Ipv4Addr::from(mask))
        }
        (Family::Ipv6, Some(bits)) if bits < 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            format!("{f} saddr & {}", std::net::Ipv6Addr::from(mask))
        }
        _ => format!("{f} saddr"),
    }
}

/// The expression that picks a slot of `plan`.
fn slot_key(service: &Service, plan: &Plan) -> String {
    let f = service.family.keyword();
    let p = service.protocol.keyword();
    let n = plan.slots.len();
    let fields = match plan.key {
        Key::Numgen => return format!("numgen inc mod {n}"),
        Key::Source { port, prefix } => {
            let source = masked_source(service.family, prefix);
            if port {
                format!("{source} . {p} sport")
            } else {
                source
            }
        }
        Key::Destination => format!("{f} daddr"),
        Key::Flow => format!("{f} saddr . {p} sport"),
    };
    format!("jhash {fields} mod {n} seed {SEED:#x}")
}

/// The typeof of a map keyed by slot number. nft 1.0.6 crashes listing a map declared
/// `typeof jhash ...`, and rejects `type integer`; `numgen` yields the same 32-bit integer.
const SLOT_TYPE: &str = "numgen inc mod 1";

/// An nft element for a server: `10.0.3.11 . 8080`, or the address alone.
pub(crate) fn server_element(address: SocketAddr, with_port: bool) -> String {
    if with_port {
        format!("{} . {}", address.ip(), address.port())
    } else {
        address.ip().to_string()
    }
}

/// The server of a flow in both directions (and with snat too): the source of the
/// conntrack entry's reply tuple. Keys the traffic counters.
fn traffic_key(service: &Service) -> String {
    let f = service.family.keyword();
    if service.all_ports() {
        format!("ct reply {f} saddr")
    } else {
        format!("ct reply {f} saddr . ct reply proto-src")
    }
}

/// The server a DNATed packet goes to: `ip daddr . tcp dport`, or the address alone.
fn server_dst(service: &Service) -> String {
    let f = service.family.keyword();
    if service.all_ports() {
        format!("{f} daddr")
    } else {
        format!("{f} daddr . {} dport", service.protocol.keyword())
    }
}

struct Nat<'a> {
    service: &'a Service,
    id: &'a str,
    plan: &'a Plan,
    table: &'a mut NftTable,
}

impl Nat<'_> {
    fn objects(&mut self) {
        let service = self.service;
        let id = self.id;
        let f = service.family.keyword();
        let p = service.protocol.keyword();
        let with_port = !service.all_ports();
        // What a server is in this service's maps, as a packet expression.
        let server_dst = server_dst(service);
        let slots: Vec<String> = self
            .plan
            .slots
            .iter()
            .enumerate()
            .map(|(i, &t)| format!("{i} : {}", server_element(self.plan.targets[t], with_port)))
            .collect();
        self.set(
            "slots",
            "map",
            vec![format!("typeof {SLOT_TYPE} : {server_dst}")],
            slots,
            Update::Replace,
        );
        let everyone: Vec<String> = servers(service)
            .into_iter()
            .map(|a| server_element(a, with_port))
            .collect();
        for counted in ["traffic", "new"] {
            self.set(
                counted,
                "set",
                vec![format!("typeof {server_dst}"), "counter".into()],
                everyone.clone(),
                Update::Incremental,
            );
        }
        let mut dispatch = Vec::new();
        if let Some(persistence) = service.persistence {
            let client = masked_source(service.family, Some(persistence.granularity));
            self.set(
                "persist",
                "map",
                vec![
                    format!("typeof {f} saddr : {server_dst}"),
                    "flags dynamic,timeout".into(),
                    format!("timeout {}s", persistence.timeout.as_secs()),
                ],
                Vec::new(),
                Update::Dynamic,
            );
            let live: Vec<String> = service
                .eligible()
                .map(|b| server_element(b.address, with_port))
                .collect();
            self.set(
                "live",
                "set",
                vec![format!("typeof {server_dst}")],
                live,
                Update::Replace,
            );
            dispatch.push(format!(
                "meta l4proto {p} dnat {f} to {client} map @{id}_persist"
            ));
            // Refreshed by every packet of a flow to a backend that takes new flows, so the
            // entry lives while the client is active, as IPVS's persistence templates do.
            // nft needs the protocol in the rule to size `proto-src` in a concatenation.
            let traffic = format!("meta l4proto {p} {} @{id}_traffic", traffic_key(service));
            self.chain(format!("{id}_count"), vec![traffic, format!(
                "ct direction original {server_dst} @{id}_live update @{id}_persist {{ {client} : {server_dst} }}"
            )]);
        }
        if self.plan.slots.is_empty() {
            // No server at all. IPVS answers ICMP port unreachable; reject is not allowed
            // in a nat chain, so the flow is dropped.
            dispatch.push("drop".into());
        } else {
            dispatch.push(format!(
                "meta l4proto {p} dnat {f} to {} map @{id}_slots",
                slot_key(service, self.plan)
            ));
        }
        self.chain(id.to_owned(), dispatch);
    }

    fn set(
        &mut self,
        suffix: &str,
        kind: &'static str,
        declaration: Vec<String>,
        elements: Vec<String>,
        update: Update,
    ) {
        self.table.sets.insert(
            format!("{}_{suffix}", self.id),
            Set {
                kind,
                declaration,
                elements,
                update,
            },
        );
    }

    fn chain(&mut self, name: String, rules: Vec<String>) {
        self.table.chains.push(Chain {
            name,
            hook: None,
            rules,
        });
    }
}

fn dr_objects(
    table: &mut NftTable,
    service: &Service,
    id: &str,
    plan: &Plan,
    ordinals: &BTreeMap<SocketAddr, u32>,
    interface: &str,
) {
    let f = service.family.keyword();
    let p = service.protocol.keyword();
    let ordinal = |a: &SocketAddr| ordinals.get(a).copied().unwrap_or(0);
    let mut set = |suffix: &str, kind: &'static str, declaration: Vec<String>, elements, update| {
        table.sets.insert(
            format!("{id}_{suffix}"),
            Set {
                kind,
                declaration,
                elements,
                update,
            },
        );
    };
    set(
        "slots",
        "map",
        vec![format!("typeof {SLOT_TYPE} : meta mark")],
        plan.slots
            .iter()
            .enumerate()
            .map(|(i, &t)| format!("{i} : {}", ordinal(&plan.targets[t])))
            .collect(),
        Update::Replace,
    );
    set(
        "to",
        "map",
        vec![format!("typeof meta mark : {f} daddr")],
        ordinals
            .iter()
            .map(|(address, n)| format!("{n} : {}", address.ip()))
            .collect(),
        Update::Replace,
    );
    let everyone: Vec<String> = ordinals.values().map(u32::to_string).collect();
    for counted in ["traffic", "new"] {
        set(
            counted,
            "set",
            vec!["typeof meta mark".into(), "counter".into()],
            everyone.clone(),
            Update::Incremental,
        );
    }
    let mut rules = Vec::new();
    if plan.slots.is_empty() {
        rules.push("drop".to_owned());
    } else {
        // The mark carries the chosen server from the slot map to the counters and to fwd:
        // fwd ends the rule, so nothing could count after it. The frame leaves at once, so
        // the mark is never seen by anything else.
        rules.push(format!(
            "meta l4proto {p} meta mark set {} map @{id}_slots",
            slot_key(service, plan)
        ));
        rules.push(format!("meta mark @{id}_traffic"));
        if service.protocol == Protocol::Tcp {
            // Stateless: a new connection is a bare SYN.
            rules.push(format!(
                "tcp flags & (syn | ack) == syn meta mark @{id}_new"
            ));
        }
        rules.push(format!(
            "fwd {f} to meta mark map @{id}_to device \"{interface}\""
        ));
    }
    table.chains.push(Chain {
        name: id.to_owned(),
        hook: None,
        rules,
    });
}

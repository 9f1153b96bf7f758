//! The scripts nft receives: a golden first transaction, and the properties of later ones
//! (what they keep, what they touch).

use std::net::SocketAddr;
use std::time::Duration;

use crate::DataPlane;
use crate::model::*;
use crate::render::{self, Ordinals};
use crate::ruleset;

fn backend(address: &str, weight: u32) -> Backend {
    Backend {
        address: address.parse().expect("backend address"),
        weight,
        active_connections: 0,
        uthreshold: 0,
    }
}

fn service(name: &str, vip: &str, scheduler: Scheduler, backends: Vec<Backend>) -> Service {
    Service {
        name: name.to_owned(),
        matches: vec![Match::Address(vip.parse().expect("vip"))],
        protocol: Protocol::Tcp,
        family: Family::Ipv4,
        forwarding: Forwarding::Nat { snat: false },
        scheduler,
        hash_port: false,
        persistence: None,
        backends,
        fallback: None,
    }
}

fn web(weights: [u32; 2]) -> Service {
    service(
        "web",
        "10.0.3.100:80",
        Scheduler::Wrr,
        vec![
            backend("10.0.3.11:8080", weights[0]),
            backend("10.0.3.12:8080", weights[1]),
        ],
    )
}

/// The script that turns `old` into `new`, as `apply` computes it.
fn transition(old: &Table, new: &Table) -> String {
    let before = render::ordinals(old, &Ordinals::new());
    let after = render::ordinals(new, &before);
    ruleset::transition(
        &render::ruleset("baton", old, &before),
        &render::ruleset("baton", new, &after),
    )
}

#[test]
fn first_transaction_golden() {
    let table = Table {
        services: vec![web([2, 1])],
    };
    let script = DataPlane::new("baton").render(&table).expect("valid");
    let golden = r#"add table inet baton
delete table inet baton
add table netdev baton
delete table netdev baton
table inet baton {
	set s0fd9bc91_new {
		typeof ip daddr . tcp dport
		counter
		elements = { 10.0.3.11 . 8080, 10.0.3.12 . 8080 }
	}
	map s0fd9bc91_slots {
		typeof numgen inc mod 1 : ip daddr . tcp dport
		elements = { 0 : 10.0.3.11 . 8080, 1 : 10.0.3.12 . 8080, 2 : 10.0.3.11 . 8080 }
	}
	set s0fd9bc91_traffic {
		typeof ip daddr . tcp dport
		counter
		elements = { 10.0.3.11 . 8080, 10.0.3.12 . 8080 }
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 10.0.3.100 tcp dport 80 jump s0fd9bc91 comment "web"
	}
	chain output {
		type nat hook output priority -100; policy accept;
		ip daddr 10.0.3.100 tcp dport 80 jump s0fd9bc91 comment "web"
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct status dnat meta l4proto tcp ct original ip daddr 10.0.3.100 ct original proto-dst 80 ct reply ip saddr . ct reply proto-src @s0fd9bc91_traffic
	}
	chain local_out {
		type filter hook output priority filter; policy accept;
		ct status dnat ct direction original meta l4proto tcp ct original ip daddr 10.0.3.100 ct original proto-dst 80 ct reply ip saddr . ct reply proto-src @s0fd9bc91_traffic
	}
	chain local_in {
		type filter hook input priority filter; policy accept;
		ct status dnat ct direction reply meta l4proto tcp ct original ip daddr 10.0.3.100 ct original proto-dst 80 ct reply ip saddr . ct reply proto-src @s0fd9bc91_traffic
	}
	chain new_flows {
		type nat hook postrouting priority -150; policy accept;
		ct status dnat meta l4proto tcp ct original ip daddr 10.0.3.100 ct original proto-dst 80 ip daddr . tcp dport @s0fd9bc91_new
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
	}
	chain s0fd9bc91 {
		meta l4proto tcp dnat ip to numgen inc mod 3 map @s0fd9bc91_slots
	}
}
"#;
    assert_eq!(script, golden, "{script}");
}

#[test]
fn a_weight_change_rewrites_only_the_slot_map() {
    let old = Table {
        services: vec![web([2, 1])],
    };
    let new = Table {
        services: vec![web([1, 2])],
    };
    let script = transition(&old, &new);
    assert_eq!(
        script,
        "flush map inet baton s0fd9bc91_slots\n\
         add element inet baton s0fd9bc91_slots { 0 : 10.0.3.12 . 8080, 1 : 10.0.3.11 . 8080, 2 : 10.0.3.12 . 8080 }\n"
    );
    assert_eq!(transition(&new, &new), "");
}

#[test]
fn a_new_slot_count_rewrites_the_service_chain_but_keeps_counters() {
    let old = Table {
        services: vec![web([2, 1])],
    };
    let new = Table {
        services: vec![web([1, 0])],
    };
    let script = transition(&old, &new);
    assert!(!script.contains("table"), "{script}");
    assert!(
        script.contains("flush chain inet baton s0fd9bc91\n"),
        "{script}"
    );
    assert!(script.contains(
        "add rule inet baton s0fd9bc91 meta l4proto tcp dnat ip to numgen inc mod 1 map"
    ));
    // Weight 0 keeps the backend's counters.
    assert!(!script.contains("traffic"), "{script}");
    assert!(
        !script.contains("flush chain inet baton prerouting"),
        "{script}"
    );
}

#[test]
fn removing_a_backend_deletes_only_its_counters() {
    let old = Table {
        services: vec![web([1, 1])],
    };
    let mut new = old.clone();
    new.services[0].backends.pop();
    new.services[0].backends.push(backend("10.0.3.13:8080", 1));
    let script = transition(&old, &new);
    assert!(script.contains("delete element inet baton s0fd9bc91_traffic { 10.0.3.12 . 8080 }"));
    assert!(script.contains("add element inet baton s0fd9bc91_traffic { 10.0.3.13 . 8080 }"));
    assert!(!script.contains("10.0.3.11 . 8080 }\n"), "{script}");
}

#[test]
fn adding_a_service_leaves_the_others_alone() {
    let old = Table {
        services: vec![web([1, 1])],
    };
    let mut new = old.clone();
    new.services.push(service(
        "dns",
        "10.0.3.100:53",
        Scheduler::Rr,
        vec![backend("10.0.3.11:53", 1)],
    ));
    let script = transition(&old, &new);
    let base_chains = [
        "prerouting",
        "output",
        "forward",
        "local_out",
        "local_in",
        "new_flows",
    ];
    let touches_web = |line: &&str| {
        line.contains("s0fd9bc91")
            && !base_chains
                .iter()
                .any(|c| line.starts_with(&format!("add rule inet baton {c} ")))
    };
    assert!(!script.lines().any(|l| touches_web(&l)), "{script}");
    // Base chains are rewritten (in the same transaction), the service's own are not.
    assert!(script.contains("flush chain inet baton prerouting"));
    assert!(!script.contains("flush chain inet baton s0fd9bc91"));
    // The new chains exist before the base chain's rules jump to them.
    let created = script
        .find("add chain inet baton sda6ae8bc\n")
        .expect(&script);
    let jump = script
        .find("add rule inet baton prerouting")
        .expect(&script);
    assert!(created < jump, "{script}");
}

#[test]
fn changed_persistence_recreates_its_map_and_the_rules_using_it() {
    let mut old = web([1, 1]);
    old.persistence = Some(Persistence {
        timeout: Duration::from_secs(300),
        granularity: 32,
    });
    let mut new = old.clone();
    new.persistence = Some(Persistence {
        timeout: Duration::from_secs(60),
        granularity: 32,
    });
    let script = transition(
        &Table {
            services: vec![old],
        },
        &Table {
            services: vec![new],
        },
    );
    let flush = script
        .find("flush chain inet baton s0fd9bc91\n")
        .expect(&script);
    let delete = script
        .find("delete map inet baton s0fd9bc91_persist")
        .expect(&script);
    let add = script
        .find("add map inet baton s0fd9bc91_persist")
        .expect(&script);
    let rule = script
        .find("add rule inet baton s0fd9bc91 ")
        .expect(&script);
    assert!(flush < delete && delete < add && add < rule, "{script}");
    assert!(script.contains("timeout 60s"));
}

#[test]
fn dr_ordinals_stay_with_their_server() {
    let mut dr = web([1, 1]);
    dr.name = "dr".into();
    dr.backends[0].address = "10.0.3.11:80".parse().expect("address");
    dr.backends[1].address = "10.0.3.12:80".parse().expect("address");
    dr.matches = vec![Match::Address("10.0.3.100:80".parse().expect("vip"))];
    dr.forwarding = Forwarding::Dr {
        interface: "eth0".into(),
    };
    let old = Table {
        services: vec![dr.clone()],
    };
    let first = render::ordinals(&old, &Ordinals::new());
    dr.backends.remove(0);
    dr.backends.push(backend("10.0.3.13:80", 1));
    let second = render::ordinals(&Table { services: vec![dr] }, &first);
    let of = |o: &Ordinals, a: &str| {
        let a: SocketAddr = a.parse().expect("address");
        o.values().next().and_then(|m| m.get(&a).copied())
    };
    assert_eq!(of(&first, "10.0.3.12:80"), of(&second, "10.0.3.12:80"));
    // The freed ordinal is reused, so marks stay small.
    assert_eq!(of(&second, "10.0.3.13:80"), of(&first, "10.0.3.11:80"));
}

#[test]
fn dr_hashes_the_flow_and_never_uses_numgen() {
    for scheduler in [
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Wlc,
        Scheduler::Twos,
    ] {
        let mut dr = service(
            "dr",
            "10.0.3.100:80",
            scheduler,
            vec![backend("10.0.3.11:80", 1), backend("10.0.3.12:80", 2)],
        );
        dr.forwarding = Forwarding::Dr {
            interface: "eth0".into(),
        };
        let script = DataPlane::new("b")
            .render(&Table { services: vec![dr] })
            .expect("valid");
        assert!(!script.contains("numgen inc mod 4093"), "{scheduler:?}");
        assert!(
            script
                .contains("meta mark set jhash ip saddr . tcp sport mod 4093 seed 0xba704c34 map"),
            "{scheduler:?}: {script}"
        );
    }
}

#[test]
fn every_problem_is_reported() {
    let mut bad = web([1, 1]);
    bad.backends.push(backend("10.0.3.11:8080", 1));
    bad.backends.push(backend("[fd00::1]:80", 1));
    let mut dr = web([1, 1]);
    dr.forwarding = Forwarding::Dr {
        interface: "eth0".into(),
    };
    let error = DataPlane::new("baton")
        .render(&Table {
            services: vec![bad, dr],
        })
        .expect_err("invalid");
    let text = error.to_string();
    assert!(text.contains("listed twice"), "{text}");
    assert!(text.contains("is defined twice"), "{text}");
    assert!(text.contains("DR cannot rewrite ports"), "{text}");
    assert!(DataPlane::new("no-dash").render(&Table::default()).is_err());
}

#[test]
fn dr_only_needs_no_inet_table() {
    let mut dr = service(
        "dr",
        "10.0.3.100:80",
        Scheduler::Rr,
        vec![backend("10.0.3.11:80", 1)],
    );
    dr.forwarding = Forwarding::Dr {
        interface: "eth0".into(),
    };
    let script = DataPlane::new("b")
        .render(&Table {
            services: vec![dr.clone()],
        })
        .expect("valid");
    // Leftovers of both families go; only the netdev table is written: no nat hooks,
    // so no conntrack for a DR-only LB's own traffic.
    assert!(script.contains("delete table inet b\n"));
    assert!(!script.contains("table inet b {"), "{script}");
    assert!(script.contains("table netdev b {"), "{script}");
    // From NAT to DR and back: the tables come and go in the transaction.
    let nat = Table {
        services: vec![web([1, 1])],
    };
    let dr = Table { services: vec![dr] };
    let to_dr = transition(&nat, &dr);
    assert!(to_dr.starts_with("delete table inet baton\n"), "{to_dr}");
    assert!(to_dr.contains("table netdev baton {"), "{to_dr}");
    let back = transition(&dr, &nat);
    assert!(back.starts_with("delete table netdev baton\n"), "{back}");
}

#[test]
fn long_names_fit_in_an_nft_comment() {
    let mut long = web([1, 1]);
    long.name = format!("\"quoted\" {}", "é".repeat(100));
    let script = DataPlane::new("b")
        .render(&Table {
            services: vec![long],
        })
        .expect("valid");
    let comment = script
        .lines()
        .find_map(|l| {
            l.split_once("comment \"")
                .map(|(_, c)| c.trim_end_matches('"'))
        })
        .expect("a comment");
    assert!(
        comment.len() <= 128 && comment.starts_with("'quoted' é"),
        "{comment}"
    );
}

/// Per DR service id: each slot's server address (the slot map resolved through the
/// forwarding map, so the marks, which depend on a host's history, drop out) and the
/// service chain's rules (the hash key and its seed).
fn dr_forwarding(table: &Table, old: &Table) -> Vec<(String, Vec<String>, Vec<String>)> {
    let history = render::ordinals(old, &Ordinals::new());
    let ruleset = render::ruleset("baton", table, &render::ordinals(table, &history));
    let netdev = ruleset
        .tables
        .iter()
        .find(|t| t.family == "netdev")
        .expect("a netdev table");
    let pairs = |set: &str| -> Vec<(String, String)> {
        netdev.sets[set]
            .elements
            .iter()
            .map(|e| {
                let (key, value) = e.split_once(" : ").expect("a map element");
                (key.to_owned(), value.to_owned())
            })
            .collect()
    };
    let mut services: Vec<(String, Vec<String>, Vec<String>)> = netdev
        .chains
        .iter()
        .filter(|c| c.hook.is_none())
        .map(|chain| {
            let to: std::collections::BTreeMap<String, String> =
                pairs(&format!("{}_to", chain.name)).into_iter().collect();
            let slots = pairs(&format!("{}_slots", chain.name))
                .into_iter()
                .map(|(_, mark)| to[&mark].clone())
                .collect();
            (chain.name.clone(), slots, chain.rules.clone())
        })
        .collect();
    services.sort();
    services
}

#[test]
fn every_lb_with_the_same_config_forwards_a_flow_to_the_same_server() {
    // Two LBs with the same services and real servers, listed in other orders, one of
    // them with a history (its marks were handed out to another server set first) and
    // other connection counts: the same server for every slot, the same hash and seed.
    // keepalived's IPVS would differ here (ip_vs_mh fills its table in the order the
    // real servers were added); an operator expects "same real servers, same table".
    for scheduler in [
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Sh,
        Scheduler::Mh,
        Scheduler::Dh,
        Scheduler::Lc,
        Scheduler::Wlc,
        Scheduler::Nq,
        Scheduler::Ovf,
    ] {
        for hash_port in [false, true] {
            let dr = |name: &str, order: [usize; 3], active: [u64; 3]| {
                let servers = [
                    ("10.0.3.11:80", 1),
                    ("10.0.3.12:80", 2),
                    ("10.0.3.13:80", 1),
                ];
                let backends = order
                    .iter()
                    .map(|&i| Backend {
                        active_connections: active[i],
                        ..backend(servers[i].0, servers[i].1)
                    })
                    .collect();
                let mut s = service(name, "10.0.3.100:80", scheduler, backends);
                s.forwarding = Forwarding::Dr {
                    interface: "eth0".into(),
                };
                s.hash_port = hash_port;
                s
            };
            let lb1 = Table {
                services: vec![dr("web", [0, 1, 2], [0; 3]), dr("api", [0, 1, 2], [0; 3])],
            };
            let lb2 = Table {
                services: vec![
                    dr("api", [2, 0, 1], [7, 0, 3]),
                    dr("web", [1, 2, 0], [0, 9, 1]),
                ],
            };
            let history = Table {
                services: vec![dr("web", [2, 2, 2], [0; 3]), dr("api", [1, 1, 1], [0; 3])],
            };
            let first = dr_forwarding(&lb1, &Table::default());
            let second = dr_forwarding(&lb2, &history);
            assert_eq!(first.len(), 2);
            for (a, b) in first.iter().zip(&second) {
                let differ = a.1.iter().zip(&b.1).filter(|(x, y)| x != y).count();
                assert_eq!(
                    (differ, &a.0, &a.2),
                    (0, &b.0, &b.2),
                    "{scheduler:?}, hash_port {hash_port}: slots that differ, rules"
                );
            }
            assert!(
                first[0].2.iter().any(|r| r.contains("seed 0xba704c34")),
                "{:?}",
                first[0].2
            );
        }
    }
}

//! A daemon's life: leftovers of a killed predecessor, many transactions under load,
//! every feature loaded into the kernel, removal.

use std::time::Duration;

use baton_l4::{Family, Forwarding, Match, Persistence, Protocol, Scheduler, Table};

use crate::util::{ROUTED_CLIENT, backend, block, nft, service, setup, table, tally, with_apps};

#[test]
fn leftovers_of_a_killed_daemon_are_replaced_by_the_first_apply() {
    let Some(mut lab) = setup("leftovers_of_a_killed_daemon_are_replaced_by_the_first_apply")
    else {
        return;
    };
    lab.serve_apps();
    let mut first = lab.plane("baton");
    let mut dr = service(8080, Protocol::Tcp, Scheduler::Rr, 8080, [1, 1]);
    dr.name = "dr".into();
    dr.forwarding = Forwarding::Dr {
        interface: "eth0".into(),
    };
    let only_app1 = service(80, Protocol::Tcp, Scheduler::Rr, 8080, [1, 0]);
    block(first.apply(&table(vec![only_app1, dr]))).expect("apply");
    assert!(nft(&lab, &["list", "tables"]).contains("netdev baton"));
    // kill -9: the tables stay, and a new daemon knows nothing of them.
    drop(first);
    let mut second = lab.plane("baton");
    let only_app2 = service(80, Protocol::Tcp, Scheduler::Rr, 8080, [0, 1]);
    block(second.apply(&table(vec![only_app2]))).expect("apply");
    assert_eq!(nft(&lab, &["list", "tables"]).trim(), "table inet baton");
    let counts = tally(&lab.tcp(80, 4, ROUTED_CLIENT));
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        vec!["app2"],
        "{counts:?}"
    );
    // `nft flush ruleset` under the running daemon: its next change still works.
    nft(&lab, &["flush", "ruleset"]);
    let both = service(80, Protocol::Tcp, Scheduler::Rr, 8080, [1, 1]);
    block(second.apply(&table(vec![both]))).expect("apply after a flush");
    assert_eq!(tally(&lab.tcp(80, 4, ROUTED_CLIENT)).len(), 2);
    block(second.remove()).expect("remove");
    assert_eq!(nft(&lab, &["list", "tables"]).trim(), "");
}

#[test]
fn a_hundred_transactions_under_load_lose_no_connection() {
    let Some((lab, mut plane)) = with_apps("a_hundred_transactions_under_load_lose_no_connection")
    else {
        return;
    };
    let base = service(80, Protocol::Tcp, Scheduler::Wrr, 8080, [1, 1]);
    block(plane.apply(&table(vec![base.clone()]))).expect("apply");
    let load = lab.load(80, ROUTED_CLIENT);
    std::thread::sleep(Duration::from_millis(200));
    let started = std::time::Instant::now();
    for round in 0..100u32 {
        let mut web = base.clone();
        // Weights, backend sets, schedulers and extra services all change: slot maps,
        // service chains and base chains are rewritten, always with a backend up.
        match round % 5 {
            0 => web.backends[0].weight = 0,
            1 => {
                web.backends.remove(1);
            }
            2 => {
                web.backends[1].weight = 3;
                web.scheduler = Scheduler::Mh;
            }
            3 => {
                web.backends.remove(0);
                web.persistence = Some(Persistence {
                    timeout: Duration::from_secs(30),
                    granularity: 32,
                });
            }
            _ => web.backends[0].weight = round,
        };
        let mut services = vec![web];
        if round % 2 == 0 {
            let mut extra = service(81, Protocol::Udp, Scheduler::Rr, 5353, [1, 1]);
            extra.name = "extra".into();
            services.push(extra);
        }
        block(plane.apply(&table(services))).expect("apply");
    }
    let elapsed = started.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let (ok, failures) = load.finish();
    eprintln!("100 transactions in {elapsed:?}, {ok} connections meanwhile");
    assert!(failures.is_empty(), "{failures:?} ({ok} succeeded)");
    assert!(ok > 100, "only {ok} connections made");
}

/// Every kind of match, family, protocol and scheduler, loaded into the kernel and then
/// changed: nft must accept all the scripts.
#[test]
fn every_feature_loads_and_changes() {
    if baton_lab::skip_in_rootless_lab(
        "every_feature_loads_and_changes",
        baton_lab::NFT_TRANSACTIONS_ABOVE_212_KB,
    ) {
        return;
    }
    let Some(lab) = setup("every_feature_loads_and_changes") else {
        return;
    };
    let mut plane = lab.plane("baton");
    let mut services = Vec::new();
    for (i, scheduler) in Scheduler::ALL.into_iter().enumerate() {
        let protocol = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp][i % 3];
        let port = 1000 + i as u16;
        let mut s = service(port, protocol, scheduler, port, [1, 2]);
        s.name = format!("{scheduler:?}");
        s.hash_port = i % 2 == 0;
        match i % 4 {
            0 => {
                s.persistence = Some(Persistence {
                    timeout: Duration::from_secs(60),
                    granularity: 24,
                })
            }
            1 => {
                s.forwarding = Forwarding::Dr {
                    interface: "eth0".into(),
                };
                if i % 8 == 1 {
                    // DR persistence: a hash of the masked client address.
                    s.persistence = Some(Persistence {
                        timeout: Duration::from_secs(60),
                        granularity: 24,
                    });
                }
            }
            2 => {
                s.matches = vec![
                    Match::Range {
                        first: "10.0.3.100".parse().expect("ip"),
                        last: "10.0.3.120".parse().expect("ip"),
                        port,
                    },
                    Match::Fwmark(7 + i as u32),
                ];
                s.forwarding = Forwarding::Nat { snat: true };
            }
            _ => {
                s.family = Family::Ipv6;
                s.matches = vec![Match::Address("[fd00::100]:0".parse().expect("vip"))];
                s.backends = vec![backend("[fd00::11]:0", 1), backend("[fd00::12]:0", 0)];
                s.fallback = Some("[fd00::13]:0".parse().expect("fallback"));
            }
        }
        services.push(s);
    }
    let all = Table { services };
    block(plane.apply(&all)).expect("first transaction");
    let mut changed = all.clone();
    for s in &mut changed.services {
        s.backends[0].weight = 0;
        s.backends[1].weight = 5;
        // On the port of the others: DR cannot rewrite ports.
        let mut added = backend(
            if s.family == Family::Ipv6 {
                "[fd00::14]:0"
            } else {
                "10.0.3.14:0"
            },
            1,
        );
        added.address.set_port(s.backends[0].address.port());
        s.backends.push(added);
    }
    changed.services.remove(3);
    block(plane.apply(&changed)).expect("second transaction");
    block(plane.apply(&all)).expect("back again");
    let counters = block(plane.counters()).expect("counters");
    assert!(counters.len() >= 28, "{}", counters.len());
    block(plane.remove()).expect("remove");
}

/// A Maglev service's 4093-slot map is replaced whole when a weight changes: measured.
#[test]
fn replacing_a_maglev_table_is_quick() {
    let Some(lab) = setup("replacing_a_maglev_table_is_quick") else {
        return;
    };
    let mut plane = lab.plane("baton");
    let mut mh = service(80, Protocol::Tcp, Scheduler::Mh, 8080, [1, 1]);
    block(plane.apply(&table(vec![mh.clone()]))).expect("apply");
    let mut slowest = Duration::ZERO;
    for weight in 2..12 {
        mh.backends[0].weight = weight;
        let script = plane.render(&table(vec![mh.clone()])).expect("render");
        assert!(script.contains("flush map"), "{script}");
        let started = std::time::Instant::now();
        block(plane.apply(&table(vec![mh.clone()]))).expect("apply");
        slowest = slowest.max(started.elapsed());
    }
    eprintln!("slowest 4093-slot Maglev replacement: {slowest:?}");
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
}

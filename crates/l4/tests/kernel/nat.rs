//! NAT services: schedulers, snat, persistence, weight 0, UDP backends, fallback, counters.

use std::time::Duration;

use baton_l4::{Forwarding, Persistence, Protocol, Scheduler};

use crate::util::{
    LAN_CLIENT, ROUTED_CLIENT, VIP, VIP6, block, nft, service, service6, setup, table, tally,
    with_apps,
};

#[test]
fn rr_and_wrr_spread_new_connections_exactly() {
    let Some((lab, mut plane)) = with_apps("rr_and_wrr_spread_new_connections_exactly") else {
        return;
    };
    let rr = service(80, Protocol::Tcp, Scheduler::Rr, 8080, [1, 1]);
    let mut wrr = service(81, Protocol::Tcp, Scheduler::Wrr, 8080, [3, 1]);
    wrr.name = "wrr".into();
    block(plane.apply(&table(vec![rr, wrr]))).expect("apply");
    let counts = tally(&lab.tcp(80, 20, ROUTED_CLIENT));
    assert_eq!(counts.get("app1"), Some(&10), "{counts:?}");
    assert_eq!(counts.get("app2"), Some(&10), "{counts:?}");
    let counts = tally(&lab.tcp(81, 40, ROUTED_CLIENT));
    assert_eq!(counts.get("app1"), Some(&30), "{counts:?}");
    assert_eq!(counts.get("app2"), Some(&10), "{counts:?}");
}

#[test]
fn sh_keeps_a_client_and_mh_with_ports_spreads_its_flows() {
    if baton_lab::skip_in_rootless_lab(
        "sh_keeps_a_client_and_mh_with_ports_spreads_its_flows",
        baton_lab::NFT_TRANSACTIONS_ABOVE_212_KB,
    ) {
        return;
    }
    let Some((lab, mut plane)) = with_apps("sh_keeps_a_client_and_mh_with_ports_spreads_its_flows")
    else {
        return;
    };
    let sh = service(80, Protocol::Tcp, Scheduler::Sh, 8080, [1, 1]);
    let mut mh = service(81, Protocol::Tcp, Scheduler::Mh, 8080, [1, 1]);
    mh.hash_port = true;
    mh.name = "mh".into();
    let mut mh_plain = service(82, Protocol::Tcp, Scheduler::Mh, 8080, [1, 1]);
    mh_plain.name = "mh-plain".into();
    block(plane.apply(&table(vec![sh, mh, mh_plain]))).expect("apply");
    assert_eq!(
        tally(&lab.tcp(80, 10, ROUTED_CLIENT)).len(),
        1,
        "sh moved a client"
    );
    assert_eq!(
        tally(&lab.tcp(82, 10, ROUTED_CLIENT)).len(),
        1,
        "mh moved a client"
    );
    let counts = tally(&lab.tcp(81, 40, ROUTED_CLIENT));
    assert!(
        counts.values().all(|&n| n >= 8) && counts.len() == 2,
        "mh-port over 40 flows: {counts:?}"
    );
}

#[test]
fn snat_serves_clients_whose_replies_would_bypass_the_lb() {
    let Some((lab, mut plane)) = with_apps("snat_serves_clients_whose_replies_would_bypass_the_lb")
    else {
        return;
    };
    let plain = service(80, Protocol::Tcp, Scheduler::Rr, 8080, [1, 1]);
    block(plane.apply(&table(vec![plain.clone()]))).expect("apply");
    // The app answers 10.0.3.50 directly, from its own address: the client drops that.
    let answers = lab.tcp(80, 2, LAN_CLIENT);
    assert!(answers.iter().all(|a| a.starts_with("FAIL")), "{answers:?}");
    let mut snat = plain;
    snat.forwarding = Forwarding::Nat { snat: true };
    block(plane.apply(&table(vec![snat]))).expect("apply");
    assert_eq!(tally(&lab.tcp(80, 10, LAN_CLIENT)).len(), 2);
    // The routed client works either way.
    assert_eq!(tally(&lab.tcp(80, 10, ROUTED_CLIENT)).len(), 2);
}

#[test]
fn ipv6_udp_and_tcp_with_snat() {
    let Some(mut lab) = setup("ipv6_udp_and_tcp_with_snat") else {
        return;
    };
    for app in ["app1", "app2"] {
        lab.serve_family(app, app, "tcp", 9090, "6");
        lab.serve_family(app, app, "udp", 9090, "6");
    }
    lab.route_vip6();
    let mut plane = lab.plane("baton");
    let mut services = Vec::new();
    for (protocol, port) in [(Protocol::Tcp, 80), (Protocol::Udp, 53)] {
        let mut s = service6(port, protocol, Scheduler::Rr, 9090);
        s.forwarding = Forwarding::Nat { snat: true };
        services.push(s);
    }
    block(plane.apply(&table(services))).expect("apply");
    let counts = tally(&lab.tcp_to(VIP6, 80, 10, "-"));
    assert_eq!(
        counts.values().copied().collect::<Vec<_>>(),
        vec![5, 5],
        "{counts:?}"
    );
    let counters = block(plane.counters()).expect("counters");
    let tcp: u64 = counters
        .iter()
        .filter(|c| c.service.ends_with("/Tcp"))
        .map(|c| c.new_connections)
        .sum();
    assert_eq!(tcp, 10, "{counters:?}");
}

#[test]
fn persistence_keeps_a_client_until_its_backend_is_zeroed() {
    let Some((lab, mut plane)) =
        with_apps("persistence_keeps_a_client_until_its_backend_is_zeroed")
    else {
        return;
    };
    let mut sticky = service(80, Protocol::Tcp, Scheduler::Rr, 8080, [1, 1]);
    sticky.persistence = Some(Persistence {
        timeout: Duration::from_secs(300),
        granularity: 24,
    });
    block(plane.apply(&table(vec![sticky.clone()]))).expect("apply");
    let counts = tally(&lab.tcp(80, 10, ROUTED_CLIENT));
    assert_eq!(
        counts.len(),
        1,
        "rr with persistence moved the client: {counts:?}"
    );
    let first = counts.keys().next().expect("one").clone();
    let (zeroed, other) = if first == "app1" {
        (0, "app2")
    } else {
        (1, "app1")
    };
    sticky.backends[zeroed].weight = 0;
    let zeroed_ip = sticky.backends[zeroed].address.ip().to_string();
    let pointing_at_zeroed = |ruleset: &str| {
        ruleset
            .lines()
            .any(|l| l.contains("expires") && l.contains(&format!(": {zeroed_ip} ")))
    };
    assert!(pointing_at_zeroed(&nft(&lab, &["list", "ruleset"])));
    block(plane.apply(&table(vec![sticky.clone()]))).expect("apply");
    let ruleset = nft(&lab, &["list", "ruleset"]);
    assert!(!pointing_at_zeroed(&ruleset), "{ruleset}");
    let counts = tally(&lab.tcp(80, 10, ROUTED_CLIENT));
    assert_eq!(counts.keys().collect::<Vec<_>>(), vec![other], "{counts:?}");
    // Back to weight 1: the client now stays where its entry points.
    sticky.backends[zeroed].weight = 1;
    block(plane.apply(&table(vec![sticky]))).expect("apply");
    let counts = tally(&lab.tcp(80, 10, ROUTED_CLIENT));
    assert_eq!(counts.keys().collect::<Vec<_>>(), vec![other], "{counts:?}");
}

#[test]
fn weight_zero_keeps_an_established_connection_and_takes_no_new_ones() {
    let Some((lab, mut plane)) =
        with_apps("weight_zero_keeps_an_established_connection_and_takes_no_new_ones")
    else {
        return;
    };
    let mut web = service(80, Protocol::Tcp, Scheduler::Rr, 8080, [1, 1]);
    block(plane.apply(&table(vec![web.clone()]))).expect("apply");
    let mut held = lab.hold(80, ROUTED_CLIENT);
    let server = held.server.clone();
    assert!(server.starts_with("app"), "{server}");
    let index = usize::from(server == "app2");
    web.backends[index].weight = 0;
    block(plane.apply(&table(vec![web.clone()]))).expect("apply");
    assert_eq!(held.ask("ping"), format!("{server}:ping"));
    let counts = tally(&lab.tcp(80, 10, ROUTED_CLIENT));
    assert!(!counts.contains_key(&server), "{counts:?}");
    // Counted as active on its backend.
    let counters = block(plane.counters()).expect("counters");
    let active = counters
        .iter()
        .find(|c| c.backend == web.backends[index].address)
        .expect("counters of the held backend");
    assert_eq!(active.active_connections, 1, "{counters:?}");
    assert_eq!(held.ask("again"), format!("{server}:again"));
}

#[test]
fn removing_a_udp_backend_moves_its_flow() {
    let Some((lab, mut plane)) = with_apps("removing_a_udp_backend_moves_its_flow") else {
        return;
    };
    let mut dns = service(53, Protocol::Udp, Scheduler::Rr, 5353, [1, 1]);
    block(plane.apply(&table(vec![dns.clone()]))).expect("apply");
    // Datagrams of new flows alternate; one flow stays where conntrack put it.
    assert_eq!(tally(&lab.udp(53, 10, ROUTED_CLIENT, 0)).len(), 2);
    let flow = lab.udp(53, 3, ROUTED_CLIENT, 40000);
    let counts = tally(&flow);
    assert_eq!(counts.len(), 1, "{flow:?}");
    let server = flow[0].clone();
    dns.backends
        .retain(|b| (b.address.ip().to_string() == "10.0.3.11") != (server == "app1"));
    assert_eq!(dns.backends.len(), 1);
    block(plane.apply(&table(vec![dns]))).expect("apply");
    let after = tally(&lab.udp(53, 3, ROUTED_CLIENT, 40000));
    assert!(
        !after.contains_key(&server),
        "the flow stayed on {server}: {after:?}"
    );
}

#[test]
fn fallback_takes_new_flows_while_every_weight_is_zero() {
    let Some(mut lab) = setup("fallback_takes_new_flows_while_every_weight_is_zero") else {
        return;
    };
    lab.serve_apps();
    lab.serve("app2", "sorry", "tcp", 8081);
    let mut plane = lab.plane("baton");
    let mut web = service(80, Protocol::Tcp, Scheduler::Wlc, 8080, [0, 0]);
    web.fallback = Some("10.0.3.12:8081".parse().expect("fallback"));
    block(plane.apply(&table(vec![web.clone()]))).expect("apply");
    let counts = tally(&lab.tcp(80, 4, ROUTED_CLIENT));
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        vec!["sorry"],
        "{counts:?}"
    );
    web.backends[0].weight = 1;
    block(plane.apply(&table(vec![web.clone()]))).expect("apply");
    let counts = tally(&lab.tcp(80, 4, ROUTED_CLIENT));
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        vec!["app1"],
        "{counts:?}"
    );
    // No backend and no fallback: nothing answers.
    web.backends[0].weight = 0;
    web.fallback = None;
    block(plane.apply(&table(vec![web]))).expect("apply");
    let answers = lab.tcp(80, 1, ROUTED_CLIENT);
    assert!(answers[0].starts_with("FAIL"), "{answers:?}");
}

#[test]
fn counters_count_packets_bytes_and_new_connections_and_survive_changes() {
    let Some(mut lab) =
        setup("counters_count_packets_bytes_and_new_connections_and_survive_changes")
    else {
        return;
    };
    lab.serve_apps();
    let mut plane = lab.plane("baton");
    let mut web = service(80, Protocol::Tcp, Scheduler::Rr, 8080, [1, 1]);
    block(plane.apply(&table(vec![web.clone()]))).expect("apply");
    tally(&lab.tcp(80, 10, ROUTED_CLIENT));
    let before = block(plane.counters()).expect("counters");
    assert_eq!(before.len(), 2, "{before:?}");
    for c in &before {
        assert_eq!(c.service, format!("{VIP}:80/Tcp"));
        assert_eq!(c.new_connections, 5, "{c:?}");
        // SYN, ACK, FIN/ACK, ACK... both ways: at least 6 packets per connection.
        assert!(c.packets >= 30, "{c:?}");
        assert!(c.bytes > c.packets * 40, "{c:?}");
    }
    // A weight change and an added service keep them.
    web.backends[1].weight = 3;
    let mut other = service(81, Protocol::Udp, Scheduler::Rr, 5353, [1, 1]);
    other.name = "dns".into();
    block(plane.apply(&table(vec![web.clone(), other]))).expect("apply");
    let after = block(plane.counters()).expect("counters");
    for c in before {
        let kept = after
            .iter()
            .find(|a| a.service == c.service && a.backend == c.backend)
            .expect("still counted");
        assert!(
            kept.packets >= c.packets && kept.new_connections == 5,
            "{kept:?}"
        );
    }
}

#[test]
fn clients_on_the_lb_itself_are_balanced_and_counted() {
    let Some((lab, mut plane)) = with_apps("clients_on_the_lb_itself_are_balanced_and_counted")
    else {
        return;
    };
    block(plane.apply(&table(vec![service(
        80,
        Protocol::Tcp,
        Scheduler::Rr,
        8080,
        [1, 1],
    )])))
    .expect("apply");
    let answers = lab.client_on("lb1", &["tcp", VIP, "80", "6", "-"]);
    assert_eq!(
        tally(&answers).values().copied().collect::<Vec<_>>(),
        vec![3, 3]
    );
    let counters = block(plane.counters()).expect("counters");
    for c in &counters {
        assert_eq!(c.new_connections, 3, "{counters:?}");
        // Replies are counted on their way in.
        assert!(c.packets >= 18, "{counters:?}");
    }
}

#[test]
fn a_port_zero_service_keeps_ports_and_persistence_spans_them() {
    let Some((mut lab, mut plane)) =
        with_apps("a_port_zero_service_keeps_ports_and_persistence_spans_them")
    else {
        return;
    };
    lab.serve("app1", "app1", "tcp", 8081);
    lab.serve("app2", "app2", "tcp", 8081);
    let mut every_port = service(0, Protocol::Tcp, Scheduler::Rr, 0, [1, 1]);
    block(plane.apply(&table(vec![every_port.clone()]))).expect("apply");
    assert_eq!(tally(&lab.tcp(8080, 4, ROUTED_CLIENT)).len(), 2);
    assert_eq!(tally(&lab.tcp(8081, 4, ROUTED_CLIENT)).len(), 2);
    every_port.persistence = Some(Persistence {
        timeout: Duration::from_secs(60),
        granularity: 32,
    });
    block(plane.apply(&table(vec![every_port]))).expect("apply");
    let mut answers = lab.tcp(8080, 3, ROUTED_CLIENT);
    answers.extend(lab.tcp(8081, 3, ROUTED_CLIENT));
    // One backend for the client, whichever port it uses.
    assert_eq!(tally(&answers).len(), 1, "{answers:?}");
}

//! Direct routing: the apps hold the VIP on lo and answer the client themselves.

use baton_l4::{Forwarding, Match, Protocol, Scheduler};

use crate::util::{LAN_CLIENT, VIP, VIP6, block, service, service6, setup, table, tally};

#[test]
fn dr_spreads_flows_by_hash_and_the_apps_answer_directly() {
    if baton_lab::skip_in_rootless_lab(
        "dr_spreads_flows_by_hash_and_the_apps_answer_directly",
        baton_lab::NFT_TRANSACTIONS_ABOVE_212_KB,
    ) {
        return;
    }
    let Some(mut lab) = setup("dr_spreads_flows_by_hash_and_the_apps_answer_directly") else {
        return;
    };
    for app in ["app1", "app2"] {
        let host = lab.lab.host(app);
        // The usual DR real-server setup: the VIP on lo, never announced nor answered
        // in ARP, so only lb1 draws the VIP's traffic.
        for sysctl in [
            "net.ipv4.conf.all.arp_ignore=1",
            "net.ipv4.conf.all.arp_announce=2",
            "net.ipv4.conf.eth0.arp_ignore=1",
            "net.ipv4.conf.eth0.arp_announce=2",
        ] {
            host.run("sysctl", &["-qw", sysctl]).expect("sysctl");
        }
        host.run("ip", &["addr", "add", &format!("{VIP}/32"), "dev", "lo"])
            .expect("vip on lo");
    }
    lab.serve_apps();
    let mut plane = lab.plane("baton");
    let mut flows = service(8080, Protocol::Tcp, Scheduler::Rr, 8080, [1, 1]);
    flows.forwarding = Forwarding::Dr {
        interface: "eth0".into(),
    };
    let mut sticky = flows.clone();
    sticky.name = "sh".into();
    sticky.scheduler = Scheduler::Sh;
    sticky.matches = vec![Match::Address(format!("{VIP}:5353").parse().expect("vip"))];
    sticky.protocol = Protocol::Udp;
    for b in &mut sticky.backends {
        b.address.set_port(5353);
    }
    block(plane.apply(&table(vec![flows, sticky]))).expect("apply");
    let counts = tally(&lab.tcp(8080, 40, LAN_CLIENT));
    assert!(
        counts.len() == 2 && counts.values().all(|&n| n >= 8),
        "rr in DR (flow hashing) over 40 flows: {counts:?}"
    );
    // sh: one client, one server, whatever its ports.
    assert_eq!(tally(&lab.udp(5353, 10, LAN_CLIENT, 0)).len(), 1);
    let counters = block(plane.counters()).expect("counters");
    let syns: u64 = counters
        .iter()
        .filter(|c| c.backend.port() == 8080)
        .map(|c| c.new_connections)
        .sum();
    assert_eq!(syns, 40, "{counters:?}");
    let sh: Vec<u64> = counters
        .iter()
        .filter(|c| c.service == "sh")
        .map(|c| c.packets)
        .collect();
    assert!(sh.contains(&10) && sh.contains(&0), "{counters:?}");
    assert!(
        counters
            .iter()
            .filter(|c| c.service != "sh")
            .all(|c| c.packets > c.new_connections),
        "{counters:?}"
    );
}

#[test]
fn dr_over_ipv6() {
    let Some(mut lab) = setup("dr_over_ipv6") else {
        return;
    };
    for app in ["app1", "app2"] {
        // IPv6 answers neighbour solicitations only for the receiving interface's own
        // addresses, so the VIP on lo needs no arp_ignore equivalent.
        lab.lab
            .host(app)
            .run(
                "ip",
                &["-6", "addr", "add", &format!("{VIP6}/128"), "dev", "lo"],
            )
            .expect("vip on lo");
        lab.serve_family(app, app, "tcp", 9090, "6");
    }
    lab.route_vip6();
    let mut plane = lab.plane("baton");
    let mut web = service6(9090, Protocol::Tcp, Scheduler::Wrr, 9090);
    web.forwarding = Forwarding::Dr {
        interface: "eth0".into(),
    };
    block(plane.apply(&table(vec![web]))).expect("apply");
    let counts = tally(&lab.tcp_to(VIP6, 9090, 30, "-"));
    assert!(
        counts.len() == 2 && counts.values().all(|&n| n >= 5),
        "IPv6 DR over 30 flows: {counts:?}"
    );
}

//! keepalived's election options beyond the RFCs: lower_prio_no_advert,
//! higher_prio_send_advert, down_timer_adverts, unicast_ttl, mcast_dst_ip and
//! vrrp_startup_delay. Each scenario runs the same LAN with and without the option where the
//! difference is the point.

use std::net::IpAddr;
use std::time::Duration;

use baton_vrrp::{
    Advertisement, Centiseconds, ChecksumMode, ConfigError, DropReason, Instance, InstanceConfig,
    Peers, Priority, Reason, Received, State, VersionFields, Vrid,
};

use crate::sim::{DEFAULT_LATENCY, Lan, What};
use crate::{INSTANCE, VIP, lan_address, master_down, ms, secs, v3, v3_skew};

/// A (.5, priority 200, `a`) and B (.6, priority 100) split at 10.5 s, so that both are
/// Master, and healed at 20.3 s. Returns the LAN, when A was elected and when B was.
fn healed_partition(a: InstanceConfig) -> (Lan, Duration, Duration) {
    let mut lan = Lan::new(1);
    let node_a = lan.add(a);
    let node_b = lan.add(v3(6, 100));
    lan.start_all();
    lan.run_to(ms(10_500));
    let elected_a = lan.last_entered(node_a, State::Master).expect("elected");
    lan.partition(&[node_a], &[node_b]);
    lan.run_to(ms(20_300));
    assert_eq!(lan.masters(INSTANCE), vec![node_a, node_b]);
    let elected_b = lan.last_entered(node_b, State::Master).expect("elected");
    lan.heal();
    lan.run_to(secs(40));
    assert_eq!(lan.masters(INSTANCE), vec![node_a]);
    (lan, elected_a, elected_b)
}

fn stepped_down_at(lan: &Lan, node: usize) -> Duration {
    let (at, to, reason) = *lan.transitions(node).last().expect("transitions");
    assert_eq!(to, State::Backup);
    assert!(matches!(reason, Reason::PreferredMaster { .. }), "{reason}");
    at
}

fn lower_priority_heard(lan: &Lan, node: usize) -> Vec<(Duration, IpAddr)> {
    lan.log()
        .iter()
        .filter(|r| r.node == node)
        .filter_map(|r| match r.what {
            What::LowerPriority { from } => Some((r.at, from)),
            _ => None,
        })
        .collect()
}

#[test]
fn lower_prio_no_advert_leaves_the_rival_to_the_next_regular_advert() {
    // B's first advert after the heal goes out at elected_b + 7 s and reaches A.
    let (default_lan, _, elected_b) = healed_partition(v3(5, 200));
    let b_heard = elected_b + secs(7) + DEFAULT_LATENCY;
    // By default A answers at once: B steps down one latency later.
    assert_eq!(stepped_down_at(&default_lan, 1), b_heard + DEFAULT_LATENCY);

    let mut quiet = v3(5, 200);
    quiet.lower_priority_no_advert = true;
    let (lan, elected_a, _) = healed_partition(quiet);
    // With the option A stays silent; B hears A's next regular advert, sent on A's own
    // one-second grid (elected_a + 18 s = 21.21875 s).
    let next_regular = elected_a + secs(18);
    assert!(next_regular > b_heard);
    assert_eq!(stepped_down_at(&lan, 1), next_regular + DEFAULT_LATENCY);
    // Either way A reports the lower-priority master (notify_master_rx_lower_pri).
    for lan in [&default_lan, &lan] {
        assert_eq!(
            lower_priority_heard(lan, 0),
            vec![(b_heard, lan_address(6))]
        );
    }
}

#[test]
fn higher_prio_send_advert_sends_one_advert_before_stepping_down() {
    for option in [false, true] {
        // A (.5, 100) is Master alone; B (.6, 200) starts later and preempts it.
        let mut a = v3(5, 100);
        a.higher_priority_send_advert = option;
        let mut lan = Lan::new(1);
        let node_a = lan.add(a);
        let node_b = lan.add(v3(6, 200));
        lan.start(node_a);
        lan.run_to(secs(10));
        lan.start(node_b);
        lan.run_to(secs(20));
        assert_eq!(lan.masters(INSTANCE), vec![node_b]);
        let b_elected = lan.last_entered(node_b, State::Master).expect("elected");
        let a_stepped_down = stepped_down_at(&lan, node_a);
        assert_eq!(a_stepped_down, b_elected + DEFAULT_LATENCY);
        // What B heard from A once it was Master: with the option, one advert of priority
        // 100, sent the instant A stepped down; without, nothing.
        let heard: Vec<(Duration, u8)> = lan
            .log()
            .iter()
            .filter(|r| r.node == node_b && r.at > b_elected)
            .filter_map(|r| match r.what {
                What::Delivered { from, priority } if from == node_a => Some((r.at, priority)),
                _ => None,
            })
            .collect();
        let expected = if option {
            vec![(a_stepped_down + DEFAULT_LATENCY, 100)]
        } else {
            Vec::new()
        };
        assert_eq!(heard, expected, "higher_prio_send_advert {option}");
        assert_eq!(lan.holders(VIP), vec![node_b]);
    }
}

#[test]
fn down_timer_adverts_sets_how_many_intervals_make_the_master_down() {
    for adverts in [1, 3, 5, 100] {
        let mut master = v3(5, 200);
        master.down_timer_adverts = adverts;
        let mut backup = v3(6, 100);
        backup.down_timer_adverts = adverts;
        let mut lan = Lan::new(1);
        let m = lan.add(master);
        let b = lan.add(backup);
        lan.start_all();
        // Startup: the backup's own Master_Down_Interval decides who is first Master.
        let elected = secs(1) * adverts + v3_skew(200, secs(1));
        lan.run_to(elected + secs(20));
        assert_eq!(lan.last_entered(m, State::Master), Some(elected));
        assert_eq!(lan.state(b, INSTANCE), State::Backup);

        let crash = elected + ms(20_500);
        lan.run_to(crash);
        lan.crash(m);
        lan.run_to(crash + secs(200));
        let last_heard = elected + secs(20) + DEFAULT_LATENCY;
        let expected = last_heard + secs(1) * adverts + v3_skew(100, secs(1));
        assert_eq!(
            lan.last_entered(b, State::Master),
            Some(expected),
            "down_timer_adverts {adverts}"
        );
    }
    // The RFC's default is 3.
    let instance = Instance::new(v3(6, 100)).expect("valid");
    assert_eq!(
        instance.master_down_interval(),
        master_down(secs(1), v3_skew(100, secs(1)))
    );
}

#[test]
fn down_timer_adverts_outside_1_to_100_is_refused() {
    for adverts in [0, 101] {
        let mut config = v3(5, 100);
        config.down_timer_adverts = adverts;
        assert!(matches!(
            Instance::new(config),
            Err(ConfigError::DownTimerAdverts { .. })
        ));
    }
}

fn advert(src: IpAddr, dst: IpAddr, priority: u8) -> Vec<u8> {
    let advert = Advertisement {
        vrid: Vrid::new(1).expect("non-zero"),
        priority: Priority::new(priority),
        addresses: vec![VIP],
        fields: VersionFields::V3 {
            max_interval: Centiseconds::new(100).expect("valid"),
        },
    };
    advert
        .emit(src, dst, ChecksumMode::Standard)
        .expect("valid")
}

#[test]
fn unicast_ttl_is_what_unicast_adverts_carry_and_unicast_accepts_any_ttl() {
    let mut config = v3(5, 200);
    config.peers = Peers::Unicast(vec![lan_address(6), lan_address(7)]);
    config.unicast_ttl = 64;
    let mut instance = Instance::new(config).expect("valid");
    let now = std::time::Instant::now();
    instance.start(now);
    instance.handle_timeout(now + secs(10));
    assert_eq!(instance.state(), State::Master);
    let transmits: Vec<_> = std::iter::from_fn(|| instance.poll_transmit()).collect();
    assert!(!transmits.is_empty());
    assert!(transmits.iter().all(|t| t.ttl == 64), "{transmits:?}");

    // Multicast adverts keep 255 whatever unicast_ttl says.
    let mut multicast = v3(5, 200);
    multicast.unicast_ttl = 64;
    let mut instance = Instance::new(multicast).expect("valid");
    instance.start(now);
    instance.handle_timeout(now + secs(10));
    let transmit = instance.poll_transmit().expect("advert");
    assert_eq!(transmit.ttl, 255);

    // Received: keepalived checks the TTL of multicast adverts only (unicast peers may be
    // routed, or use unicast_ttl themselves).
    for (unicast, expected) in [(true, Ok(())), (false, Err(DropReason::Ttl))] {
        let mut config = v3(5, 100);
        if unicast {
            config.peers = Peers::Unicast(vec![lan_address(6)]);
        }
        let mut lan = Lan::new(1);
        let node = lan.add(config);
        lan.start(node);
        lan.run_to(secs(10));
        let dst = if unicast {
            lan_address(5)
        } else {
            baton_vrrp::VRRP_MULTICAST_V4.into()
        };
        let received = Received {
            interface: "eth0",
            src: lan_address(6),
            dst,
            ttl: 62,
        };
        let bytes = advert(lan_address(6), dst, 250);
        assert_eq!(lan.inject(node, received, &bytes), expected, "{unicast}");
        let state = if unicast {
            State::Backup
        } else {
            State::Master
        };
        assert_eq!(lan.state(node, INSTANCE), state);
    }
}

#[test]
fn mcast_dst_ip_is_where_adverts_go_and_other_groups_are_not_heard() {
    let group: IpAddr = "224.0.0.88".parse().expect("address");
    let mut a = v3(5, 200);
    a.multicast_destination = Some(group);
    let mut instance = Instance::new(a.clone()).expect("valid");
    let now = std::time::Instant::now();
    instance.start(now);
    instance.handle_timeout(now + secs(10));
    let transmit = instance.poll_transmit().expect("advert");
    assert_eq!((transmit.dst, transmit.ttl), (group, 255));

    // Same group: one master. Different groups: each hears nobody and both are Master.
    for (b_group, masters) in [(Some(group), vec![0]), (None, vec![0, 1])] {
        let mut b = v3(6, 100);
        b.multicast_destination = b_group;
        let mut lan = Lan::new(1);
        lan.add(a.clone());
        lan.add(b);
        lan.start_all();
        lan.run_to(secs(10));
        assert_eq!(lan.masters(INSTANCE), masters, "{b_group:?}");
    }
}

#[test]
fn mcast_dst_ip_must_be_a_multicast_group_of_the_family() {
    for group in ["10.0.3.9", "ff02::12", "224.0.0.1"] {
        let mut config = v3(5, 100);
        config.multicast_destination = Some(group.parse().expect("address"));
        let accepted = Instance::new(config).is_ok();
        assert_eq!(accepted, group == "224.0.0.1", "{group}");
    }
    let mut v6 = InstanceConfig::new(
        INSTANCE,
        "eth0",
        Vrid::new(1).expect("non-zero"),
        baton_vrrp::Version::V3,
        "fe80::5".parse().expect("address"),
        vec!["2001:db8::1".parse().expect("address")],
    );
    for (group, accepted) in [
        ("ff02::99", true),
        ("ff05::12", true),
        ("2001:db8::9", false),
        ("224.0.0.18", false),
    ] {
        v6.multicast_destination = Some(group.parse().expect("address"));
        assert_eq!(Instance::new(v6.clone()).is_ok(), accepted, "{group}");
    }
}

#[test]
fn startup_delay_holds_off_master_and_starts_the_down_timer_after_it() {
    // Alone: Master one Master_Down_Interval after the delay, not after the start.
    let mut lan = Lan::new(1);
    let node = lan.add(v3(5, 100));
    lan.delay_startup(node, secs(5));
    lan.start(node);
    lan.run_to(secs(30));
    let down = master_down(secs(1), v3_skew(100, secs(1)));
    assert_eq!(
        lan.transitions(node),
        vec![
            (secs(0), State::Backup, Reason::Startup),
            (secs(5) + down, State::Master, Reason::MasterDown),
        ]
    );

    // The address owner takes over when the delay ends.
    let mut lan = Lan::new(1);
    let node = lan.add(v3(5, 255));
    lan.delay_startup(node, secs(5));
    lan.start(node);
    lan.run_to(secs(30));
    assert_eq!(lan.last_entered(node, State::Master), Some(secs(5)));
    assert_eq!(
        lan.transitions(node)[0],
        (secs(0), State::Backup, Reason::Startup)
    );
}

#[test]
fn startup_delay_keeps_a_higher_priority_router_from_preempting_before_it_ends() {
    // B (.5, 200, preempt) restarts next to Master A (.6, 100) with a 20 s delay.
    let mut lan = Lan::new(1);
    let a = lan.add(v3(6, 100));
    let b = lan.add(v3(5, 200));
    lan.start(a);
    lan.run_to(secs(10));
    lan.delay_startup(b, secs(20));
    lan.start(b);
    lan.run_to(secs(29));
    assert_eq!(lan.masters(INSTANCE), vec![a], "held");
    lan.run_to(secs(60));
    // It preempts once its Master_Down_Timer, started at the delay's end, fires: A's adverts
    // (lower priority) do not reset it.
    let expected = secs(30) + master_down(secs(1), v3_skew(200, secs(1)));
    assert_eq!(lan.last_entered(b, State::Master), Some(expected));
    assert_eq!(lan.masters(INSTANCE), vec![b]);
}

#[test]
fn startup_delay_also_holds_instances_a_reload_adds_while_it_lasts() {
    let t0 = std::time::Instant::now();
    let mut router = baton_vrrp::Router::new(vec![v3(5, 100)], Vec::new()).expect("valid");
    router.delay_startup(t0 + secs(20));
    router.start(t0);
    // A reload at 2 s adds an address owner: it too waits for the end of the delay.
    let mut owner = v3(5, 255);
    owner.name = "VI_2".into();
    owner.vrid = Vrid::new(2).expect("non-zero");
    router
        .reconfigure(vec![v3(5, 100), owner], Vec::new())
        .expect("valid");
    router.start(t0 + secs(2));
    let mut became_master = Vec::new();
    while let Some(at) = router.poll_timeout().filter(|&at| at <= t0 + secs(40)) {
        router.handle_timeout(at);
        while router.poll_transmit().is_some() || router.poll_action().is_some() {}
        while let Some((id, event)) = router.poll_event() {
            if let baton_vrrp::Event::StateChanged {
                to: State::Master, ..
            } = event
            {
                let name = router.instance(id).expect("exists").name().to_owned();
                became_master.push((name, at - t0));
            }
        }
    }
    let down = master_down(secs(1), v3_skew(100, secs(1)));
    assert_eq!(
        became_master,
        [
            ("VI_2".to_owned(), secs(20)),
            ("VI_1".to_owned(), secs(20) + down)
        ]
    );
}

#[test]
fn unicast_peer_ttl_ranges_are_checked_per_peer() {
    let mut config = v3(5, 100);
    config.peers = Peers::Unicast(vec![lan_address(6), lan_address(7)]);
    config.unicast_peer_ttl.insert(lan_address(6), 250..=255);
    for (peer, ttl, expected) in [
        (6, 249, Err(DropReason::Ttl)),
        (7, 62, Ok(())),
        (6, 252, Ok(())),
    ] {
        let mut lan = Lan::new(1);
        let node = lan.add(config.clone());
        lan.start(node);
        lan.run_to(secs(10));
        let received = Received {
            interface: "eth0",
            src: lan_address(peer),
            dst: lan_address(5),
            ttl,
        };
        let bytes = advert(lan_address(peer), lan_address(5), 250);
        assert_eq!(
            lan.inject(node, received, &bytes),
            expected,
            ".{peer} TTL {ttl}"
        );
    }
}

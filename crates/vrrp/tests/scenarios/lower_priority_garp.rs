//! keepalived's `garp_lower_prio_repeat` / `garp_lower_prio_delay` and its detection of
//! peers that sum VRRPv3 unicast adverts as keepalived before 1.3.6 (`old_unicast_checksum`).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use baton_vrrp::{
    Advertisement, ChecksumMode, Event, Instance, InstanceConfig, Peers, Received, Router, State,
    VipAction, Vrid,
};

use crate::{advert, lan_address, secs, v3};

/// A Master at `now + 10 s` with its start-up actions drained.
fn master(config: InstanceConfig, now: Instant) -> Instance {
    let mut instance = Instance::new(config).expect("valid");
    instance.start(now);
    instance.handle_timeout(now + secs(10));
    assert_eq!(instance.state(), State::Master);
    while instance.poll_action().is_some() {}
    while instance.poll_transmit().is_some() {}
    instance
}

fn announcements(instance: &mut Instance) -> Vec<u32> {
    std::iter::from_fn(|| instance.poll_action())
        .filter_map(|a| match a {
            VipAction::Announce { repeat, .. } => Some(repeat),
            _ => None,
        })
        .collect()
}

/// Runs the instance's timers up to `until`, collecting the announcements and when they
/// were due.
fn run_to(instance: &mut Instance, until: Instant) -> Vec<(Instant, u32)> {
    let mut seen = Vec::new();
    while let Some(at) = instance.poll_timeout().filter(|&at| at <= until) {
        instance.handle_timeout(at);
        seen.extend(announcements(instance).into_iter().map(|r| (at, r)));
    }
    seen
}

/// A Master from `config` (no garp_master_delay burst in the way) that hears a
/// priority-100 advert at `now + 12 s`: the instance, that instant, and the announcements
/// it made at once.
fn heard_lower(mut config: InstanceConfig, now: Instant) -> (Instance, Instant, Vec<u32>) {
    config.announce.second_burst_delay = None;
    let mut instance = master(config, now);
    let heard = now + secs(12);
    instance
        .handle_advert(heard, lan_address(6), 255, &advert(100))
        .expect("accepted");
    let at_once = announcements(&mut instance);
    (instance, heard, at_once)
}

#[test]
fn a_lower_advert_brings_a_burst_now_and_one_after_the_delay() {
    let now = Instant::now();
    let mut config = v3(5, 200);
    config.announce.lower_priority_repeat = 2;
    config.announce.lower_priority_delay = Some(secs(3));
    let (mut instance, heard, at_once) = heard_lower(config, now);
    assert_eq!(at_once, vec![2]);
    let later = run_to(&mut instance, heard + secs(10));
    assert_eq!(later, vec![(heard + secs(3), 2)]);
}

#[test]
fn defaults_are_keepalived_s_five_and_five_seconds() {
    let now = Instant::now();
    let (mut instance, heard, at_once) = heard_lower(v3(5, 200), now);
    assert_eq!(at_once, vec![5]);
    assert_eq!(
        run_to(&mut instance, heard + secs(10)),
        vec![(heard + secs(5), 5)]
    );
}

#[test]
fn repeat_0_sends_nothing_and_delay_0_no_second_burst() {
    let now = Instant::now();
    let mut none = v3(5, 200);
    none.announce.lower_priority_repeat = 0;
    let (mut instance, _, at_once) = heard_lower(none, now);
    assert_eq!(at_once, Vec::<u32>::new());
    assert_eq!(run_to(&mut instance, now + secs(30)), vec![]);

    let mut once = v3(5, 200);
    once.announce.lower_priority_delay = None;
    let (mut instance, _, at_once) = heard_lower(once, now);
    assert_eq!(at_once, vec![5]);
    assert_eq!(run_to(&mut instance, now + secs(30)), vec![]);
}

#[test]
fn the_delayed_burst_is_dropped_when_mastership_ends() {
    let now = Instant::now();
    let (mut instance, heard, at_once) = heard_lower(v3(5, 200), now);
    assert_eq!(at_once, vec![5]);
    // A better router appears before the delay is over.
    instance
        .handle_advert(heard + secs(1), lan_address(7), 255, &advert(250))
        .expect("accepted");
    assert_eq!(instance.state(), State::Backup);
    let after: Vec<_> = run_to(&mut instance, heard + secs(4))
        .into_iter()
        .filter(|&(at, _)| at > heard + secs(1))
        .collect();
    assert_eq!(after, vec![]);
}

#[test]
fn sync_group_members_announce_with_their_own_repeat() {
    let now = Instant::now();
    let mut a = v3(5, 200);
    a.announce.second_burst_delay = None;
    a.announce.lower_priority_delay = None;
    a.announce.lower_priority_repeat = 1;
    let mut b = v3(5, 200);
    b.name = "VI_2".into();
    b.vrid = Vrid::new(2).expect("non-zero");
    b.virtual_addresses = vec![IpAddr::from([10, 0, 3, 101])];
    b.announce.second_burst_delay = None;
    b.announce.lower_priority_delay = None;
    b.announce.lower_priority_repeat = 3;
    let group = baton_vrrp::SyncGroupConfig {
        name: "G".into(),
        members: vec!["VI_1".into(), "VI_2".into()],
    };
    let mut router = Router::new(vec![a, b], vec![group]).expect("valid");
    router.start(now);
    router.handle_timeout(now + secs(10));
    while router.poll_action().is_some() {}
    let payload = advert(100)
        .emit(
            lan_address(6),
            IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
            ChecksumMode::Standard,
        )
        .expect("valid");
    let received = Received {
        interface: "eth0",
        src: lan_address(6),
        dst: IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
        ttl: 255,
    };
    router
        .handle_packet(now + secs(12), received, &payload)
        .expect("accepted");
    let bursts: Vec<_> = std::iter::from_fn(|| router.poll_action())
        .filter_map(|(id, a)| match a {
            VipAction::Announce { repeat, .. } => Some((id.0, repeat)),
            _ => None,
        })
        .collect();
    assert_eq!(bursts, vec![(0, 1), (1, 3)]);
}

const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

fn unicast(last: u8, peer: u8, priority: u8) -> InstanceConfig {
    let mut config = v3(last, priority);
    config.peers = Peers::Unicast(vec![lan_address(peer)]);
    config
}

fn received(src: IpAddr, dst: IpAddr) -> Received<'static> {
    Received {
        interface: "eth0",
        src,
        dst,
        ttl: 255,
    }
}

#[test]
fn old_unicast_checksum_sums_with_the_group_and_is_detected_from_a_peer() {
    let now = Instant::now();
    let (us, peer) = (lan_address(5), lan_address(6));
    // The peer sums as keepalived before 1.3.6: the group in the pseudo-header.
    let old = advert(250)
        .emit(peer, us, ChecksumMode::PseudoHeaderGroup(GROUP))
        .expect("valid");
    let standard = advert(250)
        .emit(peer, us, ChecksumMode::Standard)
        .expect("valid");
    assert_ne!(old, standard);

    // `old_unicast_checksum never`: such adverts are bad checksums.
    let mut never = Router::new(vec![unicast(5, 6, 100)], vec![]).expect("valid");
    never.start(now);
    let dropped = never
        .handle_packet(now, received(peer, us), &old)
        .expect_err("bad checksum");
    assert_eq!(dropped.reason.as_str(), "checksum");

    // keepalived's default: detected, then sent and accepted in that form only.
    let mut config = unicast(5, 6, 100);
    config.detect_old_unicast_checksum = Some(GROUP);
    let mut router = Router::new(vec![config], vec![]).expect("valid");
    router.start(now);
    router
        .handle_packet(now, received(peer, us), &old)
        .expect("accepted");
    let events: Vec<_> = std::iter::from_fn(|| router.poll_event()).collect();
    assert!(
        events.contains(&(
            baton_vrrp::InstanceId(0),
            Event::OldUnicastChecksum { from: peer }
        )),
        "{events:?}"
    );
    assert_eq!(
        router
            .instance(baton_vrrp::InstanceId(0))
            .expect("one")
            .config()
            .checksum_mode,
        ChecksumMode::PseudoHeaderGroup(GROUP)
    );
    // A router that is not a listed peer cannot switch it.
    let mut config = unicast(5, 6, 100);
    config.detect_old_unicast_checksum = Some(GROUP);
    let mut other = Router::new(vec![config], vec![]).expect("valid");
    other.start(now);
    let stranger = lan_address(9);
    let from_stranger = advert(250)
        .emit(stranger, us, ChecksumMode::PseudoHeaderGroup(GROUP))
        .expect("valid");
    assert!(
        other
            .handle_packet(now, received(stranger, us), &from_stranger)
            .is_err()
    );
    assert_eq!(
        other
            .instance(baton_vrrp::InstanceId(0))
            .expect("one")
            .config()
            .checksum_mode,
        ChecksumMode::Standard
    );
}

#[test]
fn old_unicast_checksum_is_what_a_master_sends() {
    let now = Instant::now();
    let mut config = unicast(5, 6, 200);
    config.checksum_mode = ChecksumMode::PseudoHeaderGroup(GROUP);
    let mut instance = master(config, now);
    instance.handle_timeout(now + secs(11));
    let sent = instance.poll_transmit().expect("advert");
    assert_eq!(sent.dst, lan_address(6));
    let with_group = advert(200)
        .emit(sent.src, sent.dst, ChecksumMode::PseudoHeaderGroup(GROUP))
        .expect("valid");
    assert_eq!(sent.payload, with_group);
    assert!(
        Advertisement::decode(&sent.payload, sent.src, sent.dst, ChecksumMode::Standard).is_err()
    );
}

#[test]
fn a_config_fault_keeps_the_instance_and_its_sync_group_in_fault() {
    let now = Instant::now();
    let mut faulty = v3(5, 200);
    faulty.config_fault = true;
    let mut other = v3(5, 200);
    other.name = "VI_2".into();
    other.vrid = Vrid::new(2).expect("non-zero");
    let group = baton_vrrp::SyncGroupConfig {
        name: "G".into(),
        members: vec!["VI_1".into(), "VI_2".into()],
    };
    let mut router = Router::new(vec![faulty, other], vec![group]).expect("valid");
    router.start(now);
    router.handle_timeout(now + secs(10));
    for id in [0, 1] {
        let instance = router.instance(baton_vrrp::InstanceId(id)).expect("exists");
        assert_eq!(instance.state(), State::Fault, "{}", instance.name());
    }
}

//! Routers that must not agree: different versions, passwords, intervals, checksum forms.

use std::net::IpAddr;

use baton_vrrp::{Auth, ChecksumMode, DropReason, InstanceConfig, Password, State};

use crate::sim::Lan;
use crate::{INSTANCE, VIP, ms, secs, v2, v3};

fn run_pair(a: InstanceConfig, b: InstanceConfig) -> Lan {
    let mut lan = Lan::new(1);
    lan.add(a);
    lan.add(b);
    lan.start_all();
    lan.run_to(secs(60));
    lan
}

fn drops(lan: &Lan, node: usize, reason: DropReason) -> u64 {
    lan.router(node)
        .instances()
        .next()
        .expect("one")
        .1
        .stats()
        .dropped(reason)
}

#[test]
fn v2_and_v3_with_the_same_vrid_never_agree() {
    let lan = run_pair(v2(5, 200), v3(6, 100));
    // Each drops the other's adverts as the wrong version, so both hold the VIP: the
    // misconfiguration is visible in the drop counters rather than silently "working".
    assert_eq!(lan.masters(INSTANCE), vec![0, 1]);
    assert_eq!(lan.holders(VIP), vec![0, 1]);
    assert!(drops(&lan, 0, DropReason::Version) > 50);
    assert!(drops(&lan, 1, DropReason::Version) > 50);
}

#[test]
fn v2_passwords_must_match() {
    let with_password = |mut c: InstanceConfig, p: &str| {
        c.auth = Auth::SimpleText(Password::new(p));
        c
    };
    let lan = run_pair(
        with_password(v2(5, 200), "secret1"),
        with_password(v2(6, 100), "secret2"),
    );
    assert_eq!(lan.masters(INSTANCE), vec![0, 1]);
    assert!(drops(&lan, 1, DropReason::Auth) > 50);

    let lan = run_pair(with_password(v2(5, 200), "secret1"), v2(6, 100));
    assert_eq!(lan.masters(INSTANCE), vec![0, 1], "no auth against PASS");

    let lan = run_pair(
        with_password(v2(5, 200), "secret1"),
        with_password(v2(6, 100), "secret1"),
    );
    assert_eq!(lan.masters(INSTANCE), vec![0]);
    assert_eq!(drops(&lan, 1, DropReason::Auth), 0);
}

#[test]
fn v2_intervals_must_match_but_v3_intervals_are_learned() {
    let mut slow = v2(6, 100);
    slow.advert_interval = secs(2);
    let lan = run_pair(v2(5, 200), slow);
    assert_eq!(lan.masters(INSTANCE), vec![0, 1]);
    assert!(drops(&lan, 1, DropReason::Interval) > 0);

    let mut slow = v3(6, 100);
    slow.advert_interval = secs(2);
    let lan = run_pair(v3(5, 200), slow);
    assert_eq!(lan.masters(INSTANCE), vec![0]);
}

#[test]
fn v3_checksum_as_v2_is_accepted_only_where_configured() {
    let as_v2 = |mut c: InstanceConfig| {
        c.checksum_mode = ChecksumMode::V3AsV2;
        c
    };
    // The standard side drops the pseudo-header-less checksums; the lenient side takes both.
    let lan = run_pair(as_v2(v3(5, 200)), v3(6, 100));
    assert_eq!(lan.masters(INSTANCE), vec![0, 1]);
    assert!(drops(&lan, 1, DropReason::Checksum) > 50);
    assert_eq!(drops(&lan, 0, DropReason::Checksum), 0);

    let lan = run_pair(as_v2(v3(5, 200)), as_v2(v3(6, 100)));
    assert_eq!(lan.masters(INSTANCE), vec![0]);
}

#[test]
fn ipv6_routers_elect_over_link_local_addresses() {
    let vip: IpAddr = "2001:db8::100".parse().expect("literal");
    let v6 = |last: u16, priority: u8| {
        let mut c = v3(0, priority);
        c.primary_address = IpAddr::from([0xfe80, 0, 0, 0, 0, 0, 0, last]);
        c.virtual_addresses = vec![IpAddr::from([0xfe80, 0, 0, 0, 0, 0, 0, 0x53]), vip];
        c
    };
    let mut lan = Lan::new(1);
    lan.add(v6(5, 100));
    lan.add(v6(6, 100));
    lan.start_all();
    lan.run_to(secs(30));
    // Equal priority: the higher link-local address wins.
    assert_eq!(lan.masters(INSTANCE), vec![1]);
    assert_eq!(lan.holders(vip), vec![1]);
    assert_eq!(lan.state(0, INSTANCE), State::Backup);
    let _ = ms(0);
}

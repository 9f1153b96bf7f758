//! Received packets the engine must refuse (RFC 5798 §7.1), counted by reason, without any
//! change of state.

use std::net::IpAddr;

use baton_vrrp::{
    Advertisement, ChecksumMode, DropReason, Priority, Received, State, VRRP_MULTICAST_V4,
};

use crate::sim::Lan;
use crate::{INSTANCE, lan_address, secs, v3};

fn advert_from(src: IpAddr, priority: u8) -> Vec<u8> {
    advert_with(1, src, VRRP_MULTICAST_V4.into(), priority)
}

fn advert_with(vrid: u8, src: IpAddr, dst: IpAddr, priority: u8) -> Vec<u8> {
    let advert = Advertisement {
        vrid: baton_vrrp::Vrid::new(vrid).expect("non-zero"),
        priority: Priority::new(priority),
        addresses: vec![crate::VIP],
        fields: baton_vrrp::VersionFields::V3 {
            max_interval: baton_vrrp::Centiseconds::new(100).expect("valid"),
        },
    };
    advert
        .emit(src, dst, ChecksumMode::Standard)
        .expect("valid")
}

#[test]
fn bad_packets_are_counted_and_change_nothing() {
    let mut lan = Lan::new(1);
    let node = lan.add(v3(5, 100));
    lan.start(node);
    lan.run_to(secs(10));
    assert_eq!(lan.state(node, INSTANCE), State::Master);

    let peer = lan_address(9);
    let group = VRRP_MULTICAST_V4.into();
    let received = |ttl| Received {
        interface: "eth0",
        src: peer,
        dst: group,
        ttl,
    };
    let good = advert_from(peer, 250);

    let mut bad_checksum = good.clone();
    bad_checksum[7] ^= 1;
    let other_vrid = advert_with(9, peer, group, 250);
    let cases: Vec<(&str, Received<'_>, Vec<u8>, DropReason)> = vec![
        ("ttl 64", received(64), good.clone(), DropReason::Ttl),
        (
            "checksum",
            received(255),
            bad_checksum,
            DropReason::Checksum,
        ),
        (
            "truncated",
            received(255),
            good[..10].to_vec(),
            DropReason::Length,
        ),
        ("empty", received(255), Vec::new(), DropReason::Length),
        (
            "unknown version",
            received(255),
            [&[0x41][..], &good[1..]].concat(),
            DropReason::Version,
        ),
        (
            "oversize count",
            received(255),
            [&good[..3], &[200], &good[4..]].concat(),
            DropReason::Length,
        ),
        (
            "vrid not configured",
            received(255),
            other_vrid,
            DropReason::Vrid,
        ),
        (
            "our own address",
            Received {
                src: lan_address(5),
                ..received(255)
            },
            advert_from(lan_address(5), 250),
            DropReason::FromSelf,
        ),
        (
            "other interface",
            Received {
                interface: "eth1",
                ..received(255)
            },
            good.clone(),
            DropReason::Vrid,
        ),
    ];
    for (name, meta, bytes, reason) in cases {
        assert_eq!(lan.inject(node, meta, &bytes), Err(reason), "{name}");
        assert_eq!(lan.state(node, INSTANCE), State::Master, "{name}");
    }
    let stats = lan.router(node).instances().next().expect("one").1.stats();
    assert_eq!(stats.dropped(DropReason::Ttl), 1);
    assert_eq!(stats.dropped(DropReason::Checksum), 1);
    assert_eq!(stats.dropped(DropReason::Length), 2);
    assert_eq!(stats.dropped(DropReason::Version), 1);
    assert_eq!(stats.dropped(DropReason::FromSelf), 1);
    assert_eq!(
        lan.router(node).unclaimed_stats().dropped(DropReason::Vrid),
        2
    );
    // An empty packet has no VRID to route it by.
    assert_eq!(
        lan.router(node)
            .unclaimed_stats()
            .dropped(DropReason::Length),
        1
    );
    assert_eq!(stats.adverts_received, 0);

    // The same advert with TTL 255 is obeyed: priority 250 beats 100.
    assert_eq!(lan.inject(node, received(255), &good), Ok(()));
    assert_eq!(lan.state(node, INSTANCE), State::Backup);
}

#[test]
fn unicast_mode_accepts_only_listed_peers() {
    let mut config = v3(5, 100);
    config.peers = baton_vrrp::Peers::Unicast(vec![lan_address(6)]);
    let mut lan = Lan::new(1);
    let node = lan.add(config);
    lan.start(node);
    lan.run_to(secs(10));
    let stranger = lan_address(9);
    let received = Received {
        interface: "eth0",
        src: stranger,
        dst: lan_address(5),
        ttl: 255,
    };
    let bytes = advert_with(1, stranger, lan_address(5), 250);
    assert_eq!(
        lan.inject(node, received, &bytes),
        Err(DropReason::UnknownPeer)
    );
    assert_eq!(lan.state(node, INSTANCE), State::Master);
}

//! Adverts that a misconfigured or hostile host sends: an address list that is not ours
//! (dropped and counted, as keepalived does), and floods of lower-priority or priority-0
//! adverts, which a Master answers at a bounded rate instead of one answer each.

use std::net::IpAddr;

use baton_vrrp::{
    Advertisement, Centiseconds, ChecksumMode, DropReason, InstanceConfig, Priority, Received,
    State, Stats, VRRP_MULTICAST_V4, VersionFields, Vrid,
};

use crate::sim::Lan;
use crate::{INSTANCE, VIP, lan_address, ms, secs, v3};

const OTHER_VIP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 3, 101));

/// A valid VRRPv3 advert for VRID 1 from `src` to the group, interval 1 s.
fn advert(src: IpAddr, priority: u8, addresses: Vec<IpAddr>) -> Vec<u8> {
    let advert = Advertisement {
        vrid: Vrid::new(1).expect("non-zero"),
        priority: Priority::new(priority),
        addresses,
        fields: VersionFields::V3 {
            max_interval: Centiseconds::new(100).expect("valid"),
        },
    };
    advert
        .emit(src, VRRP_MULTICAST_V4.into(), ChecksumMode::Standard)
        .expect("valid")
}

fn from(src: IpAddr) -> Received<'static> {
    Received {
        interface: "eth0",
        src,
        dst: VRRP_MULTICAST_V4.into(),
        ttl: 255,
    }
}

fn stats(lan: &Lan, node: usize) -> Stats {
    let router = lan.router(node);
    let id = router.find(INSTANCE).expect("instance exists");
    router
        .instance(id)
        .expect("instance exists")
        .stats()
        .clone()
}

/// One router, alone on the LAN with `config`, Master after 10 s.
fn alone(config: InstanceConfig) -> (Lan, usize) {
    let mut lan = Lan::new(1);
    let node = lan.add(config);
    lan.start(node);
    lan.run_to(secs(10));
    assert_eq!(lan.state(node, INSTANCE), State::Master);
    (lan, node)
}

/// Two routers (x.x.x.6 priority 200, and `backup`) after 10 s.
fn pair(backup: InstanceConfig) -> (Lan, usize, usize) {
    let mut lan = Lan::new(1);
    let master = lan.add(v3(6, 200));
    let backup = lan.add(backup);
    lan.start_all();
    lan.run_to(secs(10));
    (lan, master, backup)
}

#[test]
fn a_master_drops_adverts_for_other_addresses_and_counts_them() {
    let (mut lan, node) = alone(v3(5, 100));

    let peer = lan_address(9);
    let lists = [
        ("one more", vec![VIP, OTHER_VIP]),
        ("another one", vec![OTHER_VIP]),
        ("none", Vec::new()),
        ("ours twice", vec![VIP, VIP]),
    ];
    for (name, list) in &lists {
        // Priority 250 would win: dropped, it must change nothing.
        let bytes = advert(peer, 250, list.clone());
        assert_eq!(
            lan.inject(node, from(peer), &bytes),
            Err(DropReason::AddressList),
            "{name}"
        );
        assert_eq!(lan.state(node, INSTANCE), State::Master, "{name}");
    }
    assert_eq!(stats(&lan, node).dropped(DropReason::AddressList), 4);
    assert_eq!(stats(&lan, node).adverts_received, 0);

    // The same advert with our list is obeyed.
    let bytes = advert(peer, 250, vec![VIP]);
    assert_eq!(lan.inject(node, from(peer), &bytes), Ok(()));
    assert_eq!(lan.state(node, INSTANCE), State::Backup);
}

#[test]
fn the_order_of_the_addresses_does_not_matter() {
    let mut config = v3(5, 100);
    config.virtual_addresses = vec![VIP, OTHER_VIP];
    let (mut lan, node) = alone(config);
    let peer = lan_address(9);
    let bytes = advert(peer, 250, vec![OTHER_VIP, VIP]);
    assert_eq!(lan.inject(node, from(peer), &bytes), Ok(()));
    assert_eq!(lan.state(node, INSTANCE), State::Backup);
}

#[test]
fn routers_that_disagree_on_the_addresses_do_not_elect_each_other() {
    let mut lan = Lan::new(1);
    let high = lan.add(v3(5, 200));
    let mut other = v3(6, 100);
    other.virtual_addresses = vec![OTHER_VIP];
    let low = lan.add(other);
    lan.start_all();
    lan.run_to(secs(10));
    // keepalived does the same: each drops the other's adverts (addr_list_err), so both
    // are Master of their own addresses, and the counters say why.
    assert_eq!(lan.masters(INSTANCE), vec![high, low]);
    assert!(stats(&lan, high).dropped(DropReason::AddressList) >= 5);
    assert!(stats(&lan, low).dropped(DropReason::AddressList) >= 5);
}

#[test]
fn skip_check_adv_addr_trusts_only_the_master_already_seen() {
    let mut config = v3(5, 100);
    config.skip_check_advert_addresses = true;
    let (mut lan, master, backup) = pair(config);
    assert_eq!(lan.masters(INSTANCE), vec![master]);

    // From the master already seen: not checked, as keepalived's vrrp_state_backup.
    let known = lan_address(6);
    let bytes = advert(known, 200, vec![OTHER_VIP]);
    assert_eq!(lan.inject(backup, from(known), &bytes), Ok(()));
    // From anyone else: checked.
    let stranger = lan_address(9);
    let bytes = advert(stranger, 250, vec![OTHER_VIP]);
    assert_eq!(
        lan.inject(backup, from(stranger), &bytes),
        Err(DropReason::AddressList)
    );
    assert_eq!(lan.state(backup, INSTANCE), State::Backup);
}

#[test]
fn without_skip_check_adv_addr_even_the_master_is_checked() {
    let (mut lan, master, backup) = pair(v3(5, 100));
    assert_eq!(lan.masters(INSTANCE), vec![master]);
    let known = lan_address(6);
    let bytes = advert(known, 200, vec![OTHER_VIP]);
    assert_eq!(
        lan.inject(backup, from(known), &bytes),
        Err(DropReason::AddressList)
    );
}

/// Injects `per_second` copies of `bytes` a second for `seconds`, evenly spread, and
/// returns how many adverts the node sent meanwhile.
fn flood(lan: &mut Lan, node: usize, src: IpAddr, bytes: &[u8], per_second: u64) -> u64 {
    let before = stats(lan, node).adverts_sent;
    let start = secs(10);
    let step = secs(1) / u32::try_from(per_second).expect("small");
    for i in 0..per_second * 2 {
        lan.run_to(start + step * u32::try_from(i).expect("small"));
        assert_eq!(lan.inject(node, from(src), bytes), Ok(()));
    }
    lan.run_to(start + secs(2));
    stats(lan, node).adverts_sent - before
}

#[test]
fn a_master_answers_a_flood_of_lower_priority_adverts_at_a_bounded_rate() {
    let (mut lan, node) = alone(v3(5, 100));
    let stranger = lan_address(9);
    let bytes = advert(stranger, 50, vec![VIP]);

    // RFC 5798 §6.4.3: the first one is answered at once.
    let before = stats(&lan, node).adverts_sent;
    assert_eq!(lan.inject(node, from(stranger), &bytes), Ok(()));
    assert_eq!(stats(&lan, node).adverts_sent, before + 1);

    // 10,000 a second for 2 s: the regular adverts plus at most one answer per interval.
    let sent = flood(&mut lan, node, stranger, &bytes, 10_000);
    assert!(sent <= 5, "{sent} adverts sent in 2 s of flood");
    assert!(sent >= 2, "the regular adverts must go on: {sent} in 2 s");
    assert!(stats(&lan, node).answers_rate_limited >= 19_990);
    assert_eq!(lan.state(node, INSTANCE), State::Master);
}

#[test]
fn a_master_answers_a_flood_of_priority_zero_adverts_at_a_bounded_rate() {
    let (mut lan, node) = alone(v3(5, 100));
    let stranger = lan_address(9);
    let bytes = advert(stranger, 0, vec![VIP]);
    let sent = flood(&mut lan, node, stranger, &bytes, 10_000);
    assert!(sent <= 5, "{sent} adverts sent in 2 s of flood");
    assert_eq!(lan.state(node, INSTANCE), State::Master);
}

#[test]
fn a_real_rival_still_steps_down_under_a_flood() {
    // A lower-priority router that believes it is master (it just came up, partitioned)
    // hears us within one interval even while a flood uses up the immediate answers.
    let mut lan = Lan::new(1);
    let high = lan.add(v3(5, 200));
    let low = lan.add(v3(6, 100));
    lan.start(high);
    lan.run_to(secs(10));
    lan.partition(&[high], &[low]);
    lan.start(low);
    lan.run_to(secs(15));
    assert_eq!(lan.masters(INSTANCE), vec![high, low]);
    let stranger = lan_address(9);
    let bytes = advert(stranger, 50, vec![VIP]);
    lan.heal();
    for i in 0..20_000u32 {
        lan.run_to(secs(15) + ms(1) * i / 10);
        let _ = lan.inject(high, from(stranger), &bytes);
    }
    assert_eq!(lan.masters(INSTANCE), vec![high]);
}

//! Link state and link events.

use std::net::IpAddr;
use std::time::Duration;

use baton_net::{Family, LinkWatcher};

use crate::lab::{Lab, within};

/// The index and MAC `ip -o link show` reports.
fn ip_link(netns: &crate::lab::Netns, interface: &str) -> (u32, [u8; 6]) {
    let line = netns.ip(&format!("-o link show dev {interface}"));
    let index = line.split(':').next().unwrap().trim().parse().unwrap();
    let mac = line
        .split("link/ether ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let mut bytes = [0u8; 6];
    for (byte, hex) in bytes.iter_mut().zip(mac.split(':')) {
        *byte = u8::from_str_radix(hex, 16).unwrap();
    }
    (index, bytes)
}

#[test]
fn identity_and_state() {
    let Some(lab) = Lab::new("identity_and_state") else {
        return;
    };
    let (index, mac) = ip_link(&lab.a, "va");
    let (index_found, mac_found, up) = lab.a.run(|| {
        (
            baton_net::interface_index("va").unwrap(),
            baton_net::mac_address("va").unwrap(),
            baton_net::link_is_up("va").unwrap(),
        )
    });
    assert_eq!((index_found, mac_found, up), (index, mac, true));

    lab.b.ip("link set vb down");
    // va is administratively up but has lost its carrier: not up.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let went_down = lab.a.run(move || {
        while std::time::Instant::now() < deadline {
            if !baton_net::link_is_up("va").unwrap() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });
    assert!(went_down);
}

/// keepalived's choice: first primary IPv4 address, the link-local IPv6 address.
#[test]
fn primary_addresses() {
    let Some(lab) = Lab::new("primary_addresses") else {
        return;
    };
    // Same subnet: a secondary. Another subnet: a primary, but after the first.
    lab.a.ip("addr add 10.99.0.100/24 dev va");
    lab.a.ip("addr add 10.98.0.1/24 dev va");
    lab.a.ip("addr add fd00:98::1/64 dev va nodad");
    let (v4, v6) = lab.a.run(|| {
        (
            baton_net::primary_address("va", Family::Ipv4).unwrap(),
            baton_net::primary_address("va", Family::Ipv6).unwrap(),
        )
    });
    assert_eq!(v4, "10.99.0.1".parse::<IpAddr>().unwrap());
    let IpAddr::V6(v6) = v6 else { panic!("{v6}") };
    assert_eq!(v6.segments()[0], 0xfe80, "{v6}");

    // A link with no IPv4 address (veth: always there, unlike the dummy module).
    lab.a.ip("link add x0 type veth peer name x1");
    let missing = lab.a.run(|| baton_net::primary_address("x0", Family::Ipv4));
    assert!(
        matches!(missing, Err(baton_net::Error::NoPrimaryAddress { .. })),
        "{missing:?}"
    );
}

#[test]
fn ipv6_forwarding_follows_the_sysctl() {
    let Some(lab) = Lab::new("ipv6_forwarding_follows_the_sysctl") else {
        return;
    };
    assert!(!lab.a.run(|| baton_net::ipv6_forwarding("va")));
    lab.a.sysctl("net/ipv6/conf/va/forwarding", "1");
    assert!(lab.a.run(|| baton_net::ipv6_forwarding("va")));
}

#[test]
fn watcher_sees_down_then_up() {
    let Some(lab) = Lab::new("watcher_sees_down_then_up") else {
        return;
    };
    let a = lab.a.clone();
    lab.run(move |_, _| async move {
        let mut watcher = LinkWatcher::new().unwrap();
        a.ip("link set dev va down");
        expect(&mut watcher, "va", false).await;
        a.ip("link set dev va up");
        expect(&mut watcher, "va", true).await;

        // A new link is reported as it appears (down), comes up, and goes away (down).
        a.ip("link add x0 type veth peer name x1");
        expect(&mut watcher, "x0", false).await;
        a.ip("link set x1 up");
        a.ip("link set x0 up");
        expect(&mut watcher, "x0", true).await;
        a.ip("link del x0");
        expect(&mut watcher, "x0", false).await;
    });
}

/// Waits for the next event about `interface`, skipping the others, and checks it.
async fn expect(watcher: &mut LinkWatcher, interface: &str, up: bool) {
    let next = async {
        loop {
            let (name, up) = watcher.next().await.expect("watcher ended");
            if name == interface {
                return up;
            }
        }
    };
    let state = if up { "up" } else { "down" };
    assert_eq!(
        within(&format!("{interface} {state}"), next).await,
        up,
        "{interface}"
    );
}

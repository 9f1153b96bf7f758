//! Malformed and hostile advertisements sent from another host on the LAN are dropped,
//! counted by reason (logged at debug level until the status socket exists), and never
//! change the daemon's state. A final well-formed advert proves the injector works.

mod common;

use std::time::Duration;

use common::{VIP, Workdir, fail, guide_lab, holds, keepalived_conf, start_baton, wait_for};

/// Sends one VRRP packet from the client with Python's raw socket (the kernel builds the
/// IPv4 header; we choose the TTL).
fn inject(lab: &baton_lab::Lab, ttl: u8, payload: &[u8]) {
    let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
    let script = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)\n\
         s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, {ttl})\n\
         s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('10.0.3.50'))\n\
         s.sendto(bytes.fromhex('{hex}'), ('224.0.0.18', 0))\n"
    );
    lab.host("client")
        .run("python3", &["-c", &script])
        .expect("injecting a packet");
}

/// A VRRPv2 advert for VRID 51 with the guide's VIP, password and a 1 s interval.
fn advert(version_type: u8, priority: u8, count: u8, password: &[u8; 8]) -> Vec<u8> {
    let mut packet = vec![version_type, 51, priority, count, 1, 1, 0, 0, 10, 0, 3, 100];
    packet.extend_from_slice(password);
    let sum = checksum(&packet);
    packet[6..8].copy_from_slice(&sum.to_be_bytes());
    packet
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|p| u32::from(u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn bad_adverts_are_dropped_counted_and_change_nothing() {
    let Some(lab) = guide_lab("bad adverts") else {
        return;
    };
    let dir = Workdir::new("bad-adverts");
    let lb1 = lab.host("lb1");
    let daemon = start_baton(lb1, &dir, &keepalived_conf("lb1", 2, 100, "1", ""));
    if wait_for(Duration::from_secs(10), || holds(lb1, VIP)).is_none() {
        fail("lb1 never became master alone", &[&daemon]);
    }
    let password = b"baton12\0";
    let mut bad_checksum = advert(0x21, 254, 1, password);
    bad_checksum[7] ^= 0xff;
    let cases: Vec<(&str, u8, Vec<u8>)> = vec![
        ("ttl", 64, advert(0x21, 254, 1, password)),
        ("checksum", 255, bad_checksum),
        ("auth", 255, advert(0x21, 254, 1, b"wrong\0\0\0")),
        ("length", 255, advert(0x21, 254, 1, password)[..10].to_vec()),
        ("version", 255, advert(0x41, 254, 1, password)),
        ("length", 255, advert(0x21, 254, 10, password)),
    ];
    for (reason, ttl, packet) in &cases {
        inject(&lab, *ttl, packet);
        std::thread::sleep(Duration::from_millis(50));
        if !holds(lb1, VIP) {
            fail(
                &format!("a packet that should be dropped ({reason}) changed the state"),
                &[&daemon],
            );
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    if !holds(lb1, VIP) {
        fail("lb1 lost mastership after the bad packets", &[&daemon]);
    }
    let log = daemon.log_text();
    for (reason, _, _) in &cases {
        if !log.contains(&format!("dropped ({reason})")) {
            fail(
                &format!("no drop with reason {reason} in the log"),
                &[&daemon],
            );
        }
    }
    // The same advert, well formed: priority 254 beats 100, so lb1 steps down.
    inject(&lab, 255, &advert(0x21, 254, 1, password));
    if wait_for(Duration::from_secs(2), || !holds(lb1, VIP)).is_none() {
        fail(
            "a valid higher-priority advert was ignored: the injector is broken",
            &[&daemon],
        );
    }
}

//! Hostile VRRP traffic from the lab's client: a raw-socket flooder (Python, so the rate is
//! the kernel's and the interpreter's, not ours) and hand-built VRRPv2 adverts.

use std::time::{Duration, Instant};

use baton_lab::{Child, Lab};

use super::{Daemon, VIP, Workdir, fail, holds};

/// Sends `packets` in turn from the client to `dst` at `rate` a second for `seconds`, TTL
/// 255, letting the kernel fragment what exceeds the MTU. Writes "sent errors" and then
/// how many of each packet went out to `report`.
const FLOODER: &str = r#"
import socket, sys, time
dst, rate, seconds, report = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
packets = [bytes.fromhex(h) for h in sys.argv[5:]]
counts = [0] * len(packets)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = IP_PMTUDISC_DONT
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('10.0.3.50'))
sent = errors = due = 0
start = time.monotonic()
while True:
    elapsed = time.monotonic() - start
    if elapsed >= seconds:
        break
    due = int(elapsed * rate)
    while sent + errors < due:
        which = (sent + errors) % len(packets)
        try:
            s.sendto(packets[which], (dst, 0))
            sent += 1
            counts[which] += 1
        except OSError:
            errors += 1
    time.sleep(0.001)
open(report, 'w').write(' '.join(str(n) for n in [sent, errors] + counts))
"#;

/// What a flood did.
pub(crate) struct Flood {
    pub(crate) sent: u64,
    pub(crate) errors: u64,
    /// Sent of each packet, in the order given.
    pub(crate) per_packet: Vec<u64>,
    pub(crate) seconds: f64,
}

impl Flood {
    pub(crate) fn rate(&self) -> f64 {
        self.sent as f64 / self.seconds
    }
}

/// A flooder running in the client.
pub(crate) struct Flooder {
    child: Child,
    report: std::path::PathBuf,
    started: Instant,
    deadline: Instant,
}

impl Flooder {
    /// Starts [`FLOODER`]: `packets` to `dst` at `rate` a second for `seconds`.
    pub(crate) fn start(
        lab: &Lab,
        dir: &Workdir,
        (dst, rate, seconds): (&str, u32, u32),
        packets: &[Vec<u8>],
    ) -> Flooder {
        let report = dir.path(&format!("flood-{}.txt", unique()));
        let mut command = lab.host("client").command("python3");
        command
            .args(["-c", FLOODER, dst, &rate.to_string(), &seconds.to_string()])
            .arg(&report)
            .args(packets.iter().map(|p| hex(p)));
        let started = Instant::now();
        let child = lab
            .host("client")
            .spawn(command)
            .expect("starting the flooder");
        Flooder {
            child,
            report,
            started,
            deadline: started + Duration::from_secs(u64::from(seconds) + 30),
        }
    }

    /// Whether it still sends; a flooder that overruns its time by 30 s fails the test.
    pub(crate) fn is_running(&mut self, daemons: &[&Daemon]) -> bool {
        if Instant::now() > self.deadline {
            fail("the flooder never ended", daemons);
        }
        self.child.is_running()
    }

    /// What it reported, once it has ended.
    pub(crate) fn finish(mut self, daemons: &[&Daemon]) -> Flood {
        while self.is_running(daemons) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let text = std::fs::read_to_string(&self.report).unwrap_or_default();
        let numbers: Vec<u64> = text
            .split_whitespace()
            .map(|n| n.parse().unwrap_or(0))
            .collect();
        let [sent, errors, per_packet @ ..] = numbers.as_slice() else {
            fail(&format!("the flooder reported {text:?}"), daemons);
        };
        Flood {
            sent: *sent,
            errors: *errors,
            per_packet: per_packet.to_vec(),
            seconds,
        }
    }
}

/// Runs [`FLOODER`] in the client and, until it ends, checks every 50 ms that exactly
/// `holder` holds the VIP and that the daemons run.
pub(crate) fn flood_holding(
    lab: &Lab,
    dir: &Workdir,
    target: (&str, u32, u32),
    packets: &[Vec<u8>],
    holder: &str,
    daemons: &mut [&mut Daemon],
) -> Flood {
    let mut flooder = Flooder::start(lab, dir, target, packets);
    while flooder.is_running(&daemons_of(daemons)) {
        check_holder(lab, holder, daemons);
        std::thread::sleep(Duration::from_millis(50));
    }
    flooder.finish(&daemons_of(daemons))
}

fn unique() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn daemons_of<'a>(daemons: &'a [&mut Daemon]) -> Vec<&'a Daemon> {
    daemons.iter().map(|d| &**d).collect()
}

/// Exactly `holder` holds the VIP, and every daemon still runs.
pub(crate) fn check_holder(lab: &Lab, holder: &str, daemons: &mut [&mut Daemon]) {
    for daemon in daemons.iter_mut() {
        if !daemon.child.is_running() {
            let name = daemon.name.clone();
            fail(&format!("{name} died"), &daemons_of(daemons));
        }
    }
    let holders: Vec<&str> = ["lb1", "lb2"]
        .into_iter()
        .filter(|h| holds(lab.host(h), VIP))
        .collect();
    if holders != [holder] {
        fail(
            &format!("VIP holders {holders:?}, expected only {holder}"),
            &daemons_of(daemons),
        );
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A VRRPv2 advert for VRID 51 with the guide's VIP, password and a 1 s interval.
pub(crate) fn advert(version_type: u8, priority: u8, count: u8, password: &[u8; 8]) -> Vec<u8> {
    let mut packet = vec![version_type, 51, priority, count, 1, 1, 0, 0, 10, 0, 3, 100];
    packet.extend_from_slice(password);
    let sum = checksum(&packet);
    packet[6..8].copy_from_slice(&sum.to_be_bytes());
    packet
}

/// `packet` with another VRID, its checksum made good again.
pub(crate) fn with_vrid(mut packet: Vec<u8>, vrid: u8) -> Vec<u8> {
    packet[1] = vrid;
    packet[6..8].copy_from_slice(&[0, 0]);
    let sum = checksum(&packet);
    packet[6..8].copy_from_slice(&sum.to_be_bytes());
    packet
}

pub(crate) fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|p| u32::from(u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

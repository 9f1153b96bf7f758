//! tcpdump at the lab's switch, writing what a filter matches to a pcap file as it comes, and
//! the frames read back from it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use baton_lab::{Child, Lab};

use super::{Workdir, wait_for};

pub(crate) struct Capture {
    _tcpdump: Child,
    file: PathBuf,
}

/// One captured Ethernet frame.
pub(crate) struct Frame {
    /// Capture time in microseconds since the epoch.
    pub(crate) at: u64,
    pub(crate) bytes: Vec<u8>,
}

impl Capture {
    /// Starts tcpdump on the lab's bridge (from the client's side) with `filter`, and waits
    /// until it listens.
    pub(crate) fn start(lab: &Lab, dir: &Workdir, name: &str, filter: &str) -> Capture {
        let file = dir.path(&format!("{name}.pcap"));
        let mut command = lab.switch_command("tcpdump");
        command
            .args(["-i", lab.bridge(), "--immediate-mode", "-U", "-n", "-w"])
            .arg(&file)
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let tcpdump = lab.host("client").spawn(command).expect("starting tcpdump");
        let started = wait_for(Duration::from_secs(10), || {
            std::fs::metadata(&file).is_ok_and(|m| m.len() >= 24)
        });
        assert!(started.is_some(), "tcpdump did not start");
        // It writes the file header as it opens the interface: give it a moment to listen.
        std::thread::sleep(Duration::from_millis(300));
        Capture {
            _tcpdump: tcpdump,
            file,
        }
    }

    /// The frames captured so far.
    pub(crate) fn frames(&self) -> Vec<Frame> {
        parse_pcap(&self.file)
    }
}

/// The frames of a pcap file (Ethernet, microsecond timestamps, little-endian as tcpdump
/// writes it here); a record cut short at the end is left for the next read.
fn parse_pcap(path: &Path) -> Vec<Frame> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut frames = Vec::new();
    let mut at = 24;
    let word = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    while at + 16 <= bytes.len() {
        let (secs, micros, len) = (
            word(&bytes, at),
            word(&bytes, at + 4),
            word(&bytes, at + 8) as usize,
        );
        let frame = at + 16;
        if frame + len > bytes.len() {
            break;
        }
        frames.push(Frame {
            at: u64::from(secs) * 1_000_000 + u64::from(micros),
            bytes: bytes[frame..frame + len].to_vec(),
        });
        at = frame + len;
    }
    frames
}

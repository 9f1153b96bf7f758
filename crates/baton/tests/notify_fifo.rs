//! keepalived's notify FIFOs on the lab: baton makes `notify_fifo`, uses an existing
//! `vrrp_notify_fifo`, writes each state change to both as keepalived's lines, and at exit
//! removes only the FIFO it made. With notify_priority_changes, a tracked file that lowers
//! the priority is written as MASTER_PRIORITY.

mod common;

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use common::{VIP, Workdir, fail, guide_lab, holds, keepalived_conf, start_baton, wait_for};

/// A reader that never blocks: it sees the lines buffered in the pipe, and end of file
/// once the daemon (the last writer) has closed it.
fn open_reader(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .expect("open the FIFO for reading")
}

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

#[test]
fn state_changes_are_written_to_both_fifos_as_keepalived_lines() {
    let Some(lab) = guide_lab("notify fifo") else {
        return;
    };
    let dir = Workdir::new("notify-fifo");
    let made = dir.path("notify.fifo");
    let existing = dir.path("vrrp.fifo");
    let mode = nix::sys::stat::Mode::from_bits_truncate(0o600);
    nix::unistd::mkfifo(&existing, mode).expect("mkfifo");
    let weight = dir.write("weight", "0\n");
    let track = "    notify_priority_changes\n    track_file {\n        weight\n    }\n";
    let conf = keepalived_conf("lb2", 3, 150, "0.1", track).replace(
        "global_defs {\n",
        &format!(
            "vrrp_track_file weight {{\n    file {}\n    weight 1\n}}\n\
             global_defs {{\n    notify_fifo {}\n    vrrp_notify_fifo {}\n",
            weight.display(),
            made.display(),
            existing.display()
        ),
    );
    let lb2 = lab.host("lb2");
    let mut master = start_baton(lb2, &dir, &conf);
    // The existing FIFO is opened at once; the daemon keeps it open for writing, so lines
    // written before this reader opens wait in the pipe.
    let existing_reader = open_reader(&existing);
    if wait_for(Duration::from_secs(10), || is_fifo(&made)).is_none() {
        fail("baton did not make the notify_fifo", &[&master]);
    }
    let made_reader = open_reader(&made);
    if wait_for(Duration::from_secs(10), || holds(lb2, VIP)).is_none() {
        fail("lb2 never became master", &[&master]);
    }
    std::fs::write(&weight, "-10\n").expect("write the tracked file");
    let lowered = || master.log_text().contains("effective priority 150 -> 140");
    if wait_for(Duration::from_secs(10), lowered).is_none() {
        fail("the tracked file did not lower the priority", &[&master]);
    }
    master.child.terminate();

    let expected = [
        "INSTANCE \"VI_1\" BACKUP 150",
        "INSTANCE \"VI_1\" MASTER 150",
        "INSTANCE \"VI_1\" MASTER_PRIORITY 140",
        "INSTANCE \"VI_1\" STOP 140",
    ];
    for (name, mut reader) in [
        ("notify_fifo", made_reader),
        ("vrrp_notify_fifo", existing_reader),
    ] {
        let mut text = String::new();
        if let Err(error) = reader.read_to_string(&mut text) {
            fail(&format!("reading {name}: {error}"), &[&master]);
        }
        let lines: Vec<&str> = text.lines().collect();
        if lines != expected {
            fail(
                &format!("{name} got {lines:?}, expected {expected:?}"),
                &[&master],
            );
        }
    }
    if made.exists() {
        fail("the FIFO baton made is still there after exit", &[&master]);
    }
    if !is_fifo(&existing) {
        fail("the FIFO baton did not make was removed", &[&master]);
    }
}

//! keepalived's notify FIFOs on the lab: baton makes `notify_fifo`, uses an existing
//! `vrrp_notify_fifo`, writes each state change to both as keepalived's lines, and at exit
//! removes only the FIFO it made. With notify_priority_changes, a tracked file that lowers
//! the priority is written as MASTER_PRIORITY. A virtual server's real server going down
//! and up is written to `lvs_notify_fifo` as keepalived's checker writes it.

mod common;

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use common::{
    VIP, Workdir, fail, guide_lab, holds, keepalived_conf, start_app, start_baton, wait_for,
};

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

#[test]
fn virtual_server_changes_go_to_the_lvs_fifo_as_keepalived_lines() {
    let test = "virtual_server_changes_go_to_the_lvs_fifo_as_keepalived_lines";
    if !common::on_path("nft") {
        eprintln!("SKIPPED (needs nft, from nftables): {test}");
        return;
    }
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("lvs-fifo");
    let fifo = dir.path("lvs.fifo");
    let app1 = lab.host("app1");
    let mut app = start_app(app1, 8080);
    let conf = format!(
        "global_defs {{\n    router_id lb2\n    lvs_notify_fifo {}\n}}\n\
         virtual_server 10.0.3.100 80 {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    \
         protocol TCP\n    real_server 10.0.3.11 8080 {{\n        TCP_CHECK {{\n            \
         connect_timeout 1\n            retry 0\n        }}\n    }}\n}}\n",
        fifo.display()
    );
    let baton = start_baton(lab.host("lb2"), &dir, &conf);
    if wait_for(Duration::from_secs(10), || is_fifo(&fifo)).is_none() {
        fail("baton did not make the lvs_notify_fifo", &[&baton]);
    }
    let mut reader = open_reader(&fifo);
    let mut text = String::new();
    let mut read_until = |line: &str, text: &mut String| {
        let found = wait_for(Duration::from_secs(20), || {
            let mut chunk = String::new();
            // Non-blocking: WouldBlock until the daemon writes.
            let _ = reader.read_to_string(&mut chunk);
            text.push_str(&chunk);
            text.lines().any(|l| l == line)
        });
        if found.is_none() {
            fail(&format!("no {line:?} in the FIFO: {text:?}"), &[&baton]);
        }
    };
    app.kill();
    read_until(
        "RS [10.0.3.11]:tcp:8080 [10.0.3.100]:tcp:80 DOWN",
        &mut text,
    );
    read_until("VS [10.0.3.100]:tcp:80 DOWN", &mut text);
    let _app = start_app(app1, 8080);
    read_until("RS [10.0.3.11]:tcp:8080 [10.0.3.100]:tcp:80 UP", &mut text);
    read_until("VS [10.0.3.100]:tcp:80 UP", &mut text);
    // keepalived's order: the server's line, then the quorum it moved; nothing else.
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "RS [10.0.3.11]:tcp:8080 [10.0.3.100]:tcp:80 DOWN",
            "VS [10.0.3.100]:tcp:80 DOWN",
            "RS [10.0.3.11]:tcp:8080 [10.0.3.100]:tcp:80 UP",
            "VS [10.0.3.100]:tcp:80 UP",
        ]
    );
}

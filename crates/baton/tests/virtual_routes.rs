//! keepalived's virtual_routes / virtual_rules and static_ipaddress / static_routes /
//! static_rules on the lab: keepalived 2.2.7 and baton, each in turn on lb2 with the same
//! file, leave the same routes (`ip route show table all`) and rules (`ip rule show`, both
//! families) there as master, as backup (a higher-priority router on lb1 took over) and
//! after stopping. The virtual ones are there on master only; the static ones from start
//! to stop; promote_secondaries is set while the daemon runs.

mod common;

use std::time::Duration;

use baton_lab::{Host, Lab};
use common::{
    Daemon, VIP, Workdir, fail, guide_lab, holds, keepalived_conf, on_path, start_baton,
    start_keepalived, wait_for,
};

const ROUTING: &str = "    promote_secondaries
    virtual_routes {
        10.9.0.0/16 via 10.0.3.1 dev eth0
        blackhole 10.66.0.0/16
        10.8.0.0/16 dev eth0 table 100 metric 5
        10.7.0.0/16 via 10.0.3.1 dev eth0 mtu 1400 no_track protocol static
    }
    virtual_rules {
        from 10.0.3.0/24 table 100 priority 100
        to 10.66.0.0/16 blackhole priority 90
        fwmark 0x10/0xff table 100 priority 80
    }
";

const STATICS: &str = "static_ipaddress {
    192.0.2.10/24 dev eth0
}
static_routes {
    198.51.100.0/24 via 192.0.2.1 dev eth0
}
static_rules {
    from 192.0.2.0/24 table 200 priority 200
}
";

/// The routes and rules of `host`, sorted, with the kernel's counters taken out.
fn snapshot(host: &Host) -> Vec<String> {
    let mut lines = Vec::new();
    for (program, args) in [
        ("ip", &["-d", "route", "show", "table", "all"][..]),
        ("ip", &["-6", "-d", "route", "show", "table", "all"][..]),
        ("ip", &["-d", "rule", "show"][..]),
        ("ip", &["-6", "-d", "rule", "show"][..]),
    ] {
        let text = host.run(program, args).expect("ip show");
        for line in text.lines() {
            // IPv6 routes learned from the network age; nothing here does, but be sure.
            let line: Vec<&str> = line.split_whitespace().collect();
            let line = line
                .iter()
                .enumerate()
                .filter(|(i, w)| **w != "expires" && (*i == 0 || line[i - 1] != "expires"))
                .map(|(_, w)| *w)
                .collect::<Vec<_>>()
                .join(" ");
            lines.push(format!("{} | {line}", args.join(" ")));
        }
    }
    lines.sort();
    lines
}

fn promote_secondaries(host: &Host) -> String {
    host.run("cat", &["/proc/sys/net/ipv4/conf/eth0/promote_secondaries"])
        .expect("read the sysctl")
        .trim()
        .to_owned()
}

/// What lb2 shows as master, as backup and after its daemon stopped.
struct Phases {
    master: Vec<String>,
    backup: Vec<String>,
    stopped: Vec<String>,
    promoted_while_running: String,
}

type Start = fn(&Host, &Workdir, &str) -> Daemon;

/// Runs `start` on lb2 with the routing file, lets it be master, then makes it backup by
/// starting a higher-priority router (`rival`) on lb1, then stops it.
fn phases(lab: &Lab, dir: &Workdir, start: Start, rival: Start) -> Phases {
    let lb2 = lab.host("lb2");
    let lb1 = lab.host("lb1");
    let conf = format!(
        "{STATICS}{}",
        keepalived_conf("lb2", 3, 150, "0.1", ROUTING)
    );
    let mut daemon = start(lb2, dir, &conf);
    let is_master = || holds(lb2, VIP) && snapshot(lb2).iter().any(|l| l.contains("10.9.0.0/16"));
    if wait_for(Duration::from_secs(15), is_master).is_none() {
        fail("lb2 never became master with its routes", &[&daemon]);
    }
    // Every route and rule is added right after the addresses: let them all land.
    std::thread::sleep(Duration::from_millis(500));
    let master = snapshot(lb2);
    let promoted_while_running = promote_secondaries(lb2);

    let mut other = rival(lb1, dir, &keepalived_conf("lb1", 3, 200, "0.1", ""));
    let is_backup = || !holds(lb2, VIP) && !snapshot(lb2).iter().any(|l| l.contains("10.9.0.0/16"));
    if wait_for(Duration::from_secs(15), is_backup).is_none() {
        fail(
            "lb2 kept master (or its routes) after lb1 came",
            &[&daemon, &other],
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    let backup = snapshot(lb2);

    daemon.child.terminate();
    let stopped = snapshot(lb2);
    other.child.terminate();
    Phases {
        master,
        backup,
        stopped,
        promoted_while_running,
    }
}

fn has(lines: &[String], text: &str) -> bool {
    lines.iter().any(|l| l.contains(text))
}

#[test]
fn keepalived_and_baton_leave_the_same_routes_and_rules() {
    let test = "virtual routes and rules (keepalived)";
    if !on_path("keepalived") {
        eprintln!("SKIPPED (needs keepalived on PATH): {test}");
        return;
    }
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("virtual-routes");
    let lb2 = lab.host("lb2");
    let before = snapshot(lb2);
    let before_promote = promote_secondaries(lb2);

    let keepalived = phases(&lab, &dir, start_keepalived, start_baton);
    let baton = phases(&lab, &dir, start_baton, start_keepalived);

    // What the file asks for is there on master, in keepalived's form.
    let m = &baton.master;
    for text in [
        "unicast 10.9.0.0/16 via 10.0.3.1 dev eth0 table main proto keepalived scope global",
        "blackhole 10.66.0.0/16 table main proto keepalived scope global",
        "unicast 10.8.0.0/16 dev eth0 table 100 proto keepalived scope global metric 5",
        "unicast 10.7.0.0/16 via 10.0.3.1 dev eth0 table main proto static scope global mtu 1400",
        "unicast 198.51.100.0/24 via 192.0.2.1 dev eth0 table main proto keepalived scope global",
        "100: from 10.0.3.0/24 lookup 100 proto keepalived",
        "90: from all to 10.66.0.0/16 blackhole proto keepalived",
        "80: from all fwmark 0x10/0xff lookup 100 proto keepalived",
        "200: from 192.0.2.0/24 lookup 200 proto keepalived",
        "local 192.0.2.10 dev eth0 table local proto kernel scope host src 192.0.2.10",
    ] {
        assert!(has(m, text), "baton as master lacks '{text}':\n{m:#?}");
    }
    // Backup: the virtual ones are gone, the static ones stay.
    let b = &baton.backup;
    assert!(!has(b, "10.9.0.0/16") && !has(b, "10.66.0.0/16") && !has(b, "lookup 100"));
    assert!(has(b, "198.51.100.0/24") && has(b, "lookup 200"), "{b:#?}");

    for (phase, k, b) in [
        ("master", &keepalived.master, &baton.master),
        ("backup", &keepalived.backup, &baton.backup),
        ("stopped", &keepalived.stopped, &baton.stopped),
    ] {
        let only_k: Vec<&String> = k.iter().filter(|l| !b.contains(l)).collect();
        let only_b: Vec<&String> = b.iter().filter(|l| !k.contains(l)).collect();
        assert!(
            only_k.is_empty() && only_b.is_empty(),
            "{phase}: keepalived only {only_k:#?}\nbaton only {only_b:#?}"
        );
    }
    // After the stop, everything either daemon added is gone.
    assert_eq!(baton.stopped, before, "baton left routes or rules behind");
    assert_eq!(
        (
            keepalived.promoted_while_running.as_str(),
            baton.promoted_while_running.as_str()
        ),
        ("1", "1")
    );
    assert_eq!(promote_secondaries(lb2), before_promote, "reset at stop");
}

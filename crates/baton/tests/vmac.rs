//! keepalived's use_vmac on the wire and in the system, baton beside keepalived 2.2.7 with
//! the same file: while either runs, its host has `vrrp.51`, a private macvlan on eth0 with
//! MAC 00:00:5e:00:01:33 that holds the VIP while master; adverts and gratuitous ARPs come
//! from that MAC (captured at the lab's switch), the client reaches the VIP at it, and the
//! master's role moves between the two when one stops. baton removes the link it made on
//! stop, and leaves alone one it found. use_ipvlan: this kernel may have no ipvlan, in which
//! case baton must say so and the rest is SKIPPED.

mod common;

use std::process::Stdio;
use std::time::Duration;

use baton_lab::{Host, Lab};
use common::tcpdump_text::TextCapture;
use common::{
    Daemon, Workdir, fail, guide_lab, skip_without_tcpdump, skip_without_tool, start_baton,
    start_keepalived, wait_for,
};

const LINK: &str = "vrrp.51";
const VMAC: &str = "00:00:5e:00:01:33";
const VIP: &str = "10.0.3.100/24";

fn conf(router_id: &str, priority: u8, extra: &str) -> String {
    format!(
        "global_defs {{\n    router_id {router_id}\n}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int 1\n    use_vmac\n{extra}    \
         virtual_ipaddress {{\n        {VIP}\n    }}\n}}\n"
    )
}

/// `ip -d link show LINK` in `host`, or `None` when there is no such link.
fn link_details(host: &Host, link: &str) -> Option<String> {
    host.run("ip", &["-d", "link", "show", "dev", link]).ok()
}

/// The link exists as keepalived makes it: a macvlan in private mode with the virtual MAC.
fn is_vmac(details: &str) -> bool {
    details.contains(&format!("link/ether {VMAC}")) && details.contains("macvlan mode private")
}

fn holds_on(host: &Host, link: &str) -> bool {
    host.run("ip", &["-o", "addr", "show", "dev", link])
        .is_ok_and(|text| text.contains(&format!("inet {VIP}")))
}

/// tcpdump at the switch, with link-level headers, of VRRP and ARP.
struct Capture(TextCapture);

impl Capture {
    fn start(lab: &Lab, dir: &Workdir) -> Capture {
        let mut command = lab.switch_command("tcpdump");
        command.args(["-i", lab.bridge(), "-n", "-e", "-l", "vrrp or arp"]);
        Capture(TextCapture::start(lab.host("client"), command, dir, "wire"))
    }

    fn lines(&self) -> Vec<String> {
        self.0.lines()
    }

    /// Lines from `mac` that contain `what`, captured after line `from`.
    fn sent_by(&self, from: usize, mac: &str, what: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .skip(from)
            .filter(|l| l.starts_with(mac) || l.split_whitespace().nth(1) == Some(mac))
            .filter(|l| l.contains(what))
            .collect()
    }
}

/// What both daemons must show while master on `host` (whose own address is `source`):
/// the link, the VIP on it, adverts from the virtual MAC with the host's address, a
/// gratuitous ARP from it, and the client reaching the VIP at that MAC.
/// How long the VIP took to show up on the link.
fn check_master(
    lab: &Lab,
    host: &str,
    capture: &Capture,
    since: usize,
    daemons: &[&Daemon],
) -> Duration {
    let kind = daemons[0].name.clone();
    let h = lab.host(host);
    let Some(took) = wait_for(Duration::from_secs(20), || holds_on(h, LINK)) else {
        fail(&format!("{kind}: VIP never on {LINK} of {host}"), daemons);
    };
    let details = link_details(h, LINK).unwrap_or_default();
    if !is_vmac(&details) {
        fail(
            &format!("{kind}: {LINK} is not the vmac: {details}"),
            daemons,
        );
    }
    let source = format!("{} > 224.0.0.18", h.address());
    let adverts = || capture.sent_by(since, VMAC, &source);
    if wait_for(Duration::from_secs(5), || adverts().len() >= 2).is_none() {
        fail(
            &format!(
                "{kind}: no adverts from {VMAC} with {source}: {:#?}",
                capture.lines()
            ),
            daemons,
        );
    }
    let garps = capture.sent_by(since, VMAC, "who-has 10.0.3.100");
    if garps.is_empty() {
        fail(
            &format!(
                "{kind}: no gratuitous ARP from {VMAC}: {:#?}",
                capture.lines()
            ),
            daemons,
        );
    }
    // The client asks for the VIP afresh: the answer must come from the vmac.
    let client = lab.host("client");
    let _ = client.run("ip", &["neigh", "del", "10.0.3.100", "dev", "eth0"]);
    let asked = capture.lines().len();
    if !client.ping([10, 0, 3, 100]).unwrap_or(false) {
        fail(&format!("{kind}: the VIP does not answer pings"), daemons);
    }
    let replies = || -> Vec<String> {
        let lines = capture.lines().into_iter().skip(asked);
        lines
            .filter(|l| l.contains("Reply 10.0.3.100 is-at"))
            .collect()
    };
    // tcpdump writes each packet as it sees it: the reply may be a moment behind.
    let _ = wait_for(Duration::from_secs(2), || !replies().is_empty());
    let replies = replies();
    let from_vmac = |l: &String| l.contains(&format!("is-at {VMAC}"));
    if replies.is_empty() || !replies.iter().all(from_vmac) {
        fail(
            &format!(
                "{kind}: ARP replies for the VIP {replies:#?}, expected {VMAC} only; captured {:#?}",
                &capture.lines()[asked..]
            ),
            daemons,
        );
    }
    took
}

#[test]
fn use_vmac_matches_keepalived_on_the_wire_and_in_the_system() {
    let test = "use_vmac_matches_keepalived_on_the_wire_and_in_the_system";
    if skip_without_tcpdump(test) || skip_without_tool("keepalived", "keepalived", test) {
        return;
    }
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("vmac");
    let capture = Capture::start(&lab, &dir);
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));

    // baton alone: master on lb2, from its vmac.
    let mut baton = start_baton(lb2, &dir, &conf("lb2", 100, ""));
    check_master(&lab, "lb2", &capture, 0, &[&baton]);
    println!(
        "baton master on {LINK}: {}",
        link_details(lb2, LINK).unwrap_or_default()
    );

    // keepalived with a higher priority takes over: its vmac, its adverts from the MAC.
    let since = capture.lines().len();
    let keepalived = start_keepalived(lb1, &dir, &conf("lb1", 150, ""));
    let took = check_master(&lab, "lb1", &capture, since, &[&keepalived, &baton]);
    println!("keepalived (priority 150) took the VIP on its vmac {took:?} after it started");
    if wait_for(Duration::from_secs(10), || !holds_on(lb2, LINK)).is_none() {
        fail(
            "baton kept the VIP after keepalived took over",
            &[&baton, &keepalived],
        );
    }
    // A backup keeps its link (keepalived's does too), without the VIP.
    if !link_details(lb2, LINK).is_some_and(|d| is_vmac(&d)) {
        fail("baton's backup lost its vmac", &[&baton]);
    }

    // keepalived stops: baton takes the VIP back on its vmac; keepalived removed its link.
    let since = capture.lines().len();
    let mut keepalived = keepalived;
    keepalived.child.terminate();
    let took = check_master(&lab, "lb2", &capture, since, &[&baton, &keepalived]);
    println!("baton took the VIP back on its vmac {took:?} after keepalived stopped");
    if link_details(lb1, LINK).is_some() {
        fail("keepalived left its vmac behind", &[&keepalived]);
    }

    // baton stops: its link goes, and the base's ARP settings come back.
    baton.child.terminate();
    if link_details(lb2, LINK).is_some() {
        fail("baton left its vmac behind after SIGTERM", &[&baton]);
    }
    let arp_ignore = lb2
        .run("cat", &["/proc/sys/net/ipv4/conf/eth0/arp_ignore"])
        .unwrap_or_default();
    assert_eq!(arp_ignore.trim(), "0", "eth0's arp_ignore restored");

    // A matching link baton did not make is used, and left in place on stop.
    lb2.run(
        "ip",
        &[
            "link", "add", LINK, "link", "eth0", "address", VMAC, "type", "macvlan", "mode",
            "private",
        ],
    )
    .expect("making a vmac by hand");
    let mut baton = start_baton(lb2, &dir, &conf("lb2", 100, ""));
    let since = capture.lines().len();
    check_master(&lab, "lb2", &capture, since, &[&baton]);
    baton.child.terminate();
    if !link_details(lb2, LINK).is_some_and(|d| is_vmac(&d)) {
        fail("baton removed a vmac it did not make", &[&baton]);
    }
}

#[test]
fn vmac_xmit_base_sends_adverts_from_the_base_mac() {
    let test = "vmac_xmit_base_sends_adverts_from_the_base_mac";
    if skip_without_tcpdump(test) {
        return;
    }
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let dir = Workdir::new("vmac-xmit-base");
    let capture = Capture::start(&lab, &dir);
    let lb2 = lab.host("lb2");
    let baton = start_baton(lb2, &dir, &conf("lb2", 100, "    vmac_xmit_base\n"));
    if wait_for(Duration::from_secs(20), || holds_on(lb2, LINK)).is_none() {
        fail(
            "baton with vmac_xmit_base never took the VIP on its vmac",
            &[&baton],
        );
    }
    let source = format!("{} > 224.0.0.18", lb2.address());
    let base = lb2.mac_string();
    if wait_for(Duration::from_secs(5), || {
        capture.sent_by(0, &base, &source).len() >= 2
    })
    .is_none()
    {
        fail(
            &format!("no adverts from eth0's MAC {base}: {:#?}", capture.lines()),
            &[&baton],
        );
    }
    assert!(
        capture.sent_by(0, VMAC, &source).is_empty(),
        "adverts from the vmac despite vmac_xmit_base"
    );
    let garps = capture.sent_by(0, VMAC, "who-has 10.0.3.100");
    assert!(
        !garps.is_empty(),
        "gratuitous ARPs still come from the vmac"
    );

    // A reload that drops use_vmac removes the link; the VIP goes to eth0.
    dir.write(
        "lb2.conf",
        &conf("lb2", 100, "").replace("    use_vmac\n", ""),
    );
    let pid = nix::unistd::Pid::from_raw(i32::try_from(baton.child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).expect("SIGHUP");
    let gone = || link_details(lb2, LINK).is_none() && common::holds(lb2, VIP);
    if wait_for(Duration::from_secs(20), gone).is_none() {
        fail(
            "a reload without use_vmac left the link, or the VIP off eth0",
            &[&baton],
        );
    }
}

#[test]
fn use_ipvlan_needs_kernel_support_and_says_so() {
    let test = "use_ipvlan_needs_kernel_support_and_says_so";
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let lb2 = lab.host("lb2");
    let probe = lb2.run(
        "ip",
        &[
            "link", "add", "ipvprobe", "link", "eth0", "type", "ipvlan", "mode", "l2",
        ],
    );
    let dir = Workdir::new("ipvlan");
    let extra = "    use_ipvlan ipv51 10.0.3.151/24\n";
    let file = conf("lb2", 100, extra).replace("    use_vmac\n", "");
    let mut baton = start_baton(lb2, &dir, &file);
    if probe.is_err() {
        // The daemon must fail its start and name what the kernel lacks.
        let exited = baton
            .child
            .wait_timeout(Duration::from_secs(20))
            .ok()
            .flatten();
        let log = baton.log_text();
        if exited.is_none_or(|s| s.success()) || !log.contains("no ipvlan support") {
            fail(
                &format!("no clear ipvlan error (exit {exited:?})"),
                &[&baton],
            );
        }
        eprintln!(
            "SKIPPED (the kernel has no ipvlan: CONFIG_IPVLAN / module ipvlan): {test}: baton's error was checked, the ipvlan itself was not"
        );
        return;
    }
    let _ = lb2.run("ip", &["link", "del", "ipvprobe"]);
    if wait_for(Duration::from_secs(20), || holds_on(lb2, "ipv51")).is_none() {
        fail("the VIP never went on the ipvlan", &[&baton]);
    }
    let details = link_details(lb2, "ipv51").unwrap_or_default();
    assert!(
        details.contains("ipvlan  mode l2") || details.contains("ipvlan mode l2"),
        "{details}"
    );
    baton.child.terminate();
    assert!(
        link_details(lb2, "ipv51").is_none(),
        "baton removes its ipvlan"
    );
}

/// The capture times of the gratuitous ARPs for `vip` in tcpdump's `-tt` text.
fn garp_times(text: &str, vip: &str) -> Vec<f64> {
    let (asked, by) = (format!("who-has {vip} "), format!("tell {vip},"));
    text.lines()
        .filter(|l| l.contains(&asked) && l.contains(&by))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn garp_extra_if_repeats_announcements_on_the_other_interface_as_keepalived() {
    let test = "garp_extra_if_repeats_announcements_on_the_other_interface_as_keepalived";
    if skip_without_tcpdump(test) || skip_without_tool("keepalived", "keepalived", test) {
        return;
    }
    let extra = "    garp_extra_if all 1\n    garp_master_delay 0\n    garp_master_repeat 1\n";
    let file = conf("lb2", 100, extra).replace(
        &format!("        {VIP}\n"),
        &format!("        {VIP}\n        10.9.9.1/24 dev eth1\n"),
    );
    for kind in ["baton", "keepalived"] {
        let Some(lab) = guide_lab(test) else {
            return;
        };
        let lb2 = lab.host("lb2");
        // A second interface: a veth pair inside lb2 (this kernel may have no dummy).
        let link = [
            "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
        ];
        lb2.run("ip", &link).expect("veth eth1");
        for dev in ["eth1", "eth1p"] {
            lb2.run("ip", &["link", "set", dev, "up"]).expect("eth1 up");
        }
        let dir = Workdir::new("garp-extra-if");
        let capture = dir.path("eth1.txt");
        let mut command = lb2.command("tcpdump");
        command
            .args(["-i", "eth1", "-n", "-l", "-tt", "arp"])
            .stdout(Stdio::from(
                std::fs::File::create(&capture).expect("capture"),
            ))
            .stderr(Stdio::null());
        let _tcpdump = lb2.spawn(command).expect("tcpdump");
        std::thread::sleep(Duration::from_secs(1));
        let daemon = if kind == "baton" {
            start_baton(lb2, &dir, &file)
        } else {
            start_keepalived(lb2, &dir, &file)
        };
        if wait_for(Duration::from_secs(20), || holds_on(lb2, LINK)).is_none() {
            fail(&format!("{kind} never took the VIP"), &[&daemon]);
        }
        let read = || {
            garp_times(
                &std::fs::read_to_string(&capture).unwrap_or_default(),
                "10.9.9.1",
            )
        };
        // The master's own announcement, then one a second on eth1 (keepalived checks its
        // timer with each advert, so about one a second there too).
        if wait_for(Duration::from_secs(8), || read().len() >= 4).is_none() {
            fail(
                &format!(
                    "{kind}: fewer than 4 gratuitous ARPs on eth1 in 8 s: {:?}",
                    std::fs::read_to_string(&capture).unwrap_or_default()
                ),
                &[&daemon],
            );
        }
        let times = read();
        let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        println!("{kind}: gratuitous ARPs on eth1 {gaps:.3?} s apart");
        assert!(
            gaps.iter().skip(1).all(|g| *g >= 0.5),
            "{kind}: repeats closer than the interval: {gaps:?}"
        );
    }
}

#[test]
fn with_dynamic_interfaces_the_vmac_waits_for_its_base() {
    let test = "with_dynamic_interfaces_the_vmac_waits_for_its_base";
    let Some(lab) = guide_lab(test) else {
        return;
    };
    let lb2 = lab.host("lb2");
    let dir = Workdir::new("vmac-dynamic");
    let file = conf("lb2", 100, "")
        .replace("    interface eth0\n", "    interface eth9\n")
        .replace(VIP, "10.9.9.100/24")
        .replace("global_defs {\n", "global_defs {\n    dynamic_interfaces\n");
    let mut baton = start_baton(lb2, &dir, &file);
    std::thread::sleep(Duration::from_secs(2));
    if !baton.child.is_running() || link_details(lb2, LINK).is_some() {
        fail("baton did not wait for eth9 without a link", &[&baton]);
    }
    let veth = [
        "link", "add", "eth9", "type", "veth", "peer", "name", "eth9p",
    ];
    lb2.run("ip", &veth).expect("veth eth9");
    lb2.run("ip", &["addr", "add", "10.9.9.2/24", "dev", "eth9"])
        .expect("eth9's address");
    for dev in ["eth9p", "eth9"] {
        lb2.run("ip", &["link", "set", dev, "up"]).expect("up");
    }
    let on_link = || {
        lb2.run("ip", &["-o", "addr", "show", "dev", LINK])
            .is_ok_and(|t| t.contains("inet 10.9.9.100/24"))
    };
    if wait_for(Duration::from_secs(20), on_link).is_none() {
        fail("the vmac on eth9 never held the VIP", &[&baton]);
    }
    baton.child.terminate();
    assert!(link_details(lb2, LINK).is_none(), "baton removes its vmac");
}

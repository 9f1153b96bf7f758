//! keepalived's address links (`use_vmac_addr`, an address's own `use_vmac`,
//! `vmac_addr_prefix`), baton beside keepalived 2.2.7 with the same file on lb2, one after
//! the other in a fresh lab: lb2 has a second interface, eth1, a veth whose other end
//! (eth1c) sits in the client. Both daemons must make the same private macvlans (name,
//! base, MAC), put each address on the same device, answer ARP / ND for the addresses on
//! eth1 with the virtual MACs (the client's neighbour table says which), send their
//! gratuitous ARPs / NAs there from those MACs (captured on eth1c), and remove the links on
//! stop. Then baton alone: a matching link made by hand, under another name, is used and
//! left in place.

mod common;

use std::time::Duration;

use baton_lab::{Host, Lab};
use common::tcpdump_text::TextCapture;
use common::{Kind, Workdir, fail, guide_lab, skip_without_tcpdump, skip_without_tool, wait_for};

/// Two instances: VI_1 with its own vmac and addresses with `use_vmac` on eth1 (IPv4 and
/// IPv6), VI_2 with `use_vmac_addr` (an address on eth1, an IPv6 one on eth0).
const CONF: &str = "\
global_defs {
    router_id lb2
    vmac_addr_prefix vaddr
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    use_vmac
    virtual_ipaddress {
        10.0.3.100/24
        10.9.9.100/24 dev eth1 use_vmac
    }
    virtual_ipaddress_excluded {
        fd00:9::100/64 dev eth1 use_vmac
    }
}
vrrp_instance VI_2 {
    state MASTER
    interface eth0
    virtual_router_id 52
    priority 150
    advert_int 1
    use_vmac_addr
    virtual_ipaddress {
        10.0.3.102/24
        10.9.9.102/24 dev eth1
    }
    virtual_ipaddress_excluded {
        fd00:3::102/64
    }
}
";

const ADDRESSES: [&str; 6] = [
    "10.0.3.100",
    "10.9.9.100",
    "fd00:9::100",
    "10.0.3.102",
    "10.9.9.102",
    "fd00:3::102",
];

/// The addresses the client asks for over eth1, and how many links answer for each: an
/// IPv4 address's own link, and (keepalived sets arp_ignore only on IPv4 links) VI_1's
/// IPv6 link on eth1 too.
const ON_ETH1: [(&str, usize); 3] = [("10.9.9.100", 2), ("fd00:9::100", 1), ("10.9.9.102", 2)];

/// What one daemon did, to hold the two to each other.
#[derive(Debug, PartialEq)]
struct Observed {
    /// (name, base, MAC, mode) of every macvlan while it ran.
    links: Vec<(String, String, String, String)>,
    /// (address, device) of each address while master.
    placed: Vec<(String, String)>,
    /// The MACs that answered the client's ARP / neighbour solicitation for each address
    /// on eth1.
    answered_from: Vec<(String, Vec<String>)>,
    /// Gratuitous ARP / NA seen on eth1 for 10.9.9.100 from 00:00:5e:00:01:33 and for
    /// fd00:9::100 from 00:00:5e:00:02:33.
    announced_from_vmacs: (bool, bool),
    /// Macvlans left after it stopped.
    left: Vec<(String, String, String, String)>,
}

/// lb2's second interface eth1, its other end eth1c in the client (10.9.9.2, fd00:9::2).
fn add_eth1(lab: &Lab) {
    let (lb2, client) = (lab.host("lb2"), lab.host("client"));
    let veth = [
        "link",
        "add",
        "eth1",
        "type",
        "veth",
        "peer",
        "name",
        "eth1c",
        "netns",
        client.namespace(),
    ];
    lb2.run("ip", &veth).expect("veth eth1 / eth1c");
    lb2.run("ip", &["link", "set", "eth1", "up"])
        .expect("eth1 up");
    client
        .run("ip", &["addr", "add", "10.9.9.2/24", "dev", "eth1c"])
        .expect("eth1c's address");
    client
        .run(
            "ip",
            &["addr", "add", "fd00:9::2/64", "dev", "eth1c", "nodad"],
        )
        .expect("eth1c's IPv6 address");
    client
        .run("ip", &["link", "set", "eth1c", "up"])
        .expect("eth1c up");
}

/// (name, base, MAC, mode) of every macvlan of `host`, sorted.
fn macvlans(host: &Host) -> Vec<(String, String, String, String)> {
    let text = host
        .run("ip", &["-d", "-o", "link", "show", "type", "macvlan"])
        .unwrap_or_default();
    let mut links: Vec<_> = text
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (name, base) = words.get(1)?.trim_end_matches(':').split_once('@')?;
            let after = |key: &str| {
                let at = words.iter().position(|w| *w == key)?;
                words.get(at + 1).map(|w| (*w).to_owned())
            };
            let mode = words
                .windows(3)
                .find(|w| w[0] == "macvlan" && w[1] == "mode")
                .map(|w| w[2].to_owned())
                .unwrap_or_default();
            Some((name.to_owned(), base.to_owned(), after("link/ether")?, mode))
        })
        .collect();
    links.sort();
    links
}

/// The device of each of [`ADDRESSES`] on `host` (empty where it is not).
fn placed(host: &Host) -> Vec<(String, String)> {
    let text = host.run("ip", &["-o", "addr", "show"]).unwrap_or_default();
    ADDRESSES
        .iter()
        .map(|address| {
            let dev = text
                .lines()
                .find(|l| l.contains(&format!(" {address}/")))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or_default();
            ((*address).to_owned(), dev.to_owned())
        })
        .collect()
}

/// The MACs that answer when the client asks afresh for `address` over eth1c (at least
/// `expected` of them, if they come within a few seconds).
fn answered_from(client: &Host, capture: &Capture, address: &str, expected: usize) -> Vec<String> {
    let _ = client.run("ip", &["neigh", "flush", "dev", "eth1c"]);
    let since = capture.lines().len();
    let target: std::net::IpAddr = address.parse().expect("an address");
    let _ = wait_for(Duration::from_secs(5), || {
        client.ping(target).unwrap_or(false)
    });
    let answers = || capture.answers(since, address);
    // tcpdump writes each packet as it sees it: the answers may be a moment behind.
    let _ = wait_for(Duration::from_secs(3), || answers().len() >= expected);
    answers()
}

/// tcpdump on the client's eth1c, with link-level headers, of ARP and ICMPv6.
struct Capture(TextCapture);

impl Capture {
    fn start(client: &Host, dir: &Workdir) -> Capture {
        let mut command = client.command("tcpdump");
        command.args(["-i", "eth1c", "-n", "-e", "-t", "-l", "arp or icmp6"]);
        Capture(TextCapture::start(client, command, dir, "eth1c"))
    }

    fn lines(&self) -> Vec<String> {
        self.0.lines()
    }

    /// Whether a line from `mac` says all of `what`.
    fn saw(&self, mac: &str, what: &[&str]) -> bool {
        self.lines()
            .iter()
            .any(|l| l.starts_with(&format!("{mac} >")) && what.iter().all(|w| l.contains(w)))
    }

    /// The MACs of ARP replies and solicited neighbour advertisements for `address` after
    /// line `since`, sorted.
    fn answers(&self, since: usize, address: &str) -> Vec<String> {
        let reply = format!("Reply {address} is-at ");
        let advert = format!("neighbor advertisement, tgt is {address},");
        let mut macs: Vec<String> = self
            .lines()
            .into_iter()
            .skip(since)
            .filter(|l| l.contains(&reply) || (l.contains(&advert) && !l.contains("> 33:33:")))
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect();
        macs.sort();
        macs.dedup();
        macs
    }
}

/// Runs `kind` on lb2 of a fresh lab with [`CONF`] and observes it.
fn observe(kind: Kind, test: &str) -> Option<Observed> {
    let lab = guide_lab(test)?;
    add_eth1(&lab);
    let (lb2, client) = (lab.host("lb2"), lab.host("client"));
    let dir = Workdir::new("vmac-addr");
    let capture = Capture::start(client, &dir);
    let mut daemon = kind.start(lb2, &dir, CONF);
    let all_placed = || placed(lb2).iter().all(|(_, dev)| !dev.is_empty());
    if wait_for(Duration::from_secs(20), all_placed).is_none() {
        fail(
            &format!("{kind:?}: not every address went on: {:?}", placed(lb2)),
            &[&daemon],
        );
    }
    let garp = ["who-has 10.9.9.100 ", "tell 10.9.9.100,"];
    let na = [
        "> 33:33:00:00:00:01",
        "neighbor advertisement, tgt is fd00:9::100,",
    ];
    let announced = || {
        (
            capture.saw("00:00:5e:00:01:33", &garp),
            capture.saw("00:00:5e:00:02:33", &na),
        )
    };
    // Announcements go out as it becomes master; give them time to show up.
    let _ = wait_for(Duration::from_secs(5), || announced() == (true, true));
    let observed_links = macvlans(lb2);
    let observed_placed = placed(lb2);
    let answered = ON_ETH1
        .iter()
        .map(|(a, n)| ((*a).to_owned(), answered_from(client, &capture, a, *n)))
        .collect();
    let announced_from_vmacs = announced();
    daemon.child.terminate();
    let gone = || macvlans(lb2).is_empty();
    let _ = wait_for(Duration::from_secs(10), gone);
    let observed = Observed {
        links: observed_links,
        placed: observed_placed,
        answered_from: answered,
        announced_from_vmacs,
        left: macvlans(lb2),
    };
    println!("{kind:?}: {observed:#?}");
    Some(observed)
}

fn link(name: &str, base: &str, mac: &str) -> (String, String, String, String) {
    (
        name.to_owned(),
        base.to_owned(),
        mac.to_owned(),
        "private".to_owned(),
    )
}

#[test]
fn address_links_match_keepalived() {
    let test = "address_links_match_keepalived";
    if skip_without_tcpdump(test) || skip_without_tool("keepalived", "keepalived", test) {
        return;
    }
    let Some(keepalived) = observe(Kind::Keepalived, test) else {
        return;
    };
    let Some(baton) = observe(Kind::Baton, test) else {
        return;
    };
    // keepalived first against what it is documented to do, so a change in the lab that
    // breaks both cannot pass as agreement.
    let expected_links = vec![
        link("vaddr.51", "eth1", "00:00:5e:00:01:33"),
        link("vaddr.52", "eth1", "00:00:5e:00:01:34"),
        link("vaddr6.51", "eth1", "00:00:5e:00:02:33"),
        link("vaddr6.52", "eth0", "00:00:5e:00:02:34"),
        link("vrrp.51", "eth0", "00:00:5e:00:01:33"),
    ];
    assert_eq!(keepalived.links, expected_links, "keepalived's links");
    let expected_placed: Vec<(String, String)> = [
        ("10.0.3.100", "vrrp.51"),
        ("10.9.9.100", "vaddr.51"),
        ("fd00:9::100", "vaddr6.51"),
        ("10.0.3.102", "eth0"),
        ("10.9.9.102", "vaddr.52"),
        ("fd00:3::102", "vaddr6.52"),
    ]
    .iter()
    .map(|(a, d)| ((*a).to_owned(), (*d).to_owned()))
    .collect();
    assert_eq!(keepalived.placed, expected_placed, "keepalived's placement");
    let macs = |list: &[&str]| list.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>();
    let expected_answers = vec![
        (
            "10.9.9.100".to_owned(),
            macs(&["00:00:5e:00:01:33", "00:00:5e:00:02:33"]),
        ),
        ("fd00:9::100".to_owned(), macs(&["00:00:5e:00:02:33"])),
        (
            "10.9.9.102".to_owned(),
            macs(&["00:00:5e:00:01:34", "00:00:5e:00:02:33"]),
        ),
    ];
    assert_eq!(
        keepalived.answered_from, expected_answers,
        "keepalived answers on eth1 from the virtual MACs"
    );
    assert_eq!(
        keepalived.announced_from_vmacs,
        (true, true),
        "keepalived announces from the vmacs"
    );
    assert!(keepalived.left.is_empty(), "keepalived removes its links");
    assert_eq!(baton, keepalived, "baton does what keepalived does");
}

#[test]
fn a_matching_link_made_by_hand_is_used_and_left() {
    let test = "a_matching_link_made_by_hand_is_used_and_left";
    let Some(lab) = guide_lab(test) else {
        return;
    };
    add_eth1(&lab);
    let lb2 = lab.host("lb2");
    // keepalived finds an address's link by its base and MAC, whatever it is called.
    let by_hand = [
        "link",
        "add",
        "hand51",
        "link",
        "eth1",
        "address",
        "00:00:5e:00:01:33",
        "type",
        "macvlan",
        "mode",
        "private",
    ];
    lb2.run("ip", &by_hand).expect("a vmac made by hand");
    let dir = Workdir::new("vmac-addr-hand");
    let mut baton = Kind::Baton.start(lb2, &dir, CONF);
    let on_hand = || {
        placed(lb2)
            .iter()
            .any(|(a, d)| a == "10.9.9.100" && d == "hand51")
    };
    if wait_for(Duration::from_secs(20), on_hand).is_none() {
        fail(
            &format!("10.9.9.100 not on hand51: {:?}", placed(lb2)),
            &[&baton],
        );
    }
    let names: Vec<String> = macvlans(lb2).into_iter().map(|l| l.0).collect();
    assert!(
        !names.iter().any(|n| n == "vaddr.51"),
        "a second link for hand51's MAC: {names:?}"
    );
    baton.child.terminate();
    let left: Vec<String> = macvlans(lb2).into_iter().map(|l| l.0).collect();
    assert_eq!(left, ["hand51"], "only the hand-made link stays");
}

fn sysctl(host: &Host, path: &str) -> String {
    host.run("cat", &[&format!("/proc/sys/net/ipv4/conf/{path}")])
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[test]
fn a_reload_without_use_vmac_addr_removes_its_links_and_stop_restores_the_base() {
    let test = "a_reload_without_use_vmac_addr_removes_its_links_and_stop_restores_the_base";
    let Some(lab) = guide_lab(test) else {
        return;
    };
    add_eth1(&lab);
    let lb2 = lab.host("lb2");
    let dir = Workdir::new("vmac-addr-reload");
    let mut baton = Kind::Baton.start(lb2, &dir, CONF);
    let all_placed = || placed(lb2).iter().all(|(_, dev)| !dev.is_empty());
    if wait_for(Duration::from_secs(20), all_placed).is_none() {
        fail(
            &format!("not every address went on: {:?}", placed(lb2)),
            &[&baton],
        );
    }
    assert_eq!(
        sysctl(lb2, "eth1/arp_ignore"),
        "1",
        "eth1 set for its links"
    );
    dir.write("lb2.conf", &CONF.replace("    use_vmac_addr\n", ""));
    baton
        .child
        .signal(nix::sys::signal::Signal::SIGHUP)
        .expect("SIGHUP");
    let moved = || {
        let now = placed(lb2);
        let on = |a: &str, d: &str| now.iter().any(|(x, y)| x == a && y == d);
        on("10.9.9.102", "eth1") && on("fd00:3::102", "eth0")
    };
    if wait_for(Duration::from_secs(20), moved).is_none() {
        fail(
            &format!(
                "VI_2's addresses did not leave their links: {:?}",
                placed(lb2)
            ),
            &[&baton],
        );
    }
    let names: Vec<String> = macvlans(lb2).into_iter().map(|l| l.0).collect();
    assert_eq!(
        names,
        ["vaddr.51", "vaddr6.51", "vrrp.51"],
        "the reload removes VI_2's links and keeps VI_1's"
    );
    assert!(
        placed(lb2)
            .iter()
            .any(|(a, d)| a == "10.9.9.100" && d == "vaddr.51"),
        "VI_1 keeps its address on its link"
    );
    // vaddr.51 still sits on eth1: its settings stay until the last link there goes.
    assert_eq!(
        sysctl(lb2, "eth1/arp_ignore"),
        "1",
        "eth1 while vaddr.51 is there"
    );
    baton.child.terminate();
    assert!(macvlans(lb2).is_empty(), "baton removes its links on stop");
    assert_eq!(
        sysctl(lb2, "eth1/arp_ignore"),
        "0",
        "eth1's arp_ignore back after the reload and the stop"
    );
}

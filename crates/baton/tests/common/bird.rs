//! bird2 in lab hosts, for the anycast tests (issue 12): the configurations of a router and
//! of a load balancer, bird started in the foreground with its files in the test's
//! [`Workdir`], `birdc` questions, and the router's kernel route as ECMP nexthops.
//!
//! The configurations are the ones docs/operations.md shows (a test holds the page to
//! them), so what the page tells operators is what the lab runs: a load balancer's bird
//! learns baton's routes from kernel table 100 (route protocol 201) into bird tables of
//! their own and announces exactly those over BGP, one session per address family; the
//! router's bird merges the equal BGP paths into one multipath kernel route (`merge paths
//! on`). Both sides run BFD at 100 ms x 3 on the sessions.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use baton_lab::Host;

use super::{Daemon, Workdir, fail, log_file, wait_for};

/// baton's route protocol number (`baton_config::ANYCAST_ROUTE_PROTOCOL`): `ip route`
/// shows its routes as `proto 201`. Not 186, which iproute2 names `bgp` and FRR's bgpd
/// uses for the routes it installs.
pub(crate) const BATON_ROUTE_PROTOCOL: u8 = 201;
/// The kernel table baton writes anycast routes to unless `[[anycast]]` says otherwise.
pub(crate) const ANYCAST_TABLE: u32 = 100;
/// BFD on every session: a peer is down after `BFD_MULTIPLIER` missed packets
/// `BFD_INTERVAL_MS` apart.
pub(crate) const BFD_INTERVAL_MS: u64 = 100;
pub(crate) const BFD_MULTIPLIER: u64 = 3;
/// How long bird gets to answer on its control socket after starting.
const STARTUP: Duration = Duration::from_secs(10);
/// The client's own cable to the router (eth1 on both), so that every packet it sends to
/// an anycast address crosses the router: the networks and both ends' addresses.
pub(crate) const CLIENT_SIDE: &str = "10.0.5.0/24";
pub(crate) const ROUTER_CLIENT_SIDE: &str = "10.0.5.1";
pub(crate) const CLIENT_ADDRESS: &str = "10.0.5.50/24";
pub(crate) const CLIENT_SIDE6: &str = "fd00:0:0:5::/64";
pub(crate) const ROUTER_CLIENT_SIDE6: &str = "fd00:0:0:5::1";
pub(crate) const CLIENT_ADDRESS6: &str = "fd00:0:0:5::50/64";

/// One end of BGP sessions as the other end's configuration names it: an IPv4 session,
/// and an IPv6 one beside it where both ends have an IPv6 address.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// The bird protocol's name (letters, digits, `_`; bird's keywords such as `router`
    /// are refused); the IPv6 session's gets a `6` (`_6` after a digit).
    pub(crate) name: String,
    pub(crate) address: Ipv4Addr,
    pub(crate) address6: Option<Ipv6Addr>,
    pub(crate) asn: u32,
}

/// The router as the load balancers' bird names it, `uplink` in AS 65000, at the address
/// of `cidr` (`10.0.3.1/24`), IPv4 only.
pub(crate) fn ipv4_router(cidr: &str) -> Peer {
    Peer {
        name: "uplink".to_owned(),
        address: address_of(cidr),
        address6: None,
        asn: 65000,
    }
}

/// Load balancers `(name, 10.0.3.5/24)` as the router's bird names them, each in a private
/// AS of its own from 65001 on, IPv4 only.
pub(crate) fn ipv4_load_balancers(hosts: &[(&str, &str)]) -> Vec<Peer> {
    (0u32..)
        .zip(hosts)
        .map(|(index, (name, cidr))| Peer {
            name: (*name).to_owned(),
            address: address_of(cidr),
            address6: None,
            asn: 65001 + index,
        })
        .collect()
}

/// baton.toml's backend `app`: the one `server` (`127.0.0.1:8080`: the load balancer's
/// own app), checked over HTTP every 0.2 s and down after two failures, so that a frontend
/// on it can serve within a second of a start.
pub(crate) fn checked_backend(server: &str) -> String {
    format!(
        r#"[[backend]]
name = "app"
servers = ["{server}"]
[backend.health_check]
type = "http"
path = "/"
interval = 0.2
timeout = 0.2
rise = 1
fall = 2
"#
    )
}

/// The prefixes the router accepts from the load balancers, per address family:
/// `10.0.9.0/24` and, for IPv6 sessions, `fd00:9::/64`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AnycastRanges<'a> {
    pub(crate) ipv4: &'a str,
    pub(crate) ipv6: Option<&'a str>,
}

/// An address family as bird's configuration spells it: the channel, and the suffix of
/// the names of its tables and protocols.
#[derive(Clone, Copy)]
struct Family {
    channel: &'static str,
    suffix: &'static str,
}

const IPV4: Family = Family {
    channel: "ipv4",
    suffix: "",
};
const IPV6: Family = Family {
    channel: "ipv6",
    suffix: "6",
};

impl Peer {
    /// The families both `self` and `other` have addresses in, with each end's address.
    fn sessions_with(&self, other: &Peer) -> Vec<(Family, IpAddr, IpAddr)> {
        let mut sessions = vec![(IPV4, self.address.into(), other.address.into())];
        if let (Some(mine), Some(theirs)) = (self.address6, other.address6) {
            sessions.push((IPV6, mine.into(), theirs.into()));
        }
        sessions
    }

    /// The name of this peer's session in `family`.
    fn session_name(&self, family: Family) -> String {
        match (
            family.suffix,
            self.name.ends_with(|c: char| c.is_ascii_digit()),
        ) {
            ("", _) => self.name.clone(),
            (suffix, true) => format!("{}_{suffix}", self.name),
            (suffix, false) => format!("{}{suffix}", self.name),
        }
    }
}

/// The BFD protocol block both sides use.
fn bfd_block() -> String {
    format!(
        "# BFD on every interface: a silent peer is down after {BFD_MULTIPLIER} missed packets \
         {BFD_INTERVAL_MS} ms apart.\n\
         protocol bfd {{\n    interface \"*\" {{\n        interval {BFD_INTERVAL_MS} ms;\n        \
         multiplier {BFD_MULTIPLIER};\n    }};\n}}\n"
    )
}

/// bird2's configuration on a load balancer `me` (AS `me.asn`): the routes baton writes to
/// kernel table `table` with protocol 201 are learnt into the bird tables `anycast` (IPv4)
/// and `anycast6` (IPv6) and announced to `router` only, one BGP session per address
/// family, with BFD; nothing is imported.
pub(crate) fn load_balancer_conf(me: &Peer, router: &Peer, table: u32) -> String {
    let sessions = me.sessions_with(router);
    let mut text = format!(
        "# bird2 on a load balancer ({me_address}): announce the routes baton writes to kernel\n\
         # table {table} (proto {BATON_ROUTE_PROTOCOL}) to the router, and nothing else.\n\
         router id {me_address};\n\
         log stderr all;\n\
         \n\
         # Interfaces: the kernel protocol needs them to read routes through lo.\n\
         protocol device {{\n}}\n\
         \n\
         # baton's routes, in bird tables of their own.\n",
        me_address = me.address,
    );
    for (family, _, _) in &sessions {
        text.push_str(&format!(
            "{} table anycast{};\n",
            family.channel, family.suffix
        ));
    }
    for (family, _, _) in &sessions {
        let (channel, suffix) = (family.channel, family.suffix);
        text.push_str(&format!(
            "\nprotocol kernel baton_routes{suffix} {{\n    {channel} {{\n        \
             table anycast{suffix};\n        import all;\n        export none;\n    }};\n    \
             kernel table {table};\n    learn;\n}}\n"
        ));
    }
    text.push_str(&format!(
        "\n{}\n# Short timers so that a restarted bird is back within seconds; BFD, not the BGP\n\
         # hold timer, detects a dead peer.\n",
        bfd_block()
    ));
    for (index, (family, mine, theirs)) in sessions.iter().enumerate() {
        let (channel, suffix) = (family.channel, family.suffix);
        text.push_str(&format!(
            "{blank}protocol bgp {name} {{\n    local {mine} as {me_asn};\n    \
             neighbor {theirs} as {router_asn};\n    bfd on;\n    \
             connect delay time 1;\n    connect retry time 2;\n    error wait time 1, 5;\n    \
             {channel} {{\n        table anycast{suffix};\n        import none;\n        \
             export where krt_source = {BATON_ROUTE_PROTOCOL};\n    }};\n}}\n",
            blank = if index == 0 { "" } else { "\n" },
            name = router.session_name(*family),
            me_asn = me.asn,
            router_asn = router.asn,
        ));
    }
    text
}

/// bird2's configuration on the router `me`: passive BGP sessions with BFD to each of
/// `load_balancers` (IPv4, and IPv6 where both ends have an address and `ranges` an IPv6
/// range), accepting only prefixes inside `ranges`, and the equal paths merged into one
/// multipath route per prefix in the kernel's main tables.
pub(crate) fn router_conf(me: &Peer, load_balancers: &[Peer], ranges: AnycastRanges) -> String {
    let mut families = vec![(IPV4, IpAddr::from(me.address), ranges.ipv4)];
    if let (Some(address6), Some(range6)) = (me.address6, ranges.ipv6) {
        families.push((IPV6, address6.into(), range6));
    }
    let mut text = format!(
        "# bird2 on the router ({me_address}): one BGP session per load balancer and address\n\
         # family, and the equal paths to an anycast address as one ECMP route in the kernel.\n\
         router id {me_address};\n\
         log stderr all;\n\
         \n\
         protocol device {{\n}}\n\
         \n\
         # merge paths: the best route and every equal one become the nexthops of one\n\
         # multipath kernel route.\n",
        me_address = me.address,
    );
    for (index, (family, _, _)) in families.iter().enumerate() {
        text.push_str(&format!(
            "{blank}protocol kernel {{\n    {channel} {{\n        import none;\n        \
             export all;\n    }};\n    merge paths on;\n}}\n",
            blank = if index == 0 { "" } else { "\n" },
            channel = family.channel,
        ));
    }
    text.push_str(&format!("\n{}", bfd_block()));
    for (family, address, range) in &families {
        let (channel, suffix) = (family.channel, family.suffix);
        text.push_str(&format!(
            "\ntemplate bgp load_balancer{suffix} {{\n    local {address} as {asn};\n    \
             passive on;\n    bfd on;\n    error wait time 1, 5;\n    {channel} {{\n        \
             import where net ~ [ {range}+ ];\n        export none;\n    }};\n}}\n",
            asn = me.asn,
        ));
    }
    for lb in load_balancers {
        for (family, lb_address, _) in lb.sessions_with(me) {
            // An IPv6 session only where the router accepts an IPv6 range.
            if !families.iter().any(|(f, _, _)| f.suffix == family.suffix) {
                continue;
            }
            text.push_str(&format!(
                "\nprotocol bgp {} from load_balancer{} {{\n    neighbor {lb_address} as {};\n}}\n",
                lb.session_name(family),
                family.suffix,
                lb.asn
            ));
        }
    }
    text
}

/// `true`, after a loud SKIPPED line, where the anycast lab cannot run `test`: bird2 or
/// python3 (the clients) missing, or the lab tests run elsewhere.
pub(crate) fn skip_anycast_lab(test: &str) -> bool {
    skip_without_bird(test)
        || super::skip_without_tool("python3", "python3", test)
        || baton_lab::handled_elsewhere(test)
}

/// `ip WORDS...` in `host`, from one line (no word of it has a space).
pub(crate) fn ip(host: &Host, line: &str) {
    let args: Vec<&str> = line.split_whitespace().collect();
    if let Err(error) = host.run("ip", &args) {
        panic!("in {}: ip {line}: {error}", host.name());
    }
}

/// The address of `10.0.3.1/24`.
pub(crate) fn address_of(cidr: &str) -> Ipv4Addr {
    let (address, _) = cidr.split_once('/').unwrap_or((cidr, ""));
    address.parse().expect("an IPv4 address")
}

/// The client's own cable to the router (eth1 on both, [`CLIENT_SIDE`]), made inside the
/// router's namespace with its peer put straight into the client's, like the lab's other
/// cables, and the client's routes to `ranges` through it (IPv6 too where `ranges` has an
/// IPv6 range). The client's bridge interface goes down, so the router is its only way to
/// the load balancers.
pub(crate) fn cable_client(router: &Host, client: &Host, ranges: AnycastRanges) {
    ip(
        router,
        &format!(
            "link add eth1 type veth peer name eth1 netns {}",
            client.namespace()
        ),
    );
    ip(
        router,
        &format!("address add {ROUTER_CLIENT_SIDE}/24 dev eth1"),
    );
    ip(router, "link set dev eth1 up");
    ip(client, &format!("address add {CLIENT_ADDRESS} dev eth1"));
    ip(client, "link set dev eth1 up");
    ip(
        client,
        &format!("route add {} via {ROUTER_CLIENT_SIDE}", ranges.ipv4),
    );
    if let Some(range6) = ranges.ipv6 {
        ip(
            router,
            &format!("address add {ROUTER_CLIENT_SIDE6}/64 dev eth1 nodad"),
        );
        ip(
            client,
            &format!("address add {CLIENT_ADDRESS6} dev eth1 nodad"),
        );
        ip(
            client,
            &format!("route add {range6} via {ROUTER_CLIENT_SIDE6}"),
        );
    }
    client
        .set_interface_down()
        .expect("the client's bridge interface down");
}

/// The router forwards, and hashes flows over ECMP nexthops by ports too
/// (`fib_multipath_hash_policy=1`), for IPv4 and, with `ipv6`, IPv6.
pub(crate) fn router_forwards(router: &Host, ipv6: bool) {
    let mut settings = vec![
        "net.ipv4.ip_forward=1",
        "net.ipv4.fib_multipath_hash_policy=1",
    ];
    if ipv6 {
        settings.extend([
            "net.ipv6.conf.all.forwarding=1",
            "net.ipv6.fib_multipath_hash_policy=1",
        ]);
    }
    let mut args = vec!["-qw"];
    args.extend(settings);
    router
        .run("sysctl", &args)
        .expect("forwarding and L4 multipath hashing on the router");
}

/// The load balancers (indexes into `peers`) `router`'s kernel sends `destination` to,
/// sorted.
pub(crate) fn nexthop_indexes(router: &Host, destination: &str, peers: &[Peer]) -> Vec<usize> {
    let mut indexes: Vec<usize> = kernel_nexthops(router, destination)
        .into_iter()
        .filter_map(|gateway| {
            peers.iter().position(|p| {
                gateway == IpAddr::from(p.address) || Some(gateway) == p.address6.map(Into::into)
            })
        })
        .collect();
    indexes.sort_unstable();
    indexes
}

/// `true`, after a loud SKIPPED line, where bird2 is not installed. bird lives in sbin,
/// which root's `PATH` and the rootless lab's have (see [`super::installed`]).
pub(crate) fn skip_without_bird(test: &str) -> bool {
    super::skip_without_tool("bird", "bird2", test)
        || super::skip_without_tool("birdc", "bird2", test)
}

/// Whether bird parses `conf` (`bird -p`): the error text if not.
pub(crate) fn parse_check(dir: &Workdir, name: &str, conf: &str) -> Result<(), String> {
    let path = dir.write(&format!("{name}-bird-check.conf"), conf);
    let output = Command::new("bird")
        .arg("-p")
        .arg("-c")
        .arg(&path)
        .output()
        .map_err(|error| format!("running bird -p: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "bird -p rejects {name}'s configuration: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// One row of `birdc show protocols`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Protocol {
    pub(crate) name: String,
    pub(crate) kind: String,
    /// `up`, `start`, `down`, ...
    pub(crate) state: String,
    /// BGP's state and last error, e.g. `Established` or `Idle  Error: BFD session down`.
    pub(crate) info: String,
}

/// bird running in the foreground in a lab host (`bird -f`), its control socket, pid file
/// and log (bird logs to stderr) in the test's work directory. Dropping it stops bird.
pub(crate) struct Bird {
    pub(crate) daemon: Daemon,
    socket: PathBuf,
}

impl Bird {
    /// Starts bird in `host` with `conf` as `NAME-bird.conf`, and waits until it answers on
    /// its control socket `NAME-bird.ctl`. A configuration bird refuses fails the test
    /// with bird's message.
    pub(crate) fn start(host: &Host, dir: &Workdir, conf: &str) -> Bird {
        let name = host.name();
        if let Err(message) = parse_check(dir, name, conf) {
            panic!("{message}");
        }
        let conf_path = dir.write(&format!("{name}-bird.conf"), conf);
        let socket = dir.path(&format!("{name}-bird.ctl"));
        let log = dir.path(&format!("{name}-bird.log"));
        let mut command = host.command("bird");
        command
            .arg("-f")
            .arg("-c")
            .arg(&conf_path)
            .arg("-s")
            .arg(&socket)
            .arg("-P")
            .arg(dir.path(&format!("{name}-bird.pid")))
            .stdin(Stdio::null())
            .stdout(log_file(&log))
            .stderr(log_file(&log));
        let child = host.spawn(command).expect("starting bird");
        let bird = Bird {
            daemon: Daemon {
                child,
                log,
                name: format!("bird@{name}"),
            },
            socket,
        };
        if wait_for(STARTUP, || bird.birdc(&["show", "status"]).is_ok()).is_none() {
            fail(
                &format!("bird in {name} never answered on its control socket"),
                &[&bird.daemon],
            );
        }
        bird
    }

    /// `birdc -s SOCKET ARGS...`: its output, or an error with what it said. The control
    /// socket is a file, so birdc needs no namespace.
    pub(crate) fn birdc(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new("birdc")
            .arg("-s")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("running birdc: {error}"))?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        // birdc exits 0 even when the socket refuses; its first line says which.
        if output.status.success() && text.starts_with("BIRD ") {
            Ok(text)
        } else {
            Err(format!(
                "birdc {}: {text}{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// `show protocols`, one row per protocol (empty if bird does not answer).
    pub(crate) fn protocols(&self) -> Vec<Protocol> {
        let text = self.birdc(&["show", "protocols"]).unwrap_or_default();
        text.lines()
            .skip_while(|line| !line.starts_with("Name "))
            .skip(1)
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let name = words.next()?.to_owned();
                let kind = words.next()?.to_owned();
                let _table = words.next()?;
                let state = words.next()?.to_owned();
                let _since = words.next()?;
                let info = words.collect::<Vec<_>>().join(" ");
                Some(Protocol {
                    name,
                    kind,
                    state,
                    info,
                })
            })
            .collect()
    }

    /// The BGP protocols whose session is Established.
    pub(crate) fn established(&self) -> Vec<String> {
        self.protocols()
            .into_iter()
            .filter(|p| p.kind == "BGP" && p.info.starts_with("Established"))
            .map(|p| p.name)
            .collect()
    }

    /// `show protocols all NAME`: the detail, with BGP's `Last error`.
    pub(crate) fn protocol_detail(&self, name: &str) -> String {
        self.birdc(&["show", "protocols", "all", name])
            .unwrap_or_else(|error| error)
    }

    /// `show route [table TABLE] all`, as text for messages and logs.
    pub(crate) fn routes(&self, table: Option<&str>) -> String {
        let mut args = vec!["show", "route"];
        if let Some(table) = table {
            args.extend(["table", table]);
        }
        args.push("all");
        self.birdc(&args).unwrap_or_else(|error| error)
    }

    /// A crash: SIGKILL, then reap.
    pub(crate) fn kill(&mut self) {
        self.daemon.child.kill();
    }
}

/// The gateways of `host`'s main-table route to `destination` (an IPv4 or IPv6 address
/// or prefix), one per ECMP nexthop, in the kernel's order; empty without a route.
pub(crate) fn kernel_nexthops(host: &Host, destination: &str) -> Vec<IpAddr> {
    let family = if destination.contains(':') {
        "-6"
    } else {
        "-4"
    };
    let json = host
        .run("ip", &["-j", family, "route", "show", "exact", destination])
        .unwrap_or_default();
    let routes: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let gateway = |hop: &serde_json::Value| hop["gateway"].as_str()?.parse::<IpAddr>().ok();
    let mut nexthops = Vec::new();
    for route in routes.as_array().into_iter().flatten() {
        match route["nexthops"].as_array() {
            Some(hops) => nexthops.extend(hops.iter().filter_map(gateway)),
            None => nexthops.extend(gateway(route)),
        }
    }
    nexthops
}

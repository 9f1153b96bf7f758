//! The anycast relay for both address families, without routers (issue 12): lb1 and lb2
//! announce 10.0.9.100 and fd00:9::100 and list each other as `peers`; the client, on the
//! same segment, reaches the addresses through a static route to lb1 and opens keep-alive
//! connections there. Then its routes are moved to lb2, as a router's hash moves flows
//! when the set changes: lb2 does not know the flows, relays their packets to lb1 (IPv4
//! through `ip baton_anycast_relay`, IPv6 through `ip6 baton_anycast_relay`), and every
//! connection goes on with lb1 answering. Without `peers` (the control) lb2 resets them.
//!
//! `anycast_l7_drain.rs` runs the relay behind a bird2 router, IPv4 only.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout, Stdio};
use std::time::Duration;

use baton_lab::{Child, Host, Lab};
use common::bird::{address_of, checked_backend, ip};
use common::{Daemon, Workdir, fail, start_app, start_baton_toml, wait_for};

const ANYCAST: &str = "10.0.9.100";
const ANYCAST6: &str = "fd00:9::100";
const LOAD_BALANCERS: [(&str, &str); 2] = [("lb1", "10.0.3.5/24"), ("lb2", "10.0.3.6/24")];
const CLIENT: (&str, &str) = ("client", "10.0.3.50/24");
const APP_PORT: u16 = 8080;
/// Keep-alive connections per address family.
const CONNECTIONS: usize = 10;

/// Both load balancers' baton.toml: a frontend per family on the anycast addresses in front
/// of the host's own app; `relay` lists both hosts' addresses of both families as peers.
fn baton_config(lab: &Lab, relay: bool) -> String {
    let peers = if relay {
        let mut addresses = Vec::new();
        for (name, cidr) in LOAD_BALANCERS {
            addresses.push(format!("\"{}\"", address_of(cidr)));
            addresses.push(format!("\"{}\"", lab.host(name).ipv6_address()));
        }
        format!("peers = [{}]\n", addresses.join(", "))
    } else {
        String::new()
    };
    format!(
        r#"[[frontend]]
name = "web"
listen = "{ANYCAST}:80"
backend = "app"

[[frontend]]
name = "web6"
listen = "[{ANYCAST6}]:80"
backend = "app"

{backend}
[[anycast]]
name = "web"
prefixes = ["{ANYCAST}/32", "{ANYCAST6}/128"]
track_frontend = ["web", "web6"]
interface = "eth0"
{peers}"#,
        backend = checked_backend(&format!("127.0.0.1:{APP_PORT}"))
    )
}

/// The client: opens `N` keep-alive connections to ADDRESS:80 and prints who answered a GET
/// on each (the demo app's first word: its host), then, after a line on stdin, sends one
/// more GET on each and prints who answered or how it broke (`reset`, `closed`,
/// `timeout`, `error`).
const CLIENT_SCRIPT: &str = r#"
import socket, sys
address, count = sys.argv[1], int(sys.argv[2])

def get(s):
    s.sendall(b'GET / HTTP/1.1\r\nHost: lab\r\n\r\n')
    buf = b''
    while b'\r\n\r\n' not in buf:
        data = s.recv(4096)
        if not data:
            raise EOFError
        buf += data
    head, body = buf.split(b'\r\n\r\n', 1)
    fields = dict(l.split(b':', 1) for l in head.split(b'\r\n')[1:])
    length = int(dict((k.strip().lower(), v) for k, v in fields.items())[b'content-length'])
    while len(body) < length:
        data = s.recv(4096)
        if not data:
            raise EOFError
        body += data
    return body.decode().split()[0]

def again(s):
    try:
        return get(s)
    except ConnectionResetError:
        return 'reset'
    except EOFError:
        return 'closed'
    except socket.timeout:
        return 'timeout'
    except OSError:
        return 'error'

conns = [socket.create_connection((address, 80), timeout=3) for _ in range(count)]
print(' '.join(get(s) for s in conns), flush=True)
sys.stdin.readline()
print(' '.join(again(s) for s in conns), flush=True)
"#;

struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Client {
    fn start(host: &Host, address: &str) -> Client {
        let mut command = host.command("python3");
        command
            .args(["-c", CLIENT_SCRIPT, address, &CONNECTIONS.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = host.spawn(command).expect("starting the client");
        let stdin = child.inner_mut().stdin.take().expect("stdin");
        let stdout = BufReader::new(child.inner_mut().stdout.take().expect("stdout"));
        Client {
            child,
            stdin,
            stdout,
        }
    }

    /// The next line the client prints: one word per connection.
    fn answers(&mut self) -> Vec<String> {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("the client's line");
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn go_on(&mut self) {
        self.stdin.write_all(b"go\n").expect("to the client");
    }
}

/// Per family: who answered each connection before and after the client's route moved
/// from lb1 to lb2.
struct Outcome {
    family: &'static str,
    before: Vec<String>,
    after: Vec<String>,
    /// Packets lb2's relay cloned to the peers (its `relayed` counter; 0 without one).
    relayed: u64,
}

/// The lab, both batons (with or without `peers`) serving, one client per family on lb1,
/// the routes moved to lb2, one more GET on every connection.
fn move_connections(test: &str, relay: bool) -> Option<Vec<Outcome>> {
    if common::bird::skip_anycast_lab(test) {
        return None;
    }
    let mut builder = Lab::builder();
    for (name, cidr) in LOAD_BALANCERS {
        builder = builder.host(name, cidr);
    }
    let lab = builder
        .host(CLIENT.0, CLIENT.1)
        .build()
        .expect("building the lab");
    let dir = Workdir::new(if relay {
        "anycast-relay"
    } else {
        "anycast-relay-control"
    });
    let config = baton_config(&lab, relay);
    let mut batons: Vec<Daemon> = Vec::new();
    let mut apps = Vec::new();
    for (name, _) in LOAD_BALANCERS {
        let host = lab.host(name);
        apps.push(start_app(host, APP_PORT));
        batons.push(start_baton_toml(host, &dir, &config));
    }
    let daemons: Vec<&Daemon> = batons.iter().collect();
    for (name, _) in LOAD_BALANCERS {
        let serving = wait_for(Duration::from_secs(20), || {
            lab.host(name)
                .run(
                    "ip",
                    &["-6", "route", "show", "table", "100", "proto", "201"],
                )
                .is_ok_and(|routes| routes.contains(ANYCAST6))
        });
        if serving.is_none() {
            fail(&format!("{name} never announced"), &daemons);
        }
    }
    let client = lab.host(CLIENT.0);
    let via = |index: usize, ipv6: bool| {
        let (name, cidr) = LOAD_BALANCERS[index];
        if ipv6 {
            lab.host(name).ipv6_address().to_string()
        } else {
            address_of(cidr).to_string()
        }
    };
    ip(
        client,
        &format!("route add {ANYCAST}/32 via {}", via(0, false)),
    );
    ip(
        client,
        &format!("-6 route add {ANYCAST6}/128 via {}", via(0, true)),
    );
    let mut clients: Vec<(&str, Client)> = [("IPv4", ANYCAST), ("IPv6", ANYCAST6)]
        .into_iter()
        .map(|(family, address)| (family, Client::start(client, address)))
        .collect();
    let befores: Vec<Vec<String>> = clients.iter_mut().map(|(_, c)| c.answers()).collect();
    // What a router's hash does when the set changes: the flows now reach lb2.
    ip(
        client,
        &format!("route replace {ANYCAST}/32 via {}", via(1, false)),
    );
    ip(
        client,
        &format!("-6 route replace {ANYCAST6}/128 via {}", via(1, true)),
    );
    let mut outcomes = Vec::new();
    for ((family, mut c), before) in clients.drain(..).zip(befores) {
        c.go_on();
        let after = c.answers();
        let _ = c.child.wait_timeout(Duration::from_secs(5));
        let table = if family == "IPv4" { "ip" } else { "ip6" };
        let relayed = relayed_packets(lab.host(LOAD_BALANCERS[1].0), table);
        eprintln!(
            "{family}, relay {relay}: before {before:?}, after {after:?}; lb2 relayed {relayed} packets"
        );
        outcomes.push(Outcome {
            family,
            before,
            after,
            relayed,
        });
    }
    drop(apps);
    drop(batons);
    Some(outcomes)
}

/// The `relayed` counter of `host`'s relay table in nft family `table` (0 without one).
fn relayed_packets(host: &Host, table: &str) -> u64 {
    let listing = host
        .run(
            "nft",
            &["list", "counter", table, "baton_anycast_relay", "relayed"],
        )
        .unwrap_or_default();
    listing
        .split_whitespace()
        .skip_while(|word| *word != "packets")
        .nth(1)
        .and_then(|count| count.parse().ok())
        .unwrap_or(0)
}

#[test]
fn both_families_connections_moved_to_a_peer_are_relayed_to_their_owner() {
    let test = "both_families_connections_moved_to_a_peer_are_relayed_to_their_owner";
    let Some(outcomes) = move_connections(test, true) else {
        return;
    };
    for outcome in outcomes {
        let family = outcome.family;
        assert_eq!(
            outcome.before,
            vec!["lb1"; CONNECTIONS],
            "{family}: lb1 answered first"
        );
        assert_eq!(
            outcome.after,
            vec!["lb1"; CONNECTIONS],
            "{family}: through lb2, every connection still reached lb1"
        );
        // A request and its ACKs per connection, at least.
        assert!(
            outcome.relayed >= CONNECTIONS as u64,
            "{family}: lb2 relayed {} packets",
            outcome.relayed
        );
    }
}

#[test]
fn without_peers_the_moved_connections_are_reset() {
    let test = "without_peers_the_moved_connections_are_reset";
    let Some(outcomes) = move_connections(test, false) else {
        return;
    };
    for outcome in outcomes {
        let family = outcome.family;
        assert_eq!(outcome.before, vec!["lb1"; CONNECTIONS], "{family}");
        assert_eq!(
            outcome.after,
            vec!["reset"; CONNECTIONS],
            "{family}: lb2 does not know the connections"
        );
    }
}

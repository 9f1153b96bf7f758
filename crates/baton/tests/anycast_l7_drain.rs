//! L7 connections behind BGP that survive a change of the load balancer set (issue 12,
//! item 4): three load balancers announce 10.0.9.100/32 through bird2 (BFD on), the router
//! spreads the client's connections over them with ECMP (`fib_multipath_hash_policy=1`),
//! and each proxies its share to its own app (which answers with the load balancer's
//! name). Every baton lists the three as `peers`: a packet of a connection another load
//! balancer holds, which the router's hash now sends here, is relayed to it (see
//! `daemon/anycast/relay.rs`).
//!
//! The client holds long-lived HTTP/1.1 keep-alive connections, a GET on each every 50 ms.
//! lb3, the router's last nexthop, leaves (SIGTERM: withdraw, `withdraw_delay`, drain):
//! its own connections must end cleanly (its drain closes them between two answers), and
//! none of the others may break, although a plain multipath route moves some of lb2's
//! flows to lb1 as well. Then, under new connections spread over lb1 and lb2, lb3 joins:
//! the hash moves flows of both to it (and between them), and none may break.
//!
//! The control runs the same without `peers` (no relay): connections break in both steps.
//!
//! The lab: the router (10.0.3.1) and lb1-lb3 (10.0.3.5-7) on the bridge, the client
//! (10.0.5.50) behind the router on a cable of its own.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use baton_lab::{Child, Host, Lab};
use common::bird::{
    ANYCAST_TABLE, AnycastRanges, Bird, CLIENT_SIDE, Peer, address_of, cable_client,
    checked_backend, ip, ipv4_load_balancers, ipv4_router, load_balancer_conf, nexthop_indexes,
    router_conf, router_forwards,
};
use common::{Daemon, Workdir, start_baton_toml, wait_for};
use nix::sys::signal::Signal;

const ANYCAST: &str = "10.0.9.100";
const FRONTEND_PORT: u16 = 80;
const APP_PORT: u16 = 8080;
const ROUTER: (&str, &str) = ("router", "10.0.3.1/24");
const LOAD_BALANCERS: [(&str, &str); 3] = [
    ("lb1", "10.0.3.5/24"),
    ("lb2", "10.0.3.6/24"),
    ("lb3", "10.0.3.7/24"),
];
const CLIENT: (&str, &str) = ("client", "10.0.3.50/24");
const RANGES: AnycastRanges = AnycastRanges {
    ipv4: "10.0.9.0/24",
    ipv6: None,
};
/// The load balancer that leaves and joins: the router's last nexthop, whose going shifts
/// the hash ranges of the others too.
const MOVER: usize = 2;
/// Connections the client opens for each step.
const CONNECTIONS: usize = 30;
/// How long the client goes on after a change has settled.
const AFTER: Duration = Duration::from_millis(1500);
/// Sessions established and routes in place, after a start.
const CONVERGED: Duration = Duration::from_secs(30);

fn router_peer() -> Peer {
    ipv4_router(ROUTER.1)
}

fn load_balancer_peers() -> Vec<Peer> {
    ipv4_load_balancers(&LOAD_BALANCERS)
}

/// Every load balancer's baton.toml (one file for all: each skips its own address among
/// the peers); `relay` false leaves `peers` out (the control).
fn baton_config(relay: bool) -> String {
    let peers = if relay {
        let addresses: Vec<String> = LOAD_BALANCERS
            .iter()
            .map(|(_, address)| format!("\"{}\"", address_of(address)))
            .collect();
        format!("peers = [{}]\n", addresses.join(", "))
    } else {
        String::new()
    };
    format!(
        r#"[[frontend]]
name = "web"
listen = "{ANYCAST}:{FRONTEND_PORT}"
backend = "app"
drain_timeout = 5

{backend}
[[anycast]]
name = "web"
prefixes = ["{ANYCAST}/32"]
table = {ANYCAST_TABLE}
track_frontend = ["web"]
withdraw_delay = 0.5
interface = "eth0"
{peers}"#,
        backend = checked_backend(&format!("127.0.0.1:{APP_PORT}"))
    )
}

/// The client: `open N` opens N keep-alive connections to the anycast address and starts
/// a GET on each every 50 ms (their ticks spread over the interval), answering `OPENED`;
/// `stop` ends and prints `C INDEX LB END ANSWERS` per connection, then `END`. END is
/// `open` (still going), `closed` (the server closed between two answers, or after an
/// answer that said `Connection: close`), `unanswered` (closed as a request went out: the
/// drain's close crossed it, which clients retry), or a break: `reset`, `timeout`, `cut`
/// (closed inside an answer), `status-N`, `error-ERRNO`.
const CLIENT_SCRIPT: &str = r#"
import errno, socket, sys, threading, time
ADDR, PORT, INTERVAL = sys.argv[1], int(sys.argv[2]), 0.05
conns, stop = [], threading.Event()

class Done(Exception):
    pass

def recv(s):
    d = s.recv(4096)
    if not d:
        raise Done
    return d

def serve(c):
    s, buf = c['sock'], b''
    time.sleep(c['offset'])
    next_at = time.time()
    while not stop.is_set():
        time.sleep(max(0.0, next_at - time.time()))
        next_at += INTERVAL
        if stop.is_set():
            break
        try:
            s.setblocking(False)
            try:
                if s.recv(1) == b'':
                    c['end'] = 'closed'
                else:
                    c['end'] = 'unasked'
                return
            except BlockingIOError:
                pass
            s.settimeout(2)
            s.sendall(b'GET / HTTP/1.1\r\nHost: lab\r\n\r\n')
            answered = False
            try:
                while b'\r\n\r\n' not in buf:
                    buf += recv(s)
                    answered = True
            except Done:
                c['end'] = 'cut' if answered or buf else 'unanswered'
                return
            head, buf = buf.split(b'\r\n\r\n', 1)
            lines = head.decode().split('\r\n')
            fields = dict((k.strip().lower(), v.strip().lower())
                          for k, v in (l.split(':', 1) for l in lines[1:]))
            length = int(fields.get('content-length', '0'))
            try:
                while len(buf) < length:
                    buf += recv(s)
            except Done:
                c['end'] = 'cut'
                return
            body, buf = buf[:length], buf[length:]
            status = lines[0].split()[1]
            if status != '200':
                c['end'] = 'status-' + status
                return
            c['answers'] += 1
            if c['lb'] == '-':
                c['lb'] = body.decode().split()[0]
            if fields.get('connection') == 'close':
                c['end'] = 'closed' if s.recv(1) == b'' else 'unasked'
                return
        except ConnectionResetError:
            c['end'] = 'reset'
            return
        except socket.timeout:
            c['end'] = 'timeout'
            return
        except OSError as e:
            c['end'] = 'error-' + errno.errorcode.get(e.errno, str(e.errno))
            return

for line in sys.stdin:
    words = line.split()
    if words[0] == 'open':
        n = int(words[1])
        for i in range(n):
            deadline = time.time() + 10
            while True:
                try:
                    s = socket.create_connection((ADDR, PORT), timeout=2)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.05)
            c = dict(sock=s, lb='-', end='open', answers=0, offset=INTERVAL * i / n)
            c['thread'] = threading.Thread(target=serve, args=(c,), daemon=True)
            conns.append(c)
        for c in conns[-n:]:
            c['thread'].start()
        print('OPENED', flush=True)
    elif words[0] == 'stop':
        stop.set()
        for c in conns:
            c['thread'].join(5)
        for i, c in enumerate(conns):
            print('C', i, c['lb'], c['end'], c['answers'])
        print('END', flush=True)
        break
"#;

/// One connection's story, as the client told it.
#[derive(Debug, Clone)]
struct Connection {
    lb: String,
    end: String,
    answers: u64,
}

impl Connection {
    fn broken(&self) -> bool {
        !matches!(self.end.as_str(), "open" | "closed" | "unanswered")
    }
}

/// The client process, talked to over its stdin and stdout.
struct Client {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Client {
    fn start(host: &Host) -> Client {
        let mut command = host.command("python3");
        command
            .args(["-c", CLIENT_SCRIPT, ANYCAST, &FRONTEND_PORT.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = host.spawn(command).expect("the client");
        let stdin = child.inner_mut().stdin.take().expect("stdin");
        let stdout: ChildStdout = child.inner_mut().stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Client {
            child,
            stdin,
            lines,
        }
    }

    fn say(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("writing to the client");
        self.stdin.flush().expect("flushing the client's stdin");
    }

    fn open(&mut self, n: usize) {
        self.say(&format!("open {n}"));
        let line = self.lines.recv_timeout(Duration::from_secs(30));
        assert_eq!(line.as_deref(), Ok("OPENED"), "the client's connections");
    }

    fn stop(mut self) -> Vec<Connection> {
        self.say("stop");
        let mut connections = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(20)) {
            if line == "END" {
                break;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["C", _, lb, end, answers] = words[..] {
                connections.push(Connection {
                    lb: lb.to_owned(),
                    end: end.to_owned(),
                    answers: answers.parse().unwrap_or(0),
                });
            }
        }
        let _ = self.child.wait_timeout(Duration::from_secs(5));
        connections
    }
}

struct DrainLab {
    lab: Lab,
    relay: bool,
    dir: Workdir,
    router: Bird,
    _birds: Vec<Bird>,
    batons: Vec<Daemon>,
    _apps: Vec<Child>,
}

impl DrainLab {
    fn start(test: &str, relay: bool) -> Option<DrainLab> {
        if common::bird::skip_anycast_lab(test) {
            return None;
        }
        let mut builder = Lab::builder().prefix("acdrain").host(ROUTER.0, ROUTER.1);
        for (name, address) in LOAD_BALANCERS {
            builder = builder.host(name, address);
        }
        let lab = builder
            .host(CLIENT.0, CLIENT.1)
            .build()
            .expect("building the lab");
        let dir = Workdir::new("anycast-l7-drain");
        let router = lab.host(ROUTER.0);
        cable_client(router, lab.host(CLIENT.0), RANGES);
        router_forwards(router, false);
        let router_bird = Bird::start(
            router,
            &dir,
            &router_conf(&router_peer(), &load_balancer_peers(), RANGES),
        );
        let (mut batons, mut birds, mut apps) = (Vec::new(), Vec::new(), Vec::new());
        for (index, peer) in load_balancer_peers().iter().enumerate() {
            let host = lab.host(LOAD_BALANCERS[index].0);
            ip(
                host,
                &format!("route add {CLIENT_SIDE} via {}", address_of(ROUTER.1)),
            );
            apps.push(common::start_app(host, APP_PORT));
            batons.push(start_baton_toml(host, &dir, &baton_config(relay)));
            let conf = load_balancer_conf(peer, &router_peer(), ANYCAST_TABLE);
            birds.push(Bird::start(host, &dir, &conf));
        }
        let lab = DrainLab {
            lab,
            relay,
            dir,
            router: router_bird,
            _birds: birds,
            batons,
            _apps: apps,
        };
        lab.wait_nexthops(&[0, 1, 2], "the start");
        Some(lab)
    }

    fn host(&self, index: usize) -> &Host {
        self.lab.host(LOAD_BALANCERS[index].0)
    }

    fn wait_nexthops(&self, expected: &[usize], after: &str) {
        let router = self.lab.host(ROUTER.0);
        let mut last = Vec::new();
        if wait_for(CONVERGED, || {
            last = nexthop_indexes(router, ANYCAST, &load_balancer_peers());
            last == expected
        })
        .is_none()
        {
            self.fail(&format!(
                "after {after}: the router's nexthops are {last:?}, not {expected:?}"
            ));
        }
    }

    /// Packets load balancer `index` relayed to its peers since its baton started.
    fn relayed(&self, index: usize) -> u64 {
        self.counter(index, "relayed")
    }

    /// A counter of load balancer `index`'s relay table (0 without the table).
    fn counter(&self, index: usize, name: &str) -> u64 {
        let out = self
            .host(index)
            .run(
                "nft",
                &["list", "counter", "ip", "baton_anycast_relay", name],
            )
            .unwrap_or_default();
        out.split("packets ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    fn fail(&self, message: &str) -> ! {
        let mut daemons: Vec<&Daemon> = self.batons.iter().collect();
        daemons.push(&self.router.daemon);
        common::fail(message, &daemons)
    }

    /// lb3 leaves under CONNECTIONS keep-alive connections: their stories, and the packets
    /// lb1 and lb2 relayed meanwhile.
    fn leave(&mut self) -> (Vec<Connection>, u64) {
        let mut client = Client::start(self.lab.host(CLIENT.0));
        client.open(CONNECTIONS);
        std::thread::sleep(Duration::from_millis(500));
        let before = self.relayed(0) + self.relayed(1);
        let signalled = Instant::now();
        let mover = &mut self.batons[MOVER];
        mover.child.signal(Signal::SIGTERM).expect("SIGTERM");
        let exited = mover.child.wait_timeout(Duration::from_secs(20));
        if !matches!(exited, Ok(Some(_))) {
            self.fail("lb3's baton did not exit within 20 s of SIGTERM");
        }
        eprintln!(
            "  lb3's baton exited {:?} after SIGTERM",
            signalled.elapsed()
        );
        self.wait_nexthops(&[0, 1], "lb3's SIGTERM");
        std::thread::sleep(AFTER);
        let connections = client.stop();
        let relayed = self.relayed(0) + self.relayed(1) - before;
        (connections, relayed)
    }

    /// lb3 joins under CONNECTIONS new keep-alive connections over lb1 and lb2: their
    /// stories, the packets lb3 relayed, and the clones lb1 and lb2 dropped (of flows the
    /// other one holds: TTL 0 arriving).
    fn join(&mut self) -> (Vec<Connection>, u64, u64) {
        let mut client = Client::start(self.lab.host(CLIENT.0));
        client.open(CONNECTIONS);
        std::thread::sleep(Duration::from_millis(500));
        let host = self.lab.host(LOAD_BALANCERS[MOVER].0);
        self.batons[MOVER] = start_baton_toml(host, &self.dir, &baton_config(self.relay));
        self.wait_nexthops(&[0, 1, 2], "lb3's start");
        std::thread::sleep(AFTER);
        let connections = client.stop();
        let foreign = self.counter(0, "foreign_clones") + self.counter(1, "foreign_clones");
        (connections, self.relayed(MOVER), foreign)
    }
}

/// `{lb: {end: count}}`, for messages.
fn tally(connections: &[Connection]) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut tally: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for c in connections {
        *tally
            .entry(c.lb.clone())
            .or_default()
            .entry(c.end.clone())
            .or_default() += 1;
    }
    tally
}

#[test]
fn l7_connections_survive_a_load_balancer_leaving_and_joining() {
    let test = "l7_connections_survive_a_load_balancer_leaving_and_joining";
    let started = Instant::now();
    let Some(mut lab) = DrainLab::start(test, true) else {
        return;
    };
    eprintln!("  lab up in {:?}", started.elapsed());

    let (connections, relayed) = lab.leave();
    let mover = LOAD_BALANCERS[MOVER].0;
    eprintln!(
        "  lb3 leaves: {:?}; lb1 and lb2 relayed {relayed} packets",
        tally(&connections)
    );
    let on_mover: Vec<&Connection> = connections.iter().filter(|c| c.lb == mover).collect();
    let broken: Vec<&Connection> = connections.iter().filter(|c| c.broken()).collect();
    if on_mover.is_empty() || !broken.is_empty() || connections.len() != CONNECTIONS {
        lab.fail(&format!(
            "lb3 leaving: {} connections reported, {} on lb3, broken: {broken:?}",
            connections.len(),
            on_mover.len()
        ));
    }
    // lb3's drain closed every one of its connections between two answers; the others
    // go on.
    for c in &connections {
        let expected = if c.lb == mover { "closed" } else { "open" };
        let clean = c.end == expected || (c.lb == mover && c.end == "unanswered");
        if !clean || c.answers == 0 {
            lab.fail(&format!("lb3 leaving: a connection ended {c:?}"));
        }
    }
    assert!(
        relayed > 0,
        "lb3's leaving moved no flow: the step proved nothing"
    );

    let (connections, relayed, foreign) = lab.join();
    eprintln!(
        "  lb3 joins: {:?}; lb3 relayed {relayed} packets, lb1 and lb2 dropped {foreign} \
         clones of flows the other holds",
        tally(&connections)
    );
    if connections.len() != CONNECTIONS || connections.iter().any(|c| c.end != "open") {
        lab.fail(&format!("lb3 joining: {:?}", tally(&connections)));
    }
    assert!(
        relayed > 0,
        "lb3's joining moved no flow: the step proved nothing"
    );
    // Every clone reaches both other peers, and one of them does not hold the flow: it
    // knows the clone by its TTL of 0 and drops it, instead of relaying it again.
    assert!(foreign > 0, "no peer recognised a clone by its TTL of 0");
    eprintln!("  the whole test took {:?}", started.elapsed());
}

/// The control: without `peers`, no relay; the flows the router moves meet a load
/// balancer with no such socket, which resets them, when lb3 leaves and when it joins.
#[test]
fn without_peers_moved_connections_break() {
    let test = "without_peers_moved_connections_break";
    let Some(mut lab) = DrainLab::start(test, false) else {
        return;
    };
    let (left, _) = lab.leave();
    let (joined, _, _) = lab.join();
    eprintln!(
        "  control: lb3 leaves: {:?}; lb3 joins: {:?}",
        tally(&left),
        tally(&joined)
    );
    let broken = |connections: &[Connection]| connections.iter().filter(|c| c.broken()).count();
    if broken(&left) == 0 || broken(&joined) == 0 {
        lab.fail(&format!(
            "without the relay no connection broke: leaving {:?}, joining {:?}",
            tally(&left),
            tally(&joined)
        ));
    }
}

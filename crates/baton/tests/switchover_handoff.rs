//! A planned switchover without a stall (issue 16): SIGTERM on the master that proxies on
//! the VIP, or `baton instance step-down` of its instance, under a load that opens a new
//! connection for every request. The backup takes the VIP at once and serves the new
//! connections; the old master keeps the VIP without announcing it and finishes the
//! connections it has, whose packets the new master hands back to it (daisy chaining); the
//! new master's forwarding ends with its window.
//!
//! On the guide's lab (root). The app servers answer with the address of the load balancer
//! that connected to them, so the client can tell who served each request; uploads that
//! trickle their body across the switchover can only finish on the old master if their
//! packets, sent to the new one, reach it, and the new master must answer before they end
//! (a master that drained first would hold the VIP until then).

mod common;

use std::process::Stdio;
use std::thread;
use std::time::Duration;

use baton_lab::{Host, Lab};
use common::{Daemon, Workdir, fail, guide_lab, holds, wait_for};

/// lb1's and lb2's addresses on the guide's lab.
const LB1: &str = "10.0.3.5";
const LB2: &str = "10.0.3.6";

/// The app: `GET /` answers the peer's address (the load balancer's), `POST /` answers the
/// peer's address and how many body bytes arrived.
const APP: &str = r#"
import http.server, sys
class App(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, text):
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self.reply(self.client_address[0])
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.reply("%s %d" % (self.client_address[0], len(body)))
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), App).serve_forever()
"#;

/// The client: 16 threads, each sending GET / on a new connection after the other for
/// SECONDS; from SIGTERM_AT - 0.5 s four uploads that send their 20-byte body one byte
/// every 100 ms, across the SIGTERM (or step-down). Prints one JSON object.
const CLIENT: &str = r#"
import json, socket, sys, threading, time
vip, seconds, sigterm_at = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
start = time.time()
lock = threading.Lock()
result = {"ok": 0, "failed": 0, "errors": [], "served_by": {}, "first_answer_by": {}, "uploads": []}
def exchange(request, trickle=b""):
    s = socket.create_connection((vip, 80), timeout=5)
    try:
        s.sendall(request)
        for byte in trickle:
            time.sleep(0.1)
            s.sendall(bytes([byte]))
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            if head and b"Content-Length:" in head:
                length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("answer: %r" % head[:40])
    return body.decode()
def gets():
    while time.time() - start < seconds:
        try:
            peer = exchange(b"GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n")
            with lock:
                result["ok"] += 1
                result["served_by"][peer] = result["served_by"].get(peer, 0) + 1
                result["first_answer_by"].setdefault(peer, time.time() - start)
        except Exception as e:
            with lock:
                result["failed"] += 1
                result["errors"].append(repr(e))
def upload():
    body = b"x" * 20
    head = b"POST / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\nContent-Length: 20\r\n\r\n"
    try:
        answer = exchange(head, body).split()
        outcome = {"peer": answer[0], "bytes": int(answer[1]), "end": time.time() - start}
    except Exception as e:
        outcome = {"error": repr(e)}
    with lock:
        result["uploads"].append(outcome)
threads = [threading.Thread(target=gets) for _ in range(16)]
for t in threads:
    t.start()
time.sleep(max(0.0, sigterm_at - 0.5 - (time.time() - start)))
uploads = [threading.Thread(target=upload) for _ in range(4)]
for t in uploads:
    t.start()
for t in threads + uploads:
    t.join()
result["errors"] = result["errors"][:5]
print(json.dumps(result))
"#;

/// `python3 -c code` in `host`, in the background, its output discarded.
fn python(host: &Host, code: &str) -> baton_lab::Child {
    let mut command = host.command("python3");
    command
        .args(["-c", code])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    host.spawn(command).expect("python3")
}

fn start_app(host: &Host) -> baton_lab::Child {
    python(host, APP)
}

/// VI_1 (v3, 100 ms adverts) and a frontend on the VIP; a short drain_timeout keeps the
/// new master's forwarding window (drain_timeout + 5 s) short.
fn lb_config(priority: u8) -> String {
    format!(
        r#"[[vrrp]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
version = 3
priority = {priority}
advert_int = 0.1
virtual_ipaddress = ["10.0.3.100/24"]

[[frontend]]
name = "web"
listen = "10.0.3.100:80"
backend = "app"
drain_timeout = 2

[[backend]]
name = "app"
servers = ["10.0.3.11:8080", "10.0.3.12:8080"]
"#
    )
}

/// One GET to the VIP from `client`: the address of the load balancer that served it.
fn served_by(client: &Host) -> Option<String> {
    let get = "import urllib.request; \
               print(urllib.request.urlopen('http://10.0.3.100/', timeout=2).read().decode())";
    let out = client.run("python3", &["-c", get]).ok()?;
    Some(out.trim().to_owned())
}

fn nft_tables(host: &Host) -> String {
    host.run("nft", &["list", "tables"]).unwrap_or_default()
}

/// Whether `host` has a table of a switchover: the drain's SYN gate, the old master's quiet
/// ARP or the new master's handoff.
fn has_switchover_table(host: &Host) -> bool {
    let tables = nft_tables(host);
    ["baton_drain", "baton_quiet", "baton_handoff"]
        .iter()
        .any(|table| tables.contains(table))
}

/// lb1 and lb2 running baton on the guide's lab, lb2 the master serving the VIP, the apps
/// behind them. Fields drop in order: the daemons before the lab.
struct Pair {
    lb1: Daemon,
    lb2: Daemon,
    _apps: [baton_lab::Child; 2],
    dir: Workdir,
    lab: Lab,
}

impl Pair {
    fn start(test: &str) -> Option<Pair> {
        let lab = guide_lab(test)?;
        if common::skip_without_tool("nft", "nftables", test)
            || common::skip_without_tool("python3", "python3", test)
        {
            return None;
        }
        let dir = Workdir::new("switchover-handoff");
        let apps = [start_app(lab.host("app1")), start_app(lab.host("app2"))];
        let lb1 = common::start_baton_toml(lab.host("lb1"), &dir, &lb_config(100));
        let lb2 = common::start_baton_toml(lab.host("lb2"), &dir, &lb_config(150));
        let pair = Pair {
            lb1,
            lb2,
            _apps: apps,
            dir,
            lab,
        };
        if wait_for(Duration::from_secs(10), || pair.only_holder_is("lb2")).is_none() {
            pair.fail("lb2 never became the only master");
        }
        let probe = || served_by(pair.host("client")).as_deref() == Some(LB2);
        if wait_for(Duration::from_secs(10), probe).is_none() {
            pair.fail("the VIP never served through lb2");
        }
        Some(pair)
    }

    fn host(&self, name: &str) -> &Host {
        self.lab.host(name)
    }

    fn only_holder_is(&self, name: &str) -> bool {
        let other = if name == "lb1" { "lb2" } else { "lb1" };
        holds(self.host(name), common::VIP) && !holds(self.host(other), common::VIP)
    }

    fn fail(&self, message: &str) -> ! {
        fail(message, &[&self.lb1, &self.lb2])
    }

    /// Runs the client's load and `resign` (lb2 gives the VIP up) 1.5 s into it; checks
    /// that the handover stalled nobody (see the module's doc) and returns lb1's tables as
    /// they were right after the load, within its handoff window.
    fn hand_over_under_load(&mut self, resign: impl FnOnce(&mut Pair)) -> String {
        let (seconds, resign_at) = (4.0, 1.5);
        let mut load = self.host("client").command("python3");
        load.args(["-c", CLIENT, "10.0.3.100"])
            .arg(seconds.to_string())
            .arg(resign_at.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let load = thread::spawn(move || load.output().expect("client"));
        thread::sleep(Duration::from_secs_f64(resign_at));
        resign(self);
        let output = load.join().expect("client thread");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let Ok(result) = serde_json::from_str::<serde_json::Value>(&text) else {
            self.fail(&format!(
                "client output: {text} {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        };
        // The new master's window (drain_timeout 2 s + 5 s) is still open: the load took 4 s.
        let tables_during = nft_tables(self.host("lb1"));

        let failed = result["failed"].as_u64().unwrap_or(u64::MAX);
        let ok = result["ok"].as_u64().unwrap_or(0);
        if failed != 0 || ok < 100 {
            self.fail(&format!("requests failed: {result}"));
        }
        // New connections went to the new master once it had the VIP.
        let by_lb1 = result["served_by"][LB1].as_u64().unwrap_or(0);
        if by_lb1 == 0 {
            self.fail(&format!("lb1 served nothing: {result}"));
        }
        // Each upload began on lb2 and sent most of its body after lb2 resigned, to the new
        // master: all of it reached lb2, which answered.
        let uploads = result["uploads"].as_array().cloned().unwrap_or_default();
        let finished_on_lb2 = uploads
            .iter()
            .filter(|u| u["peer"] == LB2 && u["bytes"] == 20)
            .count();
        if uploads.len() != 4 || finished_on_lb2 != 4 {
            self.fail(&format!(
                "uploads did not finish on the old master: {uploads:?}"
            ));
        }
        // And the new master served before the old one was done: the handover did not wait
        // for the drain.
        let first_by_lb1 = result["first_answer_by"][LB1].as_f64().unwrap_or(f64::MAX);
        let uploads_done = uploads
            .iter()
            .filter_map(|u| u["end"].as_f64())
            .fold(f64::MAX, f64::min);
        if first_by_lb1 >= uploads_done {
            self.fail(&format!(
                "lb1 served only after lb2's uploads ended: {result}"
            ));
        }
        if !tables_during.contains("baton_handoff") {
            self.fail(&format!(
                "no handoff table on lb1 during its window: {tables_during}"
            ));
        }
        let armed = self.lb1.log_text();
        assert!(
            armed.contains("handoff: packets of connections this host does not know"),
            "lb1 did not arm the handoff:\n{armed}"
        );
        tables_during
    }

    /// lb2 ends without the VIP and without a switchover table; lb1 holds the VIP,
    /// its forwarding gone with its window (7 s after lb2 resigned), and serves.
    fn lb1_alone_after_the_window(&self) {
        let lb2_host = self.host("lb2");
        if wait_for(Duration::from_secs(10), || {
            !holds(lb2_host, common::VIP) && !has_switchover_table(lb2_host)
        })
        .is_none()
        {
            self.fail(&format!(
                "lb2 kept the VIP or a table: {}",
                nft_tables(lb2_host)
            ));
        }
        assert!(holds(self.host("lb1"), common::VIP), "lb1 lost the VIP");
        if wait_for(Duration::from_secs(15), || {
            !nft_tables(self.host("lb1")).contains("baton_handoff")
        })
        .is_none()
        {
            self.fail("the handoff table outlived its window");
        }
        assert_eq!(
            served_by(self.host("client")).as_deref(),
            Some(LB1),
            "after the window"
        );
    }
}

#[test]
fn sigterm_hands_new_connections_over_at_once_and_old_ones_finish_on_the_old_master() {
    let Some(mut pair) = Pair::start("sigterm_hands_new_connections_over_at_once") else {
        return;
    };
    pair.hand_over_under_load(|pair| {
        pair.lb2
            .child
            .signal(baton_lab::Signal::SIGTERM)
            .expect("SIGTERM to lb2");
    });
    pair.lb1_alone_after_the_window();
}

/// `baton instance step-down` hands over as SIGTERM does, but lb2 goes on running as a
/// backup: its listener stays, and `baton instance resume` makes it master again cleanly.
#[test]
fn step_down_hands_over_as_sigterm_does_and_resume_takes_the_vip_back() {
    let Some(mut pair) = Pair::start("step_down_hands_over_as_sigterm_does") else {
        return;
    };
    let socket = pair.dir.path("lb2.sock");
    let command = |pair: &Pair, action: &str| {
        if let Err(error) =
            common::chaos::instance_command(pair.host("lb2"), &socket, action, "VI_1")
        {
            pair.fail(&error);
        }
    };
    pair.hand_over_under_load(|pair| command(&*pair, "step-down"));
    pair.lb1_alone_after_the_window();
    let log = pair.lb2.log_text();
    for line in [
        "step-down: the virtual addresses stay here, unannounced",
        "step-down: the connections finished; virtual addresses removed",
    ] {
        if !log.contains(line) {
            pair.fail(&format!("lb2 did not log {line:?}"));
        }
    }
    // Still a backup, ready to take the VIP back: its listener is open.
    let listening = pair
        .host("lb2")
        .run("ss", &["-Hltn", "src", "10.0.3.100"])
        .unwrap_or_default();
    if !listening.contains("10.0.3.100:80") {
        pair.fail(&format!("lb2's listener is gone: {listening:?}"));
    }

    command(&pair, "resume");
    if wait_for(Duration::from_secs(10), || pair.only_holder_is("lb2")).is_none() {
        pair.fail("lb2 did not take the VIP back after resume");
    }
    let probe = || served_by(pair.host("client")).as_deref() == Some(LB2);
    if wait_for(Duration::from_secs(10), probe).is_none() {
        pair.fail("the VIP did not serve through lb2 after resume");
    }
    if has_switchover_table(pair.host("lb2")) {
        pair.fail(&format!(
            "lb2 master again with a switchover table: {}",
            nft_tables(pair.host("lb2"))
        ));
    }
}

/// A step-down's hand-over ends early when the instance is master again: `resume` while a
/// connection still holds the VIP on lb2 makes lb2 master at once, its VIP announced (the
/// quiet table gone), so the client reaches it again.
#[test]
fn resume_during_a_step_down_announces_the_vip_again() {
    let Some(pair) = Pair::start("resume_during_a_step_down_announces_the_vip_again") else {
        return;
    };
    // A connection that stays open on lb2 for longer than its hand-over may last.
    let hold = "import socket, time; s = socket.create_connection(('10.0.3.100', 80)); \
                time.sleep(6)";
    let _held = python(pair.host("client"), hold);
    let socket = pair.dir.path("lb2.sock");
    let lb2_connections = || {
        pair.host("lb2")
            .run("ss", &["-Htn", "state", "established", "src", "10.0.3.100"])
            .unwrap_or_default()
    };
    if wait_for(Duration::from_secs(5), || {
        !lb2_connections().trim().is_empty()
    })
    .is_none()
    {
        pair.fail("the held connection never reached lb2");
    }
    for action in ["step-down", "resume"] {
        if let Err(error) =
            common::chaos::instance_command(pair.host("lb2"), &socket, action, "VI_1")
        {
            pair.fail(&error);
        }
        if action == "step-down"
            && wait_for(Duration::from_secs(5), || {
                holds(pair.host("lb1"), common::VIP)
            })
            .is_none()
        {
            pair.fail("lb1 did not take the VIP after the step-down");
        }
    }
    if wait_for(Duration::from_secs(10), || pair.only_holder_is("lb2")).is_none() {
        pair.fail("lb2 did not take the VIP back after resume");
    }
    let probe = || served_by(pair.host("client")).as_deref() == Some(LB2);
    if wait_for(Duration::from_secs(10), probe).is_none() {
        pair.fail(&format!(
            "the VIP did not serve through lb2 after resume: tables {}",
            nft_tables(pair.host("lb2"))
        ));
    }
    if has_switchover_table(pair.host("lb2")) {
        pair.fail(&format!(
            "lb2 master again with a switchover table: {}",
            nft_tables(pair.host("lb2"))
        ));
    }
    let log = pair.lb2.log_text();
    if !log.contains("step-down: master again before the connections ended") {
        pair.fail("lb2's hand-over did not end with its return");
    }
}

/// Datagrams to lb1's offer port (UDP 7798) from the client, none a valid offer from the
/// master: (payload as a Python bytes literal, the reason baton logs for dropping it).
const FORGED_OFFERS: [(&str, &str); 5] = [
    ("b'junk'", "Truncated"),
    (
        "b'BATONHX' + bytes([1, 51, 1, 0, 9, 10, 0, 3, 100])",
        "WrongMagic",
    ),
    (
        "b'BATONHO' + bytes([1, 52, 1, 0, 9, 10, 0, 3, 100])",
        "UnknownVrid",
    ),
    (
        "b'BATONHO' + bytes([1, 51, 1, 0, 9, 10, 0, 3, 200])",
        "NotItsAddress",
    ),
    // Well formed, but the client is not VI_1's master.
    (
        "b'BATONHO' + bytes([1, 51, 1, 0, 9, 10, 0, 3, 100])",
        "NotTheMaster",
    ),
];

/// keepalived sends priority 0 on SIGTERM too, but removes the VIP: a baton backup must not
/// hand packets back to it (lost, or looped back by a forwarding host until their TTL runs
/// out). Without the old master's offer (see the daemon's `handoff_offer`) lb1 takes the
/// VIP and arms nothing; forged offers are dropped, counted in the log, and harm nothing.
#[test]
fn a_keepalived_master_stopping_gets_no_packets_handed_back() {
    let test = "a_keepalived_master_stopping_gets_no_packets_handed_back";
    let Some(lab) = guide_lab(test) else {
        return;
    };
    if common::skip_without_tool("nft", "nftables", test)
        || common::skip_without_tool("python3", "python3", test)
        || common::skip_without_tool("keepalived", "keepalived", test)
    {
        return;
    }
    let dir = Workdir::new("switchover-handoff-keepalived");
    let _apps = [start_app(lab.host("app1")), start_app(lab.host("app2"))];
    let lb1 = common::start_baton_toml(lab.host("lb1"), &dir, &lb_config(100));
    let keepalived_conf = common::keepalived_conf("lb2", 3, 150, "0.1", "");
    let mut lb2 = common::start_keepalived(lab.host("lb2"), &dir, &keepalived_conf);
    let fail_with = |message: &str, lb2: &common::Daemon| -> ! { fail(message, &[&lb1, lb2]) };
    let only = |holder: &str, other: &str| {
        holds(lab.host(holder), common::VIP) && !holds(lab.host(other), common::VIP)
    };
    if wait_for(Duration::from_secs(10), || only("lb2", "lb1")).is_none() {
        fail_with("keepalived on lb2 never became the only master", &lb2);
    }
    // lb1 has heard lb2's adverts: forged offers are judged against a known master.
    thread::sleep(Duration::from_millis(500));
    let payloads: Vec<&str> = FORGED_OFFERS.iter().map(|(payload, _)| *payload).collect();
    let forge = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         for p in [{}]:\n    s.sendto(p, ('{LB1}', 7798))\n",
        payloads.join(", ")
    );
    if let Err(error) = lab.host("client").run("python3", &["-c", &forge]) {
        fail_with(&format!("sending forged offers: {error}"), &lb2);
    }

    lb2.child
        .signal(baton_lab::Signal::SIGTERM)
        .expect("SIGTERM to keepalived");
    if wait_for(Duration::from_secs(10), || only("lb1", "lb2")).is_none() {
        fail_with("lb1 did not take the VIP after keepalived stopped", &lb2);
    }
    // The handoff would be armed before the takeover; give a late one time to show.
    thread::sleep(Duration::from_secs(1));
    let tables = nft_tables(lab.host("lb1"));
    let log = lb1.log_text();
    if tables.contains("baton_handoff")
        || log.contains("handoff: packets of connections this host does not know")
    {
        fail_with(
            &format!("lb1 armed the handoff toward keepalived: {tables}"),
            &lb2,
        );
    }
    let dropped: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("handoff offer: datagram dropped"))
        .collect();
    for (_, reason) in FORGED_OFFERS {
        if !dropped.iter().any(|line| line.contains(reason)) {
            fail_with(
                &format!("lb1 did not drop a forged offer as {reason}: {dropped:?}"),
                &lb2,
            );
        }
    }
    // Still running and serving.
    assert_eq!(served_by(lab.host("client")).as_deref(), Some(LB1));
}

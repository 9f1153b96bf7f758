//! Long-lived flows through a VIP, for the tests of flows that survive a failover
//! (issue 16): an echo app on each real server, and a client in the client host that keeps
//! TCP connections (or UDP flows) open through the VIP, sends a counter on each every
//! ~10 ms and records what comes back.
//!
//! # Use
//! ```ignore
//! use common::flow_stream::{self, Proto, FlowStream};
//! // On each real server: TCP and UDP echo on the same port, answering `NAME LINE`.
//! let _echo1 = flow_stream::start_echo(lab.host("app1"), 7000);
//! let _echo2 = flow_stream::start_echo(lab.host("app2"), 7000);
//! // ... the load balancers, the VIP ...
//! let vip: SocketAddr = "10.0.3.100:7000".parse().unwrap();
//! let mut tcp = FlowStream::start(lab.host("client"), Proto::Tcp, vip, 1);
//! let mut udp = FlowStream::start(lab.host("client"), Proto::Udp, vip, 1);
//! assert!(tcp.wait_replies(50, Duration::from_secs(10)), "{}", tcp.record().summary());
//! tcp.mark("cut");                  // a line in the client's own timeline
//! lab.host("lb2").cut_link()?;      // the fault
//! // Wait for the flow to come back: 50 more replies after the mark.
//! assert!(tcp.wait_replies_after("cut", 50, Duration::from_secs(20)));
//! let record = tcp.stop();          // stops sending, waits for the last replies
//! assert!(record.survived(), "{}", record.summary());
//! println!("longest pause {:?}", record.longest_pause());
//! ```
//! Several faults can share one stream: [`FlowStream::record`] is a snapshot at any time,
//! and [`Record::longest_pause_after`] / [`Record::servers_after`] look only at what
//! followed a mark. [`Streams`] drives several named streams together (TCP and UDP through
//! each service): one mark, one wait, the pauses of all.
//!
//! # What is recorded
//! Per flow (connection, or UDP socket with its fixed source port): every reply's arrival
//! time (the client's monotonic clock, ms, so pipe latency to the test does not count),
//! its sequence number and the name of the server that answered. From those: gaps
//! (a number skipped), duplicates or reordering (a number not above the last), the
//! longest pause between two replies, the pauses over [`PAUSE`], server switches, and
//! errors (a reset, the peer closing, a failed connect; for UDP an ICMP error).
//! For TCP "survived" means no error, no gap, no duplicate and one server throughout;
//! for UDP a gap is a lost datagram (expected during a failover), so a UDP flow
//! "stayed" when it kept to one server and got replies after the fault.
//!
//! The programs are Python 3 (the lab hosts have it; the flows are few and slow), run in
//! the hosts' namespaces with `ip netns exec` like every lab process.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{ChildStdin, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use baton_lab::{Child, Host};

/// How often each flow sends its counter.
pub(crate) const INTERVAL: Duration = Duration::from_millis(10);

/// A silence longer than this between two replies of a flow is listed as a pause.
pub(crate) const PAUSE: Duration = Duration::from_millis(100);

/// TCP and UDP echo on `port` of every address (0.0.0.0), each line (TCP) or datagram
/// (UDP) answered with `NAME LINE`. UDP answers leave from the address the datagram was
/// sent to (IP_PKTINFO), so a DR real server answers from the VIP on its lo.
const ECHO: &str = r#"
import socket, struct, sys, threading
name, port = sys.argv[1], int(sys.argv[2])
prefix = name.encode() + b" "
IP_PKTINFO = 8

def serve_connection(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pending = b""
    try:
        while True:
            data = c.recv(65536)
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            if lines:
                c.sendall(b"".join(prefix + line + b"\n" for line in lines))
    except OSError:
        pass
    finally:
        c.close()

def tcp():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(4096)
    while True:
        c, _ = listener.accept()
        threading.Thread(target=serve_connection, args=(c,), daemon=True).start()

def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_IP, IP_PKTINFO, 1)
    u.bind(("0.0.0.0", port))
    while True:
        data, ancillary, _, peer = u.recvmsg(2048, socket.CMSG_SPACE(12))
        reply = prefix + data
        info = [d for (level, kind, d) in ancillary if level == socket.SOL_IP and kind == IP_PKTINFO]
        try:
            if info:
                # in_pktinfo: ifindex, spec_dst, addr. Answer from addr, where it was sent.
                source = struct.pack("=i4s4s", 0, info[0][8:12], bytes(4))
                u.sendmsg([reply], [(socket.SOL_IP, IP_PKTINFO, source)], 0, peer)
            else:
                u.sendto(reply, peer)
        except OSError:
            pass

threading.Thread(target=udp, daemon=True).start()
tcp()
"#;

/// The client: `proto host port flows interval_ms`. Prints `READY`, then one line per
/// event, times in ms of its monotonic clock:
/// `R T FLOW SEQ NAME` (a reply), `E T FLOW WHAT` (an error), `M T WORD` (a mark the test
/// wrote on stdin), and at the end (stdin closed) `END FLOW SENT` per flow.
const CLIENT: &str = r#"
import errno, selectors, socket, sys, time
proto, host, port, flows, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]) / 1000
start = time.monotonic()
def now():
    return "%.1f" % ((time.monotonic() - start) * 1000)
def say(line):
    sys.stdout.write(line + "\n")

def connect():
    # The VIP may not answer yet: retry for up to 10 s.
    deadline = time.monotonic() + 10
    while True:
        try:
            if proto == "tcp":
                s = socket.create_connection((host, port), timeout=1)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            else:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.connect((host, port))
            s.setblocking(False)
            return s
        except OSError as e:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)

sel = selectors.DefaultSelector()
state = []
for i in range(flows):
    try:
        s = connect()
    except OSError as e:
        say("E %s %d connect:%s" % (now(), i, errno.errorcode.get(e.errno, str(e))))
        state.append(None)
        continue
    state.append({"s": s, "seq": 0, "sent": 0, "buf": b"", "out": b""})
    sel.register(s, selectors.EVENT_READ, i)
sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
say("READY")
sys.stdout.flush()

def fail(i, what):
    say("E %s %d %s" % (now(), i, what))
    f = state[i]
    if proto == "tcp":
        sel.unregister(f["s"])
        f["s"].close()
        state[i] = None

def receive(i):
    f = state[i]
    while f is not None:
        try:
            data = f["s"].recv(65536)
        except BlockingIOError:
            return
        except ConnectionResetError:
            return fail(i, "reset")
        except ConnectionRefusedError:
            # UDP: an ICMP port unreachable; the flow goes on.
            say("E %s %d refused" % (now(), i))
            if proto == "tcp":
                return fail(i, "refused")
            continue
        except OSError as e:
            return fail(i, errno.errorcode.get(e.errno, str(e)))
        if proto == "udp":
            fields = data.split()
            if len(fields) == 2:
                say("R %s %d %s %s" % (now(), i, fields[1].decode(), fields[0].decode()))
            continue
        if not data:
            return fail(i, "closed")
        f["buf"] += data
        *lines, f["buf"] = f["buf"].split(b"\n")
        for line in lines:
            fields = line.split()
            if len(fields) == 2:
                say("R %s %d %s %s" % (now(), i, fields[1].decode(), fields[0].decode()))

def send(i):
    f = state[i]
    f["seq"] += 1
    line = b"%d\n" % f["seq"]
    try:
        if proto == "udp":
            f["s"].send(line)
        else:
            f["out"] += line
            n = f["s"].send(f["out"])
            f["out"] = f["out"][n:]
        f["sent"] = f["seq"]
    except BlockingIOError:
        f["sent"] = f["seq"]
    except ConnectionRefusedError:
        say("E %s %d refused" % (now(), i))
        if proto == "tcp":
            fail(i, "refused")
    except OSError as e:
        if proto == "tcp":
            fail(i, errno.errorcode.get(e.errno, str(e)))
        else:
            say("E %s %d %s" % (now(), i, errno.errorcode.get(e.errno, str(e))))

next_send = time.monotonic()
stop_at = None
while stop_at is None or time.monotonic() < stop_at:
    wait = (stop_at if stop_at is not None else next_send) - time.monotonic()
    for key, _ in sel.select(max(0, wait)):
        if key.data == "stdin":
            line = sys.stdin.readline()
            if line:
                say("M %s %s" % (now(), line.strip()))
            else:
                # Stop sending; the replies in flight get a second.
                sel.unregister(sys.stdin)
                stop_at = time.monotonic() + 1
        else:
            receive(key.data)
    if stop_at is None and time.monotonic() >= next_send:
        for i in range(flows):
            if state[i] is not None:
                send(i)
        next_send += interval
        if next_send < time.monotonic():
            next_send = time.monotonic() + interval
    sys.stdout.flush()
for i in range(flows):
    say("END %d %d" % (i, state[i]["sent"] if state[i] is not None else 0))
sys.stdout.flush()
"#;

/// Starts the echo app on `port` of `host`, answering with the host's name.
pub(crate) fn start_echo(host: &Host, port: u16) -> Child {
    let mut command = host.command("python3");
    command
        .args(["-c", ECHO, host.name(), &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    host.spawn(command).expect("echo app")
}

/// Makes `host` an LVS-DR real server of `vip` (an address without prefix): the VIP on
/// lo, and no ARP answers or announcements for it (arp_ignore=1, arp_announce=2), so
/// only the load balancer that holds it answers ARP.
pub(crate) fn make_dr_real_server(host: &Host, vip: &str) {
    for setting in [
        "net.ipv4.conf.all.arp_ignore=1",
        "net.ipv4.conf.all.arp_announce=2",
    ] {
        host.run("sysctl", &["-qw", setting]).expect("sysctl");
    }
    host.run("ip", &["address", "add", &format!("{vip}/32"), "dev", "lo"])
        .expect("the VIP on lo");
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn word(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One reply as the client saw it.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    /// The client's clock, ms since it started.
    pub(crate) at_ms: f64,
    pub(crate) seq: u64,
    pub(crate) server: String,
}

/// One flow's history.
#[derive(Clone, Debug, Default)]
pub(crate) struct Flow {
    pub(crate) replies: Vec<Reply>,
    /// (time, what): "reset", "closed", "refused", "connect:ECONNREFUSED", an errno name.
    pub(crate) errors: Vec<(f64, String)>,
    /// Counters sent, known once the client has stopped.
    pub(crate) sent: Option<u64>,
}

impl Flow {
    /// Numbers skipped: each (the number expected, the one that came).
    pub(crate) fn gaps(&self) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut last = 0;
        for reply in &self.replies {
            if reply.seq > last + 1 {
                gaps.push((last + 1, reply.seq));
            }
            last = last.max(reply.seq);
        }
        gaps
    }

    /// Replies whose number was not above every earlier one (duplicates, reordering).
    pub(crate) fn duplicates(&self) -> usize {
        let mut last = 0;
        let mut count = 0;
        for reply in &self.replies {
            if reply.seq <= last {
                count += 1;
            }
            last = last.max(reply.seq);
        }
        count
    }

    /// Replies per answering server, from `from_ms` on.
    pub(crate) fn servers_from(&self, from_ms: f64) -> BTreeMap<String, usize> {
        let mut servers = BTreeMap::new();
        for reply in self.replies.iter().filter(|r| r.at_ms >= from_ms) {
            *servers.entry(reply.server.clone()).or_insert(0) += 1;
        }
        servers
    }

    /// How often the answering server changed from one reply to the next.
    pub(crate) fn switches(&self) -> usize {
        self.replies
            .windows(2)
            .filter(|w| w[0].server != w[1].server)
            .count()
    }

    /// Every silence between two replies longer than `over`: (start, length), ms. The
    /// first reply's wait after the start does not count.
    pub(crate) fn pauses(&self, over: Duration, from_ms: f64) -> Vec<(f64, f64)> {
        let over = over.as_secs_f64() * 1000.0;
        self.replies
            .windows(2)
            .filter(|w| w[1].at_ms >= from_ms)
            .map(|w| (w[0].at_ms, w[1].at_ms - w[0].at_ms))
            .filter(|&(_, length)| length > over)
            .collect()
    }

    /// The longest silence between two replies ending at or after `from_ms`.
    pub(crate) fn longest_pause_from(&self, from_ms: f64) -> Duration {
        let longest = self
            .replies
            .windows(2)
            .filter(|w| w[1].at_ms >= from_ms)
            .map(|w| w[1].at_ms - w[0].at_ms)
            .fold(0.0, f64::max);
        Duration::from_secs_f64(longest / 1000.0)
    }
}

/// Everything a client saw so far.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub(crate) proto: Proto,
    pub(crate) flows: Vec<Flow>,
    /// Marks the test wrote, by word: the client's time when it read them.
    pub(crate) marks: BTreeMap<String, f64>,
    /// Lines the client printed that are none of the above (Python errors).
    pub(crate) other: Vec<String>,
}

impl Record {
    /// A record from the client's output lines (see the client's doc for their format).
    pub(crate) fn from_lines<'a>(
        proto: Proto,
        flows: usize,
        lines: impl IntoIterator<Item = &'a str>,
    ) -> Record {
        let mut record = Record::new(proto, flows);
        for line in lines {
            record.take(line);
        }
        record
    }

    fn new(proto: Proto, flows: usize) -> Record {
        Record {
            proto,
            flows: vec![Flow::default(); flows],
            marks: BTreeMap::new(),
            other: Vec::new(),
        }
    }

    pub(crate) fn replies(&self) -> usize {
        self.flows.iter().map(|f| f.replies.len()).sum()
    }

    /// The time of `mark`; panics when the test never wrote it.
    pub(crate) fn mark(&self, mark: &str) -> f64 {
        *self
            .marks
            .get(mark)
            .unwrap_or_else(|| panic!("no mark {mark:?} in {:?}", self.marks))
    }

    /// Replies of every flow that arrived after `mark`.
    pub(crate) fn replies_after(&self, mark: &str) -> usize {
        let Some(&at) = self.marks.get(mark) else {
            return 0;
        };
        self.flows
            .iter()
            .map(|f| f.replies.iter().filter(|r| r.at_ms >= at).count())
            .sum()
    }

    /// The longest silence of any flow, over the whole record.
    pub(crate) fn longest_pause(&self) -> Duration {
        self.longest_pause_from(0.0)
    }

    /// The longest silence of any flow that ended after `mark`.
    pub(crate) fn longest_pause_after(&self, mark: &str) -> Duration {
        self.longest_pause_from(self.mark(mark))
    }

    fn longest_pause_from(&self, from_ms: f64) -> Duration {
        self.flows
            .iter()
            .map(|f| f.longest_pause_from(from_ms))
            .max()
            .unwrap_or_default()
    }

    /// The servers that answered each flow after `mark` (or over the whole record).
    pub(crate) fn servers_after(&self, mark: Option<&str>) -> Vec<BTreeMap<String, usize>> {
        let from = mark.map_or(0.0, |m| self.mark(m));
        self.flows.iter().map(|f| f.servers_from(from)).collect()
    }

    /// Every flow answered by exactly one server, throughout.
    pub(crate) fn one_server_per_flow(&self) -> bool {
        self.flows
            .iter()
            .all(|f| f.switches() == 0 && !f.replies.is_empty())
    }

    /// TCP: no error, no gap, no duplicate, one server per flow. UDP: one server per flow
    /// and no error (losses are allowed).
    pub(crate) fn survived(&self) -> bool {
        let clean = |f: &Flow| match self.proto {
            Proto::Tcp => f.errors.is_empty() && f.gaps().is_empty() && f.duplicates() == 0,
            Proto::Udp => f.errors.is_empty(),
        };
        self.one_server_per_flow() && self.flows.iter().all(clean)
    }

    /// Flows that [`survived`](Self::survived) by themselves.
    pub(crate) fn flows_survived(&self) -> usize {
        self.flows
            .iter()
            .filter(|f| {
                f.switches() == 0
                    && !f.replies.is_empty()
                    && f.errors.is_empty()
                    && (self.proto == Proto::Udp || (f.gaps().is_empty() && f.duplicates() == 0))
            })
            .count()
    }

    /// A few lines for a failure message: per flow (up to 5) the replies, servers,
    /// errors, gaps, duplicates and pauses; the marks; anything unexpected.
    pub(crate) fn summary(&self) -> String {
        let mut text = format!(
            "{}: {} flows, {} replies, marks {:?}, longest pause {:?}\n",
            self.proto.word(),
            self.flows.len(),
            self.replies(),
            self.marks,
            self.longest_pause()
        );
        for (i, flow) in self.flows.iter().enumerate().take(5) {
            let gaps = flow.gaps();
            text.push_str(&format!(
                "  flow {i}: {} replies (sent {:?}), servers {:?}, {} switches, errors {:?}, \
                 {} gaps {:?}, {} duplicates, pauses {:?}\n",
                flow.replies.len(),
                flow.sent,
                flow.servers_from(0.0),
                flow.switches(),
                flow.errors,
                gaps.len(),
                &gaps[..gaps.len().min(5)],
                flow.duplicates(),
                flow.pauses(PAUSE, 0.0)
            ));
        }
        if !self.other.is_empty() {
            text.push_str(&format!("  client said: {:?}\n", self.other));
        }
        text
    }

    /// One line of the client's output into the record.
    fn take(&mut self, line: &str) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        let flow = |i: usize| fields.get(i).and_then(|f| f.parse::<usize>().ok());
        match fields.first().copied() {
            Some("READY") => {}
            Some("R") => {
                if let (Some(at_ms), Some(i), Some(seq), Some(server)) = (
                    number(1),
                    flow(2),
                    fields.get(3).and_then(|s| s.parse().ok()),
                    fields.get(4),
                ) {
                    if let Some(flow) = self.flows.get_mut(i) {
                        flow.replies.push(Reply {
                            at_ms,
                            seq,
                            server: (*server).to_owned(),
                        });
                        return;
                    }
                }
                self.other.push(line.to_owned());
            }
            Some("E") => match (number(1), flow(2), fields.get(3)) {
                (Some(at), Some(i), Some(what)) if i < self.flows.len() => {
                    self.flows[i].errors.push((at, (*what).to_owned()));
                }
                _ => self.other.push(line.to_owned()),
            },
            Some("M") => match (number(1), fields.get(2)) {
                (Some(at), Some(word)) => {
                    self.marks.insert((*word).to_owned(), at);
                }
                _ => self.other.push(line.to_owned()),
            },
            Some("END") => match (flow(1), fields.get(2).and_then(|s| s.parse().ok())) {
                (Some(i), Some(sent)) if i < self.flows.len() => self.flows[i].sent = Some(sent),
                _ => self.other.push(line.to_owned()),
            },
            _ => self.other.push(line.to_owned()),
        }
    }
}

/// A running client and what it saw so far.
pub(crate) struct FlowStream {
    child: Child,
    stdin: Option<ChildStdin>,
    record: Arc<Mutex<Record>>,
    reader: Option<JoinHandle<()>>,
}

impl FlowStream {
    /// Starts `flows` flows of `proto` from `client` to `target`, each sending a counter
    /// every [`INTERVAL`]. Connecting is retried for 10 s; returns once every flow is open
    /// (or has failed to open: see the record's errors).
    pub(crate) fn start(client: &Host, proto: Proto, target: SocketAddr, flows: usize) -> Self {
        Self::start_every(client, proto, target, flows, INTERVAL)
    }

    /// [`start`](Self::start) with another sending interval.
    pub(crate) fn start_every(
        client: &Host,
        proto: Proto,
        target: SocketAddr,
        flows: usize,
        interval: Duration,
    ) -> Self {
        let mut command = client.command("python3");
        command
            .args(["-u", "-c", CLIENT, proto.word()])
            .arg(target.ip().to_string())
            .arg(target.port().to_string())
            .arg(flows.to_string())
            .arg(format!("{}", interval.as_secs_f64() * 1000.0))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = client.spawn(command).expect("flow client");
        let stdin = child.inner_mut().stdin.take();
        let stdout = child.inner_mut().stdout.take().expect("client stdout");
        let stderr = child.inner_mut().stderr.take().expect("client stderr");
        let record = Arc::new(Mutex::new(Record::new(proto, flows)));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let shared = Arc::clone(&record);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line == "READY" {
                    let _ = ready_tx.send(());
                }
                shared.lock().unwrap_or_else(|e| e.into_inner()).take(&line);
            }
        });
        // Python's own complaints go into the record too, for failure messages.
        let shared = Arc::clone(&record);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut record = shared.lock().unwrap_or_else(|e| e.into_inner());
                record.other.push(format!("stderr: {line}"));
            }
        });
        let stream = FlowStream {
            child,
            stdin,
            record,
            reader: Some(reader),
        };
        // Connecting takes up to 10 s per flow that cannot connect; more than enough
        // for flows that can.
        let limit = Duration::from_secs(15) + Duration::from_millis(20) * flows as u32;
        if ready_rx.recv_timeout(limit).is_err() {
            panic!(
                "the flow client never got ready:\n{}",
                stream.record().summary()
            );
        }
        stream
    }

    /// A snapshot of what the client saw so far.
    pub(crate) fn record(&self) -> Record {
        self.record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Writes `word` (no spaces) into the client's timeline, and waits (up to 2 s) until
    /// the client has read it, so that what follows happens after the mark.
    pub(crate) fn mark(&mut self, word: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = writeln!(stdin, "{word}");
            let _ = stdin.flush();
        }
        let seen = super::wait_for(Duration::from_secs(2), || {
            self.record().marks.contains_key(word)
        });
        assert!(
            seen.is_some(),
            "the flow client never read mark {word}:\n{}",
            self.record().summary()
        );
    }

    /// Waits until every flow has at least `n` replies; false at `timeout`.
    pub(crate) fn wait_replies(&self, n: usize, timeout: Duration) -> bool {
        super::wait_for(timeout, || {
            self.record().flows.iter().all(|f| f.replies.len() >= n)
        })
        .is_some()
    }

    /// Waits until every flow has at least `n` replies after `mark`; false at `timeout`
    /// (a flow that broke for good never gets there).
    pub(crate) fn wait_replies_after(&self, mark: &str, n: usize, timeout: Duration) -> bool {
        super::wait_for(timeout, || {
            let record = self.record();
            let Some(&at) = record.marks.get(mark) else {
                return false;
            };
            record
                .flows
                .iter()
                .all(|f| f.replies.iter().filter(|r| r.at_ms >= at).count() >= n)
        })
        .is_some()
    }

    /// Stops sending, waits (up to 5 s) for the replies in flight and the client's end,
    /// and returns the whole record.
    pub(crate) fn stop(mut self) -> Record {
        drop(self.stdin.take());
        let _ = self.child.wait_timeout(Duration::from_secs(5));
        self.child.kill();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.record()
    }
}

/// Several streams driven together, each with a name for messages (say "mh tcp",
/// "mh udp"): one mark in all of them, one wait for all of them.
pub(crate) struct Streams(pub(crate) Vec<(&'static str, FlowStream)>);

impl Streams {
    pub(crate) fn mark(&mut self, word: &str) {
        for (_, stream) in &mut self.0 {
            stream.mark(word);
        }
    }

    /// Waits until every flow of every stream has `n` replies (after `mark`, when given);
    /// the first stream that does not within `timeout` each, with what it saw.
    pub(crate) fn wait_replies(
        &self,
        mark: Option<&str>,
        n: usize,
        timeout: Duration,
    ) -> Result<(), String> {
        for (name, stream) in &self.0 {
            let moving = match mark {
                Some(mark) => stream.wait_replies_after(mark, n, timeout),
                None => stream.wait_replies(n, timeout),
            };
            if !moving {
                let after = mark.map_or(String::new(), |m| format!(" after {m}"));
                return Err(format!(
                    "{name}: fewer than {n} replies per flow{after}:\n{}",
                    stream.record().summary()
                ));
            }
        }
        Ok(())
    }

    /// Each stream's longest pause after `mark`, as "NAME N ms".
    pub(crate) fn pauses(&self, mark: &str) -> Vec<String> {
        self.0
            .iter()
            .map(|(name, stream)| {
                let pause = stream.record().longest_pause_after(mark);
                format!("{name} {} ms", pause.as_millis())
            })
            .collect()
    }

    /// Stops every stream; each one's whole record.
    pub(crate) fn stop(self) -> Vec<(&'static str, Record)> {
        self.0
            .into_iter()
            .map(|(name, stream)| (name, stream.stop()))
            .collect()
    }

    /// Stops every stream and judges the whole run: prints each stream's replies and
    /// longest pause, and returns the summaries of the streams that did not
    /// [`survive`](Record::survived) and every server that answered a flow.
    pub(crate) fn finish(self) -> (Vec<String>, BTreeSet<String>) {
        let mut failures = Vec::new();
        let mut used = BTreeSet::new();
        for (name, record) in self.stop() {
            for servers in record.servers_after(None) {
                used.extend(servers.into_keys());
            }
            eprintln!(
                "  {name}: {} replies, longest pause {:?}",
                record.replies(),
                record.longest_pause()
            );
            if !record.survived() {
                failures.push(format!("{name}:\n{}", record.summary()));
            }
        }
        (failures, used)
    }
}

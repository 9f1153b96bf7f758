//! `baton proxy` end to end: the built binary on 127.0.0.1, two small upstream servers made
//! here, balancing, and a graceful stop on SIGTERM that lets a request in flight finish.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// An HTTP/1.1 server on a thread: answers `server=NAME path=PATH`, after MS milliseconds
/// for `/slow/MS`; keep-alive.
fn upstream(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve_upstream(name, stream));
        }
    });
    addr
}

fn serve_upstream(name: &str, stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_owned();
        if let Some(ms) = path.strip_prefix("/slow/") {
            thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
        }
        let body = format!("server={name} path={path}\n");
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// `baton proxy` running, with the address it listens on (read from its log).
struct Baton {
    child: Child,
    addr: SocketAddr,
    log: mpsc::Receiver<String>,
}

impl Baton {
    fn start(args: &[&str]) -> Baton {
        let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .arg("proxy")
            .args(args)
            .env("BATON_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start baton");
        let stderr = child.stderr.take().expect("stderr");
        let (lines, log) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = loop {
            let line = log
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("baton proxy logs where it listens");
            if let Some(rest) = line.split("listening on ").nth(1) {
                let addr = rest.split([' ', ',']).next().expect("address");
                break addr.parse().expect("socket address");
            }
        };
        Baton { child, addr, log }
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("kill");
    }

    /// Waits for the exit; None if it takes longer than `limit`.
    fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn log_text(&self) -> String {
        self.log.try_iter().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Baton {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One GET with `Connection: close`; the whole response.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

/// `--threads 2`: a multi-thread runtime.
#[test]
fn proxy_balances_and_drains_on_sigterm() {
    balances_and_drains_on_sigterm("2");
}

/// `--threads 1` runs on a current-thread runtime of its own: the same promises.
#[test]
fn proxy_on_one_thread_balances_and_drains_on_sigterm() {
    balances_and_drains_on_sigterm("1");
}

fn balances_and_drains_on_sigterm(threads: &str) {
    let (a, b) = (upstream("a"), upstream("b"));
    let mut baton = Baton::start(&[
        "--listen",
        "127.0.0.1:0",
        "--to",
        &a.to_string(),
        "--to",
        &format!("http://{b}"),
        "--balance",
        "roundrobin",
        "--threads",
        threads,
    ]);
    let mut answers = Vec::new();
    for i in 0..10 {
        let response = get(baton.addr, &format!("/n/{i}"));
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains(&format!("path=/n/{i}")), "{response}");
        assert!(response.to_ascii_lowercase().contains("via: 1.1 baton"));
        answers.push(if response.contains("server=a") {
            'a'
        } else {
            'b'
        });
    }
    let a_count = answers.iter().filter(|&&s| s == 'a').count();
    assert_eq!(a_count, 5, "round robin alternates: {answers:?}");

    // A slow request is in flight when SIGTERM comes: it still gets its answer, and then
    // baton exits 0.
    let addr = baton.addr;
    let in_flight = thread::spawn(move || get(addr, "/slow/800"));
    thread::sleep(Duration::from_millis(300));
    baton.signal(Signal::SIGTERM);
    let response = in_flight.join().expect("request");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("path=/slow/800"), "{response}");
    let status = baton.wait(Duration::from_secs(10)).expect("baton exits");
    assert!(status.success(), "{status:?}\n{}", baton.log_text());
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens any more"
    );
}

#[test]
fn proxy_stops_at_once_on_sigint_when_idle() {
    let a = upstream("a");
    let mut baton = Baton::start(&["--listen", "127.0.0.1:0", "--to", &a.to_string()]);
    assert!(get(baton.addr, "/").contains("server=a"));
    baton.signal(Signal::SIGINT);
    let started = Instant::now();
    let status = baton.wait(Duration::from_secs(10)).expect("baton exits");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn proxy_rejects_bad_flags() {
    for args in [
        &["--listen", "127.0.0.1:0"][..],
        &["--listen", "127.0.0.1:0", "--to", "127.0.0.1"],
        &[
            "--listen",
            "127.0.0.1:0",
            "--to",
            "127.0.0.1:1",
            "--balance",
            "fastest",
        ],
        &["--listen", "nowhere", "--to", "127.0.0.1:1"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_baton"))
            .arg("proxy")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run baton");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?} explains itself");
    }
}

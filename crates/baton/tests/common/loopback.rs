//! `baton run` on loopback, no root needed: upstream servers on threads, raw HTTP/1.1
//! requests, and the daemon with its log kept for failure messages.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{Workdir, wait_for};

/// An HTTP/1.1 upstream on a thread that answers its name; keep-alive. A request for
/// `/status/CODE` gets that status (with the name as body), anything else 200.
pub(crate) fn upstream(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                let mut line = String::new();
                let mut status = "200 OK".to_owned();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => {
                            let body = format!("{name}\n");
                            let answer = format!(
                                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            );
                            if writer.write_all(answer.as_bytes()).is_err() {
                                return;
                            }
                            status = "200 OK".to_owned();
                        }
                        Ok(_) => {
                            if let Some(code) = line
                                .strip_prefix("GET /status/")
                                .and_then(|rest| rest.get(..3))
                            {
                                status = format!("{code} Set");
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A port that was free a moment ago (nothing listens on it: connects are refused).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// One GET of `path` on a new connection: the status code and the body, or the error.
pub(crate) fn request(address: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let head = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream
        .write_all(head.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| format!("read: {e}"))?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no head: {response:?}"))?;
    let code = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status: {response:?}"))?;
    Ok((code, body.to_owned()))
}

/// One GET of `/`: the body of a 200, or the error.
pub(crate) fn get(address: SocketAddr) -> Result<String, String> {
    match request(address, "/")? {
        (200, body) => Ok(body.trim().to_owned()),
        (code, body) => Err(format!("unexpected answer: {code} {body:?}")),
    }
}

/// A frontend `web` on `listen` over a round-robin backend `app` of `servers`.
pub(crate) fn loopback_config(listen: SocketAddr, servers: &[SocketAddr]) -> String {
    let servers: Vec<String> = servers.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "[[frontend]]\nname = \"web\"\nlisten = \"{listen}\"\nbackend = \"app\"\n\n\
         [[backend]]\nname = \"app\"\nbalance = \"roundrobin\"\nservers = [{}]\n",
        servers.join(", ")
    )
}

/// `baton run --config`, killed when dropped.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) control: PathBuf,
    pub(crate) log: PathBuf,
}

impl Running {
    /// Starts the daemon on `config` with its control socket and log in `dir`, plus `args`.
    pub(crate) fn start(dir: &Workdir, config: &Path, args: &[&str]) -> Running {
        let log = dir.path("baton.log");
        let log_file = std::fs::File::create(&log).expect("log");
        let control = dir.path("baton.sock");
        let child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["run", "--config"])
            .arg(config)
            .arg("--control")
            .arg(&control)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file)
            .spawn()
            .expect("baton run");
        Running {
            child,
            control,
            log,
        }
    }

    /// `baton status --json`.
    pub(crate) fn status(&self) -> serde_json::Value {
        let output = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["status", "--json", "--control"])
            .arg(&self.control)
            .output()
            .expect("baton status");
        assert!(output.status.success(), "{output:?}\n{}", self.log());
        serde_json::from_slice(&output.stdout).expect("status JSON")
    }

    pub(crate) fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("signal");
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, and the exit within 15 s.
    pub(crate) fn stop(mut self) {
        self.signal(Signal::SIGTERM);
        let exited = wait_for(Duration::from_secs(15), || {
            self.child.try_wait().ok().flatten().is_some()
        });
        assert!(exited.is_some(), "no exit after SIGTERM\n{}", self.log());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

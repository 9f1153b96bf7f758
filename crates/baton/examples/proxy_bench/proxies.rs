//! The proxies under test as running processes: started on one core with one worker,
//! watched, measured through /proc, and stopped with their workers.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::children;
use crate::configs;
use crate::procfs;
use crate::tools::Tools;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Baton,
    Haproxy,
    Nginx,
}

impl Kind {
    pub(crate) const ALL: [Kind; 3] = [Kind::Baton, Kind::Haproxy, Kind::Nginx];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Baton => "baton",
            Kind::Haproxy => "HAProxy",
            Kind::Nginx => "nginx",
        }
    }
}

/// A proxy with its number of worker threads (baton's runtime threads, HAProxy's
/// `nbthread`, nginx's `worker_processes`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Variant {
    pub(crate) kind: Kind,
    pub(crate) threads: usize,
}

impl Variant {
    /// The name in tables: the proxy's, with the threads when there is more than one.
    pub(crate) fn label(self) -> String {
        match self.threads {
            1 => self.kind.name().to_owned(),
            n => format!("{} x{n}", self.kind.name()),
        }
    }

    /// Parses `baton`, `haproxy:2` and the like; `threads` when no count is given.
    pub(crate) fn parse(text: &str, threads: usize) -> Option<Variant> {
        let (name, count) = match text.trim().split_once(':') {
            Some((name, count)) => (name, count.trim().parse().ok().filter(|&n| n > 0)?),
            None => (text.trim(), threads),
        };
        let kind = Kind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name.trim()))?;
        Some(Variant {
            kind,
            threads: count,
        })
    }
}

/// A running proxy; stopped (with any worker processes) on drop.
#[derive(Debug)]
pub(crate) struct Proxy {
    pub(crate) variant: Variant,
    child: Child,
    pub(crate) port: u16,
    log: PathBuf,
}

/// Resident memory of a proxy's processes, summed, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Resident {
    pub(crate) rss: u64,
    pub(crate) pss: u64,
    pub(crate) processes: usize,
}

impl Proxy {
    /// Starts `variant` on a free loopback port in front of `upstreams`, sized for `idle`
    /// idle clients, and waits until it answers. One worker is pinned to the proxies' core;
    /// more run on every core, the client's too (a two-core machine has no other).
    pub(crate) fn start(
        variant: Variant,
        tools: &Tools,
        dir: &Path,
        upstreams: &[SocketAddr],
        idle: usize,
    ) -> Result<Self> {
        let Variant { kind, threads } = variant;
        let program = tools
            .binary(kind)
            .with_context(|| format!("{} not available", kind.name()))?;
        let port = free_port()?;
        let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        // Every proxy on the same one core, away from the client's.
        let mut command = match tools.cpus {
            Some((_, cpu)) if threads == 1 => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(program);
                c
            }
            _ => Command::new(program),
        };
        let threads_arg = threads.to_string();
        match kind {
            Kind::Baton => {
                command
                    .arg("proxy")
                    .arg("--listen")
                    .arg(listen.to_string())
                    .args(
                        upstreams
                            .iter()
                            .flat_map(|u| ["--to".into(), u.to_string()]),
                    )
                    // The peers balance round robin; baton's default is power of two choices.
                    .args(["--balance", "roundrobin", "--threads", &threads_arg])
                    .arg("--upstream-idle-timeout")
                    .arg(configs::UPSTREAM_IDLE_SECONDS.to_string())
                    .env("BATON_LOG", "warn");
            }
            Kind::Haproxy => {
                let config = dir.join("haproxy.cfg");
                std::fs::write(&config, configs::haproxy(listen, upstreams, idle, threads))?;
                // -db: foreground, no daemon.
                command.arg("-db").arg("-f").arg(&config);
            }
            Kind::Nginx => {
                let http = configs::nginx_http(listen, upstreams);
                let name = format!("nginx{threads}");
                let args = crate::common::nginx::write(dir, &name, idle + 3_000, &http)?;
                configs::nginx_workers(&dir.join(&name).join("nginx.conf"), threads)?;
                command.args(args);
            }
        }
        let log = dir.join(format!("{}.log", variant.label().replace(' ', "")));
        let log_file = std::fs::File::create(&log)?;
        command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        let child = children::spawn(&mut command)
            .with_context(|| format!("starting {}", program.display()))?;
        let mut proxy = Proxy {
            variant,
            child,
            port,
            log,
        };
        proxy.wait_ready()?;
        Ok(proxy)
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            self.check_alive()?;
            if probe(self.port).unwrap_or(false) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "{} did not answer on port {} within 10 s; its output:\n{}",
            self.variant.label(),
            self.port,
            self.log_tail()
        )
    }

    pub(crate) fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => bail!(
                "{} exited ({status}); its output:\n{}",
                self.variant.label(),
                self.log_tail()
            ),
            Err(error) => Err(anyhow!(error).context(self.variant.label())),
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// This process and its descendants (nginx's worker).
    pub(crate) fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.child.id()];
        pids.extend(procfs::descendants(self.child.id()));
        pids
    }

    /// CPU time of all its processes, in ticks.
    pub(crate) fn cpu_ticks(&self) -> u64 {
        self.pids().into_iter().map(procfs::cpu_ticks).sum()
    }

    /// Resident memory of all its processes.
    pub(crate) fn resident(&self) -> Resident {
        let mut total = Resident::default();
        for (rss, pss) in self.pids().into_iter().filter_map(procfs::memory_kib) {
            total.rss += rss;
            total.pss += pss;
            total.processes += 1;
        }
        total
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        children::stop_tree(self.child.id());
        let _ = self.child.wait();
        children::unregister(self.child.id());
    }
}

/// A port nothing listens on right now (the proxies need to be told one).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// One request on a fresh connection: true when the proxy answers 200.
fn probe(port: u16) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(answer.starts_with(b"HTTP/1.1 200") || answer.starts_with(b"HTTP/1.0 200"))
}

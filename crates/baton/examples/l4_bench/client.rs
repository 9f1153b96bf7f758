//! The load generator: this program again, started in the client namespace with `client`.
//! N workers for a fixed time, each either opening a new connection per request (connect,
//! one request, the answer, the app's close) or keeping one connection for many requests.
//! It samples /proc/stat itself at the start and end of the measured window, after a
//! warm-up, so that starting processes is not in the figure, and prints one line:
//! `done=N errors=E seconds=S busy=T all=T split=A,B`.
//!
//! The orchestrator side ([`run`]) starts it and reads that line.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use baton_lab::Host;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::cpu::{Ticks, process_ticks, process_ticks_with_children};
use crate::wire::{ANSWER_LEN, CLOSE, KEEP, request};

/// The argument that makes this program the client.
pub(crate) const CLIENT: &str = "client";
/// A connect, request or answer that takes longer has failed; it also bounds how long the
/// run outlives its end.
const IO_TIMEOUT: Duration = Duration::from_secs(3);
/// After an error, before the worker tries again: a broken path must not become a spin.
const BACKOFF: Duration = Duration::from_millis(10);

/// What a run measures.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// A new connection per request: connections per second.
    Connections,
    /// Persistent connections, many requests each: requests per second.
    Requests,
    /// One-shot connections until one succeeds (or the time is up): is the path there?
    Probe,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Connections => "connections",
            Mode::Requests => "requests",
            Mode::Probe => "probe",
        }
    }

    fn from_arg(arg: &str) -> Option<Mode> {
        [Mode::Connections, Mode::Requests, Mode::Probe]
            .into_iter()
            .find(|m| m.arg() == arg)
    }
}

/// A client run as the orchestrator asks for it.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub(crate) mode: Mode,
    /// The client's own address the connections leave from.
    pub(crate) source: Ipv4Addr,
    /// Taken in turn, connection by connection (the direct path's two apps; else the VIP).
    pub(crate) targets: Vec<SocketAddr>,
    pub(crate) workers: usize,
    pub(crate) warmup: Duration,
    pub(crate) seconds: Duration,
    /// The bench's processes besides the client (apps, the lb's daemon): their CPU time
    /// in the window is the bench's own, the rest of the machine's is someone else's.
    pub(crate) watch: Vec<u32>,
    /// The lb's daemon (baton, HAProxy), if any: also in `watch`; its own time is
    /// reported on its own.
    pub(crate) daemon: Option<u32>,
}

/// What a measured window saw.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tally {
    /// Answered requests: connections in [`Mode::Connections`], requests in
    /// [`Mode::Requests`].
    pub(crate) done: u64,
    pub(crate) errors: u64,
    pub(crate) seconds: f64,
    pub(crate) cpu: Ticks,
    /// CPU ticks of the client and the watched processes in the window.
    pub(crate) ours: u64,
    /// CPU ticks of the daemon and the programs it ran and reaped in the window.
    pub(crate) daemon: u64,
    /// Answers per app.
    pub(crate) split: Vec<u64>,
}

impl Tally {
    pub(crate) fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.done as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The machine's busy CPU time per answered request, in microseconds.
    pub(crate) fn cpu_us(&self) -> Option<f64> {
        (self.done > 0).then(|| self.cpu.busy_seconds() / self.done as f64 * 1e6)
    }

    /// The share of one core the lb's daemon used.
    pub(crate) fn daemon_busy(&self) -> f64 {
        if self.seconds > 0.0 {
            self.daemon as f64 / crate::cpu::TICKS_PER_SECOND / self.seconds
        } else {
            0.0
        }
    }

    /// The share of the machine that processes other than the bench's kept busy:
    /// an estimate between a lower bound (softirq counted as ours) and an upper bound (as
    /// theirs); the middle, since the kernel charges softirq to whichever process it hit.
    pub(crate) fn others(&self) -> f64 {
        if self.cpu.all == 0 {
            return 0.0;
        }
        let rest = self.cpu.busy.saturating_sub(self.ours);
        let low = rest.saturating_sub(self.cpu.irq);
        (rest + low) as f64 / 2.0 / self.cpu.all as f64
    }

    fn line(&self) -> String {
        format!(
            "done={} errors={} seconds={:.6} busy={} all={} irq={} ours={} daemon={} split={}",
            self.done,
            self.errors,
            self.seconds,
            self.cpu.busy,
            self.cpu.all,
            self.cpu.irq,
            self.ours,
            self.daemon,
            self.split
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )
    }

    fn parse(line: &str) -> Option<Tally> {
        let mut tally = Tally::default();
        for pair in line.split_whitespace() {
            let (key, value) = pair.split_once('=')?;
            match key {
                "done" => tally.done = value.parse().ok()?,
                "errors" => tally.errors = value.parse().ok()?,
                "seconds" => tally.seconds = value.parse().ok()?,
                "busy" => tally.cpu.busy = value.parse().ok()?,
                "all" => tally.cpu.all = value.parse().ok()?,
                "irq" => tally.cpu.irq = value.parse().ok()?,
                "ours" => tally.ours = value.parse().ok()?,
                "daemon" => tally.daemon = value.parse().ok()?,
                "split" => {
                    tally.split = value
                        .split(',')
                        .filter(|n| !n.is_empty())
                        .map(str::parse)
                        .collect::<Result<_, _>>()
                        .ok()?
                }
                _ => {}
            }
        }
        Some(tally)
    }
}

/// Runs `job` in `client` and returns what it measured (a probe: done = 1 when the path
/// answered).
pub(crate) fn run(client: &Host, job: &Job) -> Result<Tally> {
    let exe = std::env::current_exe().context("this program's path")?;
    let mut command = client.command(exe);
    command
        .arg(CLIENT)
        .arg(job.mode.arg())
        .arg(job.source.to_string())
        .arg(
            job.targets
                .iter()
                .map(SocketAddr::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
        .arg(job.workers.to_string())
        .arg(format!("{:.3}", job.warmup.as_secs_f64()))
        .arg(format!("{:.3}", job.seconds.as_secs_f64()))
        .arg(
            job.watch
                .iter()
                .map(u32::to_string)
                .chain(["0".into()])
                .collect::<Vec<_>>()
                .join(","),
        )
        .arg(job.daemon.unwrap_or(0).to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = client.spawn(command).context("starting the client")?;
    // The client ends by itself: warm-up, the window, then at most one IO_TIMEOUT for the
    // workers in flight. The reads below return when it exits.
    let mut stdout = String::new();
    let mut stderr = String::new();
    {
        use std::io::Read as _;
        let inner = child.inner_mut();
        if let Some(mut out) = inner.stdout.take() {
            out.read_to_string(&mut stdout)
                .context("reading the client")?;
        }
        if let Some(mut err) = inner.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
    }
    let status = child
        .wait_timeout(IO_TIMEOUT * 2)
        .context("waiting for the client")?;
    if !status.is_some_and(|s| s.success()) {
        bail!("client failed ({status:?}): {}", stderr.trim());
    }
    stdout
        .lines()
        .rev()
        .find_map(Tally::parse)
        .with_context(|| format!("client printed no tally: {stdout:?} {stderr:?}"))
}

/// The `client MODE SOURCE TARGETS WORKERS WARMUP SECONDS PIDS DAEMON` mode (PIDS: a list
/// ending in 0, so that it is never empty; DAEMON: a pid or 0).
pub(crate) fn main() -> ExitCode {
    let job = match parse_args(std::env::args().skip(2).collect()) {
        Some(job) => job,
        None => {
            eprintln!(
                "usage: l4_bench client connections|requests|probe SOURCE ADDR:PORT[,...] \
                 WORKERS WARMUP_S SECONDS PID,...,0 DAEMON_PID|0"
            );
            return ExitCode::FAILURE;
        }
    };
    let Some(runtime) = crate::common::serve::runtime("client", true) else {
        return ExitCode::FAILURE;
    };
    let tally = runtime.block_on(drive(job));
    println!("{}", tally.line());
    ExitCode::SUCCESS
}

fn parse_args(args: Vec<String>) -> Option<Job> {
    let [
        mode,
        source,
        targets,
        workers,
        warmup,
        seconds,
        watch,
        daemon,
    ] = args.as_slice()
    else {
        return None;
    };
    let secs = |s: &str| Duration::try_from_secs_f64(s.parse().ok()?).ok();
    Some(Job {
        mode: Mode::from_arg(mode)?,
        source: source.parse().ok()?,
        targets: targets
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?,
        workers: workers.parse().ok().filter(|&n| n > 0)?,
        warmup: secs(warmup)?,
        seconds: secs(seconds)?,
        watch: watch
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<u32>, _>>()
            .ok()?
            .into_iter()
            .filter(|&pid| pid != 0)
            .collect(),
        daemon: daemon.parse().ok().filter(|&pid| pid != 0),
    })
}

/// Counters the workers share.
#[derive(Debug)]
struct Counters {
    done: AtomicU64,
    errors: AtomicU64,
    /// Answers per app, by the answer's first byte (`'0'..='9'`).
    split: [AtomicU64; 10],
    /// Connections started, for taking targets in turn.
    next: AtomicU64,
    stop: AtomicBool,
}

impl Counters {
    fn snapshot(&self) -> (u64, u64, Vec<u64>) {
        (
            self.done.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
            self.split
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
        )
    }

    fn answered(&self, answer: &[u8; ANSWER_LEN]) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if let Some(app) = answer[0].checked_sub(b'0').filter(|&n| n < 10) {
            self.split[usize::from(app)].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn failed(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

async fn drive(job: Job) -> Tally {
    let counters = Arc::new(Counters {
        done: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        split: Default::default(),
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let job = Arc::new(job);
    if job.mode == Mode::Probe {
        return probe(&job, &counters).await;
    }
    let workers: Vec<_> = (0..job.workers)
        .map(|_| {
            let job = Arc::clone(&job);
            let counters = Arc::clone(&counters);
            tokio::spawn(async move {
                match job.mode {
                    Mode::Requests => persistent(&job, &counters).await,
                    _ => one_shots(&job, &counters).await,
                }
            })
        })
        .collect();
    tokio::time::sleep(job.warmup).await;
    let ours = || -> u64 {
        job.watch
            .iter()
            .chain([&std::process::id()])
            .map(|&pid| process_ticks(pid))
            .sum::<u64>()
            // The daemon's programs (nft, conntrack) are the bench's too.
            + job.daemon.map_or(0, |pid| {
                process_ticks_with_children(pid).saturating_sub(process_ticks(pid))
            })
    };
    let (done0, errors0, split0) = counters.snapshot();
    let daemon = || job.daemon.map_or(0, process_ticks_with_children);
    let (cpu0, ours0, daemon0, start) = (Ticks::now(), ours(), daemon(), Instant::now());
    tokio::time::sleep(job.seconds).await;
    let (done1, errors1, split1) = counters.snapshot();
    let (cpu1, ours1, daemon1) = (Ticks::now(), ours(), daemon());
    let seconds = start.elapsed().as_secs_f64();
    counters.stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.await;
    }
    Tally {
        done: done1 - done0,
        errors: errors1 - errors0,
        seconds,
        cpu: cpu1.since(cpu0),
        ours: ours1.saturating_sub(ours0),
        daemon: daemon1.saturating_sub(daemon0),
        // Apps 1 and 2: the lab's two.
        split: (1..=2).map(|i| split1[i] - split0[i]).collect(),
    }
}

fn target(job: &Job, counters: &Counters) -> SocketAddr {
    let n = counters.next.fetch_add(1, Ordering::Relaxed);
    // Fewer than 2^32 targets: the index fits.
    job.targets[(n % job.targets.len() as u64) as usize]
}

async fn connect(source: Ipv4Addr, target: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    // Port 0: the kernel picks a free one. Never in TIME_WAIT here: the app closes first.
    socket.bind(SocketAddr::from((source, 0)))?;
    let stream = socket.connect(target).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One connection, one request, the answer, then the app's FIN: the connection's whole
/// life, so that a balancer's work at close (conntrack, HAProxy's two sockets) is counted.
async fn one_shot(source: Ipv4Addr, target: SocketAddr) -> std::io::Result<[u8; ANSWER_LEN]> {
    let mut stream = connect(source, target).await?;
    stream.write_all(&request(CLOSE)).await?;
    let mut answer = [0u8; ANSWER_LEN];
    stream.read_exact(&mut answer).await?;
    let mut rest = [0u8; 1];
    match stream.read(&mut rest).await? {
        0 => Ok(answer),
        _ => Err(std::io::Error::other("the app sent more than one answer")),
    }
}

async fn one_shots(job: &Job, counters: &Counters) {
    while !counters.stop.load(Ordering::Relaxed) {
        let target = target(job, counters);
        match tokio::time::timeout(IO_TIMEOUT, one_shot(job.source, target)).await {
            Ok(Ok(answer)) => counters.answered(&answer),
            _ => {
                counters.failed();
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }
}

async fn persistent(job: &Job, counters: &Counters) {
    let request = request(KEEP);
    let mut answer = [0u8; ANSWER_LEN];
    'connect: while !counters.stop.load(Ordering::Relaxed) {
        let target = target(job, counters);
        let mut stream = match tokio::time::timeout(IO_TIMEOUT, connect(job.source, target)).await {
            Ok(Ok(stream)) => stream,
            _ => {
                counters.failed();
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        };
        while !counters.stop.load(Ordering::Relaxed) {
            let exchange = async {
                stream.write_all(&request).await?;
                stream.read_exact(&mut answer).await
            };
            match tokio::time::timeout(IO_TIMEOUT, exchange).await {
                Ok(Ok(_)) => counters.answered(&answer),
                _ => {
                    counters.failed();
                    tokio::time::sleep(BACKOFF).await;
                    continue 'connect;
                }
            }
        }
    }
}

/// One-shot connections to the targets in turn, every 50 ms, until one is answered or
/// `seconds` pass.
async fn probe(job: &Job, counters: &Counters) -> Tally {
    let start = Instant::now();
    while start.elapsed() < job.seconds {
        let target = target(job, counters);
        if let Ok(Ok(answer)) =
            tokio::time::timeout(Duration::from_millis(500), one_shot(job.source, target)).await
        {
            counters.answered(&answer);
            break;
        }
        counters.failed();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (done, errors, _) = counters.snapshot();
    Tally {
        done,
        errors,
        seconds: start.elapsed().as_secs_f64(),
        ..Tally::default()
    }
}

#[cfg(test)]
mod tests {
    use super::Tally;
    use crate::cpu::Ticks;

    #[test]
    fn tally_line_round_trips() {
        let tally = Tally {
            done: 10,
            errors: 1,
            seconds: 2.5,
            cpu: Ticks {
                busy: 30,
                all: 500,
                irq: 2,
            },
            ours: 25,
            daemon: 3,
            split: vec![6, 4],
        };
        let back = Tally::parse(&tally.line()).unwrap();
        assert_eq!(back.line(), tally.line());
    }
}

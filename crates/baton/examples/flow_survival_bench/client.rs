//! The client: this program again, started in the client namespace with
//! `client SOURCE TARGET N INTERVAL_MS`. It opens N connections to TARGET from SOURCE,
//! prints `READY <connected>`, then sends each connection's counter every INTERVAL_MS
//! (the connections' ticks spread over the interval) and checks every answer. On stdin,
//! `mark` notes the moment of the fault (answered `MARKED`) and `stop` (or the end of
//! stdin) ends the run: a second for answers in flight, then one `RESULT ...` line.

use std::io::{BufRead as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use baton_lab::Host;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::common::client_process::ClientProcess;
use crate::wire::{ANSWER_LEN, parse};

/// The argument that makes this program the client.
pub(crate) const CLIENT: &str = "client";
/// Connections being opened at once.
const OPENING: usize = 64;
/// How long the connections may take to open, each retried meanwhile.
const OPEN_WITHIN: Duration = Duration::from_secs(20);

/// What one run's connections went through, counted by the client.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Outcome {
    pub(crate) connected: usize,
    /// No error, no missing or repeated number, the same app, answers after the mark.
    pub(crate) survived: usize,
    /// Reset, closed by the peer, or another error.
    pub(crate) broken: usize,
    /// A number missing or repeated.
    pub(crate) disordered: usize,
    /// Answered by another app after the mark.
    pub(crate) moved: usize,
    /// Open and without error, but no answer after the mark.
    pub(crate) stalled: usize,
    /// Of the survivors: the longest silence, and the median of their longest silences.
    pub(crate) longest_pause: Duration,
    pub(crate) median_pause: Duration,
}

impl Outcome {
    fn line(&self) -> String {
        format!(
            "RESULT {} {} {} {} {} {} {} {}",
            self.connected,
            self.survived,
            self.broken,
            self.disordered,
            self.moved,
            self.stalled,
            self.longest_pause.as_micros(),
            self.median_pause.as_micros()
        )
    }

    fn parse(line: &str) -> Option<Outcome> {
        let numbers: Vec<u64> = line
            .strip_prefix("RESULT ")?
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        let [
            connected,
            survived,
            broken,
            disordered,
            moved,
            stalled,
            longest,
            median,
        ] = numbers[..]
        else {
            return None;
        };
        let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Some(Outcome {
            connected: count(connected),
            survived: count(survived),
            broken: count(broken),
            disordered: count(disordered),
            moved: count(moved),
            stalled: count(stalled),
            longest_pause: Duration::from_micros(longest),
            median_pause: Duration::from_micros(median),
        })
    }
}

// ---- the parent's side ----------------------------------------------------------------

/// The client running in its namespace.
pub(crate) struct Running {
    process: ClientProcess,
    pub(crate) connected: usize,
}

impl Running {
    /// Starts the client and waits until its connections are open.
    pub(crate) fn start(
        client: &Host,
        source: Ipv4Addr,
        target: SocketAddr,
        connections: usize,
        interval: Duration,
    ) -> Result<Running> {
        let args = [
            CLIENT.to_owned(),
            source.to_string(),
            target.to_string(),
            connections.to_string(),
            interval.as_millis().to_string(),
        ];
        let process = ClientProcess::spawn(client, args)?;
        let ready = process.expect("READY", OPEN_WITHIN + Duration::from_secs(10))?;
        let connected = ready
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .context("READY without a count")?;
        Ok(Running { process, connected })
    }

    /// Notes the fault's moment in the client (returns once the client has it).
    pub(crate) fn mark(&mut self) -> Result<()> {
        self.process.mark()
    }

    /// Ends the run; what the client counted.
    pub(crate) fn finish(mut self) -> Result<Outcome> {
        self.process.say("stop")?;
        let line = self.process.expect("RESULT", Duration::from_secs(15))?;
        Outcome::parse(&line).with_context(|| format!("bad result line {line:?}"))
    }
}

// ---- the client itself ------------------------------------------------------------------

/// One connection's history.
#[derive(Debug, Default)]
struct Connection {
    last: u64,
    app: Option<u8>,
    last_answer: Option<Instant>,
    error: bool,
    disordered: bool,
    moved: bool,
    answers_after_mark: u64,
    /// The longest silence ending after the mark.
    pause: Duration,
}

type Shared = Arc<Mutex<Connection>>;

/// The `client` mode.
pub(crate) fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(2).collect();
    let parsed = (|| {
        let source: Ipv4Addr = args.first()?.parse().ok()?;
        let target: SocketAddr = args.get(1)?.parse().ok()?;
        let n: usize = args.get(2)?.parse().ok()?;
        let interval = Duration::from_millis(args.get(3)?.parse().ok()?);
        Some((source, target, n, interval))
    })();
    let Some((source, target, n, interval)) = parsed else {
        eprintln!("usage: flow_survival_bench client SOURCE TARGET N INTERVAL_MS");
        return ExitCode::FAILURE;
    };
    let Some(runtime) = crate::common::serve::runtime("client", false) else {
        return ExitCode::FAILURE;
    };
    let outcome = runtime.block_on(drive(source, target, n, interval));
    println!("{}", outcome.line());
    ExitCode::SUCCESS
}

async fn drive(source: Ipv4Addr, target: SocketAddr, n: usize, interval: Duration) -> Outcome {
    let opening = Arc::new(Semaphore::new(OPENING));
    let mut opened = Vec::with_capacity(n);
    for _ in 0..n {
        let opening = Arc::clone(&opening);
        opened.push(tokio::spawn(async move {
            let _permit = opening.acquire().await.ok()?;
            open(source, target).await
        }));
    }
    let mut streams = Vec::with_capacity(n);
    for handle in opened {
        if let Ok(Some(stream)) = handle.await {
            streams.push(stream);
        }
    }
    say(&format!("READY {}", streams.len()));

    let (commands_tx, mut commands) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if commands_tx.send(line).is_err() {
                return;
            }
        }
        let _ = commands_tx.send("stop".to_owned());
    });
    let mark: Arc<Mutex<Option<Instant>>> = Arc::default();
    let (stop_tx, stop) = watch::channel(false);
    let start = tokio::time::Instant::now();
    let count = streams.len().max(1);
    let mut connections = Vec::new();
    for (i, stream) in streams.into_iter().enumerate() {
        let shared: Shared = Arc::default();
        connections.push(Arc::clone(&shared));
        let (read, write) = stream.into_split();
        let first =
            start + interval * u32::try_from(i).unwrap_or(0) / u32::try_from(count).unwrap_or(1);
        tokio::spawn(send(
            write,
            first,
            interval,
            stop.clone(),
            Arc::clone(&shared),
        ));
        tokio::spawn(receive(read, Arc::clone(&mark), shared));
    }
    while let Some(command) = commands.recv().await {
        match command.trim() {
            "mark" => {
                *lock(&mark) = Some(Instant::now());
                say("MARKED");
            }
            "stop" => break,
            _ => {}
        }
    }
    let _ = stop_tx.send(true);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let marked = lock(&mark).is_some();
    outcome(&connections, marked)
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

async fn open(source: Ipv4Addr, target: SocketAddr) -> Option<TcpStream> {
    let deadline = Instant::now() + OPEN_WITHIN;
    while Instant::now() < deadline {
        let attempt = async {
            let socket = TcpSocket::new_v4()?;
            socket.bind(SocketAddr::from((source, 0)))?;
            let stream = socket.connect(target).await?;
            stream.set_nodelay(true)?;
            Ok::<_, std::io::Error>(stream)
        };
        match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Ok(stream)) => return Some(stream),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    None
}

async fn send(
    mut write: tokio::net::tcp::OwnedWriteHalf,
    first: tokio::time::Instant,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
    shared: Shared,
) {
    let mut tick = tokio::time::interval_at(first, interval);
    // Ticks missed while a write waited are skipped, not caught up: the numbers stay
    // consecutive either way.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut counter: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                counter += 1;
                if write.write_all(&counter.to_be_bytes()).await.is_err() {
                    lock(&shared).error = true;
                    return;
                }
            }
            // Held open: dropping the write half would send a FIN, and the app's close
            // would then read as a broken connection while the last answers come in.
            _ = stop.changed() => std::future::pending::<()>().await,
        }
    }
}

async fn receive(
    mut read: tokio::net::tcp::OwnedReadHalf,
    mark: Arc<Mutex<Option<Instant>>>,
    shared: Shared,
) {
    let mut answer = [0u8; ANSWER_LEN];
    loop {
        if read.read_exact(&mut answer).await.is_err() {
            lock(&shared).error = true;
            return;
        }
        let now = Instant::now();
        let (number, app) = parse(answer);
        let mark = *lock(&mark);
        let mut c = lock(&shared);
        if number != c.last + 1 {
            c.disordered = true;
        }
        c.last = c.last.max(number);
        match c.app {
            None => c.app = Some(app),
            Some(first) if first != app => c.moved = true,
            Some(_) => {}
        }
        if mark.is_some_and(|m| now >= m) {
            c.answers_after_mark += 1;
            if let Some(last) = c.last_answer {
                c.pause = c.pause.max(now - last);
            }
        }
        c.last_answer = Some(now);
    }
}

fn outcome(connections: &[Shared], marked: bool) -> Outcome {
    let mut outcome = Outcome {
        connected: connections.len(),
        ..Outcome::default()
    };
    let mut pauses = Vec::new();
    for shared in connections {
        let c = lock(shared);
        if c.error {
            outcome.broken += 1;
        } else if c.disordered {
            outcome.disordered += 1;
        } else if c.moved {
            outcome.moved += 1;
        } else if marked && c.answers_after_mark == 0 {
            outcome.stalled += 1;
        } else {
            outcome.survived += 1;
            pauses.push(c.pause);
        }
    }
    pauses.sort();
    outcome.longest_pause = pauses.last().copied().unwrap_or_default();
    outcome.median_pause = pauses.get(pauses.len() / 2).copied().unwrap_or_default();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_line_round_trips() {
        let outcome = Outcome {
            connected: 100,
            survived: 97,
            broken: 1,
            disordered: 1,
            moved: 0,
            stalled: 1,
            longest_pause: Duration::from_micros(412_345),
            median_pause: Duration::from_micros(380_001),
        };
        assert_eq!(Outcome::parse(&outcome.line()), Some(outcome));
    }
}

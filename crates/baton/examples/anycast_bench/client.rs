//! The clients: this program again, started in the client namespace.
//!
//! - `probe TARGET INTERVAL_MS`: a new connection and one GET every INTERVAL_MS, each in a
//!   task of its own (so a request stuck in a SYN retransmit does not hold back the next).
//! - `hold TARGET N INTERVAL_MS`: N keep-alive connections opened first, then one GET on
//!   each every INTERVAL_MS (their ticks spread over the interval); a connection that
//!   errs, is closed inside an answer or times out is broken for good. One the server
//!   closes between two answers (a drain: an idle connection closed, or an answer that
//!   said `Connection: close`) is closed cleanly; so is one closed as a request went out,
//!   before any byte of an answer (which HTTP clients retry), counted apart.
//!
//! Both print `READY` once going. On stdin, `mark` notes the moment of the fault (answered
//! `MARKED`); `AFTER` seconds later they stop and print what they saw, times in
//! microseconds from the mark (negative: before it): `R START LATENCY ok|ERROR BODY` per
//! probe request, `C INDEX FIRST_BODY BROKEN_AT CHANGES CLOSED_AT UNANSWERED` per held
//! connection (BROKEN_AT and CLOSED_AT `-` when it never broke or was never closed, CHANGES
//! how often its answers changed app, UNANSWERED 1 when the close crossed a request).

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use baton_lab::Host;
use tokio::net::TcpStream;

use crate::common::client_process::ClientProcess;
use crate::http1;

pub(crate) const PROBE: &str = "probe";
pub(crate) const HOLD: &str = "hold";
/// A request not answered within this is failed.
const REQUEST_DEADLINE: Duration = Duration::from_secs(3);
/// A held connection whose answer takes longer than this counts as broken.
const HOLD_DEADLINE: Duration = Duration::from_secs(2);

/// The moment of the mark, once the parent sent it.
static MARK: OnceLock<Instant> = OnceLock::new();

fn micros_from_mark(at: Instant) -> i64 {
    let mark = *MARK.get().unwrap_or(&at);
    if at >= mark {
        i64::try_from((at - mark).as_micros()).unwrap_or(i64::MAX)
    } else {
        -i64::try_from((mark - at).as_micros()).unwrap_or(i64::MAX)
    }
}

/// The client's own `main`: `probe TARGET INTERVAL_MS AFTER` or `hold TARGET N INTERVAL_MS
/// AFTER`.
pub(crate) fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(runtime) = crate::common::serve::runtime("client", false) else {
        return ExitCode::FAILURE;
    };
    let parsed = |i: usize| args.get(i).and_then(|a| a.parse::<u64>().ok());
    let target = args.get(1).and_then(|a| a.parse::<SocketAddr>().ok());
    let result = match (args[0].as_str(), target) {
        (PROBE, Some(target)) => match (parsed(2), parsed(3)) {
            (Some(interval), Some(after)) => runtime.block_on(probe(target, interval, after)),
            _ => Err("usage: probe TARGET INTERVAL_MS AFTER_S".into()),
        },
        (HOLD, Some(target)) => match (parsed(2), parsed(3), parsed(4)) {
            (Some(n), Some(interval), Some(after)) => {
                runtime.block_on(hold(target, n as usize, interval, after))
            }
            _ => Err("usage: hold TARGET N INTERVAL_MS AFTER_S".into()),
        },
        _ => Err("usage: probe|hold TARGET ...".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("client: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Waits for `mark` on stdin (a thread: stdin blocks), then `after` seconds more.
async fn until_mark_and_after(after: u64) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            if line.trim() == "mark" {
                let _ = MARK.set(Instant::now());
                println!("MARKED");
                let _ = std::io::stdout().flush();
                break;
            }
            line.clear();
        }
        let _ = tx.send(());
    });
    let _ = rx.await;
    tokio::time::sleep(Duration::from_secs(after)).await;
}

async fn probe(target: SocketAddr, interval: u64, after: u64) -> Result<(), String> {
    let results = Arc::new(Mutex::new(Vec::new()));
    let sender = {
        let results = Arc::clone(&results);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(interval));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let results = Arc::clone(&results);
                tokio::spawn(async move {
                    let start = Instant::now();
                    let outcome = one_request(target).await;
                    let latency = start.elapsed();
                    if let Ok(mut results) = results.lock() {
                        results.push((start, latency, outcome));
                    }
                });
            }
        })
    };
    println!("READY");
    let _ = std::io::stdout().flush();
    until_mark_and_after(after).await;
    sender.abort();
    // Requests in flight get their deadline.
    tokio::time::sleep(REQUEST_DEADLINE + Duration::from_millis(100)).await;
    let results = results.lock().map_err(|_| "poisoned")?;
    let mut out = std::io::stdout().lock();
    for (start, latency, outcome) in results.iter() {
        let (state, body) = match outcome {
            Ok(body) => ("ok", body.trim().replace(' ', "/")),
            Err(error) => (error.as_str(), "-".into()),
        };
        let _ = writeln!(
            out,
            "R {} {} {state} {body}",
            micros_from_mark(*start),
            latency.as_micros()
        );
    }
    println!("END");
    Ok(())
}

async fn one_request(target: SocketAddr) -> Result<String, String> {
    let connect = tokio::time::timeout(REQUEST_DEADLINE, TcpStream::connect(target));
    let mut stream = match connect.await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return Err(http1::kind(error)),
        Err(_) => return Err("timeout".into()),
    };
    http1::get(&mut stream, true, REQUEST_DEADLINE).await
}

/// One held connection's story.
struct Held {
    first: String,
    broken_at: Option<Instant>,
    changes: u32,
    /// Closed cleanly by the server, and whether the close crossed a request.
    closed_at: Option<Instant>,
    unanswered: bool,
}

/// Before a request on a kept-alive connection: whether the server closed it meanwhile
/// (`Ok(true)`), or something else came or went wrong (`Err`).
fn closed_while_idle(stream: &TcpStream) -> Result<bool, ()> {
    let mut byte = [0u8; 1];
    match stream.try_read(&mut byte) {
        Ok(0) => Ok(true),
        Ok(_) => Err(()),
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
        Err(_) => Err(()),
    }
}

async fn hold(target: SocketAddr, n: usize, interval: u64, after: u64) -> Result<(), String> {
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        streams.push(open(target).await?);
    }
    let mut tasks = Vec::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    for (index, mut stream) in streams.into_iter().enumerate() {
        let mut stop = stop_rx.clone();
        let offset = Duration::from_millis(interval) * index as u32 / n as u32;
        tasks.push(tokio::spawn(async move {
            let mut held = Held {
                first: String::new(),
                broken_at: None,
                changes: 0,
                closed_at: None,
                unanswered: false,
            };
            let mut last_app = String::new();
            tokio::time::sleep(offset).await;
            let mut tick = tokio::time::interval(Duration::from_millis(interval));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => break,
                }
                match closed_while_idle(&stream) {
                    Ok(false) => {}
                    Ok(true) => {
                        held.closed_at = Some(Instant::now());
                        break;
                    }
                    Err(()) => {
                        held.broken_at = Some(Instant::now());
                        break;
                    }
                }
                match http1::get(&mut stream, false, HOLD_DEADLINE).await {
                    Ok(body) => {
                        let body = body.trim().replace(' ', "/");
                        let app = body.split('/').next().unwrap_or("").to_owned();
                        if held.first.is_empty() {
                            held.first = body;
                        } else if app != last_app {
                            held.changes += 1;
                        }
                        last_app = app;
                    }
                    Err(error) if error == http1::UNANSWERED && !held.first.is_empty() => {
                        held.closed_at = Some(Instant::now());
                        held.unanswered = true;
                        break;
                    }
                    Err(_) => {
                        held.broken_at = Some(Instant::now());
                        break;
                    }
                }
            }
            (index, held)
        }));
    }
    println!("READY");
    let _ = std::io::stdout().flush();
    until_mark_and_after(after).await;
    let _ = stop_tx.send(true);
    let mut out = std::io::stdout().lock();
    for task in tasks {
        let Ok((index, held)) = task.await else {
            continue;
        };
        let at = |moment: Option<Instant>| {
            moment.map_or("-".to_owned(), |at| micros_from_mark(at).to_string())
        };
        let (broken, closed) = (at(held.broken_at), at(held.closed_at));
        let first = if held.first.is_empty() {
            "-"
        } else {
            &held.first
        };
        let _ = writeln!(
            out,
            "C {index} {first} {broken} {} {closed} {}",
            held.changes,
            u8::from(held.unanswered)
        );
    }
    let _ = writeln!(out, "END");
    Ok(())
}

/// A connection to `target`, retried for a while (the lab may still be settling).
async fn open(target: SocketAddr) -> Result<TcpStream, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(target)).await {
            Ok(Ok(stream)) => return Ok(stream),
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Ok(Err(error)) => return Err(format!("connecting to {target}: {error}")),
            Err(_) => return Err(format!("connecting to {target}: timeout")),
        }
    }
}

// ---- the parent's side ----------------------------------------------------------------

/// A client running in its namespace, ready.
pub(crate) struct Running(ClientProcess);

impl Running {
    /// Starts `this program ARGS...` in `client` and waits for its `READY`.
    pub(crate) fn start(client: &Host, args: &[String]) -> Result<Running> {
        let process = ClientProcess::spawn(client, args)?;
        process.expect("READY", Duration::from_secs(30))?;
        Ok(Running(process))
    }

    /// Marks the fault's moment in the client's clock.
    pub(crate) fn mark(&mut self) -> Result<()> {
        self.0.mark()
    }

    /// The lines of its report, once it is done (`within` after the mark at most).
    pub(crate) fn report(self, within: Duration) -> Result<Vec<String>> {
        let deadline = Instant::now() + within;
        let mut report = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .0
                .next_line(left)
                .with_context(|| format!("the client's report did not come within {within:?}"))?;
            if line == "END" {
                return Ok(report);
            }
            report.push(line);
        }
    }
}

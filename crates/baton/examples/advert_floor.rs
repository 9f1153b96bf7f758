//! The floor of one VRRP instance at 10 ms: what a backup (and a master) must cost at the
//! least, measured beside keepalived and baton in the same rounds (issue 13, item 5).
//!
//! Two hosts in namespaces of this run's own (`floor<pid>x<n>-lb1`, `...-lb2`, joined by a
//! bridge in `...-switch`), VRRPv3, VRID 51, adverts every 10 ms (failover_bench's
//! configuration). `--side backup`: keepalived is the master on lb2 (priority 150) and lb1
//! (priority 100) runs, in turn, one of four backups:
//!
//! 1. `keepalived`, the reference;
//! 2. `baton`: `baton run --keepalived-conf` (`BATON_BIN`, or `baton` beside this example);
//! 3. `engine loop`: this program, re-executed in lb1 (`ip netns exec`, the hidden `loop`
//!    subcommand): one thread blocking in an epoll of its own on a raw VRRP socket (set up
//!    as `baton_net::VrrpSocket` sets up its own) and a timerfd, every advert given to
//!    baton's engine (`baton_vrrp::Router`, built from the same keepalived.conf through
//!    `baton_config` as the daemon builds it), the timerfd re-armed to `poll_timeout()`
//!    only when it moved. The system calls per advert are keepalived's: epoll_wait,
//!    recvmsg until EAGAIN, timerfd_settime;
//! 4. `bare loop`: the same loop without the engine (each packet re-arms the timerfd to
//!    Master_Down_Interval from now): the kernel's and the system calls' share alone.
//!
//! `--side master` measures the masters instead: the four on lb2 (the bare loop sends one
//! advert encoded beforehand every 10 ms), a keepalived backup on lb1. The loops leave the
//! VIP alone (no addresses, no gratuitous ARP): only adverts are measured.
//!
//! The figure is the CPU time (schedstat: every thread of every process in the host's
//! namespace, nanoseconds) over `--window` seconds (20) once the election settled;
//! candidates interleaved (each round starts with the next one), `ROUNDS` rounds (5),
//! medians, the ratio to keepalived's of the same rounds, the load average per run. A run in
//! which lb1 took the VIP, or a loop changed state, is reported and left out.
//! `--callgrind` counts instructions instead: every candidate under valgrind's callgrind
//! (children traced, counting from the window's start), divided by the window's adverts
//! (window / 10 ms); the keepalived backup facing a master under callgrind waits 100
//! adverts (`down_timer_adverts 100`) rather than 3, since valgrind makes any master late
//! now and then. The engine loop gives each sent advert back (`Router::recycle`).
//!
//!     cargo build --release -p baton --bin baton --example advert_floor
//!     sudo target/release/examples/advert_floor [ROUNDS] [--window SECONDS] [--side backup|master|both] [--only NAME] [--callgrind]
//!
//! Needs root and keepalived; builds its own namespaces and removes them.

#[path = "common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_lab::{Host, Lab};
use common::host_cpu::{cpu_time, instructions, load_average, under_callgrind, zero_instructions};
use common::lab::{RunDir, VipWatch, holds, wait_for};

/// The daemon's allocator, so that the engine loop allocates as the daemon does.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The advert interval measured.
const INTERVAL: Duration = Duration::from_millis(10);
/// How long the election gets to settle before the window opens.
const SETTLE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidate {
    Keepalived,
    Baton,
    EngineLoop,
    BareLoop,
}

const CANDIDATES: [Candidate; 4] = [
    Candidate::Keepalived,
    Candidate::Baton,
    Candidate::EngineLoop,
    Candidate::BareLoop,
];

impl Candidate {
    fn name(self) -> &'static str {
        match self {
            Candidate::Keepalived => "keepalived",
            Candidate::Baton => "baton",
            Candidate::EngineLoop => "engine loop",
            Candidate::BareLoop => "bare loop",
        }
    }

    /// A loop of this program's, which reports its counters when stopped.
    fn is_loop(self) -> bool {
        matches!(self, Candidate::EngineLoop | Candidate::BareLoop)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Backup,
    Master,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Backup => "backup",
            Side::Master => "master",
        }
    }

    fn priority(self) -> u8 {
        match self {
            Side::Backup => 100,
            Side::Master => 150,
        }
    }

    /// The host this side runs on: the master holds lb2, as in failover_bench.
    fn host(self) -> &'static str {
        match self {
            Side::Backup => "lb1",
            Side::Master => "lb2",
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Backup => Side::Master,
            Side::Master => Side::Backup,
        }
    }
}

#[derive(Debug)]
struct Options {
    rounds: usize,
    window: Duration,
    sides: Vec<Side>,
    only: Option<String>,
    callgrind: bool,
}

fn arguments(args: &[String]) -> Options {
    let mut options = Options {
        rounds: 5,
        window: Duration::from_secs(20),
        sides: vec![Side::Backup, Side::Master],
        only: None,
        callgrind: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--window" => match args.next().and_then(|w| w.parse().ok()) {
                Some(seconds) => options.window = Duration::from_secs_f64(seconds),
                None => usage(),
            },
            "--side" => {
                options.sides = match args.next().map(String::as_str) {
                    Some("backup") => vec![Side::Backup],
                    Some("master") => vec![Side::Master],
                    Some("both") => vec![Side::Backup, Side::Master],
                    _ => usage(),
                }
            }
            "--only" => options.only = args.next().cloned(),
            "--callgrind" => options.callgrind = true,
            other => match other.parse() {
                Ok(n) if n > 0 => options.rounds = n,
                _ => usage(),
            },
        }
    }
    options
}

fn usage() -> ! {
    eprintln!(
        "usage: advert_floor [ROUNDS] [--window SECONDS] [--side backup|master|both] \
         [--only NAME] [--callgrind]"
    );
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("loop") {
        if let Err(error) = floor_loop::run(&args[1..]) {
            eprintln!("advert_floor loop: {error}");
            std::process::exit(1);
        }
        return;
    }
    let options = arguments(&args);
    let Some(baton) = common::baton::release_binary() else {
        eprintln!("build the daemon first: cargo build --release -p baton");
        std::process::exit(2);
    };
    common::baton::warn_if_stale(&baton);
    let Some(keepalived) = common::programs::find("keepalived") else {
        eprintln!("advert_floor measures against keepalived: install it first");
        std::process::exit(2);
    };
    let Ok(this) = std::env::current_exe() else {
        eprintln!("advert_floor: cannot find its own executable to run the loops");
        std::process::exit(2);
    };
    let run_dir = match RunDir::prepare("advert_floor") {
        Ok(dir) => dir,
        Err(reason) => {
            eprintln!("{reason}");
            std::process::exit(2);
        }
    };
    let context = Context {
        baton,
        this,
        callgrind: options.callgrind,
        window: options.window,
    };
    let candidates: Vec<Candidate> = CANDIDATES
        .into_iter()
        .filter(|c| {
            *c == Candidate::Keepalived
                || options
                    .only
                    .as_deref()
                    .is_none_or(|only| c.name().contains(only))
        })
        .collect();
    println!(
        "advert_floor: {}; {} ({}); baton {}",
        common::machine::describe(std::thread::available_parallelism().map_or(0, |n| n.get())),
        common::programs::version(&keepalived, "-v"),
        keepalived.display(),
        context.baton.display()
    );
    let mut report = String::new();
    for side in &options.sides {
        report.push_str(&table(
            &run_dir,
            &context,
            *side,
            &candidates,
            options.rounds,
        ));
        common::interrupt::wait_if_interrupted();
    }
    println!("\n{report}");
    let what = if options.callgrind {
        "instructions per advert (callgrind, all threads, window / 10 ms adverts)"
    } else {
        "CPU = user + system time of every thread in the host's namespace (schedstat)"
    };
    println!(
        "VRRPv3, one instance, adverts every 10 ms; {} rounds, interleaved, medians; {what}.",
        options.rounds
    );
}

/// What every run needs.
#[derive(Debug)]
struct Context {
    baton: PathBuf,
    /// This program, for the loops.
    this: PathBuf,
    callgrind: bool,
    window: Duration,
}

/// One run's figures.
#[derive(Debug)]
struct Run {
    /// The candidate's CPU time over the window (ms), or instructions per advert.
    spent: f64,
    /// The keepalived peer's, for comparison between runs.
    peer: f64,
}

/// Measures every candidate on `side`, `rounds` times, interleaved; the Markdown table.
fn table(
    run_dir: &RunDir,
    context: &Context,
    side: Side,
    candidates: &[Candidate],
    rounds: usize,
) -> String {
    // Per round, per candidate: the run, if kept.
    let mut runs: Vec<Vec<Option<Run>>> = Vec::new();
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        order.rotate_left(round % candidates.len());
        let mut this_round: Vec<Option<Run>> = candidates.iter().map(|_| None).collect();
        for index in order {
            let candidate = candidates[index];
            let outcome = measure(run_dir, context, side, candidate);
            common::interrupt::wait_if_interrupted();
            match outcome {
                Ok(run) => {
                    eprintln!(
                        "  round {} {} {}: {:.1} (keepalived peer {:.1}), load average {}",
                        round + 1,
                        side.name(),
                        candidate.name(),
                        run.spent,
                        run.peer,
                        load_average()
                    );
                    this_round[index] = Some(run);
                }
                Err(error) => eprintln!(
                    "  round {} {} {}: left out: {error} (load average {})",
                    round + 1,
                    side.name(),
                    candidate.name(),
                    load_average()
                ),
            }
        }
        runs.push(this_round);
    }
    let unit = if context.callgrind {
        "instructions per advert".to_owned()
    } else {
        format!("CPU per {:.0} s", context.window.as_secs_f64())
    };
    let reference = candidates.iter().position(|c| *c == Candidate::Keepalived);
    let mut out = format!(
        "| {0} | {0} {unit}, median (range) | / keepalived (ratio of medians) | / keepalived (median of rounds) | keepalived peer ({1}) | runs kept |\n|---|---|---|---|---|---|\n",
        side.name(),
        side.other().name()
    );
    let median_of = |values: Vec<f64>| common::stats::median(&values);
    let keepalived = reference.and_then(|r| {
        median_of(
            runs.iter()
                .filter_map(|round| round[r].as_ref().map(|run| run.spent))
                .collect(),
        )
    });
    for (index, candidate) in candidates.iter().enumerate() {
        let spent: Vec<f64> = runs
            .iter()
            .filter_map(|round| round[index].as_ref().map(|run| run.spent))
            .collect();
        let peers: Vec<f64> = runs
            .iter()
            .filter_map(|round| round[index].as_ref().map(|run| run.peer))
            .collect();
        let per_round: Vec<f64> = runs
            .iter()
            .filter_map(|round| {
                let own = round[index].as_ref()?.spent;
                let reference = round[reference?].as_ref()?.spent;
                (reference > 0.0).then(|| own / reference)
            })
            .collect();
        let range = match (
            spent.iter().copied().reduce(f64::min),
            spent.iter().copied().reduce(f64::max),
        ) {
            (Some(low), Some(high)) => format!(" ({low:.0}-{high:.0})"),
            _ => String::new(),
        };
        let figure = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.0}"));
        let _ = writeln!(
            out,
            "| {} | {}{range} | {} | {} | {} | {} of {rounds} |",
            candidate.name(),
            figure(median_of(spent.clone())),
            common::stats::ratio(median_of(spent.clone()), keepalived),
            median_of(per_round).map_or("n/a".to_owned(), |r| format!("{r:.2}")),
            figure(median_of(peers)),
            spent.len(),
        );
    }
    out.push('\n');
    out
}

/// The two hosts: lb1 10.0.3.5 and lb2 10.0.3.6 on one bridge, in namespaces named
/// `floor<pid>x<n>-...`.
fn lab() -> Result<Lab, String> {
    Lab::builder()
        .prefix("floor")
        .host("lb1", "10.0.3.5/24")
        .host("lb2", "10.0.3.6/24")
        .build()
        .map_err(|e| e.to_string())
}

/// One run: the keepalived peer and `candidate` on `side`, settled, then the window.
fn measure(
    run_dir: &RunDir,
    context: &Context,
    side: Side,
    candidate: Candidate,
) -> Result<Run, String> {
    let lab = lab()?;
    let dir = run_dir.fresh()?;
    let (own, peer) = (lab.host(side.host()), lab.host(side.other().host()));
    let (lb1, lb2) = (lab.host("lb1"), lab.host("lb2"));
    // Under valgrind a daemon takes seconds to start.
    let start_time = Duration::from_secs(if context.callgrind { 60 } else { 15 });
    let mut measured;
    let _peer_process;
    match side {
        Side::Backup => {
            _peer_process = start(
                peer,
                context,
                Candidate::Keepalived,
                &dir,
                side.other(),
                false,
            )?;
            if !wait_for(start_time, || holds(lb2)) {
                return Err("keepalived on lb2 never became master".into());
            }
            measured = start(own, context, candidate, &dir, side, true)?;
        }
        Side::Master => {
            measured = start(own, context, candidate, &dir, side, true)?;
            if candidate.is_loop() {
                std::thread::sleep(Duration::from_secs(1));
            } else if !wait_for(start_time, || holds(lb2)) {
                return Err(format!("{} on lb2 never became master", candidate.name()));
            }
            _peer_process = start(
                peer,
                context,
                Candidate::Keepalived,
                &dir,
                side.other(),
                false,
            )?;
        }
    }
    std::thread::sleep(if context.callgrind {
        SETTLE * 3
    } else {
        SETTLE
    });
    // The loops leave the VIP alone; the daemons as master must hold it.
    let master_daemon = side == Side::Backup || !candidate.is_loop();
    if holds(lb1) || (master_daemon && !holds(lb2)) {
        return Err("the election did not settle with lb2 master".into());
    }
    // Any VIP added on lb1 during the window is a takeover.
    let watch = VipWatch::start(lb1)?;
    std::thread::sleep(Duration::from_millis(200));
    if context.callgrind {
        zero_instructions(own);
    }
    let before = (cpu_time(own), cpu_time(peer));
    std::thread::sleep(context.window);
    let after = (cpu_time(own), cpu_time(peer));
    let counted = context.callgrind.then(|| instructions(own));
    if watch.added().is_some() || holds(lb1) {
        return Err("lb1 took the VIP during the window".into());
    }
    if master_daemon && !holds(lb2) {
        return Err("lb2 lost the VIP during the window".into());
    }
    if candidate.is_loop() {
        measured.terminate();
        let log = std::fs::read_to_string(dir.join(format!("{}.log", own.name())))
            .map_err(|e| format!("the loop's log: {e}"))?;
        let report = log
            .lines()
            .find(|line| line.starts_with("floor loop: packets="))
            .ok_or_else(|| format!("the loop did not report: {log}"))?;
        eprintln!("    {} {}", side.name(), report);
        let masters = report
            .split_whitespace()
            .find_map(|word| word.strip_prefix("masters="))
            .and_then(|n| n.parse::<u32>().ok());
        // A backup loop that took over, or an engine master that stepped down and back.
        let expected = match (side, candidate) {
            (Side::Master, Candidate::EngineLoop) => 1,
            _ => 0,
        };
        if masters != Some(expected) {
            return Err(format!("the loop changed state: {report}"));
        }
    }
    let adverts = context.window.as_secs_f64() / INTERVAL.as_secs_f64();
    Ok(Run {
        spent: match counted {
            Some(instructions) => instructions as f64 / adverts,
            None => (after.0 - before.0) * 1e3,
        },
        peer: (after.1 - before.1) * 1e3,
    })
}

/// Starts `candidate` as `side` in `host`, its output in `<host>.log` in `dir`; under
/// callgrind with `--callgrind` when it is the one `measured` (not the keepalived peer).
fn start(
    host: &Host,
    context: &Context,
    candidate: Candidate,
    dir: &Path,
    side: Side,
    measured: bool,
) -> Result<baton_lab::Child, String> {
    let conf_path = dir.join(format!("{}.conf", host.name()));
    let mut conf = common::keepalived::conf(host.name(), 3, "0.01", side.priority());
    if context.callgrind && !measured && side == Side::Backup {
        // A master under valgrind misses a 30 ms Master_Down_Interval now and then; the
        // peer backup waits 100 adverts instead, which changes nothing the master does.
        conf = conf.replace(
            "advert_int 0.01\n",
            "advert_int 0.01\n    down_timer_adverts 100\n",
        );
    }
    std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
    let mut command = match candidate {
        Candidate::Keepalived => common::keepalived::command(host, &conf_path, dir),
        Candidate::Baton => {
            let mut c = host.command(&context.baton);
            c.arg("run")
                .arg("--keepalived-conf")
                .arg(&conf_path)
                .arg("--control")
                .arg(dir.join(format!("{}.sock", host.name())));
            c
        }
        Candidate::EngineLoop | Candidate::BareLoop => {
            let mut c = host.command(&context.this);
            c.arg("loop")
                .arg(side.name())
                .arg(if candidate == Candidate::EngineLoop {
                    "engine"
                } else {
                    "bare"
                })
                .arg(&conf_path)
                .arg(host.address().to_string());
            c
        }
    };
    // Only the candidate is counted; the keepalived peer runs natively.
    if context.callgrind && measured {
        command = under_callgrind(host, &command);
    }
    let log = dir.join(format!("{}.log", host.name()));
    common::lab::spawn_logged(host, command, &log)
}

/// The hidden `loop ROLE engine|bare CONF ADDRESS` subcommand, run in a lab host: one
/// thread, one epoll, a raw VRRP socket and a timerfd, as keepalived's VRRP process.
mod floor_loop {
    use std::io::{IoSlice, IoSliceMut};
    use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
    use std::os::fd::AsRawFd;
    use std::path::Path;
    use std::time::{Duration, Instant};

    use baton_vrrp::{
        Advertisement, Centiseconds, ChecksumMode, Event, Priority, Router, State, VersionFields,
        Vrid,
    };
    use nix::errno::Errno;
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    use nix::sys::socket::{
        ControlMessage, MsgFlags, SockaddrIn, recvmsg, sendmsg, setsockopt, sockopt,
    };
    use nix::sys::time::TimeSpec;
    use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
    use socket2::{Domain, Protocol, Socket, Type};

    use super::INTERVAL;

    const INTERFACE: &str = "eth0";
    const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
    /// baton_net's: the receive buffer, its control space, the receive queue.
    const RECEIVE_BUFFER: usize = 60 + 8 + 255 * 16 + 8;
    const CONTROL_LEN: usize = 160;
    const RECEIVE_QUEUE_BYTES: usize = 4 << 20;
    /// When the loop started, for its log.
    static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    /// epoll keys, in the order handled when several are ready at once.
    const SOCKET: u64 = 0;
    const TIMER: u64 = 1;
    const SIGNALS: u64 = 2;

    /// What the loop does with its inputs.
    enum Brain {
        /// baton's engine.
        Engine(Router),
        /// Nothing but the timer: a backup's Master_Down_Interval from each packet, a
        /// master's one advert (encoded beforehand) per interval.
        Bare {
            master: bool,
            advert: Vec<u8>,
            src: Ipv4Addr,
            next: Option<Instant>,
            down_interval: Duration,
        },
    }

    #[derive(Debug, Default)]
    struct Counters {
        packets: u64,
        dropped: u64,
        timeouts: u64,
        masters: u64,
        sent: u64,
        settimes: u64,
    }

    pub(super) fn run(args: &[String]) -> Result<(), String> {
        let [role, brain, conf, address] = args else {
            return Err("usage: loop backup|master engine|bare CONF ADDRESS".into());
        };
        let master = match role.as_str() {
            "backup" => false,
            "master" => true,
            _ => return Err(format!("role {role}?")),
        };
        STARTED.get_or_init(Instant::now);
        let address: Ipv4Addr = address.parse().map_err(|e| format!("{address}: {e}"))?;
        let mut brain = match brain.as_str() {
            "engine" => Brain::Engine(engine(Path::new(conf), address)?),
            "bare" => bare(master, address)?,
            _ => return Err(format!("brain {brain}?")),
        };
        // SIGTERM ends the loop with a report, read through the epoll like the rest.
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGTERM);
        mask.add(Signal::SIGINT);
        mask.thread_block()
            .map_err(|e| format!("blocking signals: {e}"))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| format!("signalfd: {e}"))?;
        let wire = open_socket(address)?;
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(|e| format!("timerfd: {e}"))?;
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| e.to_string())?;
        let interest = |key| EpollEvent::new(EpollFlags::EPOLLIN, key);
        epoll
            .add(&wire.socket, interest(SOCKET))
            .and_then(|()| epoll.add(&timer, interest(TIMER)))
            .and_then(|()| epoll.add(&signals, interest(SIGNALS)))
            .map_err(|e| format!("epoll_ctl: {e}"))?;
        let mut counters = Counters::default();
        let mut armed: Option<Instant> = None;
        let mut buf = vec![0u8; RECEIVE_BUFFER];
        let mut control: Vec<u8> = Vec::with_capacity(CONTROL_LEN);
        let mut events = [EpollEvent::empty(); 4];
        loop {
            // What the last inputs (or the start) asked for, then the timer re-armed only
            // when the deadline moved, as baton_net's `Deadline`.
            brain.flush(&wire, &mut counters);
            let next = brain.deadline();
            if next != armed {
                match next {
                    Some(at) => {
                        let delay = at
                            .saturating_duration_since(Instant::now())
                            .max(Duration::from_nanos(1));
                        timer
                            .set(
                                Expiration::OneShot(TimeSpec::from_duration(delay)),
                                TimerSetTimeFlags::empty(),
                            )
                            .map_err(|e| format!("timerfd_settime: {e}"))?;
                    }
                    None => timer.unset().map_err(|e| format!("timerfd_settime: {e}"))?,
                }
                counters.settimes += 1;
                armed = next;
            }
            let ready = match epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(error) => return Err(format!("epoll_wait: {error}")),
            };
            // The socket before the timer, as keepalived's scheduler takes ready fds before
            // expired timers: a loop that woke late reads the adverts queued meanwhile
            // before its Master_Down_Timer is looked at (baton's catch-up does the same).
            events[..ready].sort_by_key(EpollEvent::data);
            for event in &events[..ready] {
                match event.data() {
                    SOCKET => loop {
                        match read_one(&wire.socket, &mut buf, &mut control) {
                            Ok(Some((src, dst, ttl, payload))) => {
                                counters.packets += 1;
                                brain.packet(
                                    &mut counters,
                                    Instant::now(),
                                    src,
                                    dst,
                                    ttl,
                                    &buf[payload],
                                );
                            }
                            Ok(None) => counters.dropped += 1,
                            Err(Errno::EAGAIN) => break,
                            Err(Errno::EINTR) => {}
                            Err(error) => return Err(format!("recvmsg: {error}")),
                        }
                    },
                    TIMER => {
                        if timer.wait().is_ok() {
                            armed = None;
                            counters.timeouts += 1;
                            brain.timeout(&wire, &mut counters, Instant::now());
                        }
                    }
                    _ => {
                        eprintln!(
                            "floor loop: packets={} dropped={} timeouts={} masters={} sent={} settimes={}",
                            counters.packets,
                            counters.dropped,
                            counters.timeouts,
                            counters.masters,
                            counters.sent,
                            counters.settimes
                        );
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The VRRP socket and its interface's index (for IP_PKTINFO), as baton_net keeps them.
    struct Wire {
        socket: Socket,
        index: u32,
    }

    impl Brain {
        fn packet(
            &mut self,
            counters: &mut Counters,
            now: Instant,
            src: Ipv4Addr,
            dst: Ipv4Addr,
            ttl: u8,
            payload: &[u8],
        ) {
            match self {
                Brain::Engine(router) => {
                    let received = baton_vrrp::Received {
                        interface: INTERFACE,
                        src: IpAddr::V4(src),
                        dst: IpAddr::V4(dst),
                        ttl,
                    };
                    if router.handle_packet(now, received, payload).is_err() {
                        counters.dropped += 1;
                    }
                }
                Brain::Bare {
                    master: false,
                    next,
                    down_interval,
                    ..
                } => *next = Some(now + *down_interval),
                Brain::Bare { .. } => {}
            }
        }

        fn timeout(&mut self, wire: &Wire, counters: &mut Counters, now: Instant) {
            match self {
                Brain::Engine(router) => router.handle_timeout(now),
                Brain::Bare {
                    master: true,
                    advert,
                    src,
                    next,
                    ..
                } => {
                    if send(wire, *src, GROUP, advert).is_ok() {
                        counters.sent += 1;
                    }
                    *next = Some(now + INTERVAL);
                }
                Brain::Bare {
                    next,
                    down_interval,
                    ..
                } => {
                    // A bare backup whose master went silent (not just read late): counted,
                    // and waits again.
                    if next.is_some_and(|at| at <= now) {
                        counters.masters += 1;
                        *next = Some(now + *down_interval);
                    }
                }
            }
        }

        /// Sends what is due and drains the engine's other outputs.
        fn flush(&mut self, wire: &Wire, counters: &mut Counters) {
            if let Brain::Engine(router) = self {
                while let Some((id, transmit)) = router.poll_transmit() {
                    if let (IpAddr::V4(src), IpAddr::V4(dst)) = (transmit.src, transmit.dst)
                        && send(wire, src, dst, &transmit.payload).is_ok()
                    {
                        counters.sent += 1;
                    }
                    // Its buffer carries the next advert: sending allocates nothing.
                    router.recycle(id, transmit);
                }
                while router.poll_action().is_some() {}
                while let Some((_, event)) = router.poll_event() {
                    if let Event::StateChanged { from, to, reason } = &event {
                        // Rare: said when, so a run left out shows why.
                        eprintln!(
                            "floor loop: {:.3} s: {from:?} -> {to:?} ({reason:?})",
                            STARTED.get().map_or(0.0, |t| t.elapsed().as_secs_f64())
                        );
                        if *to == State::Master {
                            counters.masters += 1;
                        }
                    }
                }
            }
        }

        fn deadline(&self) -> Option<Instant> {
            match self {
                Brain::Engine(router) => router.poll_timeout(),
                Brain::Bare { next, .. } => *next,
            }
        }
    }

    /// baton's engine for the configuration in `conf`, built as the daemon's plan builds it
    /// (`daemon/plan.rs`), `address` as eth0's primary address; started.
    fn engine(conf: &Path, address: Ipv4Addr) -> Result<Router, String> {
        let text = std::fs::read_to_string(conf).map_err(|e| format!("{}: {e}", conf.display()))?;
        let loaded = baton_config::parse_keepalived(&text, conf).map_err(|e| e.to_string())?;
        let config = &loaded.config;
        let instances = config
            .instances
            .iter()
            .map(|instance| instance.engine_config(IpAddr::V4(address), &config.tracks(instance)))
            .collect();
        let mut router = Router::new(instances, config.sync_group_configs())
            .map_err(|e| format!("the engine refused the configuration: {e}"))?;
        router.start(Instant::now());
        Ok(router)
    }

    /// The bare loop: a master's advert (VRID 51, priority 150, the guide's VIP, 10 ms),
    /// encoded once; a backup's Master_Down_Interval at priority 100.
    fn bare(master: bool, address: Ipv4Addr) -> Result<Brain, String> {
        let advert = Advertisement {
            vrid: Vrid::new(51).ok_or("vrid")?,
            priority: Priority::new(150),
            addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 3, 100))],
            fields: VersionFields::V3 {
                max_interval: Centiseconds::new(1).ok_or("interval")?,
            },
        }
        .emit(
            IpAddr::V4(address),
            IpAddr::V4(GROUP),
            ChecksumMode::Standard,
        )
        .map_err(|e| e.to_string())?;
        // RFC 5798 §6.1: 3 intervals plus Skew_Time, (256 - priority) / 256 of one.
        let down_interval = INTERVAL * 3 + INTERVAL * (256 - 100) / 256;
        Ok(Brain::Bare {
            master,
            advert,
            src: address,
            // A master sends at once; a backup waits for the first packet.
            next: master.then(Instant::now),
            down_interval,
        })
    }

    /// The raw socket as `baton_net::VrrpSocket::open` sets up an IPv4 multicast one.
    fn open_socket(address: Ipv4Addr) -> Result<Wire, String> {
        let at = |what: &'static str| move |e: std::io::Error| format!("{what}: {e}");
        let index = nix::net::if_::if_nametoindex(INTERFACE).map_err(|e| format!("{e}"))?;
        let socket = Socket::new(
            Domain::IPV4,
            Type::RAW.nonblocking(),
            Some(Protocol::from(112)),
        )
        .map_err(at("socket"))?;
        socket
            .bind_device(Some(INTERFACE.as_bytes()))
            .map_err(at("SO_BINDTODEVICE"))?;
        if setsockopt(&socket, sockopt::RcvBufForce, &RECEIVE_QUEUE_BYTES).is_err() {
            socket
                .set_recv_buffer_size(RECEIVE_QUEUE_BYTES)
                .map_err(at("SO_RCVBUF"))?;
        }
        setsockopt(&socket, sockopt::RxqOvfl, &1).map_err(|e| format!("SO_RXQ_OVFL: {e}"))?;
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true)
            .map_err(|e| format!("SO_TIMESTAMPNS: {e}"))?;
        socket.set_ttl_v4(255).map_err(at("IP_TTL"))?;
        socket
            .set_multicast_ttl_v4(255)
            .map_err(at("IP_MULTICAST_TTL"))?;
        socket.set_tos_v4(0xc0).map_err(at("IP_TOS"))?;
        let _ = socket.set_ip_transparent_v4(true);
        socket
            .set_multicast_all_v4(false)
            .map_err(at("IP_MULTICAST_ALL"))?;
        socket
            .set_multicast_loop_v4(false)
            .map_err(at("IP_MULTICAST_LOOP"))?;
        socket
            .set_multicast_if_v4(&address)
            .map_err(at("IP_MULTICAST_IF"))?;
        socket
            .join_multicast_v4_n(&GROUP, &socket2::InterfaceIndexOrAddress::Index(index))
            .map_err(at("joining 224.0.0.18"))?;
        Ok(Wire { socket, index })
    }

    /// One `recvmsg` as baton_net's (MSG_TRUNC, the control messages asked for): the IPv4
    /// header's source, destination and TTL and where the VRRP message is; None for what
    /// cannot be an advert.
    #[allow(clippy::type_complexity)]
    fn read_one(
        socket: &Socket,
        buf: &mut [u8],
        control: &mut Vec<u8>,
    ) -> Result<Option<(Ipv4Addr, Ipv4Addr, u8, std::ops::Range<usize>)>, Errno> {
        control.clear();
        control.resize(CONTROL_LEN, 0);
        let buf_len = buf.len();
        let (len, flags) = {
            let mut iov = [IoSliceMut::new(buf)];
            let message = recvmsg::<SockaddrIn>(
                socket.as_raw_fd(),
                &mut iov,
                Some(control),
                MsgFlags::MSG_TRUNC,
            )?;
            (message.bytes, message.flags)
        };
        if flags.contains(MsgFlags::MSG_TRUNC) || len > buf_len || len < 20 {
            return Ok(None);
        }
        let header_len = usize::from(buf[0] & 0x0f) * 4;
        if buf[0] >> 4 != 4 || header_len < 20 || header_len > len || buf[9] != 112 {
            return Ok(None);
        }
        let src = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
        let dst = Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19]);
        Ok(Some((src, dst, buf[8], header_len..len)))
    }

    /// One `sendmsg` as baton_net's: the source in IP_PKTINFO, out of eth0.
    fn send(wire: &Wire, src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Result<(), Errno> {
        let info = nix::libc::in_pktinfo {
            ipi_ifindex: i32::try_from(wire.index).map_err(|_| Errno::EINVAL)?,
            ipi_spec_dst: nix::libc::in_addr {
                s_addr: u32::from(src).to_be(),
            },
            ipi_addr: nix::libc::in_addr { s_addr: 0 },
        };
        let destination = SockaddrIn::from(SocketAddrV4::new(dst, 0));
        sendmsg(
            wire.socket.as_raw_fd(),
            &[IoSlice::new(payload)],
            &[ControlMessage::Ipv4PacketInfo(&info)],
            MsgFlags::empty(),
            Some(&destination),
        )
        .map(drop)
    }
}

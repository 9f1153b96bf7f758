//! The task that runs every BFD session: it reads the listener, runs the sessions' timers,
//! sends what they ask for and reports their states. A session is picked for a packet as
//! RFC 5880 6.8.6 and keepalived do: by Your Discriminator, or while that is zero by the
//! packet's source (the neighbour) and destination (the `source_ip`, when set). Packets
//! that fail decoding, match no session, or arrive with too low a TTL (keepalived's
//! `max_hops` check) are counted and dropped.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use baton_bfd::{CONTROL_PORT, ControlPacket, SOURCE_PORTS, Session, SessionConfig, State};
use baton_config::BfdInstance;
use baton_net::{BfdDatagram, BfdListener, BfdSender};
use tokio::sync::{mpsc, watch};

use super::Driver;
use crate::bfd_status::SessionStatus;

/// Larger than any control packet (24 bytes, or 24 + authentication), so a longer datagram
/// is seen as such and dropped.
const RECEIVE_BUFFER: usize = 128;

/// What [`super::Bfd`] asks of the task.
#[derive(Debug)]
pub(super) enum Command {
    Start(BfdInstance, watch::Sender<bool>),
    Stop(String),
}

/// Binds the listener and starts the task.
pub(super) fn spawn() -> anyhow::Result<Driver> {
    let listener = BfdListener::bind(CONTROL_PORT).context("bfd_instance: UDP port 3784")?;
    let (commands, receiver) = mpsc::unbounded_channel();
    let status = Arc::new(Mutex::new(BTreeMap::new()));
    let task = tokio::spawn(run(listener, receiver, Arc::clone(&status)));
    Ok(Driver {
        commands,
        status,
        task,
    })
}

/// A running session and what it needs.
struct Live {
    config: BfdInstance,
    session: Session,
    sender: BfdSender,
    up: watch::Sender<bool>,
    /// When the session last took a packet: how long the neighbour had been silent when it
    /// went down is logged.
    last_received: Option<Instant>,
}

/// Random bits without a dependency: std's hasher keys are random per process.
fn random() -> u64 {
    RandomState::new().hash_one(Instant::now())
}

struct Sessions {
    live: BTreeMap<String, Live>,
    status: Arc<Mutex<BTreeMap<String, SessionStatus>>>,
    /// Packets no session took, by reason.
    unclaimed: BTreeMap<&'static str, u64>,
}

async fn run(
    listener: BfdListener,
    mut commands: mpsc::UnboundedReceiver<Command>,
    status: Arc<Mutex<BTreeMap<String, SessionStatus>>>,
) {
    let mut sessions = Sessions {
        live: BTreeMap::new(),
        status,
        unclaimed: BTreeMap::new(),
    };
    let mut buf = [0u8; RECEIVE_BUFFER];
    loop {
        let deadline = sessions
            .live
            .values()
            .filter_map(|l| l.session.poll_timeout())
            .min();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            command = commands.recv() => match command {
                None => return,
                Some(Command::Start(config, up)) => sessions.start(config, up),
                Some(Command::Stop(name)) => sessions.stop(&name),
            },
            read = listener.recv(&mut buf) => match read {
                Ok(datagram) => sessions.receive(&datagram, &buf),
                Err(error) => {
                    tracing::warn!("bfd: reading the listener: {error}");
                    // An error that repeats must not spin the task.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            () = sleep => {
                let now = Instant::now();
                for live in sessions.live.values_mut() {
                    live.session.handle_timeout(now);
                }
            }
        }
        sessions.flush().await;
    }
}

impl Sessions {
    fn start(&mut self, config: BfdInstance, up: watch::Sender<bool>) {
        let name = config.name.clone();
        let discriminator = loop {
            let candidate = NonZeroU32::new(random() as u32);
            if let Some(d) = candidate.filter(|d| {
                self.live
                    .values()
                    .all(|l| l.session.local_discriminator() != d.get())
            }) {
                break d;
            }
        };
        let session_config = SessionConfig {
            desired_min_tx: config.min_tx,
            required_min_rx: config.min_rx,
            idle_tx: config.idle_tx,
            detect_mult: config.multiplier,
            passive: config.passive,
        };
        let first_port = (random() % 65536) as u16;
        let neighbor = SocketAddr::new(config.neighbor, CONTROL_PORT);
        let sender = match BfdSender::open(
            neighbor,
            config.source,
            config.ttl,
            SOURCE_PORTS,
            first_port,
        ) {
            Ok(sender) => sender,
            Err(error) => {
                // keepalived puts such a session in AdminDown; it stays Down here, and
                // what tracks it sees it down.
                tracing::error!(bfd = %name, "cannot open the sending socket: {error}");
                return;
            }
        };
        let session = match Session::new(session_config, discriminator, random(), Instant::now()) {
            Ok(session) => session,
            Err(error) => {
                tracing::error!(bfd = %name, "{error}");
                return;
            }
        };
        tracing::info!(
            bfd = %name,
            neighbor = %config.neighbor,
            from = ?sender.local_address().ok(),
            discriminator = discriminator.get(),
            "BFD session starting"
        );
        self.live.insert(
            name,
            Live {
                config,
                session,
                sender,
                up,
                last_received: None,
            },
        );
    }

    fn stop(&mut self, name: &str) {
        if self.live.remove(name).is_some() {
            tracing::info!(bfd = %name, "BFD session removed");
        }
        if let Ok(mut status) = self.status.lock() {
            status.remove(name);
        }
    }

    fn count(&mut self, reason: &'static str, datagram: &BfdDatagram, detail: &str) {
        let count = self.unclaimed.entry(reason).or_default();
        *count += 1;
        tracing::debug!(from = %datagram.source, reason, count = *count, "bfd: packet dropped: {detail}");
    }

    fn receive(&mut self, datagram: &BfdDatagram, buf: &[u8]) {
        let Some(payload) = buf.get(..datagram.len) else {
            self.count("oversized", datagram, "larger than any control packet");
            return;
        };
        let packet = match ControlPacket::decode(payload) {
            Ok(packet) => packet,
            Err(error) => {
                self.count(error.kind(), datagram, &error.to_string());
                return;
            }
        };
        let from = datagram.source.ip();
        let found = self.live.values_mut().find(|live| {
            if packet.your_discriminator != 0 {
                live.session.local_discriminator() == packet.your_discriminator
            } else {
                live.config.neighbor == from
                    && live
                        .config
                        .source
                        .is_none_or(|source| Some(source) == datagram.destination)
            }
        });
        let Some(live) = found else {
            let detail = format!(
                "no session (your discriminator {:#x})",
                packet.your_discriminator
            );
            self.count("no_session", datagram, &detail);
            return;
        };
        // RFC 5881 5 (GTSM), with keepalived's max_hops.
        if !live.config.accepts_ttl(datagram.ttl) {
            let name = live.config.name.clone();
            let detail = format!("{name}: TTL {:?} below {}", datagram.ttl, live.config.ttl);
            self.count("ttl", datagram, &detail);
            return;
        }
        let now = Instant::now();
        match live.session.handle_packet(&packet, now) {
            Ok(()) => live.last_received = Some(now),
            Err(dropped) => {
                tracing::debug!(bfd = %live.config.name, from = %from, "bfd: packet dropped: {dropped}");
            }
        }
    }

    /// Sends what the sessions queued, reports their state changes, refreshes the status.
    async fn flush(&mut self) {
        for live in self.live.values_mut() {
            while let Some(packet) = live.session.poll_transmit() {
                if let Err(error) = live.sender.send(&packet.encode()).await {
                    tracing::debug!(bfd = %live.config.name, "bfd: send: {error}");
                }
            }
            while let Some(change) = live.session.poll_event() {
                let name = &live.config.name;
                let detection = live.session.detection_time();
                let silent_for = live.last_received.map(|at| at.elapsed());
                if change.to == State::Up || change.from == State::Up {
                    tracing::warn!(
                        bfd = %name,
                        diagnostic = %change.diagnostic,
                        detection_time = ?detection,
                        silent_for = ?silent_for,
                        "BFD session {} -> {}", change.from, change.to
                    );
                } else {
                    tracing::info!(bfd = %name, "BFD session {} -> {}", change.from, change.to);
                }
                live.up.send_replace(change.to == State::Up);
            }
        }
        if let Ok(mut status) = self.status.lock() {
            for (name, live) in &self.live {
                status.insert(name.clone(), snapshot(live));
            }
        }
    }
}

fn snapshot(live: &Live) -> SessionStatus {
    let session = &live.session;
    let stats = session.stats();
    SessionStatus {
        name: live.config.name.clone(),
        neighbor: live.config.neighbor,
        state: session.state().to_string(),
        remote_state: session.remote_state().to_string(),
        diagnostic: session.diagnostic().to_string(),
        local_discriminator: session.local_discriminator(),
        remote_discriminator: session.remote_discriminator(),
        detection_time_us: u64::try_from(session.detection_time().as_micros()).unwrap_or(u64::MAX),
        received: stats.received,
        sent: stats.sent,
        dropped: stats.dropped,
        ups: stats.ups,
        downs: stats.downs,
    }
}

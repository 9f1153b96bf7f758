//! One BFD session in asynchronous mode: RFC 5880 6.8's state variables, reception
//! (6.8.6), transmission (6.8.7) and detection (6.8.4), as a sans-IO state machine.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use crate::config::{ConfigError, SessionConfig};
use crate::jitter::Jitter;
use crate::packet::{ControlPacket, Diagnostic, State};

/// A state change, for logs and for what tracks the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    pub from: State,
    pub to: State,
    /// The local diagnostic: why the session went down (or [`Diagnostic::None`]).
    pub diagnostic: Diagnostic,
}

/// Why a valid control packet was not taken by this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Dropped {
    #[error("your discriminator {0:#x} is not this session's")]
    NotOurDiscriminator(u32),
    #[error("the session is administratively down")]
    AdminDown,
}

/// Counters, for `baton status` and the logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: u64,
    pub sent: u64,
    pub dropped: u64,
    /// Transitions into Up, and out of Up.
    pub ups: u64,
    pub downs: u64,
}

/// One session. Create it with [`Session::new`]; see the crate documentation for how to
/// drive it.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    local_discriminator: u32,
    state: State,
    diagnostic: Diagnostic,
    remote_discriminator: u32,
    remote_state: State,
    remote_desired_min_tx: Duration,
    remote_min_rx: Duration,
    remote_detect_mult: u8,
    /// A Poll Sequence is under way (RFC 5880 6.5): every periodic packet carries P until a
    /// packet with F comes back.
    polling: bool,
    jitter: Jitter,
    next_transmit: Option<Instant>,
    detection_deadline: Option<Instant>,
    transmits: VecDeque<ControlPacket>,
    events: VecDeque<StateChange>,
    stats: Stats,
}

impl Session {
    /// A session in state Down. `discriminator` must be unique among this system's
    /// sessions (RFC 5880 6.8.1); `seed` drives the jitter. An active session sends its
    /// first packet at `now`.
    pub fn new(
        config: SessionConfig,
        discriminator: NonZeroU32,
        seed: u64,
        now: Instant,
    ) -> Result<Session, ConfigError> {
        config.check()?;
        Ok(Session {
            config,
            local_discriminator: discriminator.get(),
            state: State::Down,
            diagnostic: Diagnostic::None,
            remote_discriminator: 0,
            remote_state: State::Down,
            remote_desired_min_tx: Duration::ZERO,
            // RFC 5880 6.8.1: "This variable MUST be initialized to 1."
            remote_min_rx: Duration::from_micros(1),
            remote_detect_mult: 0,
            polling: false,
            jitter: Jitter::new(seed),
            next_transmit: (!config.passive).then_some(now),
            detection_deadline: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        })
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn remote_state(&self) -> State {
        self.remote_state
    }

    pub fn diagnostic(&self) -> Diagnostic {
        self.diagnostic
    }

    pub fn local_discriminator(&self) -> u32 {
        self.local_discriminator
    }

    /// Zero until the peer has been heard, and again once it has been silent a detection
    /// time.
    pub fn remote_discriminator(&self) -> u32 {
        self.remote_discriminator
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// RFC 5880 6.8.4: how long the peer may stay silent, from what it last sent.
    pub fn detection_time(&self) -> Duration {
        self.config.required_min_rx.max(self.remote_desired_min_tx)
            * u32::from(self.remote_detect_mult)
    }

    /// RFC 5880 6.8.3: the interval we advertise. keepalived announces `idle_tx` until Up.
    fn desired_min_tx(&self) -> Duration {
        if self.state == State::Up {
            self.config.desired_min_tx
        } else {
            self.config.idle_tx
        }
    }

    /// RFC 5880 6.8.7: "the larger of bfd.DesiredMinTxInterval and bfd.RemoteMinRxInterval".
    pub fn transmit_interval(&self) -> Duration {
        self.desired_min_tx().max(self.remote_min_rx)
    }

    /// RFC 5880 6.8.7: no packets to a peer that asked for none (Required Min RX 0), and
    /// none from the passive role before the peer has spoken.
    fn may_transmit(&self) -> bool {
        self.state != State::AdminDown
            && !self.remote_min_rx.is_zero()
            && !(self.config.passive && self.remote_discriminator == 0)
    }

    /// A control packet received for this session (the driver picks the session by Your
    /// Discriminator, or by addresses when that is zero) after [`ControlPacket::decode`]
    /// accepted it.
    pub fn handle_packet(&mut self, packet: &ControlPacket, now: Instant) -> Result<(), Dropped> {
        self.stats.received += 1;
        // RFC 5880 6.8.6: "If the Your Discriminator field is nonzero, it MUST be used to
        // select the session ... If no session is found, the packet MUST be discarded."
        if packet.your_discriminator != 0 && packet.your_discriminator != self.local_discriminator {
            self.stats.dropped += 1;
            return Err(Dropped::NotOurDiscriminator(packet.your_discriminator));
        }
        // "If bfd.SessionState is AdminDown: Discard the packet".
        if self.state == State::AdminDown {
            self.stats.dropped += 1;
            return Err(Dropped::AdminDown);
        }
        let interval_before = self.transmit_interval();
        self.remote_discriminator = packet.my_discriminator;
        self.remote_state = packet.state;
        self.remote_desired_min_tx = packet.desired_min_tx;
        self.remote_min_rx = packet.required_min_rx;
        self.remote_detect_mult = packet.detect_mult;
        // "If the Final (F) bit is set, terminate any Poll Sequence in progress."
        if packet.final_ {
            self.polling = false;
        }
        // RFC 5880 6.8.4: the detection timer restarts with every packet. keepalived
        // restarts it only while Up; restarting it in Init too only waits longer there.
        self.detection_deadline = Some(now + self.detection_time());

        // RFC 5880 6.8.6's state machine.
        if packet.state == State::AdminDown {
            if self.state != State::Down {
                self.go(State::Down, Diagnostic::NeighborSignaledSessionDown);
            }
        } else {
            match (self.state, packet.state) {
                (State::Down, State::Down) => self.go(State::Init, Diagnostic::None),
                (State::Down, State::Init) | (State::Init, State::Init | State::Up) => {
                    self.go(State::Up, Diagnostic::None);
                }
                (State::Up, State::Down) => {
                    self.go(State::Down, Diagnostic::NeighborSignaledSessionDown);
                }
                _ => {}
            }
        }

        // "If the packet was received with the Poll (P) bit set, ... transmit a BFD
        // Control packet with the Final (F) bit set as soon as practicable".
        if packet.poll && self.may_transmit() {
            let reply = self.packet(true);
            self.send(reply);
        }
        let interval = self.transmit_interval();
        if self.may_transmit() {
            let soonest = now + self.jitter.apply(interval, self.config.detect_mult);
            self.next_transmit = match self.next_transmit {
                // A passive session speaks now that the peer has.
                None => Some(now),
                // A shorter interval takes effect at once (RFC 5880 6.8.3 delays increases
                // only while Up, and ours grow only on the way down).
                Some(at) if interval < interval_before => Some(at.min(soonest)),
                keep => keep,
            };
        }
        Ok(())
    }

    /// Runs the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.detection_deadline.is_some_and(|at| at <= now) {
            self.detection_deadline = None;
            // RFC 5880 6.8.1: after a detection time without packets, bfd.RemoteDiscr
            // "MUST be set to zero".
            self.remote_discriminator = 0;
            self.remote_state = State::Down;
            if matches!(self.state, State::Init | State::Up) {
                self.go(State::Down, Diagnostic::ControlDetectionTimeExpired);
            }
        }
        if self.next_transmit.is_some_and(|at| at <= now) {
            if self.may_transmit() {
                let packet = self.packet(false);
                self.send(packet);
                let interval = self.transmit_interval();
                self.next_transmit =
                    Some(now + self.jitter.apply(interval, self.config.detect_mult));
            } else {
                // Resumed by the next packet from the peer.
                self.next_transmit = None;
            }
        }
    }

    /// When [`Session::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.next_transmit, self.detection_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next control packet to send to the peer.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<ControlPacket> {
        self.transmits.pop_front()
    }

    /// The next state change.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<StateChange> {
        self.events.pop_front()
    }

    fn go(&mut self, to: State, diagnostic: Diagnostic) {
        let from = self.state;
        self.state = to;
        self.diagnostic = diagnostic;
        match to {
            State::Up => {
                self.stats.ups += 1;
                // RFC 5880 6.8.3: DesiredMinTxInterval changes from idle_tx to min_tx,
                // which "MUST" start a Poll Sequence.
                if self.config.desired_min_tx != self.config.idle_tx {
                    self.polling = true;
                }
            }
            State::Down | State::AdminDown if from == State::Up => {
                self.stats.downs += 1;
                self.polling = false;
            }
            _ => {}
        }
        self.events.push_back(StateChange {
            from,
            to,
            diagnostic,
        });
    }

    fn send(&mut self, packet: ControlPacket) {
        self.stats.sent += 1;
        self.transmits.push_back(packet);
    }

    /// RFC 5880 6.8.7's contents. A reply to a Poll carries F and (4.1) never P.
    fn packet(&self, final_: bool) -> ControlPacket {
        ControlPacket {
            diagnostic: self.diagnostic,
            state: self.state,
            poll: self.polling && !final_,
            final_,
            control_plane_independent: false,
            demand: false,
            detect_mult: self.config.detect_mult,
            my_discriminator: self.local_discriminator,
            your_discriminator: self.remote_discriminator,
            desired_min_tx: self.desired_min_tx(),
            required_min_rx: self.config.required_min_rx,
            required_min_echo_rx: Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests;

//! Two sessions joined by a simulated link, in virtual time.

use super::*;

fn config(min_tx_ms: u64, min_rx_ms: u64, mult: u8) -> SessionConfig {
    SessionConfig {
        desired_min_tx: Duration::from_millis(min_tx_ms),
        required_min_rx: Duration::from_millis(min_rx_ms),
        idle_tx: Duration::from_secs(1),
        detect_mult: mult,
        passive: false,
    }
}

/// `a` and `b`, a link between them that can be cut, and a clock.
struct Pair {
    a: Session,
    b: Session,
    now: Instant,
    start: Instant,
    link_up: bool,
    /// Every state change, with the side and the virtual time it happened at.
    changes: Vec<(char, Duration, StateChange)>,
    /// Packets each side sent, with their send times.
    sent: Vec<(char, Duration, ControlPacket)>,
}

impl Pair {
    fn new(a: SessionConfig, b: SessionConfig) -> Pair {
        let start = Instant::now();
        Pair {
            a: Session::new(a, NonZeroU32::new(0x1111).unwrap(), 1, start).unwrap(),
            b: Session::new(b, NonZeroU32::new(0x2222).unwrap(), 2, start).unwrap(),
            now: start,
            start,
            link_up: true,
            changes: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Moves packets and events until nothing is pending, then advances the clock to the
    /// next timer; repeats until `until`.
    fn run_until(&mut self, until: Duration) {
        loop {
            self.settle();
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(at) if at - self.start <= until => {
                    self.now = self.now.max(at);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                }
                _ => {
                    self.now = self.start + until;
                    return;
                }
            }
        }
    }

    fn settle(&mut self) {
        loop {
            let mut moved = false;
            let elapsed = self.now - self.start;
            while let Some(packet) = self.a.poll_transmit() {
                moved = true;
                self.sent.push(('a', elapsed, packet));
                let bytes = packet.encode();
                if self.link_up {
                    let decoded = ControlPacket::decode(&bytes).unwrap();
                    let _ = self.b.handle_packet(&decoded, self.now);
                }
            }
            while let Some(packet) = self.b.poll_transmit() {
                moved = true;
                self.sent.push(('b', elapsed, packet));
                if self.link_up {
                    let _ = self.a.handle_packet(&packet, self.now);
                }
            }
            while let Some(change) = self.a.poll_event() {
                self.changes.push(('a', elapsed, change));
            }
            while let Some(change) = self.b.poll_event() {
                self.changes.push(('b', elapsed, change));
            }
            if !moved {
                return;
            }
        }
    }

    fn last_change(&self, side: char) -> Option<(Duration, StateChange)> {
        self.changes
            .iter()
            .rev()
            .find(|(s, _, _)| *s == side)
            .map(|(_, at, change)| (*at, *change))
    }
}

#[test]
fn three_way_handshake_brings_both_up() {
    let mut pair = Pair::new(config(100, 100, 3), config(100, 100, 3));
    pair.run_until(Duration::from_secs(3));
    assert_eq!(pair.a.state(), State::Up);
    assert_eq!(pair.b.state(), State::Up);
    // Down -> Init -> Up on at least one side, Down -> Up at most on the other.
    let a_path: Vec<State> = pair
        .changes
        .iter()
        .filter(|(s, _, _)| *s == 'a')
        .map(|(_, _, c)| c.to)
        .collect();
    assert!(a_path.ends_with(&[State::Up]), "{a_path:?}");
    assert_eq!(pair.a.remote_discriminator(), 0x2222);
    assert_eq!(pair.b.remote_discriminator(), 0x1111);
    assert_eq!(pair.a.detection_time(), Duration::from_millis(300));
}

#[test]
fn going_up_polls_for_the_faster_rate_and_the_peer_answers_final() {
    let mut pair = Pair::new(config(100, 100, 3), config(100, 100, 3));
    pair.run_until(Duration::from_secs(3));
    let polls: Vec<_> = pair.sent.iter().filter(|(_, _, p)| p.poll).collect();
    let finals: Vec<_> = pair.sent.iter().filter(|(_, _, p)| p.final_).collect();
    assert!(!polls.is_empty() && !finals.is_empty());
    // Every poll is answered by a final from the other side at the same instant.
    for (side, at, _) in &polls {
        assert!(
            finals.iter().any(|(s, t, _)| s != side && t == at),
            "poll by {side} at {at:?} unanswered"
        );
    }
    // The poll sequences are over: the latest packets carry neither bit.
    let last = pair.sent.last().unwrap().2;
    assert!(!last.poll && !last.final_);
    assert!(!pair.a.polling && !pair.b.polling);
}

#[test]
fn transmissions_are_jittered_between_75_and_100_percent_once_up() {
    let mut pair = Pair::new(config(100, 100, 3), config(100, 100, 3));
    pair.run_until(Duration::from_secs(3));
    let settled = Duration::from_secs(2);
    let times: Vec<Duration> = pair
        .sent
        .iter()
        .filter(|(s, at, p)| *s == 'a' && *at > settled && !p.final_)
        .map(|(_, at, _)| *at)
        .collect();
    assert!(times.len() > 5, "{times:?}");
    for gap in times.windows(2).map(|w| w[1] - w[0]) {
        assert!(
            gap >= Duration::from_millis(75) && gap <= Duration::from_millis(100),
            "{gap:?}"
        );
    }
}

#[test]
fn silence_is_detected_after_multiplier_times_the_agreed_interval() {
    // a wants packets at least every 200 ms, b offers 50: the agreed interval is 200 ms.
    let mut pair = Pair::new(config(50, 200, 3), config(50, 50, 4));
    pair.run_until(Duration::from_secs(3));
    assert_eq!(pair.a.state(), State::Up);
    assert_eq!(pair.a.detection_time(), Duration::from_millis(4 * 200));
    assert_eq!(pair.b.detection_time(), Duration::from_millis(3 * 50));
    let cut = pair.now - pair.start;
    pair.link_up = false;
    pair.run_until(cut + Duration::from_secs(2));
    for (side, most) in [('a', 800), ('b', 150)] {
        let (at, change) = pair.last_change(side).unwrap();
        assert_eq!(change.to, State::Down, "{side}");
        assert_eq!(change.diagnostic, Diagnostic::ControlDetectionTimeExpired);
        let detected = at - cut;
        assert!(
            detected <= Duration::from_millis(most),
            "{side} took {detected:?}"
        );
        // No earlier than a detection time after the last packet it received.
        assert!(
            detected > Duration::from_millis(most / 2),
            "{side} {detected:?}"
        );
    }
    assert_eq!(pair.a.remote_discriminator(), 0);
    // And back when the link is restored.
    pair.link_up = true;
    let restored = pair.now - pair.start;
    pair.run_until(restored + Duration::from_secs(4));
    assert_eq!(pair.a.state(), State::Up);
    assert_eq!(pair.b.state(), State::Up);
    assert_eq!(pair.a.stats().ups, 2);
    assert_eq!(pair.a.stats().downs, 1);
}

#[test]
fn a_peer_signalling_down_or_admin_down_takes_the_session_down() {
    let mut pair = Pair::new(config(100, 100, 3), config(100, 100, 3));
    pair.run_until(Duration::from_secs(3));
    let now = pair.now;
    let mut down = pair.b.packet(false);
    down.state = State::Down;
    down.your_discriminator = 0x1111;
    pair.a.handle_packet(&down, now).unwrap();
    assert_eq!(pair.a.state(), State::Down);
    assert_eq!(pair.a.diagnostic(), Diagnostic::NeighborSignaledSessionDown);
    // From Down, the peer's Down means Init (the handshake starting again).
    pair.a.handle_packet(&down, now).unwrap();
    assert_eq!(pair.a.state(), State::Init);
    let mut admin = down;
    admin.state = State::AdminDown;
    pair.a.handle_packet(&admin, now).unwrap();
    assert_eq!(pair.a.state(), State::Down);
}

#[test]
fn packets_for_another_discriminator_are_dropped_and_counted() {
    let start = Instant::now();
    let mut session =
        Session::new(config(100, 100, 3), NonZeroU32::new(5).unwrap(), 1, start).unwrap();
    let mut packet = session.packet(false);
    packet.my_discriminator = 9;
    packet.your_discriminator = 6;
    assert_eq!(
        session.handle_packet(&packet, start),
        Err(Dropped::NotOurDiscriminator(6))
    );
    assert_eq!(session.stats().dropped, 1);
    assert_eq!(session.remote_discriminator(), 0);
}

#[test]
fn a_passive_session_waits_for_the_peer() {
    let mut passive = config(100, 100, 3);
    passive.passive = true;
    let mut pair = Pair::new(passive, config(100, 100, 3));
    pair.link_up = false;
    pair.run_until(Duration::from_secs(3));
    assert!(pair.sent.iter().all(|(side, _, _)| *side == 'b'));
    pair.link_up = true;
    pair.run_until(Duration::from_secs(6));
    assert_eq!(pair.a.state(), State::Up);
    assert_eq!(pair.b.state(), State::Up);
}

#[test]
fn a_peer_asking_for_no_packets_gets_none() {
    let start = Instant::now();
    let mut session =
        Session::new(config(100, 100, 3), NonZeroU32::new(5).unwrap(), 1, start).unwrap();
    session.handle_timeout(start);
    assert!(session.poll_transmit().is_some());
    let mut quiet = session.packet(false);
    quiet.my_discriminator = 9;
    quiet.your_discriminator = 0;
    quiet.required_min_rx = Duration::ZERO;
    session.handle_packet(&quiet, start).unwrap();
    session.handle_timeout(start + Duration::from_secs(5));
    assert!(session.poll_transmit().is_none());
}

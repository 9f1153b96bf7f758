//! One virtual router: the RFC 5798 §6 state machine (with the RFC 3768 differences for
//! VRRPv2), plus keepalived's FAULT state, tracking weights and preempt_delay.
//!
//! Inputs are the `start`, `shutdown`, `handle_*` and `set_track` methods, each taking `now`.
//! Outputs are pulled with the `poll_*` methods after every input.

mod address_list;
mod answers;
mod config;
mod output;
mod sending;
mod stats;
mod timers;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::checksum::ChecksumMode;
use crate::packet::{AdvertRef, Advertisement, VersionFields};
use crate::units::{Priority, Version};
use config::TrackEffect;
use timers::{Timer, Timers};

pub use config::{
    AnnounceConfig, ConfigError, DEFAULT_DOWN_TIMER_ADVERTS, DOWN_TIMER_ADVERTS, InstanceConfig,
    Peers, TrackConfig, TrackStatus, VRRP_MULTICAST_V4, VRRP_MULTICAST_V6,
};
pub use output::{Event, Reason, State, Transmit, VipAction};
pub use stats::{DropReason, Stats};

/// TTL / hop limit every advertisement is sent with and must arrive with (RFC 5798 §5.1.1.3).
pub const VRRP_TTL: u8 = 255;

/// A virtual router instance. See the module documentation for how to drive it.
#[derive(Debug)]
pub struct Instance {
    config: InstanceConfig,
    /// The version-specific advert fields, checked once when the instance was built.
    fields: VersionFields,
    state: State,
    timers: Timers,
    /// RFC 5798 §6.1 Master_Adver_Interval: learned from the master in v3, our own in v2.
    master_adver_interval: Duration,
    track_status: Vec<TrackStatus>,
    /// Set by the router while another instance of our sync group has a fault.
    group_fault: bool,
    effective_priority: Priority,
    /// The current master as last seen: ourselves when Master.
    master: Option<IpAddr>,
    master_priority: Option<Priority>,
    /// The running Master_Down_Timer was set by a priority-0 advert.
    master_stopping: bool,
    /// Announcement due when the Announce timer fires is the garp_master_delay burst.
    second_burst_pending: bool,
    last_reannounce: Option<Instant>,
    /// keepalived's `garp_lower_prio_delay`: when the delayed bursts after lower-priority
    /// adverts are due, earliest first (every one waits the same delay).
    lower_priority_bursts: VecDeque<Instant>,
    /// Heard a lower-priority advert as Master: the router has the sync group's other
    /// members announce too, as keepalived does.
    lower_priority_heard: bool,
    answers: answers::Answers,
    encoded: sending::Encoded,
    /// Stepped down by the operator: never Master until resumed (see `set_maintenance`).
    maintenance: bool,
    /// The Master_Down_Timer fired while a tracked object had no verdict yet
    /// ([`TrackStatus::Unknown`]): the takeover waits for the verdict.
    master_down_deferred: bool,
    /// A state change of our own (not forced by the sync group) for the router to spread.
    sync_trigger: Option<(State, State)>,
    /// keepalived's `vrrp_startup_delay`: until then the instance may not become Master; its
    /// Master_Down_Timer runs from this instant rather than from now.
    startup_hold: Option<Instant>,
    transmits: VecDeque<Transmit>,
    actions: VecDeque<VipAction>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl Instance {
    pub fn new(config: InstanceConfig) -> Result<Instance, ConfigError> {
        let fields = config.validate()?;
        let track_status = config
            .tracks
            .iter()
            .map(|t| TrackStatus::from_up(t.initially_up))
            .collect();
        let mut instance = Instance {
            master_adver_interval: config.advert_interval,
            effective_priority: config.priority,
            config,
            fields,
            state: State::Initialize,
            timers: Timers::default(),
            track_status,
            group_fault: false,
            master: None,
            master_priority: None,
            master_stopping: false,
            second_burst_pending: false,
            last_reannounce: None,
            lower_priority_bursts: VecDeque::new(),
            lower_priority_heard: false,
            answers: answers::Answers::default(),
            encoded: sending::Encoded::default(),
            maintenance: false,
            master_down_deferred: false,
            sync_trigger: None,
            startup_hold: None,
            transmits: VecDeque::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        };
        instance.effective_priority = instance.compute_effective_priority();
        Ok(instance)
    }

    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Configured priority adjusted by tracked objects (RFC 5798 §6.1 Priority as used).
    pub fn effective_priority(&self) -> Priority {
        self.effective_priority
    }

    /// The master as last seen, ourselves while Master; `None` until one is known.
    pub fn master(&self) -> Option<IpAddr> {
        self.master
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// True while stepped down by [`Instance::set_maintenance`].
    pub fn maintenance(&self) -> bool {
        self.maintenance
    }

    /// Master_Down_Interval as it stands now (RFC 5798 §6.1), with keepalived's
    /// `down_timer_adverts` in place of the RFC's 3.
    pub fn master_down_interval(&self) -> Duration {
        self.master_adver_interval * self.config.down_timer_adverts + self.skew_time()
    }

    /// Skew_Time as it stands now: RFC 5798 §6.1 scales it by Master_Adver_Interval;
    /// RFC 3768 §6.1 does not, it is (256 - Priority) / 256 seconds whatever the interval.
    pub fn skew_time(&self) -> Duration {
        self.skew_time_at(self.effective_priority)
    }

    fn skew_time_at(&self, priority: Priority) -> Duration {
        let scale = match self.config.version {
            Version::V2 => Duration::from_secs(1),
            Version::V3 => self.master_adver_interval,
        };
        let nanos = (256 - u128::from(priority.get())) * scale.as_nanos() / 256;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// RFC 5798 §6.4.1: the Startup event.
    pub fn start(&mut self, now: Instant) {
        if self.state != State::Initialize {
            return;
        }
        if self.has_fault() {
            self.become_fault();
        } else {
            self.leave_initialize(now, Reason::Startup);
        }
    }

    /// RFC 5798 §6.4.2 / §6.4.3: the Shutdown event. A master says goodbye with priority 0
    /// so a backup takes over after Skew_Time instead of Master_Down_Interval.
    pub fn shutdown(&mut self, _now: Instant) {
        match self.state {
            State::Initialize => return,
            State::Master => self.leave_master(),
            State::Backup | State::Fault => {}
        }
        self.timers.stop_all();
        self.master = None;
        self.master_priority = None;
        self.transition(State::Initialize, Reason::Shutdown);
    }

    /// Call when `poll_timeout` has passed; handles every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.take_expired(now) {
            match timer {
                // RFC 5798 §6.4.3: "If the Adver_Timer fires, then: Send an ADVERTISEMENT;
                // Reset the Adver_Timer to Advertisement_Interval".
                Timer::Adver => {
                    self.send_advert(self.effective_priority);
                    self.timers
                        .set(Timer::Adver, now + self.config.advert_interval);
                }
                // RFC 5798 §6.4.2: "If the Master_Down_Timer fires, then: ... transition to
                // the {Master} state".
                Timer::MasterDown if self.maintenance => self.master_gone_in_maintenance(),
                // Becoming Master on a guess would hand the VIP over again as soon as the
                // verdict lowers our priority: wait for it (see `TrackStatus::Unknown`).
                Timer::MasterDown if self.awaiting_verdicts() => {
                    self.master_down_deferred = true;
                }
                Timer::MasterDown => {
                    let reason = if self.master_stopping {
                        Reason::MasterStopped
                    } else {
                        Reason::MasterDown
                    };
                    self.become_master(now, reason);
                }
                Timer::PreemptDelay => self.preempt_delay_elapsed(now),
                Timer::Announce => self.scheduled_announce(now),
                Timer::LowerPriorityAnnounce => self.lower_priority_bursts_due(now),
            }
        }
    }

    /// A received advertisement, already decoded. `src` is the IP source address and `ttl`
    /// the TTL / hop limit it arrived with. Returns why it was dropped, if it was; drops are
    /// counted in [`Stats`].
    pub fn handle_advert(
        &mut self,
        now: Instant,
        src: IpAddr,
        ttl: u8,
        advert: &Advertisement,
    ) -> Result<(), DropReason> {
        self.handle_received(now, src, ttl, &advert.view())
    }

    /// [`Instance::handle_advert`] for an advert read in place from the packet.
    pub(crate) fn handle_received(
        &mut self,
        now: Instant,
        src: IpAddr,
        ttl: u8,
        advert: &AdvertRef<'_>,
    ) -> Result<(), DropReason> {
        let active = matches!(self.state, State::Backup | State::Master);
        let verdict = self.check_received(src, ttl, advert).and(if active {
            Ok(())
        } else {
            Err(DropReason::Inactive)
        });
        if let Err(reason) = verdict {
            self.stats.count_drop(reason);
            return verdict;
        }
        self.stats.adverts_received += 1;
        if advert.priority == Priority::STOP {
            self.stats.priority_zero_received += 1;
        }
        if self.state == State::Master {
            self.master_received(now, src, advert);
        } else {
            self.backup_received(now, src, advert);
        }
        Ok(())
    }

    /// Operator maintenance (`baton instance step-down` / `resume`). Not in the RFCs, which
    /// only know Shutdown; this is Shutdown's goodbye without leaving the LAN.
    ///
    /// Stepping down: a Master sends a priority-0 advertisement and removes its VIPs, as
    /// on Shutdown (RFC 5798 §6.4.3), so a backup takes over after Skew_Time; it then
    /// stays Backup, listening to adverts, and never becomes Master while stepped down
    /// whatever the timers say (a Master_Down_Timer that fires only forgets the master; an
    /// address owner does not take over either). An instance in Fault or Initialize stays
    /// there and stays stepped down when it leaves.
    ///
    /// Resuming in Backup restarts the instance's Backup behaviour as after Startup (RFC
    /// 5798 §6.4.1: Master_Down_Timer set to Master_Down_Interval, preempt_delay armed),
    /// so it preempts a lower-priority master after the usual timers when preempt is on,
    /// and an address owner takes over at once.
    pub fn set_maintenance(&mut self, now: Instant, on: bool) {
        if self.maintenance == on {
            return;
        }
        self.maintenance = on;
        match (self.state, on) {
            (State::Master, true) => {
                // RFC 5798 §6.4.3 Shutdown: "Send an ADVERTISEMENT with Priority = 0"; the
                // VIPs go with the transition to Backup.
                self.send_advert(Priority::STOP);
                self.master = None;
                self.master_adver_interval = self.config.advert_interval;
                self.become_backup(now, Reason::Maintenance);
            }
            (State::Backup, false) => self.leave_initialize(now, Reason::Maintenance),
            _ => {}
        }
    }

    /// Reports a tracked object (numbered as in `InstanceConfig::tracks`) up or down.
    /// Unknown indexes are ignored.
    pub fn set_track(&mut self, now: Instant, index: usize, up: bool) {
        self.set_track_status(now, index, TrackStatus::from_up(up));
    }

    /// Reports a tracked object's status, including value-carrying ones (track files).
    pub fn set_track_status(&mut self, now: Instant, index: usize, status: TrackStatus) {
        let awaiting = self.awaiting_verdicts();
        let Some(slot) = self.track_status.get_mut(index) else {
            return;
        };
        if *slot == status {
            return;
        }
        *slot = status;
        let before = self.effective_priority;
        self.effective_priority = self.compute_effective_priority();
        if before != self.effective_priority {
            self.events.push_back(Event::PriorityChanged {
                from: before,
                to: self.effective_priority,
            });
        }
        if awaiting && !self.awaiting_verdicts() && self.state == State::Backup {
            self.verdicts_known(now, before);
        }
        self.reconcile_fault(now);
    }

    /// The next packet to send. Call after every input until it returns `None`.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next change to make to the virtual addresses on the host.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<VipAction> {
        self.actions.pop_front()
    }

    /// The next state change or other event to report.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Whether a packet, an address change or an event waits to be polled: the caller can
    /// tell an input that only moved the timers (a backup's advert) without taking them.
    #[must_use]
    pub fn has_output(&self) -> bool {
        !(self.transmits.is_empty() && self.actions.is_empty() && self.events.is_empty())
    }

    /// When `handle_timeout` must next be called; `None` while nothing is scheduled.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// True when a tracked object of this instance puts it in FAULT.
    pub fn own_fault(&self) -> bool {
        self.config.config_fault || self.faulted_tracks().next().is_some()
    }

    /// The tracked objects (indexes into `InstanceConfig::tracks`) that put this instance
    /// in FAULT now, for telling operators why.
    pub fn faulted_tracks(&self) -> impl Iterator<Item = usize> + '_ {
        self.config
            .tracks
            .iter()
            .zip(&self.track_status)
            .enumerate()
            .filter(|(_, (track, status))| status.effect(track.weight) == TrackEffect::Fault)
            .map(|(index, _)| index)
    }

    /// The checksum form to try when an advert's checksum is wrong: keepalived's detection
    /// of a peer older than 1.3.6, on VRRPv3 IPv4 unicast instances that still sum as the
    /// RFC says.
    pub(crate) fn old_checksum_to_try(&self, src: IpAddr, dst: IpAddr) -> Option<ChecksumMode> {
        let group = self.config.detect_old_unicast_checksum?;
        // Only a listed peer may change what we send.
        let from_peer = matches!(&self.config.peers, Peers::Unicast(peers) if peers.contains(&src));
        let applies = from_peer
            && self.config.version == Version::V3
            && self.config.checksum_mode == ChecksumMode::Standard
            && src.is_ipv4()
            && dst != IpAddr::V4(group);
        applies.then_some(ChecksumMode::PseudoHeaderGroup(group))
    }

    /// A peer's advert added up with `mode` (from [`Instance::old_checksum_to_try`]):
    /// keepalived switches to it for good, for what it sends as well.
    pub(crate) fn adopt_checksum(&mut self, mode: ChecksumMode, from: IpAddr) {
        self.config.checksum_mode = mode;
        self.config.detect_old_unicast_checksum = None;
        self.events.push_back(Event::OldUnicastChecksum { from });
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        self.stats.count_drop(reason);
    }

    /// A new instance (still in Initialize, so nothing to send or remove) that replaces a
    /// stepped-down one of the same name on reload.
    pub(crate) fn keep_stepped_down(&mut self) {
        if self.state == State::Initialize {
            self.maintenance = true;
        }
    }

    pub(crate) fn take_sync_trigger(&mut self) -> Option<(State, State)> {
        self.sync_trigger.take()
    }

    /// Follow a sibling of the sync group into Master or Backup.
    pub(crate) fn follow_sync_group(&mut self, now: Instant, target: State) {
        match (self.state, target) {
            (State::Backup, State::Master) if !self.maintenance => {
                self.become_master(now, Reason::SyncGroup);
            }
            (State::Master, State::Backup) => self.become_backup(now, Reason::SyncGroup),
            _ => {}
        }
    }

    pub(crate) fn set_group_fault(&mut self, now: Instant, fault: bool) {
        self.group_fault = fault;
        self.reconcile_fault(now);
    }

    /// RFC 3768 / RFC 5798 §7.1 receive checks that need our configuration.
    fn check_received(
        &self,
        src: IpAddr,
        ttl: u8,
        advert: &AdvertRef<'_>,
    ) -> Result<(), DropReason> {
        // keepalived 2.2.7 (vrrp_check_packet) checks the TTL of multicast adverts only:
        // unicast peers may be routed, or send with `unicast_ttl`, and keepalived sends IPv6
        // unicast with the kernel's default hop limit.
        if ttl != VRRP_TTL && self.config.peers == Peers::Multicast {
            return Err(DropReason::Ttl);
        }
        if advert.version() != self.config.version {
            return Err(DropReason::Version);
        }
        if src == self.config.primary_address {
            return Err(DropReason::FromSelf);
        }
        if let Peers::Unicast(peers) = &self.config.peers {
            if !peers.contains(&src) {
                return Err(DropReason::UnknownPeer);
            }
            // keepalived's per-peer min_ttl / max_ttl.
            let allowed = self.config.unicast_peer_ttl.get(&src);
            if allowed.is_some_and(|range| !range.contains(&ttl)) {
                return Err(DropReason::Ttl);
            }
        }
        if let VersionFields::V2 { interval, auth } = advert.fields {
            // RFC 3768 §7.1: the auth type and password must match ours.
            if auth != self.config.auth {
                return Err(DropReason::Auth);
            }
            // RFC 3768 §7.1: "MUST verify that the Adver Interval in the packet is the same
            // as the locally configured for this virtual router".
            if Duration::from(interval) != self.config.advert_interval {
                return Err(DropReason::Interval);
            }
        }
        if self.foreign_address_list(src, advert.addresses) {
            return Err(DropReason::AddressList);
        }
        Ok(())
    }

    /// RFC 5798 §6.4.2: "If an ADVERTISEMENT is received" in Backup.
    fn backup_received(&mut self, now: Instant, src: IpAddr, advert: &AdvertRef<'_>) {
        if advert.priority == Priority::STOP {
            // "If the Priority in the ADVERTISEMENT is zero, then: Set the Master_Down_Timer
            // to Skew_Time".
            self.master_stopping = true;
            self.master_down_deferred = false;
            self.arm_master_down(now, self.skew_time());
            return;
        }
        let lower = advert.priority < self.effective_priority;
        let holding_off = self.timers.get(Timer::PreemptDelay).is_some();
        if !self.config.preempt || !lower || holding_off {
            // "If Preempt_Mode is False, or if the Priority in the ADVERTISEMENT is greater
            // than or equal to the local Priority": learn the interval (v3 only) and reset
            // the Master_Down_Timer.
            if self.config.version == Version::V3 {
                self.master_adver_interval = advert.interval();
            }
            self.master = Some(src);
            self.master_priority = Some(advert.priority);
            self.master_stopping = false;
            self.master_down_deferred = false;
            self.arm_master_down(now, self.master_down_interval());
        }
        // Otherwise "Discard the ADVERTISEMENT": the Master_Down_Timer will preempt.
    }

    /// RFC 5798 §6.4.3: "If an ADVERTISEMENT is received" in Master.
    fn master_received(&mut self, now: Instant, src: IpAddr, advert: &AdvertRef<'_>) {
        if advert.priority == Priority::STOP {
            // "If the Priority in the ADVERTISEMENT is zero, then: Send an ADVERTISEMENT;
            // Reset the Adver_Timer to Advertisement_Interval", at a bounded rate.
            self.answer(now);
            return;
        }
        let ours = self.effective_priority;
        let theirs_wins = advert.priority > ours
            || (advert.priority == ours && ip_greater(src, self.config.primary_address));
        if theirs_wins {
            // "Cancel Adver_Timer; Set Master_Adver_Interval to Adver Interval contained in
            // the ADVERTISEMENT; Recompute the Skew_Time and Master_Down_Interval; Set
            // Master_Down_Timer to Master_Down_Interval; Transition to the {Backup} state".
            if self.config.version == Version::V3 {
                self.master_adver_interval = advert.interval();
            }
            if self.config.higher_priority_send_advert {
                // keepalived's higher_prio_send_advert: one advert of ours before we go.
                self.send_advert(self.effective_priority);
            }
            self.master = Some(src);
            self.master_priority = Some(advert.priority);
            self.become_backup(
                now,
                Reason::PreferredMaster {
                    from: src,
                    priority: advert.priority,
                },
            );
            return;
        }
        // The RFC discards it. Another router believes it is master (a healed partition, or
        // it just came up): answer at once so it steps down within one round trip, and
        // re-announce our VIPs, which its gratuitous ARPs may have stolen (keepalived #166).
        // Both at a bounded rate: a flood of rival adverts must not become a flood of ours.
        // keepalived's lower_prio_no_advert keeps to the RFC and sends no answer.
        if !self.config.lower_priority_no_advert {
            self.answer(now);
        }
        let recently = self
            .last_reannounce
            .is_some_and(|at| now.saturating_duration_since(at) < self.config.advert_interval);
        if !recently {
            self.last_reannounce = Some(now);
            self.announce_for_lower_priority(now);
            self.lower_priority_heard = true;
            // keepalived's notify_master_rx_lower_pri, at the same bounded rate.
            self.events.push_back(Event::LowerPriorityAdvert {
                from: src,
                priority: advert.priority,
            });
        }
    }

    /// While a tracked object has not given its first verdict, the instance may be Backup
    /// but not Master (RFC 5798 knows no such state; it is what keeps a start-up from moving
    /// the VIP twice). The driver bounds the wait by reporting a status in time.
    fn awaiting_verdicts(&self) -> bool {
        self.track_status.contains(&TrackStatus::Unknown)
    }

    /// The last tracked object gave its first verdict, in Backup. The Master_Down_Timer
    /// was armed with a priority that left the unknown objects out: re-arm it from the same
    /// start with the real priority's Skew_Time, so that peers settle who is Master as they
    /// would have with the verdicts known at Startup. `before` is the priority it used.
    fn verdicts_known(&mut self, now: Instant, before: Priority) {
        if self.maintenance {
            return;
        }
        if self.effective_priority.is_owner() && !self.held(now) {
            self.become_master(now, Reason::AddressOwner);
            return;
        }
        if std::mem::take(&mut self.master_down_deferred) {
            // No master was heard for a whole Master_Down_Interval already.
            self.arm_master_down(now, self.skew_time());
        } else if let Some(deadline) = self.timers.get(Timer::MasterDown) {
            let start = deadline
                .checked_sub(self.skew_time_at(before))
                .unwrap_or(deadline);
            self.timers.set(Timer::MasterDown, start + self.skew_time());
        }
    }

    /// preempt_delay is over: a lower-priority master seen meanwhile is preempted now
    /// rather than one Master_Down_Interval later.
    fn preempt_delay_elapsed(&mut self, now: Instant) {
        let lower_master = self
            .master_priority
            .is_some_and(|p| p < self.effective_priority);
        if self.state == State::Backup
            && self.config.preempt
            && lower_master
            && !self.maintenance
            && !self.awaiting_verdicts()
            && !self.held(now)
        {
            self.become_master(now, Reason::PreemptDelayElapsed);
        }
    }

    /// The Master_Down_Timer fired while stepped down: the master is gone, but this
    /// instance must not take over. It waits for the next advert, which sets the timer again.
    fn master_gone_in_maintenance(&mut self) {
        self.master = None;
        self.master_priority = None;
        self.master_stopping = false;
    }

    /// keepalived's `garp_lower_prio_repeat` / `garp_lower_prio_delay`: a Master that hears
    /// a lower-priority advert re-announces its VIPs (the rival's gratuitous ARPs may have
    /// taken them), and once more after the delay. Nothing unless Master.
    pub(crate) fn announce_for_lower_priority(&mut self, now: Instant) {
        let announce = self.config.announce;
        if self.state != State::Master || announce.lower_priority_repeat == 0 {
            return;
        }
        self.announce(announce.lower_priority_repeat);
        // Adverts are answered at most once per advert interval, so the queue stays short;
        // the bound only keeps a hostile flood from growing it.
        const MAX_PENDING: usize = 64;
        if let Some(delay) = announce.lower_priority_delay
            && self.lower_priority_bursts.len() < MAX_PENDING
        {
            self.lower_priority_bursts.push_back(now + delay);
            self.arm_lower_priority_bursts();
        }
    }

    fn lower_priority_bursts_due(&mut self, now: Instant) {
        while self
            .lower_priority_bursts
            .front()
            .is_some_and(|&at| at <= now)
        {
            self.lower_priority_bursts.pop_front();
            if self.state == State::Master {
                self.announce(self.config.announce.lower_priority_repeat);
            }
        }
        self.arm_lower_priority_bursts();
    }

    fn arm_lower_priority_bursts(&mut self) {
        match self.lower_priority_bursts.front() {
            Some(&at) => self.timers.set(Timer::LowerPriorityAnnounce, at),
            None => self.timers.stop(Timer::LowerPriorityAnnounce),
        }
    }

    pub(crate) fn take_lower_priority_heard(&mut self) -> bool {
        std::mem::take(&mut self.lower_priority_heard)
    }

    fn scheduled_announce(&mut self, now: Instant) {
        if self.state != State::Master {
            return;
        }
        let announce = self.config.announce;
        if std::mem::take(&mut self.second_burst_pending) {
            self.announce(announce.repeat);
        } else {
            self.announce(announce.refresh_repeat);
        }
        if let Some(refresh) = announce.refresh {
            self.timers.set(Timer::Announce, now + refresh);
        }
    }

    /// RFC 5798 §6.4.1 after Startup (or leaving FAULT, which keepalived treats alike).
    fn leave_initialize(&mut self, now: Instant, reason: Reason) {
        let owner = self.effective_priority.is_owner();
        if owner && !self.maintenance && !self.awaiting_verdicts() && !self.held(now) {
            self.become_master(now, Reason::AddressOwner);
            return;
        }
        // "Set Master_Adver_Interval to Advertisement_Interval; Set the Master_Down_Timer to
        // Master_Down_Interval; Transition to the {Backup} state".
        self.master_adver_interval = self.config.advert_interval;
        self.become_backup(now, reason);
        if owner && !self.maintenance {
            // keepalived: the owner's Master_Down_Timer is next to nothing, from the end of
            // vrrp_startup_delay.
            self.arm_master_down(now, Duration::ZERO);
        }
        if self.config.preempt && !self.config.preempt_delay.is_zero() {
            self.timers
                .set(Timer::PreemptDelay, now + self.config.preempt_delay);
        }
    }

    fn become_master(&mut self, now: Instant, reason: Reason) {
        self.master_down_deferred = false;
        self.timers.stop(Timer::MasterDown);
        self.timers.stop(Timer::PreemptDelay);
        // RFC 5798 §6.4.2: "Send an ADVERTISEMENT; ... broadcast a gratuitous ARP request /
        // send an Unsolicited Neighbor Advertisement ...; Set the Adver_Timer".
        self.send_advert(self.effective_priority);
        self.actions.push_back(VipAction::Add {
            addresses: self.config.virtual_addresses.clone(),
            accept: self.config.accept_mode || self.effective_priority.is_owner(),
        });
        self.announce(self.config.announce.repeat);
        self.timers
            .set(Timer::Adver, now + self.config.advert_interval);
        let announce = self.config.announce;
        self.second_burst_pending = announce.second_burst_delay.is_some();
        if let Some(next) = announce.second_burst_delay.or(announce.refresh) {
            self.timers.set(Timer::Announce, now + next);
        }
        self.master = Some(self.config.primary_address);
        self.master_priority = None;
        self.master_stopping = false;
        self.stats.became_master += 1;
        self.transition(State::Master, reason);
    }

    fn become_backup(&mut self, now: Instant, reason: Reason) {
        if self.state == State::Master {
            self.remove_vips();
        }
        self.timers.stop(Timer::Adver);
        self.timers.stop(Timer::Announce);
        self.forget_lower_priority_bursts();
        self.master_stopping = false;
        if matches!(
            reason,
            Reason::Startup | Reason::FaultCleared | Reason::SyncGroup
        ) {
            self.master = None;
            self.master_priority = None;
        }
        self.arm_master_down(now, self.master_down_interval());
        self.transition(State::Backup, reason);
    }

    /// Sets the Master_Down_Timer `after` from now, or from the end of the startup delay
    /// while it lasts (keepalived's `vrrp_init_instance_sands`).
    fn arm_master_down(&mut self, now: Instant, after: Duration) {
        let from = self.startup_hold.map_or(now, |until| until.max(now));
        self.timers.set(Timer::MasterDown, from + after);
    }

    /// True while the startup delay keeps the instance from becoming Master.
    fn held(&self, now: Instant) -> bool {
        self.startup_hold.is_some_and(|until| now < until)
    }

    /// keepalived's `vrrp_startup_delay`: no Master before `until`. Call before
    /// [`Instance::start`].
    pub(crate) fn hold_until(&mut self, until: Instant) {
        self.startup_hold = Some(until);
    }

    fn become_fault(&mut self) {
        if self.state == State::Master {
            self.leave_master();
        }
        self.timers.stop_all();
        self.master = None;
        self.master_priority = None;
        self.transition(State::Fault, Reason::Fault);
    }

    /// Priority-0 advert and VIPs removed, as on shutdown (RFC 5798 §6.4.3).
    fn leave_master(&mut self) {
        self.send_advert(Priority::STOP);
        self.remove_vips();
        self.forget_lower_priority_bursts();
    }

    /// The delayed bursts belong to the mastership that heard the lower advert.
    fn forget_lower_priority_bursts(&mut self) {
        self.lower_priority_bursts.clear();
        self.timers.stop(Timer::LowerPriorityAnnounce);
    }

    fn reconcile_fault(&mut self, now: Instant) {
        match (self.state, self.has_fault()) {
            (State::Fault, false) => self.leave_initialize(now, Reason::FaultCleared),
            (State::Backup | State::Master, true) => self.become_fault(),
            _ => {}
        }
    }

    fn has_fault(&self) -> bool {
        self.group_fault || self.own_fault()
    }

    /// keepalived semantics: positive weights count while up, negative while down; the
    /// owner's priority is never changed; the result stays in 1..=254.
    fn compute_effective_priority(&self) -> Priority {
        let base = self.config.priority;
        if base.is_owner() {
            return base;
        }
        let adjustment: i64 = self
            .config
            .tracks
            .iter()
            .zip(&self.track_status)
            .map(|(track, status)| match status.effect(track.weight) {
                TrackEffect::Adjust(by) => i64::from(by),
                TrackEffect::Fault => 0,
            })
            .sum();
        let min = i64::from(Priority::MIN_BACKUP.get());
        let max = i64::from(Priority::MAX_BACKUP.get());
        let value = (i64::from(base.get()) + adjustment).clamp(min, max);
        Priority::new(u8::try_from(value).unwrap_or(Priority::MAX_BACKUP.get()))
    }

    fn announce(&mut self, repeat: u32) {
        if repeat > 0 && !self.config.virtual_addresses.is_empty() {
            self.actions.push_back(VipAction::Announce {
                addresses: self.config.virtual_addresses.clone(),
                repeat,
            });
        }
    }

    fn remove_vips(&mut self) {
        self.actions.push_back(VipAction::Remove {
            addresses: self.config.virtual_addresses.clone(),
        });
    }

    fn transition(&mut self, to: State, reason: Reason) {
        // A deferred takeover belongs to the Backup state it was deferred in.
        self.master_down_deferred = false;
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        self.stats.transitions += 1;
        if reason != Reason::SyncGroup {
            self.sync_trigger = Some((from, to));
        }
        self.events
            .push_back(Event::StateChanged { from, to, reason });
    }
}

/// RFC 5798 §6.4.3: primary addresses compare as unsigned integers in network byte order,
/// which is what `Ord` on same-family addresses does.
fn ip_greater(a: IpAddr, b: IpAddr) -> bool {
    a > b
}

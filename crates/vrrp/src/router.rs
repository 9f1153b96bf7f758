//! All the virtual routers of one host: dispatches received packets to the right instance
//! and keeps sync groups in step (keepalived's `vrrp_sync_group`: the instances of a group
//! are MASTER together, BACKUP together and in FAULT together).

use std::fmt;
use std::net::IpAddr;
use std::time::Instant;

use crate::checksum::ChecksumMode;
use crate::instance::{
    ConfigError, DropReason, Event, Instance, InstanceConfig, State, Stats, TrackStatus, Transmit,
    VipAction,
};
use crate::packet::{AdvertRef, DecodeError};

/// Index of an instance in its [`Router`], in configuration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub usize);

/// Instances that change state together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupConfig {
    pub name: String,
    /// Instance names.
    pub members: Vec<String>,
}

/// How a packet arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    pub interface: &'a str,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
}

/// A packet that was counted and not acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The instance that counted it, or `None` when no instance claims the packet.
    pub instance: Option<InstanceId>,
    pub reason: DropReason,
    /// Details when the bytes did not decode.
    pub decode_error: Option<DecodeError>,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.decode_error {
            Some(error) => write!(f, "dropped ({}): {error}", self.reason.as_str()),
            None => write!(f, "dropped ({})", self.reason.as_str()),
        }
    }
}

impl std::error::Error for Dropped {}

#[derive(Debug)]
pub struct Router {
    instances: Vec<Instance>,
    groups: Vec<Vec<usize>>,
    group_of: Vec<Option<usize>>,
    /// Packets no instance claimed.
    unclaimed: Stats,
    /// keepalived's `vrrp_startup_delay`: no instance is Master before this instant, also
    /// those a reload adds while it lasts.
    startup_hold: Option<Instant>,
}

impl Router {
    pub fn new(
        configs: Vec<InstanceConfig>,
        sync_groups: Vec<SyncGroupConfig>,
    ) -> Result<Router, ConfigError> {
        let instances = configs
            .into_iter()
            .map(Instance::new)
            .collect::<Result<Vec<_>, _>>()?;
        for (i, a) in instances.iter().enumerate() {
            let duplicate = instances[..i]
                .iter()
                .find(|b| same_virtual_router(a.config(), b.config()));
            if let Some(b) = duplicate {
                return Err(ConfigError::DuplicateVirtualRouter {
                    first: b.name().to_owned(),
                    second: a.name().to_owned(),
                });
            }
        }
        let mut group_of = vec![None; instances.len()];
        let mut groups = Vec::new();
        for (g, group) in sync_groups.into_iter().enumerate() {
            let mut members = Vec::new();
            for member in &group.members {
                let found = instances.iter().position(|i| i.name() == member);
                match found {
                    Some(i) if group_of[i].is_none() => {
                        group_of[i] = Some(g);
                        members.push(i);
                    }
                    _ => {
                        return Err(ConfigError::SyncGroupMember {
                            group: group.name.clone(),
                            instance: member.clone(),
                        });
                    }
                }
            }
            groups.push(members);
        }
        Ok(Router {
            instances,
            groups,
            group_of,
            unclaimed: Stats::default(),
            startup_hold: None,
        })
    }

    pub fn instances(&self) -> impl Iterator<Item = (InstanceId, &Instance)> {
        self.instances
            .iter()
            .enumerate()
            .map(|(i, instance)| (InstanceId(i), instance))
    }

    pub fn instance(&self, id: InstanceId) -> Option<&Instance> {
        self.instances.get(id.0)
    }

    pub fn find(&self, name: &str) -> Option<InstanceId> {
        self.instances
            .iter()
            .position(|i| i.name() == name)
            .map(InstanceId)
    }

    /// True when `a` and `b` are distinct members of one sync group.
    pub fn same_sync_group(&self, a: InstanceId, b: InstanceId) -> bool {
        let group = |id: InstanceId| self.group_of.get(id.0).copied().flatten();
        a != b && group(a).is_some() && group(a) == group(b)
    }

    /// Counters for packets that no instance claimed.
    pub fn unclaimed_stats(&self) -> &Stats {
        &self.unclaimed
    }

    /// keepalived's `vrrp_startup_delay`: no instance becomes Master before `until`; a
    /// backup's Master_Down_Timer runs from then (an address owner takes over at `until`).
    /// Call once, before the first [`Router::start`].
    pub fn delay_startup(&mut self, until: Instant) {
        self.startup_hold = Some(until);
        for instance in &mut self.instances {
            instance.hold_until(until);
        }
    }

    /// Startup event for every instance still in Initialize.
    pub fn start(&mut self, now: Instant) {
        self.propagate_group_faults(now);
        for instance in &mut self.instances {
            instance.start(now);
        }
        self.sync_groups(now);
    }

    /// Shutdown event for every instance.
    pub fn shutdown(&mut self, now: Instant) {
        for instance in &mut self.instances {
            instance.shutdown(now);
        }
        for instance in &mut self.instances {
            let _ = instance.take_sync_trigger();
        }
    }

    /// Shutdown event for one instance (before it is reconfigured away).
    pub fn shutdown_instance(&mut self, now: Instant, id: InstanceId) {
        if let Some(instance) = self.instances.get_mut(id.0) {
            instance.shutdown(now);
            let _ = instance.take_sync_trigger();
        }
    }

    /// Steps instance `id` down for maintenance, or resumes it; see
    /// [`Instance::set_maintenance`]. Within a sync group the whole group is stepped down
    /// (and resumed) together: the group is Master together, so one member that may not be
    /// Master keeps the others from it too. Returns false when there is no such instance.
    pub fn set_maintenance(&mut self, now: Instant, id: InstanceId, on: bool) -> bool {
        if id.0 >= self.instances.len() {
            return false;
        }
        let members = match self.group_of[id.0] {
            Some(group) => self.groups[group].clone(),
            None => vec![id.0],
        };
        for member in members {
            self.instances[member].set_maintenance(now, on);
        }
        self.after_input(now);
        true
    }

    /// Replaces the configuration (SIGHUP). An instance whose configuration is unchanged
    /// keeps its state, timers and counters, so a reload that does not touch it cannot move
    /// its VIPs; every other instance is new and waits in Initialize for [`Router::start`].
    /// Call [`Router::shutdown_instance`] first for instances that are going away or
    /// changing, so they say goodbye with the old configuration. A changed instance stays
    /// stepped down ([`Router::set_maintenance`]) if the old one of the same name was.
    pub fn reconfigure(
        &mut self,
        configs: Vec<InstanceConfig>,
        sync_groups: Vec<SyncGroupConfig>,
    ) -> Result<(), ConfigError> {
        let mut next = Router::new(configs, sync_groups)?;
        let mut old: Vec<Option<Instance>> = std::mem::take(&mut self.instances)
            .into_iter()
            .map(Some)
            .collect();
        for slot in &mut next.instances {
            let kept = old
                .iter_mut()
                .find(|o| o.as_ref().is_some_and(|o| o.config() == slot.config()));
            if let Some(kept) = kept.and_then(Option::take) {
                *slot = kept;
            }
        }
        for slot in &mut next.instances {
            let stepped_down = old
                .iter()
                .flatten()
                .any(|o| o.name() == slot.name() && o.maintenance());
            if stepped_down {
                slot.keep_stepped_down();
            }
        }
        next.unclaimed = std::mem::take(&mut self.unclaimed);
        if let Some(until) = self.startup_hold {
            next.delay_startup(until);
        }
        *self = next;
        Ok(())
    }

    /// A packet from a raw socket: `payload` is the IP payload.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        received: Received<'_>,
        payload: &[u8],
    ) -> Result<InstanceId, Dropped> {
        let vrid = payload.get(1).copied();
        let target = self.instances.iter().position(|i| {
            let config = i.config();
            Some(config.vrid.get()) == vrid
                && config.interface == received.interface
                && config.primary_address.is_ipv6() == received.src.is_ipv6()
        });
        let Some(index) = target else {
            // Nobody's checksum mode applies; decode leniently only to say what is wrong
            // with the packet when it is malformed rather than merely not ours.
            let decode_error =
                AdvertRef::decode(payload, received.src, received.dst, ChecksumMode::V3AsV2).err();
            let reason = decode_error
                .as_ref()
                .map_or(DropReason::Vrid, DropReason::from);
            self.unclaimed.count_drop(reason);
            return Err(Dropped {
                instance: None,
                reason,
                decode_error,
            });
        };
        let instance = &mut self.instances[index];
        let id = InstanceId(index);
        let mode = instance.config().checksum_mode;
        let decoded = match AdvertRef::decode(payload, received.src, received.dst, mode) {
            Err(error @ DecodeError::BadChecksum { .. }) => {
                let old = instance.old_checksum_to_try(received.src, received.dst);
                match old.map(|old| {
                    (
                        old,
                        AdvertRef::decode(payload, received.src, received.dst, old),
                    )
                }) {
                    Some((old, Ok(advert))) => {
                        instance.adopt_checksum(old, received.src);
                        Ok(advert)
                    }
                    _ => Err(error),
                }
            }
            decoded => decoded,
        };
        let advert = match decoded {
            Ok(advert) => advert,
            Err(error) => {
                let reason = DropReason::from(&error);
                instance.count_drop(reason);
                return Err(Dropped {
                    instance: Some(id),
                    reason,
                    decode_error: Some(error),
                });
            }
        };
        let result = instance.handle_received(now, received.src, received.ttl, &advert);
        self.after_input(now);
        result.map(|()| id).map_err(|reason| Dropped {
            instance: Some(id),
            reason,
            decode_error: None,
        })
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for instance in &mut self.instances {
            if instance.poll_timeout().is_some_and(|at| at <= now) {
                instance.handle_timeout(now);
            }
        }
        self.after_input(now);
    }

    /// A tracked object of instance `id` went up or down.
    pub fn set_track(&mut self, now: Instant, id: InstanceId, track: usize, up: bool) {
        self.set_track_status(now, id, track, TrackStatus::from_up(up));
    }

    /// A tracked object of instance `id` reported a new status.
    pub fn set_track_status(
        &mut self,
        now: Instant,
        id: InstanceId,
        track: usize,
        status: TrackStatus,
    ) {
        if let Some(instance) = self.instances.get_mut(id.0) {
            instance.set_track_status(now, track, status);
        }
        self.after_input(now);
    }

    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(InstanceId, Transmit)> {
        self.poll_each(Instance::poll_transmit)
    }

    /// Gives back a transmit of instance `id` once sent (see [`Instance::recycle`]), so
    /// that adverts allocate nothing.
    pub fn recycle(&mut self, id: InstanceId, transmit: Transmit) {
        if let Some(instance) = self.instances.get_mut(id.0) {
            instance.recycle(transmit);
        }
    }

    #[must_use]
    pub fn poll_action(&mut self) -> Option<(InstanceId, VipAction)> {
        self.poll_each(Instance::poll_action)
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<(InstanceId, Event)> {
        self.poll_each(Instance::poll_event)
    }

    /// Whether any instance has output waiting (see [`Instance::has_output`]).
    #[must_use]
    pub fn has_output(&self) -> bool {
        self.instances.iter().any(Instance::has_output)
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.instances
            .iter()
            .filter_map(Instance::poll_timeout)
            .min()
    }

    fn poll_each<T>(
        &mut self,
        mut poll: impl FnMut(&mut Instance) -> Option<T>,
    ) -> Option<(InstanceId, T)> {
        self.instances
            .iter_mut()
            .enumerate()
            .find_map(|(i, instance)| poll(instance).map(|out| (InstanceId(i), out)))
    }

    fn after_input(&mut self, now: Instant) {
        if self.groups.is_empty() {
            // What the three below come to without a sync group, in one pass: the
            // triggers are only for the group's siblings.
            for instance in &mut self.instances {
                let _ = instance.take_sync_trigger();
                let _ = instance.take_lower_priority_heard();
            }
            return;
        }
        self.propagate_group_faults(now);
        self.sync_groups(now);
        self.lower_priority_announces(now);
    }

    /// keepalived: a member of a sync group that hears a lower-priority advert as Master
    /// has the group's other members send their `garp_lower_prio_repeat` bursts too.
    fn lower_priority_announces(&mut self, now: Instant) {
        for index in 0..self.instances.len() {
            if !self.instances[index].take_lower_priority_heard() {
                continue;
            }
            let Some(group) = self.group_of[index] else {
                continue;
            };
            for &sibling in &self.groups[group] {
                if sibling != index {
                    self.instances[sibling].announce_for_lower_priority(now);
                }
            }
        }
    }

    /// A fault in one member puts the whole group in FAULT until it clears.
    fn propagate_group_faults(&mut self, now: Instant) {
        for members in &self.groups {
            let fault = members.iter().any(|&m| self.instances[m].own_fault());
            for &m in members {
                self.instances[m].set_group_fault(now, fault);
            }
        }
    }

    /// A member that became Master takes the group to Master; a Master that stepped down to
    /// Backup takes the group to Backup.
    fn sync_groups(&mut self, now: Instant) {
        for index in 0..self.instances.len() {
            let Some((from, to)) = self.instances[index].take_sync_trigger() else {
                continue;
            };
            let Some(group) = self.group_of[index] else {
                continue;
            };
            let target = match (from, to) {
                (_, State::Master) => State::Master,
                (State::Master, State::Backup) => State::Backup,
                _ => continue,
            };
            for &sibling in &self.groups[group] {
                if sibling != index {
                    self.instances[sibling].follow_sync_group(now, target);
                }
            }
        }
    }
}

fn same_virtual_router(a: &InstanceConfig, b: &InstanceConfig) -> bool {
    a.vrid == b.vrid && a.interface == b.interface && a.ipv6() == b.ipv6()
}

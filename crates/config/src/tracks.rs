//! What an instance tracks, in the engine's order, with keepalived's rules for sync groups
//! and address owners (keepalived `vrrp.c`, `vrrp_complete_instance` and
//! `sync_group_tracking_init`; keepalived.conf(5), "VRRP synchronization group(s)").

use crate::diagnostic::Location;
use crate::model::{Config, Track, TrackOrigin, TrackedObject, VrrpInstance};

// Here rather than in model.rs, so that the model does not import the rules that read it.
impl Config {
    /// Everything `instance` tracks, in the engine's order, with keepalived's rules applied:
    ///
    /// - its own interface (weight 0) unless `dont_track_primary`; a `track_interface` of
    ///   the own interface is dropped;
    /// - its `track_interface`, `track_script`, `track_file` (script and file weights
    ///   default to the script's / file's own), then its `track_frontend` and
    ///   `track_virtual_server` (weight 0 unless given; dropped like weighted scripts in the
    ///   cases below);
    /// - the `dev` of each virtual address that is not `no_track` (weight 0);
    /// - the `track_*` of its sync group; an object tracked by both keeps the instance's
    ///   weight 0, else takes the group's weight;
    /// - in a sync group without `sync_group_tracking_weight`: weighted interfaces get weight
    ///   0, weighted scripts are dropped, files of weight 1 get 0 and other weighted files
    ///   are dropped (keepalived's `vrrp_complete_instance`);
    /// - for an address owner (priority 255) weighted instance objects are dropped, and a
    ///   group with an owner member tracks its own objects with weight 0.
    ///
    /// `baton check` lists each of those adjustments as a warning.
    pub fn tracks(&self, instance: &VrrpInstance) -> Vec<Track> {
        tracks(self, instance, &mut |_, _| {})
    }
}

/// Called with each adjustment keepalived would log; `build` turns them into warnings.
pub(crate) type Warn<'a> = dyn FnMut(&Location, String) + 'a;

pub(crate) fn tracks(config: &Config, instance: &VrrpInstance, warn: &mut Warn<'_>) -> Vec<Track> {
    let name = &instance.name;
    let group = config.sync_group_of(name);
    // keepalived.conf(5): "when instances are grouped, any track scripts/files configured
    // against member VRRP instances must have their tracking weights unset ... Any trackers
    // with a non-zero priority will be ignored", unless sync_group_tracking_weight.
    let group_rules = group.is_some_and(|g| !g.tracking_weight);
    let owner = instance.priority.is_owner();
    let why = if group_rules {
        "it is in a sync group without sync_group_tracking_weight"
    } else {
        "it is the address owner (priority 255)"
    };
    let mut list = Vec::new();

    if !instance.dont_track_primary {
        list.push(Track {
            object: TrackedObject::Interface(instance.interface.clone()),
            weight: 0,
            reverse: false,
            initially_up: true,
            origin: TrackOrigin::OwnInterface,
        });
    }

    // keepalived's track_src_ip: weight 0, the address gone means FAULT. The address may
    // sit on the instance's virtual link instead of its interface.
    if let Some(address) = instance
        .source_address
        .filter(|_| instance.track_source_address)
    {
        let mut interfaces = vec![instance.interface.clone()];
        interfaces.extend(instance.vmac.as_ref().map(|link| link.name.clone()));
        list.push(Track {
            object: TrackedObject::SourceAddress {
                address,
                interfaces,
            },
            weight: 0,
            reverse: false,
            initially_up: true,
            origin: TrackOrigin::SourceAddress,
        });
    }

    for t in &instance.track_interfaces {
        if t.name == instance.interface {
            warn(
                &t.location,
                format!(
                    "instance {name}: track_interface {} is the instance's own interface, \
                     which is tracked anyway; ignored",
                    t.name
                ),
            );
            continue;
        }
        let mut weight = t.weight;
        if weight != 0 && group_rules {
            warn(
                &t.location,
                format!(
                    "instance {name}: weight {weight} of tracked interface {} ignored because \
                     {why}: the interface going down means FAULT",
                    t.name
                ),
            );
            weight = 0;
        } else if weight != 0 && owner {
            warn(
                &t.location,
                format!(
                    "instance {name}: tracked interface {} with weight {weight} ignored because \
                     {why}",
                    t.name
                ),
            );
            continue;
        }
        push_unique(
            &mut list,
            TrackedObject::Interface(t.name.clone()),
            weight,
            t.reverse,
        );
    }

    for address in instance.all_addresses() {
        let Some(dev) = &address.dev else { continue };
        let already = list.iter().any(|t| {
            t.weight == 0 && !t.reverse && t.object == TrackedObject::Interface(dev.clone())
        });
        if address.no_track || *dev == instance.interface || already {
            continue;
        }
        list.push(Track {
            object: TrackedObject::Interface(dev.clone()),
            weight: 0,
            reverse: false,
            initially_up: true,
            origin: TrackOrigin::AddressDevice,
        });
    }

    for t in &instance.track_scripts {
        let Some(script) = config.script(&t.name) else {
            continue;
        };
        let weight = t.weight.unwrap_or(script.weight);
        let reverse = t.reverse.unwrap_or(script.reverse);
        if weight != 0 && (group_rules || owner) {
            warn(
                &t.location,
                format!(
                    "instance {name}: tracked script {} with weight {weight} ignored because {why}",
                    t.name
                ),
            );
            continue;
        }
        list.push(Track {
            object: TrackedObject::Script(t.name.clone()),
            weight: folded(weight, reverse),
            reverse,
            // Up unless init_fail, as reported: inverted when reversed.
            initially_up: script.init_fail == reverse,
            origin: TrackOrigin::Instance,
        });
    }

    for t in &instance.track_files {
        let Some(file) = config.track_file(&t.name) else {
            continue;
        };
        let mut weight = t.weight.unwrap_or(file.weight);
        let reverse = t.reverse.unwrap_or(file.reverse);
        if weight != 0 && (group_rules || owner) {
            // keepalived: "weight == 1 is the default" and is taken to mean "unweighted".
            if weight == 1 {
                warn(
                    &t.location,
                    format!(
                        "instance {name}: weight of tracked file {} ignored because {why}; \
                         write weight 0",
                        t.name
                    ),
                );
                weight = 0;
            } else {
                warn(
                    &t.location,
                    format!(
                        "instance {name}: tracked file {} with weight {weight} ignored because \
                         {why}",
                        t.name
                    ),
                );
                continue;
            }
        }
        list.push(Track {
            object: TrackedObject::File(t.name.clone()),
            weight: folded(weight, reverse),
            reverse,
            initially_up: true,
            origin: TrackOrigin::Instance,
        });
    }

    // keepalived's vrrp_complete_instance ignores weighted track_bfds as it does scripts.
    for t in &instance.track_bfds {
        let Some(bfd) = config.bfd_instance(&t.name) else {
            continue;
        };
        let weight = t.weight.unwrap_or(bfd.weight);
        if weight != 0 && (group_rules || owner) {
            warn(
                &t.location,
                format!(
                    "instance {name}: tracked bfd {} with weight {weight} ignored because {why}",
                    t.name
                ),
            );
            continue;
        }
        list.push(Track {
            object: TrackedObject::Bfd(t.name.clone()),
            weight,
            reverse: false,
            // keepalived's VRRP process counts a session down until it hears it is Up.
            initially_up: false,
            origin: TrackOrigin::Instance,
        });
    }

    // keepalived 2.2.7's vrrp_complete_instance leaves track_process out of its sync group
    // rules, so a weighted process keeps its weight there; an address owner's priority
    // never moves with it (process_update_track_process_status).
    for t in &instance.track_processes {
        let Some(process) = config.track_process(&t.name) else {
            continue;
        };
        let weight = t.weight.unwrap_or(process.weight);
        let reverse = t.reverse.unwrap_or(process.reverse);
        if weight != 0 && owner {
            warn(
                &t.location,
                format!(
                    "instance {name}: tracked process {} with weight {weight} ignored because \
                     it is the address owner (priority 255)",
                    t.name
                ),
            );
            continue;
        }
        list.push(Track {
            object: TrackedObject::Process(t.name.clone()),
            weight: folded(weight, reverse),
            reverse,
            initially_up: !reverse,
            origin: TrackOrigin::Instance,
        });
    }

    // Like scripts: a frontend's health is up or down, and its weight moves the priority.
    for t in &instance.track_frontends {
        if t.weight != 0 && (group_rules || owner) {
            warn(
                &t.location,
                format!(
                    "instance {name}: tracked frontend {} with weight {} ignored because {why}",
                    t.name, t.weight
                ),
            );
            continue;
        }
        list.push(Track {
            object: TrackedObject::Frontend(t.name.clone()),
            weight: t.weight,
            reverse: false,
            initially_up: true,
            origin: TrackOrigin::Instance,
        });
    }

    // A virtual server is down while it has lost its quorum; weighted as a frontend.
    for t in &instance.track_virtual_servers {
        if t.weight != 0 && (group_rules || owner) {
            warn(
                &t.location,
                format!(
                    "instance {name}: tracked virtual server {} with weight {} ignored because \
                     {why}",
                    t.name, t.weight
                ),
            );
            continue;
        }
        let initially_up = !config.virtual_server(&t.name).is_some_and(|v| v.alpha);
        list.push(Track {
            object: TrackedObject::VirtualServer(t.name.clone()),
            weight: t.weight,
            reverse: false,
            initially_up,
            origin: TrackOrigin::Instance,
        });
    }

    let Some(group) = group else { return list };
    let group_has_owner = group
        .members
        .iter()
        .filter_map(|m| config.instance(m))
        .any(|i| i.priority.is_owner());
    let origin = TrackOrigin::SyncGroup(group.name.clone());
    let mut group_weight = |weight: i32, what: &str, at: &Location| {
        if weight != 0 && group_has_owner {
            warn(
                at,
                format!(
                    "sync group {}: weight {weight} of tracked {what} cleared because a member \
                     is the address owner (priority 255)",
                    group.name
                ),
            );
            0
        } else {
            weight
        }
    };
    let mut from_group = Vec::new();
    for t in &group.track_interfaces {
        let weight = group_weight(t.weight, &format!("interface {}", t.name), &t.location);
        let object = TrackedObject::Interface(t.name.clone());
        from_group.push((object, weight, t.reverse, !t.reverse));
    }
    for t in &group.track_scripts {
        let Some(script) = config.script(&t.name) else {
            continue;
        };
        let weight = t.weight.unwrap_or(script.weight);
        let weight = group_weight(weight, &format!("script {}", t.name), &t.location);
        let reverse = t.reverse.unwrap_or(script.reverse);
        let object = TrackedObject::Script(t.name.clone());
        from_group.push((object, weight, reverse, script.init_fail == reverse));
    }
    for t in &group.track_files {
        let Some(file) = config.track_file(&t.name) else {
            continue;
        };
        let weight = t.weight.unwrap_or(file.weight);
        let weight = group_weight(weight, &format!("file {}", t.name), &t.location);
        let reverse = t.reverse.unwrap_or(file.reverse);
        from_group.push((TrackedObject::File(t.name.clone()), weight, reverse, true));
    }
    for t in &group.track_bfds {
        let Some(bfd) = config.bfd_instance(&t.name) else {
            continue;
        };
        let weight = t.weight.unwrap_or(bfd.weight);
        let weight = group_weight(weight, &format!("bfd {}", t.name), &t.location);
        from_group.push((TrackedObject::Bfd(t.name.clone()), weight, false, false));
    }
    for t in &group.track_processes {
        let Some(process) = config.track_process(&t.name) else {
            continue;
        };
        let weight = t.weight.unwrap_or(process.weight);
        let weight = group_weight(weight, &format!("process {}", t.name), &t.location);
        let reverse = t.reverse.unwrap_or(process.reverse);
        let object = TrackedObject::Process(t.name.clone());
        from_group.push((object, weight, reverse, !reverse));
    }
    for (object, weight, reverse, initially_up) in from_group {
        let weight = folded(weight, reverse);
        // keepalived: "configured on VRRP instance and sync group. Remove vrrp instance
        // config": the group's weight wins unless the instance's entry is unweighted.
        if let Some(existing) = list.iter_mut().find(|t| t.object == object) {
            if existing.weight != 0 {
                existing.weight = weight;
                existing.reverse = reverse;
                existing.initially_up = initially_up;
            }
            continue;
        }
        list.push(Track {
            object,
            weight,
            reverse,
            initially_up,
            origin: origin.clone(),
        });
    }
    list
}

/// keepalived's `weight_multiplier`: a reversed weight counts negated (see
/// [`Track::reverse`]).
fn folded(weight: i32, reverse: bool) -> i32 {
    if reverse { -weight } else { weight }
}

fn push_unique(list: &mut Vec<Track>, object: TrackedObject, weight: i32, reverse: bool) {
    let weight = folded(weight, reverse);
    if list
        .iter()
        .any(|t| t.object == object && t.weight == weight && t.reverse == reverse)
    {
        return;
    }
    list.push(Track {
        object,
        weight,
        reverse,
        initially_up: !reverse,
        origin: TrackOrigin::Instance,
    });
}

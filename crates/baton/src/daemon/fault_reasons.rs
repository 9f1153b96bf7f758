//! Why an instance is in FAULT, as `baton status` tells it: the tracked objects that hold
//! it there, named from the plan (the engine knows them only by number).

use std::collections::BTreeMap;

use baton_vrrp::{InstanceId, Router};

use super::plan::{TrackKey, TrackTarget};
use crate::status::Status;

/// What each tracked object of each instance means when it holds the instance in FAULT.
#[derive(Debug, Default)]
pub(crate) struct FaultReasons(BTreeMap<(InstanceId, usize), String>);

impl FaultReasons {
    /// From a plan's tracks.
    pub(crate) fn of(tracks: &BTreeMap<TrackKey, Vec<TrackTarget>>) -> FaultReasons {
        let reasons = tracks
            .iter()
            .flat_map(|(key, targets)| {
                targets
                    .iter()
                    .map(move |t| ((t.instance, t.index), reason(key, t.reverse)))
            })
            .collect();
        FaultReasons(reasons)
    }

    /// Each instance's reasons in `status`, from what the engine says holds it in FAULT.
    pub(crate) fn fill(&self, router: &Router, status: &mut Status) {
        for (id, instance) in router.instances() {
            let Some(entry) = status
                .vrrp
                .iter_mut()
                .find(|entry| entry.name == instance.config().name)
            else {
                continue;
            };
            entry.faults = instance
                .faulted_tracks()
                .filter_map(|index| self.0.get(&(id, index)).cloned())
                .collect();
        }
    }
}

/// What `key` being in the state that means FAULT looks like to an operator.
fn reason(key: &TrackKey, reverse: bool) -> String {
    match key {
        TrackKey::SourceAddress {
            address,
            interfaces,
        } => format!(
            "source address {address} not on {}",
            interfaces.join(" or ")
        ),
        // A file holds FAULT by its value (non-zero with weight 0, or at most -254).
        TrackKey::File(_) => format!("{key} reports a failure"),
        _ if reverse => format!("{key} up (reverse)"),
        _ => format!("{key} down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_the_object_and_what_is_wrong_with_it() {
        let source = TrackKey::SourceAddress {
            address: "10.0.3.2".parse().expect("ip"),
            interfaces: vec!["eth0".into(), "vrrp.51".into()],
        };
        assert_eq!(
            reason(&source, false),
            "source address 10.0.3.2 not on eth0 or vrrp.51"
        );
        let interface = TrackKey::Interface("eth1".into());
        assert_eq!(reason(&interface, false), "interface eth1 down");
        assert_eq!(reason(&interface, true), "interface eth1 up (reverse)");
        let target = |instance, index| TrackTarget {
            instance: InstanceId(instance),
            index,
            weight: 0,
            reverse: false,
        };
        let tracks = BTreeMap::from([
            (interface, vec![target(0, 0), target(1, 0)]),
            (source, vec![target(0, 1)]),
        ]);
        let reasons = FaultReasons::of(&tracks);
        assert_eq!(
            reasons.0.get(&(InstanceId(0), 1)).map(String::as_str),
            Some("source address 10.0.3.2 not on eth0 or vrrp.51")
        );
        assert_eq!(reasons.0.len(), 3);
    }
}

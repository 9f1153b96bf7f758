//! What refers to a `vrrp_track_process`: the `track_process` entries of instances and sync
//! groups, checked against the blocks, and which way each instance counts it. Apart from
//! `track_process` so that the model's leaf types import nothing of the model.

use crate::diagnostic::Diagnostics;
use crate::model::{Config, VrrpInstance};
use crate::track_process::TrackProcessRef;

/// keepalived: "(VI_1) track process NAME not found, ignoring...", which fails
/// `keepalived -t`; an error at the entry's line here.
pub(crate) fn check_references(config: &Config, d: &mut Diagnostics) {
    let processes = &config.track_processes;
    let lists = config
        .instances
        .iter()
        .map(|i| (format!("instance {}", i.name), &i.track_processes))
        .chain(
            config
                .sync_groups
                .iter()
                .map(|g| (format!("sync group {}", g.name), &g.track_processes)),
        );
    for (what, refs) in lists {
        for r in refs {
            if !processes.iter().any(|p| p.name == r.name) {
                let message = format!(
                    "{what}: track_process {0}: no vrrp_track_process named {0}",
                    r.name
                );
                d.error(&r.location, message);
            }
        }
    }
}

impl Config {
    /// Whether `instance`'s tracking of the process block `name` is reversed: its own
    /// entry's `reverse`/`noreverse`, else the block's; when its sync group tracks the block
    /// too, the group's entry wins unless the instance's is unweighted (as the weights do in
    /// [`Config::tracks`](crate::Config::tracks)).
    pub fn track_process_reverse(&self, instance: &VrrpInstance, name: &str) -> bool {
        let Some(block) = self.track_process(name) else {
            return false;
        };
        let of = |r: &TrackProcessRef| r.reverse.unwrap_or(block.reverse);
        let own = instance.track_processes.iter().find(|r| r.name == name);
        let group = self
            .sync_group_of(&instance.name)
            .and_then(|g| g.track_processes.iter().find(|r| r.name == name));
        match (own, group) {
            (Some(own), Some(group)) if own.weight.unwrap_or(block.weight) != 0 => of(group),
            (Some(own), _) => of(own),
            (None, Some(group)) => of(group),
            (None, None) => false,
        }
    }
}

//! `[[sync_group]]`: keepalived's `vrrp_sync_group`, with its key names.

use serde::Deserialize;
use toml::{Spanned, Value};

use super::Reader;
use crate::spec::{At, SyncGroupDraft};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SyncGroupToml {
    name: String,
    group: Option<Vec<Spanned<String>>>,
    notify_master: Option<Spanned<Value>>,
    notify_backup: Option<Spanned<Value>>,
    notify_fault: Option<Spanned<Value>>,
    notify_stop: Option<Spanned<Value>>,
    notify: Option<Spanned<Value>>,
    track_interface: Option<Vec<Spanned<Value>>>,
    track_script: Option<Vec<Spanned<Value>>>,
    track_file: Option<Vec<Spanned<Value>>>,
    sync_group_tracking_weight: Option<bool>,
}

impl Reader<'_> {
    pub(super) fn sync_group(&mut self, t: SyncGroupToml, start: usize) -> SyncGroupDraft {
        let c = format!("sync group {}", t.name);
        let mut g = SyncGroupDraft::new(t.name, self.at(start));
        g.tracking_weight = t.sync_group_tracking_weight.unwrap_or(false);
        for member in t.group.unwrap_or_default() {
            let at = self.at(member.span().start);
            g.members.push(At::new(member.into_inner(), at));
        }
        g.notify = self.notify(
            &c,
            [
                t.notify_master,
                t.notify_backup,
                t.notify_fault,
                t.notify_stop,
                t.notify,
            ],
        );
        self.tracks(
            &c,
            t.track_interface,
            t.track_script,
            t.track_file,
            (
                &mut g.track_interfaces,
                &mut g.track_scripts,
                &mut g.track_files,
            ),
        );
        g
    }
}

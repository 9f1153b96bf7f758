//! keepalived's `vrrp_sync_group` block, as `vrrp_parser.c` reads it.

use crate::keepalived::keywords;
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::spec::{At, SyncGroupDraft};

impl Mapper<'_> {
    pub(super) fn sync_group(&mut self, s: &Stmt) {
        let Some((name, block)) = self.named(s) else {
            return;
        };
        let c = format!("sync group {name}");
        let c = c.as_str();
        let mut g = SyncGroupDraft::new(name, s.at.clone());
        for s in block {
            if self.notify(&mut g.notify, s, c)
                || self.tracks(
                    s,
                    c,
                    &mut g.track_interfaces,
                    &mut g.track_scripts,
                    &mut g.track_files,
                )
                || self.track_bfd(s, c, &mut g.track_bfds)
            {
                continue;
            }
            match s.keyword.as_str() {
                "group" => {
                    let Some(entries) = self.list_block(s, c, "instances") else {
                        continue;
                    };
                    // keepalived's read_value_block: every word of every line is a member.
                    for entry in entries {
                        for member in std::iter::once(&entry.keyword).chain(&entry.args) {
                            g.members.push(At::new(member.clone(), entry.at.clone()));
                        }
                    }
                }
                "track_process" => self.track_process_refs(s, c, &mut g.track_processes),
                "sync_group_tracking_weight" => {
                    if self.no_value(s, c) {
                        g.tracking_weight = true;
                    }
                }
                "global_tracking" => {
                    if self.no_value(s, c) {
                        self.d.warn(
                            &s.at,
                            format!("{c}: global_tracking is deprecated; it means sync_group_tracking_weight"),
                        );
                        g.tracking_weight = true;
                    }
                }
                _ => self.refuse(&keywords::SYNC_GROUP, s, c),
            }
        }
        self.draft.sync_groups.push(g);
    }
}

//! keepalived's `garp_group` block (`vrrp_parser.c`): the pause between gratuitous ARPs and
//! between unsolicited NAs on some interfaces, instead of the global `vrrp_garp_interval`
//! / `vrrp_gna_interval`.

use crate::fields;
use crate::keepalived::keywords;
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::model::{AnnouncePacing, GarpGroup};

impl Mapper<'_> {
    pub(super) fn garp_group(&mut self, s: &Stmt) {
        let c = "garp_group";
        if !s.args.is_empty() {
            self.error(
                &s.at,
                "",
                format!("garp_group takes no name, not '{}'", s.rest()),
            );
        }
        let Some(block) = self.block(s, "") else {
            return;
        };
        let mut group = GarpGroup {
            interfaces: Vec::new(),
            pacing: AnnouncePacing::default(),
            location: s.at.clone().into(),
        };
        for s in block {
            match s.keyword.as_str() {
                keyword @ ("garp_interval" | "gna_interval") => {
                    let Some(pause) = self.seconds(s, c) else {
                        continue;
                    };
                    let Some(pause) = self.ok(s, c, fields::announce_interval(keyword, pause))
                    else {
                        continue;
                    };
                    if keyword == "garp_interval" {
                        group.pacing.garp_interval = pause;
                    } else {
                        group.pacing.gna_interval = pause;
                    }
                }
                "interface" => {
                    if let Some(name) = self.one(s, c) {
                        group.interfaces.push(name.to_owned());
                    }
                }
                "interfaces" => {
                    let Some(entries) = self.block(s, c) else {
                        continue;
                    };
                    if entries.is_empty() {
                        self.error(&s.at, c, "the interfaces block is empty");
                    }
                    // keepalived's read_value_block: every word of every line is one.
                    for entry in entries {
                        if self.no_block(entry, c) {
                            let names = std::iter::once(&entry.keyword).chain(&entry.args);
                            group.interfaces.extend(names.cloned());
                        }
                    }
                }
                _ => self.refuse(&keywords::GARP_GROUP, s, c),
            }
        }
        if group.interfaces.is_empty() {
            self.error(
                &s.at,
                c,
                "names no interface (interface NAME or interfaces { ... })",
            );
            return;
        }
        for name in &group.interfaces {
            let earlier = self
                .draft
                .global
                .garp_groups
                .iter()
                .find(|g| g.interfaces.contains(name))
                .map(|g| g.location.clone());
            if let Some(earlier) = earlier {
                self.error(
                    &s.at,
                    c,
                    format!("interface {name} is already in the garp_group at {earlier}"),
                );
            }
        }
        self.draft.global.garp_groups.push(group);
    }
}

//! keepalived's route and rule family (`vrrp_parser.c`): an instance's `virtual_routes`,
//! `virtual_rules` and `promote_secondaries`; the top-level `static_ipaddress`,
//! `static_routes`, `static_rules` and `track_group`; `iproute_etc_dir` /
//! `iproute_usr_dir` in global_defs.

use std::path::PathBuf;

use crate::diagnostic::Location;
use crate::keepalived::keywords;
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::keepalived::route_line::{Parsed, parse_route};
use crate::keepalived::rt_names::RtNames;
use crate::keepalived::rule_line::{NextPreference, parse_rule};
use crate::model::StaticAddress;
use crate::model::TrackInterface;
use crate::routing::InstanceRouting;
use crate::spec::InstanceDraft;
use crate::values::parse_virtual_address;

/// What the route family's lines need while the file is read (the static blocks
/// themselves go to the draft).
#[derive(Debug, Default)]
pub(super) struct RoutingDraft {
    pub(crate) track_groups: Vec<TrackGroup>,
    pub(crate) names: RtNames,
    pub(crate) next_preference: NextPreference,
}

/// A top-level `track_group NAME { group { VI_1 VI_2 } }`: the instances that follow the
/// interfaces of the static addresses, routes and rules naming it.
#[derive(Debug)]
pub(crate) struct TrackGroup {
    pub(crate) name: String,
    pub(crate) members: Vec<String>,
}

/// Which line reader a block uses.
#[derive(Clone, Copy)]
enum Lines {
    Addresses,
    Routes,
    Rules,
}

impl Mapper<'_> {
    /// `static_ipaddress`, `static_routes`, `static_rules` at the top level.
    pub(super) fn static_block(&mut self, s: &Stmt) {
        let lines = match s.keyword.as_str() {
            "static_ipaddress" => Lines::Addresses,
            "static_routes" => Lines::Routes,
            _ => Lines::Rules,
        };
        let mut statics = std::mem::take(&mut self.draft.static_routing);
        self.lines(s, "", lines, true, |line| match line {
            Line::Route(r) => statics.routes.push(r),
            Line::Rule(r) => statics.rules.push(r),
            Line::Address(a) => statics.addresses.push(a),
        });
        self.draft.static_routing = statics;
    }

    /// `virtual_routes`, `virtual_rules` and `promote_secondaries` of an instance; false
    /// for any other keyword.
    pub(super) fn instance_routing(&mut self, i: &mut InstanceDraft, s: &Stmt, c: &str) -> bool {
        let routing: &mut InstanceRouting = &mut i.routing;
        match s.keyword.as_str() {
            "virtual_routes" => self.lines(s, c, Lines::Routes, false, |line| {
                if let Line::Route(r) = line {
                    routing.routes.push(r);
                }
            }),
            "virtual_rules" => self.lines(s, c, Lines::Rules, false, |line| {
                if let Line::Rule(r) = line {
                    routing.rules.push(r);
                }
            }),
            "promote_secondaries" => {
                if self.no_value(s, c) {
                    routing.promote_secondaries = true;
                }
            }
            _ => return false,
        }
        true
    }

    /// `iproute_etc_dir DIR` / `iproute_usr_dir DIR` in global_defs; false for others.
    pub(super) fn iproute_dir(&mut self, s: &Stmt, c: &str) -> bool {
        let etc = match s.keyword.as_str() {
            "iproute_etc_dir" => true,
            "iproute_usr_dir" => false,
            _ => return false,
        };
        if let Some(dir) = self.one(s, c) {
            let dir = PathBuf::from(dir);
            if !dir.is_dir() {
                self.d.warn(
                    &s.at,
                    format!("{c}: {} {}: no such directory", s.keyword, dir.display()),
                );
            }
            let names = &mut self.routing.names;
            if etc {
                names.etc_dir = dir;
            } else {
                names.usr_dir = Some(dir);
            }
        }
        true
    }

    /// `track_group NAME { group { INSTANCE ... } }` at the top level.
    pub(super) fn track_group(&mut self, s: &Stmt) {
        let c = "track_group";
        let Some((name, block)) = self.named(s) else {
            return;
        };
        if self.routing.track_groups.iter().any(|g| g.name == name) {
            self.error(&s.at, c, format!("track_group {name} is already defined"));
            return;
        }
        let mut members = Vec::new();
        for entry in block {
            match entry.keyword.as_str() {
                "group" => {
                    let Some(lines) = self.block(entry, c) else {
                        continue;
                    };
                    for line in lines {
                        if self.no_block(line, c) {
                            members.push(line.keyword.clone());
                            members.extend(line.args.iter().cloned());
                        }
                    }
                }
                _ => self.refuse(&keywords::TRACK_GROUP, entry, c),
            }
        }
        if members.is_empty() {
            // keepalived: "Static track group %s has no virtual router(s)", and drops it.
            self.d.warn(
                &s.at,
                format!("{c} {name} has no instance: it does nothing"),
            );
        }
        self.routing.track_groups.push(TrackGroup { name, members });
    }

    /// Each line of a block, read by `lines`' reader, handed to `push`.
    fn lines(
        &mut self,
        s: &Stmt,
        c: &str,
        lines: Lines,
        static_block: bool,
        mut push: impl FnMut(Line),
    ) {
        let keyword = s.keyword.as_str();
        let Some(entries) = self.list_block(s, c, "lines") else {
            return;
        };
        for entry in entries {
            let words: Vec<&str> = std::iter::once(entry.keyword.as_str())
                .chain(entry.args.iter().map(String::as_str))
                .collect();
            let at = entry.at.clone();
            let result = match lines {
                Lines::Routes => parse_route(&words, &self.routing.names, static_block, at)
                    .map(|p| p.map(Line::Route)),
                Lines::Rules => parse_rule(
                    &words,
                    &self.routing.names,
                    static_block,
                    &mut self.routing.next_preference,
                    at,
                )
                .map(|p| p.map(Line::Rule)),
                Lines::Addresses => self.static_address(&words, at),
            };
            let Some(parsed) = self.ok(entry, c, result.map_err(|e| format!("{keyword}: {e}")))
            else {
                continue;
            };
            for warning in parsed.warnings {
                let place = if c.is_empty() {
                    String::new()
                } else {
                    format!("{c}: ")
                };
                self.d
                    .warn(&entry.at, format!("{place}{keyword}: {warning}"));
            }
            push(parsed.value);
        }
    }

    /// A `static_ipaddress` line: a virtual address line with `track_group NAME`, on its
    /// `dev` or else the `default_interface`.
    fn static_address(&self, words: &[&str], at: Location) -> Result<Parsed<Line>, String> {
        let mut track_group = None;
        let mut rest = Vec::new();
        let mut iter = words.iter();
        while let Some(&word) = iter.next() {
            if word == "track_group" {
                let name = iter.next().ok_or("'track_group' needs a value")?;
                if track_group.replace((*name).to_owned()).is_some() {
                    return Err(format!("track_group {name} is a duplicate"));
                }
            } else {
                rest.push(word);
            }
        }
        let mut address = parse_virtual_address(&rest, at)?;
        let mut warnings = Vec::new();
        if std::mem::take(&mut address.use_vmac) {
            // keepalived: "Unknown configuration entry 'use_vmac' for ip address - ignoring".
            warnings.push("use_vmac applies to an instance's addresses, not a static one; ignored (as keepalived)".to_owned());
        }
        let dev = address
            .dev
            .clone()
            .or_else(|| self.draft.global.default_interface.clone())
            .ok_or_else(|| {
                format!(
                    "static address {} needs a dev (or a default_interface in global_defs)",
                    words.join(" ")
                )
            })?;
        Ok(Parsed {
            value: Line::Address(StaticAddress {
                address,
                dev,
                track_group,
            }),
            warnings,
        })
    }

    /// After the whole file: every instance of a `track_group` tracks the interface of each
    /// static address, route (its `dev`) and rule (its `iif`) naming the group, as
    /// keepalived's `static_track_group_init` does (weight 0: the interface going down puts
    /// the instance in FAULT). Names of groups that do not exist are errors.
    pub(super) fn resolve_track_groups(&mut self) {
        let statics = &self.draft.static_routing;
        let mut follows: Vec<(String, String, Location, bool)> = Vec::new();
        for a in &statics.addresses {
            if let Some(g) = &a.track_group {
                follows.push((
                    g.clone(),
                    a.dev.clone(),
                    Location::clone(&a.address.location),
                    a.address.no_track,
                ));
            }
        }
        for r in &statics.routes {
            if let (Some(g), Some(dev)) = (&r.track_group, &r.dev) {
                follows.push((
                    g.clone(),
                    dev.clone(),
                    Location::clone(&r.location),
                    r.no_track,
                ));
            }
        }
        for r in &statics.rules {
            if let (Some(g), Some(dev)) = (&r.track_group, &r.iif) {
                follows.push((
                    g.clone(),
                    dev.clone(),
                    Location::clone(&r.location),
                    r.no_track,
                ));
            }
        }
        for (group, dev, at, no_track) in follows {
            let Some(members) = self
                .routing
                .track_groups
                .iter()
                .find(|g| g.name == group)
                .map(|g| g.members.clone())
            else {
                self.d.error(&at, format!("track_group {group} not found"));
                continue;
            };
            if no_track {
                self.d.warn(
                    &at,
                    format!("both track_group and no_track are set: {group} does not follow {dev}"),
                );
                continue;
            }
            for member in members {
                let Some(instance) = self.draft.instances.iter_mut().find(|i| i.name == member)
                else {
                    self.d.warn(
                        &at,
                        format!(
                            "vrrp instance {member} of track_group {group} does not exist: ignored"
                        ),
                    );
                    continue;
                };
                if !instance.track_interfaces.iter().any(|t| t.name == dev) {
                    instance
                        .track_interfaces
                        .push(TrackInterface::new(dev.clone(), 0, at.clone()));
                }
            }
        }
    }
}

/// One line of any of the blocks.
enum Line {
    Address(StaticAddress),
    Route(crate::routing::Route),
    Rule(crate::routing::Rule),
}

impl<T> Parsed<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        Parsed {
            value: f(self.value),
            warnings: self.warnings,
        }
    }
}

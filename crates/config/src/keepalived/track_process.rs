//! keepalived's `vrrp_track_process` block and the `track_process` entries of instances and
//! sync groups, read as keepalived 2.2.7's `vrrp_parser.c` (`vrrp_tprocess_*_handler`) and
//! `vrrp_track.c` (`alloc_track_process`) read them. Every "ignoring" keepalived reports
//! (which fails `keepalived -t`) is an error here.

use crate::fields;
use crate::keepalived::keywords;
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::track_process::{
    DELAY_MAX, ParamMatch, QUORUM_MAX, TrackProcess, TrackProcessRef, WEIGHT,
};
use crate::values::{parse_integer, parse_seconds};

impl Mapper<'_> {
    /// `vrrp_track_process NAME { ... }`.
    pub(super) fn track_process(&mut self, s: &Stmt) {
        let Some((name, block)) = self.named(s) else {
            return;
        };
        let c = format!("vrrp_track_process {name}");
        let c = c.as_str();
        let mut p = TrackProcess::new(name, s.at.clone());
        for s in block {
            if !self.no_block(s, c) {
                continue;
            }
            match s.keyword.as_str() {
                "process" => self.process_line(&mut p, s, c),
                "param_match" => {
                    p.full_command = true;
                    p.param_match = match s.args.first().map(String::as_str) {
                        None => ParamMatch::Exact,
                        Some("initial") => ParamMatch::Initial,
                        Some("partial") => ParamMatch::Partial,
                        Some(other) => {
                            let message = format!(
                                "param_match '{other}' is not initial or partial (alone it means exact)"
                            );
                            self.error(&s.at, c, message);
                            p.param_match
                        }
                    };
                }
                "weight" => self.process_weight(&mut p, s, c),
                "quorum" => {
                    let Some(quorum) = self.counted(s, c, 1) else {
                        continue;
                    };
                    if quorum > p.quorum_max {
                        let message = format!(
                            "quorum {quorum} is greater than quorum_max {}",
                            p.quorum_max
                        );
                        self.error(&s.at, c, message);
                        continue;
                    }
                    p.quorum = quorum;
                }
                "quorum_max" => {
                    let Some(max) = self.counted(s, c, 0) else {
                        continue;
                    };
                    // keepalived allows quorum_max 0 while quorum is unset (1).
                    if (max != 0 || p.quorum > 1) && max < p.quorum {
                        let message = format!("quorum_max {max} is less than quorum {}", p.quorum);
                        self.error(&s.at, c, message);
                        continue;
                    }
                    p.quorum_max = max;
                    if max == 0 {
                        p.quorum = 0;
                    } else if p.quorum == 0 {
                        p.quorum = 1;
                    }
                }
                keyword @ ("delay" | "fork_delay" | "terminate_delay") => {
                    let Some(text) = self.one(s, c) else {
                        continue;
                    };
                    let delay = parse_seconds(text)
                        .ok()
                        .filter(|d| !d.is_zero() && *d <= DELAY_MAX);
                    let Some(delay) = delay else {
                        let message =
                            format!("{keyword} '{text}' is not between 0.000001 and 3600 seconds");
                        self.error(&s.at, c, message);
                        continue;
                    };
                    if keyword != "fork_delay" {
                        p.terminate_delay = Some(delay);
                    }
                    if keyword != "terminate_delay" {
                        p.fork_delay = Some(delay);
                    }
                }
                // keepalived reads no value here and ignores any.
                "full_command" => p.full_command = true,
                _ => self.refuse(&keywords::TRACK_PROCESS, s, c),
            }
        }
        if p.process.is_empty() {
            self.error(
                &p.location,
                c,
                "no process given (write process NAME [PARAM...])",
            );
            return;
        }
        if let Some(first) = self
            .draft
            .track_processes
            .iter()
            .find(|other| other.name == p.name)
        {
            let message = format!(
                "{c} is defined again; keepalived uses the first one, at {}",
                first.location
            );
            self.d.warn(&p.location, message);
        }
        self.draft.track_processes.push(p);
    }

    /// `process NAME [PARAM...]`: parameters mean the whole command line is matched,
    /// exactly unless `param_match` says otherwise.
    fn process_line(&mut self, p: &mut TrackProcess, s: &Stmt, c: &str) {
        let Some((process, params)) = s.args.split_first() else {
            self.error(&s.at, c, "process needs a name");
            return;
        };
        if !p.process.is_empty() {
            let message = format!("process is already set to '{}'", p.process);
            self.error(&s.at, c, message);
            return;
        }
        p.process = process.clone();
        if !params.is_empty() {
            p.params = params.to_vec();
            if p.param_match == ParamMatch::Any {
                p.param_match = ParamMatch::Exact;
            }
            p.full_command = true;
        }
    }

    /// `weight W [reverse]`. keepalived takes a second `weight` after `weight 0`.
    fn process_weight(&mut self, p: &mut TrackProcess, s: &Stmt, c: &str) {
        let Some((value, rest)) = s.args.split_first() else {
            self.error(&s.at, c, "weight needs a value");
            return;
        };
        if p.weight != 0 {
            let message = format!("weight is already set to {}", p.weight);
            self.error(&s.at, c, message);
            return;
        }
        let weight = parse_integer(value).and_then(|v| fields::weight("weight", v, WEIGHT));
        let Some(weight) = self.ok(s, c, weight) else {
            return;
        };
        match rest {
            [] => {}
            [word] if word == "reverse" => p.reverse = true,
            _ => {
                let message = format!("weight: unexpected '{}' (only reverse)", rest.join(" "));
                self.error(&s.at, c, message);
            }
        }
        p.weight = weight;
    }

    /// `quorum` / `quorum_max`: `min..=65535`.
    fn counted(&mut self, s: &Stmt, c: &str, min: u32) -> Option<u32> {
        let value = self.integer(s, c)?;
        let range = i64::from(min)..=i64::from(QUORUM_MAX);
        if !range.contains(&value) {
            let message = format!(
                "{} {value} is not between {min} and {QUORUM_MAX}",
                s.keyword
            );
            self.error(&s.at, c, message);
            return None;
        }
        u32::try_from(value).ok()
    }

    /// `track_process { NAME [weight W [reverse|noreverse]] ... }` of an instance or a sync
    /// group. Whether NAME exists is checked once every block is read.
    pub(super) fn track_process_refs(
        &mut self,
        s: &Stmt,
        c: &str,
        refs: &mut Vec<TrackProcessRef>,
    ) {
        let Some(block) = self.list_block(s, c, "names") else {
            return;
        };
        for entry in block {
            let name = entry.keyword.clone();
            let Some((weight, reverse)) = self.ok(entry, c, process_ref_options(&entry.args))
            else {
                continue;
            };
            if refs.iter().any(|r| r.name == name) {
                self.error(
                    &entry.at,
                    c,
                    format!("track_process {name} is listed twice"),
                );
                continue;
            }
            refs.push(TrackProcessRef {
                name,
                weight,
                reverse,
                location: entry.at.clone().into(),
            });
        }
    }
}

/// What follows a name in `track_process`: nothing, or `weight W [reverse|noreverse]`.
fn process_ref_options(args: &[String]) -> Result<(Option<i32>, Option<bool>), String> {
    let Some((first, rest)) = args.split_first() else {
        return Ok((None, None));
    };
    if first != "weight" {
        return Err(format!(
            "track_process: unknown option '{first}' (write NAME weight W [reverse])"
        ));
    }
    let Some((value, rest)) = rest.split_first() else {
        return Err("track_process: weight needs a value".into());
    };
    let weight = fields::weight("weight", parse_integer(value)?, WEIGHT)?;
    let reverse = match rest {
        [] => None,
        [word] if word == "reverse" => Some(true),
        [word] if word == "noreverse" => Some(false),
        _ => {
            return Err(format!(
                "track_process: unexpected '{}' after the weight (reverse or noreverse)",
                rest.join(" ")
            ));
        }
    };
    Ok((Some(weight), reverse))
}

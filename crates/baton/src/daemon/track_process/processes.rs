//! Counting the processes of each `vrrp_track_process` and deciding its quorum, as
//! keepalived 2.2.7's `core/track_process.c` does, without I/O: the driver feeds it the
//! scan of /proc and the connector's events (with what it read of the process), and the
//! time; it hands back each gained or lost quorum. Its quirks are kept on purpose, so the
//! two daemons agree: a fork's child counts for whatever its parent counted for, without a
//! look at its name; an exec of a process already counted that still matches counts it
//! twice (until it exits); only forks wait `fork_delay` and only exits wait
//! `terminate_delay`, an exec or a rename acts at once.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::matching::{Pattern, Seen};

/// One tracked process block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) pattern: Pattern,
    pub(crate) quorum: u32,
    pub(crate) quorum_max: u32,
    pub(crate) fork_delay: Option<Duration>,
    pub(crate) terminate_delay: Option<Duration>,
}

#[derive(Debug)]
struct Counter {
    rule: Rule,
    count: u32,
    have_quorum: bool,
    /// A quorum change made by a fork, to be decided at this time.
    fork_timer: Option<Instant>,
    /// A quorum change made by an exit, to be decided at this time.
    terminate_timer: Option<Instant>,
}

impl Counter {
    fn has_quorum(&self) -> bool {
        (self.rule.quorum..=self.rule.quorum_max).contains(&self.count)
    }

    /// After one more: whether that crossed a bound of the quorum.
    fn crossed_up(&self) -> bool {
        self.count == self.rule.quorum
            || u64::from(self.count) == u64::from(self.rule.quorum_max) + 1
    }

    /// After one fewer (`before` = the count before).
    fn crossed_down(&self, before: u32) -> bool {
        before == self.rule.quorum || self.count == self.rule.quorum_max
    }
}

/// The counters of every rule, the processes counted (by pid, each with the rules it counts
/// for, a rule as often as it was counted), and the quorum changes not yet taken.
#[derive(Debug)]
pub(crate) struct Processes {
    counters: Vec<Counter>,
    pids: BTreeMap<u32, Vec<usize>>,
    changes: VecDeque<(usize, bool)>,
}

impl Processes {
    /// The rules, and the processes running now (`(pid, what was read)` of each, zombies
    /// left out): every rule's quorum as it stands, with no change reported.
    pub(crate) fn new(rules: Vec<Rule>, running: &[(u32, Seen)]) -> Processes {
        let mut processes = Processes {
            counters: rules
                .into_iter()
                .map(|rule| Counter {
                    rule,
                    count: 0,
                    have_quorum: false,
                    fork_timer: None,
                    terminate_timer: None,
                })
                .collect(),
            pids: BTreeMap::new(),
            changes: VecDeque::new(),
        };
        processes.count(running);
        for counter in &mut processes.counters {
            counter.have_quorum = counter.has_quorum();
        }
        processes
    }

    fn count(&mut self, running: &[(u32, Seen)]) {
        for (pid, seen) in running {
            for (index, counter) in self.counters.iter_mut().enumerate() {
                if counter.rule.pattern.matches(seen) == Some(true) {
                    self.pids.entry(*pid).or_default().push(index);
                    counter.count += 1;
                }
            }
        }
    }

    pub(crate) fn has_quorum(&self, rule: usize) -> bool {
        self.counters[rule].have_quorum
    }

    pub(crate) fn count_of(&self, rule: usize) -> u32 {
        self.counters[rule].count
    }

    /// The next quorum change: the rule's index and whether it now holds.
    #[must_use]
    pub(crate) fn poll_change(&mut self) -> Option<(usize, bool)> {
        self.changes.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due next.
    #[must_use]
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.counters
            .iter()
            .flat_map(|c| [c.fork_timer, c.terminate_timer])
            .flatten()
            .min()
    }

    /// Decides the delayed changes that are due: the quorum as it is by then.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        for index in 0..self.counters.len() {
            let counter = &mut self.counters[index];
            let due = |timer: &mut Option<Instant>| timer.take_if(|at| *at <= now).is_some();
            let fork = due(&mut counter.fork_timer);
            let terminate = due(&mut counter.terminate_timer);
            if fork || terminate {
                let up = counter.has_quorum();
                self.update(index, up);
            }
        }
    }

    /// keepalived's `update_process_status`: report only a change.
    fn update(&mut self, index: usize, up: bool) {
        let counter = &mut self.counters[index];
        if counter.have_quorum != up {
            counter.have_quorum = up;
            self.changes.push_back((index, up));
        }
    }

    /// A new process (not a thread): the child counts for what the parent counts for.
    pub(crate) fn fork(&mut self, parent: u32, child: u32, now: Instant) {
        let Some(rules) = self.pids.get(&parent).cloned() else {
            return;
        };
        for index in rules {
            self.pids.entry(child).or_default().push(index);
            let counter = &mut self.counters[index];
            counter.count += 1;
            if !counter.crossed_up() {
                continue;
            }
            if counter.terminate_timer.take().is_none() {
                if let Some(delay) = counter.rule.fork_delay {
                    counter.fork_timer = Some(now + delay);
                    continue;
                }
            }
            let up = counter.count == counter.rule.quorum;
            self.update(index, up);
        }
    }

    /// A process (not a thread) ended.
    pub(crate) fn exit(&mut self, pid: u32, now: Instant) {
        let Some(rules) = self.pids.remove(&pid) else {
            return;
        };
        for index in rules {
            let counter = &mut self.counters[index];
            let before = counter.count;
            counter.count -= 1;
            if !counter.crossed_down(before) {
                continue;
            }
            if counter.fork_timer.take().is_none() {
                if let Some(delay) = counter.rule.terminate_delay {
                    counter.terminate_timer = Some(now + delay);
                    continue;
                }
            }
            let up = counter.count == counter.rule.quorum_max;
            self.update(index, up);
        }
    }

    /// A process replaced its program (`seen`: its new comm and command line, as far as the
    /// rules need them). `None` when the process could not be read (gone already).
    pub(crate) fn exec(&mut self, pid: u32, seen: Option<&Seen>) {
        if let Some(seen) = seen {
            self.check(pid, seen, false);
        }
    }

    /// A process renamed itself: rules on the name it had stop counting it, then it is
    /// looked at again by its new name. Rules on the command line are not concerned.
    pub(crate) fn rename(&mut self, pid: u32, comm: &str) {
        if let Some(rules) = self.pids.get(&pid).cloned() {
            for index in rules {
                let pattern = &self.counters[index].rule.pattern;
                if pattern.full_command {
                    continue;
                }
                // keepalived: "Check that the name really has changed", and stops there.
                let same = Seen {
                    comm: Some(comm.to_owned()),
                    cmdline: None,
                };
                if pattern.matches(&same) == Some(true) {
                    return;
                }
                self.forget(pid, index);
            }
        }
        let seen = Seen {
            comm: Some(comm.to_owned()),
            cmdline: None,
        };
        self.check(pid, &seen, true);
    }

    /// keepalived's `check_process`.
    fn check(&mut self, pid: u32, seen: &Seen, rename: bool) {
        let had = self.pids.contains_key(&pid);
        for index in 0..self.counters.len() {
            let pattern = &self.counters[index].rule.pattern;
            if rename && pattern.full_command {
                continue;
            }
            match pattern.matches(seen) {
                Some(true) => {
                    self.pids.entry(pid).or_default().push(index);
                    let counter = &mut self.counters[index];
                    counter.count += 1;
                    if counter.crossed_up() {
                        counter.terminate_timer = None;
                        let up = counter.count == counter.rule.quorum;
                        self.update(index, up);
                    }
                }
                // The name no longer matches, or its parameters do not. (A rename only
                // concerns rules on the name, which the old name's rules have handled.)
                Some(false) if had && !rename => {
                    self.forget(pid, index);
                }
                _ => {}
            }
        }
        if self.pids.get(&pid).is_some_and(Vec::is_empty) {
            self.pids.remove(&pid);
        }
    }

    /// keepalived's `remove_process_from_track`: one count of `pid` for rule `index` less,
    /// acting at once (no delay).
    fn forget(&mut self, pid: u32, index: usize) {
        let Some(rules) = self.pids.get_mut(&pid) else {
            return;
        };
        let Some(position) = rules.iter().position(|r| *r == index) else {
            return;
        };
        rules.remove(position);
        let counter = &mut self.counters[index];
        let before = counter.count;
        counter.count -= 1;
        if counter.crossed_down(before) {
            counter.fork_timer = None;
            let up = counter.count == counter.rule.quorum_max;
            self.update(index, up);
        }
    }

    /// Counts again from `running` (events were lost, or there is no connector and /proc is
    /// read at intervals), as keepalived's `reinitialise_track_processes`: a quorum gained
    /// counts at once, a quorum lost after `terminate_delay`.
    pub(crate) fn rescan(&mut self, running: &[(u32, Seen)], now: Instant) {
        self.pids.clear();
        for counter in &mut self.counters {
            counter.count = 0;
        }
        self.count(running);
        for index in 0..self.counters.len() {
            let counter = &mut self.counters[index];
            let up = counter.has_quorum();
            if up == counter.have_quorum {
                counter.fork_timer = None;
                counter.terminate_timer = None;
                continue;
            }
            counter.fork_timer = None;
            if up {
                counter.terminate_timer = None;
                self.update(index, true);
            } else if let Some(delay) = counter.rule.terminate_delay {
                // Kept while it runs: a scan every second must not push it back each time.
                counter.terminate_timer.get_or_insert(now + delay);
            } else {
                self.update(index, false);
            }
        }
    }
}

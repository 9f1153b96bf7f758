//! The matching, counting and quorum rules driven by hand-made processes and events, as
//! keepalived 2.2.7 would see them: no /proc, no connector, time passed in.

use std::time::{Duration, Instant};

use super::matching::{Pattern, Seen};
use super::processes::{Processes, Rule};

fn rule(block: &str) -> Rule {
    let conf = format!(
        "vrrp_track_process p {{\n{block}\n}}\nvrrp_instance I {{\n interface eth0\n \
         virtual_router_id 1\n virtual_ipaddress {{\n 10.0.0.1\n }}\n \
         track_process {{\n p\n }}\n}}\n"
    );
    let loaded = baton_config::parse_keepalived(&conf, "k.conf").expect("valid");
    let p = loaded.config.track_process("p").expect("p");
    Rule {
        pattern: Pattern::new(p),
        quorum: p.quorum,
        quorum_max: p.quorum_max,
        fork_delay: p.fork_delay,
        terminate_delay: p.terminate_delay,
    }
}

fn pattern(block: &str) -> Pattern {
    rule(block).pattern
}

fn comm(name: &str) -> Seen {
    Seen {
        comm: Some(name.into()),
        cmdline: None,
    }
}

fn argv(words: &[&str]) -> Seen {
    let mut cmdline = Vec::new();
    for w in words {
        cmdline.extend_from_slice(w.as_bytes());
        cmdline.push(0);
    }
    Seen {
        comm: None,
        cmdline: Some(cmdline),
    }
}

fn changes(p: &mut Processes) -> Vec<(usize, bool)> {
    std::iter::from_fn(|| p.poll_change()).collect()
}

#[test]
fn the_start_is_a_state_not_a_change_and_exec_and_exit_act_at_once() {
    let mut p = Processes::new(vec![rule("process nginx")], &[(10, comm("bash"))]);
    assert!(!p.has_quorum(0));
    assert_eq!(changes(&mut p), []);
    p.exec(11, Some(&comm("nginx")));
    assert_eq!(changes(&mut p), [(0, true)]);
    p.exit(12, Instant::now()); // not counted
    p.exit(11, Instant::now());
    assert_eq!(changes(&mut p), [(0, false)]);
    assert_eq!(p.count_of(0), 0);

    let p = Processes::new(vec![rule("process nginx")], &[(10, comm("nginx"))]);
    assert!(p.has_quorum(0));
}

#[test]
fn quorum_and_quorum_max_bound_the_count_both_ways() {
    let r = rule("process worker\nquorum 2\nquorum_max 3");
    let running: Vec<(u32, Seen)> = (1..=2).map(|pid| (pid, comm("worker"))).collect();
    let mut p = Processes::new(vec![r], &running);
    assert!(p.has_quorum(0));
    let now = Instant::now();
    p.fork(1, 3, now);
    assert_eq!(changes(&mut p), [], "3 is still within 2..=3");
    p.fork(1, 4, now);
    assert_eq!(changes(&mut p), [(0, false)], "4 is too many");
    p.exit(4, now);
    assert_eq!(changes(&mut p), [(0, true)]);
    p.exit(3, now);
    p.exit(2, now);
    assert_eq!(changes(&mut p), [(0, false)], "1 is too few");

    // quorum_max 0: the process must not run.
    let mut p = Processes::new(vec![rule("process telnetd\nquorum_max 0")], &[]);
    assert!(p.has_quorum(0));
    p.exec(5, Some(&comm("telnetd")));
    assert_eq!(changes(&mut p), [(0, false)]);
    p.exit(5, now);
    assert_eq!(changes(&mut p), [(0, true)]);
}

#[test]
fn terminate_delay_waits_and_a_restart_in_time_is_no_change() {
    let mut p = Processes::new(
        vec![rule("process haproxy\nterminate_delay 2")],
        &[(7, comm("haproxy"))],
    );
    let t0 = Instant::now();
    p.exit(7, t0);
    assert_eq!(changes(&mut p), []);
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    // Restarted (a new process execs the name) before the delay ends.
    p.exec(8, Some(&comm("haproxy")));
    assert_eq!(p.poll_timeout(), None, "the exec cancelled the timer");
    p.handle_timeout(t0 + Duration::from_secs(3));
    assert_eq!(changes(&mut p), []);
    // Gone for good: lost once the delay has passed, not before.
    p.exit(8, t0);
    p.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(changes(&mut p), []);
    p.handle_timeout(t0 + Duration::from_secs(2));
    assert_eq!(changes(&mut p), [(0, false)]);
}

#[test]
fn fork_delay_waits_and_an_exit_in_time_cancels_it() {
    let mut p = Processes::new(
        vec![rule("process w\nquorum 2\nfork_delay 0.5")],
        &[(1, comm("w"))],
    );
    let t0 = Instant::now();
    p.fork(1, 2, t0);
    assert_eq!(changes(&mut p), []);
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_millis(500)));
    p.handle_timeout(t0 + Duration::from_millis(500));
    assert_eq!(changes(&mut p), [(0, true)]);
    // A fork that dies before the delay: the timer is cancelled, nothing changes.
    p.exit(2, t0);
    assert_eq!(changes(&mut p), [(0, false)], "no terminate_delay: at once");
    p.fork(1, 3, t0);
    p.exit(3, t0);
    assert_eq!(p.poll_timeout(), None);
    assert_eq!(changes(&mut p), []);
    // A fork of a process nobody counts is nothing.
    p.fork(99, 100, t0);
    assert_eq!(p.count_of(0), 1);
}

#[test]
fn a_rename_and_an_exec_move_a_process_in_and_out() {
    let mut p = Processes::new(vec![rule("process firefox")], &[(3, comm("firefox"))]);
    p.rename(3, "Web Content");
    assert_eq!(changes(&mut p), [(0, false)]);
    p.rename(3, "firefox");
    assert_eq!(changes(&mut p), [(0, true)]);
    // Renamed to the same name: nothing.
    p.rename(3, "firefox");
    assert_eq!(p.count_of(0), 1);
    // exec of another program: out at once.
    p.exec(3, Some(&comm("bash")));
    assert_eq!(changes(&mut p), [(0, false)]);
    // An exec whose process is gone before it is read is nothing.
    p.exec(4, None);
    assert_eq!(p.count_of(0), 0);
}

#[test]
fn command_line_rules_ignore_renames_and_check_parameters_on_exec() {
    let mut p = Processes::new(vec![rule("process sleep 31337")], &[]);
    p.exec(5, Some(&argv(&["sleep", "31337"])));
    assert_eq!(changes(&mut p), [(0, true)]);
    p.rename(5, "other");
    assert_eq!(p.count_of(0), 1, "comm says nothing of argv");
    p.exec(5, Some(&argv(&["sleep", "1"])));
    assert_eq!(changes(&mut p), [(0, false)], "parameters no longer match");
}

#[test]
fn an_exec_of_a_counted_process_that_still_matches_counts_twice_as_in_keepalived() {
    let mut p = Processes::new(vec![rule("process w\nquorum 2")], &[(1, comm("w"))]);
    p.exec(1, Some(&comm("w")));
    assert_eq!(p.count_of(0), 2);
    assert_eq!(changes(&mut p), [(0, true)]);
    p.exit(1, Instant::now());
    assert_eq!(p.count_of(0), 0);
    assert_eq!(changes(&mut p), [(0, false)]);
}

#[test]
fn a_rescan_gains_at_once_and_loses_after_terminate_delay() {
    let r = rule("process nginx\nterminate_delay 3");
    let mut p = Processes::new(vec![r], &[(1, comm("nginx"))]);
    let t0 = Instant::now();
    p.rescan(&[], t0);
    assert_eq!(changes(&mut p), []);
    // A second scan a moment later keeps the timer where it was.
    p.rescan(&[], t0 + Duration::from_secs(1));
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(3)));
    p.handle_timeout(t0 + Duration::from_secs(3));
    assert_eq!(changes(&mut p), [(0, false)]);
    p.rescan(&[(2, comm("nginx"))], t0);
    assert_eq!(changes(&mut p), [(0, true)]);
    assert_eq!(p.count_of(0), 1);
}

// Matching (`matching.rs`).

#[test]
fn the_name_is_compared_whole_with_comm_not_as_a_pattern() {
    let p = pattern("process ssh");
    assert_eq!(p.matches(&comm("ssh")), Some(true));
    assert_eq!(
        p.matches(&comm("sshd")),
        Some(false),
        "pgrep ssh would match"
    );
    assert_eq!(p.matches(&argv(&["ssh"])), None, "comm decides");
}

#[test]
fn a_full_command_compares_argv0_and_nothing_else_without_param_match() {
    let p = pattern("process /usr/bin/sleep\nfull_command");
    assert_eq!(p.matches(&argv(&["/usr/bin/sleep", "10"])), Some(true));
    assert_eq!(p.matches(&argv(&["sleep", "10"])), Some(false));
    assert_eq!(
        p.matches(&comm("sleep")),
        None,
        "a rename says nothing of argv"
    );
}

#[test]
fn parameters_match_exactly_by_default() {
    let p = pattern("process sleep 31337");
    assert_eq!(p.matches(&argv(&["sleep", "31337"])), Some(true));
    assert_eq!(p.matches(&argv(&["sleep", "313370"])), Some(false));
    assert_eq!(p.matches(&argv(&["sleep", "31337", "1"])), Some(false));
    assert_eq!(p.matches(&argv(&["sleep"])), Some(false));
    assert_eq!(p.matches(&argv(&["/bin/sleep", "31337"])), Some(false));
    // param_match alone and no parameters: the process must have none.
    let bare = pattern("process sleep\nparam_match");
    assert_eq!(bare.matches(&argv(&["sleep"])), Some(true));
    assert_eq!(bare.matches(&argv(&["sleep", "1"])), Some(false));
}

#[test]
fn partial_takes_whole_leading_parameters_and_initial_a_longer_last_one() {
    let partial = pattern("process sleep 1 2\nparam_match partial");
    assert_eq!(partial.matches(&argv(&["sleep", "1", "2"])), Some(true));
    assert_eq!(
        partial.matches(&argv(&["sleep", "1", "2", "3"])),
        Some(true)
    );
    assert_eq!(partial.matches(&argv(&["sleep", "1", "23"])), Some(false));
    assert_eq!(partial.matches(&argv(&["sleep", "1"])), Some(false));
    let initial = pattern("process sleep 1 2\nparam_match initial");
    assert_eq!(initial.matches(&argv(&["sleep", "1", "23"])), Some(true));
    assert_eq!(
        initial.matches(&argv(&["sleep", "1", "2", "3"])),
        Some(true)
    );
    assert_eq!(initial.matches(&argv(&["sleep", "1", "3"])), Some(false));
    assert_eq!(initial.matches(&argv(&["sleep", "12"])), Some(false));
    // Without parameters both take any.
    let any = pattern("process sleep\nparam_match partial");
    assert_eq!(any.matches(&argv(&["sleep", "x"])), Some(true));
}

#[test]
fn a_command_line_cut_after_what_decides_decides_the_same() {
    let p = pattern("process sleep 31337");
    let whole = argv(&["sleep", "31337", "and", "more"]);
    let mut cut = whole.clone();
    cut.cmdline.as_mut().unwrap().truncate(p.cmdline_needed());
    assert_eq!(p.matches(&whole), p.matches(&cut));
    assert_eq!(p.matches(&cut), Some(false));
}

//! The chaos suite, VRRP half (issue 14): faults and attacks on the guide's pair, each
//! followed by the invariant it must keep, read off a record of who held the VIP (`ip addr`
//! in lb1 and lb2 every 10 ms) and off `baton status --json`:
//!
//! - kill -9 of the master, then of the backup; link flaps, 10 a second for 10 s; a
//!   partition and its heal: exactly one holder of the VIP within the bound the protocol
//!   sets once the fault ends, the daemons alive, memory bounded, no state stuck;
//! - 10,000 adverts a second for 10 s from an unknown host (lower priority, another VRID,
//!   a wrong password): the master keeps the VIP and every packet is counted, by reason;
//! - forged priority-255 adverts from an unknown host: with unicast peers they are dropped
//!   and counted; on multicast without authentication the protocol has no defence, so the
//!   forger is obeyed, shown in the status as the master, and once it stops the real master
//!   is back within Master_Down_Interval.
//!
//! Every scenario also runs against a keepalived pair (the `keepalived_*` tests), printed
//! for docs/chaos.md and never asserted. VRRPv3 every 0.2 s (the flood: VRRPv2 every
//! second, for its password); lb2 (priority 150) is the master, lb1 (100) the backup.
//! Bounds are the RFC's plus [`SLACK`] for process scheduling on a shared machine.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use baton_lab::Lab;
use baton_vrrp::{Advertisement, Centiseconds, ChecksumMode, Priority, VersionFields, Vrid};
use common::chaos::{
    accounted, dropped, drops, master_and_backup, metric, metrics, rss_kib, status,
};
use common::flood::{Flood, Flooder, advert, with_vrid};
use common::holders::{Timeline, holders_now, one_holder, only, watching};
use common::pair::{
    INTERVAL, LB1, LB2, MEMORY_GROWTH_KIB, Pair, Vrrpd, counter, host_status, master_down,
};
use common::{
    Daemon, Workdir, fail, guide_lab, keepalived_conf, skip_without_tool, start_keepalived,
    wait_for,
};

const SLACK: Duration = Duration::from_millis(300);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 50);

/// `keepalived_*` tests need it; they print a comparison and assert nothing.
fn keepalived_missing(test: &str) -> bool {
    skip_without_tool("keepalived", "keepalived", test)
}

/// A lab of its own for the test `name`, with the pair settled on lb2; `None` (after a
/// loud SKIPPED line) without namespaces, or without keepalived for a keepalived pair.
fn settled_pair(name: &str, kind: Vrrpd, extra: [&str; 2]) -> Option<(Lab, Workdir, Pair)> {
    let test = format!("chaos {name} ({kind:?})");
    if kind == Vrrpd::Keepalived && keepalived_missing(&test) {
        return None;
    }
    let lab = guide_lab(&test)?;
    let dir = Workdir::new(&format!("chaos-{name}"));
    let pair = Pair::start(&lab, &dir, kind, extra);
    Some((lab, dir, pair))
}

/// The flooder and the /metrics fetch are Python, run in the client and the LBs.
fn python_missing(test: &str) -> bool {
    skip_without_tool("python3", "python3", test)
}

/// `took` (how long until `what` held for good) is within `bound`, or a failure with logs.
/// Issue 14's bound is at most one holder within 3 intervals of the fault's end; a
/// hand-over seen half-way in one sample is no second holder ([`Timeline::settled`]).
fn expect_within(took: Option<Duration>, bound: Duration, what: &str, pair: &Pair) {
    if took.is_none_or(|took| took > bound) {
        fail(
            &format!(
                "{what}: after {}, bound {} ms",
                opt_ms(took),
                bound.as_millis()
            ),
            &pair.daemons(),
        );
    }
}

fn opt_ms(duration: Option<Duration>) -> String {
    duration.map_or_else(|| "never".to_owned(), |d| format!("{} ms", d.as_millis()))
}

// ----- kill -9 of the master, then of the backup -----

struct KillOutcome {
    timeline: Timeline,
    killed_master: Instant,
    restarted_master: Instant,
    killed_backup: Instant,
    end: Instant,
}

impl KillOutcome {
    /// From kill -9 of the master to lb1 holding the VIP (beside the one the killed
    /// master left behind).
    fn takeover(&self) -> Option<Duration> {
        self.timeline
            .first(self.killed_master, |s| s.holders.contains(&"lb1"))
    }

    /// From the restarted master being ready to lb2 alone for good.
    fn back_on_lb2(&self) -> Option<Duration> {
        self.timeline
            .settled(self.restarted_master, INTERVAL, only("lb2"))
    }
}

fn kill_9_scenario(lab: &Lab, dir: &Workdir, pair: &mut Pair) -> KillOutcome {
    let ((killed_master, restarted_master, killed_backup), timeline) = watching(lab, || {
        std::thread::sleep(INTERVAL * 5);
        let killed_master = Instant::now();
        pair.kill_9(lab, "lb2");
        let _ = wait_for(Duration::from_secs(5), || holders_now(lab).contains(&"lb1"));
        std::thread::sleep(INTERVAL * 3);
        let restarted_master = pair.restart(lab, dir, "lb2");
        let settled = || holders_now(lab) == ["lb2"];
        let _ = wait_for(master_down(150) * 4, settled);
        std::thread::sleep(INTERVAL * 5);
        let killed_backup = Instant::now();
        pair.kill_9(lab, "lb1");
        // Long enough for a master that reacted to its backup's death to show it.
        std::thread::sleep(master_down(100) * 2);
        pair.restart(lab, dir, "lb1");
        std::thread::sleep(master_down(100) * 2);
        (killed_master, restarted_master, killed_backup)
    });
    KillOutcome {
        end: timeline.end(),
        timeline,
        killed_master,
        restarted_master,
        killed_backup,
    }
}

#[test]
fn kill_9_of_the_master_and_of_the_backup_leaves_one_holder() {
    let Some((lab, dir, mut pair)) = settled_pair("kill", Vrrpd::Baton, ["", ""]) else {
        return;
    };
    let outcome = kill_9_scenario(&lab, &dir, &mut pair);
    let t = &outcome.timeline;
    let took = outcome.takeover();
    let back = outcome.back_on_lb2();
    let one = t.settled(outcome.restarted_master, INTERVAL, one_holder);
    let kept = t.count(outcome.killed_backup, outcome.end, only("lb2"));
    eprintln!(
        "kill -9: lb1 took over {} after the master's kill (bound {} ms); after the restart \
         one holder {} and lb2 alone {} after it answered (bound {} ms), longest double \
         holding after the restart {} ms; kill -9 and restart of the backup: lb2 alone in \
         {} of {} samples",
        opt_ms(took),
        (master_down(100) + SLACK).as_millis(),
        opt_ms(one),
        opt_ms(back),
        (master_down(150) + INTERVAL * 3 + SLACK).as_millis(),
        t.longest_double(outcome.restarted_master).as_millis(),
        kept.0,
        kept.1,
    );
    pair.expect_alive();
    // RFC 5798 §6.4.2: a backup takes over Master_Down_Interval after the last advert.
    expect_within(took, master_down(100) + SLACK, "lb1 taking over", &pair);
    expect_within(
        one,
        INTERVAL * 3 + SLACK,
        "one holder after the restart",
        &pair,
    );
    // The restarted lb2 clears the VIP kill -9 left behind, starts as backup and, with
    // the higher priority, preempts after its own Master_Down_Interval; lb1 steps down on
    // its first advert (we allow 3 intervals).
    let bound = master_down(150) + INTERVAL * 3 + SLACK;
    expect_within(back, bound, "the restarted master the one holder", &pair);
    if !pair.lb2.log_text().contains("left over") {
        fail(
            "the restarted lb2 did not report the VIP kill -9 left",
            &pair.daemons(),
        );
    }
    // The backup's death and return never move the VIP.
    if kept.0 != kept.1 || kept.1 == 0 {
        fail(
            &format!(
                "lb2 alone in only {} of {} samples while the backup died and came back",
                kept.0, kept.1
            ),
            &pair.daemons(),
        );
    }
    pair.expect_roles(&dir, "lb2");
    let lb1 = host_status(&dir, "lb1");
    if lb1["vrrp"][0]["transitions"] != 1 {
        fail(
            &format!("the restarted backup did more than INIT -> BACKUP: {lb1}"),
            &pair.daemons(),
        );
    }
}

#[test]
fn keepalived_kill_9_of_the_master_and_of_the_backup() {
    let Some((lab, dir, mut pair)) = settled_pair("kill", Vrrpd::Keepalived, ["", ""]) else {
        return;
    };
    let outcome = kill_9_scenario(&lab, &dir, &mut pair);
    let t = &outcome.timeline;
    let kept = t.count(outcome.killed_backup, outcome.end, only("lb2"));
    eprintln!(
        "keepalived kill -9: lb1 took over {} after the master's kill; after the restart \
         one holder {}, lb2 alone {}, longest double holding {} ms; backup killed and \
         restarted: lb2 alone in {} of {} samples; {}",
        opt_ms(outcome.takeover()),
        opt_ms(t.settled(outcome.restarted_master, INTERVAL, one_holder)),
        opt_ms(outcome.back_on_lb2()),
        t.longest_double(outcome.restarted_master).as_millis(),
        kept.0,
        kept.1,
        t.summary(outcome.restarted_master, outcome.killed_backup),
    );
}

// ----- link flaps -----

struct FlapOutcome {
    timeline: Timeline,
    flaps: u32,
    seconds: f64,
    ended: Instant,
}

/// Pulls and plugs lb2's cable (the master's) `per_second` times a second for `seconds`:
/// down for half a period, up for the other half; ends plugged in.
fn flap_scenario(lab: &Lab, pair: &Pair, per_second: u32, seconds: u32) -> FlapOutcome {
    let lb2 = lab.host("lb2");
    let ((flaps, seconds, ended), timeline) = watching(lab, || {
        std::thread::sleep(INTERVAL * 5);
        let half = Duration::from_secs(1) / per_second / 2;
        let start = Instant::now();
        let mut flaps = 0;
        for toggle in 0..per_second * seconds * 2 {
            if let Some(wait) = (start + half * toggle).checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let result = if toggle % 2 == 0 {
                lb2.cut_link()
            } else {
                lb2.restore_link()
            };
            if let Err(error) = result {
                let _ = lb2.restore_link();
                fail(&format!("flapping lb2's link: {error}"), &pair.daemons());
            }
            flaps += toggle % 2;
        }
        let seconds = start.elapsed().as_secs_f64();
        let ended = Instant::now();
        std::thread::sleep(master_down(150) + INTERVAL * 3 + SLACK + INTERVAL * 10);
        (flaps, seconds, ended)
    });
    FlapOutcome {
        timeline,
        flaps,
        seconds,
        ended,
    }
}

/// State changes the daemon logged ("BACKUP -> MASTER: ...").
fn logged_transitions(log: &str) -> usize {
    const STATES: [&str; 4] = ["INIT", "BACKUP", "MASTER", "FAULT"];
    log.lines()
        .filter(|line| {
            STATES.iter().any(|from| {
                STATES
                    .iter()
                    .any(|to| line.contains(&format!("{from} -> {to}:")))
            })
        })
        .count()
}

#[test]
fn link_flaps_ten_a_second_for_ten_seconds_end_with_one_holder() {
    let Some((lab, dir, mut pair)) = settled_pair("flaps", Vrrpd::Baton, ["", ""]) else {
        return;
    };
    let rss = pair.rss();
    let before = host_status(&dir, "lb2");
    let outcome = flap_scenario(&lab, &pair, 10, 10);
    let t = &outcome.timeline;
    let one = t.settled(outcome.ended, INTERVAL, one_holder);
    let back = t.settled(outcome.ended, INTERVAL, only("lb2"));
    let after = host_status(&dir, "lb2");
    let transitions = counter(&after, "transitions") - counter(&before, "transitions");
    let faults = pair.lb2.log_text().matches("-> FAULT").count();
    eprintln!(
        "link flaps: {} in {:.1} s ({:.1}/s); afterwards one holder {} and lb2 alone {} \
         (bound {} ms); lb2 counted {transitions} transitions, {faults} into FAULT; {}",
        outcome.flaps,
        outcome.seconds,
        f64::from(outcome.flaps) / outcome.seconds,
        opt_ms(one),
        opt_ms(back),
        (master_down(150) + INTERVAL * 3 + SLACK).as_millis(),
        t.summary(t.start(), outcome.ended),
    );
    pair.expect_alive();
    pair.expect_memory_bounded(rss);
    // Issue 14: at most one holder within 3 intervals of the last flap.
    expect_within(
        one,
        INTERVAL * 3 + SLACK,
        "one holder after the flaps",
        &pair,
    );
    // Out of FAULT lb2 is a backup that must wait its Master_Down_Interval before it
    // preempts lb1 (RFC 5798 §6.4.2); lb1 steps down on its first advert.
    let bound = master_down(150) + INTERVAL * 3 + SLACK;
    expect_within(back, bound, "lb2 the one holder after the flaps", &pair);
    // No stuck FAULT, and every state change counted once: the status counter matches
    // the log, and each flap the daemon saw went through FAULT and out again.
    pair.expect_roles(&dir, "lb2");
    let logged = logged_transitions(&pair.lb2.log_text());
    if faults == 0 || u64::try_from(logged).ok() != Some(counter(&after, "transitions")) {
        fail(
            &format!("lb2: {faults} FAULTs logged, {logged} transitions logged, status {after}"),
            &pair.daemons(),
        );
    }
}

#[test]
fn keepalived_link_flaps() {
    let Some((lab, _dir, mut pair)) = settled_pair("flaps", Vrrpd::Keepalived, ["", ""]) else {
        return;
    };
    let outcome = flap_scenario(&lab, &pair, 10, 10);
    let t = &outcome.timeline;
    pair.expect_alive();
    eprintln!(
        "keepalived link flaps: {} in {:.1} s; afterwards one holder {} and lb2 alone {}; \
         during: {}; last: {:?}",
        outcome.flaps,
        outcome.seconds,
        opt_ms(t.settled(outcome.ended, INTERVAL, one_holder)),
        opt_ms(t.settled(outcome.ended, INTERVAL, only("lb2"))),
        t.summary(t.start(), outcome.ended),
        t.last_holders(),
    );
}

// ----- partition and heal -----

struct PartitionOutcome {
    timeline: Timeline,
    isolated: Instant,
    healed: Instant,
    /// baton's states of lb1 and lb2 during the partition.
    states: Option<(serde_json::Value, serde_json::Value)>,
}

/// lb2 cut off at the bridge (it keeps its carrier, so sees nothing wrong) for 10
/// intervals after both took the VIP, then let back.
fn partition_scenario(lab: &Lab, dir: &Workdir, pair: &Pair) -> PartitionOutcome {
    let lb2 = lab.host("lb2");
    let ((isolated, healed, states), timeline) = watching(lab, || {
        std::thread::sleep(INTERVAL * 5);
        let isolated = Instant::now();
        lb2.isolate().expect("isolating lb2");
        let both = || holders_now(lab).len() == 2;
        let _ = wait_for(Duration::from_secs(5), both);
        std::thread::sleep(INTERVAL * 10);
        let states =
            (pair.kind == Vrrpd::Baton).then(|| (host_status(dir, "lb1"), host_status(dir, "lb2")));
        let healed = Instant::now();
        lb2.rejoin().expect("letting lb2 back");
        std::thread::sleep(INTERVAL * 3 + SLACK + INTERVAL * 10);
        (isolated, healed, states)
    });
    PartitionOutcome {
        timeline,
        isolated,
        healed,
        states,
    }
}

#[test]
fn a_partition_makes_two_masters_and_the_heal_leaves_one() {
    let Some((lab, dir, mut pair)) = settled_pair("partition", Vrrpd::Baton, ["", ""]) else {
        return;
    };
    let rss = pair.rss();
    let outcome = partition_scenario(&lab, &dir, &pair);
    let t = &outcome.timeline;
    let split = t.first(outcome.isolated, |s| s.holders.len() == 2);
    let one = t.settled(outcome.healed, INTERVAL, one_holder);
    let back = t.settled(outcome.healed, INTERVAL, only("lb2"));
    eprintln!(
        "partition: both held the VIP {} after lb2 was cut off; after the heal one holder \
         {} and lb2 alone {} (bound {} ms)",
        opt_ms(split),
        opt_ms(one),
        opt_ms(back),
        (INTERVAL * 3 + SLACK).as_millis(),
    );
    pair.expect_alive();
    pair.expect_memory_bounded(rss);
    // Expected during a partition: lb1 hears no master and takes over.
    expect_within(
        split,
        master_down(100) + SLACK,
        "lb1 master beside lb2",
        &pair,
    );
    if let Some((lb1, lb2)) = &outcome.states
        && (lb1["vrrp"][0]["state"] != "MASTER" || lb2["vrrp"][0]["state"] != "MASTER")
    {
        fail(
            &format!("not both MASTER while partitioned: {lb1} {lb2}"),
            &pair.daemons(),
        );
    }
    // RFC 5798 §6.4.3: the lower-priority master steps down on the first advert it hears
    // from lb2, at most an interval after the heal; 3 intervals is issue 14's bound.
    expect_within(
        back,
        INTERVAL * 3 + SLACK,
        "lb2 the one holder after the heal",
        &pair,
    );
    pair.expect_roles(&dir, "lb2");
}

#[test]
fn keepalived_partition_and_heal() {
    let Some((lab, dir, pair)) = settled_pair("partition", Vrrpd::Keepalived, ["", ""]) else {
        return;
    };
    let outcome = partition_scenario(&lab, &dir, &pair);
    let t = &outcome.timeline;
    eprintln!(
        "keepalived partition: both held the VIP {} after the cut; after the heal one holder \
         {} and lb2 alone {}; last: {:?}",
        opt_ms(t.first(outcome.isolated, |s| s.holders.len() == 2)),
        opt_ms(t.settled(outcome.healed, INTERVAL, one_holder)),
        opt_ms(t.settled(outcome.healed, INTERVAL, only("lb2"))),
        t.last_holders(),
    );
}

// ----- 10,000 adverts a second -----

/// Packets dropped at the sockets, before any instance saw them.
fn socket_drops(status: &serde_json::Value) -> u64 {
    status["vrrp_receive_dropped"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| entry["count"].as_u64().unwrap_or(0))
        .sum()
}

/// What the flood sends, round robin: a valid-looking advert from the client with a lower
/// priority (50), the same for a VRID nobody runs (77), and one with a wrong password.
fn flood_packets() -> Vec<Vec<u8>> {
    let password = b"baton12\0";
    vec![
        advert(0x21, 50, 1, password),
        with_vrid(advert(0x21, 50, 1, password), 77),
        advert(0x21, 50, 1, b"guess\0\0\0"),
    ]
}

const FLOOD_RATE: u32 = 10_000;
const FLOOD_SECONDS: u32 = 10;

/// Floods the group from the client while lb1 (150, VRRPv2 every second) is master.
fn flood_scenario(lab: &Lab, dir: &Workdir, daemons: [&Daemon; 2]) -> (Flood, Timeline) {
    let (flood, timeline) = watching(lab, || {
        let flooder = Flooder::start(
            lab,
            dir,
            ("224.0.0.18", FLOOD_RATE, FLOOD_SECONDS),
            &flood_packets(),
        );
        let flood = flooder.finish(&daemons);
        // Counters reach the status with the next input: an advert, at most 1 s later.
        std::thread::sleep(Duration::from_millis(1500));
        flood
    });
    eprintln!(
        "advert flood: {} sent in {:.1} s ({:.0}/s, {} send errors), per packet {:?}",
        flood.sent,
        flood.seconds,
        flood.rate(),
        flood.errors,
        flood.per_packet
    );
    (flood, timeline)
}

#[test]
fn ten_thousand_adverts_a_second_move_nothing_and_are_all_counted() {
    if python_missing("chaos: advert flood") {
        return;
    }
    let Some(lab) = guide_lab("chaos: advert flood") else {
        return;
    };
    let dir = Workdir::new("chaos-flood");
    let (mut lb1, mut lb2) = master_and_backup(&lab, &dir);
    let sockets = [dir.path("lb1.sock"), dir.path("lb2.sock")];
    let before: Vec<serde_json::Value> = sockets.iter().map(|s| status(s)).collect();
    let rss_before = [rss_kib(lb1.child.id()), rss_kib(lb2.child.id())];
    let (flood, timeline) = flood_scenario(&lab, &dir, [&lb1, &lb2]);
    let after: Vec<serde_json::Value> = sockets.iter().map(|s| status(s)).collect();
    let rss_after = [rss_kib(lb1.child.id()), rss_kib(lb2.child.id())];
    let alive = [lb1.child.is_running(), lb2.child.is_running()];
    let daemons = [&lb1, &lb2];
    let (start, end) = (timeline.start(), timeline.end());
    eprintln!("  holders: {}", timeline.summary(start, end));
    if !timeline.always(start, end, only("lb1")) {
        fail("the VIP moved during the flood", &daemons);
    }
    if alive != [true, true] {
        fail(&format!("a daemon died (alive: {alive:?})"), &daemons);
    }
    let [low, other_vrid, wrong_password] = flood.per_packet[..] else {
        fail("the flooder did not count its packets", &daemons);
    };
    let delta = |i: usize, f: &dyn Fn(&serde_json::Value) -> u64| f(&after[i]) - f(&before[i]);
    // lb1's answers to the low-priority adverts (rate-limited) and its own adverts reach
    // lb2 too; lb2, a backup, sends nothing lb1 could count.
    let from_lb1 = delta(0, &|s| counter(s, "adverts_sent"));
    for (i, name) in ["lb1", "lb2"].into_iter().enumerate() {
        let received = delta(i, &|s| counter(s, "adverts_received"));
        let by_vrid = delta(i, &|s| dropped(s, "vrid"));
        let by_auth = delta(i, &|s| dropped(s, "auth"));
        // Dropped before the engine saw them (a full queue or socket buffer on a busy
        // machine): counted, but not by kind.
        let unsorted = delta(i, &|s| socket_drops(s));
        let total = delta(i, &|s| accounted(s) - dropped(s, "from_self"));
        let others = if i == 0 { 0 } else { from_lb1 };
        eprintln!(
            "  {name}: {total} accounted: {received} adverts received, {by_vrid} vrid, \
             {by_auth} auth, {unsorted} at the socket (all drops {:?}); {others} from lb1; \
             VmRSS {} -> {} KiB",
            drops(&after[i]),
            rss_before[i],
            rss_after[i]
        );
        // Every packet sent is in exactly one counter; lb2's view of lb1's adverts may
        // lag lb1's own count by one in flight.
        let expected = flood.sent + others;
        if total.abs_diff(expected) > u64::from(i == 1) * 2 {
            fail(
                &format!("{name}: {total} accounted, {expected} expected"),
                &daemons,
            );
        }
        // Each kind lands in its own counter, less what the socket level dropped.
        let shortfall = (other_vrid - by_vrid.min(other_vrid))
            + (wrong_password - by_auth.min(wrong_password))
            + (low + others).saturating_sub(received);
        if by_vrid > other_vrid
            || by_auth > wrong_password
            || received > low + others + u64::from(i == 1) * 2
            || shortfall.abs_diff(unsorted) > u64::from(i == 1) * 2
        {
            fail(
                &format!("{name}: counters do not match what was sent"),
                &daemons,
            );
        }
        if rss_after[i] > rss_before[i] + MEMORY_GROWTH_KIB {
            fail(
                &format!("{name}: memory grew by more than 20 MiB"),
                &daemons,
            );
        }
        if after[i]["vrrp"][0]["transitions"] != before[i]["vrrp"][0]["transitions"] {
            fail(&format!("{name} changed state: {}", after[i]), &daemons);
        }
        // /metrics exports the same counters (the drops stand still after the flood).
        let text = metrics(lab.host(name));
        let exported = [
            metric(
                &text,
                "baton_vrrp_dropped_packets_total",
                &["reason=\"auth\""],
            ),
            metric(
                &text,
                "baton_vrrp_unclaimed_dropped_packets_total",
                &["reason=\"vrid\""],
            ),
        ];
        let in_status = [
            after[i]["vrrp"][0]["dropped"]["auth"].as_u64().unwrap_or(0),
            after[i]["vrrp_unclaimed_dropped"]["vrid"]
                .as_u64()
                .unwrap_or(0),
        ];
        if exported != in_status {
            fail(
                &format!(
                    "{name}: /metrics has auth and vrid drops {exported:?}, status {in_status:?}"
                ),
                &daemons,
            );
        }
    }
}

#[test]
fn keepalived_under_ten_thousand_adverts_a_second() {
    if python_missing("chaos: keepalived advert flood")
        || keepalived_missing("chaos: keepalived advert flood")
    {
        return;
    }
    let Some(lab) = guide_lab("chaos: keepalived advert flood") else {
        return;
    };
    let dir = Workdir::new("chaos-flood-ka");
    let mut lb1 = start_keepalived(
        lab.host("lb1"),
        &dir,
        &keepalived_conf("lb1", 2, 150, "1", ""),
    );
    let _ = wait_for(Duration::from_secs(10), || holders_now(&lab) == ["lb1"]);
    let mut lb2 = start_keepalived(
        lab.host("lb2"),
        &dir,
        &keepalived_conf("lb2", 2, 100, "1", ""),
    );
    std::thread::sleep(Duration::from_secs(2));
    let rss = |host: &str| -> u64 { lab.host(host).processes().into_iter().map(rss_kib).sum() };
    let rss_before = [rss("lb1"), rss("lb2")];
    let (_, timeline) = flood_scenario(&lab, &dir, [&lb1, &lb2]);
    let (start, end) = (timeline.start(), timeline.end());
    eprintln!(
        "keepalived under the flood: {}; alive: lb1 {}, lb2 {}; VmRSS (all processes) \
         lb1 {} -> {} KiB, lb2 {} -> {} KiB",
        timeline.summary(start, end),
        lb1.child.is_running(),
        lb2.child.is_running(),
        rss_before[0],
        rss("lb1"),
        rss_before[1],
        rss("lb2"),
    );
}

// ----- forged priority 255 -----

/// A VRRPv3 advert for the guide's VRID and VIP, priority 255 (the address owner's), with
/// the pair's interval, from the client to `dst`.
fn forged_owner_advert(dst: Ipv4Addr) -> Vec<u8> {
    Advertisement {
        vrid: Vrid::new(51).expect("vrid"),
        priority: Priority::OWNER,
        addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 3, 100))],
        fields: VersionFields::V3 {
            max_interval: Centiseconds::from_duration(INTERVAL).expect("interval"),
        },
    }
    .emit(IpAddr::V4(CLIENT), IpAddr::V4(dst), ChecksumMode::Standard)
    .expect("encodes")
}

const FORGED_RATE: u32 = 10;
const FORGED_SECONDS: u32 = 3;

struct ForgedOutcome {
    timeline: Timeline,
    floods: Vec<Flood>,
    started: Instant,
    ended: Instant,
    /// baton's view of lb1 and lb2 half-way through.
    states: Option<(serde_json::Value, serde_json::Value)>,
}

/// Forged owner adverts from the client to each of `destinations` at once, then 10
/// intervals past Master_Down_Interval.
fn forged_scenario(
    lab: &Lab,
    dir: &Workdir,
    pair: &Pair,
    destinations: &[Ipv4Addr],
) -> ForgedOutcome {
    let ((floods, started, ended, states), timeline) = watching(lab, || {
        std::thread::sleep(INTERVAL * 5);
        let started = Instant::now();
        let flooders: Vec<Flooder> = destinations
            .iter()
            .map(|&dst| {
                Flooder::start(
                    lab,
                    dir,
                    (&dst.to_string(), FORGED_RATE, FORGED_SECONDS),
                    &[forged_owner_advert(dst)],
                )
            })
            .collect();
        std::thread::sleep(Duration::from_secs(u64::from(FORGED_SECONDS)) / 2);
        let states =
            (pair.kind == Vrrpd::Baton).then(|| (host_status(dir, "lb1"), host_status(dir, "lb2")));
        let floods: Vec<Flood> = flooders
            .into_iter()
            .map(|f| f.finish(&pair.daemons()))
            .collect();
        let ended = Instant::now();
        std::thread::sleep(master_down(150) + SLACK + INTERVAL * 10);
        (floods, started, ended, states)
    });
    ForgedOutcome {
        timeline,
        floods,
        started,
        ended,
        states,
    }
}

fn multicast() -> Ipv4Addr {
    Ipv4Addr::new(224, 0, 0, 18)
}

/// Multicast without authentication: any host on the LAN may claim to be the owner, and
/// RFC 5798 §6.4.3 makes the master yield. What baton promises: the forger shows as the
/// master in the status (an address that is neither LB), the step-down is logged with its
/// source, every forged advert is counted as received, and once the forgery stops lb2 is
/// back within Master_Down_Interval.
#[test]
fn forged_owner_adverts_on_multicast_are_reported_and_outlived() {
    if python_missing("chaos: forged priority 255, multicast") {
        return;
    }
    let Some((lab, dir, mut pair)) = settled_pair("forged", Vrrpd::Baton, ["", ""]) else {
        return;
    };
    let before = [host_status(&dir, "lb1"), host_status(&dir, "lb2")];
    let outcome = forged_scenario(&lab, &dir, &pair, &[multicast()]);
    std::thread::sleep(INTERVAL * 2);
    let after = [host_status(&dir, "lb1"), host_status(&dir, "lb2")];
    let t = &outcome.timeline;
    let forged = outcome.floods[0].sent;
    let yielded = t.first(outcome.started, |s| s.holders.is_empty());
    let back = t.settled(outcome.ended, INTERVAL, only("lb2"));
    eprintln!(
        "forged priority 255 on multicast: {forged} sent; lb2 dropped the VIP {} after the \
         forger started; back on lb2 {} after the last (bound {} ms); during: {}",
        opt_ms(yielded),
        opt_ms(back),
        (master_down(150) + SLACK).as_millis(),
        t.summary(outcome.started, outcome.ended),
    );
    pair.expect_alive();
    let Some((lb1, lb2)) = &outcome.states else {
        unreachable!("baton's states are read");
    };
    for (name, s) in [("lb1", lb1), ("lb2", lb2)] {
        if s["vrrp"][0]["state"] != "BACKUP" || s["vrrp"][0]["master"] != CLIENT.to_string() {
            fail(
                &format!("{name} does not show the forger as master mid-forgery: {s}"),
                &pair.daemons(),
            );
        }
    }
    if !pair.lb2.log_text().contains(&format!(
        "advertisement from {CLIENT} with priority 255 wins"
    )) {
        fail("lb2 did not log whom it yielded to", &pair.daemons());
    }
    // Every forged advert is received and processed (it is valid), on both; lb1 also
    // received lb2's own adverts, and lb1 never sent any (it never became master).
    let delta = |i: usize, name: &str| counter(&after[i], name) - counter(&before[i], name);
    let from_lb2 = delta(1, "adverts_sent");
    if delta(0, "adverts_sent") != 0
        || delta(1, "adverts_received") != forged
        || delta(0, "adverts_received").abs_diff(forged + from_lb2) > 2
    {
        fail(
            &format!(
                "{forged} forged; received lb1 {} (+{from_lb2} from lb2), lb2 {}",
                delta(0, "adverts_received"),
                delta(1, "adverts_received")
            ),
            &pair.daemons(),
        );
    }
    // RFC 5798 §6.4.2: Master_Down_Interval after the last advert the backups heard,
    // with the interval the forger advertised (ours); lb1, lower, never takes it.
    let bound = master_down(150) + SLACK;
    expect_within(back, bound, "lb2 back after the forgery", &pair);
    if t.first(outcome.started, |s| s.holders.contains(&"lb1"))
        .is_some()
    {
        fail("lb1 held the VIP", &pair.daemons());
    }
    pair.expect_roles(&dir, "lb2");
}

fn unicast(me: &str, peer: &str, check: bool) -> String {
    let check = if check { "    check_unicast_src\n" } else { "" };
    format!("    unicast_src_ip {me}\n    unicast_peer {{\n        {peer}\n    }}\n{check}")
}

fn lb_addresses() -> [Ipv4Addr; 2] {
    [LB1.parse().expect("lb1"), LB2.parse().expect("lb2")]
}

/// With unicast peers baton hears only its peers (keepalived's `check_unicast_src`,
/// always on): the forged owner adverts sent to each LB are dropped as `unknown_peer`,
/// one for one, and the VIP never moves.
#[test]
fn forged_owner_adverts_from_a_non_peer_are_dropped_in_unicast_mode() {
    if python_missing("chaos: forged priority 255, unicast") {
        return;
    }
    let extra = [unicast(LB1, LB2, false), unicast(LB2, LB1, false)];
    let kind = Vrrpd::Baton;
    let Some((lab, dir, mut pair)) = settled_pair("unicast", kind, [&extra[0], &extra[1]]) else {
        return;
    };
    let rss = pair.rss();
    let before = [host_status(&dir, "lb1"), host_status(&dir, "lb2")];
    let outcome = forged_scenario(&lab, &dir, &pair, &lb_addresses());
    let after = [host_status(&dir, "lb1"), host_status(&dir, "lb2")];
    let t = &outcome.timeline;
    let (start, end) = (t.start(), t.end());
    let unknown: Vec<u64> = (0..2)
        .map(|i| dropped(&after[i], "unknown_peer") - dropped(&before[i], "unknown_peer"))
        .collect();
    eprintln!(
        "forged priority 255 to unicast peers: sent {} to lb1, {} to lb2; unknown_peer \
         drops lb1 {}, lb2 {}; {}",
        outcome.floods[0].sent,
        outcome.floods[1].sent,
        unknown[0],
        unknown[1],
        t.summary(start, end),
    );
    pair.expect_alive();
    pair.expect_memory_bounded(rss);
    if !t.always(start, end, only("lb2")) {
        fail(
            "a forged advert from a non-peer moved the VIP",
            &pair.daemons(),
        );
    }
    for (flood, unknown) in outcome.floods.iter().zip(&unknown) {
        if *unknown != flood.sent {
            fail(
                &format!(
                    "{} forged adverts sent, {unknown} counted as unknown_peer",
                    flood.sent
                ),
                &pair.daemons(),
            );
        }
    }
    pair.expect_roles(&dir, "lb2");
}

/// keepalived on multicast, and with unicast peers with and without `check_unicast_src`.
#[test]
fn keepalived_forged_owner_adverts() {
    if python_missing("chaos: keepalived forged priority 255") {
        return;
    }
    let cases: [(&str, [String; 2], Vec<Ipv4Addr>); 3] = [
        (
            "multicast",
            [String::new(), String::new()],
            vec![multicast()],
        ),
        (
            "unicast peers",
            [unicast(LB1, LB2, false), unicast(LB2, LB1, false)],
            lb_addresses().to_vec(),
        ),
        (
            "unicast peers with check_unicast_src",
            [unicast(LB1, LB2, true), unicast(LB2, LB1, true)],
            lb_addresses().to_vec(),
        ),
    ];
    for (what, extra, destinations) in cases {
        let kind = Vrrpd::Keepalived;
        let Some((lab, dir, pair)) = settled_pair("forged", kind, [&extra[0], &extra[1]]) else {
            return;
        };
        let outcome = forged_scenario(&lab, &dir, &pair, &destinations);
        let t = &outcome.timeline;
        let sent: Vec<u64> = outcome.floods.iter().map(|f| f.sent).collect();
        eprintln!(
            "keepalived, forged priority 255, {what}: sent {sent:?}; during: {}; back on lb2 \
             {} after the last; last: {:?}",
            t.summary(outcome.started, outcome.ended),
            opt_ms(t.settled(outcome.ended, INTERVAL, only("lb2"))),
            t.last_holders(),
        );
    }
}

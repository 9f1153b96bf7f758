//! Tracked objects: weights move the effective priority; weight 0 means FAULT.

use std::time::{Duration, Instant};

use baton_vrrp::{Instance, Priority, Reason, State, TrackConfig, TrackStatus};

use crate::sim::{DEFAULT_LATENCY, Lan};
use crate::{INSTANCE, VIP, master_down, ms, secs, v3, v3_skew};

fn tracked(priority: u8, weight: i32) -> baton_vrrp::InstanceConfig {
    let mut config = v3(5, priority);
    config.tracks = vec![TrackConfig {
        weight,
        initially_up: true,
    }];
    config
}

#[test]
fn effective_priority_follows_keepalived_weights_and_clamps() {
    let now = Instant::now();
    let cases = [
        (100, 50, true, 150),  // positive weight counts while up
        (100, 50, false, 100), // ... and not while down
        (100, -30, true, 100), // negative weight counts while down
        (100, -30, false, 70),
        (200, 100, true, 254),   // clamped below the owner's 255
        (100, -300, false, 1),   // and above the stop priority 0
        (255, -100, false, 255), // the owner's priority never moves
    ];
    for (base, weight, up, expected) in cases {
        let mut instance = Instance::new(tracked(base, weight)).expect("valid");
        instance.set_track(now, 0, up);
        assert_eq!(
            instance.effective_priority(),
            Priority::new(expected),
            "{base} {weight} {up}"
        );
    }
}

#[test]
fn track_file_values_are_multiplied_offsets_and_minus_254_is_fault() {
    // A faulting object no longer adjusts the priority: FAULT says it all.
    let now = Instant::now();
    let mut instance = Instance::new(tracked(100, 10)).expect("valid");
    for (offset, priority, state) in [
        (30, 130, State::Backup),
        (-50, 50, State::Backup),
        (-253, 1, State::Backup),
        (-254, 100, State::Fault),
    ] {
        instance.start(now);
        instance.set_track_status(now, 0, TrackStatus::Offset(offset));
        assert_eq!(
            instance.effective_priority(),
            Priority::new(priority),
            "offset {offset}"
        );
        assert_eq!(instance.state(), state, "offset {offset}");
    }
}

#[test]
fn negative_weight_moves_mastership_to_the_backup() {
    let mut lan = Lan::new(1);
    let a = lan.add(tracked(200, -150));
    let b = lan.add(v3(6, 100));
    lan.start_all();
    lan.run_to(ms(10_500));
    let elected_a = lan.last_entered(a, State::Master).expect("elected");
    lan.set_track(a, INSTANCE, 0, false);
    lan.run_to(secs(19));

    // A now advertises priority 50; B (preempt) discards those adverts, so its timer runs
    // from the last priority-200 advert (sent at 10.21875 s).
    let last_accepted = elected_a + secs(7) + DEFAULT_LATENCY;
    let takeover = last_accepted + master_down(secs(1), v3_skew(100, secs(1)));
    assert_eq!(lan.last_entered(b, State::Master), Some(takeover));
    assert_eq!(
        lan.last_entered(a, State::Backup),
        Some(takeover + DEFAULT_LATENCY)
    );
    assert_eq!(lan.holders(VIP), vec![b]);

    // Back up: A preempts when the timer it set at priority 50 from B's last advert expires.
    lan.set_track(a, INSTANCE, 0, true);
    lan.run_to(secs(40));
    let b_adverts = (0..)
        .map(|k| takeover + secs(k))
        .take_while(|&t| t < secs(19));
    let last_heard = b_adverts.last().expect("some") + DEFAULT_LATENCY;
    let back = last_heard + master_down(secs(1), v3_skew(50, secs(1)));
    assert_eq!(lan.last_entered(a, State::Master), Some(back));
    assert_eq!(lan.holders(VIP), vec![a]);
}

#[test]
fn positive_weight_wins_the_election_while_up() {
    let mut lan = Lan::new(1);
    let a = lan.add(v3(6, 200));
    let mut boosted = tracked(100, 150);
    boosted.primary_address = crate::lan_address(5);
    let b = lan.add(boosted);
    lan.start_all();
    lan.run_to(secs(10));
    assert_eq!(lan.masters(INSTANCE), vec![b]);
    lan.set_track(b, INSTANCE, 0, false);
    lan.run_to(secs(20));
    assert_eq!(lan.masters(INSTANCE), vec![a]);
}

#[test]
fn weight_zero_object_down_means_fault_and_a_fast_handover() {
    let mut lan = Lan::new(1);
    let a = lan.add(tracked(200, 0));
    let b = lan.add(v3(6, 100));
    lan.start_all();
    lan.run_to(ms(10_500));
    lan.set_track(a, INSTANCE, 0, false);
    assert_eq!(lan.state(a, INSTANCE), State::Fault);
    assert_eq!(lan.holders(VIP), Vec::<usize>::new());
    lan.run_to(secs(20));

    // Leaving Master for FAULT sends priority 0, so B waits only Skew_Time.
    let takeover = ms(10_500) + DEFAULT_LATENCY + v3_skew(100, secs(1));
    assert_eq!(
        lan.transitions(b).last(),
        Some(&(takeover, State::Master, Reason::MasterStopped))
    );
    // In FAULT, A ignores adverts and stays put.
    assert_eq!(
        lan.transitions(a).last(),
        Some(&(ms(10_500), State::Fault, Reason::Fault))
    );

    lan.set_track(a, INSTANCE, 0, true);
    lan.run_to(secs(40));
    assert_eq!(
        lan.transitions(a)[3],
        (secs(20), State::Backup, Reason::FaultCleared)
    );
    let back = secs(20) + master_down(secs(1), v3_skew(200, secs(1)));
    assert_eq!(lan.last_entered(a, State::Master), Some(back));
    assert_eq!(lan.holders(VIP), vec![a]);
}

#[test]
fn starting_with_a_tracked_object_down_starts_in_fault() {
    let mut config = tracked(200, 0);
    config.tracks[0].initially_up = false;
    let mut instance = Instance::new(config).expect("valid");
    let now = Instant::now();
    instance.start(now);
    assert_eq!(instance.state(), State::Fault);
    assert_eq!(instance.poll_timeout(), None);
    assert_eq!(instance.poll_transmit(), None, "no adverts from FAULT");
    instance.set_track(now + Duration::from_secs(1), 0, true);
    assert_eq!(instance.state(), State::Backup);
}

/// The guide's pair where lb2 (200) tracks a frontend with weight -150 whose health has
/// not been checked yet at start-up, and lb1 (100) tracks nothing.
fn pending_pair() -> (Lan, usize, usize) {
    let mut lan = Lan::new(1);
    let a = lan.add(tracked(200, -150));
    let b = lan.add(v3(6, 100));
    lan.set_track_status(a, INSTANCE, 0, TrackStatus::Unknown);
    lan.start_all();
    (lan, a, b)
}

/// Every node that held the VIP at some point, in order, with repeats collapsed.
fn vip_holders_over(lan: &mut Lan, until: Duration) -> Vec<Vec<usize>> {
    let mut seen: Vec<Vec<usize>> = Vec::new();
    let mut at = ms(0);
    while at <= until {
        lan.run_to(at);
        let holders = lan.holders(VIP);
        if !holders.is_empty() && seen.last() != Some(&holders) {
            seen.push(holders);
        }
        at += ms(50);
    }
    seen
}

#[test]
fn a_first_verdict_down_lets_the_peer_take_the_vip_once() {
    let (mut lan, a, b) = pending_pair();
    lan.run_to(secs(1));
    // The frontend's first check fails: lb2's priority is 50, below lb1's.
    lan.set_track_status(a, INSTANCE, 0, TrackStatus::Down);
    let holders = vip_holders_over(&mut lan, secs(20));
    assert_eq!(holders, vec![vec![b]], "the VIP moved once, to lb1");
    assert_eq!(lan.last_entered(a, State::Master), None);
    // lb1 took over when its own timer ran out, lb2's re-armed one (skew of 50) being later.
    assert_eq!(
        lan.last_entered(b, State::Master),
        Some(master_down(secs(1), v3_skew(100, secs(1))))
    );
}

#[test]
fn a_first_verdict_up_keeps_the_takeover_time_of_a_known_one() {
    let (mut lan, a, b) = pending_pair();
    lan.run_to(secs(1));
    lan.set_track_status(a, INSTANCE, 0, TrackStatus::Up);
    let holders = vip_holders_over(&mut lan, secs(20));
    assert_eq!(holders, vec![vec![a]], "the VIP moved once, to lb2");
    assert_eq!(lan.last_entered(b, State::Master), None);
    assert_eq!(
        lan.last_entered(a, State::Master),
        Some(master_down(secs(1), v3_skew(200, secs(1))))
    );
}

#[test]
fn without_a_verdict_the_instance_listens_but_never_takes_over() {
    let mut lan = Lan::new(1);
    let a = lan.add(tracked(200, -150));
    lan.set_track_status(a, INSTANCE, 0, TrackStatus::Unknown);
    lan.start_all();
    lan.run_to(secs(10));
    assert_eq!(lan.state(a, INSTANCE), State::Backup);
    assert!(lan.holders(VIP).is_empty());
    // The verdict comes after Master_Down_Interval passed: no master was heard all along,
    // so it takes over after its Skew_Time only.
    lan.set_track_status(a, INSTANCE, 0, TrackStatus::Up);
    lan.run_to(secs(12));
    assert_eq!(
        lan.last_entered(a, State::Master),
        Some(secs(10) + v3_skew(200, secs(1)))
    );
}

#[test]
fn a_higher_master_heard_while_waiting_is_followed_as_usual() {
    let mut lan = Lan::new(1);
    let a = lan.add(tracked(200, -150));
    let b = lan.add(v3(6, 250));
    lan.set_track_status(a, INSTANCE, 0, TrackStatus::Unknown);
    lan.start_all();
    lan.run_to(secs(5));
    assert_eq!(lan.masters(INSTANCE), vec![b]);
    lan.set_track_status(a, INSTANCE, 0, TrackStatus::Up);
    lan.run_to(secs(20));
    assert_eq!(lan.masters(INSTANCE), vec![b]);
    assert_eq!(lan.last_entered(a, State::Master), None);
}

#[test]
fn faulted_tracks_name_the_objects_that_hold_fault() {
    let now = Instant::now();
    let mut config = v3(5, 100);
    let track = |weight| TrackConfig {
        weight,
        initially_up: true,
    };
    config.tracks = vec![track(0), track(-20), track(0)];
    let mut instance = Instance::new(config).expect("valid");
    let faulted = |i: &Instance| i.faulted_tracks().collect::<Vec<_>>();
    assert_eq!(faulted(&instance), Vec::<usize>::new());
    // A weighted object down only lowers the priority; unweighted ones down mean FAULT.
    instance.set_track(now, 1, false);
    instance.set_track(now, 2, false);
    assert_eq!(faulted(&instance), vec![2]);
    instance.set_track(now, 0, false);
    assert_eq!(faulted(&instance), vec![0, 2]);
    assert!(instance.own_fault());
    instance.set_track(now, 0, true);
    instance.set_track(now, 2, true);
    assert!(!instance.own_fault());
}

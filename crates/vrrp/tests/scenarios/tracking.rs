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

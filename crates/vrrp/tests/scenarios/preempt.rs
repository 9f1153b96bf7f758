//! Preemption (RFC 5798 §6.4.2 Preempt_Mode) and keepalived's preempt_delay.

use baton_vrrp::{Reason, State};

use crate::sim::{DEFAULT_LATENCY, Lan};
use crate::{INSTANCE, VIP, master_down, ms, secs, v3, v3_skew};

/// A low-priority router is master; a higher one joins at 10 s.
fn late_joiner(high: baton_vrrp::InstanceConfig) -> Lan {
    let mut lan = Lan::new(1);
    let low = lan.add(v3(6, 100));
    let high_node = lan.add(high);
    lan.start(low);
    lan.run_to(secs(10));
    assert_eq!(lan.masters(INSTANCE), vec![low]);
    lan.start(high_node);
    lan
}

#[test]
fn higher_priority_preempts_after_its_master_down_interval() {
    let mut lan = late_joiner(v3(5, 200));
    lan.run_to(secs(60));

    // It discards the lower-priority adverts, so its Master_Down_Timer fires.
    let takeover = secs(10) + master_down(secs(1), v3_skew(200, secs(1)));
    assert_eq!(
        lan.transitions(1),
        vec![
            (secs(10), State::Backup, Reason::Startup),
            (takeover, State::Master, Reason::MasterDown),
        ]
    );
    let stepped_down = lan.transitions(0).last().copied();
    assert_eq!(
        stepped_down,
        Some((
            takeover + DEFAULT_LATENCY,
            State::Backup,
            Reason::PreferredMaster {
                from: crate::lan_address(5),
                priority: baton_vrrp::Priority::new(200)
            }
        ))
    );
    assert_eq!(lan.holders(VIP), vec![1]);
}

#[test]
fn nopreempt_leaves_a_lower_priority_master_alone() {
    let mut high = v3(5, 200);
    high.preempt = false;
    let mut lan = late_joiner(high);
    lan.run_to(secs(300));

    assert_eq!(lan.masters(INSTANCE), vec![0]);
    assert_eq!(
        lan.transitions(1),
        vec![(secs(10), State::Backup, Reason::Startup)]
    );
    assert_eq!(lan.holders(VIP), vec![0]);
}

#[test]
fn nopreempt_still_takes_over_from_a_dead_master() {
    let mut high = v3(5, 200);
    high.preempt = false;
    let mut lan = late_joiner(high);
    lan.run_to(ms(20_700));
    lan.crash(0);
    lan.run_to(secs(40));
    assert_eq!(lan.masters(INSTANCE), vec![1]);
}

#[test]
fn preempt_delay_holds_off_then_takes_over_at_once() {
    let mut high = v3(5, 200);
    high.preempt_delay = secs(5);
    let mut lan = late_joiner(high);
    // Without the delay it would preempt at 13.21875 s.
    lan.run_to(ms(14_999));
    assert_eq!(lan.masters(INSTANCE), vec![0]);

    lan.run_to(secs(60));
    assert_eq!(
        lan.transitions(1),
        vec![
            (secs(10), State::Backup, Reason::Startup),
            (secs(15), State::Master, Reason::PreemptDelayElapsed),
        ]
    );
    assert_eq!(
        lan.last_entered(0, State::Backup),
        Some(secs(15) + DEFAULT_LATENCY)
    );
    assert_eq!(lan.holders(VIP), vec![1]);
}

#[test]
fn preempt_delay_does_not_delay_taking_over_from_a_dead_master() {
    let mut high = v3(5, 200);
    high.preempt_delay = secs(60);
    let mut lan = Lan::new(1);
    let node = lan.add(high);
    lan.start(node);
    lan.run_to(secs(10));
    // Alone on the LAN: Master_Down_Interval, not preempt_delay, decides.
    assert_eq!(
        lan.last_entered(node, State::Master),
        Some(master_down(secs(1), v3_skew(200, secs(1))))
    );
}

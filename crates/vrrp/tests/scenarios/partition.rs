//! A partition makes two masters; healing it must leave exactly one, fast.

use baton_vrrp::{Priority, Reason, State};

use crate::sim::{DEFAULT_LATENCY, Lan, What};
use crate::{INSTANCE, VIP, lan_address, master_down, ms, secs, v3, v3_skew};

#[test]
fn healed_partition_has_one_master_within_one_round_trip_and_reannounces() {
    let mut lan = Lan::new(1);
    let a = lan.add(v3(5, 200));
    let b = lan.add(v3(6, 100));
    let c = lan.add(v3(7, 50));
    lan.start_all();
    lan.run_to(ms(10_500));
    assert_eq!(lan.masters(INSTANCE), vec![a]);
    let elected_a = lan.last_entered(a, State::Master).expect("elected");

    lan.partition(&[a], &[b, c]);
    lan.run_to(ms(20_300));
    // Both sides have a master: that is what a partition does.
    let last_heard = elected_a + secs(7) + DEFAULT_LATENCY; // advert sent at 10.21875 s
    let elected_b = last_heard + master_down(secs(1), v3_skew(100, secs(1)));
    assert_eq!(lan.last_entered(b, State::Master), Some(elected_b));
    assert_eq!(lan.masters(INSTANCE), vec![a, b]);
    assert_eq!(lan.holders(VIP), vec![a, b]);
    assert_eq!(lan.state(c, INSTANCE), State::Backup);

    let heal = ms(20_300);
    lan.heal();
    lan.run_to(secs(40));

    // B's next advert goes out at elected_b + 7 s (20.829125 s). A answers it at once and
    // re-announces the VIP; B steps down one latency later, long before A's own next advert.
    let b_advert_heard = elected_b + secs(7) + DEFAULT_LATENCY;
    let b_steps_down = b_advert_heard + DEFAULT_LATENCY;
    assert_eq!(
        lan.transitions(b).last(),
        Some(&(
            b_steps_down,
            State::Backup,
            Reason::PreferredMaster {
                from: lan_address(5),
                priority: Priority::new(200)
            }
        ))
    );
    assert!(
        b_steps_down - heal < secs(1),
        "one master within one advert interval of healing"
    );
    let reannounce = lan
        .log()
        .iter()
        .find(|r| r.node == a && r.at > heal && matches!(r.what, What::Announce { .. }))
        .map(|r| r.at);
    assert_eq!(reannounce, Some(b_advert_heard));
    assert_eq!(lan.masters(INSTANCE), vec![a]);
    assert_eq!(lan.holders(VIP), vec![a]);
    assert_eq!(
        lan.transitions(c),
        vec![(secs(0), State::Backup, Reason::Startup)]
    );
    // A never left Master.
    assert_eq!(lan.transitions(a).len(), 2);
}

#[test]
fn reannouncing_is_rate_limited_to_once_per_interval() {
    // B cannot hear A (one-way loss), so it stays master and advertises every 100 ms;
    // A hears each advert and answers each, but re-announces at most once per its 1 s.
    let mut lan = Lan::new(1);
    // Without garp_lower_prio_delay's second burst, so that each answer is one announce.
    let mut slow = v3(5, 200);
    slow.announce.lower_priority_delay = None;
    let a = lan.add(slow);
    let mut fast = v3(6, 100);
    fast.advert_interval = ms(100);
    let b = lan.add(fast);
    lan.start_all();
    lan.run_to(secs(10));
    lan.cut_one_way(a, b);
    lan.run_to(secs(14));
    assert_eq!(lan.masters(INSTANCE), vec![a, b]);
    lan.run_to(secs(24));

    let window = |r: &crate::sim::Record| r.node == a && r.at > secs(14) && r.at <= secs(24);
    let count = |pick: &dyn Fn(&What) -> bool| {
        lan.log()
            .iter()
            .filter(|r| window(r) && pick(&r.what))
            .count()
    };
    let heard = count(&|w| matches!(w, What::Delivered { from, .. } if *from == b));
    let announces = count(&|w| matches!(w, What::Announce { .. }));
    assert_eq!(heard, 100);
    assert_eq!(announces, 10);
}

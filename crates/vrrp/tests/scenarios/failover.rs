//! A master that dies or stops, and how fast and how exactly a backup takes over.

use std::time::Duration;

use baton_vrrp::{InstanceConfig, Reason, State};

use crate::sim::{DEFAULT_LATENCY, Lan};
use crate::{INSTANCE, VIP, master_down, ms, secs, v2, v2_skew, v3, v3_skew};

fn with_interval(mut config: InstanceConfig, interval: Duration) -> InstanceConfig {
    config.advert_interval = interval;
    config
}

/// Starts master (priority 200, .5) and backup (priority 100, .6) and lets them settle.
/// Returns the instant the master was elected.
fn settled_pair(lan: &mut Lan, master: InstanceConfig, backup: InstanceConfig) -> Duration {
    let m = lan.add(master);
    let b = lan.add(backup);
    lan.start_all();
    lan.run_to(secs(30));
    assert_eq!(lan.masters(INSTANCE), vec![m]);
    assert_eq!(lan.state(b, INSTANCE), State::Backup);
    lan.last_entered(m, State::Master).expect("elected")
}

/// When the backup last heard the master before `cut`, given adverts every `interval`
/// from `elected` on.
fn last_heard_before(elected: Duration, interval: Duration, cut: Duration) -> Duration {
    let sent = (0..)
        .map(|k| elected + interval * k)
        .take_while(|&t| t < cut)
        .last()
        .expect("one");
    sent + DEFAULT_LATENCY
}

#[test]
fn v3_backup_takes_over_exactly_master_down_interval_after_the_last_advert() {
    let mut lan = Lan::new(1);
    let elected = settled_pair(&mut lan, v3(5, 200), v3(6, 100));
    assert_eq!(elected, master_down(secs(1), v3_skew(200, secs(1))));
    assert_eq!(elected, ms(3218) + Duration::from_micros(750));

    lan.run_to(ms(40_500));
    lan.crash(0);
    lan.run_to(secs(60));

    let expected = last_heard_before(elected, secs(1), ms(40_500))
        + master_down(secs(1), v3_skew(100, secs(1)));
    assert_eq!(expected, ms(43_829) + Duration::from_micros(125));
    assert_eq!(
        lan.transitions(1).last(),
        Some(&(expected, State::Master, Reason::MasterDown))
    );
    assert_eq!(lan.holders(VIP), vec![1]);
}

#[test]
fn v2_skew_is_not_scaled_by_the_interval_but_v3_skew_is() {
    for (master, backup, skew) in [
        (v2(5, 200), v2(6, 100), v2_skew(100)),
        (v3(5, 200), v3(6, 100), v3_skew(100, secs(2))),
    ] {
        let mut lan = Lan::new(1);
        let elected = settled_pair(
            &mut lan,
            with_interval(master, secs(2)),
            with_interval(backup, secs(2)),
        );
        lan.run_to(secs(41));
        lan.crash(0);
        lan.run_to(secs(70));

        let expected = last_heard_before(elected, secs(2), secs(41)) + master_down(secs(2), skew);
        assert_eq!(lan.last_entered(1, State::Master), Some(expected));
    }
    // The two differ: 156/256 s against 2 * 156/256 s.
    assert_eq!(v2_skew(100), ms(609) + Duration::from_micros(375));
    assert_eq!(v3_skew(100, secs(2)), ms(1218) + Duration::from_micros(750));
}

#[test]
fn v3_backup_learns_the_masters_interval() {
    let mut lan = Lan::new(1);
    // The master advertises every 500 ms; the backup is configured with 1 s.
    let elected = settled_pair(&mut lan, with_interval(v3(5, 200), ms(500)), v3(6, 100));
    lan.run_to(secs(40));
    lan.crash(0);
    lan.run_to(secs(60));

    let learned = master_down(ms(500), v3_skew(100, ms(500)));
    let expected = last_heard_before(elected, ms(500), secs(40)) + learned;
    assert_eq!(lan.last_entered(1, State::Master), Some(expected));
    // With its own 1 s it would have waited 3.609375 s instead of 1.8046875 s.
    assert_eq!(
        learned,
        ms(1804) + Duration::from_micros(687) + Duration::from_nanos(500)
    );
}

#[test]
fn priority_zero_hands_over_after_skew_time() {
    for (master, backup, interval, skew) in [
        (v3(5, 200), v3(6, 100), secs(1), v3_skew(100, secs(1))),
        (v3(5, 200), v3(6, 100), secs(3), v3_skew(100, secs(3))),
        (v2(5, 200), v2(6, 100), secs(3), v2_skew(100)),
    ] {
        let mut lan = Lan::new(1);
        settled_pair(
            &mut lan,
            with_interval(master, interval),
            with_interval(backup, interval),
        );
        lan.run_to(ms(40_500));
        lan.shutdown(0);
        // The stopping master gave the VIP up at once.
        assert_eq!(lan.holders(VIP), Vec::<usize>::new());
        lan.run_to(secs(60));

        let expected = ms(40_500) + DEFAULT_LATENCY + skew;
        assert_eq!(
            lan.transitions(1).last(),
            Some(&(expected, State::Master, Reason::MasterStopped))
        );
        assert_eq!(
            lan.transitions(0).last(),
            Some(&(ms(40_500), State::Initialize, Reason::Shutdown))
        );
        assert_eq!(lan.holders(VIP), vec![1]);
    }
}

#[test]
fn crashed_master_restarted_ends_with_exactly_one_vip_holder() {
    let mut lan = Lan::new(1);
    settled_pair(&mut lan, v3(5, 200), v3(6, 100));
    lan.run_to(ms(40_500));
    lan.crash(0);
    lan.run_to(secs(50));
    assert_eq!(lan.holders(VIP), vec![1]);

    lan.restart(0);
    lan.run_to(secs(70));
    // The restarted higher-priority router preempts after its own Master_Down_Interval.
    let preempted = secs(50) + master_down(secs(1), v3_skew(200, secs(1)));
    assert_eq!(lan.last_entered(0, State::Master), Some(preempted));
    assert_eq!(
        lan.last_entered(1, State::Backup),
        Some(preempted + DEFAULT_LATENCY)
    );
    assert_eq!(lan.holders(VIP), vec![0]);
    assert_eq!(lan.masters(INSTANCE), vec![0]);
}

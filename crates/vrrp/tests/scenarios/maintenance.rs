//! Operator maintenance (`baton instance step-down` / `resume`): a stepped-down master says
//! goodbye with priority 0 (RFC 5798 §6.4.3) and then never takes over, whatever the timers
//! and adverts say, until it is resumed.

use std::time::Duration;

use baton_vrrp::{Priority, Reason, Router, State};

use crate::sim::{DEFAULT_LATENCY, Lan};
use crate::{INSTANCE, VIP, lan_address, master_down, ms, secs, v3, v3_skew};

/// Master .5 (priority 200) and backup .6 (priority 100), settled; .5 steps down at 30.5 s.
/// Returns the LAN and the instant the backup took over.
fn stepped_down_master() -> (Lan, Duration) {
    let mut lan = Lan::new(1);
    let master = lan.add(v3(5, 200));
    let backup = lan.add(v3(6, 100));
    lan.start_all();
    lan.run_to(secs(30));
    assert_eq!(lan.masters(INSTANCE), vec![master]);

    lan.run_to(ms(30_500));
    lan.set_maintenance(master, INSTANCE, true);
    assert_eq!(lan.state(master, INSTANCE), State::Backup);
    assert!(lan.holders(VIP).is_empty(), "VIPs removed at once");
    lan.run_to(secs(40));
    // The priority-0 advert arrives after the latency; the backup waits Skew_Time only.
    let takeover = ms(30_500) + DEFAULT_LATENCY + v3_skew(100, secs(1));
    assert_eq!(takeover, ms(31_110) + Duration::from_micros(375));
    assert_eq!(
        lan.transitions(backup).last(),
        Some(&(takeover, State::Master, Reason::MasterStopped))
    );
    assert_eq!(
        lan.transitions(master).last(),
        Some(&(ms(30_500), State::Backup, Reason::Maintenance))
    );
    assert_eq!(lan.holders(VIP), vec![backup]);
    (lan, takeover)
}

#[test]
fn step_down_hands_over_after_skew_time() {
    let (lan, _) = stepped_down_master();
    let stepped = lan.router(0).find(INSTANCE).expect("exists");
    let instance = lan.router(0).instance(stepped).expect("exists");
    assert!(instance.maintenance());
    assert_eq!(instance.stats().priority_zero_sent, 1);
}

#[test]
fn a_stepped_down_router_never_takes_over() {
    let (mut lan, _) = stepped_down_master();
    // It would preempt the lower-priority master, but it is stepped down.
    lan.run_to(secs(300));
    assert_eq!(lan.masters(INSTANCE), vec![1]);
    assert_eq!(
        lan.transitions(0).last(),
        Some(&(ms(30_500), State::Backup, Reason::Maintenance))
    );
    // Not even when the master dies.
    lan.crash(1);
    lan.run_to(secs(600));
    assert!(lan.masters(INSTANCE).is_empty());
    assert_eq!(lan.state(0, INSTANCE), State::Backup);
    assert!(lan.holders(VIP).is_empty());
    let id = lan.router(0).find(INSTANCE).expect("exists");
    assert_eq!(
        lan.router(0).instance(id).and_then(|i| i.master()),
        None,
        "the dead master is forgotten"
    );
}

#[test]
fn resume_preempts_back_after_master_down_interval() {
    let (mut lan, _) = stepped_down_master();
    lan.run_to(secs(60));
    lan.set_maintenance(0, INSTANCE, false);
    lan.run_to(secs(120));
    // As after Startup: the lower-priority adverts are discarded, so Master_Down_Timer fires.
    let back = secs(60) + master_down(secs(1), v3_skew(200, secs(1)));
    assert_eq!(back, ms(63_218) + Duration::from_micros(750));
    assert_eq!(
        lan.transitions(0).last(),
        Some(&(back, State::Master, Reason::MasterDown))
    );
    assert_eq!(
        lan.transitions(1).last(),
        Some(&(
            back + DEFAULT_LATENCY,
            State::Backup,
            Reason::PreferredMaster {
                from: lan_address(5),
                priority: Priority::new(200)
            }
        ))
    );
    assert_eq!(lan.holders(VIP), vec![0]);
}

#[test]
fn resume_without_preempt_leaves_the_new_master_alone() {
    let mut lan = Lan::new(1);
    let mut high = v3(5, 200);
    high.preempt = false;
    lan.add(high);
    lan.add(v3(6, 100));
    lan.start_all();
    lan.run_to(secs(30));
    lan.set_maintenance(0, INSTANCE, true);
    lan.run_to(secs(40));
    lan.set_maintenance(0, INSTANCE, false);
    lan.run_to(secs(300));
    assert_eq!(lan.masters(INSTANCE), vec![1]);
}

#[test]
fn a_stepped_down_address_owner_stays_backup() {
    let mut lan = Lan::new(1);
    let owner = lan.add(v3(5, 255));
    let backup = lan.add(v3(6, 100));
    lan.start_all();
    lan.run_to(secs(10));
    assert_eq!(lan.masters(INSTANCE), vec![owner]);
    lan.set_maintenance(owner, INSTANCE, true);
    lan.run_to(secs(60));
    assert_eq!(lan.masters(INSTANCE), vec![backup]);

    // Resuming makes the owner master at once (RFC 5798 §6.4.1), no timer to wait for.
    lan.set_maintenance(owner, INSTANCE, false);
    assert_eq!(
        lan.transitions(owner).last(),
        Some(&(secs(60), State::Master, Reason::AddressOwner))
    );
}

#[test]
fn stepped_down_before_startup_never_becomes_master() {
    let mut lan = Lan::new(1);
    let alone = lan.add(v3(5, 200));
    let id = lan.router(alone).find(INSTANCE).expect("exists");
    // Stepped down before start: alone on the LAN, it still waits as Backup.
    lan.set_maintenance(alone, INSTANCE, true);
    lan.start(alone);
    lan.run_to(secs(60));
    assert!(lan.masters(INSTANCE).is_empty());
    assert!(
        lan.router(alone)
            .instance(id)
            .expect("exists")
            .maintenance()
    );
}

#[test]
fn a_reload_that_changes_the_instance_keeps_it_stepped_down() {
    let t0 = std::time::Instant::now();
    let mut router = Router::new(vec![v3(5, 200)], Vec::new()).expect("valid");
    router.start(t0);
    let id = router.find(INSTANCE).expect("exists");
    assert!(router.set_maintenance(t0, id, true));
    assert!(!router.set_maintenance(t0, baton_vrrp::InstanceId(7), true));
    router
        .reconfigure(vec![v3(5, 150)], Vec::new())
        .expect("valid");
    router.start(t0);
    let instance = router.instance(id).expect("exists");
    assert_eq!(instance.state(), State::Backup);
    assert!(
        instance.maintenance(),
        "the new instance stays stepped down"
    );
    while let Some(at) = router.poll_timeout().filter(|&at| at < t0 + secs(60)) {
        router.handle_timeout(at);
    }
    assert_eq!(router.instance(id).map(|i| i.state()), Some(State::Backup));
}

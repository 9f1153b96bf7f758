//! Reconfiguration (SIGHUP): unchanged instances keep state; changed ones restart.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use baton_vrrp::{Router, State, Vrid};

use crate::{secs, v3};

fn second_instance(priority: u8) -> baton_vrrp::InstanceConfig {
    let mut config = v3(5, priority);
    config.name = "VI_2".into();
    config.vrid = Vrid::new(2).expect("non-zero");
    config.virtual_addresses = vec![IpAddr::from([10, 0, 3, 101])];
    config
}

fn drain(router: &mut Router) -> usize {
    let mut outputs = 0;
    while router.poll_transmit().is_some() {
        outputs += 1;
    }
    while router.poll_action().is_some() {
        outputs += 1;
    }
    while router.poll_event().is_some() {
        outputs += 1;
    }
    outputs
}

#[test]
fn unchanged_instances_keep_state_and_changed_ones_restart() {
    let t0 = Instant::now();
    let mut router =
        Router::new(vec![v3(5, 150), second_instance(150)], Vec::new()).expect("valid");
    router.start(t0);
    let elected = t0 + secs(10);
    let mut now = t0;
    while let Some(at) = router.poll_timeout().filter(|&at| at <= elected) {
        now = at;
        router.handle_timeout(now);
        drain(&mut router);
    }
    let kept = router.find("VI_1").expect("exists");
    let changed = router.find("VI_2").expect("exists");
    assert_eq!(
        router.instance(kept).map(|i| i.state()),
        Some(State::Master)
    );
    let sent_before = router.instance(kept).expect("exists").stats().adverts_sent;
    let next_advert = router.poll_timeout().expect("adverts scheduled");

    router.shutdown_instance(now, changed);
    assert!(drain(&mut router) > 0, "the changed instance says goodbye");
    router
        .reconfigure(vec![v3(5, 150), second_instance(120)], Vec::new())
        .expect("valid");
    router.start(now);

    let kept_instance = router.instance(kept).expect("exists");
    assert_eq!(
        kept_instance.state(),
        State::Master,
        "unchanged: still master"
    );
    assert_eq!(
        kept_instance.stats().adverts_sent,
        sent_before,
        "and nothing re-sent"
    );
    assert_eq!(
        kept_instance.stats().transitions,
        2,
        "Backup then Master, nothing more"
    );
    let restarted = router
        .instance(router.find("VI_2").expect("exists"))
        .expect("exists");
    assert_eq!(restarted.state(), State::Backup, "changed: started afresh");
    assert_eq!(restarted.effective_priority().get(), 120);
    // The kept instance's timer is untouched.
    assert!(
        router
            .poll_timeout()
            .is_some_and(|at| at <= next_advert + Duration::from_millis(1))
    );
}

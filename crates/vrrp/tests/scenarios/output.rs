//! `has_output`: how a driver tells an input that only moved the timers (a backup hearing
//! its master) from one that left packets, address changes or events to carry out.

use std::time::Instant;

use baton_vrrp::{Instance, Router, State};

use crate::{advert, lan_address, secs, v3};

fn drain(instance: &mut Instance) {
    while instance.poll_transmit().is_some() {}
    while instance.poll_action().is_some() {}
    while instance.poll_event().is_some() {}
}

#[test]
fn a_backup_hearing_its_master_has_no_output_and_a_master_stepping_down_has() {
    let now = Instant::now();
    let mut backup = Instance::new(v3(5, 100)).expect("valid");
    backup.start(now);
    drain(&mut backup);
    assert!(!backup.has_output(), "drained");
    for n in 1..=3 {
        backup
            .handle_advert(now + secs(n), lan_address(6), 255, &advert(150))
            .expect("accepted");
        assert_eq!(backup.state(), State::Backup);
        assert!(
            !backup.has_output(),
            "advert {n} only pushed the timer back"
        );
    }

    let mut master = Instance::new(v3(5, 100)).expect("valid");
    master.start(now);
    master.handle_timeout(now + secs(10));
    assert_eq!(master.state(), State::Master);
    assert!(master.has_output(), "the takeover's advert and addresses");
    drain(&mut master);
    assert!(!master.has_output());
    master
        .handle_advert(now + secs(11), lan_address(6), 255, &advert(150))
        .expect("accepted");
    assert_eq!(master.state(), State::Backup);
    assert!(master.has_output(), "the addresses to remove and the event");
}

#[test]
fn the_router_has_output_while_any_instance_has() {
    let now = Instant::now();
    let mut router = Router::new(vec![v3(5, 100)], Vec::new()).expect("valid");
    router.start(now);
    while router.poll_transmit().is_some() {}
    while router.poll_action().is_some() {}
    while router.poll_event().is_some() {}
    assert!(!router.has_output());
    router.handle_timeout(now + secs(10));
    assert!(router.has_output(), "master: an advert to send");
    while router.poll_transmit().is_some() {}
    while router.poll_action().is_some() {}
    assert!(router.has_output(), "the state change is still to report");
    while router.poll_event().is_some() {}
    assert!(!router.has_output());
}

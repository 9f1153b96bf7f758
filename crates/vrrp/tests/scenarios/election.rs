//! Who becomes master when routers start together (RFC 5798 §6.4.1, §6.4.2, §6.4.3).

use baton_vrrp::{Reason, State, VipAction};

use crate::sim::{Lan, What};
use crate::{INSTANCE, VIP, lan_address, master_down, ms, secs, v3, v3_skew};

#[test]
fn highest_priority_wins_at_its_master_down_interval() {
    let mut lan = Lan::new(1);
    let a = lan.add(v3(5, 100));
    let b = lan.add(v3(6, 150));
    let c = lan.add(v3(7, 120));
    lan.start_all();
    lan.run_to(secs(30));

    assert_eq!(lan.masters(INSTANCE), vec![b]);
    assert_eq!(lan.holders(VIP), vec![b]);
    // Everyone starts in Backup; the highest priority has the shortest Skew_Time, so its
    // Master_Down_Timer fires first: 3 s + 106/256 s.
    let expected = master_down(secs(1), v3_skew(150, secs(1)));
    assert_eq!(
        expected,
        ms(3414) + std::time::Duration::from_micros(62) + std::time::Duration::from_nanos(500)
    );
    assert_eq!(
        lan.transitions(b),
        vec![
            (secs(0), State::Backup, Reason::Startup),
            (expected, State::Master, Reason::MasterDown),
        ]
    );
    // The others never left Backup and know who the master is.
    for node in [a, c] {
        assert_eq!(
            lan.transitions(node),
            vec![(secs(0), State::Backup, Reason::Startup)]
        );
        let instance = lan.router(node).instances().next().expect("one instance").1;
        assert_eq!(instance.master(), Some(lan_address(6)));
    }
}

#[test]
fn equal_priorities_elect_the_higher_primary_address() {
    let mut lan = Lan::new(1);
    let low = lan.add(v3(5, 100));
    let high = lan.add(v3(6, 100));
    lan.set_latency(low, high, ms(5));
    lan.start_all();
    lan.run_to(secs(30));

    // Same priority, same timers: both become master at once, then each hears the other.
    let both_fire = master_down(secs(1), v3_skew(100, secs(1)));
    let heard = both_fire + ms(5);
    assert_eq!(
        lan.transitions(low),
        vec![
            (secs(0), State::Backup, Reason::Startup),
            (both_fire, State::Master, Reason::MasterDown),
            (
                heard,
                State::Backup,
                Reason::PreferredMaster {
                    from: lan_address(6),
                    priority: baton_vrrp::Priority::new(100)
                }
            ),
        ]
    );
    assert_eq!(
        lan.transitions(high),
        vec![
            (secs(0), State::Backup, Reason::Startup),
            (both_fire, State::Master, Reason::MasterDown),
        ]
    );
    assert_eq!(lan.masters(INSTANCE), vec![high]);
    assert_eq!(lan.holders(VIP), vec![high]);
    // The winner answered the loser's advert at once and re-announced the VIP.
    let reannounced = lan
        .log()
        .iter()
        .any(|r| r.node == high && r.at == heard && matches!(r.what, What::Announce { .. }));
    assert!(
        reannounced,
        "winner re-announces when it hears the other master"
    );
}

#[test]
fn address_owner_is_master_at_once_and_keeps_the_vip() {
    let mut lan = Lan::new(1);
    let owner = lan.add(v3(5, 255));
    let backup = lan.add(v3(6, 254));
    lan.start_all();
    lan.run_to(secs(60));

    assert_eq!(
        lan.transitions(owner),
        vec![(secs(0), State::Master, Reason::AddressOwner)]
    );
    assert_eq!(
        lan.transitions(backup),
        vec![(secs(0), State::Backup, Reason::Startup)]
    );
    assert_eq!(lan.holders(VIP), vec![owner]);
}

#[test]
fn owner_accepts_traffic_for_its_addresses_and_others_follow_accept_mode() {
    let mut owner = baton_vrrp::Instance::new(v3(5, 255)).expect("valid");
    let now = std::time::Instant::now();
    owner.start(now);
    let add =
        std::iter::from_fn(|| owner.poll_action()).find(|a| matches!(a, VipAction::Add { .. }));
    assert_eq!(
        add,
        Some(VipAction::Add {
            addresses: vec![VIP],
            accept: true
        })
    );

    for accept_mode in [false, true] {
        let mut config = v3(6, 100);
        config.accept_mode = accept_mode;
        let mut backup = baton_vrrp::Instance::new(config).expect("valid");
        backup.start(now);
        let deadline = backup.poll_timeout().expect("master down timer");
        backup.handle_timeout(deadline);
        assert_eq!(backup.state(), State::Master);
        let add = std::iter::from_fn(|| backup.poll_action())
            .find(|a| matches!(a, VipAction::Add { .. }));
        assert_eq!(
            add,
            Some(VipAction::Add {
                addresses: vec![VIP],
                accept: accept_mode
            })
        );
    }
}

//! Sync groups: the instances of a group are MASTER, BACKUP and FAULT together.

use std::net::IpAddr;

use baton_vrrp::{
    InstanceConfig, Priority, Reason, State, SyncGroupConfig, TrackConfig, Version, Vrid,
};

use crate::sim::{DEFAULT_LATENCY, Lan};
use crate::{master_down, ms, secs, v3_skew};

const EXTERNAL: &str = "VI_EXT";
const INTERNAL: &str = "VI_INT";

fn instance(
    name: &str,
    interface: &str,
    vrid: u8,
    net: u8,
    last: u8,
    priority: u8,
) -> InstanceConfig {
    let vrid = Vrid::new(vrid).expect("non-zero");
    let address = IpAddr::from([10, 0, net, last]);
    let vip = IpAddr::from([10, 0, net, 100]);
    let mut config = InstanceConfig::new(name, interface, vrid, Version::V3, address, vec![vip]);
    config.priority = Priority::new(priority);
    config
}

/// A load balancer with an external and an internal VIP that must move together.
fn balancer(lan: &mut Lan, last: u8, external: u8, internal: InstanceConfig) -> usize {
    let group = SyncGroupConfig {
        name: "G".into(),
        members: vec![EXTERNAL.into(), INTERNAL.into()],
    };
    lan.add_node(
        vec![instance(EXTERNAL, "eth0", 1, 3, last, external), internal],
        vec![group],
    )
}

#[test]
fn a_fault_in_one_member_takes_the_whole_group_to_fault() {
    let mut lan = Lan::new(1);
    let mut internal = instance(INTERNAL, "eth1", 2, 4, 5, 200);
    internal.tracks = vec![TrackConfig {
        weight: 0,
        initially_up: true,
    }];
    let a = balancer(&mut lan, 5, 200, internal);
    let b = balancer(&mut lan, 6, 100, instance(INTERNAL, "eth1", 2, 4, 6, 100));
    lan.start_all();
    lan.run_to(ms(10_500));
    assert_eq!(lan.masters(EXTERNAL), vec![a]);
    assert_eq!(lan.masters(INTERNAL), vec![a]);

    lan.set_track(a, INTERNAL, 0, false);
    assert_eq!(lan.state(a, EXTERNAL), State::Fault);
    assert_eq!(lan.state(a, INTERNAL), State::Fault);
    lan.run_to(secs(20));
    // Both sent priority 0, so both of B's instances took over after Skew_Time.
    let takeover = ms(10_500) + DEFAULT_LATENCY + v3_skew(100, secs(1));
    assert_eq!(lan.last_entered(b, State::Master), Some(takeover));
    assert_eq!(lan.masters(EXTERNAL), vec![b]);
    assert_eq!(lan.masters(INTERNAL), vec![b]);

    lan.set_track(a, INTERNAL, 0, true);
    assert_eq!(lan.state(a, EXTERNAL), State::Backup);
    assert_eq!(lan.state(a, INTERNAL), State::Backup);
    lan.run_to(secs(40));
    assert_eq!(lan.masters(EXTERNAL), vec![a]);
    assert_eq!(lan.masters(INTERNAL), vec![a]);
}

#[test]
fn the_first_member_to_become_master_brings_the_others() {
    let mut lan = Lan::new(1);
    let a = balancer(&mut lan, 5, 200, instance(INTERNAL, "eth1", 2, 4, 5, 200));
    // B's internal instance has the shorter Master_Down_Interval.
    let b = balancer(&mut lan, 6, 100, instance(INTERNAL, "eth1", 2, 4, 6, 150));
    lan.start_all();
    lan.run_to(ms(10_500));
    let elected = lan.last_entered(a, State::Master).expect("elected");
    lan.crash(a);
    lan.run_to(secs(30));

    let internal_fires =
        elected + secs(7) + DEFAULT_LATENCY + master_down(secs(1), v3_skew(150, secs(1)));
    let b_external = lan.router(b).find(EXTERNAL).expect("exists");
    let transitions = lan.transitions(b);
    assert!(transitions.contains(&(internal_fires, State::Master, Reason::MasterDown)));
    assert!(transitions.contains(&(internal_fires, State::Master, Reason::SyncGroup)));
    assert_eq!(
        lan.router(b).instance(b_external).map(|i| i.state()),
        Some(State::Master)
    );
    assert_eq!(lan.masters(EXTERNAL), vec![b]);
    assert_eq!(lan.masters(INTERNAL), vec![b]);
}

#[test]
fn a_member_outvoted_by_a_peer_brings_the_group_back_to_backup() {
    let mut lan = Lan::new(1);
    let b = balancer(&mut lan, 6, 100, instance(INTERNAL, "eth1", 2, 4, 6, 100));
    lan.start(b);
    lan.run_to(secs(10));
    assert_eq!(lan.masters(EXTERNAL), vec![b]);
    // A joins; its higher priorities preempt both instances, and B follows as a group.
    let a = balancer(&mut lan, 5, 200, instance(INTERNAL, "eth1", 2, 4, 5, 200));
    lan.start(a);
    lan.run_to(secs(30));
    assert_eq!(lan.masters(EXTERNAL), vec![a]);
    assert_eq!(lan.masters(INTERNAL), vec![a]);
    let stepped_down = lan
        .transitions(b)
        .into_iter()
        .filter(|(_, to, _)| *to == State::Backup)
        .count();
    assert_eq!(stepped_down, 4, "two at startup, two when A preempted");
}

#[test]
fn stepping_down_one_member_steps_the_group_down() {
    let mut lan = Lan::new(1);
    let a = balancer(&mut lan, 5, 200, instance(INTERNAL, "eth1", 2, 4, 5, 200));
    let b = balancer(&mut lan, 6, 100, instance(INTERNAL, "eth1", 2, 4, 6, 100));
    lan.start_all();
    lan.run_to(ms(10_500));
    assert_eq!(lan.masters(INTERNAL), vec![a]);

    lan.set_maintenance(a, EXTERNAL, true);
    let internal = lan.router(a).find(INTERNAL).expect("exists");
    assert!(
        lan.router(a)
            .instance(internal)
            .expect("exists")
            .maintenance()
    );
    lan.run_to(secs(60));
    // Both members said goodbye with priority 0, so B's took over after Skew_Time.
    let takeover = ms(10_500) + DEFAULT_LATENCY + v3_skew(100, secs(1));
    assert_eq!(lan.last_entered(b, State::Master), Some(takeover));
    assert_eq!(lan.masters(EXTERNAL), vec![b]);
    assert_eq!(lan.masters(INTERNAL), vec![b]);

    // Resuming either member resumes the group; A preempts back with both.
    lan.set_maintenance(a, INTERNAL, false);
    lan.run_to(secs(120));
    assert_eq!(lan.masters(EXTERNAL), vec![a]);
    assert_eq!(lan.masters(INTERNAL), vec![a]);
}

use std::net::SocketAddr;

use super::*;
use crate::config::ServerConfig;

fn address(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn config(ports: &[u16]) -> ProxyConfig {
    ProxyConfig::new(
        ports
            .iter()
            .map(|&p| ServerConfig::new(address(p)))
            .collect(),
    )
}

fn set(n: u16) -> ServerSet {
    let ports: Vec<u16> = (8000..8000 + n).collect();
    ServerSet::new(&config(&ports), None)
}

#[tokio::test]
async fn empty_set_has_no_servers() {
    assert_eq!(set(0).pick(&[], None), Err(Unavailable::NoServers));
}

#[tokio::test]
async fn tried_servers_are_skipped() {
    let upstreams = set(2);
    for _ in 0..20 {
        assert_eq!(upstreams.pick(&[0], None), Ok(1));
    }
    assert!(matches!(
        upstreams.pick(&[0, 1], None),
        Err(Unavailable::AllDown(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn ejected_and_checked_down_servers_are_not_picked() {
    let upstreams = set(3);
    for _ in 0..3 {
        upstreams.failed(0);
    }
    upstreams.server(1).set_check_state(CheckState::Down);
    for _ in 0..20 {
        assert_eq!(upstreams.pick(&[], None), Ok(2));
    }
    let status = upstreams.status();
    assert!(!status[0].up && status[0].ejected && status[0].check == CheckState::Unchecked);
    assert!(!status[1].up && !status[1].ejected && status[1].check == CheckState::Down);
    assert!(status[2].up);
    assert_eq!(upstreams.health(), ServersUp { up: 1, total: 3 });

    upstreams.server(2).set_check_state(CheckState::Down);
    let Err(Unavailable::AllDown(counts)) = upstreams.pick(&[], None) else {
        panic!("all down");
    };
    assert_eq!(
        counts,
        DownCounts {
            total: 3,
            checked: 2,
            ejected: 1,
            ..DownCounts::default()
        }
    );
    assert_eq!(upstreams.health(), ServersUp { up: 0, total: 3 });
}

#[tokio::test]
async fn weight_zero_is_not_up() {
    let mut config = config(&[8000, 8001]);
    config.servers[0].weight = 0;
    let upstreams = ServerSet::new(&config, None);
    assert!(!upstreams.status()[0].up);
    assert_eq!(upstreams.health(), ServersUp { up: 1, total: 2 });
    for _ in 0..20 {
        assert_eq!(upstreams.pick(&[], None), Ok(1));
    }
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_the_state_of_servers_it_keeps() {
    let before = ServerSet::new(&config(&[8000, 8001, 8002]), None);
    let in_flight = before.begin(1);
    for _ in 0..3 {
        before.failed(1);
    }
    before.server(2).set_check_state(CheckState::Down);

    let after = ServerSet::new(&config(&[8002, 8003, 8001]), Some(&before));
    assert!(Arc::ptr_eq(after.server(0), before.server(2)));
    assert!(Arc::ptr_eq(after.server(2), before.server(1)));
    let status = after.status();
    assert_eq!(status[0].check, CheckState::Down);
    assert_eq!(
        status[1].check,
        CheckState::Unchecked,
        "a new server starts unchecked"
    );
    assert!(status[1].up);
    assert!(status[2].ejected);
    assert_eq!(status[2].active, 1, "the in-flight count carries over");
    drop(in_flight);
    assert_eq!(after.status()[2].active, 0);
}

#[tokio::test]
async fn balancer_ids_follow_addresses_not_positions() {
    let a = ServerSet::new(&config(&[8000, 8001, 8002]), None);
    let b = ServerSet::new(&config(&[8002, 8000]), Some(&a));
    assert_eq!(a.members[0].id, b.members[1].id);
    assert_eq!(a.members[2].id, b.members[0].id);
    assert_ne!(a.members[0].id, a.members[1].id);
    // The same address twice still gets two distinct ids, and each its own state.
    let twice = ServerSet::new(&config(&[8000, 8000]), None);
    assert_ne!(twice.members[0].id, twice.members[1].id);
    assert!(!Arc::ptr_eq(twice.server(0), twice.server(1)));
}

#[tokio::test(start_paused = true)]
async fn slow_start_ramps_the_weight_of_a_server_that_came_back() {
    let mut config = config(&[8000, 8001]);
    config.servers[0].weight = 4;
    config.servers[1].weight = 4;
    config.slow_start = Duration::from_secs(10);
    let upstreams = ServerSet::new(&config, None);
    let weight_of_0 = || upstreams.candidates(&[]).collect::<Vec<_>>()[0].weight;
    assert_eq!(weight_of_0(), 40, "never went away: full weight");

    upstreams.server(0).set_check_state(CheckState::Down);
    assert_eq!(upstreams.candidates(&[]).collect::<Vec<_>>().len(), 1);
    tokio::time::advance(Duration::from_secs(30)).await;
    upstreams.server(0).set_check_state(CheckState::Up);
    let mut ramp = vec![weight_of_0()];
    for _ in 0..10 {
        tokio::time::advance(Duration::from_secs(1)).await;
        ramp.push(weight_of_0());
    }
    assert_eq!(ramp, [4, 7, 11, 14, 18, 22, 25, 29, 32, 36, 40]);
    assert_eq!(
        upstreams.candidates(&[]).collect::<Vec<_>>()[1].weight,
        40,
        "the other one is untouched"
    );
}

#[tokio::test(start_paused = true)]
async fn slow_start_after_an_ejection_ends() {
    let mut config = config(&[8000]);
    config.slow_start = Duration::from_secs(10);
    let upstreams = ServerSet::new(&config, None);
    for _ in 0..3 {
        upstreams.failed(0);
    }
    assert!(upstreams.candidates(&[]).collect::<Vec<_>>().is_empty());
    tokio::time::advance(Duration::from_millis(1000)).await;
    assert_eq!(
        upstreams.candidates(&[]).collect::<Vec<_>>()[0].weight,
        1,
        "a tenth of 10"
    );
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(upstreams.candidates(&[]).collect::<Vec<_>>()[0].weight, 5);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(upstreams.candidates(&[]).collect::<Vec<_>>()[0].weight, 10);
}

/// The pools belong to the servers: a reload keeps a server's idle connections, also
/// when it changes how connections are made.
#[tokio::test]
async fn a_reload_keeps_the_idle_connections_of_servers_it_keeps() {
    let a = ServerSet::new(&config(&[8000]), None);
    let (connection, _server) = crate::test_support::connected_pair().await;
    a.server(0).pool.put(connection, 8);
    let mut changed = config(&[8000, 8001]);
    changed.limits.connect_timeout = Duration::from_millis(10);
    let b = ServerSet::new(&changed, Some(&a));
    assert_eq!(b.pool_settings().connect_timeout, Duration::from_millis(10));
    assert_eq!(b.server(0).pool.len(), 1);
    assert_eq!(b.server(1).pool.len(), 0);
}

//! Properties every algorithm must have: spread, weights, membership.
//!
//! Run with `--nocapture` to see the measured figures.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use super::hash::{SplitMix64, below};
use super::least_conn::LeastConn;
use super::maglev::Maglev;
use super::p2c::P2c;
use super::round_robin::SmoothRoundRobin;
use super::{Algorithm, Balancer, Candidate, HashKey};

const PICKS: u32 = 120_000;

fn servers(weights: &[u32]) -> Vec<(usize, u32)> {
    // Ids that are not positions, to catch confusing the two.
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| (100 + 7 * i, w))
        .collect()
}

fn candidates(servers: &[(usize, u32)]) -> Vec<Candidate> {
    servers
        .iter()
        .map(|&(id, weight)| Candidate {
            id,
            weight,
            active: 0,
        })
        .collect()
}

/// Every algorithm, made deterministic.
fn all(servers: &[(usize, u32)]) -> Vec<(&'static str, Box<dyn Balancer>)> {
    vec![
        ("roundrobin", Box::new(SmoothRoundRobin::new())),
        ("leastconn", Box::new(LeastConn::new())),
        ("p2c", Box::new(P2c::with_seed(7))),
        ("maglev", Box::new(Maglev::new(servers))),
    ]
}

fn key(i: u32) -> HashKey<'static> {
    HashKey::ClientAddr(IpAddr::V4(Ipv4Addr::from(i.wrapping_mul(2_654_435_761))))
}

fn position(set: &[Candidate], id: usize) -> usize {
    set.iter()
        .position(|c| c.id == id)
        .expect("a candidate's id")
}

/// Picks with every request finished before the next arrives: all servers stay idle.
fn idle(balancer: &dyn Balancer, set: &[Candidate]) -> Vec<u32> {
    let mut counts = vec![0; set.len()];
    for i in 0..PICKS {
        let id = balancer.pick(set, Some(&key(i))).unwrap();
        counts[position(set, id)] += 1;
    }
    counts
}

/// Picks with 64 requests always in flight, a random one finishing before each new one.
fn loaded(balancer: &dyn Balancer, set: &[Candidate]) -> Vec<u32> {
    let mut set = set.to_vec();
    let rng = SplitMix64::new(11);
    let mut in_flight: Vec<usize> = Vec::new();
    let mut counts = vec![0; set.len()];
    for i in 0..PICKS {
        if in_flight.len() == 64 {
            let done = in_flight.swap_remove(below(rng.next_u64(), 64) as usize);
            set[done].active -= 1;
        }
        let at = position(&set, balancer.pick(&set, Some(&key(i))).unwrap());
        set[at].active += 1;
        in_flight.push(at);
        counts[at] += 1;
    }
    counts
}

fn cv(counts: &[u32]) -> f64 {
    let n = counts.len() as f64;
    let mean = counts.iter().map(|&c| f64::from(c)).sum::<f64>() / n;
    let variance = counts
        .iter()
        .map(|&c| (f64::from(c) - mean).powi(2))
        .sum::<f64>()
        / n;
    variance.sqrt() / mean
}

#[test]
fn equal_weights_spread_evenly() {
    let servers = servers(&[1; 10]);
    let set = candidates(&servers);
    // Multinomial noise alone gives a CV of about 0.009 for 120k picks over 10 servers.
    for (name, bound) in [
        ("roundrobin", 0.001),
        ("leastconn", 0.001),
        ("p2c", 0.03),
        ("maglev", 0.03),
    ] {
        let balancer = all(&servers)
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1;
        let idle_cv = cv(&idle(&*balancer, &set));
        let loaded_cv = cv(&loaded(&*balancer, &set));
        println!("{name:>10}: CV idle {idle_cv:.5}, loaded {loaded_cv:.5}");
        assert!(idle_cv < bound, "{name}: CV {idle_cv}");
        assert!(loaded_cv < bound.max(0.03), "{name}: CV {loaded_cv}");
    }
}

#[test]
fn unequal_weights_are_honoured() {
    let servers = servers(&[1, 2, 3]);
    let set = candidates(&servers);
    for (name, balancer) in all(&servers) {
        for (regime, counts) in [
            ("idle", idle(&*balancer, &set)),
            ("loaded", loaded(&*balancer, &set)),
        ] {
            let shares: Vec<f64> = counts
                .iter()
                .map(|&c| f64::from(c) / f64::from(PICKS))
                .collect();
            println!("{name:>10} {regime:>6}: shares {shares:.4?} (expected 0.1667, 0.3333, 0.5)");
            for (i, share) in shares.iter().enumerate() {
                let expected = (i + 1) as f64 / 6.0;
                assert!(
                    (share - expected).abs() < 0.015,
                    "{name} {regime}: {shares:?}"
                );
            }
        }
    }
}

#[test]
fn empty_and_single() {
    let servers = servers(&[1, 1, 1]);
    for (name, balancer) in all(&servers) {
        assert_eq!(balancer.pick(&[], None), None, "{name}");
        assert_eq!(balancer.pick(&[], Some(&key(1))), None, "{name}");
        let one = [Candidate {
            id: 107,
            weight: 3,
            active: 40,
        }];
        for i in 0..100 {
            assert_eq!(balancer.pick(&one, Some(&key(i))), Some(107), "{name}");
            assert_eq!(balancer.pick(&one, None), Some(107), "{name}");
        }
    }
}

/// Random candidate sets (subsets, unknown ids, zero weights, any load, any order): a pick
/// is always a candidate of positive weight, and `None` only when there is none.
#[test]
fn picks_are_always_eligible_candidates() {
    let rng = SplitMix64::new(5);
    let draw = |n: u64| below(rng.next_u64(), n);
    let servers = servers(&[1, 5, 2, 0, 8, 1, 1, 3, 13, 2, 1, 4]);
    let balancers: Vec<(&str, Box<dyn Balancer>)> = all(&servers)
        .into_iter()
        .chain(
            ["roundrobin", "leastconn", "random", "maglev hdr(x)"]
                .iter()
                .map(|s| (*s, s.parse::<Algorithm>().unwrap().build(&servers))),
        )
        .collect();
    let ids: Vec<usize> = servers.iter().map(|&(id, _)| id).chain(900..904).collect();
    for round in 0..20_000 {
        let mut set: Vec<Candidate> = ids
            .iter()
            .filter(|_| draw(3) != 0)
            .map(|&id| Candidate {
                id,
                weight: match draw(6) {
                    0 => 0,
                    1 => u32::MAX - draw(3) as u32,
                    _ => 1 + draw(20) as u32,
                },
                active: if draw(4) == 0 {
                    u32::MAX
                } else {
                    draw(50) as u32
                },
            })
            .collect();
        for i in (1..set.len()).rev() {
            set.swap(i, draw(i as u64 + 1) as usize);
        }
        let path = format!("/r/{}", draw(1000));
        let key = match draw(4) {
            0 => None,
            1 => Some(HashKey::Path(&path)),
            2 => Some(HashKey::Header(path.as_bytes())),
            _ => Some(key(round)),
        };
        let any_eligible = set.iter().any(|c| c.weight > 0);
        for (name, balancer) in &balancers {
            match balancer.pick(&set, key.as_ref()) {
                Some(id) => assert!(
                    set.iter().any(|c| c.id == id && c.weight > 0),
                    "{name} picked {id} from {set:?}"
                ),
                None => assert!(!any_eligible, "{name} picked nothing from {set:?}"),
            }
        }
    }
}

#[test]
fn balancers_are_shared_between_threads() {
    let servers = servers(&[1, 2, 3, 4]);
    let set = candidates(&servers);
    for (name, balancer) in all(&servers) {
        let balancer: &dyn Balancer = &*balancer;
        std::thread::scope(|s| {
            for t in 0..4 {
                let set = &set;
                s.spawn(move || {
                    for i in 0..10_000 {
                        let id = balancer.pick(set, Some(&key(t * 10_000 + i))).unwrap();
                        assert!(set.iter().any(|c| c.id == id), "{name}");
                    }
                });
            }
        });
    }
}

/// Prints the cost of a pick; no assertion, timings depend on the machine.
/// `cargo test -p baton-proxy --release balance::tests::pick_cost -- --ignored --nocapture`
#[test]
#[ignore = "timing, for humans"]
fn pick_cost() {
    for n in [2, 10, 100] {
        let servers: Vec<(usize, u32)> = (0..n).map(|id| (id, 1 + id as u32 % 4)).collect();
        let mut set = candidates(&servers);
        for (i, c) in set.iter_mut().enumerate() {
            c.active = (i % 7) as u32;
        }
        let mut degraded = set.clone();
        degraded.retain(|c| c.id % 2 == 0);
        for (name, balancer) in all(&servers) {
            for (label, set) in [("all", &set), ("half", &degraded)] {
                const ROUNDS: u32 = 1_000_000;
                let start = Instant::now();
                let mut sink = 0usize;
                for i in 0..ROUNDS {
                    sink ^= balancer.pick(set, Some(&key(i))).unwrap();
                }
                let ns = start.elapsed().as_nanos() as f64 / f64::from(ROUNDS);
                println!("{name:>10} n={n:<3} {label:>4}: {ns:7.1} ns/pick ({sink})");
            }
        }
    }
    let start = Instant::now();
    let servers: Vec<(usize, u32)> = (0..100).map(|id| (id, 1)).collect();
    let _ = Maglev::new(&servers);
    println!("maglev table for 100 servers: {:?}", start.elapsed());
}

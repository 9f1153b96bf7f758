//! The configuration's view of a virtual server onto the data plane's: a pure mapper, so
//! the nftables crate knows nothing of keepalived's keywords.

use std::net::IpAddr;
use std::time::Duration;

use baton_config::{
    Config, L4Protocol, LbAlgo, LbKind, ServiceMatch, VirtualAddress, VirtualServer, VrrpInstance,
};
use baton_l4::{Backend, Family, Forwarding, Match, Persistence, Protocol, Scheduler, Service};

use super::pool::Member;

/// `service` with `members` as its backends. `interface` is where a DR service's packets
/// arrive and leave ([`dr_interface`]).
pub(super) fn service(vs: &VirtualServer, members: &[Member], interface: Option<&str>) -> Service {
    let uthreshold = |address| {
        vs.real_servers
            .iter()
            .find(|rs| rs.address == address)
            .map_or(0, |rs| rs.uthreshold)
    };
    Service {
        name: vs.name.clone(),
        matches: vs.matches.iter().map(|m| matched(*m)).collect(),
        protocol: protocol(vs.protocol),
        family: match vs.family {
            baton_config::Family::Ipv4 => Family::Ipv4,
            baton_config::Family::Ipv6 => Family::Ipv6,
        },
        forwarding: match vs.lb_kind {
            LbKind::Nat => Forwarding::Nat { snat: vs.snat },
            LbKind::Dr => Forwarding::Dr {
                interface: interface.unwrap_or_default().to_owned(),
            },
        },
        scheduler: scheduler(vs.lb_algo),
        hash_port: vs.hash_port,
        persistence: vs.persistence.map(|p| Persistence {
            timeout: p.timeout,
            granularity: p.granularity,
        }),
        backends: members
            .iter()
            .map(|m| Backend {
                address: m.address,
                weight: m.weight,
                active_connections: 0,
                uthreshold: uthreshold(m.address),
            })
            .collect(),
        fallback: vs.sorry_server.as_ref().map(|s| s.address),
    }
}

/// The interface a DR service's packets come in on and go out of (one-armed, as LVS-DR
/// is set up): that of the VRRP instance holding the service's address, or of the
/// address's `dev`; or, for an address announced over BGP, its `[[anycast]]` section's
/// `interface`. `None`: neither holds it.
pub(in crate::daemon) fn dr_interface(config: &Config, vs: &VirtualServer) -> Option<String> {
    let Some((instance, address)) = holder(config, vs) else {
        return anycast_interface(config, vs);
    };
    Some(
        address
            .dev
            .clone()
            .unwrap_or_else(|| instance.interface.clone()),
    )
}

/// The `interface` of the `[[anycast]]` section whose prefixes hold `vs`'s address.
fn anycast_interface(config: &Config, vs: &VirtualServer) -> Option<String> {
    let address = service_address(vs)?;
    config
        .anycasts
        .iter()
        .filter(|a| a.prefixes.iter().any(|p| p.contains(address)))
        .find_map(|a| a.interface.clone())
}

/// The address a service matches (the first of a range); `None` for a fwmark service.
fn service_address(vs: &VirtualServer) -> Option<std::net::IpAddr> {
    vs.matches.iter().find_map(|m| match m {
        ServiceMatch::Address(address) => Some(address.ip()),
        ServiceMatch::Range { first, .. } => Some(*first),
        ServiceMatch::Fwmark(_) => None,
    })
}

/// The instance that holds `vs`'s address, and that address as the instance has it.
fn holder<'a>(
    config: &'a Config,
    vs: &VirtualServer,
) -> Option<(&'a VrrpInstance, &'a VirtualAddress)> {
    let address = service_address(vs)?;
    config.instances.iter().find_map(|instance| {
        instance
            .all_addresses()
            .find(|v| v.address == address)
            .map(|v| (instance, v))
    })
}

/// How long a stopping daemon keeps its DR tables after its VIPs went (`None`: no DR
/// service). Clients keep sending to this host's MAC until the new master's gratuitous
/// ARP, which follows our priority-0 advert by the backup's skew time, less than one
/// advert interval; DR keeps no state, so forwarding those frames meanwhile is exactly
/// what the new master would do with them, and the flows do not pause. Bounded, so a
/// slow advert interval cannot hold up a stop.
pub(super) fn dr_linger(config: &Config) -> Option<Duration> {
    config
        .virtual_servers
        .iter()
        .filter(|vs| vs.lb_kind == LbKind::Dr)
        .map(|vs| {
            holder(config, vs).map_or(Duration::ZERO, |(instance, _)| instance.advert_interval)
        })
        .max()
        .map(|advert| (advert + DR_LINGER_MARGIN).min(DR_LINGER_MAX))
}

/// Beyond the advert interval: the new master's transition and its gratuitous ARP.
const DR_LINGER_MARGIN: Duration = Duration::from_millis(200);
const DR_LINGER_MAX: Duration = Duration::from_secs(2);

/// keepalived's spelling of `lb_kind`, as `baton status` shows it.
pub(super) fn kind_name(kind: LbKind) -> &'static str {
    match kind {
        LbKind::Nat => "NAT",
        LbKind::Dr => "DR",
    }
}

fn matched(m: ServiceMatch) -> Match {
    match m {
        ServiceMatch::Address(address) => Match::Address(address),
        ServiceMatch::Range { first, last, port } => Match::Range { first, last, port },
        ServiceMatch::Fwmark(mark) => Match::Fwmark(mark),
    }
}

fn protocol(protocol: L4Protocol) -> Protocol {
    match protocol {
        L4Protocol::Tcp => Protocol::Tcp,
        L4Protocol::Udp => Protocol::Udp,
        L4Protocol::Sctp => Protocol::Sctp,
    }
}

fn scheduler(algo: LbAlgo) -> Scheduler {
    #[allow(clippy::wildcard_enum_match_arm)]
    match algo {
        LbAlgo::Rr => Scheduler::Rr,
        LbAlgo::Wrr => Scheduler::Wrr,
        LbAlgo::Lc => Scheduler::Lc,
        LbAlgo::Wlc => Scheduler::Wlc,
        LbAlgo::Sh => Scheduler::Sh,
        LbAlgo::Dh => Scheduler::Dh,
        LbAlgo::Mh => Scheduler::Mh,
        LbAlgo::Sed => Scheduler::Sed,
        LbAlgo::Nq => Scheduler::Nq,
        LbAlgo::Fo => Scheduler::Fo,
        LbAlgo::Ovf => Scheduler::Ovf,
        LbAlgo::Lblc => Scheduler::Lblc,
        LbAlgo::Lblcr => Scheduler::Lblcr,
        LbAlgo::Twos => Scheduler::Twos,
        // The model's algorithms are all above; a new one must be mapped before it runs.
        _ => Scheduler::Wlc,
    }
}

/// Whether `address` is one of the service's own (for `ha_suspend`).
pub(super) fn serves(vs: &VirtualServer, address: IpAddr) -> bool {
    vs.matches.iter().any(|m| match *m {
        ServiceMatch::Address(a) => a.ip() == address,
        ServiceMatch::Range { first, last, .. } => first <= address && address <= last,
        ServiceMatch::Fwmark(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(advert_int: &str, kind: &str) -> Config {
        let text = format!(
            "global_defs {{\n vrrp_version 3\n}}\n\
             vrrp_instance VI_1 {{\n state BACKUP\n interface eth0\n virtual_router_id 51\n \
             priority 100\n advert_int {advert_int}\n virtual_ipaddress {{\n  10.0.3.100/24\n }}\n}}\n\
             virtual_server 10.0.3.100 80 {{\n lb_kind {kind}\n protocol TCP\n \
             real_server 10.0.3.11 80 {{\n }}\n}}\n"
        );
        baton_config::parse_keepalived(&text, "keepalived.conf")
            .expect("valid")
            .config
    }

    #[test]
    fn dr_tables_outlast_the_vip_by_an_advert_interval_at_most_two_seconds() {
        assert_eq!(
            dr_linger(&config("0.2", "DR")),
            Some(Duration::from_millis(400))
        );
        assert_eq!(dr_linger(&config("5", "DR")), Some(Duration::from_secs(2)));
        // NAT flows lose their translation with the VIP anyway: nothing to keep.
        assert_eq!(dr_linger(&config("1", "NAT")), None);
    }

    #[test]
    fn a_dr_service_behind_bgp_forwards_out_of_its_anycast_interface() {
        let text = "[[virtual_server]]\nname = \"web\"\naddress = \"10.0.9.100:80\"\n\
                    protocol = \"TCP\"\nlb_kind = \"DR\"\nlb_algo = \"mh\"\n\
                    [[virtual_server.real_server]]\naddress = \"10.0.3.11:80\"\n\n\
                    [[anycast]]\nname = \"web\"\nprefixes = [\"10.0.9.0/24\"]\n";
        let parse = |extra: &str| {
            baton_config::parse_toml(&format!("{text}{extra}"), "b.toml")
                .expect("valid")
                .config
        };
        let without = parse("");
        assert_eq!(dr_interface(&without, &without.virtual_servers[0]), None);
        let with = parse("interface = \"eth1\"\n");
        assert_eq!(
            dr_interface(&with, &with.virtual_servers[0]).as_deref(),
            Some("eth1")
        );
        // Not announced over BGP and no instance holds it: no DR interface.
        let elsewhere = with.virtual_servers[0].clone();
        let mut other = with.clone();
        other.anycasts[0].prefixes =
            vec![baton_config::AnycastPrefix::parse("10.0.8.0/24").expect("prefix")];
        assert_eq!(dr_interface(&other, &elsewhere), None);
    }
}

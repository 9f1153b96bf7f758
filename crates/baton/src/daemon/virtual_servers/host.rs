//! What the host around the runtime says: whether it holds a service's address (for
//! `ha_suspend`) and whether it forwards (for NAT).

use baton_config::{Config, LbKind, VirtualServer};

use super::table;
use crate::status::Status;

/// NAT forwards the client's packets to the real servers: with forwarding off in this
/// network namespace the kernel drops them, and nothing else would say why.
pub(super) fn warn_without_forwarding(config: &Config) {
    for (family, sysctl) in [
        (baton_config::Family::Ipv4, "/proc/sys/net/ipv4/ip_forward"),
        (
            baton_config::Family::Ipv6,
            "/proc/sys/net/ipv6/conf/all/forwarding",
        ),
    ] {
        let nat = config
            .virtual_servers
            .iter()
            .find(|vs| vs.lb_kind == LbKind::Nat && vs.family == family);
        let Some(vs) = nat else {
            continue;
        };
        let on = std::fs::read_to_string(sysctl).is_ok_and(|value| value.trim() != "0");
        if !on {
            tracing::warn!(
                virtual_server = %vs.name,
                "lb_kind NAT needs forwarding, but {sysctl} is 0: the kernel will drop the \
                 forwarded flows (sysctl -w {}=1)",
                sysctl.trim_start_matches("/proc/sys/").replace('/', ".")
            );
        }
    }
}

/// Whether this host holds `vs`'s address: some instance that has it among its VIPs is
/// master, or no instance has it at all.
pub(super) fn holds(vrrp: &Status, vs: &VirtualServer) -> bool {
    let mut owners = vrrp.vrrp.iter().filter(|instance| {
        instance.vips.iter().any(|vip| {
            vip.split('/')
                .next()
                .and_then(|ip| ip.parse().ok())
                .is_some_and(|ip| table::serves(vs, ip))
        })
    });
    let mut any = false;
    let held = owners.any(|instance| {
        any = true;
        instance.state == "MASTER"
    });
    held || !any
}

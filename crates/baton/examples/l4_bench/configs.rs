//! What each load balancer is told: the static nft rules, HAProxy's configuration and
//! baton.toml. All describe one job: 10.0.3.100:8080/tcp, round robin over app1 and app2
//! on port 8080.

use std::fmt::Write as _;

use crate::topology::{APPS, VIP};
use crate::wire::PORT;

/// The name of the static rules' tables (a name baton does not use).
pub(crate) const STATIC_TABLE: &str = "l4_bench_static";

/// The `numgen inc mod 2 map { 0 : app1, 1 : app2 }` part: slot to app.
fn slots() -> String {
    let mut map = String::new();
    for (i, app) in APPS.iter().enumerate() {
        let _ = write!(map, "{}{i} : {app}", if i == 0 { "" } else { ", " });
    }
    format!("mod {} map {{ {map} }}", APPS.len())
}

/// NAT by hand: new flows' destination rewritten in turn to each app (`numgen inc`);
/// conntrack takes the flow's later packets and its answers the same way. Nothing else:
/// no counters, no health, the floor for a NAT balancer on nf_tables.
pub(crate) fn static_nat() -> String {
    format!(
        "table ip {STATIC_TABLE} {{\n\
         \tchain prerouting {{\n\
         \t\ttype nat hook prerouting priority dstnat; policy accept;\n\
         \t\tip daddr {VIP} tcp dport {PORT} dnat to numgen inc {slots}\n\
         \t}}\n\
         }}\n",
        slots = slots()
    )
}

/// DR by hand: at the lb's ingress, before the IP stack, a packet for the service is sent
/// on unchanged to an app's MAC (`fwd ip to` resolves it). No conntrack here, so the app is
/// chosen by a hash of the client's address and port: every packet of a flow lands on the
/// same app, as baton's DR does for round robin.
pub(crate) fn static_dr() -> String {
    format!(
        "table netdev {STATIC_TABLE} {{\n\
         \tchain ingress {{\n\
         \t\ttype filter hook ingress device \"eth0\" priority 0; policy accept;\n\
         \t\tip daddr {VIP} tcp dport {PORT} fwd ip to jhash ip saddr . tcp sport {slots} device \"eth0\"\n\
         \t}}\n\
         }}\n",
        slots = slots()
    )
}

/// HAProxy: `mode tcp`, one thread, round robin, a TCP check of each app every second (as
/// baton's TCP_CHECK with `delay_loop 1`), no logging.
pub(crate) fn haproxy() -> String {
    let mut servers = String::new();
    for (i, app) in APPS.iter().enumerate() {
        let _ = writeln!(
            servers,
            "    server app{} {app}:{PORT} check inter 1s",
            i + 1
        );
    }
    format!(
        "global\n\
         \x20   nbthread 1\n\
         \x20   maxconn 20000\n\
         \x20   no strict-limits\n\
         \n\
         defaults\n\
         \x20   mode tcp\n\
         \x20   timeout connect 5s\n\
         \x20   timeout client 30s\n\
         \x20   timeout server 30s\n\
         \n\
         frontend vip\n\
         \x20   bind {VIP}:{PORT}\n\
         \x20   default_backend apps\n\
         \n\
         backend apps\n\
         \x20   balance roundrobin\n\
         {servers}"
    )
}

/// How baton forwards.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum LbKind {
    Nat,
    Dr,
}

/// baton.toml: a VRRP instance that makes the lb master of the VIP (it is the only router,
/// so it takes the VIP after the master-down interval), and the virtual server: round robin,
/// a TCP_CHECK on each app every second, no persistence.
pub(crate) fn baton_toml(kind: LbKind) -> String {
    let kind = match kind {
        LbKind::Nat => "NAT",
        LbKind::Dr => "DR",
    };
    let mut real_servers = String::new();
    for app in APPS {
        let _ = write!(
            real_servers,
            "\n[[virtual_server.real_server]]\n\
             address = \"{app}:{PORT}\"\n\
             TCP_CHECK = {{ connect_timeout = 1 }}\n"
        );
    }
    format!(
        "[[vrrp]]\n\
         name = \"VI_1\"\n\
         interface = \"eth0\"\n\
         virtual_router_id = 51\n\
         version = 3\n\
         priority = 150\n\
         advert_int = 0.1\n\
         virtual_ipaddress = [\"{vip}\"]\n\
         \n\
         [[virtual_server]]\n\
         name = \"bench\"\n\
         address = \"{VIP}:{PORT}\"\n\
         protocol = \"TCP\"\n\
         lb_algo = \"rr\"\n\
         lb_kind = \"{kind}\"\n\
         delay_loop = 1\n\
         {real_servers}",
        vip = crate::common::lab::VIP
    )
}

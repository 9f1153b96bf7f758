//! baton.toml for the load balancers of both labs. The same frontend everywhere: HTTP on
//! port 80 of the service address, round robin over app1 and app2 (`baton demo-app` on
//! 8080), checked every 0.2 s.

/// The apps behind every load balancer, and the ports: the lab's apps and the
/// configurations' services.
pub(crate) const APPS: [(&str, &str); 2] = [("app1", "10.0.3.11"), ("app2", "10.0.3.12")];
pub(crate) const APP_PORT: u16 = 8080;
pub(crate) const FRONTEND_PORT: u16 = 80;
/// DR keeps the port: the service is the apps' port on the anycast address.
pub(crate) const DR_PORT: u16 = APP_PORT;

/// The frontend and its backend on `address`.
fn frontend(address: &str) -> String {
    let servers: Vec<String> = APPS
        .iter()
        .map(|(_, ip)| format!("\"{ip}:{APP_PORT}\""))
        .collect();
    format!(
        r#"[[frontend]]
name = "web"
listen = "{address}:{FRONTEND_PORT}"
backend = "apps"

[[backend]]
name = "apps"
balance = "roundrobin"
servers = [{}]
[backend.health_check]
type = "http"
path = "/"
interval = 0.2
timeout = 0.2
rise = 1
fall = 2
"#,
        servers.join(", ")
    )
}

/// A load balancer behind BGP: the frontend, and an LVS-DR service with Maglev (the port
/// in the hash) on port `DR_PORT` of the anycast address over the same apps; both announced
/// through `[[anycast]]` while they can serve. `withdraw_delay`: at a stop, baton serves
/// this long after withdrawing, then drains. `peers`: every load balancer's address (the
/// relay of moved L7 connections to the one that holds them).
pub(crate) fn anycast_lb(anycast: &str, withdraw_delay: f64, peers: &[&str]) -> String {
    let peers: Vec<String> = peers.iter().map(|p| format!("\"{p}\"")).collect();
    let real_servers: String = APPS
        .iter()
        .map(|(_, ip)| {
            format!(
                "\n[[virtual_server.real_server]]\naddress = \"{ip}:{APP_PORT}\"\nweight = 1\n\
                 [virtual_server.real_server.TCP_CHECK]\nconnect_timeout = 1\n"
            )
        })
        .collect();
    format!(
        r#"{frontend}
[[virtual_server]]
name = "dr"
address = "{anycast}:{DR_PORT}"
protocol = "TCP"
lb_kind = "DR"
lb_algo = "mh"
mh-port = true
delay_loop = 1
{real_servers}
[[anycast]]
name = "vip"
prefixes = ["{anycast}/32"]
table = 100
interface = "eth0"
track_frontend = ["web"]
track_virtual_server = ["dr"]
withdraw_delay = {withdraw_delay}
peers = [{peers}]
"#,
        frontend = frontend(anycast),
        peers = peers.join(", ")
    )
}

/// A VRRP load balancer: VI_1 (v3, 100 ms adverts) holding `vip` (with its prefix length),
/// tracking the frontend on it.
pub(crate) fn vrrp_lb(vip: &str, priority: u8) -> String {
    let address = vip.split('/').next().unwrap_or(vip);
    format!(
        r#"[[vrrp]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
version = 3
priority = {priority}
advert_int = 0.1
virtual_ipaddress = ["{vip}"]
track_frontend = [{{ name = "web", weight = -60 }}]

{}"#,
        frontend(address)
    )
}

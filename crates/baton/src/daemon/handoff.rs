//! The new master's half of a planned switchover without a stall: daisy chaining, as the
//! Beamer load balancer (NSDI'18) does it. When the master resigns (a priority-0
//! advertisement, what baton and keepalived send on SIGTERM), a baton backup takes the VIP
//! at once and serves every new connection itself, while packets of connections it never
//! saw open (not a bare SYN, and no SYN of theirs seen here since) go back to the old
//! master, which keeps the VIP quietly (see `quiet_vips`) and answers them from it until
//! they end.
//!
//! One nftables table, `ip baton_handoff`, in the prerouting hook before conntrack, for
//! TCP to the frontends' IPv4 listeners. A dynamic set learns the flows whose SYN arrived
//! here; every other packet is cloned to the old master (`dup to`, the old master's
//! address as next hop, the IP header unchanged) and the original dropped. No conntrack,
//! no IP forwarding, no socket lookup: a socket lookup cannot tell an unknown connection
//! from a new one, since the frontend's listener matches both.
//!
//! The table is armed when a backup hears the priority-0 advertisement together with the
//! old master's offer to take packets back (`handoff_offer`: a keepalived master sends
//! priority 0 on shutdown too, but removes its VIPs), that is before it becomes master
//! (Skew_Time later), so that no SYN to the VIP reaches it unlearned. It is deleted after
//! the window the offer names (the old master's drain, as its frontends would drain, plus
//! the takeover: [`window`]), on stop, and at start if a killed run left it: an old
//! master that died meanwhile costs its own clients a reset at most (its kernel still
//! holds the VIP, or drops the packets), and only for that bounded time.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use baton_config::Config;
use tokio::task::JoinHandle;

use super::syn_gate::nft;

const TABLE: &str = "baton_handoff";

/// Beyond the frontends' drain_timeout: the old master hands the VIP over first, keeps
/// taking connections until the new master has it, and only then starts to drain.
const TAKEOVER_MARGIN: Duration = Duration::from_secs(5);

/// The longest window an old master's offer may ask for (drain_timeout's own bound is an
/// hour; a hand-back that long would be an operator's surprise).
const MAX_WINDOW: Duration = Duration::from_secs(600);

/// Flows learned at most; past this, new flows' later packets would go to the old master
/// (a reset), so it is far above what a window sees (500 connections/s for 20 s: 10,000).
const MAX_LOCAL_FLOWS: usize = 262_144;

/// The new master's forwarding of unknown flows to the old one.
#[derive(Debug, Default)]
pub(crate) struct Handoff {
    /// (address, port) of the frontends' IPv4 listeners; a wildcard listener stands for
    /// every IPv4 VIP of the configuration on its port.
    targets: Vec<(Ipv4Addr, u16)>,
    /// The task that deletes the table when the window ends; None while not armed.
    expiry: Option<JoinHandle<()>>,
}

impl Handoff {
    pub(crate) fn new(config: &Config) -> Handoff {
        Handoff {
            targets: targets(config),
            expiry: None,
        }
    }

    /// After a reload: the listeners of the configuration now running. An armed table
    /// stays as it is until it expires.
    pub(crate) fn reconfigure(&mut self, config: &Config) {
        self.targets = targets(config);
    }

    /// The master `old_master` resigned and offered to take packets back for `offered`
    /// (see `handoff_offer`): packets of flows this host does not know go to it from now on,
    /// for that window (at most [`MAX_WINDOW`]). Already armed: left alone (a new table
    /// would forget the flows learned so far).
    pub(crate) async fn arm(&mut self, old_master: IpAddr, offered: Duration) {
        let IpAddr::V4(old_master) = old_master else {
            return;
        };
        if self.targets.is_empty() || self.expiry.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let window = offered.clamp(TAKEOVER_MARGIN, MAX_WINDOW);
        let script = ruleset(&self.targets, old_master, window);
        if let Err(error) = nft(&script).await {
            tracing::warn!(
                "handoff: cannot forward the old master's connections to {old_master}, they \
                 will be reset when they reach this host: {error:#}"
            );
            return;
        }
        tracing::info!(%old_master, ?window, "handoff: packets of connections this host does not know go to the old master");
        self.expiry = Some(tokio::spawn(async move {
            tokio::time::sleep(window).await;
            delete().await;
            tracing::info!("handoff: window over, forwarding to the old master removed");
        }));
    }

    /// Stops forwarding now (the daemon stops).
    pub(crate) async fn disarm(&mut self) {
        if let Some(expiry) = self.expiry.take() {
            if !expiry.is_finished() {
                expiry.abort();
                delete().await;
            }
        }
    }
}

/// A priority-0 advertisement (RFC 5798 §5.2.4: the master stops) in a VRRP `payload`:
/// its VRID. Only the fixed header is read; the engine has checked the rest.
pub(crate) fn resigned(payload: &[u8]) -> Option<u8> {
    const ADVERTISEMENT: u8 = 1;
    let [version_type, vrid, priority, ..] = *payload else {
        return None;
    };
    let version = version_type >> 4;
    let valid = (version == 2 || version == 3) && version_type & 0x0f == ADVERTISEMENT;
    (valid && priority == 0).then_some(vrid)
}

/// Deletes the table if an earlier run left it.
pub(crate) async fn remove_leftover() {
    delete().await;
}

async fn delete() {
    super::syn_gate::delete_table_if_present("ip", TABLE).await;
}

/// The old master drains for as long as this configuration's frontends would: the window
/// it offers (see `handoff_offer`).
pub(super) fn window(config: &Config) -> Duration {
    longest_drain(config) + TAKEOVER_MARGIN
}

/// The longest drain_timeout of the frontends: how long an old master finishes its
/// connections at most.
pub(super) fn longest_drain(config: &Config) -> Duration {
    config
        .frontends
        .iter()
        .map(|frontend| frontend.drain_timeout)
        .max()
        .unwrap_or_default()
}

/// The (IPv4 address, port) pairs the frontends serve: those whose packets a new master
/// hands back, and those an old master's connections are on.
pub(super) fn targets(config: &Config) -> Vec<(Ipv4Addr, u16)> {
    let vips: Vec<Ipv4Addr> = config
        .instances
        .iter()
        .flat_map(|instance| instance.all_addresses())
        .filter_map(|vip| match vip.address {
            IpAddr::V4(address) => Some(address),
            IpAddr::V6(_) => None,
        })
        .collect();
    let mut targets = Vec::new();
    for frontend in &config.frontends {
        let port = frontend.listen.port();
        match frontend.listen.ip() {
            IpAddr::V4(address) if address.is_unspecified() => {
                targets.extend(vips.iter().map(|vip| (*vip, port)));
            }
            IpAddr::V4(address) => targets.push((address, port)),
            IpAddr::V6(_) => {}
        }
    }
    targets.sort_unstable();
    targets.dedup();
    targets
}

/// One table: the flows whose SYN came here are learned (for the whole window), every
/// other packet to a listener is sent on to `old_master` unchanged and dropped here.
fn ruleset(targets: &[(Ipv4Addr, u16)], old_master: Ipv4Addr, window: Duration) -> String {
    let listeners = targets
        .iter()
        .map(|(address, port)| format!("{address} . {port}"))
        .collect::<Vec<_>>()
        .join(", ");
    let flow = "ip saddr . tcp sport . ip daddr . tcp dport";
    let seconds = window.as_secs().max(1);
    format!(
        "table ip {TABLE} {{}}\n\
         delete table ip {TABLE}\n\
         table ip {TABLE} {{\n\
         \x20 set local_flows {{\n\
         \x20   type ipv4_addr . inet_service . ipv4_addr . inet_service\n\
         \x20   size {MAX_LOCAL_FLOWS}\n\
         \x20   flags dynamic,timeout\n\
         \x20   timeout {seconds}s\n\
         \x20 }}\n\
         \x20 chain prerouting {{\n\
         \x20   type filter hook prerouting priority raw; policy accept;\n\
         \x20   ip daddr . tcp dport {{ {listeners} }} jump handoff\n\
         \x20 }}\n\
         \x20 chain handoff {{\n\
         \x20   tcp flags & (syn | ack) == syn update @local_flows {{ {flow} }} accept\n\
         \x20   {flow} @local_flows accept\n\
         \x20   dup to {old_master} drop\n\
         \x20 }}\n\
         }}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(listen: &str, vips: &str) -> Config {
        let text = format!(
            "[[vrrp]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
             priority = 100\nvirtual_ipaddress = [{vips}]\n\n\
             [[frontend]]\nname = \"web\"\nlisten = \"{listen}\"\nbackend = \"app\"\n\
             drain_timeout = 3\n\n\
             [[backend]]\nname = \"app\"\nservers = [\"10.0.3.11:8080\"]\n"
        );
        baton_config::parse_toml(&text, "test.toml")
            .expect("valid")
            .config
    }

    #[test]
    fn a_wildcard_listener_stands_for_every_ipv4_vip() {
        let wildcard = config("0.0.0.0:80", "\"10.0.3.100\", \"10.0.3.101\"");
        assert_eq!(
            targets(&wildcard),
            [
                ("10.0.3.100".parse().expect("v4"), 80),
                ("10.0.3.101".parse().expect("v4"), 80)
            ]
        );
        let one = config("10.0.3.100:443", "\"10.0.3.100\"");
        assert_eq!(targets(&one), [("10.0.3.100".parse().expect("v4"), 443)]);
        let v6 = config("0.0.0.0:80", "\"2001:db8::1\"");
        assert!(targets(&v6).is_empty(), "no IPv4 VIP to stand for");
    }

    #[test]
    fn the_window_covers_the_old_masters_drain_and_the_takeover() {
        let config = config("10.0.3.100:80", "\"10.0.3.100\"");
        assert_eq!(window(&config), Duration::from_secs(3) + TAKEOVER_MARGIN);
    }

    #[test]
    fn only_unknown_flows_go_to_the_old_master() {
        let rules = ruleset(
            &[("10.0.3.100".parse().expect("v4"), 80)],
            "10.0.3.12".parse().expect("v4"),
            Duration::from_secs(15),
        );
        assert!(rules.contains("ip daddr . tcp dport { 10.0.3.100 . 80 } jump handoff"));
        assert!(rules.contains("tcp flags & (syn | ack) == syn update @local_flows"));
        assert!(rules.contains("timeout 15s"));
        // The learned flows pass before anything is sent on.
        let learned = rules.find("@local_flows accept\n").expect("learned");
        let sent = rules.find("dup to 10.0.3.12 drop").expect("sent on");
        assert!(learned < sent);
    }

    #[test]
    fn only_a_priority_0_advertisement_is_a_resignation() {
        assert_eq!(resigned(&[0x31, 51, 0, 1, 0, 10, 0, 0]), Some(51));
        assert_eq!(resigned(&[0x21, 7, 0, 1]), Some(7));
        assert_eq!(resigned(&[0x31, 51, 150, 1, 0, 10, 0, 0]), None);
        assert_eq!(resigned(&[0x32, 51, 0, 1]), None, "not an advertisement");
        assert_eq!(resigned(&[0x31, 51]), None, "too short");
    }
}

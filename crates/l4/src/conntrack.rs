//! Reading `conntrack -L`: which flows each backend holds.
//!
//! The text of conntrack-tools rather than netlink: the Rust netlink family has no
//! maintained conntrack crate (netlink-packet-netfilter covers nflog and a few queries),
//! and `conntrack -L` lines have kept their `key=value` shape for fifteen years.

use std::net::{IpAddr, SocketAddr};

use crate::model::{Match, Service};

/// One conntrack entry, as far as counting goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flow {
    pub(crate) protocol: String,
    /// TCP and SCTP state (`ESTABLISHED`); empty for UDP.
    pub(crate) state: String,
    /// The client.
    pub(crate) original_src: IpAddr,
    pub(crate) original_dst: IpAddr,
    pub(crate) original_dport: u16,
    pub(crate) reply_src: IpAddr,
    pub(crate) reply_sport: u16,
}

impl Flow {
    /// Whether this entry is a flow of `service` held by `server`.
    pub(crate) fn belongs_to(&self, service: &Service, server: SocketAddr) -> bool {
        if self.protocol != service.protocol.keyword() || self.reply_src != server.ip() {
            return false;
        }
        if !service.all_ports() && self.reply_sport != server.port() {
            return false;
        }
        service.matches.iter().any(|m| match *m {
            Match::Address(a) => {
                self.original_dst == a.ip() && (a.port() == 0 || self.original_dport == a.port())
            }
            Match::Range { first, last, port } => {
                in_range(self.original_dst, first, last)
                    && (port == 0 || self.original_dport == port)
            }
            // A mark leaves no trace in the tuple: the backend alone decides.
            Match::Fwmark(_) => true,
        })
    }

    /// Whether IPVS would call it an active connection: an established TCP or SCTP
    /// association; every UDP flow (IPVS counts none, which would leave the
    /// least-connection approximations blind for UDP).
    pub(crate) fn active(&self) -> bool {
        self.protocol == "udp" || self.state == "ESTABLISHED"
    }
}

/// Parses `conntrack -L` output; lines it does not understand are skipped.
///
/// `tcp 6 431999 ESTABLISHED src=10.0.3.50 dst=10.0.3.100 sport=40000 dport=80
/// src=10.0.3.11 dst=10.0.3.50 sport=8080 dport=40000 [ASSURED] mark=0 use=1`
pub(crate) fn parse(text: &str) -> Vec<Flow> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Flow> {
    let mut words = line.split_whitespace();
    let protocol = words.next()?.to_owned();
    let mut state = String::new();
    let mut src = Vec::new();
    let mut dst = Vec::new();
    let mut sport = Vec::new();
    let mut dport = Vec::new();
    for word in words {
        match word.split_once('=') {
            Some(("src", v)) => src.push(v.parse::<IpAddr>().ok()?),
            Some(("dst", v)) => dst.push(v.parse::<IpAddr>().ok()?),
            Some(("sport", v)) => sport.push(v.parse::<u16>().ok()?),
            Some(("dport", v)) => dport.push(v.parse::<u16>().ok()?),
            None if word.chars().all(|c| c.is_ascii_uppercase() || c == '_') => {
                state = word.to_owned();
            }
            _ => {}
        }
    }
    Some(Flow {
        protocol,
        state,
        original_src: *src.first()?,
        original_dst: *dst.first()?,
        original_dport: *dport.first()?,
        reply_src: *src.get(1)?,
        reply_sport: *sport.get(1)?,
    })
}

/// conntrack filters for the original direction that select `service`'s flows: one per
/// VIP, so a backend shared with another service keeps that service's flows. Ranges and
/// fwmarks have no such filter; then one empty filter (the backend alone decides).
pub(crate) fn original_filters(service: &Service) -> Vec<Vec<String>> {
    let mut filters = Vec::new();
    for m in &service.matches {
        let Match::Address(vip) = m else {
            return vec![Vec::new()];
        };
        let mut filter = vec!["--orig-dst".to_owned(), vip.ip().to_string()];
        if vip.port() != 0 {
            filter.push("--orig-port-dst".into());
            filter.push(vip.port().to_string());
        }
        filters.push(filter);
    }
    filters
}

fn in_range(address: IpAddr, first: IpAddr, last: IpAddr) -> bool {
    first <= address && address <= last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_tuples() {
        let text = "\
tcp      6 431999 ESTABLISHED src=10.0.3.50 dst=10.0.3.100 sport=40000 dport=80 src=10.0.3.11 dst=10.0.3.50 sport=8080 dport=40000 [ASSURED] mark=0 use=1
udp      17 29 src=fd00::50 dst=fd00::100 sport=5000 dport=53 [UNREPLIED] src=fd00::12 dst=fd00::50 sport=53 dport=5000 mark=0 use=1
icmp     1 29 src=10.0.3.50 dst=10.0.3.5 type=8 code=0 id=1 src=10.0.3.5 dst=10.0.3.50 type=0 code=0 id=1 mark=0 use=1
";
        let flows = parse(text);
        assert_eq!(flows.len(), 2, "{flows:?}");
        assert_eq!(flows[0].state, "ESTABLISHED");
        assert_eq!(
            flows[0].original_src,
            "10.0.3.50".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            flows[0].original_dst,
            "10.0.3.100".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            flows[0].reply_src,
            "10.0.3.11".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(flows[0].reply_sport, 8080);
        assert!(flows[0].active());
        assert_eq!(flows[1].state, "");
        assert_eq!(flows[1].reply_sport, 53);
        assert!(flows[1].active());
    }
}

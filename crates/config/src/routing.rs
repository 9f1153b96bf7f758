//! Routes, policy rules and static addresses that keepalived manages besides its virtual
//! addresses: an instance's `virtual_routes` / `virtual_rules` (there while it is master) and
//! the top-level `static_ipaddress` / `static_routes` / `static_rules` (there while the daemon
//! runs). Values are resolved to what rtnetlink is told: tables, protocols, scopes and types
//! are numbers, names from the iproute2 files having been looked up. The static blocks'
//! whole (`StaticRouting`) lives in the model, beside the addresses it holds.

use std::net::IpAddr;

use crate::diagnostic::WrittenAt;

/// RTPROT_KEEPALIVED: the protocol keepalived marks its routes and rules with (and what
/// `ip route` prints as `proto keepalived`).
pub const PROTOCOL_KEEPALIVED: u8 = 18;

/// A prefix: `10.0.0.0/8`, or a default route's `0.0.0.0/0` / `::/0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub address: IpAddr,
    pub len: u8,
}

/// How an added route meets an existing one (`ip route prepend | add | append`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RouteMode {
    /// keepalived's default (and the kernel's): neither NLM_F_EXCL nor NLM_F_APPEND.
    #[default]
    Prepend,
    /// `add`: NLM_F_EXCL.
    Add,
    /// `append`: NLM_F_APPEND.
    Append,
}

/// One hop of a multipath route (`nexthop via ADDR dev IF weight N onlink`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nexthop {
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    /// `weight 1..=256`, as the kernel stores it (weight - 1); `None` when not given.
    pub hops: Option<u8>,
    pub onlink: bool,
}

/// A route line of `virtual_routes` or `static_routes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub ipv6: bool,
    pub destination: Prefix,
    /// RTN_* (`unicast` 1 by default; `blackhole`, `unreachable`, `prohibit`, ...).
    pub kind: u8,
    pub table: u32,
    /// RTPROT_*: 18 (keepalived) unless `no_track` and `protocol` say otherwise.
    pub protocol: u8,
    /// RT_SCOPE_*: universe (0) unless `scope` is given; keepalived does not derive it.
    pub scope: u8,
    pub tos: Option<u8>,
    pub metric: Option<u32>,
    pub dev: Option<String>,
    pub via: Option<IpAddr>,
    /// `src`: the preferred source address.
    pub preferred_source: Option<IpAddr>,
    /// `from`: the source prefix (IPv6 only).
    pub from: Option<Prefix>,
    pub onlink: bool,
    /// RTAX_* metrics (`mtu`, `advmss`, `window`, ...) as (RTAX number, value).
    pub metrics: Vec<(u16, u32)>,
    /// RTAX_LOCK: bit n set for a `lock`ed metric n.
    pub locked: u32,
    pub nexthops: Vec<Nexthop>,
    pub mode: RouteMode,
    pub no_track: bool,
    /// `track_group NAME` (static routes): its instances track the route's interface.
    pub track_group: Option<String>,
    pub location: WrittenAt,
}

/// What a rule does with a packet it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    /// `table N` / `lookup N`.
    Table(u32),
    /// `goto PREFERENCE`.
    Goto(u32),
    Nop,
    Blackhole,
    Unreachable,
    Prohibit,
    /// `l3mdev`: look up the table of the VRF device.
    L3mdev,
}

/// A rule line of `virtual_rules` or `static_rules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub ipv6: bool,
    pub from: Option<Prefix>,
    pub to: Option<Prefix>,
    pub action: RuleAction,
    /// `not`.
    pub invert: bool,
    /// `preference` / `priority` / `order`; keepalived counts down from 16384 when none
    /// is given (with a warning), per family.
    pub preference: u32,
    pub tos: u8,
    /// `fwmark MARK[/MASK]`.
    pub fwmark: Option<(u32, Option<u32>)>,
    /// `iif` / `dev`.
    pub iif: Option<String>,
    pub oif: Option<String>,
    /// RTPROT_* sent as FRA_PROTOCOL: 18 unless `no_track`.
    pub protocol: Option<u8>,
    pub ipproto: Option<u8>,
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
    pub suppress_prefixlength: Option<u32>,
    pub suppress_ifgroup: Option<u32>,
    pub uidrange: Option<(u32, u32)>,
    pub no_track: bool,
    pub track_group: Option<String>,
    pub location: WrittenAt,
}

/// An instance's `virtual_routes`, `virtual_rules` and `promote_secondaries`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceRouting {
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
    /// Sets net.ipv4.conf.IF.promote_secondaries on the instance's interface while the
    /// daemon runs (back to 0 at the end, unless it was 1 already).
    pub promote_secondaries: bool,
}

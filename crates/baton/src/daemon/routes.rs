//! keepalived's routes and rules on the host: an instance's `virtual_routes` and
//! `virtual_rules` while it is master (added after its addresses, removed before them, as
//! keepalived's `vrrp_state_become_master` / `vrrp_restore_interface`), the top-level
//! `static_*` while the daemon runs, and `promote_secondaries`.

use std::collections::BTreeSet;
use std::sync::Mutex;

use anyhow::Context as _;
use baton_config::{
    Config, Route, RouteMode, Rule, RuleAction, StaticRouting, VirtualAddress, VrrpInstance,
};
use baton_net::{CreateMode, NexthopSpec, RouteSpec, RuleSpec, RuleVerdict};

#[derive(Debug)]
pub(crate) struct Routes {
    routing: baton_net::Routing,
    /// Interfaces whose promote_secondaries baton turned on (and turns off at the end).
    promoted: Mutex<BTreeSet<String>>,
}

impl Routes {
    pub(crate) fn new() -> anyhow::Result<Routes> {
        Ok(Routes {
            routing: baton_net::Routing::new().context("opening rtnetlink for routes")?,
            promoted: Mutex::default(),
        })
    }

    /// The instance became master: its routes, then its rules.
    pub(crate) async fn master(&self, instance: &VrrpInstance) {
        let name = &instance.name;
        for route in &instance.routing.routes {
            let spec = route_spec(route);
            match self.routing.add_route(&spec).await {
                Ok(()) => {
                    tracing::info!(instance = %name, "added {}", baton_net::describe_route(&spec))
                }
                Err(error) => tracing::error!(instance = %name, "{error}"),
            }
        }
        for rule in &instance.routing.rules {
            let spec = rule_spec(rule);
            match self.routing.add_rule(&spec).await {
                Ok(()) => {
                    tracing::info!(instance = %name, "added {}", baton_net::describe_rule(&spec))
                }
                Err(error) => tracing::error!(instance = %name, "{error}"),
            }
        }
    }

    /// The instance left master (or stops): its rules, then its routes.
    pub(crate) async fn leave(&self, instance: &VrrpInstance) {
        let name = &instance.name;
        for rule in &instance.routing.rules {
            if let Err(error) = self.routing.remove_rule(&rule_spec(rule)).await {
                tracing::error!(instance = %name, "{error}");
            }
        }
        for route in &instance.routing.routes {
            if let Err(error) = self.routing.remove_route(&route_spec(route)).await {
                tracing::error!(instance = %name, "{error}");
            }
        }
    }

    /// At start: the static addresses, routes and rules (in that order, as keepalived's
    /// `vrrp_dispatcher_init`), and promote_secondaries.
    pub(crate) async fn start(&self, config: &Config, addresses: &baton_net::Addresses) {
        self.add_statics(&config.static_routing, addresses).await;
        self.promote(config);
    }

    /// At stop: rules, routes, then addresses (keepalived's `stop_vrrp`), and
    /// promote_secondaries back where baton changed it.
    pub(crate) async fn stop(&self, config: &Config, addresses: &baton_net::Addresses) {
        let none = StaticRouting::default();
        self.remove_statics(&config.static_routing, &none, addresses)
            .await;
        for interface in std::mem::take(&mut *self.promoted()) {
            set_promote_secondaries(&interface, false);
        }
    }

    /// A reload: what `old` had and `new` has not goes, what `new` has is (re)added, as
    /// keepalived's `clear_diff_static_*`; promote_secondaries follows the new instances.
    pub(crate) async fn reload(
        &self,
        old: &Config,
        new: &Config,
        addresses: &baton_net::Addresses,
    ) {
        self.remove_statics(&old.static_routing, &new.static_routing, addresses)
            .await;
        self.add_statics(&new.static_routing, addresses).await;
        let wanted = promoted_interfaces(new);
        self.promoted().retain(|interface| {
            let keep = wanted.contains(interface);
            if !keep {
                set_promote_secondaries(interface, false);
            }
            keep
        });
        self.promote(new);
    }

    /// Hands what this run changed to the `Routes` of a reloaded configuration.
    pub(crate) fn hand_over(&self, next: &Routes) {
        *next.promoted() = std::mem::take(&mut *self.promoted());
    }

    fn promoted(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // Nothing panics while holding it; a poisoned set is still the right set.
        self.promoted.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn add_statics(&self, statics: &StaticRouting, addresses: &baton_net::Addresses) {
        for entry in &statics.addresses {
            let vip = &entry.address;
            let result = addresses
                .add_with(&entry.dev, vip.address, vip.prefix_len, &add_options(vip))
                .await;
            match result {
                Ok(()) => {
                    tracing::info!(address = %vip.address, dev = %entry.dev, "static address added")
                }
                Err(error) => tracing::error!("static address: {error}"),
            }
        }
        for route in &statics.routes {
            if let Err(error) = self.routing.add_route(&route_spec(route)).await {
                tracing::error!("static route: {error}");
            }
        }
        for rule in &statics.rules {
            if let Err(error) = self.routing.add_rule(&rule_spec(rule)).await {
                tracing::error!("static rule: {error}");
            }
        }
    }

    /// Removes what `old` has and `keep` has not.
    async fn remove_statics(
        &self,
        old: &StaticRouting,
        keep: &StaticRouting,
        addresses: &baton_net::Addresses,
    ) {
        for rule in old
            .rules
            .iter()
            .filter(|r| !keep.rules.iter().any(|k| same_rule(k, r)))
        {
            if let Err(error) = self.routing.remove_rule(&rule_spec(rule)).await {
                tracing::error!("static rule: {error}");
            }
        }
        for route in old
            .routes
            .iter()
            .filter(|r| !keep.routes.iter().any(|k| same_route(k, r)))
        {
            if let Err(error) = self.routing.remove_route(&route_spec(route)).await {
                tracing::error!("static route: {error}");
            }
        }
        for entry in &old.addresses {
            let kept = keep.addresses.iter().any(|k| {
                k.dev == entry.dev
                    && k.address.address == entry.address.address
                    && k.address.prefix_len == entry.address.prefix_len
            });
            if kept {
                continue;
            }
            let vip = &entry.address;
            if let Err(error) = addresses
                .remove(&entry.dev, vip.address, vip.prefix_len)
                .await
            {
                tracing::error!("static address: {error}");
            }
        }
    }

    /// keepalived's `set_promote_secondaries`: an interface that has it on already is left
    /// alone (and left on at the end).
    fn promote(&self, config: &Config) {
        let mut promoted = self.promoted();
        for interface in promoted_interfaces(config) {
            if promoted.contains(&interface) {
                continue;
            }
            let path = sysctl_path(&interface);
            match std::fs::read_to_string(&path) {
                Ok(value) if value.trim() == "1" => {}
                Ok(_) => {
                    if set_promote_secondaries(&interface, true) {
                        promoted.insert(interface);
                    }
                }
                Err(error) => {
                    tracing::warn!(%interface, "promote_secondaries: reading {path}: {error}")
                }
            }
        }
    }
}

fn promoted_interfaces(config: &Config) -> BTreeSet<String> {
    config
        .instances
        .iter()
        .filter(|i| i.routing.promote_secondaries)
        .map(|i| i.interface.clone())
        .collect()
}

fn sysctl_path(interface: &str) -> String {
    format!("/proc/sys/net/ipv4/conf/{interface}/promote_secondaries")
}

fn set_promote_secondaries(interface: &str, on: bool) -> bool {
    let path = sysctl_path(interface);
    match std::fs::write(&path, if on { "1" } else { "0" }) {
        Ok(()) => {
            tracing::info!(%interface, on, "promote_secondaries");
            true
        }
        Err(error) => {
            tracing::warn!(%interface, "promote_secondaries: writing {path}: {error}");
            false
        }
    }
}

/// The options of `ip address add` a configured address asks for.
pub(crate) fn add_options(vip: &VirtualAddress) -> baton_net::AddOptions<'_> {
    baton_net::AddOptions {
        label: vip.label.as_deref(),
        broadcast: vip.broadcast,
        scope: vip.scope.map(|scope| scope.rt_scope()),
        flags: vip.flags,
        preferred_lft: vip.preferred_lft,
    }
}

/// Two lines that make the same kernel route (the line's place in the file aside).
fn same_route(a: &Route, b: &Route) -> bool {
    route_spec(a) == route_spec(b)
}

fn same_rule(a: &Rule, b: &Rule) -> bool {
    rule_spec(a) == rule_spec(b)
}

pub(crate) fn route_spec(route: &Route) -> RouteSpec {
    RouteSpec {
        ipv6: route.ipv6,
        destination: (route.destination.address, route.destination.len),
        kind: route.kind,
        table: route.table,
        protocol: route.protocol,
        scope: route.scope,
        tos: route.tos,
        metric: route.metric,
        dev: route.dev.clone(),
        gateway: route.via,
        preferred_source: route.preferred_source,
        source: route.from.map(|p| (p.address, p.len)),
        onlink: route.onlink,
        metrics: route.metrics.clone(),
        locked: route.locked,
        nexthops: route
            .nexthops
            .iter()
            .map(|hop| NexthopSpec {
                gateway: hop.via,
                dev: hop.dev.clone(),
                hops: hop.hops,
                onlink: hop.onlink,
            })
            .collect(),
        mode: match route.mode {
            RouteMode::Prepend => CreateMode::Prepend,
            RouteMode::Add => CreateMode::Exclusive,
            RouteMode::Append => CreateMode::Append,
        },
    }
}

pub(crate) fn rule_spec(rule: &Rule) -> RuleSpec {
    RuleSpec {
        ipv6: rule.ipv6,
        from: rule.from.map(|p| (p.address, p.len)),
        to: rule.to.map(|p| (p.address, p.len)),
        verdict: match rule.action {
            RuleAction::Table(table) => RuleVerdict::Table(table),
            RuleAction::Goto(target) => RuleVerdict::Goto(target),
            RuleAction::Nop => RuleVerdict::Nop,
            RuleAction::Blackhole => RuleVerdict::Blackhole,
            RuleAction::Unreachable => RuleVerdict::Unreachable,
            RuleAction::Prohibit => RuleVerdict::Prohibit,
            RuleAction::L3mdev => RuleVerdict::L3mdev,
        },
        invert: rule.invert,
        preference: rule.preference,
        tos: rule.tos,
        fwmark: rule.fwmark,
        iif: rule.iif.clone(),
        oif: rule.oif.clone(),
        protocol: rule.protocol,
        ipproto: rule.ipproto,
        sport: rule.sport,
        dport: rule.dport,
        suppress_prefixlength: rule.suppress_prefixlength,
        suppress_ifgroup: rule.suppress_ifgroup,
        uidrange: rule.uidrange,
    }
}

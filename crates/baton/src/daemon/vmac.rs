//! keepalived's `use_vmac` / `use_ipvlan`: each such instance owns a macvlan (private mode,
//! the VRRP virtual MAC) or an ipvlan (L2) on its interface. The links of a configuration
//! are made (or found) when it is prepared, before its sockets open on them, and removed
//! when a reload drops them or the daemon stops, as keepalived 2.2.7 does (`vrrp_vmac.c`).
//! So are the address links (`use_vmac_addr`, an address's `use_vmac`): a private macvlan
//! with a virtual MAC on the interface of addresses that are not on the instance's own link,
//! found by its MAC when one exists ([`super::vmac_addr`]), with the same settings.
//!
//! baton marks what it makes with an interface alias ([`ALIAS`]): a link without it was
//! made by someone else (keepalived, the operator) and is used when it matches but never
//! removed or changed; one with it is a killed run's leftover and is taken over.
//!
//! The sysctls keepalived sets for an IPv4 macvlan (`vrrp_if_config.c`) are set here too:
//! on the link arp_ignore 1, accept_local 1, rp_filter 0, promote_secondaries 1; on its
//! base arp_ignore 1 and arp_filter 1 (the old values come back when the last link on it
//! goes); and net.ipv4.conf.all.rp_filter 0, after raising `default` and each interface to
//! its value so that none changes behaviour (restored on stop). What was changed is one
//! fact of the network namespace, so it is kept in one place for the process ([`HOST`]).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

use anyhow::Context as _;
use baton_config::{AddressLink, Config, Family, VirtualLinkKind, VrrpInstance};
use baton_net::{LinkState, VirtualLinks, read_sysctl, write_sysctl};

use super::vmac_addr::{self, Choice};

/// The alias of the links baton makes (`ip link` shows it): `baton vmac VI_1`.
const ALIAS: &str = "baton vmac";

/// The links a configuration uses, made or found when it was prepared.
#[derive(Debug, Default)]
pub(crate) struct Links {
    held: Vec<Held>,
}

#[derive(Debug, Clone)]
struct Held {
    name: String,
    index: u32,
    base: String,
    /// Made by baton (this run or a killed one): removed when no longer used.
    ours: bool,
    /// Its base got keepalived's IPv4 settings for it (to undo when it goes).
    ipv4: bool,
}

/// What the process changed in its namespace, to put back.
#[derive(Debug, Default)]
struct Host {
    /// Base interface -> (links on it, arp_ignore and arp_filter before the first).
    bases: BTreeMap<String, (usize, u32, u32)>,
    /// net.ipv4.conf.all.rp_filter before it was lowered, and the interfaces (with
    /// `default`) raised to it from their own value.
    rp_filter: Option<(u32, Vec<(String, u32)>)>,
    /// net.ipv4.igmp_link_local_mcast_reports before `disable_local_igmp`.
    igmp_reports: Option<u32>,
}

static HOST: Mutex<Host> = Mutex::new(Host {
    bases: BTreeMap::new(),
    rp_filter: None,
    igmp_reports: None,
});

fn host() -> std::sync::MutexGuard<'static, Host> {
    HOST.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Links {
    /// Makes or finds the link of every instance of `config` that has one, then the
    /// address links (except on the `missing` interfaces of `dynamic_interfaces`),
    /// configured and up. An address link found under another name than planned is
    /// renamed in `config`, so that its addresses go where it is.
    pub(crate) async fn prepare(
        config: &mut Config,
        missing: &std::collections::BTreeSet<String>,
    ) -> anyhow::Result<Links> {
        let mut links = Links::default();
        if config.global.vmac.disable_local_igmp {
            disable_local_igmp();
        }
        let wanted: Vec<&VrrpInstance> = config
            .instances
            .iter()
            .filter(|i| i.vmac.is_some() && !missing.contains(&i.interface))
            .collect();
        let any_address_link = config
            .instances
            .iter()
            .any(|i| !i.address_links.links.is_empty());
        if wanted.is_empty() && !any_address_link {
            return Ok(links);
        }
        let netlink = VirtualLinks::new().context("opening rtnetlink for virtual links")?;
        for instance in wanted {
            let held = bring_up(&netlink, instance)
                .await
                .with_context(|| format!("instance {}: its virtual link", instance.name))?;
            links.held.push(held);
        }
        let reserved: Vec<String> = config
            .instances
            .iter()
            .flat_map(|i| {
                let own = i.vmac.as_ref().map(|l| l.name.clone());
                own.into_iter()
                    .chain(i.address_links.links.iter().map(|l| l.name.clone()))
            })
            .collect();
        for instance in &mut config.instances {
            let (name, vrid) = (instance.name.clone(), instance.vrid);
            for link in &mut instance.address_links.links {
                if missing.contains(&link.base) {
                    continue;
                }
                links
                    .bring_up_address(&netlink, &name, vrid, link, &reserved)
                    .await
                    .with_context(|| {
                        format!("instance {name}: the address link on {}", link.base)
                    })?;
            }
        }
        Ok(links)
    }

    /// Finds or makes `link` (renaming it to the link found), configured and up, unless
    /// this configuration holds it already (another address, or an instance, shares it).
    async fn bring_up_address(
        &mut self,
        netlink: &VirtualLinks,
        instance: &str,
        vrid: baton_vrrp::Vrid,
        link: &mut AddressLink,
        reserved: &[String],
    ) -> anyhow::Result<()> {
        let parent = baton_net::interface_index(&link.base)?;
        let kind = baton_net::VirtualLinkKind::Macvlan { mac: link.mac };
        let listed = netlink.list().await?;
        let choice = vmac_addr::choose(
            &listed,
            kind,
            parent,
            &link.name,
            link.candidate_names(vrid),
            reserved,
            is_ours,
        );
        let alias = format!("{ALIAS} {instance}");
        let (name, index, ours) = match choice {
            Choice::Use { name, index } => {
                if self.held.iter().any(|h| h.name == name) {
                    link.name = name;
                    return Ok(());
                }
                let state = listed.iter().find(|(n, _)| *n == name).map(|(_, s)| s);
                let ours = state.is_some_and(is_ours);
                tracing::info!(instance, link = %name, base = %link.base, ours, "using the address link that exists");
                (name, index, ours)
            }
            Choice::Replace { name, index } => {
                tracing::info!(instance, link = %name, "replacing an address link of an earlier run that does not match");
                netlink.delete(index, &name).await?;
                let index = create(netlink, &name, &link.base, kind, &alias).await?;
                (name, index, true)
            }
            Choice::Create { name } => {
                let index = create(netlink, &name, &link.base, kind, &alias).await?;
                (name, index, true)
            }
        };
        if name != link.name {
            tracing::info!(instance, planned = %link.name, link = %name, "the address link goes by another name");
        }
        link.name = name.clone();
        let held = Held {
            name,
            index,
            base: link.base.clone(),
            ours,
            ipv4: link.family == Family::Ipv4,
        };
        // keepalived: no IPv6 on an IPv4 address's link.
        configure(&held, link.family == Family::Ipv4);
        netlink.set_up(index, &held.name).await?;
        if link.family == Family::Ipv6 {
            // keepalived's `set_link_local_address` for the address link: the base's.
            let source = baton_net::primary_address(&link.base, baton_net::Family::Ipv6)
                .ok()
                .or_else(|| eui64_link_local(&link.base));
            if let Some(address) = source {
                add_address(&held.name, address, 64).await;
            }
        }
        self.held.push(held);
        Ok(())
    }

    /// Removes the links baton made that `next` (the configuration taking over, none on
    /// stop) does not use, and puts back what they changed on their bases.
    pub(crate) async fn retire(self, next: Option<&Links>) {
        let keep = |name: &str| next.is_some_and(|n| n.held.iter().any(|h| h.name == name));
        let (kept, gone): (Vec<Held>, Vec<Held>) =
            self.held.into_iter().partition(|h| keep(&h.name));
        // `next` counted the kept links on their bases again when it found them.
        for held in kept.iter().filter(|h| h.ipv4) {
            release_base(&held.base);
        }
        if !gone.is_empty() {
            match VirtualLinks::new() {
                Ok(netlink) => {
                    for held in &gone {
                        remove(&netlink, held).await;
                    }
                }
                Err(error) => tracing::error!("removing virtual links: {error}"),
            }
        }
        if next.is_none() {
            restore_host();
        }
    }
}

/// Whether instance `name`'s addresses go on other devices in `new` than in `old` (a
/// virtual link added, dropped or renamed): the engine sees no change there, but the
/// instance must restart so that its addresses move with the link.
pub(crate) fn relinked(old: &Config, new: &Config, name: &str) -> bool {
    let devices = |config: &Config| {
        let instance = config.instances.iter().find(|i| i.name == name)?;
        let devices: Vec<String> = instance
            .all_addresses()
            .map(|v| instance.device_of(v).to_owned())
            .collect();
        Some((devices, instance.vmac.clone()))
    };
    devices(old) != devices(new)
}

/// The link of `instance`: found when a matching one exists, else made; then configured
/// and set up.
async fn bring_up(netlink: &VirtualLinks, instance: &VrrpInstance) -> anyhow::Result<Held> {
    let link = instance.vmac.as_ref().expect("filtered");
    let name = link.name.as_str();
    let base = instance.interface.as_str();
    let family = instance.family();
    let parent = baton_net::interface_index(base)?;
    let kind = match link.kind {
        VirtualLinkKind::Macvlan { .. } => baton_net::VirtualLinkKind::Macvlan {
            mac: link
                .mac(instance.vrid, family)
                .expect("a macvlan has a MAC"),
        },
        VirtualLinkKind::Ipvlan { flags, .. } => baton_net::VirtualLinkKind::Ipvlan {
            flags: flags.bits(),
        },
    };
    let alias = format!("{ALIAS} {}", instance.name);
    let existing = netlink.find(name).await?;
    let (index, ours) = match existing {
        Some(state) if state.matches(kind, parent) => {
            let ours = is_ours(&state);
            tracing::info!(instance = %instance.name, link = name, ours, "using the virtual link that exists");
            (state.index, ours)
        }
        Some(state) if is_ours(&state) => {
            // keepalived updates a VMAC of its own with the wrong MAC or mode.
            tracing::info!(instance = %instance.name, link = name, "replacing a virtual link of an earlier run that does not match");
            netlink.delete(state.index, name).await?;
            (create(netlink, name, base, kind, &alias).await?, true)
        }
        Some(state) => anyhow::bail!(
            "interface {name} exists and is not {} on {base} (it is {}); baton does not change \
             an interface it did not make: remove it, or write another name after use_vmac / use_ipvlan",
            describe(kind),
            state.kind.as_deref().unwrap_or("a device"),
        ),
        None => (create(netlink, name, base, kind, &alias).await?, true),
    };
    let ipv4 = family == Family::Ipv4 && matches!(kind, baton_net::VirtualLinkKind::Macvlan { .. });
    let held = Held {
        name: name.to_owned(),
        index,
        base: base.to_owned(),
        ours,
        ipv4,
    };
    // "We don't want IPv6 running on the interface unless we have some IPv6 eVIPs".
    let other_family = instance
        .all_addresses()
        .any(|v| Family::of(v.address) != instance.family());
    configure(&held, instance.family() == Family::Ipv4 && !other_family);
    netlink.set_up(index, name).await?;
    add_own_address(instance, name).await;
    Ok(held)
}

async fn create(
    netlink: &VirtualLinks,
    name: &str,
    base: &str,
    kind: baton_net::VirtualLinkKind,
    alias: &str,
) -> anyhow::Result<u32> {
    let made = netlink.create(name, base, kind, alias).await;
    match (made, kind) {
        (Ok(index), _) => {
            tracing::info!(link = name, base, "made {}", describe(kind));
            Ok(index)
        }
        (Err(error), baton_net::VirtualLinkKind::Ipvlan { .. }) if lacks_kind(&error) => {
            Err(anyhow::anyhow!(error)).context(
                "this kernel has no ipvlan support (CONFIG_IPVLAN, module ipvlan): use_ipvlan needs it; use_vmac (macvlan) may do",
            )
        }
        (Err(error), _) => Err(error.into()),
    }
}

/// The kernel's answer to a link kind it has no driver for (after trying to load one).
fn lacks_kind(error: &baton_net::Error) -> bool {
    // EOPNOTSUPP ("Unknown device type"), or ENOENT from some kernels.
    matches!(
        error,
        baton_net::Error::Interface { source, .. }
            if matches!(source.kind(), std::io::ErrorKind::Unsupported | std::io::ErrorKind::NotFound)
    )
}

fn describe(kind: baton_net::VirtualLinkKind) -> String {
    match kind {
        baton_net::VirtualLinkKind::Macvlan { mac } => {
            let mac: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
            format!("a private macvlan with MAC {}", mac.join(":"))
        }
        baton_net::VirtualLinkKind::Ipvlan { flags } => format!("an L2 ipvlan with flags {flags}"),
    }
}

fn is_ours(state: &LinkState) -> bool {
    state.alias.as_deref().is_some_and(|a| a.starts_with(ALIAS))
}

/// keepalived's settings for the link (before it is up) and, for IPv4, its base; IPv6 off
/// when `ipv6_off`, and no link-local address made from the MAC (RFC 5798 7.4).
fn configure(held: &Held, ipv6_off: bool) {
    let name = held.name.as_str();
    set(
        &format!("ipv6/conf/{name}/disable_ipv6"),
        u32::from(ipv6_off),
    );
    set(&format!("ipv6/conf/{name}/addr_gen_mode"), 1);
    if !held.ipv4 {
        return;
    }
    lower_all_rp_filter();
    for (key, value) in [
        ("arp_ignore", 1),
        ("accept_local", 1),
        ("rp_filter", 0),
        ("promote_secondaries", 1),
    ] {
        set(&format!("ipv4/conf/{name}/{key}"), value);
    }
    let mut host = host();
    let base = held.base.as_str();
    if let Some((count, _, _)) = host.bases.get_mut(base) {
        *count += 1;
        return;
    }
    let arp_ignore = get(&format!("ipv4/conf/{base}/arp_ignore")).unwrap_or(0);
    let arp_filter = get(&format!("ipv4/conf/{base}/arp_filter")).unwrap_or(0);
    host.bases
        .insert(base.to_owned(), (1, arp_ignore, arp_filter));
    set(&format!("ipv4/conf/{base}/arp_ignore"), 1);
    set(&format!("ipv4/conf/{base}/arp_filter"), 1);
}

/// An IPv6 link that sends adverts gets the address they come from (keepalived's
/// `set_link_local_address`); an ipvlan gets the address written after `use_ipvlan`.
async fn add_own_address(instance: &VrrpInstance, name: &str) {
    let link = instance.vmac.as_ref().expect("filtered");
    let address = match link.kind {
        VirtualLinkKind::Ipvlan {
            address: Some((address, prefix)),
            ..
        } => Some((address, prefix)),
        _ if instance.family() == Family::Ipv6 && !link.xmit_base => {
            let source = instance
                .source_address
                .or_else(|| {
                    baton_net::primary_address(&instance.interface, baton_net::Family::Ipv6).ok()
                })
                .or_else(|| eui64_link_local(&instance.interface));
            source.map(|a| (a, 64))
        }
        _ => None,
    };
    if let Some((address, prefix)) = address {
        add_address(name, address, prefix).await;
    }
}

async fn add_address(name: &str, address: IpAddr, prefix: u8) {
    let added = match baton_net::Addresses::new() {
        Ok(addresses) => addresses.add(name, address, prefix, None).await,
        Err(error) => Err(error),
    };
    match added {
        Ok(()) => tracing::info!(link = name, %address, "added the link's own address"),
        Err(error) => {
            tracing::error!(link = name, %address, "adding the link's own address: {error}")
        }
    }
}

/// fe80::/64 with the modified EUI-64 of `interface`'s MAC.
fn eui64_link_local(interface: &str) -> Option<IpAddr> {
    let mac = baton_net::mac_address(interface).ok()?;
    let segments = [
        0xfe80,
        0,
        0,
        0,
        u16::from_be_bytes([mac[0] ^ 0x02, mac[1]]),
        u16::from_be_bytes([mac[2], 0xff]),
        u16::from_be_bytes([0xfe, mac[3]]),
        u16::from_be_bytes([mac[4], mac[5]]),
    ];
    let [a, b, c, d, e, f, g, h] = segments;
    Some(IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)))
}

async fn remove(netlink: &VirtualLinks, held: &Held) {
    if held.ipv4 {
        release_base(&held.base);
    }
    if !held.ours {
        tracing::info!(link = %held.name, "leaving the virtual link baton did not make");
        return;
    }
    match netlink.delete(held.index, &held.name).await {
        Ok(()) => tracing::info!(link = %held.name, "removed the virtual link"),
        Err(error) => tracing::error!(link = %held.name, "{error}"),
    }
}

/// One link fewer on `base`; the last one gives it its ARP settings back.
fn release_base(base: &str) {
    let mut host = host();
    let Some((count, arp_ignore, arp_filter)) = host.bases.get_mut(base) else {
        return;
    };
    *count -= 1;
    if *count == 0 {
        let (arp_ignore, arp_filter) = (*arp_ignore, *arp_filter);
        host.bases.remove(base);
        set(&format!("ipv4/conf/{base}/arp_ignore"), arp_ignore);
        set(&format!("ipv4/conf/{base}/arp_filter"), arp_filter);
    }
}

/// keepalived's `clear_rp_filter`: a macvlan needs rp_filter 0, which only holds when
/// `all` is 0; so `default` and every interface below `all`'s value are raised to it first,
/// and `all` is then lowered: no interface changes behaviour.
fn lower_all_rp_filter() {
    let mut host = host();
    if host.rp_filter.is_some() {
        return;
    }
    let Ok(all) = get("ipv4/conf/all/rp_filter") else {
        return;
    };
    if all == 0 {
        return;
    }
    let mut raised = Vec::new();
    let names = std::fs::read_dir("/proc/sys/net/ipv4/conf")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n != "all");
    for name in names {
        let path = format!("ipv4/conf/{name}/rp_filter");
        if let Ok(value) = get(&path)
            && value < all
        {
            set(&path, all);
            raised.push((name, value));
        }
    }
    tracing::info!(
        "setting net.ipv4.conf.all.rp_filter from {all} to 0 for the virtual MACs (as keepalived)"
    );
    set("ipv4/conf/all/rp_filter", 0);
    host.rp_filter = Some((all, raised));
}

/// `disable_local_igmp`: no IGMP reports for link-local groups while the daemon runs.
fn disable_local_igmp() {
    let mut host = host();
    if host.igmp_reports.is_some() {
        return;
    }
    match get("ipv4/igmp_link_local_mcast_reports") {
        Ok(value) => {
            host.igmp_reports = Some(value);
            set("ipv4/igmp_link_local_mcast_reports", 0);
        }
        Err(error) => tracing::error!(
            "disable_local_igmp: the kernel does not support net.ipv4.igmp_link_local_mcast_reports: {error}"
        ),
    }
}

/// On stop: every namespace-wide setting back as it was (keepalived's
/// `restore_rp_filter`, `reset_disable_local_igmp`), only where it still holds our value.
fn restore_host() {
    let mut host = host();
    if let Some((all, raised)) = host.rp_filter.take() {
        if get("ipv4/conf/all/rp_filter") == Ok(0) {
            set("ipv4/conf/all/rp_filter", all);
        }
        for (name, value) in raised {
            let path = format!("ipv4/conf/{name}/rp_filter");
            if get(&path) == Ok(all) {
                set(&path, value);
            }
        }
    }
    if let Some(value) = host.igmp_reports.take() {
        set("ipv4/igmp_link_local_mcast_reports", value);
    }
}

fn get(path: &str) -> Result<u32, String> {
    read_sysctl(path).map_err(|e| e.to_string())
}

fn set(path: &str, value: u32) {
    if let Err(error) = write_sysctl(path, value) {
        tracing::warn!("setting net.{} to {value}: {error}", path.replace('/', "."));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_links_with_batons_alias_are_ours() {
        let mut state = LinkState {
            index: 4,
            kind: Some("macvlan".into()),
            parent: Some(2),
            mac: None,
            macvlan_private: true,
            ipvlan_l2_flags: None,
            alias: None,
            up: true,
        };
        assert!(!is_ours(&state));
        state.alias = Some("baton vmac VI_1".into());
        assert!(is_ours(&state));
        state.alias = Some("made by hand".into());
        assert!(!is_ours(&state));
    }

    #[test]
    fn a_missing_ipvlan_driver_is_told_apart() {
        let error = |code| baton_net::Error::Interface {
            interface: "vrrp.1".into(),
            operation: "creating an ipvlan",
            source: std::io::Error::from_raw_os_error(code),
        };
        // EOPNOTSUPP and EEXIST on Linux.
        assert!(lacks_kind(&error(95)));
        assert!(!lacks_kind(&error(17)));
    }
}

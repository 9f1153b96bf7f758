//! Where keepalived 2.2.7 puts an instance's addresses that are not on its own link
//! (`vrrp_complete_instance`): with `use_vmac_addr`, or an address's own `use_vmac`, an
//! address on another interface (`dev`), or of the other family than the instance's, goes
//! on a private macvlan of its own on that interface, with the VRRP virtual MAC of its
//! family; and every link the configuration makes gets its name here, in keepalived's
//! order (`create_vmac_name`).

use crate::basics::Family;
use crate::diagnostic::Diagnostics;
use crate::model::VrrpInstance;
use crate::vmac::{
    AddressLink, DEFAULT_PREFIX, VirtualLinkKind, VmacGlobal, address_link_mac, free_name,
};

/// Decides which addresses get a link and names every link: instance by instance, its own
/// unnamed link first, then its address links, each the first free name (written names are
/// taken before any is picked). Addresses (or an instance) that want a link on the same
/// interface with the same MAC share one, as keepalived finds such a link by its MAC.
pub(crate) fn plan(instances: &mut [VrrpInstance], global: &VmacGlobal, d: &mut Diagnostics) {
    for instance in instances.iter_mut() {
        place(instance, d);
    }
    let mut taken: Vec<String> = instances
        .iter()
        .filter_map(|i| i.vmac.as_ref())
        .filter(|l| l.name_written)
        .map(|l| l.name.clone())
        .collect();
    // (interface, MAC) -> the name of the link there.
    let mut made: Vec<(String, [u8; 6], String)> = Vec::new();
    let addr_prefix = global
        .addr_prefix
        .as_deref()
        .or(global.prefix.as_deref())
        .unwrap_or(DEFAULT_PREFIX)
        .to_owned();
    for instance in instances.iter_mut() {
        let (vrid, family) = (instance.vrid, instance.family());
        let interface = instance.interface.clone();
        if let Some(link) = instance.vmac.as_mut() {
            let mac = link.mac(vrid, family);
            let shared = mac.and_then(|mac| on(&made, &interface, mac));
            if !link.name_written {
                link.name = shared.unwrap_or_else(|| free_name(&link.prefix, vrid, family, &taken));
                taken.push(link.name.clone());
            }
            if let Some(mac) = mac {
                made.push((interface.clone(), mac, link.name.clone()));
            }
        }
        let mut links: Vec<AddressLink> = Vec::new();
        for vip in instance.all_addresses().filter(|v| v.use_vmac) {
            let family = Family::of(vip.address);
            let base = vip.dev.clone().unwrap_or_else(|| interface.clone());
            let mac = address_link_mac(instance.vmac.as_ref(), vrid, family);
            if links.iter().any(|l| l.base == base && l.mac == mac) {
                continue;
            }
            let name = on(&made, &base, mac).unwrap_or_else(|| {
                let name = free_name(&addr_prefix, vrid, family, &taken);
                taken.push(name.clone());
                made.push((base.clone(), mac, name.clone()));
                name
            });
            links.push(AddressLink {
                name,
                base,
                mac,
                family,
                prefix: addr_prefix.clone(),
            });
        }
        instance.address_links.links = links;
    }
}

fn on(made: &[(String, [u8; 6], String)], base: &str, mac: [u8; 6]) -> Option<String> {
    made.iter()
        .find(|(b, m, _)| b == base && *m == mac)
        .map(|(_, _, name)| name.clone())
}

/// keepalived's rules for one instance: an address on the instance's interface (no `dev`,
/// or its own) of the instance's family goes on the instance's vmac when it has one, and
/// needs no link of its own (its `use_vmac` is ignored, with keepalived's complaint); any
/// other address gets a link with its own `use_vmac`, or with `use_vmac_addr` when it is
/// on another interface or of the other family. Afterwards `use_vmac` says whether the
/// address has a link.
fn place(instance: &mut VrrpInstance, d: &mut Diagnostics) {
    let own_macvlan = matches!(
        instance.vmac.as_ref().map(|l| l.kind),
        Some(VirtualLinkKind::Macvlan { .. })
    );
    let use_vmac_addr = instance.address_links.use_vmac_addr;
    let family = instance.family();
    let name = instance.name.clone();
    let interface = instance.interface.clone();
    let addresses = instance
        .virtual_addresses
        .iter_mut()
        .chain(instance.excluded_addresses.iter_mut());
    for vip in addresses {
        let on_own = vip.dev.as_deref().is_none_or(|dev| dev == interface);
        let same_family = Family::of(vip.address) == family;
        let address = vip.address;
        if vip.use_vmac && on_own && same_family && own_macvlan {
            d.warn(
                &vip.location,
                format!("instance {name}: use_vmac on {address}: it goes on the instance's own vmac already; ignored (as keepalived)"),
            );
        } else if vip.use_vmac && use_vmac_addr && (!on_own || !same_family) {
            d.warn(
                &vip.location,
                format!("instance {name}: use_vmac on {address} with use_vmac_addr, which gives it its link already (as keepalived says)"),
            );
        }
        vip.use_vmac = if on_own {
            !(own_macvlan && same_family) && (vip.use_vmac || (use_vmac_addr && !same_family))
        } else {
            vip.use_vmac || use_vmac_addr
        };
    }
}

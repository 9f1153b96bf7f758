//! keepalived's `garp_extra_if` / `vrrp_garp_extra_if` (`vrrp_send_vmac_update`): while an
//! instance is master, a gratuitous ARP / unsolicited NA every interval on each interface
//! other than its own that holds one of its addresses (with `all`, also interfaces that
//! are not virtual links; address links of `use_vmac_addr` / an address's `use_vmac` are),
//! and on its own vmac too with `vmac_xmit_base`; one message per
//! interface, for the first address there, as keepalived sends. An instance whose addresses
//! are all on its own interface sends nothing extra (keepalived turns the interval off).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use baton_config::VrrpInstance;
use baton_vrrp::VipAction;
use tokio::task::JoinHandle;

/// The periodic announcements of the instances that are master, by instance name.
#[derive(Debug, Default)]
pub(crate) struct ExtraIfGarps {
    tasks: HashMap<String, JoinHandle<()>>,
    /// The namespace's announcement sockets, from the first instance that needs them.
    announcer: Option<baton_net::Announcer>,
}

impl ExtraIfGarps {
    /// Follows the engine's address actions: on while the addresses are on, off after.
    pub(crate) fn apply(&mut self, instance: &VrrpInstance, action: &VipAction) {
        match action {
            VipAction::Add { .. } => {
                let Some((interval, targets)) = targets(instance) else {
                    return;
                };
                let announcer = match self
                    .announcer
                    .clone()
                    .map_or_else(baton_net::Announcer::new, Ok)
                {
                    Ok(announcer) => announcer,
                    Err(error) => {
                        tracing::warn!(instance = %instance.name, "garp_extra_if: {error}");
                        return;
                    }
                };
                self.announcer = Some(announcer.clone());
                // Each interval, one message per interface, its link read for it: read
                // afresh each time, since a MAC changed in place between two would go
                // unnoticed otherwise (nothing here watches the links).
                let task = tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(interval).await;
                        for (dev, address) in &targets {
                            super::vips::send(&announcer, dev, *address).await;
                        }
                    }
                });
                if let Some(old) = self.tasks.insert(instance.name.clone(), task) {
                    old.abort();
                }
            }
            VipAction::Remove { .. } => {
                if let Some(task) = self.tasks.remove(&instance.name) {
                    task.abort();
                }
            }
            _ => {}
        }
    }
}

impl Drop for ExtraIfGarps {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.abort();
        }
    }
}

/// The interval and the (interface, address) pairs to announce, or `None` when keepalived
/// would send nothing extra.
fn targets(instance: &VrrpInstance) -> Option<(Duration, Vec<(String, IpAddr)>)> {
    let extra = instance.garp_extra_if?;
    let own = instance.address_interface();
    let link = instance.vmac.as_ref().map(|l| l.name.as_str());
    let xmit_base = instance.vmac.as_ref().is_some_and(|l| l.xmit_base);
    let placed: Vec<(&str, IpAddr)> = instance
        .all_addresses()
        .map(|v| (instance.device_of(v), v.address))
        .collect();
    let address_link = |dev: &str| instance.address_links.links.iter().any(|l| l.name == dev);
    // keepalived turns the interval off without addresses elsewhere, and without address
    // links (extra vmacs) unless `all`.
    let extra_if = placed.iter().any(|(dev, _)| *dev != own);
    let extra_vmac = placed.iter().any(|(dev, _)| address_link(dev));
    if !extra_if || !(extra_vmac || extra.all) {
        return None;
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut targets = Vec::new();
    for (dev, address) in placed {
        let virtual_link = Some(dev) == link || address_link(dev);
        if (!virtual_link && !extra.all) || (dev == own && !xmit_base) || seen.contains(&dev) {
            continue;
        }
        seen.push(dev);
        targets.push((dev.to_owned(), address));
    }
    (!targets.is_empty()).then_some((extra.interval, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(body: &str) -> VrrpInstance {
        let text = format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 9\n{body} virtual_ipaddress {{\n 10.0.0.1/24\n 10.0.0.2/24\n 10.0.1.1/24 dev eth1\n 10.0.1.2/24 dev eth1\n }}\n}}\n"
        );
        let loaded = baton_config::parse_keepalived(&text, "k.conf").expect("valid");
        loaded.config.instances[0].clone()
    }

    fn pairs(instance: &VrrpInstance) -> Option<(u64, Vec<(String, String)>)> {
        targets(instance).map(|(interval, targets)| {
            let targets = targets
                .into_iter()
                .map(|(d, a)| (d, a.to_string()))
                .collect();
            (interval.as_secs(), targets)
        })
    }

    fn pair(dev: &str, address: &str) -> (String, String) {
        (dev.to_owned(), address.to_owned())
    }

    #[test]
    fn the_first_address_of_each_other_interface_with_all() {
        assert_eq!(pairs(&instance(" use_vmac\n garp_extra_if 5\n")), None);
        assert_eq!(
            pairs(&instance(" use_vmac\n garp_extra_if all 5\n")),
            Some((5, vec![pair("eth1", "10.0.1.1")]))
        );
        // With vmac_xmit_base the vmac's addresses are announced too (adverts do not go
        // out from it).
        assert_eq!(
            pairs(&instance(
                " use_vmac\n vmac_xmit_base\n garp_extra_if all 7\n"
            )),
            Some((
                7,
                vec![pair("vrrp.9", "10.0.0.1"), pair("eth1", "10.0.1.1")]
            ))
        );
        // Address links count without `all`: the first address on each.
        assert_eq!(
            pairs(&instance(" use_vmac_addr\n garp_extra_if 5\n")),
            Some((5, vec![pair("vrrp.9", "10.0.1.1")]))
        );
        // Without a vmac the same for a plain instance.
        assert_eq!(
            pairs(&instance(" garp_extra_if all 3\n")),
            Some((3, vec![pair("eth1", "10.0.1.1")]))
        );
        assert_eq!(pairs(&instance("")), None);
    }
}

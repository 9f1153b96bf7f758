//! Virtual addresses on the host: added and removed over rtnetlink, announced with
//! gratuitous ARP / unsolicited NA on tasks of their own.

use std::net::IpAddr;

use anyhow::Context as _;
use baton_config::{AnnouncePacing, Config, VirtualAddress, VrrpInstance};
use baton_vrrp::VipAction;

#[derive(Debug)]
pub(crate) struct Vips {
    addresses: baton_net::Addresses,
    /// Every virtual address of the configuration, to clean up after a crash.
    all: Vec<(String, VirtualAddress)>,
}

impl Vips {
    pub(crate) async fn new(config: &Config) -> anyhow::Result<Vips> {
        let addresses = baton_net::Addresses::new().context("opening rtnetlink")?;
        let all = config
            .instances
            .iter()
            .flat_map(|instance| {
                instance
                    .all_addresses()
                    .map(move |vip| (device(instance, vip).to_owned(), vip.clone()))
            })
            .collect();
        Ok(Vips { addresses, all })
    }

    /// A previous run that was killed may have left its VIPs behind; starting as BACKUP
    /// with them still configured would answer ARP for addresses the master holds.
    pub(crate) async fn remove_leftovers(&self) {
        for (dev, vip) in &self.all {
            let listed = self.addresses.list(dev).await.unwrap_or_default();
            // The kernel matches address and prefix length: remove with the prefix it has.
            for (address, prefix_len, _) in listed.into_iter().filter(|(a, _, _)| *a == vip.address)
            {
                tracing::warn!(%address, %dev, "removing a virtual address left over from an earlier run");
                if let Err(error) = self.addresses.remove(dev, address, prefix_len).await {
                    tracing::error!(%address, %dev, "{error}");
                }
            }
        }
    }

    pub(crate) async fn apply(&self, instance: &VrrpInstance, action: VipAction) {
        match action {
            VipAction::Add { .. } => {
                for vip in instance.all_addresses() {
                    let dev = device(instance, vip);
                    let options = baton_net::AddOptions {
                        label: vip.label.as_deref(),
                        broadcast: vip.broadcast,
                        scope: vip.scope.map(|scope| scope.rt_scope()),
                    };
                    let result = self
                        .addresses
                        .add_with(dev, vip.address, vip.prefix_len, &options)
                        .await;
                    match result {
                        Ok(()) => {
                            tracing::info!(instance = %instance.name, address = %vip.address, %dev, "added")
                        }
                        Err(error) => {
                            tracing::error!(instance = %instance.name, address = %vip.address, %dev, "adding: {error}")
                        }
                    }
                }
            }
            VipAction::Remove { .. } => {
                for vip in instance.all_addresses() {
                    let dev = device(instance, vip);
                    match self
                        .addresses
                        .remove(dev, vip.address, vip.prefix_len)
                        .await
                    {
                        Ok(()) => {
                            tracing::info!(instance = %instance.name, address = %vip.address, %dev, "removed")
                        }
                        Err(error) => {
                            tracing::error!(instance = %instance.name, address = %vip.address, %dev, "removing: {error}")
                        }
                    }
                }
            }
            VipAction::Announce { repeat, .. } => {
                let targets: Vec<(String, IpAddr)> = instance
                    .all_addresses()
                    .map(|vip| (device(instance, vip).to_owned(), vip.address))
                    .collect();
                tokio::spawn(announce(targets, repeat, instance.announce_pacing));
            }
        }
    }
}

fn device<'a>(instance: &'a VrrpInstance, vip: &'a VirtualAddress) -> &'a str {
    vip.dev.as_deref().unwrap_or(&instance.interface)
}

/// `repeat` rounds of one gratuitous ARP or unsolicited NA per address, each followed by
/// its family's pause (`vrrp_garp_interval` / `vrrp_gna_interval`; none by default).
async fn announce(targets: Vec<(String, IpAddr)>, repeat: u32, pacing: AnnouncePacing) {
    for _ in 0..repeat {
        for (dev, address) in &targets {
            let (result, pause) = match address {
                IpAddr::V4(v4) => (
                    baton_net::send_gratuitous_arp(dev, *v4).await,
                    pacing.garp_interval,
                ),
                IpAddr::V6(v6) => (
                    baton_net::send_unsolicited_na(dev, *v6).await,
                    pacing.gna_interval,
                ),
            };
            if let Err(error) = result {
                tracing::warn!(%address, %dev, "announcing: {error}");
            }
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    }
}

//! keepalived's `track_src_ip`: an instance is in FAULT while its configured source address
//! (`unicast_src_ip` / `mcast_src_ip`) is not on its interface nor its virtual link.
//!
//! Where each address is gets read when the watch is prepared (so an instance whose address
//! is missing starts in FAULT), then again each time the kernel reports that address added
//! or removed anywhere, or that notifications were lost. Reading the kernel's state again,
//! instead of keeping a copy of every interface's addresses, keeps renamed and recreated
//! interfaces right without following them.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::Context as _;
use baton_net::{AddressChange, AddressWatcher};
use tokio::task::JoinHandle;

use super::plan::{TrackKey, TrackTarget};

/// Tells one target of a tracked object whether the object is up.
pub(crate) type Report = dyn FnMut(&TrackKey, TrackTarget, bool) + Send;

/// How long to wait before subscribing again when the netlink subscription ended.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// One source address: where it belongs, who tracks it, and what they were last told.
#[derive(Debug)]
struct Watched {
    key: TrackKey,
    address: IpAddr,
    interfaces: Vec<String>,
    targets: Vec<TrackTarget>,
    present: bool,
}

impl Watched {
    /// Reads where the address is now; true when that changed what the targets know.
    fn reread(&mut self) -> bool {
        let present = is_present(self.address, &self.interfaces);
        let changed = present != self.present;
        self.present = present;
        changed
    }

    fn tell(&self, report: &mut Report) {
        for target in &self.targets {
            report(&self.key, *target, self.present);
        }
    }
}

/// The source addresses of a configuration, subscribed to and read, not yet followed.
#[derive(Debug)]
pub(crate) struct SourceAddressWatch {
    watcher: AddressWatcher,
    watched: Vec<Watched>,
}

impl SourceAddressWatch {
    /// Subscribes to address changes, then reads where each tracked address is (in that
    /// order, so no change falls between the two) and tells every target. `tracked` holds
    /// the `TrackKey::SourceAddress` keys of the plan; others are ignored.
    pub(crate) fn prepare(
        tracked: Vec<(TrackKey, Vec<TrackTarget>)>,
        report: &mut Report,
    ) -> anyhow::Result<SourceAddressWatch> {
        let watcher = AddressWatcher::new().context("subscribing to address events")?;
        let mut watched = Vec::new();
        for (key, targets) in tracked {
            let TrackKey::SourceAddress {
                address,
                interfaces,
            } = &key
            else {
                continue;
            };
            let (address, interfaces) = (*address, interfaces.clone());
            let present = is_present(address, &interfaces);
            if !present {
                tracing::warn!(object = %key, "track_src_ip: the source address is not there: FAULT until it is");
            }
            let entry = Watched {
                key,
                address,
                interfaces,
                targets,
                present,
            };
            entry.tell(report);
            watched.push(entry);
        }
        Ok(SourceAddressWatch { watcher, watched })
    }

    /// Follows the addresses, telling the targets of each one whose presence changes.
    pub(crate) fn spawn(self, mut report: Box<Report>) -> JoinHandle<()> {
        let SourceAddressWatch {
            mut watcher,
            mut watched,
        } = self;
        tokio::spawn(async move {
            loop {
                let concerned = match watcher.next().await {
                    Some(AddressChange::Added { address, .. })
                    | Some(AddressChange::Removed { address, .. }) => Some(address),
                    Some(_) => None,
                    None => {
                        tracing::error!(
                            "track_src_ip: the address event subscription ended; subscribing again"
                        );
                        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
                        match AddressWatcher::new() {
                            Ok(again) => watcher = again,
                            Err(error) => {
                                tracing::error!("track_src_ip: {error}");
                                continue;
                            }
                        }
                        None
                    }
                };
                for entry in &mut watched {
                    if concerned.is_some_and(|address| address != entry.address) {
                        continue;
                    }
                    if entry.reread() {
                        if entry.present {
                            tracing::info!(object = %entry.key, "track_src_ip: the source address is back");
                        } else {
                            tracing::warn!(object = %entry.key, "track_src_ip: the source address is gone: FAULT");
                        }
                        entry.tell(&mut *report);
                    }
                }
            }
        })
    }
}

/// Whether `address` is on one of `interfaces`; an interface that cannot be read does not
/// have it.
fn is_present(address: IpAddr, interfaces: &[String]) -> bool {
    interfaces.iter().any(|interface| {
        baton_net::interface_has_address(interface, address).unwrap_or_else(|error| {
            tracing::warn!("track_src_ip: {error}");
            false
        })
    })
}

//! `baton instance step-down` of a master whose frontends serve its IPv4 VIPs: the
//! hand-over of `switchover` for the instances stepped down, while the daemon goes on
//! running. They go BACKUP at once (the priority-0 advertisement lets a backup take the
//! VIPs after Skew_Time, and arms the handoff there with the offer sent first: see
//! `handoff_offer`), but their addresses stay here,
//! unannounced (`quiet_vips`), until the frontends' connections on them end, at most the
//! longest drain_timeout after the takeover; meanwhile the new master hands those
//! connections' packets back (`handoff`). The listeners keep running: a backup listens on
//! the VIPs it may take back. An instance that becomes master again first ends its
//! hand-over there: its quiet entries go before its addresses are announced.
//!
//! An instance whose VIPs no frontend serves (nothing to hand over), one with an IPv6 VIP,
//! or nftables refusing the table: the addresses go at once, as before.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use baton_config::{Config, VrrpInstance};
use baton_vrrp::VipAction;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::handoff;
use super::handoff_offer_socket;
use super::handshakes;
use super::quiet_vips::{self, Kept, QuietVips};
use super::switchover;
use super::vips::Vips;

/// The hand-overs under way, by instance name.
pub(super) struct StepDowns {
    pending: BTreeMap<String, Pending>,
    /// Each hand-over's wait reports here when its connections ended.
    ended_tx: mpsc::UnboundedSender<Ended>,
    ended: mpsc::UnboundedReceiver<Ended>,
    /// Numbers the hand-overs, so that the end of one cancelled meanwhile is not taken
    /// for the end of a later one of the same instance.
    serial: u64,
}

struct Pending {
    instance: VrrpInstance,
    kept: Vec<Kept>,
    /// The engine's removal of the addresses, carried out when the hand-over ends.
    removal: Option<VipAction>,
    serial: u64,
    wait: JoinHandle<()>,
}

/// A hand-over whose connections ended: see [`StepDowns::finish`].
pub(super) struct Ended {
    name: String,
    serial: u64,
}

impl StepDowns {
    pub(super) fn new() -> StepDowns {
        let (ended_tx, ended) = mpsc::unbounded_channel();
        StepDowns {
            pending: BTreeMap::new(),
            ended_tx,
            ended,
            serial: 0,
        }
    }

    /// `instance`, master until now, was stepped down, and the engine's outputs are not
    /// carried out yet: from here its addresses are kept quietly, if it has connections to
    /// hand over.
    pub(super) async fn begin(&mut self, config: &Config, instance: &VrrpInstance) {
        let served = served(config, instance);
        if served.is_empty() || self.pending.contains_key(&instance.name) {
            return;
        }
        let Some(kept) = switchover::kept_quietly([instance]) else {
            return;
        };
        let mut all = self.kept();
        all.extend(kept.iter().cloned());
        if let Err(error) = QuietVips::install(&all).await {
            tracing::warn!(
                instance = %instance.name,
                "step-down: cannot keep the virtual addresses without announcing them, \
                 removing them at once: {error:#}"
            );
            return;
        }
        // Before the priority 0 (the caller's next output): the backup arms with both.
        handoff_offer_socket::offer_hand_back(config, instance).await;
        self.serial += 1;
        let ended = Ended {
            name: instance.name.clone(),
            serial: self.serial,
        };
        let takeover = switchover::takeover_time(config);
        let limit = handoff::longest_drain(config);
        let report = self.ended_tx.clone();
        let wait = tokio::spawn(async move {
            // Until the new master's gratuitous ARP, clients still connect here.
            tokio::time::sleep(takeover).await;
            let open = handshakes::connections_end(&served, limit).await;
            if open > 0 {
                tracing::warn!(
                    instance = %ended.name,
                    open,
                    "step-down: drain_timeout over with connections still open on the \
                     virtual addresses; they end with the addresses"
                );
            }
            let _ = report.send(ended);
        });
        tracing::info!(
            instance = %instance.name,
            "step-down: the virtual addresses stay here, unannounced, while the frontends' \
             connections on them finish"
        );
        self.pending.insert(
            instance.name.clone(),
            Pending {
                instance: instance.clone(),
                kept,
                removal: None,
                serial: self.serial,
                wait,
            },
        );
    }

    /// Whether the engine's `action` for `instance` waits for its hand-over: the removal
    /// of its addresses does, and is carried out by [`StepDowns::finish`].
    pub(super) fn holds(&mut self, instance: &VrrpInstance, action: &VipAction) -> bool {
        match self.pending.get_mut(&instance.name) {
            Some(pending) if matches!(action, VipAction::Remove { .. }) => {
                pending.removal = Some(action.clone());
                true
            }
            _ => false,
        }
    }

    /// Instance `name` becomes master again before its hand-over ended: its addresses,
    /// still here, are to be announced, so they are no longer kept quietly.
    pub(super) async fn cancel(&mut self, name: &str) {
        if let Some(pending) = self.pending.remove(name) {
            pending.wait.abort();
            tracing::info!(
                instance = name,
                "step-down: master again before the connections ended; the virtual addresses \
                 are announced again"
            );
            self.keep_the_rest().await;
        }
    }

    /// The next hand-over whose connections ended. Cancel-safe.
    pub(super) async fn next_ended(&mut self) -> Ended {
        match self.ended.recv().await {
            Some(ended) => ended,
            // The sender is ours: not before we are dropped.
            None => std::future::pending().await,
        }
    }

    /// Ends the hand-over `ended`: the addresses go, then their quiet entries.
    pub(super) async fn finish(&mut self, ended: Ended, vips: &Vips) {
        let current = self
            .pending
            .get(&ended.name)
            .is_some_and(|pending| pending.serial == ended.serial);
        let Some(pending) = current.then(|| self.pending.remove(&ended.name)).flatten() else {
            return;
        };
        if let Some(removal) = pending.removal {
            vips.apply(&pending.instance, removal).await;
        }
        self.keep_the_rest().await;
        tracing::info!(
            instance = %ended.name,
            "step-down: the connections finished; virtual addresses removed"
        );
    }

    /// The instances whose addresses are still kept (a SIGTERM keeps them on with the
    /// masters' ones: see `switchover`).
    pub(super) fn instances(&self) -> Vec<&VrrpInstance> {
        self.pending
            .values()
            .map(|pending| &pending.instance)
            .collect()
    }

    /// The daemon stops: every hand-over ends now, its removal carried out through `vips`
    /// (which holds it for the stop's own hand-over when that keeps the addresses). Whether
    /// there were any: their quiet table is the caller's to remove or to replace.
    pub(super) async fn end_all(&mut self, vips: &Vips) -> bool {
        let any = !self.pending.is_empty();
        for pending in std::mem::take(&mut self.pending).into_values() {
            pending.wait.abort();
            if let Some(removal) = pending.removal {
                vips.apply(&pending.instance, removal).await;
            }
        }
        any
    }

    fn kept(&self) -> Vec<Kept> {
        self.pending
            .values()
            .flat_map(|pending| pending.kept.iter().cloned())
            .collect()
    }

    /// The quiet table for the hand-overs still under way, or none.
    async fn keep_the_rest(&self) {
        let kept = self.kept();
        if kept.is_empty() {
            quiet_vips::remove_leftover().await;
        } else if let Err(error) = QuietVips::install(&kept).await {
            tracing::error!("step-down: rewriting the quiet table: {error:#}");
        }
    }
}

/// The frontends' addresses on `instance`'s IPv4 VIPs: where its connections are.
fn served(config: &Config, instance: &VrrpInstance) -> Vec<SocketAddr> {
    handoff::targets(config)
        .into_iter()
        .filter(|(address, _)| {
            instance
                .all_addresses()
                .any(|vip| vip.address == IpAddr::V4(*address))
        })
        .map(SocketAddr::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(listen: &str) -> Config {
        let text = format!(
            "[[vrrp]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
             priority = 100\nvirtual_ipaddress = [\"10.0.3.100\"]\n\n\
             [[vrrp]]\nname = \"VI_2\"\ninterface = \"eth0\"\nvirtual_router_id = 52\n\
             priority = 100\nvirtual_ipaddress = [\"10.0.3.101\"]\n\n\
             [[frontend]]\nname = \"web\"\nlisten = \"{listen}\"\nbackend = \"app\"\n\n\
             [[backend]]\nname = \"app\"\nservers = [\"10.0.3.11:8080\"]\n"
        );
        baton_config::parse_toml(&text, "test.toml")
            .expect("valid")
            .config
    }

    #[test]
    fn an_instance_hands_over_the_connections_on_its_own_vips() {
        let one = config("10.0.3.100:80");
        let addresses = |config: &Config, index: usize| served(config, &config.instances[index]);
        assert_eq!(
            addresses(&one, 0),
            ["10.0.3.100:80".parse::<SocketAddr>().expect("address")]
        );
        assert!(
            addresses(&one, 1).is_empty(),
            "no frontend on VI_2's VIP: nothing to hand over"
        );
        let wildcard = config("0.0.0.0:80");
        assert_eq!(
            addresses(&wildcard, 1),
            ["10.0.3.101:80".parse::<SocketAddr>().expect("address")]
        );
    }

    #[tokio::test]
    async fn without_connections_to_hand_over_the_removal_is_not_held() {
        let config = config("10.0.3.100:80");
        let mut step_downs = StepDowns::new();
        // VI_2's VIP has no frontend: begin installs nothing (no nft needed).
        step_downs.begin(&config, &config.instances[1]).await;
        assert!(step_downs.instances().is_empty());
    }
}

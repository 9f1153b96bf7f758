//! From the configuration model to what the daemon runs: the engine's router, and who
//! watches which tracked object on behalf of which instance. Pure: no I/O beyond the
//! primary-address lookup the caller passes in, so it is tested without a network.

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::Context as _;
use baton_config::{Config, Family, TrackedObject};
use baton_vrrp::{InstanceConfig, InstanceId, Router, SyncGroupConfig};

/// Where a tracked object's reports go: instance and the engine's track number there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TrackTarget {
    pub(crate) instance: InstanceId,
    pub(crate) index: usize,
    /// The engine weight, needed to turn a track file's value into an offset.
    pub(crate) weight: i32,
    /// keepalived's `reverse`: the object's state is reported inverted (see
    /// `baton_config::Track::reverse`).
    pub(crate) reverse: bool,
}

#[derive(Debug)]
pub(crate) struct Plan {
    /// One per instance, in configuration order (engine id = index).
    pub(crate) engine_configs: Vec<InstanceConfig>,
    pub(crate) sync_groups: Vec<SyncGroupConfig>,
    /// Every object to watch, with whom to tell.
    pub(crate) tracks: BTreeMap<TrackKey, Vec<TrackTarget>>,
}

/// What the plan watches: the configuration's own name for a tracked object, whose order
/// makes the plan the same on every run.
pub(crate) type TrackKey = TrackedObject;

/// Builds the router. `primary_address` finds an interface's primary address of a family
/// for instances that do not set `unicast_src_ip`.
pub(crate) fn plan(
    config: &Config,
    mut primary_address: impl FnMut(&str, Family) -> anyhow::Result<IpAddr>,
) -> anyhow::Result<Plan> {
    let mut engine_configs = Vec::new();
    let mut tracks: BTreeMap<TrackKey, Vec<TrackTarget>> = BTreeMap::new();
    for (position, instance) in config.instances.iter().enumerate() {
        let primary = match instance.source_address {
            Some(address) => address,
            None => primary_address(&instance.interface, instance.family()).with_context(|| {
                format!(
                    "instance {}: no {} address on {} to send advertisements from \
                     (set unicast_src_ip or add an address)",
                    instance.name,
                    instance.family(),
                    instance.interface
                )
            })?,
        };
        let instance_tracks = config.tracks(instance);
        for (index, track) in instance_tracks.iter().enumerate() {
            let key = track.object.clone();
            let target = TrackTarget {
                instance: InstanceId(position),
                index,
                weight: track.weight,
                reverse: track.reverse,
            };
            tracks.entry(key).or_default().push(target);
        }
        engine_configs.push(instance.engine_config(primary, &instance_tracks));
    }
    let sync_groups = config.sync_group_configs();
    // Check now, so a bad reload is refused before anything is shut down.
    Router::new(engine_configs.clone(), sync_groups.clone())
        .context("the VRRP engine refused the configuration")?;
    Ok(Plan {
        engine_configs,
        sync_groups,
        tracks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
vrrp_script chk_proxy {
    script "/bin/true"
    weight -20
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 150
    virtual_ipaddress {
        10.0.3.100/24
    }
    track_script {
        chk_proxy
    }
}
"#;

    #[test]
    fn plans_primary_addresses_and_tracked_objects() {
        let loaded = baton_config::parse_keepalived(CONF, "test.conf").expect("valid");
        let plan = plan(&loaded.config, |interface, family| {
            assert_eq!((interface, family), ("eth0", Family::Ipv4));
            Ok("10.0.3.5".parse()?)
        })
        .expect("plan");
        let instance = &plan.engine_configs[0];
        assert_eq!(
            instance.primary_address,
            "10.0.3.5".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(instance.priority.get(), 150);
        // Its own interface (weight 0: down means FAULT) and the script (weight -20).
        let interface = &plan.tracks[&TrackKey::Interface("eth0".into())];
        let script = &plan.tracks[&TrackKey::Script("chk_proxy".into())];
        assert_eq!(interface[0].weight, 0);
        assert_eq!(script[0].weight, -20);
        assert_ne!(interface[0].index, script[0].index);
    }

    #[test]
    fn a_missing_primary_address_names_the_instance_and_interface() {
        let loaded = baton_config::parse_keepalived(CONF, "test.conf").expect("valid");
        let error = plan(&loaded.config, |_, _| anyhow::bail!("no address")).expect_err("fails");
        let message = format!("{error:#}");
        assert!(
            message.contains("VI_1") && message.contains("eth0"),
            "{message}"
        );
    }
}

//! keepalived's strict RFC mode on an instance's draft: what keepalived 2.2.7's
//! `vrrp_complete_instance` refuses and what it resets (see [`crate::strict`]).

use baton_vrrp::Version;

use crate::diagnostic::Diagnostics;
use crate::model::InitialState;

use super::InstanceDraft;

/// keepalived's `VRRP_PRIO_OWNER`.
const OWNER: u8 = 255;

/// Applies strict mode to `i` when it is on (`strict_mode` written, else the global
/// `vrrp_strict`); `version` is the instance's resolved VRRP version.
pub(crate) fn enforce(i: &mut InstanceDraft, global: bool, version: Version, d: &mut Diagnostics) {
    if !i.strict_mode.unwrap_or(global) {
        return;
    }
    let name = i.name.clone();
    let at = i.location.clone();
    if i.virtual_addresses.is_empty() {
        d.error(
            &at,
            format!("instance {name}: no virtual_ipaddress; strict mode needs at least one (keepalived: \"No VIP specified; at least one is required\")"),
        );
    }
    if let Some(peer) = i.unicast_peers.first() {
        d.error(
            &peer.location,
            format!("instance {name}: unicast peers are not supported in strict mode (RFC 5798 adverts are multicast)"),
        );
    }
    if let (Some(state), Some(priority)) = (i.state, i.priority)
        && (state == InitialState::Master) != (priority == OWNER)
    {
        let fixed = if priority == OWNER {
            InitialState::Master
        } else {
            InitialState::Backup
        };
        d.warn(
            &at,
            format!("instance {name}: strict mode: state MASTER must match being the address owner (priority 255); starting as {fixed:?}, as keepalived"),
        );
        i.state = Some(fixed);
    }
    if let Some(auth) = i.auth.take() {
        d.warn(
            &auth.location,
            format!("instance {name}: strict mode does not support authentication; ignored, as keepalived"),
        );
    }
    if let Some(delay) = i.preempt_delay.take_if(|p| !p.value.is_zero()) {
        d.warn(
            &delay.at,
            format!("instance {name}: preempt_delay is incompatible with strict mode; reset to 0, as keepalived"),
        );
    }
    if i.election
        .down_timer_adverts
        .take_if(|n| *n != baton_vrrp::DEFAULT_DOWN_TIMER_ADVERTS)
        .is_some()
    {
        d.warn(
            &at,
            format!("instance {name}: down_timer_adverts is incompatible with strict mode; reset to 3, as keepalived"),
        );
    }
    if i.election.lower_prio_no_advert == Some(false) {
        d.warn(
            &at,
            format!(
                "instance {name}: strict mode requires lower_prio_no_advert; set, as keepalived"
            ),
        );
    }
    i.election.lower_prio_no_advert = Some(true);
    if i.election.higher_prio_send_advert == Some(true) {
        d.warn(
            &at,
            format!("instance {name}: strict mode requires higher_prio_send_advert to be clear; cleared, as keepalived"),
        );
    }
    i.election.higher_prio_send_advert = Some(false);
    // keepalived: "Strict mode requires no repeat garps" / "no repeat garp delay": no
    // gratuitous ARPs after a lower-priority advert, by default or else with a warning.
    let lower_prio = [
        (&mut i.garp.lower_prio_repeat, "garp_lower_prio_repeat"),
        (&mut i.garp.lower_prio_delay, "garp_lower_prio_delay"),
    ];
    for (setting, keyword) in lower_prio {
        if setting.is_some_and(|v| v != 0) {
            d.warn(
                &at,
                format!(
                    "instance {name}: strict mode requires no {keyword}; reset to 0, as keepalived"
                ),
            );
        }
        *setting = Some(0);
    }
    let owner = i.priority == Some(OWNER)
        || (i.priority.is_none() && i.state == Some(InitialState::Master));
    match i.accept {
        Some(true) if !owner && version == Version::V2 => {
            d.warn(
                &at,
                format!("instance {name}: accept does not comply with RFC 3768 (VRRPv2) in strict mode; no_accept, as keepalived"),
            );
            i.accept = Some(false);
        }
        Some(_) => {}
        // keepalived: "default is to disable accept mode unless the instance is the
        // address owner".
        None => i.accept = Some(owner),
    }
}

//! keepalived's `track_src_ip`: whether an instance goes to FAULT while its configured
//! source address is not on its interface.

use std::net::IpAddr;

use crate::diagnostic::{Diagnostics, Location};

/// `track_src_ip` (written at `written`) for an instance whose adverts go out from
/// `source`: on only when there is a configured source to track. keepalived 2.2.7 clears
/// the flag silently without one (`vrrp_complete_instance`); baton says so.
pub(crate) fn resolve(
    written: Option<Location>,
    source: Option<IpAddr>,
    instance: &str,
    d: &mut Diagnostics,
) -> bool {
    let Some(at) = written else { return false };
    if source.is_none() {
        d.warn(
            &at,
            format!(
                "instance {instance}: track_src_ip without unicast_src_ip or mcast_src_ip has \
                 no address to track; ignored (as keepalived)"
            ),
        );
        return false;
    }
    true
}

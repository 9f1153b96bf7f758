//! keepalived's `interface_up_down_delays`: per interface, how long a link must stay down
//! (or up) before the instances on it hear of it. The daemon does the waiting; here the
//! values and keepalived's cap.

use std::time::Duration;

use crate::diagnostic::{Diagnostics, WrittenAt};
use crate::model::VrrpInstance;

/// keepalived reads each delay with `read_timer(..., 0, 255 * TIMER_HZ)`.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(255);

/// One line of the block: `IFNAME DOWN_DELAY [UP_DELAY]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceDelays {
    pub interface: String,
    /// A link going down is reported after this long down.
    pub down: Duration,
    /// A link coming up is reported after this long up (default 0).
    pub up: Duration,
    pub location: WrittenAt,
}

/// keepalived (`check_debounce_timers`, `vrrp_complete_instance`): on the interface of an
/// instance the delays must stay under `down_timer_adverts - 1` advert intervals (cut to
/// that less 1/256 of an interval), and with `down_timer_adverts 1` there are none; both
/// with a warning.
pub(crate) fn cap(delays: &mut [InterfaceDelays], instances: &[VrrpInstance], d: &mut Diagnostics) {
    for entry in delays {
        for instance in instances.iter().filter(|i| i.interface == entry.interface) {
            let interval = instance.advert_interval;
            let adverts = instance.election.down_timer_adverts;
            let limit = interval * adverts.saturating_sub(1);
            let capped = if adverts <= 1 {
                Duration::ZERO
            } else {
                limit.saturating_sub(interval / 256)
            };
            let mut changed = false;
            for delay in [&mut entry.down, &mut entry.up] {
                if *delay >= limit && !delay.is_zero() {
                    *delay = capped;
                    changed = true;
                }
            }
            if changed {
                d.warn(
                    &entry.location,
                    format!(
                        "interface_up_down_delays {}: instance {} notices a lost master after {} advert intervals; the delays are cut to {} s, as keepalived",
                        entry.interface,
                        instance.name,
                        adverts,
                        crate::values::seconds(capped)
                    ),
                );
            }
        }
    }
}

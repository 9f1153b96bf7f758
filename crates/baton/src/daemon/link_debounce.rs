//! keepalived's `interface_up_down_delays`: a link that goes down (or up) is reported so only
//! once it has stayed so for the interface's delay; a change back within the delay cancels
//! it, so a short flap changes nothing. Sans-IO: the watcher feeds link events and timer
//! expiries with `now` and reports what this returns.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The delays of one interface (keepalived: `IFNAME DOWN_DELAY [UP_DELAY]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Delays {
    pub(crate) down: Duration,
    pub(crate) up: Duration,
}

#[derive(Debug)]
struct Link {
    delays: Delays,
    /// What the instances were last told.
    reported: bool,
    /// keepalived delays nothing until the link has been up once.
    seen_up: bool,
    /// A change waiting for its delay: the state, and when it is reported.
    pending: Option<(bool, Instant)>,
}

#[derive(Debug, Default)]
pub(crate) struct LinkDebounce {
    links: BTreeMap<String, Link>,
}

impl LinkDebounce {
    /// `delays` by interface; `initial` is each one's state as read at start.
    pub(crate) fn new(
        delays: impl IntoIterator<Item = (String, Delays)>,
        initial: impl Fn(&str) -> bool,
    ) -> LinkDebounce {
        let links = delays
            .into_iter()
            .map(|(name, delays)| {
                let up = initial(&name);
                let link = Link {
                    delays,
                    reported: up,
                    seen_up: up,
                    pending: None,
                };
                (name, link)
            })
            .collect();
        LinkDebounce { links }
    }

    /// The link `name` is now `up`: the state to report now, if any.
    pub(crate) fn changed(&mut self, name: &str, up: bool, now: Instant) -> Option<bool> {
        let Some(link) = self.links.get_mut(name) else {
            return Some(up);
        };
        if let Some((pending, _)) = link.pending {
            if pending == up {
                return None;
            }
            // Back to what was reported before the delay ran out: nothing happened.
            link.pending = None;
        }
        if up == link.reported {
            return None;
        }
        let delay = if up { link.delays.up } else { link.delays.down };
        if link.seen_up && !delay.is_zero() {
            link.pending = Some((up, now + delay));
            return None;
        }
        link.reported = up;
        link.seen_up |= up;
        Some(up)
    }

    /// When [`LinkDebounce::expired`] is next due.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.links
            .values()
            .filter_map(|l| l.pending.map(|(_, at)| at))
            .min()
    }

    /// The changes whose delay is over at `now`, to report.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<(String, bool)> {
        let mut due = Vec::new();
        for (name, link) in &mut self.links {
            if let Some((up, at)) = link.pending
                && at <= now
            {
                link.pending = None;
                link.reported = up;
                link.seen_up |= up;
                due.push((name.clone(), up));
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth0(down: u64, up: u64, initially_up: bool) -> LinkDebounce {
        let delays = Delays {
            down: Duration::from_secs(down),
            up: Duration::from_secs(up),
        };
        LinkDebounce::new([("eth0".to_owned(), delays)], |_| initially_up)
    }

    #[test]
    fn a_flap_shorter_than_the_delay_is_not_reported() {
        let t = Instant::now();
        let mut links = eth0(2, 0, true);
        assert_eq!(links.changed("eth0", false, t), None);
        assert_eq!(links.next_deadline(), Some(t + Duration::from_secs(2)));
        assert_eq!(
            links.changed("eth0", true, t + Duration::from_secs(1)),
            None
        );
        assert_eq!(links.next_deadline(), None);
        assert!(links.expired(t + Duration::from_secs(5)).is_empty());
    }

    #[test]
    fn a_change_that_lasts_is_reported_after_its_delay() {
        let t = Instant::now();
        let mut links = eth0(2, 1, true);
        assert_eq!(links.changed("eth0", false, t), None);
        // The same state again does not restart the delay.
        assert_eq!(
            links.changed("eth0", false, t + Duration::from_secs(1)),
            None
        );
        assert!(links.expired(t + Duration::from_millis(1999)).is_empty());
        let due = links.expired(t + Duration::from_secs(2));
        assert_eq!(due, [("eth0".to_owned(), false)]);
        // Up again: its own delay.
        assert_eq!(
            links.changed("eth0", true, t + Duration::from_secs(3)),
            None
        );
        let due = links.expired(t + Duration::from_secs(4));
        assert_eq!(due, [("eth0".to_owned(), true)]);
    }

    #[test]
    fn nothing_is_delayed_before_the_link_was_up_once_nor_without_delays() {
        let t = Instant::now();
        let mut links = eth0(2, 2, false);
        assert_eq!(links.changed("eth0", true, t), Some(true));
        assert_eq!(links.changed("eth0", false, t), None);
        assert_eq!(links.changed("wlan0", false, t), Some(false));
        let mut links = eth0(0, 3, true);
        assert_eq!(links.changed("eth0", false, t), Some(false));
    }
}

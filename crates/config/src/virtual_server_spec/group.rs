//! A `virtual_server_group` as read, and its checks (every entry of one family, ranges
//! that make sense).

use crate::basics::Family;
use crate::diagnostic::{Diagnostics, Location};
use crate::virtual_server::ServiceMatch;

/// `virtual_server_group NAME { ... }`.
#[derive(Debug, Clone)]
pub(crate) struct GroupDraft {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) entries: Vec<GroupEntry>,
}

#[derive(Debug, Clone)]
pub(crate) struct GroupEntry {
    pub(crate) service: ServiceMatch,
    /// `fwmark N inet|inet6`.
    pub(crate) family: Option<Family>,
    pub(crate) location: Location,
}

/// A group has entries, all of one family.
pub(super) fn check_group(group: &GroupDraft, d: &mut Diagnostics) {
    if group.entries.is_empty() {
        d.error(
            &group.location,
            format!(
                "virtual_server_group {}: no entries (keepalived removes such a group)",
                group.name
            ),
        );
    }
    let mut first: Option<(Family, &GroupEntry)> = None;
    for entry in &group.entries {
        let family = match entry.service {
            ServiceMatch::Address(a) => Family::of(a.ip()),
            ServiceMatch::Range { first, .. } => Family::of(first),
            ServiceMatch::Fwmark(_) => match entry.family {
                Some(f) => f,
                None => continue,
            },
        };
        match first {
            None => first = Some((family, entry)),
            Some((f, at)) if f != family => d.error(
                &entry.location,
                format!(
                    "virtual_server_group {}: this entry is {family} but the one at {} is {f}; \
                     a group is of one family (mixing them needs TUN real servers, which \
                     baton does not support)",
                    group.name, at.location
                ),
            ),
            Some(_) => {}
        }
    }
}

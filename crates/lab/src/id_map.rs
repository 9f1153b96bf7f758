//! Which user and group ids the rootless lab's user namespace maps.
//!
//! On its own an unprivileged user may map one id: itself, as root. Programs that switch to
//! another user inside the lab then fail (tcpdump drops to `tcpdump`, keepalived's and
//! baton's `script_user`, `setpriv` to nobody), and setgroups(2) is denied. With shadow's
//! setuid helpers newuidmap and newgidmap (Debian's `uidmap` package, which podman needs too)
//! and subordinate ids in /etc/subuid and /etc/subgid (`adduser` gives each new user 65,536),
//! ids 1 and up map to those as well, as in a rootless podman container, and those programs
//! work.

use std::fs;

use nix::unistd::{Uid, User, getuid};

use crate::cmd::{self, Tool};

const NEWUIDMAP: Tool = Tool {
    program: "newuidmap",
    package: "uidmap",
};
const NEWGIDMAP: Tool = Tool {
    program: "newgidmap",
    package: "uidmap",
};

/// `unshare` options for a namespace where this user is root and nobody else exists.
pub(crate) fn root_only() -> Vec<String> {
    vec!["--map-root-user".to_owned()]
}

/// `unshare` options that also map ids 1.. to this user's subordinate ids, or `None` when
/// the helpers or the ids are missing.
pub(crate) fn with_subordinate_ids() -> Option<Vec<String>> {
    cmd::locate(NEWUIDMAP).ok()?;
    cmd::locate(NEWGIDMAP).ok()?;
    let uid = getuid();
    let name = User::from_uid(uid).ok().flatten().map(|user| user.name);
    let range = |file: &str| {
        let text = fs::read_to_string(file).ok()?;
        subordinate_range(&text, name.as_deref(), uid)
    };
    let (uids, gids) = (range("/etc/subuid")?, range("/etc/subgid")?);
    let mut options = root_only();
    options.push(format!("--map-users={},1,{}", uids.0, uids.1));
    options.push(format!("--map-groups={},1,{}", gids.0, gids.1));
    Some(options)
}

/// The first `start:count` of `user` (by name or uid) in an /etc/subuid-style file.
fn subordinate_range(text: &str, name: Option<&str>, uid: Uid) -> Option<(u32, u32)> {
    let uid = uid.as_raw().to_string();
    text.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        let owner = fields.next()?;
        if owner != uid && Some(owner) != name {
            return None;
        }
        let start = fields.next()?.parse().ok()?;
        let count: u32 = fields.next()?.parse().ok()?;
        (count > 0).then_some((start, count))
    })
}

/// Whether this process's user namespace maps one user id only (the rootless lab without
/// subordinate ids). The initial namespace maps them all.
pub(crate) fn maps_one_user_only() -> bool {
    fs::read_to_string("/proc/self/uid_map").is_ok_and(|map| {
        let ranges: Vec<u64> = map
            .lines()
            .filter_map(|line| line.split_whitespace().nth(2)?.parse().ok())
            .collect();
        ranges.iter().sum::<u64>() <= 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_subordinate_range_is_found_by_name_or_uid() {
        let text = "alice:100000:65536\n# not a range\n1001:165536:65536\nbob:231072:0\n";
        let alice = Some("alice");
        assert_eq!(
            subordinate_range(text, alice, Uid::from_raw(1000)),
            Some((100000, 65536))
        );
        assert_eq!(
            subordinate_range(text, Some("carol"), Uid::from_raw(1001)),
            Some((165536, 65536))
        );
        // An empty range maps nothing; an absent user has none.
        assert_eq!(
            subordinate_range(text, Some("bob"), Uid::from_raw(1002)),
            None
        );
        assert_eq!(subordinate_range(text, None, Uid::from_raw(4242)), None);
    }
}

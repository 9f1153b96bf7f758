//! `baton run --user USER`: a daemon started as root outside systemd becomes USER before it
//! reads a byte from the network, keeping only the three capabilities the shipped unit
//! gives it (see docs/security.md), so that its parsers never run as uid 0 there either.
//!
//! Capabilities belong to threads: this must run while the process has only one, before
//! the runtime starts.

use std::path::Path;

use anyhow::Context as _;
use caps::{CapSet, Capability, CapsHashSet};
use nix::unistd::{Gid, Uid, User};

/// What baton needs, as in dist/baton.service: VIPs, nftables and conntrack; VRRP and ARP
/// sockets; ports below 1024.
const KEPT: [Capability; 3] = [
    Capability::CAP_NET_ADMIN,
    Capability::CAP_NET_RAW,
    Capability::CAP_NET_BIND_SERVICE,
];

/// Becomes `user` (its uid, its primary group, no other groups), with the capabilities in
/// [`KEPT`] effective, permitted, inheritable and ambient (so that `nft` and `conntrack`
/// have them too), every other one out of the bounding set, and no_new_privs. `dirs`, made
/// first if missing and then given to `user`, are where the daemon writes (its control
/// socket's directory, its state directory), as systemd's RuntimeDirectory= and
/// StateDirectory= would.
pub(crate) fn become_user(user: &str, dirs: &[&Path]) -> anyhow::Result<()> {
    let found = User::from_name(user)
        .with_context(|| format!("looking up {user}"))?
        .with_context(|| format!("--user {user}: no such user"))?;
    if !nix::unistd::geteuid().is_root() {
        anyhow::bail!("--user {user} needs baton to start as root");
    }
    for dir in dirs {
        own_dir(dir, found.uid, found.gid)?;
    }
    let kept: CapsHashSet = KEPT.into_iter().collect();
    // The bounding set first: dropping from it needs CAP_SETPCAP, which goes with root.
    for cap in caps::runtime::thread_all_supported().difference(&kept) {
        caps::drop(None, CapSet::Bounding, *cap)
            .with_context(|| format!("dropping {cap} from the bounding set"))?;
    }
    // Keep the permitted set across the change of uid (it would be emptied otherwise).
    nix::sys::prctl::set_keepcaps(true).context("PR_SET_KEEPCAPS")?;
    nix::unistd::setgroups(&[found.gid]).context("setgroups")?;
    nix::unistd::setresgid(found.gid, found.gid, found.gid).context("setresgid")?;
    nix::unistd::setresuid(found.uid, found.uid, found.uid).context("setresuid")?;
    nix::sys::prctl::set_keepcaps(false).context("PR_SET_KEEPCAPS")?;
    for set in [CapSet::Permitted, CapSet::Effective, CapSet::Inheritable] {
        caps::set(None, set, &kept).with_context(|| format!("setting the {set:?} set"))?;
    }
    for cap in KEPT {
        caps::raise(None, CapSet::Ambient, cap)
            .with_context(|| format!("raising {cap} in the ambient set"))?;
    }
    nix::sys::prctl::set_no_new_privs().context("PR_SET_NO_NEW_PRIVS")?;
    tracing::info!(
        user,
        uid = found.uid.as_raw(),
        "running as {user} with CAP_NET_ADMIN, CAP_NET_RAW and CAP_NET_BIND_SERVICE only"
    );
    Ok(())
}

/// `dir`, made (0700) if missing, owned by `uid`:`gid` if baton made it; one that exists
/// is left as the operator set it.
fn own_dir(dir: &Path, uid: Uid, gid: Gid) -> anyhow::Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(
        dir,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700),
    )
    .with_context(|| format!("chmod 0700 {}", dir.display()))?;
    nix::unistd::chown(dir, Some(uid), Some(gid))
        .with_context(|| format!("giving {} to uid {uid}", dir.display()))
}

//! The helper's socket: the one systemd opened (baton-scripts.socket sets its owner and
//! mode), or one bound here, `root:GROUP` mode 0660, for a helper started by hand.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use anyhow::Context as _;
use nix::unistd::Gid;
use tokio::net::UnixListener;

/// The listener, and where it listens for the log.
pub(super) fn listen(path: &Path, group: Gid) -> anyhow::Result<(UnixListener, String)> {
    let (listener, place) =
        match baton_net::activated_unix_listener().context("socket activation")? {
            Some(listener) => (listener, "the socket systemd passed".to_owned()),
            None => (bind(path, group)?, path.display().to_string()),
        };
    listener.set_nonblocking(true).context("non-blocking")?;
    let listener = UnixListener::from_std(listener).context("registering the socket")?;
    Ok((listener, place))
}

fn bind(path: &Path, group: Gid) -> anyhow::Result<std::os::unix::net::UnixListener> {
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        anyhow::bail!("{}: another script helper is listening", path.display());
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).context(format!("removing {}", path.display())),
    }
    let listener = std::os::unix::net::UnixListener::bind(path)
        .with_context(|| format!("binding {}", path.display()))?;
    nix::unistd::chown(path, None, Some(group))
        .with_context(|| format!("chgrp {} {}", group, path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod 0660 {}", path.display()))?;
    Ok(listener)
}

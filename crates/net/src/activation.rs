//! systemd socket activation (sd_listen_fds(3)): a service started by a `.socket` unit
//! finds its listening socket already open as fd 3, with `LISTEN_PID` naming it and
//! `LISTEN_FDS` counting the sockets. Taking ownership of an inherited fd has no safe
//! wrapper, hence this file here.

use std::os::fd::{FromRawFd as _, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::stat::{SFlag, fstat};

/// The first fd systemd passes (SD_LISTEN_FDS_START).
const FIRST: RawFd = 3;

static TAKEN: AtomicBool = AtomicBool::new(false);

/// The unix stream socket systemd opened for this process, if it was socket-activated
/// (`None` when it was not, or on a second call); an error when systemd passed other than
/// one socket. Children see `LISTEN_PID` naming another process, so they leave fd 3 alone.
pub fn activated_unix_listener() -> std::io::Result<Option<UnixListener>> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
        == Some(std::process::id());
    if !ours || TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(None);
    }
    let count = std::env::var("LISTEN_FDS").unwrap_or_default();
    if count != "1" {
        return Err(std::io::Error::other(format!(
            "systemd passed {count:?} sockets, expected one"
        )));
    }
    let mode = fstat(FIRST).map_err(std::io::Error::from)?.st_mode;
    if SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) != SFlag::S_IFSOCK {
        return Err(std::io::Error::other("fd 3 from systemd is not a socket"));
    }
    #[allow(unsafe_code)]
    // SAFETY: LISTEN_PID names this process, so fd 3 was opened by systemd for it and
    // belongs to nothing else here; it is an open socket (checked above), and TAKEN makes
    // this the only owner.
    let fd = unsafe { OwnedFd::from_raw_fd(FIRST) };
    Ok(Some(UnixListener::from(fd)))
}

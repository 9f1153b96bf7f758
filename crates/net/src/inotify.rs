//! inotify, read through tokio: the daemon watches keepalived's `reload_time_file` as
//! keepalived does (nix makes the calls; `sys` registers the instance with the reactor).

use std::io;
use std::path::Path;

use nix::sys::inotify::InitFlags;
pub use nix::sys::inotify::{AddWatchFlags, InotifyEvent, WatchDescriptor};
use tokio::io::unix::AsyncFd;

use crate::sys::{self, InotifyFd};

/// One inotify instance and its watches. Needs a tokio runtime with I/O enabled.
#[derive(Debug)]
pub struct Inotify {
    fd: AsyncFd<InotifyFd>,
}

impl Inotify {
    pub fn new() -> io::Result<Inotify> {
        let inotify =
            nix::sys::inotify::Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        Ok(Inotify {
            fd: sys::register_readable(InotifyFd(inotify))?,
        })
    }

    /// Watches `path` for `mask`; watching the same file again gives the same descriptor.
    pub fn add_watch(&self, path: &Path, mask: AddWatchFlags) -> io::Result<WatchDescriptor> {
        Ok(self.fd.get_ref().0.add_watch(path, mask)?)
    }

    pub fn rm_watch(&self, watch: WatchDescriptor) -> io::Result<()> {
        Ok(self.fd.get_ref().0.rm_watch(watch)?)
    }

    /// The next events, waiting for at least one. Cancel-safe: nothing is read until the
    /// instance is readable, and then in one call.
    pub async fn read_events(&self) -> io::Result<Vec<InotifyEvent>> {
        loop {
            let mut ready = self.fd.readable().await?;
            match ready.try_io(|fd| fd.get_ref().0.read_events().map_err(io::Error::from)) {
                Ok(read) => return read,
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_written_in_a_watched_directory_is_heard_of() {
        let dir = std::env::temp_dir().join(format!("baton-inotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let inotify = Inotify::new().expect("inotify");
        let watch = inotify
            .add_watch(
                &dir,
                AddWatchFlags::IN_CREATE | AddWatchFlags::IN_CLOSE_WRITE,
            )
            .expect("watch");
        std::fs::write(dir.join("at"), "12:00:00\n").expect("write");
        let events = tokio::time::timeout(std::time::Duration::from_secs(5), inotify.read_events())
            .await
            .expect("in time")
            .expect("read");
        let _ = std::fs::remove_dir_all(&dir);
        let first = events.first().expect("an event");
        assert_eq!(first.wd, watch);
        assert!(first.mask.contains(AddWatchFlags::IN_CREATE));
        assert_eq!(first.name.as_deref(), Some(std::ffi::OsStr::new("at")));
    }
}

//! keepalived's `notify_fifo`, `vrrp_notify_fifo` and `lvs_notify_fifo`: named pipes that
//! get one line per state change, as keepalived writes them (`INSTANCE "VI_1" MASTER 100`,
//! `RS [10.0.3.11]:tcp:8080 [10.0.3.100]:tcp:80 DOWN`).
//!
//! As keepalived (`fifo_open` in lib/notify.c), the FIFO is made if missing and opened for
//! reading and writing without blocking: the open never waits for a reader, and a write
//! never blocks the protocol loop. While no one reads, the pipe's buffer fills and the
//! lines that do not fit are dropped (and counted), never queued in the daemon.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use std::net::SocketAddr;

use baton_config::{Global, NotifyFifo, NotifyScript, VirtualServer};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::fifo_reader::FifoReader;
use super::smtp_message::{server_name, service_name};
use crate::scripts::Credentials;

/// keepalived's line: `KIND "NAME" STATE PRIORITY` (a group's priority is 0).
pub(crate) fn fifo_line(kind: &str, name: &str, state: &str, priority: u8) -> String {
    format!("{kind} \"{name}\" {state} {priority}\n")
}

/// keepalived's checker line for a virtual server's quorum: `VS [10.0.3.100]:tcp:80 UP`.
pub(crate) fn service_line(vs: &VirtualServer, up: bool) -> String {
    format!("VS {} {}\n", service_name(vs), up_down(up))
}

/// keepalived's checker line for real server `rs` of `vs`:
/// `RS [10.0.3.11]:tcp:8080 [10.0.3.100]:tcp:80 DOWN`.
pub(crate) fn real_server_line(vs: &VirtualServer, rs: SocketAddr, up: bool) -> String {
    format!(
        "RS {} {} {}\n",
        server_name(vs, rs),
        service_name(vs),
        up_down(up)
    )
}

fn up_down(up: bool) -> &'static str {
    if up { "UP" } else { "DOWN" }
}

/// Which FIFOs one writer owns. keepalived's VRRP process writes `notify_fifo` and
/// `vrrp_notify_fifo`, its checker process `lvs_notify_fifo` and `notify_fifo` too; in
/// baton one owner per FIFO keeps a made FIFO from being removed under the other
/// writer, so `notify_fifo` stays the VRRP side's and the checkers write
/// `lvs_notify_fifo` only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum FifoSet {
    #[default]
    Vrrp,
    Checkers,
}

impl FifoSet {
    fn fifos(self, global: &Global) -> [Option<NotifyFifo>; 2] {
        match self {
            FifoSet::Vrrp => [global.notify_fifo.clone(), global.vrrp_notify_fifo.clone()],
            FifoSet::Checkers => [global.lvs_notify_fifo.clone(), None],
        }
    }

    fn scripts(self, global: &Global) -> [&Option<NotifyScript>; 2] {
        match self {
            FifoSet::Vrrp => [
                &global.scripts.notify_fifo,
                &global.scripts.vrrp_notify_fifo,
            ],
            FifoSet::Checkers => [&global.scripts.lvs_notify_fifo, &None],
        }
    }
}

/// The open FIFOs of one configuration.
#[derive(Debug, Default)]
pub(crate) struct NotifyFifos {
    set: FifoSet,
    /// What they were opened from: a reload that changes nothing keeps them open.
    configured: [Option<NotifyFifo>; 2],
    /// Their readers' command lines and users, compared the same way.
    readers: [Option<(Vec<String>, Option<baton_config::ScriptUser>)>; 2],
    open: Vec<OpenFifo>,
}

impl NotifyFifos {
    /// Makes and opens the FIFOs `global` names. One that cannot be made or opened is
    /// logged and left out, as keepalived does; the daemon runs on without it.
    /// `default_owner`: who owns a FIFO made here that names no user (the script user).
    /// Each FIFO's `notify_fifo_script` starts once it is open, as the script user too.
    pub(crate) fn open(global: &Global, default_owner: Option<Credentials>) -> NotifyFifos {
        NotifyFifos::open_set(FifoSet::Vrrp, global, default_owner)
    }

    /// The virtual servers' FIFO (`lvs_notify_fifo`), as [`NotifyFifos::open`].
    pub(crate) fn open_checkers(
        global: &Global,
        default_owner: Option<Credentials>,
    ) -> NotifyFifos {
        NotifyFifos::open_set(FifoSet::Checkers, global, default_owner)
    }

    fn open_set(set: FifoSet, global: &Global, default_owner: Option<Credentials>) -> NotifyFifos {
        let configured = set.fifos(global);
        let scripts = set.scripts(global);
        let open = configured
            .iter()
            .zip(scripts)
            .filter_map(|(fifo, script)| Some((fifo.as_ref()?, script)))
            .filter_map(|(fifo, script)| match OpenFifo::open(fifo, default_owner) {
                Ok(mut open) => {
                    open.reader = script
                        .as_ref()
                        .and_then(|script| FifoReader::start(script, &fifo.path, default_owner));
                    Some(open)
                }
                Err(error) => {
                    tracing::error!(path = %fifo.path.display(), "notify FIFO not used: {error}");
                    None
                }
            })
            .collect();
        for (fifo, script) in configured.iter().zip(scripts) {
            if let (None, Some(script)) = (fifo, script) {
                // keepalived runs the reader only for a FIFO it opened.
                tracing::warn!(script = ?script.argv, "notify FIFO script not run: its FIFO is not configured");
            }
        }
        NotifyFifos {
            set,
            configured,
            readers: readers(set, global),
            open,
        }
    }

    /// Whether `global` names the FIFOs (and readers) these were opened from.
    pub(crate) fn opened_from(&self, global: &Global) -> bool {
        self.configured == self.set.fifos(global) && self.readers == readers(self.set, global)
    }

    /// Writes `line` to every FIFO, without waiting.
    pub(crate) fn write(&self, line: &str) {
        for fifo in &self.open {
            fifo.write(line);
        }
    }
}

/// The readers of `set`'s FIFOs in `global`, as [`NotifyFifos::opened_from`] compares them.
fn readers(
    set: FifoSet,
    global: &Global,
) -> [Option<(Vec<String>, Option<baton_config::ScriptUser>)>; 2] {
    set.scripts(global).map(|script| {
        script
            .as_ref()
            .map(|script| (script.argv.clone(), script.user.clone()))
    })
}

#[derive(Debug)]
struct OpenFifo {
    path: PathBuf,
    file: File,
    /// Made here, so removed at exit (keepalived does the same).
    made: bool,
    /// Lines dropped since the last one that got through (the notifier is shared).
    dropped: AtomicU64,
    /// Its `notify_fifo_script`; dropped after `file`, so it reads end-of-file first.
    reader: Option<FifoReader>,
}

impl OpenFifo {
    fn open(fifo: &NotifyFifo, default_owner: Option<Credentials>) -> std::io::Result<OpenFifo> {
        let owner = match &fifo.owner {
            Some(user) => Some(
                Credentials::lookup(&user.user, user.group.as_deref())
                    .map_err(|error| std::io::Error::other(error.to_string()))?,
            ),
            None => default_owner,
        };
        let mode = Mode::S_IRUSR | Mode::S_IWUSR | Mode::S_IRGRP | Mode::S_IROTH;
        let made = match nix::unistd::mkfifo(&fifo.path, mode) {
            Ok(()) => true,
            Err(nix::errno::Errno::EEXIST) => false,
            Err(errno) => return Err(errno.into()),
        };
        let opened = open_fifo(&fifo.path, made, owner);
        if opened.is_err() && made {
            let _ = std::fs::remove_file(&fifo.path);
        }
        Ok(OpenFifo {
            path: fifo.path.clone(),
            file: opened?,
            made,
            dropped: AtomicU64::new(0),
            reader: None,
        })
    }

    fn write(&self, line: &str) {
        // A line shorter than PIPE_BUF is written whole or not at all; a longer one may
        // be cut, and its rest is dropped (queueing it could block the protocol loop).
        let written = (&self.file).write(line.as_bytes()).and_then(|n| {
            if n == line.len() {
                Ok(())
            } else {
                Err(std::io::Error::other(
                    "the line was cut: it is longer than the pipe takes at once",
                ))
            }
        });
        match written {
            Ok(()) => {
                let dropped = self.dropped.swap(0, Ordering::Relaxed);
                if dropped > 0 {
                    tracing::warn!(
                        path = %self.path.display(),
                        "notify FIFO is read again; {dropped} lines were dropped while it was full"
                    );
                }
            }
            Err(error) => {
                if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    let why = if error.kind() == ErrorKind::WouldBlock {
                        "no one reads it and it is full".to_owned()
                    } else {
                        error.to_string()
                    };
                    tracing::warn!(
                        path = %self.path.display(),
                        "notify FIFO: dropping lines until it can be written ({why})"
                    );
                }
            }
        }
    }
}

/// Opens `path` for reading and writing (so the open needs no reader), refusing a file
/// that is not a FIFO; a FIFO `made` here goes to `owner`.
fn open_fifo(path: &Path, made: bool, owner: Option<Credentials>) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW).bits())
        .open(path)?;
    if !file.metadata()?.file_type().is_fifo() {
        return Err(std::io::Error::other("it exists and is not a FIFO"));
    }
    if let (true, Some(owner)) = (made, owner) {
        nix::unistd::chown(path, Some(owner.uid), Some(owner.gid))?;
    }
    Ok(file)
}

impl Drop for OpenFifo {
    fn drop(&mut self) {
        // Removed first, so a reader that reopens it in a loop cannot reopen this one.
        if self.made {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_keepalived_s() {
        assert_eq!(
            fifo_line("INSTANCE", "VI_1", "MASTER", 100),
            "INSTANCE \"VI_1\" MASTER 100\n"
        );
        assert_eq!(
            fifo_line("GROUP", "G1", "BACKUP", 0),
            "GROUP \"G1\" BACKUP 0\n"
        );
    }

    #[test]
    fn checker_lines_are_keepalived_s() {
        let conf = "virtual_server 10.0.3.100 80 {\n protocol TCP\n \
                    real_server 10.0.3.11 8080 {\n TCP_CHECK {\n }\n }\n}\n";
        let loaded = baton_config::parse_keepalived(conf, Path::new("k.conf"))
            .unwrap_or_else(|e| panic!("{e}"));
        let vs = &loaded.config.virtual_servers[0];
        let rs = vs.real_servers[0].address;
        assert_eq!(service_line(vs, true), "VS [10.0.3.100]:tcp:80 UP\n");
        assert_eq!(
            real_server_line(vs, rs, false),
            "RS [10.0.3.11]:tcp:8080 [10.0.3.100]:tcp:80 DOWN\n"
        );
    }

    #[test]
    fn only_the_checkers_fifo_is_theirs() {
        let fifo = |name: &str| {
            Some(NotifyFifo {
                path: name.into(),
                owner: None,
            })
        };
        let global = Global {
            notify_fifo: fifo("/run/all"),
            vrrp_notify_fifo: fifo("/run/vrrp"),
            lvs_notify_fifo: fifo("/run/lvs"),
            ..Global::default()
        };
        assert_eq!(
            FifoSet::Vrrp.fifos(&global),
            [fifo("/run/all"), fifo("/run/vrrp")]
        );
        assert_eq!(FifoSet::Checkers.fifos(&global), [fifo("/run/lvs"), None]);
    }

    #[test]
    fn a_fifo_is_made_written_without_a_reader_and_removed() {
        let dir = std::env::temp_dir().join(format!("baton-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("notify");
        let global = Global {
            notify_fifo: Some(NotifyFifo {
                path: path.clone(),
                owner: None,
            }),
            ..Global::default()
        };
        let fifos = NotifyFifos::open(&global, None);
        assert!(fifos.opened_from(&global));
        let meta = std::fs::metadata(&path).expect("made");
        assert!(meta.file_type().is_fifo());

        // Nobody reads: the pipe fills, then lines are dropped rather than blocking.
        let line = fifo_line("INSTANCE", "VI_1", "MASTER", 100);
        let lines_to_fill = (1 << 20) / line.len();
        for _ in 0..lines_to_fill {
            fifos.write(&line);
        }
        assert!(
            fifos.open[0].dropped.load(Ordering::Relaxed) > 0,
            "a 1 MiB burst fits no pipe buffer"
        );

        drop(fifos);
        assert!(!path.exists(), "the FIFO made here is removed");
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn a_regular_file_is_not_used() {
        let path = std::env::temp_dir().join(format!("baton-notfifo-{}", std::process::id()));
        std::fs::write(&path, "").expect("file");
        let fifo = NotifyFifo {
            path: path.clone(),
            owner: None,
        };
        assert!(OpenFifo::open(&fifo, None).is_err());
        assert!(path.exists(), "a file baton did not make is left alone");
        let _ = std::fs::remove_file(&path);
    }
}

//! keepalived's `reload_time_file` (core/reload_monitor.c in 2.2.7): the file is watched
//! with inotify, and its first line schedules a reload at that time (see `reload_time`).
//! Creating or writing the file schedules or moves the reload, deleting it (or an invalid
//! line) cancels it; when the reload comes the file is deleted unless `reload_repeat` keeps
//! a time-of-day line for the next day. If the file's directory is missing, or goes, nothing
//! is watched until the next reload or restart, as keepalived.
//!
//! The daemon restarts the watch after every reload, whatever started it (SIGHUP, `baton
//! reload`, this schedule): keepalived stops it while a reload reads the configuration and
//! starts it again after, with the file and setting of the configuration now running, and
//! reads the file again then.
//!
//! inotify (baton_net's, nix's calls): a poll would notice a change late, and could miss a
//! file written and deleted between two looks.

use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use baton_config::Global;
use baton_net::{AddWatchFlags, Inotify, InotifyEvent, WatchDescriptor};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::reload_time::{self, Change, Due, Schedule};
use crate::status::ScheduledReload;

/// What the watch tells the daemon.
#[derive(Debug)]
pub(crate) enum Update {
    /// The reload now scheduled (for the status), or none.
    Planned(Option<ScheduledReload>),
    /// The scheduled time came: reload now. The watch has ended; a reload restarts it.
    Due,
}

/// The watch of the running configuration's `reload_time_file`, if it names one.
pub(crate) struct Monitor {
    task: Option<JoinHandle<()>>,
    updates: mpsc::UnboundedReceiver<Update>,
}

impl Monitor {
    /// Starts watching `global.reload_time_file`; the file is read at once.
    pub(crate) fn start(global: &Global) -> Monitor {
        let (sender, updates) = mpsc::unbounded_channel();
        let task = global.reload_time_file.clone().map(|path| {
            let watch = Watch {
                path,
                repeat: global.reload_repeat,
                local: TimeZone::system(),
                updates: sender,
            };
            tokio::spawn(watch.run())
        });
        Monitor { task, updates }
    }

    /// After a reload: the old watch goes (its schedule with it, silently, as keepalived)
    /// and the new configuration's starts.
    pub(crate) fn restart(&mut self, global: &Global) {
        *self = Monitor::start(global);
    }

    /// The next update. Cancel-safe (a channel receive); never returns without a watch.
    pub(crate) async fn next(&mut self) -> Update {
        match self.updates.recv().await {
            Some(update) => update,
            None => std::future::pending().await,
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// What keepalived watches: the directory for the file coming and going (and for itself
/// going), the file for being written.
const DIRECTORY_EVENTS: AddWatchFlags = AddWatchFlags::IN_CREATE
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_DELETE_SELF)
    .union(AddWatchFlags::IN_MOVE_SELF);

struct Watch {
    path: PathBuf,
    repeat: bool,
    local: TimeZone,
    updates: mpsc::UnboundedSender<Update>,
}

/// How a watch ended.
enum Ended {
    Due,
    DirectoryGone,
    /// inotify failed (logged).
    Failed,
}

impl Watch {
    async fn run(self) {
        let shown = self.path.display().to_string();
        let (Some(directory), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            tracing::warn!("reload_time_file {shown}: not a file's path; no scheduled reloads");
            return;
        };
        let (events, directory_wd) = match watch_directory(directory) {
            Ok(watched) => watched,
            Err(error) => {
                tracing::warn!(
                    "reload_time_file {shown}: cannot watch its directory {}: {error}; no scheduled reloads until a reload or restart",
                    directory.display()
                );
                return;
            }
        };
        let mut file = FileWatch {
            watch: &self,
            schedule: Schedule::default(),
            directory_wd,
            file_wd: None,
            deadline: None,
        };
        file.appeared(&events);
        match file.follow(&events, name).await {
            Ended::Due => {
                let delete = file.schedule.fire(self.repeat);
                if delete && let Err(error) = std::fs::remove_file(&self.path) {
                    tracing::warn!("reload_time_file {shown}: not deleted: {error}");
                }
                let kept = if delete {
                    "the file is deleted"
                } else {
                    "the file stays (reload_repeat)"
                };
                tracing::info!("reload_time_file {shown}: reloading as scheduled; {kept}");
                let _ = self.updates.send(Update::Due);
            }
            Ended::DirectoryGone => {
                tracing::warn!(
                    "reload_time_file {shown}: its directory {} is gone; no scheduled reloads until a reload or restart",
                    directory.display()
                );
            }
            Ended::Failed => {
                let _ = self.updates.send(Update::Planned(None));
            }
        }
    }
}

fn watch_directory(directory: &Path) -> io::Result<(Inotify, WatchDescriptor)> {
    let inotify = Inotify::new()?;
    let wd = inotify.add_watch(directory, DIRECTORY_EVENTS)?;
    Ok((inotify, wd))
}

/// The file's watch and the reload it schedules.
struct FileWatch<'w> {
    watch: &'w Watch,
    schedule: Schedule,
    directory_wd: WatchDescriptor,
    file_wd: Option<WatchDescriptor>,
    /// When the scheduled reload is due, on the monotonic clock (as keepalived's timer:
    /// set once from the wall-clock time, when the reload is scheduled or moved).
    deadline: Option<tokio::time::Instant>,
}

impl FileWatch<'_> {
    /// Until the reload is due or the directory goes.
    async fn follow(&mut self, events: &Inotify, name: &std::ffi::OsStr) -> Ended {
        loop {
            let deadline = self.deadline;
            let due = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let read = tokio::select! {
                () = due => return Ended::Due,
                read = events.read_events() => read,
            };
            let batch = match read {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(
                        "reload_time_file {}: reading inotify: {error}",
                        self.watch.path.display()
                    );
                    return Ended::Failed;
                }
            };
            for event in batch {
                if self.event(events, &event, name).is_break() {
                    let was = self.schedule.cancel();
                    self.apply(Change::Cancelled { was, why: None });
                    return Ended::DirectoryGone;
                }
            }
        }
    }

    /// One event, as keepalived's `inotify_event_thread` takes it; `Break` when the
    /// directory went.
    fn event(
        &mut self,
        events: &Inotify,
        event: &InotifyEvent,
        name: &std::ffi::OsStr,
    ) -> ControlFlow<()> {
        let mask = event.mask;
        if mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
            // Events were lost: look again (keepalived has no answer to this).
            self.appeared(events);
        } else if Some(event.wd) == self.file_wd {
            if mask.contains(AddWatchFlags::IN_CLOSE_WRITE) {
                self.read();
            }
        } else if event.wd == self.directory_wd {
            if mask.intersects(AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF) {
                return ControlFlow::Break(());
            }
            if event.name.as_deref() != Some(name) {
                return ControlFlow::Continue(());
            }
            if mask.intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO) {
                self.appeared(events);
            } else if mask.intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM) {
                if let Some(wd) = self.file_wd.take() {
                    // Gone with the file already, most often.
                    let _ = events.rm_watch(wd);
                }
                let was = self.schedule.cancel();
                self.apply(Change::Cancelled { was, why: None });
            }
        }
        ControlFlow::Continue(())
    }

    /// The file is (perhaps) there: watch it for writes and read it. Gone already (made
    /// and deleted at once, or events lost): nothing is scheduled.
    fn appeared(&mut self, events: &Inotify) {
        match events.add_watch(&self.watch.path, AddWatchFlags::IN_CLOSE_WRITE) {
            Ok(wd) => {
                self.file_wd = Some(wd);
                self.read();
            }
            Err(_) => {
                self.file_wd = None;
                if let was @ Some(_) = self.schedule.cancel() {
                    self.apply(Change::Cancelled { was, why: None });
                }
            }
        }
    }

    fn read(&mut self) {
        let line = read_first_line(&self.watch.path);
        let change = self
            .schedule
            .read(line.as_deref(), Timestamp::now(), &self.watch.local);
        self.apply(change);
    }

    /// Logs `change`, sets the timer and tells the daemon.
    fn apply(&mut self, change: Change) {
        let path = self.watch.path.display();
        let local = |at: Timestamp| shown(at, &self.watch.local);
        match &change {
            Change::Same => return,
            Change::Scheduled(due) => {
                tracing::info!(
                    "reload_time_file {path}: reload scheduled for {}",
                    local(due.at)
                );
            }
            Change::Moved { from, to } => tracing::info!(
                "reload_time_file {path}: reload moved from {} to {}",
                local(*from),
                local(to.at)
            ),
            Change::Cancelled { was, why } => {
                let cancelled = was
                    .map(|at| format!("; the reload scheduled for {} is cancelled", local(at)))
                    .unwrap_or_default();
                match why {
                    Some((line, refused)) => tracing::warn!(
                        "reload_time_file {path}: {line:?} {}: ignored{cancelled}",
                        refused.as_str()
                    ),
                    None if was.is_some() => {
                        tracing::info!("reload_time_file {path}: gone or empty{cancelled}");
                    }
                    None => {}
                }
            }
        }
        self.deadline = self.schedule.due().map(deadline);
        let planned = self.schedule.due().map(|due| self.status(due));
        let _ = self.watch.updates.send(Update::Planned(planned));
    }

    fn status(&self, due: Due) -> ScheduledReload {
        ScheduledReload {
            at: due
                .at
                .to_zoned_datetime(self.watch.local.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
            file: self.watch.path.display().to_string(),
            daily: self.watch.repeat && !due.dated,
        }
    }
}

/// The file's first line as keepalived reads it; `None` if it cannot be read or is empty.
fn read_first_line(path: &Path) -> Option<String> {
    use std::io::Read as _;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(64).read_to_end(&mut head))
        .ok()?;
    reload_time::first_line(&head)
}

/// `at` on the monotonic clock, from the wall clock now.
fn deadline(due: Due) -> tokio::time::Instant {
    let wait = due.at.duration_since(Timestamp::now());
    tokio::time::Instant::now() + std::time::Duration::try_from(wait).unwrap_or_default()
}

/// `at` in local time, as the log shows it.
fn shown(at: Timestamp, local: &TimeZone) -> String {
    at.to_zoned_datetime(local.clone())
        .strftime("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Generous: these wait for inotify and a timer on a loaded machine.
    const WAIT: Duration = Duration::from_secs(10);

    fn global(path: &Path, repeat: bool) -> Global {
        Global {
            reload_time_file: Some(path.to_owned()),
            reload_repeat: repeat,
            ..Global::default()
        }
    }

    async fn next(monitor: &mut Monitor) -> Update {
        tokio::time::timeout(WAIT, monitor.next())
            .await
            .expect("an update in time")
    }

    /// `HH:MM:SS` in UTC, `seconds` from now.
    fn in_seconds(seconds: i64) -> String {
        let at = Timestamp::now() + jiff::SignedDuration::from_secs(seconds);
        at.strftime("%H:%M:%SZ").to_string()
    }

    #[tokio::test]
    async fn a_file_there_at_start_schedules_and_its_reload_deletes_it() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("reload_at");
        std::fs::write(&path, format!("{}\n", in_seconds(2))).expect("write");
        let mut monitor = Monitor::start(&global(&path, false));
        let Update::Planned(Some(planned)) = next(&mut monitor).await else {
            panic!("not scheduled");
        };
        assert!(!planned.daily);
        assert!(matches!(next(&mut monitor).await, Update::Due));
        assert!(!path.exists(), "deleted by its reload");
    }

    #[tokio::test]
    async fn writing_schedules_deleting_cancels_and_repeat_keeps_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("reload_at");
        let mut monitor = Monitor::start(&global(&path, true));
        std::fs::write(&path, in_seconds(3600)).expect("write");
        // Made empty first (IN_CREATE), then written (IN_CLOSE_WRITE).
        let planned = loop {
            if let Update::Planned(Some(planned)) = next(&mut monitor).await {
                break planned;
            }
        };
        assert!(planned.daily);
        std::fs::remove_file(&path).expect("delete");
        assert!(matches!(next(&mut monitor).await, Update::Planned(None)));
        // An invalid line schedules nothing.
        std::fs::write(&path, "soon\n").expect("write");
        std::fs::write(&path, in_seconds(2)).expect("write");
        let due = loop {
            match next(&mut monitor).await {
                Update::Due => break true,
                Update::Planned(_) => {}
            }
        };
        assert!(due);
        assert!(path.exists(), "kept: reload_repeat with a time of day");
    }

    #[tokio::test]
    async fn the_directory_going_cancels_and_ends_the_watch() {
        let dir = tempfile::tempdir().expect("dir");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("sub");
        let path = sub.join("reload_at");
        std::fs::write(&path, in_seconds(3600)).expect("write");
        let mut monitor = Monitor::start(&global(&path, false));
        assert!(matches!(next(&mut monitor).await, Update::Planned(Some(_))));
        std::fs::remove_dir_all(&sub).expect("remove");
        // The file goes first (cancelled), then the directory.
        assert!(matches!(next(&mut monitor).await, Update::Planned(None)));
        std::fs::create_dir(&sub).expect("again");
        std::fs::write(&path, in_seconds(3600)).expect("write");
        loop {
            match tokio::time::timeout(Duration::from_millis(500), monitor.next()).await {
                Err(_) => break,
                Ok(Update::Planned(None)) => {}
                Ok(other) => panic!("watched after its directory went: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_missing_directory_watches_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("missing").join("reload_at");
        let mut monitor = Monitor::start(&global(&path, false));
        // The watch ends at once: no update ever comes.
        let waited = tokio::time::timeout(Duration::from_millis(300), monitor.next()).await;
        assert!(waited.is_err());
    }
}

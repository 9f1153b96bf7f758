//! State that survives: the operator's drains, disables, run-time weights, step-downs and
//! anycast withdrawals (`baton server`, `baton instance`, `baton anycast`) kept in `state.json` under the state directory, so
//! that a restart, a crash, or a reload that replaces a frontend does not quietly put a
//! server back into rotation or an instance back into the election.
//!
//! The file is read once at start-up and applied before anything serves or takes part in
//! an election; it is replaced atomically after every successful change (see `disk`).
//! Overrides of servers and instances the configuration no longer has are ignored with a
//! log line and dropped at the next save, as HAProxy's server-state file does.
//!
//! Changes are recorded in memory where they happen (the control task for backend servers,
//! the main loop for real servers and instances), and saved by the control task before it
//! answers, so an operator who got an answer knows the change is on disk, while the main
//! loop never waits for the disk.

mod disk;
mod saved;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use baton::control_request::ServerChange;
use baton_config::Config;

pub(crate) use saved::{Overrides, ServerKey};

/// The file's name in the state directory.
pub(crate) const FILE_NAME: &str = "state.json";

/// The overrides in force and where they are saved.
#[derive(Debug)]
pub(crate) struct Store {
    path: PathBuf,
    current: Mutex<Current>,
    /// Held while writing, with the generation last written: saves go out one at a time,
    /// each with the newest overrides, so an older one never lands after a newer one.
    written: tokio::sync::Mutex<u64>,
}

#[derive(Debug, Default)]
struct Current {
    overrides: Overrides,
    /// The running configuration: what applies, and backend servers' configured weights.
    config: Config,
    /// Bumped by every change to `overrides`.
    generation: u64,
}

impl Store {
    /// Reads `dir`/state.json (see [`disk::load`]: never fails). Nothing is written until
    /// the first change, so a daemon nobody steers leaves no file behind.
    pub(crate) fn open(dir: &Path) -> Store {
        let path = dir.join(FILE_NAME);
        let overrides = disk::load(&path);
        Store {
            path,
            current: Mutex::new(Current {
                overrides,
                ..Current::default()
            }),
            written: tokio::sync::Mutex::new(0),
        }
    }

    /// The overrides that apply to `config`, for a reload to build with. Nothing changes
    /// until the reload is done and [`Store::adopt`] is called.
    pub(crate) fn for_config(&self, config: &Config) -> Overrides {
        let mut overrides = self.lock().overrides.clone();
        overrides.retain_configured(config);
        overrides
    }

    /// Once everything built with `restored` (from [`Store::adopt`] at start-up) runs:
    /// says where the file is and what was restored, one line each.
    pub(crate) fn announce(&self, restored: &Overrides) {
        tracing::info!(state_file = %self.path.display(), "the operator's overrides are kept here");
        for line in restored.describe() {
            tracing::info!(state_file = %self.path.display(), "restored: {line}");
        }
    }

    /// `config` runs from now on (start-up, before anything is built; a reload, once it
    /// applied): overrides of what it does not have are dropped, with a warning each, and
    /// backend servers' configured weights are taken from it. The overrides that apply.
    pub(crate) fn adopt(&self, config: &Config) -> Overrides {
        let mut current = self.lock();
        let dropped = current.overrides.retain_configured(config);
        if !dropped.is_empty() {
            current.generation += 1;
        }
        current.config = config.clone();
        for line in dropped {
            tracing::warn!(
                state_file = %self.path.display(),
                "ignored, and dropped at the next save: {line}"
            );
        }
        current.overrides.clone()
    }

    /// `baton server ...` changed a backend server.
    pub(crate) fn record_server(&self, backend: &str, address: SocketAddr, change: ServerChange) {
        let key = ServerKey::new(backend, address);
        self.change(|current| {
            let configured = saved::backend_weight(&current.config, &key).unwrap_or_default();
            current.overrides.record_server(key, change, configured);
        });
    }

    /// `baton server ...` changed a virtual server's real server.
    pub(crate) fn record_real_server(
        &self,
        service: &str,
        address: SocketAddr,
        change: ServerChange,
    ) {
        let key = ServerKey::new(service, address);
        self.change(|current| current.overrides.record_real_server(key, change));
    }

    /// `baton instance step-down|resume` stepped `instance` down (`on`) or resumed it (a
    /// sync group steps down and resumes together: each member is recorded).
    pub(crate) fn record_stepped_down(&self, instance: &str, on: bool) {
        self.record_name(|o| &mut o.stepped_down, instance, on);
    }

    /// `baton anycast withdraw|drain` (`on`) or `announce` on the section `name`.
    pub(crate) fn record_anycast_withdrawn(&self, name: &str, on: bool) {
        self.record_name(|o| &mut o.anycast_withdrawn, name, on);
    }

    /// `name` joins (`on`) or leaves the set of names `names` picks.
    fn record_name(
        &self,
        names: impl FnOnce(&mut Overrides) -> &mut std::collections::BTreeSet<String>,
        name: &str,
        on: bool,
    ) {
        self.change(|current| {
            let names = names(&mut current.overrides);
            if on {
                names.insert(name.to_owned());
            } else {
                names.remove(name);
            }
        });
    }

    fn change(&self, change: impl FnOnce(&mut Current)) {
        let mut current = self.lock();
        let before = current.overrides.clone();
        change(&mut current);
        if current.overrides != before {
            current.generation += 1;
        }
    }

    /// Writes the overrides if they changed since the last save; the error says what
    /// failed, naming the file.
    pub(crate) async fn save(&self) -> Result<(), String> {
        let mut written = self.written.lock().await;
        let (generation, text) = {
            let current = self.lock();
            (current.generation, current.overrides.to_json())
        };
        if generation == *written {
            return Ok(());
        }
        let path = self.path.clone();
        let result =
            tokio::task::spawn_blocking(move || disk::write_atomically(&path, text.as_bytes()))
                .await;
        match result {
            Ok(Ok(())) => {
                *written = generation;
                Ok(())
            }
            Ok(Err(error)) => Err(format!("saving {}: {error}", self.path.display())),
            Err(error) => Err(format!("saving {}: {error}", self.path.display())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use baton_proxy::AdminState;

    use super::*;

    fn config() -> Config {
        let text = "[[frontend]]\nname = \"web\"\nlisten = \"127.0.0.1:8080\"\nbackend = \"app\"\n\n\
             [[backend]]\nname = \"app\"\n\
             servers = [{ address = \"10.0.3.11:8080\", weight = 3 }, \"10.0.3.12:8080\"]\n";
        baton_config::parse_toml(text, "test.toml")
            .expect("valid")
            .config
    }

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("baton-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test]
    async fn changes_are_saved_and_read_back_by_the_next_daemon() {
        let dir = dir("saved");
        let a: SocketAddr = "10.0.3.11:8080".parse().expect("address");
        let store = Store::open(&dir);
        store.adopt(&config());
        store.save().await.expect("nothing to save");
        let path = dir.join(FILE_NAME);
        assert!(!path.exists(), "nothing written without a change");

        store.record_server("app", a, ServerChange::Admin(AdminState::Drain));
        store.record_server("app", a, ServerChange::Weight(7));
        store.record_stepped_down("VI_1", true);
        store.save().await.expect("saved");

        let next = Store::open(&dir);
        let overrides = next.for_config(&config());
        let saved = overrides.servers[&ServerKey::new("app", a)];
        assert_eq!(saved.admin, Some(AdminState::Drain));
        assert_eq!(
            (saved.weight, saved.configured_weight),
            (Some(7), Some(3)),
            "with the configured weight it replaced"
        );
        // The instance is not in this configuration: ignored, dropped at the next save.
        assert!(overrides.stepped_down.is_empty());
        next.adopt(&config());
        next.record_server("app", a, ServerChange::Admin(AdminState::Ready));
        next.save().await.expect("saved");
        let text = std::fs::read_to_string(&path).expect("file");
        assert!(!text.contains("VI_1"), "{text}");
        assert!(!text.contains("drain"), "{text}");
        assert!(text.contains("\"weight\": 7"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_failed_save_names_the_file() {
        let dir = dir("unwritable");
        std::fs::create_dir_all(&dir).expect("dir");
        // A file where the state directory should be.
        let blocked = dir.join("not-a-dir");
        std::fs::write(&blocked, "").expect("file");
        let store = Store::open(&blocked);
        store.adopt(&config());
        let a: SocketAddr = "10.0.3.11:8080".parse().expect("address");
        store.record_server("app", a, ServerChange::Admin(AdminState::Drain));
        let error = store.save().await.expect_err("cannot write");
        assert!(error.contains("not-a-dir/state.json"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

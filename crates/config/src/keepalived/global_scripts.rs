//! keepalived's scripts of `global_defs`, as `global_parser.c` (2.2.7) reads them:
//! `startup_script` / `shutdown_script` `"COMMAND ARGS" [USER [GROUP]]` with their
//! `*_script_timeout` (1..1000 seconds, default 10), the notify FIFOs' readers
//! `notify_fifo_script` / `vrrp_notify_fifo_script`, `fifo_write_vrrp_states_on_reload`,
//! `reload_file [PATH]`, `reload_time_file PATH` and `reload_repeat`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::model::{NotifyScript, TimedScript};

/// keepalived's default time for the start and stop scripts.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// keepalived 2.2.7's `reload_file` without a path (`RUNSTATEDIR "/keepalived.reload"`).
const DEFAULT_RELOAD_FILE: &str = "/run/keepalived.reload";

impl Mapper<'_> {
    /// The script keywords of `global_defs`; false if `s` is something else.
    pub(super) fn global_scripts(&mut self, s: &Stmt, c: &str) -> bool {
        match s.keyword.as_str() {
            "startup_script"
            | "shutdown_script"
            | "notify_fifo_script"
            | "vrrp_notify_fifo_script"
            | "lvs_notify_fifo_script" => self.global_script(s, c),
            "startup_script_timeout" | "shutdown_script_timeout" => {
                let Some(value) = self.integer(s, c) else {
                    return true;
                };
                // keepalived: "must be in [1, 1000]", a configuration error.
                let result = match u64::try_from(value) {
                    Ok(seconds @ 1..=1000) => Ok(Duration::from_secs(seconds)),
                    _ => Err(format!("{} must be 1..1000 seconds", s.keyword)),
                };
                let Some(timeout) = self.ok(s, c, result) else {
                    return true;
                };
                let global = &mut self.draft.global;
                if s.keyword == "startup_script_timeout" {
                    global.startup_timeout = Some(timeout);
                } else {
                    global.shutdown_timeout = Some(timeout);
                }
            }
            "fifo_write_vrrp_states_on_reload" => {
                if self.no_value(s, c) {
                    self.draft.global.fifo_write_states_on_reload = true;
                }
            }
            "reload_file" => {
                if self.no_block(s, c) {
                    let path = match s.args.as_slice() {
                        [] => Ok(PathBuf::from(DEFAULT_RELOAD_FILE)),
                        [path] => Ok(PathBuf::from(path)),
                        _ => Err("reload_file takes one path".to_owned()),
                    };
                    if let Some(path) = self.ok(s, c, path) {
                        self.draft.global.reload_file = Some(path);
                    }
                }
            }
            "reload_time_file" => self.reload_time_file(s, c),
            "reload_repeat" => {
                if self.no_block(s, c) {
                    if !s.args.is_empty() {
                        // keepalived's handler never looks at its words.
                        self.d.warn(
                            &s.at,
                            format!(
                                "{c}: reload_repeat takes no value: '{}' is ignored and the repeat is on, as keepalived",
                                s.rest()
                            ),
                        );
                    }
                    self.draft.global.reload_repeat = true;
                }
            }
            _ => return false,
        }
        true
    }

    /// `reload_time_file PATH` (keepalived: "reload_time_file invalid" for anything but one
    /// word). keepalived runs from `/` and watches the directory before the last `/`, so a
    /// relative path is one under `/`; baton says so.
    fn reload_time_file(&mut self, s: &Stmt, c: &str) {
        let Some(path) = self.one(s, c) else {
            return;
        };
        let mut path = PathBuf::from(path);
        if path.is_relative() {
            let absolute = Path::new("/").join(&path);
            self.d.warn(
                &s.at,
                format!(
                    "{c}: reload_time_file {} is not an absolute path; watched as {}, as keepalived (which runs from /) would",
                    path.display(),
                    absolute.display()
                ),
            );
            path = absolute;
        }
        self.draft.global.reload_time_file = Some(path);
    }

    /// One of the five scripts: keepalived takes the first and reports the others as
    /// errors ("startup script already specified", "notify_fifo_script already specified").
    fn global_script(&mut self, s: &Stmt, c: &str) {
        let scripts = &self.draft.global.scripts;
        let given = match s.keyword.as_str() {
            "startup_script" => scripts.startup.is_some(),
            "shutdown_script" => scripts.shutdown.is_some(),
            "notify_fifo_script" => scripts.notify_fifo.is_some(),
            "vrrp_notify_fifo_script" => scripts.vrrp_notify_fifo.is_some(),
            _ => scripts.lvs_notify_fifo.is_some(),
        };
        if given {
            self.error(&s.at, c, format!("{} is given twice", s.keyword));
            return;
        }
        let Some(script) = self.notify_script(s, c) else {
            return;
        };
        let scripts = &mut self.draft.global.scripts;
        match s.keyword.as_str() {
            "startup_script" => scripts.startup = Some(timed(script)),
            "shutdown_script" => scripts.shutdown = Some(timed(script)),
            "notify_fifo_script" => scripts.notify_fifo = Some(script),
            "vrrp_notify_fifo_script" => scripts.vrrp_notify_fifo = Some(script),
            _ => scripts.lvs_notify_fifo = Some(script),
        }
    }
}

/// A start or stop script with keepalived's default time, until its `*_script_timeout`.
fn timed(script: NotifyScript) -> TimedScript {
    TimedScript {
        script,
        timeout: DEFAULT_TIMEOUT,
    }
}

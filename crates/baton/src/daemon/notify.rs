//! State changes to notify scripts, in keepalived's order: the state's own script
//! (`notify_master`, ...) first, then the generic `notify` with its four arguments; for a
//! sync group, the group's scripts once the whole group has reached the new state.

use std::collections::HashSet;
use std::sync::Mutex;

use baton_config::{Config, Notify, NotifyScript, ScriptUser};
use baton_vrrp::{InstanceId, Router, State};

use super::notify_fifo::{NotifyFifos, fifo_line};
use super::smtp_alert::VrrpAlerts;
use super::smtp_message::VrrpChange;
use crate::scripts::{Credentials, Notification, Notifier, Script};

/// keepalived's name for the state in notify arguments; `STOP` for a stopped instance.
fn notify_state(state: State) -> &'static str {
    match state {
        State::Initialize => "STOP",
        other => other.as_str(),
    }
}

pub(crate) struct StateNotifier {
    notifier: Notifier,
    default_user: Option<Credentials>,
    /// `notify_fifo` / `vrrp_notify_fifo`: each change as a line, after its scripts.
    fifos: NotifyFifos,
    /// `smtp_alert`: each change as an e-mail, after the FIFOs (keepalived's order).
    mail: VrrpAlerts,
    /// Instances (by name, which a reload keeps) that have reported a state: priority
    /// changes before that are the start-up's tracking, which keepalived does not report.
    started: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for StateNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateNotifier").finish_non_exhaustive()
    }
}

impl StateNotifier {
    pub(crate) fn new(
        notifier: Notifier,
        default_user: Option<Credentials>,
        fifos: NotifyFifos,
        mail: VrrpAlerts,
    ) -> StateNotifier {
        StateNotifier {
            notifier,
            default_user,
            fifos,
            mail,
            started: Mutex::default(),
        }
    }

    /// A reload's notify FIFOs: kept open if the configuration names the same ones.
    pub(crate) fn reopen_fifos(&mut self, config: &Config) {
        if !self.fifos.opened_from(&config.global) {
            // The old ones close (and a FIFO baton made goes) before the new ones open.
            self.fifos = NotifyFifos::default();
            self.fifos = NotifyFifos::open(&config.global, self.default_user);
        }
        self.mail.reconfigure(&config.global);
    }

    /// The stop: e-mail still queued goes out (bounded).
    pub(crate) async fn close_mail(self) {
        self.mail.close().await;
    }

    pub(crate) fn default_user(&self) -> Option<Credentials> {
        self.default_user
    }

    /// A reload's `script_user`: notify scripts queued from now on run as it.
    pub(crate) fn set_default_user(&mut self, default_user: Option<Credentials>) {
        self.default_user = default_user;
    }

    /// Queues the scripts for instance `id` having entered `to`.
    pub(crate) fn instance_changed(
        &self,
        config: &Config,
        router: &Router,
        id: InstanceId,
        to: State,
    ) {
        let (Some(instance), Some(engine)) = (config.instances.get(id.0), router.instance(id))
        else {
            return;
        };
        let priority = engine.effective_priority().get();
        self.queue(&instance.notify, "INSTANCE", &instance.name, to, priority);
        self.started_set().insert(instance.name.clone());
        let change = mail_change(to);
        self.mail
            .instance(&instance.name, instance.notify.smtp_alert, change);

        let Some(group) = config.sync_group_of(&instance.name) else {
            return;
        };
        let all_there = group.members.iter().all(|member| {
            router
                .find(member)
                .and_then(|m| router.instance(m))
                .is_some_and(|m| m.state() == to)
        });
        if all_there {
            self.queue(&group.notify, "GROUP", &group.name, to, 0);
            self.mail
                .group(&group.name, group.notify.smtp_alert, change);
        }
    }

    /// keepalived's `notify_master_rx_lower_pri`: instance `id`, master, heard a router of
    /// lower priority. The script gets no arguments, as in keepalived; the FIFOs get
    /// `MASTER_RX_LOWER_PRI` with the instance's `priority`.
    pub(crate) fn lower_priority_heard(&self, config: &Config, id: InstanceId, priority: u8) {
        let Some(instance) = config.instances.get(id.0) else {
            return;
        };
        if let Some(script) = &instance.notify.master_rx_lower_pri {
            self.notifier.send(Notification {
                script: self.script(script),
                args: Vec::new(),
            });
        }
        let line = fifo_line("INSTANCE", &instance.name, "MASTER_RX_LOWER_PRI", priority);
        self.fifos.write(&line);
    }

    /// keepalived's `notify_priority_changes`: instance `id`'s effective priority is now
    /// `priority`; only the FIFOs hear of it, as in keepalived. Not before the instance's
    /// first state: keepalived applies the initial tracking without a line.
    pub(crate) fn priority_changed(
        &self,
        config: &Config,
        router: &Router,
        id: InstanceId,
        priority: u8,
    ) {
        let (Some(instance), Some(engine)) = (config.instances.get(id.0), router.instance(id))
        else {
            return;
        };
        let group = config.sync_group_of(&instance.name);
        let on = instance
            .notify
            .priority_changes
            .or_else(|| group.and_then(|g| g.notify.priority_changes))
            .unwrap_or(config.global.notify_priority_changes);
        if on && self.started_set().contains(&instance.name) {
            let state = if engine.state() == State::Master {
                "MASTER_PRIORITY"
            } else {
                "BACKUP_PRIORITY"
            };
            let line = fifo_line("INSTANCE", &instance.name, state, priority);
            self.fifos.write(&line);
        }
    }

    /// Instance `id` of `config` (the configuration before the reload) was removed by a
    /// reload and has stopped, having been in `from` with `priority`. keepalived reports it
    /// `DELETED` with `notify_deleted` (its script and the generic notify), else `FAULT`
    /// (the fault script and the generic notify), unless it already was in FAULT.
    pub(crate) fn instance_deleted(
        &self,
        config: &Config,
        id: InstanceId,
        (from, priority): (State, u8),
    ) {
        let Some(instance) = config.instances.get(id.0) else {
            return;
        };
        self.started_set().remove(&instance.name);
        let notify = &instance.notify;
        let (specific, state, change) = if notify.notify_deleted {
            (&notify.deleted, "DELETED", VrrpChange::Deleted)
        } else if from == State::Fault {
            return;
        } else {
            (&notify.fault, "FAULT", VrrpChange::Fault)
        };
        self.run(
            notify,
            specific,
            ("INSTANCE", &instance.name, state, priority),
        );
        self.mail
            .instance(&instance.name, notify.smtp_alert, change);
    }

    /// keepalived's `fifo_write_vrrp_states_on_reload`: after a reload, every instance and
    /// sync group writes its state to the FIFOs, except those the reload `restarted`, whose
    /// new states are written as they come (keepalived likewise writes a changed one's
    /// notification instead). An instance not started yet has nothing to write.
    pub(crate) fn write_states(&self, config: &Config, router: &Router, restarted: &[String]) {
        let state_of = |name: &String| {
            router
                .find(name)
                .and_then(|id| router.instance(id))
                .map(|engine| engine.state())
                .filter(|state| *state != State::Initialize && !restarted.contains(name))
        };
        for (id, engine) in router.instances() {
            let Some(instance) = config.instances.get(id.0) else {
                continue;
            };
            if let Some(state) = state_of(&instance.name) {
                let priority = engine.effective_priority().get();
                let line = fifo_line("INSTANCE", &instance.name, state.as_str(), priority);
                self.fifos.write(&line);
            }
        }
        for group in &config.sync_groups {
            let states: Option<Vec<State>> = group.members.iter().map(state_of).collect();
            if let Some([first, rest @ ..]) = states.as_deref() {
                if rest.iter().all(|state| state == first) {
                    self.fifos
                        .write(&fifo_line("GROUP", &group.name, first.as_str(), 0));
                }
            }
        }
    }

    fn queue(&self, notify: &Notify, kind: &str, name: &str, to: State, priority: u8) {
        let specific = match to {
            State::Master => &notify.master,
            State::Backup => &notify.backup,
            State::Fault => &notify.fault,
            State::Initialize => &notify.stop,
        };
        self.run(notify, specific, (kind, name, notify_state(to), priority));
    }

    /// The state's own script, then the generic `notify` with `KIND NAME STATE PRIORITY`,
    /// then the same four as a line to the FIFOs.
    fn run(
        &self,
        notify: &Notify,
        specific: &Option<NotifyScript>,
        (kind, name, state, priority): (&str, &str, &str, u8),
    ) {
        if let Some(script) = specific {
            let script = self.script(script);
            self.notifier.send(Notification {
                script,
                args: Vec::new(),
            });
        }
        if let Some(script) = &notify.any {
            let script = self.script(script);
            self.notifier
                .send(Notification::generic(script, kind, name, state, priority));
        }
        self.fifos.write(&fifo_line(kind, name, state, priority));
    }

    fn started_set(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // Only inserts and removes under the lock: a poisoned set is still whole.
        self.started.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn script(&self, script: &NotifyScript) -> Script {
        let credentials = match &script.user {
            Some(user) => resolve(user),
            None => self.default_user,
        };
        Script::new(script.argv.clone(), credentials)
    }
}

/// What an instance or group entering `state` mails about.
fn mail_change(state: State) -> VrrpChange {
    match state {
        State::Master => VrrpChange::Master,
        State::Backup => VrrpChange::Backup,
        State::Fault => VrrpChange::Fault,
        State::Initialize => VrrpChange::Stop,
    }
}

/// Resolves a per-script user; an unknown user was caught at startup for the global one,
/// and here falls back to `nobody` rather than to root.
fn resolve(user: &ScriptUser) -> Option<Credentials> {
    Credentials::lookup(&user.user, user.group.as_deref())
        .or_else(|error| {
            tracing::error!(%error, "running the script as nobody instead");
            Credentials::lookup("nobody", None)
        })
        .ok()
}

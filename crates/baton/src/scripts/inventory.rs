//! Every script a configuration can run, with the user it runs as, the arguments baton
//! passes it and how long it may take. The script helper runs nothing else (a daemon that
//! was taken over can only trigger what the configuration file already says), and the
//! daemon checks at load that the helper will run the scripts it needs it for.

use std::time::Duration;

use baton_config::{CheckerKind, Config, Notify, NotifyScript, ScriptUser};

use super::Credentials;
use super::credentials::CredentialsError;

/// How long a notify script may run (the daemon's notifier waits this long for each).
pub(crate) const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// The states keepalived passes to a generic `notify` script (`DELETED` with
/// `notify_deleted`, for an instance a reload removed).
pub(crate) const NOTIFY_STATES: [&str; 5] = ["MASTER", "BACKUP", "FAULT", "STOP", "DELETED"];

/// One script of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Where it comes from, for messages: `vrrp_script chk`, `VI_1 notify_master`.
    pub(crate) what: String,
    pub(crate) argv: Vec<String>,
    /// `None`: the daemon's own user (no `script_user`, no `keepalived_script` user).
    pub(crate) credentials: Option<Credentials>,
    pub(crate) args: Arguments,
    pub(crate) timeout: Duration,
}

/// What baton appends to a script's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arguments {
    None,
    /// keepalived's generic `notify`: `KIND NAME STATE PRIORITY`, with this kind and name.
    Notify {
        kind: &'static str,
        name: String,
    },
}

impl Arguments {
    /// Whether `args` are what baton passes to such a script: nothing, or for `notify` the
    /// kind and name it was configured for, a state keepalived names, a priority 0..=255.
    pub(crate) fn accepts(&self, args: &[String]) -> bool {
        match self {
            Arguments::None => args.is_empty(),
            Arguments::Notify { kind, name } => match args {
                [k, n, state, priority] => {
                    k == kind
                        && n == name
                        && NOTIFY_STATES.contains(&state.as_str())
                        && priority.parse::<u8>().is_ok()
                        && !priority.starts_with('+')
                }
                _ => false,
            },
        }
    }
}

/// The scripts of `config`; `default_user` runs those that name no user. A user that does
/// not exist is an error.
pub(crate) fn inventory(
    config: &Config,
    default_user: Option<Credentials>,
) -> Result<Vec<Entry>, CredentialsError> {
    let mut entries = Vec::new();
    let user = |user: &Option<ScriptUser>| match user {
        Some(user) => Credentials::lookup(&user.user, user.group.as_deref()).map(Some),
        None => Ok(default_user),
    };
    for script in &config.scripts {
        entries.push(Entry {
            what: format!("vrrp_script {}", script.name),
            argv: script.argv.clone(),
            credentials: user(&script.user)?,
            args: Arguments::None,
            timeout: script.timeout,
        });
    }
    let mut notify = |owner: &str, kind: &'static str, notify: &Notify| {
        let specific = [
            ("notify_master", &notify.master),
            ("notify_backup", &notify.backup),
            ("notify_fault", &notify.fault),
            ("notify_stop", &notify.stop),
            ("notify_master_rx_lower_pri", &notify.master_rx_lower_pri),
            ("notify_deleted", &notify.deleted),
        ];
        for (key, script) in specific {
            if let Some(script) = script {
                entries.push(notify_entry(owner, key, script, Arguments::None, &user)?);
            }
        }
        if let Some(script) = &notify.any {
            let args = Arguments::Notify {
                kind,
                name: owner.to_owned(),
            };
            entries.push(notify_entry(owner, "notify", script, args, &user)?);
        }
        Ok::<_, CredentialsError>(())
    };
    for instance in &config.instances {
        notify(&instance.name, "INSTANCE", &instance.notify)?;
    }
    for group in &config.sync_groups {
        notify(&group.name, "GROUP", &group.notify)?;
    }
    for service in &config.virtual_servers {
        let quorum = [
            ("quorum_up", &service.quorum_up),
            ("quorum_down", &service.quorum_down),
        ];
        let real = service.real_servers.iter().flat_map(|real| {
            [
                ("notify_up", &real.notify_up),
                ("notify_down", &real.notify_down),
            ]
        });
        for (key, script) in quorum.into_iter().chain(real) {
            if let Some(script) = script {
                entries.push(notify_entry(
                    &service.name,
                    key,
                    script,
                    Arguments::None,
                    &user,
                )?);
            }
        }
        for checker in service.real_servers.iter().flat_map(|r| &r.checkers) {
            if let CheckerKind::Misc {
                argv,
                timeout,
                user: misc_user,
                ..
            } = &checker.kind
            {
                entries.push(Entry {
                    what: format!("{} MISC_CHECK", service.name),
                    argv: argv.clone(),
                    credentials: user(misc_user)?,
                    args: Arguments::None,
                    timeout: *timeout,
                });
            }
        }
    }
    Ok(entries)
}

fn notify_entry(
    owner: &str,
    key: &str,
    script: &NotifyScript,
    args: Arguments,
    user: &impl Fn(&Option<ScriptUser>) -> Result<Option<Credentials>, CredentialsError>,
) -> Result<Entry, CredentialsError> {
    Ok(Entry {
        what: format!("{owner} {key}"),
        argv: script.argv.clone(),
        credentials: user(&script.user)?,
        args,
        timeout: NOTIFY_TIMEOUT,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn notify_arguments_are_the_configured_kind_and_name_a_state_and_a_priority() {
        let rule = Arguments::Notify {
            kind: "INSTANCE",
            name: "VI_1".into(),
        };
        assert!(rule.accepts(&strings(&["INSTANCE", "VI_1", "MASTER", "150"])));
        assert!(rule.accepts(&strings(&["INSTANCE", "VI_1", "STOP", "0"])));
        for wrong in [
            &["GROUP", "VI_1", "MASTER", "150"][..],
            &["INSTANCE", "VI_2", "MASTER", "150"],
            &["INSTANCE", "VI_1", "master", "150"],
            &["INSTANCE", "VI_1", "MASTER", "256"],
            &["INSTANCE", "VI_1", "MASTER", "-1"],
            &["INSTANCE", "VI_1", "MASTER", "+1"],
            &["INSTANCE", "VI_1", "MASTER", "1; rm -rf /"],
            &["INSTANCE", "VI_1", "MASTER"],
            &["INSTANCE", "VI_1", "MASTER", "150", "extra"],
        ] {
            assert!(!rule.accepts(&strings(wrong)), "{wrong:?}");
        }
        assert!(Arguments::None.accepts(&[]));
        assert!(!Arguments::None.accepts(&strings(&["MASTER"])));
    }

    #[test]
    fn lists_track_notify_quorum_and_misc_scripts_with_their_users() {
        let text = r#"
global_defs {
    script_user nobody
}
vrrp_script chk {
    script "/bin/true check"
    timeout 3
}
vrrp_script own {
    script "/bin/false"
    user root
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        10.0.3.100
    }
    notify_master "/bin/echo master"
    notify /bin/notify
}
virtual_server 10.0.3.100 80 {
    protocol TCP
    quorum_up /bin/up
    real_server 10.0.3.11 80 {
        MISC_CHECK {
            misc_path "/bin/misc"
            misc_timeout 4
        }
    }
}
"#;
        let config = baton_config::parse_keepalived(text, "k.conf")
            .expect("valid")
            .config;
        let nobody = Credentials::lookup("nobody", None).expect("nobody");
        let root = Credentials::lookup("root", None).expect("root");
        let entries = inventory(&config, Some(nobody)).expect("users exist");
        let found = |what: &str| {
            entries
                .iter()
                .find(|e| e.what == what)
                .unwrap_or_else(|| panic!("{what} in {entries:?}"))
        };
        let chk = found("vrrp_script chk");
        assert_eq!(chk.argv, strings(&["/bin/true", "check"]));
        assert_eq!(
            (chk.credentials, chk.timeout),
            (Some(nobody), Duration::from_secs(3))
        );
        assert_eq!(found("vrrp_script own").credentials, Some(root));
        assert_eq!(found("VI_1 notify_master").args, Arguments::None);
        assert_eq!(
            found("VI_1 notify").args,
            Arguments::Notify {
                kind: "INSTANCE",
                name: "VI_1".into()
            }
        );
        assert_eq!(found("VI_1 notify").timeout, NOTIFY_TIMEOUT);
        let vs = &config.virtual_servers[0].name;
        assert_eq!(
            found(&format!("{vs} quorum_up")).argv,
            strings(&["/bin/up"])
        );
        let misc = found(&format!("{vs} MISC_CHECK"));
        assert_eq!(misc.timeout, Duration::from_secs(4));
        assert_eq!(entries.len(), 6);
    }
}

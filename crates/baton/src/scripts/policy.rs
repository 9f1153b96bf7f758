//! The script policy of the configuration running now: `enable_script_security` and who
//! runs scripts that name no user. It is process-wide, as keepalived's `script_security`
//! and default script user are, because scripts are made in many places (track scripts,
//! the notify scripts of instances, groups and virtual servers) and all run through
//! [`Script::run`](super::Script::run); the daemon sets it with [`configure`] each time it
//! loads a configuration, so a reload that changes either applies to the next run.

use std::sync::RwLock;

use baton_config::Global;

use super::Credentials;
use super::credentials::{CredentialsError, DefaultUser, KEEPALIVED_SCRIPT};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Policy {
    security: bool,
    /// Why scripts that name no user may not run, when they may not.
    default_refused: Option<String>,
}

static POLICY: RwLock<Policy> = RwLock::new(Policy {
    security: false,
    default_refused: None,
});

/// Adopts `global`'s `enable_script_security` and `script_user`, and returns who runs
/// scripts that name no user: the `script_user`, else the `keepalived_script` user if it
/// exists, else `None`, the daemon's own user, which each such script's first run logs
/// (with `enable_script_security`, such scripts are refused instead, with the reason).
/// An unknown `script_user` is an error: never a silent fall-back to root.
pub(crate) fn configure(global: &Global) -> Result<Option<Credentials>, CredentialsError> {
    configure_with(global, KEEPALIVED_SCRIPT)
}

/// [`configure`], with `fallback` for the name `keepalived_script` (tests). What the
/// policy means for a script is said when the script runs (see `Script::permitted`), so
/// that a configuration without scripts logs nothing about them.
fn configure_with(
    global: &Global,
    fallback: &str,
) -> Result<Option<Credentials>, CredentialsError> {
    let (credentials, policy) = decide(global, fallback)?;
    *POLICY.write().unwrap_or_else(|e| e.into_inner()) = policy;
    Ok(credentials)
}

/// The default user and the policy `global` asks for.
fn decide(
    global: &Global,
    fallback: &str,
) -> Result<(Option<Credentials>, Policy), CredentialsError> {
    let script_user = global
        .script_user
        .as_ref()
        .map(|user| (user.user.as_str(), user.group.as_deref()));
    let security = global.enable_script_security;
    let (credentials, default_refused) =
        match DefaultUser::resolve(script_user, fallback, security)? {
            DefaultUser::User(credentials) => (Some(credentials), None),
            DefaultUser::Daemon => (None, None),
            DefaultUser::Refused(reason) => (None, Some(reason)),
        };
    let policy = Policy {
        security,
        default_refused,
    };
    Ok((credentials, policy))
}

/// Whether `enable_script_security` is on.
pub(crate) fn security() -> bool {
    POLICY.read().unwrap_or_else(|e| e.into_inner()).security
}

/// Why scripts that name no user may not run, if they may not.
pub(crate) fn default_refused() -> Option<String> {
    POLICY
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .default_refused
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(user: Option<&str>, security: bool) -> Global {
        Global {
            enable_script_security: security,
            script_user: user.map(|user| baton_config::ScriptUser {
                user: user.to_owned(),
                group: None,
            }),
            ..Global::default()
        }
    }

    /// What each configuration of a reload sequence decides. (The process-wide policy itself
    /// is left alone: other tests run scripts meanwhile.)
    #[test]
    fn each_configuration_decides_the_policy_and_the_default_user() {
        let nobody = Credentials::lookup("nobody", None).expect("nobody");
        let (user, policy) = decide(&global(Some("nobody"), true), "absent-baton").expect("ok");
        assert_eq!(user, Some(nobody));
        assert_eq!(
            policy,
            Policy {
                security: true,
                default_refused: None
            }
        );
        // The next one drops script_user, and there is no keepalived_script user either.
        let (user, policy) = decide(&global(None, true), "absent-baton").expect("ok");
        assert_eq!(user, None);
        let reason = policy.default_refused.expect("refused");
        assert!(reason.contains("absent-baton"), "{reason}");
        // The keepalived_script user, when it exists (here "nobody", injected).
        let (user, policy) = decide(&global(None, true), "nobody").expect("ok");
        assert_eq!((user, policy.default_refused), (Some(nobody), None));
        // Without script security: the daemon's own user, said in the log.
        let (user, policy) = decide(&global(None, false), "absent-baton").expect("ok");
        assert_eq!(
            (user, policy.security, policy.default_refused),
            (None, false, None)
        );
        assert!(decide(&global(Some("no-such-user-baton"), false), "nobody").is_err());
    }

    #[test]
    fn the_defaults_change_nothing_for_running_scripts() {
        // What every test that runs a script relies on, and a configuration without
        // script settings on a host without keepalived_script gives.
        let (user, policy) = decide(&Global::default(), "absent-baton").expect("ok");
        assert_eq!(user, None);
        assert_eq!(policy, POLICY.read().expect("policy").clone());
    }
}

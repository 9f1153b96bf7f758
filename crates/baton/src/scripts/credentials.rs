//! Who scripts run as. keepalived's `script_user USER [GROUP]`: when set, scripts never run
//! as root. Without it, keepalived's default (`get_default_script_user` in lib/notify.c):
//! the user `keepalived_script` if it exists, else the daemon's own user, which with
//! `enable_script_security` keepalived refuses instead.

use nix::unistd::{Gid, Group, Uid, User};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) uid: Uid,
    pub(crate) gid: Gid,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CredentialsError {
    #[error("script_user {0}: no such user")]
    NoUser(String),
    #[error("script_user group {0}: no such group")]
    NoGroup(String),
    #[error("looking up {name}: {source}")]
    Lookup { name: String, source: nix::Error },
}

/// The user keepalived runs scripts as when no `script_user` is set, if it exists.
pub(crate) const KEEPALIVED_SCRIPT: &str = "keepalived_script";

/// Who runs scripts that name no user of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DefaultUser {
    /// The global `script_user`, or the `keepalived_script` user.
    User(Credentials),
    /// The daemon's own user: no `script_user` and no `keepalived_script` user (keepalived
    /// does the same, and says so).
    Daemon,
    /// No user may run them: `enable_script_security` with neither `script_user` nor a
    /// `keepalived_script` user; keepalived refuses such scripts, for this reason.
    Refused(String),
}

impl DefaultUser {
    /// keepalived's rule: `script_user` when set (an unknown one is an error), else
    /// `fallback` (`keepalived_script`, see [`KEEPALIVED_SCRIPT`]) if that user exists,
    /// else the daemon's own user, unless `security` forbids it.
    pub(crate) fn resolve(
        script_user: Option<(&str, Option<&str>)>,
        fallback: &str,
        security: bool,
    ) -> Result<DefaultUser, CredentialsError> {
        if let Some((user, group)) = script_user {
            return Credentials::lookup(user, group).map(DefaultUser::User);
        }
        match Credentials::lookup(fallback, None) {
            Ok(credentials) => Ok(DefaultUser::User(credentials)),
            Err(CredentialsError::NoUser(_)) if security => Ok(DefaultUser::Refused(format!(
                "enable_script_security is set, and neither script_user nor a {fallback} \
                 user exists to run scripts as (keepalived: \"Unable to set default user \
                 {fallback}\"); set script_user, or create the user"
            ))),
            Err(CredentialsError::NoUser(_)) => Ok(DefaultUser::Daemon),
            Err(other) => Err(other),
        }
    }
}

impl Credentials {
    /// The daemon's own user and group: what a script without credentials runs as.
    pub(crate) fn daemon() -> Credentials {
        Credentials {
            uid: nix::unistd::geteuid(),
            gid: nix::unistd::getegid(),
        }
    }

    /// Resolves `user` and optional `group` (default: the user's primary group).
    pub(crate) fn lookup(user: &str, group: Option<&str>) -> Result<Credentials, CredentialsError> {
        let lookup_error = |source| CredentialsError::Lookup {
            name: user.to_owned(),
            source,
        };
        let found = User::from_name(user).map_err(lookup_error)?;
        let found = found.ok_or_else(|| CredentialsError::NoUser(user.to_owned()))?;
        let gid = match group {
            None => found.gid,
            Some(name) => {
                let group = Group::from_name(name).map_err(|source| CredentialsError::Lookup {
                    name: name.to_owned(),
                    source,
                })?;
                group
                    .ok_or_else(|| CredentialsError::NoGroup(name.to_owned()))?
                    .gid
            }
        };
        Ok(Credentials {
            uid: found.uid,
            gid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_user_follows_keepalived() {
        let nobody = Credentials::lookup("nobody", None).expect("nobody");
        // script_user wins; an unknown one is an error, never a fall-back.
        assert_eq!(
            DefaultUser::resolve(Some(("nobody", None)), "root", false).expect("ok"),
            DefaultUser::User(nobody)
        );
        assert!(matches!(
            DefaultUser::resolve(Some(("no-such-user-baton", None)), "nobody", false),
            Err(CredentialsError::NoUser(_))
        ));
        // Without it: the keepalived_script user (here "nobody", injected) when it exists.
        for security in [false, true] {
            assert_eq!(
                DefaultUser::resolve(None, "nobody", security).expect("ok"),
                DefaultUser::User(nobody)
            );
        }
        // Else the daemon's user, which script security refuses, saying why.
        assert_eq!(
            DefaultUser::resolve(None, "no-such-user-baton", false).expect("ok"),
            DefaultUser::Daemon
        );
        let DefaultUser::Refused(reason) =
            DefaultUser::resolve(None, "no-such-user-baton", true).expect("ok")
        else {
            panic!("refused");
        };
        assert!(reason.contains("script_user"), "{reason}");
        assert!(reason.contains("no-such-user-baton"), "{reason}");
    }

    #[test]
    fn resolves_nobody_and_rejects_unknown_names() {
        let nobody = Credentials::lookup("nobody", None).expect("nobody exists on Debian");
        assert!(!nobody.uid.is_root());
        assert!(matches!(
            Credentials::lookup("no-such-user-baton", None),
            Err(CredentialsError::NoUser(_))
        ));
        assert!(matches!(
            Credentials::lookup("nobody", Some("no-such-group-baton")),
            Err(CredentialsError::NoGroup(_))
        ));
    }
}

//! Who scripts run as. keepalived's `script_user USER [GROUP]`: when set, scripts never run
//! as root.

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

impl Credentials {
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

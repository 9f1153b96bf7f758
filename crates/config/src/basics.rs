//! Small value types the VRRP model and the L4 model both use, in a leaf of their own so
//! neither model imports the other's module: an address family, and a script with the user
//! it runs as.

use std::net::IpAddr;

use crate::diagnostic::WrittenAt;

/// A user and optional group to run a script as (`user [group]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptUser {
    pub user: String,
    /// `None`: the user's primary group.
    pub group: Option<String>,
}

/// Address family of an instance or a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(address: IpAddr) -> Family {
        if address.is_ipv6() {
            Family::Ipv6
        } else {
            Family::Ipv4
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        })
    }
}

/// A notify script: its program and arguments, and who runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyScript {
    pub argv: Vec<String>,
    /// `None`: [`crate::Global::script_user`].
    pub user: Option<ScriptUser>,
    pub location: WrittenAt,
}

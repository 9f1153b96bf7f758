//! What can go wrong at the edges. Every variant names the interface, and the address and
//! operation when there is one, because "Operation not permitted" alone tells an operator nothing.

use std::io;
use std::net::IpAddr;

use crate::family::Family;

/// An error from a socket, netlink or interface operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("interface {interface:?}: no such interface")]
    NoSuchInterface { interface: String },

    /// A name no interface can have: the kernel's are at most 15 bytes (IFNAMSIZ - 1).
    /// Checked before any lookup, whose own answer would not say so (rtnetlink's policy
    /// answers ERANGE, SO_BINDTODEVICE cuts the name to 15 bytes).
    #[error(
        "interface {interface:?}: no such interface: the name is {} bytes, longer than the \
         kernel's limit of 15",
        interface.len()
    )]
    NameTooLong { interface: String },

    #[error("interface {interface}: {operation}: {source}")]
    Interface {
        interface: String,
        operation: &'static str,
        #[source]
        source: io::Error,
    },

    #[error("interface {interface}: {operation} {address}: {source}")]
    Address {
        interface: String,
        address: IpAddr,
        operation: &'static str,
        #[source]
        source: io::Error,
    },

    #[error("interface {interface}: {address}/{prefix_len} is not a valid prefix length")]
    InvalidPrefix {
        interface: String,
        address: IpAddr,
        prefix_len: u8,
    },

    #[error("interface {interface}: label {label:?} for {address}: {reason}")]
    InvalidLabel {
        interface: String,
        address: IpAddr,
        label: String,
        reason: &'static str,
    },

    #[error("interface {interface}: has no {family} address to use as primary")]
    NoPrimaryAddress { interface: String, family: Family },

    #[error("interface {interface}: has no Ethernet hardware address")]
    NoHardwareAddress { interface: String },

    #[error("{operation}: {source}")]
    Netlink {
        operation: &'static str,
        #[source]
        source: io::Error,
    },

    #[error("{operation} {what}: {source}")]
    Routing {
        what: String,
        operation: &'static str,
        #[source]
        source: io::Error,
    },

    #[error("{operation}: must be called from within a tokio runtime")]
    NoRuntime { operation: &'static str },
}

impl Error {
    /// For `map_err`: an I/O error of `operation` on `interface`.
    pub(crate) fn interface<'a>(
        interface: &'a str,
        operation: &'static str,
    ) -> impl FnOnce(io::Error) -> Error + 'a {
        move |source| Error::Interface {
            interface: interface.to_owned(),
            operation,
            source,
        }
    }
}

/// Maps an I/O error of a netlink `operation` to [`Error::Netlink`], for `map_err`.
pub(crate) fn netlink_failed(operation: &'static str) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Netlink { operation, source }
}

/// nix's errno as the I/O error it stands for.
pub(crate) fn io_error(error: nix::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(error as i32)
}

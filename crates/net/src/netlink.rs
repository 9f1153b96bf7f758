//! Plumbing shared by [`crate::Addresses`] and [`crate::LinkWatcher`]: an rtnetlink connection
//! whose task lives exactly as long as its owner, and errno extraction from rtnetlink errors.

use std::io;

use futures_channel::mpsc::UnboundedReceiver;
use rtnetlink::packet_core::NetlinkMessage;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::SocketAddr;
use rtnetlink::{Handle, MulticastGroup};
use tokio::task::JoinHandle;

use crate::error::Error;

pub(crate) type Notifications =
    UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>;

/// An rtnetlink connection: the handle to send requests, the stream of notifications for the
/// subscribed groups, and the task that drives the socket.
pub(crate) struct Connection {
    pub(crate) handle: Handle,
    pub(crate) notifications: Notifications,
    pub(crate) task: AbortOnDrop,
}

/// Opens an rtnetlink socket in the calling thread's network namespace, subscribed to `groups`,
/// and spawns its driver on the current tokio runtime.
pub(crate) fn connect(
    groups: &[MulticastGroup],
    operation: &'static str,
) -> Result<Connection, Error> {
    let runtime =
        tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime { operation })?;
    let (connection, handle, notifications) = if groups.is_empty() {
        rtnetlink::new_connection()
    } else {
        rtnetlink::new_multicast_connection(groups)
    }
    .map_err(|source| Error::Netlink { operation, source })?;
    let task = AbortOnDrop(runtime.spawn(connection));
    Ok(Connection {
        handle,
        notifications,
        task,
    })
}

/// The connection task only ends by itself once both the handle and the notification receiver
/// are gone *and* a notification arrives, so it is aborted when its owner is dropped.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The errno a netlink request failed with, as a positive number, when the kernel gave one.
pub(crate) fn errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|code| code.get().abs()),
        _ => None,
    }
}

/// An rtnetlink error as an `io::Error`, keeping the OS error code when there is one.
pub(crate) fn to_io(error: rtnetlink::Error) -> io::Error {
    match errno(&error) {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::other(error),
    }
}

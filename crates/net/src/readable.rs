//! A descriptor waited for readable either through tokio or, on the protocol loop's
//! thread, through its own epoll (see `protocol_loop`): chosen where it is registered.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;

use crate::protocol_loop::ProtocolFd;

#[derive(Debug)]
pub(crate) enum Readable<T: AsRawFd + AsFd> {
    Tokio(AsyncFd<T>),
    Protocol(ProtocolFd<T>),
}

impl<T: AsRawFd + AsFd> Readable<T> {
    /// With the protocol loop when one runs on this thread, else with tokio through
    /// `register` (which fails outside a runtime).
    pub(crate) fn register(
        fd: T,
        register: impl FnOnce(T) -> io::Result<AsyncFd<T>>,
    ) -> io::Result<Readable<T>> {
        match ProtocolFd::register(fd) {
            Ok(registered) => registered.map(Readable::Protocol),
            Err(fd) => register(fd).map(Readable::Tokio),
        }
    }

    pub(crate) fn get_ref(&self) -> &T {
        match self {
            Readable::Tokio(fd) => fd.get_ref(),
            Readable::Protocol(fd) => fd.get_ref(),
        }
    }

    /// `read` once the descriptor is readable; `Pending` (and `cx` woken, through tokio or
    /// the protocol loop) while it answers WouldBlock. Cancel-safe: nothing is read by a
    /// poll that returns `Pending`. With `empty_after`, a successful read leaves the
    /// descriptor known empty (a one-shot timerfd), sparing the read that would say so.
    pub(crate) fn poll_read<R>(
        &self,
        cx: &mut Context<'_>,
        mut read: impl FnMut(&T) -> io::Result<R>,
        empty_after: bool,
    ) -> Poll<io::Result<R>> {
        match self {
            Readable::Protocol(fd) => fd.poll_read(read, empty_after),
            Readable::Tokio(fd) => loop {
                let mut guard = ready!(fd.poll_read_ready(cx))?;
                // WouldBlock clears the readiness: the next poll registers `cx` and waits.
                if let Ok(result) = guard.try_io(|inner| read(inner.get_ref())) {
                    if empty_after && result.is_ok() {
                        guard.clear_ready();
                    }
                    return Poll::Ready(result);
                }
            },
        }
    }
}

impl<T: AsRawFd + AsFd> AsRawFd for Readable<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_raw_fd()
    }
}

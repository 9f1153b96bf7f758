//! The VRRP protocol's thread, waiting in an epoll of its own instead of in tokio's.
//!
//! With adverts every 10 ms a backup wakes 100 times a second to read one packet and push
//! its timer back, a master to send one. Woken through tokio, each wake-up also runs the
//! runtime's park and unpark, its I/O driver's readiness dispatch, its timer wheel and a
//! task's harness around the daemon's own work; after 10 ms idle all of that starts from
//! cold caches, and it cost baton about twice keepalived's CPU per advert (issue 13).
//!
//! [`block_on`] runs the daemon's future on the calling thread with an epoll of its own,
//! holding the protocol's descriptors (the VRRP sockets and the protocol timer, registered
//! through [`ProtocolFd`]) and an eventfd. The tokio runtime runs on another thread and
//! drives everything else (netlink, signals, channels, timers, spawned tasks); what it
//! wakes for the daemon's future writes the eventfd. An advert thus wakes this thread
//! alone, once: epoll_wait, the reads, and the future polled, with no runtime around it.
//!
//! One future, polled whole after any event: there is no waker per descriptor. A
//! descriptor's readiness is a flag, set from an edge-triggered event and cleared by the
//! reader when the descriptor answers EAGAIN, as tokio keeps it; a descriptor nobody reads
//! for a while (its reader busy elsewhere in the future) keeps its flag and costs nothing.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

/// The epoll token of the eventfd; descriptors get their slot's index.
const WAKE_TOKEN: u64 = u64::MAX;
/// Events taken per epoll_wait: the protocol's descriptors are a few per interface.
const EVENTS: usize = 32;

thread_local! {
    /// The protocol loop running on this thread, if any (see [`block_on`]).
    static LOOP: RefCell<Option<Registry>> = const { RefCell::new(None) };
}

/// The descriptors registered with this thread's epoll, by token.
struct Registry {
    epoll: Arc<Epoll>,
    /// Each slot's readiness flag (None: free).
    slots: Vec<Option<Arc<AtomicBool>>>,
}

/// Wakes the protocol thread from anywhere: the eventfd written once per wake-up.
struct Wakeup {
    pending: AtomicBool,
    eventfd: EventFd,
}

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            // Fails only with the counter at its maximum: then it is readable already.
            let _ = self.eventfd.write(1);
        }
    }
}

/// Runs `future` to completion on this thread, in the context of `runtime` (which another
/// thread drives: tasks spawned and resources created here belong to it), with this
/// thread's protocol descriptors ([`ProtocolFd`]) waited for in an epoll of its own.
/// An error only if the epoll or the eventfd cannot be made or waited on.
pub fn block_on<F: Future>(runtime: &tokio::runtime::Handle, future: F) -> io::Result<F::Output> {
    let epoll = Arc::new(Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?);
    let wakeup = Arc::new(Wakeup {
        pending: AtomicBool::new(false),
        eventfd: EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)?,
    });
    epoll.add(
        &wakeup.eventfd,
        EpollEvent::new(EpollFlags::EPOLLIN, WAKE_TOKEN),
    )?;
    let previous = LOOP.with(|current| {
        current.borrow_mut().replace(Registry {
            epoll: Arc::clone(&epoll),
            slots: Vec::new(),
        })
    });
    let _restore = Restore(previous);
    let _runtime = runtime.enter();
    let waker = Waker::from(Arc::clone(&wakeup));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let mut events = [EpollEvent::empty(); EVENTS];
    loop {
        // Cleared before the poll: a wake during it writes the eventfd again. A swap, not a
        // store: it acquires what a waker released with its own swap before this one, so
        // the poll sees what the wake was for.
        wakeup.pending.swap(false, Ordering::AcqRel);
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Ok(output);
        }
        wait(&epoll, &wakeup, &mut events)?;
    }
}

/// Waits until something happened: the eventfd written, or a descriptor became readable
/// (its flag set).
fn wait(epoll: &Epoll, wakeup: &Wakeup, events: &mut [EpollEvent]) -> io::Result<()> {
    loop {
        let count = match epoll.wait(events, EpollTimeout::NONE) {
            Ok(count) => count,
            Err(Errno::EINTR) => continue,
            Err(error) => return Err(error.into()),
        };
        if count == 0 {
            continue;
        }
        LOOP.with(|current| {
            let current = current.borrow();
            for event in &events[..count] {
                let token = event.data();
                if token == WAKE_TOKEN {
                    // Level-triggered: read, or it would stay readable. EAGAIN: read already.
                    let _ = wakeup.eventfd.read();
                    continue;
                }
                let slot = current.as_ref().and_then(|registry| {
                    let index = usize::try_from(token).ok()?;
                    registry.slots.get(index)?.as_ref()
                });
                if let Some(ready) = slot {
                    ready.store(true, Ordering::Release);
                }
            }
        });
        return Ok(());
    }
}

/// Puts back the loop that ran on this thread before (none, unless nested).
struct Restore(Option<Registry>);

impl Drop for Restore {
    fn drop(&mut self) {
        LOOP.with(|current| *current.borrow_mut() = self.0.take());
    }
}

/// A descriptor of the protocol, read on the protocol loop's thread: see the module's doc.
#[derive(Debug)]
pub(crate) struct ProtocolFd<T: AsFd> {
    fd: T,
    token: usize,
    ready: Arc<AtomicBool>,
    /// The epoll it is in, to leave it on drop from wherever that happens.
    epoll: Arc<Epoll>,
}

impl<T: AsFd> ProtocolFd<T> {
    /// Registers `fd` (non-blocking) with this thread's protocol loop; `Err(fd)` back when
    /// no protocol loop runs on this thread (the caller registers it with tokio instead).
    pub(crate) fn register(fd: T) -> Result<io::Result<ProtocolFd<T>>, T> {
        LOOP.with(|current| {
            let mut current = current.borrow_mut();
            let Some(registry) = current.as_mut() else {
                return Err(fd);
            };
            let ready = Arc::new(AtomicBool::new(true));
            let token = match registry.slots.iter().position(Option::is_none) {
                Some(free) => free,
                None => {
                    registry.slots.push(None);
                    registry.slots.len() - 1
                }
            };
            let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLET;
            let event = EpollEvent::new(flags, token as u64);
            if let Err(error) = registry.epoll.add(fd.as_fd(), event) {
                return Ok(Err(error.into()));
            }
            registry.slots[token] = Some(Arc::clone(&ready));
            Ok(Ok(ProtocolFd {
                fd,
                token,
                ready,
                epoll: Arc::clone(&registry.epoll),
            }))
        })
    }

    pub(crate) fn get_ref(&self) -> &T {
        &self.fd
    }

    /// `read` on the descriptor unless it is known empty; `Pending` once it answers
    /// EAGAIN (WouldBlock), until the next edge. With `empty_after`, one successful read
    /// empties it (a timerfd). The protocol loop polls its future again on every event, so
    /// there is no waker to register.
    pub(crate) fn poll_read<R>(
        &self,
        mut read: impl FnMut(&T) -> io::Result<R>,
        empty_after: bool,
    ) -> Poll<io::Result<R>> {
        if !self.ready.load(Ordering::Acquire) {
            return self.pending();
        }
        match read(&self.fd) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                self.ready.store(false, Ordering::Release);
                self.pending()
            }
            Ok(value) => {
                if empty_after {
                    self.ready.store(false, Ordering::Release);
                }
                Poll::Ready(Ok(value))
            }
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    /// `Pending`, or an error if this thread runs no protocol loop: nothing would ever poll
    /// the reader again (it was moved off the thread it was registered on).
    fn pending<R>(&self) -> Poll<io::Result<R>> {
        if LOOP.with(|current| current.borrow().is_some()) {
            Poll::Pending
        } else {
            Poll::Ready(Err(io::Error::other(
                "a protocol descriptor was polled outside the protocol loop's thread",
            )))
        }
    }
}

impl<T: AsFd> Drop for ProtocolFd<T> {
    fn drop(&mut self) {
        let _ = self.epoll.delete(self.fd.as_fd());
        // Its slot is freed only on the loop's own thread (dropped elsewhere, it stays
        // taken: a few bytes, and never an event for another descriptor).
        let _ = LOOP.try_with(|current| {
            if let Ok(mut current) = current.try_borrow_mut()
                && let Some(registry) = current.as_mut()
                && Arc::ptr_eq(&registry.epoll, &self.epoll)
                && let Some(slot) = registry.slots.get_mut(self.token)
            {
                *slot = None;
            }
        });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::time::Duration;

    /// A current-thread runtime driven by a thread of its own, as `baton run` has it; the
    /// closure stops that thread.
    pub(crate) fn runtime_on_a_thread() -> (tokio::runtime::Handle, impl FnOnce()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let driver = std::thread::spawn(move || {
            runtime.block_on(async {
                let _ = stopped.await;
            });
        });
        (handle, move || {
            let _ = stop.send(());
            driver.join().expect("driver thread");
        })
    }

    fn read_datagram(socket: &UnixDatagram) -> io::Result<Vec<u8>> {
        let mut buf = [0u8; 64];
        let n = socket.recv(&mut buf)?;
        Ok(buf[..n].to_vec())
    }

    #[test]
    fn a_readable_descriptor_wakes_the_future_and_an_empty_one_waits() {
        let (handle, stop) = runtime_on_a_thread();
        let (reader, writer) = UnixDatagram::pair().expect("pair");
        reader.set_nonblocking(true).expect("nonblocking");
        let writer = std::thread::spawn(move || {
            for message in [b"one", b"two"] {
                std::thread::sleep(Duration::from_millis(30));
                writer.send(message).expect("send");
            }
        });
        let got = block_on(&handle, async move {
            let fd = ProtocolFd::register(reader)
                .expect("a loop runs")
                .expect("epoll");
            let mut got = Vec::new();
            while got.len() < 2 {
                got.push(
                    std::future::poll_fn(|_| fd.poll_read(read_datagram, false))
                        .await
                        .expect("read"),
                );
            }
            got
        })
        .expect("loop");
        writer.join().expect("writer");
        assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
        stop();
    }

    #[test]
    fn tokio_resources_wake_the_future_through_the_eventfd() {
        let (handle, stop) = runtime_on_a_thread();
        let started = std::time::Instant::now();
        let spawned = block_on(&handle, async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            // A task runs on the runtime's thread, and its answer comes back here.
            tokio::spawn(async { std::thread::current().id() })
                .await
                .expect("task")
        })
        .expect("loop");
        assert!(started.elapsed() >= Duration::from_millis(20), "woke early");
        assert_ne!(
            spawned,
            std::thread::current().id(),
            "the task ran on the protocol thread"
        );
        stop();
    }

    #[test]
    fn without_a_loop_registration_hands_the_descriptor_back() {
        let (reader, _writer) = UnixDatagram::pair().expect("pair");
        assert!(ProtocolFd::register(reader).is_err());
    }

    #[test]
    fn polled_off_its_thread_it_fails_instead_of_waiting_forever() {
        let (handle, stop) = runtime_on_a_thread();
        let (reader, _writer) = UnixDatagram::pair().expect("pair");
        reader.set_nonblocking(true).expect("nonblocking");
        let fd = block_on(&handle, async {
            ProtocolFd::register(reader).expect("loop")
        })
        .expect("loop")
        .expect("epoll");
        let polled =
            std::thread::spawn(move || fd.poll_read(read_datagram, false).map(|r| r.is_err()))
                .join()
                .expect("thread");
        assert_eq!(polled, Poll::Ready(true));
        stop();
    }
}

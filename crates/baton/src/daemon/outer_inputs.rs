//! What the daemon's main loop waits for besides the protocol's inputs: signals, control
//! requests, the reload schedule, virtual server events and its intervals, polled as one
//! group only when one of them was woken (see [`Woken`]), so that an advert costs none of
//! their polls.

use std::future::Future as _;
use std::pin::pin;
use std::task::{Context, Poll};

use anyhow::Context as _;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Interval;

use super::control::DaemonRequest;
use super::reload_schedule;
use super::virtual_servers::VirtualServers;
use super::woken::Woken;

/// One of the main loop's inputs besides the protocol's.
pub(super) enum Outer {
    /// SIGTERM or SIGINT.
    Stop,
    /// SIGHUP.
    Hangup,
    Schedule(reload_schedule::Update),
    Request(DaemonRequest),
    /// systemd's watchdog wants a ping.
    Watchdog,
    /// Time to refresh the L4 counters in the status.
    L4Status,
    /// The virtual servers took a step (their events handled already).
    VirtualServers,
}

/// The signal streams, control requests and intervals, with the group's waker.
pub(super) struct OuterInputs {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
    requests: mpsc::Receiver<DaemonRequest>,
    /// Pinged from the main loop, so a loop that no longer runs (no adverts) is restarted.
    watchdog: Option<Interval>,
    l4_status: Interval,
    woken: Woken,
}

impl OuterInputs {
    /// The signal handlers are installed here: before anything starts.
    pub(super) fn install_signals() -> anyhow::Result<Signals> {
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).context("installing SIGTERM handler")?,
            interrupt: signal(SignalKind::interrupt()).context("installing SIGINT handler")?,
            hangup: signal(SignalKind::hangup()).context("installing SIGHUP handler")?,
        })
    }

    pub(super) fn new(
        signals: Signals,
        requests: mpsc::Receiver<DaemonRequest>,
        watchdog: Option<Interval>,
        l4_status: Interval,
    ) -> OuterInputs {
        OuterInputs {
            terminate: signals.terminate,
            interrupt: signals.interrupt,
            hangup: signals.hangup,
            requests,
            watchdog,
            l4_status,
            woken: Woken::new(),
        }
    }

    /// The next input, polled only when one of them was woken or [`OuterInputs::wake`]
    /// said so. The reload schedule and the virtual servers are the caller's, borrowed for
    /// the poll; the virtual servers' wait on the VRRP status registers anew at every poll,
    /// so after every status published the caller calls [`OuterInputs::wake`].
    pub(super) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        schedule: &mut reload_schedule::Monitor,
        virtual_servers: &mut VirtualServers,
    ) -> Poll<Outer> {
        let OuterInputs {
            terminate,
            interrupt,
            hangup,
            requests,
            watchdog,
            l4_status,
            woken,
        } = self;
        woken.poll(cx, |cx| {
            if terminate.poll_recv(cx).is_ready() || interrupt.poll_recv(cx).is_ready() {
                return Poll::Ready(Outer::Stop);
            }
            if hangup.poll_recv(cx).is_ready() {
                return Poll::Ready(Outer::Hangup);
            }
            if let Some(watchdog) = watchdog
                && watchdog.poll_tick(cx).is_ready()
            {
                return Poll::Ready(Outer::Watchdog);
            }
            // A closed channel (None) never wakes the group again: as a disabled branch.
            if let Poll::Ready(Some(request)) = requests.poll_recv(cx) {
                return Poll::Ready(Outer::Request(request));
            }
            if let Poll::Ready(update) = pin!(schedule.next()).poll(cx) {
                return Poll::Ready(Outer::Schedule(update));
            }
            if pin!(virtual_servers.step()).poll(cx).is_ready() {
                return Poll::Ready(Outer::VirtualServers);
            }
            if l4_status.poll_tick(cx).is_ready() {
                return Poll::Ready(Outer::L4Status);
            }
            Poll::Pending
        })
    }

    /// The group is polled at the next [`OuterInputs::poll_next`].
    pub(super) fn wake(&self) {
        self.woken.wake();
    }

    /// Requests still queued learn that the daemon is stopping.
    pub(super) fn close_requests(&mut self) {
        self.requests.close();
        while self.requests.try_recv().is_ok() {}
    }
}

/// SIGTERM, SIGINT and SIGHUP, caught from the daemon's start.
pub(super) struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
}

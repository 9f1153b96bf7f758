//! Active health checks: one task per server probes it at an interval and flips its
//! [`CheckState`] after `rise` or `fall` results in a row.
//!
//! The probing and the counting are baton-health's, the same TCP and HTTP checkers and the
//! same rise/fall [`Tracker`] as L4's checks; this module maps a [`HealthCheck`] onto them
//! and drives them on the proxy's own schedule (probe starts `interval` apart), because
//! every probe, not only every verdict, counts in the server's metrics.
//!
//! Tasks are owned by the proxy's `Servers`: a reload stops the tasks of removed servers,
//! and dropping the last clone of the proxy stops them all. A task reports each verdict
//! through the callback it was spawned with (which holds its owner weakly, so that the task
//! keeps nothing alive), not through a pointer back to its owner.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use baton_health::{
    HttpCheck, HttpVersion, Outcome, Probe, ProbeKind, Schedule, Tracker, Url, Verdict,
};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::check_state::CheckState;
use crate::config::{CheckKind, HealthCheck};
use crate::upstream::Server;

/// The User-Agent of the HTTP checks, as documented on [`CheckKind::Http`]: servers can
/// tell the proxy's checks from L4's (keepalived's `KeepAliveClient`) and from clients.
const USER_AGENT: &str = "baton-health-check";

/// A running check task, stopped when this is dropped.
#[derive(Debug)]
pub(crate) struct CheckTask(JoinHandle<()>);

impl CheckTask {
    /// Runs `task` until the handle is dropped.
    pub(crate) fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Self {
        CheckTask(tokio::spawn(task))
    }
}

impl Drop for CheckTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts checking `server` on the current Tokio runtime. `decided` is called after every
/// verdict, once the server's state is set; the task ends when it returns false (its owner
/// is gone).
pub(crate) fn spawn(
    server: Arc<Server>,
    check: HealthCheck,
    decided: impl Fn() -> bool + Send + 'static,
) -> CheckTask {
    CheckTask(tokio::spawn(run(server, check, decided)))
}

async fn run(server: Arc<Server>, check: HealthCheck, decided: impl Fn() -> bool) {
    let interval = check.interval.max(Duration::from_millis(1));
    // A random start within the first interval, so that servers are not probed in step.
    let first = interval.mul_f64(rand::random::<f64>());
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + first, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let probe = probe_of(server.address, &check);
    let mut tracker = tracker(&check, server.check_state());
    loop {
        ticks.tick().await;
        let started = tokio::time::Instant::now();
        let outcome = baton_health::probe_as(&probe, USER_AGENT).await;
        let failure = match &outcome {
            Outcome::Down(failure) => {
                server.metrics.check_failed();
                tracing::debug!(server = %server.address, %failure, "health check failed");
                Some(failure.to_string())
            }
            Outcome::Up(_) => None,
        };
        server.metrics.checked(failure, started.elapsed());
        let Some(verdict) = tracker.record(&outcome) else {
            continue;
        };
        let state = match verdict {
            Verdict::Up { .. } => CheckState::Up,
            Verdict::Down { .. } => CheckState::Down,
        };
        let was = server.set_check_state(state);
        match verdict {
            Verdict::Down { reason } => tracing::warn!(
                server = %server.address,
                %reason,
                "server down: {} health checks failed in a row",
                check.fall.max(1)
            ),
            Verdict::Up { .. } if was == CheckState::Down => tracing::info!(
                server = %server.address,
                "server up: {} health checks passed in a row",
                check.rise.max(1)
            ),
            Verdict::Up { .. } => {
                tracing::debug!(server = %server.address, "health check confirms server up")
            }
        }
        if !decided() {
            return;
        }
    }
}

/// The probe `check` makes of `address`: a TCP connect, or one GET whose status must be
/// in `expect`, the whole exchange within `check.timeout`.
fn probe_of(address: SocketAddr, check: &HealthCheck) -> Probe {
    let kind = match &check.kind {
        CheckKind::Tcp => ProbeKind::Tcp,
        CheckKind::Http { path, host, expect } => ProbeKind::Http(HttpCheck {
            tls: false,
            urls: vec![Url {
                path: path.clone(),
                digest: None,
                status: vec![expect.clone()],
                host: None,
            }],
            host: host.clone(),
            version: HttpVersion::Http11,
            sni: false,
            tls_client: None,
        }),
    };
    Probe::new(kind, address, check.timeout)
}

/// Counts `check`'s results from `state` on: a reload restarts a server's task, not its
/// state. Up and unchecked start alike (one pass confirms the server, `fall` failures take
/// it down); down needs `rise` passes.
fn tracker(check: &HealthCheck, state: CheckState) -> Tracker {
    Tracker::new(&Schedule {
        // The task keeps its own ticks (probe starts `interval` apart, the first one spread
        // within the first interval), so the tracker's delays and warmup go unused.
        interval: check.interval,
        retry_interval: check.interval,
        fall: check.fall,
        rise: check.rise,
        warmup: None,
        start_down: state == CheckState::Down,
    })
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// Answers one connection with `answer` and returns the request it read.
    async fn answer_once(answer: &'static [u8]) -> (SocketAddr, JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("addr");
        let served = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.expect("read");
                assert!(n > 0, "the request ends with an empty line");
                request.extend_from_slice(&buf[..n]);
            }
            stream.write_all(answer).await.expect("write");
            String::from_utf8(request).expect("ascii request")
        });
        (address, served)
    }

    async fn probe(address: SocketAddr, check: &HealthCheck) -> Outcome {
        baton_health::probe_as(&probe_of(address, check), USER_AGENT).await
    }

    #[tokio::test]
    async fn http_check_sends_the_documented_get_and_checks_expect() {
        let (address, served) = answer_once(b"HTTP/1.1 302 Found\r\n\r\n").await;
        let outcome = probe(address, &HealthCheck::http("/healthz?full=1")).await;
        assert!(outcome.is_up(), "{outcome:?}");
        assert_eq!(
            served.await.expect("server"),
            format!(
                "GET /healthz?full=1 HTTP/1.1\r\nUser-Agent: baton-health-check\r\n\
                 Connection: close\r\nHost: {address}\r\n\r\n"
            )
        );

        let (address, served) = answer_once(b"HTTP/1.1 500 Oops\r\n\r\n").await;
        let mut check = HealthCheck::http("/");
        if let CheckKind::Http { host, .. } = &mut check.kind {
            *host = Some("app.example".into());
        }
        let Outcome::Down(failure) = probe(address, &check).await else {
            panic!("500 is not in 200..=399");
        };
        assert_eq!(failure.to_string(), "/: status 500");
        assert!(
            served
                .await
                .expect("server")
                .contains("\r\nHost: app.example\r\n")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_server_times_out_and_a_closed_port_is_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open = listener.local_addr().expect("addr");
        assert!(probe(open, &HealthCheck::tcp()).await.is_up());
        let Outcome::Down(failure) = probe(open, &HealthCheck::http("/")).await else {
            panic!("no answer is not up");
        };
        assert_eq!(failure.to_string(), "/: timed out after 1s");

        // Bound but not listening: the port stays ours, and refuses connections.
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("bind");
        let closed = socket.local_addr().expect("addr");
        let Outcome::Down(failure) = probe(closed, &HealthCheck::tcp()).await else {
            panic!("a closed port is not up");
        };
        assert!(
            failure.to_string().starts_with("connect failed: "),
            "{failure}"
        );
    }

    #[test]
    fn the_tracker_goes_on_from_the_server_s_state() {
        let down = || Outcome::Down(baton_health::Failure::Closed);
        let mut check = HealthCheck::tcp();
        (check.rise, check.fall) = (2, 3);
        let is_down = |change: Option<Verdict>| matches!(change, Some(Verdict::Down { .. }));
        let is_up = |change: Option<Verdict>| matches!(change, Some(Verdict::Up { .. }));

        for state in [CheckState::Unchecked, CheckState::Up] {
            let mut counter = tracker(&check, state);
            assert!(counter.record(&down()).is_none());
            assert!(counter.record(&down()).is_none());
            assert!(
                is_down(counter.record(&down())),
                "{state:?}: down after fall"
            );
            let mut counter = tracker(&check, state);
            assert!(
                is_up(counter.record(&Outcome::UP)),
                "{state:?}: one pass confirms"
            );
        }

        let mut counter = tracker(&check, CheckState::Down);
        assert!(counter.record(&Outcome::UP).is_none());
        assert!(
            counter.record(&down()).is_none(),
            "an interrupted streak starts over"
        );
        assert!(counter.record(&Outcome::UP).is_none());
        assert!(is_up(counter.record(&Outcome::UP)), "up after rise");
    }
}

//! Two network namespaces joined by a veth, made and removed by each test.
//!
//! ```text
//!   bnet-<pid>-<n>a                       bnet-<pid>-<n>b
//!   va 10.99.0.1/24 fd00:99::1/64  <-->   vb 10.99.0.2/24 fd00:99::2/64
//! ```
//! Interface names can be the same in every test because each lab has its own namespaces.
//! Nothing is created in the root namespace: the veth is made inside `a` with its peer placed
//! straight into `b`, and the root namespace's links, addresses and routes are never touched.
//! Namespaces start with no route out and keep none.
//!
//! `setns` moves only the calling thread, so test code runs on a thread made for it, which
//! enters a namespace before anything else and builds its own current-thread tokio runtime.
//! Sockets and netlink handles belong to the namespace the thread was in when they were made,
//! so one thread can hold sockets of both namespaces by entering one after the other.

use std::fs::File;
use std::future::Future;
use std::process::Command;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};
use socket2::{Domain, Protocol, Socket, Type};

pub(crate) const A_V4: &str = "10.99.0.1";
pub(crate) const B_V4: &str = "10.99.0.2";
pub(crate) const A_V6: &str = "fd00:99::1";
pub(crate) const B_V6: &str = "fd00:99::2";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// One network namespace of a lab.
#[derive(Debug, Clone)]
pub(crate) struct Netns {
    pub(crate) name: String,
}

impl Netns {
    /// Moves the calling thread, and only it, into this namespace. Call it only on a thread
    /// made by [`Lab::run`] or [`Netns::run`], never on a test harness thread.
    pub(crate) fn enter(&self) {
        let file = File::open(format!("/run/netns/{}", self.name)).expect("open netns file");
        setns(file, CloneFlags::CLONE_NEWNET).expect("setns");
    }

    /// Runs `ip -n <this namespace> <args>`; panics with its stderr when it fails.
    pub(crate) fn ip(&self, args: &str) -> String {
        let mut full = vec!["-n", &self.name];
        full.extend(args.split_whitespace());
        run("ip", &full)
    }

    /// Runs `f` on a fresh thread inside this namespace and returns its result.
    pub(crate) fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let netns = self.clone();
        join(std::thread::spawn(move || {
            netns.enter();
            f()
        }))
    }

    /// Writes a sysctl of this namespace (`net/ipv6/conf/all/accept_dad`). /proc/sys/net shows
    /// the namespace of the thread that reads it, so this enters first.
    pub(crate) fn sysctl(&self, key: &str, value: &str) {
        let path = format!("/proc/sys/{key}");
        let value = value.to_owned();
        self.run(move || std::fs::write(&path, value).unwrap_or_else(|e| panic!("{path}: {e}")));
    }
}

/// A pair of namespaces `a` and `b` with `va` <-> `vb` between them, removed on drop, also
/// when the test panics.
#[derive(Debug)]
pub(crate) struct Lab {
    pub(crate) a: Netns,
    pub(crate) b: Netns,
}

impl Lab {
    /// Builds the lab, or returns `None` when this process is not to (not root: the test
    /// ran again in a user namespace, or was skipped loudly; see `baton_lab::handled_elsewhere`).
    pub(crate) fn new(test: &str) -> Option<Lab> {
        if baton_lab::handled_elsewhere(test) {
            return None;
        }
        static SWEEP: Once = Once::new();
        SWEEP.call_once(remove_stale_namespaces);
        let id = format!(
            "bnet-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let lab = Lab {
            a: Netns {
                name: format!("{id}a"),
            },
            b: Netns {
                name: format!("{id}b"),
            },
        };
        // The guard exists before the first namespace does, so a failure half-way cleans up.
        run("ip", &["netns", "add", &lab.a.name]);
        run("ip", &["netns", "add", &lab.b.name]);
        for netns in [&lab.a, &lab.b] {
            // Duplicate address detection would keep link-local addresses tentative (and
            // unusable as a source) for a second or more after the link comes up.
            netns.sysctl("net/ipv6/conf/all/accept_dad", "0");
            netns.sysctl("net/ipv6/conf/default/accept_dad", "0");
            netns.ip("link set lo up");
        }
        lab.a.ip(&format!(
            "link add va type veth peer name vb netns {}",
            lab.b.name
        ));
        for (netns, interface, v4, v6) in [(&lab.a, "va", A_V4, A_V6), (&lab.b, "vb", B_V4, B_V6)] {
            netns.ip(&format!("addr add {v4}/24 dev {interface}"));
            netns.ip(&format!("addr add {v6}/64 dev {interface} nodad"));
            netns.ip(&format!("link set {interface} up"));
        }
        lab.wait_ready();
        Some(lab)
    }

    /// Waits until both ends are up and running with a usable link-local address.
    fn wait_ready(&self) {
        for (netns, interface) in [(&self.a, "va"), (&self.b, "vb")] {
            let ready = netns.run(move || {
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    let up = baton_net::link_is_up(interface).unwrap_or(false);
                    let link_local =
                        baton_net::primary_address(interface, baton_net::Family::Ipv6).is_ok();
                    if up && link_local {
                        return true;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                false
            });
            assert!(ready, "{interface} in {} did not come up", netns.name);
        }
    }

    /// Runs `test` on a new thread with a current-thread tokio runtime. The thread starts in
    /// namespace `a`; it may `enter` `b` (and back) to open sockets there.
    pub(crate) fn run<F, Fut>(&self, test: F) -> Fut::Output
    where
        F: FnOnce(Netns, Netns) -> Fut + Send + 'static,
        Fut: Future,
        Fut::Output: Send + 'static,
    {
        let (a, b) = (self.a.clone(), self.b.clone());
        join(std::thread::spawn(move || {
            a.enter();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(test(a, b))
        }))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace destroys its end of the veth, and with it the other end.
        for netns in [&self.a, &self.b] {
            let status = Command::new("ip")
                .args(["netns", "del", &netns.name])
                .status();
            if !matches!(status, Ok(status) if status.success()) {
                eprintln!("warning: could not delete network namespace {}", netns.name);
            }
        }
    }
}

/// Removes the namespaces of earlier runs that were killed before their guards ran (Ctrl-C,
/// SIGKILL): `bnet-<pid>-...` whose process is gone.
fn remove_stale_namespaces() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("bnet-")
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
        if pid.parse::<u32>().is_ok() && !alive {
            let _ = Command::new("ip").args(["netns", "del", &name]).status();
        }
    }
}

/// Joins a test thread, re-raising its panic on the caller so the test fails with it.
fn join<R>(handle: std::thread::JoinHandle<R>) -> R {
    match handle.join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Runs a command to completion; panics with its output when it fails.
pub(crate) fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Awaits `future` for at most five seconds.
pub(crate) async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// An AF_PACKET socket that sees every frame of `netns` (in and out, all interfaces).
pub(crate) fn capture(netns: &Netns) -> Socket {
    netns.run(|| {
        let all = i32::from((libc::ETH_P_ALL as u16).to_be());
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(all))).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        socket
    })
}

/// The first captured frame that `wanted` accepts, within five seconds.
pub(crate) fn first_frame(socket: &Socket, wanted: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        if let Ok(len) = std::io::Read::read(&mut &*socket, &mut buf) {
            if wanted(&buf[..len]) {
                return buf[..len].to_vec();
            }
        }
    }
    panic!("no matching frame within 5 s");
}

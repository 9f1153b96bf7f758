//! The guide's lab for the benchmarks: one directory per run, clean-up on Ctrl-C, and
//! watching the VIP.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use baton_lab::{Host, Lab};

/// The guide's virtual address, as `ip` lists it.
pub(crate) const VIP: &str = "10.0.3.100/24";

/// A directory for one benchmark run's files (configurations, logs, pid files). It and
/// every lab namespace of this process are removed on Ctrl-C; the directory also on drop.
#[derive(Debug)]
pub(crate) struct RunDir(PathBuf);

impl RunDir {
    /// Checks that labs can be built here (re-executing the benchmark in a user namespace
    /// when not root), then creates `/tmp/baton-<bench>-<pid>` and
    /// arranges the clean-up. The error is a sentence for the person running the bench.
    pub(crate) fn prepare(bench: &str) -> Result<RunDir, String> {
        // Not root: the benchmark goes on as root of a user namespace (the rootless lab).
        baton_lab::reexec_in_user_namespace()
            .map_err(|reason| format!("{bench} cannot build its lab: {reason}"))?;
        Lab::check_environment()
            .map_err(|reason| format!("{bench} needs root and network namespaces: {reason}"))?;
        let root = std::env::temp_dir().join(format!("baton-{bench}-{}", std::process::id()));
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        let removed = root.clone();
        super::interrupt::on_interrupt(move || {
            Lab::cleanup_all();
            let _ = std::fs::remove_dir_all(removed);
        })
        .map_err(|e| format!("installing the Ctrl-C clean-up: {e}"))?;
        Ok(RunDir(root))
    }

    /// A fresh subdirectory for one measurement.
    pub(crate) fn fresh(&self) -> Result<PathBuf, String> {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = self.0.join(n.to_string());
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(dir)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `command` (from [`Host::command`]) in `host` with its output in `log`.
pub(crate) fn spawn_logged(
    host: &Host,
    mut command: std::process::Command,
    log: &Path,
) -> Result<baton_lab::Child, String> {
    let file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let copy = file.try_clone().map_err(|e| e.to_string())?;
    command.stdin(Stdio::null()).stdout(copy).stderr(file);
    host.spawn(command).map_err(|e| e.to_string())
}

/// Makes `host` an LVS-DR real server of `vip`: the VIP on lo, so it takes the packets a
/// DR load balancer forwards unchanged, and never an ARP answer or announcement for it
/// (arp_ignore=1, arp_announce=2), or clients would bypass the load balancer.
pub(crate) fn make_dr_real_server(host: &Host, vip: std::net::Ipv4Addr) -> Result<(), String> {
    let run = |program: &str, args: &[&str]| {
        host.run(program, args)
            .map(drop)
            .map_err(|e| format!("{}: {program} {}: {e}", host.name(), args.join(" ")))
    };
    run("ip", &["addr", "add", &format!("{vip}/32"), "dev", "lo"])?;
    for conf in ["all", "eth0"] {
        for setting in ["arp_ignore=1", "arp_announce=2"] {
            run(
                "sysctl",
                &["-q", "-w", &format!("net.ipv4.conf.{conf}.{setting}")],
            )?;
        }
    }
    Ok(())
}

/// Whether `host` has the VIP on eth0.
pub(crate) fn holds(host: &Host) -> bool {
    host.addresses()
        .map(|a| a.iter().any(|x| x == VIP))
        .unwrap_or(false)
}

/// Polls every 5 ms until `condition` holds (true) or `timeout` passes (false).
pub(crate) fn wait_for(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// When the VIP appeared on a host, seen through `ip monitor address` (events, not polling,
/// so that watching costs nothing during a measurement).
#[derive(Debug)]
pub(crate) struct VipWatch {
    _monitor: baton_lab::Child,
    added: std::sync::Arc<std::sync::OnceLock<Instant>>,
}

impl VipWatch {
    pub(crate) fn start(host: &Host) -> Result<VipWatch, String> {
        let mut command = host.command("ip");
        command
            .args(["-o", "monitor", "address"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut monitor = host
            .spawn(command)
            .map_err(|e| format!("ip monitor: {e}"))?;
        let stdout = monitor
            .inner_mut()
            .stdout
            .take()
            .ok_or("ip monitor: no stdout")?;
        let added = std::sync::Arc::new(std::sync::OnceLock::new());
        let seen = std::sync::Arc::clone(&added);
        let needle = format!("inet {VIP}");
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if !line.starts_with("Deleted") && line.contains(&needle) {
                    let _ = seen.set(Instant::now());
                }
            }
        });
        Ok(VipWatch {
            _monitor: monitor,
            added,
        })
    }

    /// The first time the VIP was added since [`start`](Self::start).
    pub(crate) fn added(&self) -> Option<Instant> {
        self.added.get().copied()
    }
}

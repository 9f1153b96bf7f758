//! Shared by the fault tests: what a daemon counts (`baton status --json`), how much memory
//! it holds, and the guide's pair settled as master and backup.

use std::path::Path;
use std::time::Duration;

use baton_lab::{Host, Lab};

use super::{Daemon, VIP, Workdir, fail, holds, keepalived_conf, start_baton, wait_for};

/// `baton status --json` of the daemon whose control socket is `socket`, or `Null` when it
/// does not answer.
pub(crate) fn status(socket: &Path) -> serde_json::Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["status", "--json", "--control"])
        .arg(socket)
        .output()
        .expect("runs baton status");
    serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null)
}

/// The state of the first VRRP instance of the daemon at `socket` (`MASTER`, ...), or
/// `gone` when it does not answer.
pub(crate) fn first_state(socket: &Path) -> String {
    status(socket)["vrrp"][0]["state"]
        .as_str()
        .unwrap_or("gone")
        .to_owned()
}

/// `baton instance COMMAND INSTANCE` (step-down, resume) against the daemon at `socket`,
/// run in `host`.
pub(crate) fn instance_command(
    host: &Host,
    socket: &Path,
    command: &str,
    instance: &str,
) -> Result<String, String> {
    let socket = socket.to_str().ok_or("socket path is not UTF-8")?;
    host.run(
        env!("CARGO_BIN_EXE_baton"),
        &["instance", command, instance, "--control", socket],
    )
    .map_err(|error| format!("baton instance {command} {instance}: {error}"))
}

/// The drop counters of `status`, all levels: `(reason, count)` with the instance's,
/// the sockets' and the unclaimed ones.
pub(crate) fn drops(status: &serde_json::Value) -> Vec<(String, u64)> {
    let mut all = Vec::new();
    let map = |value: &serde_json::Value, out: &mut Vec<(String, u64)>| {
        if let Some(object) = value.as_object() {
            for (reason, count) in object {
                out.push((reason.clone(), count.as_u64().unwrap_or(0)));
            }
        }
    };
    map(&status["vrrp"][0]["dropped"], &mut all);
    map(&status["vrrp_unclaimed_dropped"], &mut all);
    for entry in status["vrrp_receive_dropped"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let reason = entry["reason"].as_str().unwrap_or("?").to_owned();
        all.push((reason, entry["count"].as_u64().unwrap_or(0)));
    }
    all
}

/// One drop reason, summed over the levels that count it.
pub(crate) fn dropped(status: &serde_json::Value, reason: &str) -> u64 {
    drops(status)
        .iter()
        .filter(|(r, _)| r == reason)
        .map(|(_, n)| n)
        .sum()
}

/// Every packet the daemon was handed: adverts processed plus drops at every level.
pub(crate) fn accounted(status: &serde_json::Value) -> u64 {
    let received = status["vrrp"][0]["adverts_received"].as_u64().unwrap_or(0);
    received + drops(status).iter().map(|(_, n)| n).sum::<u64>()
}

/// The Prometheus text of the baton in `host`, from its admin listener (127.0.0.1:9180 in
/// the host's own namespace); empty when it does not answer.
pub(crate) fn metrics(host: &Host) -> String {
    const FETCH: &str = "import sys, urllib.request\n\
        sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:9180/metrics', timeout=5)\
        .read().decode())";
    host.run("python3", &["-c", FETCH]).unwrap_or_default()
}

/// The sum of the samples of metric `name` whose labels include all of `labels`
/// (`reason="auth"`).
pub(crate) fn metric(text: &str, name: &str, labels: &[&str]) -> u64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}

/// Resident memory of a process, in KiB.
pub(crate) fn rss_kib(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// lb1 (priority 150) master and lb2 (100) backup, both baton on VRRPv2 every second,
/// settled.
pub(crate) fn master_and_backup(lab: &Lab, dir: &Workdir) -> (Daemon, Daemon) {
    let lb1 = start_baton(
        lab.host("lb1"),
        dir,
        &keepalived_conf("lb1", 2, 150, "1", ""),
    );
    if wait_for(Duration::from_secs(10), || holds(lab.host("lb1"), VIP)).is_none() {
        fail("lb1 never became master", &[&lb1]);
    }
    let lb2 = start_baton(
        lab.host("lb2"),
        dir,
        &keepalived_conf("lb2", 2, 100, "1", ""),
    );
    let lb2_socket = dir.path("lb2.sock");
    let backup = || status(&lb2_socket)["vrrp"][0]["state"] == "BACKUP";
    if wait_for(Duration::from_secs(10), backup).is_none() {
        fail("lb2 never became backup", &[&lb1, &lb2]);
    }
    (lb1, lb2)
}

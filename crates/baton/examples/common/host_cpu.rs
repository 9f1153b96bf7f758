//! What the daemons in a lab host spend: CPU time from schedstat, and instructions when
//! they run under valgrind's callgrind (`failover_bench --cpu`, `advert_floor`).

use std::process::Stdio;

use baton_lab::Host;

/// `command` (from `host.command`: `ip netns exec NS PROGRAM ARGS`) under callgrind,
/// instrumenting nothing until told (children traced: keepalived's VRRP process).
pub(crate) fn under_callgrind(
    host: &Host,
    command: &std::process::Command,
) -> std::process::Command {
    let mut wrapped = host.command("valgrind");
    wrapped.args([
        "--tool=callgrind",
        "--trace-children=yes",
        "--instr-atstart=no",
        "--callgrind-out-file=/dev/null",
    ]);
    // After `netns exec NS`.
    wrapped.args(command.get_args().skip(3));
    wrapped
}

/// Starts counting in every callgrind run in `host`, from zero.
pub(crate) fn zero_instructions(host: &Host) {
    for pid in host.processes() {
        let pid = pid.to_string();
        for args in [["-i", "on", &pid].as_slice(), &["-z", &pid]] {
            let _ = std::process::Command::new("callgrind_control")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Instructions every callgrind run in `host` counted since zeroed, all threads:
/// `callgrind_control -e Ir` prints one `Th N COUNT` line per thread.
pub(crate) fn instructions(host: &Host) -> u64 {
    let mut total = 0;
    for pid in host.processes() {
        let Ok(output) = std::process::Command::new("callgrind_control")
            .args(["-e", "Ir", &pid.to_string()])
            .stderr(Stdio::null())
            .output()
        else {
            continue;
        };
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let mut words = line.split_whitespace();
            if words.next() == Some("Th") {
                let count = words.nth(1).unwrap_or("0").replace(',', "");
                total += count.parse::<u64>().unwrap_or(0);
            }
        }
    }
    total
}

/// Seconds of CPU every thread of every process in `host` has run so far: the first field
/// of /proc/PID/task/TID/schedstat (nanoseconds, exact, where the tick-sampled utime and
/// stime would alias with adverts on the same 10 ms beat).
pub(crate) fn cpu_time(host: &Host) -> f64 {
    let mut nanoseconds = 0u64;
    for pid in host.processes() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let ran = std::fs::read_to_string(task.path().join("schedstat"))
                .ok()
                .and_then(|line| line.split_whitespace().next()?.parse::<u64>().ok());
            nanoseconds += ran.unwrap_or(0);
        }
    }
    nanoseconds as f64 / 1e9
}

/// The machine's load average over the last minute, as /proc/loadavg says.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|line| line.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

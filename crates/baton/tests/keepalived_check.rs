//! `baton check` beside `keepalived -t` on keepalived.conf files as operators write them
//! (issue 11, "baton check and keepalived -t agree").
//!
//! The corpus is `tests/keepalived_corpus/` (shapes from the guides and generators that
//! write keepalived.conf in the wild), the RPM distributions' sample, and the samples
//! Debian's keepalived package installs. [`CORPUS`] records, for every file, what
//! keepalived 2.2.7's `-t` says (exit status and the lines it complains about) and what
//! `baton check` must answer. Agreement means:
//!
//! - a file keepalived accepts (exit 0), baton accepts (warnings allowed);
//! - a file keepalived complains about (exit 5, 6: it still starts, dropping or adjusting
//!   what it names), baton names every one of those lines as `FILE:LINE`, as an error where
//!   keepalived would drop something the operator meant to run, else as a warning;
//! - a file keepalived refuses to start with (exit 4), baton refuses.
//!
//! `baton_agrees_with_the_corpus` needs no root: it holds baton to the record.
//! `keepalived_agrees_with_the_corpus` runs keepalived 2.2.7 (root, in a lab namespace
//! holding eth0..eth2) and holds it to the same record, so the record cannot drift from
//! what keepalived really does.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use baton_lab::Lab;

/// What `baton check` must answer.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Verdict {
    Accept,
    Reject,
}

struct Case {
    /// Under `tests/keepalived_corpus/`, or `sample:NAME` for keepalived's installed
    /// samples, or `rpm` for the RPM distributions' sample.
    file: &'static str,
    /// keepalived 2.2.7's `-t` exit status: 0 fine, 4 will not start, 5 complaints,
    /// 6 script security complaints; 143 when `-t` kills itself (a 2.2.7 bug with
    /// `vrrp_track_file` in the test mode; the daemon runs such files).
    keepalived_exit: i32,
    /// The lines of this file keepalived's complaints name, in order.
    keepalived_lines: &'static [u32],
    baton: Verdict,
    /// (keepalived's line, baton's line) where both name the same problem at different
    /// lines of one block, or keepalived's line is a consequence baton does not repeat
    /// (baton's line 0).
    moved: &'static [(u32, u32)],
    /// Why baton answers as it does where keepalived complains.
    why: &'static str,
}

const fn accepted(file: &'static str, keepalived_exit: i32) -> Case {
    Case {
        file,
        keepalived_exit,
        keepalived_lines: &[],
        baton: Verdict::Accept,
        moved: &[],
        why: "",
    }
}

const CORPUS: &[Case] = &[
    // Operators' shapes.
    accepted("kubeadm-ha.conf", 6), // 6: scripts without enable_script_security
    accepted("container-default-interface.conf", 6),
    Case {
        file: "neutron-l3-ha.conf",
        keepalived_exit: 5,
        keepalived_lines: &[25, 29],
        baton: Verdict::Accept,
        moved: &[],
        why: "keepalived drops the scope of an IPv6 address and resets a tracked route's \
              protocol, and runs: baton warns at both lines",
    },
    accepted("ansible-vmac.conf", 0),
    accepted("haproxy-pair.conf", 6),
    accepted("sync-group-two-networks.conf", 143),
    accepted("vrrp3-ipv6.conf", 0),
    accepted("unicast-track-src-ip.conf", 0),
    accepted("scheduled-reload.conf", 0),
    accepted("lvs-dr-http.conf", 0),
    Case {
        file: "vmac-addr.conf",
        keepalived_exit: 5,
        keepalived_lines: &[],
        baton: Verdict::Accept,
        moved: &[],
        why: "keepalived complains (naming no line) about an address's use_vmac where the \
              address goes on the instance's vmac anyway, and beside use_vmac_addr, and runs: \
              baton warns at both addresses' lines (15, 30)",
    },
    Case {
        file: "rpm",
        keepalived_exit: 5,
        keepalived_lines: &[15, 15, 16, 16],
        baton: Verdict::Accept,
        moved: &[],
        why: "keepalived refuses a GARP interval of 0 and keeps its default, which is 0: \
              the same effect, so baton warns",
    },
    // Mistakes.
    Case {
        file: "typo-keyword.conf",
        keepalived_exit: 5,
        keepalived_lines: &[7, 7, 8, 10],
        baton: Verdict::Reject,
        moved: &[(8, 0), (10, 0)],
        why: "keepalived skips the misspelt block and runs without the VIP; lines 8 and 10 \
              are the skipped block's contents",
    },
    Case {
        file: "vrid-out-of-range.conf",
        keepalived_exit: 5,
        keepalived_lines: &[5, 5],
        baton: Verdict::Reject,
        moved: &[],
        why: "keepalived drops the instance",
    },
    Case {
        file: "unbalanced-braces.conf",
        keepalived_exit: 5,
        keepalived_lines: &[],
        baton: Verdict::Reject,
        moved: &[],
        why: "keepalived guesses where the block ends; baton names the '{' never closed",
    },
    Case {
        file: "bad-address.conf",
        keepalived_exit: 5,
        keepalived_lines: &[8],
        baton: Verdict::Reject,
        moved: &[],
        why: "keepalived runs the instance without its only VIP",
    },
    Case {
        file: "missing-script.conf",
        keepalived_exit: 5,
        keepalived_lines: &[11],
        baton: Verdict::Reject,
        moved: &[],
        why: "keepalived runs without the check the operator asked for",
    },
    Case {
        file: "no-interface-named.conf",
        keepalived_exit: 5,
        keepalived_lines: &[4],
        baton: Verdict::Accept,
        moved: &[(4, 2)],
        why: "the file may be checked on another host: baton warns (naming the instance's \
              block) that baton run would refuse it here",
    },
    Case {
        file: "unicast-no-interface.conf",
        keepalived_exit: 5,
        keepalived_lines: &[],
        baton: Verdict::Reject,
        moved: &[],
        why: "keepalived 2.2.7 refuses every instance without an interface ('(VI_1) Unknown \
              interface!', no line) and does not start, although its manual says a unicast \
              instance may omit it; baton refuses it at the instance's line",
    },
    Case {
        file: "duplicate-vrid.conf",
        keepalived_exit: 5,
        keepalived_lines: &[],
        baton: Verdict::Reject,
        moved: &[],
        why: "two routers with one VRID on one link cannot both work",
    },
    Case {
        file: "priority-zero.conf",
        keepalived_exit: 5,
        keepalived_lines: &[6, 6],
        baton: Verdict::Reject,
        moved: &[],
        why: "keepalived silently runs at priority 100 instead",
    },
    Case {
        file: "script-interval-fraction.conf",
        keepalived_exit: 6,
        keepalived_lines: &[4, 4],
        baton: Verdict::Accept,
        moved: &[],
        why: "keepalived ignores a fractional vrrp_script interval and checks every second; \
              baton checks at the interval written and warns",
    },
    // The samples Debian's keepalived package installs.
    accepted("sample:keepalived.conf.HTTP_GET.port", 0),
    accepted("sample:keepalived.conf.IPv6", 0),
    accepted("sample:keepalived.conf.PING_CHECK", 0),
    accepted("sample:keepalived.conf.SMTP_CHECK", 0),
    accepted("sample:keepalived.conf.UDP_CHECK", 0),
    accepted("sample:keepalived.conf.inhibit", 0),
    accepted("sample:keepalived.conf.misc_check", 0),
    accepted("sample:keepalived.conf.misc_check_arg", 0),
    accepted("sample:keepalived.conf.quorum", 0),
    accepted("sample:keepalived.conf.sample", 0),
    accepted("sample:keepalived.conf.status_code", 0),
    accepted("sample:keepalived.conf.virtual_server_group", 0),
    accepted("sample:keepalived.conf.virtualhost", 0),
    accepted("sample:keepalived.conf.vrrp", 0),
    accepted("sample:keepalived.conf.vrrp.scripts", 0),
    accepted("sample:keepalived.conf.vrrp.sync", 0),
    accepted("sample:keepalived.conf.vrrp.localcheck", 6),
    accepted("sample:keepalived.conf.fwmark", 5), // a warning without a line
    Case {
        file: "sample:keepalived.conf.SSL_GET",
        keepalived_exit: 5,
        keepalived_lines: &[],
        baton: Verdict::Reject,
        moved: &[],
        why: "auth_type AH: baton never implements it (RFC 3768 removed it from VRRP)",
    },
    Case {
        file: "sample:keepalived.conf.conditional_conf",
        keepalived_exit: 5,
        keepalived_lines: &[13, 25],
        baton: Verdict::Reject,
        moved: &[(13, 6), (25, 0)],
        why: "without -i the script has no 'script' line: keepalived drops it and the track \
              of it; keepalived names the block's end, baton its start, and not the track",
    },
    Case {
        file: "sample:keepalived.conf.vrrp.lvs_syncd",
        keepalived_exit: 5,
        keepalived_lines: &[4, 5, 11, 11],
        baton: Verdict::Reject,
        moved: &[],
        why: "the sync group lists instances without a 'group' block (keepalived ignores \
              them); lvs_sync_daemon_interface is deprecated and its sync belongs to \
              conntrackd (issue 16)",
    },
    Case {
        file: "sample:keepalived.conf.track_interface",
        keepalived_exit: 5,
        keepalived_lines: &[16, 31],
        baton: Verdict::Accept,
        moved: &[(16, 14)],
        why: "eth0.1 does not exist here and a route without an interface cannot be \
              tracked: keepalived runs, baton warns",
    },
    Case {
        file: "sample:keepalived.conf.vrrp.routes",
        keepalived_exit: 5,
        keepalived_lines: &[29, 30, 30, 31, 32, 32],
        baton: Verdict::Accept,
        moved: &[],
        why: "routes without an interface cannot be tracked, and 'or' and 'gw' are \
              deprecated: keepalived runs, baton warns",
    },
    Case {
        file: "sample:keepalived.conf.vrrp.rules",
        keepalived_exit: 5,
        keepalived_lines: &[10, 11, 11, 25, 26, 26],
        baton: Verdict::Reject,
        moved: &[],
        why: "the sample holds addresses that are not ones (192.168.100./24) and rules \
              without a preference",
    },
    Case {
        file: "sample:keepalived.conf.vrrp.static_ipaddress",
        keepalived_exit: 5,
        keepalived_lines: &[25],
        baton: Verdict::Accept,
        moved: &[],
        why: "a route without an interface cannot be tracked: keepalived runs, baton warns",
    },
];

const SAMPLES: &str = "/usr/share/doc/keepalived/samples";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/keepalived_corpus")
}

/// The file of `case`, or `None` when it is an installed sample this machine lacks.
fn path_of(case: &Case) -> Option<PathBuf> {
    let path = match case.file.strip_prefix("sample:") {
        Some(name) => Path::new(SAMPLES).join(name),
        None if case.file == "rpm" => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../config/tests/fixtures/lvs/rpm-sample.conf"),
        None => corpus_dir().join(case.file),
    };
    path.is_file().then_some(path)
}

/// The cases whose files are here; a loud line for the installed samples when they are not.
fn present_cases(test: &str) -> Vec<(&'static Case, PathBuf)> {
    let cases: Vec<_> = CORPUS
        .iter()
        .filter_map(|case| path_of(case).map(|path| (case, path)))
        .collect();
    let missing = CORPUS.len() - cases.len();
    if missing > 0 {
        eprintln!(
            "SKIPPED {missing} case(s) (needs keepalived's samples in {SAMPLES}, from the \
             keepalived package): {test}"
        );
    }
    cases
}

/// Lines of `path` named as `PATH:LINE` in baton's output.
fn baton_lines(output: &str, path: &Path) -> BTreeSet<u32> {
    let prefix = format!("{}:", path.display());
    output
        .lines()
        .flat_map(|line| line.match_indices(&prefix).map(move |(at, _)| &line[at..]))
        .filter_map(|rest| {
            let digits: String = rest[prefix.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}

/// Lines of the main file named by keepalived: `(Line N)` or `(PATH: Line N)`.
fn keepalived_lines(output: &str, path: &Path) -> Vec<u32> {
    let own = path.display().to_string();
    let mut lines = Vec::new();
    for line in output.lines() {
        let Some(open) = line.find('(') else { continue };
        let Some(close) = line[open..].find(')') else {
            continue;
        };
        let inside = &line[open + 1..open + close];
        let Some((file, number)) = inside.rsplit_once("Line ") else {
            continue;
        };
        let file = file.trim_end_matches([' ', ':']);
        if (file.is_empty() || file == own)
            && let Ok(number) = number.trim().parse()
        {
            lines.push(number);
        }
    }
    lines
}

#[test]
fn baton_agrees_with_the_corpus() {
    let mut failures = Vec::new();
    for (case, path) in present_cases("baton_agrees_with_the_corpus") {
        let output = Command::new(env!("CARGO_BIN_EXE_baton"))
            .arg("check")
            .arg("--keepalived-conf")
            .arg(&path)
            .output()
            .expect("baton check runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let verdict = if output.status.success() {
            Verdict::Accept
        } else {
            Verdict::Reject
        };
        if output.status.code().is_none_or(|code| code > 1) {
            failures.push(format!(
                "{}: baton check ended with {}",
                case.file, output.status
            ));
        }
        if verdict != case.baton {
            failures.push(format!(
                "{}: baton answered {verdict:?}, the corpus says {:?} ({})\n{text}",
                case.file, case.baton, case.why
            ));
        }
        let named = baton_lines(&text, &path);
        for &line in case.keepalived_lines {
            let expected = case
                .moved
                .iter()
                .find(|(from, _)| *from == line)
                .map_or(line, |(_, to)| *to);
            if expected != 0 && !named.contains(&expected) {
                failures.push(format!(
                    "{}: keepalived names line {line}, baton does not name line {expected}\n{text}",
                    case.file
                ));
            }
        }
        if case.keepalived_exit == 0 && !text.contains(": ok:") {
            failures.push(format!(
                "{}: keepalived accepts it, baton:\n{text}",
                case.file
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn keepalived_agrees_with_the_corpus() {
    let test = "keepalived_agrees_with_the_corpus";
    if common::skip_without_tool("keepalived", "keepalived", test)
        || baton_lab::skip_in_rootless_lab(test, baton_lab::SCRIPT_SECURITY_NEEDS_REAL_ROOT)
    {
        return;
    }
    let Some(lab) = lab_with_interfaces(test) else {
        return;
    };
    let host = lab.host("kt");
    let mut failures = Vec::new();
    for (case, path) in present_cases(test) {
        // Its own session: keepalived -t signals its process group on some files.
        let mut command = host.command("setsid");
        command
            .args(["--wait", "keepalived", "-t", "-l", "-f"])
            .arg(&path);
        let output = command.output().expect("keepalived -t runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let exit = exit_code(&output.status);
        if exit != case.keepalived_exit {
            failures.push(format!(
                "{}: keepalived -t exited {exit}, the corpus says {}\n{text}",
                case.file, case.keepalived_exit
            ));
        }
        let lines = keepalived_lines(&text, &path);
        if lines != case.keepalived_lines {
            failures.push(format!(
                "{}: keepalived names lines {lines:?}, the corpus says {:?}\n{text}",
                case.file, case.keepalived_lines
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The exit status, or 128 + the signal as a shell reports it.
fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(-1)
}

/// One lab host with eth0 (the lab's) and eth1..eth4 (veth pairs of its own): the
/// interfaces the corpus files name, so keepalived complains only about what the file says.
fn lab_with_interfaces(test: &str) -> Option<Lab> {
    if baton_lab::handled_elsewhere(test) {
        return None;
    }
    let lab = Lab::builder()
        .prefix("bkc")
        .host("kt", "10.0.0.1/24")
        .build()
        .expect("building the lab");
    for (one, other) in [("eth1", "eth2"), ("eth3", "eth4")] {
        lab.host("kt")
            .run(
                "ip",
                &["link", "add", one, "type", "veth", "peer", "name", other],
            )
            .expect("veth pair in the lab host");
    }
    Some(lab)
}

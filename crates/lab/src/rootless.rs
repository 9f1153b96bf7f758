//! The rootless lab: a process that is not root builds its labs as root of a user namespace
//! of its own.
//!
//! An unprivileged user may create a user namespace and, inside it, network namespaces, veth
//! pairs, bridges, nftables tables, raw sockets and netlink addresses: all that a lab needs
//! (rootlesskit and podman build their networks the same way). Named namespaces need a
//! writable `/run/netns`; the user namespace comes with a mount namespace of its own, where a
//! private tmpfs covers `/run`. The host's `/run` is not touched, and the namespaces vanish
//! with the last process that sees them. The user namespace also gets its own network
//! namespace, so even the process that builds the lab sits outside the host's network.
//!
//! The kernel lets only a single-threaded process enter a new user namespace, and test
//! binaries and `baton demo` have threads by the time they want a lab. So the lab never moves
//! a running process: it starts a fresh copy of the program under util-linux's `unshare`.
//! - A binary (`baton demo`, a benchmark) replaces itself with that copy:
//!   [`reexec_in_user_namespace`](crate::reexec_in_user_namespace).
//! - A test runs only itself in that copy and takes its verdict:
//!   [`handled_elsewhere`](crate::handled_elsewhere).
//!
//! The copy finds [`MARKER`] in its environment and runs as uid 0; the first lab call covers
//! `/run` ([`prepare`]) and everything else is as under root. Which other users exist in
//! there depends on the host (`id_map.rs`); what no user namespace can do (the kernel's
//! process events, nft's forced socket buffers) is skipped loudly by the tests that need it.

use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use nix::mount::{MsFlags, mount};
use nix::unistd::geteuid;

use crate::cmd::{self, Tool};
use crate::error::{Error, Result};
use crate::id_map;

/// Set in the environment of the copy that runs in the user namespace.
pub(crate) const MARKER: &str = "BATON_LAB_ROOTLESS";
/// Left on the private `/run` once it is mounted, so that a program the copy starts (a test
/// running `baton demo`) does not cover the namespaces of its parent with another tmpfs.
const PREPARED: &str = "/run/.baton-lab-rootless";

const UNSHARE: Tool = Tool {
    program: "unshare",
    package: "util-linux",
};

/// `unshare` options besides the id mapping: a user namespace with its own mount and
/// network namespaces (mounts made inside stay inside: util-linux makes them private).
const NAMESPACES: &[&str] = &["--user", "--mount", "--net"];

/// Whether this process is the copy running as root of the lab's user namespace.
pub(crate) fn inside() -> bool {
    std::env::var_os(MARKER).is_some_and(|value| value == "1") && geteuid().is_root()
}

/// In the copy: covers `/run` with a private tmpfs (once per user namespace) holding the
/// directories that `ip netns` and the daemons under test write to. Elsewhere: nothing.
pub(crate) fn prepare() -> Result<()> {
    static PREPARED_ONCE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    if !inside() {
        return Ok(());
    }
    PREPARED_ONCE
        .get_or_init(|| cover_run().map_err(|error| error.to_string()))
        .clone()
        .map_err(|reason| Error::UserNamespaceSetup { reason })
}

fn cover_run() -> Result<()> {
    if Path::new(PREPARED).exists() {
        return Ok(());
    }
    let io = |context: &str| {
        let context = context.to_owned();
        move |source| Error::Io { context, source }
    };
    mount(
        Some("tmpfs"),
        "/run",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=755"),
    )
    .map_err(|errno| Error::Io {
        context: "mounting a private tmpfs on /run in the lab's user namespace".to_owned(),
        source: errno.into(),
    })?;
    // netns: `ip netns`; lock: conntrackd's lock file (/var/lock points here).
    for dir in ["/run/netns", "/run/lock"] {
        fs::create_dir_all(dir).map_err(io(&format!("creating {dir}")))?;
    }
    fs::write(PREPARED, b"").map_err(io(&format!("creating {PREPARED}")))?;
    // The copy's own network namespace is new, its loopback down; a host's is up, and
    // tests that talk to 127.0.0.1 outside any lab expect that.
    cmd::ip(&["link", "set", "lo", "up"]).map(drop)
}

/// For a test that needs what only real root has: `true`, after a loud `SKIPPED` line
/// saying what `needs` names, in the rootless lab. Its user namespace maps one user (root,
/// who is the real user outside) and one group, so nobody else can be switched to, and
/// its root has no power over the host's initial namespaces.
pub fn skip_in_rootless_lab(test: &str, needs: &str) -> bool {
    if !inside() {
        return false;
    }
    // Straight to the stderr handle, past libtest's capture of eprintln!.
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED (needs real root: {needs}): {test}"
    );
    true
}

/// For a test that runs a program switching to another user (tcpdump, `script_user`,
/// `setpriv`): `true`, after a loud `SKIPPED` line saying how to get other users, in a
/// rootless lab that maps this user alone (see `id_map.rs`).
pub fn skip_without_other_users(test: &str, program: &str) -> bool {
    if !inside() || !id_map::maps_one_user_only() {
        return false;
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED (needs users besides root in the rootless lab, for {program}: install uidmap \
         (newuidmap, newgidmap) and give this user subordinate ids in /etc/subuid and \
         /etc/subgid, or run as root): {test}"
    );
    true
}

/// The `needs` of [`skip_in_rootless_lab`] for tests whose nftables transaction holds more
/// than one Maglev table (4,093 map elements each). nft (1.0.6, Debian 12) sends a transaction
/// as one netlink message and makes room for it with `SO_SNDBUFFORCE`, which the kernel
/// grants only to CAP_NET_ADMIN in the initial user namespace; without it the socket keeps
/// `net.core.wmem_default` (212,992 bytes, read-only in a user namespace), and two tables
/// no longer fit: "Could not process rule: Message too long". Measured here: one table
/// loads in a user namespace, two do not.
pub const NFT_TRANSACTIONS_ABOVE_212_KB: &str = "nft transactions above 212,992 bytes (more than one Maglev table), for which nft 1.0.6 \
     needs SO_SNDBUFFORCE";

/// The `needs` of [`skip_in_rootless_lab`] for tests of script security: it wants every
/// directory of a script's path owned by root, and the host's root, who owns `/`, `/bin` and
/// `/usr`, is unmapped in a user namespace and shows as the overflow uid 65534. keepalived
/// and baton alike then find every script unsafe.
pub const SCRIPT_SECURITY_NEEDS_REAL_ROOT: &str = "script security, which wants / and /bin owned by root; in a user namespace the host's \
     root shows as the overflow uid 65534";

/// Whether this user may create the user namespace a rootless lab needs, and with which id
/// mapping: this user's subordinate ids too where newuidmap allows (see `id_map.rs`), else
/// this user alone. Asked once per process by creating one (`unshare ... true`), which is
/// the only reliable test.
pub(crate) fn availability() -> Result<&'static [String]> {
    static AVAILABLE: OnceLock<std::result::Result<Vec<String>, String>> = OnceLock::new();
    match AVAILABLE.get_or_init(probe) {
        Ok(options) => Ok(options),
        Err(reason) => Err(Error::UserNamespacesUnavailable {
            uid: geteuid().as_raw(),
            reason: reason.clone(),
        }),
    }
}

/// The `unshare` options (mapping and namespaces) that made a user namespace here.
fn probe() -> std::result::Result<Vec<String>, String> {
    let unshare = cmd::locate(UNSHARE).map_err(|error| error.to_string())?;
    let attempt = |mapping: Vec<String>| {
        let options: Vec<String> = mapping
            .into_iter()
            .chain(NAMESPACES.iter().map(|option| (*option).to_owned()))
            .collect();
        let output = Command::new(&unshare)
            .args(&options)
            .arg("true")
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("could not run unshare: {error}"))?;
        if output.status.success() {
            Ok(options)
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
    };
    // A refused newuidmap (a stale /etc/subuid, say) still leaves the one-user lab.
    if let Some(Ok(options)) = id_map::with_subordinate_ids().map(attempt) {
        return Ok(options);
    }
    let said = attempt(id_map::root_only()).err();
    let Some(said) = said else {
        return Ok(id_map::root_only()
            .into_iter()
            .chain(NAMESPACES.iter().map(|option| (*option).to_owned()))
            .collect());
    };
    let read = |path: &str| fs::read_to_string(path).ok().map(|v| v.trim().to_owned());
    Err(match turned_off_by_sysctl(read) {
        Some(advice) => format!("{advice} (unshare: {said})"),
        None => format!("unshare refused: {said}"),
    })
}

/// The sysctl that forbids unprivileged user namespaces here, if one does, with the command
/// that allows them; `read` gives a file's trimmed contents.
fn turned_off_by_sysctl(read: impl Fn(&str) -> Option<String>) -> Option<String> {
    // (file, name, the value that forbids, the value that allows)
    let switches = [
        (
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            "kernel.apparmor_restrict_unprivileged_userns",
            "1",
            "0",
        ),
        (
            "/proc/sys/kernel/unprivileged_userns_clone",
            "kernel.unprivileged_userns_clone",
            "0",
            "1",
        ),
        (
            "/proc/sys/user/max_user_namespaces",
            "user.max_user_namespaces",
            "0",
            "15000",
        ),
    ];
    switches
        .into_iter()
        .find(|(file, _, forbids, _)| read(file).as_deref() == Some(forbids))
        .map(|(_, name, forbids, allows)| {
            format!(
                "the kernel forbids unprivileged user namespaces ({name} = {forbids}); \
                 allow them with `sudo sysctl -w {name}={allows}`"
            )
        })
}

/// `unshare <options> <program>`, marked so that the program knows where it runs, with the
/// sbin directories on `PATH` as a root shell has them: a user's `PATH` on Debian lacks
/// them, and the lab's hosts run `nft`, `keepalived`, `haproxy` and `conntrackd` by name.
fn in_user_namespace(program: &Path) -> Result<Command> {
    let options = availability()?;
    let mut command = Command::new(cmd::locate(UNSHARE)?);
    command.args(options).arg("--").arg(program);
    command.env(MARKER, "1").env("PATH", path_with_sbin());
    Ok(command)
}

fn path_with_sbin() -> OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    for sbin in ["/usr/local/sbin", "/usr/sbin", "/sbin"] {
        if !dirs.iter().any(|dir| dir == Path::new(sbin)) {
            dirs.push(PathBuf::from(sbin));
        }
    }
    std::env::join_paths(dirs).unwrap_or(path)
}

/// For a binary that builds labs (`baton demo`, the benchmarks), called before anything
/// else: as root (or already in the copy) returns at once; otherwise replaces this process
/// with a copy of itself, same arguments, running as root of a new user namespace, and
/// returns only with the reason that cannot be done
/// ([`Error::UserNamespacesUnavailable`] names the sysctl to change).
///
/// The copy keeps the pid, the terminal and the signals (`unshare` execs the program).
pub fn reexec_in_user_namespace() -> Result<()> {
    if geteuid().is_root() {
        return prepare();
    }
    let program = std::env::current_exe().map_err(|source| Error::Io {
        context: "finding this program to run it in a user namespace".to_owned(),
        source,
    })?;
    let mut command = in_user_namespace(&program)?;
    command.args(std::env::args_os().skip(1));
    let line = cmd::describe(&command);
    let source = command.exec();
    Err(Error::Spawn {
        command: line,
        source,
    })
}

/// For the tests of the rootless lab itself: runs the tests named in `tests` (exact names) of
/// this test binary as a user who is not root (`nobody` when this process is root, this user
/// otherwise) with `--nocapture`, and returns what happened. Each of them re-runs itself as
/// root of a user namespace through [`handled_elsewhere`](crate::handled_elsewhere).
pub fn run_tests_without_root(tests: &[&str]) -> std::process::Output {
    let program = std::env::current_exe().expect("the test binary's path");
    let mut command = Command::new(&program);
    command
        .args(tests)
        .args(["--exact", "--nocapture", "--test-threads", "1"])
        .stdin(Stdio::null())
        // A user's PATH, without the sbin directories: the copy must add them itself.
        .env("PATH", "/usr/local/bin:/usr/bin:/bin");
    if geteuid().is_root() {
        // Dropping to another uid as root also drops the supplementary groups (std does).
        command.uid(NOBODY).gid(NOBODY);
    }
    let line = cmd::describe(&command);
    command
        .output()
        .unwrap_or_else(|error| panic!("could not run `{line}`: {error}"))
}

/// `nobody` and `nogroup` on Debian, fixed at 65534 by base-passwd.
const NOBODY: u32 = 65534;

/// For a test that is not root: runs this one test again (the libtest thread's name is its
/// full path) in a copy of the test binary inside a user namespace, prints what it printed
/// (libtest shows it when the test fails), and panics unless exactly that test ran and
/// passed.
pub(crate) fn rerun_this_test(test: &str) {
    let thread = std::thread::current();
    let Some(path) = thread.name().filter(|name| *name != "main") else {
        panic!(
            "{test}: cannot re-run this test in a user namespace: libtest did not name its \
             thread (run it as root instead)"
        );
    };
    let program = std::env::current_exe().expect("the test binary's path");
    let mut command = in_user_namespace(&program).unwrap_or_else(|error| panic!("{test}: {error}"));
    command
        .args([path, "--exact", "--nocapture", "--include-ignored"])
        .args(["--test-threads", "1"])
        .stdin(Stdio::null());
    let line = cmd::describe(&command);
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{test}: could not run `{line}`: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    // An exact filter that matched nothing also exits 0: insist on the one test passing.
    let passed = output.status.success() && stdout.contains("test result: ok. 1 passed");
    assert!(
        passed,
        "{test}: failed in the rootless lab (a user namespace, `{line}`: {})",
        output.status
    );
    // A skip in there is a skip here, and as loud: past libtest's capture of eprintln!.
    let skips: Vec<&str> = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|line| line.starts_with("SKIPPED"))
        .collect();
    let mut terminal = std::io::stderr().lock();
    for skip in &skips {
        let _ = writeln!(terminal, "{skip} (in the rootless lab)");
    }
    let verdict = if skips.is_empty() {
        "passed"
    } else {
        "skipped"
    };
    eprintln!("{test}: ran as root of a user namespace (rootless lab): {verdict}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sysctls(values: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let values: Vec<(String, String)> = values
            .iter()
            .map(|(file, value)| ((*file).to_owned(), (*value).to_owned()))
            .collect();
        move |path| {
            values
                .iter()
                .find(|(file, _)| file == path)
                .map(|(_, value)| value.clone())
        }
    }

    #[test]
    fn the_sysctl_that_forbids_user_namespaces_is_named_with_its_fix() {
        let ubuntu = sysctls(&[
            (
                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
                "1",
            ),
            ("/proc/sys/user/max_user_namespaces", "15000"),
        ]);
        let advice = turned_off_by_sysctl(ubuntu).expect("apparmor forbids");
        assert!(
            advice.contains("kernel.apparmor_restrict_unprivileged_userns = 1")
                && advice.contains("sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
            "{advice}"
        );
        let old_debian = sysctls(&[("/proc/sys/kernel/unprivileged_userns_clone", "0")]);
        let advice = turned_off_by_sysctl(old_debian).expect("debian's switch forbids");
        assert!(
            advice.contains("sudo sysctl -w kernel.unprivileged_userns_clone=1"),
            "{advice}"
        );
        let none_left = sysctls(&[("/proc/sys/user/max_user_namespaces", "0")]);
        let advice = turned_off_by_sysctl(none_left).expect("a zero limit forbids");
        assert!(
            advice.contains("user.max_user_namespaces=15000"),
            "{advice}"
        );
    }

    #[test]
    fn allowing_sysctls_name_nothing() {
        let allowed = sysctls(&[
            (
                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
                "0",
            ),
            ("/proc/sys/kernel/unprivileged_userns_clone", "1"),
            ("/proc/sys/user/max_user_namespaces", "96362"),
        ]);
        assert_eq!(turned_off_by_sysctl(allowed), None);
        assert_eq!(turned_off_by_sysctl(|_: &str| None), None);
    }

    #[test]
    fn the_copy_finds_the_sbin_directories_on_its_path() {
        let path = path_with_sbin();
        let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        for sbin in ["/usr/local/sbin", "/usr/sbin", "/sbin"] {
            assert_eq!(
                dirs.iter().filter(|dir| *dir == Path::new(sbin)).count(),
                1,
                "{path:?}"
            );
        }
    }
}

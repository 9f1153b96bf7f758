//! Running the external tools (iproute2, nft, ping) with errors that name the command.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// A tool the lab runs, and the Debian package that ships it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tool {
    pub(crate) program: &'static str,
    pub(crate) package: &'static str,
}

pub(crate) const IP: Tool = Tool {
    program: "ip",
    package: "iproute2",
};
pub(crate) const BRIDGE: Tool = Tool {
    program: "bridge",
    package: "iproute2",
};
pub(crate) const NFT: Tool = Tool {
    program: "nft",
    package: "nftables",
};
pub(crate) const PING: Tool = Tool {
    program: "ping",
    package: "iputils-ping",
};

/// Non-root shells on Debian leave the sbin directories off `PATH`, where iproute2 and
/// nftables live; look there too so the error is "not root" rather than "not installed".
const EXTRA_DIRS: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// The absolute path of `tool`, or [`Error::MissingProgram`].
pub(crate) fn locate(tool: Tool) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(tool.program))
        .find(|candidate| is_executable(candidate))
        .ok_or(Error::MissingProgram {
            program: tool.program,
            package: tool.package,
        })
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The path of `ip`, looked up once; falls back to the bare name so the error, if any,
/// comes from running it.
pub(crate) fn ip_program() -> &'static Path {
    static IP_PATH: OnceLock<PathBuf> = OnceLock::new();
    IP_PATH.get_or_init(|| locate(IP).unwrap_or_else(|_| PathBuf::from(IP.program)))
}

/// `ip netns exec <namespace> <program>`: the program runs in the namespace, this process
/// does not move (ARCHITECTURE.md: `setns` only moves the calling thread).
pub(crate) fn in_namespace(namespace: &str, program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(ip_program());
    cmd.args(["netns", "exec", namespace]).arg(program);
    cmd
}

/// `ip <args>` in the caller's namespace; callers always pass `-n <ns>` or a `netns` verb.
pub(crate) fn ip(args: &[&str]) -> Result<Output> {
    run(Command::new(ip_program()).args(args))
}

/// The command line as a person would type it, for error messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `cmd` to completion with stdout and stderr captured; an unsuccessful exit is an
/// [`Error::Command`] carrying both.
pub(crate) fn run(cmd: &mut Command) -> Result<Output> {
    let output = cmd.output().map_err(|source| Error::Spawn {
        command: describe(cmd),
        source,
    })?;
    check(describe(cmd), output)
}

/// Like [`run`], with `input` written to the command's stdin (for `nft -f -`).
pub(crate) fn run_with_input(cmd: &mut Command, input: &str) -> Result<Output> {
    let command = format!("{} <<< {input:?}", describe(cmd));
    let spawn_error = |source| Error::Spawn {
        command: command.clone(),
        source,
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A write error means the tool exited early; its status and stderr say why.
        let _ = stdin.write_all(input.as_bytes());
    }
    let output = child.wait_with_output().map_err(spawn_error)?;
    check(command, output)
}

fn check(command: String, output: Output) -> Result<Output> {
    if output.status.success() {
        Ok(output)
    } else {
        Err(Error::Command {
            command,
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

//! MISC_CHECK programs that must run as another user while baton is not root: baton-health
//! runs programs itself, so it is handed baton's hidden `script-helper-run` command line in
//! their place, which asks the script helper (see `via_helper`) and exits as the program
//! did.

use std::path::Path;
use std::time::Duration;

use super::Credentials;
use super::outcome::Outcome;
use super::via_helper::{run, set_socket, socket};

/// The command line baton-health runs in place of `argv`: `baton script-helper-run`, which
/// exits with the program's exit code (1 when it did not run: the check fails).
pub(crate) fn command_line(
    argv: &[String],
    credentials: Credentials,
    timeout: Duration,
) -> std::io::Result<Vec<String>> {
    let exe = std::env::current_exe()?;
    let mut line = vec![
        exe.to_string_lossy().into_owned(),
        "script-helper-run".to_owned(),
        "--socket".to_owned(),
        socket().to_string_lossy().into_owned(),
        "--uid".to_owned(),
        credentials.uid.to_string(),
        "--gid".to_owned(),
        credentials.gid.to_string(),
        "--timeout-ms".to_owned(),
        timeout.as_millis().to_string(),
        "--".to_owned(),
    ];
    line.extend(argv.iter().cloned());
    Ok(line)
}

/// `baton script-helper-run`: the other half of [`command_line`].
pub(crate) fn run_for_misc_check(
    socket_path: &Path,
    credentials: Credentials,
    timeout: Duration,
    argv: Vec<String>,
) -> std::process::ExitCode {
    set_socket(socket_path);
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|runtime| runtime.block_on(run(&argv, credentials, &[], Some(timeout))));
    match outcome {
        Ok(Outcome::Exited(code)) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Ok(other) => {
            eprintln!("baton script-helper-run: {other}");
            std::process::ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("baton script-helper-run: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! Scripts that must run as another user while baton is not root (the shipped unit runs it
//! as the user `baton`, which cannot switch users) go to the script helper, `baton
//! script-helper`, a small root service on a unix socket (dist/baton-scripts.socket). It
//! runs them only if its own reading of the configuration file has them, with that user.
//!
//! The wire: one JSON [`Request`] line, one JSON [`Reply`] line, then the helper closes.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};

use super::Credentials;
use super::outcome::Outcome;

/// Where the helper listens unless `baton run --script-helper` says otherwise.
pub(crate) const DEFAULT_SOCKET: &str = "/run/baton-scripts/scripts.sock";

static SOCKET: RwLock<Option<PathBuf>> = RwLock::new(None);

/// How much longer than a script's timeout the helper may take to answer.
const ANSWER_MARGIN: Duration = Duration::from_secs(5);

/// Where to find the helper (`baton run --script-helper PATH`).
pub(crate) fn set_socket(path: &Path) {
    *SOCKET.write().unwrap_or_else(|e| e.into_inner()) = Some(path.to_owned());
}

pub(super) fn socket() -> PathBuf {
    SOCKET
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// What the daemon asks of the helper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Request {
    pub(crate) argv: Vec<String>,
    /// Who the daemon resolved the script's user to; the helper resolves it again.
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// What baton appends to the command line (a generic `notify`'s four arguments).
    pub(crate) args: Vec<String>,
    /// At most the configured timeout, which applies when this is `None`.
    pub(crate) timeout_ms: Option<u64>,
    /// Only say whether it would run (at configuration load).
    pub(crate) vet: bool,
}

/// The helper's answer: the outcome of the run (`None` for a vetting), or why not.
pub(crate) type Reply = Result<Option<Outcome>, String>;

/// The user to ask the helper to run a script with these credentials as, when it must go
/// to the helper: baton is not root and the script runs as someone else.
pub(crate) fn other_user(credentials: Option<Credentials>) -> Option<Credentials> {
    credentials.filter(|c| !nix::unistd::geteuid().is_root() && *c != Credentials::daemon())
}

/// Whether a script with these credentials must go to the helper.
pub(crate) fn needed(credentials: Option<Credentials>) -> bool {
    other_user(credentials).is_some()
}

fn request(
    argv: &[String],
    credentials: Credentials,
    extra: &[String],
    timeout: Option<Duration>,
    vet: bool,
) -> Request {
    Request {
        argv: argv.to_vec(),
        uid: credentials.uid.as_raw(),
        gid: credentials.gid.as_raw(),
        args: extra.to_vec(),
        timeout_ms: timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
        vet,
    }
}

/// Why the helper could not be asked, saying what to do about it.
fn unreachable(path: &Path, error: &dyn std::fmt::Display) -> String {
    format!(
        "it runs as another user, which baton (uid {}) cannot switch to, and the script \
         helper at {} cannot be reached ({error}): enable baton-scripts.socket, or run \
         baton as root",
        nix::unistd::geteuid(),
        path.display()
    )
}

/// Runs `argv` as `user` through the helper.
pub(crate) async fn run(
    argv: &[String],
    user: Credentials,
    extra: &[String],
    timeout: Option<Duration>,
) -> Outcome {
    let path = socket();
    let line = match serde_json::to_string(&request(argv, user, extra, timeout, false)) {
        Ok(line) => line + "\n",
        Err(error) => return Outcome::SpawnFailed(error.to_string()),
    };
    let exchange = async {
        let mut stream = tokio::net::UnixStream::connect(&path).await?;
        stream.write_all(line.as_bytes()).await?;
        let mut answer = String::new();
        tokio::io::BufReader::new(stream)
            .read_line(&mut answer)
            .await?;
        Ok::<_, std::io::Error>(answer)
    };
    // The helper kills the script at its timeout; past that and a margin, it is stuck.
    let limit = timeout.unwrap_or(Duration::from_secs(60)) + ANSWER_MARGIN;
    let answer = match tokio::time::timeout(limit, exchange).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => return Outcome::SpawnFailed(unreachable(&path, &error)),
        Err(_) => {
            return Outcome::SpawnFailed(format!(
                "the script helper at {} gave no answer within {limit:?}",
                path.display()
            ));
        }
    };
    match serde_json::from_str::<Reply>(&answer) {
        Ok(Ok(Some(outcome))) => outcome,
        Ok(Ok(None)) => Outcome::SpawnFailed("the script helper did not run it".into()),
        Ok(Err(refused)) => Outcome::SpawnFailed(format!("the script helper refused: {refused}")),
        Err(error) => Outcome::SpawnFailed(format!("the script helper's answer: {error}")),
    }
}

/// Asks the helper whether it would run `argv` as `user` (blocking, at configuration load).
pub(crate) fn vet(argv: &[String], user: Credentials) -> Result<(), String> {
    let path = socket();
    let line = serde_json::to_string(&request(argv, user, &[], None, true))
        .map_err(|error| error.to_string())?;
    let exchange = || {
        let mut stream = std::os::unix::net::UnixStream::connect(&path)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(format!("{line}\n").as_bytes())?;
        let mut answer = String::new();
        BufReader::new(stream).read_line(&mut answer)?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = exchange().map_err(|error| unreachable(&path, &error))?;
    match serde_json::from_str::<Reply>(&answer) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(refused)) => Err(format!("the script helper refuses it: {refused}")),
        Err(error) => Err(format!("the script helper's answer: {error}")),
    }
}

/// At configuration load: every script of `config` that must go to the helper is one the
/// helper will run, so that a missing helper or a script it refuses fails the start or the
/// reload with the reason, instead of failing each run later.
pub(crate) fn check_configuration(
    config: &baton_config::Config,
    default_user: Option<Credentials>,
) -> anyhow::Result<()> {
    let entries = super::inventory::inventory(config, default_user)?;
    let mut vetted: Vec<(&[String], Credentials)> = Vec::new();
    for entry in &entries {
        let Some(user) = other_user(entry.credentials) else {
            continue;
        };
        if vetted.contains(&(&entry.argv, user)) {
            continue;
        }
        vet(&entry.argv, user).map_err(|reason| anyhow::anyhow!("{}: {reason}", entry.what))?;
        vetted.push((&entry.argv, user));
    }
    Ok(())
}

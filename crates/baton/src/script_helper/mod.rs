//! `baton script-helper`: runs track, notify and MISC_CHECK scripts as the users the
//! configuration names, for a daemon that runs as the unprivileged user `baton` and so
//! cannot switch users (dist/baton-scripts.socket starts it as root on first use).
//!
//! It trusts the daemon with nothing but the choice of which configured script to run and
//! when: it reads the configuration file itself, and runs a script only if that file has it
//! with that user ([`validate`]), after keepalived's script security checks, with the
//! configured timeout at most, killing the script's process group past it. Only root and
//! one user (`--allow-user`, default `baton`) may ask.
//!
//! It re-reads the file when the daemon vets its scripts, which the daemon does each time
//! it loads the file (start, reload); so an edited file counts from the reload on for both,
//! and the scripts of the running configuration keep running until then.

mod listener;
mod validate;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use nix::unistd::Uid;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::UnixStream;

use crate::cli::ScriptHelperArgs;
use crate::scripts::{Credentials, Reply, Request, Script};

pub(crate) use validate::validate;

/// The longest request line read.
const MAX_REQUEST: u64 = 64 * 1024;
/// How long a client has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests served at once: a daemon that was taken over cannot start configured scripts
/// without bound (each runs at most its timeout, but could be asked for many times over).
const AT_ONCE: usize = 64;

/// `baton script-helper-run` (see `scripts::helper_command_line`).
pub(crate) fn run_one(args: crate::cli::ScriptHelperRunArgs) -> ExitCode {
    let credentials = Credentials {
        uid: Uid::from_raw(args.uid),
        gid: nix::unistd::Gid::from_raw(args.gid),
    };
    let timeout = Duration::from_millis(args.timeout_ms);
    crate::scripts::run_for_misc_check(&args.socket, credentials, timeout, args.argv)
}

/// `baton script-helper`.
pub(crate) fn serve(args: &ScriptHelperArgs) -> ExitCode {
    crate::logging::init();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let result = runtime
        .context("starting the runtime")
        .and_then(|runtime| runtime.block_on(accept_loop(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("baton script-helper: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn accept_loop(args: &ScriptHelperArgs) -> anyhow::Result<()> {
    let allowed = nix::unistd::User::from_name(&args.allow_user)
        .with_context(|| format!("looking up {}", args.allow_user))?
        .with_context(|| {
            format!(
                "no user {}: create it (baton.sysusers.conf) or name baton's user with \
                 --allow-user",
                args.allow_user
            )
        })?;
    let configuration = Arc::new(Configuration {
        source: args.source.clone(),
        current: Mutex::new(None),
    });
    configuration.read().map_err(anyhow::Error::msg)?;
    let (listener, place) = listener::listen(&args.socket, allowed.gid)?;
    tracing::info!(allow_user = %args.allow_user, "script helper listening on {place}");
    let slots = Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    loop {
        let (stream, _) = listener.accept().await.context("accepting")?;
        let configuration = Arc::clone(&configuration);
        let slot = Arc::clone(&slots).try_acquire_owned();
        tokio::spawn(async move {
            match slot {
                Ok(_slot) => answer(stream, &configuration, allowed.uid).await,
                Err(_) => refuse(stream, &format!("busy: {AT_ONCE} requests at once")).await,
            }
        });
    }
}

/// The configuration requests are checked against, as last read from the file.
struct Configuration {
    source: crate::cli::ConfigSource,
    current: Mutex<Option<baton_config::Config>>,
}

impl Configuration {
    /// Reads the file again and keeps what it says.
    fn read(&self) -> Result<baton_config::Config, String> {
        let config = crate::commands::load(&self.source)
            .map_err(|errors| format!("the configuration does not load: {errors}"))?
            .config;
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(config.clone());
        Ok(config)
    }

    /// The configuration for `request`: read again for a vetting (the daemon has just read
    /// the file), else the one last read.
    fn for_request(&self, request: &Request) -> Result<baton_config::Config, String> {
        let kept = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match kept {
            Some(config) if !request.vet => Ok(config),
            _ => self.read(),
        }
    }
}

async fn answer(stream: UnixStream, configuration: &Configuration, allowed: Uid) {
    let peer = stream.peer_cred().ok();
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST));
    let read = tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await;
    let reply: Reply = match (peer, read) {
        (None, _) => Err("the peer's credentials are unknown".into()),
        (Some(peer), _) if peer.uid() != 0 && peer.uid() != allowed.as_raw() => {
            tracing::warn!(uid = peer.uid(), pid = ?peer.pid(), "refused a client");
            Err(format!("uid {} may not use the script helper", peer.uid()))
        }
        (_, Err(_)) => Err("no request in time".into()),
        (_, Ok(Err(error))) => Err(format!("reading the request: {error}")),
        (_, Ok(Ok(_))) => match serde_json::from_str::<Request>(&line) {
            Ok(request) => handle(request, configuration).await,
            Err(error) => Err(format!("bad request: {error}")),
        },
    };
    if let Err(refused) = &reply {
        tracing::warn!("not run: {refused}");
    }
    send(&mut write, &reply).await;
}

async fn refuse(mut stream: UnixStream, why: &str) {
    tracing::warn!("not run: {why}");
    send(&mut stream, &Err(why.to_owned())).await;
}

async fn send(write: &mut (impl tokio::io::AsyncWrite + Unpin), reply: &Reply) {
    let mut answer = serde_json::to_string(reply).unwrap_or_else(|_| "{}".into());
    answer.push('\n');
    let _ = write.write_all(answer.as_bytes()).await;
}

/// Vets or runs `request` under the configuration.
async fn handle(request: Request, configuration: &Configuration) -> Reply {
    let config = configuration.for_request(&request)?;
    // The file's script security and default user, for this run as for the daemon's.
    let default_user = crate::scripts::configure(&config.global).map_err(|e| e.to_string())?;
    let entries = crate::scripts::inventory(&config, default_user).map_err(|e| e.to_string())?;
    let timeout = validate(&request, &entries)?;
    let credentials = Credentials {
        uid: Uid::from_raw(request.uid),
        gid: nix::unistd::Gid::from_raw(request.gid),
    };
    let script = Script::new(request.argv, Some(credentials));
    let program = script.argv.first().cloned().unwrap_or_default();
    script.permitted(&program)?;
    if request.vet {
        return Ok(None);
    }
    let outcome = script.run(&request.args, Some(timeout)).await;
    tracing::debug!(script = ?script.argv, args = ?request.args, %outcome, "ran");
    Ok(Some(outcome))
}

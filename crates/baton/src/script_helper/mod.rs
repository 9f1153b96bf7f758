//! `baton script-helper`: runs track, notify and MISC_CHECK scripts as the users the
//! configuration names, for a daemon that runs as the unprivileged user `baton` and so
//! cannot switch users (dist/baton-scripts.socket starts it as root on first use).
//!
//! It trusts the daemon with nothing but the choice of which configured script to run and
//! when: it reads the configuration file itself at every request (so a reload applies), and
//! runs a script only if that file has it with that user ([`validate`]), after keepalived's
//! script security checks, with the configured timeout at most, killing the script's
//! process group past it. Only root and one user (`--allow-user`, default `baton`) may ask.

mod listener;
mod validate;

use std::process::ExitCode;
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
    crate::commands::load(&args.source).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let listener = listener::listen(&args.socket, allowed.gid)?;
    tracing::info!(socket = %args.socket.display(), allow_user = %args.allow_user, "script helper ready");
    loop {
        let (stream, _) = listener.accept().await.context("accepting")?;
        let source = args.source.clone();
        tokio::spawn(async move {
            answer(stream, &source, allowed.uid).await;
        });
    }
}

async fn answer(stream: UnixStream, source: &crate::cli::ConfigSource, allowed: Uid) {
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
            Ok(request) => handle(request, source).await,
            Err(error) => Err(format!("bad request: {error}")),
        },
    };
    if let Err(refused) = &reply {
        tracing::warn!("not run: {refused}");
    }
    let mut answer = serde_json::to_string(&reply).unwrap_or_else(|_| "{}".into());
    answer.push('\n');
    let _ = write.write_all(answer.as_bytes()).await;
}

/// Vets or runs `request` under the configuration file as it is now.
async fn handle(request: Request, source: &crate::cli::ConfigSource) -> Reply {
    let config = crate::commands::load(source)
        .map_err(|errors| format!("the configuration does not load: {errors}"))?
        .config;
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

//! conntrackd as baton's child: started in the foreground with its output logged, asked to
//! stop through its own socket, and the steps of a transition (what `conntrackd -C FILE -c`
//! asks, sent on the daemon's socket directly).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};

use super::conf::Files;
use super::role;
use crate::conn_sync_status::CommandResult;

/// The longest a one-shot command may take (a commit of a large cache included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long conntrackd gets to exit after `-k` before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// How to run conntrackd with baton's file.
#[derive(Debug, Clone)]
pub(crate) struct Conntrackd {
    pub(crate) program: PathBuf,
    pub(crate) files: Files,
}

impl Conntrackd {
    fn command(&self, extra: &[&str]) -> Command {
        let mut command = Command::new(&self.program);
        command
            .arg("-C")
            .arg(self.files.config())
            .args(extra)
            .stdin(Stdio::null())
            // Not ours to use: under systemd, conntrackd would notify baton's unit.
            .env_remove("NOTIFY_SOCKET")
            .kill_on_drop(true);
        command
    }

    /// Starts the daemon in the foreground; its output lines go to baton's log.
    pub(crate) fn spawn(&self) -> std::io::Result<Child> {
        let mut command = self.command(&[]);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn()?;
        // conntrackd prints notices on stdout and errors on stderr.
        if let Some(out) = child.stdout.take() {
            tokio::spawn(log_lines(BufReader::new(out), false));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(log_lines(BufReader::new(err), true));
        }
        Ok(child)
    }

    /// Runs one step of a transition: the request its option makes, sent on the daemon's
    /// socket as conntrackd's client does (a native-endian int, then the answer until the
    /// daemon closes). No client process: a fork and exec under load took as long as the
    /// commit itself, and a backup's early commit races the flows' next packets.
    pub(crate) async fn run(&self, step: role::Command) -> CommandResult {
        let socket = self.files.socket();
        let exchange = async {
            let mut stream = tokio::net::UnixStream::connect(&socket).await?;
            stream.write_all(&step.request().to_ne_bytes()).await?;
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).await?;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&answer).trim().to_owned())
        };
        let (ok, output) = match tokio::time::timeout(COMMAND_TIMEOUT, exchange).await {
            Ok(Ok(answer)) => (true, answer),
            // What conntrackd's client says when it cannot reach the daemon.
            Ok(Err(error)) => (
                false,
                format!("can't connect to {}: {error}", socket.display()),
            ),
            Err(_) => (false, format!("no answer within {COMMAND_TIMEOUT:?}")),
        };
        CommandResult {
            option: step.option().to_owned(),
            ok,
            output,
        }
    }

    /// Whether the daemon answers on its socket (`-s`, statistics).
    pub(crate) async fn answers(&self) -> bool {
        self.once(&["-s"]).await.0
    }

    /// Waits up to `within` for the daemon to answer.
    pub(crate) async fn ready(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.answers().await {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn once(&self, args: &[&str]) -> (bool, String) {
        let mut command = self.command(args);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let run = async {
            match command.output().await {
                Ok(output) => {
                    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
                    text.push_str(&String::from_utf8_lossy(&output.stderr));
                    // conntrackd's client exits 1 when the daemon refused or is not there.
                    (output.status.success(), text.trim().to_owned())
                }
                Err(error) => (false, format!("{}: {error}", self.program.display())),
            }
        };
        tokio::time::timeout(COMMAND_TIMEOUT, run)
            .await
            .unwrap_or_else(|_| (false, format!("no answer within {COMMAND_TIMEOUT:?}")))
    }

    /// Stops `child`: `-k` through its socket (it flushes and removes its lock file),
    /// then SIGKILL if it is still there after the grace.
    pub(crate) async fn stop(&self, child: &mut Child) {
        let _ = self.once(&["-k"]).await;
        if tokio::time::timeout(STOP_GRACE, child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }

    /// A conntrackd left by a baton that was killed (its lock file is there): asked to
    /// stop through its socket, and its files removed, so the new one can start.
    pub(crate) async fn remove_leftover(&self) {
        let lock = self.files.lock();
        if lock.exists() {
            if self.answers().await {
                tracing::info!("conn_sync: stopping the conntrackd a previous baton left running");
                let _ = self.once(&["-k"]).await;
                let deadline = tokio::time::Instant::now() + STOP_GRACE;
                while lock.exists() && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            remove(&lock);
        }
        remove(&self.files.socket());
    }
}

fn remove(path: &Path) {
    if let Err(error) = std::fs::remove_file(path) {
        if error.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("conn_sync: removing {}: {error}", path.display());
        }
    }
}

async fn log_lines<R: tokio::io::AsyncBufRead + Unpin>(reader: R, errors: bool) {
    let mut lines = reader.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if errors || line.contains("[ERROR]") || line.contains("[WARNING]") {
            tracing::warn!("conntrackd: {line}");
        } else {
            tracing::info!("conntrackd: {line}");
        }
    }
}

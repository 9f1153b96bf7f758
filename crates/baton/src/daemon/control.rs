//! The control socket: a Unix socket, mode 0600, where `baton status` asks for the daemon's
//! state. One request line per connection, one JSON reply; any other input gets a clear
//! error and the socket keeps serving.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::frontends::Registry;
use crate::status::{ServerEntry, Status};

/// Longest request line accepted; commands are short words.
const MAX_REQUEST: u64 = 4096;
/// A client that sends nothing for this long is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `path` and serves snapshots from `status` (VRRP) and `proxies` (servers, read
/// live at each request) until the task is aborted.
pub(crate) fn spawn(
    path: &Path,
    status: watch::Receiver<Status>,
    proxies: Registry,
) -> anyhow::Result<JoinHandle<()>> {
    let listener = bind(path)?;
    let path = path.to_owned();
    Ok(tokio::spawn(async move {
        let _cleanup = RemoveOnDrop(path);
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(answer(stream, status.clone(), Arc::clone(&proxies)));
                }
                Err(error) => {
                    tracing::warn!("control socket: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }))
}

fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    if path.exists() {
        // A live daemon answers; then refuse to steal its socket. A dead one left a file.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!(
                "{}: another baton is running with this control socket",
                path.display()
            );
        }
        std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("chmod 0600 {}", path.display()))?;
    Ok(listener)
}

async fn answer(stream: UnixStream, status: watch::Receiver<Status>, proxies: Registry) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST));
    let request = tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await;
    let reply = match request {
        Err(_) => error_reply("no request within 5 s"),
        Ok(Err(error)) => error_reply(&format!("reading the request: {error}")),
        Ok(Ok(_)) => reply_to(line.trim(), &snapshot(&status, &proxies)),
    };
    let _ = write.write_all(reply.as_bytes()).await;
    let _ = write.shutdown().await;
}

/// The VRRP state as last published, with the servers as they are this instant: what
/// `baton status --json` and the admin listener's `/status.json` show.
pub(crate) fn snapshot(status: &watch::Receiver<Status>, proxies: &Registry) -> Status {
    let mut snapshot = status.borrow().clone();
    let views = proxies.read().unwrap_or_else(|e| e.into_inner()).clone();
    snapshot.backends = views
        .iter()
        .flat_map(|view| ServerEntry::of(&view.frontend, &view.backend, &view.proxy))
        .collect();
    snapshot
}

/// The reply to one command line.
fn reply_to(command: &str, status: &Status) -> String {
    match command {
        "status" => serde_json::to_string(status)
            .map(|json| json + "\n")
            .unwrap_or_else(|e| error_reply(&e.to_string())),
        "" => error_reply("empty request; commands: status"),
        other => {
            let shown: String = other.chars().take(64).collect();
            error_reply(&format!("unknown command {shown:?}; commands: status"))
        }
    }
}

fn error_reply(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string() + "\n"
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `baton status`: asks the daemon at `path`.
pub(crate) async fn query(path: &Path) -> anyhow::Result<Status> {
    let mut stream = UnixStream::connect(path)
        .await
        .with_context(|| format!("connecting to {} (is baton running?)", path.display()))?;
    stream.write_all(b"status\n").await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&reply) {
        if let Some(error) = map.get("error") {
            anyhow::bail!("the daemon said: {error}");
        }
    }
    serde_json::from_str(&reply).with_context(|| format!("unexpected reply: {reply:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket_path(name: &str) -> PathBuf {
        std::env::temp_dir()
            .join(format!("baton-ctl-{}-{name}", std::process::id()))
            .join("baton.sock")
    }

    async fn raw(path: &Path, bytes: &[u8]) -> String {
        let mut stream = UnixStream::connect(path).await.expect("connect");
        stream.write_all(bytes).await.expect("write");
        let _ = stream.shutdown().await;
        let mut reply = Vec::new();
        // The server may close on us while we still send (oversized garbage): a reset then
        // is an answer too; what matters is that the socket keeps serving.
        let _ = stream.read_to_end(&mut reply).await;
        String::from_utf8_lossy(&reply).into_owned()
    }

    #[tokio::test]
    async fn serves_status_and_survives_bad_input() {
        let path = socket_path("serve");
        let (_tx, rx) = watch::channel(Status::default());
        let task = spawn(&path, rx, Registry::default()).expect("bind");
        let mode = std::fs::metadata(&path)
            .expect("socket")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);

        assert_eq!(query(&path).await.expect("status"), Status::default());
        assert!(
            raw(&path, b"reboot\n")
                .await
                .contains("unknown command \\\"reboot\\\"")
        );
        assert!(raw(&path, b"\n").await.contains("empty request"));
        let garbage = raw(&path, &[0xff; 10_000]).await;
        assert!(garbage.is_empty() || garbage.contains("error"), "{garbage}");
        // Still serving after all that.
        assert!(query(&path).await.is_ok());
        // A second daemon may not take the socket over.
        let (_tx2, rx2) = watch::channel(Status::default());
        assert!(spawn(&path, rx2, Registry::default()).is_err());
        task.abort();
        let _ = task.await;
        assert!(!path.exists(), "socket removed when the server stops");
    }

    #[tokio::test]
    async fn a_stale_socket_file_is_replaced() {
        let path = socket_path("stale");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
        drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
        assert!(path.exists());
        let (_tx, rx) = watch::channel(Status::default());
        let task = spawn(&path, rx, Registry::default()).expect("stale file replaced");
        assert!(query(&path).await.is_ok());
        task.abort();
    }
}

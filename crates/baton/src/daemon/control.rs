//! The control socket: a Unix socket, mode 0600, where `baton status`, `baton server`,
//! `baton instance`, `baton anycast` and `baton reload` talk to the daemon. One request line per
//! connection, one JSON reply (docs/operations.md, "Control socket"); any bad input gets a
//! specific error and the socket keeps serving.
//!
//! Server commands act on the proxies directly; instance commands and reloads go to the
//! daemon's main loop, which owns the VRRP engine, and come back over a oneshot.
//!
//! Only root and the daemon's own user may send requests: the socket's mode says so, and
//! every connection's peer credentials (SO_PEERCRED) are checked too, so a socket made
//! readable by mistake (a chmod, a group-writable directory) hands control to nobody else.

mod servers;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use baton::control_request::{self as request, Request, shown};
use baton_vrrp::Router;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::frontends::Registry;
use super::state_file::Store;
use super::virtual_servers;
use crate::published::snapshot;
use crate::status::Status;

/// A reply: the JSON to send, or the text of the error to send.
pub(crate) type Answer = Result<serde_json::Value, String>;

/// What the control socket asks of the daemon's main loop.
#[derive(Debug)]
pub(crate) enum DaemonRequest {
    /// `instance step-down NAME` (on) or `instance resume NAME`; see [`set_maintenance`].
    Maintenance {
        instance: String,
        on: bool,
        reply: oneshot::Sender<Answer>,
    },
    /// `reload`: what SIGHUP does, with the outcome.
    Reload { reply: oneshot::Sender<Answer> },
    /// `anycast withdraw|drain NAME` (withdrawn) or `anycast announce NAME`: the
    /// operator's hold on an `[[anycast]]` section, which the main loop keeps.
    Anycast {
        name: String,
        withdrawn: bool,
        reply: oneshot::Sender<Answer>,
    },
    /// `server ...` naming a virtual server: its real servers live in the main loop.
    RealServer {
        service: String,
        address: std::net::SocketAddr,
        change: crate::daemon::virtual_servers::ServerChange,
        reply: oneshot::Sender<Answer>,
    },
}

/// Longest request line accepted; commands are short words.
const MAX_REQUEST: u64 = 4096;
/// A client that sends nothing for this long is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What a request needs: the VRRP state as last published, the running proxies (read live
/// at each request), and the way to the main loop.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) status: watch::Receiver<Status>,
    pub(crate) proxies: Registry,
    pub(crate) virtual_servers: virtual_servers::Registry,
    pub(crate) daemon: mpsc::Sender<DaemonRequest>,
    /// Where every successful change to a server or an instance is recorded, and saved
    /// before the answer goes out.
    pub(crate) state: std::sync::Arc<Store>,
}

/// Binds `path` and answers requests until the task is aborted.
pub(crate) fn spawn(path: &Path, context: Context) -> anyhow::Result<JoinHandle<()>> {
    let listener = bind(path)?;
    // Made here, not in the task: a task aborted before its first poll removes it too.
    let cleanup = RemoveOnDrop(path.to_owned());
    Ok(tokio::spawn(async move {
        let _cleanup = cleanup;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(answer(stream, context.clone()));
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
        if let Ok(stream) = std::os::unix::net::UnixStream::connect(path) {
            anyhow::bail!(
                "{}: another baton{} is running with this control socket; give this one a \
                 socket of its own with --control PATH",
                path.display(),
                holder(stream)
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

/// " (pid N)", " (pid N, in another network namespace)", or nothing: who holds a socket,
/// from its peer credentials.
fn holder(stream: std::os::unix::net::UnixStream) -> String {
    let pid = stream
        .set_nonblocking(true)
        .ok()
        .and_then(|()| UnixStream::from_std(stream).ok())
        .and_then(|stream| stream.peer_cred().ok())
        .and_then(|credentials| credentials.pid());
    let Some(pid) = pid else {
        return String::new();
    };
    let namespace = |path: String| std::fs::read_link(path).ok();
    let theirs = namespace(format!("/proc/{pid}/ns/net"));
    match (theirs, namespace("/proc/self/ns/net".to_owned())) {
        (Some(theirs), Some(ours)) if theirs != ours => {
            format!(" (pid {pid}, in another network namespace)")
        }
        _ => format!(" (pid {pid})"),
    }
}

/// Who may send requests: root and the daemon's own user. `peer` is the connecting
/// process's uid, `None` when the kernel could not tell.
fn permitted(peer: Option<u32>, daemon: u32) -> Result<(), String> {
    match peer {
        Some(uid) if uid == 0 || uid == daemon => Ok(()),
        Some(uid) => Err(format!(
            "permission denied: uid {uid} may not use this control socket (only root and \
             the daemon's uid {daemon} may)"
        )),
        None => Err("permission denied: the peer's credentials are unknown".to_owned()),
    }
}

async fn answer(stream: UnixStream, context: Context) {
    let peer = stream.peer_cred().ok().map(|credentials| credentials.uid());
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST));
    let request = tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await;
    let reply = match request {
        Err(_) => error_reply("no request within 5 s"),
        Ok(Err(error)) => error_reply(&format!("reading the request: {error}")),
        Ok(Ok(_)) => match permitted(peer, nix::unistd::geteuid().as_raw()) {
            Ok(()) => reply_to(line.trim(), &context).await,
            Err(denied) => {
                tracing::warn!("control socket: {denied}");
                error_reply(&denied)
            }
        },
    };
    let _ = write.write_all(reply.as_bytes()).await;
    let _ = write.shutdown().await;
}

/// The reply to one request line.
async fn reply_to(line: &str, context: &Context) -> String {
    let request = Request::parse(line);
    let persists = matches!(
        request,
        Ok(Request::Server { .. } | Request::Maintenance { .. } | Request::Anycast { .. })
    );
    let answer = match request {
        Err(error) => Err(error),
        Ok(Request::Status) => serde_json::to_value(snapshot(
            &context.status,
            &context.proxies,
            &context.virtual_servers,
        ))
        .map_err(|e| e.to_string()),
        Ok(Request::Server {
            backend,
            address,
            change,
        }) if is_virtual_server(&context.virtual_servers, &backend) => {
            let real_server_change = match change {
                request::ServerChange::Admin(state) => virtual_servers::ServerChange::Admin(state),
                request::ServerChange::Weight(weight) => {
                    virtual_servers::ServerChange::Weight(weight)
                }
            };
            let service = backend.clone();
            let answer = ask(&context.daemon, |reply| DaemonRequest::RealServer {
                service,
                address,
                change: real_server_change,
                reply,
            })
            .await;
            if answer.is_ok() {
                context.state.record_real_server(&backend, address, change);
            }
            answer
        }
        Ok(Request::Server {
            backend,
            address,
            change,
        }) => {
            let answer = servers::apply(&context.proxies, &backend, address, change);
            if answer.is_ok() {
                context.state.record_server(&backend, address, change);
            }
            answer
        }
        Ok(Request::Maintenance { instance, on }) => {
            let answer = ask(&context.daemon, |reply| DaemonRequest::Maintenance {
                instance,
                on,
                reply,
            })
            .await;
            if let Ok(json) = &answer {
                for (name, stepped_down) in instances_changed(json) {
                    context.state.record_stepped_down(name, stepped_down);
                }
            }
            answer
        }
        Ok(Request::Reload) => ask(&context.daemon, |reply| DaemonRequest::Reload { reply }).await,
        Ok(Request::Anycast { name, action }) => anycast(context, name, action).await,
    };
    match answer {
        Ok(json) if persists => saved(&context.state, json).await.to_string() + "\n",
        Ok(json) => json.to_string() + "\n",
        Err(error) => error_reply(&error),
    }
}

/// Saves the operator's overrides before the answer goes out, so an answered change is on
/// disk. A failed save does not undo the change, which is made: the answer carries a
/// warning, and the log an error.
async fn saved(state: &Store, mut json: serde_json::Value) -> serde_json::Value {
    if let Err(error) = state.save().await {
        let warning = format!("{error}; the change is made but will not survive a restart");
        tracing::error!("{warning}");
        json["warning"] = serde_json::Value::String(warning);
    }
    json
}

/// `anycast withdraw|drain|announce NAME`, recorded for the state file at once. A drain
/// answers after the section's `withdraw_delay`, waited here, on this connection's task,
/// not in the main loop.
async fn anycast(context: &Context, name: String, action: request::AnycastAction) -> Answer {
    let withdrawn = action != request::AnycastAction::Announce;
    let answer = ask(&context.daemon, |reply| DaemonRequest::Anycast {
        name: name.clone(),
        withdrawn,
        reply,
    })
    .await?;
    context.state.record_anycast_withdrawn(&name, withdrawn);
    if action == request::AnycastAction::Drain {
        let delay = answer["withdraw_delay"].as_f64().unwrap_or_default();
        tokio::time::sleep(Duration::try_from_secs_f64(delay).unwrap_or_default()).await;
    }
    Ok(answer)
}

/// The instances a step-down or resume answer names (see [`set_maintenance`]), with
/// whether each is stepped down now.
fn instances_changed(answer: &serde_json::Value) -> impl Iterator<Item = (&str, bool)> {
    answer["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| Some((i["name"].as_str()?, i["maintenance"].as_bool()?)))
}

/// `server` commands name a backend or a virtual server; a name both use means the backend,
/// as it did before virtual servers existed.
fn is_virtual_server(registry: &virtual_servers::Registry, name: &str) -> bool {
    registry
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|vs| vs.name == name)
}

/// Hands a request to the main loop and waits for its answer.
async fn ask(
    daemon: &mpsc::Sender<DaemonRequest>,
    request: impl FnOnce(oneshot::Sender<Answer>) -> DaemonRequest,
) -> Answer {
    let (reply, answer) = oneshot::channel();
    if daemon.send(request(reply)).await.is_err() {
        return Err("the daemon is stopping".to_owned());
    }
    answer
        .await
        .unwrap_or_else(|_| Err("the daemon is stopping".to_owned()))
}

/// `instance step-down|resume NAME` in the main loop: the engine's maintenance input for
/// the instance and, through it, its sync group.
pub(crate) fn set_maintenance(
    router: &mut Router,
    now: std::time::Instant,
    instance: &str,
    on: bool,
) -> Answer {
    let Some(id) = router.find(instance) else {
        let names: Vec<&str> = router.instances().map(|(_, i)| i.name()).collect();
        return Err(if names.is_empty() {
            format!(
                "unknown instance {}: no VRRP instance is configured",
                shown(instance)
            )
        } else {
            format!(
                "unknown instance {}; instances: {}",
                shown(instance),
                names.join(", ")
            )
        });
    };
    router.set_maintenance(now, id, on);
    // Stepping one member down steps its sync group down: name every instance affected.
    let affected: Vec<serde_json::Value> = router
        .instances()
        .filter(|(_, i)| i.maintenance() == on)
        .filter(|(other, _)| *other == id || router.same_sync_group(*other, id))
        .map(|(_, i)| {
            serde_json::json!({
                "name": i.name(),
                "state": i.state().as_str(),
                "maintenance": i.maintenance(),
            })
        })
        .collect();
    Ok(serde_json::json!({ "ok": true, "instances": affected }))
}

fn error_reply(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string() + "\n"
}

/// What to try when nothing answers at `path`: the other control sockets beside it (a
/// `baton vrrp` has one per interface and VRID), to pick with `--control`.
fn others(path: &Path) -> String {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|other| other.as_path() != path)
        .filter(|other| {
            use std::os::unix::fs::FileTypeExt as _;
            std::fs::symlink_metadata(other).is_ok_and(|m| m.file_type().is_socket())
        })
        .map(|other| other.display().to_string())
        .collect();
    found.sort();
    if found.is_empty() {
        "is baton running?".to_owned()
    } else {
        format!(
            "is baton running? Other control sockets: {}; pick one with --control PATH",
            found.join(", ")
        )
    }
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `baton status`: asks the daemon at `path`.
pub(crate) async fn query(path: &Path) -> anyhow::Result<Status> {
    let reply = request(path, "status").await?;
    serde_json::from_value(reply).context("unexpected reply")
}

/// Sends one request line to the daemon at `path`; its JSON reply, or its error as the
/// error.
pub(crate) async fn request(path: &Path, line: &str) -> anyhow::Result<serde_json::Value> {
    let mut stream = UnixStream::connect(path)
        .await
        .with_context(|| format!("connecting to {} ({})", path.display(), others(path)))?;
    stream.write_all(format!("{line}\n").as_bytes()).await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    let json: serde_json::Value =
        serde_json::from_str(&reply).with_context(|| format!("unexpected reply: {reply:?}"))?;
    if let Some(error) = json.get("error") {
        anyhow::bail!("the daemon said: {}", error.as_str().unwrap_or_default());
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, SocketAddr};
    use std::sync::Arc;

    use baton_proxy::{AdminState, Proxy, ProxyConfig, ServerConfig};
    use baton_vrrp::{InstanceConfig, SyncGroupConfig, Version, Vrid};

    use super::*;
    use crate::daemon::frontends::ProxyView;

    const A: &str = "10.0.3.11:8080";
    const B: &str = "10.0.3.12:8080";

    /// A control socket's path in a scratch directory that goes with it.
    struct TestSocket {
        path: PathBuf,
        _dir: tempfile::TempDir,
    }

    impl std::ops::Deref for TestSocket {
        type Target = Path;

        fn deref(&self) -> &Path {
            &self.path
        }
    }

    impl AsRef<Path> for TestSocket {
        fn as_ref(&self) -> &Path {
            &self.path
        }
    }

    fn socket_path(name: &str) -> TestSocket {
        let dir = tempfile::Builder::new()
            .prefix(&format!("baton-ctl-{name}-"))
            .tempdir()
            .expect("scratch directory");
        TestSocket {
            path: dir.path().join("baton.sock"),
            _dir: dir,
        }
    }

    /// The state file's text beside the socket at `path`.
    fn saved_state(path: &Path) -> String {
        let file = path.with_file_name(crate::daemon::state_file::FILE_NAME);
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    }

    /// The state store beside the socket at `path`.
    fn state_in(path: &Path) -> Arc<Store> {
        Arc::new(Store::open(path.parent().expect("dir")))
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

    /// The error text of the reply to `line`.
    async fn error_of(path: &Path, line: &str) -> String {
        let reply = raw(path, format!("{line}\n").as_bytes()).await;
        let json: serde_json::Value = serde_json::from_str(&reply).expect("JSON reply");
        json["error"].as_str().expect("an error").to_owned()
    }

    /// Frontends `web` and `api` both use backend `app` (servers A and B); `admin` uses
    /// backend `ops`.
    fn registry() -> Registry {
        let proxy = |servers: &[&str]| {
            Proxy::new(Arc::new(ProxyConfig::new(
                servers
                    .iter()
                    .map(|s| ServerConfig::new(s.parse().expect("addr")))
                    .collect(),
            )))
        };
        let view = |frontend: &str, backend: &str, proxy| ProxyView {
            frontend: frontend.into(),
            backend: backend.into(),
            proxy,
        };
        Arc::new(std::sync::RwLock::new(vec![
            view("api", "app", proxy(&[A, B])),
            view("web", "app", proxy(&[A, B])),
            view("admin", "ops", proxy(&["10.0.3.13:9000"])),
        ]))
    }

    fn vrrp_instance(name: &str, interface: &str, vrid: u8) -> InstanceConfig {
        let vrid = Vrid::new(vrid).expect("non-zero");
        let vip = IpAddr::from([10, 0, 3, 100 + vrid.get()]);
        InstanceConfig::new(
            name,
            interface,
            vrid,
            Version::V3,
            IpAddr::from([10, 0, 3, 5]),
            vec![vip],
        )
    }

    /// A main loop with VI_1 and VI_2 in one sync group, and VI_3 alone; reloads fail the
    /// first time with a config error and then find nothing changed.
    fn fake_daemon() -> mpsc::Sender<DaemonRequest> {
        let (tx, mut rx) = mpsc::channel(4);
        let mut router = Router::new(
            vec![
                vrrp_instance("VI_1", "eth0", 1),
                vrrp_instance("VI_2", "eth1", 2),
                vrrp_instance("VI_3", "eth0", 3),
            ],
            vec![SyncGroupConfig {
                name: "G".into(),
                members: vec!["VI_1".into(), "VI_2".into()],
            }],
        )
        .expect("valid");
        router.start(std::time::Instant::now());
        tokio::spawn(async move {
            let mut reloads = 0;
            while let Some(request) = rx.recv().await {
                match request {
                    DaemonRequest::Maintenance {
                        instance,
                        on,
                        reply,
                    } => {
                        let now = std::time::Instant::now();
                        let _ = reply.send(set_maintenance(&mut router, now, &instance, on));
                    }
                    DaemonRequest::Reload { reply } => {
                        reloads += 1;
                        let _ = reply.send(if reloads == 1 {
                            Err("reload failed, keeping the running configuration: \
                                 baton.toml:3: unknown key \"lisen\""
                                .into())
                        } else {
                            Ok(serde_json::json!({ "ok": true, "reload": "unchanged" }))
                        });
                    }
                    DaemonRequest::Anycast { name, reply, .. } => {
                        let _ = reply.send(Err(format!("unknown anycast {}", shown(&name))));
                    }
                    DaemonRequest::RealServer {
                        service,
                        address,
                        change,
                        reply,
                    } => {
                        let _ = reply.send(Ok(serde_json::json!({
                            "ok": true,
                            "virtual_server": service,
                            "address": address.to_string(),
                            "change": format!("{change:?}"),
                        })));
                    }
                }
            }
        });
        tx
    }

    /// A registry with one running virtual server per name.
    fn virtual_servers_named(names: &[&str]) -> virtual_servers::Registry {
        let entries = names
            .iter()
            .map(|name| crate::status::VirtualServerEntry {
                name: (*name).to_owned(),
                ..crate::status::VirtualServerEntry::example()
            })
            .collect();
        std::sync::Arc::new(std::sync::RwLock::new(entries))
    }

    fn start(name: &str, proxies: Registry) -> (TestSocket, watch::Sender<Status>, JoinHandle<()>) {
        start_at(socket_path(name), proxies)
    }

    fn start_at(
        path: TestSocket,
        proxies: Registry,
    ) -> (TestSocket, watch::Sender<Status>, JoinHandle<()>) {
        let (status_tx, status) = watch::channel(Status::default());
        let context = Context {
            status,
            proxies,
            virtual_servers: virtual_servers::Registry::default(),
            daemon: fake_daemon(),
            state: state_in(&path),
        };
        let task = spawn(&path, context).expect("bind");
        (path, status_tx, task)
    }

    #[tokio::test]
    async fn serves_status_and_survives_bad_input() {
        let (path, _status, task) = start("serve", Registry::default());
        let mode = std::fs::metadata(&path)
            .expect("socket")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);

        assert_eq!(query(&path).await.expect("status"), Status::default());
        let unknown = error_of(&path, "reboot").await;
        assert!(
            unknown.starts_with("unknown command \"reboot\"; commands: status, server"),
            "{unknown}"
        );
        assert!(error_of(&path, "").await.starts_with("empty request"));
        let garbage = raw(&path, &[0xff; 10_000]).await;
        assert!(garbage.is_empty() || garbage.contains("error"), "{garbage}");
        // Still serving after all that.
        assert!(query(&path).await.is_ok());
        // A second daemon may not take the socket over.
        let (_tx2, rx2) = watch::channel(Status::default());
        let second = Context {
            status: rx2,
            proxies: Registry::default(),
            virtual_servers: virtual_servers::Registry::default(),
            daemon: fake_daemon(),
            state: state_in(&path),
        };
        let refused = format!("{:#}", spawn(&path, second).expect_err("socket taken"));
        let pid = format!("(pid {})", std::process::id());
        assert!(refused.contains(&path.display().to_string()), "{refused}");
        assert!(refused.contains(&pid), "names the holder: {refused}");
        assert!(refused.contains("--control PATH"), "{refused}");
        task.abort();
        let _ = task.await;
        assert!(!path.exists(), "socket removed when the server stops");
    }

    #[tokio::test]
    async fn a_stale_socket_file_is_replaced() {
        let path = socket_path("stale");
        drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
        assert!(path.exists());
        let (path, _status, task) = start_at(path, Registry::default());
        assert!(query(&path).await.is_ok());
        task.abort();
    }

    #[tokio::test]
    async fn server_commands_apply_to_every_frontend_of_the_backend() {
        let proxies = registry();
        let (path, _status, task) = start("servers", Arc::clone(&proxies));
        let a: SocketAddr = A.parse().expect("addr");
        let server_a = |frontend: &str| {
            let views = proxies.read().expect("lock");
            let view = views.iter().find(|v| v.frontend == frontend).expect("view");
            view.proxy
                .servers()
                .into_iter()
                .find(|s| s.address == a)
                .expect("A")
        };

        let reply = request(&path, &format!("server drain app {A}"))
            .await
            .expect("ok");
        assert_eq!(reply["ok"], true);
        assert_eq!(reply["admin"], "drain");
        assert_eq!(reply["frontends"], serde_json::json!(["api", "web"]));
        assert!(reply.get("warning").is_none(), "{reply}");
        let saved = saved_state(&path);
        assert!(
            saved.contains("\"admin\": \"drain\""),
            "saved before the answer: {saved}"
        );
        assert_eq!(server_a("api").admin, AdminState::Drain);
        assert_eq!(server_a("web").admin, AdminState::Drain);
        let status = query(&path).await.expect("status");
        let shown: Vec<&str> = status
            .backends
            .iter()
            .filter(|s| s.address == A)
            .map(|s| s.admin.as_str())
            .collect();
        assert_eq!(shown, ["drain", "drain"]);

        request(&path, &format!("server disable app {A}"))
            .await
            .expect("ok");
        assert_eq!(server_a("web").admin, AdminState::Maintenance);
        let reply = request(&path, &format!("server weight app {A} 7"))
            .await
            .expect("ok");
        assert_eq!(reply["weight"], 7);
        assert_eq!((server_a("api").weight, server_a("web").weight), (7, 7));
        request(&path, &format!("server enable app {A}"))
            .await
            .expect("ok");
        assert_eq!(server_a("web").admin, AdminState::Ready);
        task.abort();
    }

    #[tokio::test]
    async fn bad_server_commands_get_specific_errors_and_the_socket_keeps_serving() {
        let (path, _status, task) = start("server-errors", registry());
        assert_eq!(
            error_of(&path, &format!("server drain db {A}")).await,
            "unknown backend \"db\"; backends in use: app, ops"
        );
        assert_eq!(
            error_of(&path, "server drain app 10.0.3.99:8080").await,
            format!("no server 10.0.3.99:8080 in backend app; its servers: {A}, {B}")
        );
        assert_eq!(
            error_of(&path, &format!("server weight app {A} 1000")).await,
            "server weight: weight \"1000\" out of range 0..=256"
        );
        assert!(
            error_of(&path, "server drain app")
                .await
                .starts_with("server drain: missing ADDR;")
        );
        assert!(
            error_of(&path, "server weight app")
                .await
                .starts_with("server weight: missing ADDR N;")
        );
        assert!(
            error_of(&path, "server drain app nowhere")
                .await
                .contains("is not an address")
        );
        let (empty, _status2, task2) = start("no-frontends", Registry::default());
        assert_eq!(
            error_of(&empty, &format!("server enable app {A}")).await,
            "unknown backend \"app\": no frontend is running"
        );
        task2.abort();
        assert!(query(&path).await.is_ok(), "still serving");
        task.abort();
    }

    #[tokio::test]
    async fn instance_commands_and_reload_go_through_the_main_loop() {
        let (path, _status, task) = start("instances", Registry::default());
        let reply = request(&path, "instance step-down VI_1").await.expect("ok");
        // Its sync group follows.
        assert_eq!(
            reply["instances"],
            serde_json::json!([
                { "name": "VI_1", "state": "BACKUP", "maintenance": true },
                { "name": "VI_2", "state": "BACKUP", "maintenance": true },
            ])
        );
        let saved = saved_state(&path);
        assert!(
            saved.contains("\"VI_1\"") && saved.contains("\"VI_2\""),
            "the whole sync group is saved as stepped down: {saved}"
        );
        let reply = request(&path, "instance resume VI_3").await.expect("ok");
        assert_eq!(reply["instances"][0]["name"], "VI_3");
        assert_eq!(reply["instances"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            error_of(&path, "instance step-down VI_9").await,
            "unknown instance \"VI_9\"; instances: VI_1, VI_2, VI_3"
        );
        assert!(
            error_of(&path, "instance step-down")
                .await
                .starts_with("instance step-down: missing NAME;")
        );

        assert_eq!(
            error_of(&path, "reload").await,
            "reload failed, keeping the running configuration: baton.toml:3: unknown key \"lisen\""
        );
        let reply = request(&path, "reload").await.expect("ok");
        assert_eq!(reply["reload"], "unchanged");
        task.abort();
    }

    #[tokio::test]
    async fn server_commands_naming_a_virtual_server_go_to_the_main_loop() {
        let path = socket_path("l4");
        let (_status_tx, status) = watch::channel(Status::default());
        let context = Context {
            status,
            proxies: Registry::default(),
            virtual_servers: virtual_servers_named(&["web-l4"]),
            daemon: fake_daemon(),
            state: state_in(&path),
        };
        let task = spawn(&path, context).expect("bind");
        let reply = request(&path, "server weight web-l4 10.0.3.11:80 7")
            .await
            .expect("ok");
        assert_eq!(reply["virtual_server"], "web-l4", "{reply}");
        assert_eq!(reply["change"], "Weight(7)", "{reply}");
        // Not a virtual server: still the proxies' business, which know no such backend.
        let error = error_of(&path, "server drain other 10.0.3.11:80").await;
        assert!(error.starts_with("unknown backend \"other\""), "{error}");
        let status = query(&path).await.expect("status");
        assert_eq!(status.virtual_servers[0].name, "web-l4");
        task.abort();
    }

    #[tokio::test]
    async fn a_stopping_daemon_is_reported() {
        let path = socket_path("stopping");
        let (_status_tx, status) = watch::channel(Status::default());
        let (daemon, requests) = mpsc::channel(1);
        drop(requests);
        let context = Context {
            status,
            proxies: Registry::default(),
            virtual_servers: virtual_servers::Registry::default(),
            daemon,
            state: state_in(&path),
        };
        let task = spawn(&path, context).expect("bind");
        assert_eq!(error_of(&path, "reload").await, "the daemon is stopping");
        assert!(query(&path).await.is_ok(), "status still answers");
        task.abort();
    }

    #[test]
    fn only_root_and_the_daemons_user_may_send_requests() {
        assert_eq!(permitted(Some(0), 998), Ok(()));
        assert_eq!(permitted(Some(998), 998), Ok(()));
        assert_eq!(permitted(Some(0), 0), Ok(()));
        let denied = permitted(Some(1000), 998).expect_err("another user");
        assert!(denied.contains("uid 1000"), "{denied}");
        assert!(permitted(Some(1000), 0).is_err());
        assert!(permitted(None, 0).is_err());
    }

    /// Another user who reaches the socket anyway (here it is opened up on purpose) is
    /// refused by its peer credentials. Needs root, to be another user, and python3 as
    /// that user's client.
    #[tokio::test]
    async fn another_user_is_refused_even_when_the_socket_is_open_to_all() {
        let python = std::path::Path::new("/usr/bin/python3");
        if !nix::unistd::geteuid().is_root() || !python.exists() {
            eprintln!(
                "SKIPPED (needs root and /usr/bin/python3): \
                 another_user_is_refused_even_when_the_socket_is_open_to_all"
            );
            return;
        }
        let (path, _status, task) = start("peer", Registry::default());
        let open = |p: &Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
        };
        open(path.parent().expect("dir"), 0o755);
        open(&path, 0o666);
        let client = format!(
            "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({:?})\n\
             s.sendall(b'reload\\n')\nprint(s.recv(4096).decode())",
            path.display().to_string()
        );
        let output = tokio::process::Command::new(python)
            .args(["-c", &client])
            .uid(65534)
            .gid(65534)
            .output()
            .await
            .expect("python3 runs");
        let reply = String::from_utf8_lossy(&output.stdout);
        assert!(
            reply.contains("permission denied: uid 65534 may not use this control socket"),
            "{reply}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // Root still may.
        assert!(query(&path).await.is_ok());
        task.abort();
    }

    #[tokio::test]
    async fn a_client_that_finds_no_daemon_is_shown_the_other_sockets() {
        let (path, _status, task) = start("others", Registry::default());
        let missing = path.with_file_name("vrrp-eth9-9.sock");
        let error = format!("{:#}", query(&missing).await.expect_err("nobody there"));
        assert!(
            error.contains(&format!("Other control sockets: {}", path.display())),
            "{error}"
        );
        assert!(error.contains("--control PATH"), "{error}");
        task.abort();
        let _ = task.await;
        let error = format!("{:#}", query(&missing).await.expect_err("nobody there"));
        assert!(error.contains("(is baton running?)"), "{error}");
    }

    #[test]
    fn no_instances_configured() {
        let mut router = Router::new(Vec::new(), Vec::new()).expect("valid");
        let now = std::time::Instant::now();
        assert_eq!(
            set_maintenance(&mut router, now, "VI_1", true),
            Err("unknown instance \"VI_1\": no VRRP instance is configured".into())
        );
    }
}

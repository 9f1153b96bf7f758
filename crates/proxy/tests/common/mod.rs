//! Test upstream servers, a proxy on 127.0.0.1:0, and small HTTP clients.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

pub mod raw_http;
pub mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use baton_proxy::{Proxy, ProxyConfig, ServerConfig, TlsConfig};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// A small HTTP/1.1 server that says who it is. Routes:
/// - `/big/N`: N bytes generated on the fly, without Content-Length (chunked).
/// - `/count`: reads the request body and answers `received=N`.
/// - `/echo`: streams the request body back as it arrives.
/// - `/slow/MS`: answers after MS milliseconds.
/// - `/stall/N`: sends N bytes of a body and then nothing, ever.
/// - `/status/CODE`: answers with that status.
/// - `/hop`: answers with hop-by-hop headers that must not reach the client.
/// - `/ws`: switches to a raw echo of every byte (a WebSocket handshake, without framing).
/// - `/health`: the health-check target: answers [`Behaviour::health`] (200 until set) and
///   logs the status it answered in [`Behaviour::probes`].
/// - anything else, while [`Behaviour::fail_with`] is set: that status.
/// - anything else: `server=NAME`, the method and path, and every received header.
pub struct Upstream {
    pub name: &'static str,
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    /// Requests answered so far (health probes included).
    pub requests: Arc<AtomicUsize>,
    pub behaviour: Arc<Behaviour>,
    kill: watch::Sender<bool>,
}

/// What a test changes while an [`Upstream`] runs.
#[derive(Debug, Default)]
pub struct Behaviour {
    /// The status `/health` answers; 0 means 200.
    pub health: AtomicU16,
    /// When not 0, every route but `/health` answers this status.
    pub fail_with: AtomicU16,
    /// The status of every `/health` answer so far, in order.
    pub probes: Mutex<Vec<u16>>,
}

impl Behaviour {
    /// The statuses `/health` answered so far.
    pub fn probes(&self) -> Vec<u16> {
        self.probes.lock().expect("probe log").clone()
    }
}

impl Upstream {
    pub async fn start(name: &'static str) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let behaviour = Arc::new(Behaviour::default());
        let (kill, killed) = watch::channel(false);
        tokio::spawn(accept_loop(
            name,
            listener,
            Arc::clone(&accepted),
            Arc::clone(&requests),
            Arc::clone(&behaviour),
            killed,
        ));
        Upstream {
            name,
            addr,
            accepted,
            requests,
            behaviour,
            kill,
        }
    }

    /// Makes `/health` answer `status`.
    pub fn set_health(&self, status: u16) {
        self.behaviour.health.store(status, Ordering::SeqCst);
    }

    /// Makes every other route answer `status` (0: answer normally again).
    pub fn fail_with(&self, status: u16) {
        self.behaviour.fail_with.store(status, Ordering::SeqCst);
    }

    /// Health probes received so far.
    pub fn probe_count(&self) -> usize {
        self.behaviour.probes.lock().expect("probe log").len()
    }

    /// Like a crash: the listener closes and every connection is dropped mid-flight.
    pub fn kill(&self) {
        let _ = self.kill.send(true);
    }

    pub fn server(&self) -> ServerConfig {
        ServerConfig::new(self.addr)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn accept_loop(
    name: &'static str,
    listener: TcpListener,
    accepted: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    behaviour: Arc<Behaviour>,
    mut killed: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = killed.wait_for(|k| *k) => return,
        };
        accepted.fetch_add(1, Ordering::SeqCst);
        let requests = Arc::clone(&requests);
        let behaviour = Arc::clone(&behaviour);
        let mut killed = killed.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                requests.fetch_add(1, Ordering::SeqCst);
                route(name, Arc::clone(&behaviour), request)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::select! {
                _ = conn => {}
                _ = killed.wait_for(|k| *k) => {}
            }
        });
    }
}

pub type TestBody = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

pub fn text(body: String) -> TestBody {
    http_body_util::Full::new(Bytes::from(body))
        .map_err(|never: Infallible| match never {})
        .boxed()
}

async fn route(
    name: &'static str,
    behaviour: Arc<Behaviour>,
    mut request: Request<Incoming>,
) -> Result<Response<TestBody>, Infallible> {
    let path = request.uri().path().to_owned();
    let fail_with = behaviour.fail_with.load(Ordering::SeqCst);
    let mut response = if path == "/health" {
        let status = match behaviour.health.load(Ordering::SeqCst) {
            0 => 200,
            status => status,
        };
        behaviour.probes.lock().expect("probe log").push(status);
        let mut response = Response::new(text(format!("server={name}\nhealth={status}\n")));
        *response.status_mut() = StatusCode::from_u16(status).expect("status");
        response
    } else if fail_with != 0 {
        let mut response = Response::new(text(format!("server={name}\nfailing\n")));
        *response.status_mut() = StatusCode::from_u16(fail_with).expect("status");
        response
    } else if let Some(n) = path.strip_prefix("/big/") {
        Response::new(
            Generated {
                left: n.parse().expect("size"),
            }
            .boxed(),
        )
    } else if path == "/count" {
        let mut received = 0usize;
        let body = request.body_mut();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("body frame").into_data() {
                received += data.len();
            }
        }
        Response::new(text(format!("received={received}")))
    } else if path == "/echo" {
        Response::new(request.into_body().boxed())
    } else if let Some(ms) = path.strip_prefix("/slow/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().expect("ms"))).await;
        Response::new(text(format!("server={name}\nslept={ms}\n")))
    } else if let Some(n) = path.strip_prefix("/stall/") {
        Response::new(
            Stalling {
                first: Some(n.parse().expect("size")),
            }
            .boxed(),
        )
    } else if let Some(code) = path.strip_prefix("/status/") {
        let mut response = Response::new(text(format!("server={name}\n")));
        *response.status_mut() = StatusCode::from_u16(code.parse().expect("code")).expect("status");
        response
    } else if path == "/hop" {
        let mut response = Response::new(text("hop\n".into()));
        let headers = response.headers_mut();
        headers.insert("connection", "X-Internal".parse().expect("value"));
        headers.insert("x-internal", "secret".parse().expect("value"));
        headers.insert("keep-alive", "timeout=5".parse().expect("value"));
        headers.insert("proxy-authenticate", "Basic".parse().expect("value"));
        headers.insert("x-kept", "yes".parse().expect("value"));
        response
    } else if path == "/ws" {
        let upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                let mut io = TokioIo::new(upgraded);
                let mut buf = [0u8; 4096];
                loop {
                    match io.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if io.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        });
        let mut response = Response::new(text(String::new()));
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert("connection", "upgrade".parse().expect("value"));
        headers.insert("upgrade", "websocket".parse().expect("value"));
        headers.insert(
            "sec-websocket-accept",
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".parse().expect("value"),
        );
        response
    } else {
        let mut out = format!(
            "server={name}\nmethod={}\npath={}\n",
            request.method(),
            request.uri().path_and_query().map_or("", |pq| pq.as_str())
        );
        for (header, value) in request.headers() {
            out.push_str(&format!(
                "h:{header}={}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        Response::new(text(out))
    };
    response
        .headers_mut()
        .insert("x-server", name.parse().expect("value"));
    Ok(response)
}

/// `left` bytes in 64 KiB chunks of one static buffer: nothing is allocated per chunk.
struct Generated {
    left: u64,
}

static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

impl Body for Generated {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(CHUNK.len() as u64);
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
            &CHUNK[..n as usize],
        )))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        // Unknown on purpose, so that the body goes chunked.
        SizeHint::default()
    }
}

/// A body that sends its first bytes and then stalls forever.
struct Stalling {
    first: Option<usize>,
}

impl Body for Stalling {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.first.take() {
            Some(n) => Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK[..n]))))),
            None => Poll::Pending,
        }
    }
}

/// A request body fed through a channel, for uploads that trickle or stop.
pub struct Trickle {
    pub chunks: tokio::sync::mpsc::Receiver<Bytes>,
}

impl Body for Trickle {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.chunks
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

/// A request body of `left` bytes generated on the fly, with a Content-Length.
pub struct Upload {
    pub left: u64,
}

impl Body for Upload {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(CHUNK.len() as u64);
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
            &CHUNK[..n as usize],
        )))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// A proxy serving on 127.0.0.1:0 in a task of the test's runtime.
pub struct TestProxy {
    pub addr: SocketAddr,
    pub proxy: Proxy,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestProxy {
    /// A proxy serving plain HTTP.
    pub async fn start(config: ProxyConfig) -> TestProxy {
        TestProxy::start_with(config, None).await
    }

    /// A proxy serving HTTPS.
    pub async fn start_tls(config: ProxyConfig, tls: TlsConfig) -> TestProxy {
        TestProxy::start_with(config, Some(Arc::new(tls))).await
    }

    async fn start_with(config: ProxyConfig, tls: Option<Arc<TlsConfig>>) -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let proxy = Proxy::new(Arc::new(config));
        let (shutdown, signal) = oneshot::channel::<()>();
        let serving = proxy.clone();
        let task = tokio::spawn(async move {
            let signal = async {
                let _ = signal.await;
            };
            match tls {
                Some(tls) => serving.serve_tls(listener, tls, signal).await,
                None => serving.serve(listener, signal).await,
            }
        });
        TestProxy {
            addr,
            proxy,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// Signals shutdown and returns once `serve` has returned.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("serve task");
        }
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub fn config(upstreams: &[&Upstream]) -> ProxyConfig {
    ProxyConfig::new(upstreams.iter().map(|u| u.server()).collect())
}

/// An address that refuses connections: a port bound without listening, so that no other
/// test can take it while the returned socket lives.
pub fn dead_address() -> (SocketAddr, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    (socket.local_addr().expect("addr"), socket)
}

/// One keep-alive client connection.
pub struct Conn {
    sender: hyper::client::conn::http1::SendRequest<TestBody>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Conn {
        Conn::over(TcpStream::connect(addr).await.expect("connect")).await
    }

    /// HTTP/1.1 over an already connected stream (plain or TLS).
    pub async fn over<S>(stream: S) -> Conn
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        Conn { sender }
    }

    pub async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let request = Request::get(path)
            .header("host", "test.invalid")
            .body(text(String::new()))
            .expect("request");
        self.send(request).await
    }

    pub async fn send(&mut self, request: Request<TestBody>) -> (StatusCode, String) {
        self.sender.ready().await.expect("connection ready");
        let response = self.sender.send_request(request).await.expect("response");
        let status = response.status();
        let body = response.into_body().collect().await.expect("body");
        (
            status,
            String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        )
    }

    /// Sends and returns the response with its body still to read.
    pub async fn send_streaming(&mut self, request: Request<TestBody>) -> Response<Incoming> {
        self.sender.ready().await.expect("connection ready");
        self.sender.send_request(request).await.expect("response")
    }

    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

/// One HTTP/2 client connection (h2c, or h2 over TLS).
pub struct H2 {
    pub sender: hyper::client::conn::http2::SendRequest<TestBody>,
    /// The connection's task: it ends when the connection closes.
    pub connection: JoinHandle<()>,
}

impl H2 {
    pub async fn over<S>(stream: S) -> H2
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            TokioIo::new(stream),
        )
        .await
        .expect("h2 handshake");
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        H2 { sender, connection }
    }

    /// Prior knowledge: HTTP/2 on a plain TCP connection.
    pub async fn open(addr: SocketAddr) -> H2 {
        H2::over(TcpStream::connect(addr).await.expect("connect")).await
    }

    /// A GET of `uri` (absolute: its authority becomes `:authority`).
    pub async fn get(&mut self, uri: &str) -> (Response<()>, String) {
        let request = Request::get(uri)
            .body(text(String::new()))
            .expect("request");
        let response = self.send_streaming(request).await;
        let (parts, body) = response.into_parts();
        (Response::from_parts(parts, ()), body_text(body).await)
    }

    /// Sends and returns the response with its body still to read.
    pub async fn send_streaming(&mut self, request: Request<TestBody>) -> Response<Incoming> {
        self.sender.ready().await.expect("connection ready");
        self.sender.send_request(request).await.expect("response")
    }
}

/// A whole body, as text.
pub async fn body_text(body: Incoming) -> String {
    let body = body.collect().await.expect("body").to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

/// One GET on a fresh connection.
pub async fn get(addr: SocketAddr, path: &str) -> (StatusCode, String) {
    Conn::open(addr).await.get(path).await
}

/// Sends raw bytes and reads until the proxy closes the connection (or `limit` passes).
pub async fn raw(addr: SocketAddr, request: &[u8], limit: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    read_to_close(&mut stream, limit).await
}

pub async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `h:NAME=` lines in an echo body.
pub fn echoed<'a>(body: &'a str, header: &str) -> Vec<&'a str> {
    let prefix = format!("h:{header}=");
    body.lines()
        .filter_map(|line| line.strip_prefix(prefix.as_str()))
        .collect()
}

/// The `server=` line of an echo body.
pub fn server_of(body: &str) -> &str {
    body.lines()
        .find_map(|line| line.strip_prefix("server="))
        .unwrap_or("")
}

/// Polls `condition` every 5 ms until it holds; panics naming `what` after `limit`.
pub async fn eventually(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// An HTTP health check of `/health` every `interval_ms`, with the given rise and fall.
pub fn http_check(interval_ms: u64, rise: u32, fall: u32) -> baton_proxy::HealthCheck {
    let mut check = baton_proxy::HealthCheck::http("/health");
    check.interval = Duration::from_millis(interval_ms);
    check.timeout = Duration::from_millis(500);
    check.rise = rise;
    check.fall = fall;
    check
}

/// Clients sending GETs in a loop over keep-alive connections, until stopped.
pub struct Load {
    stop: Arc<std::sync::atomic::AtomicBool>,
    ok: Arc<AtomicUsize>,
    clients: Vec<JoinHandle<(Vec<String>, Vec<String>)>>,
}

impl Load {
    /// `clients` connections to `addr`, each sending `GET path` one after the other.
    pub async fn start(addr: SocketAddr, clients: usize, path: &'static str) -> Load {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let clients = (0..clients)
            .map(|_| {
                let (stop, ok) = (Arc::clone(&stop), Arc::clone(&ok));
                tokio::spawn(async move {
                    let mut conn = Conn::open(addr).await;
                    let (mut failures, mut servers) = (Vec::new(), Vec::new());
                    while !stop.load(Ordering::SeqCst) {
                        let (status, body) = conn.get(path).await;
                        if status == StatusCode::OK {
                            ok.fetch_add(1, Ordering::SeqCst);
                            servers.push(server_of(&body).to_owned());
                        } else {
                            failures.push(format!("{status}: {body}"));
                        }
                    }
                    (failures, servers)
                })
            })
            .collect();
        Load { stop, ok, clients }
    }

    /// Requests answered 200 so far.
    pub fn ok(&self) -> usize {
        self.ok.load(Ordering::SeqCst)
    }

    /// Stops the clients; returns every failed request (`status: body`) and, per client,
    /// the servers that answered, in order.
    pub async fn stop(self) -> (Vec<String>, Vec<Vec<String>>) {
        self.stop.store(true, Ordering::SeqCst);
        let (mut failures, mut servers) = (Vec::new(), Vec::new());
        for client in self.clients {
            let (failed, answered) = client.await.expect("client");
            failures.extend(failed);
            servers.push(answered);
        }
        (failures, servers)
    }
}

//! HTTP/2 clients that attack the connection itself, written frame by frame: rapid reset
//! (CVE-2023-44487) and CONTINUATION floods (CVE-2024-27316 and its kin). The proxy must
//! bound the work and the memory one connection can cost, and say GOAWAY.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{TestProxy, Upstream, config};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinHandle;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
/// RFC 9113 7: the error code for "stop that".
const ENHANCE_YOUR_CALM: u32 = 0xb;
const CANCEL: u32 = 0x8;

/// One frame (RFC 9113 4.1): 24-bit length, type, flags, 31-bit stream id, payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("length");
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// `GET /` for authority `x`, HPACK-encoded from the static table (RFC 7541 appendix A):
/// :method GET, :scheme http, :path /, and :authority as a literal without indexing.
const GET: &[u8] = &[0x82, 0x86, 0x84, 0x01, 0x01, b'x'];

/// Opens an h2c connection: the preface and empty SETTINGS.
async fn open(proxy: &TestProxy) -> TcpStream {
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let mut hello = PREFACE.to_vec();
    hello.extend(frame(SETTINGS, 0, 0, &[]));
    stream.write_all(&hello).await.expect("preface");
    stream
}

/// An h2c connection whose server side is watched by a task: the writing half, the flag
/// raised when the server closes, and the watch (see [`watch`]).
async fn attack(
    proxy: &TestProxy,
    until_response: bool,
) -> (OwnedWriteHalf, Arc<AtomicBool>, JoinHandle<Seen>) {
    let (reader, writer) = open(proxy).await.into_split();
    let closed = Arc::new(AtomicBool::new(false));
    let watching = tokio::spawn(watch(reader, Arc::clone(&closed), until_response));
    (writer, closed, watching)
}

/// What the server sent until it closed the connection.
#[derive(Debug, Default)]
struct Seen {
    /// The error code of its GOAWAY, if it sent one.
    goaway: Option<u32>,
    /// Response HEADERS frames.
    responses: usize,
}

/// Reads the server's frames until it closes (or 30 s pass), raising `closed` then; with
/// `until_response`, only until the first response head.
async fn watch(mut reader: OwnedReadHalf, closed: Arc<AtomicBool>, until_response: bool) -> Seen {
    let mut seen = Seen::default();
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            while buf.len() >= 9 {
                let len = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]) as usize;
                if buf.len() < 9 + len {
                    break;
                }
                let (kind, payload) = (buf[3], &buf[9..9 + len]);
                if kind == GOAWAY && payload.len() >= 8 {
                    let code = u32::from_be_bytes(payload[4..8].try_into().expect("4 bytes"));
                    seen.goaway.get_or_insert(code);
                }
                if kind == HEADERS {
                    seen.responses += 1;
                }
                buf.drain(..9 + len);
            }
            if until_response && seen.responses > 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), read).await;
    closed.store(true, Ordering::SeqCst);
    seen
}

/// CVE-2023-44487: a client opens a stream and resets it at once, again and again, so
/// that the server keeps starting work that nobody waits for. After a bounded number the
/// proxy says GOAWAY (ENHANCE_YOUR_CALM) and closes, and few of the requests ever reached
/// a server.
#[tokio::test]
async fn rapid_reset_is_cut_off_with_goaway() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let (mut writer, closed, watching) = attack(&proxy, false).await;

    const STREAMS: u32 = 100_000;
    let mut sent = 0u32;
    let mut cancel = [0u8; 4];
    cancel.copy_from_slice(&CANCEL.to_be_bytes());
    while sent < STREAMS && !closed.load(Ordering::SeqCst) {
        // A hundred open-and-reset pairs per write, as an attacker would pack them.
        let mut batch = Vec::new();
        for _ in 0..100 {
            let stream = 2 * sent + 1;
            batch.extend(frame(HEADERS, END_STREAM | END_HEADERS, stream, GET));
            batch.extend(frame(RST_STREAM, 0, stream, &cancel));
            sent += 1;
        }
        if writer.write_all(&batch).await.is_err() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let seen = watching.await.expect("watch");
    assert_eq!(
        seen.goaway,
        Some(ENHANCE_YOUR_CALM),
        "{seen:?} after {sent} streams"
    );
    assert!(sent < STREAMS, "all {sent} streams were taken");
    let reached = a.requests.load(Ordering::SeqCst);
    eprintln!("{sent} streams sent, {reached} reached the server, {seen:?}");
    assert!(reached < 1000, "{reached} requests reached the server");
    proxy.stop().await;
}

/// CVE-2024-27316 style: a HEADERS frame without END_HEADERS, then CONTINUATION frames
/// forever. The proxy must not keep collecting them: GOAWAY (ENHANCE_YOUR_CALM) after a
/// few, and the connection closed.
#[tokio::test]
async fn continuation_flood_is_cut_off_with_goaway() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let (mut writer, closed, watching) = attack(&proxy, false).await;

    // The start of a header block that never ends: filler in CONTINUATION frames follows.
    writer
        .write_all(&frame(HEADERS, END_STREAM, 1, &[0x82, 0x86, 0x84]))
        .await
        .expect("headers");
    let piece = [b'a'; 1024];
    const LIMIT: usize = 64 << 20;
    let mut sent = 0;
    while sent < LIMIT && !closed.load(Ordering::SeqCst) {
        let mut batch = Vec::new();
        for _ in 0..16 {
            batch.extend(frame(CONTINUATION, 0, 1, &piece));
        }
        if writer.write_all(&batch).await.is_err() {
            break;
        }
        sent += batch.len();
        tokio::task::yield_now().await;
    }
    let seen = watching.await.expect("watch");
    assert_eq!(
        seen.goaway,
        Some(ENHANCE_YOUR_CALM),
        "{seen:?} after {sent} bytes"
    );
    assert!(sent < LIMIT, "all {sent} bytes of CONTINUATION were taken");
    assert_eq!(
        a.requests.load(Ordering::SeqCst),
        0,
        "no request came of it"
    );
    proxy.stop().await;
}

/// The same connection still works for a well-behaved client: a GET through raw frames
/// gets its answer (so the tests above fail for the attack, not for the framing).
#[tokio::test]
async fn a_plain_get_in_raw_frames_is_answered() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let (mut writer, _, watching) = attack(&proxy, true).await;
    writer
        .write_all(&frame(SETTINGS, ACK, 0, &[]))
        .await
        .expect("ack");
    writer
        .write_all(&frame(HEADERS, END_STREAM | END_HEADERS, 1, GET))
        .await
        .expect("headers");
    let seen = watching.await.expect("watch");
    assert_eq!(seen.responses, 1, "{seen:?}");
    assert_eq!(seen.goaway, None, "{seen:?}");
    assert_eq!(a.requests.load(Ordering::SeqCst), 1);
    drop(writer);
    proxy.stop().await;
}

//! The two upstream servers, inside this process: a minimal HTTP/1.1 origin that answers
//! every request with the same small body, keep-alive.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::http::{content_length, header, header_end};

/// The whole answer: small and fixed.
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, baton\n";

/// Requests answered by each upstream, to show that every proxy balances over both.
pub(crate) static SERVED: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
/// Connections the upstreams accepted: few per run means the proxy keeps them alive.
pub(crate) static ACCEPTED: AtomicU64 = AtomicU64::new(0);

/// Binds both upstreams on loopback and serves them on the current runtime.
pub(crate) async fn start() -> std::io::Result<Vec<SocketAddr>> {
    let mut addrs = Vec::new();
    for served in &SERVED {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        addrs.push(listener.local_addr()?);
        tokio::spawn(serve(listener, served));
    }
    Ok(addrs)
}

async fn serve(listener: TcpListener, served: &'static AtomicU64) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                ACCEPTED.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(stream, served));
            }
            // Out of descriptors or similar: back off rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn connection(mut stream: TcpStream, served: &'static AtomicU64) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let mut out = Vec::with_capacity(4096);
    loop {
        // Answer every complete request in the buffer at once (pipelining costs nothing here).
        let mut close = false;
        while let Some(end) = header_end(&buffer) {
            let head = &buffer[..end];
            let body = content_length(head).unwrap_or(0);
            if buffer.len() < end + body {
                break;
            }
            let connection = header(head, "connection");
            close = connection.is_some_and(|v| v.eq_ignore_ascii_case("close"))
                || is_http10(head) && connection.is_none();
            buffer.drain(..end + body);
            out.extend_from_slice(RESPONSE);
            served.fetch_add(1, Ordering::Relaxed);
            if close {
                break;
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if close {
            return Ok(());
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// HTTP/1.0 without `Connection: keep-alive` closes after the answer.
fn is_http10(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n')
        .next()
        .is_some_and(|line| line.trim_ascii_end().ends_with(b"HTTP/1.0"))
}

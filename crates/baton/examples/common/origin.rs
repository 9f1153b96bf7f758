//! A minimal HTTP/1.1 origin server for the benchmarks: keep-alive, pipelining, and
//! answers chosen (and maybe delayed) per request by a [`Site`].

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::http::{content_length, header, header_end, is_http10};

/// What an origin answers.
pub(crate) trait Site: Send + Sync + 'static {
    /// A connection was accepted.
    fn accepted(&self) {}

    /// The whole response (head and body) to the request with this head, and how long to
    /// wait before sending it.
    fn answer(&self, head: &[u8]) -> (&'static [u8], Duration);
}

/// Serves `listener` on the current runtime until the process ends.
pub(crate) async fn serve<S: Site>(listener: TcpListener, site: Arc<S>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                site.accepted();
                tokio::spawn(connection(stream, Arc::clone(&site)));
            }
            // Out of descriptors or similar: back off rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn connection<S: Site>(mut stream: TcpStream, site: Arc<S>) -> std::io::Result<()> {
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
            let (response, delay) = site.answer(head);
            buffer.drain(..end + body);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            out.extend_from_slice(response);
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

//! What happens to an accepted connection before HTTP: the TLS handshake, and the choice
//! between HTTP/1.1 and HTTP/2 (ALPN on TLS, the connection preface on plain TCP).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::server::{Listener, Stop};

/// How a listener's connections arrive.
#[derive(Clone)]
pub(crate) enum Transport {
    /// Plain TCP: HTTP/1.1, or HTTP/2 with prior knowledge (h2c).
    Plain,
    /// TLS, with HTTP/2 when ALPN chose `h2`.
    Tls(TlsAcceptor),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Plain => "Plain",
            Transport::Tls(_) => "Tls",
        })
    }
}

impl Transport {
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }
}

/// The HTTP version a client connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http1,
    Http2,
}

/// RFC 9113 3.4: an HTTP/2 connection with prior knowledge starts with this.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Sets up one accepted connection and serves it until it ends.
///
/// The first request must begin within `header_read_timeout`: on plain TCP counted from the
/// accept (as before HTTP/2 existed here), on TLS from the end of the handshake, which has a
/// `header_read_timeout` of its own. A listener that stops before HTTP started closes the
/// connection, as HTTP/1.1 does with an idle one.
pub(crate) async fn accept(
    listener: Arc<Listener>,
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
) {
    let _serving = listener.shared.connections.serving();
    // Written flat, without a helper `async fn` per step: every idle connection holds this
    // task, and each nested async fn keeps its own copy of its arguments for good.
    let Transport::Tls(acceptor) = &listener.transport else {
        let deadline = Instant::now() + listener.shared.config.limits.header_read_timeout;
        // Boxed, so that its state is freed once HTTP starts; made in a statement of its
        // own, since a temporary in the awaiting statement would keep its room in the task.
        let sniffing = Box::pin(until_stopped(
            &listener,
            tokio::time::timeout_at(deadline, sniff(&stream)),
        ));
        let protocol = match sniffing.await {
            None => return,
            Some(Ok(Ok(protocol))) => protocol,
            Some(Ok(Err(error))) => {
                tracing::debug!(%peer, %error, "client connection failed");
                return;
            }
            // HTTP/1.1 sees the expired deadline: a silent client is closed quietly, a
            // partial head gets 408.
            Some(Err(_)) => Protocol::Http1,
        };
        if protocol == Protocol::Http1 {
            // Inline: most connections are plain HTTP/1.1, and their state is small.
            return crate::h1::serve(&listener, stream, peer, permit, deadline).await;
        }
        let http2 = serve_boxed(&listener, stream, peer, permit, protocol, deadline);
        return http2.await;
    };
    // Boxed: inline, every plain connection would carry room for a TLS handshake and a TLS
    // stream.
    let tls = Box::pin(accept_tls(
        &listener,
        acceptor.clone(),
        stream,
        peer,
        permit,
    ));
    tls.await;
}

async fn accept_tls(
    listener: &Arc<Listener>,
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
) {
    let timeout = listener.shared.config.limits.header_read_timeout;
    let handshake = tokio::time::timeout(timeout, acceptor.accept(stream));
    let stream = match until_stopped(listener, handshake).await {
        None => return,
        Some(Ok(Ok(stream))) => stream,
        Some(Ok(Err(error))) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            return;
        }
        Some(Err(_)) => {
            tracing::debug!(%peer, "TLS handshake not done in {timeout:?}");
            return;
        }
    };
    let protocol = match stream.get_ref().1.alpn_protocol() {
        Some(crate::tls::ALPN_H2) => Protocol::Http2,
        _ => Protocol::Http1,
    };
    let deadline = Instant::now() + timeout;
    serve_boxed(listener, stream, peer, permit, protocol, deadline).await;
}

/// Runs `future` unless the listener stops first (`None`).
async fn until_stopped<F: Future>(listener: &Listener, future: F) -> Option<F::Output> {
    let mut stop = listener.stop.clone();
    tokio::select! {
        output = future => Some(output),
        _ = stop.wait_for(|stop| *stop != Stop::Run) => None,
    }
}

/// The connection served in the protocol it speaks, boxed: an HTTP/1.1 connection must not
/// carry room for an HTTP/2 one.
fn serve_boxed<'a, S>(
    listener: &'a Arc<Listener>,
    stream: S,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    protocol: Protocol,
    deadline: Instant,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>
where
    S: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + crate::h1::WaitReadable
        + Unpin
        + Send
        + Sync
        + 'static,
{
    match protocol {
        Protocol::Http1 => Box::pin(crate::h1::serve(listener, stream, peer, permit, deadline)),
        Protocol::Http2 => Box::pin(crate::conn::serve(
            listener, stream, peer, permit, protocol, deadline,
        )),
    }
}

/// Looks at the first bytes without taking them, so that HTTP/1.1 still reads them: HTTP/2
/// if they are the connection preface, HTTP/1.1 as soon as they differ from it (or the
/// client closed without a word).
async fn sniff(stream: &TcpStream) -> std::io::Result<Protocol> {
    let mut buf = [0u8; PREFACE.len()];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 || buf[..n] != PREFACE[..n] {
            return Ok(Protocol::Http1);
        }
        if n == PREFACE.len() {
            return Ok(Protocol::Http2);
        }
        // The start of the preface, and the rest not here yet. Peeking again would return at
        // once with the same bytes (the socket stays readable), so wait a moment instead.
        // Real clients send the preface in one segment; this is for the odd one that doesn't.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    /// What the server side sniffs after the client sent `bytes` and closed.
    async fn sniffed(bytes: &[u8]) -> Protocol {
        let (mut client, server) = crate::test_support::connected_pair().await;
        client.write_all(bytes).await.expect("write");
        drop(client);
        sniff(&server).await.expect("sniff")
    }

    #[tokio::test]
    async fn preface_is_http2_and_anything_else_http1() {
        assert_eq!(sniffed(PREFACE).await, Protocol::Http2);
        assert_eq!(sniffed(b"GET / HTTP/1.1\r\n").await, Protocol::Http1);
        assert_eq!(sniffed(b"POST / HTTP/1.1\r\n").await, Protocol::Http1);
        assert_eq!(sniffed(b"PRIX").await, Protocol::Http1);
        assert_eq!(sniffed(b"").await, Protocol::Http1, "closed at once");
    }

    #[tokio::test]
    async fn preface_in_pieces_is_waited_for() {
        let (mut client, server) = crate::test_support::connected_pair().await;
        let sniffing = tokio::spawn(async move { sniff(&server).await.expect("sniff") });
        client.write_all(&PREFACE[..5]).await.expect("write");
        let mut sniffing = std::pin::pin!(sniffing);
        // With only the start of the preface there, no answer is possible yet.
        let early = tokio::time::timeout(Duration::from_millis(100), &mut sniffing).await;
        assert!(early.is_err(), "decided on 5 bytes: {early:?}");
        client.write_all(&PREFACE[5..]).await.expect("write");
        assert_eq!(sniffing.await.expect("task"), Protocol::Http2);
    }

    #[tokio::test]
    async fn sniffing_takes_no_bytes() {
        let (mut client, mut server) = crate::test_support::connected_pair().await;
        client
            .write_all(b"GET / HTTP/1.1\r\n")
            .await
            .expect("write");
        assert_eq!(sniff(&server).await.expect("sniff"), Protocol::Http1);
        let mut buf = [0u8; 16];
        tokio::io::AsyncReadExt::read_exact(&mut server, &mut buf)
            .await
            .expect("read");
        assert_eq!(&buf, b"GET / HTTP/1.1\r\n");
    }
}

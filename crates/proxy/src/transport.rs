//! What happens to an accepted connection before HTTP: the TLS handshake, and the choice
//! between HTTP/1.1 and HTTP/2 (ALPN on TLS, the connection preface on plain TCP).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::admission::Slot;
use crate::conn::Protocol;
use crate::h1::Rewind;
use crate::serving::{ServeCall, Transport};
use crate::stop::Stop;

/// RFC 9113 3.4: an HTTP/2 connection with prior knowledge starts with this.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Sets up one accepted connection and serves it until it ends.
///
/// The first request must begin within `header_read_timeout`: on plain TCP counted from the
/// accept (as before HTTP/2 existed here), on TLS from the end of the handshake, which has a
/// `header_read_timeout` of its own. A listener that drains lets the first request come
/// (the client was accepted to be served, and is sending it: closing now would lose it) and
/// answers it with `connection: close`; one that stops for good closes the connection.
pub(crate) async fn accept(
    call: Arc<ServeCall>,
    stream: TcpStream,
    peer: SocketAddr,
    permit: Slot,
) {
    let _serving = call.shared.connections.serving();
    // Written flat, without a helper `async fn` per step: every idle connection holds this
    // task, and each nested async fn keeps its own copy of its arguments for good.
    let Transport::Tls(acceptor) = &call.transport else {
        let deadline = Instant::now() + call.shared.config.limits.header_read_timeout;
        let mut stream = stream;
        let mut received = BytesMut::new();
        // Boxed, so that its state is freed once HTTP starts; made in a statement of its
        // own, since a temporary in the awaiting statement would keep its room in the task.
        let sniffing = Box::pin(until_stopped(
            &call,
            tokio::time::timeout_at(deadline, sniff(&mut stream, &mut received)),
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
            return crate::h1::serve(&call, stream, peer, permit, deadline, received).await;
        }
        // hyper reads the preface again.
        let stream = Rewind::new(stream, received.freeze());
        let http2 = Box::pin(crate::conn::serve(
            &call, stream, peer, permit, protocol, deadline,
        ));
        return http2.await;
    };
    // Boxed: inline, every plain connection would carry room for a TLS handshake and a TLS
    // stream.
    let tls = Box::pin(accept_tls(&call, acceptor.clone(), stream, peer, permit));
    tls.await;
}

async fn accept_tls(
    call: &Arc<ServeCall>,
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    permit: Slot,
) {
    let timeout = call.shared.config.limits.header_read_timeout;
    let handshake = tokio::time::timeout(timeout, acceptor.accept(stream));
    let stream = match until_stopped(call, handshake).await {
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
    serve_boxed(call, stream, peer, permit, protocol, deadline).await;
}

/// Runs `future` unless the listener stops for good first (`None`); a drain waits for it.
async fn until_stopped<F: Future>(call: &ServeCall, future: F) -> Option<F::Output> {
    let mut stop = call.stop.clone();
    tokio::select! {
        output = future => Some(output),
        _ = stop.wait_for(|stop| *stop == Stop::Now) => None,
    }
}

/// The connection served in the protocol it speaks, boxed: an HTTP/1.1 connection must not
/// carry room for an HTTP/2 one.
fn serve_boxed<'a, S>(
    call: &'a Arc<ServeCall>,
    stream: S,
    peer: SocketAddr,
    permit: Slot,
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
        Protocol::Http1 => Box::pin(crate::h1::serve(
            call,
            stream,
            peer,
            permit,
            deadline,
            BytesMut::new(),
        )),
        Protocol::Http2 => Box::pin(crate::conn::serve(
            call, stream, peer, permit, protocol, deadline,
        )),
    }
}

/// Reads the first bytes into `received` until they tell: HTTP/2 if they are the
/// connection preface, HTTP/1.1 as soon as they differ from it (or the client closed without
/// a word). The bytes are read, not peeked: a peek of a partial preface would return at once
/// for as long as those bytes sit unread, so waiting for the rest would mean polling. A read
/// waits for new bytes, however few came before: a client that sends one byte and stalls
/// costs one wake-up, not one per poll.
async fn sniff<R: AsyncRead + Unpin>(
    stream: &mut R,
    received: &mut BytesMut,
) -> io::Result<Protocol> {
    loop {
        let n = received.len().min(PREFACE.len());
        if received[..n] != PREFACE[..n] {
            return Ok(Protocol::Http1);
        }
        if n == PREFACE.len() {
            return Ok(Protocol::Http2);
        }
        // As much as comes: for HTTP/1.1 this is the start of the request head.
        received.reserve(4096);
        if stream.read_buf(received).await? == 0 {
            return Ok(Protocol::Http1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};
    use std::time::Duration;
    use tokio::io::{AsyncWriteExt as _, ReadBuf};

    /// What the server side sniffs after the client sent `bytes` and closed, and what it
    /// read.
    async fn sniffed(bytes: &[u8]) -> (Protocol, BytesMut) {
        let (mut client, mut server) = crate::test_support::connected_pair().await;
        client.write_all(bytes).await.expect("write");
        drop(client);
        let mut received = BytesMut::new();
        let protocol = sniff(&mut server, &mut received).await.expect("sniff");
        (protocol, received)
    }

    #[tokio::test]
    async fn preface_is_http2_and_anything_else_http1() {
        assert_eq!(sniffed(PREFACE).await.0, Protocol::Http2);
        assert_eq!(sniffed(b"GET / HTTP/1.1\r\n").await.0, Protocol::Http1);
        assert_eq!(sniffed(b"POST / HTTP/1.1\r\n").await.0, Protocol::Http1);
        assert_eq!(sniffed(b"PRIX").await.0, Protocol::Http1);
        assert_eq!(
            sniffed(b"PRI").await.0,
            Protocol::Http1,
            "closed mid-preface"
        );
        assert_eq!(sniffed(b"").await.0, Protocol::Http1, "closed at once");
    }

    #[tokio::test]
    async fn preface_in_pieces_is_waited_for() {
        let (mut client, mut server) = crate::test_support::connected_pair().await;
        let sniffing = tokio::spawn(async move {
            let mut received = BytesMut::new();
            sniff(&mut server, &mut received).await.expect("sniff")
        });
        client.write_all(&PREFACE[..5]).await.expect("write");
        let mut sniffing = std::pin::pin!(sniffing);
        // With only the start of the preface there, no answer is possible yet.
        let early = tokio::time::timeout(Duration::from_millis(100), &mut sniffing).await;
        assert!(early.is_err(), "decided on 5 bytes: {early:?}");
        client.write_all(&PREFACE[5..]).await.expect("write");
        assert_eq!(sniffing.await.expect("task"), Protocol::Http2);
    }

    #[tokio::test]
    async fn what_sniffing_read_is_kept_for_http() {
        let (_, received) = sniffed(b"GET / HTTP/1.1\r\n").await;
        assert_eq!(&received[..], b"GET / HTTP/1.1\r\n");
        let (_, received) = sniffed(PREFACE).await;
        assert_eq!(&received[..], PREFACE);
    }

    /// A reader that counts how often it is polled.
    struct Counting<R> {
        inner: R,
        polls: Arc<AtomicUsize>,
    }

    impl<R: AsyncRead + Unpin> AsyncRead for Counting<R> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    /// One byte of the preface, then silence: the sniffer sleeps until more comes instead
    /// of looking again and again (the peek it used before returned at once each time).
    #[tokio::test]
    async fn a_stalled_partial_preface_is_waited_for_without_polling() {
        let (mut client, server) = crate::test_support::connected_pair().await;
        let polls = Arc::new(AtomicUsize::new(0));
        let mut server = Counting {
            inner: server,
            polls: Arc::clone(&polls),
        };
        client.write_all(b"P").await.expect("write");
        let sniffing = tokio::spawn(async move {
            let mut received = BytesMut::new();
            sniff(&mut server, &mut received).await.expect("sniff")
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        // At most: a read that finds nothing yet, the one that gets "P", and one that
        // finds nothing more and waits.
        let seen = polls.load(Ordering::SeqCst);
        assert!(seen <= 3, "{seen} reads for one byte in 500 ms");
        assert!(!sniffing.is_finished());
        client.write_all(&PREFACE[1..]).await.expect("write");
        assert_eq!(sniffing.await.expect("task"), Protocol::Http2);
    }
}

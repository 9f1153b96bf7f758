//! Helpers for this crate's unit tests.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A connected pair of sockets on loopback: the client's end and the server's.
pub(crate) async fn connected_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr"))
        .await
        .expect("connect");
    let (server, _) = listener.accept().await.expect("accept");
    (client, server)
}

/// Reads from `stream` until what was read ends with `end`; fails the test after 5 s or at
/// the stream's end.
pub(crate) async fn read_until(stream: &mut (impl AsyncRead + Unpin), end: &[u8]) -> String {
    let mut buf = Vec::new();
    while !buf.ends_with(end) {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("in time")
            .expect("read");
        assert_ne!(n, 0, "closed after {:?}", String::from_utf8_lossy(&buf));
        buf.push(byte[0]);
    }
    String::from_utf8(buf).expect("utf-8")
}

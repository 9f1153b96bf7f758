//! Helpers for this crate's unit tests.

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

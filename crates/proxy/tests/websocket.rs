//! WebSocket upgrades pass through: the handshake goes to the server, then bytes flow both
//! ways until one side closes.

mod common;

use std::time::Duration;

use common::{TestProxy, Upstream, config};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const HANDSHAKE: &[u8] = b"GET /ws HTTP/1.1\r\n\
Host: chat.example\r\n\
Connection: keep-alive, Upgrade\r\n\
Upgrade: websocket\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

#[tokio::test]
async fn websocket_upgrade_is_tunnelled_both_ways() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(HANDSHAKE).await.expect("write");

    let head = read_head(&mut stream).await.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("\r\nupgrade: websocket"), "{head}");
    assert!(head.contains("\r\nconnection: upgrade"), "{head}");
    assert!(
        head.contains("\r\nsec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );

    // A masked text frame "hello", as a browser would send it; the echo server sends the
    // same bytes back.
    let frame = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    for _ in 0..3 {
        stream.write_all(&frame).await.expect("write frame");
        let mut echo = [0u8; 11];
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echo))
            .await
            .expect("echo in time")
            .expect("echo");
        assert_eq!(echo, frame);
    }
    // A large message crosses too.
    let big = vec![0x5au8; 1 << 20];
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        writer.write_all(&big).await.expect("write big");
        writer
    });
    let mut back = vec![0u8; 1 << 20];
    tokio::time::timeout(Duration::from_secs(10), reader.read_exact(&mut back))
        .await
        .expect("big echo in time")
        .expect("big echo");
    assert!(back.iter().all(|&b| b == 0x5a));
    let writer = sender.await.expect("sender");
    // The tunnel's bytes count on the server both ways, the handshake on top.
    let server = &proxy.proxy.metrics().servers[0];
    assert!(server.bytes_out > 1 << 20, "{server:?}");
    assert!(server.bytes_in > 1 << 20, "{server:?}");

    // The tunnel counts as in flight until it closes.
    assert_eq!(proxy.proxy.servers()[0].active, 1);
    drop((reader, writer));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while proxy.proxy.servers()[0].active != 0 {
        assert!(tokio::time::Instant::now() < deadline, "tunnel still open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    proxy.stop().await;
}

#[tokio::test]
async fn refused_upgrade_is_an_ordinary_response() {
    let a = Upstream::start("a").await;
    let proxy = TestProxy::start(config(&[&a])).await;
    // The echo route does not upgrade: the client gets its 200 and the connection stays HTTP.
    let request = String::from_utf8_lossy(HANDSHAKE).replace("/ws", "/plain");
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    proxy.stop().await;
}

async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("head in time")
            .expect("read");
        assert_eq!(n, 1, "closed: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

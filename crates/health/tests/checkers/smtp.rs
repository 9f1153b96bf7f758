use std::net::SocketAddr;

use baton_health::{Failure, ProbeKind};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::sync::mpsc;

use crate::support::{fails, listener, passes, probe_of};

/// A mail server that greets with `greeting`, answers HELO with `helo_reply` and QUIT
/// with 221; the lines it receives come out of the receiver.
async fn smtp_server(
    greeting: &'static str,
    helo_reply: &'static str,
) -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let (listener, address) = listener().await;
    let (lines, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut stream = BufReader::new(stream);
        stream
            .get_mut()
            .write_all(greeting.as_bytes())
            .await
            .expect("greet");
        for reply in [helo_reply, "221 bye\r\n"] {
            let mut line = String::new();
            if stream.read_line(&mut line).await.expect("read") == 0 {
                return;
            }
            let _ = lines.send(line);
            stream
                .get_mut()
                .write_all(reply.as_bytes())
                .await
                .expect("reply");
        }
    });
    (address, received)
}

fn smtp() -> ProbeKind {
    ProbeKind::Smtp {
        helo_name: "checker.example".into(),
    }
}

#[tokio::test]
async fn greeting_helo_and_quit() {
    let (address, mut lines) = smtp_server("220 mail.example ESMTP\r\n", "250 hello\r\n").await;
    passes(&probe_of(smtp(), address)).await;
    assert_eq!(lines.recv().await.unwrap(), "HELO checker.example\r\n");
    assert_eq!(lines.recv().await.unwrap(), "QUIT\r\n");
}

#[tokio::test]
async fn a_multiline_greeting_is_read_whole() {
    let (address, _lines) = smtp_server(
        "220-mail.example ESMTP\r\n220-more\r\n220 ready\r\n",
        "250 hello\r\n",
    )
    .await;
    passes(&probe_of(smtp(), address)).await;
}

#[tokio::test]
async fn a_refusing_server_fails() {
    let (address, _lines) = smtp_server("554 no service\r\n", "250 hello\r\n").await;
    let failure = fails(&probe_of(smtp(), address)).await;
    assert_eq!(failure.to_string(), r#"SMTP greeting: "554 no service""#);

    let (address, _lines) = smtp_server("220 mail.example\r\n", "501 bad name\r\n").await;
    let failure = fails(&probe_of(smtp(), address)).await;
    assert!(
        matches!(failure, Failure::Smtp { stage: "HELO", .. }),
        "{failure}"
    );
}

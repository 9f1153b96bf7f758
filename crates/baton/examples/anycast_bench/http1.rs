//! The smallest HTTP/1.1 exchange the clients need: one GET on an open connection, the
//! answer's status and body (the demo app's `NAME PEER`), with a deadline.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The error of a request the server closed the connection on before any byte of an answer.
pub(crate) const UNANSWERED: &str = "closed-unanswered";

/// One GET of `/` on `stream`, `close` asking the server to end the connection after it.
/// The body, or what went wrong in a word or two.
pub(crate) async fn get(
    stream: &mut TcpStream,
    close: bool,
    within: Duration,
) -> Result<String, String> {
    let connection = if close { "close" } else { "keep-alive" };
    let request = format!("GET / HTTP/1.1\r\nHost: anycast\r\nConnection: {connection}\r\n\r\n");
    match tokio::time::timeout(within, exchange(stream, request.as_bytes())).await {
        Ok(result) => result,
        Err(_) => Err("timeout".into()),
    }
}

async fn exchange(stream: &mut TcpStream, request: &[u8]) -> Result<String, String> {
    stream.write_all(request).await.map_err(kind)?;
    let mut buffer = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(body) = complete(&buffer)? {
            return Ok(body);
        }
        let n = stream.read(&mut chunk).await.map_err(kind)?;
        if n == 0 && buffer.is_empty() {
            // The server closed as the request went out (a keep-alive connection's idle
            // close crossing it): nothing of an answer, which a client may retry.
            return Err(UNANSWERED.into());
        }
        if n == 0 {
            return Err("closed".into());
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// The body once `buffer` holds a whole 200 answer (Content-Length or chunked), `None` while
/// it does not, an error for another status.
fn complete(buffer: &[u8]) -> Result<Option<String>, String> {
    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
    let body = &buffer[end + 4..];
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!("http-{status}"));
    }
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok());
    let text = match length {
        Some(length) if body.len() >= length => {
            String::from_utf8_lossy(&body[..length]).into_owned()
        }
        Some(_) => return Ok(None),
        // Chunked: the body's one chunk, once the last (empty) chunk is in.
        None if body.ends_with(b"0\r\n\r\n") => {
            let text = String::from_utf8_lossy(body);
            text.lines().nth(1).unwrap_or("").to_owned()
        }
        None => return Ok(None),
    };
    Ok(Some(text))
}

/// An I/O error as one word for the table's notes.
pub(crate) fn kind(error: std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => "refused".into(),
        std::io::ErrorKind::ConnectionReset => "reset".into(),
        std::io::ErrorKind::TimedOut => "timeout".into(),
        std::io::ErrorKind::BrokenPipe => "broken-pipe".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_complete_when_their_body_is() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 14\r\n\r\napp1 10.0.3.5";
        assert_eq!(complete(head), Ok(None));
        let whole = b"HTTP/1.1 200 OK\r\ncontent-length: 14\r\n\r\napp1 10.0.3.5\n";
        assert_eq!(complete(whole), Ok(Some("app1 10.0.3.5\n".into())));
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\ne\r\napp1 10.0.3.5\n\r\n0\r\n\r\n";
        assert_eq!(complete(chunked), Ok(Some("app1 10.0.3.5".into())));
        let refused = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(complete(refused), Err("http-503".into()));
    }
}

//! HTTP/1.1 by hand, for tests that check bytes on the wire: a client that reads answers by
//! their framing, and the small parsing helpers that it and hand-written servers share.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long any one answer may take before a test fails.
pub const LIMIT: Duration = Duration::from_secs(2);

/// Reads into `buf` until `done` finds what it looks for; `None` if the stream ends first.
pub async fn fill_until<T>(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    done: impl Fn(&[u8]) -> Option<T>,
) -> Option<T> {
    loop {
        if let Some(found) = done(buf) {
            return Some(found);
        }
        let mut chunk = [0u8; 16 * 1024];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of `name` in a lowercased head.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (field, value) = line.split_once(':')?;
        (field.trim() == name).then(|| value.trim())
    })
}

/// True when the head's transfer codings end with chunked (RFC 9112 6.3).
pub fn is_chunked(head: &str) -> bool {
    header(head, "transfer-encoding")
        .is_some_and(|codings| codings.rsplit(',').next().unwrap_or("").trim() == "chunked")
}

/// A whole chunked body at the start of `bytes`, decoded, and the bytes it took (its
/// trailer section included); `None` while it is not all there.
pub fn dechunk(bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let line_end = at + find(&bytes[at..], b"\r\n")?;
        let line = std::str::from_utf8(&bytes[at..line_end]).expect("size line");
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).expect("chunk size");
        at = line_end + 2;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let end = at + find(&bytes[at..], b"\r\n")?;
                let empty = end == at;
                at = end + 2;
                if empty {
                    return Some((body, at));
                }
            }
        }
        if bytes.len() < at + size + 2 {
            return None;
        }
        body.extend_from_slice(&bytes[at..at + size]);
        assert_eq!(&bytes[at + size..at + size + 2], b"\r\n", "chunk end");
        at += size + 2;
    }
}

/// A client on a raw connection that reads answers one by one, by their framing.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// One answer as the client got it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The head, lowercased.
    pub head: String,
    /// The body, dechunked when chunked.
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("client write");
    }

    /// Reads the next answer (interim ones included); `to_head`: it answers a HEAD request.
    pub async fn response(&mut self, to_head: bool) -> Answer {
        match tokio::time::timeout(LIMIT, self.read_response(to_head)).await {
            Ok(Some(answer)) => answer,
            Ok(None) => panic!(
                "closed without a whole answer; got {:?}",
                self.received_start()
            ),
            Err(_) => panic!(
                "no whole answer in {LIMIT:?}; got {} bytes: {:?}",
                self.buf.len(),
                self.received_start()
            ),
        }
    }

    /// Reads the next final answer, skipping interim ones.
    pub async fn final_response(&mut self) -> Answer {
        loop {
            let answer = self.response(false).await;
            if answer.status >= 200 {
                return answer;
            }
        }
    }

    fn received_start(&self) -> String {
        String::from_utf8_lossy(&self.buf)
            .chars()
            .take(200)
            .collect()
    }

    async fn read_response(&mut self, to_head: bool) -> Option<Answer> {
        let head_end = self.fill(|b| find(b, b"\r\n\r\n")).await? + 4;
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        self.buf.drain(..head_end);
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("status line: {head}"));
        let body = if to_head || status < 200 || status == 204 || status == 304 {
            Vec::new()
        } else if is_chunked(&head) {
            let (body, used) = self.fill(dechunk).await?;
            self.buf.drain(..used);
            body
        } else if header(&head, "transfer-encoding").is_none()
            && let Some(length) = header(&head, "content-length")
        {
            let length: usize = length.parse().expect("length");
            self.fill(|b| (b.len() >= length).then_some(())).await?;
            self.buf.drain(..length).collect()
        } else {
            // Until the close.
            self.stream.read_to_end(&mut self.buf).await.ok()?;
            std::mem::take(&mut self.buf)
        };
        Some(Answer { status, head, body })
    }

    async fn fill<T>(&mut self, done: impl Fn(&[u8]) -> Option<T>) -> Option<T> {
        fill_until(&mut self.stream, &mut self.buf, done).await
    }

    /// Asserts that the proxy closes the connection with a plain end of stream (no reset),
    /// sending nothing more.
    pub async fn assert_ends_cleanly(&mut self) {
        let mut rest = Vec::new();
        let end = tokio::time::timeout(LIMIT, self.stream.read_to_end(&mut rest)).await;
        assert!(
            matches!(end, Ok(Ok(0))) && self.buf.is_empty(),
            "the connection ended with {end:?} after {:?}",
            String::from_utf8_lossy(&rest)
        );
    }

    /// Asserts that the proxy closes the connection, sending nothing more.
    pub async fn assert_closed(&mut self) {
        let started = tokio::time::Instant::now();
        let rest = super::read_to_close(&mut self.stream, LIMIT).await;
        assert!(started.elapsed() < LIMIT, "still open after {LIMIT:?}");
        assert!(self.buf.is_empty() && rest.is_empty(), "{rest:?}");
    }
}

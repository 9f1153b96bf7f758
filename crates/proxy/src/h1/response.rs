//! A server's response head: parsed with httparse and rewritten for the client (hop-by-hop
//! fields gone, Via added), and how its body is framed.

use std::mem::MaybeUninit;

use http::StatusCode;

use super::fields::{self, Fields};

/// Most header fields in a response; more is a broken server (502).
const MAX_FIELDS: usize = 128;

/// Largest response head taken from a server (nginx's `proxy_buffer_size` is 4 or 8 KiB).
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// How a response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body: HEAD, 1xx, 204, 304, or Content-Length 0.
    Empty,
    Length(u64),
    Chunked,
    /// Until the server closes (no length given, or a coding other than chunked).
    UntilClose,
}

/// A response head ready to go to the client.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    /// Bytes of the server's buffer that the head took.
    pub(crate) len: usize,
    pub(crate) status: StatusCode,
    pub(crate) framing: Framing,
    /// The server keeps the connection open after this response.
    pub(crate) reusable: bool,
    /// The head for the client without its last empty line, so that `connection: close`
    /// can still be added.
    pub(crate) client: Vec<u8>,
}

impl ResponseHead {
    /// An interim (1xx) response, after which the final one follows.
    pub(crate) fn is_interim(&self) -> bool {
        self.status.is_informational()
    }
}

#[derive(Debug)]
pub(crate) enum Parsed {
    Head(ResponseHead),
    Partial,
    /// Not an HTTP/1.x response this proxy can pass on.
    Invalid(&'static str),
}

/// Parses the response head at the start of `buf`, the answer to a HEAD request if `head`.
pub(crate) fn parse(buf: &[u8], head: bool) -> Parsed {
    // Left uninitialised: httparse writes the fields it finds, and zeroing 4 KiB of room
    // for each answer cost more than parsing a short head.
    let mut storage = [const { MaybeUninit::uninit() }; MAX_FIELDS];
    let mut response = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    let len = match config.parse_response_with_uninit_headers(&mut response, buf, &mut storage) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Parsed::Invalid("response head too large");
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Invalid("too many header fields"),
        Err(_) => return Parsed::Invalid("malformed response head"),
    };
    let (Some(version), Some(code)) = (response.version, response.code) else {
        return Parsed::Invalid("malformed response head");
    };
    let Ok(status) = StatusCode::from_u16(code) else {
        return Parsed::Invalid("bad status code");
    };
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Parsed::Invalid("server switched protocols unasked");
    }
    let Some(fields) = Fields::read(response.headers) else {
        return Parsed::Invalid("contradicting Content-Length or Transfer-Encoding");
    };
    let framing = if head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::Empty
    } else if fields.chunked {
        Framing::Chunked
    } else if fields.other_coding {
        Framing::UntilClose
    } else {
        match fields.content_length {
            Some(0) => Framing::Empty,
            Some(length) => Framing::Length(length),
            None => Framing::UntilClose,
        }
    };
    let persistent = if version == 1 {
        !fields.close
    } else {
        fields.keep_alive && !fields.close
    };
    let reusable = persistent && framing != Framing::UntilClose;

    let reason = match response.reason {
        Some(reason) if !reason.is_empty() => reason,
        _ => status.canonical_reason().unwrap_or(""),
    };
    let mut client = Vec::with_capacity(len + 64);
    // The status line, as it is to be written: copied with the fields after it when it came
    // that way (HTTP/1.1, a reason, CRLF), written otherwise.
    let line_end = b"HTTP/1.1 200 ".len() + reason.len() + 2;
    let line_as_written = version == 1
        && !reason.is_empty()
        && fields::offset(buf, reason.as_bytes()) == Some(b"HTTP/1.1 200 ".len())
        && buf.get(..line_end).is_some_and(|line| {
            line.starts_with(b"HTTP/1.1 ")
                && line[9..12] == *status.as_str().as_bytes()
                && line[12] == b' '
                && line.ends_with(b"\r\n")
        });
    let mut runs = if line_as_written {
        fields::Runs::new(buf, line_end)
    } else {
        client.extend_from_slice(b"HTTP/1.1 ");
        client.extend_from_slice(status.as_str().as_bytes());
        client.push(b' ');
        client.extend_from_slice(reason.as_bytes());
        client.extend_from_slice(b"\r\n");
        fields::Runs::new(buf, 0)
    };
    let mut via = fields::List::default();
    for field in response.headers.iter() {
        if field.name.eq_ignore_ascii_case("via") {
            via.add(field.value);
        } else if !fields.is_dropped(field.name) {
            runs.keep(&mut client, field.name, field.value);
        }
    }
    runs.flush(&mut client);
    // The framing fields go to the client as the body will: passed through unchanged.
    let coded = matches!(framing, Framing::Chunked | Framing::UntilClose);
    if fields.other_coding && coded {
        // Codings other than chunked (gzip, ...) are the client's to undo.
        for field in response.headers.iter() {
            if field.name.eq_ignore_ascii_case("transfer-encoding") {
                fields::write(&mut client, b"transfer-encoding", field.value);
            }
        }
    }
    // RFC 9112 6.3: Transfer-Encoding overrides Content-Length, which must not reach the
    // client beside it.
    let has_codings = fields.chunked || fields.other_coding;
    match framing {
        Framing::Chunked if fields.other_coding => {}
        Framing::Chunked => client.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Length(length) => {
            fields::write_number(&mut client, b"content-length: ", length);
        }
        // A HEAD or 304 answer tells the length the body would have had.
        Framing::Empty | Framing::UntilClose => {
            if let Some(length) = fields.content_length.filter(|_| !has_codings) {
                if !status.is_informational() && status != StatusCode::NO_CONTENT {
                    fields::write_number(&mut client, b"content-length: ", length);
                }
            }
        }
    }
    via.write(
        &mut client,
        b"via: ",
        if version == 1 {
            b"1.1 baton\r\n"
        } else {
            b"1.0 baton\r\n"
        },
    );
    Parsed::Head(ResponseHead {
        len,
        status,
        framing,
        reusable,
        client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str, is_head: bool) -> ResponseHead {
        match parse(text.as_bytes(), is_head) {
            Parsed::Head(head) => head,
            other => panic!("{other:?} for {text:?}"),
        }
    }

    #[test]
    fn rewrites_the_head_for_the_client() {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive, X-Hop\r\n\
             X-Hop: 1\r\nKeep-Alive: timeout=5\r\nContent-Length: 5\r\nVia: 1.1 app\r\n\r\nhello";
        let parsed = head(text, false);
        assert_eq!(parsed.framing, Framing::Length(5));
        assert!(parsed.reusable);
        assert_eq!(parsed.len, text.len() - "hello".len());
        assert_eq!(
            String::from_utf8(parsed.client).expect("utf-8"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 5\r\n\
             via: 1.1 app, 1.1 baton\r\n"
        );
    }

    #[test]
    fn knows_how_each_body_ends() {
        let cases = [
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                false,
                Framing::Chunked,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
                true,
                Framing::Empty,
            ),
            ("HTTP/1.1 204 No Content\r\n\r\n", false, Framing::Empty),
            (
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                false,
                Framing::Empty,
            ),
            (
                "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
                false,
                Framing::Empty,
            ),
            ("HTTP/1.1 200 OK\r\n\r\n", false, Framing::UntilClose),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                false,
                Framing::UntilClose,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                false,
                Framing::Empty,
            ),
        ];
        for (text, is_head, framing) in cases {
            assert_eq!(head(text, is_head).framing, framing, "{text:?}");
        }
        let gzip = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            false,
        );
        assert!(
            String::from_utf8_lossy(&gzip.client).contains("transfer-encoding: gzip, chunked\r\n"),
            "the client must learn how to decode what passes through"
        );
        assert_eq!(
            gzip.framing,
            Framing::Chunked,
            "RFC 9112 6.3: chunked comes last"
        );
        assert!(gzip.reusable);
        let sized_head = head("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true);
        assert!(String::from_utf8_lossy(&sized_head.client).contains("content-length: 9"));
    }

    #[test]
    fn knows_when_the_server_keeps_the_connection() {
        let reusable = |text: &str| head(text, false).reusable;
        assert!(reusable("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n"));
        assert!(!reusable(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n"
        ));
        assert!(!reusable("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n"));
        assert!(reusable(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n"
        ));
        assert!(!reusable("HTTP/1.1 200 OK\r\n\r\n"), "ends with the close");
    }

    #[test]
    fn broken_heads_are_refused() {
        for text in [
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "SSH-2.0-OpenSSH\r\n\r\n",
        ] {
            assert!(
                matches!(parse(text.as_bytes(), false), Parsed::Invalid(_)),
                "{text:?}"
            );
        }
        let mut big = "HTTP/1.1 200 OK\r\n".to_owned();
        while big.len() <= MAX_HEAD {
            big.push_str("x-filler: 0123456789abcdef0123456789abcdef\r\n");
        }
        assert!(matches!(parse(big.as_bytes(), false), Parsed::Invalid(_)));
    }
}

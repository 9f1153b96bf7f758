//! What the header fields of a message say about the connection and the framing, and the
//! helpers that write fields out.

/// The connection-level facts of one message's header fields.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub(crate) content_length: Option<u64>,
    /// `Transfer-Encoding: chunked`, and nothing else.
    pub(crate) chunked: bool,
    /// A transfer coding other than a lone `chunked` (only a response may have one).
    pub(crate) other_coding: bool,
    /// `Connection: close`.
    pub(crate) close: bool,
    /// `Connection: keep-alive` (what an HTTP/1.0 peer says to keep the connection).
    pub(crate) keep_alive: bool,
    /// An `Upgrade` field, or `upgrade` in Connection.
    pub(crate) upgrade: bool,
    pub(crate) expect: bool,
    /// How many Host fields there are (RFC 9112 3.2: exactly one in HTTP/1.1).
    pub(crate) hosts: usize,
    /// The other field names that Connection lists, to be removed (RFC 9110 7.6.1).
    named: Vec<String>,
}

impl Fields {
    /// Reads the fields; `None` when the framing fields contradict each other (two
    /// different Content-Length values, one that is not a number, Transfer-Encoding twice).
    pub(crate) fn read(headers: &[httparse::Header<'_>]) -> Option<Fields> {
        let mut fields = Fields::default();
        let mut codings = 0;
        for field in headers {
            let name = field.name;
            if name.eq_ignore_ascii_case("content-length") {
                let length = parse_length(field.value)?;
                if fields.content_length.is_some_and(|seen| seen != length) {
                    return None;
                }
                fields.content_length = Some(length);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                codings += 1;
                if field.value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                    fields.chunked = true;
                } else {
                    fields.other_coding = true;
                }
            } else if name.eq_ignore_ascii_case("connection") {
                for token in tokens(field.value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        fields.close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        fields.keep_alive = true;
                    } else if token.eq_ignore_ascii_case(b"upgrade") {
                        fields.upgrade = true;
                    } else if token.eq_ignore_ascii_case(b"host") {
                        // Only hop-by-hop fields may be named (RFC 9110 7.6.1), and Host is
                        // the one the server needs (RFC 9112 3.2): it stays.
                    } else if let Ok(token) = std::str::from_utf8(token) {
                        fields.named.push(token.to_ascii_lowercase());
                    }
                }
            } else if name.eq_ignore_ascii_case("upgrade") {
                fields.upgrade = true;
            } else if name.eq_ignore_ascii_case("expect") {
                fields.expect = true;
            } else if name.eq_ignore_ascii_case("host") {
                fields.hosts += 1;
            }
        }
        if codings > 1 {
            return None;
        }
        if fields.other_coding {
            fields.chunked = false;
        }
        Some(fields)
    }

    /// True for the fields not passed on as they came: those about this connection
    /// (RFC 9110 7.6.1) and the framing ones, which the forwarding side writes itself.
    pub(crate) fn is_dropped(&self, name: &str) -> bool {
        const DROPPED: [&str; 8] = [
            "connection",
            "keep-alive",
            "te",
            "trailer",
            "upgrade",
            "transfer-encoding",
            "content-length",
            "proxy-connection",
        ];
        DROPPED
            .iter()
            .any(|dropped| name.eq_ignore_ascii_case(dropped))
            || name
                .get(..6)
                .is_some_and(|start| start.eq_ignore_ascii_case("proxy-"))
            || self
                .named
                .iter()
                .any(|named| name.eq_ignore_ascii_case(named))
    }
}

/// A comma-separated list field built from several fields and a value of our own.
#[derive(Debug, Default)]
pub(crate) struct List(Vec<u8>);

impl List {
    /// Appends `value` (trimmed; nothing if empty).
    pub(crate) fn add(&mut self, value: &[u8]) {
        let value = value.trim_ascii();
        if value.is_empty() {
            return;
        }
        if !self.0.is_empty() {
            self.0.extend_from_slice(b", ");
        }
        self.0.extend_from_slice(value);
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Writes one field line.
pub(crate) fn write(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// A Content-Length value: digits only (RFC 9110 8.6), no sign, no spaces inside.
fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// The items of a comma-separated field value, trimmed, empty ones skipped.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&'static str, &'static str)]) -> Option<Fields> {
        let headers: Vec<httparse::Header<'static>> = pairs
            .iter()
            .map(|&(name, value)| httparse::Header {
                name,
                value: value.as_bytes(),
            })
            .collect();
        Fields::read(&headers)
    }

    #[test]
    fn framing_fields_must_agree() {
        let same = read(&[("content-length", "5"), ("Content-Length", "5")]).expect("same");
        assert_eq!(same.content_length, Some(5));
        assert!(read(&[("content-length", "5"), ("content-length", "6")]).is_none());
        assert!(read(&[("content-length", "+5")]).is_none());
        assert!(read(&[("content-length", "5, 5")]).is_none());
        assert!(
            read(&[
                ("transfer-encoding", "chunked"),
                ("transfer-encoding", "chunked")
            ])
            .is_none()
        );
        let gzip = read(&[("transfer-encoding", "gzip, chunked")]).expect("coding");
        assert!(gzip.other_coding && !gzip.chunked);
    }

    #[test]
    fn connection_tokens_mark_fields_to_drop() {
        let fields = read(&[("connection", "Close, X-Private, upgrade")]).expect("fields");
        assert!(fields.close && fields.upgrade && !fields.keep_alive);
        for name in [
            "x-private",
            "X-Private",
            "Keep-Alive",
            "Proxy-Authorization",
            "content-length",
        ] {
            assert!(fields.is_dropped(name), "{name}");
        }
        for name in ["x-public", "host", "proxy", "via"] {
            assert!(!fields.is_dropped(name), "{name}");
        }
    }

    #[test]
    fn host_named_in_connection_is_kept() {
        let fields = read(&[("connection", "keep-alive, Host")]).expect("fields");
        assert!(!fields.is_dropped("Host"));
    }

    #[test]
    fn lists_join_trimmed_values() {
        let mut list = List::default();
        list.add(b" 10.0.0.1 ");
        list.add(b"");
        list.add(b"10.0.0.2");
        assert_eq!(list.as_bytes(), b"10.0.0.1, 10.0.0.2");
    }
}

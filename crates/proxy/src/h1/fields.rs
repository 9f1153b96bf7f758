//! What the header fields of a message say about the connection and the framing, and the
//! helpers that write fields out.

/// The connection-level facts of one message's header fields.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub(crate) content_length: Option<u64>,
    /// Transfer-Encoding ends in chunked: the message is framed by its chunks.
    pub(crate) chunked: bool,
    /// A transfer coding other than a final `chunked` (gzip, ...): in a request, one this
    /// proxy does not take (hyper's path answers it); in a response, one passed on to the
    /// client to undo.
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
    /// different Content-Length values, one that is not a number, Transfer-Encoding twice,
    /// chunked applied twice).
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
                // RFC 9112 6.1, 6.3: chunked frames the message when it is the last coding;
                // applied more than once it cannot be framed.
                // An empty list frames nothing.
                let mut list = field
                    .value
                    .split(|&b| b == b',')
                    .map(<[u8]>::trim_ascii)
                    .filter(|coding| !coding.is_empty());
                let last = list.next_back()?;
                let is_chunked = |coding: &[u8]| coding.eq_ignore_ascii_case(b"chunked");
                if list.clone().any(is_chunked) {
                    return None;
                }
                fields.chunked = is_chunked(last);
                fields.other_coding = !fields.chunked || list.next().is_some();
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

/// A comma-separated list field (Via, X-Forwarded-For): the values of the fields of that name
/// that came, and one of our own last. It allocates only when such fields came; most
/// requests and answers have none.
#[derive(Debug, Default)]
pub(crate) struct List<'a>(Vec<&'a [u8]>);

impl<'a> List<'a> {
    /// Appends `value` (trimmed; nothing if empty).
    pub(crate) fn add(&mut self, value: &'a [u8]) {
        let value = value.trim_ascii();
        if !value.is_empty() {
            self.0.push(value);
        }
    }

    /// Writes the field: `start` (its name and `": "`), the values added, each followed by
    /// `", "`, then `end` (our own value and the line's end, and whatever follows it).
    pub(crate) fn write(&self, out: &mut Vec<u8>, start: &[u8], end: &[u8]) {
        out.extend_from_slice(start);
        for value in &self.0 {
            out.extend_from_slice(value);
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(end);
    }
}

/// Writes one field line.
pub(crate) fn write(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Writes the field line `start` (its name and `": "`) with `value` in decimal.
pub(crate) fn write_number(out: &mut Vec<u8>, start: &[u8], value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        // The remainder is below 10.
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(start);
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

/// Lines of a head passed on as they came, copied in runs rather than one field at a time:
/// a line that reads exactly as [`write`] would write it (`name: value` and CRLF) joins the
/// lines kept right before it, and a run is copied in one go when something else is
/// written or the head ends. The bytes written are the same as field by field; a head's
/// fields mostly come that way, and each copy costs a call.
#[derive(Debug)]
pub(crate) struct Runs<'a> {
    /// The head as received, which the fields point into.
    head: &'a [u8],
    /// Lines of `head` kept and not copied yet.
    run: std::ops::Range<usize>,
}

impl<'a> Runs<'a> {
    /// Runs of `head`, starting with its first `start_line` bytes (its start line, when it
    /// reads as it is to be written; 0 otherwise).
    pub(crate) fn new(head: &'a [u8], start_line: usize) -> Self {
        Runs {
            head,
            run: 0..start_line,
        }
    }

    /// Passes the field on: `name` and `value` are slices of the head.
    pub(crate) fn keep(&mut self, out: &mut Vec<u8>, name: &str, value: &[u8]) {
        match self.line(name.as_bytes(), value) {
            Some(line) if line.start == self.run.end && !self.run.is_empty() => {
                self.run.end = line.end;
            }
            Some(line) => {
                self.flush(out);
                self.run = line;
            }
            None => {
                self.flush(out);
                write(out, name.as_bytes(), value);
            }
        }
    }

    /// Copies the lines kept so far: before anything else is written.
    pub(crate) fn flush(&mut self, out: &mut Vec<u8>) {
        if !self.run.is_empty() {
            out.extend_from_slice(&self.head[self.run.clone()]);
        }
        self.run = 0..0;
    }

    /// Where the field's line lies in the head, when it reads `name: value` and CRLF.
    fn line(&self, name: &[u8], value: &[u8]) -> Option<std::ops::Range<usize>> {
        let start = offset(self.head, name)?;
        let after_name = start + name.len();
        let value_start = offset(self.head, value)?;
        let end = value_start + value.len() + 2;
        (!value.is_empty()
            && value_start == after_name + 2
            && self.head.get(after_name..value_start) == Some(b": ")
            && self.head.get(end - 2..end) == Some(b"\r\n"))
        .then_some(start..end)
    }
}

/// Where `part` starts in `whole`, when it is a slice of it.
pub(crate) fn offset(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start + part.len() <= whole.len()).then_some(start)
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
        assert!(gzip.other_coding && gzip.chunked);
        let gzip = read(&[("transfer-encoding", "gzip")]).expect("coding");
        assert!(gzip.other_coding && !gzip.chunked);
        let plain = read(&[("transfer-encoding", " Chunked ")]).expect("coding");
        assert!(!plain.other_coding && plain.chunked);
        // Chunked anywhere but last, or twice, cannot be framed.
        assert!(read(&[("transfer-encoding", "chunked, gzip")]).is_none());
        assert!(read(&[("transfer-encoding", "chunked, chunked")]).is_none());
        assert!(read(&[("transfer-encoding", "chunked ,gzip, chunked")]).is_none());
        assert!(read(&[("transfer-encoding", " , ")]).is_none());
        let listed = read(&[("transfer-encoding", "gzip,, chunked,")]).expect("coding");
        assert!(listed.other_coding && listed.chunked);
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
        let mut out = Vec::new();
        list.write(&mut out, b"x-forwarded-for: ", b"10.0.0.3\r\n");
        assert_eq!(out, b"x-forwarded-for: 10.0.0.1, 10.0.0.2, 10.0.0.3\r\n");
    }

    #[test]
    fn numbers_are_written_as_to_string_writes_them() {
        for value in [0, 7, 10, 13, 99_999, u64::MAX] {
            let mut out = Vec::new();
            write_number(&mut out, b"content-length: ", value);
            assert_eq!(out, format!("content-length: {value}\r\n").into_bytes());
        }
    }

    /// Whatever the lines look like, the runs write what `write` writes field by field.
    #[test]
    fn runs_write_what_write_writes() {
        let text: &[u8] = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nDrop: x\r\nC:3\r\nD:  4\r\n\
                           E: 5\nF: 6\r\nG: \r\nH: 8 \r\nI: 9\r\n\r\n";
        let mut storage = [httparse::EMPTY_HEADER; 16];
        let mut request = httparse::Request::new(&mut storage);
        assert!(request.parse(text).expect("parses").is_complete());
        let (mut by_field, mut by_runs) = (b"GET / HTTP/1.1\r\n".to_vec(), Vec::new());
        let mut runs = Runs::new(text, 16);
        for field in request.headers.iter().filter(|f| f.name != "Drop") {
            write(&mut by_field, field.name.as_bytes(), field.value);
            runs.keep(&mut by_runs, field.name, field.value);
        }
        runs.flush(&mut by_runs);
        assert_eq!(
            String::from_utf8_lossy(&by_runs),
            String::from_utf8_lossy(&by_field)
        );
    }
}

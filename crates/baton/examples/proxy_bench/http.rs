//! Just enough HTTP/1.1 parsing for the upstreams and the idle clients.

/// The request the idle clients send.
pub(crate) const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: proxy_bench\r\n\r\n";

/// Index just past the blank line that ends the header block.
pub(crate) fn header_end(buffer: &[u8]) -> Option<usize> {
    buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// The value of header `name` in a header block (names compared case-insensitively).
pub(crate) fn header<'a>(head: &'a [u8], name: &str) -> Option<&'a str> {
    std::str::from_utf8(head)
        .ok()?
        .lines()
        .skip(1)
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
}

/// The body length a header block announces (0 when it announces none).
pub(crate) fn content_length(head: &[u8]) -> Option<usize> {
    header(head, "content-length").and_then(|v| v.parse().ok())
}

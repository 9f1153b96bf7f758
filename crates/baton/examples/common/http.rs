//! Just enough HTTP/1.1 parsing for the benchmarks' origin servers and clients.

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

/// The path of the request line, e.g. `/slow`.
pub(crate) fn path(head: &[u8]) -> Option<&str> {
    let line = head.split(|&b| b == b'\n').next()?;
    std::str::from_utf8(line).ok()?.split_whitespace().nth(1)
}

/// HTTP/1.0 without `Connection: keep-alive` closes after the answer.
pub(crate) fn is_http10(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n')
        .next()
        .is_some_and(|line| line.trim_ascii_end().ends_with(b"HTTP/1.0"))
}

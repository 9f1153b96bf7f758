//! The proxy's chunked-body scanner (`h1::chunked`, through `baton_proxy::fuzzing`), fed
//! its input in pieces.
//!
//! The first byte picks the mode (bit 0) and how many piece sizes follow (bits 1-3); each of
//! those bytes is a piece size (0 counts as 1), used in turn.
//! - Raw mode: the rest is the body. Scanned in one call and in the pieces, it must give the
//!   same outcome: the same end, the same error, or neither.
//! - Encode mode: the rest describes chunks (sizes, extensions, data, trailers) that are
//!   encoded correctly and followed by the next message's bytes. In any pieces, the scan
//!   must end exactly where the encoding ends.

use baton_proxy::fuzzing::ChunkedScanner;

/// Where a scan ended: `Ok(Some(end))` at the body's end, `Ok(None)` wanting more.
type Outcome = Result<Option<usize>, String>;

fn scan_in_pieces(body: &[u8], sizes: &[usize]) -> Outcome {
    let mut scanner = ChunkedScanner::default();
    let mut at = 0;
    let mut sizes = sizes.iter().cycle();
    while at < body.len() {
        let size = sizes.next().copied().unwrap_or(body.len());
        let piece = &body[at..body.len().min(at + size)];
        let taken = scanner.scan(piece)?;
        assert!(taken <= piece.len(), "took {taken} of {}", piece.len());
        at += taken;
        if scanner.is_done() {
            assert_eq!(scanner.scan(b"more"), Ok(0), "took bytes after the end");
            return Ok(Some(at));
        }
        assert_eq!(taken, piece.len(), "took less without ending");
    }
    Ok(None)
}

/// A correct chunked encoding of what `spec` describes, and its length before `next`.
fn encode(spec: &[u8], next: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut rest = spec;
    // Each chunk: a control byte (size, and whether to add an extension, upper-case hex,
    // or leading zeros), then that many data bytes (as many as there are).
    while let Some((&control, tail)) = rest.split_first() {
        let size = usize::from(control & 0x1f).min(tail.len());
        if size == 0 {
            rest = tail;
            break;
        }
        let (data, tail) = tail.split_at(size);
        let hex = if control & 0x20 != 0 {
            format!("{size:X}")
        } else {
            format!("{size:x}")
        };
        if control & 0x40 != 0 {
            out.extend_from_slice(b"000");
        }
        out.extend_from_slice(hex.as_bytes());
        if control & 0x80 != 0 {
            out.extend_from_slice(b";name=\"va;lue\"");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        rest = tail;
    }
    out.extend_from_slice(b"0\r\n");
    // Trailers: one per remaining byte, printable.
    for (i, &byte) in rest.iter().take(8).enumerate() {
        let value = char::from(b'!' + byte % 94);
        out.extend_from_slice(format!("x-trailer-{i}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    let end = out.len();
    out.extend_from_slice(next);
    (out, end)
}

/// One input: panics when a check fails.
pub fn check(data: &[u8]) {
    let Some((&setup, data)) = data.split_first() else {
        return;
    };
    let count = usize::from(setup >> 1 & 7).min(data.len());
    let (sizes, data) = data.split_at(count);
    let sizes: Vec<usize> = sizes.iter().map(|&s| usize::from(s).max(1)).collect();

    if setup & 1 == 0 {
        let whole = scan_in_pieces(data, &[data.len().max(1)]);
        let pieces = scan_in_pieces(data, &sizes);
        assert_eq!(whole, pieces, "pieces {sizes:?} changed the outcome");
    } else {
        let half = data.len() / 2;
        let (spec, next) = data.split_at(half);
        let (encoded, end) = encode(spec, next);
        let expected: Outcome = Ok(Some(end));
        assert_eq!(scan_in_pieces(&encoded, &[encoded.len()]), expected);
        assert_eq!(
            scan_in_pieces(&encoded, &sizes),
            expected,
            "pieces {sizes:?}"
        );
    }
}

//! Moving a message body from one socket to the other through one buffer, as it comes: a
//! request body to the server, a response body to the client. Framing is tracked, not
//! re-encoded (both sides speak HTTP/1.1), so a chunked body passes through byte for byte.

use std::io;
use std::time::Duration;

use bytes::{Buf as _, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::chunked::{ChunkError, Chunked};

/// Bytes read from a socket at a time. Below 14 KiB on purpose: jemalloc serves smaller
/// sizes from its per-thread cache, larger ones from its slower extent allocator, and a
/// buffer is taken for every request.
pub(super) const READ_SIZE: usize = 8 * 1024;

/// Where a body ends.
#[derive(Debug, Clone)]
pub(super) enum Body {
    /// This many bytes are left.
    Length(u64),
    Chunked(Chunked),
    /// At the sender's close.
    UntilClose,
}

impl Body {
    /// Takes the body's next bytes from the start of `bytes`; returns how many belong to it.
    fn take(&mut self, bytes: &[u8]) -> Result<usize, ChunkError> {
        match self {
            Body::Length(left) => {
                let take = (*left).min(bytes.len() as u64);
                *left -= take;
                Ok(take as usize)
            }
            Body::Chunked(chunked) => chunked.scan(bytes),
            Body::UntilClose => Ok(bytes.len()),
        }
    }

    fn is_done(&self) -> bool {
        match self {
            Body::Length(left) => *left == 0,
            Body::Chunked(chunked) => chunked.is_done(),
            Body::UntilClose => false,
        }
    }

    /// How many bytes at the start of `buf` make the whole body, if all of it is there.
    pub(super) fn whole_in(&self, buf: &[u8]) -> Option<usize> {
        let mut body = self.clone();
        let len = body.take(buf).ok()?;
        body.is_done().then_some(len)
    }
}

/// Why a body could not be moved.
#[derive(Debug, thiserror::Error)]
pub(super) enum CopyError {
    #[error("reading failed: {0}")]
    Read(io::Error),
    #[error("the sender closed before the end of the body")]
    Truncated,
    #[error("the sender sent nothing for {0:?}")]
    Stalled(Duration),
    #[error("writing failed: {0}")]
    Write(io::Error),
    #[error("the receiver took nothing for {0:?}")]
    WriteStalled(Duration),
    #[error(transparent)]
    Framing(#[from] ChunkError),
}

impl CopyError {
    /// The failure was on the reading side (the sender's fault, or the sender gone).
    pub(super) fn is_read_side(&self) -> bool {
        !matches!(self, CopyError::Write(_) | CopyError::WriteStalled(_))
    }
}

/// How long each side of a [`copy`] may stall.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stalls {
    /// The longest wait for the sender's next bytes.
    pub(super) read: Duration,
    /// The longest wait for the receiver to take one piece; `None` where the receiver's
    /// stream has a send timeout of its own (a client's [`ClientStream`](crate::stream)).
    pub(super) write: Option<Duration>,
}

/// Writes `head`, then moves `body` from `src` to `dst`, starting with what `buf` already
/// holds. Whatever arrived after the body's end stays in `buf`. After a failure `body` is
/// what is left of the body beyond `buf`'s start: what a failed write was to take is gone
/// from both, so that the rest can still be read to its end (and dropped).
pub(super) async fn copy<R, W>(
    src: &mut R,
    dst: &mut W,
    buf: &mut BytesMut,
    body: &mut Body,
    head: &[u8],
    stalls: Stalls,
) -> Result<(), CopyError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut head = head;
    loop {
        let len = body.take(buf)?;
        let written = write_within(dst, head, &buf[..len], stalls.write).await;
        head = &[];
        buf.advance(len);
        written?;
        if body.is_done() {
            return Ok(());
        }
        buf.reserve(READ_SIZE);
        match tokio::time::timeout(stalls.read, src.read_buf(buf)).await {
            Err(_) => return Err(CopyError::Stalled(stalls.read)),
            Ok(Err(error)) => return Err(CopyError::Read(error)),
            Ok(Ok(0)) if matches!(body, Body::UntilClose) => return Ok(()),
            Ok(Ok(0)) => return Err(CopyError::Truncated),
            Ok(Ok(_)) => {}
        }
    }
}

/// [`write_two`], given up when it takes longer than `limit`: a receiver that stops reading
/// must not hold the sender (and its connection) forever.
pub(super) async fn write_within<W: AsyncWrite + Unpin>(
    dst: &mut W,
    first: &[u8],
    second: &[u8],
    limit: Option<Duration>,
) -> Result<(), CopyError> {
    let written = match limit {
        None => write_two(dst, first, second).await,
        Some(limit) => tokio::time::timeout(limit, write_two(dst, first, second))
            .await
            .map_err(|_| CopyError::WriteStalled(limit))?,
    };
    written.map_err(CopyError::Write)
}

/// Writes `first` then `second`, in one system call when the stream takes both at once.
pub(super) async fn write_two<W: AsyncWrite + Unpin>(
    dst: &mut W,
    first: &[u8],
    second: &[u8],
) -> io::Result<()> {
    // Tokio writes a chained buffer with vectored writes where the stream supports them.
    dst.write_all_buf(&mut bytes::Buf::chain(first, second))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stalls(secs: u64) -> Stalls {
        Stalls {
            read: Duration::from_secs(secs),
            write: Some(Duration::from_secs(secs)),
        }
    }

    #[tokio::test]
    async fn a_receiver_that_takes_nothing_stalls_the_write() {
        tokio::time::pause();
        // Room for 64 bytes, and nobody reading them.
        let (mut dst, _keep_open) = tokio::io::duplex(64);
        let mut buf = BytesMut::from(&[0u8; 1000][..]);
        let stalled = copy(
            &mut &b""[..],
            &mut dst,
            &mut buf,
            &mut Body::Length(1000),
            b"",
            stalls(5),
        )
        .await;
        assert!(
            matches!(stalled, Err(CopyError::WriteStalled(_))),
            "{stalled:?}"
        );
        assert!(!stalled.expect_err("stalled").is_read_side());
    }

    #[tokio::test]
    async fn moves_a_sized_body_and_leaves_the_next_message() {
        let mut src: &[u8] = b"lo world";
        let mut dst = Vec::new();
        let mut buf = BytesMut::from(&b"hel"[..]);
        copy(
            &mut src,
            &mut dst,
            &mut buf,
            &mut Body::Length(5),
            b"HEAD|",
            stalls(1),
        )
        .await
        .expect("copy");
        assert_eq!(dst, b"HEAD|hello");
        assert_eq!(&buf[..], b" world", "the rest stays for the next message");
    }

    #[tokio::test]
    async fn a_short_body_is_truncated_unless_it_ends_at_close() {
        let mut dst = Vec::new();
        let mut buf = BytesMut::new();
        let short = copy(
            &mut &b"abc"[..],
            &mut dst,
            &mut buf,
            &mut Body::Length(5),
            b"",
            stalls(1),
        )
        .await;
        assert!(matches!(short, Err(CopyError::Truncated)), "{short:?}");
        let mut dst = Vec::new();
        copy(
            &mut &b"abc"[..],
            &mut dst,
            &mut buf,
            &mut Body::UntilClose,
            b"",
            stalls(1),
        )
        .await
        .expect("until close");
        assert_eq!(dst, b"abc");
    }

    #[tokio::test]
    async fn chunked_bodies_pass_through_unchanged() {
        let body = b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n";
        let mut src: &[u8] = &body[7..];
        let mut buf = BytesMut::from(&body[..7]);
        buf.extend_from_slice(b"");
        let mut dst = Vec::new();
        copy(
            &mut src,
            &mut dst,
            &mut buf,
            &mut Body::Chunked(Chunked::default()),
            b"",
            stalls(1),
        )
        .await
        .expect("copy");
        assert_eq!(dst, body);
    }

    #[tokio::test]
    async fn a_silent_sender_stalls() {
        tokio::time::pause();
        let (mut src, _keep_open) = tokio::io::duplex(64);
        let mut dst = Vec::new();
        let mut buf = BytesMut::new();
        let stalled = copy(
            &mut src,
            &mut dst,
            &mut buf,
            &mut Body::Length(1),
            b"",
            stalls(5),
        )
        .await;
        assert!(matches!(stalled, Err(CopyError::Stalled(_))), "{stalled:?}");
    }

    #[test]
    fn whole_bodies_are_seen_in_the_buffer() {
        assert_eq!(Body::Length(3).whole_in(b"abcd"), Some(3));
        assert_eq!(Body::Length(5).whole_in(b"abcd"), None);
        assert_eq!(
            Body::Chunked(Chunked::default()).whole_in(b"1\r\na\r\n0\r\n\r\nGET"),
            Some(11)
        );
        assert_eq!(
            Body::Chunked(Chunked::default()).whole_in(b"1\r\na\r\n"),
            None
        );
    }
}

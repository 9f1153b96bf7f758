//! Read buffers kept by each thread between requests, so that a request does not allocate
//! and free its two buffers (the client's head, 4 KiB; the server's answer, 8 KiB).
//!
//! An idle client connection holds no buffer (see the crate's h1 module); before this, each
//! request allocated both and freed them after its answer. At tens of thousands of requests
//! a second that churn reached past the allocator's per-thread cache into its arenas (a
//! slab taken and given back every few requests). Here a finished request gives its
//! buffers back to its thread's spares, and the next request on that thread takes them:
//! like HAProxy's buffer pools, with at most [`KEEP`] of each size kept per thread (at most
//! 384 KiB per worker thread when the proxy is idle).

use std::cell::RefCell;

use bytes::BytesMut;

/// Spare buffers kept per thread and size.
const KEEP: usize = 32;

/// The size of a client's read buffer for request heads.
pub(super) const HEAD_SIZE: usize = 4096;

thread_local! {
    static HEADS: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    static ANSWERS: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// Which spares: the buffer's size.
#[derive(Debug, Clone, Copy)]
pub(super) enum Spare {
    /// [`HEAD_SIZE`]: request heads.
    Head,
    /// [`relay::READ_SIZE`](super::relay::READ_SIZE): answers.
    Answer,
}

impl Spare {
    fn size(self) -> usize {
        match self {
            Spare::Head => HEAD_SIZE,
            Spare::Answer => super::relay::READ_SIZE,
        }
    }

    /// `f` on this thread's spares of the size; None while the thread exits.
    fn with<R>(self, f: impl FnOnce(&mut Vec<BytesMut>) -> R) -> Option<R> {
        let list = match self {
            Spare::Head => &HEADS,
            Spare::Answer => &ANSWERS,
        };
        list.try_with(|list| f(&mut list.borrow_mut())).ok()
    }

    /// An empty buffer with room for at least the size, a spare one when there is.
    pub(super) fn take(self) -> BytesMut {
        let size = self.size();
        self.with(Vec::pop)
            .flatten()
            .unwrap_or_else(|| BytesMut::with_capacity(size))
    }

    /// Keeps `buf` for another request: emptied, when no other handle shares its memory and
    /// fewer than [`KEEP`] are kept already; otherwise it is freed.
    pub(super) fn give(self, mut buf: BytesMut) {
        buf.clear();
        let size = self.size();
        if buf.capacity() == 0 || !buf.try_reclaim(size) || buf.capacity() > 2 * size {
            return;
        }
        self.with(|list| {
            if list.len() < KEEP {
                list.push(buf);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_empty_and_whole() {
        let mut buf = Spare::Head.take();
        assert!(buf.capacity() >= HEAD_SIZE);
        buf.extend_from_slice(b"GET / HTTP/1.1\r\n\r\nrest");
        let head = buf.split_to(18);
        let address = head.as_ptr();
        drop(head);
        Spare::Head.give(buf);
        let again = Spare::Head.take();
        assert!(again.is_empty());
        assert!(again.capacity() >= HEAD_SIZE);
        assert_eq!(again.as_ptr(), address, "the same memory, from its start");
    }

    #[test]
    fn a_shared_buffer_is_not_kept() {
        let mut buf = Spare::Answer.take();
        buf.extend_from_slice(b"answer");
        let other = buf.split_to(3);
        Spare::Answer.give(buf);
        let taken = Spare::Answer.take();
        assert_ne!(taken.as_ptr(), other.as_ptr());
    }
}

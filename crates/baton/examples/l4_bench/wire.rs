//! The tiny protocol between the client and the apps: fixed-size messages, so that neither
//! side parses anything and the figures are the network path's.
//!
//! A request is [`REQUEST_LEN`] bytes; its first byte says whether the app closes the
//! connection after answering ([`CLOSE`], a new connection per request) or waits for the
//! next request ([`KEEP`]). An answer is [`ANSWER_LEN`] bytes; its first byte is the app's
//! number (`b'1'`, `b'2'`), so that the client sees how requests were spread.
//!
//! The app closes first on a one-shot connection, as an HTTP/1.0 server does: the
//! TIME_WAIT state then stays with the app's listening port, and the client (and HAProxy's
//! server side) never run out of source ports however long the run.

pub(crate) const REQUEST_LEN: usize = 16;
pub(crate) const ANSWER_LEN: usize = 64;
pub(crate) const CLOSE: u8 = b'C';
pub(crate) const KEEP: u8 = b'K';
/// The port of the service and of the apps (the same: DR cannot change the port).
pub(crate) const PORT: u16 = 8080;

/// A request of kind `first` ([`CLOSE`] or [`KEEP`]).
pub(crate) fn request(first: u8) -> [u8; REQUEST_LEN] {
    let mut request = [b'.'; REQUEST_LEN];
    request[0] = first;
    request[REQUEST_LEN - 1] = b'\n';
    request
}

/// App `n`'s answer.
pub(crate) fn answer(n: u8) -> [u8; ANSWER_LEN] {
    let mut answer = [b'-'; ANSWER_LEN];
    answer[0] = b'0' + n;
    answer[ANSWER_LEN - 1] = b'\n';
    answer
}

//! What one probe found: up (with what weight), or down and why.

use std::io;
use std::time::Duration;

use crate::tls_error::TlsClientError;

/// The result of one probe.
#[derive(Debug)]
pub enum Outcome {
    /// The server passed; the weight is what the check says it should carry.
    Up(Weight),
    /// The server failed the check.
    Down(Failure),
}

impl Outcome {
    /// An up outcome that leaves the server's weight as configured.
    pub const UP: Outcome = Outcome::Up(Weight::Configured);

    /// True for [`Outcome::Up`].
    pub fn is_up(&self) -> bool {
        matches!(self, Outcome::Up(_))
    }
}

/// The weight a passing check gives its server.
///
/// Two checkers change it, in different ways: MISC_CHECK with `misc_dynamic` sets it
/// (exit code 2 + w sets weight w), FILE_CHECK with a `weight` adds the file's value times
/// that weight to the configured one. keepalived keeps each as an offset from the configured
/// weight and adds up the offsets of a real server's checkers ([`Weight::offset`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Weight {
    /// The configured weight, unchanged.
    #[default]
    Configured,
    /// This weight, whatever is configured.
    Set(u32),
    /// The configured weight plus this (can be negative).
    Offset(i32),
}

impl Weight {
    /// This checker's change to a server configured with weight `configured`.
    pub fn offset(self, configured: u32) -> i64 {
        match self {
            Weight::Configured => 0,
            Weight::Set(weight) => i64::from(weight) - i64::from(configured),
            Weight::Offset(offset) => i64::from(offset),
        }
    }

    /// The weight a server configured with `configured` gets from this checker alone,
    /// held within IPVS's range (0 to `i32::MAX`) as keepalived's `real_weight()` does.
    pub fn apply(self, configured: u32) -> u32 {
        let weight = i64::from(configured) + self.offset(configured);
        // Within 0..=i32::MAX, so the conversion cannot fail.
        u32::try_from(weight.clamp(0, i64::from(i32::MAX))).unwrap_or(0)
    }
}

/// Why a probe failed; its `Display` is the reason shown in logs and `baton status`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// No answer (or not the whole answer) within the probe's timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The probe's socket could not be set up (`bindto`, `bind_if`, `fwmark`).
    #[error("cannot set up the probe's socket: {0}")]
    Socket(io::Error),
    /// The connection could not be made (refused, unreachable).
    #[error("connect failed: {0}")]
    Connect(io::Error),
    /// The connection broke while talking to the server.
    #[error("connection broke: {0}")]
    Io(io::Error),
    /// The TLS handshake failed.
    #[error("TLS handshake failed: {0}")]
    Tls(io::Error),
    /// SSL_GET's client certificate, key or CA file (the `SSL` block) cannot be used.
    #[error("cannot use the SSL block's files: {0}")]
    TlsClient(TlsClientError),
    /// The server closed the connection before answering.
    #[error("closed without answering")]
    Closed,
    /// The answer is not what the protocol says it should look like.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
    /// The configured check cannot be sent (a path with spaces, an empty command, ...).
    #[error("cannot send the check: {0}")]
    BadCheck(&'static str),
    /// One url of an HTTP check failed.
    #[error("{path}: {failure}")]
    Url { path: String, failure: Box<Failure> },
    /// The HTTP status is not one the url expects.
    #[error("status {0}")]
    Status(u16),
    /// The MD5 of the body is not the url's `digest`.
    #[error("digest mismatch: the body's MD5 is {0}")]
    Digest(String),
    /// The body is longer than the checker reads.
    #[error("body longer than {0} bytes")]
    BodyTooLong(u64),
    /// The MISC_CHECK program could not be started.
    #[error("cannot run the program: {0}")]
    Spawn(io::Error),
    /// The MISC_CHECK program exited with a failing code.
    #[error("exit code {0}")]
    Exit(i32),
    /// The MISC_CHECK program was killed by a signal.
    #[error("killed by signal {0}")]
    Signal(i32),
    /// An SMTP reply was not the expected one.
    #[error("SMTP {stage}: {reply:?}")]
    Smtp { stage: &'static str, reply: String },
    /// The DNS server answered with an error code.
    #[error("DNS RCODE {0}")]
    Rcode(u8),
    /// A UDP datagram was answered by ICMP port unreachable.
    #[error("ICMP port unreachable")]
    PortUnreachable,
    /// An ICMP error other than port unreachable came back (host or network unreachable,
    /// or a filter's administrative prohibition).
    #[error("unreachable: {0}")]
    Unreachable(io::Error),
    /// The UDP reply does not match `require_reply`.
    #[error("reply of {0} bytes does not match")]
    ReplyMismatch(usize),
    /// The tracked file's value means down.
    #[error("file value {0}")]
    FileValue(i64),
    /// The tracked file does not hold a number keepalived would accept.
    #[error("file value {0:?} is not a 32-bit number")]
    BadFileValue(String),
}

impl Failure {
    /// True when the probe could not run for want of this host's own resources (file
    /// descriptors, socket buffers, memory): it says nothing of the server. Counted as a
    /// failure, a connection flood that exhausts the daemon's descriptors would take every
    /// server down at once, and with `track_frontend` or `track_virtual_server` give the
    /// VIP away from a master whose servers are all fine.
    pub fn is_local_shortage(&self) -> bool {
        match self {
            Failure::Socket(error) | Failure::Connect(error) | Failure::Spawn(error) => {
                is_shortage(error)
            }
            Failure::Url { failure, .. } => failure.is_local_shortage(),
            _ => false,
        }
    }

    /// Tags a failure with the url it happened on.
    pub(crate) fn on_url(self, path: &str) -> Failure {
        Failure::Url {
            path: path.to_owned(),
            failure: Box::new(self),
        }
    }
}

/// EMFILE, ENFILE, ENOBUFS or ENOMEM.
fn is_shortage(error: &io::Error) -> bool {
    use nix::errno::Errno;
    let shortages = [Errno::EMFILE, Errno::ENFILE, Errno::ENOBUFS, Errno::ENOMEM];
    error
        .raw_os_error()
        .is_some_and(|code| shortages.iter().any(|errno| *errno as i32 == code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_become_offsets_and_stay_in_ipvs_range() {
        assert_eq!(Weight::Configured.apply(5), 5);
        assert_eq!(Weight::Set(8).offset(5), 3);
        assert_eq!(Weight::Set(8).apply(5), 8);
        assert_eq!(Weight::Offset(-3).apply(5), 2);
        assert_eq!(Weight::Offset(-30).apply(5), 0);
        assert_eq!(Weight::Offset(i32::MAX).apply(u32::MAX), i32::MAX as u32);
    }

    #[test]
    fn failures_say_why() {
        let failure = Failure::Status(503).on_url("/health");
        assert_eq!(failure.to_string(), "/health: status 503");
        assert_eq!(Failure::Exit(1).to_string(), "exit code 1");
    }
}

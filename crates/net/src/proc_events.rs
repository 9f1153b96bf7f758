//! The kernel's process events connector (NETLINK_CONNECTOR, CN_IDX_PROC): fork, exec,
//! comm change and exit of every process on the host, for keepalived's `track_process`.
//!
//! The connector exists only in the initial network namespace: a socket made in another
//! namespace binds, but the subscription (PROC_CN_MCAST_LISTEN) is refused with
//! ECONNREFUSED. keepalived opens its socket before it enters its `net_namespace`; baton,
//! started inside a namespace, makes the socket from a short-lived thread that enters the
//! initial namespace (which needs CAP_SYS_ADMIN) and then leaves it. Subscribing needs
//! CAP_NET_ADMIN, and the kernel only answers callers in the initial user and PID
//! namespaces; [`ProcEvents::open`] waits for the kernel's acknowledgement so that a
//! subscription that will never deliver anything is an error, not silence.

use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::socket::NetlinkAddr;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::error::{Error, io_error, netlink_failed};
use crate::sys;

/// `struct nlmsghdr`: 16 bytes.
const NLMSG_HEADER: usize = 16;
/// `struct cn_msg` without its data: 20 bytes.
const CN_HEADER: usize = 20;
/// `struct proc_event` up to its `event_data`: what, cpu, timestamp_ns.
const EVENT_HEADER: usize = 16;
/// Where `event_data` starts in a datagram.
const EVENT_DATA: usize = NLMSG_HEADER + CN_HEADER + EVENT_HEADER;

const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_FORK: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
const PROC_EVENT_COMM: u32 = 0x200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

/// How long [`ProcEvents::open`] waits for the kernel to acknowledge the subscription.
const ACK_WAIT: Duration = Duration::from_secs(1);

/// One event of the connector that process tracking uses. Pids are the kernel's: `pid` is
/// the thread, `tgid` the process; for a whole process the two are equal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcEvent {
    /// The kernel's answer to the subscription.
    Ack,
    Fork {
        parent_tgid: u32,
        child_pid: u32,
        child_tgid: u32,
    },
    Exec {
        pid: u32,
        tgid: u32,
    },
    /// The process (or thread) renamed itself (`prctl(PR_SET_NAME)`).
    Comm {
        pid: u32,
        tgid: u32,
        comm: String,
    },
    Exit {
        pid: u32,
        tgid: u32,
    },
    /// The receive queue overflowed (ENOBUFS): events were lost, the caller must rescan.
    Lost,
}

/// Why a datagram is not a process event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("{len} bytes is shorter than a process event header")]
    Short { len: usize },
    #[error("netlink length {declared} does not fit in the {len} bytes received")]
    Length { declared: usize, len: usize },
    #[error("{what:#x} event of {len} bytes is shorter than its data")]
    ShortData { what: u32, len: usize },
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_ne_bytes(word)
}

/// Decodes one datagram of the connector. `Ok(None)`: a netlink control message, another
/// connector's message, or an event process tracking does not use (uid, gid, sid, ptrace,
/// coredump). The kernel sends one event per datagram (keepalived's `handle_proc_ev`
/// explains why it cannot chain them), and in host byte order.
pub fn decode(bytes: &[u8]) -> Result<Option<ProcEvent>, DecodeError> {
    if bytes.len() < NLMSG_HEADER {
        return Err(DecodeError::Short { len: bytes.len() });
    }
    let declared = u32_at(bytes, 0) as usize;
    if declared < NLMSG_HEADER || declared > bytes.len() {
        return Err(DecodeError::Length {
            declared,
            len: bytes.len(),
        });
    }
    let bytes = &bytes[..declared];
    let kind = u16::from_ne_bytes([bytes[4], bytes[5]]);
    if kind == NLMSG_NOOP || kind == NLMSG_ERROR {
        return Ok(None);
    }
    if bytes.len() < EVENT_DATA {
        return Err(DecodeError::Short { len: bytes.len() });
    }
    let idx = u32_at(bytes, NLMSG_HEADER);
    let val = u32_at(bytes, NLMSG_HEADER + 4);
    if idx != CN_IDX_PROC || val != CN_VAL_PROC {
        return Ok(None);
    }
    let ack = u32_at(bytes, NLMSG_HEADER + 12);
    let what = u32_at(bytes, NLMSG_HEADER + CN_HEADER);
    // keepalived: "PROC_EVENT_NONE is an ack, otherwise not an ack".
    if (what == PROC_EVENT_NONE) != (ack != 0) {
        return Ok(None);
    }
    let data = &bytes[EVENT_DATA..];
    let need = match what {
        PROC_EVENT_NONE => 0,
        PROC_EVENT_FORK => 16,
        PROC_EVENT_COMM => 24,
        PROC_EVENT_EXEC | PROC_EVENT_EXIT => 8,
        _ => return Ok(None),
    };
    if data.len() < need {
        return Err(DecodeError::ShortData {
            what,
            len: bytes.len(),
        });
    }
    let word = |i: usize| u32_at(data, 4 * i);
    Ok(Some(match what {
        PROC_EVENT_NONE => ProcEvent::Ack,
        PROC_EVENT_FORK => ProcEvent::Fork {
            parent_tgid: word(1),
            child_pid: word(2),
            child_tgid: word(3),
        },
        PROC_EVENT_EXEC => ProcEvent::Exec {
            pid: word(0),
            tgid: word(1),
        },
        PROC_EVENT_COMM => {
            let comm = &data[8..24];
            let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
            ProcEvent::Comm {
                pid: word(0),
                tgid: word(1),
                comm: String::from_utf8_lossy(&comm[..end]).into_owned(),
            }
        }
        _ => ProcEvent::Exit {
            pid: word(0),
            tgid: word(1),
        },
    }))
}

/// The subscription message: nlmsghdr, cn_msg, and the operation.
fn listen_message() -> Vec<u8> {
    let total = NLMSG_HEADER + CN_HEADER + 4;
    let mut message = Vec::with_capacity(total);
    message.extend_from_slice(&(total as u32).to_ne_bytes());
    message.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    message.extend_from_slice(&0u16.to_ne_bytes()); // flags
    message.extend_from_slice(&0u32.to_ne_bytes()); // seq
    message.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel's
    message.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    message.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes()); // seq
    message.extend_from_slice(&0u32.to_ne_bytes()); // ack
    message.extend_from_slice(&4u16.to_ne_bytes()); // len
    message.extend_from_slice(&0u16.to_ne_bytes()); // flags
    message.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    message
}

/// A socket of the calling thread's network namespace, bound to the process events group
/// and subscribed.
fn subscribe() -> Result<Socket, Error> {
    let socket = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::DGRAM,
        Some(Protocol::from(libc::NETLINK_CONNECTOR)),
    )
    .map_err(netlink_failed(
        "opening the process events connector (is CONFIG_PROC_EVENTS set?)",
    ))?;
    nix::sys::socket::bind(socket.as_raw_fd(), &NetlinkAddr::new(0, CN_IDX_PROC))
        .map_err(io_error)
        .map_err(netlink_failed(
            "joining the process events group (needs CAP_NET_ADMIN)",
        ))?;
    socket
        .send(&listen_message())
        .map_err(netlink_failed("subscribing to process events"))?;
    Ok(socket)
}

/// The initial network namespace: init's, else kthreadd's (kernel threads live in the
/// initial namespaces, and their `ns` links stay readable where init's are not, as under a
/// supervisor that is not dumpable).
fn initial_namespace() -> Result<std::fs::File, Error> {
    let init = std::fs::File::open("/proc/1/ns/net");
    let kthreadd = || {
        let comm = std::fs::read_to_string("/proc/2/comm")?;
        if comm.trim_end() != "kthreadd" {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        std::fs::File::open("/proc/2/ns/net")
    };
    match init {
        Ok(file) => Ok(file),
        Err(error) => kthreadd().map_err(|_| error),
    }
    .map_err(netlink_failed(
        "opening the initial network namespace (/proc/1/ns/net)",
    ))
}

/// [`subscribe`] from a thread that enters the initial network namespace for the time it
/// takes; the socket stays there when the thread leaves.
fn subscribe_in_initial_namespace() -> Result<Socket, Error> {
    use nix::sched::{CloneFlags, setns};
    let worker = std::thread::spawn(|| -> Result<Socket, Error> {
        let own = std::fs::File::open("/proc/thread-self/ns/net")
            .map_err(netlink_failed("opening this thread's network namespace"))?;
        let initial = initial_namespace()?;
        setns(&initial, CloneFlags::CLONE_NEWNET)
            .map_err(io_error)
            .map_err(netlink_failed(
                "entering the initial network namespace (needs CAP_SYS_ADMIN)",
            ))?;
        let socket = subscribe();
        // The thread ends here either way; going back is only tidiness.
        let _ = setns(&own, CloneFlags::CLONE_NEWNET);
        socket
    });
    worker.join().unwrap_or_else(|_| {
        Err(Error::Netlink {
            operation: "subscribing to process events",
            source: io::Error::other("the thread panicked"),
        })
    })
}

/// Waits (blocking, at most [`ACK_WAIT`]) for the kernel's acknowledgement.
fn await_ack(socket: &Socket) -> Result<(), Error> {
    let deadline = Instant::now() + ACK_WAIT;
    let mut buffer = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Netlink {
                operation: "subscribing to process events",
                source: io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the kernel did not acknowledge (not in the initial user and PID namespaces?)",
                ),
            });
        }
        socket.set_read_timeout(Some(left)).map_err(netlink_failed(
            "waiting for the process events acknowledgement",
        ))?;
        let (len, _) = nix::sys::socket::recvfrom::<NetlinkAddr>(socket.as_raw_fd(), &mut buffer)
            .map_err(io_error)
            .map_err(netlink_failed(
                "waiting for the process events acknowledgement",
            ))?;
        if let Ok(Some(ProcEvent::Ack)) = decode(&buffer[..len]) {
            return Ok(());
        }
    }
}

/// A subscription to the kernel's process events.
#[derive(Debug)]
pub struct ProcEvents {
    socket: AsyncFd<Socket>,
    buffer: Vec<u8>,
}

impl ProcEvents {
    /// Subscribes, from the initial network namespace when the caller's has no connector,
    /// and waits for the kernel's acknowledgement. Must be called from within a tokio
    /// runtime with I/O enabled. Events of processes that start after it returns are
    /// delivered; scan `/proc` after it for those already running.
    pub fn open() -> Result<ProcEvents, Error> {
        let socket = match subscribe() {
            Err(Error::Netlink { source, .. })
                if source.raw_os_error() == Some(libc::ECONNREFUSED) =>
            {
                subscribe_in_initial_namespace()?
            }
            other => other?,
        };
        await_ack(&socket)?;
        socket
            .set_nonblocking(true)
            .map_err(netlink_failed("subscribing to process events"))?;
        let socket = sys::register(socket, Interest::READABLE)
            .map_err(netlink_failed("registering the process events socket"))?;
        Ok(ProcEvents {
            socket,
            buffer: vec![0; 1024],
        })
    }

    /// Asks for a receive buffer of `bytes` (keepalived's `process_monitor_rcv_bufs`);
    /// `force` goes beyond net.core.rmem_max (SO_RCVBUFFORCE, needs CAP_NET_ADMIN).
    pub fn set_receive_buffer(&self, bytes: usize, force: bool) -> Result<(), Error> {
        use nix::sys::socket::{setsockopt, sockopt};
        let socket = self.socket.get_ref();
        let result = if force {
            setsockopt(socket, sockopt::RcvBufForce, &bytes)
        } else {
            setsockopt(socket, sockopt::RcvBuf, &bytes)
        };
        result
            .map_err(io_error)
            .map_err(netlink_failed("setting the process events receive buffer"))
    }

    /// The next event. Datagrams from anyone but the kernel, and those [`decode`] skips or
    /// refuses, are passed over.
    pub async fn next(&mut self) -> Result<ProcEvent, Error> {
        loop {
            let mut guard = self
                .socket
                .readable()
                .await
                .map_err(netlink_failed("waiting for process events"))?;
            let buffer = &mut self.buffer;
            let received = guard.try_io(|socket| {
                nix::sys::socket::recvfrom::<NetlinkAddr>(socket.as_raw_fd(), buffer)
                    .map_err(io_error)
            });
            let (len, from) = match received {
                Err(_would_block) => continue,
                Ok(Err(error)) if error.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Ok(ProcEvent::Lost);
                }
                Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(error)) => return Err(netlink_failed("receiving process events")(error)),
                Ok(Ok(received)) => received,
            };
            if from.is_none_or(|address| address.pid() != 0) {
                continue;
            }
            if let Ok(Some(event)) = decode(&self.buffer[..len]) {
                return Ok(event);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(what: u32, ack: u32, data: &[u8]) -> Vec<u8> {
        let total = EVENT_DATA + data.len();
        let mut d = Vec::new();
        d.extend_from_slice(&(total as u32).to_ne_bytes());
        d.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        d.extend_from_slice(&[0; 10]);
        d.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
        d.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
        d.extend_from_slice(&7u32.to_ne_bytes());
        d.extend_from_slice(&ack.to_ne_bytes());
        d.extend_from_slice(&((EVENT_HEADER + data.len()) as u16).to_ne_bytes());
        d.extend_from_slice(&0u16.to_ne_bytes());
        d.extend_from_slice(&what.to_ne_bytes());
        d.extend_from_slice(&[0; 12]); // cpu, timestamp
        d.extend_from_slice(data);
        d
    }

    fn words(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_ne_bytes()).collect()
    }

    #[test]
    fn events_decode_as_the_kernel_lays_them_out() {
        let fork = datagram(PROC_EVENT_FORK, 0, &words(&[10, 10, 11, 11]));
        assert_eq!(
            decode(&fork),
            Ok(Some(ProcEvent::Fork {
                parent_tgid: 10,
                child_pid: 11,
                child_tgid: 11
            }))
        );
        let exec = datagram(PROC_EVENT_EXEC, 0, &words(&[12, 12]));
        assert_eq!(
            decode(&exec),
            Ok(Some(ProcEvent::Exec { pid: 12, tgid: 12 }))
        );
        let exit = datagram(PROC_EVENT_EXIT, 0, &words(&[13, 12, 0, 17, 1, 1]));
        assert_eq!(
            decode(&exit),
            Ok(Some(ProcEvent::Exit { pid: 13, tgid: 12 }))
        );
        let mut comm = words(&[14, 14]);
        comm.extend_from_slice(b"Web Content\0\0\0\0\0");
        assert_eq!(
            decode(&datagram(PROC_EVENT_COMM, 0, &comm)),
            Ok(Some(ProcEvent::Comm {
                pid: 14,
                tgid: 14,
                comm: "Web Content".into()
            }))
        );
        let ack = datagram(PROC_EVENT_NONE, 1, &words(&[0]));
        assert_eq!(decode(&ack), Ok(Some(ProcEvent::Ack)));
    }

    #[test]
    fn what_tracking_does_not_use_is_skipped_and_short_data_refused() {
        // An ack flag on a fork, or none on PROC_EVENT_NONE: keepalived skips both.
        assert_eq!(
            decode(&datagram(PROC_EVENT_FORK, 1, &words(&[1, 1, 2, 2]))),
            Ok(None)
        );
        assert_eq!(decode(&datagram(PROC_EVENT_NONE, 0, &[])), Ok(None));
        // A uid change.
        assert_eq!(decode(&datagram(4, 0, &words(&[1, 1, 0, 0]))), Ok(None));
        let mut other = datagram(PROC_EVENT_EXEC, 0, &words(&[1, 1]));
        other[NLMSG_HEADER] = 9;
        assert_eq!(decode(&other), Ok(None));
        assert!(matches!(
            decode(&datagram(PROC_EVENT_FORK, 0, &words(&[1]))),
            Err(DecodeError::ShortData { .. })
        ));
        assert!(matches!(decode(&[0; 8]), Err(DecodeError::Short { .. })));
        let mut lying = datagram(PROC_EVENT_EXEC, 0, &words(&[1, 1]));
        lying[0] = 200;
        assert!(matches!(decode(&lying), Err(DecodeError::Length { .. })));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let exec = datagram(PROC_EVENT_EXIT, 0, &words(&[1, 1]));
        for len in 0..=exec.len() {
            let _ = decode(&exec[..len]);
        }
    }
}

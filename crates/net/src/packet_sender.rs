//! The AF_PACKET socket gratuitous ARPs leave by: one per network namespace, opened on
//! first use and kept.
//!
//! Closing an AF_PACKET socket waits for an RCU grace period (packet_release calls
//! synchronize_net): milliseconds during which the closing thread stands still. With a
//! socket per ARP, a master announcing 100 addresses five times stalled the daemon's
//! protocol thread for seconds, long enough for its backups to take over. One socket is
//! never closed; it is unbound (protocol 0: the kernel queues nothing received on it) and
//! each frame names its interface, so every interface of the namespace shares it. Sockets
//! belong to the namespace they were opened in, so the socket is looked up by the calling
//! thread's namespace (a test process may move threads between namespaces).

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// How often a send finding the socket's buffer full waits [`FULL_PAUSE`] and tries again.
const FULL_RETRIES: u32 = 200;
const FULL_PAUSE: Duration = Duration::from_millis(1);

/// Sends `frame` to `destination` (a link-layer address naming the interface).
pub(crate) async fn send(frame: &[u8], destination: &SockAddr) -> io::Result<usize> {
    let socket = shared()?;
    let mut retries = 0;
    loop {
        match socket.send_to(frame, destination) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock && retries < FULL_RETRIES => {
                // A burst filled the send buffer: the device drains it within a moment.
                retries += 1;
                tokio::time::sleep(FULL_PAUSE).await;
            }
            other => return other,
        }
    }
}

/// The calling thread's namespace's socket.
fn shared() -> io::Result<Arc<Socket>> {
    static SOCKETS: Mutex<Option<HashMap<u64, Arc<Socket>>>> = Mutex::new(None);
    let namespace = std::fs::metadata("/proc/thread-self/ns/net")?.ino();
    let mut sockets = SOCKETS.lock().unwrap_or_else(|e| e.into_inner());
    let sockets = sockets.get_or_insert_with(HashMap::new);
    if let Some(socket) = sockets.get(&namespace) {
        return Ok(Arc::clone(socket));
    }
    let socket = Arc::new(Socket::new(
        Domain::PACKET,
        Type::RAW.nonblocking(),
        Some(Protocol::from(0)),
    )?);
    sockets.insert(namespace, Arc::clone(&socket));
    Ok(socket)
}

//! Connections still open on local addresses, read from the kernel's tables (/proc/net/tcp
//! and tcp6).
//!
//! Handshakes still open on a listener that is about to close: a connection whose SYN was
//! answered before the SYN gate closed completes when the client's ACK arrives; if the
//! listener is gone by then, the kernel answers that ACK with a reset and the client's
//! request fails. So the drain waits until no handshake to its listeners is half done
//! (SYN_RECV) before it closes them.
//!
//! Connections on a VIP about to go (`step_down`): its packets would find no address here
//! any more, so the address stays until no connection on it is open.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

/// /proc/net/tcp's code for SYN_RECV.
const SYN_RECV: &str = "03";

/// /proc/net/tcp's codes for the states in which a connection still exchanges packets with
/// its peer: ESTABLISHED, SYN_RECV, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING
/// (not LISTEN, TIME_WAIT or CLOSE).
const OPEN: [&str; 7] = ["01", "03", "04", "05", "08", "09", "0B"];

/// How often the tables are read while handshakes are open.
const POLL: Duration = Duration::from_millis(5);

/// How often the tables are read while connections are open: they last longer.
const CONNECTIONS_POLL: Duration = Duration::from_millis(50);

/// Waits until no handshake to `listeners` is half done, at most `limit` (a client whose
/// ACK was lost needs a retransmitted SYN-ACK, a second later: not worth holding the
/// drain for). How many were still open at the end, for the log.
pub(crate) async fn settle(listeners: &[SocketAddr], limit: Duration) -> usize {
    wait_for_none(listeners, &[SYN_RECV], POLL, limit).await
}

/// Waits until no connection whose local address is one of `local` is open, at most
/// `limit`. How many were still open at the end, for the log.
pub(crate) async fn connections_end(local: &[SocketAddr], limit: Duration) -> usize {
    wait_for_none(local, &OPEN, CONNECTIONS_POLL, limit).await
}

async fn wait_for_none(
    local: &[SocketAddr],
    states: &[&str],
    poll: Duration,
    limit: Duration,
) -> usize {
    // Nothing to wait for, and reading the tables walks the kernel's whole connection
    // hash (5-10 ms each on this 24 GiB VM): a SIGTERM without frontends would hand over
    // that much later.
    if local.is_empty() {
        return 0;
    }
    let until = Instant::now() + limit;
    loop {
        let open = in_states(local, states);
        if open == 0 || Instant::now() >= until {
            return open;
        }
        tokio::time::sleep(poll).await;
    }
}

/// Sockets in one of `states` on `listeners` in this network namespace.
fn in_states(listeners: &[SocketAddr], states: &[&str]) -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|table| count(&table, listeners, states))
        .sum()
}

/// Lines of a /proc/net/tcp table in one of `states` whose local address is one of
/// `listeners` (a wildcard listener matches its port on any address).
fn count(table: &str, listeners: &[SocketAddr], states: &[&str]) -> usize {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1)?;
            let state = fields.nth(1)?;
            states
                .contains(&state)
                .then(|| local_address(local))
                .flatten()
        })
        .filter(|local| {
            listeners.iter().any(|listener| {
                listener.port() == local.port()
                    && (listener.ip().is_unspecified() || listener.ip() == local.ip())
            })
        })
        .count()
}

/// `0100030A:0050`: the address as the kernel keeps it (32-bit words in host order), hex.
fn local_address(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match address.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(address)?.to_ne_bytes())),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(address.get(i * 8..i * 8 + 8)?)?.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn word(hex: &str) -> Option<u32> {
    u32::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 6403000A:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 6403000A:0050 0A03000A:C350 03 00000000:00000000 00:00000000 00000000     0        0 0 1 0 100 0 0 10 0
   2: 6403000A:0050 0B03000A:C351 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   3: 0C03000A:1F90 0A03000A:C352 03 00000000:00000000 00:00000000 00000000     0        0 0 1 0 100 0 0 10 0
";

    #[test]
    fn counts_half_done_handshakes_to_the_listeners_only() {
        if cfg!(target_endian = "big") {
            return;
        }
        let vip: SocketAddr = "10.0.3.100:80".parse().expect("address");
        assert_eq!(
            count(TABLE, &[vip], &[SYN_RECV]),
            1,
            "one SYN_RECV to the VIP"
        );
        let any: SocketAddr = "0.0.0.0:8080".parse().expect("address");
        assert_eq!(
            count(TABLE, &[any], &[SYN_RECV]),
            1,
            "a wildcard listener matches its port"
        );
        let other: SocketAddr = "10.0.3.100:443".parse().expect("address");
        assert_eq!(count(TABLE, &[other], &[SYN_RECV]), 0);
    }

    #[test]
    fn open_connections_are_those_that_still_exchange_packets() {
        if cfg!(target_endian = "big") {
            return;
        }
        let vip: SocketAddr = "10.0.3.100:80".parse().expect("address");
        // The listener (0A) is not a connection; SYN_RECV (03) and ESTABLISHED (01) are.
        assert_eq!(count(TABLE, &[vip], &OPEN), 2);
        let time_wait = TABLE.replace(" 01 0000", " 06 0000");
        assert_eq!(count(&time_wait, &[vip], &OPEN), 1, "TIME_WAIT is over");
    }

    #[test]
    fn reads_ipv6_addresses() {
        if cfg!(target_endian = "big") {
            return;
        }
        let local = local_address("B80D0120000000000000000001000000:01BB").expect("valid");
        assert_eq!(local, "[2001:db8::1]:443".parse().expect("address"));
    }

    #[tokio::test]
    async fn nothing_open_settles_at_once() {
        let listener: SocketAddr = "127.0.0.1:9".parse().expect("address");
        assert_eq!(settle(&[listener], Duration::from_secs(5)).await, 0);
    }
}

//! Handshakes still open on a listener that is about to close. A connection whose SYN was
//! answered before the SYN gate closed completes when the client's ACK arrives; if the
//! listener is gone by then, the kernel answers that ACK with a reset and the client's
//! request fails. So the drain waits until no handshake to its listeners is half done
//! (the kernel lists them as SYN_RECV in /proc/net/tcp and tcp6) before it closes them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

/// /proc/net/tcp's code for SYN_RECV.
const SYN_RECV: &str = "03";

/// How often the tables are read while handshakes are open.
const POLL: Duration = Duration::from_millis(5);

/// Waits until no handshake to `listeners` is half done, at most `limit` (a client whose
/// ACK was lost needs a retransmitted SYN-ACK, a second later: not worth holding the
/// drain for). How many were still open at the end, for the log.
pub(crate) async fn settle(listeners: &[SocketAddr], limit: Duration) -> usize {
    let until = Instant::now() + limit;
    loop {
        let open = half_open(listeners);
        if open == 0 || Instant::now() >= until {
            return open;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Half-done handshakes to `listeners` in this network namespace.
fn half_open(listeners: &[SocketAddr]) -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|table| count(&table, listeners))
        .sum()
}

/// Lines of a /proc/net/tcp table in SYN_RECV whose local address is one of `listeners`
/// (a wildcard listener matches its port on any address).
fn count(table: &str, listeners: &[SocketAddr]) -> usize {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1)?;
            let state = fields.nth(1)?;
            (state == SYN_RECV).then(|| local_address(local)).flatten()
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
        assert_eq!(count(TABLE, &[vip]), 1, "one SYN_RECV to the VIP");
        let any: SocketAddr = "0.0.0.0:8080".parse().expect("address");
        assert_eq!(
            count(TABLE, &[any]),
            1,
            "a wildcard listener matches its port"
        );
        let other: SocketAddr = "10.0.3.100:443".parse().expect("address");
        assert_eq!(count(TABLE, &[other]), 0);
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

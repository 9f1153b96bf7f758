//! UDP_CHECK: a datagram is sent; an ICMP error fails the check, and so does silence or a
//! reply that does not match when a reply is required.

use super::socket;
use super::{Probe, ReplyPattern, UdpCheck};
use crate::outcome::{Failure, Outcome};

/// keepalived's payload when none is configured: 32 bytes of its marker (layer4.c).
const DEFAULT_PAYLOAD: &[u8; 32] = b"keepalived check - keepalived ch";
/// The largest UDP payload; longer replies cannot arrive.
const MAX_DATAGRAM: usize = 65_535;

pub(super) async fn probe(probe: &Probe, check: &UdpCheck) -> Result<Outcome, Failure> {
    let payload = if check.payload.is_empty() {
        &DEFAULT_PAYLOAD[..]
    } else {
        &check.payload[..]
    };
    // One byte more than the longest acceptable reply, so that a longer one shows.
    let longest = check
        .require_reply
        .as_ref()
        .map_or(0, |pattern| *pattern.len.end());
    let mut buf = vec![0u8; longest.saturating_add(1).clamp(1, MAX_DATAGRAM)];
    let exchange = async {
        let socket = socket::udp(probe).await?;
        socket
            .send(payload)
            .await
            .map_err(socket::datagram_failure)?;
        socket
            .recv(&mut buf)
            .await
            .map_err(socket::datagram_failure)
    };
    match (
        tokio::time::timeout(probe.timeout, exchange).await,
        &check.require_reply,
    ) {
        // keepalived: silence passes unless a reply is required (check_udp.c).
        (Err(_), None) => Ok(Outcome::UP),
        (Err(_), Some(_)) => Err(Failure::Timeout(probe.timeout)),
        (Ok(Err(failure)), _) => Err(failure),
        (Ok(Ok(_)), None) => Ok(Outcome::UP),
        (Ok(Ok(n)), Some(pattern)) if matches(pattern, &buf[..n]) => Ok(Outcome::UP),
        (Ok(Ok(n)), Some(_)) => Err(Failure::ReplyMismatch(n)),
    }
}

/// keepalived's check_udp_reply(): the length is within bounds and the bytes both have
/// agree, except for masked bits.
fn matches(pattern: &ReplyPattern, reply: &[u8]) -> bool {
    pattern.len.contains(&reply.len())
        && reply
            .iter()
            .zip(&pattern.data)
            .enumerate()
            .all(|(i, (got, want))| {
                let ignored = pattern.mask.get(i).copied().unwrap_or(0);
                (got ^ want) & !ignored == 0
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_patterns() {
        let any = ReplyPattern::any();
        assert!(matches(&any, b""));
        assert!(matches(&any, &[7; 255]));
        assert!(!matches(&any, &[7; 256]));

        let mut pattern = ReplyPattern::starting_with(vec![0xab, 0x12, 0x0f]);
        assert!(matches(&pattern, &[0xab, 0x12, 0x0f, 0x99]));
        assert!(
            matches(&pattern, &[0xab]),
            "only what both have is compared"
        );
        assert!(!matches(&pattern, &[0xab, 0x13]));
        pattern.mask = vec![0, 0x0f];
        assert!(
            matches(&pattern, &[0xab, 0x1e]),
            "the low nibble is ignored"
        );
        assert!(!matches(&pattern, &[0xab, 0x22]));
        pattern.len = 2..=3;
        assert!(!matches(&pattern, &[0xab]));
        assert!(!matches(&pattern, &[0xab, 0x12, 0x0f, 0]));
    }
}

//! DNS_CHECK: a query over UDP is answered with RCODE NOERROR.
//!
//! Encoded by hand: the query is a 12-byte header and one question, and the answer is read
//! only for its id, QR bit and RCODE, as keepalived's check_dns.c does (it requires no
//! answer records). A DNS library would add more to build than this whole checker.

use super::Probe;
use super::socket;
use crate::outcome::{Failure, Outcome};

/// QCLASS IN.
const CLASS_IN: u16 = 1;
/// Header flags: RD (recursion desired), as keepalived sets.
const FLAG_RD: u16 = 0x0100;
/// keepalived's receive buffer; answers are read for their header only.
const BUFFER: usize = 768;

/// Sends one query and waits for its answer; other datagrams are skipped, as keepalived
/// does.
pub(super) async fn probe(probe: &Probe, qtype: u16, name: &str) -> Result<Outcome, Failure> {
    let id: u16 = rand::random();
    let query = encode_query(id, qtype, name)?;
    let socket = socket::udp(probe).await?;
    socket
        .send(&query)
        .await
        .map_err(socket::datagram_failure)?;
    let mut buf = [0u8; BUFFER];
    loop {
        let n = socket
            .recv(&mut buf)
            .await
            .map_err(socket::datagram_failure)?;
        match answer_rcode(&buf[..n], id) {
            Some(0) => return Ok(Outcome::UP),
            Some(rcode) => return Err(Failure::Rcode(rcode)),
            None => continue,
        }
    }
}

/// The query (RFC 1035 4.1):
///
/// ```text
///   ID | QR Opcode AA TC RD RA Z RCODE | QDCOUNT=1 | ANCOUNT=0 | NSCOUNT=0 | ARCOUNT=0
///   QNAME (length-prefixed labels, then 0) | QTYPE | QCLASS
/// ```
fn encode_query(id: u16, qtype: u16, name: &str) -> Result<Vec<u8>, Failure> {
    let mut query = Vec::with_capacity(12 + name.len() + 6);
    for field in [id, FLAG_RD, 1, 0, 0, 0] {
        query.extend_from_slice(&field.to_be_bytes());
    }
    // "" and "." are the root; a trailing dot ends a fully qualified name.
    let name = name.strip_suffix('.').unwrap_or(name);
    if !name.is_empty() {
        for label in name.split('.') {
            let len = u8::try_from(label.len())
                .ok()
                .filter(|len| (1..=63).contains(len))
                .ok_or(Failure::BadCheck("a DNS label must be 1 to 63 bytes"))?;
            query.push(len);
            query.extend_from_slice(label.as_bytes());
        }
    }
    query.push(0);
    if query.len() - 12 > 255 {
        return Err(Failure::BadCheck("a DNS name must be at most 255 bytes"));
    }
    query.extend_from_slice(&qtype.to_be_bytes());
    query.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(query)
}

/// The RCODE of `datagram` if it is the answer to query `id` (QR set), else None.
fn answer_rcode(datagram: &[u8], id: u16) -> Option<u8> {
    let header = datagram.get(..12)?;
    let flags = u16::from_be_bytes([header[2], header[3]]);
    let is_answer = flags & 0x8000 != 0;
    (u16::from_be_bytes([header[0], header[1]]) == id && is_answer).then_some(header[3] & 0x0f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        assert_eq!(
            encode_query(0x1234, 6, "").unwrap(),
            [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1]
        );
        assert_eq!(
            encode_query(1, 6, ".").unwrap(),
            encode_query(1, 6, "").unwrap()
        );
        let query = encode_query(1, 1, "www.example.").unwrap();
        assert_eq!(&query[12..], b"\x03www\x07example\x00\x00\x01\x00\x01");
        assert!(encode_query(1, 1, "a..b").is_err());
        assert!(encode_query(1, 1, &"a".repeat(64)).is_err());
        assert!(encode_query(1, 1, &["abcdefgh"; 40].join(".")).is_err());
    }

    #[test]
    fn answers() {
        let mut answer = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        assert_eq!(answer_rcode(&answer, 0x1234), Some(0));
        assert_eq!(answer_rcode(&answer, 0x1235), None);
        assert_eq!(answer_rcode(&answer[..11], 0x1234), None);
        answer[3] = 0x82;
        assert_eq!(answer_rcode(&answer, 0x1234), Some(2));
        answer[2] = 0x01;
        assert_eq!(
            answer_rcode(&answer, 0x1234),
            None,
            "a query, not an answer"
        );
    }
}

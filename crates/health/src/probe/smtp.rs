//! SMTP_CHECK: greeting 220, `HELO` answered 250, `QUIT` answered.

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use super::Probe;
use super::socket;
use crate::outcome::{Failure, Outcome};

/// Longest reply line read (RFC 5321 4.5.3.1.5 allows 512 octets).
const MAX_LINE: usize = 1024;

/// The conversation of keepalived's check_smtp.c.
pub(super) async fn probe(probe: &Probe, helo_name: &str) -> Result<Outcome, Failure> {
    if helo_name.is_empty() || !helo_name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Failure::BadCheck(
            "the HELO name must be visible ASCII without spaces",
        ));
    }
    let mut stream = BufReader::new(socket::tcp(probe).await?);
    expect(&mut stream, "greeting", 220).await?;
    send(&mut stream, &format!("HELO {helo_name}\r\n")).await?;
    expect(&mut stream, "HELO", 250).await?;
    send(&mut stream, "QUIT\r\n").await?;
    // keepalived waits for the QUIT's answer, whatever it says.
    reply(&mut stream).await?;
    Ok(Outcome::UP)
}

async fn send(stream: &mut BufReader<TcpStream>, line: &str) -> Result<(), Failure> {
    stream
        .get_mut()
        .write_all(line.as_bytes())
        .await
        .map_err(Failure::Io)
}

/// Reads a reply and fails unless its code is `code`.
async fn expect(
    stream: &mut BufReader<TcpStream>,
    stage: &'static str,
    code: u16,
) -> Result<(), Failure> {
    let (got, last) = reply(stream).await?;
    if got == Some(code) {
        Ok(())
    } else {
        Err(Failure::Smtp { stage, reply: last })
    }
}

/// One reply: its code, and its last line. A multiline reply (RFC 5321 4.2.1: `250-...`
/// lines, then `250 ...`) is read whole; keepalived reads only the first line and so
/// fails on servers that greet on several lines.
async fn reply(stream: &mut BufReader<TcpStream>) -> Result<(Option<u16>, String), Failure> {
    loop {
        let mut line = Vec::new();
        let n = (&mut *stream)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
            .map_err(Failure::Io)?;
        if n == 0 {
            return Err(Failure::Closed);
        }
        if !line.ends_with(b"\n") {
            return Err(Failure::Malformed("SMTP reply line too long"));
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        let code = text.get(..3).and_then(|code| code.parse::<u16>().ok());
        if text.as_bytes().get(3) == Some(&b'-') {
            continue;
        }
        return Ok((
            code.filter(|_| matches!(text.as_bytes().get(3), None | Some(b' '))),
            text,
        ));
    }
}

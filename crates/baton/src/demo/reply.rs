//! What the demo client reports about each request: one JSON line on its stdout, which
//! `baton demo` reads from the client's namespace.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// One request and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Reply {
    /// 1, 2, 3, ...: the order the requests were sent in.
    pub(crate) seq: u64,
    /// The host it was sent to (its URL's): the virtual address, when the client sends to
    /// several in turn (`baton demo --active-active`).
    pub(crate) to: String,
    /// When the request was sent, in microseconds since the Unix epoch. The wall clock is
    /// the one clock two processes can compare without a handshake; the demo runs for
    /// seconds, so a clock step in between is not worth guarding against.
    pub(crate) sent_us: u64,
    /// From sending to the whole answer, or to the failure.
    pub(crate) elapsed_us: u64,
    #[serde(flatten)]
    pub(crate) outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// 200, from the app `app`, whose connection came from `peer` (the proxying LB).
    Answered { app: String, peer: IpAddr },
    /// No connection, no answer in time, another status or an unexpected body.
    Failed { error: String },
}

impl Reply {
    /// The JSON line, without the newline.
    pub(crate) fn to_line(&self) -> String {
        // A struct of strings and integers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(crate) fn from_line(line: &str) -> Result<Reply, serde_json::Error> {
        serde_json::from_str(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let answered = Reply {
            seq: 7,
            to: "10.0.3.100".into(),
            sent_us: 1_700_000_000_123_456,
            elapsed_us: 1_234,
            outcome: Outcome::Answered {
                app: "app2".into(),
                peer: "10.0.3.6".parse().expect("ip"),
            },
        };
        let line = answered.to_line();
        assert_eq!(
            line,
            r#"{"seq":7,"to":"10.0.3.100","sent_us":1700000000123456,"elapsed_us":1234,"answered":{"app":"app2","peer":"10.0.3.6"}}"#
        );
        assert_eq!(Reply::from_line(&line).expect("parses"), answered);
        let failed = Reply {
            outcome: Outcome::Failed {
                error: "no answer within 1000 ms".into(),
            },
            ..answered
        };
        assert_eq!(Reply::from_line(&failed.to_line()).expect("parses"), failed);
        assert!(Reply::from_line("seq=1 ok").is_err());
    }
}

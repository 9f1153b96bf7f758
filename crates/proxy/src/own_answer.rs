//! The answers baton makes itself, no server's answer passed on: every one of them is
//! listed, worded and counted here, whichever path sends it. Each carries a `Date` field
//! (RFC 9110 6.6.1: an origin with a clock must send one, and clients and caches read it)
//! and a short plain-text body saying what happened; each is counted in
//! [`ConnectionCounters::answered_by_proxy`] when it is made.
//!
//! Two shapes: the bytes of an HTTP/1.1 answer, for this crate's own HTTP/1.1 path and for
//! answers sent before any protocol runs (a 408 to a slow head, a 503 to a connection over
//! the limit); and a hyper [`Response`] for hyper's path. The answers hyper makes itself
//! (400 to a malformed head, 431 to an oversized one) are hyper's and are not counted.

use std::borrow::Cow;
use std::io::Write as _;
use std::time::{Duration, SystemTime};

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::activity::InFlight;
use crate::metrics::ConnectionCounters;
use crate::response_body::{Done, ResponseBody};
use crate::stream::answer_and_close;
use crate::upstream::DownCounts;

/// One of baton's own answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnAnswer {
    /// 400: the Host field is missing, repeated, or not the target's host.
    BadHost,
    /// 400: a chunked request body broke its framing.
    MalformedBody,
    /// 400: the request's transfer codings do not end in chunked, or apply it twice: where
    /// its body ends cannot be known (RFC 9112 6.3).
    UnframedBody,
    /// 405: CONNECT, which a reverse proxy does not tunnel.
    NotATunnel,
    /// 408: part of a request head came, and the rest not in time.
    HeadTimeout,
    /// 408: the request body stopped coming (nginx's `client_body_timeout`).
    BodyTimeout,
    /// 502: the server failed, no other server was left to try, or this host is out of
    /// sockets or memory.
    BadGateway,
    /// 503: the configuration lists no server.
    NoServers,
    /// 503: every server is out of rotation, for the reasons counted.
    AllDown(DownCounts),
    /// 503: the connection is over a connection limit.
    TooManyConnections,
    /// 504: the server did not answer, or stopped taking the body, in time.
    GatewayTimeout,
    /// 501: the request body has a transfer coding other than chunked (RFC 9112 6.1).
    UnknownCoding,
}

impl OwnAnswer {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            OwnAnswer::BadHost | OwnAnswer::MalformedBody | OwnAnswer::UnframedBody => {
                StatusCode::BAD_REQUEST
            }
            OwnAnswer::NotATunnel => StatusCode::METHOD_NOT_ALLOWED,
            OwnAnswer::HeadTimeout | OwnAnswer::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            OwnAnswer::BadGateway => StatusCode::BAD_GATEWAY,
            OwnAnswer::NoServers | OwnAnswer::AllDown(_) | OwnAnswer::TooManyConnections => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            OwnAnswer::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            OwnAnswer::UnknownCoding => StatusCode::NOT_IMPLEMENTED,
        }
    }

    /// The body: one line for a person reading it in a terminal.
    pub(crate) fn text(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            OwnAnswer::BadHost => {
                "400 bad request: Host missing, repeated, or not the target's host\n"
            }
            OwnAnswer::MalformedBody => "400 bad request: malformed chunked body\n",
            OwnAnswer::UnframedBody => {
                "400 bad request: Transfer-Encoding must end in chunked, applied once\n"
            }
            OwnAnswer::NotATunnel => {
                "405 method not allowed: this is a reverse proxy, not a tunnel\n"
            }
            OwnAnswer::HeadTimeout => "request head not received in time\n",
            OwnAnswer::BodyTimeout => "408 request timeout: the request body stopped coming\n",
            OwnAnswer::BadGateway => "502 bad gateway: the server did not answer\n",
            OwnAnswer::NoServers => "503 service unavailable: no servers configured\n",
            OwnAnswer::AllDown(down) => return Cow::Owned(all_down(down)),
            OwnAnswer::TooManyConnections => "too many connections\n",
            OwnAnswer::GatewayTimeout => "504 gateway timeout: the server did not answer in time\n",
            OwnAnswer::UnknownCoding => {
                "501 not implemented: a request body with a transfer coding other than chunked\n"
            }
        })
    }

    /// True when the client's connection closes after this answer whatever else holds:
    /// what follows on it is suspect (a bad Host, a broken body), or it was never served.
    pub(crate) fn closes(&self) -> bool {
        matches!(
            self,
            OwnAnswer::BadHost
                | OwnAnswer::MalformedBody
                | OwnAnswer::UnframedBody
                | OwnAnswer::UnknownCoding
                | OwnAnswer::HeadTimeout
                | OwnAnswer::BodyTimeout
                | OwnAnswer::TooManyConnections
        )
    }

    /// Counts the answer and writes it as HTTP/1.1 bytes: with `connection: close` when
    /// `close` or [`OwnAnswer::closes`], without its body when answering a HEAD request.
    pub(crate) fn http1(&self, counters: &ConnectionCounters, close: bool, head: bool) -> Vec<u8> {
        counters.answered_by_proxy(self.status());
        let text = self.text();
        let mut answer = Vec::with_capacity(192 + text.len());
        // Writing to a Vec cannot fail.
        let _ = write!(
            answer,
            "HTTP/1.1 {}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\
             date: {}\r\n",
            self.status(),
            text.len(),
            httpdate::HttpDate::from(SystemTime::now()),
        );
        if *self == OwnAnswer::TooManyConnections {
            answer.extend_from_slice(b"retry-after: 1\r\n");
        }
        if close || self.closes() {
            answer.extend_from_slice(b"connection: close\r\n");
        }
        answer.extend_from_slice(b"\r\n");
        if !head {
            answer.extend_from_slice(text.as_bytes());
        }
        answer
    }

    /// Counts the answer and makes it a response for hyper to send, ending the request
    /// (`in_flight`) when its body is done. An answer that [`closes`](OwnAnswer::closes)
    /// says `Connection: close`, which makes hyper close an HTTP/1 connection after it;
    /// hyper drops the field from HTTP/2 answers, where the stream ends and the connection
    /// stays.
    pub(crate) fn response(
        &self,
        counters: &ConnectionCounters,
        in_flight: InFlight,
    ) -> Response<ResponseBody> {
        counters.answered_by_proxy(self.status());
        let text = match self.text() {
            Cow::Borrowed(text) => bytes::Bytes::from_static(text.as_bytes()),
            Cow::Owned(text) => bytes::Bytes::from(text),
        };
        let mut response = Response::new(ResponseBody::full(text, Done::new(in_flight, None)));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        let date = httpdate::fmt_http_date(SystemTime::now());
        if let Ok(date) = HeaderValue::from_str(&date) {
            headers.insert(header::DATE, date);
        }
        if self.closes() {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Sends `answer` on a connection no request will follow on, and closes it the way
/// [`answer_and_close`] does (lingering, so that the client reads the answer rather than a
/// reset), within a second.
pub(crate) async fn send_and_close<S>(
    stream: &mut S,
    answer: OwnAnswer,
    counters: &ConnectionCounters,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let bytes = answer.http1(counters, true, false);
    answer_and_close(stream, &bytes, Duration::from_secs(1)).await;
}

/// The 503 body when every server is out: how many, and why.
fn all_down(down: &DownCounts) -> String {
    let reasons: Vec<&str> = [
        (down.checked, "health checks"),
        (down.ejected, "ejected after failures"),
        (down.weight_zero, "weight 0"),
        (down.by_operator, "drained or in maintenance"),
    ]
    .into_iter()
    .filter(|&(count, _)| count > 0)
    .map(|(_, reason)| reason)
    .collect();
    let which = match down.total {
        1 => "the only server is".to_owned(),
        n => format!("all {n} servers are"),
    };
    if reasons.is_empty() {
        format!("503 service unavailable: {which} down\n")
    } else {
        format!(
            "503 service unavailable: {which} down ({})\n",
            reasons.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_KIND: [OwnAnswer; 12] = [
        OwnAnswer::BadHost,
        OwnAnswer::MalformedBody,
        OwnAnswer::UnframedBody,
        OwnAnswer::UnknownCoding,
        OwnAnswer::NotATunnel,
        OwnAnswer::HeadTimeout,
        OwnAnswer::BodyTimeout,
        OwnAnswer::BadGateway,
        OwnAnswer::NoServers,
        OwnAnswer::AllDown(DownCounts {
            total: 2,
            checked: 1,
            ejected: 1,
            weight_zero: 0,
            by_operator: 0,
        }),
        OwnAnswer::TooManyConnections,
        OwnAnswer::GatewayTimeout,
    ];

    /// The head's fields by lower-case name, and the body.
    fn split(answer: &[u8]) -> (String, Vec<(String, String)>, String) {
        let text = std::str::from_utf8(answer).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("a whole head");
        let mut lines = head.split("\r\n");
        let status = lines.next().expect("status line").to_owned();
        let fields = lines
            .map(|line| {
                let (name, value) = line.split_once(": ").expect("a field");
                (name.to_ascii_lowercase(), value.to_owned())
            })
            .collect();
        (status, fields, body.to_owned())
    }

    fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn every_answer_is_dated_framed_and_counted() {
        let counters = ConnectionCounters::default();
        for answer in EVERY_KIND {
            let bytes = answer.http1(&counters, false, false);
            let (status, fields, body) = split(&bytes);
            assert_eq!(
                status,
                format!("HTTP/1.1 {}", answer.status()),
                "{answer:?}"
            );
            assert_eq!(body, answer.text(), "{answer:?}");
            let length = field(&fields, "content-length").expect("content-length");
            assert_eq!(length, body.len().to_string(), "{answer:?}");
            let date = field(&fields, "date").expect("date");
            let parsed = httpdate::parse_http_date(date).expect("an HTTP date");
            let age = SystemTime::now().duration_since(parsed).expect("not ahead");
            assert!(age.as_secs() < 60, "{answer:?}: {date}");
            assert_eq!(
                field(&fields, "connection") == Some("close"),
                answer.closes(),
                "{answer:?}"
            );
        }
        // 400, 400, 400, 405, 408, 408; 501, 502, 503, 503, 503, 504.
        let metrics = counters.snapshot(Vec::new());
        assert_eq!(metrics.own_responses, [0, 0, 0, 6, 6]);
    }

    #[test]
    fn a_head_request_gets_the_fields_without_the_body() {
        let counters = ConnectionCounters::default();
        let bytes = OwnAnswer::GatewayTimeout.http1(&counters, true, true);
        let (_, fields, body) = split(&bytes);
        assert_eq!(body, "");
        let text = OwnAnswer::GatewayTimeout.text();
        assert_eq!(
            field(&fields, "content-length"),
            Some(&*text.len().to_string())
        );
        assert_eq!(
            field(&fields, "connection"),
            Some("close"),
            "asked to close"
        );
    }

    #[test]
    fn a_refusal_says_when_to_come_back() {
        let counters = ConnectionCounters::default();
        let bytes = OwnAnswer::TooManyConnections.http1(&counters, false, false);
        let (status, fields, _) = split(&bytes);
        assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
        assert_eq!(field(&fields, "retry-after"), Some("1"));
    }

    #[test]
    fn responses_for_hyper_are_dated_and_counted() {
        let counters = ConnectionCounters::default();
        for answer in EVERY_KIND {
            let activity = std::sync::Arc::new(crate::activity::Activity::default());
            let response = answer.response(&counters, activity.request_started());
            assert_eq!(response.status(), answer.status());
            let date = response.headers()[header::DATE].to_str().expect("ascii");
            assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
            assert_eq!(
                response.headers().get(header::CONNECTION).is_some(),
                answer.closes(),
                "{answer:?}"
            );
        }
        assert_eq!(counters.snapshot(Vec::new()).own_responses, [0, 0, 0, 6, 6]);
    }

    #[test]
    fn the_all_down_text_says_why() {
        let down = |checked, ejected, weight_zero, by_operator, total| {
            OwnAnswer::AllDown(DownCounts {
                total,
                checked,
                ejected,
                weight_zero,
                by_operator,
            })
            .text()
            .into_owned()
        };
        assert_eq!(
            down(1, 0, 0, 0, 1),
            "503 service unavailable: the only server is down (health checks)\n"
        );
        assert_eq!(
            down(1, 1, 1, 1, 4),
            "503 service unavailable: all 4 servers are down (health checks, ejected after \
             failures, weight 0, drained or in maintenance)\n"
        );
        assert_eq!(
            down(0, 0, 0, 0, 3),
            "503 service unavailable: all 3 servers are down\n"
        );
    }
}

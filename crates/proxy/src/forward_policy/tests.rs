//! Every transition of the forwarding policy, without a socket: each test is a request's
//! story told as the paths tell it.

use super::*;
use crate::upstream::DownCounts;

fn get(retries: u32) -> ForwardPolicy {
    ForwardPolicy::new(&Method::GET, retries)
}

fn post(retries: u32) -> ForwardPolicy {
    ForwardPolicy::new(&Method::POST, retries)
}

fn answer(answer: OwnAnswer, blame: Blame) -> Verdict {
    Verdict {
        next: Next::Answer(answer),
        blame,
    }
}

const ANOTHER_AFTER_CONNECT: Verdict = Verdict {
    next: Next::TryAnother,
    blame: Blame::ConnectFailed,
};

const NOT_ANSWERED: Failure = Failure::NoResponse { stale: false };
const STALE: Failure = Failure::NoResponse { stale: true };

#[test]
fn a_failed_connect_goes_to_another_server_whatever_the_method() {
    for mut policy in [get(1), post(1)] {
        policy.picked(3);
        assert_eq!(policy.failed(Failure::Connect), ANOTHER_AFTER_CONNECT);
        assert_eq!(policy.tried(), [3]);
        policy.picked(5);
        let verdict = policy.failed(Failure::Connect);
        assert_eq!(verdict, answer(OwnAnswer::BadGateway, Blame::ConnectFailed));
        assert!(!verdict.retries(), "one retry allowed, one made");
        assert_eq!(policy.tried(), [3, 5]);
    }
}

#[test]
fn retries_are_counted_in_servers_after_the_first() {
    let mut policy = get(2);
    policy.picked(0);
    assert_eq!(policy.failed(Failure::Connect), ANOTHER_AFTER_CONNECT);
    policy.picked(1);
    assert_eq!(policy.failed(Failure::Connect), ANOTHER_AFTER_CONNECT);
    policy.picked(2);
    assert_eq!(
        policy.failed(Failure::Connect),
        answer(OwnAnswer::BadGateway, Blame::ConnectFailed)
    );
    assert_eq!(policy.tried(), [0, 1, 2]);
}

#[test]
fn no_retries_means_one_server() {
    let mut policy = get(0);
    policy.picked(0);
    let verdict = policy.failed(Failure::Connect);
    assert_eq!(verdict, answer(OwnAnswer::BadGateway, Blame::ConnectFailed));
    assert!(!verdict.retries());
}

#[test]
fn no_answer_is_retried_only_for_idempotent_methods() {
    let mut idempotent = get(1);
    idempotent.picked(0);
    let verdict = idempotent.failed(NOT_ANSWERED);
    assert_eq!(
        verdict,
        Verdict {
            next: Next::TryAnother,
            blame: Blame::None,
        }
    );
    assert!(verdict.retries());
    assert_eq!(idempotent.tried(), [0]);

    let mut not = post(1);
    not.picked(0);
    assert_eq!(
        not.failed(NOT_ANSWERED),
        answer(OwnAnswer::BadGateway, Blame::None)
    );
    assert_eq!(not.tried(), [0], "left out of a later pick all the same");
}

#[test]
fn every_idempotent_method_and_no_other() {
    for method in [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::PUT,
        Method::DELETE,
        Method::TRACE,
    ] {
        assert!(is_idempotent(&method), "{method}");
    }
    for method in [Method::POST, Method::PATCH, Method::CONNECT] {
        assert!(!is_idempotent(&method), "{method}");
    }
}

#[test]
fn a_closed_pooled_connection_is_retried_fresh_once_on_the_same_server() {
    // Even a POST: nothing at all came back, so the server never read it.
    let mut policy = post(0);
    policy.picked(4);
    let verdict = policy.failed(STALE);
    assert_eq!(
        verdict,
        Verdict {
            next: Next::TryFresh,
            blame: Blame::None,
        }
    );
    assert!(verdict.retries());
    assert!(policy.tried().is_empty(), "the server is not left out");
    // The fresh connection failing the same way is a failure like any other.
    assert_eq!(
        policy.failed(STALE),
        answer(OwnAnswer::BadGateway, Blame::None)
    );
    assert_eq!(policy.tried(), [4]);
}

#[test]
fn a_fresh_retry_is_allowed_again_on_the_next_server() {
    let mut policy = get(1);
    policy.picked(0);
    assert_eq!(policy.failed(STALE).next, Next::TryFresh);
    assert_eq!(policy.failed(Failure::Connect), ANOTHER_AFTER_CONNECT);
    policy.picked(1);
    assert_eq!(policy.failed(STALE).next, Next::TryFresh);
}

#[test]
fn once_the_body_is_gone_nothing_is_sent_again() {
    for failure in [Failure::Connect, NOT_ANSWERED, STALE] {
        let mut policy = get(3);
        policy.picked(0);
        policy.body_gone();
        let verdict = policy.failed(failure);
        assert_eq!(
            verdict.next,
            Next::Answer(OwnAnswer::BadGateway),
            "{failure:?}"
        );
        assert!(!verdict.retries());
    }
}

#[test]
fn a_timeout_is_504_at_once_and_blamed() {
    let mut policy = get(3);
    policy.picked(2);
    assert_eq!(
        policy.failed(Failure::Timeout),
        answer(OwnAnswer::GatewayTimeout, Blame::TimedOut)
    );
    assert!(policy.tried().is_empty());
}

#[test]
fn running_out_of_local_resources_is_502_and_not_the_servers_fault() {
    let mut policy = get(3);
    policy.picked(0);
    assert_eq!(
        policy.failed(Failure::LocalResources),
        answer(OwnAnswer::BadGateway, Blame::None)
    );
}

#[test]
fn client_failures_are_the_clients() {
    let cases = [
        (Failure::ClientStalled, Next::Answer(OwnAnswer::BodyTimeout)),
        (
            Failure::ClientMalformed,
            Next::Answer(OwnAnswer::MalformedBody),
        ),
        (Failure::ClientGone, Next::Close),
    ];
    for (failure, next) in cases {
        let mut policy = get(3);
        policy.picked(0);
        let verdict = policy.failed(failure);
        assert_eq!(
            verdict,
            Verdict {
                next,
                blame: Blame::None
            },
            "{failure:?}"
        );
        assert!(policy.tried().is_empty());
    }
}

#[test]
fn no_server_is_503_until_one_was_tried_then_502() {
    let down = DownCounts {
        total: 2,
        checked: 2,
        ..DownCounts::default()
    };
    let policy = get(1);
    assert_eq!(
        policy.no_server(Unavailable::NoServers),
        OwnAnswer::NoServers
    );
    assert_eq!(
        policy.no_server(Unavailable::AllDown(down)),
        OwnAnswer::AllDown(down)
    );
    let mut policy = get(1);
    policy.picked(0);
    assert_eq!(policy.failed(Failure::Connect), ANOTHER_AFTER_CONNECT);
    assert_eq!(
        policy.no_server(Unavailable::AllDown(down)),
        OwnAnswer::BadGateway
    );
}

#[test]
fn answers_are_passed_on_and_gateway_errors_blamed() {
    let policy = get(1);
    for status in [502, 503, 504] {
        let status = StatusCode::from_u16(status).expect("status");
        assert_eq!(policy.answered(status), Blame::Troubled, "{status}");
    }
    for status in [200, 101, 404, 500, 501, 505] {
        let status = StatusCode::from_u16(status).expect("status");
        assert_eq!(policy.answered(status), Blame::Answered, "{status}");
    }
}

#[derive(Debug)]
struct Wrapper(std::io::Error);

impl std::fmt::Display for Wrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connect failed")
    }
}

impl std::error::Error for Wrapper {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn running_out_of_descriptors_is_told_from_a_refusal() {
    let local = Wrapper(std::io::Error::from_raw_os_error(libc::EMFILE));
    assert!(out_of_local_resources(&local));
    let refused = Wrapper(std::io::Error::from_raw_os_error(libc::ECONNREFUSED));
    assert!(!out_of_local_resources(&refused));
}

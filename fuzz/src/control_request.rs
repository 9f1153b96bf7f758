//! The control socket's request line parser (`baton::control_request`). The daemon reads a
//! line as UTF-8, so only UTF-8 is tried. Never panics; an error stays short however long
//! the line (the words quoted in it are cut); a request written back out as a line parses
//! to the same request.

use baton::control_request::{AnycastAction, Request, ServerChange};
use baton_proxy::AdminState;

/// The longest error: fixed text and the usage (under 300 bytes) and one quoted word of at
/// most 64 characters, each escaped to at most 10 bytes (`\u{10ffff}`).
const LONGEST_ERROR: usize = 300 + 2 + 64 * 10;

/// The request as `baton server`, `baton instance` and `baton reload` would write it.
fn line(request: &Request) -> String {
    match request {
        Request::Status => "status".into(),
        Request::Reload => "reload".into(),
        Request::Server {
            backend,
            address,
            change,
        } => match change {
            ServerChange::Weight(weight) => format!("server weight {backend} {address} {weight}"),
            ServerChange::Admin(AdminState::Drain) => format!("server drain {backend} {address}"),
            ServerChange::Admin(AdminState::Maintenance) => {
                format!("server disable {backend} {address}")
            }
            ServerChange::Admin(AdminState::Ready) => format!("server enable {backend} {address}"),
            ServerChange::Admin(other) => panic!("the parser made admin state {other:?}"),
        },
        Request::Maintenance { instance, on } => {
            let action = if *on { "step-down" } else { "resume" };
            format!("instance {action} {instance}")
        }
        Request::Anycast { name, action } => {
            let action = match action {
                AnycastAction::Withdraw => "withdraw",
                AnycastAction::Drain => "drain",
                AnycastAction::Announce => "announce",
            };
            format!("anycast {action} {name}")
        }
    }
}

/// One input: panics when a check fails.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Request::parse(text) {
        Ok(request) => {
            let written = line(&request);
            assert_eq!(Request::parse(&written), Ok(request), "{written:?}");
        }
        Err(error) => {
            assert!(!error.is_empty());
            assert!(
                error.len() <= LONGEST_ERROR,
                "{} bytes: {error}",
                error.len()
            );
        }
    }
}

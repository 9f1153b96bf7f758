//! The control protocol's requests: one line of words, such as `server drain app
//! 10.0.3.11:8080`. Parsing is separate from acting so that every malformed line gets its
//! own specific error before anything is touched.
//!
//! Sans-IO and in the library (`lib.rs`) rather than under `daemon/control`, so that the
//! fuzz target `control_request` (in `fuzz/`) can reach it; the daemon uses it from here.

use std::net::SocketAddr;

use baton_proxy::AdminState;

/// Every command, as listed in errors and in docs/operations.md.
pub const COMMANDS: &str = "status, server drain|disable|enable BACKEND ADDR, \
     server weight BACKEND ADDR N, instance step-down|resume NAME, reload, \
     anycast withdraw|drain|announce NAME";

/// Highest run-time weight, as HAProxy's `set server ... weight`.
pub const MAX_WEIGHT: u32 = 256;

/// One parsed request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Status,
    /// A change to the servers at `address` in every proxy of `backend`.
    Server {
        backend: String,
        address: SocketAddr,
        change: ServerChange,
    },
    /// `instance step-down NAME` (true) or `instance resume NAME` (false).
    Maintenance {
        instance: String,
        on: bool,
    },
    Reload,
    /// `anycast withdraw|drain|announce NAME`: the operator's hold on an `[[anycast]]`
    /// section.
    Anycast {
        name: String,
        action: AnycastAction,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnycastAction {
    /// Routes out at once, and kept out whatever the health says.
    Withdraw,
    /// `Withdraw`, answered after the section's `withdraw_delay`, when the routers have
    /// stopped sending new flows here.
    Drain,
    /// Back to announcing by health.
    Announce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerChange {
    Admin(AdminState),
    Weight(u32),
}

impl Request {
    /// Parses one request line (without its newline); the error is the reply's text.
    pub fn parse(line: &str) -> Result<Request, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => Err(format!("empty request; commands: {COMMANDS}")),
            ["status"] => Ok(Request::Status),
            ["reload"] => Ok(Request::Reload),
            ["status" | "reload", extra, ..] => Err(format!(
                "{}: unexpected argument {}",
                words[0],
                shown(extra)
            )),
            ["server", rest @ ..] => server(rest),
            ["instance", rest @ ..] => instance(rest),
            ["anycast", rest @ ..] => anycast(rest),
            [other, ..] => Err(format!(
                "unknown command {}; commands: {COMMANDS}",
                shown(other)
            )),
        }
    }
}

fn server(words: &[&str]) -> Result<Request, String> {
    const USAGE: &str =
        "usage: server drain|disable|enable BACKEND ADDR, server weight BACKEND ADDR N";
    let (action, args) = match words {
        [] => return Err(format!("server: missing action; {USAGE}")),
        [action, args @ ..] => (*action, args),
    };
    let change = match action {
        "drain" => ServerChange::Admin(AdminState::Drain),
        "disable" => ServerChange::Admin(AdminState::Maintenance),
        "enable" => ServerChange::Admin(AdminState::Ready),
        "weight" => ServerChange::Weight(0),
        other => {
            return Err(format!("server: unknown action {}; {USAGE}", shown(other)));
        }
    };
    let wanted = if action == "weight" { 3 } else { 2 };
    let names = ["BACKEND", "ADDR", "N"];
    if args.len() < wanted {
        let missing = names[args.len()..wanted].join(" ");
        return Err(format!("server {action}: missing {missing}; {USAGE}"));
    }
    if args.len() > wanted {
        return Err(format!(
            "server {action}: unexpected argument {}; {USAGE}",
            shown(args[wanted])
        ));
    }
    let address: SocketAddr = args[1].parse().map_err(|_| {
        format!(
            "server {action}: {} is not an address; expected IP:PORT such as 10.0.3.11:8080",
            shown(args[1])
        )
    })?;
    let change = match change {
        ServerChange::Weight(_) => ServerChange::Weight(weight(args[2])?),
        admin => admin,
    };
    Ok(Request::Server {
        backend: args[0].to_owned(),
        address,
        change,
    })
}

fn weight(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(weight) if weight <= MAX_WEIGHT => Ok(weight),
        _ => Err(format!(
            "server weight: weight {} out of range 0..={MAX_WEIGHT}",
            shown(text)
        )),
    }
}

fn instance(words: &[&str]) -> Result<Request, String> {
    const USAGE: &str = "usage: instance step-down|resume NAME";
    match words {
        [] => Err(format!("instance: missing action; {USAGE}")),
        [action @ ("step-down" | "resume")] => {
            Err(format!("instance {action}: missing NAME; {USAGE}"))
        }
        [action @ ("step-down" | "resume"), name] => Ok(Request::Maintenance {
            instance: (*name).to_owned(),
            on: *action == "step-down",
        }),
        [action @ ("step-down" | "resume"), _, extra, ..] => Err(format!(
            "instance {action}: unexpected argument {}; {USAGE}",
            shown(extra)
        )),
        [other, ..] => Err(format!(
            "instance: unknown action {}; {USAGE}",
            shown(other)
        )),
    }
}

fn anycast(words: &[&str]) -> Result<Request, String> {
    const USAGE: &str = "usage: anycast withdraw|drain|announce NAME";
    let action = |word: &str| match word {
        "withdraw" => Some(AnycastAction::Withdraw),
        "drain" => Some(AnycastAction::Drain),
        "announce" => Some(AnycastAction::Announce),
        _ => None,
    };
    let Some((word, args)) = words.split_first() else {
        return Err(format!("anycast: missing action; {USAGE}"));
    };
    let Some(action) = action(word) else {
        return Err(format!("anycast: unknown action {}; {USAGE}", shown(word)));
    };
    match args {
        [] => Err(format!("anycast {word}: missing NAME; {USAGE}")),
        [name] => Ok(Request::Anycast {
            name: (*name).to_owned(),
            action,
        }),
        [_, extra, ..] => Err(format!(
            "anycast {word}: unexpected argument {}; {USAGE}",
            shown(extra)
        )),
    }
}

/// A word of the request as quoted in an error, cut short: the request is untrusted.
pub fn shown(word: &str) -> String {
    let cut: String = word.chars().take(64).collect();
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(line: &str) -> String {
        Request::parse(line).expect_err(line)
    }

    #[test]
    fn commands_parse() {
        assert_eq!(Request::parse("status"), Ok(Request::Status));
        assert_eq!(Request::parse("  reload "), Ok(Request::Reload));
        assert_eq!(
            Request::parse("server drain app 10.0.3.11:8080"),
            Ok(Request::Server {
                backend: "app".into(),
                address: "10.0.3.11:8080".parse().expect("addr"),
                change: ServerChange::Admin(AdminState::Drain),
            })
        );
        assert_eq!(
            Request::parse("server disable app [::1]:80"),
            Ok(Request::Server {
                backend: "app".into(),
                address: "[::1]:80".parse().expect("addr"),
                change: ServerChange::Admin(AdminState::Maintenance),
            })
        );
        assert!(matches!(
            Request::parse("server enable app 10.0.3.11:8080"),
            Ok(Request::Server {
                change: ServerChange::Admin(AdminState::Ready),
                ..
            })
        ));
        assert!(matches!(
            Request::parse("server weight app 10.0.3.11:8080 256"),
            Ok(Request::Server {
                change: ServerChange::Weight(256),
                ..
            })
        ));
        assert_eq!(
            Request::parse("instance step-down VI_1"),
            Ok(Request::Maintenance {
                instance: "VI_1".into(),
                on: true
            })
        );
        assert_eq!(
            Request::parse("instance resume VI_1"),
            Ok(Request::Maintenance {
                instance: "VI_1".into(),
                on: false
            })
        );
    }

    #[test]
    fn unknown_and_empty_commands_list_the_commands() {
        let unknown = error("reboot now");
        assert!(unknown.starts_with("unknown command \"reboot\"; commands: status, server drain"));
        assert!(
            unknown.contains("instance step-down|resume NAME, reload"),
            "{unknown}"
        );
        assert!(error("").starts_with("empty request; commands: status"));
        assert_eq!(
            error("status please"),
            "status: unexpected argument \"please\""
        );
        let long = error(&"x".repeat(1000));
        assert!(long.len() < 300, "untrusted words are cut short: {long}");
    }

    #[test]
    fn server_errors_are_specific() {
        assert!(error("server").starts_with("server: missing action;"));
        assert!(
            error("server pause app 1.2.3.4:80").starts_with("server: unknown action \"pause\";")
        );
        assert!(error("server drain").starts_with("server drain: missing BACKEND ADDR;"));
        assert!(error("server drain app").starts_with("server drain: missing ADDR;"));
        assert!(error("server weight app 1.2.3.4:80").starts_with("server weight: missing N;"));
        assert!(
            error("server drain app 1.2.3.4:80 now")
                .starts_with("server drain: unexpected argument \"now\";")
        );
        assert_eq!(
            error("server enable app web1"),
            "server enable: \"web1\" is not an address; expected IP:PORT such as 10.0.3.11:8080"
        );
        assert_eq!(
            error("server weight app 1.2.3.4:80 257"),
            "server weight: weight \"257\" out of range 0..=256"
        );
        assert_eq!(
            error("server weight app 1.2.3.4:80 -1"),
            "server weight: weight \"-1\" out of range 0..=256"
        );
    }

    #[test]
    fn anycast_commands_parse_and_their_errors_are_specific() {
        let parsed = |line| match Request::parse(line) {
            Ok(Request::Anycast { name, action }) => (name, action),
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(
            parsed("anycast withdraw web"),
            ("web".to_owned(), AnycastAction::Withdraw)
        );
        assert_eq!(parsed("anycast drain web").1, AnycastAction::Drain);
        assert_eq!(parsed("anycast announce web").1, AnycastAction::Announce);
        assert!(error("anycast").starts_with("anycast: missing action;"));
        assert!(error("anycast withdraw").starts_with("anycast withdraw: missing NAME;"));
        assert!(
            error("anycast announce a b")
                .starts_with("anycast announce: unexpected argument \"b\";")
        );
        assert!(error("anycast stop web").starts_with("anycast: unknown action \"stop\";"));
        assert!(error("nope").ends_with("anycast withdraw|drain|announce NAME"));
    }

    #[test]
    fn instance_errors_are_specific() {
        assert!(error("instance").starts_with("instance: missing action;"));
        assert!(error("instance step-down").starts_with("instance step-down: missing NAME;"));
        assert!(
            error("instance resume a b").starts_with("instance resume: unexpected argument \"b\";")
        );
        assert!(error("instance stop VI_1").starts_with("instance: unknown action \"stop\";"));
    }
}

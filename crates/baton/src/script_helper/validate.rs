//! Whether a request may run: the script is one of the configuration's, with the user the
//! configuration gives it and the arguments baton passes it. Pure, so it is tested alone.

use std::time::Duration;

use crate::scripts::{Credentials, Entry, Request};

/// How long the requested script may run (the configured timeout, or less if the daemon
/// asked for less), or why it may not run.
pub(crate) fn validate(request: &Request, entries: &[Entry]) -> Result<Duration, String> {
    let wanted = Credentials {
        uid: nix::unistd::Uid::from_raw(request.uid),
        gid: nix::unistd::Gid::from_raw(request.gid),
    };
    let same_program: Vec<&Entry> = entries.iter().filter(|e| e.argv == request.argv).collect();
    if same_program.is_empty() {
        return Err(format!(
            "{:?} is not a script of the configuration",
            request.argv
        ));
    }
    // A script with no user of its own runs as the daemon's user: never here.
    let same_user: Vec<&Entry> = same_program
        .into_iter()
        .filter(|e| e.credentials == Some(wanted))
        .collect();
    if same_user.is_empty() {
        return Err(format!(
            "{:?} is not configured to run as uid:gid {}:{}",
            request.argv, request.uid, request.gid
        ));
    }
    // Vetting asks about the script, before any state change gives it arguments.
    let entry = same_user
        .into_iter()
        .find(|e| (request.vet && request.args.is_empty()) || e.args.accepts(&request.args))
        .ok_or_else(|| {
            format!(
                "{:?}: arguments {:?} are not what baton passes to it",
                request.argv, request.args
            )
        })?;
    let asked = request.timeout_ms.map(Duration::from_millis);
    Ok(asked.map_or(entry.timeout, |asked| asked.min(entry.timeout)))
}

#[cfg(test)]
mod tests {
    use nix::unistd::{Gid, Uid};

    use super::*;
    use crate::scripts::Arguments;

    const ROOT: Credentials = Credentials {
        uid: Uid::from_raw(0),
        gid: Gid::from_raw(0),
    };

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    fn entries() -> Vec<Entry> {
        vec![
            Entry {
                what: "vrrp_script chk".into(),
                argv: strings(&["/usr/local/bin/chk", "--quick"]),
                credentials: Some(ROOT),
                args: Arguments::None,
                timeout: Duration::from_secs(2),
            },
            Entry {
                what: "VI_1 notify".into(),
                argv: strings(&["/usr/local/bin/notify"]),
                credentials: Some(ROOT),
                args: Arguments::Notify {
                    kind: "INSTANCE",
                    name: "VI_1".into(),
                },
                timeout: Duration::from_secs(10),
            },
            Entry {
                what: "vrrp_script own".into(),
                argv: strings(&["/usr/local/bin/own"]),
                credentials: None,
                args: Arguments::None,
                timeout: Duration::from_secs(1),
            },
        ]
    }

    fn request(argv: &[&str], uid: u32, args: &[&str], timeout_ms: Option<u64>) -> Request {
        Request {
            argv: strings(argv),
            uid,
            gid: uid,
            args: strings(args),
            timeout_ms,
            vet: false,
        }
    }

    #[test]
    fn a_configured_script_runs_with_at_most_its_timeout() {
        let chk = ["/usr/local/bin/chk", "--quick"];
        assert_eq!(
            validate(&request(&chk, 0, &[], None), &entries()),
            Ok(Duration::from_secs(2))
        );
        assert_eq!(
            validate(&request(&chk, 0, &[], Some(500)), &entries()),
            Ok(Duration::from_millis(500))
        );
        // The daemon cannot lengthen it.
        assert_eq!(
            validate(&request(&chk, 0, &[], Some(60_000)), &entries()),
            Ok(Duration::from_secs(2))
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        let cases = [
            // Another program, or the same with other arguments.
            (
                request(&["/bin/sh", "-c", "id"], 0, &[], None),
                "not a script",
            ),
            (
                request(&["/usr/local/bin/chk"], 0, &[], None),
                "not a script",
            ),
            // Another user than configured; one that runs as the daemon's own user.
            (
                request(&["/usr/local/bin/chk", "--quick"], 1000, &[], None),
                "not configured to run as uid:gid 1000:1000",
            ),
            (
                request(&["/usr/local/bin/own"], 0, &[], None),
                "not configured to run as",
            ),
            // Arguments a track script is never given.
            (
                request(&["/usr/local/bin/chk", "--quick"], 0, &["x"], None),
                "arguments",
            ),
            // notify: only its own instance, a known state, a numeric priority.
            (
                request(
                    &["/usr/local/bin/notify"],
                    0,
                    &["INSTANCE", "VI_2", "MASTER", "100"],
                    None,
                ),
                "arguments",
            ),
            (
                request(
                    &["/usr/local/bin/notify"],
                    0,
                    &["INSTANCE", "VI_1", "$(reboot)", "100"],
                    None,
                ),
                "arguments",
            ),
            (
                request(
                    &["/usr/local/bin/notify"],
                    0,
                    &["INSTANCE", "VI_1", "MASTER", "1e3"],
                    None,
                ),
                "arguments",
            ),
        ];
        for (request, why) in cases {
            let refused = validate(&request, &entries()).expect_err("refused");
            assert!(refused.contains(why), "{request:?}: {refused}");
        }
        let notify = request(
            &["/usr/local/bin/notify"],
            0,
            &["INSTANCE", "VI_1", "BACKUP", "100"],
            None,
        );
        assert_eq!(validate(&notify, &entries()), Ok(Duration::from_secs(10)));
        // Vetted at load, before it has arguments; but a vetting runs nothing, so it
        // cannot carry any either.
        let mut vet = request(&["/usr/local/bin/notify"], 0, &[], None);
        vet.vet = true;
        assert!(validate(&vet, &entries()).is_ok());
        vet.args = strings(&["INSTANCE", "VI_1", "x", "1"]);
        assert!(validate(&vet, &entries()).is_err());
    }
}

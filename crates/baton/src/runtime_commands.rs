//! `baton server`, `baton instance`, `baton anycast` and `baton reload`: one request line to the running
//! daemon's control socket, its answer printed for people. The daemon checks the
//! arguments and explains what is wrong; this side only keeps each one a single word, so
//! that it cannot change the request line.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{AnycastCommand, ControlArgs, InstanceCommand, ServerCommand};
use crate::daemon;

/// `baton server drain|disable|enable|weight BACKEND ADDR [N]`.
pub(crate) fn server(command: &ServerCommand) -> ExitCode {
    let (action, target, weight) = match command {
        ServerCommand::Drain(target) => ("drain", target, None),
        ServerCommand::Disable(target) => ("disable", target, None),
        ServerCommand::Enable(target) => ("enable", target, None),
        ServerCommand::Weight(args) => ("weight", &args.target, Some(args.weight.as_str())),
    };
    let mut words = vec!["server", action, &target.backend, &target.address];
    words.extend(weight);
    send(&target.control.control, "server", &words, |reply| {
        // A backend's server answers with the frontends that use it; a virtual server's
        // real server with the virtual server's name.
        let (owner, users) = match reply.get("virtual_server") {
            Some(service) => (text(service), String::new()),
            None => (
                text(&reply["backend"]),
                format!(
                    " (frontends: {})",
                    list(&reply["frontends"], |f| text(f).to_owned())
                ),
            ),
        };
        format!(
            "{owner} {}: {}, weight {}{users}",
            text(&reply["address"]),
            text(&reply["admin"]),
            reply["weight"],
        )
    })
}

/// `baton instance step-down|resume NAME`.
pub(crate) fn instance(command: &InstanceCommand) -> ExitCode {
    let (action, target) = match command {
        InstanceCommand::StepDown(target) => ("step-down", target),
        InstanceCommand::Resume(target) => ("resume", target),
    };
    let words = ["instance", action, &target.name];
    send(&target.control.control, "instance", &words, |reply| {
        list(&reply["instances"], |i| {
            let stepped = if i["maintenance"] == true {
                ", stepped down"
            } else {
                ""
            };
            format!("{}: {}{stepped}", text(&i["name"]), text(&i["state"]))
        })
    })
}

/// `baton anycast withdraw|drain|announce NAME`.
pub(crate) fn anycast(command: &AnycastCommand) -> ExitCode {
    let (action, target) = match command {
        AnycastCommand::Withdraw(target) => ("withdraw", target),
        AnycastCommand::Drain(target) => ("drain", target),
        AnycastCommand::Announce(target) => ("announce", target),
    };
    let words = ["anycast", action, &target.name];
    send(&target.control.control, "anycast", &words, |reply| {
        let section = &reply["anycast"];
        let shown: crate::anycast_status::AnycastStatus =
            serde_json::from_value(section.clone()).unwrap_or_default();
        let mut line = crate::anycast_status::render(std::slice::from_ref(&shown));
        line.truncate(line.trim_end().len());
        if action == "drain" {
            line.push_str(&format!(
                "\ndrained: withdraw_delay ({} s) has passed",
                reply["withdraw_delay"]
            ));
        }
        line
    })
}

/// `baton reload`.
pub(crate) fn reload(args: &ControlArgs) -> ExitCode {
    send(&args.control, "reload", &["reload"], |reply| {
        match text(&reply["reload"]) {
            "unchanged" => "configuration unchanged, nothing to do".to_owned(),
            _ => "configuration reloaded".to_owned(),
        }
    })
}

/// Sends `words` as one line; prints `summary` of the reply, or the error, and exits
/// accordingly.
fn send(
    control: &Path,
    command: &str,
    words: &[&str],
    summary: impl FnOnce(&serde_json::Value) -> String,
) -> ExitCode {
    if let Some(bad) = words
        .iter()
        .find(|w| w.is_empty() || w.contains(char::is_whitespace))
    {
        eprintln!("baton {command}: {bad:?}: arguments cannot be empty or contain spaces");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("baton {command}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(daemon::request(control, &words.join(" "))) {
        Ok(reply) => {
            println!("{}", summary(&reply));
            // Made, but not saved: it holds until the daemon stops.
            if let Some(warning) = reply["warning"].as_str() {
                eprintln!("baton {command}: warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("baton {command}: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn text(value: &serde_json::Value) -> &str {
    value.as_str().unwrap_or("?")
}

fn list(value: &serde_json::Value, each: impl Fn(&serde_json::Value) -> String) -> String {
    value
        .as_array()
        .map(|items| items.iter().map(each).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

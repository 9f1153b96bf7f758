//! The process events connector, subscribed from inside a lab namespace (which has no
//! connector of its own, so the socket is made in the initial one): a child's fork, exec
//! and exit arrive.

use std::time::Duration;

use baton_net::{ProcEvent, ProcEvents};

use crate::lab::Lab;

#[test]
fn a_childs_fork_exec_and_exit_arrive_from_inside_a_namespace() {
    if baton_lab::skip_in_rootless_lab(
        "a_childs_fork_exec_and_exit_arrive_from_inside_a_namespace",
        "the kernel serves process events only to CAP_NET_ADMIN in the initial namespaces",
    ) {
        return;
    }
    let Some(lab) = Lab::new("a_childs_fork_exec_and_exit_arrive_from_inside_a_namespace") else {
        return;
    };
    let seen = lab.run(|_, _| async move {
        let mut events = ProcEvents::open().expect("subscribing to process events");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        let pid = child.id();
        let mut seen = Vec::new();
        let mut killed = false;
        let wait = async {
            loop {
                let event = events.next().await.expect("an event");
                let ours = match &event {
                    ProcEvent::Fork { child_tgid, .. } => *child_tgid == pid,
                    ProcEvent::Exec { tgid, .. } | ProcEvent::Exit { tgid, .. } => *tgid == pid,
                    _ => false,
                };
                if !ours {
                    continue;
                }
                let exited = matches!(event, ProcEvent::Exit { .. });
                seen.push(event);
                if exited {
                    break;
                }
                if seen.iter().any(|e| matches!(e, ProcEvent::Exec { .. })) && !killed {
                    child.kill().expect("kill");
                    killed = true;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .expect("the child's events within 10 s");
        let _ = child.wait();
        seen
    });
    let kinds: Vec<&str> = seen
        .iter()
        .map(|e| match e {
            ProcEvent::Fork { .. } => "fork",
            ProcEvent::Exec { .. } => "exec",
            ProcEvent::Exit { .. } => "exit",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["fork", "exec", "exit"], "{seen:?}");
}

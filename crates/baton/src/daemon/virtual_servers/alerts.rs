//! keepalived's e-mail on the checker side (`smtp_alert` of virtual and real servers):
//! which checker and quorum changes mail, by the rules of keepalived 2.2.7's checkers and
//! `ipwrapper.c`. The text is `smtp_message`'s; the sending, the mailer's.

use baton_config::{CheckerKind, RealServer, VirtualServer};

use super::super::smtp_alert::Mailer;
use super::super::smtp_message::{self, QuorumChange};

/// One checker verdict of real server `rs` of `vs`, with the server's state around it.
#[derive(Debug)]
pub(super) struct CheckerChange<'a> {
    pub(super) vs: &'a VirtualServer,
    pub(super) rs: &'a RealServer,
    /// Which of the server's checkers.
    pub(super) checker: usize,
    pub(super) was_up: bool,
    pub(super) up: bool,
    /// The checker's first verdict since it started.
    pub(super) first: bool,
    pub(super) server_was_alive: bool,
    pub(super) server_alive: bool,
    /// baton's words for it: `TCP_CHECK: connection refused`.
    pub(super) reason: &'a str,
}

/// keepalived's checkers mail when the checker's state changes (MISC_CHECK also on its
/// first result), if the real server's `smtp_alert` says so, and with
/// `no_checker_emails` only when the real server's own state changed too.
pub(super) fn checker_changed(mailer: &Mailer, change: &CheckerChange<'_>) {
    let settings = mailer.settings();
    let Some(checker) = change.rs.checkers.get(change.checker) else {
        return;
    };
    if !mailer.active() || !settings.for_real_server(change.rs.smtp_alert) {
        return;
    }
    let misc_first =
        matches!(checker.kind, CheckerKind::Misc { .. }) && change.first && !checker.start_down;
    if change.was_up == change.up && !misc_first {
        return;
    }
    if settings.no_checker_emails && change.server_alive == change.server_was_alive {
        return;
    }
    // The reason without baton's "KIND: " in front.
    let reason = change
        .reason
        .split_once(": ")
        .map_or(change.reason, |(_, reason)| reason);
    let Some(body) = smtp_message::checker_body(&checker.kind, change.up, reason) else {
        return;
    };
    mailer.send(smtp_message::real_server(
        mailer.router_id(),
        change.vs,
        change.rs.address,
        change.server_alive,
        body,
    ));
}

/// keepalived's `do_vs_notifies`: the quorum of `vs` changed (or it starts down, which
/// keepalived mails only for a service with a sorry server), with the live weight.
pub(super) fn quorum_changed(mailer: &Mailer, vs: &VirtualServer, change: QuorumChange, live: u64) {
    if !mailer.active() || !mailer.settings().for_virtual_server(vs.smtp_alert) {
        return;
    }
    let (quorum, hysteresis) = (i64::from(vs.quorum), i64::from(vs.hysteresis));
    // The threshold that was crossed, as keepalived computes it for its message.
    let threshold = match change {
        QuorumChange::Gained => quorum + hysteresis,
        QuorumChange::Lost => quorum - hysteresis,
        QuorumChange::StartingDown => quorum + hysteresis,
    };
    let live = i64::try_from(live).unwrap_or(i64::MAX);
    let body = smtp_message::quorum_body(change, vs.quorum, vs.hysteresis, threshold, live);
    let up = change == QuorumChange::Gained;
    mailer.send(smtp_message::virtual_server(
        mailer.router_id(),
        vs,
        up,
        body,
    ));
}

/// keepalived's stop with `omega`: each live real server and the service itself mail
/// "=> Shutting down <=", DOWN.
pub(super) fn shutting_down(mailer: &Mailer, vs: &VirtualServer, alive: &[&RealServer]) {
    if !mailer.active() {
        return;
    }
    let settings = mailer.settings();
    let body = || "=> Shutting down <=".to_owned();
    for rs in alive {
        if settings.for_real_server(rs.smtp_alert) {
            let alert =
                smtp_message::real_server(mailer.router_id(), vs, rs.address, false, body());
            mailer.send(alert);
        }
    }
    if settings.for_virtual_server(vs.smtp_alert) {
        mailer.send(smtp_message::virtual_server(
            mailer.router_id(),
            vs,
            false,
            body(),
        ));
    }
}

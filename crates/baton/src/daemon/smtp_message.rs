//! keepalived's e-mail alerts as text: the subjects and bodies keepalived 2.2.7 writes
//! (`smtp.c`, `vrrp_notify.c`, `ipwrapper.c` and each checker's `smtp_alert` call), and the
//! message around them (`SMTP_HEADERS_CMD`).

use std::net::SocketAddr;

use baton_config::{CheckerKind, ServiceMatch, VirtualServer};

/// One e-mail's subject and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alert {
    pub(crate) subject: String,
    pub(crate) body: String,
}

/// A state a VRRP instance or sync group mails about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum VrrpChange {
    Master,
    Backup,
    Fault,
    Stop,
    /// An instance a reload removed, with `notify_deleted` (groups have none).
    Deleted,
}

impl VrrpChange {
    fn subject(self) -> &'static str {
        match self {
            VrrpChange::Master => "Entering MASTER state",
            VrrpChange::Backup => "Entering BACKUP state",
            VrrpChange::Fault => "Entering FAULT state",
            VrrpChange::Stop => "Stopping",
            VrrpChange::Deleted => "Deleted",
        }
    }
}

/// `[router_id] VRRP Instance VI_1 - Entering MASTER state`, as `vrrp_smtp_notifier`.
pub(crate) fn instance(router_id: &str, name: &str, change: VrrpChange) -> Alert {
    let body = match change {
        VrrpChange::Master => "=> VRRP Instance is now owning VRRP VIPs <=",
        VrrpChange::Backup | VrrpChange::Fault => {
            "=> VRRP Instance is no longer owning VRRP VIPs <="
        }
        VrrpChange::Stop => "=> VRRP Instance stopping <=",
        VrrpChange::Deleted => "=> VRRP Deleted at reload <=",
    };
    Alert {
        subject: format!("[{router_id}] VRRP Instance {name} - {}", change.subject()),
        body: body.to_owned(),
    }
}

/// `[router_id] VRRP Group G1 - Entering MASTER state`, as `vrrp_sync_smtp_notifier`;
/// nothing for `Deleted`, which groups do not mail.
pub(crate) fn group(router_id: &str, name: &str, change: VrrpChange) -> Option<Alert> {
    let body = match change {
        VrrpChange::Master => "=> All VRRP group instances are now in MASTER state <=",
        VrrpChange::Backup => "=> All VRRP group instances are now in BACKUP state <=",
        VrrpChange::Fault => "=> All VRRP group instances are now in FAULT state <=",
        VrrpChange::Stop => "=> All VRRP group instances are now stopping <=",
        VrrpChange::Deleted => return None,
    };
    Some(Alert {
        subject: format!("[{router_id}] VRRP Group {name} - {}", change.subject()),
        body: body.to_owned(),
    })
}

/// `[router_id] Realserver [10.0.3.11]:tcp:80 of virtual server [10.0.3.100]:tcp:80 -
/// DOWN`, with the checker's `body`.
pub(crate) fn real_server(
    router_id: &str,
    vs: &VirtualServer,
    rs: SocketAddr,
    alive: bool,
    body: String,
) -> Alert {
    Alert {
        subject: format!(
            "[{router_id}] Realserver {} of virtual server {} - {}",
            server_name(vs, rs),
            service_name(vs),
            up_down(alive)
        ),
        body,
    }
}

/// `[router_id] Virtualserver [10.0.3.100]:tcp:80 - UP`, with the quorum `body`.
pub(crate) fn virtual_server(router_id: &str, vs: &VirtualServer, up: bool, body: String) -> Alert {
    Alert {
        subject: format!(
            "[{router_id}] Virtualserver {} - {}",
            service_name(vs),
            up_down(up)
        ),
        body,
    }
}

fn up_down(up: bool) -> &'static str {
    if up { "UP" } else { "DOWN" }
}

/// What each checker of keepalived writes when it changes a real server's checker state
/// (`reason`: baton's own words for the failure, for SMTP_CHECK's); `None` for FILE_CHECK,
/// which keepalived never mails about.
pub(crate) fn checker_body(kind: &CheckerKind, up: bool, reason: &str) -> Option<String> {
    let outcome = if up { "succeed" } else { "failed" };
    let body = match kind {
        CheckerKind::Tcp => format!("=> TCP CHECK {outcome} on service <="),
        CheckerKind::Udp { .. } => format!("=> UDP CHECK {outcome} on service <="),
        CheckerKind::Ping => format!("=> ICMP CHECK {outcome} on service <="),
        CheckerKind::Dns { .. } => format!("=> DNS_CHECK: {outcome} on service <="),
        CheckerKind::Http { .. } if up => "=> CHECK succeed on service <=".to_owned(),
        CheckerKind::Http { .. } => "=> CHECK failed on service : HTTP request failed <=".into(),
        CheckerKind::Smtp { .. } if up => "=> CHECK succeed on service <=".to_owned(),
        CheckerKind::Smtp { .. } => format!("=> CHECK failed on service : {reason} <="),
        CheckerKind::Misc { .. } => {
            let outcome = match up {
                true => "succeeded",
                false if reason.contains("timed out") => "timed out",
                false => "failed",
            };
            format!("=> MISC CHECK {outcome} on service <=")
        }
        _ => return None,
    };
    Some(body)
}

/// How a virtual server's quorum changed, for [`quorum_body`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuorumChange {
    Gained,
    Lost,
    StartingDown,
}

/// `=> Lost quorum 2+0=2 <= 1 <=`: keepalived's `do_vs_notifies` text (the same shape
/// for every change), with the threshold crossed and the live weight.
pub(crate) fn quorum_body(
    change: QuorumChange,
    quorum: u32,
    hysteresis: u32,
    threshold: i64,
    live_weight: i64,
) -> String {
    let what = match change {
        QuorumChange::Gained => "Gained quorum",
        QuorumChange::Lost => "Lost quorum",
        QuorumChange::StartingDown => "Starting with quorum down",
    };
    format!("=> {what} {quorum}+{hysteresis}={threshold} <= {live_weight} <=")
}

/// keepalived's `FMT_VS`: `[10.0.3.100]:tcp:80`, `FWM 5`, or `[GROUP]:0` for a service by
/// `virtual_server_group` (its own address is none).
pub(crate) fn service_name(vs: &VirtualServer) -> String {
    if let Some(group) = vs
        .name
        .strip_prefix("group:")
        .and_then(|rest| rest.rsplit_once('/'))
        .map(|(group, _)| group)
    {
        return format!("[{group}]:0");
    }
    match vs.matches.as_slice() {
        [ServiceMatch::Address(address)] => trio(*address, vs.protocol.as_str()),
        [ServiceMatch::Fwmark(mark)] => format!("FWM {mark}"),
        _ => vs.name.clone(),
    }
}

/// keepalived's `FMT_RS`: `[10.0.3.11]:tcp:80`.
pub(crate) fn server_name(vs: &VirtualServer, rs: SocketAddr) -> String {
    trio(rs, vs.protocol.as_str())
}

/// keepalived's `inet_sockaddrtotrio`.
fn trio(address: SocketAddr, protocol: &str) -> String {
    format!("[{}]:{protocol}:{}", address.ip(), address.port())
}

/// The message as keepalived's `body_cmd` writes it: its headers in its order, a blank
/// line, the body and a line end (the transport adds the final `.`). `X-Mailer` says
/// which program wrote it, in a form that still starts as keepalived's for mail filters.
pub(crate) fn message(date: &str, from: &str, to: &[String], alert: &Alert) -> String {
    format!(
        "Date: {date}\r\nFrom: {from}\r\nSubject: {}\r\nX-Mailer: Keepalived (baton)\r\n\
         To: {}\r\n\r\n{}\r\n",
        alert.subject,
        to.join(", "),
        alert.body
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(text: &str) -> VirtualServer {
        let conf = format!(
            "virtual_server_group web {{\n 10.0.3.100 80\n}}\n{text} {{\n protocol TCP\n \
             real_server 10.0.3.11 8080 {{\n TCP_CHECK {{\n }}\n }}\n}}\n"
        );
        let loaded = baton_config::parse_keepalived(&conf, std::path::Path::new("k.conf"))
            .unwrap_or_else(|e| panic!("{e}"));
        loaded.config.virtual_servers[0].clone()
    }

    #[test]
    fn vrrp_subjects_and_bodies_are_keepalived_s() {
        let alert = instance("lb1", "VI_1", VrrpChange::Master);
        assert_eq!(
            alert.subject,
            "[lb1] VRRP Instance VI_1 - Entering MASTER state"
        );
        assert_eq!(alert.body, "=> VRRP Instance is now owning VRRP VIPs <=");
        let alert = instance("lb1", "VI_1", VrrpChange::Fault);
        assert_eq!(
            alert.subject,
            "[lb1] VRRP Instance VI_1 - Entering FAULT state"
        );
        assert_eq!(
            alert.body,
            "=> VRRP Instance is no longer owning VRRP VIPs <="
        );
        assert_eq!(
            instance("lb1", "VI_1", VrrpChange::Stop).subject,
            "[lb1] VRRP Instance VI_1 - Stopping"
        );
        assert_eq!(
            instance("lb1", "VI_1", VrrpChange::Deleted).body,
            "=> VRRP Deleted at reload <="
        );
        let alert = group("lb1", "G1", VrrpChange::Backup).expect("mailed");
        assert_eq!(alert.subject, "[lb1] VRRP Group G1 - Entering BACKUP state");
        assert_eq!(
            alert.body,
            "=> All VRRP group instances are now in BACKUP state <="
        );
        assert_eq!(group("lb1", "G1", VrrpChange::Deleted), None);
    }

    #[test]
    fn servers_are_named_as_keepalived_formats_them() {
        let vs = service("virtual_server 10.0.3.100 80");
        assert_eq!(service_name(&vs), "[10.0.3.100]:tcp:80");
        let rs = vs.real_servers[0].address;
        let alert = real_server(
            "lb1",
            &vs,
            rs,
            false,
            "=> TCP CHECK failed on service <=".into(),
        );
        assert_eq!(
            alert.subject,
            "[lb1] Realserver [10.0.3.11]:tcp:8080 of virtual server [10.0.3.100]:tcp:80 - DOWN"
        );
        assert_eq!(service_name(&service("virtual_server fwmark 5")), "FWM 5");
        assert_eq!(
            service_name(&service("virtual_server group web")),
            "[web]:0"
        );
        let alert = virtual_server(
            "lb1",
            &vs,
            false,
            quorum_body(QuorumChange::Lost, 1, 0, 1, 0),
        );
        assert_eq!(
            alert.subject,
            "[lb1] Virtualserver [10.0.3.100]:tcp:80 - DOWN"
        );
        assert_eq!(alert.body, "=> Lost quorum 1+0=1 <= 0 <=");
    }

    #[test]
    fn each_checker_says_what_keepalived_s_says() {
        let body = |kind: &CheckerKind, up| checker_body(kind, up, "timed out after 5s");
        assert_eq!(
            body(&CheckerKind::Tcp, false).as_deref(),
            Some("=> TCP CHECK failed on service <=")
        );
        assert_eq!(
            body(&CheckerKind::Tcp, true).as_deref(),
            Some("=> TCP CHECK succeed on service <=")
        );
        assert_eq!(
            body(&CheckerKind::Ping, true).as_deref(),
            Some("=> ICMP CHECK succeed on service <=")
        );
        let smtp = CheckerKind::Smtp {
            helo_name: "smtpchecker.keepalived.org".into(),
        };
        assert_eq!(
            body(&smtp, false).as_deref(),
            Some("=> CHECK failed on service : timed out after 5s <=")
        );
    }

    #[test]
    fn the_message_has_keepalived_s_headers_in_order() {
        let alert = instance("lb1", "VI_1", VrrpChange::Master);
        let to = ["a@example.com".to_owned(), "b@example.com".to_owned()];
        let text = message(
            "Thu, 03 Dec 2026 14:00:00 +0000",
            "lb@example.com",
            &to,
            &alert,
        );
        assert_eq!(
            text,
            "Date: Thu, 03 Dec 2026 14:00:00 +0000\r\nFrom: lb@example.com\r\n\
             Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state\r\n\
             X-Mailer: Keepalived (baton)\r\nTo: a@example.com, b@example.com\r\n\r\n\
             => VRRP Instance is now owning VRRP VIPs <=\r\n"
        );
    }
}

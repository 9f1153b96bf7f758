//! keepalived's e-mail alert keywords: those of `global_defs` (`smtp_server`,
//! `notification_email`, the `smtp_alert` defaults, ...) as `global_parser.c` reads them,
//! and the `smtp_alert [BOOL]` of instances, sync groups, virtual and real servers.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::smtp::DEFAULT_PORT;

impl Mapper<'_> {
    /// The e-mail keywords of `global_defs`; false if `s` is something else.
    pub(super) fn smtp_global(&mut self, s: &Stmt, c: &str) -> bool {
        let keyword = s.keyword.as_str();
        match keyword {
            "notification_email" => self.recipients(s, c),
            "notification_email_from" => {
                // keepalived keeps the first word and the last line.
                if let Some(from) = self.first_word(s, c) {
                    self.draft.global.smtp.from = Some(from);
                }
            }
            "smtp_helo_name" => {
                if let Some(name) = self.first_word(s, c) {
                    self.draft.global.smtp.helo_name = Some(name);
                }
            }
            "smtp_server" => {
                if !self.no_block(s, c) {
                    return true;
                }
                let server = match s.args.as_slice() {
                    [host] => smtp_server(host, None),
                    [host, port, ..] => smtp_server(host, Some(port)),
                    [] => Err("smtp_server needs an address or a host name".to_owned()),
                };
                if let Some(server) = self.ok(s, c, server) {
                    self.draft.global.smtp.server = Some(server);
                }
            }
            "smtp_connect_timeout" => {
                if let Some(n) = self.integer(s, c) {
                    let seconds = match u32::try_from(n) {
                        Ok(0) => {
                            let message = format!(
                                "{c}: smtp_connect_timeout must be greater than 0, setting to 1"
                            );
                            self.d.warn(&s.at, message);
                            Ok(1)
                        }
                        Ok(n) if n <= u32::MAX / 1_000_000 => Ok(n),
                        _ => Err(format!(
                            "smtp_connect_timeout '{n}' must be in [0, {}]",
                            u32::MAX / 1_000_000
                        )),
                    };
                    if let Some(seconds) = self.ok(s, c, seconds) {
                        self.draft.global.smtp.connect_timeout =
                            Duration::from_secs(u64::from(seconds));
                    }
                }
            }
            "no_email_faults" => {
                if self.no_value(s, c) {
                    self.draft.global.smtp.no_email_faults = true;
                }
            }
            "smtp_alert" | "smtp_alert_vrrp" | "smtp_alert_checker" | "no_checker_emails" => {
                let Some(on) = self.smtp_alert(s, c) else {
                    return true;
                };
                let smtp = &mut self.draft.global.smtp;
                match keyword {
                    "smtp_alert" => smtp.alert = Some(on),
                    "smtp_alert_vrrp" => smtp.alert_vrrp = Some(on),
                    "smtp_alert_checker" => smtp.alert_checker = Some(on),
                    _ => smtp.no_checker_emails = on,
                }
            }
            _ => return false,
        }
        true
    }

    /// `smtp_alert [<BOOL>]` of any block: alone it means on.
    pub(super) fn smtp_alert(&mut self, s: &Stmt, context: &str) -> Option<bool> {
        self.flag(s, context)
    }

    /// `notification_email { ADDRESS ... }`: every word of every line is a recipient; a
    /// second block adds to the first, as keepalived's list.
    fn recipients(&mut self, s: &Stmt, c: &str) {
        let Some(block) = s.block.as_deref() else {
            if s.args.is_empty() {
                self.d
                    .warn(&s.at, format!("{c}: empty notification_email block"));
            } else {
                self.error(
                    &s.at,
                    c,
                    format!(
                        "notification_email takes a block: notification_email {{ {} }}",
                        s.rest()
                    ),
                );
            }
            return;
        };
        if block.is_empty() {
            self.d
                .warn(&s.at, format!("{c}: empty notification_email block"));
        }
        for line in block {
            if !self.no_block(line, c) {
                continue;
            }
            let words = std::iter::once(&line.keyword).chain(&line.args);
            self.draft.global.smtp.to.extend(words.cloned());
        }
    }

    /// The first word after the keyword (keepalived ignores the rest); an error when none.
    fn first_word(&mut self, s: &Stmt, c: &str) -> Option<String> {
        if !self.no_block(s, c) {
            return None;
        }
        let word = s.args.first().cloned();
        if word.is_none() {
            self.error(&s.at, c, format!("{} needs a value", s.keyword));
        }
        word
    }
}

/// keepalived's `smtpserver_handler`: an address, else a host name resolved now (the
/// first address it has), with the port given or 25.
fn smtp_server(host: &str, port: Option<&String>) -> Result<SocketAddr, String> {
    let port = match port {
        None => DEFAULT_PORT,
        Some(text) => text.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| {
            format!("Invalid smtp server {host} {text}: the port is not 1..65535")
        })?,
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    // keepalived: "It can't be an IP address if it contains '-' or '/'", nor a name.
    let resolved = if host.contains(['/']) {
        None
    } else {
        (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut all| all.next())
    };
    resolved.ok_or_else(|| {
        format!("Invalid smtp server {host} {port}: not an address, nor a name this host resolves")
    })
}

//! keepalived's IPVS sync daemon keywords, mapped onto conntrackd's sync ([`ConnSync`]):
//! `lvs_sync_daemon INTERFACE [[inst] VRRP_INSTANCE] [id N] [maxlen N] [port N] [ttl N]
//! [group ADDRESS]` in global_defs, as `global_parser.c` reads it, and the deprecated
//! `lvs_sync_daemon_interface INTERFACE` of a vrrp_instance.
//!
//! The wire is conntrackd's, not IPVS's: a keepalived peer's sync daemon and baton's
//! conntrackd do not understand each other. Without `group` the group is conntrackd's
//! default (225.0.0.50, port 3780), not IPVS's 224.0.0.81:8848, so that the two never
//! share a group during a migration.

use crate::conn_sync::{ConnSync, DEFAULT_CONNTRACKD, DEFAULT_GROUP, DEFAULT_PORT, SyncTransport};
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::values::{parse_integer, parse_ip};

impl Mapper<'_> {
    /// `lvs_sync_daemon` in global_defs; false if `s` is something else.
    pub(super) fn lvs_sync_daemon(&mut self, s: &Stmt, c: &str) -> bool {
        if s.keyword != "lvs_sync_daemon" {
            return false;
        }
        if !self.no_block(s, c) || self.sync_already_given(s, c) {
            return true;
        }
        let Some((interface, options)) = s.args.split_first() else {
            self.error(&s.at, c, "lvs_sync_daemon requires interface");
            return true;
        };
        let mut instances = Vec::new();
        let mut group = DEFAULT_GROUP;
        let mut port = DEFAULT_PORT;
        let mut i = 0;
        while i < options.len() {
            let option = options[i].as_str();
            let value = options.get(i + 1).map(String::as_str);
            let takes_value = matches!(option, "inst" | "id" | "maxlen" | "port" | "ttl" | "group");
            if takes_value && value.is_none() {
                self.error(&s.at, c, format!("lvs_sync_daemon {option} needs a value"));
                return true;
            }
            let value = value.unwrap_or_default();
            match option {
                "inst" => instances.push(value.to_owned()),
                "port" => match parse_integer(value)
                    .ok()
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|&n| n > 0)
                {
                    Some(n) => port = n,
                    None => {
                        self.error(
                            &s.at,
                            c,
                            format!("lvs_sync_daemon port {value} is not 1..=65535"),
                        );
                        return true;
                    }
                },
                "group" => match parse_ip(value) {
                    Ok(address) => group = address,
                    Err(e) => {
                        self.error(&s.at, c, format!("lvs_sync_daemon group: {e}"));
                        return true;
                    }
                },
                "id" | "maxlen" | "ttl" => {
                    let why = match option {
                        "id" => {
                            "conntrackd has no sync id: load balancer pairs are told apart by group and port"
                        }
                        "maxlen" => "conntrackd sizes its own messages",
                        _ => "conntrackd's multicast stays on the sync link",
                    };
                    self.d.warn(
                        &s.at,
                        format!("{c}: lvs_sync_daemon {option} {value} is ignored: {why}"),
                    );
                }
                // keepalived's older form: INTERFACE VRRP_INSTANCE [SYNC_ID].
                _ if i == 0 => {
                    instances.push(option.to_owned());
                    i += 1;
                    continue;
                }
                _ if i == 1 && !instances.is_empty() => {
                    self.d.warn(
                        &s.at,
                        format!("{c}: lvs_sync_daemon sync id {option} is ignored: conntrackd has no sync id"),
                    );
                    i += 1;
                    continue;
                }
                _ => {
                    self.error(
                        &s.at,
                        c,
                        format!("unknown option {option} of lvs_sync_daemon"),
                    );
                    return true;
                }
            }
            i += 2;
        }
        self.draft.global.conn_sync = Some(ConnSync {
            interface: interface.clone(),
            transport: SyncTransport::Multicast { group, port },
            instances,
            conntrackd: DEFAULT_CONNTRACKD.into(),
            location: s.at.clone().into(),
        });
        true
    }

    /// `lvs_sync_daemon_interface INTERFACE` in vrrp_instance `instance`: the sync follows
    /// that instance, over conntrackd's default group.
    pub(super) fn lvs_sync_daemon_interface(&mut self, s: &Stmt, c: &str, instance: &str) {
        let Some(interface) = self.one(s, c) else {
            return;
        };
        let interface = interface.to_owned();
        self.d.warn(
            &s.at,
            format!(
                "{c}: lvs_sync_daemon_interface in a vrrp_instance is deprecated (keepalived says so too); write lvs_sync_daemon {interface} inst {instance} in global_defs"
            ),
        );
        if self.sync_already_given(s, c) {
            return;
        }
        self.draft.global.conn_sync = Some(ConnSync {
            interface,
            transport: SyncTransport::Multicast {
                group: DEFAULT_GROUP,
                port: DEFAULT_PORT,
            },
            instances: vec![instance.to_owned()],
            conntrackd: DEFAULT_CONNTRACKD.into(),
            location: s.at.clone().into(),
        });
    }

    /// keepalived keeps the first sync daemon and ignores the others, with an error in its
    /// log; a warning here.
    fn sync_already_given(&mut self, s: &Stmt, c: &str) -> bool {
        let Some(first) = &self.draft.global.conn_sync else {
            return false;
        };
        let message = format!(
            "{c}: {} is ignored: the sync daemon is already given at line {}",
            s.keyword, first.location.line
        );
        self.d.warn(&s.at, message);
        true
    }
}

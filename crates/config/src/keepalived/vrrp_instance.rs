//! keepalived's `vrrp_instance` block and its `authentication`, as `vrrp_parser.c` reads
//! them. The keyword families shared with other blocks (notify, tracking, gratuitous ARP
//! timers, election, virtual MACs, routes) are read in their own files.

use crate::fields;
use crate::keepalived::keywords;
use crate::keepalived::mapping::{Mapper, Once};
use crate::keepalived::parser::Stmt;
use crate::model::UnicastPeer;
use crate::spec::{At, AuthDraft, InstanceDraft};
use crate::values::{parse_ip, parse_virtual_address};

impl Mapper<'_> {
    pub(super) fn instance(&mut self, s: &Stmt) {
        let Some((name, block)) = self.named(s) else {
            return;
        };
        let c = format!("instance {name}");
        let c = c.as_str();
        let mut i = InstanceDraft::new(name, s.at.clone());
        let mut seen = Once::new();
        for s in block {
            self.once(&mut seen, s, c);
            let keyword = s.keyword.as_str();
            if self.notify(&mut i.notify, s, c)
                || self.tracks(
                    s,
                    c,
                    &mut i.track_interfaces,
                    &mut i.track_scripts,
                    &mut i.track_files,
                )
                || self.track_bfd(s, c, &mut i.track_bfds)
                || self.garp(&mut i.garp, s, keyword, c)
                || self.election(&mut i.election, s, keyword, (c, false))
                || self.vmac_instance(&mut i.vmac, s, c)
                || self.instance_routing(&mut i, s, c)
            {
                continue;
            }
            match keyword {
                "notify_master_rx_lower_pri" => {
                    if i.notify.master_rx_lower_pri.is_some() {
                        self.error(&s.at, c, format!("{keyword} is given twice"));
                    } else {
                        i.notify.master_rx_lower_pri = self.notify_script(s, c);
                    }
                }
                "notify_deleted" => {
                    if i.notify.notify_deleted {
                        self.error(&s.at, c, format!("{keyword} is given twice"));
                    } else if s.args.is_empty() {
                        i.notify.notify_deleted = self.no_block(s, c);
                    } else {
                        i.notify.deleted = self.notify_script(s, c);
                        i.notify.notify_deleted = i.notify.deleted.is_some();
                    }
                }
                "state" => {
                    if let Some(v) = self.one(s, c) {
                        i.state = self.ok(s, c, fields::state(v));
                    }
                }
                "interface" => {
                    i.interface_given = true;
                    i.interface = self.one(s, c).map(str::to_owned);
                }
                "virtual_router_id" => {
                    i.vrid_given = true;
                    if let Some(v) = self.integer(s, c) {
                        i.vrid = self.ok(s, c, fields::vrid(v));
                    }
                }
                "priority" => {
                    if let Some(v) = self.integer(s, c) {
                        i.priority = self.ok(s, c, fields::priority(v));
                    }
                }
                "advert_int" => {
                    i.advert_int = self.seconds(s, c).map(|v| At::new(v, s.at.clone()));
                }
                "version" => {
                    if let Some(v) = self.integer(s, c) {
                        i.version = self
                            .ok(s, c, fields::version("version", v))
                            .map(|v| At::new(v, s.at.clone()));
                    }
                }
                "authentication" => i.auth = self.authentication(s, c).or(i.auth.take()),
                "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                    let excluded = keyword == "virtual_ipaddress_excluded";
                    let Some(entries) = self.list_block(s, c, "addresses") else {
                        continue;
                    };
                    i.virtual_ipaddress_given |= !excluded && !entries.is_empty();
                    for entry in entries {
                        let words: Vec<&str> = std::iter::once(entry.keyword.as_str())
                            .chain(entry.args.iter().map(String::as_str))
                            .collect();
                        let result = parse_virtual_address(&words, entry.at.clone())
                            .map_err(|e| format!("{keyword}: {e}"));
                        if let Some(mut vip) = self.ok(entry, c, result) {
                            if vip.address.is_ipv6() && vip.scope.take().is_some() {
                                self.d.warn(
                                    &entry.at,
                                    format!(
                                        "{c}: {keyword}: {}: the scope of an IPv6 address comes from the address itself; 'scope' is ignored, as keepalived ignores it",
                                        vip.address
                                    ),
                                );
                            }
                            if excluded {
                                i.excluded_addresses.push(vip);
                            } else {
                                i.virtual_addresses.push(vip);
                            }
                        }
                    }
                }
                "no_virtual_ipaddress" => {
                    if self.no_value(s, c) {
                        i.no_virtual_ipaddress = true;
                    }
                }
                "unicast_src_ip" | "mcast_src_ip" => {
                    if let Some(v) = self.one(s, c) {
                        i.source_address = self
                            .ok(s, c, parse_ip(v).map_err(|e| format!("{keyword}: {e}")))
                            .map(|ip| At::new(ip, s.at.clone()));
                    }
                }
                "unicast_peer" => {
                    let Some(entries) = self.block(s, c) else {
                        continue;
                    };
                    if entries.is_empty() {
                        self.d.warn(
                            &s.at,
                            format!("{c}: unicast_peer is empty, so adverts are multicast (as keepalived)"),
                        );
                    }
                    for entry in entries {
                        if !self.no_block(entry, c) {
                            continue;
                        }
                        let result = parse_ip(&entry.keyword).and_then(|address| {
                            Ok((address, fields::unicast_peer_ttl(&entry.args)?))
                        });
                        let result = result.map_err(|e| format!("unicast_peer: {e}"));
                        if let Some((address, ttl)) = self.ok(entry, c, result) {
                            i.unicast_peers.push(UnicastPeer {
                                address,
                                ttl,
                                location: entry.at.clone().into(),
                            });
                        }
                    }
                }
                "nopreempt" | "preempt" => {
                    if self.no_value(s, c) {
                        i.nopreempt = Some(At::new(keyword == "nopreempt", s.at.clone()));
                    }
                }
                "preempt_delay" => {
                    if let Some(v) = self.seconds(s, c) {
                        i.preempt_delay = self
                            .ok(s, c, fields::preempt_delay(v))
                            .map(|v| At::new(v, s.at.clone()));
                    }
                }
                "accept" | "no_accept" => {
                    if self.no_value(s, c) {
                        i.accept = Some(keyword == "accept");
                    }
                }
                "track_process" => self.track_process_refs(s, c, &mut i.track_processes),
                "dont_track_primary" => {
                    if self.no_value(s, c) {
                        i.dont_track_primary = true;
                    }
                }
                "track_src_ip" => {
                    if self.no_value(s, c) {
                        i.track_src_ip = Some(s.at.clone());
                    }
                }
                "strict_mode" => i.strict_mode = self.flag(s, c).or(i.strict_mode),
                "v3_checksum_as_v2" => {
                    i.v3_checksum_as_v2 = self.flag(s, c).map(|on| At::new(on, s.at.clone()));
                }
                "check_unicast_src" => {
                    let _ = self.no_value(s, c);
                }
                "native_ipv6" => {
                    if self.no_value(s, c) {
                        i.native_ipv6 = Some(s.at.clone());
                    }
                }
                "skip_check_adv_addr" => {
                    // keepalived 2.2.7 sets it for any valid <BOOL>, "off" included.
                    let Some(on) = self.flag(s, c) else {
                        continue;
                    };
                    if !on {
                        self.d.warn(
                            &s.at,
                            format!(
                                "{c}: skip_check_adv_addr {} still turns it on, as in keepalived 2.2.7; remove the line to keep adverts checked",
                                s.rest()
                            ),
                        );
                    }
                    i.skip_check_adv_addr = true;
                }
                "debug" => self.d.warn(
                    &s.at,
                    format!("{c}: debug is ignored (keepalived does not implement it either)"),
                ),
                "lvs_sync_daemon_interface" => {
                    let name = i.name.clone();
                    self.lvs_sync_daemon_interface(s, c, &name);
                }
                _ => self.ignore_or_refuse(&keywords::INSTANCE, s, c),
            }
        }
        self.draft.instances.push(i);
    }

    fn authentication(&mut self, s: &Stmt, c: &str) -> Option<AuthDraft> {
        if !s.args.is_empty() {
            self.error(
                &s.at,
                c,
                format!("authentication takes a {{ }} block, not '{}'", s.rest()),
            );
            return None;
        }
        let block = self.block(s, c)?;
        let mut auth = AuthDraft {
            location: s.at.clone(),
            pass_type: false,
            pass: None,
        };
        let mut valid = true;
        for entry in block {
            match entry.keyword.as_str() {
                "auth_type" => match self.one(entry, c) {
                    Some(v) => match self.ok(entry, c, fields::auth_type(v)) {
                        Some(()) => auth.pass_type = true,
                        None => valid = false,
                    },
                    None => valid = false,
                },
                "auth_pass" => match self.one(entry, c) {
                    Some(v) => auth.pass = Some(At::new(v.to_owned(), entry.at.clone())),
                    None => valid = false,
                },
                _ => {
                    self.refuse(&keywords::AUTHENTICATION, entry, c);
                    valid = false;
                }
            }
        }
        // An error already said what is wrong; do not add "auth_pass without auth_type".
        valid.then_some(auth)
    }
}

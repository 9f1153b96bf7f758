//! `[[vrrp]]`: keepalived's `vrrp_instance` and its `authentication`, with their key names.
//! The lists shared with sync groups (tracking, notify scripts) are read in `track_lists`
//! and `notify`, the gratuitous ARP timers in `garp`.

use serde::Deserialize;
use toml::{Spanned, Value};

use super::notify::notify_script;
use super::{Checked, Reader};
use crate::diagnostic::Location;
use crate::fields;
use crate::model::{TrackFrontend, TrackVirtualServer, UnicastPeer, VirtualAddress};
use crate::spec::{At, AuthDraft, InstanceDraft};
use crate::values::{self, parse_ip};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthToml {
    auth_type: Option<Spanned<String>>,
    auth_pass: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InstanceToml {
    name: String,
    interface: Option<String>,
    virtual_router_id: Option<Spanned<i64>>,
    version: Option<Spanned<i64>>,
    state: Option<Spanned<String>>,
    priority: Option<Spanned<i64>>,
    advert_int: Option<Spanned<Value>>,
    virtual_ipaddress: Option<Vec<Spanned<Value>>>,
    virtual_ipaddress_excluded: Option<Vec<Spanned<Value>>>,
    no_virtual_ipaddress: Option<bool>,
    #[serde(alias = "mcast_src_ip")]
    unicast_src_ip: Option<Spanned<String>>,
    unicast_peer: Option<Vec<Spanned<String>>>,
    nopreempt: Option<Spanned<bool>>,
    preempt_delay: Option<Spanned<Value>>,
    accept: Option<bool>,
    authentication: Option<Spanned<AuthToml>>,
    track_interface: Option<Vec<Spanned<Value>>>,
    track_script: Option<Vec<Spanned<Value>>>,
    track_file: Option<Vec<Spanned<Value>>>,
    track_frontend: Option<Vec<Spanned<Value>>>,
    track_virtual_server: Option<Vec<Spanned<Value>>>,
    dont_track_primary: Option<bool>,
    /// keepalived's `track_src_ip`.
    track_src_ip: Option<Spanned<bool>>,
    skip_check_adv_addr: Option<bool>,
    strict_mode: Option<bool>,
    notify_master: Option<Spanned<Value>>,
    notify_backup: Option<Spanned<Value>>,
    notify_fault: Option<Spanned<Value>>,
    notify_stop: Option<Spanned<Value>>,
    notify: Option<Spanned<Value>>,
    notify_master_rx_lower_pri: Option<Spanned<Value>>,
    /// `true`, or the script to run.
    notify_deleted: Option<Spanned<Value>>,
    garp_master_delay: Option<Spanned<i64>>,
    garp_master_repeat: Option<Spanned<i64>>,
    garp_master_refresh: Option<Spanned<i64>>,
    garp_master_refresh_repeat: Option<Spanned<i64>>,
    v3_checksum_as_v2: Option<Spanned<bool>>,
    lower_prio_no_advert: Option<bool>,
    higher_prio_send_advert: Option<bool>,
    down_timer_adverts: Option<Spanned<i64>>,
    unicast_ttl: Option<Spanned<i64>>,
    mcast_dst_ip: Option<Spanned<String>>,
}

impl Reader<'_> {
    pub(super) fn instance(
        &mut self,
        t: InstanceToml,
        start: usize,
        removed: &[String],
    ) -> InstanceDraft {
        let was_removed = |key: &str| removed.iter().any(|k| k == key);
        let c = format!("instance {}", t.name);
        let c = c.as_str();
        let mut i = InstanceDraft::new(t.name, self.at(start));
        i.interface_given = t.interface.is_some() || was_removed("interface");
        i.interface = t.interface;
        i.vrid_given = t.virtual_router_id.is_some() || was_removed("virtual_router_id");
        if let Some(v) = t.virtual_router_id {
            i.vrid = self.check(v.span().start, c, fields::vrid(*v.get_ref()));
        }
        if let Some(v) = t.version {
            let at = self.at(v.span().start);
            i.version = self
                .check(v.span().start, c, fields::version("version", *v.get_ref()))
                .map(|version| At::new(version, at));
        }
        if let Some(v) = t.state {
            i.state = self.check(v.span().start, c, fields::state(v.get_ref()));
        }
        if let Some(v) = t.priority {
            i.priority = self.check(v.span().start, c, fields::priority(*v.get_ref()));
        }
        if let Some(v) = t.advert_int {
            i.advert_int = self.seconds(c, "advert_int", &v);
        }
        i.virtual_ipaddress_given = t.virtual_ipaddress.as_ref().is_some_and(|v| !v.is_empty())
            || was_removed("virtual_ipaddress");
        for (list, out) in [
            (t.virtual_ipaddress, &mut i.virtual_addresses),
            (t.virtual_ipaddress_excluded, &mut i.excluded_addresses),
        ] {
            for item in list.unwrap_or_default() {
                let at = self.at(item.span().start);
                let result = virtual_address(item.get_ref(), at);
                if let Some(vip) = self.check(item.span().start, c, result) {
                    out.push(vip);
                }
            }
        }
        i.no_virtual_ipaddress = t.no_virtual_ipaddress.unwrap_or(false);
        if let Some(v) = t.unicast_src_ip {
            let at = self.at(v.span().start);
            i.source_address = self
                .check(v.span().start, c, parse_ip(v.get_ref()))
                .map(|ip| At::new(ip, at));
        }
        for peer in t.unicast_peer.unwrap_or_default() {
            let location = self.at(peer.span().start);
            if let Some(address) = self.check(peer.span().start, c, parse_ip(peer.get_ref())) {
                i.unicast_peers.push(UnicastPeer {
                    address,
                    ttl: 0..=u8::MAX,
                    location: location.into(),
                });
            }
        }
        if let Some(v) = t.nopreempt {
            i.nopreempt = Some(At::new(*v.get_ref(), self.at(v.span().start)));
        }
        if let Some(v) = t.preempt_delay {
            i.preempt_delay = self.seconds(c, "preempt_delay", &v).and_then(|d| {
                let at = d.at.clone();
                self.check(v.span().start, c, fields::preempt_delay(d.value))
                    .map(|value| At::new(value, at))
            });
        }
        i.accept = t.accept;
        if let Some(auth) = t.authentication {
            let location = self.at(auth.span().start);
            let auth = auth.into_inner();
            let pass_type = auth.auth_type.is_some_and(|ty| {
                self.check(ty.span().start, c, fields::auth_type(ty.get_ref()))
                    .is_some()
            });
            let pass = auth
                .auth_pass
                .map(|p| At::new(p.get_ref().clone(), self.at(p.span().start)));
            i.auth = Some(AuthDraft {
                location,
                pass_type,
                pass,
            });
        }
        self.tracks(
            c,
            t.track_interface,
            t.track_script,
            t.track_file,
            (
                &mut i.track_interfaces,
                &mut i.track_scripts,
                &mut i.track_files,
            ),
        );
        let weight = fields::TRACK_WEIGHT;
        let frontends = t.track_frontend;
        i.track_frontends =
            self.track_list(c, "track_frontend", weight, frontends, |name, w, at| {
                TrackFrontend {
                    name,
                    weight: w.unwrap_or(0),
                    location: at.into(),
                }
            });
        let servers = t.track_virtual_server;
        i.track_virtual_servers =
            self.track_list(c, "track_virtual_server", weight, servers, |name, w, at| {
                TrackVirtualServer {
                    name,
                    weight: w.unwrap_or(0),
                    location: at.into(),
                }
            });
        i.dont_track_primary = t.dont_track_primary.unwrap_or(false);
        i.track_src_ip = t
            .track_src_ip
            .filter(|on| *on.get_ref())
            .map(|on| self.at(on.span().start));
        i.skip_check_adv_addr = t.skip_check_adv_addr.unwrap_or(false);
        i.strict_mode = t.strict_mode;
        i.notify = self.notify(
            c,
            [
                t.notify_master,
                t.notify_backup,
                t.notify_fault,
                t.notify_stop,
                t.notify,
            ],
        );
        i.garp = self.garp(
            c,
            [
                ("garp_master_delay", t.garp_master_delay),
                ("garp_master_repeat", t.garp_master_repeat),
                ("garp_master_refresh", t.garp_master_refresh),
                ("garp_master_refresh_repeat", t.garp_master_refresh_repeat),
            ],
        );
        if let Some(v) = t.v3_checksum_as_v2 {
            i.v3_checksum_as_v2 = Some(At::new(*v.get_ref(), self.at(v.span().start)));
        }
        if let Some(value) = t.notify_master_rx_lower_pri {
            let result = notify_script(value.get_ref(), self.at(value.span().start));
            i.notify.master_rx_lower_pri = self.check(value.span().start, c, result);
        }
        match t.notify_deleted {
            Some(value) if matches!(value.get_ref(), Value::Boolean(_)) => {
                i.notify.notify_deleted = value.get_ref().as_bool() == Some(true);
            }
            Some(value) => {
                let result = notify_script(value.get_ref(), self.at(value.span().start));
                i.notify.deleted = self.check(value.span().start, c, result);
                i.notify.notify_deleted = i.notify.deleted.is_some();
            }
            None => {}
        }
        i.election.lower_prio_no_advert = t.lower_prio_no_advert;
        i.election.higher_prio_send_advert = t.higher_prio_send_advert;
        if let Some(v) = t.down_timer_adverts {
            let result = fields::down_timer_adverts("down_timer_adverts", *v.get_ref());
            i.election.down_timer_adverts = self.check(v.span().start, c, result);
        }
        if let Some(v) = t.unicast_ttl {
            let at = self.at(v.span().start);
            let result = fields::unicast_ttl(*v.get_ref());
            i.election.unicast_ttl = self
                .check(v.span().start, c, result)
                .map(|ttl| At::new(ttl, at));
        }
        if let Some(v) = t.mcast_dst_ip {
            let result = fields::mcast_dst_ip(v.get_ref(), self.at(v.span().start));
            i.election.mcast_dst_ip = self.check(v.span().start, c, result);
        }
        i
    }
}

/// A virtual address: keepalived's text (`"10.0.3.100/24 dev eth0"`) or a table
/// `{ address, dev, label, brd, scope, no_track }`.
fn virtual_address(value: &Value, location: Location) -> Checked<VirtualAddress> {
    match value {
        Value::String(text) => {
            let words: Vec<&str> = text.split_whitespace().collect();
            values::parse_virtual_address(&words, location)
        }
        Value::Table(table) => {
            let mut words = Vec::new();
            let mut address = None;
            for (key, value) in table {
                match (key.as_str(), value) {
                    ("address", Value::String(a)) => address = Some(a.as_str()),
                    ("dev" | "label" | "brd" | "scope", Value::String(v)) => {
                        words.push(key.as_str());
                        words.push(v.as_str());
                    }
                    ("no_track", Value::Boolean(true)) => words.push("no_track"),
                    ("no_track", Value::Boolean(false)) => {}
                    _ => {
                        return Err(format!("virtual address: unexpected '{key} = {value}'"));
                    }
                }
            }
            let address = address.ok_or("virtual address: no 'address'")?;
            words.insert(0, address);
            values::parse_virtual_address(&words, location)
        }
        _ => Err("a virtual address must be a string or a table".into()),
    }
}

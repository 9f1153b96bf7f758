//! keepalived.conf's virtual MAC keywords, as `vrrp_parser.c` and `global_parser.c` 2.2.7 read
//! them: `use_vmac [NAME] [MAC]`, `use_vmac_addr`, `vmac_xmit_base`, `use_ipvlan [NAME]
//! [ADDRESS/PREFIX] [bridge|private|vepa]`, `garp_extra_if [all] SECONDS` (and its old name
//! `vmac_garp_intvl`) in instances; `vmac_prefix`, `vmac_addr_prefix`, `vrrp_garp_extra_if`
//! (`vrrp_vmac_garp_intvl`) and `disable_local_igmp` in `global_defs`. An address's own
//! `use_vmac` is read with the address (`values::parse_virtual_address`).

use std::net::IpAddr;
use std::time::Duration;

use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::values::{parse_integer, parse_ip};
use crate::vmac::{
    GarpExtraIf, IpvlanFlags, MacSpec, VirtualLinkKind, VmacDraft, valid_interface_name,
};

/// keepalived reads the extra interfaces' GARP interval up to a day.
const GARP_EXTRA_IF_MAX: i64 = 86_400;

impl Mapper<'_> {
    /// An instance's keyword of the family; false if `s` is something else.
    pub(super) fn vmac_instance(&mut self, v: &mut VmacDraft, s: &Stmt, c: &str) -> bool {
        match s.keyword.as_str() {
            "use_vmac" => self.use_vmac(v, s, c),
            "use_ipvlan" => self.use_ipvlan(v, s, c),
            "use_vmac_addr" => {
                if self.no_value(s, c) {
                    v.use_vmac_addr = Some(s.at.clone());
                }
            }
            "vmac_xmit_base" => {
                if self.no_value(s, c) {
                    v.xmit_base = Some(s.at.clone());
                }
            }
            "garp_extra_if" | "vmac_garp_intvl" => {
                if let Some(extra) = self.garp_extra_if(s, c, 0) {
                    v.garp_extra_if = Some(extra);
                }
            }
            _ => return false,
        }
        true
    }

    /// A `global_defs` keyword of the family; false if `s` is something else.
    pub(super) fn vmac_global(&mut self, s: &Stmt, c: &str) -> bool {
        let keyword = s.keyword.as_str();
        match keyword {
            "vmac_prefix" | "vmac_addr_prefix" => {
                let Some(prefix) = self.one(s, c) else {
                    return true;
                };
                let vmac = &mut self.draft.global.vmac;
                let slot = if keyword == "vmac_prefix" {
                    &mut vmac.prefix
                } else {
                    &mut vmac.addr_prefix
                };
                if slot.is_some() {
                    let message =
                        format!("{keyword} has already been specified - ignoring {prefix}");
                    self.error(&s.at, c, message);
                } else {
                    *slot = Some(prefix.to_owned());
                }
            }
            "vrrp_garp_extra_if" | "vrrp_vmac_garp_intvl" => {
                if let Some(extra) = self.garp_extra_if(s, c, 1) {
                    self.draft.global.vmac.garp_extra_if = extra;
                }
            }
            "disable_local_igmp" => {
                if self.no_value(s, c) {
                    self.draft.global.vmac.disable_local_igmp = true;
                }
            }
            _ => return false,
        }
        true
    }

    fn use_vmac(&mut self, v: &mut VmacDraft, s: &Stmt, c: &str) {
        if !self.no_block(s, c) || !self.one_link(v, s, c) {
            return;
        }
        v.location = Some(s.at.clone());
        let mut mac = None;
        // keepalived reads at most two words and ignores the rest.
        for word in s.args.iter().take(2) {
            if word.contains(':') {
                if mac.is_some() {
                    self.error(&s.at, c, "VMAC interface address already specified");
                    continue;
                }
                mac = self.ok(s, c, parse_vmac_mac(word));
            } else if v.name.is_some() {
                self.error(&s.at, c, "VMAC interface name already specified");
            } else {
                v.name = self.link_name(s, c, word);
            }
        }
        v.kind = Some(VirtualLinkKind::Macvlan { mac });
    }

    fn use_ipvlan(&mut self, v: &mut VmacDraft, s: &Stmt, c: &str) {
        if !self.no_block(s, c) || !self.one_link(v, s, c) {
            return;
        }
        v.location = Some(s.at.clone());
        let mut flags = None;
        let mut address = None;
        for word in &s.args {
            let flag = match word.as_str() {
                "bridge" => Some(IpvlanFlags::Bridge),
                "private" => Some(IpvlanFlags::Private),
                "vepa" => Some(IpvlanFlags::Vepa),
                _ => None,
            };
            if let Some(flag) = flag {
                if flags.is_some() {
                    self.error(
                        &s.at,
                        c,
                        format!("ipvlan type already specified - '{word}'"),
                    );
                } else {
                    flags = Some(flag);
                }
            } else if let Some(parsed) = ip_with_prefix(word) {
                let Some(parsed) = self.ok(s, c, parsed) else {
                    continue;
                };
                if address.is_some() {
                    self.error(
                        &s.at,
                        c,
                        format!("ipvlan address already specified - '{word}'"),
                    );
                } else {
                    address = Some(parsed);
                }
            } else if v.name.is_some() {
                self.error(
                    &s.at,
                    c,
                    format!("IPVLAN interface already specified - '{word}'"),
                );
            } else {
                v.name = self.link_name(s, c, word);
            }
        }
        v.kind = Some(VirtualLinkKind::Ipvlan {
            flags: flags.unwrap_or_default(),
            address,
        });
    }

    /// An instance owns one link: a second `use_vmac` / `use_ipvlan` is an error.
    fn one_link(&mut self, v: &VmacDraft, s: &Stmt, c: &str) -> bool {
        if v.kind.is_none() {
            return true;
        }
        let message = format!(
            "{} after use_vmac or use_ipvlan: an instance has one",
            s.keyword
        );
        self.error(&s.at, c, message);
        false
    }

    /// A written link name: one the kernel takes, that no earlier instance uses.
    fn link_name(&mut self, s: &Stmt, c: &str, name: &str) -> Option<String> {
        if !valid_interface_name(name) {
            let message = format!(
                "VMAC interface name '{name}' too long or invalid characters (at most 15, no '/', ':' or spaces)"
            );
            self.error(&s.at, c, message);
            return None;
        }
        let other = self
            .draft
            .instances
            .iter()
            .find(|i| i.vmac.name.as_deref() == Some(name));
        if let Some(other) = other {
            let message = format!("instance {} is already using {name}", other.name);
            self.error(&s.at, c, message);
            return None;
        }
        Some(name.to_owned())
    }

    /// `[all] SECONDS`, SECONDS from `min` to a day (0: `Some(None)`); `None` after an error.
    fn garp_extra_if(&mut self, s: &Stmt, c: &str, min: i64) -> Option<Option<GarpExtraIf>> {
        if !self.no_block(s, c) {
            return None;
        }
        let keyword = s.keyword.as_str();
        if matches!(keyword, "vmac_garp_intvl" | "vrrp_vmac_garp_intvl") {
            let new = keyword.replace("vmac_garp_intvl", "garp_extra_if");
            let message = format!("{c}: {keyword} is deprecated - please use {new}");
            self.d.warn(&s.at, message);
        }
        let mut all = false;
        let mut interval = None;
        for word in &s.args {
            if word == "all" {
                all = true;
                continue;
            }
            let seconds = parse_integer(word)
                .ok()
                .filter(|n| (min..=GARP_EXTRA_IF_MAX).contains(n));
            match seconds {
                Some(n) => interval = Some(Duration::from_secs(n.unsigned_abs())),
                None => {
                    let message = format!(
                        "{keyword} '{word}' invalid: [all] SECONDS, {min} to {GARP_EXTRA_IF_MAX}"
                    );
                    self.error(&s.at, c, message);
                    return None;
                }
            }
        }
        match interval {
            Some(interval) if !interval.is_zero() => Some(Some(GarpExtraIf { interval, all })),
            // keepalived: 0 in an instance turns off the global default.
            Some(_) => Some(None),
            None => {
                self.error(&s.at, c, format!("{keyword} specified without time"));
                None
            }
        }
    }
}

/// `ADDRESS[/PREFIX]` if `word` looks like one (keepalived's `check_valid_ipaddress`), with
/// the prefix defaulting to the whole address.
fn ip_with_prefix(word: &str) -> Option<Result<(IpAddr, u8), String>> {
    let (text, prefix) = match word.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (word, None),
    };
    let address = parse_ip(text).ok()?;
    let max = if address.is_ipv6() { 128 } else { 32 };
    let prefix = match prefix {
        None => Ok(max),
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("ipvlan address '{word}': prefix length must be 0..={max}")),
    };
    Some(prefix.map(|p| (address, p)))
}

/// keepalived's MAC after `use_vmac`: six octets of one or two hex digits, or five (the
/// sixth is then the VRID); not multicast, and not the RFC's own 00:00:5e:00:01/02 range.
pub(crate) fn parse_vmac_mac(word: &str) -> Result<MacSpec, String> {
    let invalid = || format!("VMAC invalid MAC address {word}");
    if !word.chars().all(|ch| ch.is_ascii_hexdigit() || ch == ':') {
        return Err(invalid());
    }
    let parts: Vec<&str> = word.strip_suffix(':').unwrap_or(word).split(':').collect();
    let vrid_last = match parts.len() {
        5 => true,
        6 if !word.ends_with(':') => false,
        _ => return Err(invalid()),
    };
    let mut octets = [0u8; 6];
    for (octet, part) in octets.iter_mut().zip(&parts) {
        if part.is_empty() || part.len() > 2 {
            return Err(invalid());
        }
        *octet = u8::from_str_radix(part, 16).map_err(|_| invalid())?;
    }
    if octets[0] & 0x01 != 0 {
        return Err(format!("VMAC MAC address is multicast {word}"));
    }
    if octets[..4] == [0x00, 0x00, 0x5e, 0x00] && matches!(octets[4], 0x01 | 0x02) {
        return Err(format!(
            "VMAC MAC address not allowed to be RFC5798 address ({word}); without a MAC use_vmac takes it"
        ));
    }
    Ok(MacSpec { octets, vrid_last })
}

#[cfg(test)]
mod tests {
    use super::parse_vmac_mac;

    #[test]
    fn macs_as_keepalived_reads_them() {
        let six = parse_vmac_mac("02:aa:bb:cc:dd:e").expect("six octets");
        assert_eq!(six.octets, [2, 0xaa, 0xbb, 0xcc, 0xdd, 0x0e]);
        assert!(!six.vrid_last);
        let five = parse_vmac_mac("02:aa:bb:cc:dd").expect("five octets");
        assert!(five.vrid_last);
        assert!(
            parse_vmac_mac("02:aa:bb:cc:dd:")
                .expect("five and a colon")
                .vrid_last
        );
        for bad in [
            "02:aa:bb:cc",
            "02:aa:bb:cc:dd:ee:ff",
            "02:aaa:bb:cc:dd:ee",
            "0g:aa:bb:cc:dd:ee",
            "02::bb:cc:dd:ee",
        ] {
            assert!(parse_vmac_mac(bad).is_err(), "{bad}");
        }
        assert!(
            parse_vmac_mac("01:aa:bb:cc:dd:ee")
                .unwrap_err()
                .contains("multicast")
        );
        assert!(
            parse_vmac_mac("00:00:5e:00:01:07")
                .unwrap_err()
                .contains("RFC5798")
        );
        assert!(parse_vmac_mac("00:00:5e:00:03:07").is_ok());
    }
}

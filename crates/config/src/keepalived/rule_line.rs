//! One line of `virtual_rules` / `static_rules`, read as keepalived 2.2.7's `alloc_rule`
//! (`vrrp_iprule.c`): selectors and exactly one action (`table`/`lookup`, `goto`, `nop`,
//! `blackhole`, `unreachable`, `prohibit`, `l3mdev`) in any order.

use crate::diagnostic::Location;
use crate::keepalived::route_line::{FamilyOf, Parsed, any_prefix, parse_prefix, u32_value};
use crate::keepalived::rt_names::{RtNames, c_number, route_type};
use crate::routing::{PROTOCOL_KEEPALIVED, Rule, RuleAction};

/// keepalived's first automatic preference (`RULE_START_PRIORITY`), counted down per family.
pub(crate) const FIRST_AUTOMATIC_PREFERENCE: u32 = 16384;

/// The automatic preferences left, per family, across the whole file (as keepalived's
/// static counters).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NextPreference {
    pub(crate) ipv4: u32,
    pub(crate) ipv6: u32,
}

impl Default for NextPreference {
    fn default() -> NextPreference {
        NextPreference {
            ipv4: FIRST_AUTOMATIC_PREFERENCE,
            ipv6: FIRST_AUTOMATIC_PREFERENCE,
        }
    }
}

/// Reads a rule line. `static_line` allows `track_group`.
pub(crate) fn parse_rule(
    words: &[&str],
    names: &RtNames,
    static_line: bool,
    next: &mut NextPreference,
    location: Location,
) -> Result<Parsed<Rule>, String> {
    let mut warnings = Vec::new();
    let mut family = FamilyOf::default();
    let mut rule = Rule {
        ipv6: false,
        from: None,
        to: None,
        action: RuleAction::Nop,
        invert: false,
        preference: 0,
        tos: 0,
        fwmark: None,
        iif: None,
        oif: None,
        protocol: None,
        ipproto: None,
        sport: None,
        dport: None,
        suppress_prefixlength: None,
        suppress_ifgroup: None,
        uidrange: None,
        no_track: false,
        track_group: None,
        location: location.into(),
    };
    let mut action: Option<RuleAction> = None;
    let mut preference = None;
    let mut table_option = false;
    let mut protocol_given = None;
    let mut set_action = |new: RuleAction| {
        if action.is_some() {
            return Err(
                "only one of table/nop/goto/blackhole/prohibit/unreachable/l3mdev may be given"
                    .to_owned(),
            );
        }
        action = Some(new);
        Ok(())
    };
    let mut i = 0;
    while i < words.len() {
        let option = words[i];
        let value = |at: usize| {
            words
                .get(at)
                .copied()
                .ok_or_else(|| format!("'{option}' needs a value"))
        };
        match option {
            "inet" | "inet6" => family.set(option == "inet6", option)?,
            "from" | "to" => {
                i += 1;
                let text = value(i)?;
                let prefix = parse_prefix(text)
                    .map_err(|_| format!("invalid rule {option} address {text}"))?;
                if let Some(p) = prefix {
                    family
                        .set(p.address.is_ipv6(), option)
                        .map_err(|_| "rule specification has mixed IPv4 and IPv6".to_owned())?;
                }
                // `default` is kept as "no family yet" and resolved at the end.
                let slot = if option == "from" {
                    &mut rule.from
                } else {
                    &mut rule.to
                };
                *slot = Some(prefix.unwrap_or_else(|| any_prefix(false)));
            }
            "table" | "lookup" => {
                i += 1;
                let text = value(i)?;
                let table = names
                    .table(text)
                    .ok_or_else(|| format!("routing table {text} not found for rule"))?;
                if table == 0 {
                    return Err("table 0 is not valid".into());
                }
                set_action(RuleAction::Table(table))?;
            }
            "not" => rule.invert = true,
            "preference" | "order" | "priority" => {
                i += 1;
                preference = Some(u32_value(value(i)?, "rule preference")?);
            }
            "tos" | "dsfield" => {
                i += 1;
                let text = value(i)?;
                rule.tos = names
                    .dsfield(text)
                    .ok_or_else(|| format!("TOS value {text} is invalid"))?;
            }
            "fwmark" => {
                i += 1;
                let text = value(i)?;
                let invalid = || format!("invalid rule fwmark {text}");
                let (mark, mask) = match text.split_once('/') {
                    Some((m, k)) => (m, Some(k)),
                    None => (text, None),
                };
                let number = |t: &str| {
                    c_number(t)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(invalid)
                };
                let mask = match mask {
                    Some(k) => Some(number(k)?),
                    None => None,
                };
                rule.fwmark = Some((number(mark)?, mask));
            }
            "suppress_prefixlength" | "sup_pl" => {
                i += 1;
                let text = value(i)?;
                let length = c_number(text)
                    .filter(|n| *n <= i32::MAX as u64)
                    .ok_or_else(|| format!("invalid suppress_prefixlength {text}"))?;
                rule.suppress_prefixlength = Some(length as u32);
                table_option = true;
            }
            "suppress_ifgroup" | "sup_group" => {
                i += 1;
                let text = value(i)?;
                let group = c_number(text)
                    .filter(|n| *n <= i32::MAX as u64)
                    .ok_or_else(|| {
                        format!("suppress_ifgroup {text} is invalid (a number; group names are not read)")
                    })?;
                rule.suppress_ifgroup = Some(group as u32);
                table_option = true;
            }
            "dev" | "iif" => {
                i += 1;
                rule.iif = Some(value(i)?.to_owned());
            }
            "oif" => {
                i += 1;
                rule.oif = Some(value(i)?.to_owned());
            }
            "uidrange" => {
                i += 1;
                let text = value(i)?;
                rule.uidrange = Some(range(text, "uidrange")?);
            }
            "sport" | "dport" => {
                i += 1;
                let text = value(i)?;
                let (start, end) = range(text, option)?;
                let port =
                    |n: u32| u16::try_from(n).map_err(|_| format!("invalid {option} range {text}"));
                let ports = Some((port(start)?, port(end)?));
                if option == "sport" {
                    rule.sport = ports;
                } else {
                    rule.dport = ports;
                }
            }
            "l3mdev" => set_action(RuleAction::L3mdev)
                .map_err(|_| "l3mdev cannot be given with another action".to_owned())?,
            "protocol" => {
                i += 1;
                let text = value(i)?;
                protocol_given = Some(
                    c_number(text)
                        .and_then(|n| u8::try_from(n).ok())
                        .ok_or_else(|| format!("invalid protocol {text}"))?,
                );
            }
            "ipproto" => {
                i += 1;
                let text = value(i)?;
                rule.ipproto =
                    Some(ip_protocol(text).ok_or_else(|| format!("invalid ipproto {text}"))?);
            }
            "no_track" => rule.no_track = true,
            "track_group" if static_line => {
                i += 1;
                let name = value(i)?;
                if rule.track_group.is_some() {
                    return Err(format!("track_group {name} is a duplicate"));
                }
                rule.track_group = Some(name.to_owned());
            }
            "realms" => return Err("rule option 'realms' is not supported".into()),
            "tunnel-id" => return Err("rule option 'tunnel-id' is not supported".into()),
            _ => {
                let mut word = option;
                if word == "type" {
                    i += 1;
                    word = value(i)?;
                }
                let new = match word {
                    "goto" => {
                        i += 1;
                        let text = value(i)?;
                        RuleAction::Goto(u32_value(text, "goto target")?)
                    }
                    "nop" => RuleAction::Nop,
                    _ => match route_type(word) {
                        Some(6) => RuleAction::Blackhole,
                        Some(7) => RuleAction::Unreachable,
                        Some(8) => RuleAction::Prohibit,
                        Some(_) => return Err(format!("invalid rule action {word}")),
                        None => return Err(format!("unknown rule option {word}")),
                    },
                };
                set_action(new)?;
            }
        }
        i += 1;
    }
    let Some(action) = action else {
        return Err("no action given for the rule (table, goto, nop, blackhole, unreachable, prohibit or l3mdev)".into());
    };
    rule.action = action;
    rule.ipv6 = family.ipv6();
    for prefix in [&mut rule.from, &mut rule.to].into_iter().flatten() {
        if prefix.len == 0 && prefix.address.is_unspecified() {
            *prefix = any_prefix(rule.ipv6);
        }
    }
    if let RuleAction::Goto(target) = action {
        match preference {
            Some(p) if p >= target => {
                return Err(format!(
                    "invalid rule: preference {p} >= goto target {target}"
                ));
            }
            None => {
                return Err(format!(
                    "invalid rule: goto target {target} without a preference"
                ));
            }
            _ => {}
        }
    }
    if table_option && !matches!(action, RuleAction::Table(_)) {
        return Err("suppress_prefixlength / suppress_ifgroup need a table action".into());
    }
    match (rule.no_track, protocol_given) {
        (false, Some(p)) if p != PROTOCOL_KEEPALIVED => warnings.push(format!(
            "a tracked rule's protocol is keepalived ({PROTOCOL_KEEPALIVED}); protocol {p} is replaced (add no_track to keep it)"
        )),
        (true, given) => rule.protocol = given,
        _ => {}
    }
    if !rule.no_track {
        rule.protocol = Some(PROTOCOL_KEEPALIVED);
    }
    if rule.track_group.is_some() && rule.iif.is_none() {
        warnings
            .push("a static rule without dev/iif cannot have a track_group: it is ignored".into());
        rule.track_group = None;
    }
    rule.preference = match preference {
        Some(p) => p,
        None => {
            let counter = if rule.ipv6 {
                &mut next.ipv6
            } else {
                &mut next.ipv4
            };
            let p = *counter;
            *counter = counter.saturating_sub(1);
            warnings.push(format!(
                "rule has no preference: set to {p}, as keepalived does (this is probably not what you want)"
            ));
            p
        }
    };
    Ok(Parsed {
        value: rule,
        warnings,
    })
}

/// `START-END` (keepalived reads both with sscanf; a single number is refused there too).
fn range(text: &str, what: &str) -> Result<(u32, u32), String> {
    text.split_once('-')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or_else(|| format!("invalid {what} {text} (START-END)"))
}

/// An IP protocol by number or by the common names (`inet_proto_a2n`).
fn ip_protocol(text: &str) -> Option<u8> {
    let known = [
        ("icmp", 1),
        ("tcp", 6),
        ("udp", 17),
        ("ipv6-icmp", 58),
        ("icmpv6", 58),
        ("sctp", 132),
    ];
    known
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, n)| *n)
        .or_else(|| c_number(text).and_then(|n| u8::try_from(n).ok()))
}

//! `bfd_instance` blocks and `track_bfd` entries, as keepalived 2.2.7's `bfd_parser.c` and
//! `vrrp_track.c` read them.

use std::net::IpAddr;
use std::time::Duration;

use crate::bfd::{BfdInstance, TrackBfdRef};
use crate::fields;
use crate::keepalived::keywords;
use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::values::{parse_integer, parse_ip};

/// keepalived's `BFD_INAME_MAX` (32) counts the terminating NUL.
const NAME_MAX: usize = 31;
/// Above this keepalived logs that an interval is "larger than max sensible".
const SENSIBLE: Duration = Duration::from_secs(10);
/// The most any interval can be: `UINT32_MAX / 1000` milliseconds.
const MOST_MS: u64 = u32::MAX as u64 / 1000;

/// What the block said, before the checks at its end.
#[derive(Default)]
struct Draft {
    neighbor: Option<IpAddr>,
    source: Option<IpAddr>,
    min_rx: Option<Duration>,
    min_tx: Option<Duration>,
    idle_tx: Option<Duration>,
    multiplier: Option<u8>,
    passive: bool,
    ttl: Option<u8>,
    max_hops: Option<Option<u8>>,
    weight: Option<i32>,
    vrrp: bool,
    checker: bool,
}

impl Mapper<'_> {
    pub(super) fn bfd_instance(&mut self, s: &Stmt) {
        let Some((name, block)) = self.named(s) else {
            return;
        };
        let c = format!("bfd_instance {name}");
        let c = c.as_str();
        if name.len() > NAME_MAX {
            let message = format!("the name is longer than keepalived's {NAME_MAX} characters");
            self.error(&s.at, c, message);
            return;
        }
        if self.draft.bfd_instances.iter().any(|b| b.name == name) {
            self.error(
                &s.at,
                c,
                "a bfd_instance of that name is already configured",
            );
            return;
        }
        let mut draft = Draft::default();
        for s in block {
            let keyword = s.keyword.as_str();
            match keyword {
                "neighbor_ip" | "neighbour_ip" => {
                    if let Some(text) = self.one(s, c) {
                        let result = parse_ip(text).map_err(|e| format!("{keyword}: {e}"));
                        draft.neighbor = self.ok(s, c, result).or(draft.neighbor);
                    }
                }
                "source_ip" => {
                    if let Some(text) = self.one(s, c) {
                        let result = parse_ip(text).map_err(|e| format!("{keyword}: {e}"));
                        draft.source = self.ok(s, c, result).or(draft.source);
                    }
                }
                "min_rx" | "min_tx" | "idle_tx" => {
                    let least = if keyword == "idle_tx" { 1000 } else { 1 };
                    let Some(text) = self.one(s, c) else { continue };
                    let result = milliseconds(text, least).map_err(|e| format!("{keyword}: {e}"));
                    let Some(value) = self.ok(s, c, result) else {
                        continue;
                    };
                    if value > SENSIBLE {
                        let message = format!(
                            "{c}: {keyword} {text} ms is larger than keepalived's most sensible value (10000 ms)"
                        );
                        self.d.warn(&s.at, message);
                    }
                    let slot = match keyword {
                        "min_rx" => &mut draft.min_rx,
                        "min_tx" => &mut draft.min_tx,
                        _ => &mut draft.idle_tx,
                    };
                    *slot = Some(value);
                }
                "multiplier" => {
                    if let Some(value) = self.ranged(s, c, 1, 255) {
                        draft.multiplier = u8::try_from(value).ok();
                    }
                }
                "passive" => draft.passive = self.no_value(s, c),
                "ttl" | "hoplimit" => {
                    if let Some(value) = self.ranged(s, c, 1, 255) {
                        draft.ttl = u8::try_from(value).ok();
                    }
                }
                "max_hops" => {
                    if let Some(value) = self.ranged(s, c, -1, 255) {
                        // keepalived stores -1 in a byte: 255, which turns the check off.
                        draft.max_hops = Some(u8::try_from(value).ok().filter(|&v| v != 255));
                    }
                }
                "weight" => {
                    if self.no_block(s, c) {
                        let result = weight(&s.args);
                        draft.weight = self.ok(s, c, result).or(draft.weight);
                    }
                }
                "vrrp" => draft.vrrp = self.no_value(s, c) || draft.vrrp,
                "checker" => draft.checker = self.no_value(s, c) || draft.checker,
                _ => self.refuse(&keywords::BFD_INSTANCE, s, c),
            }
        }
        if let Some(instance) = self.finish_bfd(name, draft, s) {
            self.draft.bfd_instances.push(instance);
        }
    }

    /// keepalived's `bfd_end_handler`: a neighbour is needed, of the source's family, and
    /// one session per neighbour (and source).
    fn finish_bfd(&mut self, name: String, draft: Draft, s: &Stmt) -> Option<BfdInstance> {
        let c = format!("bfd_instance {name}");
        let Some(neighbor) = draft.neighbor else {
            self.error(&s.at, &c, "no neighbor_ip");
            return None;
        };
        if draft
            .source
            .is_some_and(|source| source.is_ipv4() != neighbor.is_ipv4())
        {
            let message = "source_ip and neighbor_ip are not of the same family";
            self.error(&s.at, &c, message);
            return None;
        }
        let duplicate = self.draft.bfd_instances.iter().find(|other| {
            other.neighbor == neighbor
                && (other.source.is_none()
                    || draft.source.is_none()
                    || other.source == draft.source)
        });
        if let Some(other) = duplicate {
            let message = format!(
                "neighbor_ip {neighbor} is already bfd_instance {}'s (one session per neighbour and source)",
                other.name
            );
            self.error(&s.at, &c, message);
            return None;
        }
        let ttl = draft
            .ttl
            .unwrap_or(if neighbor.is_ipv4() { 255 } else { 64 });
        let mut max_hops = draft.max_hops.unwrap_or(Some(0));
        if max_hops.is_some_and(|hops| hops > ttl) {
            let message = format!(
                "{c}: max_hops exceeds ttl/hoplimit {ttl}; set to {ttl}, as keepalived does"
            );
            self.d.warn(&s.at, message);
            max_hops = Some(ttl);
        }
        Some(BfdInstance {
            name,
            neighbor,
            source: draft.source,
            min_rx: draft.min_rx.unwrap_or(Duration::from_millis(10)),
            min_tx: draft.min_tx.unwrap_or(Duration::from_millis(10)),
            idle_tx: draft.idle_tx.unwrap_or(Duration::from_secs(1)),
            multiplier: draft.multiplier.unwrap_or(5),
            passive: draft.passive,
            ttl,
            max_hops,
            weight: draft.weight.unwrap_or(0),
            // keepalived: events go to both processes unless one is named; baton has no
            // BFD checker, so `checker` alone leaves VRRP without the session.
            for_vrrp: draft.vrrp || !draft.checker,
            location: s.at.clone().into(),
        })
    }

    /// `track_bfd { NAME [weight N] }` of instances and sync groups; false if `s` is
    /// something else.
    pub(super) fn track_bfd(&mut self, s: &Stmt, c: &str, refs: &mut Vec<TrackBfdRef>) -> bool {
        if s.keyword != "track_bfd" {
            return false;
        }
        let Some(block) = self.list_block(s, c, "names") else {
            return true;
        };
        for entry in block {
            let result = track_entry(entry).map_err(|e| format!("track_bfd: {e}"));
            if let Some(weight) = self.ok(entry, c, result) {
                refs.push(TrackBfdRef {
                    name: entry.keyword.clone(),
                    weight,
                    location: entry.at.clone().into(),
                });
            }
        }
        true
    }

    fn ranged(&mut self, s: &Stmt, c: &str, least: i64, most: i64) -> Option<i64> {
        let value = self.integer(s, c)?;
        if (least..=most).contains(&value) {
            Some(value)
        } else {
            let message = format!("{} {value} is not in {least}..={most}", s.keyword);
            self.error(&s.at, c, message);
            None
        }
    }
}

/// keepalived's `read_decimal_unsigned_strvec(..., 3, ...)`: milliseconds with up to three
/// decimals (microseconds), from `least` to `UINT32_MAX / 1000` ms.
fn milliseconds(text: &str, least: u64) -> Result<Duration, String> {
    let invalid = || format!("'{text}' is not a number of milliseconds (up to 3 decimals)");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (text.contains('.') && !digits(fraction)) || fraction.len() > 3 {
        return Err(invalid());
    }
    let whole: u64 = whole.parse().map_err(|_| invalid())?;
    let fraction: u64 = format!("{fraction:0<3}").parse().map_err(|_| invalid())?;
    let micros = whole
        .checked_mul(1000)
        .and_then(|w| w.checked_add(fraction));
    match micros {
        Some(micros) if (least * 1000..=MOST_MS * 1000).contains(&micros) => {
            Ok(Duration::from_micros(micros))
        }
        _ => Err(format!("{text} ms is not in {least}..={MOST_MS} ms")),
    }
}

/// `weight N` of a `bfd_instance`.
fn weight(args: &[String]) -> Result<i32, String> {
    match args {
        [value] => fields::weight("weight", parse_integer(value)?, 253),
        [_, reverse] if reverse == "reverse" => Err(reverse_refused()),
        [] => Err("weight needs a value".into()),
        _ => Err(format!("weight: unexpected '{}'", args[1..].join(" "))),
    }
}

/// `NAME [weight N [reverse|noreverse]]`.
fn track_entry(entry: &Stmt) -> Result<Option<i32>, String> {
    match entry.args.as_slice() {
        [] => Ok(None),
        [word] if word == "weight" => Err(format!("{}: 'weight' needs a value", entry.keyword)),
        [word, value, rest @ ..] if word == "weight" => {
            match rest {
                [] => {}
                [flag] if flag == "noreverse" => {}
                [flag] if flag == "reverse" => return Err(reverse_refused()),
                _ => {
                    return Err(format!(
                        "{}: unexpected '{}'",
                        entry.keyword,
                        rest.join(" ")
                    ));
                }
            }
            fields::weight("weight", parse_integer(value)?, 253).map(Some)
        }
        [other, ..] => Err(format!("{}: unexpected '{other}'", entry.keyword)),
    }
}

fn reverse_refused() -> String {
    "'reverse' is not supported yet for BFD: a session is tracked with its plain weight".into()
}

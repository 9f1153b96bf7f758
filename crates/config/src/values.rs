//! Value syntax shared by both front ends, so that `10.0.3.100/24 dev eth0`, a notify
//! command line or a range error read and print the same from either file format.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::diagnostic::Location;
use crate::model::{Scope, ScriptUser, VirtualAddress};

/// keepalived's `<BOOL>`: on|off|true|false|yes|no.
pub(crate) fn parse_bool(word: &str) -> Option<bool> {
    match word {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// keepalived's `<TIMER>` / `<DECIMAL>` seconds: `3`, `0.92`; microsecond resolution.
pub(crate) fn parse_seconds(text: &str) -> Result<Duration, String> {
    let bad = || format!("'{text}' is not a number of seconds");
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return Err(bad());
    }
    if fraction.len() > 6 {
        return Err(format!(
            "'{text}' has more decimals than the resolution of one microsecond"
        ));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let micros: u32 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<6}").parse().map_err(|_| bad())?
    };
    Ok(Duration::from_secs(whole) + Duration::from_micros(u64::from(micros)))
}

/// Seconds from a TOML number, rounded to the microsecond like the text form.
pub(crate) fn seconds_from_f64(value: f64) -> Result<Duration, String> {
    if !(0.0..=1e9).contains(&value) {
        return Err(format!("{value} is not a number of seconds"));
    }
    Ok(Duration::from_micros((value * 1e6).round() as u64))
}

pub(crate) fn parse_integer(text: &str) -> Result<i64, String> {
    text.parse::<i64>()
        .map_err(|_| format!("'{text}' is not an integer"))
}

/// An integer in `min..=max`; `what` names it in the message.
pub(crate) fn in_range(what: &str, value: i64, min: i64, max: i64) -> Result<i64, String> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{what} {value} is out of range {min}..={max}"))
    }
}

pub(crate) fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse::<IpAddr>()
        .map_err(|_| format!("'{text}' is not an IP address"))
}

/// `user [group]` for scripts. keepalived's `:group` (set supplementary groups) is refused
/// rather than half done.
pub(crate) fn script_user(user: &str, group: Option<&str>) -> Result<ScriptUser, String> {
    // `user:group`, as chown writes it: a user name cannot hold a ':' (passwd separates
    // its fields with them), so the form can mean nothing else.
    if let Some((name, colon_group)) = user.split_once(':') {
        if let Some(group) = group {
            return Err(format!(
                "'{user} {group}': give the group once, as USER GROUP or USER:GROUP"
            ));
        }
        if name.is_empty() || colon_group.is_empty() || colon_group.contains(':') {
            return Err(format!("'{user}' is not USER:GROUP"));
        }
        return script_user(name, Some(colon_group));
    }
    if user.is_empty() {
        return Err("the script user is empty".into());
    }
    if let Some(group) = group.filter(|g| g.starts_with(':')) {
        return Err(format!(
            "group '{group}': the ':' form (also set the supplementary groups) is not \
             supported yet"
        ));
    }
    Ok(ScriptUser {
        user: user.to_owned(),
        group: group.map(str::to_owned),
    })
}

/// The command line of a script, split the way keepalived splits it
/// (`alloc_strvec_quoted_escaped`): words separated by whitespace, `"..."` and `'...'`
/// keep spaces, backslash escapes as in C.
pub(crate) fn split_command(line: &str) -> Result<Vec<String>, String> {
    let words = scan(line, Mode::Command)?;
    if words.is_empty() {
        return Err("the command line is empty".into());
    }
    Ok(words
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Word(word) => Some(word),
            Piece::Open | Piece::Close => None,
        })
        .collect())
}

/// What a line of keepalived.conf, or a command line, is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Word(String),
    Open,
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A line of keepalived.conf: `{`, `}` are tokens and `#`, `!` start a comment.
    Config,
    /// A script command line: those characters are ordinary.
    Command,
}

/// Splits one line into words (quotes removed, escapes applied) and braces.
pub(crate) fn scan(line: &str, mode: Mode) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut chars = line.chars().peekable();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            match c {
                _ if c == q => quote = None,
                '\\' => word.get_or_insert_default().push(unescape(&mut chars)?),
                _ => word.get_or_insert_default().push(c),
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                quote = Some(c);
                word.get_or_insert_default();
            }
            '\\' => word.get_or_insert_default().push(unescape(&mut chars)?),
            '#' | '!' if mode == Mode::Config => break,
            '{' | '}' if mode == Mode::Config => {
                if let Some(w) = word.take() {
                    pieces.push(Piece::Word(w));
                }
                pieces.push(if c == '{' { Piece::Open } else { Piece::Close });
            }
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    pieces.push(Piece::Word(w));
                }
            }
            c => word.get_or_insert_default().push(c),
        }
    }
    if let Some(q) = quote {
        return Err(format!("missing closing {q}"));
    }
    if let Some(w) = word {
        pieces.push(Piece::Word(w));
    }
    Ok(pieces)
}

/// The character after a backslash, as keepalived reads it: `\n`-style letters, `\xHH`,
/// octal `\NNN`, `\cC` for a control character, and anything else for itself.
fn unescape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<char, String> {
    let Some(c) = chars.next() else {
        return Err("a backslash ends the line".into());
    };
    let code = match c {
        'a' => 0x07,
        'b' => 0x08,
        'E' => 0x1b,
        'f' => 0x0c,
        'n' => b'\n',
        'r' => b'\r',
        't' => b'\t',
        'v' => 0x0b,
        'x' if chars.peek().is_some_and(char::is_ascii_hexdigit) => {
            let mut value = 0u32;
            for _ in 0..2 {
                match chars.peek().and_then(|d| d.to_digit(16)) {
                    Some(d) => {
                        value = value * 16 + d;
                        chars.next();
                    }
                    None => break,
                }
            }
            ascii(value)?
        }
        'c' if chars.peek().is_some() => {
            let control = chars.next().map_or(0, |c| c as u32) & 0x1f;
            ascii(control)?
        }
        '0'..='7' => {
            let mut value = c.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                match chars.peek().and_then(|d| d.to_digit(8)) {
                    Some(d) => {
                        value = value * 8 + d;
                        chars.next();
                    }
                    None => break,
                }
            }
            ascii(value)?
        }
        other => return Ok(other),
    };
    Ok(char::from(code))
}

fn ascii(value: u32) -> Result<u8, String> {
    u8::try_from(value)
        .ok()
        .filter(u8::is_ascii)
        .ok_or_else(|| format!("escape for byte {value:#x}: only ASCII escapes are supported"))
}

/// A `virtual_ipaddress` entry: `<IPADDR>[/<MASK>] [brd <IPADDR>] [dev <STRING>]
/// [scope <SCOPE>] [label <LABEL>] [no_track] [use_vmac] ...`. keepalived's `peer` and
/// `-nodad` are refused with their name.
pub(crate) fn parse_virtual_address(
    words: &[&str],
    location: Location,
) -> Result<VirtualAddress, String> {
    let Some((first, options)) = words.split_first() else {
        return Err("empty address".into());
    };
    let (address_text, prefix_text) = match first.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (*first, None),
    };
    let address = parse_ip(address_text)?;
    let mut vip = VirtualAddress::new(address, location);
    if let Some(prefix) = prefix_text {
        let max = if address.is_ipv6() { 128 } else { 32 };
        vip.prefix_len = prefix
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("'{first}': prefix length must be 0..={max}"))?;
    }
    let mut rest = options.iter();
    while let Some(&option) = rest.next() {
        let mut value = |name: &str| {
            rest.next()
                .copied()
                .ok_or_else(|| format!("'{name}' needs a value"))
        };
        match option {
            "brd" => {
                let text = value("brd")?;
                let IpAddr::V4(v4) = address else {
                    return Err("'brd' applies to IPv4 addresses only".into());
                };
                let host_mask = u32::MAX.checked_shr(u32::from(vip.prefix_len)).unwrap_or(0);
                vip.broadcast = Some(match text {
                    "+" => Ipv4Addr::from(u32::from(v4) | host_mask),
                    "-" => Ipv4Addr::from(u32::from(v4) & !host_mask),
                    _ => match parse_ip(text)? {
                        IpAddr::V4(b) => b,
                        IpAddr::V6(_) => {
                            return Err(format!("brd '{text}' is not an IPv4 address"));
                        }
                    },
                });
            }
            "dev" => vip.dev = Some(value("dev")?.to_owned()),
            "label" => {
                let label = value("label")?;
                // IFNAMSIZ - 1: the kernel refuses longer labels.
                if label.len() > 15 {
                    return Err(format!("label '{label}' is longer than 15 characters"));
                }
                vip.label = Some(label.to_owned());
            }
            "scope" => {
                let text = value("scope")?;
                vip.scope = Some(match text {
                    "global" => Scope::Global,
                    "site" => Scope::Site,
                    "link" => Scope::Link,
                    "host" => Scope::Host,
                    "nowhere" => Scope::Nowhere,
                    _ => {
                        return Err(format!(
                            "scope '{text}': expected global, site, link, host or nowhere"
                        ));
                    }
                });
            }
            "no_track" => vip.no_track = true,
            // IFA_F_HOMEADDRESS, IFA_F_MANAGETEMPADDR, IFA_F_NOPREFIXROUTE, IFA_F_MCAUTOJOIN.
            "home" => vip.flags |= 0x10,
            "mngtmpaddr" => vip.flags |= 0x100,
            "noprefixroute" => vip.flags |= 0x200,
            "autojoin" => vip.flags |= 0x400,
            "preferred_lft" => {
                let text = value("preferred_lft")?;
                vip.preferred_lft = Some(match text {
                    "forever" => u32::MAX,
                    _ => text
                        .parse()
                        .map_err(|_| format!("preferred_lft {text} is invalid"))?,
                });
            }
            // Whether it gets a link of its own is decided with its instance
            // (`address_links::plan`).
            "use_vmac" => vip.use_vmac = true,
            "peer" | "-nodad" => {
                return Err(format!("address option '{option}' is not supported yet"));
            }
            other => return Err(format!("unknown address option '{other}'")),
        }
    }
    Ok(vip)
}

/// Seconds as written in a config file: `1`, `1.5`, `0.01`.
pub(crate) fn seconds(duration: std::time::Duration) -> String {
    let text = format!("{:.6}", duration.as_secs_f64());
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_users_as_two_words_or_user_colon_group() {
        let user = |u: &str, g: Option<&str>| {
            script_user(u, g).map(|s| (s.user, s.group.unwrap_or_default()))
        };
        assert_eq!(user("lb", Some("adm")), Ok(("lb".into(), "adm".into())));
        assert_eq!(user("lb:adm", None), Ok(("lb".into(), "adm".into())));
        assert_eq!(user("lb", None), Ok(("lb".into(), String::new())));
        assert!(user("lb:adm", Some("x")).is_err());
        assert!(user("lb:", None).is_err());
        assert!(user(":adm", None).is_err());
        assert!(user("lb::adm", None).is_err());
        assert!(user("lb", Some(":adm")).is_err(), "supplementary groups");
    }

    fn at() -> Location {
        Location::new("t", 1)
    }

    #[test]
    fn seconds_are_exact_to_the_microsecond() {
        assert_eq!(parse_seconds("1"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_seconds("0.92"), Ok(Duration::from_millis(920)));
        assert_eq!(parse_seconds(".5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_seconds("2.000001"), Ok(Duration::new(2, 1000)));
        assert!(parse_seconds("1.0000001").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("1e3").is_err());
        assert!(parse_seconds(".").is_err());
        assert!(parse_seconds("").is_err());
        assert_eq!(seconds_from_f64(0.1), Ok(Duration::from_millis(100)));
        assert!(seconds_from_f64(f64::NAN).is_err());
    }

    #[test]
    fn command_lines_split_like_keepalived() {
        assert_eq!(
            split_command("/usr/bin/killall -0 haproxy").expect("valid"),
            ["/usr/bin/killall", "-0", "haproxy"]
        );
        // The example of keepalived.conf(5), "Quoted strings", after the outer quotes.
        assert_eq!(
            split_command(r#"/x.sh ' spaces\\x20f\x69le ' '"s p a c e "' SG1.low master"#)
                .expect("valid"),
            [
                "/x.sh",
                r" spaces\x20file ",
                "\"s p a c e \"",
                "SG1.low",
                "master"
            ]
        );
        assert_eq!(
            split_command(r#"abcd" efg h jkl "mnop"#).expect("valid"),
            ["abcd efg h jkl mnop"]
        );
        assert_eq!(split_command("a#b {c}").expect("valid"), ["a#b", "{c}"]);
        assert!(split_command("'open").is_err());
        assert!(split_command("  ").is_err());
        assert!(split_command(r"end\").is_err());
        assert!(split_command(r"\xff").is_err());
    }

    #[test]
    fn config_lines_split_at_braces_and_comments() {
        let words = |line| scan(line, Mode::Config).expect("valid");
        assert_eq!(
            words("vrrp_instance VI_1{ state MASTER } # comment"),
            [
                Piece::Word("vrrp_instance".into()),
                Piece::Word("VI_1".into()),
                Piece::Open,
                Piece::Word("state".into()),
                Piece::Word("MASTER".into()),
                Piece::Close
            ]
        );
        assert_eq!(
            words("auth_pass \"a b#!{\" ! c"),
            [
                Piece::Word("auth_pass".into()),
                Piece::Word("a b#!{".into())
            ]
        );
        assert_eq!(words("! only a comment"), []);
        assert_eq!(
            words("x \"\""),
            [Piece::Word("x".into()), Piece::Word("".into())]
        );
    }

    #[test]
    fn virtual_addresses_take_keepalived_options() {
        let vip = parse_virtual_address(
            &[
                "192.168.200.18/24",
                "dev",
                "eth2",
                "label",
                "eth2:1",
                "brd",
                "+",
                "scope",
                "link",
            ],
            at(),
        )
        .expect("valid");
        assert_eq!(vip.prefix_len, 24);
        assert_eq!(vip.dev.as_deref(), Some("eth2"));
        assert_eq!(vip.label.as_deref(), Some("eth2:1"));
        assert_eq!(vip.broadcast, Some(Ipv4Addr::new(192, 168, 200, 255)));
        assert_eq!(vip.scope, Some(Scope::Link));

        let vip = parse_virtual_address(&["10.1.2.3/16", "brd", "-"], at()).expect("valid");
        assert_eq!(vip.broadcast, Some(Ipv4Addr::new(10, 1, 0, 0)));
        let vip = parse_virtual_address(&["10.1.2.3/0", "brd", "+"], at()).expect("valid");
        assert_eq!(vip.broadcast, Some(Ipv4Addr::BROADCAST));
        let vip = parse_virtual_address(&["2001:db8::1"], at()).expect("valid");
        assert_eq!(vip.prefix_len, 128);
        assert_eq!(
            parse_virtual_address(&["10.0.0.1", "peer", "10.0.0.2"], at()),
            Err("address option 'peer' is not supported yet".into())
        );
        assert_eq!(
            parse_virtual_address(&["10.0.0.1/33"], at()),
            Err("'10.0.0.1/33': prefix length must be 0..=32".into())
        );
        assert!(parse_virtual_address(&["10.0.0.1", "dev"], at()).is_err());
        assert!(parse_virtual_address(&["2001:db8::1", "brd", "+"], at()).is_err());
    }
}

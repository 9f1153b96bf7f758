//! keepalived's repeated lines (`lib/parser.c`, `add_seq` and `add_lst`): `~SEQ(VAR, start,
//! step, end) TEXT` and `~LST(VAR, v1, v2, ...) TEXT` (or `~LST({A, B}, {a1, b1}, ...)`)
//! read TEXT once per value, with the parameters set to it.

/// A parsed `~SEQ` / `~LST` line: one round of assignments per repetition of `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repeat {
    pub(crate) rounds: Vec<Vec<(String, String)>>,
    pub(crate) text: String,
}

/// More rounds than any configuration needs (keepalived's own example makes 65,024
/// instances from three nested `~SEQ`s, each at most 254); the limit keeps a typo such as
/// `~SEQ(I, 1, 1, 2000000000)` from exhausting memory.
const MAX_ROUNDS: i64 = 100_000;

/// `~SEQ[x](VAR, [[start,] step,] end) TEXT`; `args` is the part between the parentheses
/// with parameters already replaced.
pub(crate) fn seq(hex: bool, var: &str, args: &str, text: &str) -> Result<Repeat, String> {
    let numbers = args
        .split(',')
        .map(|n| strtol(n.trim()))
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| format!("invalid ~SEQ values '{args}'"))?;
    let (start, step, end) = match numbers[..] {
        [end] => (
            if end < 0 { -1 } else { 1 },
            if end < 1 { -1 } else { 1 },
            end,
        ),
        [start, end] => (start, if start <= end { 1 } else { -1 }, end),
        [start, step, end] => {
            if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
                return Err(format!("invalid ~SEQ values '{args}'"));
            }
            (start, step, end)
        }
        _ => return Err(format!("invalid ~SEQ definition '{args}'")),
    };
    if hex && (start < 0 || end < 0) {
        return Err("~SEQx is only valid for positive numbers".into());
    }
    if (end - start) / step >= MAX_ROUNDS {
        return Err(format!("~SEQ makes more than {MAX_ROUNDS} lines"));
    }
    let mut rounds = Vec::new();
    let mut next = start;
    while (step > 0 && next <= end) || (step < 0 && next >= end) {
        let value = if hex {
            format!("{next:x}")
        } else {
            next.to_string()
        };
        rounds.push(vec![(var.to_owned(), value)]);
        next += step;
    }
    Ok(Repeat {
        rounds,
        text: text.to_owned(),
    })
}

/// C's `strtol(s, NULL, 0)` on a whole field: decimal, `0x` hex or `0` octal, and an
/// empty field is 0 (keepalived does not notice a missing number).
fn strtol(s: &str) -> Option<i64> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let value = if digits.is_empty() {
        0
    } else if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

/// `~LST` after its name: `(VAR, v1, v2) TEXT` or `({A, B}, {a1, b1}, {a2}) TEXT`; a
/// missing value is empty, an extra one an error.
pub(crate) fn lst(spec: &str) -> Result<Repeat, String> {
    let invalid = || format!("invalid ~LST specification '~LST{spec}'");
    let inner = spec.trim_start().strip_prefix('(').ok_or_else(invalid)?;
    let close = inner.find(')').ok_or_else(invalid)?;
    let (list, text) = (&inner[..close], inner[close + 1..].trim_start());
    let items = group_items(list).ok_or_else(invalid)?;
    let Some((names, values)) = items.split_first() else {
        return Err(invalid());
    };
    if values.is_empty() || names.iter().any(String::is_empty) {
        return Err(invalid());
    }
    let mut rounds = Vec::new();
    for set in values {
        if set.len() > names.len() {
            return Err(format!(
                "~LST specification has too many values '~LST{spec}'"
            ));
        }
        let round = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), set.get(i).cloned().unwrap_or_default()))
            .collect();
        rounds.push(round);
    }
    Ok(Repeat {
        rounds,
        text: text.to_owned(),
    })
}

/// `a, {b, c}, d` as `[[a], [b, c], [d]]`.
fn group_items(list: &str) -> Option<Vec<Vec<String>>> {
    let mut groups = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        let (group, after) = if let Some(inside) = rest.strip_prefix('{') {
            let end = inside.find('}')?;
            let words = inside[..end]
                .split(',')
                .map(|w| w.trim().to_owned())
                .collect::<Vec<_>>();
            if words.iter().any(|w| w.contains([' ', '\t'])) {
                return None;
            }
            (words, inside[end + 1..].trim_start())
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let word = rest[..end].trim();
            if word.contains([' ', '\t', '{', '}']) {
                return None;
            }
            (vec![word.to_owned()], &rest[end..])
        };
        groups.push(group);
        rest = match after.strip_prefix(',') {
            Some(next) => next.trim_start(),
            None if after.is_empty() => after,
            None => return None,
        };
    }
    Some(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(r: &Repeat) -> Vec<String> {
        r.rounds
            .iter()
            .map(|round| {
                round
                    .iter()
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect()
    }

    #[test]
    fn seq_counts_as_keepalived() {
        let r = seq(false, "S", "0, 3", "x").expect("valid");
        assert_eq!(values(&r), ["0", "1", "2", "3"]);
        assert_eq!(r.rounds[0][0].0, "S");
        assert_eq!(
            values(&seq(false, "S", "3", "").expect("valid")),
            ["1", "2", "3"]
        );
        assert_eq!(
            values(&seq(false, "S", "-2", "").expect("valid")),
            ["-1", "-2"]
        );
        assert_eq!(
            values(&seq(false, "S", "3, 1", "").expect("valid")),
            ["3", "2", "1"]
        );
        let hex = seq(true, "S", "0x90, 0x10, 0xc0", "").expect("valid");
        assert_eq!(values(&hex), ["90", "a0", "b0", "c0"]);
        assert_eq!(
            values(&seq(false, "S", "010, 011", "").expect("valid")),
            ["8", "9"]
        );
        assert!(seq(false, "S", "1, -1, 5", "").is_err());
        assert!(seq(false, "S", "1, 0, 5", "").is_err());
        assert!(seq(false, "S", "a", "").is_err());
        assert!(seq(true, "S", "-1, 3", "").is_err());
        assert!(seq(false, "S", "1, 1, 2000000000", "").is_err());
    }

    #[test]
    fn lst_takes_single_values_or_sets() {
        let r = lst("(IP, 1, 2, 3) 10.0.0.${IP}").expect("valid");
        assert_eq!(values(&r), ["1", "2", "3"]);
        assert_eq!(r.text, "10.0.0.${IP}");
        let r = lst("({IP, IP1}, {10,1},{20,4}, {5}) x").expect("valid");
        assert_eq!(values(&r), ["10.1", "20.4", "5."]);
        assert_eq!(r.rounds[0][1].0, "IP1");
        assert!(lst("({A}, {1, 2}) x").is_err(), "too many values");
        assert!(lst("(A) x").is_err(), "no values");
        assert!(lst("A, 1) x").is_err());
        assert!(lst("(A, 1 x").is_err());
    }
}

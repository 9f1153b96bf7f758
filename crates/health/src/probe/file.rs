//! FILE_CHECK: the number in a `track_file`.
//!
//! keepalived watches the file with inotify; here it is read at each probe, so a change is
//! seen within the check's interval.

use tokio::io::AsyncReadExt as _;

use super::FileCheck;
use crate::outcome::{Failure, Outcome, Weight};

/// keepalived reads at most this much of the file (a 128-byte buffer with its NUL).
const MAX_READ: usize = 127;

pub(super) async fn probe(check: &FileCheck) -> Result<Outcome, Failure> {
    let value = parse(&read(check).await)?;
    verdict(value, check.weight, check.reverse)
}

/// The start of the file; a missing or unreadable file reads as empty, which is 0, as in
/// keepalived (track_file.c).
async fn read(check: &FileCheck) -> Vec<u8> {
    let mut start = Vec::with_capacity(MAX_READ);
    if let Ok(file) = tokio::fs::File::open(&check.path).await {
        let _ = file.take(MAX_READ as u64).read_to_end(&mut start).await;
    }
    start
}

/// The value as C's `strtol(text, NULL, 0)` reads it (leading blanks, a sign, then hex
/// after `0x`, octal after `0`, else decimal; the rest ignored; no digits is 0), limited to
/// keepalived's range of `i32::MIN` to `i32::MAX + 1`.
fn parse(text: &[u8]) -> Result<i64, Failure> {
    let bad = || Failure::BadFileValue(String::from_utf8_lossy(text).trim().to_owned());
    let mut rest = text.trim_ascii_start();
    let negative = rest.first() == Some(&b'-');
    if let Some((b'-' | b'+', after)) = rest.split_first() {
        rest = after;
    }
    let radix = match rest {
        [b'0', b'x' | b'X', next, ..] if next.is_ascii_hexdigit() => {
            rest = &rest[2..];
            16
        }
        [b'0', ..] => 8,
        _ => 10,
    };
    let digits = rest
        .iter()
        .take_while(|b| char::from(**b).is_digit(radix))
        .count();
    let magnitude = if digits == 0 {
        0
    } else {
        // ASCII digits, so the conversion is valid; too many of them is an overflow.
        let digits = std::str::from_utf8(&rest[..digits]).map_err(|_| bad())?;
        i64::from_str_radix(digits, radix).map_err(|_| bad())?
    };
    let value = if negative { -magnitude } else { magnitude };
    if value < i64::from(i32::MIN) || value > i64::from(i32::MAX) + 1 {
        return Err(bad());
    }
    Ok(value)
}

/// keepalived's update_track_file_status(): with weight 0 the value is a flag (non-zero
/// down, or zero down when reversed); otherwise value × weight (negated when reversed),
/// held within i32, is added to the server's weight, and `i32::MIN` means down.
fn verdict(value: i64, weight: i32, reverse: bool) -> Result<Outcome, Failure> {
    if weight == 0 {
        return if (value != 0) != reverse {
            Err(Failure::FileValue(value))
        } else {
            Ok(Outcome::UP)
        };
    }
    let sign = if reverse { -1 } else { 1 };
    let product = value * i64::from(weight) * sign;
    let offset =
        i32::try_from(product.clamp(i64::from(i32::MIN), i64::from(i32::MAX))).unwrap_or(i32::MIN);
    if offset == i32::MIN {
        Err(Failure::FileValue(value))
    } else {
        Ok(Outcome::Up(Weight::Offset(offset)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_strtol_reads_them() {
        assert_eq!(parse(b"").unwrap(), 0);
        assert_eq!(parse(b"  42\n").unwrap(), 42);
        assert_eq!(parse(b"-7 apples").unwrap(), -7);
        assert_eq!(parse(b"+0x1f").unwrap(), 31);
        assert_eq!(parse(b"010").unwrap(), 8);
        assert_eq!(parse(b"0x").unwrap(), 0);
        assert_eq!(parse(b"abc").unwrap(), 0);
        assert_eq!(parse(b"2147483648").unwrap(), 2_147_483_648);
        assert!(matches!(
            parse(b"2147483649"),
            Err(Failure::BadFileValue(_))
        ));
        assert!(matches!(
            parse(b"99999999999999999999"),
            Err(Failure::BadFileValue(_))
        ));
    }

    #[test]
    fn values_become_verdicts() {
        assert!(matches!(
            verdict(0, 0, false),
            Ok(Outcome::Up(Weight::Configured))
        ));
        assert!(matches!(verdict(3, 0, false), Err(Failure::FileValue(3))));
        assert!(matches!(verdict(0, 0, true), Err(Failure::FileValue(0))));
        assert!(matches!(
            verdict(3, 0, true),
            Ok(Outcome::Up(Weight::Configured))
        ));
        assert!(matches!(
            verdict(3, 10, false),
            Ok(Outcome::Up(Weight::Offset(30)))
        ));
        assert!(matches!(
            verdict(3, 10, true),
            Ok(Outcome::Up(Weight::Offset(-30)))
        ));
        assert!(matches!(
            verdict(-5, 1, true),
            Ok(Outcome::Up(Weight::Offset(5)))
        ));
        assert!(matches!(
            verdict(i64::from(i32::MIN), 1, false),
            Err(Failure::FileValue(_))
        ));
        assert!(matches!(
            verdict(-1 << 20, 1 << 12, false),
            Err(Failure::FileValue(_))
        ));
        assert!(matches!(
            verdict(1 << 20, 1 << 12, false),
            Ok(Outcome::Up(Weight::Offset(i32::MAX)))
        ));
    }
}

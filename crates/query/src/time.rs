//! Time: the injectable clock, ISO 8601 parsing and printing, `timediff` expressions and the
//! `date_format` of group keys.

use crate::error::{Error, Result};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// Where "now" comes from, so `timediff_*` conditions are deterministic under test.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock stopped at one instant (tests, replays).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A clock that moves only when told to (tests of the timeout sweep, replays).
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(std::sync::Mutex::new(start))
    }

    /// Shows `now` from here on.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Parses an ISO 8601 instant: RFC 3339 with an offset, a naive date-time (taken as UTC, `T` or
/// space separated, optional fraction) or a bare date (midnight UTC).
pub fn parse_iso(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&naive));
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(dt) = DateTime::parse_from_str(text, format) {
            return Some(dt.with_timezone(&Utc));
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|naive| Utc.from_utc_datetime(&naive))
}

/// Renders an instant as the wire's ISO 8601 form: UTC, milliseconds, `Z`.
pub fn format_iso(dt: bson::DateTime) -> String {
    IsoTime(dt).to_string()
}

/// An instant displayed in the wire's ISO 8601 form (what [`format_iso`] returns), written
/// without an intermediate string.
pub struct IsoTime(pub bson::DateTime);

impl std::fmt::Display for IsoTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.timestamp_millis();
        if let Some(text) = iso_digits(ms) {
            // Always ASCII digits and separators.
            return f.write_str(std::str::from_utf8(&text).unwrap_or_default());
        }
        match Utc.timestamp_millis_opt(ms).single() {
            Some(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.3fZ")),
            None => write!(f, "{ms}"),
        }
    }
}

/// The first and last millisecond of years 0000-9999 (0000-01-01T00:00:00.000Z and
/// 9999-12-31T23:59:59.999Z).
const FIRST_MS: i64 = -62_167_219_200_000;
const LAST_MS: i64 = 253_402_300_799_999;

/// "00", "01" … "99": two digits a lookup.
const TWO_DIGITS: [u8; 200] = {
    let mut table = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        table[2 * i] = b'0' + (i / 10) as u8;
        table[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    table
};

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of an instant in years 0000-9999, its digits worked out with
/// unsigned integers only (the civil date of a day number, after Howard Hinnant's
/// `civil_from_days`, counted from one 400-year era before year 0 so nothing is negative);
/// `None` for other years.
pub fn iso_digits(ms: i64) -> Option<[u8; 24]> {
    if !(FIRST_MS..=LAST_MS).contains(&ms) {
        return None;
    }
    let since = u64::try_from(ms - FIRST_MS).ok()?;
    let in_day = (since % 86_400_000) as u32;
    // Days since 0000-03-01 (year 0 is a leap year: January and February are 60 days),
    // plus one era of 146 097 days.
    let z = (since / 86_400_000) as u32 + 146_097 - 60;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u32::from(month <= 2) - 400;
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut two = |at: usize, value: u32| {
        let i = 2 * value as usize;
        out[at..at + 2].copy_from_slice(&TWO_DIGITS[i..i + 2]);
    };
    two(0, year / 100);
    two(2, year % 100);
    two(5, month);
    two(8, day);
    two(11, in_day / 3_600_000);
    two(14, in_day / 60_000 % 60);
    two(17, in_day / 1000 % 60);
    let millis = in_day % 1000;
    two(21, millis % 100);
    out[20] = b'0' + (millis / 100) as u8;
    Some(out)
}

/// Resolves a `timediff` expression (`now`, `now/d`, `now/w`, `now/m`, then optionally `+N` or
/// `-N` with a unit of `s m h d w`) against `now`.
pub fn resolve_timediff(expression: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let bad = || {
        Error::query(format!(
            "invalid timediff value '{expression}': expected now, now/d, now/w or now/m, \
             optionally followed by +N or -N with a unit of s, m, h, d or w (e.g. now-7d)"
        ))
    };
    let rest = expression.trim().strip_prefix("now").ok_or_else(bad)?;
    let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN));
    let (base, rest) = match rest.get(..2) {
        Some("/d") => (midnight(now.date_naive()), &rest[2..]),
        Some("/w") => {
            let days = i64::from(now.weekday().num_days_from_monday());
            (
                midnight(now.date_naive() - Duration::days(days)),
                &rest[2..],
            )
        }
        Some("/m") => (
            midnight(now.date_naive().with_day(1).ok_or_else(bad)?),
            &rest[2..],
        ),
        _ => (now, rest),
    };
    if rest.is_empty() {
        return Ok(base);
    }
    let sign = match rest.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(bad()),
    };
    let unit = rest.chars().last().ok_or_else(bad)?;
    let digits = rest.get(1..rest.len() - unit.len_utf8()).unwrap_or("");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return Err(bad()),
    };
    let offset = n
        .checked_mul(seconds)
        .filter(|s| s.abs() < 100 * 366 * 86_400)
        .ok_or_else(bad)?;
    Ok(base + Duration::seconds(sign * offset))
}

/// How a group key renders a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateFormat {
    /// The year as a number.
    Year,
    /// The month (1–12) as a number.
    Month,
    /// The day of the month as a number.
    Day,
    /// A strftime-style pattern, restricted to what MongoDB's `$dateToString` also knows.
    Pattern(String),
}

/// The `%` directives accepted in a date pattern: those `$dateToString` and we render alike.
pub const PATTERN_DIRECTIVES: &str = "YmdHMSLj%";

impl DateFormat {
    /// Parses `year`, `month`, `day` or a pattern such as `%Y-%m-%d`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "year" => Ok(DateFormat::Year),
            "month" => Ok(DateFormat::Month),
            "day" => Ok(DateFormat::Day),
            pattern => {
                let mut chars = pattern.chars();
                while let Some(c) = chars.next() {
                    if c == '%' && !chars.next().is_some_and(|d| PATTERN_DIRECTIVES.contains(d)) {
                        return Err(Error::query(format!(
                            "unsupported date_format '{pattern}': use year, month, day or a \
                             pattern of %Y %m %d %H %M %S %L %j %%"
                        )));
                    }
                }
                if pattern.is_empty() {
                    return Err(Error::query("date_format must not be empty"));
                }
                Ok(DateFormat::Pattern(pattern.to_string()))
            }
        }
    }

    /// Applies the format to a date.
    pub fn apply(&self, dt: bson::DateTime) -> bson::Bson {
        let Some(t) = Utc.timestamp_millis_opt(dt.timestamp_millis()).single() else {
            return bson::Bson::Null;
        };
        match self {
            DateFormat::Year => bson::Bson::Int32(t.year()),
            DateFormat::Month => bson::Bson::Int32(t.month() as i32),
            DateFormat::Day => bson::Bson::Int32(t.day() as i32),
            DateFormat::Pattern(p) => bson::Bson::String(render_pattern(p, t)),
        }
    }
}

fn render_pattern(pattern: &str, t: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{:04}", t.year())),
            Some('m') => out.push_str(&format!("{:02}", t.month())),
            Some('d') => out.push_str(&format!("{:02}", t.day())),
            Some('H') => out.push_str(&format!("{:02}", t.hour())),
            Some('M') => out.push_str(&format!("{:02}", t.minute())),
            Some('S') => out.push_str(&format!("{:02}", t.second())),
            Some('L') => out.push_str(&format!("{:03}", t.timestamp_subsec_millis())),
            Some('j') => out.push_str(&format!("{:03}", t.ordinal())),
            Some('%') => out.push('%'),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        parse_iso(s).expect("valid date")
    }

    #[test]
    fn timediff_resolves_rounding_and_offsets() {
        let now = at("2022-07-01T12:34:56Z"); // a Friday
        assert_eq!(resolve_timediff("now", now).ok(), Some(now));
        assert_eq!(
            resolve_timediff("now/d", now).ok(),
            Some(at("2022-07-01T00:00:00Z"))
        );
        assert_eq!(
            resolve_timediff("now/w", now).ok(),
            Some(at("2022-06-27T00:00:00Z"))
        );
        assert_eq!(
            resolve_timediff("now/m+2h", now).ok(),
            Some(at("2022-07-01T02:00:00Z"))
        );
        assert_eq!(
            resolve_timediff("now-7d", now).ok(),
            Some(at("2022-06-24T12:34:56Z"))
        );
        for bad in [
            "",
            "yesterday",
            "now-",
            "now-7",
            "now-7y",
            "now+-1d",
            "now/x",
            "now-99999999w",
        ] {
            let err = resolve_timediff(bad, now).expect_err(bad);
            assert!(err.to_string().contains("timediff"), "{err}");
        }
    }

    #[test]
    fn iso_forms_parse() {
        assert_eq!(
            at("2022-06-17T08:00:00.680Z").timestamp_millis(),
            1_655_452_800_680
        );
        assert_eq!(at("2022-06-17T17:00:00+09:00"), at("2022-06-17T08:00:00Z"));
        assert_eq!(at("2022-06-17 08:00:00"), at("2022-06-17T08:00:00Z"));
        assert_eq!(at("2022-06-17"), at("2022-06-17T00:00:00Z"));
        assert!(parse_iso("17/06/2022").is_none());
    }

    #[test]
    fn date_patterns_render_and_reject_unknown_directives() {
        let dt = bson::DateTime::from_chrono(at("2022-06-17T08:09:10.680Z"));
        let f = DateFormat::parse("%Y-%m-%dT%H:%M:%S.%L (%j) %%").expect("valid");
        assert_eq!(
            f.apply(dt),
            bson::Bson::String("2022-06-17T08:09:10.680 (168) %".into())
        );
        assert_eq!(
            DateFormat::parse("month").expect("valid").apply(dt),
            bson::Bson::Int32(6)
        );
        assert!(DateFormat::parse("%B").is_err());
        assert_eq!(format_iso(dt), "2022-06-17T08:09:10.680Z");
    }

    #[test]
    fn iso_rendering_covers_early_late_and_out_of_range_instants() {
        let iso = |ms: i64| format_iso(bson::DateTime::from_millis(ms));
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso(-62_167_219_200_000), "0000-01-01T00:00:00.000Z");
        assert_eq!(iso(253_402_300_800_000), "+10000-01-01T00:00:00.000Z");
        assert_eq!(iso(i64::MAX), i64::MAX.to_string());
        assert_eq!(iso(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        assert_eq!(iso(-62_167_219_200_001), "-0001-12-31T23:59:59.999Z");
    }

    #[test]
    fn iso_digits_agree_with_chrono_over_four_digit_years() {
        // Steps of a prime number of milliseconds land on every kind of day, leap years and
        // centuries included, from year 0 to 9999.
        let (first, last) = (-62_167_219_200_000_i64, 253_402_300_799_999_i64);
        let mut ms = first;
        while ms <= last {
            let chrono = Utc
                .timestamp_millis_opt(ms)
                .single()
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
            assert_eq!(Some(format_iso(bson::DateTime::from_millis(ms))), chrono);
            ms += 1_234_567_891;
        }
        let text = |ms| iso_digits(ms).map(|t| String::from_utf8_lossy(&t).into_owned());
        assert_eq!(text(FIRST_MS).as_deref(), Some("0000-01-01T00:00:00.000Z"));
        assert_eq!(
            text(FIRST_MS + 59 * 86_400_000).as_deref(),
            Some("0000-02-29T00:00:00.000Z")
        );
        assert_eq!(text(LAST_MS).as_deref(), Some("9999-12-31T23:59:59.999Z"));
        assert_eq!(text(0).as_deref(), Some("1970-01-01T00:00:00.000Z"));
        assert_eq!(text(-1).as_deref(), Some("1969-12-31T23:59:59.999Z"));
        assert_eq!(text(FIRST_MS - 1), None);
        assert_eq!(text(LAST_MS + 1), None);
    }
}

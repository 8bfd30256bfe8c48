//! Quantities with units, as written in scenario files.
//!
//! Durations (`"1h30m"`, `"250ms"`, `"1.5d"`), sizes (`"128 GiB"`, `"1.5 TB"`) and
//! bandwidths (`"400 MB/s"`, `"2 Gbit/s"`) are strings in TOML: a bare number would leave
//! the unit to guesswork, so it is rejected with a message that shows the expected form.
//! Each type displays in a form that parses back to the same value, which is what makes
//! `scenario.resolved.toml` reproduce a run exactly.

use std::fmt;

use crate::engine::time::{SimDuration, MICROS_PER_SEC};

/// A non-negative duration in whole microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub SimDuration);

/// A size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Size(pub u64);

/// A bandwidth in bytes per second.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
pub struct Bandwidth(pub f64);

/// Longest duration a scenario may name (1 000 years): far below `u64` microseconds, so
/// that sums of valid durations cannot overflow the clock.
pub const MAX_DURATION_SECS: f64 = 1000.0 * 366.0 * 86_400.0;

fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim_start();
    let end = s
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    let num: String = s[..end].chars().filter(|&c| c != '_').collect();
    let v: f64 = num.parse().ok()?;
    Some((v, &s[end..]))
}

impl Duration {
    /// Parses `1h30m`, `40s`, `250ms`, `1.5d`, `0`. Units: `us ms s m h d w`.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let expected = "a duration such as \"40s\", \"1h30m\", \"250ms\" or \"2d\" (units us, ms, s, m, h, d, w)";
        let t = text.trim();
        if t == "0" {
            return Ok(Duration(SimDuration::ZERO));
        }
        if t.is_empty() {
            return Err(format!("expected {expected}, found an empty string"));
        }
        if t.starts_with('-') {
            return Err(format!(
                "expected a non-negative duration, found \"{text}\""
            ));
        }
        let mut rest = t;
        let mut total_us = 0f64;
        while !rest.trim_start().is_empty() {
            let Some((v, after)) = split_number(rest) else {
                return Err(format!("expected {expected}, found \"{text}\""));
            };
            let after = after.trim_start();
            let unit_len = after
                .char_indices()
                .find(|&(_, c)| !c.is_ascii_alphabetic())
                .map(|(i, _)| i)
                .unwrap_or(after.len());
            let unit = &after[..unit_len];
            let scale = match unit {
                "us" | "µs" => 1.0,
                "ms" => 1e3,
                "s" | "sec" => 1e6,
                "m" | "min" => 60e6,
                "h" => 3600e6,
                "d" => 86_400e6,
                "w" => 7.0 * 86_400e6,
                "" => {
                    return Err(format!(
                        "expected {expected}, found \"{text}\" (a number needs a unit)"
                    ))
                }
                _ => {
                    return Err(format!(
                        "expected {expected}, found \"{text}\" (unknown unit \"{unit}\")"
                    ))
                }
            };
            total_us += v * scale;
            rest = &after[unit_len..];
        }
        if total_us > MAX_DURATION_SECS * 1e6 {
            return Err(format!(
                "expected a duration of at most 1000 years, found \"{text}\""
            ));
        }
        Ok(Duration(SimDuration(total_us.round() as u64)))
    }

    /// The span as an engine duration.
    pub fn get(self) -> SimDuration {
        self.0
    }

    /// Seconds, as f64.
    pub fn secs(self) -> f64 {
        self.0.as_secs_f64()
    }

    /// A duration of `s` seconds.
    pub fn from_secs_f64(s: f64) -> Duration {
        Duration(SimDuration::from_secs_f64(s))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

const SIZE_UNITS: [(&str, f64); 12] = [
    ("B", 1.0),
    ("kB", 1e3),
    ("KB", 1e3),
    ("MB", 1e6),
    ("GB", 1e9),
    ("TB", 1e12),
    ("PB", 1e15),
    ("KiB", 1024.0),
    ("MiB", 1048576.0),
    ("GiB", 1073741824.0),
    ("TiB", 1099511627776.0),
    ("PiB", 1125899906842624.0),
];

impl Size {
    /// Parses `128 GiB`, `1.5 TB`, `0 B`. Units: `B kB MB GB TB PB` (powers of 1000) and
    /// `KiB MiB GiB TiB PiB` (powers of 1024).
    pub fn parse(text: &str) -> Result<Size, String> {
        let expected = "a size such as \"128 GiB\" or \"1.5 TB\" (units B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)";
        let Some((v, unit)) = split_number(text) else {
            return Err(format!("expected {expected}, found \"{text}\""));
        };
        let unit = unit.trim();
        if unit.is_empty() && v == 0.0 {
            return Ok(Size(0));
        }
        let Some(&(_, scale)) = SIZE_UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(format!("expected {expected}, found \"{text}\""));
        };
        let digits: String = text
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '_')
            .filter(|c| *c != '_')
            .collect();
        let is_int = !text.contains('.') && scale.fract() == 0.0;
        if is_int {
            // Exact integer arithmetic: f64 would lose bytes above 2^53.
            if let Some(b) = digits
                .parse::<u128>()
                .ok()
                .and_then(|d| d.checked_mul(scale as u128))
            {
                if b < u64::MAX as u128 {
                    return Ok(Size(b as u64));
                }
            }
        }
        let bytes = v * scale;
        if bytes >= 1.8e19 {
            return Err(format!("expected a size below 16 EiB, found \"{text}\""));
        }
        Ok(Size(bytes.round() as u64))
    }
}

impl fmt::Display for Size {
    /// The largest binary or decimal unit that divides the value exactly, else bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        for (unit, scale) in SIZE_UNITS.iter().rev() {
            let s = *scale as u64;
            if s > 1 && b >= s && b % s == 0 {
                return write!(f, "{} {}", b / s, unit);
            }
        }
        write!(f, "{b} B")
    }
}

const BW_UNITS: [(&str, f64); 12] = [
    ("B/s", 1.0),
    ("kB/s", 1e3),
    ("MB/s", 1e6),
    ("GB/s", 1e9),
    ("TB/s", 1e12),
    ("bit/s", 0.125),
    ("kbit/s", 125.0),
    ("Mbit/s", 125e3),
    ("Gbit/s", 125e6),
    ("Tbit/s", 125e9),
    ("Mbps", 125e3),
    ("Gbps", 125e6),
];

impl Bandwidth {
    /// Parses `400 MB/s`, `2 Gbit/s`, `160 Mbps`. Must be positive.
    pub fn parse(text: &str) -> Result<Bandwidth, String> {
        let expected = "a bandwidth such as \"400 MB/s\" or \"2 Gbit/s\" (units B/s, kB/s, MB/s, GB/s, bit/s, kbit/s, Mbit/s, Gbit/s)";
        let Some((v, unit)) = split_number(text) else {
            return Err(format!("expected {expected}, found \"{text}\""));
        };
        let Some(&(_, scale)) = BW_UNITS.iter().find(|(u, _)| *u == unit.trim()) else {
            return Err(format!("expected {expected}, found \"{text}\""));
        };
        let bps = v * scale;
        if !(bps > 0.0 && bps.is_finite()) {
            return Err(format!("expected a positive bandwidth, found \"{text}\""));
        }
        Ok(Bandwidth(bps))
    }

    /// Bytes per second.
    pub fn bytes_per_sec(self) -> f64 {
        self.0
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Exact round trip: the largest unit, bytes or bits, in which the rate is a whole
        // number (a link written "100 Mbit/s" reads back as such, not "12500 kB/s");
        // anything else prints every digit ryu needs in B/s.
        let v = self.0;
        for (unit, scale) in [
            ("GB/s", 1e9),
            ("Gbit/s", 125e6),
            ("MB/s", 1e6),
            ("Mbit/s", 125e3),
            ("kB/s", 1e3),
        ] {
            let q = v / scale;
            if q >= 1.0 && q.fract() == 0.0 && q * scale == v {
                return write!(f, "{q} {unit}");
            }
        }
        write!(f, "{v} B/s")
    }
}

/// Time of day `HH:MM` (or `HH:MM:SS`), as an offset from midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(pub u32);

impl TimeOfDay {
    /// Parses `22:00` or `02:30:15`.
    pub fn parse(text: &str) -> Result<TimeOfDay, String> {
        let err = || format!("expected a time of day \"HH:MM\" (00:00 to 23:59), found \"{text}\"");
        let parts: Vec<&str> = text.trim().split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(err());
        }
        let nums: Result<Vec<u32>, _> = parts.iter().map(|p| p.parse::<u32>()).collect();
        let nums = nums.map_err(|_| err())?;
        let (h, m, s) = (nums[0], nums[1], nums.get(2).copied().unwrap_or(0));
        if h > 23 || m > 59 || s > 59 {
            return Err(err());
        }
        Ok(TimeOfDay(h * 3600 + m * 60 + s))
    }

    /// Offset from midnight.
    pub fn offset(self) -> SimDuration {
        SimDuration(self.0 as u64 * MICROS_PER_SEC)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 / 60 % 60, self.0 % 60);
        if s == 0 {
            write!(f, "{h:02}:{m:02}")
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}")
        }
    }
}

/// A calendar date `YYYY-MM-DD` (proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CalendarDate(pub crate::engine::calendar::Date);

impl CalendarDate {
    /// Parses `2015-11-02`.
    pub fn parse(text: &str) -> Result<CalendarDate, String> {
        crate::engine::calendar::Date::parse(text)
            .filter(|d| (1900..=2999).contains(&d.year))
            .map(CalendarDate)
            .ok_or_else(|| {
                format!("expected a calendar date \"YYYY-MM-DD\" between 1900 and 2999, such as \"2015-11-02\", found \"{text}\"")
            })
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i64 {
        self.0.to_days().expect("a parsed date is valid")
    }
}

impl fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A fixed offset from UTC, `+09:00` or `-05:30` (`UTC` and `Z` for none), in minutes.
/// No daylight-saving shifts: the service ran its schedules on a fixed offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcOffset(pub i32);

impl UtcOffset {
    /// Parses `+09:00`, `-05:30`, `+0530`, `UTC` or `Z`; from −12:00 to +14:00.
    pub fn parse(text: &str) -> Result<UtcOffset, String> {
        let err = || {
            format!("expected a UTC offset such as \"+09:00\" or \"-05:00\" (from -12:00 to +14:00; \"UTC\" for none), found \"{text}\"")
        };
        let t = text.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(UtcOffset(0));
        }
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, &t[1..]),
            Some(b'-') => (-1, &t[1..]),
            _ => return Err(err()),
        };
        let (h, m) = match rest.split_once(':') {
            Some((h, m)) => (h, m),
            None if rest.len() == 4 => rest.split_at(2),
            None => return Err(err()),
        };
        if h.len() != 2 || m.len() != 2 {
            return Err(err());
        }
        let (h, m): (i32, i32) = (h.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
        let minutes = sign * (h * 60 + m);
        if m > 59 || !(-12 * 60..=14 * 60).contains(&minutes) {
            return Err(err());
        }
        Ok(UtcOffset(minutes))
    }

    /// The offset in microseconds (local time = UTC + offset).
    pub fn micros(self) -> i64 {
        i64::from(self.0) * 60 * MICROS_PER_SEC as i64
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        write!(f, "{sign}{:02}:{:02}", self.0.abs() / 60, self.0.abs() % 60)
    }
}

// ---------------------------------------------------------------------------------------
// Formatting: the one place durations and numbers are printed for people (stderr, check,
// compare, plots).

/// Compact number for tick and bar labels: 3 significant digits, k/M/G
/// suffixes from 10^4 on.
pub fn fmt_compact(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        return format!("{v}");
    }
    if a == 0.0 {
        return "0".into();
    }
    let (x, suffix) = if a >= 1e10 {
        (v / 1e9, "G")
    } else if a >= 1e7 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let ax = x.abs();
    let decimals = if ax >= 100.0 {
        0
    } else if ax >= 10.0 {
        1
    } else if ax >= 1.0 {
        2
    } else {
        (2.0 - ax.log10().floor()) as usize
    };
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{suffix}")
}

/// A duration in seconds as a short human text, e.g. `850 ms`, `12.5 s`,
/// `3.2 min`, `1.5 h`, `2.1 d`.
pub fn fmt_duration(s: f64) -> String {
    if s < 1.0 {
        format!("{} ms", fmt_compact(s * 1e3))
    } else if s < 120.0 {
        format!("{} s", fmt_compact(s))
    } else if s < 7_200.0 {
        format!("{} min", fmt_compact(s / 60.0))
    } else if s < 172_800.0 {
        format!("{} h", fmt_compact(s / 3_600.0))
    } else {
        format!("{} d", fmt_compact(s / 86_400.0))
    }
}

/// Formats a metric value compactly: integers without decimals, very large or
/// small magnitudes in scientific notation, others with up to 4 decimals.
pub fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e15 {
        return format!("{v:.0}");
    }
    if a >= 1e9 || (a != 0.0 && a < 1e-3) {
        return format!("{v:.4e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Three significant digits, without a trailing `.0`: `79.2`, `330`, `8.1`.
fn sig3(v: f64) -> String {
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Bytes as a short human size for messages, in decimal units: `79.2 TB`, `512 GB`.
pub fn fmt_size(bytes: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes.max(0.0);
    let mut u = 0;
    while v >= 999.5 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    format!("{} {}", sig3(v), units[u])
}

/// An amount of money for messages: two decimals with thousands separated by commas,
/// `1,234.50`, `-3.00` (no currency symbol: the scenario's `[cost]` names the currency).
pub fn fmt_money(v: f64) -> String {
    if !v.is_finite() {
        return fmt_value(v);
    }
    let cents = (v.abs() * 100.0).round();
    let whole = format!("{:.0}", (cents / 100.0).trunc());
    let frac = (cents % 100.0) as u64;
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if v < 0.0 && cents > 0.0 { "-" } else { "" };
    format!("{sign}{grouped}.{frac:02}")
}

/// Bytes per second as a short human bandwidth for messages, in bits: `10 Gbit/s`,
/// `560 Mbit/s`.
pub fn fmt_rate(bytes_per_sec: f64) -> String {
    let units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s", "Pbit/s"];
    let mut v = bytes_per_sec.max(0.0) * 8.0;
    let mut u = 0;
    while v >= 999.5 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    format!("{} {}", sig3(v), units[u])
}

/// A wall-clock instant as `YYYY-MM-DD HH:MM UTC` (civil calendar from days since 1970).
pub fn fmt_utc(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_dates_and_utc_offsets_parse_and_print() {
        assert_eq!(CalendarDate::parse("2015-11-02").unwrap().days(), 16_741);
        assert_eq!(
            CalendarDate::parse("2015-11-02").unwrap().to_string(),
            "2015-11-02"
        );
        for bad in ["2015-02-30", "1899-12-31", "2015/11/02", "monday"] {
            assert!(CalendarDate::parse(bad).is_err(), "{bad}");
        }
        let off = |s: &str| UtcOffset::parse(s).map(|o| o.0);
        assert_eq!(off("+09:00"), Ok(540));
        assert_eq!(off("-05:30"), Ok(-330));
        assert_eq!(off("+0530"), Ok(330));
        assert_eq!(off("UTC"), Ok(0));
        assert_eq!(UtcOffset(-330).to_string(), "-05:30");
        assert_eq!(UtcOffset(540).micros(), 9 * 3_600_000_000);
        for bad in ["09:00", "+15:00", "-12:30", "+9", "+09:60"] {
            assert!(UtcOffset::parse(bad).is_err(), "{bad}");
        }
    }
    use proptest::prelude::*;

    #[test]
    fn durations() {
        let d = |s| Duration::parse(s).unwrap().0 .0;
        assert_eq!(d("1h30m"), 5_400_000_000);
        assert_eq!(d("250ms"), 250_000);
        assert_eq!(d("1.5d"), 129_600_000_000);
        assert_eq!(d("0"), 0);
        assert_eq!(d("2 h 5 s"), 7_205_000_000);
        assert!(Duration::parse("40").unwrap_err().contains("needs a unit"));
        assert!(Duration::parse("4 fortnights")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(Duration::parse("-3s").is_err());
        assert!(Duration::parse("").is_err());
        assert!(Duration::parse("2000000d").is_err());
    }

    #[test]
    fn sizes_and_bandwidths() {
        assert_eq!(Size::parse("128 GiB").unwrap().0, 128 << 30);
        assert_eq!(Size::parse("1.5 TB").unwrap().0, 1_500_000_000_000);
        assert_eq!(Size::parse("0").unwrap().0, 0);
        assert!(Size::parse("12 parsecs").is_err());
        assert_eq!(Bandwidth::parse("400 MB/s").unwrap().0, 4e8);
        assert_eq!(Bandwidth::parse("2 Gbit/s").unwrap().0, 2.5e8);
        assert!(Bandwidth::parse("0 MB/s").is_err());
        assert_eq!(TimeOfDay::parse("22:00").unwrap().0, 79200);
        assert!(TimeOfDay::parse("24:00").is_err());
    }

    #[test]
    fn human_forms() {
        assert_eq!(fmt_size(79.23e12), "79.2 TB");
        assert_eq!(fmt_size(330e12), "330 TB");
        assert_eq!(fmt_size(512e9), "512 GB");
        assert_eq!(fmt_size(999.7e9), "1 TB");
        assert_eq!(fmt_size(0.0), "0 B");
        assert_eq!(fmt_rate(1.25e9), "10 Gbit/s");
        assert_eq!(fmt_rate(70e6), "560 Mbit/s");
        assert_eq!(fmt_duration(63_180.0), "17.6 h");
        assert_eq!(fmt_duration(150.0), "2.5 min");
        assert_eq!(fmt_money(1234.5), "1,234.50");
        assert_eq!(fmt_money(45.0), "45.00");
        assert_eq!(fmt_money(1_000_000.004), "1,000,000.00");
        assert_eq!(fmt_money(-3.0), "-3.00");
        assert_eq!(fmt_money(0.999), "1.00");
    }

    proptest! {
        #[test]
        fn duration_display_round_trips(us in 0u64..(1u64 << 50)) {
            let d = Duration(SimDuration(us));
            prop_assert_eq!(Duration::parse(&d.to_string()).unwrap(), d);
        }

        #[test]
        fn size_display_round_trips(b in 0u64..(1u64 << 60)) {
            let s = Size(b);
            prop_assert_eq!(Size::parse(&s.to_string()).unwrap(), s);
        }

        #[test]
        fn bandwidth_display_round_trips(v in 1e-3f64..1e13) {
            let b = Bandwidth(v);
            prop_assert_eq!(Bandwidth::parse(&b.to_string()).unwrap().0, v);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,24}") {
            let _ = Duration::parse(&s);
            let _ = Size::parse(&s);
            let _ = Bandwidth::parse(&s);
            let _ = TimeOfDay::parse(&s);
        }
    }
}

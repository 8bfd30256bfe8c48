//! The proleptic Gregorian calendar as whole days since 1970-01-01 (day 0, a Thursday):
//! dates, weekdays and "N months later", for runs that start on a calendar date.
//!
//! Days are plain `i64` counts; there are no time zones and no daylight-saving shifts here
//! (a UTC offset is a fixed shift applied by the caller).

/// A calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year (e.g. 2015).
    pub year: i64,
    /// Month, 1–12.
    pub month: u32,
    /// Day of the month, 1–31.
    pub day: u32,
}

impl Date {
    /// The date of `days` since 1970-01-01.
    pub fn from_days(days: i64) -> Date {
        // Howard Hinnant's civil_from_days: eras of 400 years (146 097 days) starting in
        // March, so that the leap day ends the year.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date { year, month, day }
    }

    /// Days since 1970-01-01 (`None` for an invalid date such as February 30).
    pub fn to_days(self) -> Option<i64> {
        if !(1..=12).contains(&self.month)
            || self.day < 1
            || self.day > month_len(self.year, self.month)
        {
            return None;
        }
        let y = self.year - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(era * 146_097 + doe - 719_468)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let mut parts = s.trim().splitn(3, '-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if !(all_digits(y) && all_digits(m) && all_digits(d)) {
            return None;
        }
        let date = Date {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
            day: d.parse().ok()?,
        };
        date.to_days().map(|_| date)
    }

    /// The same day of the month `n` months later, clamped to the month's last day
    /// (January 31 + 1 month = February 28 or 29).
    pub fn plus_months(self, n: u32) -> Date {
        let m0 = self.year * 12 + i64::from(self.month) - 1 + i64::from(n);
        let (year, month) = (m0.div_euclid(12), (m0.rem_euclid(12) + 1) as u32);
        Date {
            year,
            month,
            day: self.day.min(month_len(year, month)),
        }
    }

    /// A running month number (`year × 12 + month − 1`): equal for dates of one month.
    pub fn month_index(self) -> i64 {
        self.year * 12 + i64::from(self.month) - 1
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The weekday of `days` since 1970-01-01, 0 = Monday … 6 = Sunday.
pub fn weekday(days: i64) -> u8 {
    // 1970-01-01 was a Thursday (3).
    (days + 3).rem_euclid(7) as u8
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in `month` of `year`.
pub fn month_len(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn known_dates_and_weekdays() {
        assert_eq!(d("1970-01-01").to_days(), Some(0));
        assert_eq!(weekday(0), 3, "1970-01-01 was a Thursday");
        // 2015-11-02 was a Monday: 16 741 days after 1970-01-01.
        assert_eq!(d("2015-11-02").to_days(), Some(16_741));
        assert_eq!(weekday(16_741), 0);
        assert_eq!(weekday(d("2000-02-29").to_days().unwrap()), 1, "a Tuesday");
        assert_eq!(Date::from_days(-1), d("1969-12-31"));
    }

    #[test]
    fn invalid_dates_are_refused() {
        for s in [
            "2015-02-29",
            "2015-13-01",
            "2015-00-10",
            "2015-1-2",
            "15-01-01",
            "2015-04-31",
            "x",
        ] {
            assert_eq!(Date::parse(s), None, "{s}");
        }
        assert!(Date::parse("2016-02-29").is_some());
    }

    #[test]
    fn months_later_clamp_to_the_last_day() {
        assert_eq!(d("2015-01-31").plus_months(1), d("2015-02-28"));
        assert_eq!(d("2016-01-31").plus_months(1), d("2016-02-29"));
        assert_eq!(d("2015-11-02").plus_months(3), d("2016-02-02"));
        assert_eq!(d("2015-11-02").plus_months(12), d("2016-11-02"));
    }

    proptest::proptest! {
        #[test]
        fn days_round_trip(days in -800_000i64..800_000) {
            let date = Date::from_days(days);
            proptest::prop_assert_eq!(date.to_days(), Some(days));
            proptest::prop_assert_eq!(Date::parse(&date.to_string()).filter(|_| date.year >= 1000 && date.year <= 9999).map(|x| x.to_days()), (date.year >= 1000 && date.year <= 9999).then_some(Some(days)));
        }
    }
}

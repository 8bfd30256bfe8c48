//! A fleet that grows during the run: VMs added at a steady rate per month, and each
//! VM's used data growing per month, so that "storage after a year" means something.
//!
//! A month is 30 days (`MONTH_MICROS`), as the billing month of the cost books, or a
//! calendar month when the run starts on a calendar date (as retention counts months
//! then): the `k`-th month starts on the start date `k` months later (January 31 + 1
//! month = February 28 or 29), and a time within a month counts the month's share
//! elapsed. Added VMs exist from the start of the run (the fleet's `count` is its size at
//! the end) and *join* on their date: before it they are not scheduled, not chosen for
//! on-demand backups or restores, not priced, and their RPO accounting starts when they
//! join.

use crate::engine::calendar::Date;
use crate::engine::time::MICROS_PER_DAY;
use crate::engine::SimTime;

/// The growth month: 30 days.
pub const MONTH_MICROS: u64 = 30 * MICROS_PER_DAY;

/// How each VM's used data grows per month (a planning assumption of the scenario).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UsedGrowth {
    /// Compounding: used × (1 + rate)^(months since it joined).
    Percent(f64),
    /// Linear: used + bytes × months since it joined.
    Bytes(u64),
}

/// A fleet's growth.
#[derive(Clone, Debug, PartialEq)]
pub struct Growth {
    /// VMs at the start of the run; VM `i ≥ initial` joins at [`Growth::join_time`].
    pub initial: u32,
    /// VMs added per month (the `k`-th added VM joins `k / vms_per_month` months in).
    pub vms_per_month: f64,
    /// Growth of each VM's used data, `None` = constant.
    pub used: Option<UsedGrowth>,
    /// The run's calendar date of t = 0 (days since 1970-01-01): months are then
    /// calendar months; `None` = 30-day months.
    pub start_date: Option<i64>,
}

impl Growth {
    /// When month `m` (0 = the run's start) starts, in µs.
    fn month_start(&self, m: u64) -> u64 {
        match self.start_date {
            None => m.saturating_mul(MONTH_MICROS),
            Some(d0) => {
                let m = u32::try_from(m).unwrap_or(u32::MAX / 2);
                let day = Date::from_days(d0).plus_months(m).to_days().expect("valid");
                (day - d0).max(0) as u64 * MICROS_PER_DAY
            }
        }
    }

    /// The months elapsed at `t` µs since the start (fractional within a month).
    pub fn months_at(&self, t: u64) -> f64 {
        if self.start_date.is_none() {
            return t as f64 / MONTH_MICROS as f64;
        }
        // Calendar months are 28 to 31 days: start from a lower bound and step.
        let mut m = t / (31 * MICROS_PER_DAY);
        while self.month_start(m + 1) <= t {
            m += 1;
        }
        let (a, b) = (self.month_start(m), self.month_start(m + 1));
        m as f64 + (t - a) as f64 / (b - a) as f64
    }

    /// The time, in µs, `x` months after the start.
    fn time_of_months(&self, x: f64) -> u64 {
        let m = x.floor();
        let (a, b) = (self.month_start(m as u64), self.month_start(m as u64 + 1));
        a + ((x - m) * (b - a) as f64).round() as u64
    }

    /// The number of VMs at the end of a run of `duration` µs: the initial ones plus those
    /// that joined by then.
    pub fn count_at(&self, duration: u64) -> u32 {
        if self.vms_per_month <= 0.0 {
            return self.initial;
        }
        // The added VMs whose join time is at most `duration` (join times grow with k).
        let guess = (self.months_at(duration) * self.vms_per_month).floor();
        let mut added = guess.clamp(0.0, f64::from(u32::MAX - self.initial)) as u32;
        while added > 0 && self.join_time(self.initial + added - 1).as_micros() > duration {
            added -= 1;
        }
        while self
            .initial
            .checked_add(added)
            .is_some_and(|i| i < u32::MAX)
            && self.join_time(self.initial + added).as_micros() <= duration
        {
            added += 1;
        }
        self.initial.saturating_add(added)
    }

    /// When VM `i` (an index within its fleet) joins: the start for the initial VMs.
    pub fn join_time(&self, i: u32) -> SimTime {
        if i < self.initial || self.vms_per_month <= 0.0 {
            return SimTime::ZERO;
        }
        let k = f64::from(i - self.initial + 1);
        SimTime(self.time_of_months(k / self.vms_per_month))
    }

    /// The used bytes of a VM that had `used` bytes when it joined at `joined`, at `now`,
    /// at most `cap` (its disks' size).
    pub fn used_at(&self, used: u64, joined: SimTime, now: SimTime, cap: u64) -> u64 {
        let months =
            (self.months_at(now.as_micros()) - self.months_at(joined.as_micros())).max(0.0);
        let grown = match self.used {
            None => return used,
            Some(UsedGrowth::Percent(r)) => (used as f64 * (1.0 + r).powf(months)).round(),
            Some(UsedGrowth::Bytes(b)) => used as f64 + b as f64 * months,
        };
        (grown.min(u64::MAX as f64) as u64).min(cap.max(used))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(vms: f64, used: Option<UsedGrowth>) -> Growth {
        Growth {
            initial: 10,
            vms_per_month: vms,
            used,
            start_date: None,
        }
    }

    #[test]
    fn added_vms_join_at_even_steps() {
        let g = g(2.0, None);
        assert_eq!(g.join_time(9), SimTime::ZERO);
        // Two a month: the first added VM joins after 15 days, the second after 30.
        assert_eq!(g.join_time(10).as_micros(), 15 * MICROS_PER_DAY);
        assert_eq!(g.join_time(11).as_micros(), 30 * MICROS_PER_DAY);
        assert_eq!(g.count_at(90 * MICROS_PER_DAY), 16);
        assert_eq!(g.count_at(89 * MICROS_PER_DAY), 15);
    }

    #[test]
    fn used_data_grows_by_month_to_the_disks_size() {
        let month = SimTime(MONTH_MICROS);
        let two = SimTime(2 * MONTH_MICROS);
        let pct = g(0.0, Some(UsedGrowth::Percent(0.1)));
        assert_eq!(pct.used_at(1_000, SimTime::ZERO, two, u64::MAX), 1_210);
        assert_eq!(pct.used_at(1_000, month, two, u64::MAX), 1_100);
        assert_eq!(pct.used_at(1_000, SimTime::ZERO, two, 1_150), 1_150);
        let lin = g(0.0, Some(UsedGrowth::Bytes(50)));
        assert_eq!(lin.used_at(1_000, SimTime::ZERO, two, u64::MAX), 1_100);
        assert_eq!(g(0.0, None).used_at(1_000, SimTime::ZERO, two, 10), 1_000);
    }

    #[test]
    fn calendar_months_with_a_start_date() {
        // 2023-01-31: months start on Feb 28, Mar 31, Apr 30 (days 28, 59, 89).
        let d0 = Date::parse("2023-01-31").unwrap().to_days().unwrap();
        let g = Growth {
            start_date: Some(d0),
            ..g(1.0, Some(UsedGrowth::Bytes(30)))
        };
        let day = |d: u64| d * MICROS_PER_DAY;
        assert_eq!(g.join_time(10).as_micros(), day(28));
        assert_eq!(g.join_time(11).as_micros(), day(59));
        assert_eq!(g.join_time(12).as_micros(), day(89));
        assert_eq!(g.count_at(day(89)), 13);
        assert_eq!(g.count_at(day(89) - 1), 12);
        // Half of March (31 days) after a month: 1.5 months, 45 bytes.
        let t = SimTime(day(28) + day(31) / 2);
        assert_eq!(g.used_at(0, SimTime::ZERO, t, u64::MAX), 45);
        assert!((g.months_at(day(89)) - 3.0).abs() < 1e-12);
    }
}

//! A fleet that grows during the run: VMs added at a steady rate per month, and each
//! VM's used data growing per month, so that "storage after a year" means something.
//!
//! A month is 30 days (`MONTH`), as the billing month of the cost books. Added VMs exist
//! from the start of the run (the fleet's `count` is its size at the end) and *join* on
//! their date: before it they are not scheduled, not counted (not as unsupported either),
//! not chosen for on-demand backups, and their RPO accounting starts when they join.

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
}

impl Growth {
    /// The number of VMs at the end of a run of `duration` µs: the initial ones plus those
    /// that joined by then.
    pub fn count_at(&self, duration: u64) -> u32 {
        if self.vms_per_month <= 0.0 {
            return self.initial;
        }
        let added = (duration as f64 / MONTH_MICROS as f64 * self.vms_per_month).floor();
        self.initial
            .saturating_add(added.min(f64::from(u32::MAX)) as u32)
    }

    /// When VM `i` (an index within its fleet) joins: the start for the initial VMs.
    pub fn join_time(&self, i: u32) -> SimTime {
        if i < self.initial || self.vms_per_month <= 0.0 {
            return SimTime::ZERO;
        }
        let k = f64::from(i - self.initial + 1);
        SimTime((k / self.vms_per_month * MONTH_MICROS as f64).round() as u64)
    }

    /// The used bytes of a VM that had `used` bytes when it joined at `joined`, at `now`,
    /// at most `cap` (its disks' size).
    pub fn used_at(&self, used: u64, joined: SimTime, now: SimTime, cap: u64) -> u64 {
        let months =
            now.as_micros().saturating_sub(joined.as_micros()) as f64 / MONTH_MICROS as f64;
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
}

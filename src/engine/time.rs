//! Integer simulated time.
//!
//! The clock is a count of microseconds since the start of the simulation (t = 0 is 00:00
//! of day 0). Instants ([`SimTime`]) and spans ([`SimDuration`]) are distinct types so that
//! adding two instants does not type-check. Arithmetic is checked: an overflow panics with
//! a message instead of wrapping, and scenario validation bounds every input duration so
//! that no valid scenario can reach it.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Microseconds per second.
pub const MICROS_PER_SEC: u64 = 1_000_000;
/// Microseconds per day.
pub const MICROS_PER_DAY: u64 = 86_400 * MICROS_PER_SEC;

/// An instant of simulated time, in microseconds since t = 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of the simulation.
    pub const ZERO: SimTime = SimTime(0);
    /// A time after every event of any valid scenario; used as "never".
    pub const NEVER: SimTime = SimTime(u64::MAX);

    /// Microseconds since t = 0.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Seconds since t = 0, for reporting only (never fed back into the clock).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SEC as f64
    }

    /// The zero-based day this instant falls in.
    pub const fn day(self) -> u64 {
        self.0 / MICROS_PER_DAY
    }

    /// The span from `earlier` to `self`; panics if `earlier` is later (a model bug).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(earlier.0)
                .expect("SimTime::since: earlier instant is after this one"),
        )
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(self, d: SimDuration) -> Option<SimTime> {
        self.0.checked_add(d.0).map(SimTime)
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A span of `s` whole seconds.
    pub const fn from_secs(s: u64) -> SimDuration {
        SimDuration(s * MICROS_PER_SEC)
    }

    /// A span of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> SimDuration {
        SimDuration(ms * 1000)
    }

    /// A span of `d` days.
    pub const fn from_days(d: u64) -> SimDuration {
        SimDuration(d * MICROS_PER_DAY)
    }

    /// A span from fractional seconds, rounded to the nearest microsecond; negative and NaN
    /// inputs become zero, huge ones saturate (callers validate their inputs first).
    pub fn from_secs_f64(s: f64) -> SimDuration {
        let us = super::num::round(s * MICROS_PER_SEC as f64);
        if us.is_nan() || us <= 0.0 {
            SimDuration::ZERO
        } else if us >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            SimDuration(us as u64)
        }
    }

    /// Microseconds in this span.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Seconds in this span, for reporting and for rate arithmetic.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SEC as f64
    }

    /// `self * n`, panicking on overflow.
    pub fn times(self, n: u64) -> SimDuration {
        SimDuration(self.0.checked_mul(n).expect("SimDuration overflow"))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.checked_add(d.0).expect("SimTime overflow"))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.checked_add(d.0).expect("SimDuration overflow"))
    }
}

impl AddAssign for SimDuration {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub for SimDuration {
    type Output = SimDuration;
    fn sub(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.checked_sub(d.0).expect("SimDuration underflow"))
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    fn sub(self, t: SimTime) -> SimDuration {
        self.since(t)
    }
}

impl fmt::Display for SimDuration {
    /// The shortest exact form in the scenario syntax, e.g. `1h30m`, `250ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut us = self.0;
        if us == 0 {
            return f.write_str("0s");
        }
        const UNITS: [(u64, &str); 5] = [
            (MICROS_PER_DAY, "d"),
            (3600 * MICROS_PER_SEC, "h"),
            (60 * MICROS_PER_SEC, "m"),
            (MICROS_PER_SEC, "s"),
            (1000, "ms"),
        ];
        for (size, name) in UNITS {
            if us >= size {
                write!(f, "{}{}", us / size, name)?;
                us %= size;
            }
        }
        if us > 0 {
            write!(f, "{us}us")?;
        }
        Ok(())
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t+{}", SimDuration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_compact_and_exact() {
        assert_eq!(SimDuration::from_secs(5400).to_string(), "1h30m");
        assert_eq!(SimDuration(1_500).to_string(), "1ms500us");
        assert_eq!(SimDuration::ZERO.to_string(), "0s");
        assert_eq!(SimDuration::from_days(2).to_string(), "2d");
    }

    #[test]
    #[should_panic(expected = "SimTime overflow")]
    fn overflow_is_loud() {
        let _ = SimTime(u64::MAX - 1) + SimDuration(2);
    }

    #[test]
    fn day_boundaries() {
        assert_eq!(SimTime(MICROS_PER_DAY - 1).day(), 0);
        assert_eq!(SimTime(MICROS_PER_DAY).day(), 1);
    }
}

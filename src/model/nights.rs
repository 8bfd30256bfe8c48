//! The per-night table of a run (`nights.csv`): one row per policy occurrence and fleet.
//!
//! A "night" is one occurrence of a policy's schedule. Its jobs are the scheduled backups
//! of that occurrence (all attempts of one VM's backup are one job); a job's row is the
//! night it was scheduled for, whenever it finished. Nights of the warm-up are included:
//! the table describes the whole run.

use crate::engine::SimTime;

/// One row of `nights.csv`: one policy occurrence of one fleet.
#[derive(Clone, Debug, PartialEq)]
pub struct Night {
    /// Policy name.
    pub policy: String,
    /// Fleet name (a policy applied to several fleets has one row per fleet and night).
    pub fleet: String,
    /// Occurrence number of the policy, from 0.
    pub night: u32,
    /// The occurrence's scheduled time.
    pub scheduled_at: SimTime,
    /// Weekday of the occurrence, 0 = Monday .. 6 = Sunday (from `start_weekday`).
    pub weekday: u8,
    /// The occurrence's calendar date (UTC) as days since 1970-01-01, when the run has a
    /// `simulation.start`.
    pub date: Option<i64>,
    /// The end of the occurrence's backup window (scheduled time + window).
    pub window_end: SimTime,
    /// Jobs that arrived (supported VMs, after onboarding, whose start fell in the run).
    pub scheduled: u64,
    /// Jobs whose first attempt left the queues (passed the fleet's and the vault's gates).
    pub started: u64,
    /// Jobs that ended with a recovery point.
    pub succeeded: u64,
    /// Jobs that ended with a recovery point before the window's end.
    pub met_window: u64,
    /// Jobs that ended failed (after their retries), by error code in `failures`.
    pub failed: u64,
    /// Failed jobs by error code name, in code order; only codes that occurred.
    pub failures: Vec<(&'static str, u64)>,
    /// Jobs without an outcome when the run stopped.
    pub in_flight: u64,
    /// Jobs that missed the window: finished after its end, failed, or still open after it.
    pub window_misses: u64,
    /// When the last job with an outcome (succeeded or failed) finished, if any did.
    pub last_finish: Option<SimTime>,
    /// Bytes of the night's successful backups.
    pub bytes: u64,
    /// Highest sampled utilisation (0..1) of any link on the fleet's path during the
    /// window (time-series samples whose interval overlaps it); 0 without links.
    pub peak_utilization: f64,
}

impl Night {
    /// The last finish relative to the window's end, in seconds (negative: before it).
    pub fn last_finish_vs_window_s(&self) -> Option<f64> {
        self.last_finish
            .map(|t| (t.as_micros() as f64 - self.window_end.as_micros() as f64) / 1e6)
    }

    /// Share of the night's scheduled jobs that missed the window (0 without jobs).
    pub fn miss_rate(&self) -> f64 {
        if self.scheduled == 0 {
            0.0
        } else {
            self.window_misses as f64 / self.scheduled as f64
        }
    }
}

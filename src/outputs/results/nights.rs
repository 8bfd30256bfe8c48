//! `nights.csv`: the one writer and the one reader of the per-night table (one row per
//! policy occurrence and fleet; see docs/metrics.md for the columns).

use std::path::Path;

use crate::error::{io_at as io, Error, Result};
use crate::model::nights::Night;

use super::secs;

/// The columns of `nights.csv`, in order.
pub const COLUMNS: [&str; 20] = [
    "policy",
    "fleet",
    "night",
    "day",
    "weekday",
    "scheduled_s",
    "window_end_s",
    "jobs_scheduled",
    "started",
    "succeeded",
    "met_window",
    "failed",
    "failures",
    "in_flight",
    "window_misses",
    "miss_rate",
    "last_finish_vs_window_end_s",
    "bytes",
    "peak_link_utilization",
    "date",
];

/// Weekday abbreviations, 0 = Monday.
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The signed seconds of `x` with six decimals (the clock's microseconds, exactly).
fn signed_secs(us: i128) -> String {
    let sign = if us < 0 { "-" } else { "" };
    format!("{sign}{}", secs(us.unsigned_abs() as u64))
}

/// The text of `nights.csv` for a run's table.
pub fn nights_csv(nights: &[Night]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS).expect("in memory");
    for n in nights {
        let failures: Vec<String> = n.failures.iter().map(|(c, k)| format!("{c}:{k}")).collect();
        let last = n.last_finish.map_or(String::new(), |t| {
            signed_secs(t.as_micros() as i128 - n.window_end.as_micros() as i128)
        });
        let row = [
            n.policy.clone(),
            n.fleet.clone(),
            n.night.to_string(),
            (n.scheduled_at.as_micros() / crate::engine::time::MICROS_PER_DAY).to_string(),
            WEEKDAYS[n.weekday as usize % 7].to_string(),
            secs(n.scheduled_at.as_micros()),
            secs(n.window_end.as_micros()),
            n.scheduled.to_string(),
            n.started.to_string(),
            n.succeeded.to_string(),
            n.met_window.to_string(),
            n.failed.to_string(),
            failures.join(";"),
            n.in_flight.to_string(),
            n.window_misses.to_string(),
            format!("{:.6}", n.miss_rate()),
            last,
            n.bytes.to_string(),
            format!("{:.6}", n.peak_utilization),
            n.date.map_or(String::new(), |d| {
                crate::engine::calendar::Date::from_days(d).to_string()
            }),
        ];
        w.write_record(&row).expect("in memory");
    }
    w.into_inner().expect("in memory")
}

/// Writes `nights.csv` at `path`.
pub fn write_nights(path: &Path, nights: &[Night]) -> Result<()> {
    io(path, std::fs::write(path, nights_csv(nights)))
}

/// One row of `nights.csv` as read back (what the plots and the run summary use).
#[derive(Clone, Debug, PartialEq)]
pub struct NightRow {
    /// Policy name.
    pub policy: String,
    /// Fleet name.
    pub fleet: String,
    /// Occurrence number of the policy.
    pub night: u32,
    /// Day number of the occurrence.
    pub day: u64,
    /// Weekday abbreviation.
    pub weekday: String,
    /// Jobs scheduled.
    pub scheduled: u64,
    /// Jobs that succeeded.
    pub succeeded: u64,
    /// Jobs that succeeded within the window.
    pub met_window: u64,
    /// Jobs that failed.
    pub failed: u64,
    /// Jobs in flight at the end.
    pub in_flight: u64,
    /// Window misses.
    pub window_misses: u64,
    /// Share of the scheduled jobs that missed the window.
    pub miss_rate: f64,
    /// Last finish relative to the window's end, seconds (`None`: no job finished).
    pub last_finish_vs_window_end_s: Option<f64>,
}

impl NightRow {
    /// Misses that are not failures: successes after the window's end and jobs still
    /// open past it.
    pub fn missed_not_failed(&self) -> u64 {
        self.window_misses.saturating_sub(self.failed)
    }
}

/// Reads `nights.csv` from a results directory (`None` when the file is absent: a
/// results directory written before it existed).
pub fn read_nights(dir: &Path) -> Result<Option<Vec<NightRow>>> {
    let path = dir.join("nights.csv");
    if !path.exists() {
        return Ok(None);
    }
    let bad = |line: usize, what: &str| {
        Error::input(
            path.display().to_string(),
            format!("line {line}: {what}; expected a nights.csv written by backupsim"),
        )
    };
    let mut r = csv::Reader::from_path(&path).map_err(|e| bad(1, &e.to_string()))?;
    let head: Vec<String> = r
        .headers()
        .map_err(|e| bad(1, &e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    if head != COLUMNS {
        return Err(bad(1, "unexpected header"));
    }
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| bad(line, &e.to_string()))?;
        let num = |c: usize| -> Result<u64> {
            rec[c]
                .parse()
                .map_err(|_| bad(line, &format!("column {} is not a count", COLUMNS[c])))
        };
        let real = |c: usize| -> Result<f64> {
            rec[c]
                .parse()
                .map_err(|_| bad(line, &format!("column {} is not a number", COLUMNS[c])))
        };
        out.push(NightRow {
            policy: rec[0].to_string(),
            fleet: rec[1].to_string(),
            night: num(2)? as u32,
            day: num(3)?,
            weekday: rec[4].to_string(),
            scheduled: num(7)?,
            succeeded: num(9)?,
            met_window: num(10)?,
            failed: num(11)?,
            in_flight: num(13)?,
            window_misses: num(14)?,
            miss_rate: real(15)?,
            last_finish_vs_window_end_s: if rec[16].is_empty() {
                None
            } else {
                Some(real(16)?)
            },
        });
    }
    Ok(Some(out))
}

/// The whole run's `nights.csv` from its parts' (`dirs`), `None` when the parts have
/// none: each row is one fleet's, in the one part that simulated it, so rows are copied
/// as written and put in the whole run's order (policy and fleet in scenario order,
/// `layout`: by policy, then night, then fleet).
pub fn merge_nights(
    dirs: &[std::path::PathBuf],
    layout: &super::partition::Layout,
) -> Result<Option<Vec<u8>>> {
    let pos = |names: &[String], x: &str| names.iter().position(|n| n == x);
    let mut rows = Vec::new();
    for d in dirs {
        let path = d.join("nights.csv");
        if !path.is_file() {
            return Ok(None);
        }
        let bad = |what: String| {
            Error::input(
                path.display().to_string(),
                format!("{what}; expected the nights.csv of a part written by `run --partition`"),
            )
        };
        let mut r = csv::Reader::from_path(&path).map_err(|e| bad(e.to_string()))?;
        let head = r.headers().map_err(|e| bad(e.to_string()))?;
        if head.iter().ne(COLUMNS) {
            return Err(bad("unexpected header".into()));
        }
        for rec in r.records() {
            let rec = rec.map_err(|e| bad(e.to_string()))?;
            let key = (
                pos(&layout.policies, &rec[0]),
                rec[2].parse::<u32>().ok(),
                pos(&layout.fleets, &rec[1]),
            );
            let (Some(p), Some(n), Some(f)) = key else {
                return Err(bad(format!(
                    "a row of policy {} and fleet {} that the run does not have",
                    &rec[0], &rec[1]
                )));
            };
            rows.push(((p, n, f), rec));
        }
    }
    rows.sort_by_key(|(k, _)| *k);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS).expect("in memory");
    for (_, rec) in &rows {
        w.write_record(rec).expect("in memory");
    }
    Ok(Some(w.into_inner().expect("in memory")))
}

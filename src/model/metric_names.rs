//! The catalogue of metric names: every key a run of a scenario can write to
//! `summary.json`.
//!
//! The run's summary (`sim::results`) takes its name parts from the constants here, and
//! [`catalogue`] expands them for one configuration (its vault, link and fleet names), so that
//! an `[[expect]]` bound on a name no run can produce is caught before anything runs. A
//! test runs a scenario and checks that every key of its summary is in the catalogue and
//! that every name marked [`MetricName::always`] is in the summary.

use super::codes::{Code, Consistency, Rejection};
use super::config::{Config, Redundancy};
use super::vm::Unsupported;

/// Statistics of a latency histogram, as suffixes (`backup.duration.p99`).
pub const STATS: [&str; 7] = ["max", "mean", "p50", "p90", "p95", "p99", "p999"];

/// Phases of a backup job, as in `backup.phase.<phase>.<stat>`.
pub const PHASES: [&str; 4] = ["queue", "extension", "snapshot", "transfer"];

/// Consistency levels, in `backup.consistency.<level>` order.
pub const CONSISTENCY: [Consistency; 3] = [
    Consistency::Application,
    Consistency::FileSystem,
    Consistency::Crash,
];

/// Per-link metrics, as in `link.<name>.<metric>`.
pub const LINK_METRICS: [&str; 6] = [
    "bytes",
    "utilization.mean",
    "utilization.max",
    "mean_flows",
    "outage_seconds",
    "stalled_bytes",
];

/// Per-vault metrics, as in `vault.<name>.<metric>`.
pub const VAULT_METRICS: [&str; 4] = [
    "stored_bytes.end",
    "stored_bytes.max",
    "recovery_points.end",
    "recovery_points.max",
];

/// Per-fleet metrics, as in `fleet.<name>.<metric>`.
pub const FLEET_METRICS: [&str; 2] = ["vms", "unsupported"];

/// Backup metrics every run writes.
pub const BACKUP_TOTALS: [&str; 14] = [
    "backup.jobs.total",
    "backup.jobs.in_flight",
    "backup.in_flight.age.mean",
    "backup.in_flight.age.max",
    "backup.jobs.succeeded",
    "backup.jobs.failed",
    "backup.jobs.unsupported",
    "backup.attempts",
    "backup.retries",
    "backup.success_rate",
    "backup.window.miss_rate",
    "backup.window.misses",
    "backup.bytes.full",
    "backup.bytes.incremental",
];

/// Restore metrics every run writes.
pub const RESTORE_TOTALS: [&str; 8] = [
    "restore.jobs.total",
    "restore.jobs.in_flight",
    "restore.in_flight.age.mean",
    "restore.in_flight.age.max",
    "restore.jobs.succeeded",
    "restore.jobs.failed",
    "restore.jobs.rejected",
    "restore.bytes",
];

/// One name of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricName {
    /// The dotted name, as in `summary.json`.
    pub name: String,
    /// Whether every run of the scenario writes it (otherwise only when it happened:
    /// a failure code that occurred, a histogram with at least one value).
    pub always: bool,
}

/// Every metric name a run of `c` can write, sorted by name.
pub fn catalogue(c: &Config) -> Vec<MetricName> {
    let mut out = Vec::new();
    let mut put = |name: String, always: bool| out.push(MetricName { name, always });
    for n in BACKUP_TOTALS.iter().chain(&RESTORE_TOTALS) {
        put(n.to_string(), true);
    }
    put("unsupported.vms".into(), true);
    for c in Code::ALL {
        // A backup never fails for want of a recovery point: that code is a restore's.
        if c != Code::NoRecoveryPoint {
            put(format!("backup.failures.{}", c.name()), true);
        }
        put(format!("restore.failures.{}", c.name()), false);
    }
    for c in CONSISTENCY {
        put(format!("backup.consistency.{}", c.name()), true);
    }
    for r in Unsupported::ALL {
        put(format!("unsupported.{}", r.name()), true);
        put(format!("unsupported.any.{}", r.name()), true);
    }
    for r in Rejection::ALL {
        put(format!("restore.rejected.{}", r.name()), true);
    }
    let mut histograms = vec![
        "backup.duration".to_string(),
        "backup.failed_duration".to_string(),
        "rpo".to_string(),
    ];
    histograms.extend(PHASES.iter().map(|p| format!("backup.phase.{p}")));
    if !c.restores.is_empty() {
        histograms.push("restore.duration".into());
        histograms.push("restore.point_age".into());
    }
    for v in &c.vaults {
        for m in VAULT_METRICS {
            put(format!("vault.{}.{m}", v.name), true);
        }
        if v.redundancy == Redundancy::Grs {
            histograms.push(format!("vault.{}.geo_lag", v.name));
        }
    }
    for l in &c.links {
        for m in LINK_METRICS {
            put(format!("link.{}.{m}", l.name), true);
        }
    }
    for f in &c.fleets {
        for m in FLEET_METRICS {
            put(format!("fleet.{}.{m}", f.name), true);
        }
    }
    for h in histograms {
        for st in STATS {
            put(format!("{h}.{st}"), false);
        }
    }
    // Written only by a run with `--batches` or one cut short by `--run-max-events`.
    for m in super::metrics::BATCH_METRICS {
        put(format!("batches.{m}"), false);
        put(format!("batches.{m}.ci95"), false);
    }
    put("run.cut_short".into(), false);
    out.sort();
    out.dedup_by(|a, b| a.name == b.name);
    out
}

// ---------------------------------------------------------------------------------------
// What a name means: its direction (compare) and its unit (plots, human output). Both are
// rules on the name, so they hold for every name of the catalogue and every scenario.

/// Which way a metric should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// An increase is an improvement.
    HigherIsBetter,
    /// A decrease is an improvement.
    LowerIsBetter,
    /// Informational: a change is reported but never a regression.
    Neutral,
}

/// The direction rule, applied to the metric name in this order:
///
/// 1. **higher is better**: names ending in `success_rate` or `.succeeded`,
///    and `backup.consistency.application`;
/// 2. **neutral** (size of the workload or of the fleet, informational):
///    names ending in `.total` or `.bytes`, names containing `stored_bytes`,
///    `recovery_points` or `utilization`, and
///    `backup.consistency.file_system`;
/// 3. **lower is better**: everything else — durations, phase times,
///    failures, `failed`, rejections, `miss_rate`, `rpo`, `geo_lag`,
///    `unsupported`, `backup.consistency.crash`, ...
pub fn direction(metric: &str) -> Direction {
    if metric.ends_with("success_rate")
        || metric.ends_with(".succeeded")
        || metric == "backup.consistency.application"
    {
        Direction::HigherIsBetter
    } else if metric.ends_with(".total")
        || metric.ends_with(".bytes")
        || metric.contains("stored_bytes")
        || metric.contains("recovery_points")
        || metric.contains("utilization")
        || metric == "backup.consistency.file_system"
    {
        Direction::Neutral
    } else {
        Direction::LowerIsBetter
    }
}

/// The unit a metric is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Seconds: durations, phase times, RPO, geo lag, ages, outage time.
    Seconds,
    /// Bytes: sizes and volumes moved or stored.
    Bytes,
    /// A plain number: counts, rates, shares, utilizations.
    Plain,
}

/// The unit of a metric, from its name: bytes when a part is `bytes` or ends in `_bytes`;
/// seconds for durations (`.duration.`, `_duration.`, `.phase.`, `rpo.`, `geo_lag`,
/// `point_age`, `.age.`, a last part ending in `_seconds`); plain otherwise.
pub fn unit(metric: &str) -> Unit {
    let parts: Vec<&str> = metric.split('.').collect();
    let last = parts.last().copied().unwrap_or("");
    if parts.iter().any(|p| *p == "bytes" || p.ends_with("_bytes")) {
        return Unit::Bytes;
    }
    let time = last != "count"
        && (metric.contains(".duration.")
            || metric.contains("_duration.")
            || metric.contains(".phase.")
            || metric.starts_with("rpo.")
            || metric.starts_with("batches.rpo.")
            || metric.contains("geo_lag")
            || metric.contains("point_age")
            || metric.contains(".age.")
            || last.ends_with("_seconds"));
    if time {
        Unit::Seconds
    } else {
        Unit::Plain
    }
}

impl MetricName {
    /// Which way the metric should move ([`direction`]).
    pub fn direction(&self) -> Direction {
        direction(&self.name)
    }

    /// The metric's unit ([`unit`]).
    pub fn unit(&self) -> Unit {
        unit(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_the_histogram_statistics() {
        let mut h = crate::model::metrics::new_histogram();
        h.record(5).unwrap();
        let keys: Vec<&str> = crate::model::metrics::stats(&h).keys().copied().collect();
        assert_eq!(keys, STATS);
    }
}

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

/// Storage over every vault: the bytes held at the end, and the peak of their sum (not
/// the sum of each vault's peak).
pub const STORAGE_METRICS: [&str; 2] = ["storage.stored_bytes.end", "storage.stored_bytes.max"];

/// Cost metrics of the run, of each vault (`vault.<name>.cost.total`) and of each fleet,
/// written when the scenario has a `[cost]` table: accrued over the run (`cost.total`,
/// `cost.protected_instances`, `cost.storage`, `cost.restore_egress`) and monthly rates at
/// the end (`.monthly`).
pub const COST_METRICS: [&str; 7] = [
    "cost.total",
    "cost.monthly",
    "cost.protected_instances",
    "cost.protected_instances.monthly",
    "cost.storage",
    "cost.storage.monthly",
    "cost.restore_egress",
];

/// Per-fleet metrics, as in `fleet.<name>.<metric>`.
pub const FLEET_METRICS: [&str; 2] = ["vms", "unsupported"];

/// Metrics every run writes per group of jobs, as in `fleet.<name>.<metric>` (and
/// `vault.`, `region.`, `policy.`): the run-wide names, counted over the group's jobs.
pub const GROUP_METRICS: [&str; 9] = [
    "backup.jobs.succeeded",
    "backup.jobs.failed",
    "backup.jobs.in_flight",
    "backup.success_rate",
    "backup.window.misses",
    "backup.window.miss_rate",
    "backup.bytes",
    "restore.jobs.succeeded",
    "restore.jobs.failed",
];

/// The kinds of group with per-group metrics: a job belongs to its VM's fleet, that
/// fleet's vault (through its policy), the fleet's region and its policy.
pub const GROUP_KINDS: [&str; 4] = ["fleet", "vault", "region", "policy"];

/// Percentiles of the backup duration per group (`fleet.<name>.backup.duration.p50`).
pub const GROUP_DURATION_STATS: [&str; 3] = ["p50", "p90", "p99"];
/// Percentiles of the RPO per group (`fleet.<name>.rpo.p99`).
pub const GROUP_RPO_STATS: [&str; 2] = ["p50", "p99"];

/// Most fleets for which the per-group percentiles are kept: each fleet then holds a
/// duration and an RPO histogram (about 0.6 MB); with more fleets the group metrics are
/// counters and rates only, so memory stays bounded for estates of thousands of fleets.
pub const GROUP_HISTOGRAM_FLEETS: usize = 64;

/// Whether `metric` is a per-group percentile (`fleet.db.backup.duration.p99`,
/// `region.west.rpo.p50`): absent when the group's histogram is empty (no value, not 0).
pub fn is_group_percentile(metric: &str) -> bool {
    let Some((h, st)) = metric.rsplit_once('.') else {
        return false;
    };
    let stat = GROUP_DURATION_STATS.contains(&st) || GROUP_RPO_STATS.contains(&st);
    let Some((kind, rest)) = h.split_once('.') else {
        return false;
    };
    stat && GROUP_KINDS.contains(&kind)
        && rest
            .split_once('.')
            .is_some_and(|(_, m)| m == "backup.duration" || m == "rpo")
}

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
    for n in STORAGE_METRICS {
        put(n.into(), true);
    }
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
    if c.cost.is_some() {
        let scopes = c
            .vaults
            .iter()
            .map(|v| format!("vault.{}.", v.name))
            .chain(c.fleets.iter().map(|f| format!("fleet.{}.", f.name)));
        for scope in std::iter::once(String::new()).chain(scopes) {
            for m in COST_METRICS {
                put(format!("{scope}{m}"), true);
            }
        }
    }
    let groups: [Vec<&str>; 4] = [
        c.fleets.iter().map(|f| f.name.as_str()).collect(),
        c.vaults.iter().map(|v| v.name.as_str()).collect(),
        c.regions.iter().map(String::as_str).collect(),
        c.policies.iter().map(|p| p.name.as_str()).collect(),
    ];
    let percentiles = c.fleets.len() <= GROUP_HISTOGRAM_FLEETS;
    for (kind, names) in GROUP_KINDS.iter().zip(&groups) {
        for n in names {
            for m in GROUP_METRICS {
                put(format!("{kind}.{n}.{m}"), true);
            }
            for code in Code::ALL
                .into_iter()
                .filter(|&c| c != Code::NoRecoveryPoint)
            {
                put(format!("{kind}.{n}.backup.failures.{}", code.name()), false);
            }
            if percentiles {
                for st in GROUP_DURATION_STATS {
                    put(format!("{kind}.{n}.backup.duration.{st}"), false);
                }
                for st in GROUP_RPO_STATS {
                    put(format!("{kind}.{n}.rpo.{st}"), false);
                }
            }
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
    put("run.cut_short_wall".into(), false);
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
/// 0. **lower is better**: costs (`cost.…`, `vault.<name>.cost.…`, `fleet.<name>.cost.…`);
/// 1. **higher is better**: names ending in `success_rate` or `.succeeded`,
///    and `backup.consistency.application`;
/// 2. **neutral** (size of the workload or of the fleet, informational):
///    names ending in `.total` or `.mean_flows`, names with a `bytes` part
///    (`backup.bytes.full`, `link.wan.bytes`), names containing `stored_bytes`,
///    `recovery_points` or `utilization`, and `backup.consistency.file_system`;
/// 3. **lower is better**: everything else — durations, phase times,
///    failures, `failed`, rejections, `miss_rate`, `rpo`, `geo_lag`,
///    `unsupported`, `backup.consistency.crash`, ...
pub fn direction(metric: &str) -> Direction {
    if is_cost(metric) {
        Direction::LowerIsBetter
    } else if metric.ends_with("success_rate")
        || metric.ends_with(".succeeded")
        || metric == "backup.consistency.application"
    {
        Direction::HigherIsBetter
    } else if metric.ends_with(".total")
        || metric.split('.').any(|p| p == "bytes")
        || metric.ends_with(".mean_flows")
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

/// Whether a metric is a count that grows with the amount of work (jobs, attempts,
/// failures by code, rejected restores, window misses, consistency levels, VMs): more VMs or
/// a longer run move it without the service doing better or worse. Rates, durations, ages
/// and sizes are not counts.
pub fn scales_with_workload(metric: &str) -> bool {
    if unit(metric) != Unit::Plain || metric.ends_with("_rate") {
        return false;
    }
    let parts: Vec<&str> = metric.split('.').collect();
    let last = parts.last().copied().unwrap_or("");
    if STATS.contains(&last) || matches!(last, "end" | "mean_flows") {
        return false;
    }
    parts.iter().any(|p| {
        matches!(
            *p,
            "jobs"
                | "attempts"
                | "retries"
                | "misses"
                | "failures"
                | "rejected"
                | "unsupported"
                | "consistency"
                | "vms"
        )
    })
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
    /// An amount of money in the currency of the scenario's `[cost]`.
    Money,
}

/// Whether a metric is a cost: `cost.…`, `vault.<name>.cost.…` or `fleet.<name>.cost.…`
/// (names have no dots, so a fleet named `cost` is not one).
fn is_cost(metric: &str) -> bool {
    let mut parts = metric.split('.');
    match parts.next() {
        Some("cost") => true,
        Some("vault" | "fleet") => parts.nth(1) == Some("cost"),
        _ => false,
    }
}

/// The unit of a metric, from its name: money for costs (`cost.…`, `vault.<name>.cost.…`,
/// `fleet.<name>.cost.…`); bytes when a part is `bytes` or ends in `_bytes`;
/// seconds for durations (`.duration.`, `_duration.`, `.phase.`, `rpo.` (also after a
/// group prefix), `geo_lag`,
/// `point_age`, `.age.`, a last part ending in `_seconds`); plain otherwise.
pub fn unit(metric: &str) -> Unit {
    let parts: Vec<&str> = metric.split('.').collect();
    let last = parts.last().copied().unwrap_or("");
    if is_cost(metric) {
        return Unit::Money;
    }
    if parts.iter().any(|p| *p == "bytes" || p.ends_with("_bytes")) {
        return Unit::Bytes;
    }
    let time = last != "count"
        && (metric.contains(".duration.")
            || metric.contains("_duration.")
            || metric.contains(".phase.")
            || metric.starts_with("rpo.")
            || metric.contains(".rpo.")
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

#[cfg(test)]
mod workload_tests {
    use super::scales_with_workload;

    #[test]
    fn counts_of_work_scale_with_the_workload() {
        for m in [
            "backup.jobs.total",
            "backup.jobs.succeeded",
            "backup.jobs.failed",
            "backup.attempts",
            "backup.retries",
            "backup.window.misses",
            "backup.failures.ExtensionSnapshotFailedNoNetwork",
            "backup.consistency.application",
            "restore.jobs.rejected",
            "restore.rejected.CrossRegionRestoreNotSupported",
            "fleet.web.vms",
            "unsupported.any.PremiumStorage",
        ] {
            assert!(scales_with_workload(m), "{m}");
        }
        for m in [
            "backup.success_rate",
            "backup.window.miss_rate",
            "backup.duration.p99",
            "backup.in_flight.age.max",
            "rpo.p50",
            "backup.bytes.full",
            "vault.v.recovery_points.end",
            "link.wan.utilization.max",
            "link.wan.mean_flows",
        ] {
            assert!(!scales_with_workload(m), "{m}");
        }
    }
}

impl MetricName {
    /// Which way the metric should move ([`direction`]).
    pub fn direction(&self) -> Direction {
        direction(&self.name)
    }

    /// The metric's unit ([`unit()`]).
    pub fn unit(&self) -> Unit {
        unit(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_percentiles_are_recognised() {
        assert!(is_group_percentile("fleet.db.backup.duration.p99"));
        assert!(is_group_percentile("region.west.rpo.p50"));
        assert!(!is_group_percentile("fleet.db.backup.window.misses"));
        assert!(!is_group_percentile("backup.duration.p99"));
        assert!(!is_group_percentile("link.wan.utilization.max"));
    }

    #[test]
    fn stats_are_the_histogram_statistics() {
        let mut h = crate::model::metrics::new_histogram();
        h.record(5).unwrap();
        let keys: Vec<&str> = crate::model::metrics::stats(&h).keys().copied().collect();
        assert_eq!(keys, STATS);
    }

    #[test]
    fn costs_are_money_and_lower_is_better() {
        for name in [
            "cost.total",
            "vault.v.cost.storage.monthly",
            "fleet.f.cost.total",
        ] {
            assert_eq!(unit(name), Unit::Money, "{name}");
            assert_eq!(direction(name), Direction::LowerIsBetter, "{name}");
        }
        // A fleet named "cost" is not a cost.
        assert_eq!(unit("fleet.cost.vms"), Unit::Plain);
    }
}

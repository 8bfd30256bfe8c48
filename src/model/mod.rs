//! The backup model: VMs, vaults, policies, links, backup and restore jobs.
//!
//! The model knows nothing of files nor of the scenario format: [`simulate`] takes a
//! resolved [`Config`] (built by `scenario::build` from a validated scenario) and an
//! [`Observer`] (which the report layer implements to stream `jobs.csv` and
//! `timeseries.csv`) and returns the run's metrics. See ARCHITECTURE.md for the life of
//! one backup job.

pub mod codes;
pub mod config;
pub mod growth;
pub mod metric_names;
pub mod metrics;
pub mod network;
pub mod nights;
pub mod partition;
mod sim;
pub mod vm;

use std::collections::BTreeMap;

use crate::model::metrics::Latency;

use crate::engine::dist::Kind;
use crate::engine::{SimDuration, SimTime};

pub use config::Config;
pub use sim::CostSums;
pub use sim::{simulate, simulate_checked, LIVENESS_BASE_EVENTS, LIVENESS_EVENTS_PER_VM};

/// One backup or restore attempt (finished, or in flight at the end), as a row of
/// `jobs.csv`.
#[derive(Debug, Clone)]
pub struct JobRecord<'a> {
    /// Sequence number of the attempt (in order of arrival).
    pub id: u64,
    /// `scheduled`, `on-demand` or `restore:<kind>`.
    pub kind: &'static str,
    /// Fleet name.
    pub fleet: &'a str,
    /// VM index within the fleet.
    pub vm: u32,
    /// Vault name.
    pub vault: &'a str,
    /// Attempt number (1 = first).
    pub attempt: u32,
    /// The policy's scheduled time (or the request time).
    pub scheduled: SimTime,
    /// When the job started (joined the queue).
    pub started: SimTime,
    /// When it ended.
    pub finished: SimTime,
    /// Time in each phase: queue, extension, snapshot, transfer, create (restores).
    pub phases: [SimDuration; 5],
    /// Bytes transferred.
    pub bytes: u64,
    /// `succeeded`, `failed`, `rejected`, or `in-flight` (still running when the run
    /// stopped: `finished` is then the end of the run and `phases` the time so far).
    pub outcome: &'static str,
    /// Error code or rejection reason (empty on success).
    pub error: &'static str,
    /// `application`, `file_system`, `crash` (backups that succeeded).
    pub consistency: &'static str,
    /// Whether a scheduled backup finished after its window closed.
    pub window_miss: bool,
}

/// One row of `timeseries.csv`.
#[derive(Debug, Clone)]
pub struct Sample<'a> {
    /// Sample time.
    pub time: SimTime,
    /// Backup jobs past the queue.
    pub running_jobs: u64,
    /// Jobs waiting for a vault slot (or for their vault to become active).
    pub queued_jobs: u64,
    /// Restores in progress.
    pub running_restores: u64,
    /// Policies whose backup window is open.
    pub windows_open: u64,
    /// Per link (scenario order): mean throughput (bytes/s) and utilisation over the
    /// interval ending at `time`.
    pub links: &'a [(f64, f64)],
    /// Per vault (scenario order): stored bytes and recovery points.
    pub vaults: &'a [(u64, u64)],
    /// The monthly cost rate at `time`, when the scenario has prices: `[total,
    /// instances, storage]`.
    pub cost_monthly: Option<[f64; 3]>,
    /// The exact sums behind `cost_monthly` (what a part of a partitioned run records so
    /// that the merge prices the parts' total as the whole run does).
    pub cost_now: Option<CostSums>,
}

/// Receives the model's per-job and per-sample output as the run goes.
pub trait Observer {
    /// Whether job records are wanted (building them is skipped otherwise).
    fn wants_jobs(&self) -> bool {
        false
    }
    /// A finished attempt, or one in flight when the run stopped.
    fn job(&mut self, _record: &JobRecord<'_>) {}
    /// A time-series sample.
    fn sample(&mut self, _sample: &Sample<'_>) {}
    /// Asked once every [`POLL_EVERY_EVENTS`] events: `false` stops the run there, cut
    /// short. For limits the model cannot see, such as wall-clock time; where the run
    /// stops then depends on the machine, not only on the scenario and seed.
    fn keep_going(&mut self) -> bool {
        true
    }
    /// Whether [`Observer::storage`] is wanted (a part of a partitioned run: the merge
    /// finds the peak of the parts' summed stored bytes from them).
    fn wants_storage(&self) -> bool {
        false
    }
    /// The bytes stored over every vault from `at` on (after every change at `at`): once
    /// for each time they change, in time order, up to the end of the run.
    fn storage(&mut self, _at: SimTime, _bytes: u64) {}
}

/// How often (in events) a run asks its observer whether to go on: rare enough to cost
/// nothing per event, often enough to stop within milliseconds.
pub const POLL_EVERY_EVENTS: u64 = 1 << 14;

/// An observer that keeps nothing.
pub struct NoObserver;
impl Observer for NoObserver {}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Every scalar metric by dotted name (the content of `summary.json`).
    pub summary: BTreeMap<String, f64>,
    /// Latency histograms by metric name (microseconds).
    pub histograms: BTreeMap<String, Latency>,
    /// Events processed.
    pub events: u64,
    /// Link names and vault names in scenario order (column order of the time series).
    pub link_names: Vec<String>,
    /// Vault names in scenario order.
    pub vault_names: Vec<String>,
    /// Draws beyond their type's range, saturated at its cap (durations at 1 000 years,
    /// sizes at 16 EiB, counts at 4 294 967 295: see `dist::MAX_DRAW_DURATION` and
    /// siblings), by the dotted key of their distribution (`timing.snapshot_per_disk`).
    /// Empty in almost every run; `run.json`'s notes report it.
    pub saturated: BTreeMap<String, u64>,
    /// The per-night table (`nights.csv`), see [`nights::Night`].
    pub nights: Vec<nights::Night>,
    /// With `simulation.batches`: each batch-means metric (`metrics::BATCH_METRICS`) with
    /// its value in every batch, `None` for a batch without an observation of it.
    pub batches: BTreeMap<String, Vec<Option<f64>>>,
    /// Whether the run stopped at `simulation.max_events` before its end.
    pub cut_short: bool,
    /// What a merge of partitioned runs needs beyond the summary and histograms (never
    /// written by a whole run).
    pub partials: Partials,
}

/// The numerators and denominators of the summary's ratios that the summary does not
/// hold, and the per-region histograms: with them, the parts of a partitioned run merge
/// into exactly the whole run's summary.
#[derive(Clone, Debug, Default)]
pub struct Partials {
    /// `backup.window.jobs` (the miss rate's denominator), `backup.in_flight.age.sum` and
    /// `restore.in_flight.age.sum` (µs), and in a part of a partitioned run
    /// (`Config::part`) `region.<r>.backup.window.jobs`.
    pub values: BTreeMap<String, f64>,
    /// `region.<r>.backup.duration` and `region.<r>.rpo`, when the groups keep histograms
    /// and the run is a part of a partitioned run (`Config::part`).
    pub histograms: BTreeMap<String, metrics::Latency>,
    /// The exact sums behind the run-wide cost metrics, when the scenario has prices.
    pub costs: Option<CostSums>,
    /// With `simulation.batches`: the per-batch sums behind the batch means
    /// (`metrics::Batches::sums`).
    pub batch_sums: Vec<[u128; 6]>,
}

/// One note per distribution of `saturated` (draws saturated at their type's cap, by the
/// dotted key of their distribution, as [`Outcome::saturated`]), in key order, for
/// `run.json` (empty in almost every run). A merge of partitioned runs sums the parts'
/// counts and words them here, as the whole run does.
pub fn saturation_notes(saturated: &BTreeMap<String, u64>) -> Vec<String> {
    saturated
        .iter()
        .map(|(key, n)| {
            let cap = match draw_kind(key) {
                Kind::Duration => "1000 years (the longest duration the simulator represents)",
                Kind::Size => "16 EiB (the largest size the simulator represents)",
                _ => "4294967295 (the largest count the simulator represents)",
            };
            format!(
                "{key}: {n} draw{} exceeded {cap} and {} saturated to it (see docs/scenario.md, \"Caps\")",
                if *n == 1 { "" } else { "s" },
                if *n == 1 { "was" } else { "were" }
            )
        })
        .collect()
}

/// The unit of the distribution a saturated draw came from, by its dotted key: the
/// timing distributions and a vault's `create_time` are durations; a fleet's disk and
/// backup sizes are sizes; its disk, NIC, IP and endpoint numbers are counts.
fn draw_kind(key: &str) -> Kind {
    match key.rsplit('.').next().unwrap_or("") {
        "disk_size" | "os_disk" | "backup_size" => Kind::Size,
        "data_disks" | "nics" | "reserved_ips" | "endpoints" => Kind::Count,
        _ => Kind::Duration,
    }
}

/// The warning for a run whose work still in flight at the end is more than 1 % of its
/// jobs (backups and restores), from its summary: those jobs have no outcome, so latency,
/// success and window metrics describe the rest only.
pub fn in_flight_warning(summary: &BTreeMap<String, f64>) -> Option<String> {
    let g = |k: &str| summary.get(k).copied().unwrap_or(0.0);
    let (backups, restores) = (g("backup.jobs.in_flight"), g("restore.jobs.in_flight"));
    let jobs = g("backup.jobs.total") - g("backup.jobs.unsupported") + g("restore.jobs.total");
    let open = backups + restores;
    (open > 0.01 * jobs && open > 0.0).then(|| {
        format!(
            "{backups} backup job(s) and {restores} restore(s) were still in flight at the end of the run ({:.1}% of {jobs} jobs): they have no outcome and are counted only in backup.jobs.in_flight and restore.jobs.in_flight; set simulation.drain = true to run them to completion, or lengthen simulation.duration",
            100.0 * open / jobs.max(1.0)
        )
    })
}

/// Runs `config` with no observer.
/// The version of the model's rules and defaults, recorded in every `run.json` and
/// `summary.json`: it moves
/// whenever a rule, a default or a metric's meaning changes (each change is listed in
/// CHANGELOG.md), so that `compare` can say when two results come from different models.
pub const MODEL_VERSION: u32 = 3;

pub fn run(config: &Config) -> Result<Outcome, Failure> {
    simulate(config, &mut NoObserver)
}

/// The simulator itself failed a run-time check: a bug to report with the scenario and
/// seed, never a consequence of bad input (which validation rejects first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Simulated time stopped advancing: more events than the bound ran at one instant
    /// (10 million plus 64 per VM; docs/domain.md).
    Liveness(String),
    /// An invariant of the run's state was broken (see `simulate_checked`).
    Invariant(String),
    /// The memory for the scenario could not be allocated (not a bug: the scenario is too
    /// large for this machine).
    OutOfMemory(String),
}

impl Failure {
    /// Whether the failure is the simulator's own (a bug) rather than a limit of the
    /// machine.
    pub fn is_bug(&self) -> bool {
        matches!(self, Failure::Liveness(_) | Failure::Invariant(_))
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Liveness(m) => write!(f, "liveness check failed: {m}"),
            Failure::Invariant(m) => write!(f, "invariant broken: {m}"),
            Failure::OutOfMemory(m) => write!(f, "out of memory: {m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn in_flight_warning_above_one_percent_of_jobs() {
        let mut m = summary(&[
            ("backup.jobs.total", 1_010.0),
            ("backup.jobs.unsupported", 10.0),
            ("backup.jobs.in_flight", 10.0),
            ("restore.jobs.total", 0.0),
            ("restore.jobs.in_flight", 0.0),
        ]);
        assert_eq!(in_flight_warning(&m), None, "exactly 1 % is not more");
        m.insert("restore.jobs.total".into(), 50.0);
        m.insert("restore.jobs.in_flight".into(), 40.0);
        let w = in_flight_warning(&m).expect("50 of 1050 jobs");
        assert!(w.starts_with("10 backup job(s) and 40 restore(s)"), "{w}");
        assert!(w.contains("(4.8% of 1050 jobs)"), "{w}");
        assert!(w.contains("simulation.drain = true"), "{w}");
        assert_eq!(in_flight_warning(&summary(&[])), None);
    }
}

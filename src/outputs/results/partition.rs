//! Parts of a partitioned run (`run --partition`): the `partition.json` marker of a part
//! directory, and the merge of the parts' summaries and histograms into the whole run's.
//!
//! A part simulates whole components (fleets with their vaults, policies, links and
//! restores, `model::partition`), so a metric of one entity (`fleet.`, `vault.`, `link.`,
//! `policy.` keys, a region whose fleets are in one part) is in exactly one part and is
//! copied. Counts and integer sums add. Histogram statistics are recomputed from the sum
//! of the parts' histograms, success rates from the summed successes and failures, the
//! oldest job in flight is the largest of the parts'. These are exactly the whole run's
//! values. The keys of [`not_identical`] cannot be recomputed from the parts' summaries:
//! they come from the parts' records (the stored-bytes traces, the cost and batch sums of
//! `partition.json`, window and in-flight partials, region histograms), exactly, and are
//! approximated only for parts written without them (see docs/performance.md,
//! "Partitioned runs").

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{io_at as io, Error, Result};
use crate::model::metric_names::{is_group_percentile, STATS};
use crate::model::metrics::{round6, Latency};
use crate::model::CostSums;

use super::storage_trace::STORAGE_TRACE;
use super::{CUT_SHORT, CUT_SHORT_WALL};

/// The marker file of a part directory.
pub const PART_FILE: &str = "partition.json";

/// What a part directory records about the run it is part of.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartInfo {
    /// The scenario's name.
    pub scenario: String,
    /// Its seed.
    pub seed: u64,
    /// This part, 1-based.
    pub part: usize,
    /// Parts in all.
    pub parts: usize,
    /// Names of the fleets this part simulated.
    pub fleets: Vec<String>,
    /// The part's `model::Partials` values (the denominators of ratios the summary does
    /// not hold).
    #[serde(default)]
    pub values: BTreeMap<String, f64>,
    /// The whole run's entities in scenario order (a part's files show only its own).
    #[serde(default)]
    pub layout: Layout,
    /// The exact sums behind the part's run-wide costs, with `[cost]`.
    #[serde(default)]
    pub costs: Option<PartCosts>,
    /// With `--batches`: the part's per-batch sums (`model::metrics::Batches::sums`).
    #[serde(default)]
    pub batch_sums: Vec<[u128; 6]>,
    /// Events the part processed.
    #[serde(default)]
    pub events: u64,
    /// The part's draws saturated at their type's cap, by distribution
    /// (`model::Outcome::saturated`): the merge sums them into the whole run's notes.
    #[serde(default)]
    pub saturated: BTreeMap<String, u64>,
    /// The scenario's notes (the same in every part), for the merged `run.json`.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The simulated time, as `run.json` shows it ("30d").
    #[serde(default)]
    pub simulated: String,
}

/// The whole run's entities in scenario order, and its prices: what the merge needs to
/// lay out the whole run's files and price the parts' summed costs.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Layout {
    /// Policy names.
    pub policies: Vec<String>,
    /// Fleet names.
    pub fleets: Vec<String>,
    /// Link names.
    pub links: Vec<String>,
    /// Vault names with their redundancy (`grs` or `lrs`).
    pub vaults: Vec<(String, String)>,
    /// With `[cost]`: storage per GB-month in GRS and LRS vaults, restore egress per GB.
    pub prices: Option<[f64; 3]>,
}

/// `model::CostSums` as `partition.json` holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartCosts {
    /// See `model::CostSums::instances_area`.
    pub instances_area: u128,
    /// See `model::CostSums::instances`.
    pub instances: u128,
    /// See `model::CostSums::stored_area`.
    pub stored_area: [u128; 2],
    /// See `model::CostSums::stored`.
    pub stored: [u128; 2],
    /// See `model::CostSums::egress`.
    pub egress: u128,
}

impl From<CostSums> for PartCosts {
    fn from(c: CostSums) -> PartCosts {
        PartCosts {
            instances_area: c.instances_area,
            instances: c.instances,
            stored_area: c.stored_area,
            stored: c.stored,
            egress: c.egress,
        }
    }
}

impl From<PartCosts> for CostSums {
    fn from(c: PartCosts) -> CostSums {
        CostSums {
            instances_area: c.instances_area,
            instances: c.instances,
            stored_area: c.stored_area,
            stored: c.stored,
            egress: c.egress,
        }
    }
}

impl Layout {
    /// The layout of the whole run `c`.
    pub fn of(c: &crate::model::Config) -> Layout {
        use crate::model::config::Redundancy;
        Layout {
            policies: c.policies.iter().map(|p| p.name.clone()).collect(),
            fleets: c.fleets.iter().map(|f| f.name.clone()).collect(),
            links: c.links.iter().map(|l| l.name.clone()).collect(),
            vaults: c
                .vaults
                .iter()
                .map(|v| {
                    let t = match v.redundancy {
                        Redundancy::Grs => "grs",
                        Redundancy::Lrs => "lrs",
                    };
                    (v.name.clone(), t.to_string())
                })
                .collect(),
            prices: c.cost.as_ref().map(|k| {
                let p = k.data_prices();
                [p.storage_grs, p.storage_lrs, p.restore_egress]
            }),
        }
    }

    /// The prices of data stored and restored, with `[cost]`.
    pub fn prices(&self) -> Option<crate::model::config::DataPrices> {
        let [storage_grs, storage_lrs, restore_egress] = self.prices?;
        Some(crate::model::config::DataPrices {
            storage_grs,
            storage_lrs,
            restore_egress,
        })
    }
}

impl PartInfo {
    /// Reads `dir/partition.json` (`None` when there is none).
    pub fn read(dir: &Path) -> Result<Option<PartInfo>> {
        let p = dir.join(PART_FILE);
        if !p.is_file() {
            return Ok(None);
        }
        let text = io(&p, std::fs::read_to_string(&p))?;
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::input(
                p.display().to_string(),
                format!("not a part marker written by `run --partition`: {e}"),
            )
        })
    }

    /// The marker's text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("json") + "\n"
    }
}

/// One part's results.
#[derive(Clone, Debug, Default)]
pub struct PartResults {
    /// Its summary.
    pub summary: BTreeMap<String, f64>,
    /// Its histograms, by name.
    pub histograms: BTreeMap<String, Latency>,
    /// Its `model::Partials`: values, cost and batch sums from `partition.json`,
    /// histograms from [`PART_HISTOGRAMS`].
    pub partials: crate::model::Partials,
    /// The whole run's layout (from `partition.json`).
    pub layout: Layout,
    /// Its stored-bytes trace, when it has one ([`STORAGE_TRACE`]).
    pub trace: Option<std::path::PathBuf>,
    /// Events it processed, saturated draws, the scenario's notes and the simulated time
    /// (from `partition.json`).
    pub events: u64,
    /// See [`PartInfo::saturated`].
    pub saturated: BTreeMap<String, u64>,
    /// See [`PartInfo::notes`].
    pub notes: Vec<String>,
    /// See [`PartInfo::simulated`].
    pub simulated: String,
}

/// The directory of a part's per-region histograms.
pub const PART_HISTOGRAMS: &str = "part-histograms";

/// The merged results, and the keys approximated.
#[derive(Clone, Debug, Default)]
pub struct Merged {
    /// The summary of the whole run.
    pub summary: BTreeMap<String, f64>,
    /// Its histograms.
    pub histograms: BTreeMap<String, Latency>,
    /// Keys held by several parts whose whole-run value the parts' summaries do not
    /// determine: approximated, not identical to the unpartitioned run's.
    pub approximate: Vec<String>,
    /// The per-batch sums of the whole run (`--batches`), when every part has them: the
    /// `batches.*` keys follow from them.
    pub batch_sums: Option<Vec<[u128; 6]>>,
    /// Events of all parts.
    pub events: u64,
    /// The parts' saturated draws, summed by distribution (the whole run's).
    pub saturated: BTreeMap<String, u64>,
    /// The parts (1-based, in part order) that stopped before the end of their simulated
    /// time (`run.cut_short`).
    pub cut_parts: Vec<usize>,
    /// Those of them stopped by the wall clock (`run.cut_short_wall`).
    pub wall_cut_parts: Vec<usize>,
}

/// Whether a key held by several parts is not determined by their summaries: the peak of
/// a sum over time (`storage.stored_bytes.max`), window miss rates (their denominator,
/// the scheduled jobs, is not in the summary), mean ages in flight, per-group percentiles
/// (no histogram is written per group), costs (sums of prices in floating point) and
/// batch-means statistics.
pub fn not_identical(key: &str) -> bool {
    key == "storage.stored_bytes.max"
        || key.ends_with("window.miss_rate")
        || key.ends_with("in_flight.age.mean")
        || is_group_percentile(key)
        || key.starts_with("cost.")
        || key.contains(".cost.")
        || key.starts_with("batch")
}

/// The sum of counts as the whole run computes it: whole numbers (byte and job counts,
/// each exact in its part) are added as integers and rounded to a float once, as the
/// run rounds its integer total; anything else is added in part order.
fn exact_sum(xs: &[f64]) -> f64 {
    const LIMIT: f64 = 9.2e18;
    if xs.iter().all(|x| x.fract() == 0.0 && x.abs() < LIMIT) {
        xs.iter().map(|&x| x as i128).sum::<i128>() as f64
    } else {
        xs.iter().sum()
    }
}

/// Merges the parts, in part order (so that every float sum is taken in one fixed order).
pub fn merge(parts: &[PartResults]) -> Result<Merged> {
    let mut out = Merged::default();
    let exact = exact_keys(parts)?;
    out.batch_sums = batch_sums(parts);
    for (i, p) in parts.iter().enumerate() {
        out.events += p.events;
        for (k, n) in &p.saturated {
            *out.saturated.entry(k.clone()).or_default() += n;
        }
        let flag = |k: &str| p.summary.get(k).is_some_and(|&v| v > 0.0);
        if flag(CUT_SHORT) {
            out.cut_parts.push(i + 1);
        }
        if flag(CUT_SHORT_WALL) {
            out.wall_cut_parts.push(i + 1);
        }
    }
    for p in parts {
        for (name, h) in &p.histograms {
            out.histograms.entry(name.clone()).or_default().add(h);
        }
    }
    // Every merged histogram's statistics, each computed once (many keys read them).
    let mut hist_stats = BTreeMap::new();
    for (name, h) in &out.histograms {
        h.summarize(name, &mut hist_stats);
    }
    let keys: std::collections::BTreeSet<&String> =
        parts.iter().flat_map(|p| p.summary.keys()).collect();
    let sum = |k: &str| -> f64 {
        exact_sum(
            &parts
                .iter()
                .filter_map(|p| p.summary.get(k).copied())
                .collect::<Vec<_>>(),
        )
    };
    let mut group_hists: BTreeMap<&String, Latency> = BTreeMap::new();
    for p in parts {
        for (name, h) in &p.partials.histograms {
            group_hists.entry(name).or_default().add(h);
        }
    }
    // The parts' partials, when every part has them.
    let partial = |k: &str| -> Option<f64> {
        parts
            .iter()
            .map(|p| p.partials.values.get(k).copied())
            .sum::<Option<f64>>()
    };
    for key in keys {
        let held: Vec<f64> = parts
            .iter()
            .filter_map(|p| p.summary.get(key))
            .copied()
            .collect();
        let value = if let Some(&v) = exact.get(key) {
            v
        } else if held.len() == 1 {
            held[0]
        } else if let Some(v) = from_histogram(key, &hist_stats) {
            v
        } else if let Some(prefix) = key.strip_suffix("backup.success_rate") {
            let s = sum(&format!("{prefix}backup.jobs.succeeded"));
            let f = sum(&format!("{prefix}backup.jobs.failed"));
            if s + f > 0.0 {
                round6(s / (s + f))
            } else {
                0.0
            }
        } else if let Some(v) = from_partials(key, &sum, &partial, &group_hists) {
            v
        } else if key == CUT_SHORT || key == CUT_SHORT_WALL {
            // A flag: set when any part's is.
            held.iter().copied().fold(0.0, f64::max)
        } else if key.ends_with("in_flight.age.max") {
            held.iter().copied().fold(0.0, f64::max)
        } else if not_identical(key) {
            let (v, exact) = approximate(key, parts);
            if !exact {
                out.approximate.push(key.clone());
            }
            v
        } else {
            exact_sum(&held)
        };
        out.summary.insert(key.clone(), value);
    }
    Ok(out)
}

/// The run-wide keys the parts' summaries do not determine but their records do: the peak
/// of the summed stored bytes from the parts' traces, the run-wide costs from their summed
/// cost sums. A key is missing when a part lacks its record.
fn exact_keys(parts: &[PartResults]) -> Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    if parts.len() > 1 {
        let traces: Option<Vec<&Path>> = parts.iter().map(|p| p.trace.as_deref()).collect();
        if let Some(traces) = traces {
            let peak = super::storage_trace::peak_of_sum(&traces)?;
            out.insert("storage.stored_bytes.max".to_string(), peak as f64);
        }
    }
    let costs: Option<Vec<CostSums>> = parts.iter().map(|p| p.partials.costs).collect();
    if let (Some(costs), Some(prices)) = (costs, parts.first().and_then(|p| p.layout.prices())) {
        let mut total = CostSums::default();
        for c in &costs {
            total.add(c);
        }
        total.put_metrics(&prices, &mut out);
    }
    Ok(out)
}

/// The sum of the parts' per-batch sums, when every part has them (all of one length).
fn batch_sums(parts: &[PartResults]) -> Option<Vec<[u128; 6]>> {
    let first = parts.first()?.partials.batch_sums.len();
    if first == 0 || parts.iter().any(|p| p.partials.batch_sums.len() != first) {
        return None;
    }
    let mut sums = vec![[0u128; 6]; first];
    for p in parts {
        for (s, b) in sums.iter_mut().zip(&p.partials.batch_sums) {
            for k in 0..6 {
                s[k] = s[k].saturating_add(b[k]);
            }
        }
    }
    Some(sums)
}

/// A ratio or group percentile from the parts' partials: window miss rates from the
/// summed misses and scheduled jobs, mean ages in flight from the summed ages, a
/// region's percentiles from its merged histograms.
fn from_partials(
    key: &str,
    sum: &dyn Fn(&str) -> f64,
    partial: &dyn Fn(&str) -> Option<f64>,
    hists: &BTreeMap<&String, Latency>,
) -> Option<f64> {
    if let Some(prefix) = key.strip_suffix("backup.window.miss_rate") {
        let jobs = partial(&format!("{prefix}backup.window.jobs"))?;
        let misses = sum(&format!("{prefix}backup.window.misses"));
        return Some(if jobs > 0.0 {
            round6(misses / jobs)
        } else {
            0.0
        });
    }
    for kind in ["backup", "restore"] {
        if key == format!("{kind}.in_flight.age.mean") {
            let age = partial(&format!("{kind}.in_flight.age.sum"))?;
            let n = sum(&format!("{kind}.jobs.in_flight"));
            return Some(if n > 0.0 { round6(age / n / 1e6) } else { 0.0 });
        }
    }
    if is_group_percentile(key) {
        let (name, stat) = key.rsplit_once('.')?;
        let h = hists.get(&name.to_string())?;
        return Some(h.stats()[stat]);
    }
    None
}

/// A histogram statistic (`backup.duration.p99`) from the merged histograms' statistics.
fn from_histogram(key: &str, hist_stats: &BTreeMap<String, f64>) -> Option<f64> {
    let (_, stat) = key.rsplit_once('.')?;
    STATS
        .contains(&stat)
        .then(|| hist_stats.get(key).copied())
        .flatten()
}

/// The stand-in of a key the parts do not determine, and whether it is exact (only one
/// part has jobs of the key's group): the sum of the parts' peaks for the peak of a sum
/// (an upper bound), sums for costs, the largest value for other maxima and percentiles
/// (a lower bound), and otherwise the mean of the parts' values weighted by their jobs.
fn approximate(key: &str, parts: &[PartResults]) -> (f64, bool) {
    // The group of the key (`region.west.`, or "" for run-wide keys), and its jobs.
    let prefix = ["backup.", "restore.", "rpo.", "storage.", "cost.", "batch"]
        .iter()
        .filter_map(|m| key.find(m))
        .min()
        .map_or("", |i| &key[..i]);
    let held: Vec<(f64, f64)> = parts
        .iter()
        .filter_map(|p| {
            let v = *p.summary.get(key)?;
            let w: f64 = [
                "backup.jobs.succeeded",
                "backup.jobs.failed",
                "backup.jobs.in_flight",
            ]
            .iter()
            .filter_map(|k| p.summary.get(&format!("{prefix}{k}")))
            .sum();
            Some((v, w))
        })
        .collect();
    let busy: Vec<&(f64, f64)> = held.iter().filter(|(_, w)| *w > 0.0).collect();
    if busy.len() == 1 && !key.starts_with("storage.") && !key.contains("cost.") {
        return (busy[0].0, true);
    }
    let v = if key == "storage.stored_bytes.max" || key.contains("cost.") {
        held.iter().map(|(v, _)| v).sum()
    } else if is_group_percentile(key) || key.ends_with(".max") {
        held.iter().map(|(v, _)| *v).fold(0.0, f64::max)
    } else {
        let w: f64 = held.iter().map(|(_, w)| w).sum();
        if w > 0.0 {
            round6(held.iter().map(|(v, w)| v * w).sum::<f64>() / w)
        } else {
            0.0
        }
    };
    (v, false)
}

/// Reads a run directory's summary and histograms.
pub fn read_part(dir: &Path) -> Result<PartResults> {
    let summary = super::read::read_summary(dir).map_err(|e| {
        Error::input(
            dir.join("summary.json").display().to_string(),
            e.to_string(),
        )
    })?;
    let hd = dir.join("histograms");
    let histograms = if hd.is_dir() {
        read_hdr_dir(&hd)?
    } else {
        BTreeMap::new()
    };
    let mut partials = crate::model::Partials::default();
    let mut layout = Layout::default();
    let mut part = PartResults::default();
    if let Some(info) = PartInfo::read(dir)? {
        partials.values = info.values;
        partials.costs = info.costs.map(Into::into);
        partials.batch_sums = info.batch_sums;
        layout = info.layout;
        part.events = info.events;
        part.saturated = info.saturated;
        part.notes = info.notes;
        part.simulated = info.simulated;
    }
    let trace = Some(dir.join(STORAGE_TRACE)).filter(|p| p.is_file());
    let pd = dir.join(PART_HISTOGRAMS);
    if pd.is_dir() {
        partials.histograms = read_hdr_dir(&pd)?;
    }
    Ok(PartResults {
        summary,
        histograms,
        partials,
        layout,
        trace,
        ..part
    })
}

/// Every `NAME.hdr` of `dir`, by name.
fn read_hdr_dir(dir: &Path) -> Result<BTreeMap<String, Latency>> {
    let mut out = BTreeMap::new();
    let mut paths: Vec<_> = io(dir, std::fs::read_dir(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    for p in paths {
        let name = p.file_name().and_then(|n| n.to_str());
        let Some(name) = name.and_then(|n| n.strip_suffix(".hdr")) else {
            continue;
        };
        let h = io(&p, super::histio::read_hdr(&p))?;
        out.insert(name.to_string(), Latency::from_histogram(&h));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte counts past 2^53 added as floats part by part round differently from the whole
    /// run's integer total rounded once (seen on a scaled-down scale-10m).
    #[test]
    fn byte_counts_past_2_pow_53_add_as_integers() {
        let parts: [u64; 8] = [
            2_281_730_487_366_133,
            2_806_539_898_841_823,
            1_142_106_568_342_468,
            1_265_528_858_653_756,
            2_713_535_165_191_547,
            2_063_401_473_300_643,
            1_854_817_254_591_515,
            1_472_776_207_615_510,
        ];
        let whole = parts.iter().sum::<u64>() as f64;
        let xs: Vec<f64> = parts.iter().map(|&x| x as f64).collect();
        assert_eq!(exact_sum(&xs), whole);
        // Added as floats, part by part, they round to another number.
        assert_ne!(xs.iter().sum::<f64>(), whole);
        assert_eq!(exact_sum(&[0.5, 0.25]), 0.75);
    }

    fn part(kv: &[(&str, f64)], durations: &[u64]) -> PartResults {
        let mut h = Latency::default();
        for &d in durations {
            h.record(crate::engine::SimDuration(d));
        }
        PartResults {
            summary: kv.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            histograms: BTreeMap::from([("backup.duration".to_string(), h)]),
            ..PartResults::default()
        }
    }

    #[test]
    fn counts_add_rates_and_percentiles_are_recomputed() {
        let a = part(
            &[
                ("backup.jobs.succeeded", 3.0),
                ("backup.jobs.failed", 1.0),
                ("backup.success_rate", 0.75),
                ("backup.duration.max", 3.0),
                ("backup.duration.mean", 2.0),
                ("fleet.a.vms", 4.0),
            ],
            &[1_000_000, 2_000_000, 3_000_000],
        );
        let b = part(
            &[
                ("backup.jobs.succeeded", 1.0),
                ("backup.jobs.failed", 1.0),
                ("backup.success_rate", 0.5),
                ("backup.duration.max", 9.0),
                ("backup.duration.mean", 9.0),
                ("storage.stored_bytes.max", 5.0),
            ],
            &[9_000_000],
        );
        let m = merge(&[a, b]).unwrap();
        assert_eq!(m.summary["backup.jobs.succeeded"], 4.0);
        assert_eq!(m.summary["backup.success_rate"], round6(4.0 / 6.0));
        assert_eq!(m.summary["fleet.a.vms"], 4.0);
        // The mean of 1, 2, 3 and 9 s, within the histogram's precision.
        assert!((m.summary["backup.duration.mean"] - 3.75).abs() < 0.01);
        assert!((m.summary["backup.duration.max"] - 9.0).abs() < 0.01);
        // Held by one part: copied, not approximated.
        assert!(m.approximate.is_empty());
    }
}

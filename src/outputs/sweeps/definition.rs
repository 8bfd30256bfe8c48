//! The sweep's definition (`sweep.json`): the `--vary` grid, its points and runs, and the
//! seed of every run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::rng::{name_key, stream_key};
use crate::error::{Error, Result};

use super::{Shard, Target};

/// Version of the `sweep.json` format.
pub const FORMAT: u32 = 1;

/// Default number of replications per point: the fewest that give a usable 95% interval
/// (t(0.975, 2) = 4.30) while keeping a first sweep cheap.
pub const DEFAULT_REPLICATIONS: u32 = 3;

/// Metrics plotted against each varied key when `--plot-metric` is not given.
pub const DEFAULT_PLOT_METRICS: [&str; 3] = [
    "backup.duration.p99",
    "backup.success_rate",
    "backup.window.miss_rate",
];

// ---------------------------------------------------------------------------------------
// Definition: what identifies a sweep.

/// One `--vary KEY=V1,V2,...` flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vary {
    /// Dotted scenario key (as for `--set`).
    pub key: String,
    /// The values, in the order given.
    pub values: Vec<String>,
}

/// How run seeds are derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeedMode {
    /// Each (point, replication) has its own seed: points are independent samples.
    PerPoint,
    /// Replication `r` uses the same seed at every point (common random numbers): the
    /// differences between points are less noisy, at the cost of correlated points.
    Common,
}

/// Everything that makes two sweep directories "the same sweep" (`sweep.json`), plus the
/// metrics to plot.
///
/// Deliberately excludes anything that does not change a run's `summary.json`: the
/// scenario's path (shards may run from other directories), threads, sharding, `--quiet`,
/// `--jobs-csv` alone. `plot_metrics` is recorded so that `merge` draws the plots the sweep
/// asked for, but is not part of the identity (merge and resume ignore it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    /// Format version of this file.
    pub format: u32,
    /// `simulation.name` of the scenario (after `--set`).
    pub scenario_name: String,
    /// FNV-1a hash of the scenario file's bytes, hex (data files it names are not hashed).
    pub scenario_hash: String,
    /// `simulation.seed` of the scenario after `--set`: the root of every derived seed.
    pub base_seed: u64,
    /// `--set` overrides applied to every run, in order.
    pub sets: Vec<String>,
    /// `--vary` flags, in order (the first varies slowest).
    pub vary: Vec<Vary>,
    /// Replications per point.
    pub replications: u32,
    /// How seeds are derived.
    pub seeds: SeedMode,
    /// Metrics to plot against each varied key (`--plot-metric`; empty with
    /// `--no-plots`). `None` (absent from the file) means [`DEFAULT_PLOT_METRICS`].
    /// Not part of the sweep's identity: resuming with other metrics is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plot_metrics: Option<Vec<String>>,
    /// Adaptive replications (`--target`): each point gets more replications until every
    /// target's relative 95% half-width is reached, or `max_replications`. Empty: every
    /// point has exactly `replications`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    /// The cap on replications per point with targets (`--max-replications`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replications: Option<u32>,
    /// The point that paired differences are taken against (`--baseline`, resolved to a
    /// point id; `None`: the first point). Only with common seeds. Not part of the
    /// sweep's identity: it changes no run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// The files each run writes (`--outputs`, canonical list, without `jobs`, which
    /// changes no summary); `None`: the sweep default (`summary,histograms`). Part of the
    /// identity: the histograms decide the merged per-point histograms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<String>,
    /// The event limit of each run (`--run-max-events`); part of the identity (it changes
    /// the summaries of the runs it cuts short).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_max_events: Option<u64>,
}

impl Definition {
    /// The grid's points, in run order.
    pub fn points(&self) -> Vec<Point> {
        expand(&self.vary)
    }

    /// Every run of the first round, in the global run order (point-major, then
    /// replication): `replications` per point. Without targets, these are all the runs.
    pub fn runs(&self) -> Vec<Run> {
        let mut out = Vec::new();
        for p in self.points() {
            for r in 0..self.replications {
                out.push(self.run(&p, r));
            }
        }
        out
    }

    /// Replication `r` of point `p`. Its `index` (what `--shard` partitions without
    /// targets) is `point × cap + r`, `cap` being [`Definition::cap`].
    pub fn run(&self, p: &Point, r: u32) -> Run {
        Run {
            index: p.index * self.cap() as usize + r as usize,
            point: p.clone(),
            replication: r,
            seed: derive_seed(self.base_seed, &p.assignments, r, self.seeds),
        }
    }

    /// The most replications a point can get: `max_replications` with targets, else
    /// `replications`.
    pub fn cap(&self) -> u32 {
        if self.targets.is_empty() {
            self.replications
        } else {
            self.max_replications.unwrap_or(self.replications)
        }
    }

    /// Whether shard `s` owns run `r`: by run without targets, by point with targets
    /// (a point's later replications depend on its earlier ones).
    pub fn owns(&self, s: Option<Shard>, r: &Run) -> bool {
        match s {
            None => true,
            Some(s) if self.targets.is_empty() => s.owns(r.index),
            Some(s) => s.owns(r.point.index),
        }
    }

    /// The metrics to plot: `plot_metrics`, else the defaults.
    pub fn plot_metrics(&self) -> Vec<String> {
        self.plot_metrics
            .clone()
            .unwrap_or_else(default_plot_metrics)
    }

    /// Names of the fields on which `self` and `other` differ (for error messages); the
    /// plot metrics do not count.
    /// The fields in which two definitions differ (empty: the same sweep).
    pub fn differences(&self, other: &Definition) -> Vec<&'static str> {
        let mut d = Vec::new();
        if self.format != other.format {
            d.push("format");
        }
        if self.scenario_name != other.scenario_name {
            d.push("scenario name");
        }
        if self.scenario_hash != other.scenario_hash {
            d.push("scenario file contents");
        }
        if self.base_seed != other.base_seed {
            d.push("scenario seed");
        }
        if self.sets != other.sets {
            d.push("--set overrides");
        }
        if self.vary != other.vary {
            d.push("--vary values");
        }
        if self.replications != other.replications {
            d.push("--replications");
        }
        if self.seeds != other.seeds {
            d.push("--common-seeds");
        }
        if self.targets != other.targets {
            d.push("--target");
        }
        if self.max_replications != other.max_replications {
            d.push("--max-replications");
        }
        if self.outputs != other.outputs {
            d.push("--outputs");
        }
        if self.run_max_events != other.run_max_events {
            d.push("--run-max-events");
        }
        d
    }
}

/// A point of the grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// Position in the grid (run order).
    pub index: usize,
    /// Stable, filesystem-safe id: `p000`, `p001`, ... (at least 3 digits).
    pub id: String,
    /// `(key, value)` for each `--vary`, in flag order.
    pub assignments: Vec<(String, String)>,
}

/// One run: a point and a replication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Position in the global run order (what `--shard` partitions).
    pub index: usize,
    /// The point.
    pub point: Point,
    /// Replication number, from 0.
    pub replication: u32,
    /// The derived `simulation.seed`.
    pub seed: u64,
}

impl Run {
    /// `runs/<point>/rep-<r>` relative to the sweep directory.
    pub fn rel_dir(&self) -> PathBuf {
        Path::new("runs")
            .join(&self.point.id)
            .join(format!("rep-{}", self.replication))
    }

    /// `<point>/rep-<r>`, for messages.
    pub fn label(&self) -> String {
        format!("{}/rep-{}", self.point.id, self.replication)
    }

    /// The `--set` overrides that reproduce this run with `backupsim run` (after the
    /// sweep's own `--set`s).
    pub fn sets(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .point
            .assignments
            .iter()
            .map(|(k, x)| format!("{k}={x}"))
            .collect();
        v.push(format!("simulation.seed={}", self.seed));
        v
    }
}

/// Parses one `--vary KEY=V1,V2,...`.
///
/// Values are separated by commas at the top level; a comma inside double quotes, `[...]`
/// or `{...}` belongs to the value, so TOML strings, arrays and inline tables can be
/// varied (`--vary 'policy.p.schedule={ daily = "22:00" },{ daily = "02:00" }'`).
/// Each value is trimmed and then read exactly as a `--set` value.
pub fn parse_vary(flag: &str) -> Result<Vary> {
    let usage = |m: String| Error::Usage(format!("--vary {flag}: {m}"));
    let Some((key, list)) = flag.split_once('=') else {
        return Err(usage(
            "expected KEY=V1,V2,... (e.g. fleet.web.count=100,200), found no `=`".into(),
        ));
    };
    let key = key.trim();
    if key.is_empty() || key.split('.').any(|p| p.trim().is_empty()) {
        return Err(usage(format!(
            "expected a dotted key such as fleet.web.count before `=`, found \"{key}\""
        )));
    }
    if key == "simulation.seed" {
        return Err(usage("the seed cannot be varied: each run's seed is derived from the scenario seed; use --replications for more seeds".into()));
    }
    let mut values = Vec::new();
    let (mut depth, mut quoted, mut cur) = (0i32, false, String::new());
    for c in list.chars() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                values.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        if depth < 0 {
            return Err(usage(format!("unbalanced `{c}` in the values")));
        }
        cur.push(c);
    }
    if quoted || depth != 0 {
        return Err(usage("unbalanced quote or bracket in the values (commas inside \"...\", [...] and {...} are part of a value)".into()));
    }
    values.push(cur);
    let values: Vec<String> = values.into_iter().map(|v| v.trim().to_string()).collect();
    if let Some(i) = values.iter().position(String::is_empty) {
        return Err(usage(format!(
            "value {} is empty: expected comma-separated values such as 100,200,400",
            i + 1
        )));
    }
    let mut seen = BTreeSet::new();
    for v in &values {
        if !seen.insert(v) {
            return Err(usage(format!("value \"{v}\" is given twice")));
        }
    }
    Ok(Vary {
        key: key.to_string(),
        values,
    })
}

/// Checks the `--vary` flags together: no key varied twice or also `--set`.
pub fn check_varies(vary: &[Vary], sets: &[String]) -> Result<()> {
    let mut keys = BTreeSet::new();
    for v in vary {
        if !keys.insert(v.key.as_str()) {
            return Err(Error::Usage(format!(
                "--vary {}: the key is varied twice; give all its values in one --vary",
                v.key
            )));
        }
    }
    for s in sets {
        let k = s.split_once('=').map_or(s.as_str(), |(k, _)| k).trim();
        if keys.contains(k) {
            return Err(Error::Usage(format!(
                "--set {s}: the key is also varied with --vary; drop one of them"
            )));
        }
    }
    Ok(())
}

/// The Cartesian grid of the `--vary` values: lexicographic, the first flag slowest.
/// No `--vary` gives a single point with no assignments.
pub fn expand(vary: &[Vary]) -> Vec<Point> {
    let count: usize = vary.iter().map(|v| v.values.len()).product();
    let width = (count.saturating_sub(1)).to_string().len().max(3);
    (0..count)
        .map(|index| {
            // Mixed-radix digits of `index`, the last flag being the fastest digit.
            let mut rest = index;
            let mut assignments = vec![(String::new(), String::new()); vary.len()];
            for (i, v) in vary.iter().enumerate().rev() {
                let n = v.values.len();
                assignments[i] = (v.key.clone(), v.values[rest % n].clone());
                rest /= n;
            }
            Point {
                index,
                id: format!("p{index:0width$}"),
                assignments,
            }
        })
        .collect()
}

/// The seed of one run: a hash of the scenario seed, the point's `key=value` assignments
/// (not its index, so adding a value to a `--vary` list does not reseed the other points)
/// and the replication. Kept within 63 bits because TOML integers are signed.
pub fn derive_seed(
    base: u64,
    assignments: &[(String, String)],
    replication: u32,
    mode: SeedMode,
) -> u64 {
    let mut parts = vec![name_key("backupsim.sweep")];
    if mode == SeedMode::PerPoint {
        parts.push(assignments.len() as u64);
        for (k, v) in assignments {
            parts.push(name_key(k));
            parts.push(name_key(v));
        }
    }
    parts.push(replication as u64);
    stream_key(base, &parts) & (i64::MAX as u64)
}

/// [`DEFAULT_PLOT_METRICS`] as strings.
pub fn default_plot_metrics() -> Vec<String> {
    DEFAULT_PLOT_METRICS.iter().map(|m| m.to_string()).collect()
}

/// The number of runs of a grid (points × replications), refused beyond
/// [`crate::scenario::memory::MAX_SWEEP_RUNS`] with a message naming `what` defined it.
pub fn grid_runs(vary: &[Vary], replications: u32, what: &str) -> Result<u64> {
    let points = vary
        .iter()
        .try_fold(1u128, |n, v| n.checked_mul(v.values.len() as u128));
    let runs = points.and_then(|p| p.checked_mul(replications as u128));
    match runs {
        Some(n) if n <= crate::scenario::memory::MAX_SWEEP_RUNS as u128 => Ok(n as u64),
        _ => Err(Error::Usage(format!(
            "{what}: {} point(s) × {replications} replication(s) = {} runs: expected at most {} runs in a sweep (each writes a results directory); use fewer --replications or --vary values, or split the study into several sweeps; nothing was written",
            points.map_or("too many".to_string(), |p| p.to_string()),
            runs.map_or("too many".to_string(), |r| r.to_string()),
            crate::scenario::memory::MAX_SWEEP_RUNS
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(key: &str, vals: &[&str]) -> Vary {
        Vary {
            key: key.into(),
            values: vals.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn vary_parsing() {
        assert_eq!(
            parse_vary("fleet.web.count=10, 20,40").unwrap(),
            v("fleet.web.count", &["10", "20", "40"])
        );
        assert_eq!(
            parse_vary("link.l.bandwidth=2 Gbit/s,10 Gbit/s").unwrap(),
            v("link.l.bandwidth", &["2 Gbit/s", "10 Gbit/s"])
        );
        assert_eq!(
            parse_vary(
                r#"policy.p.schedule={ daily = "22:00" },{ weekly = ["sat","sun"], at = "02:00" }"#
            )
            .unwrap()
            .values,
            vec![
                r#"{ daily = "22:00" }"#,
                r#"{ weekly = ["sat","sun"], at = "02:00" }"#
            ]
        );
        assert_eq!(
            parse_vary(r#"x.y="a,b",c"#).unwrap().values,
            vec![r#""a,b""#, "c"]
        );
        for bad in [
            "fleet.web.count",
            "=1,2",
            "a..b=1",
            "a=1,,2",
            "a=1,",
            "a=1,1",
            "a={1,2",
            "a=]",
            "a=\"x",
            "simulation.seed=1,2",
        ] {
            let e = parse_vary(bad).unwrap_err();
            assert!(matches!(e, Error::Usage(_)), "{bad}: {e}");
            assert!(e.to_string().starts_with(&format!("--vary {bad}")), "{e}");
        }
    }

    #[test]
    fn vary_conflicts() {
        let a = v("a.b", &["1"]);
        assert!(check_varies(&[a.clone(), a.clone()], &[]).is_err());
        assert!(check_varies(std::slice::from_ref(&a), &["a.b=3".into()]).is_err());
        assert!(check_varies(&[a], &["a.c=3".into()]).is_ok());
    }

    #[test]
    fn grid_is_lexicographic_first_flag_slowest() {
        let g = expand(&[v("a", &["1", "2"]), v("b", &["x", "y", "z"])]);
        let got: Vec<String> = g
            .iter()
            .map(|p| format!("{}:{}{}", p.id, p.assignments[0].1, p.assignments[1].1))
            .collect();
        assert_eq!(
            got,
            ["p000:1x", "p001:1y", "p002:1z", "p003:2x", "p004:2y", "p005:2z"]
        );
        let one = expand(&[]);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].id, "p000");
        assert!(one[0].assignments.is_empty());
        let wide = expand(&[v(
            "a",
            &(0..1001)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )]);
        assert_eq!(wide[0].id, "p0000");
        assert_eq!(wide[1000].id, "p1000");
    }

    #[test]
    fn seeds_are_stable_and_distinct() {
        let a = vec![("fleet.web.count".to_string(), "100".to_string())];
        let b = vec![("fleet.web.count".to_string(), "200".to_string())];
        let s = |x: &[(String, String)], r, m| derive_seed(42, x, r, m);
        // Pinned: changing the derivation changes every published sweep's seeds (this one
        // is p000/rep-0 of `sweep scenarios/quickstart.toml --vary fleet.web.count=100,200
        // --vary 'link.je-storage.bandwidth=2 Gbit/s,10 Gbit/s'`).
        let q = vec![
            ("fleet.web.count".to_string(), "100".to_string()),
            (
                "link.je-storage.bandwidth".to_string(),
                "2 Gbit/s".to_string(),
            ),
        ];
        assert_eq!(
            derive_seed(42, &q, 0, SeedMode::PerPoint),
            5725959307958329455
        );
        assert_eq!(
            s(&a, 0, SeedMode::PerPoint),
            derive_seed(42, &a, 0, SeedMode::PerPoint)
        );
        let pinned = derive_seed(42, &[], 0, SeedMode::PerPoint);
        assert_eq!(
            pinned,
            stream_key(42, &[name_key("backupsim.sweep"), 0, 0]) & (i64::MAX as u64)
        );
        assert_ne!(s(&a, 0, SeedMode::PerPoint), s(&a, 1, SeedMode::PerPoint));
        assert_ne!(s(&a, 0, SeedMode::PerPoint), s(&b, 0, SeedMode::PerPoint));
        assert_ne!(
            s(&a, 0, SeedMode::PerPoint),
            derive_seed(43, &a, 0, SeedMode::PerPoint)
        );
        assert_eq!(s(&a, 2, SeedMode::Common), s(&b, 2, SeedMode::Common));
        assert_ne!(s(&a, 1, SeedMode::Common), s(&a, 2, SeedMode::Common));
        for r in 0..100 {
            assert!(s(&a, r, SeedMode::PerPoint) <= i64::MAX as u64);
        }
        // Adding a value to a --vary list leaves the other points' seeds alone.
        let d1 = Definition {
            format: FORMAT,
            scenario_name: "x".into(),
            scenario_hash: "0".into(),
            base_seed: 7,
            sets: vec![],
            vary: vec![v("k", &["1", "2"])],
            replications: 2,
            seeds: SeedMode::PerPoint,
            plot_metrics: None,
            targets: vec![],
            max_replications: None,
            baseline: None,
            outputs: None,
            run_max_events: None,
        };
        let mut d2 = d1.clone();
        d2.vary = vec![v("k", &["0", "1", "2"])];
        let seeds = |d: &Definition| {
            d.runs()
                .into_iter()
                .map(|r| (r.point.assignments.clone(), r.replication, r.seed))
                .collect::<BTreeSet<_>>()
        };
        assert!(seeds(&d1).is_subset(&seeds(&d2)));
    }
}

//! Adaptive replications (`--target METRIC=HALFWIDTH`): how many replications each point
//! needs, decided from its runs on disk alone.
//!
//! The stopping rule: a point has `replications` runs to start with; after each further
//! replication, it stops at the first count `n` at which every target's 95% half-width
//! (Student t over the `n` replications, as in `sweep.csv`) is within the target relative
//! to the mean, or at the cap. `n` depends only on the values of the point's runs `0..n`,
//! hence only on the scenario and the seeds: not on threads, shards or interruptions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

use super::*;

/// One `--target METRIC=HALFWIDTH`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// A metric of `summary.json` (`backup.duration.p99`).
    pub metric: String,
    /// The largest acceptable half-width of the 95% interval, relative to the mean
    /// (0.02 for `2%`).
    pub rel_halfwidth: f64,
}

/// Parses `--target METRIC=HALFWIDTH`, the half-width relative: `2%` or `0.02`.
pub fn parse_target(flag: &str) -> Result<Target> {
    let usage = |m: String| Error::Usage(format!("--target {flag}: {m}"));
    let Some((metric, hw)) = flag.rsplit_once('=') else {
        return Err(usage(
            "expected METRIC=HALFWIDTH (e.g. backup.duration.p99=2%), found no `=`".into(),
        ));
    };
    let metric = metric.trim();
    if metric.is_empty() {
        return Err(usage("expected a metric name before `=`".into()));
    }
    let hw = hw.trim();
    let (num, scale) = match hw.strip_suffix('%') {
        Some(n) => (n.trim(), 0.01),
        None => (hw, 1.0),
    };
    let v: f64 = num.parse().map_err(|_| {
        usage(format!(
            "expected a relative half-width such as 2% or 0.02 after `=`, found \"{hw}\""
        ))
    })?;
    let v = v * scale;
    if !v.is_finite() || v <= 0.0 {
        return Err(usage(format!(
            "expected a half-width above 0 (such as 2% or 0.02), found \"{hw}\": no number of replications reaches it"
        )));
    }
    Ok(Target {
        metric: metric.to_string(),
        rel_halfwidth: v,
    })
}

/// The value of `metric` in a run's summary: a counter the run omits is 0 (zero counters
/// are left out of `summary.json`); a histogram statistic it omits (`.mean`, `.p99`, ...
/// of an empty histogram) is missing.
pub fn target_value(summary: &BTreeMap<String, f64>, metric: &str) -> Option<f64> {
    match summary.get(metric) {
        Some(v) => Some(*v),
        None if metric
            .rsplit_once('.')
            .is_some_and(|(_, st)| HIST_STATS.contains(&st)) =>
        {
            None
        }
        None => Some(0.0),
    }
}

/// The 95% half-width of the mean of `xs` relative to the mean; `None` with fewer than
/// two values. A zero mean gives 0 when the values are all equal, else infinity.
pub fn rel_halfwidth(xs: &[f64]) -> Option<f64> {
    let st = stats(xs)?;
    let (lo, hi) = st.ci95?;
    let half = (hi - lo) / 2.0;
    Some(if half == 0.0 {
        0.0
    } else if st.mean == 0.0 {
        f64::INFINITY
    } else {
        half / st.mean.abs()
    })
}

/// Whether `target` is met by the values `xs` of the replications so far.
pub fn target_met(target: &Target, xs: &[f64]) -> bool {
    rel_halfwidth(xs).is_some_and(|h| h <= target.rel_halfwidth)
}

/// Where a point stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointState {
    /// Complete with this many replications (`0..n`).
    Done(u32),
    /// These replications are needed next (missing ones of the first round, or the next
    /// replication of a point still short of its targets).
    Need(Vec<u32>),
}

/// Reads run summaries once (they never change once a run is complete).
#[derive(Debug, Default)]
pub struct SummaryCache(BTreeMap<PathBuf, BTreeMap<String, f64>>);

impl SummaryCache {
    /// The summary of the complete run directory `dir`.
    pub fn get(&mut self, dir: &Path) -> Result<&BTreeMap<String, f64>> {
        if !self.0.contains_key(dir) {
            let s = crate::outputs::results::read::read_summary(dir)?;
            self.0.insert(dir.to_path_buf(), s);
        }
        Ok(&self.0[dir])
    }
}

/// Where point `p` stands, given `locate`, which finds the directory of a complete run.
pub fn point_state(
    def: &Definition,
    p: &Point,
    locate: &dyn Fn(&Run) -> Option<PathBuf>,
    cache: &mut SummaryCache,
) -> Result<PointState> {
    let cap = def.cap();
    let mut dirs = Vec::new();
    while (dirs.len() as u32) < cap {
        match locate(&def.run(p, dirs.len() as u32)) {
            Some(d) => dirs.push(d),
            None => break,
        }
    }
    let k = dirs.len() as u32;
    if k < def.replications {
        let missing = (k..def.replications)
            .filter(|&r| locate(&def.run(p, r)).is_none())
            .collect();
        return Ok(PointState::Need(missing));
    }
    if def.targets.is_empty() {
        return Ok(PointState::Done(def.replications));
    }
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); def.targets.len()];
    for (i, d) in dirs.iter().enumerate() {
        let s = cache.get(d)?;
        for (t, xs) in def.targets.iter().zip(values.iter_mut()) {
            xs.extend(target_value(s, &t.metric));
        }
        let n = i as u32 + 1;
        if n < def.replications {
            continue;
        }
        if n == cap
            || def
                .targets
                .iter()
                .zip(&values)
                .all(|(t, xs)| target_met(t, xs))
        {
            return Ok(PointState::Done(n));
        }
    }
    Ok(PointState::Need(vec![k]))
}

/// The runs of every point of a sweep directory whose runs are all complete, in run
/// order (point-major), or the labels of the runs still needed.
pub fn complete_runs(
    def: &Definition,
    locate: &dyn Fn(&Run) -> Option<PathBuf>,
) -> Result<std::result::Result<Vec<Run>, Vec<String>>> {
    let mut cache = SummaryCache::default();
    let mut runs = Vec::new();
    let mut missing = Vec::new();
    for p in def.points() {
        match point_state(def, &p, locate, &mut cache)? {
            PointState::Done(n) => runs.extend((0..n).map(|r| def.run(&p, r))),
            PointState::Need(v) => missing.extend(v.iter().map(|&r| def.run(&p, r).label())),
        }
    }
    Ok(if missing.is_empty() {
        Ok(runs)
    } else {
        Err(missing)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_parsing() {
        let t = parse_target("backup.duration.p99=2%").unwrap();
        assert_eq!(t.metric, "backup.duration.p99");
        assert!((t.rel_halfwidth - 0.02).abs() < 1e-15);
        assert_eq!(parse_target("a.b = 0.05").unwrap().rel_halfwidth, 0.05);
        for bad in [
            "a.b", "=2%", "a.b=0", "a.b=0%", "a.b=-1%", "a.b=x", "a.b=", "a.b=inf",
        ] {
            let e = parse_target(bad).unwrap_err();
            assert!(matches!(e, Error::Usage(_)), "{bad}: {e}");
            assert!(e.to_string().starts_with(&format!("--target {bad}")), "{e}");
        }
    }

    #[test]
    fn half_widths() {
        assert_eq!(rel_halfwidth(&[1.0]), None);
        assert_eq!(rel_halfwidth(&[2.0, 2.0]), Some(0.0));
        assert_eq!(rel_halfwidth(&[-1.0, 1.0]), Some(f64::INFINITY));
        let h = rel_halfwidth(&[9.0, 11.0]).unwrap();
        assert!((h - 12.706204736174705 * 1.0 / 10.0).abs() < 1e-12, "{h}");
        let mut s = BTreeMap::new();
        s.insert("x.count".to_string(), 3.0);
        assert_eq!(target_value(&s, "x.count"), Some(3.0));
        assert_eq!(target_value(&s, "backup.failures.X"), Some(0.0));
        assert_eq!(target_value(&s, "backup.duration.p99"), None);
    }
}

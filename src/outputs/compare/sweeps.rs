//! Comparing two sweeps point by point: each metric's mean in both, and the 95% confidence
//! interval of the difference (paired when both sweeps ran each replication with the same
//! seed, as `--common-seeds` sweeps of one scenario do; Welch's otherwise).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::metrics::{judge, moved};
use super::{human_value, write_table, Verdict};
use crate::model::metric_names::{direction, scales_with_workload, Direction};
use crate::outputs::sweeps::{stats, t975, RunRow};

/// One metric of one point that moved.
#[derive(Debug, Clone, PartialEq)]
pub struct PointChange {
    /// The point's id.
    pub point: String,
    /// The metric.
    pub metric: String,
    /// Mean over the base sweep's replications.
    pub base: f64,
    /// Mean over the new sweep's replications.
    pub new: f64,
    /// 95% confidence interval of `new − base` (`None` with a single replication).
    pub ci95: Option<(f64, f64)>,
    /// Whether the interval is paired (same seeds on both sides).
    pub paired: bool,
    /// The judgement.
    pub verdict: Verdict,
}

/// Result of [`compare_sweeps`].
#[derive(Debug, Clone, PartialEq)]
pub struct SweepComparison {
    /// Tolerance used, in percent.
    pub tolerance_pct: f64,
    /// The moved metrics, by point then metric.
    pub rows: Vec<PointChange>,
    /// Points only in the base sweep, and only in the new one.
    pub only_base: Vec<String>,
    /// Points only in the new sweep.
    pub only_new: Vec<String>,
}

impl SweepComparison {
    /// True when a metric with a direction moved the worse way, significantly.
    pub fn has_regression(&self) -> bool {
        self.rows.iter().any(|r| r.verdict == Verdict::Regression)
    }

    fn count(&self, v: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == v).count()
    }

    /// The closing line.
    pub fn totals(&self) -> String {
        let mut s = format!(
            "{} worse, {} better, {} neutral, {} not significant beyond ±{}% (95% CI of the difference)",
            self.count(Verdict::Regression),
            self.count(Verdict::Improvement),
            self.count(Verdict::Neutral),
            self.count(Verdict::NotSignificant),
            crate::units::fmt_value(self.tolerance_pct)
        );
        if !self.only_base.is_empty() {
            s.push_str(&format!("; only in base: {}", self.only_base.join(", ")));
        }
        if !self.only_new.is_empty() {
            s.push_str(&format!("; only in new: {}", self.only_new.join(", ")));
        }
        s
    }

    fn cells(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| {
                let ci = r.ci95.map_or("-".into(), |(lo, hi)| {
                    format!(
                        "[{}, {}]{}",
                        signed_human(&r.metric, lo),
                        signed_human(&r.metric, hi),
                        if r.paired { " paired" } else { "" }
                    )
                });
                vec![
                    r.point.clone(),
                    r.metric.clone(),
                    human_value(&r.metric, r.base),
                    human_value(&r.metric, r.new),
                    ci,
                    r.verdict.to_string(),
                ]
            })
            .collect()
    }

    /// As Markdown.
    pub fn to_markdown(&self) -> String {
        let mut s = String::from(
            "| point | metric | base mean | new mean | 95% CI of new − base | verdict |\n|:--|:--|--:|--:|--:|:--|\n",
        );
        for c in self.cells() {
            s.push_str(&format!("| {} |\n", c.join(" | ").replace("\n", " ")));
        }
        s.push('\n');
        s.push_str(&self.totals());
        s.push('\n');
        s
    }

    /// As JSON: values in base units.
    pub fn to_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "point": r.point, "metric": r.metric,
                    "base_mean": r.base, "new_mean": r.new,
                    "base_text": human_value(&r.metric, r.base),
                    "new_text": human_value(&r.metric, r.new),
                    "ci95": r.ci95.map(|(lo, hi)| [lo, hi]),
                    "paired": r.paired, "verdict": r.verdict.word(),
                })
            })
            .collect();
        serde_json::json!({
            "tolerance_pct": self.tolerance_pct,
            "only_base": self.only_base, "only_new": self.only_new,
            "metrics": rows,
        })
    }
}

impl fmt::Display for SweepComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.rows.is_empty() {
            write_table(
                f,
                &[
                    "point",
                    "metric",
                    "base mean",
                    "new mean",
                    "95% CI of new − base",
                    "verdict",
                ],
                &self.cells(),
                &[1, 5],
            )?;
        }
        writeln!(f, "{}", self.totals())
    }
}

/// A difference in the metric's unit, with its sign (`-2.5 min`, `+1.2 TB`).
fn signed_human(metric: &str, v: f64) -> String {
    if v < 0.0 {
        format!("-{}", human_value(metric, -v))
    } else {
        human_value(metric, v)
    }
}

/// Runs of one point, by replication.
type ByPoint<'a> = BTreeMap<&'a str, Vec<&'a RunRow>>;

fn by_point(runs: &[RunRow]) -> ByPoint<'_> {
    let mut m: ByPoint = BTreeMap::new();
    for r in runs {
        m.entry(r.point.as_str()).or_default().push(r);
    }
    for v in m.values_mut() {
        v.sort_by_key(|r| r.replication);
    }
    m
}

/// Compares two sweeps point by point (points matched by id). A metric is listed when its
/// mean moved beyond `tolerance_pct`; it is judged by its direction only when the 95%
/// confidence interval of the difference excludes 0 (with one replication per side, no
/// interval exists and the move itself is judged, as for two runs). Counts that follow a
/// changed workload are neutral, as in [`super::compare`].
pub fn compare_sweeps(base: &[RunRow], new: &[RunRow], tolerance_pct: f64) -> SweepComparison {
    let (b, n) = (by_point(base), by_point(new));
    let mut rows = Vec::new();
    for (point, bruns) in &b {
        let Some(nruns) = n.get(point) else { continue };
        let paired =
            bruns.len() == nruns.len() && bruns.iter().zip(nruns).all(|(x, y)| x.seed == y.seed);
        let metrics: BTreeSet<&String> = bruns[0].values.keys().collect();
        let mean_of = |runs: &[&RunRow], m: &str| {
            let xs: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.values.get(m).copied())
                .collect();
            stats(&xs).map(|s| s.mean)
        };
        let workload = ["backup.jobs.total", "restore.jobs.total"].iter().any(|m| {
            matches!((mean_of(bruns, m), mean_of(nruns, m)), (Some(x), Some(y)) if moved(x, y, tolerance_pct))
        });
        for m in metrics {
            let (Some(bm), Some(nm)) = (mean_of(bruns, m), mean_of(nruns, m)) else {
                continue;
            };
            if !bm.is_finite() || !nm.is_finite() || !moved(bm, nm, tolerance_pct) {
                continue;
            }
            let ci95 = difference_ci(bruns, nruns, m, paired);
            let dir = if workload && scales_with_workload(m) {
                Direction::Neutral
            } else {
                direction(m)
            };
            let verdict = match ci95 {
                Some((lo, hi)) if lo <= 0.0 && hi >= 0.0 && dir != Direction::Neutral => {
                    Verdict::NotSignificant
                }
                _ => judge(dir, bm, nm),
            };
            rows.push(PointChange {
                point: point.to_string(),
                metric: m.clone(),
                base: bm,
                new: nm,
                ci95,
                paired,
                verdict,
            });
        }
    }
    let only = |x: &ByPoint, y: &ByPoint| -> Vec<String> {
        x.keys()
            .filter(|k| !y.contains_key(*k))
            .map(|k| k.to_string())
            .collect()
    };
    SweepComparison {
        tolerance_pct,
        rows,
        only_base: only(&b, &n),
        only_new: only(&n, &b),
    }
}

/// The 95% CI of `mean(new) − mean(base)`: over per-replication differences when paired,
/// else Welch's interval (degrees of freedom rounded down, so the interval is never too
/// narrow). `None` when a side has fewer than 2 values.
fn difference_ci(base: &[&RunRow], new: &[&RunRow], m: &str, paired: bool) -> Option<(f64, f64)> {
    let vals = |runs: &[&RunRow]| -> Vec<f64> {
        runs.iter()
            .filter_map(|r| r.values.get(m).copied())
            .collect()
    };
    let (xs, ys) = (vals(base), vals(new));
    if paired && xs.len() == ys.len() {
        let d: Vec<f64> = xs.iter().zip(&ys).map(|(x, y)| y - x).collect();
        return stats(&d)?.ci95;
    }
    let (sx, sy) = (stats(&xs)?, stats(&ys)?);
    let (vx, vy) = (sx.sd? * sx.sd? / sx.n as f64, sy.sd? * sy.sd? / sy.n as f64);
    let diff = sy.mean - sx.mean;
    let se2 = vx + vy;
    if se2 == 0.0 {
        return Some((diff, diff));
    }
    let df = se2 * se2 / (vx * vx / (sx.n - 1) as f64 + vy * vy / (sy.n - 1) as f64);
    let half = t975((df.floor() as u64).max(1)) * se2.sqrt();
    Some((diff - half, diff + half))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(point: &str, rep: u32, seed: u64, kv: &[(&str, f64)]) -> RunRow {
        RunRow {
            point: point.into(),
            replication: rep,
            seed,
            assignments: vec![],
            values: kv.iter().map(|&(k, v)| (k.to_string(), v)).collect(),
        }
    }

    /// Paired differences of 10, 11, 12 (mean 11, sd 1): CI 11 ± t(0.975, 2)/√3 =
    /// 11 ± 2.4841, clear of 0, so a longer p99 is worse. Unpaired, the base spread
    /// (100, 200, 300) swamps it.
    #[test]
    fn paired_ci_of_the_difference_is_hand_computed() {
        let m = "backup.duration.p99";
        let base: Vec<RunRow> = [100.0, 200.0, 300.0]
            .iter()
            .enumerate()
            .map(|(i, &v)| run("p000", i as u32, i as u64, &[(m, v)]))
            .collect();
        let new: Vec<RunRow> = [110.0, 211.0, 312.0]
            .iter()
            .enumerate()
            .map(|(i, &v)| run("p000", i as u32, i as u64, &[(m, v)]))
            .collect();
        let c = compare_sweeps(&base, &new, 1.0);
        assert_eq!(c.rows.len(), 1);
        let r = &c.rows[0];
        assert!(r.paired);
        let (lo, hi) = r.ci95.unwrap();
        let half = 4.302_652_729_749_464 / 3f64.sqrt();
        assert!((lo - (11.0 - half)).abs() < 1e-9 && (hi - (11.0 + half)).abs() < 1e-9);
        assert_eq!(r.verdict, Verdict::Regression);

        let unpaired: Vec<RunRow> = new
            .iter()
            .map(|r| RunRow {
                seed: r.seed + 100,
                ..r.clone()
            })
            .collect();
        let c = compare_sweeps(&base, &unpaired, 1.0);
        assert!(!c.rows[0].paired);
        assert_eq!(c.rows[0].verdict, Verdict::NotSignificant);
        assert!(!c.has_regression());
    }

    #[test]
    fn points_on_one_side_only_are_named() {
        let base = [run("p000", 0, 1, &[("rpo.p99", 1.0)])];
        let new = [run("p001", 0, 1, &[("rpo.p99", 1.0)])];
        let c = compare_sweeps(&base, &new, 1.0);
        assert_eq!(c.only_base, ["p000"]);
        assert_eq!(c.only_new, ["p001"]);
        assert!(c.rows.is_empty());
    }
}

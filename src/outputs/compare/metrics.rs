//! Comparing two runs' metrics: what moved beyond a tolerance, and whether it moved the
//! better or the worse way.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{human_value, write_table, ZERO_EPSILON};
use crate::model::metric_names::scales_with_workload;
pub use crate::model::metric_names::{direction, Direction};

/// How a change is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The metric moved the worse way (by its [`direction`]).
    Regression,
    /// The metric moved the better way.
    Improvement,
    /// Informational: no better direction, or a count that follows a changed workload.
    Neutral,
    /// Only the new run has the metric (a new fleet, a failure code seen for the first time).
    Appeared,
    /// Only the base run has the metric.
    Vanished,
    /// Sweeps: the mean moved beyond the tolerance, but the 95% confidence interval of the
    /// difference contains 0.
    NotSignificant,
}

impl Verdict {
    /// The verdict as a person reads it.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Regression => "worse",
            Verdict::Improvement => "better",
            Verdict::Neutral => "neutral",
            Verdict::Appeared => "appeared",
            Verdict::Vanished => "vanished",
            Verdict::NotSignificant => "not significant",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// One changed metric of a [`Comparison`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    /// Metric name.
    pub metric: String,
    /// Value in the base run (`None`: the metric appeared).
    pub base: Option<f64>,
    /// Value in the new run (`None`: the metric vanished).
    pub new: Option<f64>,
    /// Relative change in percent of |base|; `None` when undefined (appeared,
    /// vanished, base 0, or a NaN involved).
    pub change_pct: Option<f64>,
    /// Judgement of the change.
    pub verdict: Verdict,
}

impl ChangeRow {
    /// The change column as text: `+12.30%`, `appeared`, `vanished`,
    /// `from 0`, or `NaN`.
    pub fn change_text(&self) -> String {
        match (self.base, self.new, self.change_pct) {
            (None, _, _) => "appeared".into(),
            (_, None, _) => "vanished".into(),
            (_, _, Some(p)) => format!("{p:+.2}%"),
            (Some(b), Some(n), None) if b == 0.0 && !n.is_nan() => "from 0".into(),
            _ => "NaN".into(),
        }
    }

    /// The base value in the metric's unit (`-` when absent).
    pub fn base_text(&self) -> String {
        self.base
            .map_or("-".into(), |v| human_value(&self.metric, v))
    }

    /// The new value in the metric's unit (`-` when absent).
    pub fn new_text(&self) -> String {
        self.new
            .map_or("-".into(), |v| human_value(&self.metric, v))
    }
}

/// Result of [`compare`]: the changed metrics, sorted by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Tolerance used, in percent.
    pub tolerance_pct: f64,
    /// Whether the number of jobs differs beyond the tolerance: counts that follow the
    /// workload (jobs, attempts, failures by code, …) are then neutral, and the rates
    /// carry the judgement.
    pub workload_changed: bool,
    /// One row per changed, appeared or vanished metric.
    pub rows: Vec<ChangeRow>,
}

impl Comparison {
    /// True when any row is a regression.
    pub fn has_regression(&self) -> bool {
        self.rows.iter().any(|r| r.verdict == Verdict::Regression)
    }

    /// Number of rows with the given verdict.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == verdict).count()
    }

    fn cells(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| {
                vec![
                    r.metric.clone(),
                    r.base_text(),
                    r.new_text(),
                    r.change_text(),
                    r.verdict.to_string(),
                ]
            })
            .collect()
    }

    /// The closing line: how many metrics moved which way.
    pub fn totals(&self) -> String {
        let mut s = format!(
            "{} worse, {} better, {} neutral beyond ±{}%",
            self.count(Verdict::Regression),
            self.count(Verdict::Improvement),
            self.count(Verdict::Neutral),
            crate::units::fmt_value(self.tolerance_pct)
        );
        for v in [Verdict::Appeared, Verdict::Vanished] {
            if self.count(v) > 0 {
                s.push_str(&format!("; {} {}", self.count(v), v.word()));
            }
        }
        if self.workload_changed {
            s.push_str(
                "; the number of jobs changed, so counts that follow it are neutral (rates carry the verdict)",
            );
        }
        s
    }

    /// The comparison as a GitHub Markdown table (numbers right-aligned,
    /// regressions in bold), followed by a totals line.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        if self.rows.is_empty() {
            s.push_str(&format!(
                "No metric changed by more than ±{}%.\n",
                crate::units::fmt_value(self.tolerance_pct)
            ));
            return s;
        }
        s.push_str("| metric | base | new | change % | verdict |\n");
        s.push_str("|:-------|-----:|----:|---------:|:--------|\n");
        for (row, cells) in self.rows.iter().zip(self.cells()) {
            let esc = |c: &str| c.replace('|', "\\|");
            let verdict = if row.verdict == Verdict::Regression {
                format!("**{}**", cells[4])
            } else {
                cells[4].clone()
            };
            s.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                esc(&cells[0]),
                esc(&cells[1]),
                esc(&cells[2]),
                esc(&cells[3]),
                verdict
            ));
        }
        s.push('\n');
        s.push_str(&self.totals());
        s.push('\n');
        s
    }

    /// The comparison as JSON: the tolerance and one object per row, values in base
    /// units (seconds, bytes) with their text in human units.
    pub fn to_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "metric": r.metric,
                    "base": r.base.filter(|v| v.is_finite()),
                    "new": r.new.filter(|v| v.is_finite()),
                    "base_text": r.base_text(),
                    "new_text": r.new_text(),
                    "change_pct": r.change_pct,
                    "verdict": r.verdict.word(),
                })
            })
            .collect();
        serde_json::json!({
            "tolerance_pct": self.tolerance_pct,
            "workload_changed": self.workload_changed,
            "worse": self.count(Verdict::Regression),
            "better": self.count(Verdict::Improvement),
            "neutral": self.count(Verdict::Neutral),
            "appeared": self.count(Verdict::Appeared),
            "vanished": self.count(Verdict::Vanished),
            "metrics": rows,
        })
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rows.is_empty() {
            return writeln!(
                f,
                "no metric changed by more than ±{}%",
                crate::units::fmt_value(self.tolerance_pct)
            );
        }
        write_table(
            f,
            &["metric", "base", "new", "change", "verdict"],
            &self.cells(),
            &[4],
        )?;
        writeln!(f, "{}", self.totals())
    }
}

/// Verdict for a move from `base` to `new` of a metric with direction `dir`.
pub(super) fn judge(dir: Direction, base: f64, new: f64) -> Verdict {
    match dir {
        Direction::Neutral => Verdict::Neutral,
        Direction::HigherIsBetter if new > base => Verdict::Improvement,
        Direction::HigherIsBetter => Verdict::Regression,
        Direction::LowerIsBetter if new < base => Verdict::Improvement,
        Direction::LowerIsBetter => Verdict::Regression,
    }
}

/// Whether `x` moved from `a` to `b` by more than `tolerance_pct` percent (from 0: by more
/// than [`ZERO_EPSILON`]).
pub(super) fn moved(a: f64, b: f64, tolerance_pct: f64) -> bool {
    if a == 0.0 {
        (b - a).abs() > ZERO_EPSILON
    } else {
        ((b - a) / a.abs() * 100.0).abs() > tolerance_pct
    }
}

/// Compares two summaries.
///
/// A metric present in both is listed when its relative change
/// `|new - base| / |base|` exceeds `tolerance_pct` percent; when `base` is 0
/// the relative change is undefined and the metric is listed when
/// `|new| > ZERO_EPSILON`. Its verdict follows [`direction`], except that when the number
/// of backup or restore jobs itself moved beyond the tolerance (a what-if with more VMs, a
/// longer run), counts that follow the workload ([`scales_with_workload`]) are neutral:
/// their rates say whether the service did better.
///
/// A metric only in one run is listed as *appeared* or *vanished*, never as a regression: a
/// new fleet's metrics or a failure code seen for the first time are facts of the what-if,
/// and the rates judge them. A value that becomes NaN is a regression; one that stops being
/// NaN is judged as from 0.
pub fn compare(
    base: &BTreeMap<String, f64>,
    new: &BTreeMap<String, f64>,
    tolerance_pct: f64,
) -> Comparison {
    let workload_changed = ["backup.jobs.total", "restore.jobs.total"].iter().any(|m| {
        match (base.get(*m), new.get(*m)) {
            (Some(&a), Some(&b)) => moved(a, b, tolerance_pct),
            _ => false,
        }
    });
    let names: BTreeSet<&String> = base.keys().chain(new.keys()).collect();
    let mut rows = Vec::new();
    for name in names {
        let dir = if workload_changed && scales_with_workload(name) {
            Direction::Neutral
        } else {
            direction(name)
        };
        let b = base.get(name).copied();
        let n = new.get(name).copied();
        let (change_pct, verdict) = match (b, n) {
            (Some(b), Some(n)) => {
                if b.is_nan() && n.is_nan() {
                    continue;
                } else if n.is_nan() {
                    (None, Verdict::Regression)
                } else if b.is_nan() {
                    (None, judge(dir, 0.0, n))
                } else if !moved(b, n, tolerance_pct) {
                    continue;
                } else if b == 0.0 {
                    (None, judge(dir, b, n))
                } else {
                    (Some((n - b) / b.abs() * 100.0), judge(dir, b, n))
                }
            }
            (None, Some(_)) => (None, Verdict::Appeared),
            (Some(_), None) => (None, Verdict::Vanished),
            (None, None) => unreachable!("name comes from one of the maps"),
        };
        rows.push(ChangeRow {
            metric: name.clone(),
            base: b,
            new: n,
            change_pct,
            verdict,
        });
    }
    Comparison {
        tolerance_pct,
        workload_changed,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, f64)]) -> BTreeMap<String, f64> {
        kv.iter().map(|&(k, v)| (k.to_string(), v)).collect()
    }

    #[test]
    fn direction_rule() {
        use Direction::*;
        for m in [
            "backup.success_rate",
            "restore.success_rate",
            "backup.jobs.succeeded",
            "restore.jobs.succeeded",
            "backup.consistency.application",
        ] {
            assert_eq!(direction(m), HigherIsBetter, "{m}");
        }
        for m in [
            "backup.jobs.total",
            "restore.jobs.total",
            "link.wan.bytes",
            "link.wan.mean_flows",
            "backup.bytes.full",
            "restore.bytes",
            "vault.eu.stored_bytes.end",
            "vault.eu.stored_bytes.max",
            "vault.eu.recovery_points.end",
            "link.wan.utilization.mean",
            "backup.consistency.file_system",
        ] {
            assert_eq!(direction(m), Neutral, "{m}");
        }
        for m in [
            "backup.duration.p99",
            "backup.phase.queue.mean",
            "backup.jobs.failed",
            "backup.jobs.unsupported",
            "backup.failures.SnapshotTimeout",
            "restore.jobs.rejected",
            "restore.rejected.NoRecoveryPoint",
            "backup.window.miss_rate",
            "rpo.p99",
            "vault.eu.geo_lag.p99",
            "unsupported.EncryptedDisk",
            "backup.consistency.crash",
        ] {
            assert_eq!(direction(m), LowerIsBetter, "{m}");
        }
    }

    #[test]
    fn compare_tolerance_and_verdicts() {
        let base = map(&[
            ("backup.duration.p99", 100.0),
            ("backup.success_rate", 0.90),
            ("backup.jobs.total", 1000.0),
            ("rpo.max", 50.0),
            ("restore.duration.mean", 10.0),
        ]);
        let new = map(&[
            ("backup.duration.p99", 104.0), // +4% within 5%
            ("backup.success_rate", 0.99),  // +10% better
            ("backup.jobs.total", 2000.0),  // neutral
            ("rpo.max", 60.0),              // +20% worse
            ("restore.duration.mean", 5.0), // -50% better
        ]);
        let c = compare(&base, &new, 5.0);
        let names: Vec<&str> = c.rows.iter().map(|r| r.metric.as_str()).collect();
        assert_eq!(
            names,
            [
                "backup.jobs.total",
                "backup.success_rate",
                "restore.duration.mean",
                "rpo.max"
            ]
        );
        let v: Vec<Verdict> = c.rows.iter().map(|r| r.verdict).collect();
        assert_eq!(
            v,
            [
                Verdict::Neutral,
                Verdict::Improvement,
                Verdict::Improvement,
                Verdict::Regression
            ]
        );
        assert!((c.rows[3].change_pct.unwrap() - 20.0).abs() < 1e-9);
        assert_eq!(c.rows[3].change_text(), "+20.00%");
        assert_eq!(c.rows[2].change_text(), "-50.00%");
        assert!(c.has_regression());

        // Exactly at the tolerance is not a change.
        let c = compare(&map(&[("x", 100.0)]), &map(&[("x", 105.0)]), 5.0);
        assert!(c.rows.is_empty());
        assert!(!c.has_regression());
    }

    #[test]
    fn compare_from_zero() {
        let base = map(&[
            ("backup.failures.Timeout", 0.0),
            ("backup.jobs.succeeded", 0.0),
            ("rpo.mean", 0.0),
        ]);
        let new = map(&[
            ("backup.failures.Timeout", 3.0),
            ("backup.jobs.succeeded", 5.0),
            ("rpo.mean", 1e-12), // within the absolute epsilon
        ]);
        let c = compare(&base, &new, 1.0);
        assert_eq!(c.rows.len(), 2);
        assert_eq!(c.rows[0].metric, "backup.failures.Timeout");
        assert_eq!(c.rows[0].verdict, Verdict::Regression);
        assert_eq!(c.rows[0].change_pct, None);
        assert_eq!(c.rows[0].change_text(), "from 0");
        assert_eq!(c.rows[1].verdict, Verdict::Improvement);
    }

    #[test]
    fn compare_appeared_and_vanished() {
        let base = map(&[
            ("backup.duration.p50", 10.0),
            ("vault.a.stored_bytes.end", 5.0),
        ]);
        let new = map(&[
            ("backup.duration.p50", 10.0),
            ("backup.failures.Quota", 2.0),
            ("vault.b.stored_bytes.end", 7.0),
            ("backup.jobs.succeeded", 9.0),
        ]);
        let c = compare(&base, &new, 5.0);
        let got: Vec<(&str, Verdict, String)> = c
            .rows
            .iter()
            .map(|r| (r.metric.as_str(), r.verdict, r.change_text()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "backup.failures.Quota",
                    Verdict::Appeared,
                    "appeared".into()
                ),
                (
                    "backup.jobs.succeeded",
                    Verdict::Appeared,
                    "appeared".into()
                ),
                (
                    "vault.a.stored_bytes.end",
                    Verdict::Vanished,
                    "vanished".into()
                ),
                (
                    "vault.b.stored_bytes.end",
                    Verdict::Appeared,
                    "appeared".into()
                ),
            ]
        );
        assert!(
            !c.has_regression(),
            "appearing and vanishing is never a regression"
        );
    }

    /// A what-if with twice the VMs doubles every count: counts follow the workload and are
    /// neutral, the rates judge.
    #[test]
    fn compare_what_if_with_more_vms_is_not_a_regression() {
        let base = map(&[
            ("backup.jobs.total", 100.0),
            ("backup.attempts", 100.0),
            ("backup.failures.BackUpOperationFailed", 2.0),
            ("backup.success_rate", 0.98),
        ]);
        let new = map(&[
            ("backup.jobs.total", 200.0),
            ("backup.attempts", 200.0),
            ("backup.failures.BackUpOperationFailed", 4.0),
            ("backup.success_rate", 0.98),
        ]);
        let c = compare(&base, &new, 1.0);
        assert!(c.workload_changed);
        assert_eq!(c.rows.len(), 3);
        assert!(c.rows.iter().all(|r| r.verdict == Verdict::Neutral));
        // The same failure count with the same workload is a regression.
        let same = map(&[
            ("backup.jobs.total", 100.0),
            ("backup.attempts", 100.0),
            ("backup.failures.BackUpOperationFailed", 4.0),
            ("backup.success_rate", 0.98),
        ]);
        let c = compare(&base, &same, 1.0);
        assert!(!c.workload_changed);
        assert_eq!(c.rows[0].verdict, Verdict::Regression);
    }

    #[test]
    fn compare_nan() {
        let c = compare(
            &map(&[("a", f64::NAN), ("b", 1.0), ("c", f64::NAN)]),
            &map(&[("a", f64::NAN), ("b", f64::NAN), ("c", 2.0)]),
            1.0,
        );
        assert_eq!(c.rows.len(), 2);
        assert_eq!(c.rows[0].metric, "b");
        assert_eq!(c.rows[0].verdict, Verdict::Regression);
        assert_eq!(c.rows[1].metric, "c");
        assert_eq!(c.rows[1].verdict, Verdict::Regression); // lower is better, 0 -> 2
    }

    #[test]
    fn neutral_never_regresses() {
        let c = compare(
            &map(&[("link.x.utilization.max", 0.2), ("link.x.bytes", 10.0)]),
            &map(&[("link.x.utilization.max", 0.9), ("link.x.bytes", 1.0)]),
            1.0,
        );
        assert_eq!(c.rows.len(), 2);
        assert!(!c.has_regression());
    }

    #[test]
    fn comparison_text_and_markdown() {
        let c = compare(
            &map(&[("backup.duration.p99", 100.0), ("backup.success_rate", 0.9)]),
            &map(&[
                ("backup.duration.p99", 150.0),
                ("backup.success_rate", 0.99),
            ]),
            5.0,
        );
        let text = c.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].starts_with("metric"));
        assert!(lines[0].ends_with("verdict"));
        // Right-aligned numeric columns end at the same place.
        let end = |l: &str, w: &str| l.find(w).unwrap() + w.len();
        assert_eq!(end(lines[0], "change"), end(lines[2], "+50.00%"));
        assert_eq!(end(lines[0], "change"), end(lines[3], "+10.00%"));
        // Values in the metric's unit: 150 s reads as minutes.
        assert!(
            lines[2].contains("100 s") && lines[2].contains("2.5 min"),
            "{text}"
        );
        assert!(lines[2].ends_with("worse"));
        assert!(lines[3].ends_with("better"));
        assert_eq!(lines[4], "1 worse, 1 better, 0 neutral beyond ±5%");

        let md = c.to_markdown();
        let expected = "\
| metric | base | new | change % | verdict |
|:-------|-----:|----:|---------:|:--------|
| `backup.duration.p99` | 100 s | 2.5 min | +50.00% | **worse** |
| `backup.success_rate` | 0.9 | 0.99 | +10.00% | better |

1 worse, 1 better, 0 neutral beyond ±5%
";
        assert_eq!(md, expected);
    }

    #[test]
    fn empty_comparison_renders() {
        let c = compare(&map(&[("a", 1.0)]), &map(&[("a", 1.0)]), 5.0);
        assert_eq!(c.to_string(), "no metric changed by more than ±5%\n");
        assert_eq!(c.to_markdown(), "No metric changed by more than ±5%.\n");
    }
}

//! Comparing two results directories, and checking expectations.
//!
//! Both work on the flat metric map of a run's `summary.json` (dotted metric
//! name → number, durations in seconds), read with [`crate::outputs::results::read::read_summary`].
//!
//! * [`check`] tests a list of [`Expectation`]s (bounds on metrics) against
//!   one run and gives a [`CheckReport`], one pass/FAIL row per expectation.
//! * [`compare`] lists the metrics that changed by more than a tolerance
//!   between a base run and a new run, plus metrics that appeared or
//!   vanished, and classifies each change as a regression, an improvement or
//!   neutral with the direction rule of [`direction`].
//!
//! Both reports print as aligned plain-text tables (`Display`);
//! [`Comparison::to_markdown`] also gives a GitHub Markdown table for pull
//! requests. Rows are always sorted by metric name, so output is
//! deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub mod what_if;

use serde::{Deserialize, Serialize};

/// Absolute change below which a metric whose base value is 0 is considered
/// unchanged (relative change from 0 is undefined).
pub const ZERO_EPSILON: f64 = 1e-9;

// ---------------------------------------------------------------------------
// check

/// A bound on one metric, in the metric's own units (seconds for durations,
/// a fraction for rates, a count for counters). Both bounds are inclusive; a
/// bound that is `None` is not checked. With neither bound the expectation
/// only requires the metric to be present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// Dotted metric name as in `summary.json`, e.g. `backup.duration.p99`.
    pub metric: String,
    /// Smallest acceptable value.
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest acceptable value.
    #[serde(default)]
    pub max: Option<f64>,
}

impl Expectation {
    /// The bound as text: `>= min`, `<= max`, `[min, max]` or `present`.
    pub fn bound_text(&self) -> String {
        let v = |x: f64| human_value(&self.metric, x);
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("[{}, {}]", v(lo), v(hi)),
            (Some(lo), None) => format!(">= {}", v(lo)),
            (None, Some(hi)) => format!("<= {}", v(hi)),
            (None, None) => "present".into(),
        }
    }

    /// Whether `value` satisfies the bounds (NaN never does).
    pub fn accepts(&self, value: f64) -> bool {
        !value.is_nan()
            && self.min.map_or(true, |lo| value >= lo)
            && self.max.map_or(true, |hi| value <= hi)
    }
}

/// One row of a [`CheckReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRow {
    /// The metric checked.
    pub metric: String,
    /// The bound, as text (see [`Expectation::bound_text`]).
    pub bound: String,
    /// The metric's value, `None` when the summary lacks it.
    pub value: Option<f64>,
    /// Whether the expectation holds (a missing metric fails).
    pub passed: bool,
}

/// Result of [`check`]: one row per expectation, in the given order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckReport {
    /// The rows.
    pub rows: Vec<CheckRow>,
}

impl CheckReport {
    /// True when every expectation holds (vacuously true with none).
    pub fn passed(&self) -> bool {
        self.rows.iter().all(|r| r.passed)
    }

    /// Number of failed expectations.
    pub fn failures(&self) -> usize {
        self.rows.iter().filter(|r| !r.passed).count()
    }
}

/// A metric's value as a person reads it, in the metric's unit: durations as `18 h` or
/// `2.5 min`, sizes as `79.2 TB`, anything else as a plain number.
pub fn human_value(metric: &str, v: f64) -> String {
    use crate::model::metric_names::{unit, Unit};
    match unit(metric) {
        Unit::Seconds if v.is_finite() && v >= 0.0 => crate::units::fmt_duration(v),
        Unit::Bytes if v.is_finite() && v >= 0.0 => crate::units::fmt_size(v),
        _ => crate::units::fmt_value(v),
    }
}

/// Checks each expectation against `summary`. A metric absent from the
/// summary fails its expectation.
pub fn check(expects: &[Expectation], summary: &BTreeMap<String, f64>) -> CheckReport {
    let rows = expects
        .iter()
        .map(|e| {
            let value = summary.get(&e.metric).copied();
            CheckRow {
                metric: e.metric.clone(),
                bound: e.bound_text(),
                value,
                passed: value.is_some_and(|v| e.accepts(v)),
            }
        })
        .collect();
    CheckReport { rows }
}

/// Writes rows as an aligned text table: the first column left-aligned, the
/// others right-aligned except those listed in `left`.
fn write_table(
    f: &mut fmt::Formatter<'_>,
    header: &[&str],
    rows: &[Vec<String>],
    left: &[usize],
) -> fmt::Result {
    let n = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            let pad = widths[i] - c.chars().count();
            if i == 0 || left.contains(&i) {
                out.push_str(c);
                if i + 1 < n {
                    out.push_str(&" ".repeat(pad));
                }
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(c);
            }
        }
        writeln!(f, "{}", out.trim_end())
    };
    let head: Vec<String> = header.iter().map(|s| s.to_string()).collect();
    line(f, &head)?;
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    line(f, &rule)?;
    for r in rows {
        line(f, r)?;
    }
    Ok(())
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.metric.clone(),
                    r.bound.clone(),
                    r.value
                        .map_or("missing".into(), |v| human_value(&r.metric, v)),
                    if r.passed { "pass" } else { "FAIL" }.into(),
                ]
            })
            .collect();
        write_table(f, &["metric", "bound", "value", "verdict"], &rows, &[1, 3])?;
        writeln!(
            f,
            "{} of {} expectations passed",
            self.rows.len() - self.failures(),
            self.rows.len()
        )
    }
}

// ---------------------------------------------------------------------------
// compare

pub use crate::model::metric_names::{direction, Direction};

/// How a change is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The metric got worse (or vanished).
    Regression,
    /// The metric got better.
    Improvement,
    /// Informational change.
    Neutral,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::Neutral => "neutral",
        })
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
}

/// Result of [`compare`]: the changed metrics, sorted by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Tolerance used, in percent.
    pub tolerance_pct: f64,
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
        let opt = |v: Option<f64>| v.map_or("-".into(), crate::units::fmt_value);
        self.rows
            .iter()
            .map(|r| {
                vec![
                    r.metric.clone(),
                    opt(r.base),
                    opt(r.new),
                    r.change_text(),
                    r.verdict.to_string(),
                ]
            })
            .collect()
    }

    fn totals(&self) -> String {
        format!(
            "{} regression(s), {} improvement(s), {} neutral change(s) beyond ±{}%",
            self.count(Verdict::Regression),
            self.count(Verdict::Improvement),
            self.count(Verdict::Neutral),
            crate::units::fmt_value(self.tolerance_pct)
        )
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
            &["metric", "base", "new", "change %", "verdict"],
            &self.cells(),
            &[4],
        )?;
        writeln!(f, "{}", self.totals())
    }
}

/// Verdict for a move from `base` to `new` of a metric with direction `dir`.
fn judge(dir: Direction, base: f64, new: f64) -> Verdict {
    match dir {
        Direction::Neutral => Verdict::Neutral,
        Direction::HigherIsBetter if new > base => Verdict::Improvement,
        Direction::HigherIsBetter => Verdict::Regression,
        Direction::LowerIsBetter if new < base => Verdict::Improvement,
        Direction::LowerIsBetter => Verdict::Regression,
    }
}

/// Compares two summaries.
///
/// A metric present in both is listed when its relative change
/// `|new - base| / |base|` exceeds `tolerance_pct` percent; when `base` is 0
/// the relative change is undefined and the metric is listed when
/// `|new| > ZERO_EPSILON`. Its verdict follows [`direction`].
///
/// A metric only in `new` is listed as *appeared* and judged as a change from
/// 0 (so e.g. a new `backup.failures.<Code>` is a regression, a new vault's
/// `stored_bytes` is neutral). A metric only in `base` is listed as
/// *vanished* and is always a regression. A value that becomes NaN is a
/// regression; one that stops being NaN is judged as from 0.
pub fn compare(
    base: &BTreeMap<String, f64>,
    new: &BTreeMap<String, f64>,
    tolerance_pct: f64,
) -> Comparison {
    let names: BTreeSet<&String> = base.keys().chain(new.keys()).collect();
    let mut rows = Vec::new();
    for name in names {
        let dir = direction(name);
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
                } else if b == 0.0 {
                    if (n - b).abs() <= ZERO_EPSILON {
                        continue;
                    }
                    (None, judge(dir, b, n))
                } else {
                    let pct = (n - b) / b.abs() * 100.0;
                    if pct.abs() <= tolerance_pct {
                        continue;
                    }
                    (Some(pct), judge(dir, b, n))
                }
            }
            (None, Some(n)) => {
                let v = if n.abs() <= ZERO_EPSILON || n.is_nan() {
                    Verdict::Neutral
                } else {
                    judge(dir, 0.0, n)
                };
                (None, v)
            }
            (Some(_), None) => (None, Verdict::Regression),
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
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, f64)]) -> BTreeMap<String, f64> {
        kv.iter().map(|&(k, v)| (k.to_string(), v)).collect()
    }

    fn exp(metric: &str, min: Option<f64>, max: Option<f64>) -> Expectation {
        Expectation {
            metric: metric.into(),
            min,
            max,
        }
    }

    #[test]
    fn format_value_cases() {
        assert_eq!(crate::units::fmt_value(42.0), "42");
        assert_eq!(crate::units::fmt_value(-7.0), "-7");
        assert_eq!(crate::units::fmt_value(0.0), "0");
        assert_eq!(crate::units::fmt_value(0.95), "0.95");
        assert_eq!(crate::units::fmt_value(2.71234), "2.7123");
        assert_eq!(crate::units::fmt_value(1.5e12), "1500000000000");
        assert_eq!(crate::units::fmt_value(1.25e-5), "1.2500e-5");
        assert_eq!(crate::units::fmt_value(f64::NAN), "NaN");
    }

    #[test]
    fn bound_text_and_accepts() {
        assert_eq!(exp("m", Some(0.9), None).bound_text(), ">= 0.9");
        assert_eq!(exp("m", None, Some(3600.0)).bound_text(), "<= 3600");
        assert_eq!(exp("m", Some(1.0), Some(2.0)).bound_text(), "[1, 2]");
        assert_eq!(exp("m", None, None).bound_text(), "present");
        let e = exp("m", Some(1.0), Some(2.0));
        assert!(e.accepts(1.0) && e.accepts(2.0) && e.accepts(1.5));
        assert!(!e.accepts(0.99) && !e.accepts(2.01) && !e.accepts(f64::NAN));
        assert!(exp("m", None, None).accepts(-1e300));
    }

    #[test]
    fn check_pass_fail_missing() {
        let summary = map(&[
            ("backup.success_rate", 0.97),
            ("backup.duration.p99", 5000.0),
        ]);
        let expects = [
            exp("backup.success_rate", Some(0.95), None),
            exp("backup.duration.p99", None, Some(3600.0)),
            exp("rpo.max", None, Some(86400.0)),
        ];
        let r = check(&expects, &summary);
        assert_eq!(r.rows.len(), 3);
        assert!(r.rows[0].passed);
        assert!(!r.rows[1].passed);
        assert_eq!(r.rows[2].value, None);
        assert!(!r.rows[2].passed);
        assert!(!r.passed());
        assert_eq!(r.failures(), 2);

        let ok = check(&expects[..1], &summary);
        assert!(ok.passed());
        assert!(check(&[], &summary).passed());
    }

    #[test]
    fn human_values_follow_the_metric_unit() {
        assert_eq!(human_value("backup.duration.p99", 55_465.5), "15.4 h");
        assert_eq!(human_value("backup.phase.queue.mean", 150.0), "2.5 min");
        assert_eq!(human_value("vault.v.stored_bytes.end", 79.23e12), "79.2 TB");
        assert_eq!(human_value("backup.success_rate", 0.969), "0.969");
        assert_eq!(human_value("backup.jobs.total", 2115.0), "2115");
    }

    #[test]
    fn check_display_is_aligned() {
        let summary = map(&[("backup.success_rate", 0.97)]);
        let r = check(
            &[
                exp("backup.success_rate", Some(0.95), None),
                exp("rpo.max", None, Some(86400.0)),
            ],
            &summary,
        );
        let text = r.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].starts_with("metric               bound"), "{text}");
        let col = |l: &str, word: &str| l.find(word).unwrap();
        assert_eq!(col(lines[0], "bound"), col(lines[2], ">= 0.95"));
        // Durations in human units: rpo.max's 86 400 s bound reads as 24 h.
        assert_eq!(col(lines[0], "bound"), col(lines[3], "<= 24 h"));
        assert!(lines[2].ends_with("pass"));
        assert!(lines[3].contains("missing") && lines[3].ends_with("FAIL"));
        assert_eq!(lines[4], "1 of 2 expectations passed");
    }

    #[test]
    fn expectation_deserializes() {
        let e: Expectation =
            serde_json::from_str(r#"{"metric": "backup.duration.p99", "max": 3600}"#).unwrap();
        assert_eq!(e, exp("backup.duration.p99", None, Some(3600.0)));
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
                    Verdict::Regression,
                    "appeared".into()
                ),
                (
                    "backup.jobs.succeeded",
                    Verdict::Improvement,
                    "appeared".into()
                ),
                (
                    "vault.a.stored_bytes.end",
                    Verdict::Regression,
                    "vanished".into()
                ),
                (
                    "vault.b.stored_bytes.end",
                    Verdict::Neutral,
                    "appeared".into()
                ),
            ]
        );
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
        assert_eq!(end(lines[0], "change %"), end(lines[2], "+50.00%"));
        assert_eq!(end(lines[0], "change %"), end(lines[3], "+10.00%"));
        assert!(lines[2].ends_with("regression"));
        assert!(lines[3].ends_with("improvement"));
        assert_eq!(
            lines[4],
            "1 regression(s), 1 improvement(s), 0 neutral change(s) beyond ±5%"
        );

        let md = c.to_markdown();
        let expected = "\
| metric | base | new | change % | verdict |
|:-------|-----:|----:|---------:|:--------|
| `backup.duration.p99` | 100 | 150 | +50.00% | **regression** |
| `backup.success_rate` | 0.9 | 0.99 | +10.00% | improvement |

1 regression(s), 1 improvement(s), 0 neutral change(s) beyond ±5%
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

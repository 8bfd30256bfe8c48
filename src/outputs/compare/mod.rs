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
//!   neutral with the direction rule of [`crate::model::metric_names::direction`].
//!
//! Both reports print as aligned plain-text tables (`Display`);
//! [`Comparison::to_markdown`] also gives a GitHub Markdown table for pull
//! requests. Rows are always sorted by metric name, so output is
//! deterministic.

use std::fmt;

mod check;
mod metrics;
mod scenario_diff;
mod sweeps;

pub use check::{check, CheckReport, CheckRow, Expectation};
pub use metrics::{compare, ChangeRow, Comparison, Verdict};
pub use scenario_diff::{scenario_diff, KeyChange};
pub use sweeps::{compare_sweeps, PointChange, SweepComparison};

/// A comparison of two runs or two sweeps in the forms `compare` prints: text
/// (`Display`), Markdown and JSON, and whether it holds a regression.
pub trait Report: fmt::Display {
    /// As one JSON document.
    fn json(&self) -> serde_json::Value;
    /// As GitHub Markdown.
    fn markdown(&self) -> String;
    /// Whether a metric with a direction got worse beyond the tolerance.
    fn regressed(&self) -> bool;
}

impl Report for Comparison {
    fn json(&self) -> serde_json::Value {
        self.to_json()
    }
    fn markdown(&self) -> String {
        self.to_markdown()
    }
    fn regressed(&self) -> bool {
        self.has_regression()
    }
}

impl Report for SweepComparison {
    fn json(&self) -> serde_json::Value {
        self.to_json()
    }
    fn markdown(&self) -> String {
        self.to_markdown()
    }
    fn regressed(&self) -> bool {
        self.has_regression()
    }
}

/// Absolute change below which a metric whose base value is 0 is considered
/// unchanged (relative change from 0 is undefined).
pub const ZERO_EPSILON: f64 = 1e-9;

/// A metric's value as a person reads it, in the metric's unit: durations as `18 h` or
/// `2.5 min`, sizes as `79.2 TB`, money as `1,234.50`, anything else as a plain number.
pub fn human_value(metric: &str, v: f64) -> String {
    use crate::model::metric_names::{unit, Unit};
    match unit(metric) {
        Unit::Seconds if v.is_finite() && v >= 0.0 => crate::units::fmt_duration(v),
        Unit::Bytes if v.is_finite() && v >= 0.0 => crate::units::fmt_size(v),
        Unit::Money => crate::units::fmt_money(v),
        _ => crate::units::fmt_value(v),
    }
}

/// Writes rows as an aligned text table: the first column left-aligned, the
/// others right-aligned except those listed in `left`.
pub(crate) fn write_table(
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

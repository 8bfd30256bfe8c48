//! Checking a run's `summary.json` against `[[expect]]` bounds.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{human_value, write_table};

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

    /// The report as JSON: each expectation's bound and value in base units (seconds,
    /// bytes) and as text in the metric's unit.
    pub fn to_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                use crate::model::metric_names::{unit, Unit};
                let unit = match unit(&r.metric) {
                    Unit::Seconds => "s",
                    Unit::Bytes => "B",
                    Unit::Money => "money",
                    Unit::Plain => "",
                };
                serde_json::json!({
                    "metric": r.metric,
                    "bound": r.bound,
                    "unit": unit,
                    "verdict": if r.passed { "pass" } else { "FAIL" },
                    "value": r.value.filter(|v| v.is_finite()),
                    "value_text": r.value.map_or("missing".into(), |v| human_value(&r.metric, v)),
                    "passed": r.passed,
                })
            })
            .collect();
        serde_json::json!({
            "passed": self.passed(),
            "failures": self.failures(),
            "expectations": rows,
        })
    }

    /// Number of failed expectations.
    pub fn failures(&self) -> usize {
        self.rows.iter().filter(|r| !r.passed).count()
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
}

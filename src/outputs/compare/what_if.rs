//! `compare --what-if`: two runs read as the answer to a what-if. First the scenario
//! difference (the resolved keys that differ), then each changed metric with base, new,
//! change and better/worse/neutral from its direction, in the metric's unit. Metrics that
//! appear or vanish are listed as such, never as regressions; counts that scale with the
//! workload (jobs, attempts, failures, misses, bytes) are neutral, their rates are not.
//! Also the JSON form of a comparison (`compare --json`).

use std::collections::BTreeMap;

use super::{compare, human_value, ChangeRow, Comparison, Direction, Verdict};
use crate::model::metric_names::{direction, unit, Unit};

/// One key of the resolved scenarios that differs: `(key, base, new)` (`None`: absent).
pub type KeyChange = (String, Option<String>, Option<String>);

/// The resolved keys that differ between two `scenario.resolved.toml` texts, by dotted key
/// (tables of a list named by their `name`: `link.wan.bandwidth`), sorted.
pub fn scenario_diff(base: &str, new: &str) -> Vec<KeyChange> {
    let flat = |text: &str| {
        let mut out = BTreeMap::new();
        if let Ok(v) = text.parse::<toml::Value>() {
            flatten("", &v, &mut out);
        }
        out
    };
    let (b, n) = (flat(base), flat(new));
    let mut keys: Vec<&String> = b.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| b.get(*k) != n.get(*k))
        .map(|k| (k.clone(), b.get(k).cloned(), n.get(k).cloned()))
        .collect()
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        toml::Value::Table(t) => {
            for (k, x) in t {
                flatten(&join(k), x, out);
            }
        }
        toml::Value::Array(a) if a.iter().all(|x| x.is_table()) && !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                let name = x
                    .get("name")
                    .and_then(|n| n.as_str())
                    .map_or_else(|| i.to_string(), str::to_string);
                flatten(&join(&name), x, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// Whether a metric is a count that grows with the workload (more VMs, nights or
/// onboarding waves): a what-if changing the workload moves it without being better or
/// worse. Rates, durations, ages and percentiles are not.
pub fn scales_with_workload(metric: &str) -> bool {
    let last = metric.rsplit('.').next().unwrap_or("");
    metric.contains(".failures.")
        || metric.contains(".consistency.")
        || metric.contains("jobs.")
        || metric.contains("rejected.")
        || matches!(
            last,
            "attempts" | "retries" | "misses" | "vms" | "unsupported"
        )
        || unit(metric) == Unit::Bytes
}

/// The what-if verdict of a row: appear/vanish and workload counts are neutral.
fn what_if_verdict(r: &ChangeRow) -> Verdict {
    if r.base.is_none() || r.new.is_none() || scales_with_workload(&r.metric) {
        Verdict::Neutral
    } else {
        r.verdict
    }
}

/// A comparison read as a what-if: [`compare`] with [`what_if_verdict`].
pub fn what_if(
    base: &BTreeMap<String, f64>,
    new: &BTreeMap<String, f64>,
    tolerance_pct: f64,
) -> Comparison {
    let mut c = compare(base, new, tolerance_pct);
    for r in &mut c.rows {
        r.verdict = what_if_verdict(r);
    }
    c
}

/// The word of a verdict in a what-if report.
fn word(r: &ChangeRow) -> &'static str {
    match (r.base, r.new, r.verdict) {
        (None, _, _) => "appeared",
        (_, None, _) => "vanished",
        (_, _, Verdict::Improvement) => "better",
        (_, _, Verdict::Regression) => "worse",
        (_, _, Verdict::Neutral) => "neutral",
    }
}

/// The what-if report as text: the scenario difference, then the metric table, then the
/// totals.
pub fn report_text(diff: &[KeyChange], c: &Comparison, markdown: bool) -> String {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
    let mut s = String::new();
    if markdown {
        s.push_str("**Scenario difference**\n\n");
    } else {
        s.push_str("scenario difference:\n");
    }
    if diff.is_empty() {
        s.push_str("  (none: the same resolved scenario)\n");
    }
    for (k, b, n) in diff {
        if markdown {
            s.push_str(&format!("- `{k}`: {} → {}\n", show(b), show(n)));
        } else {
            s.push_str(&format!("  {k}: {} → {}\n", show(b), show(n)));
        }
    }
    s.push('\n');
    let val = |m: &str, v: Option<f64>| v.map_or("-".into(), |v| human_value(m, v));
    let rows: Vec<[String; 5]> = c
        .rows
        .iter()
        .map(|r| {
            [
                r.metric.clone(),
                val(&r.metric, r.base),
                val(&r.metric, r.new),
                r.change_text(),
                word(r).to_string(),
            ]
        })
        .collect();
    s.push_str(&table(&rows, markdown));
    let n = |w: &str| c.rows.iter().filter(|r| word(r) == w).count();
    s.push_str(&format!(
        "\n{} better, {} worse, {} neutral beyond ±{}%; {} appeared, {} vanished (never a regression)\n",
        n("better"),
        n("worse"),
        n("neutral"),
        crate::units::fmt_value(c.tolerance_pct),
        n("appeared"),
        n("vanished")
    ));
    s
}

/// The metric rows as a Markdown or an aligned text table.
fn table(rows: &[[String; 5]], markdown: bool) -> String {
    let mut s = String::new();
    let head = ["metric", "base", "new", "change", "verdict"];
    if markdown {
        s.push_str("| metric | base | new | change | verdict |\n|:--|--:|--:|--:|:--|\n");
        for r in rows {
            s.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                r[0], r[1], r[2], r[3], r[4]
            ));
        }
    } else {
        let mut w = [0usize; 5];
        for r in rows.iter().map(|r| r.each_ref().map(|c| c.chars().count())) {
            for (a, b) in w.iter_mut().zip(r) {
                *a = (*a).max(b);
            }
        }
        for (a, h) in w.iter_mut().zip(head) {
            *a = (*a).max(h.len());
        }
        let line = |r: [&str; 5]| {
            format!(
                "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {}\n",
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2],
                w3 = w[3]
            )
        };
        s.push_str(&line(head));
        for r in rows {
            s.push_str(&line(r.each_ref().map(String::as_str)));
        }
    }
    s
}

/// The comparison as one JSON document: the scenario difference, each changed metric
/// with its unit, values (numbers and human text), change and verdict.
pub fn to_json(diff: &[KeyChange], c: &Comparison, what_if: bool) -> serde_json::Value {
    let unit_name = |m: &str| match unit(m) {
        Unit::Seconds => "s",
        Unit::Bytes => "B",
        Unit::Plain => "",
    };
    let dir_name = |m: &str| match direction(m) {
        Direction::HigherIsBetter => "higher_is_better",
        Direction::LowerIsBetter => "lower_is_better",
        Direction::Neutral => "neutral",
    };
    let metrics: Vec<serde_json::Value> = c
        .rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "metric": r.metric,
                "unit": unit_name(&r.metric),
                "direction": dir_name(&r.metric),
                "base": r.base.filter(|v| v.is_finite()),
                "new": r.new.filter(|v| v.is_finite()),
                "base_text": r.base.map(|v| human_value(&r.metric, v)),
                "new_text": r.new.map(|v| human_value(&r.metric, v)),
                "change_pct": r.change_pct,
                "change": r.change_text(),
                "verdict": if what_if { word(r).to_string() } else { r.verdict.to_string() },
            })
        })
        .collect();
    let keys: Vec<serde_json::Value> = diff
        .iter()
        .map(|(k, b, n)| serde_json::json!({"key": k, "base": b, "new": n}))
        .collect();
    serde_json::json!({
        "what_if": what_if,
        "tolerance_pct": c.tolerance_pct,
        "scenario_difference": keys,
        "metrics": metrics,
        "regressions": c.count(Verdict::Regression),
        "improvements": c.count(Verdict::Improvement),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_diff_names_list_tables_by_name() {
        let a = "[simulation]\nseed = 1\n[[link]]\nname = \"wan\"\nbandwidth = \"10 Gbit/s\"\n";
        let b = "[simulation]\nseed = 1\n[[link]]\nname = \"wan\"\nbandwidth = \"20 Gbit/s\"\n[[fleet]]\nname = \"f\"\nonboard = { over = \"4d\" }\n";
        let d = scenario_diff(a, b);
        assert_eq!(
            d,
            vec![
                ("fleet.f.name".into(), None, Some("f".into())),
                ("fleet.f.onboard.over".into(), None, Some("4d".into())),
                (
                    "link.wan.bandwidth".into(),
                    Some("10 Gbit/s".into()),
                    Some("20 Gbit/s".into())
                ),
            ]
        );
    }

    #[test]
    fn what_if_never_regresses_on_appear_vanish_or_workload_counts() {
        let base = BTreeMap::from([
            ("backup.window.miss_rate".to_string(), 0.2),
            ("backup.jobs.succeeded".to_string(), 100.0),
            ("backup.failures.X".to_string(), 10.0),
            ("vault.a.stored_bytes.end".to_string(), 5.0),
            ("backup.success_rate".to_string(), 0.9),
        ]);
        let new = BTreeMap::from([
            ("backup.window.miss_rate".to_string(), 0.1),
            ("backup.jobs.succeeded".to_string(), 50.0),
            ("backup.failures.X".to_string(), 20.0),
            ("fleet.b.backup.success_rate".to_string(), 1.0),
            ("backup.success_rate".to_string(), 0.8),
        ]);
        let c = what_if(&base, &new, 1.0);
        let words: Vec<(&str, &str)> = c
            .rows
            .iter()
            .map(|r| (r.metric.as_str(), word(r)))
            .collect();
        assert_eq!(
            words,
            [
                ("backup.failures.X", "neutral"),
                ("backup.jobs.succeeded", "neutral"),
                ("backup.success_rate", "worse"),
                ("backup.window.miss_rate", "better"),
                ("fleet.b.backup.success_rate", "appeared"),
                ("vault.a.stored_bytes.end", "vanished"),
            ]
        );
        assert!(c.has_regression(), "a worse rate is still a regression");
        let text = report_text(&[], &c, false);
        assert!(text.contains("1 better, 1 worse, 2 neutral"), "{text}");
    }
}

//! `backupsim compare BASE NEW`: a what-if report of two results directories (two runs or
//! two sweeps): first what differs in their scenarios, then each metric that moved, judged
//! by its direction.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::outputs::compare::{scenario_diff, KeyChange, Report};
use crate::outputs::results::read::{model_version, read_summary, resolved_scenario};
use crate::outputs::results::OutKind;

/// Options of `backupsim compare`, resolved once.
#[derive(Debug, Clone)]
pub struct CompareArgs {
    /// The baseline directory.
    pub base: PathBuf,
    /// The what-if directory.
    pub new: PathBuf,
    /// Relative change (percent) below which a metric counts as unchanged.
    pub tolerance_pct: f64,
    /// Print Markdown (for pull requests).
    pub markdown: bool,
    /// Print one JSON document.
    pub json: bool,
}

/// The printed report and whether a metric with a direction moved the worse way beyond
/// the tolerance (`compare` exits 1 on it, `compare --what-if` never does).
pub struct CompareReport {
    /// The report, as text, Markdown or JSON.
    pub text: String,
    /// A regression beyond tolerance.
    pub regressed: bool,
}

/// Runs `compare`: both sides must be results directories of the same kind.
pub fn compare(a: &CompareArgs) -> Result<CompareReport> {
    if !(a.tolerance_pct >= 0.0 && a.tolerance_pct.is_finite()) {
        return Err(Error::Usage(format!(
            "--tolerance: expected a non-negative percentage, found {}",
            a.tolerance_pct
        )));
    }
    let kind = same_kind(&a.base, &a.new)?;
    warn_across_versions(&a.base, &a.new);
    let changes = match kind {
        OutKind::Sweep => sweep_changes(&a.base, &a.new)?,
        _ => scenario_changes(&a.base, &a.new),
    };
    match kind {
        OutKind::Run => compare_runs(a, &changes),
        OutKind::Sweep => compare_sweeps(a, &changes),
        OutKind::Solve => Err(Error::Usage(format!(
            "{} and {} are solve directories: compare takes two runs' results directories or two sweep directories (solve.csv lists every probe)",
            a.base.display(),
            a.new.display()
        ))),
    }
}

/// The kind both directories share, or an error saying what each side is.
fn same_kind(base: &Path, new: &Path) -> Result<OutKind> {
    let what = |d: &Path| {
        OutKind::of(d).map_or_else(
            || {
                if d.is_dir() {
                    "not a results directory (no run.json, sweep.json or solve.json)"
                } else {
                    "not a directory"
                }
            },
            OutKind::describe,
        )
    };
    match (OutKind::of(base), OutKind::of(new)) {
        (Some(b), Some(n)) if b == n => Ok(b),
        _ => Err(Error::Usage(format!(
            "compare needs two results directories of the same kind (two runs or two sweeps); {} is {}, {} is {}; nothing was compared",
            base.display(),
            what(base),
            new.display(),
            what(new)
        ))),
    }
}

fn warn_across_versions(base: &Path, new: &Path) {
    let (vb, vn) = (model_version(base), model_version(new));
    if vb != vn {
        let show = |v: Option<u64>| v.map_or("unrecorded".to_string(), |v| v.to_string());
        crate::status!(
            "warning: {} and {} come from different model versions ({} and {}): rules, defaults or metric meanings changed between them (CHANGELOG.md), so a difference may not come from the scenario",
            base.display(),
            new.display(),
            show(vb),
            show(vn)
        );
    }
}

/// The scenario keys that differ; a side without a readable resolved scenario gives a
/// warning and no list.
fn scenario_changes(base: &Path, new: &Path) -> Option<Vec<KeyChange>> {
    let read = |d: &Path| {
        resolved_scenario(d)
            .map_err(|e| crate::status!("warning: no scenario difference shown: {e}"))
            .ok()
    };
    let (b, n) = (read(base)?, read(new)?);
    scenario_diff(&b, &n)
        .map_err(|e| crate::status!("warning: no scenario difference shown: {e}"))
        .ok()
}

/// What differs between two sweeps' definitions: their scenario's own keys (from the first
/// run's resolved scenario, seed aside), their `--set` overrides and their `--vary` values.
fn sweep_changes(base: &Path, new: &Path) -> Result<Option<Vec<KeyChange>>> {
    use crate::outputs::sweeps::read_definition;
    let (Some(db), Some(dn)) = (read_definition(base)?, read_definition(new)?) else {
        return Ok(None);
    };
    // The first point's resolved scenario (a sweep finished before points/ kept it: its
    // first run's).
    let first = |d: &Path| {
        let p = d.join("points").join("p000");
        if p.join("scenario.resolved.toml").is_file() {
            p
        } else {
            d.join("runs").join("p000").join("rep-0")
        }
    };
    let mut out: Vec<KeyChange> = scenario_changes(&first(base), &first(new))
        .unwrap_or_default()
        .into_iter()
        .filter(|k| {
            k.key != "simulation.seed" && !db.vary.iter().chain(&dn.vary).any(|v| v.key == k.key)
        })
        .collect();
    let sets =
        |d: &crate::outputs::sweeps::Definition| -> std::collections::BTreeMap<String, String> {
            let mut m: std::collections::BTreeMap<String, String> = d
                .sets
                .iter()
                .filter_map(|s| s.split_once('='))
                .map(|(k, v)| (format!("--set {}", k.trim()), v.trim().to_string()))
                .collect();
            m.extend(
                d.vary
                    .iter()
                    .map(|v| (format!("--vary {}", v.key), v.values.join(","))),
            );
            m.insert("seed".into(), d.base_seed.to_string());
            m
        };
    let (sb, sn) = (sets(&db), sets(&dn));
    let keys: std::collections::BTreeSet<&String> = sb.keys().chain(sn.keys()).collect();
    for k in keys {
        // A --set whose effect the resolved scenarios already show is not listed twice.
        let shown = k
            .strip_prefix("--set ")
            .is_some_and(|key| out.iter().any(|c| c.key == key));
        if sb.get(k) != sn.get(k) && !shown {
            out.push(KeyChange {
                key: k.clone(),
                base: sb.get(k).cloned(),
                new: sn.get(k).cloned(),
            });
        }
    }
    Ok(Some(out))
}

/// The scenario section of the report, as text or Markdown.
fn scenario_section(changes: &Option<Vec<KeyChange>>, markdown: bool) -> String {
    let Some(changes) = changes else {
        return String::new();
    };
    let mut s = match changes.len() {
        0 => "scenario: no key differs (same scenario; a different seed or tool version)\n".into(),
        1 => "scenario: 1 key differs\n".to_string(),
        n => format!("scenario: {n} keys differ\n"),
    };
    for c in changes {
        if markdown {
            s.push_str(&format!("- `{}`\n", c.text()));
        } else {
            s.push_str(&format!("  {}\n", c.text()));
        }
    }
    s.push('\n');
    s
}

/// The scenario differences as JSON.
fn scenario_json(changes: &Option<Vec<KeyChange>>) -> serde_json::Value {
    match changes {
        None => serde_json::Value::Null,
        Some(c) => c
            .iter()
            .map(|k| serde_json::json!({"key": k.key, "base": k.base, "new": k.new}))
            .collect(),
    }
}

fn compare_runs(a: &CompareArgs, changes: &Option<Vec<KeyChange>>) -> Result<CompareReport> {
    let c = crate::outputs::compare::compare(
        &read_summary(&a.base)?,
        &read_summary(&a.new)?,
        a.tolerance_pct,
    );
    Ok(render(a, changes, "run", &c))
}

/// The report in the format asked for: one JSON document (the comparison's own, with the
/// directories, their kind and the scenario difference), or the scenario section followed
/// by the comparison as Markdown or text.
fn render(
    a: &CompareArgs,
    changes: &Option<Vec<KeyChange>>,
    kind: &str,
    report: &dyn Report,
) -> CompareReport {
    let out = if a.json {
        let mut doc = report.json();
        doc["base"] = a.base.display().to_string().into();
        doc["new"] = a.new.display().to_string().into();
        doc["kind"] = kind.into();
        doc["scenario"] = scenario_json(changes);
        serde_json::to_string_pretty(&doc).expect("JSON of plain values")
    } else if a.markdown {
        scenario_section(changes, true) + &report.markdown()
    } else {
        scenario_section(changes, false) + &report.to_string()
    };
    CompareReport {
        text: out.trim_end().to_string(),
        regressed: report.regressed(),
    }
}

fn compare_sweeps(a: &CompareArgs, changes: &Option<Vec<KeyChange>>) -> Result<CompareReport> {
    use crate::outputs::sweeps::{read_definition, read_runs};
    let runs = |d: &Path| -> Result<Vec<crate::outputs::sweeps::RunRow>> {
        let def = read_definition(d)?.ok_or_else(|| {
            Error::input(
                d.display().to_string(),
                "expected a sweep directory with sweep.json",
            )
        })?;
        if !d.join("runs.csv").is_file() {
            return Err(Error::input(
                d.display().to_string(),
                "the sweep has no runs.csv yet: finish it (run the sweep again, or merge its shards) before comparing",
            ));
        }
        read_runs(d, &def)
    };
    let c =
        crate::outputs::compare::compare_sweeps(&runs(&a.base)?, &runs(&a.new)?, a.tolerance_pct);
    Ok(render(a, changes, "sweep", &c))
}

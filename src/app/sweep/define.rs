//! A sweep's definition: the grid of `--vary` points, the replications and seeds, every
//! point's scenario checked before anything runs, and the baseline of paired differences.

use super::*;

/// FNV-1a of a file's bytes (identity of the scenario for merge and resume).
pub(super) fn hash_bytes(b: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= x as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Builds the definition of a sweep from its arguments, checking every point's scenario
/// (so a bad value fails before anything runs). Returns the scenario text too: every run
/// uses this text, read once, so editing the file during a sweep cannot mix versions; and
/// the largest estimated memory of a point's run ([`memory::run_bytes`]).
pub fn define(a: &SweepArgs) -> Result<(Definition, String, u64)> {
    if a.replications == 0 {
        return Err(Error::Usage("--replications 0: expected at least 1".into()));
    }
    let vary = a
        .vary
        .iter()
        .map(|v| parse_vary(v))
        .collect::<Result<Vec<_>>>()?;
    check_varies(&vary, &a.sets)?;
    let targets = a
        .targets
        .iter()
        .map(|t| parse_target(t))
        .collect::<Result<Vec<_>>>()?;
    let max_replications = max_replications(a, targets.is_empty())?;
    if a.baseline.is_some() && !a.common_seeds {
        return Err(Error::Usage(
            "--baseline: paired differences need --common-seeds (replication r of every point then shares a seed)".into(),
        ));
    }
    let cap = max_replications.unwrap_or(a.replications);
    grid_runs(
        &vary,
        cap,
        &match max_replications {
            Some(m) => format!("--max-replications {m}"),
            None => format!("--replications {}", a.replications),
        },
    )?;
    let text = crate::scenario::load::read_scenario(&a.scenario)?;
    let base = load_str(&text, &a.scenario, &a.sets)?;
    crate::scenario::warnings::report(&base, a.deny_warnings)?;
    let def = Definition {
        format: FORMAT,
        scenario_name: base.scenario.simulation.name.clone(),
        scenario_hash: hash_bytes(text.as_bytes()),
        base_seed: base.scenario.simulation.seed,
        sets: a.sets.clone(),
        vary,
        replications: a.replications,
        seeds: if a.common_seeds {
            SeedMode::Common
        } else {
            SeedMode::PerPoint
        },
        plot_metrics: Some(if a.no_plots {
            Vec::new()
        } else if a.plot_metrics.is_empty() {
            default_plot_metrics()
        } else {
            a.plot_metrics.clone()
        }),
        targets,
        max_replications,
        baseline: None,
        // jobs.csv changes no summary: as `--jobs-csv` always was, it is left out.
        outputs: run_outputs(a)
            .map(|o| Outputs { jobs: false, ..o })
            .filter(|o| *o != Outputs::SWEEP_DEFAULT)
            .map(|o| o.names()),
        run_max_events: a.run_max_events,
    };
    let points = def.points();
    let def = Definition {
        baseline: a
            .baseline
            .as_deref()
            .map(|b| resolve_baseline(b, &points))
            .transpose()?,
        ..def
    };
    let (names, max_run) = check_points(a, &def, &text)?;
    check_metric_flags(a, &def, &names)?;
    Ok((def, text, max_run))
}

/// `--max-replications`, checked against `--target` and `--replications`: the cap of an
/// adaptive sweep (default 10 × `--replications`), `None` without targets.
fn max_replications(a: &SweepArgs, no_targets: bool) -> Result<Option<u32>> {
    Ok(match (no_targets, a.max_replications) {
        (true, Some(m)) => {
            return Err(Error::Usage(format!(
                "--max-replications {m}: only goes with --target (without a target every point has exactly --replications)"
            )))
        }
        (true, None) => None,
        (false, Some(m)) if m < a.replications => {
            return Err(Error::Usage(format!(
                "--max-replications {m}: expected at least --replications ({}), the count every point starts with",
                a.replications
            )))
        }
        (false, Some(m)) => Some(m),
        (false, None) => Some(a.replications.saturating_mul(10)),
    })
}

/// Loads every point's scenario (an error names the point), and returns every metric a
/// run of the sweep may write and the largest run's estimated memory.
fn check_points(a: &SweepArgs, def: &Definition, text: &str) -> Result<(Vec<String>, u64)> {
    let mut names = BTreeSet::new();
    let mut max_run = 0;
    for p in def.points() {
        let mut sets = a.sets.clone();
        sets.extend(p.assignments.iter().map(|(k, v)| format!("{k}={v}")));
        let l = load_str(text, &a.scenario, &sets).map_err(|e| {
            let at: Vec<String> = p
                .assignments
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            Error::Usage(format!(
                "--vary: point {} ({}) is not a valid scenario: {e}",
                p.id,
                at.join(", ")
            ))
        })?;
        if let (true, Some(w)) = (a.deny_warnings, l.warnings.first()) {
            let id = p.id;
            return Err(Error::Usage(format!(
                "--vary: point {id} warns and --deny-warnings is set: warning: {w}"
            )));
        }
        max_run = max_run.max(memory::run_bytes(&l.scenario));
        names.extend(
            crate::model::metric_names::catalogue(&l.config)
                .into_iter()
                .map(|m| m.name),
        );
    }
    Ok((names.into_iter().collect(), max_run))
}

/// `--plot-metric` and `--target` must name metrics a run of the sweep writes.
fn check_metric_flags(a: &SweepArgs, def: &Definition, names: &[String]) -> Result<()> {
    // A plot of a metric no run writes would silently be missing.
    for m in &a.plot_metrics {
        if !names.contains(m) {
            let close = crate::scenario::warnings::closest(m, names);
            return Err(Error::Usage(format!(
                "--plot-metric {m}: no run of this sweep writes this metric (docs/metrics.md); did you mean {}?",
                close.join(" or ")
            )));
        }
    }
    for (t, flag) in def.targets.iter().zip(&a.targets) {
        if !names.contains(&t.metric) {
            let close = crate::scenario::warnings::closest(&t.metric, names);
            return Err(Error::Usage(format!(
                "--target {flag}: no run of this sweep writes a metric \"{}\" (docs/metrics.md), so its interval could never narrow; did you mean {}?",
                t.metric,
                close.join(" or ")
            )));
        }
    }
    Ok(())
}

/// Resolves `--baseline`: a point id (`p001`) or `KEY=VALUE,...` assignments that match
/// exactly one point.
fn resolve_baseline(spec: &str, points: &[Point]) -> Result<String> {
    let usage = |m: String| Error::Usage(format!("--baseline {spec}: {m}"));
    if let Some(p) = points.iter().find(|p| p.id == spec.trim()) {
        return Ok(p.id.clone());
    }
    if !spec.contains('=') {
        return Err(usage(format!(
            "expected a point id of this sweep (p000 to {}) or KEY=VALUE,... assignments",
            points.last().map_or("p000", |p| p.id.as_str())
        )));
    }
    let mut want = Vec::new();
    for part in spec.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            return Err(usage(format!(
                "expected KEY=VALUE, found \"{}\"",
                part.trim()
            )));
        };
        want.push((k.trim(), v.trim()));
    }
    let matching: Vec<&Point> = points
        .iter()
        .filter(|p| {
            want.iter().all(|(k, v)| {
                p.assignments
                    .iter()
                    .any(|(pk, pv)| pk == k && pv.trim() == *v)
            })
        })
        .collect();
    match matching.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(usage(
            "no point of the sweep has these values (keys and values as given to --vary)".into(),
        )),
        many => {
            Err(usage(format!(
            "{} points have these values ({}...): give a value for every varied key, or a point id",
            many.len(),
            many.iter().take(3).map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
        )))
        }
    }
}

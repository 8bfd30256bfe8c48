//! The commands behind the binary: each takes parsed arguments and returns an exit code
//! or an [`Error`]; the binary only prints and exits.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::report::{run_to_dir, RunOptions, RunReport};
use crate::scenario::{load, Loaded};

/// Arguments of `backupsim run`.
#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    /// Scenario file.
    pub scenario: PathBuf,
    /// `--seed N` (same as `--set simulation.seed=N`).
    pub seed: Option<u64>,
    /// `--set KEY=VALUE` overrides.
    pub sets: Vec<String>,
    /// `--out DIR` (default `results/<scenario name>`).
    pub out: Option<PathBuf>,
    /// `--quiet`.
    pub quiet: bool,
    /// `--jobs-csv on|off`.
    pub jobs_csv: Option<bool>,
    /// `--no-plots`.
    pub no_plots: bool,
    /// The command line, for run.json.
    pub command_line: Vec<String>,
}

/// Handles SIGINT (Ctrl-C) and SIGTERM (what Slurm and Kubernetes send before killing) the
/// same way: partial results are removed, a sweep says how far it got and how to resume,
/// and the process exits with 128 + the signal (130 or 143).
pub fn handle_signals() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let sweep = crate::sweep::interrupt();
            crate::report::remove_in_flight();
            crate::status!(
                "{}",
                sweep.unwrap_or_else(|| "interrupted: no partial results were left behind".into())
            );
            std::process::exit(128 + sig);
        }
    });
}

/// Loads a scenario with `--seed` folded into the overrides.
pub fn load_with(scenario: &Path, seed: Option<u64>, sets: &[String]) -> Result<Loaded> {
    let mut all = sets.to_vec();
    if let Some(s) = seed {
        all.push(format!("simulation.seed={s}"));
    }
    load(scenario, &all)
}

/// `backupsim run`.
pub fn run(a: &RunArgs) -> Result<RunReport> {
    run_loaded(&load_with(&a.scenario, a.seed, &a.sets)?, a)
}

/// `backupsim run` on a scenario already loaded with `a`'s overrides.
fn run_loaded(loaded: &Loaded, a: &RunArgs) -> Result<RunReport> {
    if !a.quiet {
        for n in &loaded.notes {
            crate::status!("note: {n}");
        }
    }
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(&loaded.scenario.simulation.name));
    let opts = RunOptions {
        jobs_csv: a.jobs_csv,
        command_line: a.command_line.clone(),
        progress: !a.quiet,
        plots: !a.no_plots,
    };
    let report = run_to_dir(loaded, &out, &opts)?;
    if !a.quiet {
        if let Some(note) = &report.replacing {
            crate::status!("{note}");
        }
        let g = |k: &str| report.summary.get(k).copied().unwrap_or(0.0);
        crate::status!(
            "{}: seed {}, {} events in {:.2} s ({:.0} events/s)",
            loaded.scenario.simulation.name,
            loaded.scenario.simulation.seed,
            report.events,
            report.wall_seconds,
            report.events as f64 / report.wall_seconds.max(1e-9)
        );
        crate::status!(
            "backups: {} succeeded, {} failed, {} unsupported (success rate {:.4}); p99 duration {}; window miss rate {:.4}",
            g("backup.jobs.succeeded"),
            g("backup.jobs.failed"),
            g("backup.jobs.unsupported"),
            g("backup.success_rate"),
            fmt_secs(g("backup.duration.p99")),
            g("backup.window.miss_rate"),
        );
        if let Some(w) = crate::model::in_flight_warning(&report.summary) {
            crate::status!("warning: {w}");
        }
        if !report.jobs_csv {
            crate::status!(
                "note: jobs.csv was not written (--jobs-csv on to force it; see run.json)"
            );
        }
        crate::status!("results: {}", report.dir.display());
    }
    Ok(report)
}

/// Seconds as a short human duration.
pub fn fmt_secs(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.2} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

/// `backupsim validate`: loads and checks, prints a one-line summary.
pub fn validate(scenario: &Path, sets: &[String]) -> Result<String> {
    let l = load(scenario, sets)?;
    let s = &l.scenario;
    let vms: u64 = s.fleet.iter().map(|f| f.count as u64).sum();
    let mut out = format!(
        "{}: ok: {} fleet(s), {} VM(s), {} vault(s), {} polic(ies), {} link(s), {} restore(s), {} simulated",
        scenario.display(),
        s.fleet.len(),
        vms,
        s.vault.len(),
        s.policy.len(),
        s.link.len(),
        s.restore.len(),
        s.simulation.duration
    );
    for n in &l.notes {
        out.push_str(&format!("\nnote: {n}"));
    }
    Ok(out)
}

/// `backupsim schema`.
pub fn schema() -> String {
    crate::scenario::schema::json_schema()
}

/// Turns a usage problem into an error.
pub fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// `backupsim check SCENARIO.toml | RESULTS_DIR`: evaluates the scenario's `[[expect]]`
/// bounds against a results directory (or runs the scenario first). Returns the printed
/// table and whether every bound held.
pub fn check(target: &Path, sets: &[String], quiet: bool) -> Result<(String, bool)> {
    let no_bounds = |file: &Path| {
        Error::input(
            file.display().to_string(),
            "expected at least one [[expect]] bound to check, found none: add e.g. [[expect]] metric = \"backup.success_rate\" min = 0.99 (see docs/scenario.md)",
        )
    };
    let (scenario, dir) = if target.is_dir() {
        let resolved = target.join("scenario.resolved.toml");
        let scenario = load(&resolved, &[])?.scenario;
        if scenario.expect.is_empty() {
            return Err(no_bounds(&resolved));
        }
        (scenario, target.to_path_buf())
    } else {
        let args = RunArgs {
            scenario: target.to_path_buf(),
            sets: sets.to_vec(),
            quiet,
            no_plots: true,
            ..RunArgs::default()
        };
        let loaded = load_with(target, None, sets)?;
        if loaded.scenario.expect.is_empty() {
            return Err(no_bounds(target));
        }
        let report = run_loaded(&loaded, &args)?;
        (loaded.scenario, report.dir)
    };
    let summary = crate::compare::read_summary(&dir).map_err(|e| {
        Error::input(
            dir.join("summary.json").display().to_string(),
            e.to_string(),
        )
    })?;
    let expects: Vec<crate::compare::Expectation> = scenario
        .expect
        .iter()
        .map(|e| crate::compare::Expectation {
            metric: e.metric.clone(),
            min: e.min.map(|b| b.0),
            max: e.max.map(|b| b.0),
        })
        .collect();
    let report = crate::compare::check(&expects, &summary);
    Ok((report.to_string(), report.passed()))
}

/// `backupsim compare BASE NEW`: the metrics that moved beyond `tolerance_pct`. Returns the
/// table (text or Markdown) and whether any moved the wrong way.
pub fn compare(
    base: &Path,
    new: &Path,
    tolerance_pct: f64,
    markdown: bool,
) -> Result<(String, bool)> {
    if !(tolerance_pct >= 0.0 && tolerance_pct.is_finite()) {
        return Err(usage(format!(
            "--tolerance: expected a non-negative percentage, found {tolerance_pct}"
        )));
    }
    let read = |d: &Path| {
        crate::compare::read_summary(d)
            .map_err(|e| Error::input(d.join("summary.json").display().to_string(), e.to_string()))
    };
    let c = crate::compare::compare(&read(base)?, &read(new)?, tolerance_pct);
    let text = if markdown {
        c.to_markdown()
    } else {
        c.to_string()
    };
    Ok((text, c.has_regression()))
}

/// `backupsim plot DIR`: re-renders the plots of a results directory, or of a sweep
/// directory (one with `sweep.csv`): the metrics recorded in its `sweep.json`, or the
/// defaults when none are (or the sweep was run with `--no-plots`).
pub fn plot(dir: &Path) -> Result<Vec<PathBuf>> {
    if dir.join("sweep.csv").is_file() && dir.join("sweep.json").is_file() {
        let recorded = std::fs::read_to_string(dir.join("sweep.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<crate::sweep::Definition>(&t).ok())
            .and_then(|d| d.plot_metrics)
            .filter(|m| !m.is_empty());
        let metrics = recorded.unwrap_or_else(crate::sweep::default_plot_metrics);
        return crate::plot::render_sweep(dir, &metrics)
            .map_err(|e| Error::input(dir.display().to_string(), e.to_string()));
    }
    if !(dir.join("summary.json").is_file() && dir.join("run.json").is_file()) {
        return Err(Error::input(
            dir.display().to_string(),
            "expected a results directory (with summary.json and run.json) or a sweep directory (with sweep.json and sweep.csv), found neither; nothing was written",
        ));
    }
    crate::plot::render(dir).map_err(|e| Error::input(dir.display().to_string(), e.to_string()))
}

//! The commands behind the binary: each takes parsed arguments and returns an exit code
//! or an [`Error`]; the binary only prints and exits.

use std::path::{Path, PathBuf};

mod allocator;
pub mod cli;
mod compare;
mod init;
mod interrupt;
mod merge;
mod partition;
mod pin;
mod run;
mod solve;
mod status;
mod sweep;

pub use allocator::tune_allocator;
pub use compare::{compare, CompareArgs, CompareReport};
pub use init::{init, paired_region};
pub use interrupt::handle_signals;
pub use merge::{merge, MergeReport};
pub use partition::{parse_partition, Partition};
pub use pin::{pin, PinArgs, DEFAULT_PIN_METRICS};
pub use run::{run_to_dir, RunOptions, RunReport};
pub use solve::{solve, SolveArgs, SolveReport};
pub use status::{status, StatusReport};
pub use sweep::{interrupt, render_plots, sweep, SweepArgs, SweepReport};

use crate::error::{Error, Result};
use crate::scenario::{load, Loaded};

/// Arguments of `backupsim run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Seed (same as --set simulation.seed=N).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a scenario value: dotted key, arrays of tables by name
    /// (e.g. fleet.web.count=5000, link.wan.bandwidth="2 Gbit/s").
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Results directory (default: results/<scenario name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar or summary on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Write jobs.csv (default: on up to 2 million expected jobs); the same as adding jobs
    /// to (or removing it from) --outputs.
    #[arg(long, value_name = "on|off", value_parser = parse_on_off)]
    pub jobs_csv: Option<bool>,
    /// The files to write, comma-separated: summary,histograms,timeseries,jobs,nights
    /// (default: all; jobs as the scenario's jobs_csv says). summary.json, run.json and
    /// scenario.resolved.toml are always written.
    #[arg(long, value_name = "LIST", value_parser = parse_outputs)]
    pub outputs: Option<crate::outputs::results::Outputs>,
    /// Skip rendering plots.
    #[arg(long)]
    pub no_plots: bool,
    /// Treat any warning as an error (exit 2) before anything runs.
    #[arg(long)]
    pub deny_warnings: bool,
    /// The command line, recorded in run.json.
    #[arg(skip)]
    pub command_line: Vec<String>,
    /// Batch means: split the simulated time after the warm-up into K equal batches and
    /// add each steady-state metric's mean over the batches and its 95% CI half-width to
    /// summary.json (batches.<metric>, batches.<metric>.ci95; K >= 2).
    #[arg(long, value_name = "K", value_parser = parse_batches)]
    pub batches: Option<u32>,
    /// Stop the run after N events and record it as cut short (run.cut_short in
    /// summary.json, cut_short in run.json); N >= 1.
    #[arg(long, value_name = "N", value_parser = parse_max_events)]
    pub run_max_events: Option<u64>,
    /// Stop the run after this much wall-clock time (e.g. "10m") and record it as cut
    /// short (run.cut_short and run.cut_short_wall in summary.json). Where it stops depends
    /// on the machine: such a run is outside the determinism guarantee.
    #[arg(long, value_name = "DURATION", value_parser = parse_max_wall)]
    pub run_max_wall: Option<std::time::Duration>,
    /// Refuse a run whose estimated memory exceeds SIZE (e.g. "4 GiB"; default: the
    /// memory available now).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_limit: Option<u64>,
    /// Split the run into its independent parts (fleets sharing no vault, policy or link):
    /// `auto` simulates them in parallel threads and merges them (byte-identical to one
    /// run); `off` simulates the scenario as one run; `I/N` simulates only part I of N
    /// into a part directory, for `backupsim merge` (docs/performance.md). Default: `auto`
    /// when it pays (more than one core, at least 100 000 jobs expected, no jobs.csv, no
    /// run limit), else `off`.
    #[arg(long, value_name = "off|auto|I/N", value_parser = parse_partition)]
    pub partition: Option<Partition>,
}

/// `--memory-limit` values: sizes as in scenario files ("4 GiB", "512 MB").
pub(crate) fn parse_size(s: &str) -> std::result::Result<u64, String> {
    crate::units::Size::parse(s).map(|b| b.0)
}

/// `--batches K`: at least two batches (a confidence interval needs two values).
pub(crate) fn parse_batches(s: &str) -> std::result::Result<u32, String> {
    match s.parse::<u32>() {
        Ok(k) if k >= 2 => Ok(k),
        _ => Err(format!(
            "expected a whole number of batches of at least 2 (a confidence interval needs two batch means; 10 to 30 is usual), found \"{s}\""
        )),
    }
}

/// `--run-max-wall DURATION`: a positive wall-clock time, in the scenario's duration
/// format.
pub(crate) fn parse_max_wall(s: &str) -> std::result::Result<std::time::Duration, String> {
    let d = crate::units::Duration::parse(s)?;
    if d.0.as_micros() == 0 {
        return Err(format!(
            "expected a positive wall-clock time such as \"30s\" or \"10m\", found \"{s}\""
        ));
    }
    Ok(std::time::Duration::from_micros(d.0.as_micros()))
}

/// `--run-max-events N`: a positive event count.
pub(crate) fn parse_max_events(s: &str) -> std::result::Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "expected a positive whole number of events (e.g. 50000000), found \"{s}\""
        )),
    }
}

/// `--outputs LIST`.
pub(crate) fn parse_outputs(
    s: &str,
) -> std::result::Result<crate::outputs::results::Outputs, String> {
    crate::outputs::results::Outputs::parse(s)
}

/// `on` or `off`, for `--jobs-csv`.
pub(crate) fn parse_on_off(s: &str) -> std::result::Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("expected on or off, found \"{s}\"")),
    }
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
    crate::scenario::warnings::report(loaded, a.deny_warnings)?;
    let opts = RunOptions {
        // --jobs-csv is an alias of jobs in --outputs, and wins when both are given.
        jobs_csv: a.jobs_csv.or(a.outputs.map(|o| o.jobs)),
        outputs: a.outputs.unwrap_or_default(),
        outputs_without_jobs: a.jobs_csv.is_none() && a.outputs.is_some_and(|o| !o.jobs),
        command_line: a.command_line.clone(),
        progress: !a.quiet,
        plots: !a.no_plots,
        in_sweep: false,
        batches: a.batches.unwrap_or(0),
        max_events: a.run_max_events.unwrap_or(0),
        max_wall: a.run_max_wall,
        partition: None,
        bars: None,
    };
    // Independent parts on every core when that pays (`--partition` unset): the same
    // files, byte for byte, sooner.
    let how = match a.partition {
        Some(Partition::Off) => None,
        Some(how) => Some(how),
        None => partition::split_pays(loaded, &opts).then_some(Partition::Auto),
    };
    // Refused before the run's report (a split by default never is: `split_pays`).
    if a.partition == Some(Partition::Auto) {
        partition::auto_refusals(loaded, &opts)?;
    }
    use crate::scenario::memory;
    let s = &loaded.scenario;
    memory::check(
        memory::memory_bytes(s),
        "the run",
        &memory::describe(s),
        memory::RUN_REMEDY,
        a.memory_limit,
    )
    .map_err(|m| Error::input(loaded.path.display().to_string(), m))?;
    if !a.quiet {
        for n in &loaded.notes {
            crate::status!("note: {n}");
        }
        let estimate = crate::scenario::estimate::report(&loaded.scenario);
        if !estimate.is_empty() {
            crate::status!("{estimate}");
        }
    }
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(&loaded.scenario.simulation.name));
    // Staging directories of this destination left by killed runs (only those whose
    // process is gone: another run of the same --out may be going on). Said on stderr
    // even with --quiet: it is neither progress nor summary.
    let cleanup = crate::outputs::results::Cleanup::OwnerGone;
    for note in crate::outputs::results::clean_staging(&out, cleanup) {
        crate::status!("note: {note}");
    }
    let report = match how {
        Some(how) => partition::run_partitioned(loaded, &out, &opts, how)?,
        None => run_to_dir(loaded, &out, &opts)?,
    };
    if !a.quiet {
        for n in &report.notes {
            crate::status!("note: {n}");
        }
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
            crate::units::fmt_duration(g("backup.duration.p99")),
            g("backup.window.miss_rate"),
        );
        if let Some(w) = crate::model::in_flight_warning(&report.summary) {
            crate::status!("warning: {w}");
        }
        if let Some(k) = a.batches {
            for m in crate::model::metrics::BATCH_METRICS {
                let key = format!("batches.{m}");
                if let (Some(v), Some(h)) = (
                    report.summary.get(&key),
                    report.summary.get(&format!("{key}.ci95")),
                ) {
                    use crate::model::metric_names::{unit, Unit};
                    let show = |x: f64| match unit(m) {
                        Unit::Seconds => crate::units::fmt_duration(x),
                        _ => format!("{x}"),
                    };
                    crate::status!("{m} over {k} batches: {} ± {} (95% CI)", show(*v), show(*h));
                }
            }
        }
        if !report.jobs_csv && a.outputs.map_or(true, |o| o.jobs) {
            crate::status!(
                "note: jobs.csv was not written (--jobs-csv on to force it; see run.json)"
            );
        }
        crate::status!("results: {}", report.dir.display());
        for line in worst_lines(&report) {
            crate::status!("{line}");
        }
    }
    Ok(report)
}

/// The last lines of the run summary: the three nights with the highest window miss rate
/// (a night is one policy occurrence of one fleet; ties go to the earlier night), or,
/// in a run without nights, the three fleets with the highest miss rate. Only those with
/// a miss; one line saying none missed otherwise.
fn worst_lines(report: &RunReport) -> Vec<String> {
    if !report.nights.is_empty() {
        let mut nights: Vec<_> = report
            .nights
            .iter()
            .filter(|n| n.window_misses > 0)
            .collect();
        nights.sort_by(|a, b| b.miss_rate().total_cmp(&a.miss_rate()));
        if nights.is_empty() {
            return vec!["worst nights: none missed its window".into()];
        }
        let day = crate::engine::time::MICROS_PER_DAY;
        return nights
            .iter()
            .take(3)
            .map(|n| {
                let last = match n.last_finish_vs_window_s() {
                    Some(s) if s > 0.0 => {
                        format!("; last finish {} after the window", crate::units::fmt_duration(s))
                    }
                    Some(s) => format!(
                        "; last finish {} before the window's end",
                        crate::units::fmt_duration(-s)
                    ),
                    None => String::new(),
                };
                let open = if n.in_flight > 0 {
                    format!(", {} still running at the end", n.in_flight)
                } else {
                    String::new()
                };
                format!(
                    "worst night: policy {}, fleet {}, night {} (day {}, {}): {} of {} jobs missed the window ({:.1} %), {} failed{open}{last}",
                    n.policy,
                    n.fleet,
                    n.night,
                    n.scheduled_at.as_micros() / day,
                    crate::outputs::results::nights::WEEKDAYS[n.weekday as usize % 7],
                    n.window_misses,
                    n.scheduled,
                    100.0 * n.miss_rate(),
                    n.failed,
                )
            })
            .collect();
    }
    let mut fleets: Vec<(&str, f64, f64)> = report
        .summary
        .iter()
        .filter_map(|(k, v)| {
            let name = k
                .strip_prefix("fleet.")?
                .strip_suffix(".backup.window.miss_rate")?;
            let misses = report
                .summary
                .get(&format!("fleet.{name}.backup.window.misses"))?;
            (*misses > 0.0).then_some((name, *v, *misses))
        })
        .collect();
    fleets.sort_by(|a, b| b.1.total_cmp(&a.1));
    fleets
        .iter()
        .take(3)
        .map(|(name, rate, misses)| {
            format!(
                "worst fleet: {name}: window miss rate {:.1} % ({misses} misses)",
                100.0 * rate
            )
        })
        .collect()
}

/// `backupsim validate`: loads and checks, prints a one-line summary.
pub fn validate(
    scenario: &Path,
    sets: &[String],
    deny_warnings: bool,
    json: bool,
) -> Result<String> {
    let l = load(scenario, sets)?;
    crate::scenario::warnings::report(&l, deny_warnings)?;
    let s = &l.scenario;
    let vms: u64 = s.fleet.iter().map(|f| f.count as u64).sum();
    if json {
        let warnings: Vec<serde_json::Value> = l
            .warnings
            .iter()
            .map(|w| {
                serde_json::json!({"file": w.file, "line": w.line, "column": w.column,
                    "key": w.key, "message": w.message})
            })
            .collect();
        let estimate: Vec<String> = crate::scenario::estimate::estimate(s)
            .iter()
            .map(|e| e.to_string())
            .collect();
        let doc = serde_json::json!({
            "scenario": scenario.display().to_string(),
            "ok": true,
            "fleets": s.fleet.len(), "vms": vms, "vaults": s.vault.len(),
            "policies": s.policy.len(), "links": s.link.len(), "restores": s.restore.len(),
            "duration": s.simulation.duration.to_string(),
            "warnings": warnings, "notes": l.notes, "estimate": estimate,
        });
        return Ok(serde_json::to_string_pretty(&doc).expect("JSON of plain values"));
    }
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
    let estimate = crate::scenario::estimate::report(s);
    if !estimate.is_empty() {
        out.push_str(&format!("\n{estimate}"));
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
pub fn check(
    target: &Path,
    sets: &[String],
    quiet: bool,
    deny_warnings: bool,
    json: bool,
) -> Result<(String, bool)> {
    let no_bounds = |file: &Path| {
        Error::input(
            file.display().to_string(),
            "expected at least one [[expect]] bound to check, found none: add e.g. [[expect]] metric = \"backup.success_rate\" min = 0.99 (see docs/scenario.md)",
        )
    };
    let (scenario, dir, warnings) = if target.is_dir() {
        let resolved = target.join("scenario.resolved.toml");
        let loaded = load(&resolved, &[])?;
        crate::scenario::warnings::report(&loaded, deny_warnings)?;
        let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
        let scenario = loaded.scenario;
        if scenario.expect.is_empty() {
            return Err(no_bounds(&resolved));
        }
        (scenario, target.to_path_buf(), warnings)
    } else {
        let args = RunArgs {
            scenario: target.to_path_buf(),
            sets: sets.to_vec(),
            quiet,
            no_plots: true,
            deny_warnings,
            ..RunArgs::default()
        };
        let loaded = load_with(target, None, sets)?;
        if loaded.scenario.expect.is_empty() {
            return Err(no_bounds(target));
        }
        let report = run_loaded(&loaded, &args)?;
        let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
        (loaded.scenario, report.dir, warnings)
    };
    let summary = crate::outputs::results::read::read_summary(&dir).map_err(|e| {
        Error::input(
            dir.join("summary.json").display().to_string(),
            e.to_string(),
        )
    })?;
    let expects: Vec<crate::outputs::compare::Expectation> = scenario
        .expect
        .iter()
        .map(|e| crate::outputs::compare::Expectation {
            metric: e.metric.clone(),
            min: e.min.map(|b| b.0),
            max: e.max.map(|b| b.0),
        })
        .collect();
    let report = crate::outputs::compare::check(&expects, &summary);
    if json {
        let mut doc = report.to_json();
        doc["results"] = dir.display().to_string().into();
        doc["warnings"] = warnings.into();
        let text = serde_json::to_string_pretty(&doc).expect("JSON of plain values");
        return Ok((text, report.passed()));
    }
    Ok((report.to_string(), report.passed()))
}

/// `backupsim plot DIR`: re-renders the plots of a results directory, or of a sweep
/// directory (one with `sweep.csv`): the metrics recorded in its `sweep.json`, or the
/// defaults when none are (or the sweep was run with `--no-plots`).
pub fn plot(dir: &Path) -> Result<Vec<PathBuf>> {
    if dir.join("sweep.csv").is_file() && dir.join("sweep.json").is_file() {
        let recorded = std::fs::read_to_string(dir.join("sweep.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<crate::outputs::sweeps::Definition>(&t).ok())
            .and_then(|d| d.plot_metrics)
            .filter(|m| !m.is_empty());
        let metrics = recorded.unwrap_or_else(crate::outputs::sweeps::default_plot_metrics);
        // Plots are written under the sweep's aggregation lock, as a sweep or merge does.
        let _lock = crate::outputs::sweeps::lock_waiting(
            &dir.join(crate::outputs::sweeps::AGGREGATE_LOCK),
            "backupsim plot",
            &mut |h| {
                crate::status!(
                    "waiting for {h} to finish writing the aggregates of {}",
                    dir.display()
                )
            },
        )?;
        return crate::outputs::plots::render_sweep(dir, &metrics)
            .map_err(|e| Error::input(dir.display().to_string(), e.to_string()));
    }
    if !(dir.join("summary.json").is_file() && dir.join("run.json").is_file()) {
        return Err(Error::input(
            dir.display().to_string(),
            "expected a results directory (with summary.json and run.json) or a sweep directory (with sweep.json and sweep.csv), found neither; nothing was written",
        ));
    }
    crate::outputs::plots::render(dir)
        .map_err(|e| Error::input(dir.display().to_string(), e.to_string()))
}

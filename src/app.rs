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
    let loaded = load_with(&a.scenario, a.seed, &a.sets)?;
    if !a.quiet {
        for n in &loaded.notes {
            eprintln!("note: {n}");
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
    let report = run_to_dir(&loaded, &out, &opts)?;
    if !a.quiet {
        let g = |k: &str| report.summary.get(k).copied().unwrap_or(0.0);
        eprintln!(
            "{}: seed {}, {} events in {:.2} s ({:.0} events/s)",
            loaded.scenario.simulation.name,
            loaded.scenario.simulation.seed,
            report.events,
            report.wall_seconds,
            report.events as f64 / report.wall_seconds.max(1e-9)
        );
        eprintln!(
            "backups: {} succeeded, {} failed, {} unsupported (success rate {:.4}); p99 duration {}; window miss rate {:.4}",
            g("backup.jobs.succeeded"),
            g("backup.jobs.failed"),
            g("backup.jobs.unsupported"),
            g("backup.success_rate"),
            fmt_secs(g("backup.duration.p99")),
            g("backup.window.miss_rate"),
        );
        eprintln!("results: {}", report.dir.display());
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

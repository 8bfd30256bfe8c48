//! The command line: clap definitions, resolved once into the arguments of each command,
//! then dispatched; the one place that prints results and chooses the exit status.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::app;
use crate::error::{Error, Result};
use clap::{Parser, Subcommand};

/// Deterministic discrete-event simulator of a cloud VM backup fleet.
#[derive(Parser)]
#[command(name = "backupsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its results directory.
    Run(app::RunArgs),
    /// Check a scenario file without running it; print its warnings and a capacity
    /// estimate.
    Validate {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Override a scenario value (as for run).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Treat any warning as an error (exit 2) before anything runs.
        #[arg(long)]
        deny_warnings: bool,
        /// Print one JSON document on stdout (counts, warnings, notes, estimate).
        #[arg(long)]
        json: bool,
    },
    /// Check the scenario's [[expect]] bounds against a results directory (or run it first).
    /// Exit status 1 when a bound fails.
    Check {
        /// A scenario file (run first) or a results directory.
        target: PathBuf,
        /// Override a scenario value (when running a scenario).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// No progress or summary on stderr.
        #[arg(long)]
        quiet: bool,
        /// Treat any warning as an error (exit 2) before anything runs.
        #[arg(long)]
        deny_warnings: bool,
        /// Print one JSON document on stdout (each bound, value and verdict).
        #[arg(long, conflicts_with = "pin")]
        json: bool,
        /// Instead of checking: write [[expect]] bounds around the current values into
        /// the scenario file (min for higher-is-better metrics, max for the others).
        #[arg(long)]
        pin: bool,
        /// With --pin: the room left around each value (percent).
        #[arg(long, value_name = "PCT", requires = "pin")]
        tolerance: Option<String>,
        /// With --pin: the metrics to pin, as globs (default: backup.success_rate,
        /// backup.window.miss_rate, backup.duration.p99, rpo.p99).
        #[arg(long = "metrics", value_name = "GLOB", requires = "pin")]
        metrics: Vec<String>,
        /// With --pin: read the values from this results directory instead of running.
        #[arg(long, value_name = "RESULTS_DIR", requires = "pin")]
        from: Option<PathBuf>,
        /// With --pin: replace existing [[expect]] bounds of the same metrics.
        #[arg(long, requires = "pin")]
        force: bool,
    },
    /// Write a commented scenario to edit: one fleet, one vault, one link, a nightly
    /// policy, a restore drill and a few [[expect]] bounds.
    Init {
        /// VMs in the fleet.
        #[arg(long, default_value_t = 100)]
        vms: u32,
        /// Region of the fleet and the vault (its pair is added).
        #[arg(long, default_value = "japan-east")]
        region: String,
        /// The file to write (never overwritten).
        #[arg(long, default_value = "scenario.toml")]
        out: PathBuf,
    },
    /// Compare two results directories (two runs, or two sweeps point by point): the
    /// scenario keys that differ, then each metric that moved, better or worse. Exit status
    /// 1 when a metric with a direction got worse beyond the tolerance (not with --what-if).
    Compare {
        /// The baseline results directory.
        base: PathBuf,
        /// The new results directory.
        new: PathBuf,
        /// Relative change (percent) below which a metric counts as unchanged.
        #[arg(long, default_value_t = 1.0)]
        tolerance: f64,
        /// Print a GitHub Markdown table (for pull requests).
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
        /// Print one JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// A deliberate what-if: print the same report and exit 0 whatever moved.
        #[arg(long)]
        what_if: bool,
    },
    /// Re-render the plots of a results directory or of a sweep directory.
    Plot {
        /// The results directory, or a sweep directory (with sweep.csv).
        dir: PathBuf,
    },
    /// Run a grid of scenario variants x replications (see docs/sweeps.md).
    Sweep(app::SweepArgs),
    /// Find the least (or greatest) value of one key at which every [[expect]] holds
    /// (see docs/solve.md). Exit status 1 when no value in the range does.
    Solve(app::SolveArgs),
    /// Merge shard directories of one sweep into a complete sweep directory.
    Merge {
        /// Shard directories (written by `sweep --shard`).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// The merged sweep directory (may be one of the inputs).
        #[arg(long)]
        out: PathBuf,
        /// Skip rendering plots (by default those recorded in sweep.json).
        #[arg(long)]
        no_plots: bool,
        /// Keep the run directories in --out once the aggregates are written (as `sweep
        /// --keep-runs`).
        #[arg(long)]
        keep_runs: bool,
        /// No summary on stderr.
        #[arg(long)]
        quiet: bool,
    },
    /// Say how far a sweep is: runs done, running, failed and remaining across its
    /// directories, and an estimate of the time left (works while shards run).
    Status {
        /// The sweep directory, and any other directories its shards write.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format.
    Schema,
}

/// Parses the process arguments, runs the command and returns the exit status.
pub fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // A help text cut short by a closed pipe is not an error.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    app::tune_allocator();
    app::handle_signals();
    let result: Result<i32> = match cli.command {
        Command::Run(mut a) => {
            a.command_line = argv;
            app::run(&a).map(|_| 0)
        }
        Command::Validate {
            scenario,
            sets,
            deny_warnings,
            json,
        } => app::validate(&scenario, &sets, deny_warnings, json)
            .and_then(|msg| emit(&msg).map(|_| 0)),
        Command::Check {
            target,
            sets,
            quiet,
            deny_warnings,
            pin: true,
            tolerance,
            metrics,
            from,
            force,
            ..
        } => {
            let a = app::PinArgs {
                scenario: target,
                tolerance,
                metrics,
                from,
                force,
                quiet,
                deny_warnings,
            };
            app::pin(&a, &sets).and_then(|msg| emit(&msg).map(|_| 0))
        }
        Command::Check {
            target,
            sets,
            quiet,
            deny_warnings,
            json,
            ..
        } => app::check(&target, &sets, quiet || json, deny_warnings, json)
            .and_then(|(table, ok)| emit(&table).map(|_| if ok { 0 } else { 1 })),
        Command::Init { vms, region, out } => {
            app::init(vms, &region, &out).and_then(|msg| emit(&msg).map(|_| 0))
        }
        Command::Compare {
            base,
            new,
            tolerance,
            markdown,
            json,
            what_if,
        } => {
            let a = app::CompareArgs {
                base,
                new,
                tolerance_pct: tolerance,
                markdown,
                json,
            };
            app::compare(&a).and_then(|r| emit(&r.text).map(|_| i32::from(r.regressed && !what_if)))
        }
        Command::Plot { dir } => app::plot(&dir).and_then(|files| {
            let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            emit(&list.join("\n")).map(|_| 0)
        }),
        Command::Sweep(mut a) => {
            a.command_line = argv;
            app::sweep(&a).map(|_| 0)
        }
        Command::Solve(a) => app::solve(&a)
            .and_then(|r| emit(&r.line).map(|_| if r.value.is_some() { 0 } else { 1 })),
        Command::Merge {
            dirs,
            out,
            no_plots,
            keep_runs,
            quiet,
        } => app::merge(&dirs, &out, quiet, !no_plots, keep_runs, &argv).map(|_| 0),
        Command::Status { dirs } => {
            app::status(&dirs).and_then(|r| emit(r.text.trim_end()).map(|_| 0))
        }
        Command::Schema => emit(&app::schema()).map(|_| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(Error::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => {
            crate::status!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// Prints `text` and a newline on stdout. A closed pipe (`backupsim schema | head -1`) ends
/// the command quietly with status 0, as ripgrep does; any other write failure (a full
/// device) is an error naming standard output.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Error::BrokenPipe),
        Err(e) => Err(Error::io("standard output", e)),
    }
}

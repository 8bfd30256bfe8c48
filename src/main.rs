//! The `backupsim` binary: parses arguments and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use backupsim::app;
use backupsim::error::{Error, Result};
use clap::{Parser, Subcommand, ValueEnum};

/// Deterministic discrete-event simulator of a cloud VM backup fleet.
#[derive(Parser)]
#[command(name = "backupsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its results directory.
    Run {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Seed (same as --set simulation.seed=N).
        #[arg(long)]
        seed: Option<u64>,
        /// Override a scenario value: dotted key, arrays of tables by name
        /// (e.g. fleet.web.count=5000, link.wan.bandwidth="2 Gbit/s").
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Results directory (default: results/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// No progress bar or summary on stderr.
        #[arg(long)]
        quiet: bool,
        /// Write jobs.csv (default: on up to 2 million expected jobs).
        #[arg(long, value_enum)]
        jobs_csv: Option<OnOff>,
        /// Skip rendering plots.
        #[arg(long)]
        no_plots: bool,
        /// Refuse a run whose estimated memory exceeds SIZE (e.g. "4 GiB"; default: the
        /// memory available now).
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        memory_limit: Option<u64>,
    },
    /// Check a scenario file without running it.
    Validate {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Override a scenario value (as for run).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
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
    },
    /// Compare two results directories. Exit status 1 when a metric regressed.
    Compare {
        /// The baseline results directory.
        base: PathBuf,
        /// The new results directory.
        new: PathBuf,
        /// Relative change (percent) below which a metric counts as unchanged.
        #[arg(long, default_value_t = 1.0)]
        tolerance: f64,
        /// Print a GitHub Markdown table (for pull requests).
        #[arg(long)]
        markdown: bool,
    },
    /// Re-render the plots of a results directory or of a sweep directory.
    Plot {
        /// The results directory, or a sweep directory (with sweep.csv).
        dir: PathBuf,
    },
    /// Run a grid of scenario variants x replications (see docs/sweeps.md).
    Sweep {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Vary a scenario value over comma-separated values (same keys as --set; commas
        /// inside "...", [...] or {...} belong to a value). Repeatable: the grid is the
        /// Cartesian product, the first --vary varying slowest.
        #[arg(long = "vary", value_name = "KEY=V1,V2,...")]
        vary: Vec<String>,
        /// Replications (independently seeded runs) per point.
        #[arg(long, default_value_t = backupsim::sweep::DEFAULT_REPLICATIONS)]
        replications: u32,
        /// Runs in parallel (default: the number of CPUs); results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Run only shard I of N (runs whose index % N == I), or `auto` to read a Slurm
        /// array task / Kubernetes indexed job from the environment.
        #[arg(long, value_name = "I/N|auto")]
        shard: Option<String>,
        /// Number of shards for `--shard auto` in a Kubernetes indexed job.
        #[arg(long, value_name = "N")]
        shards: Option<u32>,
        /// Sweep directory (default: results/<scenario name>-sweep).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a scenario value in every run (as for run).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Write each run's jobs.csv (default: off in sweeps).
        #[arg(long, value_enum, default_value = "off")]
        jobs_csv: OnOff,
        /// Give replication r the same seed at every point (common random numbers).
        #[arg(long)]
        common_seeds: bool,
        /// Plot this metric of sweep.csv against each varied key (repeatable; default
        /// backup.duration.p99, backup.success_rate, backup.window.miss_rate).
        #[arg(long = "plot-metric", value_name = "METRIC")]
        plot_metrics: Vec<String>,
        /// Skip rendering plots (also for a later merge).
        #[arg(long, conflicts_with = "plot_metrics")]
        no_plots: bool,
        /// No progress bar or summary on stderr.
        #[arg(long)]
        quiet: bool,
        /// Refuse a sweep whose estimated memory (parallel runs plus what the sweep holds
        /// per run) exceeds SIZE (e.g. "16 GiB"; default: the memory available now).
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        memory_limit: Option<u64>,
    },
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
        /// No summary on stderr.
        #[arg(long)]
        quiet: bool,
    },
    /// Print the JSON Schema of the scenario format.
    Schema,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // A help text cut short by a closed pipe is not an error.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    app::handle_signals();
    let result: Result<i32> = match cli.command {
        Command::Run {
            scenario,
            seed,
            sets,
            out,
            quiet,
            jobs_csv,
            no_plots,
            memory_limit,
        } => app::run(&app::RunArgs {
            scenario,
            seed,
            sets,
            out,
            quiet,
            jobs_csv: jobs_csv.map(|j| matches!(j, OnOff::On)),
            no_plots,
            command_line: argv,
            memory_limit,
        })
        .map(|_| 0),
        Command::Validate { scenario, sets } => {
            app::validate(&scenario, &sets).and_then(|msg| emit(&msg).map(|_| 0))
        }
        Command::Check {
            target,
            sets,
            quiet,
        } => app::check(&target, &sets, quiet)
            .and_then(|(table, ok)| emit(&table).map(|_| if ok { 0 } else { 1 })),
        Command::Compare {
            base,
            new,
            tolerance,
            markdown,
        } => app::compare(&base, &new, tolerance, markdown)
            .and_then(|(table, regressed)| emit(&table).map(|_| i32::from(regressed))),
        Command::Plot { dir } => app::plot(&dir).and_then(|files| {
            let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            emit(&list.join("\n")).map(|_| 0)
        }),
        Command::Sweep {
            scenario,
            vary,
            replications,
            threads,
            shard,
            shards,
            out,
            sets,
            jobs_csv,
            common_seeds,
            plot_metrics,
            no_plots,
            quiet,
            memory_limit,
        } => backupsim::sweep::sweep(&backupsim::sweep::SweepArgs {
            scenario,
            vary,
            replications,
            threads,
            shard,
            shards,
            out,
            sets,
            quiet,
            jobs_csv: matches!(jobs_csv, OnOff::On),
            common_seeds,
            plot_metrics,
            no_plots,
            command_line: argv,
            memory_limit,
        })
        .map(|_| 0),
        Command::Merge {
            dirs,
            out,
            no_plots,
            quiet,
        } => backupsim::sweep::merge(&dirs, &out, quiet, !no_plots).map(|_| 0),
        Command::Schema => emit(&app::schema()).map(|_| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(Error::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => {
            backupsim::status!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// `--memory-limit` values: sizes as in scenario files ("4 GiB", "512 MB").
fn parse_size(s: &str) -> std::result::Result<u64, String> {
    backupsim::scenario::units::Size::parse(s).map(|b| b.0)
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

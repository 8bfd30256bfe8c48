//! The `sweep` and `merge` commands: run a grid in parallel, shard it, resume it, merge
//! shards, and say how far an interrupted sweep got.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use rayon::prelude::*;

use super::{parse_on_off, run_to_dir, RunOptions};
use crate::error::{io_at as io, Error, Result};
use crate::outputs::results::{
    claim_out_dir, clean_staging, write_atomic, Cleanup, OutKind, Outputs,
};
use crate::outputs::sweeps::*;
use crate::scenario::{load_str, memory};

mod define;
pub use define::define;
// ---------------------------------------------------------------------------------------
// Interruption.

static ACTIVE: AtomicBool = AtomicBool::new(false);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static DONE: AtomicUsize = AtomicUsize::new(0);
static TOTAL: AtomicUsize = AtomicUsize::new(0);
/// Runs of this invocation stopped at `--run-max-events`.
static CUT_SHORT: AtomicUsize = AtomicUsize::new(0);
/// Of those, runs stopped at `--run-max-wall`.
static CUT_WALL: AtomicUsize = AtomicUsize::new(0);
static OUT_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Called by the Ctrl-C handler: stops new runs from starting and, when a sweep is in
/// progress, returns the message to print (how many runs are complete and how to resume).
/// The caller then removes in-flight staging directories and exits.
pub fn interrupt() -> Option<String> {
    INTERRUPTED.store(true, Ordering::SeqCst);
    if !ACTIVE.load(Ordering::SeqCst) {
        return None;
    }
    let out = OUT_DIR
        .lock()
        .ok()
        .and_then(|o| o.clone())
        .map(|p| format!(" in {}", p.display()))
        .unwrap_or_default();
    Some(format!(
        "interrupted: {} of {} runs complete{out}; re-run the same command to resume (complete runs are kept and skipped)",
        DONE.load(Ordering::SeqCst),
        TOTAL.load(Ordering::SeqCst)
    ))
}

// ---------------------------------------------------------------------------------------
// Commands.

/// Arguments of `backupsim sweep`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SweepArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Vary a scenario value over comma-separated values (same keys as --set; commas
    /// inside "...", [...] or {...} belong to a value). Repeatable: the grid is the
    /// Cartesian product, the first --vary varying slowest.
    #[arg(long = "vary", value_name = "KEY=V1,V2,...")]
    pub vary: Vec<String>,
    /// Replications (independently seeded runs) per point.
    #[arg(long, default_value_t = crate::outputs::sweeps::DEFAULT_REPLICATIONS)]
    pub replications: u32,
    /// Runs in parallel (default: the number of CPUs); results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run only shard I of N (runs whose index % N == I), or `auto` to read a Slurm
    /// array task from the environment.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
    /// Number of shards for `--shard auto` when the environment gives only the index
    /// (JOB_COMPLETION_INDEX).
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// Sweep directory (default: results/<scenario name>-sweep).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override a scenario value in every run (as for run).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Write each run's jobs.csv (default: off in sweeps); the same as adding jobs to
    /// --outputs.
    #[arg(long, value_name = "on|off", value_parser = parse_on_off, default_value = "off", action = clap::ArgAction::Set)]
    pub jobs_csv: bool,
    /// The files each run writes, comma-separated: summary,histograms,timeseries,jobs,
    /// nights (default: summary,histograms, what the aggregates read).
    #[arg(long, value_name = "LIST", value_parser = super::parse_outputs)]
    pub outputs: Option<Outputs>,
    /// Stop each run after N events and record it as cut short (runs.csv column
    /// cut_short); the sweep goes on.
    #[arg(long, value_name = "N", value_parser = super::parse_max_events)]
    pub run_max_events: Option<u64>,
    /// Stop each run after this much wall-clock time (e.g. "10m") and record it as cut
    /// short (runs.csv columns run.cut_short and run.cut_short_wall); the sweep goes on.
    /// Such runs depend on the machine's speed: outside the determinism guarantee.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_max_wall)]
    pub run_max_wall: Option<std::time::Duration>,
    /// Give replication r the same seed at every point (common random numbers).
    #[arg(long)]
    pub common_seeds: bool,
    /// With --common-seeds: the point that sweep.csv's paired differences are taken
    /// against, as a point id (p001) or KEY=VALUE,... assignments (default: the first point).
    #[arg(long, value_name = "POINT")]
    pub baseline: Option<String>,
    /// Add replications to each point until this metric's 95% CI half-width is within
    /// HALFWIDTH of its mean (relative: 2% or 0.02); repeatable. --replications is the
    /// starting count.
    #[arg(long = "target", value_name = "METRIC=HALFWIDTH")]
    pub targets: Vec<String>,
    /// The most replications a point gets with --target (default: 10 x --replications).
    #[arg(long, value_name = "N")]
    pub max_replications: Option<u32>,
    /// Plot this metric of sweep.csv against each varied key (repeatable; default
    /// backup.duration.p99, backup.success_rate, backup.window.miss_rate).
    #[arg(long = "plot-metric", value_name = "METRIC")]
    pub plot_metrics: Vec<String>,
    /// Skip rendering plots (also for a later merge).
    #[arg(long, conflicts_with = "plot_metrics")]
    pub no_plots: bool,
    /// Keep each run's directory (runs/<point>/rep-<r>/) once the aggregates are written.
    /// By default they are removed then: runs.csv, costs.csv, sweep.csv and points/ hold
    /// what the aggregates, compare and status read.
    #[arg(long)]
    pub keep_runs: bool,
    /// No progress bar or summary on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Treat any warning as an error (exit 2) before anything runs.
    #[arg(long)]
    pub deny_warnings: bool,
    /// The command line, recorded in each run's run.json.
    #[arg(skip)]
    pub command_line: Vec<String>,
    /// Check every point's scenario and the sweep directory, then stop: run nothing,
    /// write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse a sweep whose estimated memory (parallel runs plus what the sweep holds
    /// per run) exceeds SIZE (e.g. "16 GiB"; default: the memory available now).
    #[arg(long, value_name = "SIZE", value_parser = super::parse_size)]
    pub memory_limit: Option<u64>,
}

/// What a sweep did.
#[derive(Debug, Clone)]
pub struct SweepReport {
    /// The sweep directory.
    pub dir: PathBuf,
    /// Runs of this invocation's scope (its shard, or all).
    pub scope: usize,
    /// Runs simulated now.
    pub ran: usize,
    /// Runs already complete and skipped.
    pub skipped: usize,
    /// Whether the aggregates were written (not for a shard).
    pub aggregated: bool,
}

fn progress_bar(total: usize, done: usize, quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} sweep [{bar:30}] {pos}/{len} runs, {elapsed} elapsed, eta {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    pb.set_position(done as u64);
    Some(pb)
}

/// Removes the staging directories of `run` that killed processes left
/// (`runs/<point>/.rep-<r>.partial-*`), saying so on stderr (even with `--quiet`: it is
/// neither progress nor summary). Called only for runs of this process's shard, while
/// it holds the shard's lock: no other process may be writing them (a staging directory of
/// a process still running on this machine is left alone all the same).
fn clean_stale(dir: &Path, run: &Run) {
    for note in clean_staging(&dir.join(run.rel_dir()), Cleanup::UnlessRunning) {
        crate::status!("note: {note}");
    }
}

/// Writes the aggregates, `points/` and (when `plots`) the plots of a sweep directory whose runs are all
/// complete, holding its aggregation lock (waiting for another process that holds it).
/// First removes the `points/` staging directories that a process killed while aggregating
/// left (`.points.partial-*`): whoever writes one holds this lock.
pub(super) fn write_aggregates(
    out: &Path,
    def: &Definition,
    what: &str,
    plots: bool,
    quiet: bool,
    keep_runs: bool,
) -> Result<()> {
    let _lock = lock_waiting(&out.join(AGGREGATE_LOCK), what, &mut |h| {
        if !quiet {
            crate::status!(
                "waiting for {h} to finish writing the aggregates of {}",
                out.display()
            );
        }
    })?;
    for note in clean_staging(&out.join("points"), Cleanup::UnlessRunning) {
        crate::status!("note: {note}");
    }
    aggregate(out, def)?;
    // Complete now, whoever ran the runs: shard markers no longer describe it.
    let _ = std::fs::remove_dir_all(out.join("shards"));
    if plots {
        render_plots(out, &def.plot_metrics(), quiet)?;
    }
    if !keep_runs {
        drop_runs(out)?;
    }
    Ok(())
}

/// `sweep --dry-run`: every point's scenario is valid (checked by [`define`]) and `out` may
/// take this sweep (a new directory, or one of this sweep that no process is writing).
fn dry_run(
    a: &SweepArgs,
    def: &Definition,
    out: &Path,
    shard: Option<Shard>,
) -> Result<SweepReport> {
    let all = def.runs();
    let mine = all.iter().filter(|r| def.owns(shard, r)).count();
    let mut state = "new".to_string();
    if out.is_dir() {
        check_same(out, def, "use another --out or remove it")?;
        if let Some((s, h)) = held_shard(out, None)? {
            return Err(Error::Usage(format!(
                "{}: {h} is writing shard {}/{} there; wait for it to finish, or stop it, before running this sweep there",
                out.display(),
                s.index,
                s.count
            )));
        }
        let done = all
            .iter()
            .filter(|r| complete(&out.join(r.rel_dir())))
            .count();
        if runs_dropped(out) {
            state = "holds this sweep, finished (nothing to run)".to_string();
        } else if read_definition(out)?.is_some() {
            state = if def.targets.is_empty() {
                format!("holds this sweep, {done} of {} runs complete", all.len())
            } else {
                format!(
                    "holds this sweep, {done} of the first {} runs complete",
                    all.len()
                )
            };
        }
    }
    if !a.quiet {
        let scope = match shard {
            Some(s) => format!(" (shard {}/{}: {mine} runs)", s.index, s.count),
            None => String::new(),
        };
        crate::status!(
            "sweep {}: {} point(s) x {} replication(s) = {} runs{scope}; every point's scenario is valid; {}: {state}; nothing was run (--dry-run)",
            def.scenario_name,
            all.len() / def.replications as usize,
            def.replications,
            all.len(),
            out.display()
        );
    }
    Ok(SweepReport {
        dir: out.to_path_buf(),
        scope: mine,
        ran: 0,
        skipped: 0,
        aggregated: false,
    })
}

/// `backupsim sweep`.
/// `--shard` and `--threads`, resolved.
fn shard_and_threads(a: &SweepArgs) -> Result<(Option<Shard>, usize)> {
    let shard = a
        .shard
        .as_deref()
        .map(|s| parse_shard(s, a.shards, &|k| std::env::var(k).ok()))
        .transpose()?;
    if a.shards.is_some() && a.shard.is_none() {
        return Err(Error::Usage(
            "--shards N only goes with --shard auto".into(),
        ));
    }
    let threads = match a.threads {
        Some(0) => return Err(Error::Usage("--threads 0: expected at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    Ok((shard, threads))
}

/// Refuses a sweep whose estimated memory exceeds `--memory-limit`.
fn check_memory(a: &SweepArgs, def: &Definition, max_run: u64, threads: usize) -> Result<()> {
    let total = grid_runs(&def.vary, def.replications, "--replications")?;
    let concurrent = (threads as u64).min(total);
    memory::check(
        memory::sweep_bytes(max_run, concurrent, total),
        "the sweep",
        &format!(
            "{concurrent} run(s) at once of up to {} each, plus {} per run for the {total} runs",
            memory::fmt_bytes(max_run),
            memory::fmt_bytes(memory::SWEEP_BYTES_PER_RUN)
        ),
        memory::SWEEP_REMEDY,
        a.memory_limit,
    )
    .map_err(|m| Error::input(a.scenario.display().to_string(), m))
}

/// The files each run writes when the command line chose them (`--outputs`, with
/// `--jobs-csv on` adding jobs); `None`: the sweep default.
fn run_outputs(a: &SweepArgs) -> Option<Outputs> {
    match (a.outputs, a.jobs_csv) {
        (Some(o), on) => Some(Outputs {
            jobs: o.jobs || on,
            ..o
        }),
        (None, true) => Some(Outputs {
            jobs: true,
            ..Outputs::SWEEP_DEFAULT
        }),
        (None, false) => None,
    }
}

/// One run of the sweep into its directory; `Ok(false)` when it was not started (after
/// Ctrl-C or another run's failure).
fn run_one(
    a: &SweepArgs,
    def: &Definition,
    text: &str,
    out: &Path,
    r: &Run,
    failed: &AtomicBool,
    pb: Option<&indicatif::ProgressBar>,
) -> Result<bool> {
    // Checked before each run: after Ctrl-C or a failed run, start nothing new.
    if INTERRUPTED.load(Ordering::SeqCst) || failed.load(Ordering::SeqCst) {
        return Ok(false);
    }
    let mut sets = def.sets.clone();
    sets.extend(r.sets());
    let res = load_str(text, &a.scenario, &sets).and_then(|loaded| {
        let outputs = run_outputs(a).unwrap_or(Outputs::SWEEP_DEFAULT);
        let opts = RunOptions {
            jobs_csv: Some(outputs.jobs),
            outputs,
            max_events: a.run_max_events.unwrap_or(0),
            max_wall: a.run_max_wall,
            command_line: a.command_line.clone(),
            progress: false,
            plots: false,
            in_sweep: true,
            ..RunOptions::default()
        };
        run_to_dir(&loaded, &out.join(r.rel_dir()), &opts)
    });
    match res {
        Ok(report) => {
            DONE.fetch_add(1, Ordering::SeqCst);
            CUT_SHORT.fetch_add(usize::from(report.cut_short), Ordering::SeqCst);
            CUT_WALL.fetch_add(usize::from(report.cut_short_wall), Ordering::SeqCst);
            if let Some(pb) = pb {
                pb.inc(1);
            }
            Ok(true)
        }
        Err(e) => {
            failed.store(true, Ordering::SeqCst);
            Err(Error::Usage(format!(
                "run {} (seed {}): {e}",
                r.label(),
                r.seed
            )))
        }
    }
}

/// `backupsim sweep`.
pub fn sweep(a: &SweepArgs) -> Result<SweepReport> {
    let (shard, threads) = shard_and_threads(a)?;
    let (def, text, max_run) = define(a)?;
    check_memory(a, &def, max_run, threads)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(format!("{}-sweep", def.scenario_name)));
    // A sweep resumes in its own directory; it never replaces one.
    claim_out_dir(&out, OutKind::Sweep)?;
    if a.dry_run {
        return dry_run(a, &def, &out, shard);
    }
    io(&out, std::fs::create_dir_all(&out))?;
    // The shard's lock, held until the end: a second process on the same runs refuses.
    let me = shard.unwrap_or(Shard { index: 0, count: 1 });
    let what = match shard {
        Some(s) => format!("backupsim sweep --shard {}/{}", s.index, s.count),
        None => "backupsim sweep".to_string(),
    };
    let _lock = lock_shard(&out, me, &what)?;
    check_same(&out, &def, "use another --out or remove it")?;
    clean_dropping(&out);
    write_definition(&out, &def)?;
    if runs_dropped(&out) {
        return finished(a, &def, &out, &what);
    }

    let all = def.runs();
    let locate = |r: &Run| {
        let d = out.join(r.rel_dir());
        complete(&d).then_some(d)
    };
    let my_points: Vec<Point> = def
        .points()
        .into_iter()
        .filter(|p| def.targets.is_empty() || shard.map_or(true, |s| s.owns(p.index)))
        .collect();
    let mut cache = SummaryCache::default();
    // The runs this process still has to do: the missing runs of the first round, then,
    // with targets, one more replication for each of its points still short.
    let next_round = |cache: &mut SummaryCache| -> Result<(Vec<Run>, usize)> {
        let mut todo = Vec::new();
        let mut done = 0;
        for p in &my_points {
            match point_state(&def, p, &locate, cache)? {
                PointState::Done(n) => {
                    done += (0..n).filter(|&r| def.owns(shard, &def.run(p, r))).count()
                }
                PointState::Need(v) => {
                    let owned = |r: &Run| def.owns(shard, r);
                    done += (0..def.cap())
                        .map(|r| def.run(p, r))
                        .filter(|r| owned(r) && locate(r).is_some())
                        .count();
                    todo.extend(v.iter().map(|&r| def.run(p, r)).filter(owned));
                }
            }
        }
        Ok((todo, done))
    };
    let (todo, skipped) = next_round(&mut cache)?;
    let first_scope = all.iter().filter(|r| def.owns(shard, r)).count();
    for r in &todo {
        clean_stale(&out, r);
    }

    DONE.store(skipped, Ordering::SeqCst);
    CUT_SHORT.store(0, Ordering::SeqCst);
    CUT_WALL.store(0, Ordering::SeqCst);
    TOTAL.store(first_scope.max(skipped + todo.len()), Ordering::SeqCst);
    if let Ok(mut o) = OUT_DIR.lock() {
        *o = Some(out.clone());
    }
    let start = Instant::now();
    let rounds = Rounds {
        a,
        def: &def,
        text: &text,
        out: &out,
        threads,
    };
    let (ran, scope) = rounds.run(todo, skipped, &mut |c| next_round(c), &mut cache)?;
    let aggregated = match shard {
        Some(s) => {
            let marker =
                serde_json::json!({ "shard": format!("{}/{}", s.index, s.count), "runs": scope });
            let text = serde_json::to_string_pretty(&marker).expect("json") + "\n";
            write_atomic(
                &out.join("shards")
                    .join(format!("{}-of-{}.json", s.index, s.count)),
                text.as_bytes(),
            )?;
            false
        }
        None => {
            write_aggregates(&out, &def, &what, true, a.quiet, a.keep_runs)?;
            true
        }
    };
    if !a.quiet {
        let scope = scope_text(&def, shard, scope, my_points.len());
        crate::status!(
            "sweep {}: {scope}; {ran} run now, {skipped} already complete; {:.1} s on {threads} thread(s)",
            def.scenario_name,
            start.elapsed().as_secs_f64()
        );
        print_notes(&def, &out, ran, aggregated);
    }
    Ok(SweepReport {
        dir: out,
        scope,
        ran,
        skipped: scope - ran,
        aggregated,
    })
}

/// What the rounds of one sweep invocation share.
struct Rounds<'a> {
    a: &'a SweepArgs,
    def: &'a Definition,
    text: &'a str,
    out: &'a Path,
    threads: usize,
}

/// The runs still to do, and how many of this invocation's scope are complete.
type NextRound<'c> = dyn FnMut(&mut SummaryCache) -> Result<(Vec<Run>, usize)> + 'c;

impl Rounds<'_> {
    /// Runs `todo` in parallel, then each further round `next_round` asks for (with
    /// targets: one more replication of each point still short), until none is left, a
    /// run fails or the sweep is interrupted. Returns the runs simulated and the runs of
    /// the scope complete.
    fn run(
        &self,
        mut todo: Vec<Run>,
        skipped: usize,
        next_round: &mut NextRound<'_>,
        cache: &mut SummaryCache,
    ) -> Result<(usize, usize)> {
        let (a, threads) = (self.a, self.threads);
        ACTIVE.store(true, Ordering::SeqCst);
        let pb = progress_bar(TOTAL.load(Ordering::SeqCst), skipped, a.quiet);
        let failed = AtomicBool::new(false);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.min(todo.len().max(1)))
            .build()
            .map_err(|e| {
                Error::Usage(format!(
                    "--threads {threads}: cannot start the thread pool: {e}"
                ))
            })?;
        let (mut ran, mut scope, mut result) = (0, skipped, Ok(()));
        while !todo.is_empty() {
            let results: Vec<Result<bool>> = pool.install(|| {
                todo.par_iter()
                    .map(|r| run_one(a, self.def, self.text, self.out, r, &failed, pb.as_ref()))
                    .collect()
            });
            for r in results {
                match r {
                    Ok(true) => ran += 1,
                    Ok(false) => {}
                    Err(e) if result.is_ok() => result = Err(e),
                    Err(_) => {}
                }
            }
            if result.is_err() || INTERRUPTED.load(Ordering::SeqCst) {
                break;
            }
            // Decided from the runs on disk: the same whatever ran them, in whichever order.
            let (more, done) = next_round(cache)?;
            scope = done;
            for r in &more {
                clean_stale(self.out, r);
            }
            if !more.is_empty() {
                TOTAL.fetch_add(more.len(), Ordering::SeqCst);
                if let Some(pb) = &pb {
                    pb.set_length(TOTAL.load(Ordering::SeqCst) as u64);
                }
            }
            todo = more;
        }
        ACTIVE.store(false, Ordering::SeqCst);
        if let Some(pb) = &pb {
            pb.finish_and_clear();
        }
        result?;
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err(Error::Interrupted(format!(
                "{} of {} runs complete; re-run the same command to resume",
                DONE.load(Ordering::SeqCst),
                TOTAL.load(Ordering::SeqCst)
            )));
        }
        Ok((ran, scope))
    }
}

/// The notes after a sweep's summary line: runs cut short, and where the results are.
fn print_notes(def: &Definition, out: &Path, ran: usize, aggregated: bool) {
    let (cut, wall) = (
        CUT_SHORT.load(Ordering::SeqCst),
        CUT_WALL.load(Ordering::SeqCst),
    );
    if cut > wall {
        crate::status!(
            "note: {} of the {ran} runs simulated now were cut short at --run-max-events (run.cut_short = 1 in their summary.json and in runs.csv)",
            cut - wall
        );
    }
    if wall > 0 {
        crate::status!(
            "note: {wall} of the {ran} runs simulated now were stopped at --run-max-wall (run.cut_short_wall = 1): where they stopped depends on this machine's speed, so the aggregates are outside the determinism guarantee"
        );
    }
    if aggregated {
        let plots = if def.plot_metrics().is_empty() || def.vary.is_empty() {
            ""
        } else {
            ", plots/"
        };
        crate::status!(
            "results: {} (sweep.csv, runs.csv, points/{plots})",
            out.display()
        );
    } else {
        crate::status!("results: {} (runs only; when every shard is done: backupsim merge <shard dirs...> --out DIR)", out.display());
    }
}

/// A sweep command on a finished sweep whose run directories were removed: nothing to
/// run or aggregate again; the plots are redrawn from sweep.csv (the command may name
/// other metrics).
fn finished(a: &SweepArgs, def: &Definition, out: &Path, what: &str) -> Result<SweepReport> {
    let runs = read_runs(out, def)?.len();
    let metrics = def.plot_metrics();
    if !metrics.is_empty() {
        let _lock = lock_waiting(&out.join(AGGREGATE_LOCK), what, &mut |_| {})?;
        render_plots(out, &metrics, a.quiet)?;
    }
    if !a.quiet {
        crate::status!(
            "sweep {}: 0 run now, {runs} already complete (finished: runs.csv holds them, their directories were removed once aggregated); results: {}",
            def.scenario_name,
            out.display()
        );
    }
    Ok(SweepReport {
        dir: out.to_path_buf(),
        scope: runs,
        ran: 0,
        skipped: runs,
        aggregated: false,
    })
}

/// What this invocation covered, in words: its shard, points and runs.
fn scope_text(def: &Definition, shard: Option<Shard>, runs: usize, my_points: usize) -> String {
    let all = def.runs().len();
    let points = all / def.replications as usize;
    match shard {
        Some(s) if def.targets.is_empty() => {
            format!("shard {}/{}: {runs} of {all} runs", s.index, s.count)
        }
        Some(s) => format!(
            "shard {}/{}: {my_points} of {points} points, {runs} runs",
            s.index, s.count
        ),
        None if def.targets.is_empty() => format!(
            "{points} point(s) x {} replication(s) = {all} runs",
            def.replications
        ),
        None => format!(
            "{points} point(s), {} to {} replication(s) each until the targets are met: {runs} runs",
            def.replications,
            def.cap(),
        ),
    }
}

/// Renders the sweep plots of `dir` (see [`crate::outputs::plots::render_sweep`]). Unless `quiet`,
/// notes on stderr the metrics that got no plot (not in `sweep.csv`, or never reported).
pub fn render_plots(dir: &Path, metrics: &[String], quiet: bool) -> Result<Vec<PathBuf>> {
    let written = crate::outputs::plots::render_sweep(dir, metrics).map_err(|e| Error::Io {
        path: dir.join("plots"),
        source: std::io::Error::other(e.to_string()),
    })?;
    if !quiet {
        let keys = read_definition(dir)
            .ok()
            .flatten()
            .map_or(0, |d| d.vary.len());
        for m in metrics {
            let prefix = format!("sweep_{}_by_", crate::outputs::plots::sanitize_name(m));
            let drawn = written.iter().any(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
            });
            if keys > 0 && !drawn {
                crate::status!("note: no plot of {m}: sweep.csv has no value of it");
            }
        }
    }
    Ok(written)
}

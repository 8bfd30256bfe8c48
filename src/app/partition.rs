//! `run --partition auto|I/N` and the merge of part directories: a run split into its
//! independent components (`model::partition`), simulated in threads or as separate
//! processes, and merged into one results directory (`outputs::results::partition`).

use std::path::{Path, PathBuf};

use crate::error::{io_at as io, Error, Result};
use crate::model::partition::{assign, components, sub_config};
use crate::outputs::results::partition::{merge, read_part, Layout, Merged, PartInfo, PART_FILE};
use crate::outputs::results::*;
use crate::scenario::Loaded;

use super::run::{run_to_dir, RunOptions, RunRecord, RunReport};

/// How a run is split (`--partition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    /// One simulation of the whole scenario, however it splits.
    Off,
    /// Every component as a part, on as many threads as the machine has cores, merged
    /// into one results directory.
    Auto,
    /// Only part `0` (1-based) of `1`, written as a part directory.
    Part(usize, usize),
}

/// Parses `off`, `auto` or `I/N` (1 ≤ I ≤ N).
pub fn parse_partition(s: &str) -> std::result::Result<Partition, String> {
    match s {
        "off" => return Ok(Partition::Off),
        "auto" => return Ok(Partition::Auto),
        _ => {}
    }
    let bad = || format!("expected `off`, `auto` or I/N with 1 <= I <= N (e.g. 1/4), found `{s}`");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if i == 0 || i > n {
        return Err(bad());
    }
    Ok(Partition::Part(i, n))
}

/// The part `i` (1-based) of `n` of `loaded`, and what its marker records.
fn part_of(loaded: &Loaded, i: usize, n: usize) -> (Loaded, PartInfo) {
    let parts = assign(&components(&loaded.config), n);
    let config = sub_config(&loaded.config, &parts[i - 1]);
    let info = PartInfo {
        scenario: loaded.scenario.simulation.name.clone(),
        seed: loaded.config.simulation.seed,
        part: i,
        parts: n,
        fleets: config.fleets.iter().map(|f| f.name.clone()).collect(),
        values: Default::default(),
        layout: Layout::of(&loaded.config),
        costs: None,
        batch_sums: Vec::new(),
        events: 0,
        saturated: Default::default(),
        notes: loaded.notes.clone(),
        simulated: loaded.scenario.simulation.duration.to_string(),
    };
    let mut sub = loaded.clone();
    sub.config = config;
    (sub, info)
}

/// Runs `loaded` split as `how` into `dest`: a part directory for `I/N`, the merged
/// results directory for `auto`.
pub fn run_partitioned(
    loaded: &Loaded,
    dest: &Path,
    opts: &RunOptions,
    how: Partition,
) -> Result<RunReport> {
    match how {
        Partition::Part(i, n) => {
            let (sub, info) = part_of(loaded, i, n);
            let opts = RunOptions {
                partition: Some(info),
                // The merge recomputes every statistic from the parts' histograms.
                outputs: Outputs {
                    histograms: true,
                    ..opts.outputs
                },
                ..opts.clone()
            };
            run_to_dir(&sub, dest, &opts)
        }
        Partition::Auto => run_auto(loaded, dest, opts),
        Partition::Off => run_to_dir(loaded, dest, opts),
    }
}

/// The jobs a run must expect before a split pays for its threads and its parts' files:
/// below it the run takes about a tenth of a second (docs/performance.md, "Partitioned
/// runs").
pub const SPLIT_FROM_JOBS: u64 = 100_000;

/// Whether `run` without `--partition` splits `loaded` (`--partition auto`): it has
/// independent parts, the machine more than one core, the run at least
/// [`SPLIT_FROM_JOBS`] jobs, and nothing that a split cannot do (`jobs.csv`, stopping at
/// an event count or a wall-clock time).
pub fn split_pays(loaded: &Loaded, opts: &RunOptions) -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    split_pays_on(loaded, opts, cores)
}

/// [`split_pays`] on a machine of `cores` cores.
fn split_pays_on(loaded: &Loaded, opts: &RunOptions, cores: usize) -> bool {
    // Never instead of a jobs.csv the run would write (a split would drop it with a note).
    cores > 1
        && auto_refusals(loaded, opts).is_ok()
        && super::run::jobs_csv_off_reason(&loaded.scenario, opts).is_some()
        && expected_jobs(&loaded.scenario) >= SPLIT_FROM_JOBS
        && components(&loaded.config).len() > 1
}

/// Every component as a part, into part directories beside `dest`, then merged. The parts
/// run on as many threads as the machine has cores, the largest (most VMs) first: at most
/// that many are in memory at once, and the longest do not start last.
fn run_auto(loaded: &Loaded, dest: &Path, opts: &RunOptions) -> Result<RunReport> {
    let start = std::time::Instant::now();
    let jobs_csv_note = auto_refusals(loaded, opts)?;
    claim_out_dir(dest, OutKind::Run)?;
    let comps = components(&loaded.config);
    let n = comps.len();
    // The parts' directories are scaffolding in a staging directory of `dest`: removed
    // at the end, on an interrupt, or by a later run if this process is killed.
    let scaffold = Staging::new(dest)?;
    let tmp = scaffold.path().to_path_buf();
    let dirs: Vec<PathBuf> = (1..=n).map(|i| tmp.join(format!("part-{i}"))).collect();
    let vms = |k: usize| vms_of(loaded, &comps[k]);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&k| (std::cmp::Reverse(vms(k)), k));
    // One progress bar per part being simulated, on a terminal.
    let bars = (opts.progress && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .then(indicatif::MultiProgress::new);
    let run_part = |k: usize| {
        let (sub, info) = part_of(loaded, k + 1, n);
        let opts = RunOptions {
            partition: Some(info),
            progress: false,
            bars: bars.clone(),
            plots: false,
            outputs: Outputs {
                histograms: true,
                ..opts.outputs
            },
            jobs_csv: Some(false),
            ..opts.clone()
        };
        run_to_dir(&sub, &dirs[k], &opts)
    };
    if opts.progress {
        crate::status!(
            "simulating {n} independent parts on {} threads, merged into the files of one run (--partition off to simulate it as one)",
            workers(n)
        );
    }
    let done = std::sync::atomic::AtomicUsize::new(0);
    let simulate = |k: usize| {
        let t0 = std::time::Instant::now();
        let r = run_part(k);
        let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if opts.progress && r.is_ok() {
            let took = crate::units::fmt_duration(t0.elapsed().as_secs_f64());
            let line = format!(
                "part {}/{n} ({} VMs) simulated in {took}; {d} of {n} done",
                k + 1,
                vms(k)
            );
            status_above(bars.as_ref(), &line);
        }
        r
    };
    // A part is read back as soon as a thread has no part left to start: the reading of
    // the parts done first fills the time that thread would wait for the last one.
    let results = in_order_on_every_core(&order, simulate, |k, r: Result<RunReport>| {
        r.and_then(|_| read_part(&dirs[k]))
    });
    let outcome = results
        .into_iter()
        .collect::<Result<Vec<_>>>()
        .and_then(|parts| {
            let o = MergeOptions {
                name_dirs: false,
                histograms: opts.outputs.histograms,
                plots: opts.plots && opts.outputs.histograms && opts.outputs.timeseries,
                command_line: &opts.command_line,
                started: start,
                jobs_csv_note: jobs_csv_note.clone(),
            };
            merge_read_parts(&dirs, &part_infos(&dirs)?, parts, dest, &o)
        });
    // The part directories are scaffolding: gone whether or not the merge worked.
    drop(scaffold);
    outcome
}

/// Prints `line` as a status line, above the progress bars of the parts still running if
/// there are any.
fn status_above(bars: Option<&indicatif::MultiProgress>, line: &str) {
    match bars {
        Some(b) => b.suspend(|| crate::status!("{line}")),
        None => crate::status!("{line}"),
    }
}

/// What a run split into parts in one process cannot do, refused before anything runs
/// (usage errors: the parts' limits or rows would not be the whole run's); otherwise why
/// its results have no `jobs.csv`.
pub(crate) fn auto_refusals(loaded: &Loaded, opts: &RunOptions) -> Result<String> {
    let refuse = |what: &str| {
        Err(Error::Usage(format!(
            "--partition auto cannot {what}: give --partition off to simulate the scenario as one run"
        )))
    };
    if opts.max_events > 0 {
        return refuse("stop at --run-max-events: each part would count its own events");
    }
    if opts.max_wall.is_some() {
        return refuse("stop at --run-max-wall: each part would stop at its own point");
    }
    match super::run::jobs_csv_off_reason(&loaded.scenario, opts) {
        Some(reason) => Ok(reason),
        None if opts.jobs_csv == Some(true) => refuse(
            "write jobs.csv (--jobs-csv on): the parts' rows cannot be put in the whole run's order",
        ),
        None => Ok(
            "jobs.csv not written: the run was split into parts (--partition auto), whose rows cannot be put in the whole run's order (give --partition off to write it)"
                .into(),
        ),
    }
}

/// The VMs of component `c` of `loaded` (a growing fleet's count is its size at the end).
fn vms_of(loaded: &Loaded, c: &crate::model::partition::Component) -> u64 {
    c.fleets
        .iter()
        .map(|&f| u64::from(loaded.config.fleets[f].count))
        .sum()
}

/// The threads that simulate `n` parts: as many as the machine has cores, at most `n`.
fn workers(n: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |c| c.get())
        .clamp(1, n.max(1))
}

/// `job(k)` for every `k` in `order` (a permutation of `0..order.len()`), taken in that
/// order by as many threads as the machine has cores, then `after(k, job(k))`; the latter
/// by k. A thread runs `after` only once no `job` is left to start (on the results
/// finished by then, its own or those of threads that went on to another job), so that
/// it fills the time the thread would otherwise wait for the last job: every result is
/// taken up by the thread that produced it, at the latest, when it finds nothing left.
fn in_order_on_every_core<T: Send, U: Send>(
    order: &[usize],
    job: impl Fn(usize) -> T + Sync,
    after: impl Fn(usize, T) -> U + Sync,
) -> Vec<U> {
    let n = order.len();
    let workers = workers(n);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let finished: std::sync::Mutex<Vec<(usize, T)>> = std::sync::Mutex::new(Vec::new());
    let slots: Vec<std::sync::Mutex<Option<U>>> =
        (0..n).map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while let Some(&k) =
                    order.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    let r = job(k);
                    finished.lock().expect("no job panics").push((k, r));
                }
                loop {
                    // The lock is released before `after` runs.
                    let taken = finished.lock().expect("no job panics").pop();
                    let Some((k, r)) = taken else { break };
                    let u = after(k, r);
                    *slots[k].lock().expect("no job panics") = Some(u);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .expect("no job panics")
                .expect("every job ran")
        })
        .collect()
}

/// Checks that `dirs` are every part of one partitioned run: same scenario, seed and
/// number of parts, each part once. `None` when the first is not a part directory.
pub fn check_parts(dirs: &[PathBuf]) -> Result<Option<Vec<PartInfo>>> {
    // Parts when any directory is one: the others must then be parts too.
    let Some(first) = dirs.iter().find(|d| d.join(PART_FILE).is_file()) else {
        return Ok(None);
    };
    let mut infos = Vec::new();
    for d in dirs {
        let Some(info) = PartInfo::read(d)? else {
            return Err(Error::Usage(format!(
                "{}: not a part directory (expected {PART_FILE}, written by `run --partition I/N`), but {} is one: merge either parts of one run or shards of one sweep",
                d.display(),
                first.display()
            )));
        };
        let f: &PartInfo = infos.first().unwrap_or(&info);
        if (&f.scenario, f.seed, f.parts) != (&info.scenario, info.seed, info.parts) {
            return Err(Error::Usage(format!(
                "{} and {} are not parts of one run: scenario {} seed {} in {} parts vs scenario {} seed {} in {} parts",
                first.display(),
                d.display(),
                f.scenario,
                f.seed,
                f.parts,
                info.scenario,
                info.seed,
                info.parts
            )));
        }
        infos.push(info);
    }
    let n = infos[0].parts;
    for i in 1..=n {
        let held = infos.iter().filter(|p| p.part == i).count();
        if held != 1 {
            return Err(Error::Usage(format!(
                "part {i}/{n} of scenario {} is {}: give each part directory of the run once (run the missing one with `run --partition {i}/{n}`)",
                infos[0].scenario,
                if held == 0 { "missing" } else { "given more than once" }
            )));
        }
    }
    Ok(Some(infos))
}

/// How parts are merged, and what the merged `run.json` says of the command.
pub(crate) struct MergeOptions<'a> {
    /// Name the part directories in `run.json` (not for `--partition auto`, whose parts
    /// are temporary).
    pub name_dirs: bool,
    /// Write the merged histograms.
    pub histograms: bool,
    /// Draw the plots (when the merged results have what they are drawn from).
    pub plots: bool,
    /// The command line, for `run.json`.
    pub command_line: &'a [String],
    /// When the command started: the merged run's wall time runs from it.
    pub started: std::time::Instant,
    /// Why the merged directory has no `jobs.csv`.
    pub jobs_csv_note: String,
}

/// Merges part directories into the results directory `dest` (summary, histograms,
/// nights and time series, the resolved scenario, `run.json`), through a staging
/// directory.
pub(crate) fn merge_parts(dirs: &[PathBuf], dest: &Path, o: &MergeOptions) -> Result<RunReport> {
    let infos = part_infos(dirs)?;
    let parts = dirs
        .iter()
        .map(|d| read_part(d))
        .collect::<Result<Vec<_>>>()?;
    merge_read_parts(dirs, &infos, parts, dest, o)
}

/// [`check_parts`] of directories that must be parts.
fn part_infos(dirs: &[PathBuf]) -> Result<Vec<PartInfo>> {
    check_parts(dirs)?
        .ok_or_else(|| Error::Usage(format!("{}: not a part directory", dirs[0].display())))
}

/// [`merge_parts`] of parts already read (`parts[k]` from `dirs[k]`, `infos[k]` its
/// [`PartInfo`], as [`check_parts`] gives them), in any order.
fn merge_read_parts(
    dirs: &[PathBuf],
    infos: &[PartInfo],
    parts: Vec<crate::outputs::results::partition::PartResults>,
    dest: &Path,
    o: &MergeOptions,
) -> Result<RunReport> {
    // The parts' directories, and the parts, in part order.
    let mut by_part: Vec<_> = dirs.iter().zip(parts).enumerate().collect();
    by_part.sort_by_key(|&(k, _)| infos[k].part);
    let (ordered, parts): (Vec<PathBuf>, Vec<_>) = by_part
        .into_iter()
        .map(|(_, (d, p))| (d.clone(), p))
        .unzip();
    let mut merged = merge(&parts)?;
    let batches = merged.batch_sums.as_ref().map_or(0, |b| b.len() as u32);
    if let Some(sums) = merged.batch_sums.take() {
        // Batch means from the whole run's per-batch sums, as the whole run takes them.
        let values = crate::model::metrics::Batches::from_sums(sums).values();
        merged.summary.retain(|k, _| !k.starts_with("batches."));
        merged
            .summary
            .extend(crate::outputs::sweeps::batch_summary(&values));
        merged.approximate.retain(|k| !k.starts_with("batches."));
    }
    let replacing = claim_out_dir(dest, OutKind::Run)?;
    let staging = Staging::new(dest)?;
    let dir = staging.path();
    write_merged_files(dir, &ordered, &parts, &merged, o.histograms)?;
    let notes = merged_notes(&merged, parts.len());
    let mut extra = serde_json::Map::new();
    extra.insert("parts".into(), infos[0].parts.into());
    extra.insert(
        "approximate_metrics".into(),
        merged.approximate.clone().into(),
    );
    if o.name_dirs {
        let names: Vec<String> = ordered.iter().map(|d| d.display().to_string()).collect();
        extra.insert("merged_parts".into(), names.into());
    }
    let (cut, cut_wall) = (
        !merged.cut_parts.is_empty(),
        !merged.wall_cut_parts.is_empty(),
    );
    let wall_seconds = o.started.elapsed().as_secs_f64();
    RunRecord {
        scenario: &infos[0].scenario,
        seed: infos[0].seed,
        command_line: o.command_line,
        wall_seconds,
        events: merged.events,
        jobs_csv_note: Some(o.jobs_csv_note.clone()),
        outputs: Outputs {
            histograms: o.histograms,
            timeseries: dir.join("timeseries.csv").is_file(),
            jobs: false,
            nights: dir.join("nights.csv").is_file(),
        },
        batches,
        max_events: 0,
        cut_short: cut,
        max_wall: None,
        deterministic: !cut_wall,
        notes: parts[0].notes.iter().chain(&notes).cloned().collect(),
        simulated: parts[0].simulated.clone(),
    }
    .write(&dir.join("run.json"), extra)?;
    if o.plots && o.histograms && dir.join("timeseries.csv").is_file() {
        crate::outputs::plots::render_for_run(dir, &infos[0].scenario)?;
    }
    staging.commit(dest, OutKind::Run)?;
    Ok(RunReport {
        dir: dest.to_path_buf(),
        summary: merged.summary,
        events: merged.events,
        wall_seconds,
        jobs_csv: false,
        replacing,
        notes,
        nights: Vec::new(),
        cut_short: cut,
        cut_short_wall: cut_wall,
    })
}

/// Writes the merged summary, histograms (when `histograms`), nights and time series
/// into `dir`, laid out as the whole run's from the parts' directories `ordered` (in
/// part order), and the resolved scenario of the first.
fn write_merged_files(
    dir: &Path,
    ordered: &[PathBuf],
    parts: &[crate::outputs::results::partition::PartResults],
    merged: &Merged,
    histograms: bool,
) -> Result<()> {
    write_summary(&dir.join("summary.json"), &merged.summary)?;
    if histograms {
        write_histograms(&dir.join("histograms"), &merged.histograms)?;
    }
    let layout = &parts[0].layout;
    // Parts written before the layout was recorded merge without them.
    let files = if layout.fleets.is_empty() {
        [("nights.csv", None), ("timeseries.csv", None)]
    } else {
        [
            ("nights.csv", nights::merge_nights(ordered, layout)?),
            ("timeseries.csv", merge_series(ordered, layout)?),
        ]
    };
    for (name, text) in files {
        if let Some(text) = text {
            let p = dir.join(name);
            io(&p, std::fs::write(&p, text))?;
        }
    }
    let first = &ordered[0];
    let resolved = "scenario.resolved.toml";
    io(
        first,
        std::fs::copy(first.join(resolved), dir.join(resolved)),
    )
    .map(|_| ())
}

/// The merged run's own notes: the parts' saturated draws as the whole run words them,
/// parts cut short, keys approximated.
fn merged_notes(merged: &Merged, parts: usize) -> Vec<String> {
    let mut notes = crate::model::saturation_notes(&merged.saturated);
    let list = |ps: &[usize]| {
        let names: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
        format!(
            "part{} {}",
            if ps.len() == 1 { "" } else { "s" },
            names.join(", ")
        )
    };
    let (cut, cut_wall) = (&merged.cut_parts, &merged.wall_cut_parts);
    if !cut.is_empty() {
        let mut n = format!(
            "cut short: {} of {parts} stopped before the end of the simulated time (--run-max-events or --run-max-wall); the merged metrics describe only what happened until then",
            list(cut)
        );
        if !cut_wall.is_empty() {
            n += &format!(
                ", and where {} stopped at the wall-clock limit depends on the machine's speed: they are outside the determinism guarantee",
                list(cut_wall)
            );
        }
        notes.push(n);
    }
    if !merged.approximate.is_empty() {
        notes.push(format!(
            "merged from {parts} parts; not determined by the parts and approximated: {}",
            merged.approximate.join(", ")
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str, sets: &[&str]) -> Loaded {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(name);
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        crate::scenario::load(&path, &sets).unwrap()
    }

    /// Every part is simulated once and read back once, its result by its index; with two
    /// threads or more, parts done first are read while the last one still runs (its
    /// simulation takes 100 ms, the others' 1 ms).
    #[test]
    fn parts_are_read_back_while_the_last_part_runs() {
        use std::sync::Mutex;
        let log: Mutex<Vec<(char, usize)>> = Mutex::new(Vec::new());
        let order = [3, 0, 4, 1, 2];
        let out = in_order_on_every_core(
            &order,
            |k| {
                let ms = if k == 2 { 100 } else { 1 };
                std::thread::sleep(std::time::Duration::from_millis(ms));
                log.lock().unwrap().push(('s', k));
                k * 10
            },
            |k, r| {
                log.lock().unwrap().push(('r', k));
                (k, r)
            },
        );
        assert_eq!(out, (0..5).map(|k| (k, k * 10)).collect::<Vec<_>>());
        let log = log.into_inner().unwrap();
        for what in ['s', 'r'] {
            let mut ks: Vec<usize> = log.iter().filter(|e| e.0 == what).map(|e| e.1).collect();
            ks.sort_unstable();
            assert_eq!(ks, [0, 1, 2, 3, 4], "{what}: {log:?}");
        }
        if workers(order.len()) > 1 {
            let last_done = log.iter().position(|&e| e == ('s', 2)).unwrap();
            let first_read = log.iter().position(|e| e.0 == 'r').unwrap();
            assert!(first_read < last_done, "{log:?}");
        }
    }

    #[test]
    fn a_run_splits_by_default_only_where_it_pays_and_can() {
        // Four regions, 300 000 jobs expected, jobs.csv off.
        let big = shipped("scale-10k.toml", &[]);
        let opts = RunOptions::default();
        assert!(split_pays_on(&big, &opts, 2));
        assert!(!split_pays_on(&big, &opts, 1), "one core");
        let limited = RunOptions {
            max_events: 1_000,
            ..RunOptions::default()
        };
        assert!(!split_pays_on(&big, &limited, 2), "an event limit");
        let rows = RunOptions {
            jobs_csv: Some(true),
            ..RunOptions::default()
        };
        assert!(!split_pays_on(&big, &rows, 2), "jobs.csv");
        // 3 days: 30 000 jobs, below the threshold.
        let short = shipped("scale-10k.toml", &["simulation.duration=3d"]);
        assert!(expected_jobs(&short.scenario) < SPLIT_FROM_JOBS);
        assert!(!split_pays_on(&short, &opts, 2), "too short to pay");
        // One component (one vault and link for all): nothing to split.
        let one = shipped(
            "window-2000.toml",
            &["simulation.duration=400d", "simulation.jobs_csv=off"],
        );
        assert!(expected_jobs(&one.scenario) >= SPLIT_FROM_JOBS);
        assert!(!split_pays_on(&one, &opts, 2), "one component");
    }
}

//! `run --partition auto|I/N` and the merge of part directories: a run split into its
//! independent components (`model::partition`), simulated in threads or as separate
//! processes, and merged into one results directory (`outputs::results::partition`).

use std::path::{Path, PathBuf};

use crate::error::{io_at as io, Error, Result};
use crate::model::partition::{assign, components, sub_config};
use crate::outputs::results::partition::{merge, read_part, Layout, PartInfo, PART_FILE};
use crate::outputs::results::*;
use crate::scenario::Loaded;

use super::run::{run_to_dir, RunOptions, RunReport};

/// How a run is split (`--partition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    /// Every component as a part, on as many threads as the machine has cores, merged
    /// into one results directory.
    Auto,
    /// Only part `0` (1-based) of `1`, written as a part directory.
    Part(usize, usize),
}

/// Parses `auto` or `I/N` (1 ≤ I ≤ N).
pub fn parse_partition(s: &str) -> std::result::Result<Partition, String> {
    if s == "auto" {
        return Ok(Partition::Auto);
    }
    let bad = || format!("expected `auto` or I/N with 1 <= I <= N (e.g. 1/4), found `{s}`");
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
    }
}

/// Every component as a part, into part directories beside `dest`, then merged. The parts
/// run on as many threads as the machine has cores, the largest (most VMs) first: at most
/// that many are in memory at once, and the longest do not start last.
fn run_auto(loaded: &Loaded, dest: &Path, opts: &RunOptions) -> Result<RunReport> {
    claim_out_dir(dest, OutKind::Run)?;
    let comps = components(&loaded.config);
    let n = comps.len();
    let name = dest
        .file_name()
        .map_or("run".into(), |f| f.to_string_lossy().into_owned());
    let tmp = dest.with_file_name(format!(".{name}.parts-{}", std::process::id()));
    let dirs: Vec<PathBuf> = (1..=n).map(|i| tmp.join(format!("part-{i}"))).collect();
    // A growing fleet's count is its size at the end.
    let vms = |c: &crate::model::partition::Component| -> u64 {
        c.fleets
            .iter()
            .map(|&f| u64::from(loaded.config.fleets[f].count))
            .sum()
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&k| (std::cmp::Reverse(vms(&comps[k])), k));
    let run_part = |k: usize| {
        let (sub, info) = part_of(loaded, k + 1, n);
        let opts = RunOptions {
            partition: Some(info),
            progress: false,
            plots: false,
            outputs: Outputs {
                histograms: true,
                ..opts.outputs
            },
            ..opts.clone()
        };
        run_to_dir(&sub, &dirs[k], &opts)
    };
    let start = std::time::Instant::now();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results = in_order_on_every_core(&order, |k| {
        let t0 = std::time::Instant::now();
        let r = run_part(k);
        let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if opts.progress && r.is_ok() {
            // A partitioned run is long: say how far it got (there is no bar).
            crate::status!(
                "part {}/{n} ({} VMs) simulated in {}; {d} of {n} done",
                k + 1,
                vms(&comps[k]),
                crate::units::fmt_duration(t0.elapsed().as_secs_f64())
            );
        }
        r
    });
    let outcome = results
        .into_iter()
        .collect::<Result<Vec<_>>>()
        .and_then(|reports| {
            let plots = opts.plots && opts.outputs.histograms && opts.outputs.timeseries;
            let mut r = merge_parts(&dirs, dest, false, opts.outputs.histograms, plots)?;
            r.events = reports.iter().map(|p| p.events).sum();
            r.wall_seconds = start.elapsed().as_secs_f64();
            Ok(r)
        });
    // The part directories are scaffolding: gone whether or not the merge worked.
    let _ = std::fs::remove_dir_all(&tmp);
    outcome
}

/// `job(k)` for every `k` in `order` (a permutation of `0..order.len()`), taken in that
/// order by as many threads as the machine has cores; the results by `k`.
fn in_order_on_every_core<T: Send>(order: &[usize], job: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let n = order.len();
    let workers = std::thread::available_parallelism()
        .map_or(1, |c| c.get())
        .clamp(1, n.max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<T>>> =
        (0..n).map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&k) = order.get(i) else { break };
                let r = job(k);
                *slots[k].lock().expect("no job panics") = Some(r);
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

/// Merges part directories into the results directory `dest` (summary, histograms, the
/// resolved scenario, `run.json`), through a staging directory. `run.json` names the part
/// directories when `name_dirs` (not for `--partition auto`, whose parts are temporary);
/// the histograms are written when `histograms`, the plots drawn when `plots` and the
/// merged results have what they are drawn from.
pub fn merge_parts(
    dirs: &[PathBuf],
    dest: &Path,
    name_dirs: bool,
    histograms: bool,
    plots: bool,
) -> Result<RunReport> {
    let infos = check_parts(dirs)?
        .ok_or_else(|| Error::Usage(format!("{}: not a part directory", dirs[0].display())))?;
    let mut order: Vec<usize> = (0..dirs.len()).collect();
    order.sort_by_key(|&k| infos[k].part);
    let parts = order
        .iter()
        .map(|&k| read_part(&dirs[k]))
        .collect::<Result<Vec<_>>>()?;
    let mut merged = merge(&parts)?;
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
    write_summary(&dir.join("summary.json"), &merged.summary)?;
    if histograms {
        write_histograms(&dir.join("histograms"), &merged.histograms)?;
    }
    // The parts' files in part order, laid out as the whole run's.
    let ordered: Vec<PathBuf> = order.iter().map(|&k| dirs[k].clone()).collect();
    let layout = &parts[0].layout;
    // Parts written before the layout was recorded merge without them.
    let files = if layout.fleets.is_empty() {
        [("nights.csv", None), ("timeseries.csv", None)]
    } else {
        [
            ("nights.csv", nights::merge_nights(&ordered, layout)?),
            ("timeseries.csv", merge_series(&ordered, layout)?),
        ]
    };
    for (name, text) in files {
        if let Some(text) = text {
            let p = dir.join(name);
            io(&p, std::fs::write(&p, text))?;
        }
    }
    let first = &dirs[order[0]];
    let resolved = "scenario.resolved.toml";
    io(
        first,
        std::fs::copy(first.join(resolved), dir.join(resolved)),
    )?;
    let mut run = serde_json::json!({
        "scenario": infos[0].scenario,
        "seed": infos[0].seed,
        "version": env!("CARGO_PKG_VERSION"),
        "model_version": crate::model::MODEL_VERSION,
        "parts": infos[0].parts,
        "approximate_metrics": merged.approximate,
    });
    if name_dirs {
        run["merged_parts"] = order
            .iter()
            .map(|&k| dirs[k].display().to_string())
            .collect();
    }
    let rp = dir.join("run.json");
    io(
        &rp,
        std::fs::write(
            &rp,
            serde_json::to_string_pretty(&run).expect("json") + "\n",
        ),
    )?;
    if plots && histograms && dir.join("timeseries.csv").is_file() {
        crate::outputs::plots::render_for_run(dir, &infos[0].scenario)?;
    }
    staging.commit(dest, OutKind::Run)?;
    let notes = if merged.approximate.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "merged from {} parts; not determined by the parts and approximated: {}",
            parts.len(),
            merged.approximate.join(", ")
        )]
    };
    Ok(RunReport {
        dir: dest.to_path_buf(),
        summary: merged.summary,
        events: 0,
        wall_seconds: 0.0,
        jobs_csv: false,
        replacing,
        notes,
        nights: Vec::new(),
        cut_short: false,
        cut_short_wall: false,
    })
}

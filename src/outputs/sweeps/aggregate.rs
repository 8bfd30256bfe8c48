//! The sweep directory's files and the aggregates computed from the run directories on
//! disk (`sweep.csv`, `runs.csv`, `points.csv`, `points/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::{io_at as io, Error, Result};
use crate::model::metrics::{new_histogram, Latency};
use crate::outputs::results::{write_atomic, write_histograms, write_summary, Staging};

use super::*;

// ---------------------------------------------------------------------------------------
// Files.

/// Reads `dir/sweep.json`; `None` when there is none.
pub fn read_definition(dir: &Path) -> Result<Option<Definition>> {
    let p = dir.join("sweep.json");
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&p, e)),
    };
    let def: Definition = serde_json::from_str(&text).map_err(|e| {
        Error::input(
            p.display().to_string(),
            format!("expected a sweep definition written by backupsim, found invalid JSON: {e}"),
        )
    })?;
    grid_runs(&def.vary, def.replications, &p.display().to_string())?;
    Ok(Some(def))
}

/// Writes `dir/sweep.json` atomically.
pub fn write_definition(dir: &Path, def: &Definition) -> Result<()> {
    let text = serde_json::to_string_pretty(def).expect("a definition serializes") + "\n";
    write_atomic(&dir.join("sweep.json"), text.as_bytes())
}

/// Refuses to write into a directory that holds another sweep.
/// Refuses `dir` when it holds a different sweep than `def` (`what` says what to do).
pub fn check_same(dir: &Path, def: &Definition, what: &str) -> Result<()> {
    if let Some(old) = read_definition(dir)? {
        let d = def.differences(&old);
        if !d.is_empty() {
            return Err(Error::Usage(format!(
                "{} holds a different sweep (differs in: {}); {what}",
                dir.display(),
                d.join(", ")
            )));
        }
    }
    Ok(())
}

/// Whether the run directory `dir` is complete (its summary exists).
pub fn complete(dir: &Path) -> bool {
    dir.join("summary.json").is_file()
}

/// Reads an `.hdr` file, naming it in the error.
fn read_hdr(path: &Path) -> Result<hdrhistogram::Histogram<u64>> {
    crate::outputs::results::histio::read_hdr(path).map_err(|e| {
        Error::input(
            path.display().to_string(),
            format!("expected an HdrHistogram V2 file: {e}"),
        )
    })
}

fn hdr_names(dir: &Path) -> Result<Vec<String>> {
    let h = dir.join("histograms");
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&h) {
        for e in rd {
            let e = io(&h, e)?;
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(stem) = name.strip_suffix(".hdr") {
                out.push(stem.to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Aggregation.

/// The statistics of a histogram in `summary.json`, as suffixes (`backup.duration.p99`).
pub const HIST_STATS: [&str; 7] = ["mean", "p50", "p90", "p95", "p99", "p999", "max"];

fn csv_bytes(rows: Vec<Vec<String>>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r).expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

/// The baseline point of paired differences: `def.baseline`, else the first point.
pub fn baseline_index(def: &Definition, points: &[Point]) -> usize {
    def.baseline
        .as_ref()
        .and_then(|b| points.iter().position(|p| &p.id == b))
        .unwrap_or(0)
}

/// Reads the costs a run recorded in its `run.json` (wall seconds, events, events per
/// second, peak memory), as written; empty cells for what it lacks.
pub fn run_costs(run_dir: &Path) -> [String; 4] {
    let v: serde_json::Value = std::fs::read_to_string(run_dir.join("run.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    [
        "wall_seconds",
        "events",
        "events_per_second",
        "peak_memory_bytes",
    ]
    .map(|k| {
        v.get(k)
            .and_then(serde_json::Value::as_f64)
            .map(fmt_num)
            .unwrap_or_default()
    })
}

/// Writes `points.csv`, `runs.csv`, `sweep.csv`, `sweep.long.csv.gz`, `costs.csv` and
/// `points/` of a sweep directory whose runs are all complete, from the files on disk
/// alone.
///
/// A metric a run does not report is a zero count if it is a counter (the simulator omits
/// zero counters such as `backup.failures.<Code>`), and missing if it is a statistic of a
/// histogram that was empty in that run (a statistic of no value is not zero); statistics
/// over replications use the replications that report a value.
pub fn aggregate(dir: &Path, def: &Definition) -> Result<()> {
    let g = Gathered::read(dir, def)?;
    let points = def.points();
    // points/: exact merges of each point's histograms, built aside and renamed into
    // place once the CSV files are written.
    let dest = dir.join("points");
    let staging = Staging::new(&dest)?;
    let merged = merge_points(dir, &points, &g, staging.path())?;
    write_points_csv(dir, def, &points)?;
    write_runs_csv(dir, def, &g)?;
    write_long_csv(dir, def, &g)?;
    write_costs_csv(dir, &g)?;
    write_sweep_csv(dir, def, &points, &g, &merged)?;
    staging.commit_unchecked(&dest)?;
    Ok(())
}

/// A run's summary: metric name → value.
type Summary = BTreeMap<String, f64>;

/// The complete runs of a sweep and their summaries, read once from disk.
struct Gathered {
    runs: Vec<Run>,
    /// The runs of each point: a range of `runs`.
    of_point: Vec<std::ops::Range<usize>>,
    summaries: Vec<BTreeMap<String, f64>>,
    /// Every metric any run wrote, by name.
    metrics: BTreeSet<String>,
    /// Every histogram any run wrote, by name.
    hists: BTreeSet<String>,
}

impl Gathered {
    /// Reads every run of `def` in `dir`; an error lists the missing runs.
    fn read(dir: &Path, def: &Definition) -> Result<Gathered> {
        let locate = |r: &Run| {
            let d = dir.join(r.rel_dir());
            complete(&d).then_some(d)
        };
        let runs = match complete_runs(def, &locate)? {
            Ok(runs) => runs,
            Err(missing) => {
                return Err(Error::Usage(format!(
                    "{}: {} run(s) are missing ({}{}); run the sweep again to complete it",
                    dir.display(),
                    missing.len(),
                    missing
                        .iter()
                        .take(10)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    if missing.len() > 10 { ", ..." } else { "" }
                )))
            }
        };
        let mut of_point = vec![0..0; def.points().len()];
        for (i, r) in runs.iter().enumerate() {
            let rg = &mut of_point[r.point.index];
            if rg.start == rg.end {
                *rg = i..i + 1;
            } else {
                rg.end = i + 1;
            }
        }
        let mut summaries = Vec::with_capacity(runs.len());
        let mut metrics = BTreeSet::new();
        let mut hists = BTreeSet::new();
        for r in &runs {
            let rd = dir.join(r.rel_dir());
            let s = crate::outputs::results::read::read_summary(&rd)?;
            metrics.extend(s.keys().cloned());
            hists.extend(hdr_names(&rd)?);
            summaries.push(s);
        }
        Ok(Gathered {
            runs,
            of_point,
            summaries,
            metrics,
            hists,
        })
    }

    /// Whether `m` is a statistic of a histogram (`<histogram>.<stat>`).
    fn is_hist_stat(&self, m: &str) -> bool {
        m.rsplit_once('.')
            .is_some_and(|(h, st)| HIST_STATS.contains(&st) && self.hists.contains(h))
    }

    /// A run's value of `m`: a missing counter is 0, a missing histogram statistic (or
    /// per-group percentile, whose histogram is not written) is no value (the histogram
    /// was empty).
    fn value(&self, s: &BTreeMap<String, f64>, m: &str) -> Option<f64> {
        match s.get(m) {
            Some(v) => Some(*v),
            None if self.is_hist_stat(m) || crate::model::metric_names::is_group_percentile(m) => {
                None
            }
            None => Some(0.0),
        }
    }
}

/// A number cell, empty when there is no value.
fn opt(x: Option<f64>) -> String {
    x.map(fmt_num).unwrap_or_default()
}

/// The varied keys, in order.
fn keys(def: &Definition) -> Vec<String> {
    def.vary.iter().map(|v| v.key.clone()).collect()
}

/// Merges each point's histograms into `staging/<point>/` (histograms and summary); the
/// merged summaries, by point.
fn merge_points(
    dir: &Path,
    points: &[Point],
    g: &Gathered,
    staging: &Path,
) -> Result<Vec<BTreeMap<String, f64>>> {
    let mut merged_summaries = Vec::with_capacity(points.len());
    for p in points {
        let pdir = staging.join(&p.id);
        let mut merged = BTreeMap::new();
        for r in &g.runs[g.of_point[p.index].clone()] {
            let rd = dir.join(r.rel_dir());
            for name in hdr_names(&rd)? {
                let path = rd.join("histograms").join(format!("{name}.hdr"));
                let h = read_hdr(&path)?;
                let acc = merged.entry(name).or_insert_with(new_histogram);
                acc.add(&h).map_err(|e| {
                    Error::input(
                        path.display().to_string(),
                        format!("cannot merge histogram: {e:?}"),
                    )
                })?;
            }
        }
        let mut summary = BTreeMap::new();
        for (name, h) in &merged {
            summary.insert(format!("{name}.count"), h.len() as f64);
            Latency::from_histogram(h).summarize(name, &mut summary);
        }
        write_histograms(&pdir.join("histograms"), &merged)?;
        write_summary(&pdir.join("summary.json"), &summary)?;
        // The point's scenario as its first replication ran it (its seed included): what
        // `compare` diffs, kept after the run directories are dropped.
        if let Some(r) = g.runs[g.of_point[p.index].clone()].first() {
            let src = dir.join(r.rel_dir()).join(RESOLVED);
            let dst = pdir.join(RESOLVED);
            io(&src, std::fs::copy(&src, &dst))?;
        }
        merged_summaries.push(summary);
    }
    Ok(merged_summaries)
}

/// A run's resolved scenario, also kept per point.
const RESOLVED: &str = "scenario.resolved.toml";

/// `points.csv`: each point's id and values.
fn write_points_csv(dir: &Path, def: &Definition, points: &[Point]) -> Result<()> {
    let mut rows = vec![std::iter::once("point".to_string())
        .chain(keys(def))
        .collect::<Vec<_>>()];
    for p in points {
        rows.push(
            std::iter::once(p.id.clone())
                .chain(p.assignments.iter().map(|(_, v)| v.clone()))
                .collect(),
        );
    }
    write_atomic(&dir.join("points.csv"), &csv_bytes(rows))
}

/// `runs.csv`: one row per run, every metric.
fn write_runs_csv(dir: &Path, def: &Definition, g: &Gathered) -> Result<()> {
    let mut head = vec!["point".to_string(), "replication".into(), "seed".into()];
    head.extend(keys(def));
    head.extend(g.metrics.iter().cloned());
    let mut rows = vec![head];
    for (r, s) in g.runs.iter().zip(&g.summaries) {
        let mut row = vec![
            r.point.id.clone(),
            r.replication.to_string(),
            r.seed.to_string(),
        ];
        row.extend(r.point.assignments.iter().map(|(_, v)| v.clone()));
        row.extend(g.metrics.iter().map(|m| opt(g.value(s, m))));
        rows.push(row);
    }
    write_atomic(&dir.join("runs.csv"), &csv_bytes(rows))
}

/// `sweep.long.csv.gz`: one row per run and metric, in run order, metrics by name.
fn write_long_csv(dir: &Path, def: &Definition, g: &Gathered) -> Result<()> {
    let mut head = vec!["point".to_string()];
    head.extend(keys(def));
    head.extend(["replication".into(), "metric".into(), "value".into()]);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&head).expect("writing to memory");
    for (r, s) in g.runs.iter().zip(&g.summaries) {
        let rep = r.replication.to_string();
        for m in &g.metrics {
            let v = opt(g.value(s, m));
            let row = std::iter::once(r.point.id.as_str())
                .chain(r.point.assignments.iter().map(|(_, v)| v.as_str()))
                .chain([rep.as_str(), m.as_str(), v.as_str()]);
            w.write_record(row).expect("writing to memory");
        }
    }
    // Compressed: one row per run and metric is most of a big sweep's size otherwise
    // (about 10 times the rest), and pandas, polars and R read `.csv.gz` directly. The
    // gzip header carries no time or name, so the bytes depend on the content alone.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &w.into_inner().expect("writing to memory"))
        .expect("writing to memory");
    write_atomic(
        &dir.join(LONG_CSV),
        &gz.finish().expect("writing to memory"),
    )
}

/// The tidy long-format export of a sweep (gzip-compressed CSV).
pub const LONG_CSV: &str = "sweep.long.csv.gz";

/// `costs.csv`: what each run cost, from its run.json (wall-clock content).
fn write_costs_csv(dir: &Path, g: &Gathered) -> Result<()> {
    let mut rows = vec![[
        "point",
        "replication",
        "wall_seconds",
        "events",
        "events_per_second",
        "peak_memory_bytes",
    ]
    .map(String::from)
    .to_vec()];
    for r in &g.runs {
        let mut row = vec![r.point.id.clone(), r.replication.to_string()];
        row.extend(run_costs(&dir.join(r.rel_dir())));
        rows.push(row);
    }
    write_atomic(&dir.join("costs.csv"), &csv_bytes(rows))
}

/// The header of `sweep.csv`.
fn sweep_csv_head(def: &Definition, g: &Gathered, paired: bool) -> Vec<String> {
    let mut head = vec!["point".to_string()];
    head.extend(keys(def));
    head.push("replications".into());
    for t in &def.targets {
        head.push(format!("target.{}.rel_halfwidth", t.metric));
        head.push(format!("target.{}.met", t.metric));
    }
    for m in &g.metrics {
        for st in ["mean", "sd", "ci95_lo", "ci95_hi"] {
            head.push(format!("{m}.{st}"));
        }
        if g.is_hist_stat(m) {
            head.push(format!("{m}.merged"));
        }
        if paired {
            for st in ["diff", "diff_ci95_lo", "diff_ci95_hi"] {
                head.push(format!("{m}.{st}"));
            }
        }
    }
    head
}

/// One metric's cells of a `sweep.csv` row: mean, sd and 95% CI over the replications,
/// the merged histogram's value (for a histogram statistic), then the paired difference
/// to the baseline (replication r against replication r).
fn metric_cells(
    row: &mut Vec<String>,
    g: &Gathered,
    m: &str,
    (reps, bases): (&[Summary], &[Summary]),
    paired: bool,
    merged: Option<Option<f64>>,
) {
    let xs: Vec<f64> = reps.iter().filter_map(|s| g.value(s, m)).collect();
    match stats(&xs) {
        Some(st) => {
            row.push(fmt_num(st.mean));
            row.push(opt(st.sd));
            row.push(opt(st.ci95.map(|c| c.0)));
            row.push(opt(st.ci95.map(|c| c.1)));
        }
        None => row.extend(std::iter::repeat(String::new()).take(4)),
    }
    if let Some(v) = merged {
        row.push(opt(v));
    }
    if paired {
        let ds: Vec<f64> = reps
            .iter()
            .zip(bases)
            .filter_map(|(a, b)| Some(g.value(a, m)? - g.value(b, m)?))
            .collect();
        match stats(&ds) {
            Some(st) => {
                row.push(fmt_num(st.mean));
                row.push(opt(st.ci95.map(|c| c.0)));
                row.push(opt(st.ci95.map(|c| c.1)));
            }
            None => row.extend(std::iter::repeat(String::new()).take(3)),
        }
    }
}

/// `sweep.csv`: per point, each metric's mean, sd and 95% CI over the replications (and
/// the merged histogram's value, the paired difference to the baseline, the targets).
fn write_sweep_csv(
    dir: &Path,
    def: &Definition,
    points: &[Point],
    g: &Gathered,
    merged: &[BTreeMap<String, f64>],
) -> Result<()> {
    let paired = def.seeds == SeedMode::Common;
    let base = baseline_index(def, points);
    let mut rows = vec![sweep_csv_head(def, g, paired)];
    for p in points {
        let reps = &g.summaries[g.of_point[p.index].clone()];
        let bases = &g.summaries[g.of_point[base].clone()];
        let mut row = vec![p.id.clone()];
        row.extend(p.assignments.iter().map(|(_, v)| v.clone()));
        row.push(reps.len().to_string());
        for t in &def.targets {
            let xs: Vec<f64> = reps
                .iter()
                .filter_map(|s| target_value(s, &t.metric))
                .collect();
            row.push(opt(rel_halfwidth(&xs)));
            row.push(target_met(t, &xs).to_string());
        }
        for m in &g.metrics {
            let merged_value = g.is_hist_stat(m).then(|| merged[p.index].get(m).copied());
            metric_cells(&mut row, g, m, (reps, bases), paired, merged_value);
        }
        rows.push(row);
    }
    write_atomic(&dir.join("sweep.csv"), &csv_bytes(rows))
}

//! The streaming writers of a run: `jobs.csv` and `timeseries.csv` as the model produces
//! them (the model's [`Observer`]), and, in a part of a partitioned run, the stored-bytes
//! trace the merge needs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{io_at as io, Error, Result};
use crate::model::{JobRecord, Observer, Sample};

use super::rows::Row;
use super::storage_trace::{TraceWriter, STORAGE_TRACE};

/// The streaming writers of a run's `jobs.csv` and `timeseries.csv`: the model's
/// [`Observer`], so rows go to disk as the run produces them, never held in memory.
pub struct Writers {
    jobs: Option<BufWriter<File>>,
    series: Option<BufWriter<File>>,
    series_header: bool,
    link_names: Vec<String>,
    vault_names: Vec<String>,
    /// Each vault's redundancy ("grs" or "lrs"), for the per-redundancy storage columns.
    vault_tiers: Vec<&'static str>,
    error: Option<(PathBuf, std::io::Error)>,
    dir: PathBuf,
    progress: Option<indicatif::ProgressBar>,
    /// The buffer each CSV row is formatted into ([`Row`]).
    row: Vec<u8>,
    /// `--run-max-wall`: the run is stopped once the clock passes it.
    deadline: Option<std::time::Instant>,
    timed_out: bool,
    /// A part of a partitioned run: the cost sums go in the time series too.
    part: bool,
    /// A part's stored-bytes trace.
    trace: Option<TraceWriter>,
}

impl Writers {
    /// Creates `timeseries.csv` when `series` (and `jobs.csv` with its header when `jobs`)
    /// in `dir`. `progress`, if any, follows the samples' simulated time.
    pub fn create(
        dir: &Path,
        jobs: bool,
        series: bool,
        link_names: Vec<String>,
        vaults: Vec<(String, &'static str)>,
        progress: Option<indicatif::ProgressBar>,
    ) -> Result<Writers> {
        let open = |name: &str| -> Result<BufWriter<File>> {
            let p = dir.join(name);
            let f = io(&p, File::create(&p))?;
            Ok(BufWriter::with_capacity(1 << 16, f))
        };
        let mut row_buf = Vec::with_capacity(256);
        let mut jobs = if jobs { Some(open("jobs.csv")?) } else { None };
        if let Some(w) = jobs.as_mut() {
            let mut row = Row::new(&mut row_buf);
            for h in JOBS_HEADER {
                row.str(h);
            }
            io(&dir.join("jobs.csv"), w.write_all(row.end()))?;
        }
        Ok(Writers {
            jobs,
            series: if series {
                Some(open("timeseries.csv")?)
            } else {
                None
            },
            series_header: false,
            link_names,
            vault_names: vaults.iter().map(|(n, _)| n.clone()).collect(),
            vault_tiers: vaults.iter().map(|&(_, t)| t).collect(),
            error: None,
            dir: dir.to_path_buf(),
            progress,
            row: row_buf,
            deadline: None,
            timed_out: false,
            part: false,
            trace: None,
        })
    }

    /// Flushes both files; the first write error of the run, if any, naming its file.
    pub fn finish(mut self) -> Result<()> {
        if let Some(p) = &self.progress {
            p.finish_and_clear();
        }
        if let Some((p, e)) = self.error.take() {
            return Err(Error::io(p, e));
        }
        if let Some(j) = self.jobs.as_mut() {
            io(&self.dir.join("jobs.csv"), j.flush())?;
        }
        if let Some(t) = self.trace.take() {
            io(&self.dir.join(STORAGE_TRACE), t.finish())?;
        }
        match self.series.as_mut() {
            Some(s) => io(&self.dir.join("timeseries.csv"), s.flush()),
            None => Ok(()),
        }
    }

    /// Writes what a part of a partitioned run adds for the merge: the stored-bytes trace
    /// (`part-storage.bin`) and, with prices, the exact cost sums as the time series' last
    /// columns ([`PART_COST_COLUMNS`]).
    pub fn for_part(&mut self) -> Result<()> {
        self.part = true;
        self.trace = Some(TraceWriter::create(&self.dir.join(STORAGE_TRACE))?);
        Ok(())
    }

    /// Stops the run (cut short) once the wall clock passes `deadline` (`--run-max-wall`).
    pub fn stop_at(&mut self, deadline: std::time::Instant) {
        self.deadline = Some(deadline);
    }

    /// Whether the run was stopped at its wall-clock deadline.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    fn fail(&mut self, file: &str, e: impl Into<std::io::Error>) {
        if self.error.is_none() {
            self.error = Some((self.dir.join(file), e.into()));
        }
    }
}

/// Columns of `jobs.csv`.
pub const JOBS_HEADER: [&str; 20] = [
    "id",
    "kind",
    "fleet",
    "vm",
    "vault",
    "attempt",
    "scheduled_s",
    "started_s",
    "finished_s",
    "duration_s",
    "queue_s",
    "extension_s",
    "snapshot_s",
    "transfer_s",
    "create_s",
    "bytes",
    "outcome",
    "error_code",
    "consistency",
    "window_miss",
];

impl Observer for Writers {
    fn wants_jobs(&self) -> bool {
        self.jobs.is_some()
    }

    fn job(&mut self, r: &JobRecord<'_>) {
        let Some(w) = self.jobs.as_mut() else { return };
        let mut row = Row::new(&mut self.row);
        row.u64(r.id);
        row.str(r.kind);
        row.str(r.fleet);
        row.u64(r.vm.into());
        row.str(r.vault);
        row.u64(r.attempt.into());
        row.secs(r.scheduled.as_micros());
        row.secs(r.started.as_micros());
        row.secs(r.finished.as_micros());
        row.secs(r.finished.since(r.started).as_micros());
        for p in r.phases {
            row.secs(p.as_micros());
        }
        row.u64(r.bytes);
        row.str(r.outcome);
        row.str(r.error);
        row.str(r.consistency);
        row.str(if r.window_miss { "1" } else { "0" });
        if let Err(e) = w.write_all(row.end()) {
            self.fail("jobs.csv", e);
        }
    }

    fn wants_storage(&self) -> bool {
        self.trace.is_some()
    }

    fn storage(&mut self, at: crate::engine::SimTime, bytes: u64) {
        if let Some(t) = self.trace.as_mut() {
            if let Err(e) = t.push(at.as_micros(), bytes) {
                self.fail(STORAGE_TRACE, e);
            }
        }
    }

    fn keep_going(&mut self) -> bool {
        if self
            .deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
        {
            self.timed_out = true;
        }
        !self.timed_out
    }

    fn sample(&mut self, s: &Sample<'_>) {
        if let Some(p) = &self.progress {
            p.set_position(s.time.as_micros() / 1_000_000);
        }
        if self.series.is_none() {
            return;
        }
        if !self.series_header {
            self.series_header = true;
            let tiers: Vec<&str> = self.tiers().collect();
            let mut h = series_header(
                &self.link_names,
                &self.vault_names,
                &tiers,
                s.cost_monthly.is_some(),
            );
            if self.part && s.cost_now.is_some() {
                h.extend(PART_COST_COLUMNS.map(String::from));
            }
            let mut row = Row::new(&mut self.row);
            for name in &h {
                row.str(name);
            }
            if let Err(e) = self.series.as_mut().expect("checked").write_all(row.end()) {
                self.fail("timeseries.csv", e);
            }
        }
        // The buffer is taken for the row so that the tiers can be read from `self`.
        let mut buf = std::mem::take(&mut self.row);
        let mut row = Row::new(&mut buf);
        row.secs(s.time.as_micros());
        row.u64(s.running_jobs);
        row.u64(s.queued_jobs);
        row.u64(s.running_restores);
        row.u64(s.windows_open);
        for &(thr, util) in s.links {
            row.display(format_args!("{thr:.3}"));
            row.display(format_args!("{util:.6}"));
        }
        for &(bytes, points) in s.vaults {
            row.u64(bytes);
            row.u64(points);
        }
        for t in self.tiers() {
            let stored = s
                .vaults
                .iter()
                .zip(&self.vault_tiers)
                .filter(|(_, &vt)| vt == t)
                .map(|((b, _), _)| b)
                .sum();
            row.u64(stored);
        }
        for c in s.cost_monthly.into_iter().flatten() {
            row.display(format_args!("{c:.6}"));
        }
        if let Some(n) = s.cost_now.filter(|_| self.part) {
            for x in [n.instances, n.stored[0], n.stored[1]] {
                row.display(format_args!("{x}"));
            }
        }
        let written = self.series.as_mut().expect("checked").write_all(row.end());
        self.row = buf;
        if let Err(e) = written {
            self.fail("timeseries.csv", e);
        }
    }
}

/// The cost columns of `timeseries.csv` (with `[cost]`): the monthly rate and its parts.
pub const COST_COLUMNS: [&str; 3] = [
    "cost.monthly",
    "cost.monthly.instances",
    "cost.monthly.storage",
];

/// The counts at the start of every `timeseries.csv` row after `time_s`, which the parts
/// of a partitioned run add.
const SERIES_COUNTS: [&str; 4] = [
    "running_jobs",
    "queued_jobs",
    "running_restores",
    "windows_open",
];

/// The header of `timeseries.csv` for these links, vaults and redundancies (`grs`,
/// `lrs`, those the vaults have), with the cost columns when `cost`.
fn series_header(links: &[String], vaults: &[String], tiers: &[&str], cost: bool) -> Vec<String> {
    let mut h = vec!["time_s".to_string()];
    h.extend(SERIES_COUNTS.map(String::from));
    for l in links {
        h.push(format!("link.{l}.throughput_Bps"));
        h.push(format!("link.{l}.utilization"));
    }
    for v in vaults {
        h.push(format!("vault.{v}.stored_bytes"));
        h.push(format!("vault.{v}.recovery_points"));
    }
    for t in tiers {
        h.push(format!("storage.{t}.stored_bytes"));
    }
    if cost {
        h.extend(COST_COLUMNS.map(String::from));
    }
    h
}

/// One part's time series.
struct PartSeries {
    path: PathBuf,
    head: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl PartSeries {
    /// Reads `dir/timeseries.csv` (`None` when there is none).
    fn read(dir: &Path) -> Result<Option<PartSeries>> {
        let path = dir.join("timeseries.csv");
        if !path.is_file() {
            return Ok(None);
        }
        let bad = |e: &dyn std::fmt::Display| {
            Error::input(
                path.display().to_string(),
                format!("{e}; expected the time series of a part written by `run --partition`"),
            )
        };
        let mut r = csv::Reader::from_path(&path).map_err(|e| bad(&e))?;
        let head = r.headers().map_err(|e| bad(&e))?;
        let head = head.iter().map(String::from).collect();
        let rows = r.records().collect::<std::result::Result<Vec<_>, _>>();
        let rows = rows.map_err(|e| bad(&e))?;
        Ok(Some(PartSeries { path, head, rows }))
    }

    /// The index of column `name`, if the part has it.
    fn col(&self, name: &str) -> Option<usize> {
        self.head.iter().position(|h| h == name)
    }

    /// The whole number in row `r`, column `c`.
    fn whole(&self, r: usize, c: usize) -> Result<u128> {
        let x = &self.rows[r][c];
        x.parse().map_err(|_| {
            Error::input(
                self.path.display().to_string(),
                format!(
                    "row {}: column {} is not a whole number: {x}",
                    r + 2,
                    self.head[c]
                ),
            )
        })
    }
}

/// The sum of the parts' exact cost columns (`cost_at`: where each part has them) in row
/// `r`.
fn part_costs(
    parts: &[PartSeries],
    cost_at: &[[Option<usize>; 3]],
    r: usize,
) -> Result<crate::model::CostSums> {
    let mut sums = crate::model::CostSums::default();
    for (p, cols) in parts.iter().zip(cost_at) {
        for (k, c) in cols.iter().enumerate() {
            let Some(c) = *c else { continue };
            let x = p.whole(r, c)?;
            match k {
                0 => sums.instances += x,
                _ => sums.stored[k - 1] += x,
            }
        }
    }
    Ok(sums)
}

/// The whole run's `timeseries.csv` from its parts' (`dirs`, in part order), `None` when
/// the parts have none: the counts and the stored bytes per redundancy added, each link's
/// and vault's columns from the part that has them, the cost columns priced from the
/// summed [`PART_COST_COLUMNS`], in the columns of the whole run (`layout`).
pub fn merge_series(
    dirs: &[PathBuf],
    layout: &super::partition::Layout,
) -> Result<Option<Vec<u8>>> {
    let mut parts = Vec::new();
    for d in dirs {
        match PartSeries::read(d)? {
            Some(p) => parts.push(p),
            None => return Ok(None),
        }
    }
    let n = parts.first().map_or(0, |p| p.rows.len());
    if let Some(p) = parts.iter().find(|p| p.rows.len() != n) {
        return Err(Error::input(
            p.path.display().to_string(),
            format!("{} rows where the first part has {n}: the parts of one run sample at the same times; run the part again", p.rows.len()),
        ));
    }
    let tiers: Vec<&str> = ["grs", "lrs"]
        .into_iter()
        .filter(|t| layout.vaults.iter().any(|(_, vt)| vt == t))
        .collect();
    let vaults: Vec<String> = layout.vaults.iter().map(|(n, _)| n.clone()).collect();
    let prices = layout.prices();
    let header = series_header(&layout.links, &vaults, &tiers, prices.is_some());
    // Where each column of the whole run's, and each exact cost column, is in each part.
    let at: Vec<Vec<Option<usize>>> = parts
        .iter()
        .map(|p| header.iter().map(|h| p.col(h)).collect())
        .collect();
    let cost_at: Vec<[Option<usize>; 3]> = parts
        .iter()
        .map(|p| PART_COST_COLUMNS.map(|c| p.col(c)))
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).expect("in memory");
    for r in 0..n {
        let monthly = match &prices {
            Some(prices) => Some(part_costs(&parts, &cost_at, r)?.monthly(prices)),
            None => None,
        };
        let mut row = Vec::with_capacity(header.len());
        for (i, name) in header.iter().enumerate() {
            let held = || {
                parts
                    .iter()
                    .zip(&at)
                    .filter_map(move |(p, at)| Some((p, at[i]?)))
            };
            let value = if let Some(k) = COST_COLUMNS.iter().position(|c| c == name) {
                format!("{:.6}", monthly.expect("cost columns with prices")[k])
            } else if SERIES_COUNTS.contains(&name.as_str()) || name.starts_with("storage.") {
                let sum = held().map(|(p, c)| p.whole(r, c)).sum::<Result<u128>>()?;
                sum.to_string()
            } else {
                // The sample time (the same in every part) or one entity's column.
                let mut values = held().map(|(p, c)| (p, &p.rows[r][c]));
                let (_, first) = values.next().unwrap_or((&parts[0], ""));
                let time = name == "time_s";
                if let Some((p, other)) = values.find(|(_, v)| time && *v != first) {
                    return Err(Error::input(p.path.display().to_string(), format!("row {}: sampled at {other} s where another part sampled at {first} s: not parts of one run", r + 2)));
                }
                first.to_string()
            };
            row.push(value);
        }
        w.write_record(&row).expect("in memory");
    }
    Ok(Some(w.into_inner().expect("in memory")))
}

/// The columns a part of a partitioned run adds to its time series (with `[cost]`): the
/// exact sums behind the cost columns (`model::CostSums`: the protected instances' monthly
/// price in nano-units, the bytes stored in geo- and locally redundant vaults), which the
/// merge adds and prices as the whole run does. Not in a whole run's time series.
pub const PART_COST_COLUMNS: [&str; 3] = [
    "part.cost.instances_nano",
    "part.cost.stored_grs",
    "part.cost.stored_lrs",
];

impl Writers {
    /// The redundancies of the run's vaults, each once, in a fixed order.
    fn tiers(&self) -> impl Iterator<Item = &'static str> + '_ {
        ["grs", "lrs"]
            .into_iter()
            .filter(|t| self.vault_tiers.contains(t))
    }
}

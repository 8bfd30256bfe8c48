//! Writing a run's results directory, atomically.
//!
//! Everything is written into a temporary directory beside the destination and renamed
//! into place only when complete, so a failed or interrupted run never leaves a
//! half-written results directory. `jobs.csv` and `timeseries.csv` are streamed as the
//! model produces rows, never held in memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use crate::error::{io_at as io, Error, Result};
use crate::model::{simulate, JobRecord, Observer, Sample};
use crate::scenario::schema::{JobsCsv, JOBS_CSV_AUTO_LIMIT};
use crate::scenario::{Loaded, Scenario};

/// Temporary directories in flight, removed by the Ctrl-C handler before exiting.
pub static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes every in-flight temporary directory (called on Ctrl-C).
pub fn remove_in_flight() {
    if let Ok(dirs) = IN_FLIGHT.lock() {
        for d in dirs.iter() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides the scenario's `jobs_csv` setting.
    pub jobs_csv: Option<bool>,
    /// The command line, recorded in `run.json`.
    pub command_line: Vec<String>,
    /// Show a progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// Render plots.
    pub plots: bool,
    /// The run is one of a sweep (whose `jobs_csv` comes from the sweep's `--jobs-csv`).
    pub in_sweep: bool,
}

/// What a finished run reports back.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The results directory.
    pub dir: PathBuf,
    /// The summary metrics.
    pub summary: BTreeMap<String, f64>,
    /// Events processed.
    pub events: u64,
    /// Wall-clock seconds of the simulation itself.
    pub wall_seconds: f64,
    /// Whether jobs.csv was written.
    pub jobs_csv: bool,
    /// "replacing DIR, written DATE" when an earlier results directory was replaced.
    pub replacing: Option<String>,
    /// Remarks found while running (e.g. draws saturated at a cap), also in `run.json`.
    pub notes: Vec<String>,
}

/// Seconds with exactly six decimals: the clock's microseconds, exactly.
pub fn secs(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// Why `jobs.csv` is not written, or `None` when it is: the setting that turned it off.
pub fn jobs_csv_off_reason(s: &Scenario, opts: &RunOptions) -> Option<String> {
    match (opts.jobs_csv, s.simulation.jobs_csv) {
        (Some(true), _) | (None, JobsCsv::On) => None,
        (Some(false), _) if opts.in_sweep => Some(
            "jobs.csv not written: the runs of a sweep write it only with --jobs-csv on".into(),
        ),
        (Some(false), _) => Some("jobs.csv not written: --jobs-csv off was given".into()),
        (None, JobsCsv::Off) => Some(
            "jobs.csv not written: the scenario sets simulation.jobs_csv = \"off\" (use --jobs-csv on to write it)"
                .into(),
        ),
        (None, JobsCsv::Auto) => {
            let n = expected_jobs(s);
            (n > JOBS_CSV_AUTO_LIMIT).then(|| format!("jobs.csv not written: about {n} jobs expected, over the automatic limit of {JOBS_CSV_AUTO_LIMIT} (use --jobs-csv on)"))
        }
    }
}

/// The number of backup jobs a scenario will roughly create (for `jobs_csv = "auto"`).
pub fn expected_jobs(s: &Scenario) -> u64 {
    let days = s.simulation.duration.0.as_secs_f64() / 86_400.0;
    s.fleet
        .iter()
        .map(|f| {
            let p = s.policy.iter().find(|p| p.name == f.policy);
            let per_day = match p.and_then(|p| p.schedule.as_ref()) {
                Some(sch) if sch.daily.is_some() => 1.0,
                Some(sch) => sch.weekly.as_ref().map_or(0.0, |w| w.len() as f64 / 7.0),
                None => 0.0,
            };
            (f.count as f64 * days * (per_day + f.on_demand.per_vm_per_day)) as u64
        })
        .sum()
}

struct Writers {
    jobs: Option<csv::Writer<BufWriter<File>>>,
    series: csv::Writer<BufWriter<File>>,
    series_header: bool,
    link_names: Vec<String>,
    vault_names: Vec<String>,
    error: Option<(PathBuf, std::io::Error)>,
    dir: PathBuf,
    progress: Option<indicatif::ProgressBar>,
    row: Vec<String>,
}

impl Writers {
    fn fail(&mut self, file: &str, e: impl Into<std::io::Error>) {
        if self.error.is_none() {
            self.error = Some((self.dir.join(file), e.into()));
        }
    }
}

fn csv_err(e: csv::Error) -> std::io::Error {
    std::io::Error::other(e)
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
        let row = &mut self.row;
        row.clear();
        row.push(r.id.to_string());
        row.push(r.kind.to_string());
        row.push(r.fleet.to_string());
        row.push(r.vm.to_string());
        row.push(r.vault.to_string());
        row.push(r.attempt.to_string());
        row.push(secs(r.scheduled.as_micros()));
        row.push(secs(r.started.as_micros()));
        row.push(secs(r.finished.as_micros()));
        row.push(secs(r.finished.since(r.started).as_micros()));
        for p in r.phases {
            row.push(secs(p.as_micros()));
        }
        row.push(r.bytes.to_string());
        row.push(r.outcome.to_string());
        row.push(r.error.to_string());
        row.push(r.consistency.to_string());
        row.push(if r.window_miss { "1" } else { "0" }.to_string());
        if let Err(e) = w.write_record(&*row) {
            self.fail("jobs.csv", csv_err(e));
        }
    }

    fn sample(&mut self, s: &Sample<'_>) {
        if let Some(p) = &self.progress {
            p.set_position(s.time.as_micros() / 1_000_000);
        }
        if !self.series_header {
            self.series_header = true;
            let mut h: Vec<String> = [
                "time_s",
                "running_jobs",
                "queued_jobs",
                "running_restores",
                "windows_open",
            ]
            .iter()
            .map(|x| x.to_string())
            .collect();
            for l in &self.link_names {
                h.push(format!("link.{l}.throughput_Bps"));
                h.push(format!("link.{l}.utilization"));
            }
            for v in &self.vault_names {
                h.push(format!("vault.{v}.stored_bytes"));
                h.push(format!("vault.{v}.recovery_points"));
            }
            if let Err(e) = self.series.write_record(&h) {
                self.fail("timeseries.csv", csv_err(e));
            }
        }
        let mut row = vec![
            secs(s.time.as_micros()),
            s.running_jobs.to_string(),
            s.queued_jobs.to_string(),
            s.running_restores.to_string(),
            s.windows_open.to_string(),
        ];
        for (thr, util) in s.links {
            row.push(format!("{:.3}", thr));
            row.push(format!("{:.6}", util));
        }
        for (bytes, points) in s.vaults {
            row.push(bytes.to_string());
            row.push(points.to_string());
        }
        if let Err(e) = self.series.write_record(&row) {
            self.fail("timeseries.csv", csv_err(e));
        }
    }
}

/// Peak resident memory of this process in bytes (Linux `VmHWM`), if known.
pub fn peak_memory_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Writes `summary.json`: sorted keys, one metric per line.
pub fn write_summary(path: &Path, summary: &BTreeMap<String, f64>) -> Result<()> {
    let mut text = serde_json::to_string_pretty(summary).expect("numbers serialize");
    text.push('\n');
    io(path, std::fs::write(path, text))
}

/// Writes each histogram to `dir/<name>.hdr` (V2, deflate-compressed).
pub fn write_histograms(
    dir: &Path,
    hists: &BTreeMap<String, hdrhistogram::Histogram<u64>>,
) -> Result<()> {
    io(dir, std::fs::create_dir_all(dir))?;
    for (name, h) in hists {
        let path = dir.join(format!("{name}.hdr"));
        io(&path, crate::histio::write_hdr(&path, h))?;
    }
    Ok(())
}

/// `mode` as a new file or directory is created by `open(2)`/`mkdir(2)`: the user's umask
/// applies (temporary files would otherwise be owner-only).
fn umask_mode(mode: u32) -> std::fs::Permissions {
    #[cfg(unix)]
    {
        std::os::unix::fs::PermissionsExt::from_mode(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        std::fs::metadata(".")
            .map(|m| m.permissions())
            .expect("cwd metadata")
    }
}

/// Writes a file atomically (a temporary file in the same directory, then a rename), so
/// concurrent writers and readers never see half a file. The file gets the user's umask.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    io(dir, std::fs::create_dir_all(dir))?;
    let mut tmp = io(
        dir,
        tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(umask_mode(0o666))
            .tempfile_in(dir),
    )?;
    io(path, tmp.write_all(bytes))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// What a results directory is, by the file that marks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutKind {
    /// A run's results directory (marked by `run.json`).
    Run,
    /// A sweep directory or sweep shard (marked by `sweep.json`).
    Sweep,
}

impl OutKind {
    fn marker(self) -> &'static str {
        match self {
            OutKind::Run => "run.json",
            OutKind::Sweep => "sweep.json",
        }
    }
}

/// Checks that `dest` may be written as a `kind` directory before anything is touched: it
/// must not exist yet, be empty, or be a directory this tool wrote as that kind; it may
/// never be (or contain) the working directory. Returns `Some(note)` ("replacing DIR,
/// written DATE") when an earlier results directory will be replaced.
pub fn claim_out_dir(dest: &Path, kind: OutKind) -> Result<Option<String>> {
    let refuse = |why: String| -> Result<Option<String>> {
        Err(Error::input(
            dest.display().to_string(),
            format!("{why}; nothing was written: choose another --out (a new or empty directory, or one that backupsim wrote)"),
        ))
    };
    let meta = match std::fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(dest, e)),
    };
    if !meta.is_dir() {
        return refuse("expected a results directory, found an existing file".into());
    }
    let canonical = io(dest, std::fs::canonicalize(dest))?;
    if let Ok(cwd) = std::env::current_dir().and_then(std::fs::canonicalize) {
        if cwd.starts_with(&canonical) {
            return refuse(format!(
                "expected a results directory, found the working directory {}",
                if cwd == canonical {
                    "itself"
                } else {
                    "'s parent"
                }
            ));
        }
    }
    let mut entries: Vec<String> = io(dest, std::fs::read_dir(dest))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if entries.is_empty() {
        return Ok(None);
    }
    let marker = dest.join(kind.marker());
    match std::fs::metadata(&marker) {
        Ok(m) if m.is_file() => Ok(Some(format!(
            "replacing {}, written {}",
            dest.display(),
            m.modified()
                .map(fmt_utc)
                .unwrap_or_else(|_| "at an unknown time".into())
        ))),
        _ => {
            entries.sort();
            let shown: Vec<&str> = entries.iter().take(3).map(String::as_str).collect();
            let more = if entries.len() > 3 { ", ..." } else { "" };
            refuse(format!(
                "expected an empty directory or one backupsim wrote (with {}), found other files ({}{more})",
                kind.marker(),
                shown.join(", ")
            ))
        }
    }
}

/// A wall-clock instant as `YYYY-MM-DD HH:MM UTC` (civil calendar from days since 1970).
fn fmt_utc(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60
    )
}

/// A temporary directory beside `dest`, registered for removal on Ctrl-C.
pub struct Staging {
    dir: Option<tempfile::TempDir>,
}

impl Staging {
    /// Creates the staging directory for `dest`.
    pub fn new(dest: &Path) -> Result<Staging> {
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        io(parent, std::fs::create_dir_all(parent))?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "results".into());
        let dir = io(
            parent,
            tempfile::Builder::new()
                .prefix(&format!(".{name}.partial-"))
                .tempdir_in(parent),
        )?;
        if let Ok(mut v) = IN_FLIGHT.lock() {
            v.push(dir.path().to_path_buf());
        }
        Ok(Staging { dir: Some(dir) })
    }

    /// The staging path.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("staging dir").path()
    }

    /// Moves the finished directory into place, replacing any previous results there
    /// (checked again with [`claim_out_dir`]: a directory that gained foreign files while
    /// the run went on is never deleted).
    pub fn commit(self, dest: &Path, kind: OutKind) -> Result<()> {
        claim_out_dir(dest, kind)?;
        self.commit_unchecked(dest)
    }

    /// Moves the finished directory into place; `dest` is known to be this tool's own.
    pub fn commit_unchecked(mut self, dest: &Path) -> Result<()> {
        let dir = self.dir.take().expect("staging dir");
        let tmp = dir.keep();
        if let Ok(mut v) = IN_FLIGHT.lock() {
            v.retain(|p| p != &tmp);
        }
        if dest.exists() {
            let old = tmp.with_extension("old");
            io(dest, std::fs::rename(dest, &old))?;
            io(dest, std::fs::rename(&tmp, dest))?;
            let _ = std::fs::remove_dir_all(&old);
        } else {
            io(dest, std::fs::rename(&tmp, dest))?;
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            if let Ok(mut v) = IN_FLIGHT.lock() {
                v.retain(|p| p != d.path());
            }
        }
    }
}

/// Runs a loaded scenario and writes its results directory at `dest`.
pub fn run_to_dir(loaded: &Loaded, dest: &Path, opts: &RunOptions) -> Result<RunReport> {
    let s = &loaded.scenario;
    let replacing = claim_out_dir(dest, OutKind::Run)?;
    let staging = Staging::new(dest)?;
    let dir = staging.path().to_path_buf();
    let jobs_off = jobs_csv_off_reason(s, opts);
    let jobs_on = jobs_off.is_none();
    let open = |name: &str| -> Result<csv::Writer<BufWriter<File>>> {
        let p = dir.join(name);
        let f = io(&p, File::create(&p))?;
        Ok(csv::Writer::from_writer(BufWriter::with_capacity(
            1 << 16,
            f,
        )))
    };
    let mut jobs = if jobs_on {
        Some(open("jobs.csv")?)
    } else {
        None
    };
    if let Some(w) = jobs.as_mut() {
        io(
            &dir.join("jobs.csv"),
            w.write_record(JOBS_HEADER).map_err(csv_err),
        )?;
    }
    let progress =
        (opts.progress && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
            let total = s.simulation.duration.0.as_micros() / 1_000_000;
            let pb = indicatif::ProgressBar::new(total);
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} simulated {msg} [{bar:30}] {percent}% eta {eta}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            pb.set_message(s.simulation.name.clone());
            pb
        });
    let mut w = Writers {
        jobs,
        series: open("timeseries.csv")?,
        series_header: false,
        link_names: s.link.iter().map(|l| l.name.clone()).collect(),
        vault_names: s.vault.iter().map(|v| v.name.clone()).collect(),
        error: None,
        dir: dir.clone(),
        progress,
        row: Vec::with_capacity(JOBS_HEADER.len()),
    };
    let start = Instant::now();
    let outcome = simulate(s, &mut w).map_err(|f| {
        if f.is_bug() {
            Error::Simulator(f.to_string())
        } else {
            Error::input(
                loaded.path.display().to_string(),
                format!("{f}; nothing was written: reduce the scenario (fleet counts) or run it on a machine with more memory"),
            )
        }
    })?;
    let run_notes = outcome.saturation_notes(s);
    let wall = start.elapsed().as_secs_f64();
    if let Some(p) = &w.progress {
        p.finish_and_clear();
    }
    if let Some((p, e)) = w.error.take() {
        return Err(Error::io(p, e));
    }
    if let Some(j) = w.jobs.as_mut() {
        io(&dir.join("jobs.csv"), j.flush())?;
    }
    io(&dir.join("timeseries.csv"), w.series.flush())?;
    drop(w);
    write_summary(&dir.join("summary.json"), &outcome.summary)?;
    write_histograms(&dir.join("histograms"), &outcome.histograms)?;
    let resolved = dir.join("scenario.resolved.toml");
    io(&resolved, std::fs::write(&resolved, s.to_resolved_toml()))?;
    let run = serde_json::json!({
        "scenario": s.simulation.name,
        "seed": s.simulation.seed,
        "version": env!("CARGO_PKG_VERSION"),
        "command_line": opts.command_line,
        "wall_seconds": wall,
        "events": outcome.events,
        "events_per_second": if wall > 0.0 { outcome.events as f64 / wall } else { 0.0 },
        "peak_memory_bytes": peak_memory_bytes(),
        "jobs_csv": jobs_on,
        "jobs_csv_note": jobs_off,
        "notes": loaded.notes.iter().chain(&run_notes).collect::<Vec<_>>(),
        "simulated": s.simulation.duration.to_string(),
    });
    let rp = dir.join("run.json");
    io(
        &rp,
        std::fs::write(
            &rp,
            serde_json::to_string_pretty(&run).expect("json") + "\n",
        ),
    )?;
    if opts.plots {
        crate::plot::render_for_run(&dir, &s.simulation.name)?;
    }
    staging.commit(dest, OutKind::Run)?;
    Ok(RunReport {
        replacing,
        dir: dest.to_path_buf(),
        summary: outcome.summary,
        events: outcome.events,
        wall_seconds: wall,
        jobs_csv: jobs_on,
        notes: run_notes,
    })
}

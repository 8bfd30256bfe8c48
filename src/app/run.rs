//! The `run` command's core: load → simulate → write → plot → commit, in a staging
//! directory renamed into place only when complete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{io_at as io, Error, Result};
use crate::model::simulate;
use crate::outputs::results::*;
use crate::scenario::schema::{JobsCsv, JOBS_CSV_AUTO_LIMIT};
use crate::scenario::{Loaded, Scenario};

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides the scenario's `jobs_csv` setting (`--jobs-csv`, or `--outputs` with or
    /// without `jobs`).
    pub jobs_csv: Option<bool>,
    /// The optional files to write (`--outputs`); `jobs` is decided by `jobs_csv` and the
    /// scenario.
    pub outputs: Outputs,
    /// `--outputs` was given without `jobs` (for the reason `jobs.csv` is not written).
    pub outputs_without_jobs: bool,
    /// The command line, recorded in `run.json`.
    pub command_line: Vec<String>,
    /// Show a progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// Render plots.
    pub plots: bool,
    /// The run is one of a sweep (whose `jobs_csv` comes from the sweep's `--jobs-csv`).
    pub in_sweep: bool,
    /// Batch means over this many batches after the warm-up (`--batches`; 0: off).
    pub batches: u32,
    /// Stop the run after this many events, marked cut short (`--run-max-events`; 0: no
    /// limit).
    pub max_events: u64,
    /// Stop the run after this much wall-clock time, marked cut short and outside the
    /// determinism guarantee (`--run-max-wall`).
    pub max_wall: Option<std::time::Duration>,
    /// The part of a partitioned run this is (`run --partition I/N`), recorded in
    /// `partition.json`.
    pub partition: Option<crate::outputs::results::partition::PartInfo>,
    /// Draw the progress bar among these (the parts of a split run, one bar each), when
    /// stderr is a terminal.
    pub bars: Option<indicatif::MultiProgress>,
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
    /// The per-night table (`nights.csv`).
    pub nights: Vec<crate::model::nights::Night>,
    /// Whether the run stopped at `--run-max-events` or `--run-max-wall` before its end.
    pub cut_short: bool,
    /// Whether it stopped at `--run-max-wall` (outside the determinism guarantee).
    pub cut_short_wall: bool,
}

/// Why `jobs.csv` is not written, or `None` when it is: the setting that turned it off.
pub fn jobs_csv_off_reason(s: &Scenario, opts: &RunOptions) -> Option<String> {
    match (opts.jobs_csv, s.simulation.jobs_csv) {
        (Some(true), _) | (None, JobsCsv::On) => None,
        (Some(false), _) if opts.outputs_without_jobs => {
            Some("jobs.csv not written: --outputs does not list jobs".into())
        }
        (Some(false), _) if opts.in_sweep => Some(
            "jobs.csv not written: the runs of a sweep write it only with --jobs-csv on or --outputs ...,jobs".into(),
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

/// What `run.json` records about a run: one writer for a whole run and for one merged
/// from its parts (`run --partition`, `merge`).
pub(crate) struct RunRecord<'a> {
    /// The scenario's name.
    pub scenario: &'a str,
    /// Its seed.
    pub seed: u64,
    /// The command line.
    pub command_line: &'a [String],
    /// Wall-clock seconds: of the simulation, or of a partitioned run from start to end.
    pub wall_seconds: f64,
    /// Events processed (of every part).
    pub events: u64,
    /// Why `jobs.csv` was not written, `None` when it was.
    pub jobs_csv_note: Option<String>,
    /// The files written (`jobs` from `jobs_csv_note`).
    pub outputs: Outputs,
    /// `--batches` (0: off).
    pub batches: u32,
    /// `--run-max-events` (0: no limit).
    pub max_events: u64,
    /// Whether the run stopped before the end of its simulated time.
    pub cut_short: bool,
    /// `--run-max-wall`.
    pub max_wall: Option<std::time::Duration>,
    /// Whether the results are within the determinism guarantee (not cut by the clock).
    pub deterministic: bool,
    /// The scenario's notes, then the run's.
    pub notes: Vec<String>,
    /// The simulated time ("30d").
    pub simulated: String,
}

impl RunRecord<'_> {
    /// Writes `run.json` at `path`, with the keys of `extra` besides (a merged run's
    /// parts), keys sorted.
    pub(crate) fn write(
        &self,
        path: &Path,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        let jobs_on = self.jobs_csv_note.is_none();
        let wall = self.wall_seconds;
        let mut run = serde_json::json!({
            "scenario": self.scenario,
            "seed": self.seed,
            "version": env!("CARGO_PKG_VERSION"),
            "model_version": crate::model::MODEL_VERSION,
            "command_line": self.command_line,
            "wall_seconds": wall,
            "events": self.events,
            "events_per_second": if wall > 0.0 { self.events as f64 / wall } else { 0.0 },
            "peak_memory_bytes": peak_memory_bytes(),
            "jobs_csv": jobs_on,
            "jobs_csv_note": self.jobs_csv_note,
            "outputs": Outputs { jobs: jobs_on, ..self.outputs }.names(),
            "batches": self.batches,
            "max_events": self.max_events,
            "cut_short": self.cut_short,
            "max_wall_seconds": self.max_wall.map(|d| d.as_secs_f64()),
            "deterministic": self.deterministic,
            "notes": self.notes,
            "simulated": self.simulated,
        });
        if let Some(map) = run.as_object_mut() {
            map.extend(extra);
        }
        let text = serde_json::to_string_pretty(&run).expect("json") + "\n";
        io(path, std::fs::write(path, text))
    }
}

/// Runs a loaded scenario and writes its results directory at `dest`.
///
/// An error about a file being written names the file as it would have been in `dest`,
/// never the internal staging directory (which is gone by then).
pub fn run_to_dir(loaded: &Loaded, dest: &Path, opts: &RunOptions) -> Result<RunReport> {
    let replacing = claim_out_dir(dest, OutKind::Run)?;
    let staging = Staging::new(dest)?;
    let dir = staging.path().to_path_buf();
    let (report, staging) = match write_run(loaded, &dir, opts) {
        Ok(r) => (r, staging),
        Err(e) => return Err(relocate(e, &dir, dest)),
    };
    staging.commit(dest, OutKind::Run)?;
    Ok(RunReport {
        replacing,
        dir: dest.to_path_buf(),
        ..report
    })
}

/// `e` with a path inside the staging directory `staging` shown inside `dest` instead.
fn relocate(e: Error, staging: &Path, dest: &Path) -> Error {
    let swap =
        |text: &str| text.replace(&staging.display().to_string(), &dest.display().to_string());
    match e {
        Error::Io { path, source } => {
            let path = path
                .strip_prefix(staging)
                .map_or_else(|_| path.clone(), |rel| dest.join(rel));
            let text = source.to_string();
            let source = if text.contains(&staging.display().to_string()) {
                std::io::Error::new(source.kind(), swap(&text))
            } else {
                source
            };
            Error::io(path, source)
        }
        Error::Input(mut i) => {
            i.file = swap(&i.file);
            i.message = swap(&i.message);
            Error::Input(i)
        }
        other => other,
    }
}

/// Simulates and writes every file of the results directory into `dir`.
fn write_run(loaded: &Loaded, dir: &Path, opts: &RunOptions) -> Result<RunReport> {
    let s = &loaded.scenario;
    let dir = dir.to_path_buf();
    let jobs_off = jobs_csv_off_reason(s, opts);
    let jobs_on = jobs_off.is_none();
    let shown = opts.progress || opts.bars.is_some();
    let progress = (shown && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        let total = s.simulation.duration.0.as_micros() / 1_000_000;
        let pb = indicatif::ProgressBar::new(total);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} simulated {msg} [{bar:30}] {percent}% eta {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        pb.set_message(match &opts.partition {
            Some(p) => format!("{} part {}/{}", s.simulation.name, p.part, p.parts),
            None => s.simulation.name.clone(),
        });
        match &opts.bars {
            Some(bars) => bars.add(pb),
            None => pb,
        }
    });
    let mut w = Writers::create(
        &dir,
        jobs_on,
        opts.outputs.timeseries,
        // From the configuration: a part of a partitioned run has only its own.
        loaded.config.links.iter().map(|l| l.name.clone()).collect(),
        loaded
            .config
            .vaults
            .iter()
            .map(|v| {
                let tier = match v.redundancy {
                    crate::model::config::Redundancy::Grs => "grs",
                    crate::model::config::Redundancy::Lrs => "lrs",
                };
                (v.name.clone(), tier)
            })
            .collect(),
        progress,
    )?;
    if opts.partition.is_some() {
        w.for_part()?;
    }
    // The run's own options reach the model through its configuration.
    let config = if opts.batches > 0 || opts.max_events > 0 {
        let mut c = loaded.config.clone();
        c.simulation.batches = opts.batches;
        c.simulation.max_events = opts.max_events;
        std::borrow::Cow::Owned(c)
    } else {
        std::borrow::Cow::Borrowed(&loaded.config)
    };
    let start = Instant::now();
    if let Some(limit) = opts.max_wall {
        w.stop_at(start + limit);
    }
    let outcome = simulate(&config, &mut w).map_err(|f| {
        if f.is_bug() {
            Error::Simulator(f.to_string())
        } else {
            Error::input(
                loaded.path.display().to_string(),
                format!("{f}; nothing was written: reduce the scenario (fleet counts) or run it on a machine with more memory"),
            )
        }
    })?;
    let mut run_notes = crate::model::saturation_notes(&outcome.saturated);
    let wall = start.elapsed().as_secs_f64();
    let wall_cut = w.timed_out();
    w.finish()?;
    let mut summary = outcome.summary;
    summary.extend(crate::outputs::sweeps::batch_summary(&outcome.batches));
    if outcome.cut_short {
        // Present only then: a run that reached its end has no such key.
        summary.insert(CUT_SHORT.into(), 1.0);
        if wall_cut {
            summary.insert(CUT_SHORT_WALL.into(), 1.0);
            run_notes.push(format!(
                "cut short: the run stopped at its wall-clock limit (--run-max-wall) after {} events, before the end of its simulated time; its metrics describe only what happened until then, and where it stopped depends on this machine's speed: they are outside the determinism guarantee",
                outcome.events
            ));
        } else {
            run_notes.push(format!(
                "cut short: the run stopped after {} events (--run-max-events) before the end of its simulated time; its metrics describe only what happened until then",
                outcome.events
            ));
        }
    }
    write_summary(&dir.join("summary.json"), &summary)?;
    if opts.outputs.histograms {
        write_histograms(&dir.join("histograms"), &outcome.histograms)?;
    }
    // The run's figures are drawn from its histograms and time series.
    let plots = opts.plots && opts.outputs.histograms && opts.outputs.timeseries;
    if opts.plots && !plots {
        run_notes.push(
            "plots not rendered: they are drawn from histograms and timeseries, which --outputs left out".into(),
        );
    }
    if opts.outputs.nights {
        crate::outputs::results::nights::write_nights(&dir.join("nights.csv"), &outcome.nights)?;
    }
    if let Some(info) = &opts.partition {
        use crate::outputs::results::partition::{PART_FILE, PART_HISTOGRAMS};
        let info = crate::outputs::results::partition::PartInfo {
            values: outcome.partials.values.clone(),
            costs: outcome.partials.costs.map(Into::into),
            batch_sums: outcome.partials.batch_sums.clone(),
            events: outcome.events,
            saturated: outcome.saturated.clone(),
            ..info.clone()
        };
        let p = dir.join(PART_FILE);
        io(&p, std::fs::write(&p, info.to_json()))?;
        write_histograms(&dir.join(PART_HISTOGRAMS), &outcome.partials.histograms)?;
    }
    let resolved = dir.join("scenario.resolved.toml");
    io(&resolved, std::fs::write(&resolved, s.to_resolved_toml()))?;
    RunRecord {
        scenario: &s.simulation.name,
        seed: s.simulation.seed,
        command_line: &opts.command_line,
        wall_seconds: wall,
        events: outcome.events,
        jobs_csv_note: jobs_off,
        outputs: opts.outputs,
        batches: opts.batches,
        max_events: opts.max_events,
        cut_short: outcome.cut_short,
        max_wall: opts.max_wall,
        deterministic: !wall_cut,
        notes: loaded.notes.iter().chain(&run_notes).cloned().collect(),
        simulated: s.simulation.duration.to_string(),
    }
    .write(&dir.join("run.json"), serde_json::Map::new())?;
    if plots {
        crate::outputs::plots::render_for_run(&dir, &s.simulation.name)?;
    }
    Ok(RunReport {
        replacing: None,
        dir,
        summary,
        events: outcome.events,
        wall_seconds: wall,
        jobs_csv: jobs_on,
        notes: run_notes,
        nights: outcome.nights,
        cut_short: outcome.cut_short,
        cut_short_wall: wall_cut,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_after_simulating_never_name_the_staging_directory() {
        let staging = Path::new("results/.quickstart.partial-Ab12");
        let dest = Path::new("results/quickstart");
        let e = Error::io(
            staging.join("plots/cdf.png"),
            std::io::Error::other("results/.quickstart.partial-Ab12/plots/cdf.png: disk full"),
        );
        let text = relocate(e, staging, dest).to_string();
        assert_eq!(
            text,
            "results/quickstart/plots/cdf.png: results/quickstart/plots/cdf.png: disk full"
        );
        let e = Error::input(
            "results/.quickstart.partial-Ab12/summary.json",
            "expected a number",
        );
        let text = relocate(e, staging, dest).to_string();
        assert!(!text.contains("partial"), "{text}");
    }
}

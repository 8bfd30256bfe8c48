//! Plots of a results directory.
//!
//! [`render`] draws every plot it has the input for into `<dir>/plots/`, each
//! as `<name>.svg` and `<name>.png`. A plot whose input file is missing (or
//! holds no data) is skipped, so a partial results directory still gives the
//! plots it can. Titles name the scenario: the `"scenario"` string of
//! `run.json` if there is one, else the directory's name.
//!
//! | name | input | what it shows |
//! |------|-------|---------------|
//! | `backup_duration_cdf` | `histograms/backup.duration.hdr` | CDF of backup job duration: x = duration in seconds on a **log** axis, y = fraction of jobs taking at most that long; p50/p90/p99 marked. |
//! | `phase_breakdown` | `summary.json` keys `backup.phase.<phase>.{mean,p99}` | grouped bars, mean and p99 in seconds, for the phases queue, extension, snapshot and transfer, values written on the bars. |
//! | `timeline` | `timeseries.csv` | top panel: running backup jobs, queued jobs (and running restores when the column exists); bottom panel: each link's throughput in MB/s (10^6 B/s). x = time since start in hours (days when the run is longer than 3 days). Periods where `windows_open > 0` (a backup window is open) are shaded in both panels. |
//! | `outcomes` | `summary.json` | horizontal bars, one per outcome that happened (non-zero), sorted by name from the top: `backup.jobs.succeeded` (green), `backup.failures.<Code>` (red), `unsupported.<Reason>` (orange), `restore.rejected.<Reason>` (purple); x = count, the exact count written at each bar's end. |
//! | `vault_storage` | `timeseries.csv` | the stored data by redundancy (GRS, LRS) in GiB (2^30 B) over time; each vault's stored data; each vault's recovery points. |
//! | `rpo` | `histograms/rpo.hdr` | CDF of recovery point age: x = age in hours (linear), y = fraction of samples with at most that age; p50/p90/p99 marked. |
//! | `cost` | `timeseries.csv` (with `[cost]`) | the monthly cost rate over time: total, instances, storage (the scenario's currency per month). |
//! | `nights` | `nights.csv` | one panel per (policy, fleet), the first 8: per night (x = occurrence number and weekday) stacked bars of jobs that met the window (green), missed it late or still open (orange) and failed (red); a line (right axis) of the last finish minus the window's end in hours, with the window's end at 0. |
//!
//! [`render_sweep`] draws the plots of a sweep directory instead: each chosen
//! metric of `sweep.csv` against each varied key, mean with a 95% confidence
//! band (`plots/sweep_<metric>_by_<key>.{svg,png}`, see `docs/sweeps.md`).
//!
//! Long time series are reduced to about 2000 points per line by keeping
//! each bucket's minimum and maximum, so peaks survive.
//!
//! # Fonts
//!
//! All text uses DejaVu Sans, compiled into the binary from
//! `assets/DejaVuSans.ttf` (license in `assets/DejaVuSans-LICENSE.txt`) and
//! registered once with plotters' `ab_glyph` font support. plotters is built
//! without its `ttf` feature, so no code path looks up system fonts or
//! fontconfig: rendering works on a machine with no fonts installed. SVG
//! files name the family `DejaVu Sans` in their `<text>` elements; a viewer
//! without that font substitutes its own, the PNGs are exact.

use std::path::{Path, PathBuf};

use crate::outputs::results::read::ReadError;

mod emit;
mod input;
mod run_figs;
mod solve_figs;
mod style;
mod sweep_figs;

pub use solve_figs::{SolveData, SolveProbe};

use emit::{remove_sweep_plots, write_figures};
use input::{scenario_name, SweepCsv};
use style::ensure_font;

/// The only font family plots use (bundled, see the module docs).
pub const FONT_FAMILY: &str = "DejaVu Sans";

/// Names of the plots, in the order [`render`] writes them.
pub const PLOT_NAMES: [&str; 8] = [
    "backup_duration_cdf",
    "phase_breakdown",
    "timeline",
    "outcomes",
    "vault_storage",
    "rpo",
    "nights",
    "cost",
];

/// Error of [`render`]. Every variant names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Reading an input file or creating the output directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A histogram file could not be read or decoded.
    #[error("histogram {}: {source}", path.display())]
    Histogram {
        /// The `.hdr` file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `summary.json` could not be read (the error names the file).
    #[error("{source}")]
    Summary {
        /// The `summary.json` file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: ReadError,
    },
    /// A CSV file is malformed.
    #[error("{}: {source}", path.display())]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: csv::Error,
    },
    /// A CSV cell is not a number.
    #[error("{}: line {line}, column {column:?}: {value:?} is not a number", path.display())]
    Parse {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// Column name.
        column: String,
        /// The cell's text.
        value: String,
    },
    /// A required column is missing from a CSV file.
    #[error("{}: missing column {column:?}", path.display())]
    MissingColumn {
        /// The CSV file.
        path: PathBuf,
        /// The column.
        column: String,
    },
    /// Drawing or writing a plot failed.
    #[error("drawing {}: {message}", path.display())]
    Draw {
        /// The output file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Renders every plot whose input exists in the results directory `dir` into
/// `dir/plots/<name>.svg` and `dir/plots/<name>.png` (see the module docs for
/// the plots), creating `dir/plots` if needed.
///
/// Returns the written paths in the order of [`PLOT_NAMES`], SVG before PNG
/// for each plot. Missing inputs skip their plot; unreadable or malformed
/// inputs are errors.
pub fn render(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    ensure_font();
    let scenario = scenario_name(dir);
    let figures = run_figs::figures(dir, &scenario)?;
    write_figures(&dir.join("plots"), &figures)
}

/// Renders the plots of the sweep directory `dir` (see `docs/sweeps.md`): for each of
/// `metrics` and each varied key, `dir/plots/sweep_<metric>_by_<key>.svg` and `.png`
/// (names made filesystem-safe: characters other than letters, digits, `.`, `-` and `_`
/// become `_`).
///
/// Each plot shows, against the key's values, the metric's mean over the replications
/// (`<metric>.mean` of `sweep.csv`) with markers, and its 95% confidence interval
/// (`.ci95_lo` to `.ci95_hi`) as a shaded band. The x axis is numeric when every value
/// of the key is a number, a duration, a size or a bandwidth (each value at its
/// position, labelled as given), else categorical in the sweep's order. With several
/// varied keys there is one line per combination of the other keys' values. The y axis
/// is in seconds for time metrics, GB (10^9 B) for byte metrics, unitless otherwise.
///
/// The keys and the order of their values come from `sweep.json` (else from `sweep.csv`
/// in order of appearance), the scenario name for the titles from `sweep.json` (else the
/// directory's name). Empty cells are skipped; a metric not in `sweep.csv`, or with no
/// value at any point, gets no plot; a sweep with no varied key gets none. Sweep plots
/// left by an earlier call (`plots/sweep_*`) are removed first, so `plots/` holds
/// exactly the plots of `metrics`. Rendering is deterministic: the same `sweep.csv` and
/// metrics give the same bytes.
///
/// Returns the written paths, by metric then key, SVG before PNG.
pub fn render_sweep(dir: &Path, metrics: &[String]) -> Result<Vec<PathBuf>, PlotError> {
    ensure_font();
    let def: Option<crate::outputs::sweeps::Definition> =
        std::fs::read_to_string(dir.join("sweep.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
    let vary: Option<Vec<(String, Vec<String>)>> = def.as_ref().map(|d| {
        d.vary
            .iter()
            .map(|v| (v.key.clone(), v.values.clone()))
            .collect()
    });
    let scenario = def
        .as_ref()
        .map_or_else(|| scenario_name(dir), |d| d.scenario_name.clone());
    let csv = SweepCsv::read(&dir.join("sweep.csv"), vary.as_deref())?;
    let figures = sweep_figs::figures(&csv, metrics, &scenario)?;
    let out = dir.join("plots");
    remove_sweep_plots(&out)?;
    write_figures(&out, &figures)
}

/// Renders the plots of a `solve` directory `dir` (see `docs/solve.md`): for each expected
/// metric, `dir/plots/solve_<metric>.svg` and `.png` against the searched key. Plots an
/// earlier search left are replaced. Deterministic: the same data give the same bytes.
pub fn render_solve(dir: &Path, data: &SolveData<'_>) -> Result<Vec<PathBuf>, PlotError> {
    ensure_font();
    for p in solve_figs::stale(dir) {
        std::fs::remove_file(&p).map_err(|source| PlotError::Io { path: p, source })?;
    }
    write_figures(&dir.join("plots"), &solve_figs::figures(data))
}

/// The file-name form of a metric or key in sweep plot names (`sweep_<metric>_by_<key>`):
/// letters, digits, `.`, `-` and `_` stay, anything else becomes `_`.
pub fn sanitize_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Renders the plots of a results directory being written by `run`, naming the scenario.
pub fn render_for_run(dir: &Path, _scenario: &str) -> crate::error::Result<()> {
    render(dir)
        .map(|_| ())
        .map_err(|e| crate::error::Error::Io {
            path: dir.join("plots"),
            source: std::io::Error::other(e.to_string()),
        })
}

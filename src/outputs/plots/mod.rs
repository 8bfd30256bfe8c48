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
//! | `vault_storage` | `timeseries.csv` | top panel: each vault's stored data in GiB (2^30 B) over time; bottom panel: each vault's recovery points. |
//! | `rpo` | `histograms/rpo.hdr` | CDF of recovery point age: x = age in hours (linear), y = fraction of samples with at most that age; p50/p90/p99 marked. |
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

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Once;

use hdrhistogram::Histogram;
use plotters::coord::combinators::IntoLogRange;
use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontDesc, FontFamily, FontStyle};

use crate::outputs::results::histio::read_hdr;
use crate::outputs::results::read::{read_summary, ReadError};

mod sweep_plots;
use sweep_plots::{sanitize, SweepCsv, SweepFig};

/// The only font family plots use (bundled, see the module docs).
pub const FONT_FAMILY: &str = "DejaVu Sans";

/// Names of the plots, in the order [`render`] writes them.
pub const PLOT_NAMES: [&str; 6] = [
    "backup_duration_cdf",
    "phase_breakdown",
    "timeline",
    "outcomes",
    "vault_storage",
    "rpo",
];

static FONT_BYTES: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
static REGISTER_FONT: Once = Once::new();

/// Registers the bundled font with plotters (once per process).
fn ensure_font() {
    REGISTER_FONT.call_once(|| {
        // The bundled file is a valid TrueType font; a unit test checks it.
        register_font(FONT_FAMILY, FontStyle::Normal, FONT_BYTES)
            .unwrap_or_else(|_| panic!("bundled {FONT_FAMILY} font is invalid"));
    });
}

/// The bundled font at `size` pixels.
fn font(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FONT_FAMILY), size, FontStyle::Normal)
}

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

    let summary_path = dir.join("summary.json");
    let summary = if summary_path.exists() {
        Some(read_summary(dir).map_err(|source| PlotError::Summary {
            path: summary_path,
            source,
        })?)
    } else {
        None
    };
    let ts_path = dir.join("timeseries.csv");
    let timeseries = if ts_path.exists() {
        Some(Table::read(&ts_path)?)
    } else {
        None
    };

    let mut figures: Vec<(&str, Figure)> = Vec::new();
    if let Some(h) = load_hist(&dir.join("histograms/backup.duration.hdr"))? {
        figures.push((
            PLOT_NAMES[0],
            Figure::Cdf(CdfFig::backup_duration(&h, &scenario)),
        ));
    }
    if let Some(f) = summary
        .as_ref()
        .and_then(|s| PhaseFig::from_summary(s, &scenario))
    {
        figures.push((PLOT_NAMES[1], Figure::Phase(f)));
    }
    if let Some(f) = timeseries
        .as_ref()
        .map(|t| TimelineFig::from_table(t, &scenario))
        .transpose()?
        .flatten()
    {
        figures.push((PLOT_NAMES[2], Figure::Timeline(f)));
    }
    if let Some(f) = summary
        .as_ref()
        .and_then(|s| OutcomesFig::from_summary(s, &scenario))
    {
        figures.push((PLOT_NAMES[3], Figure::Outcomes(f)));
    }
    if let Some(f) = timeseries
        .as_ref()
        .map(|t| VaultFig::from_table(t, &scenario))
        .transpose()?
        .flatten()
    {
        figures.push((PLOT_NAMES[4], Figure::Vault(f)));
    }
    if let Some(h) = load_hist(&dir.join("histograms/rpo.hdr"))? {
        figures.push((PLOT_NAMES[5], Figure::Cdf(CdfFig::rpo(&h, &scenario))));
    }

    let out = dir.join("plots");
    if !figures.is_empty() {
        std::fs::create_dir_all(&out).map_err(|source| PlotError::Io {
            path: out.clone(),
            source,
        })?;
    }
    let mut written = Vec::new();
    for (name, fig) in &figures {
        emit(fig, &out, name, &mut written)?;
    }
    Ok(written)
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

    let mut figures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for m in metrics {
        if !seen.insert(m.as_str()) {
            continue;
        }
        for (k, key) in csv.keys.iter().enumerate() {
            if let Some(f) = SweepFig::build(&csv, m, k, &scenario)? {
                let name = format!("sweep_{}_by_{}", sanitize(m), sanitize(key));
                figures.push((name, Figure::Sweep(f)));
            }
        }
    }

    let out = dir.join("plots");
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PlotError::Io { path, source }
    };
    if let Ok(rd) = std::fs::read_dir(&out) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("sweep_") && (name.ends_with(".svg") || name.ends_with(".png")) {
                std::fs::remove_file(e.path()).map_err(io_err(&e.path()))?;
            }
        }
    }
    if !figures.is_empty() {
        std::fs::create_dir_all(&out).map_err(io_err(&out))?;
    }
    let mut written = Vec::new();
    for (name, fig) in &figures {
        emit(fig, &out, name, &mut written)?;
    }
    Ok(written)
}

/// The file-name form of a metric or key in sweep plot names (`sweep_<metric>_by_<key>`):
/// letters, digits, `.`, `-` and `_` stay, anything else becomes `_`.
pub fn sanitize_name(s: &str) -> String {
    sanitize(s)
}

/// The scenario name for titles: `run.json`'s `"scenario"` string, else the
/// directory's name. An unreadable `run.json` also falls back to the name.
fn scenario_name(dir: &Path) -> String {
    let from_run = std::fs::read_to_string(dir.join("run.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("scenario")?.as_str().map(str::to_string));
    if let Some(s) = from_run {
        return s;
    }
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    name(dir)
        .or_else(|| dir.canonicalize().ok().as_deref().and_then(name))
        .unwrap_or_else(|| dir.display().to_string())
}

/// Reads a histogram; `None` if the file is missing or the histogram empty.
fn load_hist(path: &Path) -> Result<Option<Histogram<u64>>, PlotError> {
    if !path.exists() {
        return Ok(None);
    }
    let h = read_hdr(path).map_err(|source| PlotError::Histogram {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((!h.is_empty()).then_some(h))
}

// ---------------------------------------------------------------------------
// Inputs

/// Opens a CSV file with a header row; returns the reader and the trimmed column names.
fn open_csv(path: &Path) -> Result<(csv::Reader<std::fs::File>, Vec<String>), PlotError> {
    let csv_err = |source| PlotError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(csv_err)?;
    let names = rdr
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    Ok((rdr, names))
}

/// A numeric CSV file, by column name.
struct Table {
    path: PathBuf,
    columns: BTreeMap<String, Vec<f64>>,
    rows: usize,
}

impl Table {
    fn read(path: &Path) -> Result<Table, PlotError> {
        let (mut rdr, names) = open_csv(path)?;
        let csv_err = |source| PlotError::Csv {
            path: path.to_path_buf(),
            source,
        };
        let mut cols: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
        let mut rows = 0;
        for rec in rdr.records() {
            let rec = rec.map_err(csv_err)?;
            let line = rec.position().map_or(0, |p| p.line());
            for (i, cell) in rec.iter().enumerate() {
                let cell = cell.trim();
                let v = if cell.is_empty() {
                    f64::NAN
                } else {
                    cell.parse::<f64>().map_err(|_| PlotError::Parse {
                        path: path.to_path_buf(),
                        line,
                        column: names[i].clone(),
                        value: cell.to_string(),
                    })?
                };
                cols[i].push(v);
            }
            rows += 1;
        }
        Ok(Table {
            path: path.to_path_buf(),
            columns: names.into_iter().zip(cols).collect(),
            rows,
        })
    }

    fn get(&self, name: &str) -> Option<&[f64]> {
        self.columns.get(name).map(Vec::as_slice)
    }

    fn require(&self, name: &str) -> Result<&[f64], PlotError> {
        self.get(name).ok_or_else(|| PlotError::MissingColumn {
            path: self.path.clone(),
            column: name.to_string(),
        })
    }

    /// `(<middle>, column)` for every column `<prefix><middle><suffix>`,
    /// sorted by middle part (e.g. link or vault names).
    fn family(&self, prefix: &str, suffix: &str) -> Vec<(String, &[f64])> {
        self.columns
            .iter()
            .filter_map(|(k, v)| {
                let mid = k.strip_prefix(prefix)?.strip_suffix(suffix)?;
                (!mid.is_empty()).then(|| (mid.to_string(), v.as_slice()))
            })
            .collect()
    }
}

/// The time axis of a timeseries: values in hours or days.
struct TimeAxis {
    xs: Vec<f64>,
    label: &'static str,
    range: (f64, f64),
}

impl TimeAxis {
    fn new(time_s: &[f64]) -> TimeAxis {
        let finite = || time_s.iter().copied().filter(|t| t.is_finite());
        let lo = finite().fold(f64::INFINITY, f64::min);
        let hi = finite().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) };
        let (unit, label) = if hi - lo > 3.0 * 86_400.0 {
            (86_400.0, "time since start (days)")
        } else {
            (3_600.0, "time since start (hours)")
        };
        let mut range = (lo / unit, hi / unit);
        if range.1 <= range.0 {
            range.1 = range.0 + 1.0;
        }
        TimeAxis {
            xs: time_s.iter().map(|t| t / unit).collect(),
            label,
            range,
        }
    }

    /// Intervals (in axis units) where `flag > 0`.
    fn intervals(&self, flag: &[f64]) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = Vec::new();
        let mut start = None;
        for (&x, &f) in self.xs.iter().zip(flag) {
            match (start, f > 0.0) {
                (None, true) => start = Some(x),
                (Some(s), false) => {
                    out.push((s, x));
                    start = None;
                }
                _ => {}
            }
        }
        if let (Some(s), Some(&last)) = (start, self.xs.last()) {
            out.push((s, last));
        }
        // Keep the drawing small: merge gaps narrower than 1/2000 of the span.
        if out.len() > 500 {
            let gap = (self.range.1 - self.range.0) / 2000.0;
            let mut merged: Vec<(f64, f64)> = Vec::new();
            for iv in out {
                match merged.last_mut() {
                    Some(last) if iv.0 - last.1 <= gap => last.1 = iv.1,
                    _ => merged.push(iv),
                }
            }
            out = merged;
        }
        out
    }
}

/// At most about `max_points` points of `(xs, ys)`: each bucket of
/// consecutive samples contributes its minimum and maximum, in time order.
/// NaN samples are dropped.
fn downsample(xs: &[f64], ys: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let pts: Vec<(f64, f64)> = xs
        .iter()
        .zip(ys)
        .map(|(&x, &y)| (x, y))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if pts.len() <= max_points {
        return pts;
    }
    let bucket = pts.len().div_ceil(max_points / 2);
    let mut out = Vec::with_capacity(max_points + 2);
    for chunk in pts.chunks(bucket) {
        let (mut imin, mut imax) = (0, 0);
        for (i, p) in chunk.iter().enumerate() {
            if p.1 < chunk[imin].1 {
                imin = i;
            }
            if p.1 > chunk[imax].1 {
                imax = i;
            }
        }
        out.push(chunk[imin.min(imax)]);
        if imin != imax {
            out.push(chunk[imin.max(imax)]);
        }
    }
    out
}

const MAX_LINE_POINTS: usize = 2000;

fn max_of<'a>(series: impl IntoIterator<Item = &'a [f64]>, scale: f64) -> f64 {
    series
        .into_iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, &v| m.max(v / scale))
}

/// Upper end of a linear axis showing values up to `max`.
fn headroom(max: f64) -> f64 {
    if max > 0.0 {
        max * 1.1
    } else {
        1.0
    }
}

// ---------------------------------------------------------------------------
// Formatting

// ---------------------------------------------------------------------------
// Figures

// Font sizes are even on purpose: plotters' ab_glyph rasterizer places each
// glyph at `(size / 2 + glyph top) as i32`, so with an odd size glyphs of
// different heights are truncated in opposite directions and e.g. a decimal
// point floats a pixel above the baseline.
const TITLE_PX: f64 = 28.0;
const DESC_PX: f64 = 20.0;
const LABEL_PX: f64 = 16.0;
const NOTE_PX: f64 = 16.0;

/// Line colors (Tableau 10), picked in order.
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// Shade for open backup windows.
const WINDOW_SHADE: RGBColor = RGBColor(255, 214, 102);

type DrawResult = Result<(), Box<dyn Error + Send + Sync>>;

enum Figure {
    Cdf(CdfFig),
    Phase(PhaseFig),
    Timeline(TimelineFig),
    Outcomes(OutcomesFig),
    Vault(VaultFig),
    Sweep(SweepFig),
}

impl Figure {
    fn size(&self) -> (u32, u32) {
        match self {
            Figure::Outcomes(f) => (1200, (180 + 38 * f.bars.len() as u32).max(420)),
            Figure::Timeline(_) | Figure::Vault(_) => (1200, 860),
            Figure::Sweep(f) => f.size(),
            _ => (1200, 700),
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        match self {
            Figure::Cdf(f) => f.draw(root),
            Figure::Phase(f) => f.draw(root),
            Figure::Timeline(f) => f.draw(root),
            Figure::Outcomes(f) => f.draw(root),
            Figure::Vault(f) => f.draw(root),
            Figure::Sweep(f) => f.draw(root),
        }
    }
}

/// Writes `fig` as SVG and PNG into `out`, appending the paths to `written`.
fn emit(fig: &Figure, out: &Path, name: &str, written: &mut Vec<PathBuf>) -> Result<(), PlotError> {
    let size = fig.size();
    let draw_err = |path: &Path, e: &dyn std::fmt::Display| PlotError::Draw {
        path: path.to_path_buf(),
        message: e.to_string(),
    };

    let svg = out.join(format!("{name}.svg"));
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        fig.draw(&root).map_err(|e| draw_err(&svg, &e))?;
        root.present().map_err(|e| draw_err(&svg, &e))?;
    }
    written.push(svg);

    let png = out.join(format!("{name}.png"));
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        fig.draw(&root).map_err(|e| draw_err(&png, &e))?;
        root.present().map_err(|e| draw_err(&png, &e))?;
    }
    written.push(png);
    Ok(())
}

/// Draws a legend box for the chart's labelled series.
fn legend<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    pos: SeriesLabelPosition,
) -> DrawResult
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
{
    chart
        .configure_series_labels()
        .position(pos)
        .label_font(font(NOTE_PX))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .draw()?;
    Ok(())
}

fn legend_line(c: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3))
}

fn legend_box(c: RGBAColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 6), (x + 22, y + 6)], c.filled())
}

/// A CDF from a microsecond histogram.
struct CdfFig {
    title: String,
    x_desc: &'static str,
    y_desc: &'static str,
    /// Step curve, x in display units.
    points: Vec<(f64, f64)>,
    /// (label, x) of marked percentiles.
    marks: Vec<(String, f64, f64)>,
    log_x: bool,
    x_range: (f64, f64),
}

impl CdfFig {
    fn new(h: &Histogram<u64>, us_per_unit: f64, log_x: bool) -> CdfFig {
        let floor = if log_x { 1.0 / us_per_unit } else { 0.0 };
        let total = h.len() as f64;
        let mut points = Vec::new();
        let mut cum = 0u64;
        let mut prev_q = 0.0;
        for v in h.iter_recorded() {
            cum += v.count_since_last_iteration();
            let x = (v.value_iterated_to() as f64 / us_per_unit).max(floor);
            let q = cum as f64 / total;
            points.push((x, prev_q));
            points.push((x, q));
            prev_q = q;
        }
        let marks = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)]
            .into_iter()
            .map(|(name, q)| {
                let x = (h.value_at_quantile(q) as f64 / us_per_unit).max(floor);
                (name.to_string(), x, q)
            })
            .collect();
        let lo_v = points.first().map_or(floor, |p| p.0);
        let hi_v = points.last().map_or(1.0, |p| p.0);
        let x_range = if log_x {
            let lo = 10f64.powf(lo_v.max(floor).log10().floor());
            let mut hi = 10f64.powf(hi_v.log10().ceil());
            if hi <= lo {
                hi = lo * 10.0;
            }
            (lo, hi)
        } else {
            (0.0, headroom(hi_v / 1.1 * 1.05))
        };
        CdfFig {
            title: String::new(),
            x_desc: "",
            y_desc: "",
            points,
            marks,
            log_x,
            x_range,
        }
    }

    fn backup_duration(h: &Histogram<u64>, scenario: &str) -> CdfFig {
        let mut f = CdfFig::new(h, 1e6, true);
        f.title = format!("Backup job duration CDF — {scenario}");
        f.x_desc = "job duration (s)";
        f.y_desc = "fraction of jobs ≤ x";
        f.marks = f
            .marks
            .into_iter()
            .map(|(n, x, q)| (format!("{n} = {}", crate::units::fmt_duration(x)), x, q))
            .collect();
        f
    }

    fn rpo(h: &Histogram<u64>, scenario: &str) -> CdfFig {
        let mut f = CdfFig::new(h, 3.6e9, false);
        f.title = format!("Recovery point age (RPO) CDF — {scenario}");
        f.x_desc = "recovery point age (hours)";
        f.y_desc = "fraction of samples ≤ x";
        f.marks = f
            .marks
            .into_iter()
            .map(|(n, x, q)| (format!("{n} = {} h", crate::units::fmt_compact(x)), x, q))
            .collect();
        f
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (lo, hi) = self.x_range;
        let mut b = ChartBuilder::on(root);
        b.caption(&self.title, font(TITLE_PX))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80);
        if self.log_x {
            let mut chart = b.build_cartesian_2d((lo..hi).log_scale(), 0f64..1.02)?;
            self.draw_in(&mut chart)
        } else {
            let mut chart = b.build_cartesian_2d(lo..hi, 0f64..1.02)?;
            self.draw_in(&mut chart)
        }
    }

    fn draw_in<'a, DB, X>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    ) -> DrawResult
    where
        DB: DrawingBackend + 'a,
        DB::ErrorType: 'static,
        X: plotters::coord::ranged1d::Ranged<ValueType = f64>
            + plotters::coord::ranged1d::ValueFormatter<f64>,
    {
        let fmt = |v: &f64| crate::units::fmt_compact(*v);
        chart
            .configure_mesh()
            .x_desc(self.x_desc)
            .y_desc(self.y_desc)
            .label_style(font(LABEL_PX))
            .axis_desc_style(font(DESC_PX))
            .x_label_formatter(&fmt)
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()?;
        let blue = color(0);
        chart
            .draw_series(LineSeries::new(
                self.points.iter().copied(),
                blue.stroke_width(2),
            ))?
            .label("empirical CDF")
            .legend(legend_line(blue));
        let red = color(3);
        let style = TextStyle::from(font(NOTE_PX)).pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series(self.marks.iter().map(|(label, x, q)| {
            EmptyElement::at((*x, *q))
                + Circle::new((0, 0), 5, red.filled())
                + Text::new(label.clone(), (10, 8), style.clone())
        }))?;
        legend(chart, SeriesLabelPosition::UpperLeft)
    }
}

/// Mean and p99 bars for the backup phases.
struct PhaseFig {
    title: String,
    /// (phase, mean, p99), seconds.
    phases: Vec<(&'static str, Option<f64>, Option<f64>)>,
}

const PHASES: [&str; 4] = ["queue", "extension", "snapshot", "transfer"];

impl PhaseFig {
    fn from_summary(s: &BTreeMap<String, f64>, scenario: &str) -> Option<PhaseFig> {
        let get = |p: &str, stat: &str| s.get(&format!("backup.phase.{p}.{stat}")).copied();
        let phases: Vec<_> = PHASES
            .iter()
            .map(|&p| (p, get(p, "mean"), get(p, "p99")))
            .collect();
        phases
            .iter()
            .any(|(_, m, p)| m.is_some() || p.is_some())
            .then(|| PhaseFig {
                title: format!("Backup phase durations, mean and p99 — {scenario}"),
                phases,
            })
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let ymax = self
            .phases
            .iter()
            .flat_map(|(_, m, p)| [*m, *p])
            .flatten()
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(TITLE_PX))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5f64..3.5, 0f64..headroom(ymax) * 1.05)?;
        let names = |v: &f64| {
            let k = v.round();
            if (v - k).abs() < 1e-6 && (0.0..4.0).contains(&k) {
                PHASES[k as usize].to_string()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(10)
            .x_label_formatter(&names)
            .y_label_formatter(&|v| crate::units::fmt_compact(*v))
            .x_desc("backup phase")
            .y_desc("duration (s)")
            .label_style(font(LABEL_PX + 2.0))
            .axis_desc_style(font(DESC_PX))
            .draw()?;

        let series = [(0usize, "mean", -0.4, -0.02), (1, "p99", 0.02, 0.4)];
        let top = TextStyle::from(font(NOTE_PX)).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (which, label, dx0, dx1) in series {
            let c = color(which);
            let bars: Vec<(f64, f64)> = self
                .phases
                .iter()
                .enumerate()
                .filter_map(|(i, ph)| {
                    let v = if which == 0 { ph.1 } else { ph.2 };
                    v.filter(|v| v.is_finite()).map(|v| (i as f64, v))
                })
                .collect();
            chart
                .draw_series(
                    bars.iter()
                        .map(|&(x, v)| Rectangle::new([(x + dx0, 0.0), (x + dx1, v)], c.filled())),
                )?
                .label(label)
                .legend(legend_box(c.to_rgba()));
            chart.draw_series(bars.iter().map(|&(x, v)| {
                EmptyElement::at((x + (dx0 + dx1) / 2.0, v))
                    + Text::new(crate::units::fmt_duration(v), (0, -4), top.clone())
            }))?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// One labelled line.
struct Line {
    label: String,
    points: Vec<(f64, f64)>,
}

/// A panel of lines over time.
struct Panel {
    y_desc: &'static str,
    lines: Vec<Line>,
    y_max: f64,
}

/// Stacked time panels sharing an x axis, with shaded windows.
struct TimePanels {
    title: String,
    x_desc: &'static str,
    x_range: (f64, f64),
    shaded: Vec<(f64, f64)>,
    panels: Vec<Panel>,
}

impl TimePanels {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let body = root
            .margin(12, 0, 0, 0)
            .titled(&self.title, font(TITLE_PX))?;
        let areas = body.split_evenly((self.panels.len(), 1));
        for (panel, area) in self.panels.iter().zip(&areas) {
            // Leave room above the data for the legend (one row per series).
            let rows = panel.lines.len() + usize::from(!self.shaded.is_empty());
            let top = headroom(panel.y_max) * (1.0 + 0.09 * rows as f64);
            let mut chart = ChartBuilder::on(area)
                .margin(15)
                .x_label_area_size(55)
                .y_label_area_size(80)
                .build_cartesian_2d(self.x_range.0..self.x_range.1, 0f64..top)?;
            chart
                .configure_mesh()
                .x_desc(self.x_desc)
                .y_desc(panel.y_desc)
                .label_style(font(LABEL_PX))
                .axis_desc_style(font(DESC_PX))
                .x_label_formatter(&|v| crate::units::fmt_compact(*v))
                .y_label_formatter(&|v| crate::units::fmt_compact(*v))
                .draw()?;
            if !self.shaded.is_empty() {
                let shade = WINDOW_SHADE.mix(0.35);
                chart
                    .draw_series(
                        self.shaded
                            .iter()
                            .map(|&(a, b)| Rectangle::new([(a, 0.0), (b, top)], shade.filled())),
                    )?
                    .label("backup window open")
                    .legend(legend_box(shade));
            }
            for (i, line) in panel.lines.iter().enumerate() {
                let c = color(i);
                // Width 1: plotters draws wider polylines with miter joins
                // that spike far out of the chart on jagged data.
                chart
                    .draw_series(LineSeries::new(
                        line.points.iter().copied(),
                        c.stroke_width(1),
                    ))?
                    .label(line.label.clone())
                    .legend(legend_line(c));
            }
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }
}

/// Jobs and link throughput over time.
struct TimelineFig(TimePanels);

impl TimelineFig {
    fn from_table(t: &Table, scenario: &str) -> Result<Option<TimelineFig>, PlotError> {
        let time = t.require("time_s")?;
        if t.rows == 0 {
            return Ok(None);
        }
        let axis = TimeAxis::new(time);
        let line = |label: &str, ys: &[f64], scale: f64| Line {
            label: label.to_string(),
            points: downsample(
                &axis.xs,
                &ys.iter().map(|y| y / scale).collect::<Vec<_>>(),
                MAX_LINE_POINTS,
            ),
        };
        let mut jobs = Vec::new();
        let mut job_cols = Vec::new();
        for (col, label) in [
            ("running_jobs", "running backup jobs"),
            ("queued_jobs", "queued backup jobs"),
            ("running_restores", "running restores"),
        ] {
            if let Some(ys) = t.get(col) {
                jobs.push(line(label, ys, 1.0));
                job_cols.push(ys);
            }
        }
        let links = t.family("link.", ".throughput_Bps");
        if jobs.is_empty() && links.is_empty() {
            return Ok(None);
        }
        let mut panels = Vec::new();
        if !jobs.is_empty() {
            panels.push(Panel {
                y_desc: "jobs (count)",
                y_max: max_of(job_cols, 1.0),
                lines: jobs,
            });
        }
        if !links.is_empty() {
            panels.push(Panel {
                y_desc: "link throughput (MB/s)",
                y_max: max_of(links.iter().map(|(_, ys)| *ys), 1e6),
                lines: links
                    .iter()
                    .map(|(name, ys)| line(&format!("link {name}"), ys, 1e6))
                    .collect(),
            });
        }
        let shaded = t
            .get("windows_open")
            .map(|w| axis.intervals(w))
            .unwrap_or_default();
        Ok(Some(TimelineFig(TimePanels {
            title: format!("Backup jobs and link throughput over time — {scenario}"),
            x_desc: axis.label,
            x_range: axis.range,
            shaded,
            panels,
        })))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        self.0.draw(root)
    }
}

/// Vault stored bytes and recovery points over time.
struct VaultFig(TimePanels);

impl VaultFig {
    fn from_table(t: &Table, scenario: &str) -> Result<Option<VaultFig>, PlotError> {
        let stored = t.family("vault.", ".stored_bytes");
        let points = t.family("vault.", ".recovery_points");
        if (stored.is_empty() && points.is_empty()) || t.rows == 0 {
            return Ok(None);
        }
        let axis = TimeAxis::new(t.require("time_s")?);
        let lines = |fam: &[(String, &[f64])], scale: f64| -> Vec<Line> {
            fam.iter()
                .map(|(name, ys)| Line {
                    label: format!("vault {name}"),
                    points: downsample(
                        &axis.xs,
                        &ys.iter().map(|y| y / scale).collect::<Vec<_>>(),
                        MAX_LINE_POINTS,
                    ),
                })
                .collect()
        };
        const GIB: f64 = (1u64 << 30) as f64;
        let mut panels = Vec::new();
        if !stored.is_empty() {
            panels.push(Panel {
                y_desc: "stored data (GiB)",
                y_max: max_of(stored.iter().map(|(_, ys)| *ys), GIB),
                lines: lines(&stored, GIB),
            });
        }
        if !points.is_empty() {
            panels.push(Panel {
                y_desc: "recovery points (count)",
                y_max: max_of(points.iter().map(|(_, ys)| *ys), 1.0),
                lines: lines(&points, 1.0),
            });
        }
        Ok(Some(VaultFig(TimePanels {
            title: format!("Vault storage and recovery points over time — {scenario}"),
            x_desc: axis.label,
            x_range: axis.range,
            shaded: Vec::new(),
            panels,
        })))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        self.0.draw(root)
    }
}

/// Counts per outcome.
struct OutcomesFig {
    title: String,
    /// (metric name, count, color), sorted by name.
    bars: Vec<(String, f64, RGBColor)>,
}

impl OutcomesFig {
    fn from_summary(s: &BTreeMap<String, f64>, scenario: &str) -> Option<OutcomesFig> {
        let kind = |k: &str| -> Option<RGBColor> {
            if k == "backup.jobs.succeeded" {
                Some(RGBColor(44, 160, 44))
            } else if k.starts_with("backup.failures.") {
                Some(RGBColor(214, 39, 40))
            } else if k.starts_with("unsupported.any.") || k == "unsupported.vms" {
                // Aggregates of the per-reason bars: drawing them would count VMs twice.
                None
            } else if k.starts_with("unsupported.") {
                Some(RGBColor(255, 127, 14))
            } else if k.starts_with("restore.rejected.") {
                Some(RGBColor(148, 103, 189))
            } else {
                None
            }
        };
        // BTreeMap iteration is already sorted by name. Outcomes that never happened are
        // left out (the summary lists every known code, mostly zeros), except successes.
        let bars: Vec<_> = s
            .iter()
            .filter(|(k, v)| v.is_finite() && (**v != 0.0 || k.as_str() == "backup.jobs.succeeded"))
            .filter_map(|(k, &v)| kind(k).map(|c| (k.clone(), v, c)))
            .collect();
        (!bars.is_empty()).then(|| OutcomesFig {
            title: format!("Job outcomes — {scenario}"),
            bars,
        })
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let n = self.bars.len();
        let m = n.max(2);
        let label_font = font(LABEL_PX);
        let label_style = TextStyle::from(label_font.clone());
        let mut label_w = 0;
        for (name, _, _) in &self.bars {
            label_w = label_w.max(root.estimate_text_size(name, &label_style)?.0);
        }
        let xmax = self.bars.iter().fold(0.0f64, |m, b| m.max(b.1));
        let xmax = if xmax > 0.0 { xmax * 1.15 } else { 1.0 };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(TITLE_PX))
            .margin(20)
            .x_label_area_size(60)
            // Tick labels plus the rotated axis title beside them.
            .y_label_area_size(label_w + 55)
            // Categories 0..=m-1 (a segmented range includes its end; a
            // one-value range is degenerate, hence at least 2 categories).
            .build_cartesian_2d(0f64..xmax, (0..m - 1).into_segmented())?;
        // Segment 0 is at the bottom: show names sorted from the top down.
        let name_of = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < m && m - 1 - i < n => self.bars[m - 1 - i].0.clone(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(m)
            .y_label_formatter(&name_of)
            .x_label_formatter(&|v| crate::units::fmt_compact(*v))
            .x_desc("count (jobs or requests)")
            .y_desc("outcome")
            .label_style(label_font.clone())
            .axis_desc_style(font(DESC_PX))
            .draw()?;
        chart.draw_series(self.bars.iter().enumerate().map(|(j, (_, v, c))| {
            let i = m - 1 - j;
            let mut r = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (*v, SegmentValue::Exact(i + 1)),
                ],
                c.filled(),
            );
            r.set_margin(5, 5, 0, 0);
            r
        }))?;
        let style = TextStyle::from(font(NOTE_PX)).pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series(self.bars.iter().enumerate().map(|(j, (_, v, _))| {
            let i = m - 1 - j;
            EmptyElement::at((*v, SegmentValue::CenterOf(i)))
                + Text::new(crate::units::fmt_value(*v), (6, 0), style.clone())
        }))?;
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::results::histio::{new_histogram, write_hdr};
    use std::fmt::Write as _;

    /// Deterministic pseudo-random numbers in [0, 1).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Writes a complete synthetic results directory into `dir`.
    fn synthetic_results(dir: &Path) {
        let mut rng = Lcg(42);
        std::fs::write(
            dir.join("run.json"),
            r#"{"scenario": "synthetic-fleet", "seed": 7, "wall_seconds": 1.5, "events": 1000}"#,
        )
        .unwrap();
        let summary = serde_json::json!({
            "backup.jobs.total": 10500,
            "backup.jobs.succeeded": 10000,
            "backup.jobs.failed": 380,
            "backup.jobs.unsupported": 120,
            "backup.success_rate": 0.952,
            "backup.failures.ExtensionTimeout": 250,
            "backup.failures.SnapshotQuotaExceeded": 130,
            "unsupported.EncryptedDiskWithoutKey": 120,
            "restore.rejected.NoRecoveryPoint": 4,
            "restore.jobs.total": 60,
            "backup.phase.queue.mean": 1800.0,
            "backup.phase.queue.p99": 9000.0,
            "backup.phase.extension.mean": 45.0,
            "backup.phase.extension.p99": 300.0,
            "backup.phase.snapshot.mean": 120.0,
            "backup.phase.snapshot.p99": 600.0,
            "backup.phase.transfer.mean": 2400.0,
            "backup.phase.transfer.p99": 14000.0,
        });
        std::fs::write(dir.join("summary.json"), summary.to_string()).unwrap();

        let hd = dir.join("histograms");
        std::fs::create_dir_all(&hd).unwrap();
        let mut dur = new_histogram();
        let mut rpo = new_histogram();
        for _ in 0..5000 {
            // Log-uniform-ish durations from 30 s to ~5 h.
            let s = 30.0 * (600.0f64).powf(rng.next() * rng.next().sqrt());
            dur.record((s * 1e6) as u64).unwrap();
            let age_h = 24.0 * rng.next() + 6.0 * rng.next().powi(8);
            rpo.record((age_h * 3.6e9) as u64).unwrap();
        }
        write_hdr(&hd.join("backup.duration.hdr"), &dur).unwrap();
        write_hdr(&hd.join("rpo.hdr"), &rpo).unwrap();

        // 7 days every 5 minutes, backup window 22:00-04:00.
        let mut csv = String::from(
            "time_s,running_jobs,queued_jobs,running_restores,windows_open,\
             link.eu-west.throughput_Bps,link.eu-west.utilization,\
             link.us-east.throughput_Bps,link.us-east.utilization,\
             vault.eu-vault.stored_bytes,vault.eu-vault.recovery_points,\
             vault.us-vault.stored_bytes,vault.us-vault.recovery_points\n",
        );
        let (mut eu, mut us) = (0.0f64, 0.0f64);
        for i in 0..(7 * 288) {
            let t = i as f64 * 300.0;
            let hour = (t / 3600.0) % 24.0;
            let open = !(4.0..22.0).contains(&hour);
            let running = if open {
                40.0 + 20.0 * rng.next()
            } else {
                2.0 * rng.next()
            };
            let queued = if open { 200.0 * rng.next() } else { 0.0 };
            let thr1 = if open {
                9.0e8 * (0.7 + 0.3 * rng.next())
            } else {
                2e6
            };
            let thr2 = if open {
                4.0e8 * (0.5 + 0.5 * rng.next())
            } else {
                1e6
            };
            eu += thr1 * 300.0 * 0.1;
            us += thr2 * 300.0 * 0.1;
            writeln!(
                csv,
                "{t},{running:.0},{queued:.0},{},{},{thr1},{},{thr2},{},{eu},{},{us},{}",
                (rng.next() * 3.0) as u32,
                u8::from(open),
                thr1 / 1.25e9,
                thr2 / 1.25e9,
                i / 3,
                i / 4
            )
            .unwrap();
        }
        std::fs::write(dir.join("timeseries.csv"), csv).unwrap();
    }

    fn names_of(paths: &[PathBuf]) -> Vec<String> {
        paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn bundled_font_registers_and_measures() {
        ensure_font();
        let (w, h) = font(20.0).box_size("Backup").unwrap();
        assert!(w > 20 && h > 5, "{w}x{h}");
        // Registration is idempotent.
        ensure_font();
    }

    /// plotters' `ttf` feature would resolve fonts through font-kit and
    /// fontconfig; it must stay off so rendering never needs system fonts.
    #[test]
    fn no_system_font_backend_in_lockfile() {
        let lock = include_str!("../../../Cargo.lock");
        for pkg in ["font-kit", "yeslogic-fontconfig-sys", "servo-fontconfig"] {
            assert!(
                !lock.contains(&format!("name = \"{pkg}\"")),
                "{pkg} in Cargo.lock: is plotters' `ttf` feature enabled?"
            );
        }
    }

    #[test]
    fn render_full_results_dir() {
        let dir = tempfile::tempdir().unwrap();
        synthetic_results(dir.path());
        let written = render(dir.path()).unwrap();
        let expected: Vec<String> = PLOT_NAMES
            .iter()
            .flat_map(|n| [format!("{n}.svg"), format!("{n}.png")])
            .collect();
        assert_eq!(names_of(&written), expected);
        for p in &written {
            assert!(p.starts_with(dir.path().join("plots")));
            let bytes = std::fs::read(p).unwrap();
            if p.extension().unwrap() == "svg" {
                let text = String::from_utf8(bytes).unwrap();
                assert!(text.trim_start().starts_with("<svg"), "{}", p.display());
                assert!(text.contains("</svg>"));
                assert!(text.contains("synthetic-fleet"), "title in {}", p.display());
                assert!(text.contains(FONT_FAMILY));
                assert!(
                    !text.contains("sans-serif"),
                    "default font in {}",
                    p.display()
                );
            } else {
                assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", p.display());
                assert!(bytes.len() > 10_000, "{} suspiciously small", p.display());
            }
        }
        let svg = |n: &str| std::fs::read_to_string(dir.path().join("plots").join(n)).unwrap();
        assert!(svg("backup_duration_cdf.svg").contains("job duration (s)"));
        assert!(svg("backup_duration_cdf.svg").contains("fraction of jobs ≤ x"));
        assert!(svg("rpo.svg").contains("recovery point age (hours)"));
        assert!(svg("rpo.svg").contains("fraction of samples ≤ x"));
        assert!(svg("timeline.svg").contains("link throughput (MB/s)"));
        assert!(svg("timeline.svg").contains("time since start (days)"));
        assert!(svg("timeline.svg").contains("backup window open"));
        assert!(svg("vault_storage.svg").contains("stored data (GiB)"));
        assert!(svg("vault_storage.svg").contains("vault us-vault"));
        let outcomes = svg("outcomes.svg");
        for k in [
            "backup.jobs.succeeded",
            "backup.failures.ExtensionTimeout",
            "unsupported.EncryptedDiskWithoutKey",
            "restore.rejected.NoRecoveryPoint",
        ] {
            assert!(outcomes.contains(k), "{k}");
        }
        assert!(!outcomes.contains("backup.jobs.total"));
        let phases = svg("phase_breakdown.svg");
        for p in PHASES {
            assert!(phases.contains(&format!(">\n{p}\n</text>")), "{p}");
        }
    }

    #[test]
    fn missing_inputs_skip_plots() {
        let dir = tempfile::tempdir().unwrap();
        assert!(render(dir.path()).unwrap().is_empty());
        assert!(!dir.path().join("plots").exists());

        // Only the RPO histogram: one plot, scenario from the directory name.
        let named = dir.path().join("my-run");
        std::fs::create_dir_all(named.join("histograms")).unwrap();
        let mut h = new_histogram();
        h.record(3_600_000_000).unwrap();
        write_hdr(&named.join("histograms/rpo.hdr"), &h).unwrap();
        let written = render(&named).unwrap();
        assert_eq!(names_of(&written), ["rpo.svg", "rpo.png"]);
        let text = std::fs::read_to_string(&written[0]).unwrap();
        assert!(text.contains("my-run"));

        // An empty histogram is skipped too.
        write_hdr(
            &named.join("histograms/backup.duration.hdr"),
            &new_histogram(),
        )
        .unwrap();
        assert_eq!(render(&named).unwrap().len(), 2);
    }

    #[test]
    fn summary_with_single_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("summary.json"),
            r#"{"backup.jobs.succeeded": 0, "backup.phase.transfer.p99": 12.5}"#,
        )
        .unwrap();
        let written = render(dir.path()).unwrap();
        assert_eq!(
            names_of(&written),
            [
                "phase_breakdown.svg",
                "phase_breakdown.png",
                "outcomes.svg",
                "outcomes.png"
            ]
        );
        let text = std::fs::read_to_string(&written[2]).unwrap();
        assert!(text.contains("backup.jobs.succeeded"));
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("histograms")).unwrap();
        std::fs::write(dir.path().join("histograms/rpo.hdr"), b"junk").unwrap();
        let e = render(dir.path()).unwrap_err();
        assert!(matches!(e, PlotError::Histogram { .. }));
        assert!(e.to_string().contains("rpo.hdr"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("timeseries.csv"),
            "time_s,running_jobs\n0,x\n",
        )
        .unwrap();
        let e = render(dir.path()).unwrap_err();
        assert!(e.to_string().contains("timeseries.csv"), "{e}");
        assert!(e.to_string().contains("running_jobs"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("timeseries.csv"), "running_jobs\n1\n").unwrap();
        let e = render(dir.path()).unwrap_err();
        assert!(matches!(e, PlotError::MissingColumn { .. }), "{e}");

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("summary.json"), "{").unwrap();
        let e = render(dir.path()).unwrap_err();
        assert!(e.to_string().contains("summary.json"), "{e}");
    }

    #[test]
    fn columns_found_by_name_not_position() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("timeseries.csv"),
            "vault.v1.recovery_points,time_s,windows_open,vault.v1.stored_bytes,link.l.throughput_Bps\n\
             0,0,1,0,5e6\n3,3600,0,1073741824,0\n",
        )
        .unwrap();
        let t = Table::read(&dir.path().join("timeseries.csv")).unwrap();
        assert_eq!(t.family("vault.", ".stored_bytes")[0].0, "v1");
        assert_eq!(t.family("link.", ".throughput_Bps")[0].1, &[5e6, 0.0]);
        let axis = TimeAxis::new(t.require("time_s").unwrap());
        assert_eq!(axis.label, "time since start (hours)");
        assert_eq!(axis.intervals(t.get("windows_open").unwrap()), [(0.0, 1.0)]);
        let written = render(dir.path()).unwrap();
        assert_eq!(
            names_of(&written),
            [
                "timeline.svg",
                "timeline.png",
                "vault_storage.svg",
                "vault_storage.png"
            ]
        );
    }

    #[test]
    fn downsample_keeps_extremes() {
        let xs: Vec<f64> = (0..100_000).map(f64::from).collect();
        let mut ys = vec![1.0; 100_000];
        ys[54_321] = 99.0;
        ys[77_777] = -5.0;
        let pts = downsample(&xs, &ys, 2000);
        assert!(pts.len() <= 2002, "{}", pts.len());
        assert!(pts.contains(&(54_321.0, 99.0)));
        assert!(pts.contains(&(77_777.0, -5.0)));
        assert!(pts.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(downsample(&[1.0, 2.0], &[f64::NAN, 3.0], 10), [(2.0, 3.0)]);
    }

    #[test]
    fn window_intervals() {
        let axis = TimeAxis::new(&[0.0, 3600.0, 7200.0, 10800.0, 14400.0]);
        assert_eq!(
            axis.intervals(&[0.0, 1.0, 2.0, 0.0, 1.0]),
            [(1.0, 3.0), (4.0, 4.0)]
        );
        assert!(axis.intervals(&[0.0; 5]).is_empty());
    }

    #[test]
    fn number_formats() {
        assert_eq!(crate::units::fmt_compact(0.0), "0");
        assert_eq!(crate::units::fmt_compact(0.001), "0.001");
        assert_eq!(crate::units::fmt_compact(0.0123), "0.0123");
        assert_eq!(crate::units::fmt_compact(1.0), "1");
        assert_eq!(crate::units::fmt_compact(12.5), "12.5");
        assert_eq!(crate::units::fmt_compact(1000.0), "1000");
        assert_eq!(crate::units::fmt_compact(10000.0), "10k");
        assert_eq!(crate::units::fmt_compact(250000.0), "250k");
        assert_eq!(crate::units::fmt_compact(3.5e7), "35M");
        assert_eq!(crate::units::fmt_duration(0.25), "250 ms");
        assert_eq!(crate::units::fmt_duration(45.0), "45 s");
        assert_eq!(crate::units::fmt_duration(1800.0), "30 min");
        assert_eq!(crate::units::fmt_duration(9000.0), "2.5 h");
        assert_eq!(crate::units::fmt_duration(3.0 * 86400.0), "3 d");
    }
}

//! Plots of a sweep directory: a metric's mean over the replications, with its 95%
//! confidence interval as a shaded band, against each varied key. See
//! [`render_sweep`](super::render_sweep).

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::emit::Figure;
use super::input::SweepCsv;
use super::style::{color, font, DrawResult, DESC_PX, LABEL_PX, NOTE_PX, TITLE_PX};
use super::{sanitize_name, PlotError};

mod axis;
#[cfg(test)]
mod tests;

use axis::{fmt_tick, metric_unit, nice_ticks, Ticked, XAxis};

/// The figures of `metrics` (each once, in the order given) against each varied key of
/// `csv`, named `sweep_<metric>_by_<key>`. A metric with no value gets none.
pub(super) fn figures(
    csv: &SweepCsv,
    metrics: &[String],
    scenario: &str,
) -> Result<Vec<(String, Figure)>, PlotError> {
    let mut figures = Vec::new();
    let mut seen = BTreeSet::new();
    for m in metrics {
        if !seen.insert(m.as_str()) {
            continue;
        }
        for (k, key) in csv.keys.iter().enumerate() {
            if let Some(f) = SweepFig::build(csv, m, k, scenario)? {
                let name = format!("sweep_{}_by_{}", sanitize_name(m), sanitize_name(key));
                figures.push((name, Figure::Sweep(f)));
            }
        }
    }
    Ok(figures)
}

/// A point of a line: `(x, mean, 95% CI)`, in display units.
type SweepPoint = (f64, f64, Option<(f64, f64)>);

/// One line: a combination of the other keys' values.
struct SweepLine {
    /// Legend text.
    label: String,
    /// `(x, mean, 95% CI)` sorted by x.
    points: Vec<SweepPoint>,
}

/// Consecutive points of a line that have an interval: `(x, (lo, hi))`.
type CiRun = Vec<(f64, (f64, f64))>;

/// The chart of a sweep figure: both axes with explicit ticks.
type SweepChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

/// A metric against one varied key.
pub struct SweepFig {
    title: String,
    title_px: f64,
    x_desc: String,
    y_desc: String,
    x: XAxis,
    y_range: (f64, f64),
    y_ticks: (Vec<f64>, f64),
    lines: Vec<SweepLine>,
    ci_label: &'static str,
    legend_w: u32,
}

/// Canvas width without the legend.
const CHART_W: u32 = 1100;
/// Canvas height.
const CHART_H: u32 = 720;

/// A metric's columns of `sweep.csv`, per row: the mean and the 95% CI bounds.
struct MetricColumns {
    mean: Vec<Option<f64>>,
    lo: Vec<Option<f64>>,
    hi: Vec<Option<f64>>,
}

impl MetricColumns {
    /// The columns of `metric`; `None` if there is no mean column. Missing interval
    /// columns read as empty.
    fn read(csv: &SweepCsv, metric: &str) -> Result<Option<MetricColumns>, PlotError> {
        let Some(mean) = csv.column(&format!("{metric}.mean"))? else {
            return Ok(None);
        };
        let lo = csv
            .column(&format!("{metric}.ci95_lo"))?
            .unwrap_or_else(|| vec![None; mean.len()]);
        let hi = csv
            .column(&format!("{metric}.ci95_hi"))?
            .unwrap_or_else(|| vec![None; mean.len()]);
        Ok(Some(MetricColumns { mean, lo, hi }))
    }
}

impl SweepFig {
    /// The plot of `metric` against key number `k`, or `None` when the metric has no
    /// value at any point.
    fn build(
        csv: &SweepCsv,
        metric: &str,
        k: usize,
        scenario: &str,
    ) -> Result<Option<SweepFig>, PlotError> {
        let Some(cols) = MetricColumns::read(csv, metric)? else {
            return Ok(None);
        };
        let (div, unit) = metric_unit(metric);
        let key = &csv.keys[k];
        let x = XAxis::new(key, &csv.values[k]);
        let lines = lines_of(csv, k, &x, &cols, div);
        if lines.is_empty() {
            return Ok(None);
        }
        let y_range = y_range(&lines);
        let y_ticks = nice_ticks(y_range.0, y_range.1, 8);

        let reps = csv.replications;
        let title = format!(
            "{metric} vs {key} — {scenario} (mean, 95% CI over {reps} replication{})",
            if reps == 1 { "" } else { "s" }
        );
        let ci_label = if reps > 1 {
            "95% CI of the mean"
        } else {
            "no CI: 1 replication"
        };
        let legend_w = legend_width(&lines, ci_label);
        let title_px = title_px(&title, CHART_W + legend_w);
        Ok(Some(SweepFig {
            title,
            title_px,
            x_desc: x.desc.clone(),
            y_desc: format!("{metric}{unit}"),
            x,
            y_range,
            y_ticks,
            lines,
            ci_label,
            legend_w,
        }))
    }

    /// Canvas size in pixels.
    pub fn size(&self) -> (u32, u32) {
        (CHART_W + self.legend_w, CHART_H)
    }

    /// Draws the figure: the chart, then the legend beside it.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let body = root
            .margin(14, 0, 0, 0)
            .titled(&self.title, font(self.title_px))?;
        let (chart_area, legend_area) = body.split_horizontally(CHART_W);
        let mut chart = self.chart(&chart_area)?;
        for (i, line) in self.lines.iter().enumerate() {
            draw_line(&mut chart, line, color(i))?;
        }
        self.draw_legend(&legend_area)
    }

    /// The chart on `area`, with its mesh, tick labels and axis descriptions drawn.
    fn chart<'a, DB: DrawingBackend + 'a>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
    ) -> Result<SweepChart<'a, DB>, Box<dyn Error + Send + Sync>>
    where
        DB::ErrorType: 'static,
    {
        let (x0, x1) = self.x.range;
        let (y0, y1) = self.y_range;
        let x_keys: Vec<f64> = self.x.ticks.iter().map(|t| t.0).collect();
        let mut chart = ChartBuilder::on(area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(95)
            .build_cartesian_2d(
                Ticked {
                    range: (x0, x1),
                    ticks: x_keys,
                },
                Ticked {
                    range: (y0, y1),
                    ticks: self.y_ticks.0.clone(),
                },
            )?;
        let x_label = |v: &f64| {
            self.x
                .ticks
                .iter()
                .find(|t| t.0 == *v)
                .map(|t| t.1.clone())
                .unwrap_or_default()
        };
        let step = self.y_ticks.1;
        let y_label = |v: &f64| fmt_tick(*v, step);
        chart
            .configure_mesh()
            .x_desc(&self.x_desc)
            .y_desc(&self.y_desc)
            .label_style(font(LABEL_PX))
            .axis_desc_style(font(DESC_PX))
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .bold_line_style(BLACK.mix(0.12))
            .draw()?;
        Ok(chart)
    }

    /// The legend, beside the chart: one row per line, then what the shading means.
    fn draw_legend<DB: DrawingBackend>(&self, legend_area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let text = TextStyle::from(font(NOTE_PX)).pos(Pos::new(HPos::Left, VPos::Center));
        let mut y = 40;
        for (i, line) in self.lines.iter().enumerate() {
            let c = color(i);
            legend_area.draw(&PathElement::new(vec![(8, y), (40, y)], c.stroke_width(2)))?;
            legend_area.draw(&Circle::new((24, y), 5, c.filled()))?;
            legend_area.draw(&Text::new(line.label.clone(), (50, y), text.clone()))?;
            y += 28;
        }
        y += 6;
        legend_area.draw(&Rectangle::new(
            [(8, y - 8), (40, y + 8)],
            BLACK.mix(0.15).filled(),
        ))?;
        legend_area.draw(&Text::new(self.ci_label, (50, y), text))?;
        Ok(())
    }
}

/// One line per combination of the other keys' values, in sweep order, each point at
/// the position of its value of key `k`, in display units (divided by `div`). Lines
/// without any value are left out.
fn lines_of(csv: &SweepCsv, k: usize, x: &XAxis, cols: &MetricColumns, div: f64) -> Vec<SweepLine> {
    // Group rows by the values of the other keys, in sweep order.
    let mut groups: BTreeMap<Vec<usize>, Vec<usize>> = BTreeMap::new();
    for (row, idx) in csv.row_values.iter().enumerate() {
        let other: Vec<usize> = idx
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != k)
            .map(|(_, &i)| i)
            .collect();
        groups.entry(other).or_default().push(row);
    }
    let mut lines = Vec::new();
    for (other, rows) in &groups {
        let label = line_label(csv, k, other);
        let mut points: Vec<SweepPoint> = rows
            .iter()
            .filter_map(|&r| {
                let m = cols.mean[r]?;
                let ci = cols.lo[r].zip(cols.hi[r]).map(|(a, b)| (a / div, b / div));
                Some((x.positions[csv.row_values[r][k]], m / div, ci))
            })
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        if !points.is_empty() {
            lines.push(SweepLine { label, points });
        }
    }
    lines
}

/// A line's legend text: `mean` with one varied key, else the other keys' values
/// (`other`, indices into their values) as `key=value, ...`.
fn line_label(csv: &SweepCsv, k: usize, other: &[usize]) -> String {
    if csv.keys.len() == 1 {
        "mean".to_string()
    } else {
        let others: Vec<usize> = (0..csv.keys.len()).filter(|&j| j != k).collect();
        others
            .iter()
            .zip(other)
            .map(|(&j, &i)| format!("{}={}", csv.keys[j], csv.values[j][i]))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The y range: every mean and interval bound, padded by 8% of their span (or a little
/// around a single value).
fn y_range(lines: &[SweepLine]) -> (f64, f64) {
    let ys = lines.iter().flat_map(|l| {
        l.points.iter().flat_map(|&(_, m, ci)| {
            [Some(m), ci.map(|c| c.0), ci.map(|c| c.1)]
                .into_iter()
                .flatten()
        })
    });
    let (ymin, ymax) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    let span = ymax - ymin;
    let pad = if span > 0.0 {
        span * 0.08
    } else {
        (ymax.abs() * 0.05).max(1e-3)
    };
    (ymin - pad, ymax + pad)
}

/// Width of the legend beside the chart: its widest text, plus the sample and margins.
fn legend_width(lines: &[SweepLine], ci_label: &str) -> u32 {
    lines
        .iter()
        .map(|l| l.label.as_str())
        .chain([ci_label])
        .map(|t| font(NOTE_PX).box_size(t).map_or(200, |(w, _)| w))
        .max()
        .unwrap_or(0)
        + 70
}

/// The title size: [`TITLE_PX`], or smaller (by 2 px, down to 14 px) until the title fits
/// a canvas `total_w` pixels wide.
fn title_px(title: &str, total_w: u32) -> f64 {
    let mut title_px = TITLE_PX;
    while title_px > 14.0
        && font(title_px)
            .box_size(title)
            .is_ok_and(|(w, _)| w + 40 > total_w)
    {
        title_px -= 2.0;
    }
    title_px
}

/// Draws one line: its confidence band (or an error bar at a lone point with an
/// interval), then the mean line and its markers.
fn draw_line<DB: DrawingBackend>(
    chart: &mut SweepChart<'_, DB>,
    line: &SweepLine,
    c: RGBColor,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    for run in ci_runs(&line.points) {
        if run.len() >= 2 {
            draw_band(chart, &run, c)?;
        } else {
            draw_error_bar(chart, run[0], c)?;
        }
    }
    chart.draw_series(LineSeries::new(
        line.points.iter().map(|&(x, m, _)| (x, m)),
        c.stroke_width(2),
    ))?;
    chart.draw_series(
        line.points
            .iter()
            .map(|&(x, m, _)| Circle::new((x, m), 5, c.filled())),
    )?;
    Ok(())
}

/// The runs of consecutive points with an interval: one polygon each, so that a point
/// without one breaks the band.
fn ci_runs(points: &[SweepPoint]) -> Vec<CiRun> {
    let mut run: CiRun = Vec::new();
    let mut runs = Vec::new();
    for &(x, _, ci) in points {
        match ci {
            Some(ci) => run.push((x, ci)),
            None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// A shaded band between the bounds of a run of intervals, edged by thin lines.
fn draw_band<DB: DrawingBackend>(
    chart: &mut SweepChart<'_, DB>,
    run: &[(f64, (f64, f64))],
    c: RGBColor,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut poly: Vec<(f64, f64)> = run.iter().map(|&(x, (lo, _))| (x, lo)).collect();
    poly.extend(run.iter().rev().map(|&(x, (_, hi))| (x, hi)));
    chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled())))?;
    for edge in [0usize, 1] {
        let pts: Vec<(f64, f64)> = run
            .iter()
            .map(|&(x, (lo, hi))| (x, if edge == 0 { lo } else { hi }))
            .collect();
        chart.draw_series(LineSeries::new(pts, c.mix(0.45).stroke_width(1)))?;
    }
    Ok(())
}

/// A capped error bar at a lone point with an interval.
fn draw_error_bar<DB: DrawingBackend>(
    chart: &mut SweepChart<'_, DB>,
    (x, (lo, hi)): (f64, (f64, f64)),
    c: RGBColor,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let style = c.mix(0.7).stroke_width(2);
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(x, lo), (x, hi)],
        style,
    )))?;
    chart.draw_series(
        [lo, hi]
            .into_iter()
            .map(|y| EmptyElement::at((x, y)) + PathElement::new(vec![(-7, 0), (7, 0)], style)),
    )?;
    Ok(())
}

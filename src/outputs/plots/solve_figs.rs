//! Plots of a `solve` directory: each expected metric against the searched key, one point
//! per probe (green where the probe held, red where it failed), the one-sided confidence
//! bound the rule compared, the expectation's limit as a dashed line and the answer as a
//! vertical line. See [`render_solve`](super::render_solve).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::emit::Figure;
use super::sanitize_name;
use super::style::{font, DrawResult, DESC_PX, LABEL_PX, NOTE_PX, TITLE_PX};

/// Canvas size.
const SIZE: (u32, u32) = (1200, 720);

/// One expected metric against the key.
pub struct SolveFig {
    title: String,
    x_desc: String,
    y_desc: String,
    /// `(x, mean, bound, holds)` per probe, in display units.
    points: Vec<(f64, f64, f64, bool)>,
    limit: f64,
    answer: Option<f64>,
}

/// One probe: its value in base units, then per expectation `(mean, bound, holds)`.
pub type SolveProbe = (f64, Vec<(f64, f64, bool)>);

/// What the figures are drawn from: `solve.json` and `solve.csv`, already read.
pub struct SolveData<'a> {
    /// The searched key (axis title).
    pub key: &'a str,
    /// The unit the key's values are shown in, and base units per display unit.
    pub unit: (&'a str, f64),
    /// Each expectation: metric, min, max.
    pub expectations: &'a [(String, Option<f64>, Option<f64>)],
    /// The probes: value in base units, then per expectation `(mean, bound, holds)`.
    pub probes: &'a [SolveProbe],
    /// The answer in base units.
    pub answer: Option<f64>,
}

/// One figure per expectation, named `solve_<metric>`.
pub(super) fn figures(d: &SolveData<'_>) -> Vec<(String, Figure)> {
    let (unit, per) = d.unit;
    d.expectations
        .iter()
        .enumerate()
        .map(|(k, (metric, min, max))| {
            let points = d
                .probes
                .iter()
                .map(|(v, vs)| (v / per, vs[k].0, vs[k].1, vs[k].2))
                .filter(|p| p.1.is_finite() && p.2.is_finite())
                .collect();
            let limit = max.or(*min).unwrap_or(f64::NAN);
            let (word, sign) = if max.is_some() {
                ("max", "≤")
            } else {
                ("min", "≥")
            };
            let fig = SolveFig {
                title: format!("{metric} vs {} ({word}: {sign} {limit})", d.key),
                x_desc: if unit.is_empty() {
                    d.key.to_string()
                } else {
                    format!("{} ({unit})", d.key)
                },
                y_desc: metric.clone(),
                points,
                limit,
                answer: d.answer.map(|a| a / per),
            };
            (
                format!("solve_{}", sanitize_name(metric)),
                Figure::Solve(fig),
            )
        })
        .collect()
}

impl SolveFig {
    /// Canvas size in pixels.
    pub fn size(&self) -> (u32, u32) {
        SIZE
    }

    /// The data ranges, padded by 5 % (a single value gets a unit-wide range).
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let pad = |lo: f64, hi: f64| {
            let w = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
            (lo - 0.05 * w, hi + 0.05 * w)
        };
        let xs = self.points.iter().map(|p| p.0);
        let ys = self
            .points
            .iter()
            .flat_map(|p| [p.1, p.2])
            .chain(self.limit.is_finite().then_some(self.limit));
        let mm = |it: &mut dyn Iterator<Item = f64>| {
            it.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            })
        };
        let (x0, x1) = mm(&mut xs.into_iter());
        let (y0, y1) = mm(&mut ys.into_iter());
        if !x0.is_finite() {
            return ((0.0, 1.0), (0.0, 1.0));
        }
        (pad(x0, x1), pad(y0, y1))
    }

    /// Draws the figure.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let body = root
            .margin(14, 0, 0, 0)
            .titled(&self.title, font(TITLE_PX))?;
        let ((x0, x1), (y0, y1)) = self.ranges();
        let mut chart = ChartBuilder::on(&body)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(95)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_desc)
            .y_desc(&self.y_desc)
            .label_style(font(LABEL_PX))
            .axis_desc_style(font(DESC_PX))
            .bold_line_style(BLACK.mix(0.12))
            .draw()?;
        if self.limit.is_finite() {
            chart
                .draw_series(DashedLineSeries::new(
                    [(x0, self.limit), (x1, self.limit)],
                    8,
                    6,
                    BLACK.stroke_width(2),
                ))?
                .label("the expectation's limit")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 30, y)], BLACK.stroke_width(2)));
        }
        if let Some(a) = self.answer {
            let c = RGBColor(31, 119, 180);
            chart
                .draw_series(LineSeries::new([(a, y0), (a, y1)], c.stroke_width(2)))?
                .label("the answer")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 30, y)], c.stroke_width(2)));
        }
        let (ok, bad) = (RGBColor(44, 160, 44), RGBColor(214, 39, 40));
        chart
            .draw_series(
                self.points
                    .iter()
                    .map(|&(x, m, _, h)| Circle::new((x, m), 6, if h { ok } else { bad }.filled())),
            )?
            .label("mean over the replications (green: held, red: failed)")
            .legend(move |(x, y)| Circle::new((x + 15, y), 6, ok.filled()));
        chart
            .draw_series(
                self.points
                    .iter()
                    .map(|&(x, _, b, _)| Cross::new((x, b), 6, BLACK.stroke_width(2))),
            )?
            .label("one-sided confidence bound the rule compares")
            .legend(|(x, y)| Cross::new((x + 15, y), 6, BLACK.stroke_width(2)));
        chart
            .configure_series_labels()
            .label_font(font(NOTE_PX))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        Ok(())
    }
}

/// Whether `dir` has plots of an earlier search to replace (`plots/solve_*`).
pub(super) fn stale(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir.join("plots"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("solve_"))
        })
        .collect()
}

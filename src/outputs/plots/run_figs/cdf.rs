//! CDF figures from a microsecond histogram: backup job duration (log x) and recovery
//! point age, the RPO (linear x).

use hdrhistogram::Histogram;
use plotters::coord::combinators::IntoLogRange;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::super::style::{
    color, font, legend, legend_line, DrawResult, DESC_PX, LABEL_PX, NOTE_PX, TITLE_PX,
};
use super::headroom;

/// A CDF from a microsecond histogram.
pub struct CdfFig {
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
    /// The step curve and p50/p90/p99 marks of `h`, in units of `us_per_unit` µs.
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

    /// The CDF of backup job durations (log x axis, seconds).
    pub(super) fn backup_duration(h: &Histogram<u64>, scenario: &str) -> CdfFig {
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

    /// The CDF of recovery point ages (linear x axis, hours).
    pub(super) fn rpo(h: &Histogram<u64>, scenario: &str) -> CdfFig {
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

    /// Draws the figure.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
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

    /// Draws the mesh, the curve and the marks in a chart with either x axis.
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
        let right_of = TextStyle::from(font(NOTE_PX)).pos(Pos::new(HPos::Left, VPos::Center));
        let left_of = TextStyle::from(font(NOTE_PX)).pos(Pos::new(HPos::Right, VPos::Center));
        // A label goes right of its mark unless it would run past the plotting area: the
        // p99 mark often sits near the right end of the axis, and past the canvas the
        // label is cut. Such a label goes left of its mark instead.
        let area = chart.plotting_area();
        let right_edge = area.get_pixel_range().0.end;
        let mut marks = Vec::with_capacity(self.marks.len());
        for (label, x, q) in &self.marks {
            let px = chart.backend_coord(&(*x, *q)).0;
            let (w, _) = area.estimate_text_size(label, &right_of)?;
            let (dx, style) = if px + 10 + w as i32 <= right_edge {
                (10, &right_of)
            } else {
                (-10, &left_of)
            };
            marks.push(
                EmptyElement::at((*x, *q))
                    + Circle::new((0, 0), 5, red.filled())
                    + Text::new(label.clone(), (dx, 8), style.clone()),
            );
        }
        chart.draw_series(marks)?;
        legend(chart, SeriesLabelPosition::UpperLeft)
    }
}

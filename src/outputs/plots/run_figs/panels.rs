//! Stacked panels of lines over time, shared by the timeline and the vault storage
//! figures: the time axis, shaded backup windows, and lines reduced to a drawable size.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::super::style::{
    color, font, legend, legend_box, legend_line, DrawResult, DESC_PX, LABEL_PX, TITLE_PX,
    WINDOW_SHADE,
};
use super::headroom;

/// The time axis of a timeseries: values in hours or days.
pub(super) struct TimeAxis {
    pub(super) xs: Vec<f64>,
    pub(super) label: String,
    pub(super) range: (f64, f64),
    /// Days since 1970-01-01 of day 0, when the axis is in days and the run has a calendar
    /// start: ticks then read as dates.
    pub(super) date0: Option<i64>,
}

impl TimeAxis {
    /// The axis of the `time_s` column: hours, or days past 3 days.
    pub(super) fn new(time_s: &[f64]) -> TimeAxis {
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
            label: label.to_string(),
            range,
            date0: None,
        }
    }

    /// The same axis for a run whose day 0 is the calendar date `start` (days since
    /// 1970-01-01): whole days read as dates (`Mon 11-02`); an axis in hours says from when.
    pub(super) fn dated(mut self, start: Option<i64>) -> TimeAxis {
        let Some(d0) = start else {
            return self;
        };
        let date = crate::engine::calendar::Date::from_days(d0);
        if self.label.ends_with("(days)") {
            self.label = format!("date (UTC; day 0 = {date})");
            self.date0 = Some(d0);
        } else {
            self.label = format!("hours since {date} 00:00 UTC");
        }
        self
    }

    /// A tick label: a date for whole days of a dated axis, else a compact number.
    pub(super) fn tick(date0: Option<i64>, v: f64) -> String {
        match date0 {
            Some(d0) if (v - v.round()).abs() < 1e-9 => {
                let days = d0 + v.round() as i64;
                let d = crate::engine::calendar::Date::from_days(days);
                let wd = crate::outputs::results::nights::WEEKDAYS
                    [usize::from(crate::engine::calendar::weekday(days))];
                format!("{wd} {:02}-{:02}", d.month, d.day)
            }
            _ => crate::units::fmt_compact(v),
        }
    }

    /// Intervals (in axis units) where `flag > 0`.
    pub(super) fn intervals(&self, flag: &[f64]) -> Vec<(f64, f64)> {
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
pub(super) fn downsample(xs: &[f64], ys: &[f64], max_points: usize) -> Vec<(f64, f64)> {
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

/// Most points drawn per line (see [`downsample`]).
pub(super) const MAX_LINE_POINTS: usize = 2000;

/// The largest finite value of `series`, divided by `scale` (0 if there is none).
pub(super) fn max_of<'a>(series: impl IntoIterator<Item = &'a [f64]>, scale: f64) -> f64 {
    series
        .into_iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, &v| m.max(v / scale))
}

/// One labelled line.
pub(super) struct Line {
    pub(super) label: String,
    pub(super) points: Vec<(f64, f64)>,
}

/// A panel of lines over time.
pub(super) struct Panel {
    pub(super) y_desc: &'static str,
    pub(super) lines: Vec<Line>,
    pub(super) y_max: f64,
}

/// Stacked time panels sharing an x axis, with shaded windows.
pub(super) struct TimePanels {
    pub(super) title: String,
    pub(super) x_desc: String,
    pub(super) x_range: (f64, f64),
    /// Day 0's date for date ticks (see [`TimeAxis::dated`]).
    pub(super) x_date0: Option<i64>,
    pub(super) shaded: Vec<(f64, f64)>,
    pub(super) panels: Vec<Panel>,
}

impl TimePanels {
    /// Draws the panels one above the other.
    pub(super) fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
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
                .x_desc(self.x_desc.as_str())
                .y_desc(panel.y_desc)
                .label_style(font(LABEL_PX))
                .axis_desc_style(font(DESC_PX))
                .x_label_formatter(&|v| TimeAxis::tick(self.x_date0, *v))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A 7-day run from Monday 2015-11-02: whole days read as dates; a 1-day run's axis in
    /// hours says from when; without a date nothing changes.
    #[test]
    fn dated_axes_label_days_as_dates() {
        let week: Vec<f64> = (0..=7).map(|d| d as f64 * 86_400.0).collect();
        let d0 = Some(16_741);
        let axis = TimeAxis::new(&week).dated(d0);
        assert_eq!(axis.label, "date (UTC; day 0 = 2015-11-02)");
        assert_eq!(TimeAxis::tick(axis.date0, 0.0), "Mon 11-02");
        assert_eq!(TimeAxis::tick(axis.date0, 6.0), "Sun 11-08");
        assert_eq!(TimeAxis::tick(axis.date0, 2.5), "2.5");
        let day = TimeAxis::new(&[0.0, 86_400.0]).dated(d0);
        assert_eq!(day.label, "hours since 2015-11-02 00:00 UTC");
        assert_eq!(day.date0, None);
        assert_eq!(
            TimeAxis::new(&week).dated(None).label,
            "time since start (days)"
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
}

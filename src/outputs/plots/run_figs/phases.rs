//! The phase breakdown: mean and p99 bars for each backup phase.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::super::style::{
    color, font, legend, legend_box, DrawResult, DESC_PX, LABEL_PX, NOTE_PX, TITLE_PX,
};
use super::headroom;

/// Mean and p99 bars for the backup phases.
pub struct PhaseFig {
    title: String,
    /// (phase, mean, p99), seconds.
    phases: Vec<(&'static str, Option<f64>, Option<f64>)>,
}

/// The backup phases, in the order of a job.
pub(super) const PHASES: [&str; 4] = ["queue", "extension", "snapshot", "transfer"];

impl PhaseFig {
    /// The figure of the `backup.phase.<phase>.{mean,p99}` entries of a summary; `None`
    /// if it has none.
    pub(super) fn from_summary(s: &BTreeMap<String, f64>, scenario: &str) -> Option<PhaseFig> {
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

    /// Draws the figure.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
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

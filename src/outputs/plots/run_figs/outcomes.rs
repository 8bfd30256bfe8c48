//! Job outcomes: one horizontal bar per outcome that happened, backups and restores
//! (succeeded, failed by code, rejected, unsupported, in flight at the end).

use std::collections::BTreeMap;

use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::super::style::{font, DrawResult, DESC_PX, LABEL_PX, NOTE_PX, TITLE_PX};

/// Counts per outcome.
pub struct OutcomesFig {
    title: String,
    /// (metric name, count, color), sorted by name.
    bars: Vec<(String, f64, RGBColor)>,
}

impl OutcomesFig {
    /// The figure of a summary's outcome counts; `None` if none happened.
    pub(super) fn from_summary(s: &BTreeMap<String, f64>, scenario: &str) -> Option<OutcomesFig> {
        let kind = |k: &str| -> Option<RGBColor> {
            if k == "backup.jobs.succeeded" {
                Some(RGBColor(44, 160, 44))
            } else if k == "restore.jobs.succeeded" {
                Some(RGBColor(152, 223, 138))
            } else if k.starts_with("backup.failures.") {
                Some(RGBColor(214, 39, 40))
            } else if k.starts_with("restore.failures.") {
                Some(RGBColor(255, 152, 150))
            } else if k == "backup.jobs.in_flight" || k == "restore.jobs.in_flight" {
                // Work without an outcome at the end of the run: neither met nor failed.
                Some(RGBColor(127, 127, 127))
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

    /// Canvas size in pixels: one row per bar.
    pub fn size(&self) -> (u32, u32) {
        (1200, (180 + 38 * self.bars.len() as u32).max(420))
    }

    /// Draws the figure.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
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
            .x_desc("count (backup jobs, restores or VMs)")
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

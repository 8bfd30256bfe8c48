//! The timeline: running and queued jobs, and each link's throughput, over time.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::super::input::Table;
use super::super::style::DrawResult;
use super::super::PlotError;
use super::panels::{downsample, max_of, Line, Panel, TimeAxis, TimePanels, MAX_LINE_POINTS};

/// Jobs and link throughput over time.
pub struct TimelineFig(TimePanels);

impl TimelineFig {
    /// The figure of `timeseries.csv`; `None` if it has no rows or none of the columns.
    pub(super) fn from_table(
        t: &Table,
        scenario: &str,
        start: Option<i64>,
    ) -> Result<Option<TimelineFig>, PlotError> {
        let time = t.require("time_s")?;
        if t.rows == 0 {
            return Ok(None);
        }
        let axis = TimeAxis::new(time).dated(start);
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
            x_desc: axis.label.clone(),
            x_date0: axis.date0,
            x_range: axis.range,
            shaded,
            panels,
        })))
    }

    /// Draws the figure.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        self.0.draw(root)
    }
}

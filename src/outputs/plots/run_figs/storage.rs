//! Vault storage: each vault's stored data and recovery points over time.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::super::input::Table;
use super::super::style::DrawResult;
use super::super::PlotError;
use super::panels::{downsample, max_of, Line, Panel, TimeAxis, TimePanels, MAX_LINE_POINTS};

/// Vault stored bytes and recovery points over time.
pub struct VaultFig(TimePanels);

impl VaultFig {
    /// The figure of the vault columns of `timeseries.csv`; `None` if there are none (or
    /// no rows).
    pub(super) fn from_table(
        t: &Table,
        scenario: &str,
        start: Option<i64>,
    ) -> Result<Option<VaultFig>, PlotError> {
        let stored = t.family("vault.", ".stored_bytes");
        let points = t.family("vault.", ".recovery_points");
        if (stored.is_empty() && points.is_empty()) || t.rows == 0 {
            return Ok(None);
        }
        let axis = TimeAxis::new(t.require("time_s")?).dated(start);
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
            x_desc: axis.label.clone(),
            x_date0: axis.date0,
            x_range: axis.range,
            shaded: Vec::new(),
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

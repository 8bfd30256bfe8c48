//! Vault storage over time (by redundancy, each vault's stored data and recovery points)
//! and the monthly cost rate over time.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::super::input::Table;
use super::super::style::DrawResult;
use super::super::PlotError;
use super::panels::{downsample, max_of, Line, Panel, TimeAxis, TimePanels, MAX_LINE_POINTS};
use crate::outputs::results::COST_COLUMNS;

/// Vault stored bytes and recovery points over time.
pub struct VaultFig(TimePanels);

impl VaultFig {
    /// The figure of the vault columns of `timeseries.csv` (and of the stored data by
    /// redundancy when the columns exist); `None` if there are none (or no rows).
    pub(super) fn from_table(
        t: &Table,
        scenario: &str,
        start: Option<i64>,
    ) -> Result<Option<VaultFig>, PlotError> {
        let tiers = t.family("storage.", ".stored_bytes");
        let stored = t.family("vault.", ".stored_bytes");
        let points = t.family("vault.", ".recovery_points");
        if (stored.is_empty() && points.is_empty()) || t.rows == 0 {
            return Ok(None);
        }
        let axis = TimeAxis::new(t.require("time_s")?).dated(start);
        const GIB: f64 = (1u64 << 30) as f64;
        let mut panels = Vec::new();
        if !tiers.is_empty() {
            panels.push(panel(
                &axis,
                "stored data by redundancy (GiB)",
                &tiers,
                GIB,
                |n| n.to_uppercase(),
            ));
        }
        if !stored.is_empty() {
            panels.push(panel(&axis, "stored data (GiB)", &stored, GIB, |n| {
                format!("vault {n}")
            }));
        }
        if !points.is_empty() {
            panels.push(panel(&axis, "recovery points (count)", &points, 1.0, |n| {
                format!("vault {n}")
            }));
        }
        let title = format!("Vault storage and recovery points over time — {scenario}");
        Ok(Some(VaultFig::over(&axis, title, panels)))
    }

    /// The monthly cost rate over time and its parts (the `cost.monthly*` columns of
    /// `timeseries.csv`, with `[cost]`); `None` without them.
    pub(super) fn cost_from_table(
        t: &Table,
        scenario: &str,
        start: Option<i64>,
    ) -> Result<Option<VaultFig>, PlotError> {
        let cols: Vec<(String, &[f64])> = COST_COLUMNS
            .iter()
            .filter_map(|c| Some((c.to_string(), t.get(c)?)))
            .collect();
        if cols.is_empty() || t.rows == 0 {
            return Ok(None);
        }
        let axis = TimeAxis::new(t.require("time_s")?).dated(start);
        let label = |n: &str| match n {
            "cost.monthly" => "total".to_string(),
            other => other.trim_start_matches("cost.monthly.").to_string(),
        };
        let title = format!("Monthly cost rate over time — {scenario}");
        let panels = vec![panel(&axis, "rate (currency per month)", &cols, 1.0, label)];
        Ok(Some(VaultFig::over(&axis, title, panels)))
    }

    /// The figure of `panels` over `axis`.
    fn over(axis: &TimeAxis, title: String, panels: Vec<Panel>) -> VaultFig {
        VaultFig(TimePanels {
            title,
            x_desc: axis.label.clone(),
            x_date0: axis.date0,
            x_range: axis.range,
            shaded: Vec::new(),
            panels,
        })
    }

    /// Draws the figure.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        self.0.draw(root)
    }
}

/// One panel of `fam`'s lines, divided by `scale`, labelled by `label`.
fn panel(
    axis: &TimeAxis,
    y_desc: &'static str,
    fam: &[(String, &[f64])],
    scale: f64,
    label: impl Fn(&str) -> String,
) -> Panel {
    Panel {
        y_desc,
        y_max: max_of(fam.iter().map(|(_, ys)| *ys), scale),
        lines: fam
            .iter()
            .map(|(name, ys)| Line {
                label: label(name),
                points: downsample(
                    &axis.xs,
                    &ys.iter().map(|y| y / scale).collect::<Vec<_>>(),
                    MAX_LINE_POINTS,
                ),
            })
            .collect(),
    }
}

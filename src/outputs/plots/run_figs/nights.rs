//! Nights: per policy occurrence, stacked bars of jobs that met the window, missed it and
//! failed, and a line of the last finish against the window's end; one panel per (policy,
//! fleet) of `nights.csv`.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::super::style::{font, DrawResult, DESC_PX, LABEL_PX, NOTE_PX, TITLE_PX};
use crate::outputs::results::nights::NightRow;

/// Most panels drawn (the first in `nights.csv` order); the rest are named in a note.
pub const MAX_PANELS: usize = 8;

const MET: RGBColor = RGBColor(44, 160, 44);
const MISSED: RGBColor = RGBColor(255, 127, 14);
const FAILED: RGBColor = RGBColor(214, 39, 40);
const LINE: RGBColor = RGBColor(31, 119, 180);

/// One panel: a (policy, fleet) pair's nights.
struct NightPanel {
    label: String,
    rows: Vec<NightRow>,
}

/// The figure of `nights.csv`.
pub struct NightsFig {
    title: String,
    panels: Vec<NightPanel>,
    hidden: usize,
}

impl NightsFig {
    /// The figure of the rows of `nights.csv`; `None` without rows.
    pub(super) fn from_rows(rows: &[NightRow], scenario: &str) -> Option<NightsFig> {
        let mut panels: Vec<NightPanel> = Vec::new();
        for r in rows {
            let label = format!("policy {} — fleet {}", r.policy, r.fleet);
            match panels.iter_mut().find(|p| p.label == label) {
                Some(p) => p.rows.push(r.clone()),
                None => panels.push(NightPanel {
                    label,
                    rows: vec![r.clone()],
                }),
            }
        }
        if panels.is_empty() {
            return None;
        }
        let hidden = panels.len().saturating_sub(MAX_PANELS);
        panels.truncate(MAX_PANELS);
        Some(NightsFig {
            title: format!("Jobs per night and last finish vs window end — {scenario}"),
            panels,
            hidden,
        })
    }

    /// Canvas size in pixels: one band per panel.
    pub fn size(&self) -> (u32, u32) {
        (1200, 120 + 380 * self.panels.len() as u32)
    }

    /// Draws the figure.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let mut title = self.title.clone();
        if self.hidden > 0 {
            title.push_str(&format!(
                " (first {MAX_PANELS}; {} more in nights.csv)",
                self.hidden
            ));
        }
        let body = root.titled(&title, font(TITLE_PX))?;
        let areas = body.split_evenly((self.panels.len(), 1));
        for (i, (p, area)) in self.panels.iter().zip(&areas).enumerate() {
            draw_panel(p, area, i == 0)?;
        }
        Ok(())
    }
}

/// Hours of the last finish after the window's end per night (`None`: nothing finished).
fn late_hours(rows: &[NightRow]) -> Vec<Option<f64>> {
    rows.iter()
        .map(|r| r.last_finish_vs_window_end_s.map(|s| s / 3600.0))
        .collect()
}

/// Draws one panel; the first carries the legend, above its bars.
fn draw_panel<DB: DrawingBackend>(
    p: &NightPanel,
    area: &DrawingArea<DB, Shift>,
    legend: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let n = p.rows.len();
    let ymax = p
        .rows
        .iter()
        .map(|r| (r.met_window + r.window_misses) as f64)
        .fold(1.0f64, f64::max)
        * if legend { 1.9 } else { 1.15 };
    let late = late_hours(&p.rows);
    let (lo, hi) = late
        .iter()
        .flatten()
        .fold((0.0f64, 0.0f64), |(a, b), &h| (a.min(h), b.max(h)));
    let pad = ((hi - lo) * 0.15).max(0.5);
    // The first panel's line keeps below its legend too.
    let top = if legend { (hi - lo) * 0.9 } else { 0.0 };
    let (lo, hi) = (lo - pad, hi + pad + top);
    let x = -0.5..(n as f64 - 0.5);
    let mut chart = ChartBuilder::on(area)
        .caption(&p.label, font(DESC_PX))
        .margin(16)
        .margin_right(24)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .right_y_label_area_size(90)
        .build_cartesian_2d(x.clone(), 0f64..ymax)?
        .set_secondary_coord(x, lo..hi);
    let labels: Vec<String> = p
        .rows
        .iter()
        .map(|r| format!("{} {}", r.night, r.weekday))
        .collect();
    let step = n.div_ceil(14).max(1);
    let label_of = |v: &f64| {
        let i = v.round();
        let ok = (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n && (i as usize) % step == 0;
        if ok {
            labels[i as usize].clone()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.min(60) + 1)
        .x_label_formatter(&label_of)
        .y_label_formatter(&|v| crate::units::fmt_compact(*v))
        .x_desc("night (occurrence, weekday)")
        .y_desc("jobs")
        .label_style(font(LABEL_PX))
        .axis_desc_style(font(DESC_PX))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("last finish − window end (h)")
        .y_label_formatter(&|v| crate::units::fmt_compact(*v))
        .label_style(font(LABEL_PX))
        .axis_desc_style(font(DESC_PX))
        .draw()?;
    // Stacked bars: met at the bottom, then missed (late or still open), then failed.
    for (part, color) in [(0usize, MET), (1, MISSED), (2, FAILED)] {
        let series = p.rows.iter().enumerate().map(move |(i, r)| {
            let parts = [
                r.met_window as f64,
                r.missed_not_failed() as f64,
                r.failed as f64,
            ];
            let base: f64 = parts[..part].iter().sum();
            let x = i as f64;
            Rectangle::new(
                [(x - 0.35, base), (x + 0.35, base + parts[part])],
                color.filled(),
            )
        });
        let name = ["met the window", "missed (late or open)", "failed"][part];
        chart
            .draw_series(series)?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    chart.draw_secondary_series(LineSeries::new(
        [(-0.5, 0.0), (n as f64 - 0.5, 0.0)],
        ShapeStyle::from(&BLACK.mix(0.6)).stroke_width(1),
    ))?;
    let pts: Vec<(f64, f64)> = late
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.map(|h| (i as f64, h)))
        .collect();
    chart
        .draw_secondary_series(LineSeries::new(pts.clone(), LINE.stroke_width(2)))?
        .label("last finish − window end (right axis; 0 = window end)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], LINE.stroke_width(2)));
    chart.draw_secondary_series(pts.iter().map(|&p| Circle::new(p, 4, LINE.filled())))?;
    if !legend {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(font(NOTE_PX))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

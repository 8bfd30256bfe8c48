//! Plots of a sweep directory: a metric's mean over the replications, with its 95%
//! confidence interval as a shaded band, against each varied key. See
//! [`render_sweep`](super::render_sweep).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{color, font, DrawResult, PlotError, DESC_PX, LABEL_PX, NOTE_PX, TITLE_PX};
use crate::units::{Bandwidth, Duration, Size};

/// Most values of a key for which every value gets its own tick, labelled as given.
const MAX_VALUE_TICKS: usize = 12;
/// Longest tick label of a categorical axis (longer values are cut with `…`).
const MAX_CATEGORY_LABEL: usize = 28;

// ---------------------------------------------------------------------------
// Input

/// `sweep.csv`, as text, plus what `sweep.json` says about the keys.
pub(super) struct SweepCsv {
    path: PathBuf,
    columns: BTreeMap<String, usize>,
    /// The varied keys, in `--vary` order (the columns between `point` and
    /// `replications`).
    pub keys: Vec<String>,
    /// Each key's values in sweep order.
    pub values: Vec<Vec<String>>,
    /// Per row: the index of its value in `values[k]`, for each key `k`.
    pub row_values: Vec<Vec<usize>>,
    rows: Vec<(u64, Vec<String>)>,
    /// Replications per point (the largest `replications` cell).
    pub replications: u64,
}

impl SweepCsv {
    /// Reads `sweep.csv`; `vary` (from `sweep.json`, when readable) gives each key's
    /// values in the order of the `--vary` flag, else the order of first appearance.
    pub fn read(path: &Path, vary: Option<&[(String, Vec<String>)]>) -> Result<Self, PlotError> {
        let (mut rdr, names) = super::open_csv(path)?;
        let csv_err = |source| PlotError::Csv {
            path: path.to_path_buf(),
            source,
        };
        let missing = |c: &str| PlotError::MissingColumn {
            path: path.to_path_buf(),
            column: c.to_string(),
        };
        if names.first().map(String::as_str) != Some("point") {
            return Err(missing("point"));
        }
        let reps_col = names
            .iter()
            .position(|n| n == "replications")
            .ok_or_else(|| missing("replications"))?;
        let keys: Vec<String> = names[1..reps_col].to_vec();
        let mut rows: Vec<(u64, Vec<String>)> = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(csv_err)?;
            let line = rec.position().map_or(0, |p| p.line());
            rows.push((line, rec.iter().map(|c| c.trim().to_string()).collect()));
        }
        let from_json: Option<Vec<Vec<String>>> = vary.and_then(|v| {
            let same_keys = v.len() == keys.len() && v.iter().zip(&keys).all(|(a, b)| &a.0 == b);
            same_keys.then(|| v.iter().map(|(_, vals)| vals.clone()).collect())
        });
        let mut values = from_json.unwrap_or_else(|| vec![Vec::new(); keys.len()]);
        let mut row_values = Vec::with_capacity(rows.len());
        for (_, cells) in &rows {
            let mut idx = Vec::with_capacity(keys.len());
            for (k, vals) in values.iter_mut().enumerate() {
                let cell = cells.get(k + 1).cloned().unwrap_or_default();
                let i = match vals.iter().position(|v| *v == cell) {
                    Some(i) => i,
                    None => {
                        vals.push(cell);
                        vals.len() - 1
                    }
                };
                idx.push(i);
            }
            row_values.push(idx);
        }
        let mut replications = 0;
        for (line, cells) in &rows {
            let cell = cells.get(reps_col).map_or("", String::as_str);
            let r: u64 = cell.parse().map_err(|_| PlotError::Parse {
                path: path.to_path_buf(),
                line: *line,
                column: "replications".into(),
                value: cell.to_string(),
            })?;
            replications = replications.max(r);
        }
        Ok(SweepCsv {
            path: path.to_path_buf(),
            columns: names.into_iter().enumerate().map(|(i, n)| (n, i)).collect(),
            keys,
            values,
            row_values,
            rows,
            replications,
        })
    }

    /// The column's numbers, `None` for empty cells; `Ok(None)` if there is no such column.
    pub fn column(&self, name: &str) -> Result<Option<Vec<Option<f64>>>, PlotError> {
        let Some(&c) = self.columns.get(name) else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(self.rows.len());
        for (line, cells) in &self.rows {
            let cell = cells.get(c).map_or("", String::as_str);
            out.push(if cell.is_empty() {
                None
            } else {
                Some(
                    cell.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| PlotError::Parse {
                            path: self.path.clone(),
                            line: *line,
                            column: name.to_string(),
                            value: cell.to_string(),
                        })?,
                )
            });
        }
        Ok(Some(out))
    }
}

// ---------------------------------------------------------------------------
// Axes

/// Positions and labels of one varied key on the x axis.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct XAxis {
    /// x position of each value (in the order of the key's values).
    pub positions: Vec<f64>,
    /// Axis description: the key, and the unit of a numeric axis with units.
    pub desc: String,
    /// Whether the axis is numeric (else categorical: positions 0, 1, 2, ...).
    pub numeric: bool,
    /// Tick positions and labels.
    pub ticks: Vec<(f64, String)>,
    /// Visible range.
    pub range: (f64, f64),
}

/// A value as a quantity: plain numbers, then durations, sizes, bandwidths (all values of
/// a key must be of one kind). Returns the positions in display units and the unit.
fn quantities(values: &[String]) -> Option<(Vec<f64>, &'static str)> {
    let texts: Vec<&str> = values.iter().map(|v| v.trim().trim_matches('"')).collect();
    let all = |f: &dyn Fn(&str) -> Option<f64>| -> Option<Vec<f64>> {
        texts
            .iter()
            .map(|t| f(t).filter(|v| v.is_finite()))
            .collect()
    };
    if let Some(v) = all(&|t| t.parse::<f64>().ok()) {
        return Some((v, ""));
    }
    let pick = |xs: Vec<f64>, units: &[(&'static str, f64)]| {
        let max = xs.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let &(unit, scale) = units
            .iter()
            .find(|(_, s)| max >= *s)
            .unwrap_or(units.last().expect("units"));
        (xs.iter().map(|x| x / scale).collect(), unit)
    };
    if let Some(v) = all(&|t| Duration::parse(t).ok().map(|d| d.secs())) {
        return Some(pick_duration(&v));
    }
    if let Some(v) = all(&|t| Size::parse(t).ok().map(|s| s.0 as f64)) {
        let binary = texts.iter().any(|t| t.contains("iB"));
        return Some(if binary {
            pick(
                v,
                &[
                    ("PiB", 1125899906842624.0),
                    ("TiB", 1099511627776.0),
                    ("GiB", 1073741824.0),
                    ("MiB", 1048576.0),
                    ("KiB", 1024.0),
                    ("B", 1.0),
                ],
            )
        } else {
            pick(
                v,
                &[
                    ("PB", 1e15),
                    ("TB", 1e12),
                    ("GB", 1e9),
                    ("MB", 1e6),
                    ("kB", 1e3),
                    ("B", 1.0),
                ],
            )
        });
    }
    if let Some(v) = all(&|t| Bandwidth::parse(t).ok().map(Bandwidth::bytes_per_sec)) {
        let bits = texts
            .iter()
            .any(|t| t.contains("bit/s") || t.contains("bps"));
        return Some(if bits {
            pick(
                v,
                &[
                    ("Tbit/s", 125e9),
                    ("Gbit/s", 125e6),
                    ("Mbit/s", 125e3),
                    ("kbit/s", 125.0),
                    ("bit/s", 0.125),
                ],
            )
        } else {
            pick(
                v,
                &[
                    ("TB/s", 1e12),
                    ("GB/s", 1e9),
                    ("MB/s", 1e6),
                    ("kB/s", 1e3),
                    ("B/s", 1.0),
                ],
            )
        });
    }
    None
}

/// Durations in seconds in the largest unit that the longest reaches twice.
fn pick_duration(secs: &[f64]) -> (Vec<f64>, &'static str) {
    let max = secs.iter().fold(0.0f64, |m, x| m.max(*x));
    let (unit, scale) = [("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)]
        .into_iter()
        .find(|(_, s)| max >= 2.0 * s)
        .unwrap_or(("s", 1.0));
    (secs.iter().map(|s| s / scale).collect(), unit)
}

impl XAxis {
    /// The x axis of `key` with `values` (in sweep order).
    pub fn new(key: &str, values: &[String]) -> XAxis {
        let n = values.len();
        match quantities(values) {
            Some((positions, unit)) => {
                let lo = positions.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = positions.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let span = hi - lo;
                let pad = if span > 0.0 {
                    span * 0.06
                } else {
                    (lo.abs() * 0.1).max(1.0)
                };
                let range = (lo - pad, hi + pad);
                // One tick per value, labelled as given, unless they would crowd.
                let mut sorted = positions.clone();
                sorted.sort_by(f64::total_cmp);
                let crowded = sorted.windows(2).any(|w| w[1] - w[0] < 0.05 * span);
                let ticks = if n <= MAX_VALUE_TICKS && !crowded {
                    positions
                        .iter()
                        .zip(values)
                        .map(|(&x, v)| (x, v.trim().trim_matches('"').to_string()))
                        .collect()
                } else {
                    let (ts, step) = nice_ticks(range.0, range.1, 8);
                    ts.into_iter().map(|t| (t, fmt_tick(t, step))).collect()
                };
                XAxis {
                    positions,
                    desc: if unit.is_empty() {
                        key.to_string()
                    } else {
                        format!("{key} ({unit})")
                    },
                    numeric: true,
                    ticks,
                    range,
                }
            }
            None => XAxis {
                positions: (0..n).map(|i| i as f64).collect(),
                desc: key.to_string(),
                numeric: false,
                ticks: values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (i as f64, shorten(v, MAX_CATEGORY_LABEL)))
                    .collect(),
                range: (-0.5, n as f64 - 0.5),
            },
        }
    }
}

/// `s` cut to `max` characters with an ellipsis.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// About `target` ticks at multiples of 1, 2 or 5 × 10^k within `lo..=hi`, and the step.
pub(super) fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let span = hi - lo;
    if !(span > 0.0 && span.is_finite()) {
        return (vec![lo], 1.0);
    }
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let mult = if norm <= 1.5 {
        1.0
    } else if norm <= 3.0 {
        2.0
    } else if norm <= 7.0 {
        5.0
    } else {
        10.0
    };
    let step = mult * mag;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let ticks = (first..=last)
        .map(|k| {
            let t = k as f64 * step;
            // -0 prints as "-0".
            if t == 0.0 {
                0.0
            } else {
                t
            }
        })
        .collect();
    (ticks, step)
}

/// A tick label: as many decimals as the step needs; thousands as `k`, millions as `M`
/// when the step is a whole number of them.
pub(super) fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = |s: f64| (-(s.log10().floor())).max(0.0) as usize;
    if step >= 1e6 && v.abs() >= 1e7 {
        let d = decimals(step / 1e6);
        return format!("{:.d$}M", v / 1e6);
    }
    if step >= 1e3 && v.abs() >= 1e4 {
        let d = decimals(step / 1e3);
        return format!("{:.d$}k", v / 1e3);
    }
    let d = decimals(step);
    let s = format!("{v:.d$}");
    // Not "-0" or "-0.00" for a value that rounds to zero.
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => s,
    }
}

/// The unit a metric's name implies: `(divisor, suffix of the axis description)`.
pub(super) fn metric_unit(metric: &str) -> (f64, &'static str) {
    let parts: Vec<&str> = metric.split('.').collect();
    let last = parts.last().copied().unwrap_or("");
    let is_bytes = parts.iter().any(|p| *p == "bytes" || p.ends_with("_bytes"));
    let is_time = last != "count"
        && (metric.contains(".duration.")
            || metric.contains("_duration.")
            || metric.contains(".phase.")
            || metric.starts_with("rpo.")
            || metric.contains("geo_lag")
            || metric.contains("point_age")
            || last.ends_with("_seconds"));
    if is_bytes {
        (1e9, " (GB)")
    } else if is_time {
        (1.0, " (s)")
    } else {
        (1.0, "")
    }
}

/// A file-name-safe version of a metric or key: letters, digits, `.`, `-` and `_` stay,
/// anything else becomes `_`.
pub(super) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A linear `f64` axis with the given ticks (plotters' `WithKeyPoints` has no default
/// label formatting for `f64`, which the mesh needs even with a custom formatter).
struct Ticked {
    range: (f64, f64),
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let (lo, hi) = self.range;
        let length = (limit.1 - limit.0) as f64;
        let f = (v - lo) / (hi - lo);
        limit.0 + (length * f + 1e-3).floor() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.0..self.range.1
    }
}

// ---------------------------------------------------------------------------
// Figure

/// A point of a line: `(x, mean, 95% CI)`, in display units.
type SweepPoint = (f64, f64, Option<(f64, f64)>);

/// One line: a combination of the other keys' values.
pub(super) struct SweepLine {
    /// Legend text.
    pub label: String,
    /// `(x, mean, 95% CI)` sorted by x.
    pub points: Vec<SweepPoint>,
}

/// A metric against one varied key.
pub(super) struct SweepFig {
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

impl SweepFig {
    /// The plot of `metric` against key number `k`, or `None` when the metric has no
    /// value at any point.
    pub fn build(
        csv: &SweepCsv,
        metric: &str,
        k: usize,
        scenario: &str,
    ) -> Result<Option<SweepFig>, PlotError> {
        let Some(mean) = csv.column(&format!("{metric}.mean"))? else {
            return Ok(None);
        };
        let lo = csv
            .column(&format!("{metric}.ci95_lo"))?
            .unwrap_or_else(|| vec![None; mean.len()]);
        let hi = csv
            .column(&format!("{metric}.ci95_hi"))?
            .unwrap_or_else(|| vec![None; mean.len()]);
        let (div, unit) = metric_unit(metric);
        let key = &csv.keys[k];
        let x = XAxis::new(key, &csv.values[k]);

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
            let label = if csv.keys.len() == 1 {
                "mean".to_string()
            } else {
                let others: Vec<usize> = (0..csv.keys.len()).filter(|&j| j != k).collect();
                others
                    .iter()
                    .zip(other)
                    .map(|(&j, &i)| format!("{}={}", csv.keys[j], csv.values[j][i]))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut points: Vec<SweepPoint> = rows
                .iter()
                .filter_map(|&r| {
                    let m = mean[r]?;
                    let ci = lo[r].zip(hi[r]).map(|(a, b)| (a / div, b / div));
                    Some((x.positions[csv.row_values[r][k]], m / div, ci))
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            if !points.is_empty() {
                lines.push(SweepLine { label, points });
            }
        }
        if lines.is_empty() {
            return Ok(None);
        }

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
        let y_range = (ymin - pad, ymax + pad);
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
        let legend_w = lines
            .iter()
            .map(|l| l.label.as_str())
            .chain([ci_label])
            .map(|t| font(NOTE_PX).box_size(t).map_or(200, |(w, _)| w))
            .max()
            .unwrap_or(0)
            + 70;
        let total_w = CHART_W + legend_w;
        let mut title_px = TITLE_PX;
        while title_px > 14.0
            && font(title_px)
                .box_size(&title)
                .is_ok_and(|(w, _)| w + 40 > total_w)
        {
            title_px -= 2.0;
        }
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

    /// Draws the figure.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let body = root
            .margin(14, 0, 0, 0)
            .titled(&self.title, font(self.title_px))?;
        let (chart_area, legend_area) = body.split_horizontally(CHART_W);
        let (x0, x1) = self.x.range;
        let (y0, y1) = self.y_range;
        let x_keys: Vec<f64> = self.x.ticks.iter().map(|t| t.0).collect();
        let mut chart = ChartBuilder::on(&chart_area)
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

        for (i, line) in self.lines.iter().enumerate() {
            let c = color(i);
            // The band: one polygon per run of consecutive points with an interval; a
            // lone point with an interval gets an error bar.
            let mut run: Vec<(f64, (f64, f64))> = Vec::new();
            let mut runs = Vec::new();
            for &(x, _, ci) in &line.points {
                match ci {
                    Some(ci) => run.push((x, ci)),
                    None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                    None => {}
                }
            }
            if !run.is_empty() {
                runs.push(run);
            }
            for run in runs {
                if run.len() >= 2 {
                    let mut poly: Vec<(f64, f64)> =
                        run.iter().map(|&(x, (lo, _))| (x, lo)).collect();
                    poly.extend(run.iter().rev().map(|&(x, (_, hi))| (x, hi)));
                    chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled())))?;
                    for edge in [0usize, 1] {
                        let pts: Vec<(f64, f64)> = run
                            .iter()
                            .map(|&(x, (lo, hi))| (x, if edge == 0 { lo } else { hi }))
                            .collect();
                        chart.draw_series(LineSeries::new(pts, c.mix(0.45).stroke_width(1)))?;
                    }
                } else {
                    let (x, (lo, hi)) = run[0];
                    let style = c.mix(0.7).stroke_width(2);
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(x, lo), (x, hi)],
                        style,
                    )))?;
                    chart.draw_series([lo, hi].into_iter().map(|y| {
                        EmptyElement::at((x, y)) + PathElement::new(vec![(-7, 0), (7, 0)], style)
                    }))?;
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
        }

        // The legend, beside the chart.
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

#[cfg(test)]
mod tests {
    use super::super::{render_sweep, FONT_FAMILY};
    use super::*;

    const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

    /// A `sweep.csv` row's statistics columns for one metric.
    fn stats(mean: f64, half: f64) -> String {
        format!("{mean},{},{},{}", half / 2.0, mean - half, mean + half)
    }

    fn check_files(written: &[PathBuf], title_part: &str) {
        assert!(!written.is_empty());
        for p in written {
            let bytes = std::fs::read(p).unwrap();
            match p.extension().unwrap().to_str().unwrap() {
                "svg" => {
                    let text = String::from_utf8(bytes).unwrap();
                    assert!(text.trim_start().starts_with("<svg"), "{}", p.display());
                    assert!(text.contains("</svg>"), "{}", p.display());
                    assert!(text.contains(title_part), "{}", p.display());
                    assert!(text.contains(FONT_FAMILY));
                    assert!(!text.contains("sans-serif"), "{}", p.display());
                }
                "png" => {
                    assert_eq!(&bytes[..8], PNG_SIGNATURE, "{}", p.display());
                    assert!(bytes.len() > 10_000, "{} suspiciously small", p.display());
                }
                e => panic!("unexpected extension {e}"),
            }
        }
    }

    fn names(written: &[PathBuf]) -> Vec<String> {
        written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    fn metrics(m: &[&str]) -> Vec<String> {
        m.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sweep_plot_one_numeric_key() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("fleet-sweep");
        std::fs::create_dir_all(&dir).unwrap();
        // No sweep.json: keys from the header, scenario from the directory's name. The
        // values are out of numeric order; one point has no p99 (empty cells).
        let csv = format!(
            "point,fleet.web.count,replications,backup.duration.p99.mean,backup.duration.p99.sd,backup.duration.p99.ci95_lo,backup.duration.p99.ci95_hi,backup.success_rate.mean,backup.success_rate.sd,backup.success_rate.ci95_lo,backup.success_rate.ci95_hi\n\
             p000,400,5,{},{}\np001,100,5,{},{}\np002,200,5,,,,,{}\n",
            stats(9000.0, 1200.0),
            stats(0.91, 0.02),
            stats(3000.0, 400.0),
            stats(0.99, 0.005),
            stats(0.97, 0.01),
        );
        std::fs::write(dir.join("sweep.csv"), csv).unwrap();
        let written = render_sweep(
            &dir,
            &metrics(&["backup.success_rate", "backup.duration.p99", "not.a.metric"]),
        )
        .unwrap();
        assert_eq!(
            names(&written),
            [
                "sweep_backup.success_rate_by_fleet.web.count.svg",
                "sweep_backup.success_rate_by_fleet.web.count.png",
                "sweep_backup.duration.p99_by_fleet.web.count.svg",
                "sweep_backup.duration.p99_by_fleet.web.count.png",
            ]
        );
        check_files(&written, "fleet-sweep");
        let svg = std::fs::read_to_string(&written[0]).unwrap();
        assert!(svg.contains(
            "backup.success_rate vs fleet.web.count — fleet-sweep (mean, 95% CI over 5 replications)"
        ));
        assert!(svg.contains("95% CI of the mean"));
        assert!(svg.contains("<polygon"), "a CI band");
        let p99 = std::fs::read_to_string(&written[2]).unwrap();
        assert!(p99.contains("backup.duration.p99 (s)"));

        // The same input gives the same bytes, and stale sweep plots are removed.
        let before: Vec<Vec<u8>> = written.iter().map(|p| std::fs::read(p).unwrap()).collect();
        let again = render_sweep(&dir, &metrics(&["backup.success_rate"])).unwrap();
        assert_eq!(again, written[..2]);
        assert_eq!(std::fs::read(&again[0]).unwrap(), before[0]);
        assert_eq!(std::fs::read(&again[1]).unwrap(), before[1]);
        assert!(!written[2].exists(), "stale plot kept");
        // Nothing to draw: no error, no file.
        assert!(render_sweep(&dir, &metrics(&["nope"])).unwrap().is_empty());
        assert!(!written[0].exists());
    }

    #[test]
    fn sweep_plot_two_keys_with_units() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path();
        let def = crate::outputs::sweeps::Definition {
            format: crate::outputs::sweeps::FORMAT,
            scenario_name: "quickstart".into(),
            scenario_hash: "0".into(),
            base_seed: 1,
            sets: vec![],
            vary: vec![
                crate::outputs::sweeps::Vary {
                    key: "link.wan.bandwidth".into(),
                    values: vec!["1 Gbit/s".into(), "100 Mbit/s".into()],
                },
                crate::outputs::sweeps::Vary {
                    key: "policy.nightly.start_within".into(),
                    values: vec!["30m".into(), "2h".into(), "6h".into()],
                },
            ],
            replications: 3,
            seeds: crate::outputs::sweeps::SeedMode::PerPoint,
            plot_metrics: None,
        };
        std::fs::write(
            dir.join("sweep.json"),
            serde_json::to_string_pretty(&def).unwrap(),
        )
        .unwrap();
        let mut csv = String::from(
            "point,link.wan.bandwidth,policy.nightly.start_within,replications,\
             backup.bytes.full.mean,backup.bytes.full.sd,backup.bytes.full.ci95_lo,backup.bytes.full.ci95_hi,\
             backup.window.miss_rate.mean,backup.window.miss_rate.sd,backup.window.miss_rate.ci95_lo,backup.window.miss_rate.ci95_hi\n",
        );
        let mut i = 0;
        for bw in ["1 Gbit/s", "100 Mbit/s"] {
            for (j, sw) in ["30m", "2h", "6h"].iter().enumerate() {
                let f = if bw == "1 Gbit/s" { 1.0 } else { 3.0 };
                csv.push_str(&format!(
                    "p{i:03},{bw},{sw},3,{},{}\n",
                    stats(4e12 * f, 3e11),
                    stats(0.05 * f / (j + 1) as f64, 0.01),
                ));
                i += 1;
            }
        }
        std::fs::write(dir.join("sweep.csv"), csv).unwrap();
        let written = render_sweep(
            dir,
            &metrics(&["backup.window.miss_rate", "backup.bytes.full"]),
        )
        .unwrap();
        assert_eq!(
            names(&written),
            [
                "sweep_backup.window.miss_rate_by_link.wan.bandwidth.svg",
                "sweep_backup.window.miss_rate_by_link.wan.bandwidth.png",
                "sweep_backup.window.miss_rate_by_policy.nightly.start_within.svg",
                "sweep_backup.window.miss_rate_by_policy.nightly.start_within.png",
                "sweep_backup.bytes.full_by_link.wan.bandwidth.svg",
                "sweep_backup.bytes.full_by_link.wan.bandwidth.png",
                "sweep_backup.bytes.full_by_policy.nightly.start_within.svg",
                "sweep_backup.bytes.full_by_policy.nightly.start_within.png",
            ]
        );
        check_files(&written, "quickstart (mean, 95% CI over 3 replications)");
        let svg = |i: usize| std::fs::read_to_string(&written[i]).unwrap();
        // One line per value of the other key, labelled key=value.
        let by_bw = svg(0);
        for v in ["30m", "2h", "6h"] {
            assert!(
                by_bw.contains(&format!("policy.nightly.start_within={v}")),
                "{v}"
            );
        }
        assert!(by_bw.contains("link.wan.bandwidth (Gbit/s)"));
        assert!(by_bw.contains("100 Mbit/s"), "ticks labelled as given");
        let by_sw = svg(2);
        assert!(by_sw.contains("link.wan.bandwidth=1 Gbit/s"));
        assert!(by_sw.contains("link.wan.bandwidth=100 Mbit/s"));
        assert!(by_sw.contains("policy.nightly.start_within (h)"));
        assert!(svg(4).contains("backup.bytes.full (GB)"));
    }

    #[test]
    fn sweep_plot_categorical_and_single_replication() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path();
        // Inline-table values (quoted in CSV), one replication: no CI cells.
        std::fs::write(
            dir.join("sweep.csv"),
            "point,policy.p.schedule,replications,backup.success_rate.mean,backup.success_rate.sd,backup.success_rate.ci95_lo,backup.success_rate.ci95_hi\n\
             p000,\"{ daily = \"\"22:00\"\" }\",1,0.9,,,\n\
             p001,\"{ daily = \"\"02:00\"\" }\",1,0.95,,,\n",
        )
        .unwrap();
        let written = render_sweep(dir, &metrics(&["backup.success_rate"])).unwrap();
        assert_eq!(
            names(&written),
            [
                "sweep_backup.success_rate_by_policy.p.schedule.svg",
                "sweep_backup.success_rate_by_policy.p.schedule.png"
            ]
        );
        check_files(&written, "over 1 replication)");
        let svg = std::fs::read_to_string(&written[0]).unwrap();
        assert!(svg.contains("no CI: 1 replication"));
        assert!(!svg.contains("<polygon"));

        // No varied key: nothing to plot against.
        let one = tempfile::tempdir().unwrap();
        std::fs::write(
            one.path().join("sweep.csv"),
            "point,replications,backup.success_rate.mean,backup.success_rate.sd,backup.success_rate.ci95_lo,backup.success_rate.ci95_hi\np000,3,0.9,0.01,0.87,0.93\n",
        )
        .unwrap();
        assert!(render_sweep(one.path(), &metrics(&["backup.success_rate"]))
            .unwrap()
            .is_empty());

        // A malformed cell names the file and column.
        std::fs::write(
            one.path().join("sweep.csv"),
            "point,k,replications,m.mean\np000,1,3,abc\n",
        )
        .unwrap();
        let e = render_sweep(one.path(), &metrics(&["m"])).unwrap_err();
        assert!(e.to_string().contains("sweep.csv"), "{e}");
        assert!(e.to_string().contains("m.mean"), "{e}");
    }

    #[test]
    fn sweep_plot_axes() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = XAxis::new("fleet.web.count", &s(&["200", "100", "400"]));
        assert!(a.numeric);
        assert_eq!(a.positions, [200.0, 100.0, 400.0]);
        assert_eq!(a.desc, "fleet.web.count");
        assert_eq!(a.ticks[1], (100.0, "100".to_string()));
        let d = XAxis::new("p.start_within", &s(&["30m", "2h"]));
        assert_eq!(
            (d.positions.clone(), d.desc.as_str()),
            (vec![0.5, 2.0], "p.start_within (h)")
        );
        let d = XAxis::new("p.start_within", &s(&["30s", "5m"]));
        assert_eq!(
            (d.positions.clone(), d.desc.as_str()),
            (vec![0.5, 5.0], "p.start_within (min)")
        );
        let d = XAxis::new("p.start_within", &s(&["0", "1d", "3d"]));
        assert_eq!(d.positions, [0.0, 1.0, 3.0]);
        let z = XAxis::new("f.disk_size", &s(&["64 GiB", "512 GiB"]));
        assert_eq!(z.desc, "f.disk_size (GiB)");
        assert_eq!(z.positions, [64.0, 512.0]);
        let z = XAxis::new("f.disk_size", &s(&["500 GB", "2 TB"]));
        assert_eq!(z.desc, "f.disk_size (TB)");
        assert_eq!(z.positions, [0.5, 2.0]);
        let b = XAxis::new("l.bandwidth", &s(&["400 MB/s", "2 GB/s"]));
        assert_eq!(b.desc, "l.bandwidth (GB/s)");
        assert_eq!(b.positions, [0.4, 2.0]);
        let c = XAxis::new("v.redundancy", &s(&["LRS", "GRS", "ZRS"]));
        assert!(!c.numeric);
        assert_eq!(c.positions, [0.0, 1.0, 2.0]);
        assert_eq!(c.range, (-0.5, 2.5));
        // Mixed kinds are categorical.
        assert!(!XAxis::new("x", &s(&["1h", "1 GB"])).numeric);
        // Many values: round ticks rather than one per value.
        let many: Vec<String> = (1..=20).map(|i| (i * 10).to_string()).collect();
        let m = XAxis::new("n", &many);
        assert!(m.ticks.len() < 20 && m.ticks.iter().all(|t| t.0 % 10.0 == 0.0));

        assert_eq!(
            nice_ticks(0.0, 1.0, 8).0,
            [
                0.0,
                0.1,
                0.2,
                0.30000000000000004,
                0.4,
                0.5,
                0.6000000000000001,
                0.7000000000000001,
                0.8,
                0.9,
                1.0
            ]
        );
        assert_eq!(fmt_tick(0.30000000000000004, 0.1), "0.3");
        assert_eq!(fmt_tick(0.9955, 0.0005), "0.9955");
        assert_eq!(fmt_tick(150000.0, 50000.0), "150k");
        assert_eq!(fmt_tick(12500.0, 500.0), "12500");
        assert_eq!(fmt_tick(2.5e7, 5e6), "25M");
        assert_eq!(fmt_tick(-0.0, 1.0), "0");
        assert_eq!(fmt_tick(-0.001, 0.1), "0.0");

        assert_eq!(metric_unit("backup.duration.p99"), (1.0, " (s)"));
        assert_eq!(metric_unit("restore.duration.mean"), (1.0, " (s)"));
        assert_eq!(metric_unit("backup.phase.queue.p99"), (1.0, " (s)"));
        assert_eq!(metric_unit("rpo.p99"), (1.0, " (s)"));
        assert_eq!(metric_unit("vault.v.geo_lag.p50"), (1.0, " (s)"));
        assert_eq!(metric_unit("vault.v.stored_bytes.end"), (1e9, " (GB)"));
        assert_eq!(metric_unit("link.l.bytes"), (1e9, " (GB)"));
        assert_eq!(metric_unit("backup.bytes.full"), (1e9, " (GB)"));
        assert_eq!(metric_unit("backup.success_rate"), (1.0, ""));
        assert_eq!(metric_unit("backup.window.miss_rate"), (1.0, ""));
        assert_eq!(metric_unit("link.l.utilization.mean"), (1.0, ""));
        assert_eq!(sanitize("a.b-c_d/e f"), "a.b-c_d_e_f");
    }
}

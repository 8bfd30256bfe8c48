//! The axes of a sweep figure: a varied key's values as positions (numbers, durations,
//! sizes, bandwidths, else categories), round ticks, and the unit a metric's name implies.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

use crate::units::{Bandwidth, Duration, Size};

/// Most values of a key for which every value gets its own tick, labelled as given.
const MAX_VALUE_TICKS: usize = 12;
/// Longest tick label of a categorical axis (longer values are cut with `…`).
const MAX_CATEGORY_LABEL: usize = 28;

/// Positions and labels of one varied key on the x axis.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct XAxis {
    /// x position of each value (in the order of the key's values).
    pub(super) positions: Vec<f64>,
    /// Axis description: the key, and the unit of a numeric axis with units.
    pub(super) desc: String,
    /// Whether the axis is numeric (else categorical: positions 0, 1, 2, ...).
    pub(super) numeric: bool,
    /// Tick positions and labels.
    pub(super) ticks: Vec<(f64, String)>,
    /// Visible range.
    pub(super) range: (f64, f64),
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
        return Some(pick(v, if binary { BINARY_SIZES } else { DECIMAL_SIZES }));
    }
    if let Some(v) = all(&|t| Bandwidth::parse(t).ok().map(Bandwidth::bytes_per_sec)) {
        let bits = texts
            .iter()
            .any(|t| t.contains("bit/s") || t.contains("bps"));
        return Some(pick(v, if bits { BIT_RATES } else { BYTE_RATES }));
    }
    None
}

// Axis units of sizes and bandwidths, largest first: an axis takes the largest unit its
// largest value reaches.

/// Sizes written with binary units (`GiB`).
const BINARY_SIZES: &[(&str, f64)] = &[
    ("PiB", 1125899906842624.0),
    ("TiB", 1099511627776.0),
    ("GiB", 1073741824.0),
    ("MiB", 1048576.0),
    ("KiB", 1024.0),
    ("B", 1.0),
];
/// Sizes written with decimal units (`GB`).
const DECIMAL_SIZES: &[(&str, f64)] = &[
    ("PB", 1e15),
    ("TB", 1e12),
    ("GB", 1e9),
    ("MB", 1e6),
    ("kB", 1e3),
    ("B", 1.0),
];
/// Bandwidths written in bits per second (in bytes per second).
const BIT_RATES: &[(&str, f64)] = &[
    ("Tbit/s", 125e9),
    ("Gbit/s", 125e6),
    ("Mbit/s", 125e3),
    ("kbit/s", 125.0),
    ("bit/s", 0.125),
];
/// Bandwidths written in bytes per second.
const BYTE_RATES: &[(&str, f64)] = &[
    ("TB/s", 1e12),
    ("GB/s", 1e9),
    ("MB/s", 1e6),
    ("kB/s", 1e3),
    ("B/s", 1.0),
];

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
    pub(super) fn new(key: &str, values: &[String]) -> XAxis {
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
    use crate::model::metric_names::{unit, Unit};
    match unit(metric) {
        Unit::Bytes => (1e9, " (GB)"),
        Unit::Seconds => (1.0, " (s)"),
        Unit::Plain => (1.0, ""),
        Unit::Money => (1.0, " (currency of [cost])"),
    }
}

/// A linear `f64` axis with the given ticks (plotters' `WithKeyPoints` has no default
/// label formatting for `f64`, which the mesh needs even with a custom formatter).
pub(super) struct Ticked {
    pub(super) range: (f64, f64),
    pub(super) ticks: Vec<f64>,
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

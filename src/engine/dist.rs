//! Random variates: every value in a scenario that may vary.
//!
//! A [`Dist`] holds its parameters in base units (seconds, bytes, plain numbers) and
//! samples from an engine [`Stream`]. Typed wrappers ([`DurationDist`], [`SizeDist`],
//! [`RatioDist`], [`CountDist`]) fix the unit in which the scenario writes parameters and
//! the type a sample comes back as. [`Choice`] picks among named categories.
//!
//! Sampling uses only `rand_distr` algorithms on a PCG stream, so a draw is a pure
//! function of the stream state on every platform.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use rand_distr::{Distribution, Exp, Gamma, LogNormal, Normal, Pareto, Triangular, Weibull};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::engine::time::MICROS_PER_SEC;
use crate::engine::{SimDuration, Stream};
use crate::units::{Duration, Size, MAX_DURATION_SECS};

/// Longest duration a draw may take: 1 000 years, the longest duration a scenario may name
/// ([`MAX_DURATION_SECS`]). A heavy-tailed distribution (pareto, weibull with a small
/// shape, lognormal) can draw longer spans than the clock represents; such a draw is
/// saturated to this cap and counted (see [`DurationDist::draw`]), so a run never
/// overflows its clock. Far beyond any run's end (at most 10 years), a capped step simply
/// never finishes within the run.
pub const MAX_DRAW_DURATION: SimDuration = SimDuration(MAX_DURATION_SECS as u64 * MICROS_PER_SEC);

/// Largest size a draw may take, in bytes: `u64::MAX` (16 EiB − 1 byte). Larger draws are
/// saturated to it and counted.
pub const MAX_DRAW_SIZE: u64 = u64::MAX;

/// Largest count a draw (or a count parameter) may take: `u32::MAX`. Larger draws are
/// saturated to it and counted.
pub const MAX_DRAW_COUNT: u32 = u32::MAX;

/// Largest ratio of standard deviation to mean a lognormal may have. Beyond it almost every
/// draw lies far below the mean, which is carried by draws too rare to occur in any run
/// (at sd/mean = 10^6 half the draws are below a millionth of the mean).
pub const MAX_LOGNORMAL_CV: f64 = 1e6;

/// The unit kind of a distribution's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Durations, written as `"40s"`; base unit seconds.
    Duration,
    /// Sizes, written as `"128 GiB"`; base unit bytes.
    Size,
    /// Shares in [0, 1], written as numbers.
    Ratio,
    /// Non-negative integers, written as numbers.
    Count,
}

/// A distribution over non-negative reals, parameters in base units.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// Always `value`.
    Constant(f64),
    /// Uniform on [min, max].
    Uniform { min: f64, max: f64 },
    /// Uniform on the integers min..=max.
    UniformInt { min: i64, max: i64 },
    /// Exponential with the given mean.
    Exponential { mean: f64 },
    /// Normal truncated at 0 (negative draws are redrawn).
    Normal { mean: f64, sd: f64 },
    /// Lognormal with the given mean and standard deviation *of the variate itself*.
    LogNormal { mean: f64, sd: f64 },
    /// Gamma with shape k and scale θ (mean kθ).
    Gamma { shape: f64, scale: f64 },
    /// Weibull with shape k and scale λ.
    Weibull { shape: f64, scale: f64 },
    /// Triangular on [min, max] with the given mode.
    Triangular { min: f64, mode: f64, max: f64 },
    /// Pareto (type I) with scale x_m and shape α.
    Pareto { scale: f64, shape: f64 },
    /// Resampling of a CSV column.
    Empirical {
        /// CSV file, relative to the scenario file as written.
        file: String,
        /// Column name (header).
        column: String,
        /// The column's values in base units, loaded by the scenario loader.
        values: Arc<[f64]>,
    },
}

const DIST_NAMES: &str = "constant, uniform, uniform-int, exponential, normal, lognormal, gamma, weibull, triangular, pareto, empirical";

impl Dist {
    /// Draws one value (in base units, never negative).
    pub fn sample(&self, rng: &mut Stream) -> f64 {
        let v = match *self {
            Dist::Constant(v) => v,
            Dist::Uniform { min, max } => {
                if max > min {
                    rng.gen_range(min..=max)
                } else {
                    min
                }
            }
            Dist::UniformInt { min, max } => rng.gen_range(min..=max) as f64,
            Dist::Exponential { mean } => Exp::new(1.0 / mean).map_or(0.0, |d| d.sample(rng)),
            // Parameters that cannot be sampled are rejected by `check` (scenario
            // validation); should one reach here anyway, the draw is 0, never a panic.
            Dist::Normal { mean, sd } => match Normal::new(mean, sd) {
                // Truncation at 0 by rejection; after many rejections the mass above 0 is
                // negligible and 0 is the right answer to the precision that matters.
                Ok(n) => (0..1000)
                    .map(|_| n.sample(rng))
                    .find(|&x| x >= 0.0)
                    .unwrap_or(0.0),
                Err(_) => 0.0,
            },
            Dist::LogNormal { mean, sd } => {
                if sd == 0.0 {
                    mean
                } else {
                    let s2 = (1.0 + (sd * sd) / (mean * mean)).ln();
                    let mu = mean.ln() - s2 / 2.0;
                    LogNormal::new(mu, s2.sqrt()).map_or(0.0, |d| d.sample(rng))
                }
            }
            Dist::Gamma { shape, scale } => Gamma::new(shape, scale).map_or(0.0, |d| d.sample(rng)),
            Dist::Weibull { shape, scale } => {
                Weibull::new(scale, shape).map_or(0.0, |d| d.sample(rng))
            }
            Dist::Triangular { min, mode, max } => {
                if max > min {
                    Triangular::new(min, max, mode).map_or(min, |d| d.sample(rng))
                } else {
                    min
                }
            }
            Dist::Pareto { scale, shape } => {
                Pareto::new(scale, shape).map_or(0.0, |d| d.sample(rng))
            }
            Dist::Empirical { ref values, .. } => {
                if values.is_empty() {
                    0.0
                } else {
                    values[rng.gen_range(0..values.len())]
                }
            }
        };
        v.max(0.0)
    }

    /// Checks that the distribution can be sampled as values of `kind`; the message says
    /// what was expected and found. Scenario validation calls it for every distribution.
    ///
    /// Rejected: non-finite or negative parameters; a lognormal whose sd exceeds
    /// [`MAX_LOGNORMAL_CV`] × its mean; a distribution at least half of whose draws would
    /// exceed the largest value of its kind ([`cap`]: 1 000 years, 16 EiB, 4 294 967 295),
    /// i.e. a gamma with shape × scale beyond it or a pareto with scale × 2^(1/shape) beyond
    /// it; an integer range or an empirical value beyond it. Heavy tails whose median is
    /// representable are accepted: their rare draws beyond the cap are saturated and
    /// counted.
    pub fn check(&self, kind: Kind) -> Result<(), String> {
        let cap = cap(kind);
        let show = |v: f64| show_value(v, kind);
        let params: Vec<(&str, f64)> = match *self {
            Dist::Constant(v) => vec![("value", v)],
            Dist::Uniform { min, max } => vec![("min", min), ("max", max)],
            Dist::UniformInt { min, max } => vec![("min", min as f64), ("max", max as f64)],
            Dist::Exponential { mean } => vec![("mean", mean)],
            Dist::Normal { mean, sd } | Dist::LogNormal { mean, sd } => {
                vec![("mean", mean), ("sd", sd)]
            }
            Dist::Gamma { shape, scale }
            | Dist::Weibull { shape, scale }
            | Dist::Pareto { shape, scale } => vec![("shape", shape), ("scale", scale)],
            Dist::Triangular { min, mode, max } => {
                vec![("min", min), ("mode", mode), ("max", max)]
            }
            Dist::Empirical { ref values, .. } => {
                if values.is_empty() {
                    return Err(
                        "expected an empirical distribution with at least one value, found none"
                            .into(),
                    );
                }
                match values
                    .iter()
                    .position(|v| !(v.is_finite() && *v >= 0.0 && *v <= cap))
                {
                    Some(i) => {
                        return Err(format!(
                            "expected every value of the empirical column to be between 0 and {}, found {} (row {})",
                            show(cap),
                            show(values[i]),
                            i + 1
                        ))
                    }
                    None => return Ok(()),
                }
            }
        };
        for (name, v) in &params {
            if !(v.is_finite() && *v >= 0.0) {
                return Err(format!(
                    "`{name}`: expected a finite non-negative number, found {}",
                    fmt_f64(*v)
                ));
            }
            if *name != "shape" && *v > cap {
                return Err(format!(
                    "`{name}`: expected at most {}, found {}",
                    show(cap),
                    show(*v)
                ));
            }
        }
        match *self {
            Dist::Exponential { mean } if mean <= 0.0 => {
                Err("exponential needs mean > 0, found 0".into())
            }
            Dist::Normal { sd, .. } if sd <= 0.0 => Err("normal needs sd > 0, found 0".into()),
            Dist::LogNormal { mean, .. } if mean <= 0.0 => {
                Err("lognormal needs mean > 0, found 0".into())
            }
            Dist::LogNormal { mean, sd } if sd / mean > MAX_LOGNORMAL_CV => Err(format!(
                "expected a lognormal with sd at most {MAX_LOGNORMAL_CV:e} × mean, found mean {} and sd {} (sd/mean = {:.1e}): \
                 almost every draw would be a tiny fraction of the mean, which only draws too rare to occur would carry; \
                 use a smaller sd, or a pareto or weibull for a heavy tail",
                show(mean),
                show(sd),
                sd / mean
            )),
            Dist::Gamma { shape, scale }
            | Dist::Weibull { shape, scale }
            | Dist::Pareto { shape, scale }
                if !(shape > 0.0 && scale > 0.0) =>
            {
                Err(format!(
                    "expected shape > 0 and scale > 0, found shape {} and scale {}",
                    fmt_f64(shape),
                    show(scale)
                ))
            }
            // Half or more of the draws would be beyond the cap: the median of a gamma
            // with shape k >= 1 exceeds (k - 1/3) × scale.
            Dist::Gamma { shape, scale } if shape >= 1.0 && (shape - 1.0 / 3.0) * scale > cap => {
                Err(format!(
                    "expected a gamma whose median (about shape × scale) is at most {}, found shape {} × scale {}: almost every draw would exceed that cap, the largest value the simulator represents",
                    show(cap),
                    fmt_f64(shape),
                    show(scale)
                ))
            }
            Dist::Pareto { shape, scale } if scale * 2f64.powf(1.0 / shape) > cap => Err(format!(
                "expected a pareto whose median scale × 2^(1/shape) is at most {}, found scale {} and shape {}: more than half of the draws would exceed that cap, the largest value the simulator represents; use a larger shape",
                show(cap),
                show(scale),
                fmt_f64(shape)
            )),
            Dist::Uniform { min, max } | Dist::Triangular { min, max, .. } if min > max => {
                Err(format!(
                    "expected min <= max, found min {} > max {}",
                    show(min),
                    show(max)
                ))
            }
            Dist::UniformInt { min, max } if min > max => Err(format!(
                "expected min <= max, found min {min} > max {max}"
            )),
            Dist::Triangular { min, mode, max } if !(min <= mode && mode <= max) => Err(format!(
                "expected min <= mode <= max, found {}, {}, {}",
                show(min),
                show(mode),
                show(max)
            )),
            _ => Ok(()),
        }
    }

    /// The distribution's mean, where it has a finite one (for docs, tests and sanity).
    pub fn mean(&self) -> Option<f64> {
        Some(match *self {
            Dist::Constant(v) => v,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::UniformInt { min, max } => (min as f64 + max as f64) / 2.0,
            Dist::Exponential { mean } | Dist::LogNormal { mean, .. } => mean,
            Dist::Normal { .. } => return None, // truncated: see tests
            Dist::Gamma { shape, scale } => shape * scale,
            Dist::Weibull { shape, scale } => scale * gamma_fn(1.0 + 1.0 / shape),
            Dist::Triangular { min, mode, max } => (min + mode + max) / 3.0,
            Dist::Pareto { scale, shape } => {
                if shape <= 1.0 {
                    return None;
                }
                shape * scale / (shape - 1.0)
            }
            Dist::Empirical { ref values, .. } => values.iter().sum::<f64>() / values.len() as f64,
        })
    }

    /// Parses a scenario value: a constant (string with unit, or number), or a table with
    /// `dist = ...` and its parameters.
    pub fn from_toml(v: &toml::Value, kind: Kind) -> Result<Dist, String> {
        match v {
            toml::Value::Table(t) => Self::from_table(t, kind),
            other => Ok(Dist::Constant(scalar(other, kind)?)),
        }
    }

    fn from_table(t: &toml::Table, kind: Kind) -> Result<Dist, String> {
        let name = match t.get("dist") {
            Some(toml::Value::String(s)) => s.as_str(),
            Some(other) => return Err(format!("expected `dist` to be one of {DIST_NAMES}, found {}", describe(other))),
            None => return Err(format!("expected a value or a table with `dist` = one of {DIST_NAMES}, found a table without `dist`")),
        };
        let allowed: &[&str] = match name {
            "constant" => &["value"],
            "uniform" | "uniform-int" => &["min", "max"],
            "exponential" => &["mean"],
            "normal" | "lognormal" => &["mean", "sd"],
            "gamma" | "weibull" | "pareto" => &["shape", "scale"],
            "triangular" => &["min", "mode", "max"],
            "empirical" => &["file", "column"],
            other => {
                return Err(format!(
                    "expected `dist` to be one of {DIST_NAMES}, found \"{other}\""
                ))
            }
        };
        for k in t.keys() {
            if k != "dist" && !allowed.contains(&k.as_str()) {
                return Err(format!(
                    "unknown parameter `{k}` for dist = \"{name}\": expected {}",
                    allowed.join(", ")
                ));
            }
        }
        let p = |key: &str| -> Result<f64, String> {
            let v = t
                .get(key)
                .ok_or_else(|| format!("dist = \"{name}\" needs `{key}`"))?;
            scalar(v, kind).map_err(|e| format!("`{key}`: {e}"))
        };
        // Shape parameters are unitless whatever the kind.
        let shape = || -> Result<f64, String> {
            match t.get("shape") {
                Some(toml::Value::Float(f)) if *f > 0.0 && f.is_finite() => Ok(*f),
                Some(toml::Value::Integer(i)) if *i > 0 => Ok(*i as f64),
                Some(other) => Err(format!(
                    "`shape`: expected a positive number, found {}",
                    describe(other)
                )),
                None => Err(format!("dist = \"{name}\" needs `shape`")),
            }
        };
        let d = match name {
            "constant" => Dist::Constant(p("value")?),
            "uniform" => {
                let (min, max) = (p("min")?, p("max")?);
                if min > max {
                    return Err(format!(
                        "uniform needs min <= max, found min {min} > max {max}"
                    ));
                }
                Dist::Uniform { min, max }
            }
            "uniform-int" => {
                let int = |k: &str| match t.get(k) {
                    Some(toml::Value::Integer(i)) if *i >= 0 => Ok(*i),
                    Some(other) => Err(format!(
                        "`{k}`: expected a non-negative integer, found {}",
                        describe(other)
                    )),
                    None => Err(format!("dist = \"uniform-int\" needs `{k}`")),
                };
                let (min, max) = (int("min")?, int("max")?);
                if min > max {
                    return Err(format!(
                        "uniform-int needs min <= max, found min {min} > max {max}"
                    ));
                }
                Dist::UniformInt { min, max }
            }
            "exponential" => {
                let mean = p("mean")?;
                if mean <= 0.0 {
                    return Err("exponential needs mean > 0".into());
                }
                Dist::Exponential { mean }
            }
            "normal" | "lognormal" => {
                let (mean, sd) = (p("mean")?, p("sd")?);
                if name == "lognormal" && mean <= 0.0 {
                    return Err("lognormal needs mean > 0".into());
                }
                if name == "normal" && sd <= 0.0 {
                    return Err("normal needs sd > 0".into());
                }
                if name == "normal" {
                    Dist::Normal { mean, sd }
                } else {
                    Dist::LogNormal { mean, sd }
                }
            }
            "gamma" | "weibull" | "pareto" => {
                let (shape, scale) = (shape()?, p("scale")?);
                if scale <= 0.0 {
                    return Err(format!("{name} needs scale > 0"));
                }
                match name {
                    "gamma" => Dist::Gamma { shape, scale },
                    "weibull" => Dist::Weibull { shape, scale },
                    _ => Dist::Pareto { scale, shape },
                }
            }
            "triangular" => {
                let (min, mode, max) = (p("min")?, p("mode")?, p("max")?);
                if !(min <= mode && mode <= max) {
                    return Err(format!(
                        "triangular needs min <= mode <= max, found {min}, {mode}, {max}"
                    ));
                }
                Dist::Triangular { min, mode, max }
            }
            "empirical" => {
                let s = |k: &str| match t.get(k) {
                    Some(toml::Value::String(s)) => Ok(s.clone()),
                    Some(other) => Err(format!(
                        "`{k}`: expected a string, found {}",
                        describe(other)
                    )),
                    None => Err(format!("dist = \"empirical\" needs `{k}`")),
                };
                Dist::Empirical {
                    file: s("file")?,
                    column: s("column")?,
                    values: Arc::from(Vec::new()),
                }
            }
            _ => unreachable!("names checked above"),
        };
        if kind == Kind::Ratio {
            if let Some(m) = d.mean() {
                if m > 1.0 {
                    return Err(format!(
                        "expected a share between 0 and 1, found a distribution with mean {m}"
                    ));
                }
            }
        }
        Ok(d)
    }

    /// Renders the distribution back as a TOML value in the kind's units.
    pub fn to_toml(&self, kind: Kind) -> toml::Value {
        let u = |v: f64| unscalar(v, kind);
        let num = |v: f64| toml::Value::Float(v);
        let mut t = toml::Table::new();
        let mut put = |k: &str, v: toml::Value| {
            t.insert(k.to_string(), v);
        };
        let name = match *self {
            Dist::Constant(v) => return u(v),
            Dist::Uniform { min, max } => {
                put("min", u(min));
                put("max", u(max));
                "uniform"
            }
            Dist::UniformInt { min, max } => {
                put("min", toml::Value::Integer(min));
                put("max", toml::Value::Integer(max));
                "uniform-int"
            }
            Dist::Exponential { mean } => {
                put("mean", u(mean));
                "exponential"
            }
            Dist::Normal { mean, sd } | Dist::LogNormal { mean, sd } => {
                put("mean", u(mean));
                put("sd", u(sd));
                if matches!(self, Dist::Normal { .. }) {
                    "normal"
                } else {
                    "lognormal"
                }
            }
            Dist::Gamma { shape, scale }
            | Dist::Weibull { shape, scale }
            | Dist::Pareto { shape, scale } => {
                put("shape", num(shape));
                put("scale", u(scale));
                match self {
                    Dist::Gamma { .. } => "gamma",
                    Dist::Weibull { .. } => "weibull",
                    _ => "pareto",
                }
            }
            Dist::Triangular { min, mode, max } => {
                put("min", u(min));
                put("mode", u(mode));
                put("max", u(max));
                "triangular"
            }
            Dist::Empirical {
                ref file,
                ref column,
                ..
            } => {
                put("file", toml::Value::String(file.clone()));
                put("column", toml::Value::String(column.clone()));
                "empirical"
            }
        };
        t.insert("dist".into(), toml::Value::String(name.into()));
        toml::Value::Table(t)
    }
}

/// A scalar of the given kind in base units.
pub fn scalar(v: &toml::Value, kind: Kind) -> Result<f64, String> {
    match (kind, v) {
        (Kind::Duration, toml::Value::String(s)) => Duration::parse(s).map(|d| d.secs()),
        (Kind::Duration, toml::Value::Integer(0)) => Ok(0.0),
        (Kind::Duration, other) => Err(format!(
            "expected a duration such as \"40s\" or \"1h30m\", found {}",
            describe(other)
        )),
        (Kind::Size, toml::Value::String(s)) => Size::parse(s).map(|s| s.0 as f64),
        (Kind::Size, toml::Value::Integer(0)) => Ok(0.0),
        (Kind::Size, other) => Err(format!(
            "expected a size such as \"128 GiB\", found {}",
            describe(other)
        )),
        (Kind::Ratio, toml::Value::Float(f)) if (0.0..=1.0).contains(f) => Ok(*f),
        (Kind::Ratio, toml::Value::Integer(i)) if (0..=1).contains(i) => Ok(*i as f64),
        (Kind::Ratio, other) => Err(format!(
            "expected a share between 0 and 1, found {}",
            describe(other)
        )),
        (Kind::Count, toml::Value::Integer(i)) if (0..=MAX_DRAW_COUNT as i64).contains(i) => {
            Ok(*i as f64)
        }
        (Kind::Count, toml::Value::Float(f)) if (0.0..=MAX_DRAW_COUNT as f64).contains(f) => Ok(*f),
        (Kind::Count, other) => Err(format!(
            "expected a non-negative number (at most {MAX_DRAW_COUNT}), found {}",
            describe(other)
        )),
    }
}

fn unscalar(v: f64, kind: Kind) -> toml::Value {
    match kind {
        Kind::Duration => toml::Value::String(Duration::from_secs_f64(v).to_string()),
        Kind::Size => toml::Value::String(Size(v.round() as u64).to_string()),
        Kind::Count if v.fract() == 0.0 && v < 9e15 => toml::Value::Integer(v as i64),
        Kind::Ratio | Kind::Count => toml::Value::Float(v),
    }
}

/// How a TOML value looks, for "found ..." in error messages.
pub fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string \"{s}\""),
        toml::Value::Integer(i) => format!("the number {i}"),
        toml::Value::Float(f) => format!("the number {}", fmt_f64(*f)),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(d) => format!("the date {d}"),
        toml::Value::Array(_) => "an array".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

/// A float as TOML would write it, short: `1.5`, `1e300`, `5e-324`, `nan`, `inf`.
pub fn fmt_f64(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else if f != 0.0 && (f.abs() >= 1e16 || f.abs() < 1e-5) {
        format!("{f:e}")
    } else {
        format!("{f}")
    }
}

/// The largest value a draw of `kind` may take, in base units: [`MAX_DRAW_DURATION`] in
/// seconds, [`MAX_DRAW_SIZE`] bytes, 1 for ratios, [`MAX_DRAW_COUNT`].
pub fn cap(kind: Kind) -> f64 {
    match kind {
        Kind::Duration => MAX_DURATION_SECS,
        Kind::Size => MAX_DRAW_SIZE as f64,
        Kind::Ratio => 1.0,
        Kind::Count => MAX_DRAW_COUNT as f64,
    }
}

/// A value of `kind` (base units) for messages: `"1000y"`-style durations, sizes in bytes.
fn show_value(v: f64, kind: Kind) -> String {
    match kind {
        Kind::Duration if v == MAX_DURATION_SECS => "1000 years".into(),
        Kind::Duration if v.is_finite() && v < MAX_DURATION_SECS => {
            if v > 0.0 && v < 1e-6 {
                format!("{}s", fmt_f64(v))
            } else {
                format!("\"{}\"", Duration::from_secs_f64(v))
            }
        }
        Kind::Duration => format!("{} s", fmt_f64(v)),
        Kind::Size if v == MAX_DRAW_SIZE as f64 => "16 EiB".into(),
        Kind::Size if v.is_finite() && v < 1.8e19 && v.fract() == 0.0 => {
            format!("\"{}\"", Size(v as u64))
        }
        Kind::Size => format!("{} bytes", fmt_f64(v)),
        Kind::Ratio | Kind::Count => fmt_f64(v),
    }
}

/// Lanczos approximation of Γ(x) for x > 0 (Weibull mean only).
fn gamma_fn(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma_fn(1.0 - x))
    } else {
        let x = x - 1.0;
        let t = x + G + 0.5;
        let s: f64 = C[0] + (1..9).map(|i| C[i] / (x + i as f64)).sum::<f64>();
        (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * s
    }
}

macro_rules! typed_dist {
    ($name:ident, $kind:expr, $doc:literal, $schema_desc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name(pub Dist);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = toml::Value::deserialize(d)?;
                Dist::from_toml(&v, $kind)
                    .map($name)
                    .map_err(de::Error::custom)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.to_toml($kind).serialize(s)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> String {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
                dist_schema($kind, $schema_desc)
            }
        }

        impl From<Dist> for $name {
            fn from(d: Dist) -> Self {
                $name(d)
            }
        }
    };
}

typed_dist!(
    DurationDist,
    Kind::Duration,
    "A distribution of durations.",
    "a duration (\"40s\") or a distribution table whose parameters are durations"
);
typed_dist!(
    SizeDist,
    Kind::Size,
    "A distribution of sizes.",
    "a size (\"128 GiB\") or a distribution table whose parameters are sizes"
);
typed_dist!(
    RatioDist,
    Kind::Ratio,
    "A distribution of shares in [0, 1].",
    "a share between 0 and 1, or a distribution table"
);
typed_dist!(
    CountDist,
    Kind::Count,
    "A distribution of non-negative integers.",
    "a non-negative integer, or a distribution table"
);

impl DurationDist {
    /// A constant duration.
    pub fn constant(d: SimDuration) -> Self {
        DurationDist(Dist::Constant(d.as_secs_f64()))
    }
    /// Draws a duration (rounded to the microsecond), saturated at [`MAX_DRAW_DURATION`].
    pub fn sample(&self, rng: &mut Stream) -> SimDuration {
        self.draw(rng).0
    }
    /// As [`DurationDist::sample`], also saying whether the draw exceeded the cap and was
    /// saturated (the model counts such draws for `run.json`'s notes).
    pub fn draw(&self, rng: &mut Stream) -> (SimDuration, bool) {
        let s = self.0.sample(rng);
        if s > MAX_DURATION_SECS {
            (MAX_DRAW_DURATION, true)
        } else {
            (SimDuration::from_secs_f64(s), false)
        }
    }
}

impl SizeDist {
    /// A constant size.
    pub fn constant(bytes: u64) -> Self {
        SizeDist(Dist::Constant(bytes as f64))
    }
    /// Draws a size in bytes (rounded), saturated at [`MAX_DRAW_SIZE`].
    pub fn sample(&self, rng: &mut Stream) -> u64 {
        self.draw(rng).0
    }
    /// As [`SizeDist::sample`], also saying whether the draw was saturated.
    pub fn draw(&self, rng: &mut Stream) -> (u64, bool) {
        let v = self.0.sample(rng).round();
        if v >= MAX_DRAW_SIZE as f64 {
            (MAX_DRAW_SIZE, true)
        } else {
            (v as u64, false)
        }
    }
}

impl RatioDist {
    /// A constant share.
    pub fn constant(v: f64) -> Self {
        RatioDist(Dist::Constant(v))
    }
    /// Draws a share, clamped to [0, 1].
    pub fn sample(&self, rng: &mut Stream) -> f64 {
        self.0.sample(rng).clamp(0.0, 1.0)
    }
}

impl CountDist {
    /// A constant count.
    pub fn constant(v: u32) -> Self {
        CountDist(Dist::Constant(v as f64))
    }
    /// Draws a count (rounded to the nearest integer), saturated at [`MAX_DRAW_COUNT`].
    pub fn sample(&self, rng: &mut Stream) -> u32 {
        self.draw(rng).0
    }
    /// As [`CountDist::sample`], also saying whether the draw was saturated.
    pub fn draw(&self, rng: &mut Stream) -> (u32, bool) {
        let v = self.0.sample(rng).round();
        if v >= MAX_DRAW_COUNT as f64 {
            (MAX_DRAW_COUNT, v > MAX_DRAW_COUNT as f64)
        } else {
            (v as u32, false)
        }
    }
}

fn dist_schema(kind: Kind, desc: &str) -> schemars::schema::Schema {
    let scalar = match kind {
        Kind::Duration | Kind::Size => serde_json::json!({"type": "string"}),
        Kind::Ratio => serde_json::json!({"type": "number", "minimum": 0, "maximum": 1}),
        Kind::Count => serde_json::json!({"type": "number", "minimum": 0}),
    };
    let param = match kind {
        Kind::Duration | Kind::Size => serde_json::json!({"type": ["string", "integer"]}),
        _ => serde_json::json!({"type": "number"}),
    };
    serde_json::from_value(serde_json::json!({
        "description": desc,
        "anyOf": [
            scalar,
            {
                "type": "object",
                "required": ["dist"],
                "additionalProperties": false,
                "properties": {
                    "dist": {"enum": ["constant", "uniform", "uniform-int", "exponential", "normal", "lognormal", "gamma", "weibull", "triangular", "pareto", "empirical"]},
                    "value": param, "min": param, "max": param, "mode": param,
                    "mean": param, "sd": param, "scale": param,
                    "shape": {"type": "number", "exclusiveMinimum": 0},
                    "file": {"type": "string"}, "column": {"type": "string"}
                }
            }
        ]
    }))
    .expect("static schema")
}

/// A weighted choice among named categories: `{ choice = { "a" = 0.7, "b" = 0.3 } }`, or a
/// single name meaning that category always.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// Categories in name order with cumulative normalised weights.
    items: Vec<(String, f64)>,
    single: bool,
}

impl Choice {
    /// The category always chosen.
    pub fn single(name: &str) -> Choice {
        Choice {
            items: vec![(name.to_string(), 1.0)],
            single: true,
        }
    }

    /// Builds a choice from weights (must be non-negative with a positive sum).
    pub fn weighted(w: &BTreeMap<String, f64>) -> Result<Choice, String> {
        let total: f64 = w.values().sum();
        let bad = |x: f64| x.is_nan() || x < 0.0 || !x.is_finite();
        if w.is_empty() || !total.is_finite() || total <= 0.0 || w.values().any(|&x| bad(x)) {
            return Err("expected non-negative weights with a positive, finite sum".into());
        }
        let mut acc = 0.0;
        let items = w
            .iter()
            .map(|(k, &x)| {
                acc += x / total;
                (k.clone(), acc)
            })
            .collect();
        Ok(Choice {
            items,
            single: false,
        })
    }

    /// The category names, in name order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|(k, _)| k.as_str())
    }

    /// The probability of `name`.
    pub fn probability(&self, name: &str) -> f64 {
        let mut prev = 0.0;
        for (k, c) in &self.items {
            if k == name {
                return c - prev;
            }
            prev = *c;
        }
        0.0
    }

    /// Draws a category index (into `names()` order). A single category draws nothing, so
    /// switching between a constant and a choice is the only thing that shifts a stream.
    pub fn sample_index(&self, rng: &mut Stream) -> usize {
        if self.single {
            return 0;
        }
        let u: f64 = rng.gen();
        self.items
            .iter()
            .position(|&(_, c)| u < c)
            .unwrap_or(self.items.len() - 1)
    }

    /// Draws a category name.
    pub fn sample(&self, rng: &mut Stream) -> &str {
        &self.items[self.sample_index(rng)].0
    }

    /// Checks every category against `ok`, returning the first bad one.
    pub fn check(&self, ok: impl Fn(&str) -> bool) -> Result<(), String> {
        match self.names().find(|n| !ok(n)) {
            Some(bad) => Err(bad.to_string()),
            None => Ok(()),
        }
    }
}

impl<'de> Deserialize<'de> for Choice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = toml::Value::deserialize(d)?;
        match &v {
            toml::Value::String(s) => Ok(Choice::single(s)),
            toml::Value::Table(t) if t.len() == 1 && t.contains_key("choice") => match &t["choice"] {
                toml::Value::Table(w) => {
                    let mut weights = BTreeMap::new();
                    for (k, x) in w {
                        let x = match x {
                            toml::Value::Float(f) => *f,
                            toml::Value::Integer(i) => *i as f64,
                            other => {
                                return Err(de::Error::custom(format!(
                                    "expected a weight (number) for \"{k}\", found {}",
                                    describe(other)
                                )))
                            }
                        };
                        weights.insert(k.clone(), x);
                    }
                    Choice::weighted(&weights).map_err(de::Error::custom)
                }
                other => Err(de::Error::custom(format!(
                    "expected `choice` to be a table of weights such as {{ \"a\" = 0.7, \"b\" = 0.3 }}, found {}",
                    describe(other)
                ))),
            },
            other => Err(de::Error::custom(format!(
                "expected a name or {{ choice = {{ \"name\" = weight, ... }} }}, found {}",
                describe(other)
            ))),
        }
    }
}

impl Serialize for Choice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.single {
            return self.items[0].0.serialize(s);
        }
        let mut w = toml::Table::new();
        let mut prev = 0.0;
        for (k, c) in &self.items {
            w.insert(k.clone(), toml::Value::Float(c - prev));
            prev = *c;
        }
        let mut t = toml::Table::new();
        t.insert("choice".into(), toml::Value::Table(w));
        t.serialize(s)
    }
}

impl schemars::JsonSchema for Choice {
    fn schema_name() -> String {
        "Choice".into()
    }
    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        serde_json::from_value(serde_json::json!({
            "description": "a category name, or { choice = { name = weight, ... } }",
            "anyOf": [
                {"type": "string"},
                {"type": "object", "required": ["choice"], "additionalProperties": false,
                 "properties": {"choice": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}}}}
            ]
        }))
        .expect("static schema")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::stream;

    fn moments(d: &Dist, n: usize, seed: u64) -> (f64, f64) {
        let mut r = stream(seed, &[1]);
        let xs: Vec<f64> = (0..n).map(|_| d.sample(&mut r)).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
        (m, v)
    }

    /// Checks the sample mean within 5 standard errors and, where given, the sample
    /// variance within 5 standard errors of the variance estimator (using the 4th moment).
    fn check(d: Dist, mean: f64, var: f64, m4: Option<f64>) {
        let n = 200_000;
        let (m, v) = moments(&d, n, 99);
        let se = (var / n as f64).sqrt();
        assert!(
            (m - mean).abs() <= 5.0 * se + 1e-12,
            "{d:?}: mean {m} vs {mean} (se {se})"
        );
        if let Some(m4) = m4 {
            let se_v = ((m4 - var * var) / n as f64).sqrt();
            assert!(
                (v - var).abs() <= 5.0 * se_v + 1e-12,
                "{d:?}: var {v} vs {var} (se {se_v})"
            );
        }
    }

    #[test]
    fn sample_moments_match_parameters() {
        check(Dist::Constant(3.0), 3.0, 0.0, Some(0.0));
        // uniform on [a,b]: var (b-a)^2/12, m4 (b-a)^4/80
        check(
            Dist::Uniform { min: 2.0, max: 8.0 },
            5.0,
            3.0,
            Some(1296.0 / 80.0),
        );
        // uniform-int 1..=4: mean 2.5, var (n^2-1)/12 = 1.25
        check(
            Dist::UniformInt { min: 1, max: 4 },
            2.5,
            1.25,
            Some(((1.5f64).powi(4) * 2.0 + (0.5f64).powi(4) * 2.0) / 4.0),
        );
        // exponential mean m: var m^2, m4 9 m^4
        check(Dist::Exponential { mean: 2.0 }, 2.0, 4.0, Some(9.0 * 16.0));
        // normal far from 0: truncation negligible; m4 = 3 sd^4
        check(
            Dist::Normal {
                mean: 100.0,
                sd: 10.0,
            },
            100.0,
            100.0,
            Some(30_000.0),
        );
        // lognormal with the variate's own mean and sd
        check(
            Dist::LogNormal {
                mean: 180.0,
                sd: 60.0,
            },
            180.0,
            3600.0,
            None,
        );
        // gamma k, θ: var kθ², m4 = 3k(k+2)θ⁴
        check(
            Dist::Gamma {
                shape: 2.0,
                scale: 3.0,
            },
            6.0,
            18.0,
            Some(3.0 * 2.0 * 4.0 * 81.0),
        );
        // weibull k=2, λ=1: mean Γ(1.5), var Γ(2) - Γ(1.5)²
        let g15 = gamma_fn(1.5);
        check(
            Dist::Weibull {
                shape: 2.0,
                scale: 1.0,
            },
            g15,
            1.0 - g15 * g15,
            None,
        );
        // triangular a,c,b: mean (a+b+c)/3, var (a²+b²+c²-ab-ac-bc)/18
        check(
            Dist::Triangular {
                min: 0.0,
                mode: 1.0,
                max: 4.0,
            },
            5.0 / 3.0,
            (0.0 + 1.0 + 16.0 - 0.0 - 0.0 - 4.0) / 18.0,
            None,
        );
        // pareto x_m=1, α=5: mean α/(α-1), var α/((α-1)²(α-2))
        check(
            Dist::Pareto {
                scale: 1.0,
                shape: 5.0,
            },
            1.25,
            5.0 / (16.0 * 3.0),
            None,
        );
        let vals: Arc<[f64]> = Arc::from(vec![1.0, 2.0, 3.0, 10.0]);
        check(
            Dist::Empirical {
                file: "x.csv".into(),
                column: "c".into(),
                values: vals,
            },
            4.0,
            (9.0 + 4.0 + 1.0 + 36.0) / 4.0,
            None,
        );
    }

    #[test]
    fn truncated_normal_is_never_negative() {
        let d = Dist::Normal { mean: 0.0, sd: 1.0 };
        let mut r = stream(1, &[]);
        let xs: Vec<f64> = (0..100_000).map(|_| d.sample(&mut r)).collect();
        assert!(xs.iter().all(|&x| x >= 0.0));
        // Half-normal mean: sd * sqrt(2/π)
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!(
            (m - (2.0 / std::f64::consts::PI).sqrt()).abs() < 0.01,
            "{m}"
        );
    }

    #[test]
    fn weibull_mean_uses_gamma() {
        assert!((gamma_fn(5.0) - 24.0).abs() < 1e-9);
        assert!((gamma_fn(0.5) - std::f64::consts::PI.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn choice_frequencies() {
        let mut w = BTreeMap::new();
        w.insert("a".to_string(), 7.0);
        w.insert("b".to_string(), 3.0);
        let c = Choice::weighted(&w).unwrap();
        let mut r = stream(5, &[]);
        let n = 100_000;
        let a = (0..n).filter(|_| c.sample(&mut r) == "a").count() as f64 / n as f64;
        let se = (0.7f64 * 0.3 / n as f64).sqrt();
        assert!((a - 0.7).abs() < 5.0 * se, "{a}");
        assert!((c.probability("b") - 0.3).abs() < 1e-12);
    }

    #[test]
    fn toml_round_trip() {
        for (src, kind) in [
            (
                r#"x = { dist = "lognormal", mean = "3m", sd = "1m" }"#,
                Kind::Duration,
            ),
            (
                r#"x = { dist = "uniform-int", min = 1, max = 4 }"#,
                Kind::Count,
            ),
            (r#"x = "128 GiB""#, Kind::Size),
            (
                r#"x = { dist = "gamma", shape = 2.5, scale = "10 GB" }"#,
                Kind::Size,
            ),
            (r#"x = 0.25"#, Kind::Ratio),
        ] {
            let t: toml::Table = toml::from_str(src).unwrap();
            let d = Dist::from_toml(&t["x"], kind).unwrap();
            let back = Dist::from_toml(&d.to_toml(kind), kind).unwrap();
            assert_eq!(d, back, "{src}");
        }
    }

    #[test]
    fn lognormal_tiny_mean_huge_sd_is_rejected() {
        for (mean, sd, kind) in [
            (1e-300, 0.5, Kind::Ratio),
            (5e-324, 1.0, Kind::Ratio),
            (1e-6, 86_400.0 * 1000.0, Kind::Duration),
            (1.0, 1e18, Kind::Size),
        ] {
            let d = Dist::LogNormal { mean, sd };
            let e = d.check(kind).unwrap_err();
            assert!(e.contains("sd at most 1e6 × mean"), "{e}");
            // Unchecked, it still never panics.
            let mut r = stream(1, &[]);
            assert!((0..100).all(|_| d.sample(&mut r) >= 0.0));
        }
        for (mean, sd) in [(40.0, 20.0), (1.0, 1e6), (5e-324, 5e-324)] {
            assert_eq!(Dist::LogNormal { mean, sd }.check(Kind::Duration), Ok(()));
        }
    }

    #[test]
    fn heavy_tailed_draws_saturate() {
        for d in [
            Dist::Pareto {
                scale: 60.0,
                shape: 0.1,
            },
            Dist::Weibull {
                scale: 60.0,
                shape: 0.05,
            },
        ] {
            assert_eq!(d.check(Kind::Duration), Ok(()), "a representable median");
            let dd = DurationDist(d.clone());
            let mut r = stream(7, &[]);
            let draws: Vec<(SimDuration, bool)> = (0..2000).map(|_| dd.draw(&mut r)).collect();
            let capped = draws.iter().filter(|x| x.1).count();
            assert!(capped > 0, "{d:?}: some draws reach the cap");
            assert!(draws
                .iter()
                .all(|&(v, hit)| v <= MAX_DRAW_DURATION && hit == (v == MAX_DRAW_DURATION)));
            let sz = SizeDist(match d {
                Dist::Pareto { shape, .. } => Dist::Pareto { scale: 1e12, shape },
                Dist::Weibull { shape, .. } => Dist::Weibull { scale: 1e12, shape },
                _ => unreachable!(),
            });
            let mut r = stream(7, &[]);
            let n = (0..2000)
                .filter(|_| sz.draw(&mut r) == (MAX_DRAW_SIZE, true))
                .count();
            assert!(n > 0, "{d:?}: {n}");
        }
        // Beyond representable even at the median: rejected instead.
        for d in [
            Dist::Gamma {
                shape: 1e300,
                scale: 60.0,
            },
            Dist::Pareto {
                scale: 60.0,
                shape: 0.001,
            },
        ] {
            let e = d.check(Kind::Duration).unwrap_err();
            assert!(e.contains("1000 years"), "{e}");
        }
        assert_eq!(MAX_DRAW_DURATION.as_secs_f64(), MAX_DURATION_SECS);
        let c = CountDist(Dist::Constant(1e12));
        assert_eq!(c.draw(&mut stream(1, &[])), (MAX_DRAW_COUNT, true));
    }

    #[test]
    fn bad_dists_are_explained() {
        let e = |src: &str, kind| {
            let t: toml::Table = toml::from_str(src).unwrap();
            Dist::from_toml(&t["x"], kind).unwrap_err()
        };
        assert!(e(r#"x = { dist = "zipf" }"#, Kind::Count).contains("\"zipf\""));
        assert!(e(r#"x = { dist = "exponential" }"#, Kind::Duration).contains("needs `mean`"));
        assert!(
            e(r#"x = { dist = "exponential", mean = 3 }"#, Kind::Duration)
                .contains("expected a duration")
        );
        assert!(e(r#"x = 1.5"#, Kind::Ratio).contains("between 0 and 1"));
        assert!(
            e(r#"x = { dist = "uniform", min = 3, max = 1 }"#, Kind::Count).contains("min <= max")
        );
    }
}

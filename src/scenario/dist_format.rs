//! How a scenario writes a distribution: a constant with its unit, or a table with
//! `dist = ...` and its parameters; the round trip back to TOML for
//! `scenario.resolved.toml`; the JSON schema; and which parameters can be sampled at all.
//! Sampling itself is the engine's (`engine::dist`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::engine::dist::{
    cap, Choice, CountDist, Dist, DurationDist, FactorDist, Kind, RatioDist, SizeDist, DIST_NAMES,
    MAX_DRAW_COUNT, MAX_DRAW_SIZE, MAX_LOGNORMAL_CV,
};
use crate::units::{Duration, Size, MAX_DURATION_SECS};

impl Dist {
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
            Dist::Normal { mean, sd } | Dist::LogNormal { mean, sd, .. } => {
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
                Err(format!("exponential needs mean > 0, found {mean}"))
            }
            Dist::Normal { sd, .. } if sd <= 0.0 => Err(format!("normal needs sd > 0, found {sd}")),
            Dist::LogNormal { mean, .. } if mean <= 0.0 => {
                Err(format!("lognormal needs mean > 0, found {mean}"))
            }
            Dist::LogNormal { mean, sd, .. } if sd / mean > MAX_LOGNORMAL_CV => Err(format!(
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
                    return Err(format!("exponential needs mean > 0, found {mean}"));
                }
                Dist::Exponential { mean }
            }
            "normal" | "lognormal" => {
                let (mean, sd) = (p("mean")?, p("sd")?);
                if name == "lognormal" && mean <= 0.0 {
                    return Err(format!("lognormal needs mean > 0, found {mean}"));
                }
                if name == "normal" && sd <= 0.0 {
                    return Err(format!("normal needs sd > 0, found {sd}"));
                }
                if name == "normal" {
                    Dist::Normal { mean, sd }
                } else {
                    Dist::lognormal(mean, sd)
                }
            }
            "gamma" | "weibull" | "pareto" => {
                let (shape, scale) = (shape()?, p("scale")?);
                if scale <= 0.0 {
                    return Err(format!("{name} needs scale > 0, found {scale}"));
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
            Dist::Normal { mean, sd } | Dist::LogNormal { mean, sd, .. } => {
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

macro_rules! dist_format {
    ($name:ident, $kind:expr, $schema_desc:literal) => {
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
    };
}

dist_format!(
    DurationDist,
    Kind::Duration,
    "a duration (\"40s\") or a distribution table whose parameters are durations"
);
dist_format!(
    SizeDist,
    Kind::Size,
    "a size (\"128 GiB\") or a distribution table whose parameters are sizes"
);
dist_format!(
    RatioDist,
    Kind::Ratio,
    "a share between 0 and 1, or a distribution table"
);
dist_format!(
    CountDist,
    Kind::Count,
    "a non-negative integer, or a distribution table"
);
dist_format!(
    FactorDist,
    Kind::Count,
    "a reduction factor of at least 1 (2 halves the bytes), or a distribution table (draws below 1 count as 1)"
);

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
        let weights = self.weights();
        if self.is_single() {
            return weights[0].0.serialize(s);
        }
        let mut w = toml::Table::new();
        for (k, c) in weights {
            w.insert(k.to_string(), toml::Value::Float(c));
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

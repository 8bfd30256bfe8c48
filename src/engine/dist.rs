//! Random variates: every value in a scenario that may vary.
//!
//! A [`Dist`] holds its parameters in base units (seconds, bytes, plain numbers) and
//! samples from an engine [`Stream`]. Typed wrappers ([`DurationDist`], [`SizeDist`],
//! [`RatioDist`], [`CountDist`]) fix the unit in which the scenario writes parameters and
//! the type a sample comes back as. [`Choice`] picks among named categories.
//!
//! Sampling uses only `rand_distr` algorithms on a PCG stream, so a draw is a pure
//! function of the stream state on every platform. How a scenario writes a distribution
//! (TOML tables, units, the JSON schema) and which parameters can be sampled live in
//! `scenario::dist_format`.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use rand_distr::{Distribution, Exp, Gamma, LogNormal, Normal, Pareto, Triangular, Weibull};

use crate::engine::time::MICROS_PER_SEC;
use crate::engine::{SimDuration, Stream};
use crate::units::MAX_DURATION_SECS;

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
    /// Lognormal with the given mean and standard deviation *of the variate itself*
    /// (build it with [`Dist::lognormal`], which derives `log`).
    LogNormal {
        mean: f64,
        sd: f64,
        /// The underlying normal's parameters, derived once from `mean` and `sd`.
        log: LogParams,
    },
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

/// The distribution names a scenario may write, for messages.
pub const DIST_NAMES: &str = "constant, uniform, uniform-int, exponential, normal, lognormal, gamma, weibull, triangular, pareto, empirical";

/// A lognormal's underlying normal: `σ² = ln(1 + sd² / mean²)`, `μ = ln(mean) − σ² / 2`.
/// Derived once when the distribution is built, not at every draw (the same floats).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogParams {
    mu: f64,
    sigma: f64,
}

impl LogParams {
    /// `μ`, the mean of the variate's logarithm.
    pub fn mu(&self) -> f64 {
        self.mu
    }
    /// `σ`, the standard deviation of the variate's logarithm.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl Dist {
    /// The lognormal with the variate's own `mean` and `sd`.
    pub fn lognormal(mean: f64, sd: f64) -> Dist {
        let s2 = (1.0 + (sd * sd) / (mean * mean)).ln();
        let log = LogParams {
            mu: mean.ln() - s2 / 2.0,
            sigma: s2.sqrt(),
        };
        Dist::LogNormal { mean, sd, log }
    }

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
            Dist::LogNormal { mean, sd, log } => {
                if sd == 0.0 {
                    mean
                } else {
                    LogNormal::new(log.mu, log.sigma).map_or(0.0, |d| d.sample(rng))
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

    /// What every draw gives when the distribution is a constant (as [`Dist::sample`]
    /// would), without a stream: `None` for any other.
    pub fn fixed(&self) -> Option<f64> {
        match *self {
            Dist::Constant(v) => Some(v.max(0.0)),
            _ => None,
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
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name(pub Dist);

        impl From<Dist> for $name {
            fn from(d: Dist) -> Self {
                $name(d)
            }
        }
    };
}

typed_dist!(DurationDist, "A distribution of durations.");
typed_dist!(SizeDist, "A distribution of sizes.");
typed_dist!(RatioDist, "A distribution of shares in [0, 1].");
typed_dist!(CountDist, "A distribution of non-negative integers.");
typed_dist!(
    FactorDist,
    "A distribution of reduction factors of at least 1 (compression, deduplication)."
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
        Self::size_of(self.0.sample(rng))
    }
    /// The size every draw gives when it is a constant (as [`SizeDist::sample`] would),
    /// without a stream: `None` for any other distribution.
    pub fn fixed(&self) -> Option<u64> {
        self.0.fixed().map(|v| Self::size_of(v).0)
    }
    /// A drawn value as a size: rounded, saturated at [`MAX_DRAW_SIZE`].
    fn size_of(v: f64) -> (u64, bool) {
        let v = super::num::round(v);
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

impl FactorDist {
    /// A constant factor.
    pub fn constant(v: f64) -> Self {
        FactorDist(Dist::Constant(v))
    }
    /// The factor when it is the same for every draw.
    pub fn as_constant(&self) -> Option<f64> {
        match self.0 {
            Dist::Constant(v) => Some(v.max(1.0)),
            _ => None,
        }
    }
    /// Draws a factor, at least 1 (a draw below 1 would add bytes: it counts as none).
    pub fn sample(&self, rng: &mut Stream) -> f64 {
        let v = self.0.sample(rng);
        if v.is_finite() {
            v.max(1.0)
        } else {
            1.0
        }
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
        let v = super::num::round(self.0.sample(rng));
        if v >= MAX_DRAW_COUNT as f64 {
            (MAX_DRAW_COUNT, v > MAX_DRAW_COUNT as f64)
        } else {
            (v as u32, false)
        }
    }
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
    /// Whether the choice is a single name written as such (not a table of weights).
    pub fn is_single(&self) -> bool {
        self.single
    }

    /// The categories in name order with their normalised weights.
    pub fn weights(&self) -> Vec<(&str, f64)> {
        let mut prev = 0.0;
        self.items
            .iter()
            .map(|(k, c)| {
                let w = c - prev;
                prev = *c;
                (k.as_str(), w)
            })
            .collect()
    }
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
        check(Dist::lognormal(180.0, 60.0), 180.0, 3600.0, None);
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

    /// The parameters derived when a lognormal is built give the draws deriving them at
    /// every draw gave, bit for bit (its draws are in every scenario's results).
    #[test]
    fn lognormal_params_derived_once_draw_the_same() {
        for (mean, sd) in [(25.0, 7.5), (0.03, 0.02), (180.0, 60.0), (1e-6, 1.0)] {
            let (mut a, mut b) = (stream(3, &[1]), stream(3, &[1]));
            let d = Dist::lognormal(mean, sd);
            let s2 = (1.0f64 + (sd * sd) / (mean * mean)).ln();
            let direct = LogNormal::new(mean.ln() - s2 / 2.0, s2.sqrt()).unwrap();
            for _ in 0..1000 {
                let x: f64 = direct.sample(&mut b);
                assert_eq!(d.sample(&mut a).to_bits(), x.max(0.0).to_bits());
            }
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
            let d = Dist::lognormal(mean, sd);
            let e = d.check(kind).unwrap_err();
            assert!(e.contains("sd at most 1e6 × mean"), "{e}");
            // Unchecked, it still never panics.
            let mut r = stream(1, &[]);
            assert!((0..100).all(|_| d.sample(&mut r) >= 0.0));
        }
        for (mean, sd) in [(40.0, 20.0), (1.0, 1e6), (5e-324, 5e-324)] {
            assert_eq!(Dist::lognormal(mean, sd).check(Kind::Duration), Ok(()));
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

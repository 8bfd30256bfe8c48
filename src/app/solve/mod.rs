//! `backupsim solve`: the least (or greatest) value of one numeric key at which every
//! `[[expect]]` of the scenario holds, found by a bracketing pass over a fixed grid and a
//! bisection, each probe run with R replications (see docs/solve.md).
//!
//! The sequence of probed values depends only on the scenario, the range and the
//! answers of earlier probes, never on the thread count: parallelism goes into the grid
//! and into a probe's replications, and results are collected in probe order. So
//! `solve.csv` and `solve.json` are byte-identical on any thread count.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::engine::rng::name_key;
use crate::error::{Error, Result};
use crate::outputs::results::{claim_out_dir, write_atomic, OutKind};
use crate::outputs::sweeps::{derive_seed, fmt_num, SeedMode};
use crate::scenario::schema::Expect;
use crate::scenario::{load_str, Loaded};

mod cache;
mod quantity;

use cache::Cache;
use quantity::{parse_end, parse_range, parse_resolution, Quantity};

/// Points of the bracketing grid (both ends included).
pub const GRID_POINTS: usize = 5;
/// Bisection steps at most (a continuous key at 1% resolution needs about 7).
const MAX_STEPS: usize = 60;

/// Arguments of `backupsim solve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SolveArgs {
    /// Scenario file (TOML) with at least one [[expect]].
    pub scenario: PathBuf,
    /// The key to search, as for --set (e.g. link.wan.bandwidth, fleet.web.count).
    #[arg(long, value_name = "KEY")]
    pub find: String,
    /// The range searched, in the key's units (e.g. "1 Gbit/s..40 Gbit/s", 10..500,
    /// 2h..12h, 20:00..23:30).
    #[arg(long, value_name = "LOW..HIGH")]
    pub range: String,
    /// Look for the least value that meets the expectations (the default).
    #[arg(long, conflicts_with = "maximize")]
    pub minimize: bool,
    /// Look for the greatest value that meets the expectations.
    #[arg(long)]
    pub maximize: bool,
    /// Replications (independently seeded runs) per probed value.
    #[arg(long, default_value_t = 3)]
    pub replications: u32,
    /// Confidence of the one-sided Student-t bound each expectation must meet.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    /// Relative resolution of a continuous key (counts and times end exactly).
    #[arg(long, default_value = "1%")]
    pub resolution: String,
    /// Override a scenario value in every run (as for run).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Runs in parallel (default: the number of CPUs); results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output directory (default: results/<scenario name>-solve).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Nothing on stderr but errors.
    #[arg(long)]
    pub quiet: bool,
    /// Treat any warning as an error (exit 2) before anything runs.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Skip the plots of each expected metric against the key.
    #[arg(long)]
    pub no_plots: bool,
    /// Among the probed values that meet the expectations, answer the one with the best
    /// mean of this metric (e.g. cost.total: the cheapest) instead of the boundary.
    #[arg(long, value_name = "METRIC")]
    pub objective: Option<String>,
}

/// One expectation's verdict at one probe.
#[derive(Debug, Clone)]
struct Verdict {
    mean: f64,
    /// The one-sided confidence bound on the side of the expectation's limit.
    bound: f64,
    holds: bool,
}

/// One probed value.
#[derive(Debug, Clone)]
struct Probe {
    value: f64,
    text: String,
    verdicts: Vec<Verdict>,
    /// Mean of the `--objective` metric over the replications.
    objective: Option<f64>,
}

impl Probe {
    fn holds(&self) -> bool {
        self.verdicts.iter().all(|v| v.holds)
    }
}

/// The search as it runs: scenario text, the key, and how to judge a probe.
struct Search<'a> {
    src: String,
    path: &'a Path,
    a: &'a SolveArgs,
    q: Quantity,
    expects: Vec<Expect>,
    /// The `--objective` metric, if any.
    objective: Option<String>,
    seeds: Vec<u64>,
    t: f64,
    cache: Cache,
}

impl Search<'_> {
    /// Runs the replications of each value (in parallel) and judges them, in order.
    fn probe(&self, values: &[f64]) -> Result<Vec<Probe>> {
        let tasks: Vec<(usize, u32)> = (0..values.len())
            .flat_map(|i| (0..self.a.replications).map(move |r| (i, r)))
            .collect();
        let summaries: Vec<Result<Vec<f64>>> = tasks
            .par_iter()
            .map(|&(i, r)| self.run_one(values[i], r))
            .collect();
        // The first error in probe order, whichever thread met it first.
        let summaries: Vec<Vec<f64>> = summaries.into_iter().collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(values.len());
        let per = self.a.replications as usize;
        for (i, &v) in values.iter().enumerate() {
            let reps = &summaries[i * per..(i + 1) * per];
            let verdicts = self
                .expects
                .iter()
                .enumerate()
                .map(|(k, e)| self.judge(e, &reps.iter().map(|r| r[k]).collect::<Vec<_>>()))
                .collect();
            let k = self.expects.len();
            let objective = self
                .objective
                .as_ref()
                .map(|_| reps.iter().map(|r| r[k]).sum::<f64>() / reps.len() as f64);
            out.push(Probe {
                value: v,
                text: self.q.text(v),
                verdicts,
                objective,
            });
        }
        Ok(out)
    }

    /// One replication at `v`: each expected metric's value (NaN when absent).
    fn run_one(&self, v: f64, r: u32) -> Result<Vec<f64>> {
        let text = self.q.text(v);
        if let Some(values) = self.cache.get(&text, r) {
            return Ok(values);
        }
        let values = self.simulate(v, r)?;
        self.cache.put(&text, r, &values)?;
        Ok(values)
    }

    /// Simulates one replication at `v`.
    fn simulate(&self, v: f64, r: u32) -> Result<Vec<f64>> {
        let mut sets = self.a.sets.clone();
        sets.push(format!("{}={}", self.a.find, self.q.toml(v)));
        sets.push(format!("simulation.seed={}", self.seeds[r as usize]));
        let loaded: Loaded = load_str(&self.src, self.path, &sets)?;
        let outcome =
            crate::model::run(&loaded.config).map_err(|f| Error::Simulator(f.to_string()))?;
        Ok(self
            .expects
            .iter()
            .map(|e| &e.metric)
            .chain(&self.objective)
            .map(|m| outcome.summary.get(m).copied().unwrap_or(f64::NAN))
            .collect())
    }

    /// Mean and one-sided bound of `xs` against the expectation's limits.
    fn judge(&self, e: &Expect, xs: &[f64]) -> Verdict {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let half = if xs.len() > 1 {
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
            self.t * (var / n).sqrt()
        } else {
            0.0
        };
        // The bound on the side that could break the expectation: above for a maximum,
        // below for a minimum (with both, the worse of the two is reported).
        let (mut bound, mut holds) = (mean, mean.is_finite());
        if let Some(max) = e.max {
            bound = mean + half;
            holds &= bound <= max.0;
        }
        if let Some(min) = e.min {
            let lower = mean - half;
            if lower.is_nan() || lower < min.0 {
                bound = lower;
            }
            holds &= lower >= min.0;
        }
        Verdict { mean, bound, holds }
    }

    /// The first failing expectation of `p`, in words ("m = 0.061 > 0.05").
    fn why(&self, p: &Probe) -> String {
        for (e, v) in self.expects.iter().zip(&p.verdicts) {
            if !v.holds {
                let limit = match (e.min, e.max) {
                    (_, Some(max)) if v.bound.is_nan() || v.bound > max.0 => {
                        format!("> {}", fmt_num(max.0))
                    }
                    (Some(min), _) => format!("< {}", fmt_num(min.0)),
                    _ => "is missing".into(),
                };
                return format!(
                    "{} = {} {limit}",
                    e.metric,
                    crate::units::fmt_value(v.bound)
                );
            }
        }
        "every expectation holds".into()
    }
}

/// What `solve` found.
#[derive(Debug, Clone)]
pub struct SolveReport {
    /// The answer in base units, if any value in the range holds.
    pub value: Option<f64>,
    /// The one-line answer printed on stdout.
    pub line: String,
    /// The output directory.
    pub dir: PathBuf,
}

/// `backupsim solve`.
pub fn solve(a: &SolveArgs) -> Result<SolveReport> {
    if a.replications == 0 {
        return Err(Error::Usage("--replications: expected at least 1".into()));
    }
    if !(a.confidence > 0.5 && a.confidence < 1.0) {
        return Err(Error::Usage(format!(
            "--confidence: expected a probability between 0.5 and 1 (e.g. 0.95), found {}",
            a.confidence
        )));
    }
    let resolution = parse_resolution(&a.resolution)?;
    let (q, lo, hi) = parse_range(&a.range)?;
    let src = std::fs::read_to_string(&a.scenario).map_err(|e| {
        Error::input(
            a.scenario.display().to_string(),
            format!("cannot read the scenario file: {e}"),
        )
    })?;
    // The key must exist and take the range's values: load both ends once.
    let mut at_lo = a.sets.clone();
    at_lo.push(format!("{}={}", a.find, q.toml(lo)));
    let base = load_str(&src, &a.scenario, &at_lo)?;
    crate::scenario::warnings::report(&base, a.deny_warnings)?;
    let mut at_hi = a.sets.clone();
    at_hi.push(format!("{}={}", a.find, q.toml(hi)));
    load_str(&src, &a.scenario, &at_hi)?;
    let expects = base.scenario.expect.clone();
    if expects.is_empty() {
        return Err(Error::input(
            a.scenario.display().to_string(),
            "expected at least one [[expect]] bound for solve to meet, found none",
        ));
    }
    if let Some(m) = &a.objective {
        check_objective(m, &base)?;
    }
    if q == Quantity::TimeOfDay && !a.quiet {
        crate::status!("warning: {} is a time of day: no value is better by nature, so the search's monotonicity is an assumption; check the probes in solve.csv", a.find);
    }
    let out = a.out.clone().unwrap_or_else(|| {
        Path::new("results").join(format!("{}-solve", base.scenario.simulation.name))
    });
    claim_out_dir(&out, OutKind::Solve)?;
    let def = definition(a, &src, resolution);
    let def_hash = name_key(&def.to_string());
    // Mark the directory as this tool's before the first run, so an interrupted search
    // can be resumed into it (and nothing else may take it).
    write_atomic(
        &out.join("solve.json"),
        (serde_json::to_string_pretty(&serde_json::json!({"complete": false, "definition": def}))
            .expect("json")
            + "\n")
            .as_bytes(),
    )?;
    let cache = Cache::open(
        &out,
        def_hash,
        expects.len() + usize::from(a.objective.is_some()),
    )?;
    let seeds = (0..a.replications)
        .map(|r| derive_seed(base.scenario.simulation.seed, &[], r, SeedMode::Common))
        .collect();
    let t = if a.replications > 1 {
        StudentsT::new(0.0, 1.0, f64::from(a.replications - 1))
            .map(|d| d.inverse_cdf(a.confidence))
            .map_err(|e| Error::Usage(format!("--confidence: {e}")))?
    } else {
        0.0
    };
    let search = Search {
        src,
        path: &a.scenario,
        a,
        q: q.clone(),
        expects,
        objective: a.objective.clone(),
        seeds,
        t,
        cache,
    };
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        return Err(Error::Usage("--threads 0: expected at least 1".into()));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Usage(format!("--threads: {e}")))?;
    let mut outcome = pool.install(|| run_search(&search, lo, hi, resolution))?;
    outcome.pick = best_by_objective(&search, &outcome);
    write_outputs(&search, &outcome, &out, resolution, &def)?;
    let reused = search
        .cache
        .reused
        .load(std::sync::atomic::Ordering::Relaxed);
    if reused > 0 && !a.quiet {
        crate::status!("resumed: {reused} replication(s) reused from the interrupted search");
    }
    let line = answer_line(&search, &outcome, resolution);
    search.cache.remove();
    Ok(SolveReport {
        value: outcome.chosen().map(|i| outcome.probes[i].value),
        line,
        dir: out,
    })
}

/// The probes in the order they ran, and the answer's index among them.
struct Outcome {
    probes: Vec<Probe>,
    answer: Option<usize>,
    /// Index of the closest failing probe on the worse side of the answer.
    fails: Option<usize>,
    monotone: bool,
    /// With `--objective`: the holding probe with the best objective.
    pick: Option<usize>,
}

impl Outcome {
    /// The probe answered: the objective's pick, or else the boundary.
    fn chosen(&self) -> Option<usize> {
        self.pick.or(self.answer)
    }
}

/// `--objective` must name a metric a run of the scenario writes.
fn check_objective(metric: &str, base: &Loaded) -> Result<()> {
    let names: Vec<String> = crate::model::metric_names::catalogue(&base.config)
        .into_iter()
        .map(|m| m.name)
        .collect();
    if names.iter().any(|n| n == metric) {
        return Ok(());
    }
    let close = crate::scenario::warnings::closest(metric, &names);
    let hint = if metric.contains("cost") && base.config.cost.is_none() {
        " (cost metrics need a [cost] table in the scenario, docs/scenario.md)".to_string()
    } else {
        format!("; did you mean {}?", close.join(" or "))
    };
    Err(Error::Usage(format!(
        "--objective: expected a metric a run of this scenario writes to summary.json (docs/metrics.md), found \"{metric}\"{hint}"
    )))
}

/// Among the probes that hold, the one whose objective mean is best: the least, unless
/// higher is better for the metric. Ties go to the probe whose value the search prefers
/// (the least when minimizing, the greatest when maximizing).
fn best_by_objective(s: &Search<'_>, o: &Outcome) -> Option<usize> {
    use crate::model::metric_names::{direction, Direction};
    let metric = s.objective.as_ref()?;
    let sign = if direction(metric) == Direction::HigherIsBetter {
        -1.0
    } else {
        1.0
    };
    let pref = if s.a.maximize { -1.0 } else { 1.0 };
    o.probes
        .iter()
        .enumerate()
        .filter(|(_, p)| p.holds() && p.objective.is_some_and(f64::is_finite))
        .min_by(|(_, a), (_, b)| {
            let (x, y) = (
                sign * a.objective.unwrap_or(0.0),
                sign * b.objective.unwrap_or(0.0),
            );
            x.total_cmp(&y)
                .then((pref * a.value).total_cmp(&(pref * b.value)))
        })
        .map(|(i, _)| i)
}

/// Bracketing grid, then bisection between the last failing and the first holding value,
/// walking from the worse end of the range (LOW when minimizing) to the better end.
fn run_search(s: &Search<'_>, lo: f64, hi: f64, resolution: f64) -> Result<Outcome> {
    let (worse, better) = if s.a.maximize { (hi, lo) } else { (lo, hi) };
    let mut grid: Vec<f64> = (0..GRID_POINTS)
        .map(|i| {
            snap(
                &s.q,
                worse + (better - worse) * i as f64 / (GRID_POINTS - 1) as f64,
            )
        })
        .collect();
    grid.dedup();
    let mut probes = s.probe(&grid)?;
    let holds: Vec<bool> = probes.iter().map(Probe::holds).collect();
    let first = holds.iter().position(|&h| h);
    let monotone = first.map_or(true, |f| holds[f..].iter().all(|&h| h));
    let Some(first) = first else {
        return Ok(Outcome {
            probes,
            answer: None,
            fails: None,
            monotone,
            pick: None,
        });
    };
    if first == 0 {
        return Ok(Outcome {
            probes,
            answer: Some(0),
            fails: None,
            monotone,
            pick: None,
        });
    }
    let (mut f, mut h) = (first - 1, first);
    for _ in 0..MAX_STEPS {
        let (fv, hv) = (probes[f].value, probes[h].value);
        let done = if s.q.integral() {
            (hv - fv).abs() <= 1.0
        } else {
            (hv - fv).abs() <= resolution * hv.abs().max(fv.abs())
        };
        if done {
            break;
        }
        let m = snap(&s.q, (fv + hv) / 2.0);
        if m == fv || m == hv {
            break;
        }
        let p = s.probe(&[m])?.remove(0);
        probes.push(p);
        let i = probes.len() - 1;
        if probes[i].holds() {
            h = i;
        } else {
            f = i;
        }
    }
    Ok(Outcome {
        probes,
        answer: Some(h),
        fails: Some(f),
        monotone,
        pick: None,
    })
}

/// A value as the key can hold it: whole for counts and times of day, and exactly what
/// its printed text reads back as otherwise (the probe runs that text).
fn snap(q: &Quantity, v: f64) -> f64 {
    if q.integral() {
        return v.round();
    }
    match parse_end(&q.text(v)) {
        Ok((_, x)) => x,
        Err(_) => v,
    }
}

fn answer_line(s: &Search<'_>, o: &Outcome, resolution: f64) -> String {
    let word = if s.a.maximize { "greatest" } else { "smallest" };
    let n = s.expects.len();
    let all = if n == 1 {
        "the expectation".to_string()
    } else {
        format!("all {n} expectations")
    };
    let mut line = match o.answer {
        None => {
            let best = o.probes.last().expect("a grid was probed");
            format!(
                "no value of {} in {} meets {all}: at {} {}",
                s.a.find,
                s.a.range,
                best.text,
                s.why(best)
            )
        }
        Some(i) => {
            let p = &o.probes[i];
            let precision = if s.q.integral() {
                String::new()
            } else {
                format!(" (±{}%)", fmt_num(resolution * 100.0))
            };
            let mut l = format!("{word} {} meeting {all}: {}{precision}", s.a.find, p.text);
            match o.fails {
                Some(f) => l.push_str(&format!(
                    "; at {} {}",
                    o.probes[f].text,
                    s.why(&o.probes[f])
                )),
                None => l.push_str(" (the range's end: the answer may lie beyond it)"),
            }
            l
        }
    };
    if let (Some(i), Some(m)) = (o.pick, &s.objective) {
        let p = &o.probes[i];
        let v = crate::outputs::compare::human_value(m, p.objective.unwrap_or(f64::NAN));
        line = format!(
            "best {m} among the values of {} meeting {all}: {} ({m} = {v}); {line}",
            s.a.find, p.text
        );
    }
    if !o.monotone {
        line.push_str("; warning: the grid's probes contradict monotonicity (a failing value beyond a holding one), see solve.csv");
    }
    line
}

/// What identifies a search: a resumed one must match it exactly.
fn definition(a: &SolveArgs, src: &str, resolution: f64) -> serde_json::Value {
    serde_json::json!({
        "format": 1,
        "scenario": a.scenario.display().to_string(),
        "scenario_hash": format!("{:016x}", name_key(src)),
        "sets": a.sets,
        "key": a.find,
        "range": a.range,
        "objective": if a.maximize { "maximize" } else { "minimize" },
        "replications": a.replications,
        "confidence": a.confidence,
        "resolution": resolution,
        "objective_metric": a.objective,
    })
}

/// Writes `solve.csv`, then the complete `solve.json` (each atomically).
fn write_outputs(
    s: &Search<'_>,
    o: &Outcome,
    dir: &Path,
    resolution: f64,
    def: &serde_json::Value,
) -> Result<()> {
    let mut header = vec![
        "probe".to_string(),
        "value".into(),
        "value_text".into(),
        "replications".into(),
    ];
    for e in &s.expects {
        header.push(format!("{}.mean", e.metric));
        header.push(format!("{}.bound", e.metric));
        header.push(format!("{}.holds", e.metric));
    }
    if let Some(m) = &s.objective {
        header.push(format!("{m}.objective_mean"));
    }
    header.push("holds".into());
    let mut csv = header.join(",") + "\n";
    for (i, p) in o.probes.iter().enumerate() {
        let mut row = vec![
            i.to_string(),
            fmt_num(p.value),
            format!("\"{}\"", p.text),
            s.a.replications.to_string(),
        ];
        for v in &p.verdicts {
            row.push(fmt_num(v.mean));
            row.push(fmt_num(v.bound));
            row.push(u8::from(v.holds).to_string());
        }
        if let Some(x) = p.objective {
            row.push(fmt_num(x));
        }
        row.push(u8::from(p.holds()).to_string());
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    write_atomic(&dir.join("solve.csv"), csv.as_bytes())?;
    let probe_json = |i: Option<usize>| {
        i.map(|i| serde_json::json!({"value": o.probes[i].value, "value_text": o.probes[i].text}))
    };
    let json = serde_json::json!({
        "complete": true,
        "definition": def,
        "key": s.a.find,
        "objective": if s.a.maximize { "maximize" } else { "minimize" },
        "range": s.a.range,
        "value": o.chosen().map(|i| o.probes[i].value),
        "value_text": o.chosen().map(|i| o.probes[i].text.clone()),
        "objective_metric": s.objective,
        "objective_value": o.pick.and_then(|i| o.probes[i].objective),
        "holds": o.answer.is_some(),
        "bracket": { "holds": probe_json(o.answer), "fails": probe_json(o.fails) },
        "monotone": o.monotone,
        "replications": s.a.replications,
        "confidence": s.a.confidence,
        "resolution": resolution,
        "probes": o.probes.len(),
        "expectations": s.expects.iter().map(|e| serde_json::json!({"metric": e.metric, "min": e.min.map(|b| b.0), "max": e.max.map(|b| b.0)})).collect::<Vec<_>>(),
    });
    if !s.a.no_plots {
        let expectations: Vec<(String, Option<f64>, Option<f64>)> = s
            .expects
            .iter()
            .map(|e| (e.metric.clone(), e.min.map(|b| b.0), e.max.map(|b| b.0)))
            .collect();
        let probes: Vec<crate::outputs::plots::SolveProbe> = o
            .probes
            .iter()
            .map(|p| {
                (
                    p.value,
                    p.verdicts
                        .iter()
                        .map(|v| (v.mean, v.bound, v.holds))
                        .collect(),
                )
            })
            .collect();
        let data = crate::outputs::plots::SolveData {
            key: &s.a.find,
            unit: s.q.display_unit(),
            expectations: &expectations,
            probes: &probes,
            answer: o.chosen().map(|i| o.probes[i].value),
        };
        crate::outputs::plots::render_solve(dir, &data).map_err(|e| Error::Io {
            path: dir.join("plots"),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    let text = serde_json::to_string_pretty(&json).expect("json") + "\n";
    write_atomic(&dir.join("solve.json"), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn student_t_one_sided_quantile() {
        // t(0.95, 4) = 2.131847 (tables).
        let t = StudentsT::new(0.0, 1.0, 4.0).unwrap().inverse_cdf(0.95);
        assert!((t - 2.131_847).abs() < 1e-5, "{t}");
    }
}

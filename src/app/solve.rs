//! `backupsim solve`: the least (or greatest) value of one numeric key at which every
//! `[[expect]]` of the scenario holds, found by a bracketing pass over a fixed grid and a
//! bisection, each probe run with R replications (see docs/solve.md).
//!
//! The sequence of probed values depends only on the scenario, the range and the
//! answers of earlier probes, never on the thread count: parallelism goes into the grid
//! and into a probe's replications, and results are collected in probe order. So
//! `solve.csv` and `solve.json` are byte-identical on any thread count.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::engine::rng::name_key;
use crate::error::{Error, Result};
use crate::outputs::results::{claim_out_dir, write_atomic, OutKind};
use crate::outputs::sweeps::{derive_seed, fmt_num, SeedMode};
use crate::scenario::schema::Expect;
use crate::scenario::{load_str, Loaded};
use crate::units::{Bandwidth, Duration, Size, TimeOfDay};

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
}

/// What kind of quantity the key holds: how its values are parsed, stepped and printed.
#[derive(Debug, Clone, PartialEq)]
enum Quantity {
    /// A whole count (VMs, jobs at once): bisection ends exactly.
    Count,
    /// A plain number.
    Number,
    /// A bandwidth, printed in the unit the range used (`unit`, bytes/s per unit).
    Bandwidth(String, f64),
    /// A size, printed in the unit the range used.
    Size(String, f64),
    /// A duration, printed in the unit the range used (seconds per unit).
    Duration(String, f64),
    /// A time of day in whole seconds (not monotone by nature: a warning is printed).
    TimeOfDay,
}

impl Quantity {
    /// The unit values are shown in, and base units per shown unit (for plots).
    fn display_unit(&self) -> (&str, f64) {
        match self {
            Quantity::Count | Quantity::Number => ("", 1.0),
            Quantity::Bandwidth(u, k) | Quantity::Size(u, k) | Quantity::Duration(u, k) => {
                (u.as_str(), *k)
            }
            Quantity::TimeOfDay => ("h after midnight", 3600.0),
        }
    }

    fn integral(&self) -> bool {
        matches!(self, Quantity::Count | Quantity::TimeOfDay)
    }

    /// The value as the scenario would write it.
    fn text(&self, v: f64) -> String {
        // Five significant digits: finer than any resolution a search is asked for
        // (the probe runs exactly the value this text reads back as).
        let short = |x: f64| {
            let digits = 5 - (x.abs().max(1e-300).log10().floor() as i32 + 1);
            let s = format!("{:.*}", digits.clamp(0, 12) as usize, x);
            if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                s
            }
        };
        match self {
            Quantity::Count => format!("{}", v.round() as u64),
            Quantity::Number => short(v),
            Quantity::Bandwidth(u, k) | Quantity::Size(u, k) => format!("{} {u}", short(v / k)),
            Quantity::Duration(u, k) => format!("{}{u}", short(v / k)),
            Quantity::TimeOfDay => {
                let s = v.round() as u32;
                format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
            }
        }
    }

    /// The value's text as a TOML value for `--set` (strings quoted).
    fn toml(&self, v: f64) -> String {
        match self {
            Quantity::Count | Quantity::Number => self.text(v),
            _ => format!("\"{}\"", self.text(v)),
        }
    }
}

/// Parses one end of the range; the quantity is decided by its form.
fn parse_end(text: &str) -> std::result::Result<(Quantity, f64), String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok((Quantity::Count, n as f64));
    }
    if let Ok(x) = t.parse::<f64>() {
        if x.is_finite() {
            return Ok((Quantity::Number, x));
        }
    }
    if t.contains(':') {
        return TimeOfDay::parse(t).map(|d| (Quantity::TimeOfDay, f64::from(d.0)));
    }
    let unit: String = t
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '_')
        .trim()
        .to_string();
    let number: f64 = t[..t.len() - unit.len()].trim().parse().unwrap_or(1.0);
    if let Ok(b) = Bandwidth::parse(t) {
        return Ok((Quantity::Bandwidth(unit, b.0 / number), b.0));
    }
    if let Ok(s) = Size::parse(t) {
        return Ok((Quantity::Size(unit, s.0 as f64 / number), s.0 as f64));
    }
    if let Ok(d) = Duration::parse(t) {
        let secs = d.secs();
        let single = unit.chars().all(|c| c.is_ascii_alphabetic()) && !unit.is_empty();
        return Ok(if single && number > 0.0 {
            (Quantity::Duration(unit, secs / number), secs)
        } else {
            (Quantity::Duration("s".into(), 1.0), secs)
        });
    }
    Err(format!(
        "expected a number, a count, a bandwidth, a size, a duration or a time of day, found \"{text}\""
    ))
}

/// `LOW..HIGH` → the quantity and both ends in base units.
fn parse_range(range: &str) -> Result<(Quantity, f64, f64)> {
    let usage = |m: String| Error::Usage(format!("--range {range}: {m}"));
    let (lo, hi) = range
        .split_once("..")
        .ok_or_else(|| usage("expected LOW..HIGH, e.g. \"1 Gbit/s..40 Gbit/s\"".into()))?;
    let (q, a) = parse_end(lo).map_err(usage)?;
    let (q2, b) = parse_end(hi).map_err(usage)?;
    let same = std::mem::discriminant(&q) == std::mem::discriminant(&q2)
        || matches!(
            (&q, &q2),
            (Quantity::Count, Quantity::Number) | (Quantity::Number, Quantity::Count)
        );
    if !same {
        return Err(usage(format!(
            "both ends must be of one kind, found {lo} and {hi}"
        )));
    }
    let q = if matches!((&q, &q2), (Quantity::Count, Quantity::Count)) {
        Quantity::Count
    } else if matches!(q, Quantity::Count) {
        Quantity::Number
    } else {
        q
    };
    if a.partial_cmp(&b) != Some(std::cmp::Ordering::Less) {
        return Err(usage(format!(
            "expected LOW below HIGH, found {lo} and {hi}"
        )));
    }
    Ok((q, a, b))
}

/// `1%` or `0.01` → a fraction in (0, 0.5].
fn parse_resolution(text: &str) -> Result<f64> {
    let t = text.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    };
    match v {
        Ok(x) if x > 0.0 && x <= 0.5 => Ok(x),
        _ => Err(Error::Usage(format!(
            "--resolution: expected a relative step such as 1% (above 0, at most 50%), found \"{text}\""
        ))),
    }
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
    seeds: Vec<u64>,
    t: f64,
    cache: Cache,
}

/// Replications already run, kept in `probes.cache` in the output directory until the
/// search completes, so an interrupted solve resumes where it stopped (one line per
/// replication: value text, replication, each expected metric's value in Rust's shortest
/// round-trip form, so a reused value is bit for bit the one computed).
struct Cache {
    done: BTreeMap<(String, u32), Vec<f64>>,
    file: Option<Mutex<std::fs::File>>,
    path: PathBuf,
    reused: std::sync::atomic::AtomicUsize,
}

impl Cache {
    const NAME: &'static str = "probes.cache";

    /// Opens the cache of `dir` for a search with definition hash `def`: a cache of
    /// another definition is discarded.
    fn open(dir: &Path, def: u64, metrics: usize) -> Result<Cache> {
        let path = dir.join(Self::NAME);
        let head = format!("# backupsim solve cache {def:016x}");
        let mut done = BTreeMap::new();
        if let Ok(text) = std::fs::read_to_string(&path) {
            let mut lines = text.lines();
            if lines.next() == Some(head.as_str()) {
                for l in lines {
                    let f: Vec<&str> = l.split('\t').collect();
                    let vals: Option<Vec<f64>> = f.iter().skip(2).map(|x| x.parse().ok()).collect();
                    match (
                        f.len() == metrics + 2,
                        f.get(1).and_then(|r| r.parse().ok()),
                        vals,
                    ) {
                        (true, Some(r), Some(v)) => {
                            done.insert((f[0].to_string(), r), v);
                        }
                        // A line cut short by a kill: ignore it, it is run again.
                        _ => continue,
                    }
                }
            } else {
                done.clear();
            }
        }
        let fresh = done.is_empty();
        crate::error::io_at(dir, std::fs::create_dir_all(dir))?;
        let mut file = crate::error::io_at(
            &path,
            std::fs::OpenOptions::new()
                .create(true)
                .append(!fresh)
                .write(true)
                .truncate(fresh)
                .open(&path),
        )?;
        if fresh {
            crate::error::io_at(&path, writeln!(file, "{head}"))?;
        }
        Ok(Cache {
            done,
            file: Some(Mutex::new(file)),
            path,
            reused: Default::default(),
        })
    }

    fn get(&self, text: &str, r: u32) -> Option<Vec<f64>> {
        let v = self.done.get(&(text.to_string(), r)).cloned();
        if v.is_some() {
            self.reused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        v
    }

    fn put(&self, text: &str, r: u32, values: &[f64]) -> Result<()> {
        let mut line = format!("{text}\t{r}");
        for v in values {
            line.push_str(&format!("\t{v}"));
        }
        if let Some(f) = &self.file {
            let mut f = f.lock().expect("cache lock");
            crate::error::io_at(&self.path, writeln!(f, "{line}").and_then(|_| f.flush()))?;
        }
        Ok(())
    }

    /// The search is complete: the cache goes.
    fn remove(mut self) {
        self.file = None;
        let _ = std::fs::remove_file(&self.path);
    }
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
            out.push(Probe {
                value: v,
                text: self.q.text(v),
                verdicts,
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
            .map(|e| outcome.summary.get(&e.metric).copied().unwrap_or(f64::NAN))
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
    let cache = Cache::open(&out, def_hash, expects.len())?;
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
    let outcome = pool.install(|| run_search(&search, lo, hi, resolution))?;
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
        value: outcome.answer.map(|i| outcome.probes[i].value),
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
        });
    };
    if first == 0 {
        return Ok(Outcome {
            probes,
            answer: Some(0),
            fails: None,
            monotone,
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
        "value": o.answer.map(|i| o.probes[i].value),
        "value_text": o.answer.map(|i| o.probes[i].text.clone()),
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
            answer: o.answer.map(|i| o.probes[i].value),
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
    fn ranges_parse_by_form() {
        assert_eq!(
            parse_range("10..200").unwrap(),
            (Quantity::Count, 10.0, 200.0)
        );
        let (q, a, b) = parse_range("1 Gbit/s..40 Gbit/s").unwrap();
        assert_eq!(q, Quantity::Bandwidth("Gbit/s".into(), 125e6));
        assert_eq!((a, b), (125e6, 5e9));
        assert_eq!(q.text(2.9375e9), "23.5 Gbit/s");
        let (q, a, b) = parse_range("4h..12h").unwrap();
        assert_eq!((a, b), (14_400.0, 43_200.0));
        assert_eq!(q.text(23_400.0), "6.5h");
        let (q, a, _) = parse_range("21:00..23:30").unwrap();
        assert_eq!((q.clone(), a), (Quantity::TimeOfDay, 75_600.0));
        assert_eq!(q.text(81_000.0), "22:30:00");
        assert!(parse_range("5..1").is_err());
        assert!(parse_range("1 GB..2h").is_err());
        assert!(parse_range("fast..slow").is_err());
        assert_eq!(parse_resolution("1%").unwrap(), 0.01);
        assert!(parse_resolution("0").is_err());
    }

    #[test]
    fn student_t_one_sided_quantile() {
        // t(0.95, 4) = 2.131847 (tables).
        let t = StudentsT::new(0.0, 1.0, 4.0).unwrap().inverse_cdf(0.95);
        assert!((t - 2.131_847).abs() < 1e-5, "{t}");
    }
}

//! `backupsim check SCENARIO --pin`: writes `[[expect]]` bounds around a run's current
//! values into the scenario file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::model::metric_names::{direction, unit, Direction, Unit};

/// The metrics pinned when no `--metrics` glob is given.
pub const DEFAULT_PIN_METRICS: [&str; 4] = [
    "backup.success_rate",
    "backup.window.miss_rate",
    "backup.duration.p99",
    "rpo.p99",
];

/// What `--pin` was asked for.
#[derive(Debug, Clone, Default)]
pub struct PinArgs {
    /// The scenario file the bounds are written into.
    pub scenario: PathBuf,
    /// Relative tolerance as written (`5%`, `5`, `0.5%`); default 5 %.
    pub tolerance: Option<String>,
    /// Globs of metric names (`*` within one dotted part, `**` across parts).
    pub metrics: Vec<String>,
    /// A results directory to read the values from instead of running the scenario.
    pub from: Option<PathBuf>,
    /// Replace existing bounds of the same metrics.
    pub force: bool,
    /// No progress or summary on stderr while the scenario runs.
    pub quiet: bool,
    /// Treat any warning as an error.
    pub deny_warnings: bool,
}

/// `--tolerance`: a percentage, with or without `%`, as a fraction.
pub fn parse_tolerance(s: &str) -> Result<f64> {
    let t = s.trim();
    let num = t.strip_suffix('%').unwrap_or(t).trim();
    match num.parse::<f64>() {
        Ok(p) if p.is_finite() && (0.0..100.0).contains(&p) => Ok(p / 100.0),
        _ => Err(Error::Usage(format!(
            "--tolerance: expected a percentage from 0 to below 100 such as \"5%\", found \"{s}\""
        ))),
    }
}

/// Whether `name` matches `glob`: `*` any run of characters within one dotted part,
/// `**` any run of characters, `?` one character other than a dot.
pub fn glob_match(glob: &str, name: &str) -> bool {
    fn m(g: &[char], n: &[char]) -> bool {
        match g.first() {
            None => n.is_empty(),
            Some('*') if g.get(1) == Some(&'*') => (0..=n.len()).any(|i| m(&g[2..], &n[i..])),
            Some('*') => (0..=n.len())
                .take_while(|&i| i == 0 || n[i - 1] != '.')
                .any(|i| m(&g[1..], &n[i..])),
            Some('?') => n.first().is_some_and(|&c| c != '.') && m(&g[1..], &n[1..]),
            Some(c) => n.first() == Some(c) && m(&g[1..], &n[1..]),
        }
    }
    let g: Vec<char> = glob.chars().collect();
    let n: Vec<char> = name.chars().collect();
    m(&g, &n)
}

/// Formats `secs` as a duration string that parses back (`"6h30m12s"`), rounded down
/// (`up == false`) or up to whole milliseconds below a minute and whole seconds above.
pub fn duration_bound(secs: f64, up: bool) -> String {
    let round = |x: f64| if up { x.ceil() } else { x.floor() };
    if secs < 60.0 {
        let ms = round(secs * 1e3).max(0.0) as u64;
        return if ms % 1000 == 0 {
            format!("{}s", ms / 1000)
        } else {
            format!("{}ms", ms)
        };
    }
    let mut s = round(secs) as u64;
    let mut out = String::new();
    for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= len {
            out.push_str(&format!("{}{unit}", s / len));
            s %= len;
        }
    }
    out
}

/// A plain bound rounded outward to six significant digits.
fn number_bound(v: f64, up: bool) -> String {
    if v == 0.0 {
        return "0.0".into();
    }
    let scale = 10f64.powi(5 - v.abs().log10().floor() as i32);
    let r = if up {
        (v * scale).ceil() / scale
    } else {
        (v * scale).floor() / scale
    };
    let s = format!("{r}");
    if s.contains('.') || s.contains('e') || s.contains("inf") {
        s
    } else {
        format!("{s}.0")
    }
}

/// One bound to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Pinned {
    pub metric: String,
    /// `"min"` or `"max"`.
    pub side: &'static str,
    /// The TOML value as written.
    pub value: String,
    /// The current value, formatted.
    pub current: String,
}

/// The bounds for the metrics of `summary` that `globs` match.
pub fn bounds(
    summary: &BTreeMap<String, f64>,
    globs: &[String],
    tolerance: f64,
) -> Result<(Vec<Pinned>, Vec<String>)> {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for g in globs {
        if !summary.keys().any(|k| glob_match(g, k)) {
            return Err(Error::Usage(format!(
                "--metrics: expected a glob matching a metric of summary.json, found \"{g}\" (see docs/metrics.md)"
            )));
        }
    }
    for (k, &v) in summary {
        if !globs.iter().any(|g| glob_match(g, k)) {
            continue;
        }
        let (side, up, bound) = match direction(k) {
            Direction::HigherIsBetter => ("min", false, v * (1.0 - tolerance)),
            Direction::LowerIsBetter => ("max", true, v * (1.0 + tolerance)),
            Direction::Neutral => {
                notes.push(format!(
                    "{k} is informational (no better direction): not pinned"
                ));
                continue;
            }
        };
        if !v.is_finite() {
            notes.push(format!("{k} is {v} in this run: not pinned"));
            continue;
        }
        let (value, current) = match unit(k) {
            Unit::Seconds => (
                format!("\"{}\"", duration_bound(bound, up)),
                crate::units::fmt_duration(v),
            ),
            Unit::Bytes => {
                let b = if up { bound.ceil() } else { bound.floor() };
                (format!("{b:.0}"), crate::units::fmt_value(v))
            }
            Unit::Plain => (number_bound(bound, up), crate::units::fmt_value(v)),
            Unit::Money => (number_bound(bound, up), crate::units::fmt_money(v)),
        };
        out.push(Pinned {
            metric: k.clone(),
            side,
            value,
            current,
        });
    }
    Ok((out, notes))
}

/// The `[[expect]]` block appended to the scenario.
pub fn block(pinned: &[Pinned], header: &str) -> String {
    let mut s = format!("\n# {header}\n");
    for (i, p) in pinned.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str(&format!(
            "[[expect]]\nmetric = \"{}\"\n{} = {}    # now {}\n",
            p.metric, p.side, p.value, p.current
        ));
    }
    s
}

/// Today's date (UTC) as `YYYY-MM-DD`.
fn today() -> String {
    crate::units::fmt_utc(std::time::SystemTime::now())[..10].to_string()
}

/// Writes the bounds into the scenario file; returns the message for stdout.
pub fn pin(a: &PinArgs, sets: &[String]) -> Result<String> {
    let file = &a.scenario;
    if file.is_dir() {
        return Err(Error::Usage(format!(
            "--pin: expected a scenario file to write the bounds into, found the directory {} (give the results directory with --from)",
            file.display()
        )));
    }
    if !sets.is_empty() {
        return Err(Error::Usage(
            "--pin: --set is not taken: the bounds are pinned around the scenario file as written (edit the file, or run it with --set and pin with --from)".to_string(),
        ));
    }
    let tolerance = parse_tolerance(a.tolerance.as_deref().unwrap_or("5%"))?;
    let globs: Vec<String> = if a.metrics.is_empty() {
        DEFAULT_PIN_METRICS.iter().map(|s| s.to_string()).collect()
    } else {
        a.metrics.clone()
    };
    let original = std::fs::read_to_string(file).map_err(|e| Error::io(file.clone(), e))?;
    let loaded = super::load_with(file, None, &[])?;
    let (dir, seed, source) = pin_source(a, file, &loaded)?;
    let summary = crate::outputs::results::read::read_summary(&dir).map_err(|e| {
        Error::input(
            dir.join("summary.json").display().to_string(),
            e.to_string(),
        )
    })?;
    let (pinned, notes) = bounds(&summary, &globs, tolerance)?;
    for n in &notes {
        crate::status!("note: {n}");
    }
    if pinned.is_empty() {
        return Err(Error::Usage(
            "--pin: no metric to pin (every matched metric is informational or not a number)"
                .to_string(),
        ));
    }
    // Existing bounds of the same metrics: shown, and replaced only with --force.
    let mut doc: toml_edit::DocumentMut = original.parse().map_err(|e: toml_edit::TomlError| {
        Error::input(file.display().to_string(), e.to_string())
    })?;
    let (replaced, kept_comments) = remove_pinned(&mut doc, &pinned);
    refuse_replacing(file, &replaced, &pinned, a.force)?;
    let base = if replaced.is_empty() {
        original.clone()
    } else {
        doc.to_string()
    };
    let mut text = base.trim_end().to_string();
    text.push('\n');
    if !kept_comments.is_empty() {
        text.push('\n');
        for c in &kept_comments {
            text.push_str(c);
            text.push('\n');
        }
    }
    let header = format!(
        "Pinned by `backupsim check --pin` on {} (seed {seed}, tolerance {}%, values {source}).",
        today(),
        crate::units::fmt_value(tolerance * 100.0)
    );
    text.push_str(&block(&pinned, &header));
    // The new file must load as the old one did before it replaces it.
    crate::scenario::load_str(&text, file, &[])?;
    crate::outputs::results::write_atomic(file, text.as_bytes())?;
    Ok(format!(
        "{}: pinned {} bound(s){}",
        file.display(),
        pinned.len(),
        pinned
            .iter()
            .map(|p| format!(
                "\n  {} {} {} (now {})",
                p.metric, p.side, p.value, p.current
            ))
            .collect::<String>()
    ))
}

/// Where the values come from: a results directory's summary (`--from`), or a run of the
/// scenario now. Returns the directory, the seed and the words for the header.
fn pin_source(
    a: &PinArgs,
    file: &std::path::Path,
    loaded: &crate::scenario::Loaded,
) -> Result<(std::path::PathBuf, u64, String)> {
    Ok(match &a.from {
        Some(d) => {
            let seed = super::load_with(&d.join("scenario.resolved.toml"), None, &[])
                .map(|l| l.scenario.simulation.seed)
                .unwrap_or(loaded.scenario.simulation.seed);
            (d.clone(), seed, format!("from {}", d.display()))
        }
        None => {
            let args = super::RunArgs {
                scenario: file.to_path_buf(),
                quiet: a.quiet,
                no_plots: true,
                deny_warnings: a.deny_warnings,
                ..super::RunArgs::default()
            };
            let report = super::run_loaded(loaded, &args)?;
            let seed = loaded.scenario.simulation.seed;
            (report.dir, seed, "from a run".to_string())
        }
    })
}

/// Removes the `[[expect]]` tables of `doc` that bound a metric of `pinned`: returns each
/// one's metric and bounds as written, and the comment lines above them (they move to
/// the new block).
fn remove_pinned(
    doc: &mut toml_edit::DocumentMut,
    pinned: &[Pinned],
) -> (Vec<(String, String)>, Vec<String>) {
    let mut replaced = Vec::new();
    let mut kept_comments: Vec<String> = Vec::new();
    if let Some(arr) = doc
        .get_mut("expect")
        .and_then(|i| i.as_array_of_tables_mut())
    {
        let mut i = 0;
        while i < arr.len() {
            let t = arr.get(i).expect("index in range");
            let metric = t.get("metric").and_then(|m| m.as_str()).unwrap_or("");
            if pinned.iter().any(|p| p.metric == metric) {
                let mut old = format!("metric = \"{metric}\"");
                for side in ["min", "max"] {
                    if let Some(v) = t.get(side).and_then(|v| v.as_value()) {
                        let mut v = v.clone();
                        v.decor_mut().clear();
                        old.push_str(&format!(", {side} = {v}"));
                    }
                }
                replaced.push((metric.to_string(), old));
                // Comment lines above a replaced table move to the new block.
                let prefix = t
                    .decor()
                    .prefix()
                    .and_then(|p| p.as_str())
                    .unwrap_or("")
                    .to_string();
                kept_comments.extend(
                    prefix
                        .lines()
                        .map(str::trim)
                        .filter(|l| l.starts_with('#'))
                        .map(str::to_string),
                );
                arr.remove(i);
            } else {
                i += 1;
            }
        }
    }
    (replaced, kept_comments)
}

/// Shows the bounds of `replaced` against the new ones; unless `force`, refuses to
/// replace them (the file untouched).
fn refuse_replacing(
    file: &std::path::Path,
    replaced: &[(String, String)],
    pinned: &[Pinned],
    force: bool,
) -> Result<()> {
    if !replaced.is_empty() {
        let mut diff = format!("{}: [[expect]] bounds already set:", file.display());
        for (metric, old) in replaced {
            diff.push_str(&format!("\n- [[expect]] {old}"));
            for p in pinned.iter().filter(|p| &p.metric == metric) {
                diff.push_str(&format!(
                    "\n+ [[expect]] metric = \"{}\", {} = {}",
                    p.metric, p.side, p.value
                ));
            }
        }
        crate::status!("{diff}");
        if !force {
            return Err(Error::input(
                file.display().to_string(),
                format!(
                    "expected no [[expect]] bound for {}, found one (shown above); --force replaces it; the file was not changed",
                    replaced
                        .iter()
                        .map(|(m, _)| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_within_and_across_parts() {
        assert!(glob_match("backup.*.p99", "backup.duration.p99"));
        assert!(!glob_match("backup.*.p99", "backup.phase.queue.p99"));
        assert!(glob_match("backup.**.p99", "backup.phase.queue.p99"));
        assert!(glob_match("rpo.p9?", "rpo.p99"));
        assert!(!glob_match("rpo.p99", "rpo.p999"));
    }

    #[test]
    fn duration_bounds_parse_back_outward() {
        for (secs, up) in [
            (23_400.4, true),
            (23_400.6, false),
            (0.25, true),
            (59.9995, true),
        ] {
            let s = duration_bound(secs, up);
            let back = crate::units::Duration::parse(&s).unwrap().secs();
            assert!(
                if up { back >= secs } else { back <= secs },
                "{secs} -> {s}"
            );
            assert!((back - secs).abs() <= 1.0, "{secs} -> {s}");
        }
        assert_eq!(duration_bound(23_400.0, true), "6h30m");
    }

    #[test]
    fn tolerances_are_percentages() {
        assert_eq!(parse_tolerance("5%").unwrap(), 0.05);
        assert_eq!(parse_tolerance("10").unwrap(), 0.1);
        assert!(parse_tolerance("-1%").is_err());
        assert!(parse_tolerance("x").is_err());
    }
}

//! Reading a scenario: file → `--set` overrides → serde → empirical data → validation.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use toml_edit::{DocumentMut, Item, Table};

use super::inventory::Failure;
use super::locate::{excerpt, line_col, KeyIndex};
use super::schema::{Scenario, Weekday};
use super::validate::{validate, Problem};
use super::warnings::{check_expect_metrics, find as find_warnings, Warning};
use crate::engine::dist::{Dist, Kind};
use crate::error::{Error, InputError, Result};

/// Tables that are arrays addressed by `name` in dotted keys.
pub const NAMED_ARRAYS: [&str; 8] = [
    "region",
    "link",
    "vault",
    "policy",
    "fleet",
    "restore",
    "expect",
    "subscription",
];

/// A scenario read and validated, with what is needed to report on it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The complete scenario (every default filled in).
    pub scenario: Scenario,
    /// The model's configuration of it (built once, after validation).
    pub config: crate::model::Config,
    /// Where it came from.
    pub path: PathBuf,
    /// Non-fatal remarks (e.g. a limit of the service exceeded), for the user.
    pub notes: Vec<String>,
    /// Values that load but make results meaningless (see [`super::warnings`]), in file
    /// order.
    pub warnings: Vec<Warning>,
}

/// Largest scenario file read (16 MiB): scenarios are a few kilobytes, and a path such as
/// `/dev/zero` must not fill the memory.
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// Largest empirical data file read (256 MiB).
pub const MAX_EMPIRICAL_BYTES: u64 = 256 << 20;

/// Most data rows read from an empirical data file (10 million: 80 MB of values).
pub const MAX_EMPIRICAL_ROWS: usize = 10_000_000;

/// Reads, overrides, parses and validates a scenario file.
pub fn load(path: &Path, sets: &[String]) -> Result<Loaded> {
    let src = read_scenario(path)?;
    load_str(&src, path, sets)
}

/// Reads a scenario file's text, at most [`MAX_SCENARIO_BYTES`] of it.
pub fn read_scenario(path: &Path) -> Result<String> {
    use std::io::Read;
    let fail = |m: String| Error::input(path.display().to_string(), m);
    let file = std::fs::File::open(path)
        .map_err(|e| fail(format!("cannot read the scenario file: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_SCENARIO_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read the scenario file: {e}")))?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(fail(format!(
            "expected a scenario file of at most {} MiB, found a larger one (or an endless stream such as a device); nothing was read further",
            MAX_SCENARIO_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "expected a UTF-8 text file, found a byte that is not UTF-8 at offset {}",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// A reader that fails once more than `left` bytes are read through it.
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: std::io::Read> std::io::Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::other(format!(
                "the file is larger than {} MiB",
                MAX_EMPIRICAL_BYTES >> 20
            ))
        })?;
        Ok(n)
    }
}

/// As [`load`], from text already read (`path` names it in messages and anchors relative
/// paths of empirical data files).
pub fn load_str(src: &str, path: &Path, sets: &[String]) -> Result<Loaded> {
    let file = path.display().to_string();
    // Syntax first: a precise message for broken TOML, before any override touches it.
    let mut doc = DocumentMut::from_str(src).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let mut msg = format!("invalid TOML: {}", first_line(e.message()));
        if msg.contains("too large") {
            msg.push_str(&format!(
                " (TOML integers are at most {}; a seed beyond it is written as a quoted string, e.g. seed = \"18446744073709551615\")",
                i64::MAX
            ));
        }
        located(&file, src, &span, None, msg)
    })?;
    let mut set_keys = Vec::new();
    for s in sets {
        set_keys.push(apply_set(&mut doc, s)?);
    }
    let text = if sets.is_empty() {
        src.to_string()
    } else {
        doc.to_string()
    };
    let index = KeyIndex::new(&text);
    // Positions are reported in the file as written: the overridden text has other lines.
    let original = if sets.is_empty() {
        None
    } else {
        Some(KeyIndex::new(src))
    };
    // `span` is in `text`; `key` names the value it belongs to.
    let blame = |span: Option<Range<usize>>, key: Option<String>, msg: String| -> Error {
        if let Some(k) = &key {
            // An error at, inside or around a key that `--set` wrote is the override's.
            let related = |s: &&String| {
                k == *s || k.starts_with(&format!("{s}.")) || s.starts_with(&format!("{k}."))
            };
            if let Some(set) = set_keys.iter().rev().find(related) {
                let arg = sets
                    .iter()
                    .rev()
                    .find(|a| a.split_once('=').is_some_and(|(x, _)| x.trim() == set))
                    .map_or(set.as_str(), String::as_str);
                return InputError {
                    file: format!("--set {arg}"),
                    line: None,
                    column: None,
                    key: Some(k.clone()),
                    message: msg,
                    excerpt: None,
                }
                .into();
            }
        }
        let span = match &original {
            None => span,
            Some(orig) => key.as_deref().and_then(|k| orig.span_of(k)),
        };
        match span {
            Some(sp) => located(&file, src, &sp, key, msg),
            None => InputError {
                file: file.clone(),
                line: None,
                column: None,
                key,
                message: msg,
                excerpt: None,
            }
            .into(),
        }
    };
    let mut scenario: Scenario = toml::from_str(&text).map_err(|e| {
        let span = e.span();
        let key = span
            .as_ref()
            .and_then(|s| index.path_at(s.start))
            .map(str::to_string);
        blame(span, key, tidy_serde_message(e.message()))
    })?;
    scenario.resolve_limits();
    start_weekday_from_date(&mut scenario, &index)
        .map_err(|p| blame(index.span_of(&p.key), Some(p.key), p.message))?;
    let base = path.parent().unwrap_or(Path::new("."));
    load_empirical(&mut scenario, base)
        .map_err(|p| blame(index.span_of(&p.key), Some(p.key), p.message))?;
    let row_warnings = super::inventory::load_inventories(&mut scenario, base, |fleet| {
        index.has(&format!("fleet.{fleet}.count"))
    })
    .map_err(|f| match f {
        Failure::Key(p) => blame(index.span_of(&p.key), Some(p.key), p.message),
        Failure::File(e) => e,
    })?;
    let notes = validate(&scenario)
        .map_err(|p: Problem| blame(index.span_of(&p.key), Some(p.key), p.message))?;
    let config = super::build(&scenario);
    check_expect_metrics(&scenario, &config)
        .map_err(|p| blame(index.span_of(&p.key), Some(p.key), p.message))?;
    let mut warnings: Vec<Warning> = find_warnings(&scenario)
        .into_iter()
        .map(|w| w.locate(&file, &text, &index, &set_keys))
        .collect();
    warnings.sort_by_key(|w| (w.line.is_none(), w.line, w.column));
    // The inventories' rows after the scenario's keys, in row order.
    warnings.extend(row_warnings);
    Ok(Loaded {
        scenario,
        config,
        path: path.to_path_buf(),
        notes,
        warnings,
    })
}

/// With a calendar `simulation.start`, day 0's weekday is the date's: a `start_weekday`
/// written in the file must agree, and an unwritten one takes the date's.
fn start_weekday_from_date(s: &mut Scenario, index: &KeyIndex) -> std::result::Result<(), Problem> {
    let Some(date) = s.simulation.start else {
        return Ok(());
    };
    let wd = Weekday::from_index(crate::engine::calendar::weekday(date.days()) as u64);
    if index.has("simulation.start_weekday") && s.simulation.start_weekday != wd {
        return Err(Problem {
            key: "simulation.start_weekday".into(),
            message: format!(
                "expected \"{}\", the weekday of simulation.start = \"{date}\", found \"{}\": remove start_weekday (the date sets it) or make the two agree",
                wd.name(),
                s.simulation.start_weekday.name()
            ),
        });
    }
    s.simulation.start_weekday = wd;
    Ok(())
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

fn tidy_serde_message(m: &str) -> String {
    let m = first_line(m);
    if let Some(rest) = m.strip_prefix("missing field ") {
        return format!("missing required key {rest}");
    }
    if let Some(rest) = m.strip_prefix("unknown field ") {
        return format!("unknown key {rest}");
    }
    if let Some(rest) = m.strip_prefix("invalid value: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            let expected = match expected {
                "u32" | "u64" => "a non-negative integer",
                e => e,
            };
            let found = found
                .strip_prefix("integer ")
                .unwrap_or(found)
                .replace('`', "");
            return format!("expected {expected}, found {found}");
        }
    }
    if let Some(rest) = m.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            let expected = match expected {
                "u32" | "u64" => "a non-negative integer",
                "f64" => "a number",
                "a boolean" | "bool" => "true or false",
                e => e,
            };
            return format!("expected {expected}, found {found}");
        }
    }
    if let Some(rest) = m.strip_prefix("unknown variant ") {
        return format!("unknown value {rest}");
    }
    m
}

fn located(
    file: &str,
    src: &str,
    span: &Range<usize>,
    key: Option<String>,
    message: String,
) -> Error {
    let (line, col, _) = line_col(src, span.start);
    InputError {
        file: file.to_string(),
        line: Some(line),
        column: Some(col),
        key,
        message,
        excerpt: Some(excerpt(src, span)),
    }
    .into()
}

/// Applies one `KEY=VALUE` override; returns the dotted key. Arrays of tables are
/// addressed by element name: `fleet.web.count=5000`.
pub fn apply_set(doc: &mut DocumentMut, assignment: &str) -> Result<String> {
    let usage = |msg: String| Error::Usage(format!("--set {assignment}: {msg}"));
    let Some((key, raw)) = assignment.split_once('=') else {
        return Err(usage(
            "expected KEY=VALUE, e.g. fleet.web.count=5000".into(),
        ));
    };
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(usage(
            "expected a dotted key such as link.wan.bandwidth".into(),
        ));
    }
    let value = parse_set_value(raw.trim());
    let mut table: &mut Table = doc.as_table_mut();
    let mut i = 0;
    while i < parts.len() - 1 {
        let p = parts[i];
        if NAMED_ARRAYS.contains(&p) && i == 0 {
            let Some(name) = parts.get(1) else {
                unreachable!()
            };
            if parts.len() < 3 {
                return Err(usage(format!("expected {p}.<name>.<key>")));
            }
            let arr = table.get_mut(p).and_then(Item::as_array_of_tables_mut);
            let Some(arr) = arr else {
                return Err(usage(format!("the scenario has no [[{p}]]")));
            };
            let names: Vec<String> = arr
                .iter()
                .filter_map(|t| t.get("name").and_then(|n| n.as_str()).map(String::from))
                .collect();
            let Some(t) = arr
                .iter_mut()
                .find(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
            else {
                return Err(usage(format!(
                    "no [[{p}]] named \"{name}\" (found: {})",
                    names.join(", ")
                )));
            };
            table = t;
            i += 2;
            continue;
        }
        let entry = table.entry(p).or_insert_with(|| Item::Table(Table::new()));
        if let Some(it) = entry.as_inline_table_mut() {
            // Inline tables: descend by converting to a standard table view.
            let t = std::mem::take(it).into_table();
            *entry = Item::Table(t);
        }
        let Some(t) = entry.as_table_mut() else {
            return Err(usage(format!("`{}` is not a table", parts[..=i].join("."))));
        };
        table = t;
        i += 1;
    }
    table.insert(parts[parts.len() - 1], Item::Value(value));
    Ok(key.to_string())
}

fn parse_set_value(raw: &str) -> toml_edit::Value {
    // A TOML literal when it is one ("5000", "0.5", "\"2 Gbit/s\"", "{ mtbf = \"20d\" }"),
    // otherwise the raw text as a string, so that `--set link.wan.bandwidth=2 Gbit/s` works
    // without shell-quoted quotes.
    toml_edit::Value::from_str(raw).unwrap_or_else(|_| toml_edit::Value::from(raw))
}

fn load_empirical(s: &mut Scenario, base: &Path) -> std::result::Result<(), Problem> {
    for (key, dist, kind) in super::validate::dists_mut(s) {
        if let Dist::Empirical {
            file,
            column,
            values,
        } = dist
        {
            let path = base.join(&*file);
            let fail = |m: String| Problem {
                key: format!("{key}.file"),
                message: m,
            };
            // Bounded: a device such as /dev/zero, or a huge file, must not fill the memory.
            match std::fs::metadata(&path) {
                Ok(m) if !m.is_file() => {
                    return Err(fail(format!(
                        "expected a regular CSV file, found {}, {}; point `file` at a CSV file",
                        path.display(),
                        if m.is_dir() {
                            "a directory"
                        } else {
                            "a device, pipe or socket (data is read only from files, and at most 256 MiB of it)"
                        }
                    )))
                }
                Ok(m) if m.len() > MAX_EMPIRICAL_BYTES => {
                    return Err(fail(format!(
                        "expected a CSV file of at most {} MiB, found {} of {} MiB; keep only the column used, or sample its rows",
                        MAX_EMPIRICAL_BYTES >> 20,
                        path.display(),
                        m.len() >> 20
                    )))
                }
                _ => {}
            }
            let reader = std::fs::File::open(&path).map_err(|e| {
                fail(format!(
                    "expected a readable CSV file, found {}: {e}",
                    path.display()
                ))
            })?;
            let mut rdr = csv::Reader::from_reader(Bounded {
                inner: reader,
                left: MAX_EMPIRICAL_BYTES,
            });
            let headers = rdr
                .headers()
                .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?
                .clone();
            let Some(col) = headers.iter().position(|h| h == column.as_str()) else {
                return Err(Problem {
                    key: format!("{key}.column"),
                    message: format!(
                        "expected a column of {} (found: {}), found \"{column}\"",
                        path.display(),
                        headers.iter().collect::<Vec<_>>().join(", ")
                    ),
                });
            };
            let mut out = Vec::new();
            let cap = crate::engine::dist::cap(kind);
            for (row, rec) in rdr.records().enumerate() {
                if row >= MAX_EMPIRICAL_ROWS {
                    return Err(fail(format!(
                        "expected at most {MAX_EMPIRICAL_ROWS} data rows in {}, found more; sample its rows",
                        path.display()
                    )));
                }
                let rec = rec.map_err(|e| fail(format!("{}: {e}", path.display())))?;
                let cell = rec.get(col).unwrap_or("").trim();
                let v = cell
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .map(Ok)
                    .unwrap_or_else(|| crate::scenario::dist_format::scalar(&toml::Value::String(cell.into()), kind))
                    .ok()
                    .filter(|v| *v <= cap)
                    .ok_or_else(|| {
                        fail(format!(
                            "{} line {}: expected a non-negative number{} in column \"{column}\", found \"{cell}\"",
                            path.display(),
                            row + 2,
                            match kind {
                                Kind::Duration => " of seconds, or a duration, of at most 1000 years",
                                Kind::Size => " of bytes, or a size, below 16 EiB",
                                Kind::Ratio => " between 0 and 1",
                                Kind::Count => " of at most 4294967295",
                            }
                        ))
                    })?;
                out.push(v);
            }
            if out.is_empty() {
                return Err(fail(format!("{} has no data rows", path.display())));
            }
            *file = path.display().to_string();
            *values = Arc::from(out);
        }
    }
    Ok(())
}

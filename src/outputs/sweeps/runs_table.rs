//! The one reader of a sweep's `runs.csv`: one row per run, every metric.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

use super::Definition;

/// One run of a sweep as `runs.csv` records it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// The point's id (`p000`).
    pub point: String,
    /// The replication number within the point.
    pub replication: u32,
    /// The run's seed.
    pub seed: u64,
    /// The point's `--vary` assignments, in flag order.
    pub assignments: Vec<(String, String)>,
    /// Metric values (an empty cell, a metric this run lacks, is absent).
    pub values: BTreeMap<String, f64>,
}

/// Reads `dir/runs.csv` of the sweep `def`: the columns after `point`, `replication`,
/// `seed` and the varied keys are metrics. Every error names the file and line.
pub fn read_runs(dir: &Path, def: &Definition) -> Result<Vec<RunRow>> {
    let path = dir.join("runs.csv");
    let bad = |line: u64, what: String| Error::input(format!("{}:{line}", path.display()), what);
    let mut rdr = csv::Reader::from_path(&path).map_err(|e| match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(&path, io),
        other => bad(1, format!("{other:?}")),
    })?;
    let head: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(String::from)
        .collect();
    let keys = def.vary.len();
    if head.len() < 3 + keys || head[..3] != ["point", "replication", "seed"] {
        return Err(bad(
            1,
            format!(
                "expected the header of a sweep's runs.csv (point,replication,seed, then {keys} varied key(s) and the metrics), found {}",
                head.join(",")
            ),
        ));
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| bad(line, e.to_string()))?;
        let num = |c: usize, what: &str| -> Result<u64> {
            rec.get(c).unwrap_or("").parse::<u64>().map_err(|_| {
                bad(
                    line,
                    format!(
                        "expected a whole number in column {what}, found {:?}",
                        rec.get(c)
                    ),
                )
            })
        };
        let mut values = BTreeMap::new();
        for (c, name) in head.iter().enumerate().skip(3 + keys) {
            let cell = rec.get(c).unwrap_or("");
            if cell.is_empty() {
                continue;
            }
            let v = cell.parse::<f64>().map_err(|_| {
                bad(
                    line,
                    format!("expected a number in column {name}, found {cell:?}"),
                )
            })?;
            values.insert(name.clone(), v);
        }
        out.push(RunRow {
            point: rec.get(0).unwrap_or("").to_string(),
            replication: num(1, "replication")? as u32,
            seed: num(2, "seed")?,
            assignments: (3..3 + keys)
                .map(|c| (head[c].clone(), rec.get(c).unwrap_or("").to_string()))
                .collect(),
            values,
        });
    }
    Ok(out)
}

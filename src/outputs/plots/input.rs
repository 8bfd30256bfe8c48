//! Reading a results or sweep directory's files: the scenario name, histograms, and the
//! CSV files (`timeseries.csv` by column name, `sweep.csv` as text).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use super::PlotError;
use crate::outputs::results::histio::read_hdr;

/// The scenario name for titles: `run.json`'s `"scenario"` string, else the
/// directory's name. An unreadable `run.json` also falls back to the name.
pub(super) fn scenario_name(dir: &Path) -> String {
    let from_run = std::fs::read_to_string(dir.join("run.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("scenario")?.as_str().map(str::to_string));
    if let Some(s) = from_run {
        return s;
    }
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    name(dir)
        .or_else(|| dir.canonicalize().ok().as_deref().and_then(name))
        .unwrap_or_else(|| dir.display().to_string())
}

/// Reads a histogram; `None` if the file is missing or the histogram empty.
pub(super) fn load_hist(path: &Path) -> Result<Option<Histogram<u64>>, PlotError> {
    if !path.exists() {
        return Ok(None);
    }
    let h = read_hdr(path).map_err(|source| PlotError::Histogram {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((!h.is_empty()).then_some(h))
}

/// Opens a CSV file with a header row; returns the reader and the trimmed column names.
fn open_csv(path: &Path) -> Result<(csv::Reader<std::fs::File>, Vec<String>), PlotError> {
    let csv_err = |source| PlotError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(csv_err)?;
    let names = rdr
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    Ok((rdr, names))
}

/// A numeric CSV file, by column name.
pub(super) struct Table {
    path: PathBuf,
    columns: BTreeMap<String, Vec<f64>>,
    pub(super) rows: usize,
}

impl Table {
    /// Reads a CSV file of numbers (empty cells are NaN).
    pub(super) fn read(path: &Path) -> Result<Table, PlotError> {
        let (mut rdr, names) = open_csv(path)?;
        let csv_err = |source| PlotError::Csv {
            path: path.to_path_buf(),
            source,
        };
        let mut cols: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
        let mut rows = 0;
        for rec in rdr.records() {
            let rec = rec.map_err(csv_err)?;
            let line = rec.position().map_or(0, |p| p.line());
            for (i, cell) in rec.iter().enumerate() {
                let cell = cell.trim();
                let v = if cell.is_empty() {
                    f64::NAN
                } else {
                    cell.parse::<f64>().map_err(|_| PlotError::Parse {
                        path: path.to_path_buf(),
                        line,
                        column: names[i].clone(),
                        value: cell.to_string(),
                    })?
                };
                cols[i].push(v);
            }
            rows += 1;
        }
        Ok(Table {
            path: path.to_path_buf(),
            columns: names.into_iter().zip(cols).collect(),
            rows,
        })
    }

    /// The column `name`, if there is one.
    pub(super) fn get(&self, name: &str) -> Option<&[f64]> {
        self.columns.get(name).map(Vec::as_slice)
    }

    /// The column `name`; an error naming the file if there is none.
    pub(super) fn require(&self, name: &str) -> Result<&[f64], PlotError> {
        self.get(name).ok_or_else(|| PlotError::MissingColumn {
            path: self.path.clone(),
            column: name.to_string(),
        })
    }

    /// `(<middle>, column)` for every column `<prefix><middle><suffix>`,
    /// sorted by middle part (e.g. link or vault names).
    pub(super) fn family(&self, prefix: &str, suffix: &str) -> Vec<(String, &[f64])> {
        self.columns
            .iter()
            .filter_map(|(k, v)| {
                let mid = k.strip_prefix(prefix)?.strip_suffix(suffix)?;
                (!mid.is_empty()).then(|| (mid.to_string(), v.as_slice()))
            })
            .collect()
    }
}

/// `sweep.csv`, as text, plus what `sweep.json` says about the keys.
pub(super) struct SweepCsv {
    path: PathBuf,
    columns: BTreeMap<String, usize>,
    /// The varied keys, in `--vary` order (the columns between `point` and
    /// `replications`).
    pub(super) keys: Vec<String>,
    /// Each key's values in sweep order.
    pub(super) values: Vec<Vec<String>>,
    /// Per row: the index of its value in `values[k]`, for each key `k`.
    pub(super) row_values: Vec<Vec<usize>>,
    rows: Vec<(u64, Vec<String>)>,
    /// Replications per point (the largest `replications` cell).
    pub(super) replications: u64,
}

impl SweepCsv {
    /// Reads `sweep.csv`; `vary` (from `sweep.json`, when readable) gives each key's
    /// values in the order of the `--vary` flag, else the order of first appearance.
    pub(super) fn read(
        path: &Path,
        vary: Option<&[(String, Vec<String>)]>,
    ) -> Result<Self, PlotError> {
        let (mut rdr, names) = open_csv(path)?;
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
    pub(super) fn column(&self, name: &str) -> Result<Option<Vec<Option<f64>>>, PlotError> {
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

//! The sweep directory's files and the aggregates computed from the run directories on
//! disk (`sweep.csv`, `runs.csv`, `points.csv`, `points/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::{io_at as io, Error, Result};
use crate::model::metrics::{new_histogram, Latency};
use crate::outputs::results::{write_atomic, write_histograms, write_summary, Staging};

use super::*;

// ---------------------------------------------------------------------------------------
// Files.

/// Reads `dir/sweep.json`; `None` when there is none.
pub fn read_definition(dir: &Path) -> Result<Option<Definition>> {
    let p = dir.join("sweep.json");
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&p, e)),
    };
    let def: Definition = serde_json::from_str(&text).map_err(|e| {
        Error::input(
            p.display().to_string(),
            format!("expected a sweep definition written by backupsim, found invalid JSON: {e}"),
        )
    })?;
    grid_runs(&def.vary, def.replications, &p.display().to_string())?;
    Ok(Some(def))
}

/// Writes `dir/sweep.json` atomically.
pub fn write_definition(dir: &Path, def: &Definition) -> Result<()> {
    let text = serde_json::to_string_pretty(def).expect("a definition serializes") + "\n";
    write_atomic(&dir.join("sweep.json"), text.as_bytes())
}

/// Refuses to write into a directory that holds another sweep.
/// Refuses `dir` when it holds a different sweep than `def` (`what` says what to do).
pub fn check_same(dir: &Path, def: &Definition, what: &str) -> Result<()> {
    if let Some(old) = read_definition(dir)? {
        let d = def.differences(&old);
        if !d.is_empty() {
            return Err(Error::Usage(format!(
                "{} holds a different sweep (differs in: {}); {what}",
                dir.display(),
                d.join(", ")
            )));
        }
    }
    Ok(())
}

/// Whether the run directory `dir` is complete (its summary exists).
pub fn complete(dir: &Path) -> bool {
    dir.join("summary.json").is_file()
}

/// Reads an `.hdr` file, naming it in the error.
fn read_hdr(path: &Path) -> Result<hdrhistogram::Histogram<u64>> {
    crate::outputs::results::histio::read_hdr(path).map_err(|e| {
        Error::input(
            path.display().to_string(),
            format!("expected an HdrHistogram V2 file: {e}"),
        )
    })
}

fn hdr_names(dir: &Path) -> Result<Vec<String>> {
    let h = dir.join("histograms");
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&h) {
        for e in rd {
            let e = io(&h, e)?;
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(stem) = name.strip_suffix(".hdr") {
                out.push(stem.to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Aggregation.

const HIST_STATS: [&str; 7] = ["mean", "p50", "p90", "p95", "p99", "p999", "max"];

fn csv_bytes(rows: Vec<Vec<String>>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r).expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

/// Writes `points.csv`, `runs.csv`, `sweep.csv` and `points/` of a sweep directory whose
/// runs are all complete, from the files on disk alone.
///
/// A metric a run does not report is a zero count if it is a counter (the simulator omits
/// zero counters such as `backup.failures.<Code>`), and missing if it is a statistic of a
/// histogram that was empty in that run (a statistic of no value is not zero); statistics
/// over replications use the replications that report a value.
pub fn aggregate(dir: &Path, def: &Definition) -> Result<()> {
    let runs = def.runs();
    let points = def.points();
    let mut summaries = Vec::with_capacity(runs.len());
    let mut metrics = BTreeSet::new();
    let mut hists = BTreeSet::new();
    for r in &runs {
        let rd = dir.join(r.rel_dir());
        let s = crate::outputs::results::read::read_summary(&rd)?;
        metrics.extend(s.keys().cloned());
        hists.extend(hdr_names(&rd)?);
        summaries.push(s);
    }
    let is_hist_stat = |m: &str| {
        m.rsplit_once('.')
            .is_some_and(|(h, st)| HIST_STATS.contains(&st) && hists.contains(h))
    };
    let value = |s: &BTreeMap<String, f64>, m: &str| -> Option<f64> {
        match s.get(m) {
            Some(v) => Some(*v),
            None if is_hist_stat(m) => None,
            None => Some(0.0),
        }
    };
    let keys: Vec<String> = def.vary.iter().map(|v| v.key.clone()).collect();

    // points.csv
    let mut rows = vec![std::iter::once("point".to_string())
        .chain(keys.iter().cloned())
        .collect::<Vec<_>>()];
    for p in &points {
        rows.push(
            std::iter::once(p.id.clone())
                .chain(p.assignments.iter().map(|(_, v)| v.clone()))
                .collect(),
        );
    }
    write_atomic(&dir.join("points.csv"), &csv_bytes(rows))?;

    // runs.csv
    let mut head = vec!["point".to_string(), "replication".into(), "seed".into()];
    head.extend(keys.iter().cloned());
    head.extend(metrics.iter().cloned());
    let mut rows = vec![head];
    for (r, s) in runs.iter().zip(&summaries) {
        let mut row = vec![
            r.point.id.clone(),
            r.replication.to_string(),
            r.seed.to_string(),
        ];
        row.extend(r.point.assignments.iter().map(|(_, v)| v.clone()));
        row.extend(
            metrics
                .iter()
                .map(|m| value(s, m).map(fmt_num).unwrap_or_default()),
        );
        rows.push(row);
    }
    write_atomic(&dir.join("runs.csv"), &csv_bytes(rows))?;

    // sweep.csv
    let mut head = vec!["point".to_string()];
    head.extend(keys.iter().cloned());
    head.push("replications".into());
    for m in &metrics {
        for st in ["mean", "sd", "ci95_lo", "ci95_hi"] {
            head.push(format!("{m}.{st}"));
        }
    }
    let mut rows = vec![head];
    let per = def.replications as usize;
    for p in &points {
        let reps = &summaries[p.index * per..(p.index + 1) * per];
        let mut row = vec![p.id.clone()];
        row.extend(p.assignments.iter().map(|(_, v)| v.clone()));
        row.push(per.to_string());
        for m in &metrics {
            let xs: Vec<f64> = reps.iter().filter_map(|s| value(s, m)).collect();
            let opt = |x: Option<f64>| x.map(fmt_num).unwrap_or_default();
            match stats(&xs) {
                Some(st) => {
                    row.push(fmt_num(st.mean));
                    row.push(opt(st.sd));
                    row.push(opt(st.ci95.map(|c| c.0)));
                    row.push(opt(st.ci95.map(|c| c.1)));
                }
                None => row.extend(std::iter::repeat(String::new()).take(4)),
            }
        }
        rows.push(row);
    }
    write_atomic(&dir.join("sweep.csv"), &csv_bytes(rows))?;

    // points/: exact merges of each point's histograms, built aside and renamed into place.
    let dest = dir.join("points");
    let staging = Staging::new(&dest)?;
    for p in &points {
        let pdir = staging.path().join(&p.id);
        let mut merged = BTreeMap::new();
        for r in 0..def.replications {
            let rd = dir.join("runs").join(&p.id).join(format!("rep-{r}"));
            for name in hdr_names(&rd)? {
                let path = rd.join("histograms").join(format!("{name}.hdr"));
                let h = read_hdr(&path)?;
                let acc = merged.entry(name).or_insert_with(new_histogram);
                acc.add(&h).map_err(|e| {
                    Error::input(
                        path.display().to_string(),
                        format!("cannot merge histogram: {e:?}"),
                    )
                })?;
            }
        }
        let mut summary = BTreeMap::new();
        for (name, h) in &merged {
            summary.insert(format!("{name}.count"), h.len() as f64);
            Latency(h.clone()).summarize(name, &mut summary);
        }
        write_histograms(&pdir.join("histograms"), &merged)?;
        write_summary(&pdir.join("summary.json"), &summary)?;
    }
    staging.commit_unchecked(&dest)?;
    Ok(())
}

//! `backupsim merge`: shard directories of one sweep gathered into a complete sweep.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::{io_at as io, Error, Result};
use crate::outputs::results::{claim_out_dir, OutKind, Staging};
use crate::outputs::sweeps::*;

use super::sweep::write_aggregates;

/// Copies a complete run directory (hard links where possible: results are never
/// modified in place, only replaced by rename) via a staging directory.
fn copy_run(src: &Path, dest: &Path) -> Result<()> {
    fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
        io(dst, std::fs::create_dir_all(dst))?;
        let mut entries: Vec<_> = io(src, std::fs::read_dir(src))?
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| Error::io(src, e))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let (s, d) = (e.path(), dst.join(e.file_name()));
            if io(&s, e.file_type())?.is_dir() {
                copy_tree(&s, &d)?;
            } else if std::fs::hard_link(&s, &d).is_err() {
                io(&s, std::fs::copy(&s, &d))?;
            }
        }
        Ok(())
    }
    let staging = Staging::new(dest)?;
    copy_tree(src, staging.path())?;
    staging.commit_unchecked(dest)
}

/// What a merge did.
#[derive(Debug, Clone)]
pub struct MergeReport {
    /// The merged sweep directory.
    pub dir: PathBuf,
    /// Runs in the sweep.
    pub runs: usize,
    /// Runs copied in from other directories.
    pub copied: usize,
}

/// `backupsim merge DIR... --out DIR`: checks the directories are shards of one sweep that
/// together hold every run, gathers the runs into `out` (which may be one of the inputs,
/// e.g. when all shards wrote into one directory) and writes the aggregates, then, when
/// `plots`, the plots of the metrics recorded in `sweep.json`; then, unless `keep_runs`,
/// removes the run directories of `out` (the input shards are left as they are).
pub fn merge(
    dirs: &[PathBuf],
    out: &Path,
    quiet: bool,
    plots: bool,
    keep_runs: bool,
    command_line: &[String],
) -> Result<MergeReport> {
    if dirs.is_empty() {
        return Err(Error::Usage(
            "merge: expected at least one sweep directory".into(),
        ));
    }
    // Parts of one partitioned run (`run --partition I/N`) merge into one run.
    if super::partition::check_parts(dirs)?.is_some() {
        let o = super::partition::MergeOptions {
            name_dirs: true,
            histograms: true,
            plots,
            command_line,
            started: std::time::Instant::now(),
            jobs_csv_note: "jobs.csv not written: a merge of a partitioned run's parts has none (each part directory keeps its own)".into(),
        };
        let r = super::partition::merge_parts(dirs, out, &o)?;
        if !quiet {
            for n in &r.notes {
                crate::status!("note: {n}");
            }
        }
        return Ok(MergeReport {
            dir: r.dir,
            runs: dirs.len(),
            copied: 0,
        });
    }
    let mut def: Option<(PathBuf, Definition)> = None;
    for d in dirs {
        let Some(this) = read_definition(d)? else {
            return Err(Error::Usage(format!(
                "{}: not a sweep directory (expected sweep.json, written by `backupsim sweep`)",
                d.display()
            )));
        };
        match &def {
            None => def = Some((d.clone(), this)),
            Some((first, fd)) => {
                let diff = fd.differences(&this);
                if !diff.is_empty() {
                    return Err(Error::Usage(format!(
                        "{} and {} are not shards of the same sweep (they differ in: {})",
                        first.display(),
                        d.display(),
                        diff.join(", ")
                    )));
                }
            }
        }
    }
    let (_, def) = def.expect("at least one directory");
    claim_out_dir(out, OutKind::Sweep)?;
    check_same(out, &def, "merge into another --out")?;
    if let Some(done) = dirs.iter().find(|d| runs_dropped(d)) {
        let same = |a: &Path, b: &Path| {
            a.canonicalize()
                .ok()
                .is_some_and(|a| b.canonicalize().ok() == Some(a))
        };
        if dirs.len() == 1 && same(done, out) {
            let runs = read_runs(out, &def)?.len();
            if !quiet {
                crate::status!(
                    "merge {}: {} is finished already ({runs} runs aggregated); nothing to merge",
                    def.scenario_name,
                    out.display()
                );
            }
            return Ok(MergeReport {
                dir: out.to_path_buf(),
                runs,
                copied: 0,
            });
        }
        return Err(Error::Usage(format!(
            "{}: a finished sweep whose run directories were removed once aggregated (it ran without --keep-runs); it has no runs to merge: use it as it is, or merge shard directories",
            done.display()
        )));
    }
    // Runs still being written are not to be merged.
    for d in dirs.iter().map(PathBuf::as_path).chain([out]) {
        if let Some((s, h)) = held_shard(d, None)? {
            return Err(Error::Usage(format!(
                "{}: {h} is still writing shard {}/{} there; merge once every shard has finished",
                d.display(),
                s.index,
                s.count
            )));
        }
    }
    let locate = |r: &Run| {
        dirs.iter()
            .map(|d| d.join(r.rel_dir()))
            .find(|d| complete(d))
    };
    let (runs, missing) = match complete_runs(&def, &locate)? {
        Ok(runs) => (runs, Vec::new()),
        Err(missing) => (def.runs(), missing),
    };
    if !missing.is_empty() {
        let mut markers = BTreeSet::new();
        for d in dirs {
            if let Ok(rd) = std::fs::read_dir(d.join("shards")) {
                markers.extend(rd.flatten().filter_map(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .strip_suffix(".json")
                        .map(|s| s.replace("-of-", "/"))
                }));
            }
        }
        let shown: Vec<&str> = missing.iter().take(10).map(String::as_str).collect();
        return Err(Error::Usage(format!(
            "merge: {} of {} runs are missing: {}{} (complete shards found: {}); run the missing shards, or `backupsim sweep` with the same arguments to fill them in",
            missing.len(),
            runs.len(),
            shown.join(", "),
            if missing.len() > shown.len() { ", ..." } else { "" },
            if markers.is_empty() { "none".to_string() } else { markers.into_iter().collect::<Vec<_>>().join(", ") }
        )));
    }
    io(out, std::fs::create_dir_all(out))?;
    // The whole directory, as shard 0/1: no sweep may start on it while the merge writes.
    let _lock = lock_shard(out, Shard { index: 0, count: 1 }, "backupsim merge")?;
    write_definition(out, &def)?;
    let mut copied = 0;
    for r in &runs {
        let dest = out.join(r.rel_dir());
        if complete(&dest) {
            continue;
        }
        let src = locate(r).expect("every run was found complete above");
        copy_run(&src, &dest)?;
        copied += 1;
    }
    write_aggregates(out, &def, "backupsim merge", plots, quiet, keep_runs)?;
    if !quiet {
        crate::status!(
            "merge {}: {} runs from {} director{} ({copied} copied); results: {}",
            def.scenario_name,
            runs.len(),
            dirs.len(),
            if dirs.len() == 1 { "y" } else { "ies" },
            out.display()
        );
    }
    Ok(MergeReport {
        dir: out.to_path_buf(),
        runs: runs.len(),
        copied,
    })
}

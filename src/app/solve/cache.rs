//! The probe cache that lets an interrupted `solve` resume with the same bytes.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::Result;

/// Replications already run, kept in `probes.cache` in the output directory until the
/// search completes, so an interrupted solve resumes where it stopped (one line per
/// replication: value text, replication, each expected metric's value in Rust's shortest
/// round-trip form, so a reused value is bit for bit the one computed).
pub(super) struct Cache {
    done: BTreeMap<(String, u32), Vec<f64>>,
    file: Option<Mutex<std::fs::File>>,
    path: PathBuf,
    pub(super) reused: std::sync::atomic::AtomicUsize,
}

impl Cache {
    const NAME: &'static str = "probes.cache";

    /// Opens the cache of `dir` for a search with definition hash `def`: a cache of
    /// another definition is discarded.
    pub(super) fn open(dir: &Path, def: u64, metrics: usize) -> Result<Cache> {
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

    pub(super) fn get(&self, text: &str, r: u32) -> Option<Vec<f64>> {
        let v = self.done.get(&(text.to_string(), r)).cloned();
        if v.is_some() {
            self.reused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        v
    }

    pub(super) fn put(&self, text: &str, r: u32, values: &[f64]) -> Result<()> {
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
    pub(super) fn remove(mut self) {
        self.file = None;
        let _ = std::fs::remove_file(&self.path);
    }
}

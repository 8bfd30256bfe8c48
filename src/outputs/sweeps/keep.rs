//! What a finished sweep keeps on disk: after its aggregates are written, the run
//! directories (`runs/<point>/rep-<r>/`) are removed unless the sweep was told to keep
//! them, so a sweep's size on disk follows its points, not its runs. `runs.csv` (every
//! run's metrics), `costs.csv`, `sweep.csv` and `points/` (the exact histogram merges)
//! hold everything the aggregates, `compare` and `status` read.

use std::path::Path;

use crate::error::{io_at as io, Result};

/// The name a run tree is renamed to before it is removed: a process killed while
/// removing it leaves this name, which the next sweep command on the directory removes,
/// never a half-removed `runs/`.
const DROPPING: &str = ".runs.dropping";

/// Removes `dir/runs/` of a sweep whose aggregates were just written (renamed aside
/// first, so it is either whole or gone).
pub fn drop_runs(dir: &Path) -> Result<()> {
    let runs = dir.join("runs");
    if !runs.is_dir() {
        return Ok(());
    }
    let aside = dir.join(DROPPING);
    io(&aside, std::fs::rename(&runs, &aside))?;
    io(&aside, std::fs::remove_dir_all(&aside))
}

/// Removes what a process killed in [`drop_runs`] left.
pub fn clean_dropping(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir.join(DROPPING));
}

/// Whether `dir` holds a finished sweep whose run directories were removed: its
/// aggregates are there and its runs are not. Such a sweep has nothing left to run.
pub fn runs_dropped(dir: &Path) -> bool {
    dir.join("runs.csv").is_file() && dir.join("sweep.csv").is_file() && !dir.join("runs").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_runs_leave_the_aggregates() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("runs/p000/rep-0")).unwrap();
        std::fs::write(d.path().join("runs/p000/rep-0/summary.json"), "{}").unwrap();
        std::fs::write(d.path().join("runs.csv"), "point\n").unwrap();
        std::fs::write(d.path().join("sweep.csv"), "point\n").unwrap();
        assert!(!runs_dropped(d.path()));
        drop_runs(d.path()).unwrap();
        assert!(runs_dropped(d.path()));
        assert!(!d.path().join(DROPPING).exists());
        // Idempotent.
        drop_runs(d.path()).unwrap();
    }

    #[test]
    fn a_sweep_without_aggregates_is_not_finished() {
        let d = tempfile::tempdir().unwrap();
        assert!(!runs_dropped(d.path()));
        std::fs::write(d.path().join("runs.csv"), "point\n").unwrap();
        assert!(!runs_dropped(d.path()));
    }
}

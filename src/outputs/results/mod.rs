//! Writing a run's results directory, atomically.
//!
//! Everything is written into a temporary directory beside the destination and renamed
//! into place only when complete, so a failed or interrupted run never leaves a
//! half-written results directory. `jobs.csv` and `timeseries.csv` are streamed as the
//! model produces rows, never held in memory.

pub mod histio;
pub mod nights;
pub mod partition;
pub mod read;
mod rows;
mod select;
pub mod storage_trace;
mod writers;

pub use select::{Outputs, OUTPUT_NAMES};
pub use writers::{merge_series, Writers, COST_COLUMNS, JOBS_HEADER, PART_COST_COLUMNS};

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{io_at as io, Error, Result};
use crate::scenario::Scenario;

/// Temporary directories in flight, removed by the Ctrl-C handler before exiting.
pub static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes every in-flight temporary directory (called on Ctrl-C).
pub fn remove_in_flight() {
    if let Ok(dirs) = IN_FLIGHT.lock() {
        for d in dirs.iter() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Seconds with exactly six decimals: the clock's microseconds, exactly.
pub fn secs(us: u64) -> String {
    let mut out = Vec::with_capacity(24);
    push_secs(&mut out, us);
    String::from_utf8(out).expect("digits and a point")
}

/// [`secs`] appended to `out` (no allocation once `out` has room): the rows of
/// `jobs.csv` and `timeseries.csv` are written from one reused buffer.
fn push_secs(out: &mut Vec<u8>, us: u64) {
    push_u64(out, us / 1_000_000);
    let mut frac = us % 1_000_000;
    let mut digits = [b'0'; 7];
    digits[0] = b'.';
    for d in digits[1..].iter_mut().rev() {
        *d = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    out.extend_from_slice(&digits);
}

/// `x` in decimal appended to `out`, as `x.to_string()` writes it.
fn push_u64(out: &mut Vec<u8>, mut x: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The number of backup jobs a scenario will roughly create (for `jobs_csv = "auto"`).
pub fn expected_jobs(s: &Scenario) -> u64 {
    let days = s.simulation.duration.0.as_secs_f64() / 86_400.0;
    s.fleet
        .iter()
        .map(|f| {
            let p = s.policy.iter().find(|p| p.name == f.policy);
            let per_day = match p.and_then(|p| p.schedule.as_ref()) {
                Some(sch) if sch.daily.is_some() => 1.0,
                Some(sch) => sch.weekly.as_ref().map_or(0.0, |w| w.len() as f64 / 7.0),
                None => 0.0,
            };
            (f.count as f64 * days * (per_day + f.on_demand.per_vm_per_day)) as u64
        })
        .sum()
}

/// Peak resident memory of this process in bytes (Linux `VmHWM`), if known.
pub fn peak_memory_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The summary key of a run stopped at `--run-max-events` or `--run-max-wall` before the
/// end of its simulated time (value 1; absent otherwise).
pub const CUT_SHORT: &str = "run.cut_short";
/// The summary key of a run stopped at its wall-clock limit (`--run-max-wall`): where it
/// stopped depends on the machine, so its metrics are outside the determinism guarantee.
pub const CUT_SHORT_WALL: &str = "run.cut_short_wall";

/// The key of `summary.json` that records the model version (not a metric: metric names
/// have dots).
pub const MODEL_VERSION_KEY: &str = "model_version";

/// Writes `summary.json`: sorted keys, one metric per line, and the model version the
/// results come from ([`MODEL_VERSION_KEY`]).
pub fn write_summary(path: &Path, summary: &BTreeMap<String, f64>) -> Result<()> {
    let mut v = serde_json::to_value(summary).expect("numbers serialize");
    v[MODEL_VERSION_KEY] = serde_json::json!(crate::model::MODEL_VERSION);
    let mut text = serde_json::to_string_pretty(&v).expect("numbers serialize");
    text.push('\n');
    io(path, std::fs::write(path, text))
}

/// Writes each histogram (an HdrHistogram or a run's latency counts) to
/// `dir/<name>.hdr` (V2, deflate-compressed).
pub fn write_histograms<H: crate::outputs::results::histio::HdrSource>(
    dir: &Path,
    hists: &BTreeMap<String, H>,
) -> Result<()> {
    io(dir, std::fs::create_dir_all(dir))?;
    let mut w = crate::outputs::results::histio::HdrWriter::new();
    for (name, h) in hists {
        let path = dir.join(format!("{name}.hdr"));
        io(&path, w.write(&path, h))?;
    }
    Ok(())
}

/// `mode` as a new file or directory is created by `open(2)`/`mkdir(2)`: the user's umask
/// applies (temporary files would otherwise be owner-only).
fn umask_mode(mode: u32) -> std::fs::Permissions {
    #[cfg(unix)]
    {
        std::os::unix::fs::PermissionsExt::from_mode(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        std::fs::metadata(".")
            .map(|m| m.permissions())
            .expect("cwd metadata")
    }
}

/// Writes a file atomically (a temporary file in the same directory, then a rename), so
/// concurrent writers and readers never see half a file. The file gets the user's umask.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    io(dir, std::fs::create_dir_all(dir))?;
    let mut tmp = io(
        dir,
        tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(umask_mode(0o666))
            .tempfile_in(dir),
    )?;
    io(path, tmp.write_all(bytes))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// What a results directory is, by the file that marks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutKind {
    /// A run's results directory (marked by `run.json`).
    Run,
    /// A sweep directory or sweep shard (marked by `sweep.json`).
    Sweep,
    /// A `solve` directory (marked by `solve.json`).
    Solve,
}

impl OutKind {
    /// What kind of results directory `dir` is, from its marker file (`None`: not one of
    /// ours, or not a directory).
    pub fn of(dir: &Path) -> Option<OutKind> {
        [OutKind::Run, OutKind::Sweep, OutKind::Solve]
            .into_iter()
            .find(|k| dir.join(k.marker()).is_file())
    }

    /// The kind in words, as messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            OutKind::Run => "a run's results directory",
            OutKind::Sweep => "a sweep directory",
            OutKind::Solve => "a solve directory",
        }
    }

    fn marker(self) -> &'static str {
        match self {
            OutKind::Run => "run.json",
            OutKind::Sweep => "sweep.json",
            OutKind::Solve => "solve.json",
        }
    }
}

/// Checks that `dest` may be written as a `kind` directory before anything is touched: it
/// must not exist yet, be empty, or be a directory this tool wrote as that kind; it may
/// never be (or contain) the working directory. Returns `Some(note)` ("replacing DIR,
/// written DATE") when an earlier results directory will be replaced.
pub fn claim_out_dir(dest: &Path, kind: OutKind) -> Result<Option<String>> {
    let refuse = |why: String| -> Result<Option<String>> {
        Err(Error::input(
            dest.display().to_string(),
            format!("{why}; nothing was written: choose another --out (a new or empty directory, or one that backupsim wrote)"),
        ))
    };
    let meta = match std::fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(dest, e)),
    };
    if !meta.is_dir() {
        return refuse("expected a results directory, found an existing file".into());
    }
    let canonical = io(dest, std::fs::canonicalize(dest))?;
    if let Ok(cwd) = std::env::current_dir().and_then(std::fs::canonicalize) {
        if cwd.starts_with(&canonical) {
            return refuse(format!(
                "expected a results directory, found the working directory {}",
                if cwd == canonical {
                    "itself"
                } else {
                    "'s parent"
                }
            ));
        }
    }
    // Concurrent shards of a sweep create their lock files, and a temporary file for
    // sweep.json, before sweep.json exists: they do not make the directory foreign.
    let bookkeeping =
        |n: &str| kind == OutKind::Sweep && (n.starts_with(".lock-") || n.starts_with(".tmp-"));
    let mut entries: Vec<String> = io(dest, std::fs::read_dir(dest))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !bookkeeping(n))
        .collect();
    if entries.is_empty() {
        return Ok(None);
    }
    let marker = dest.join(kind.marker());
    match std::fs::metadata(&marker) {
        Ok(m) if m.is_file() => Ok(Some(format!(
            "replacing {}, written {}",
            dest.display(),
            m.modified()
                .map(crate::units::fmt_utc)
                .unwrap_or_else(|_| "at an unknown time".into())
        ))),
        _ => {
            entries.sort();
            let shown: Vec<&str> = entries.iter().take(3).map(String::as_str).collect();
            let more = if entries.len() > 3 { ", ..." } else { "" };
            refuse(format!(
                "expected an empty directory or one backupsim wrote (with {}), found other files ({}{more})",
                kind.marker(),
                shown.join(", ")
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Staging directories and their owners.

/// This machine's host name as it appears in staging directory names (letters, digits,
/// `.`, `_` and `-`; anything else becomes `_`), if the system says.
pub fn host_name() -> Option<&'static str> {
    static HOST: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())?;
        let h: String = raw
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        (!h.is_empty()).then_some(h)
    })
    .as_deref()
}

/// Who wrote a staging directory, read from its name
/// (`.<dest name>.partial-<pid>@<host>-<random>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A process of this machine that has exited: the directory is left over.
    Gone(u32),
    /// A process of this machine that is still running (or a new process that reused its
    /// pid): the directory may be in use.
    Running(u32),
    /// Cannot be told; the reason.
    Unknown(String),
}

/// Whether process `pid` of this machine is running: `None` when the system cannot say
/// (no `/proc`).
fn process_alive(pid: u32) -> Option<bool> {
    if pid == std::process::id() {
        return Some(true);
    }
    if !Path::new("/proc/self").exists() {
        return None;
    }
    Some(Path::new("/proc").join(pid.to_string()).exists())
}

/// The owner of a staging directory, from the part of its name after `.partial-`.
pub fn staging_owner(after_partial: &str) -> Owner {
    let Some((pid, rest)) = after_partial.split_once('@') else {
        return Owner::Unknown("its name records no owner".into());
    };
    let (Ok(pid), Some((host, _))) = (pid.parse::<u32>(), rest.rsplit_once('-')) else {
        return Owner::Unknown("its name records no owner".into());
    };
    match host_name() {
        Some(h) if h == host => {}
        _ => {
            return Owner::Unknown(format!(
                "it was written by pid {pid} on host {host}, whose processes cannot be checked from here"
            ))
        }
    }
    match process_alive(pid) {
        Some(true) => Owner::Running(pid),
        Some(false) => Owner::Gone(pid),
        None => Owner::Unknown(format!(
            "it was written by pid {pid}, and this system cannot tell whether that process is running (no /proc)"
        )),
    }
}

/// Which staging directories [`clean_staging`] removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cleanup {
    /// Only those whose owner has exited (`run --out DIR`: another process may be writing
    /// the same destination).
    OwnerGone,
    /// All but those of a running process of this machine (the caller holds the lock that
    /// makes it the destination's only writer, so an owner it cannot check is gone).
    UnlessRunning,
}

/// Removes the staging directories (`.<name>.partial-*`) that killed processes left beside
/// `dest`, as `rule` says. Returns one line per directory removed or left in place (for
/// stderr).
pub fn clean_staging(dest: &Path, rule: Cleanup) -> Vec<String> {
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = dest.file_name().map(|n| n.to_string_lossy().to_string()) else {
        return Vec::new();
    };
    let prefix = format!(".{name}.partial-");
    let Ok(rd) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.starts_with(&prefix).then(|| (n, e.path()))
        })
        .collect();
    found.sort();
    let mut notes = Vec::new();
    for (n, path) in found {
        let owner = staging_owner(&n[prefix.len()..]);
        let remove = matches!(
            (&owner, rule),
            (Owner::Gone(_), _) | (Owner::Unknown(_), Cleanup::UnlessRunning)
        );
        let shown = path.display();
        if remove {
            let gone =
                std::fs::remove_dir_all(&path)
                    .or_else(|e| if path.exists() { Err(e) } else { Ok(()) });
            match (gone, &owner) {
                (Ok(()), Owner::Gone(pid)) => notes.push(format!(
                    "removed {shown}: left by pid {pid}, which is no longer running"
                )),
                (Ok(()), _) => notes.push(format!("removed {shown}: left by an earlier run")),
                (Err(e), _) => notes.push(format!("could not remove {shown}: {e}")),
            }
        } else {
            match owner {
                Owner::Running(pid) => notes.push(format!(
                    "left {shown} in place: pid {pid}, which wrote it, is still running"
                )),
                Owner::Unknown(why) => notes.push(format!(
                    "left {shown} in place: {why}; remove it by hand once no backupsim writes {}",
                    dest.display()
                )),
                Owner::Gone(_) => {}
            }
        }
    }
    notes
}

/// A temporary directory beside `dest`, registered for removal on Ctrl-C. Its name,
/// `.<dest name>.partial-<pid>@<host>-<random>`, records which process writes it, so a
/// later run can tell a directory left by a killed process from one still being written.
pub struct Staging {
    dir: Option<tempfile::TempDir>,
}

impl Staging {
    /// Creates the staging directory for `dest`.
    pub fn new(dest: &Path) -> Result<Staging> {
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        io(parent, std::fs::create_dir_all(parent))?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "results".into());
        let owner = format!(
            "{}@{}-",
            std::process::id(),
            host_name().unwrap_or("unknown-host")
        );
        let dir = io(
            parent,
            tempfile::Builder::new()
                .prefix(&format!(".{name}.partial-{owner}"))
                .tempdir_in(parent),
        )?;
        if let Ok(mut v) = IN_FLIGHT.lock() {
            v.push(dir.path().to_path_buf());
        }
        Ok(Staging { dir: Some(dir) })
    }

    /// The staging path.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("staging dir").path()
    }

    /// Moves the finished directory into place, replacing any previous results there
    /// (checked again with [`claim_out_dir`]: a directory that gained foreign files while
    /// the run went on is never deleted).
    pub fn commit(self, dest: &Path, kind: OutKind) -> Result<()> {
        claim_out_dir(dest, kind)?;
        self.commit_unchecked(dest)
    }

    /// Moves the finished directory into place; `dest` is known to be this tool's own.
    pub fn commit_unchecked(mut self, dest: &Path) -> Result<()> {
        let dir = self.dir.take().expect("staging dir");
        let tmp = dir.keep();
        if let Ok(mut v) = IN_FLIGHT.lock() {
            v.retain(|p| p != &tmp);
        }
        if dest.exists() {
            let old = tmp.with_extension("old");
            io(dest, std::fs::rename(dest, &old))?;
            io(dest, std::fs::rename(&tmp, dest))?;
            let _ = std::fs::remove_dir_all(&old);
        } else {
            io(dest, std::fs::rename(&tmp, dest))?;
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            if let Ok(mut v) = IN_FLIGHT.lock() {
                v.retain(|p| p != d.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pushed(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = b"x".to_vec();
        f(&mut out);
        String::from_utf8(out[1..].to_vec()).unwrap()
    }

    /// The row writers' formatting is the `format!` it replaces, at the edges.
    #[test]
    fn pushed_numbers_at_the_edges() {
        for us in [0, 1, 999_999, 1_000_000, 1_000_001, u64::MAX] {
            let want = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
            assert_eq!(secs(us), want);
            assert_eq!(pushed(|b| push_secs(b, us)), want);
            assert_eq!(pushed(|b| push_u64(b, us)), us.to_string());
        }
    }

    proptest! {
        #[test]
        fn prop_pushed_numbers_match_format(x in any::<u64>(), small in 0u64..10_000_000) {
            for v in [x, small] {
                prop_assert_eq!(pushed(|b| push_u64(b, v)), v.to_string());
                prop_assert_eq!(
                    pushed(|b| push_secs(b, v)),
                    format!("{}.{:06}", v / 1_000_000, v % 1_000_000)
                );
            }
        }
    }
}

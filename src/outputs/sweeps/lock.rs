//! Advisory locks of a sweep directory, so that no two processes write the same runs.
//!
//! - `.lock-shard-<I>-of-<N>`: held by the process running shard `I/N` (an unsharded
//!   sweep is shard 0/1, and so is `merge` of the directory). Shards of one count own
//!   disjoint runs and share a directory by design; shards of different counts overlap, so
//!   a process refuses while another holds a lock of a different count.
//! - `.lock-aggregate`: held while the aggregates, `points/` and the plots are written.
//!
//! Each lock file holds its holder's pid, host and command (JSON), so a refusal can say who
//! holds it. The lock is an `flock` on the file: the system releases it when the holder
//! exits, however it exits (a signal, `kill -9`). A holder that finishes removes its file
//! while still holding it; whoever takes a lock checks that the file it locked is still the
//! one at the path, so removing a lock file never lets two processes hold the same lock.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::outputs::results::host_name;

use super::Shard;

/// The file name of the aggregation lock.
pub const AGGREGATE_LOCK: &str = ".lock-aggregate";

/// The file name of shard `s`'s lock.
pub fn shard_lock_name(s: Shard) -> String {
    format!(".lock-shard-{}-of-{}", s.index, s.count)
}

/// The shard a lock file name stands for.
fn parse_shard_lock_name(name: &str) -> Option<Shard> {
    let (i, n) = name.strip_prefix(".lock-shard-")?.split_once("-of-")?;
    let s = Shard {
        index: i.parse().ok()?,
        count: n.parse().ok()?,
    };
    (s.index < s.count).then_some(s)
}

/// Who holds a lock, as its file records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    /// Process id.
    pub pid: Option<u32>,
    /// Host name (processes of a shared directory may run on several machines).
    pub host: Option<String>,
    /// The command, e.g. `backupsim sweep --shard 1/4`.
    pub what: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(p) => write!(f, "pid {p}")?,
            None => write!(f, "another process (it has not recorded its pid yet)")?,
        }
        if let Some(h) = &self.host {
            write!(f, " on host {h}")?;
        }
        if let Some(w) = &self.what {
            write!(f, " (`{w}`)")?;
        }
        Ok(())
    }
}

/// A lock held until dropped. Dropping it removes its file, then releases it.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
}

impl DirLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Removed while still locked: a process waiting on this file finds, once it gets
        // the lock, that the path no longer names it, and starts again on a new file.
        if same_file(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

/// Whether `path` still names the open `file` (it may have been removed and re-created).
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

fn lock_error(path: &Path, e: std::io::Error) -> Error {
    Error::io(
        path,
        std::io::Error::new(
            e.kind(),
            format!("cannot lock it: {e} (sweeps need a file system with file locks, flock(2), to keep concurrent processes apart)"),
        ),
    )
}

fn read_holder(path: &Path) -> Holder {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    serde_json::from_str(text.trim()).unwrap_or_default()
}

fn record(file: &mut File, path: &Path, what: &str) -> Result<()> {
    let me = Holder {
        pid: Some(std::process::id()),
        host: host_name().map(str::to_string),
        what: Some(what.to_string()),
    };
    let text = serde_json::to_string(&me).expect("json") + "\n";
    file.set_len(0)
        .and_then(|_| file.write_all(text.as_bytes()))
        .map_err(|e| Error::io(path, e))
}

/// How long a lock must stay busy before it counts as held: another process may be
/// checking it (see [`probe`]) for a few microseconds.
const BUSY_TRIES: u32 = 5;
const BUSY_PAUSE: Duration = Duration::from_millis(40);

/// Takes the lock `path` unless another process holds it: then returns who does.
pub fn try_lock(path: &Path, what: &str) -> Result<std::result::Result<DirLock, Holder>> {
    let mut busy = 0;
    for _ in 0..1000 {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) if same_file(&file, path) => {
                record(&mut file, path, what)?;
                return Ok(Ok(DirLock {
                    file,
                    path: path.to_path_buf(),
                }));
            }
            // Its holder removed it as we opened it: start again on the new file.
            Ok(()) => continue,
            Err(fs4::TryLockError::WouldBlock) => {
                busy += 1;
                if busy >= BUSY_TRIES {
                    return Ok(Err(read_holder(path)));
                }
                std::thread::sleep(BUSY_PAUSE);
            }
            Err(fs4::TryLockError::Error(e)) => return Err(lock_error(path, e)),
        }
    }
    Err(lock_error(
        path,
        std::io::Error::other("it kept being removed and re-created"),
    ))
}

/// Takes the lock `path`, waiting for its holder to release it; `on_wait` is called once,
/// with the holder, before waiting.
pub fn lock_waiting(path: &Path, what: &str, on_wait: &mut dyn FnMut(&Holder)) -> Result<DirLock> {
    let mut waited = false;
    for _ in 0..1000 {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                if !waited {
                    waited = true;
                    on_wait(&read_holder(path));
                }
                fs4::FileExt::lock(&file).map_err(|e| lock_error(path, e))?;
            }
            Err(fs4::TryLockError::Error(e)) => return Err(lock_error(path, e)),
        }
        if same_file(&file, path) {
            record(&mut file, path, what)?;
            return Ok(DirLock {
                file,
                path: path.to_path_buf(),
            });
        }
    }
    Err(lock_error(
        path,
        std::io::Error::other("it kept being removed and re-created"),
    ))
}

/// Who holds the lock `path`, if anyone. A lock file nobody holds (its holder was killed)
/// is removed.
pub fn probe(path: &Path) -> Result<Option<Holder>> {
    let mut busy = 0;
    for _ in 0..1000 {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {
                let stale = same_file(&file, path);
                if stale {
                    let _ = std::fs::remove_file(path);
                }
                let _ = fs4::FileExt::unlock(&file);
                if stale || !path.exists() {
                    return Ok(None);
                }
                // Replaced meanwhile: check the new file.
            }
            Err(fs4::TryLockError::WouldBlock) => {
                busy += 1;
                if busy >= BUSY_TRIES {
                    return Ok(Some(read_holder(path)));
                }
                std::thread::sleep(BUSY_PAUSE);
            }
            Err(fs4::TryLockError::Error(e)) => return Err(lock_error(path, e)),
        }
    }
    Ok(Some(read_holder(path)))
}

/// The shard lock files in `dir`, by shard order.
fn shard_locks(dir: &Path) -> Vec<(Shard, PathBuf)> {
    let mut v: Vec<(Shard, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    parse_shard_lock_name(&e.file_name().to_string_lossy()).map(|s| (s, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|(s, _)| (s.count, s.index));
    v
}

/// The first shard lock of `dir` that a process holds, other than `except`'s own.
pub fn held_shard(dir: &Path, except: Option<Shard>) -> Result<Option<(Shard, Holder)>> {
    for (s, path) in shard_locks(dir) {
        if Some(s) == except {
            continue;
        }
        if let Some(h) = probe(&path)? {
            return Ok(Some((s, h)));
        }
    }
    Ok(None)
}

/// Every shard lock of `dir` that a process holds, by shard order (lock files nobody
/// holds are removed, as by [`probe`]).
pub fn held_shards(dir: &Path) -> Result<Vec<(Shard, Holder)>> {
    let mut out = Vec::new();
    for (s, path) in shard_locks(dir) {
        if let Some(h) = probe(&path)? {
            out.push((s, h));
        }
    }
    Ok(out)
}

/// Takes the lock of shard `s` of the sweep directory `dir` for the command `what`.
/// Refuses (exit 2, naming the holder) when another process holds that shard, or any shard
/// of another count (their runs overlap this shard's).
pub fn lock_shard(dir: &Path, s: Shard, what: &str) -> Result<DirLock> {
    let busy = |other: Shard, h: &Holder| {
        let why = if other == s {
            format!(
                "shard {}/{} is already being written there by {h}",
                s.index, s.count
            )
        } else {
            format!(
                "{h} is writing shard {}/{} there, whose runs overlap shard {}/{}'s",
                other.index, other.count, s.index, s.count
            )
        };
        Error::Usage(format!(
            "{}: {why}. Two processes writing the same runs would delete each other's partial results: wait for it to finish, or stop it{}; nothing was run",
            dir.display(),
            h.pid.map(|p| format!(" (kill {p})")).unwrap_or_default()
        ))
    };
    let lock = match try_lock(&dir.join(shard_lock_name(s)), what)? {
        Ok(l) => l,
        Err(h) => return Err(busy(s, &h)),
    };
    // Taken first, checked second: of two processes starting together on overlapping
    // shards, at least one sees the other's lock.
    for (other, path) in shard_locks(dir) {
        if other.count == s.count {
            continue;
        }
        if let Some(h) = probe(&path)? {
            return Err(busy(other, &h));
        }
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_round_trip() {
        let s = Shard { index: 2, count: 5 };
        assert_eq!(shard_lock_name(s), ".lock-shard-2-of-5");
        assert_eq!(parse_shard_lock_name(&shard_lock_name(s)), Some(s));
        for bad in [
            ".lock-shard-5-of-5",
            ".lock-shard-x-of-2",
            ".lock-aggregate",
            ".lock-shard-1",
        ] {
            assert_eq!(parse_shard_lock_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_held_lock_is_refused_and_released_on_drop() {
        let t = tempfile::tempdir().unwrap();
        let s = Shard { index: 0, count: 2 };
        let held = lock_shard(t.path(), s, "first").unwrap();
        let file = t.path().join(".lock-shard-0-of-2");
        assert!(file.is_file());
        // The same shard: refused, naming this process.
        let e = lock_shard(t.path(), s, "second").unwrap_err().to_string();
        assert!(
            e.contains(&format!("pid {}", std::process::id())) && e.contains("`first`"),
            "{e}"
        );
        // Another shard of the same count shares the directory.
        let other = lock_shard(t.path(), Shard { index: 1, count: 2 }, "other").unwrap();
        // A shard of another count overlaps: refused.
        let e = lock_shard(t.path(), Shard { index: 0, count: 1 }, "all")
            .unwrap_err()
            .to_string();
        assert!(e.contains("overlap"), "{e}");
        assert_eq!(
            held_shard(t.path(), None).unwrap().map(|(s, _)| s),
            Some(Shard { index: 0, count: 2 })
        );
        drop(held);
        drop(other);
        assert!(!file.exists(), "a released lock leaves no file");
        assert_eq!(held_shard(t.path(), None).unwrap(), None);
        let again = lock_shard(t.path(), Shard { index: 0, count: 1 }, "all").unwrap();
        drop(again);
    }

    #[test]
    fn a_stale_lock_file_is_taken_over() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join(".lock-shard-0-of-1");
        std::fs::write(&path, "{\"pid\":1}\n").unwrap();
        assert_eq!(held_shard(t.path(), None).unwrap(), None);
        assert!(!path.exists(), "a probe removes a lock file nobody holds");
        std::fs::write(&path, "garbage").unwrap();
        let l = lock_shard(t.path(), Shard { index: 0, count: 1 }, "x").unwrap();
        let h: Holder = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(h.pid, Some(std::process::id()));
        drop(l);
    }
}

//! Sweeps that are interrupted, killed or run twice at once: locks, staging directories
//! left behind, resuming to the same bytes, and `status` while shards run.

use std::path::{Path, PathBuf};

use super::*;

/// A scenario whose runs take a noticeable time (about a second each in a debug build on a
/// busy machine): 2 000 VMs for two weeks.
fn slow_scenario(dir: &Path) -> PathBuf {
    let p = dir.join("slow.toml");
    std::fs::write(
        &p,
        TINY.replace("duration = \"3d\"", "duration = \"14d\"")
            .replace("count = 30", "count = 2000"),
    )
    .unwrap();
    p
}

/// `simulation.duration=…` for a run that takes about as long as `days` days of the slow
/// scenario in a debug build (`cargo test`): an optimized build (`cargo test --release`)
/// runs the slow sweep 5 to 7 times faster (measured at 21 and 120 days), so it gets 5
/// times the days (within the 10 years a run may last), and the checks made while a run
/// goes on still find it going.
fn slow_duration(days: u32) -> String {
    let days = if cfg!(debug_assertions) {
        days
    } else {
        (5 * days).min(3_650)
    };
    format!("simulation.duration={days}d")
}

/// The slow sweep's arguments: 3 points x 2 replications, one run at a time.
fn slow_args<'a>(scenario: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec![
        "sweep",
        scenario.to_str().unwrap(),
        "--vary",
        "fleet.db.count=10,20,30",
        "--replications",
        "2",
        "--threads",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]
}

fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(BIN)
        .args(args)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (up to a minute) until `f` holds.
fn wait_until(what: &str, f: impl Fn() -> bool) {
    let t0 = std::time::Instant::now();
    while !f() {
        assert!(t0.elapsed().as_secs() < 60, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Sends `signal` (INT, TERM, KILL) to `pid` with the shell's builtin `kill`.
fn signal(pid: u32, signal: &str) {
    let s = Command::new("sh")
        .args(["-c", &format!("kill -{signal} {pid}")])
        .status()
        .unwrap();
    assert!(s.success());
}

/// The pid that a shell's `$$` had, now exited: a process that is surely gone.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// This machine's name as staging directory names record it.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Every path under `dir` whose name contains `part` (relative to `dir`).
fn named(dir: &Path, part: &str) -> Vec<String> {
    fn walk(root: &Path, d: &Path, part: &str, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap().to_string_lossy().contains(part) {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
            if p.is_dir() {
                walk(root, &p, part, out);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, part, &mut v);
    v.sort();
    v
}

/// A second process on the same shard refuses (exit 2, naming the first one's pid) instead
/// of deleting the first one's partial runs; so do overlapping shards, `merge` and a dry
/// run. The first sweep completes normally.
#[cfg(unix)]
#[test]
fn same_shard_twice_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let s = slow_scenario(t.path());
    let out = t.path().join("sw");
    let mut args = slow_args(&s, &out);
    // Four months a run (the sweep takes 2.7 s in a debug build, idle): the first sweep
    // must outlast the four checks below on a loaded machine, where three weeks (0.6 s)
    // did not always.
    let four_months = slow_duration(120);
    args.extend(["--set", &four_months]);
    let mut first = spawn(&args);
    let pid = first.id();
    let lock = out.join(".lock-shard-0-of-1");
    wait_until("the first sweep's lock", || {
        std::fs::read_to_string(&lock).is_ok_and(|l| l.contains(&format!("\"pid\":{pid}")))
    });

    let second = bin(&args);
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "shard 0/1 is already being written there by pid {pid}"
        )) && err.contains("`backupsim sweep`")
            && err.contains(&format!("kill {pid}"))
            && err.contains("nothing was run"),
        "{err}"
    );
    let mut a = args.clone();
    a.extend(["--shard", "1/2"]);
    let overlap = bin(&a);
    let err = String::from_utf8_lossy(&overlap.stderr);
    assert_eq!(overlap.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("pid {pid}")) && err.contains("overlap shard 1/2's"),
        "{err}"
    );
    let o = out.to_str().unwrap();
    let merge = bin(&["merge", o, "--out", o]);
    let err = String::from_utf8_lossy(&merge.stderr);
    assert_eq!(merge.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("pid {pid}")) && err.contains("merge once every shard has finished"),
        "{err}"
    );
    let mut a = args.clone();
    a.push("--dry-run");
    let dry = bin(&a);
    assert_eq!(dry.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&dry.stderr).contains(&format!("pid {pid}")));
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first sweep ended before the checks: make its runs slower"
    );

    let o = first.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("6 run now, 0 already complete"), "{err}");
    assert!(out.join("sweep.csv").is_file());
    assert!(named(&out, ".partial-").is_empty());
    assert!(
        named(&out, ".lock-").is_empty(),
        "{:?}",
        named(&out, ".lock-")
    );
}

/// Shards of one count share a directory by design: two at once both complete, and the
/// merge equals a single-machine sweep.
#[cfg(unix)]
#[test]
fn different_shards_share_a_directory() {
    let t = tempfile::tempdir().unwrap();
    let s = slow_scenario(t.path());
    let shared = t.path().join("shared");
    let mut a0 = slow_args(&s, &shared);
    a0.extend(["--shard", "0/2"]);
    let mut a1 = slow_args(&s, &shared);
    a1.extend(["--shard", "1/2"]);
    let (c0, c1) = (spawn(&a0), spawn(&a1));
    let (o0, o1) = (
        c0.wait_with_output().unwrap(),
        c1.wait_with_output().unwrap(),
    );
    for (i, o) in [o0, o1].iter().enumerate() {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "shard {i}/2: {err}");
        assert!(
            err.contains(&format!("shard {i}/2: 3 of 6 runs; 3 run now")),
            "{err}"
        );
    }
    let d = shared.to_str().unwrap();
    ok(&["merge", d, "--out", d, "--quiet"]);
    let single = t.path().join("single");
    ok(&slow_args(&s, &single));
    assert_same_tree(&single, &shared);
    assert!(named(&shared, ".lock-").is_empty());
}

/// A `points/` staging directory left by a sweep killed while aggregating is removed by
/// the next aggregation (sweep or merge), unless a process of this machine that is still
/// running wrote it.
#[test]
fn stale_points_staging_is_cleaned() {
    let (t, s) = setup();
    let out = t.path().join("sw");
    sweep(&s, &out, &["--quiet", "--keep-runs"]);
    let reference = tree(&out);
    let (dead, host) = (dead_pid(), host());
    let plant = |name: &str| {
        let d = out.join(name);
        std::fs::create_dir_all(d.join("p000/histograms")).unwrap();
        std::fs::write(d.join("p000/summary.json"), "{").unwrap();
        name.to_string()
    };
    let stale = plant(&format!(".points.partial-{dead}@{host}-Ab12Cd"));
    let stale_old = plant(&format!(".points.partial-{dead}@{host}-Ab12Cd.old"));
    let legacy = plant(".points.partial-zzz");
    let live = plant(&format!(
        ".points.partial-{}@{host}-Live01",
        std::process::id()
    ));
    let msg = sweep(&s, &out, &["--keep-runs"]);
    assert!(msg.contains("0 run now, 8 already complete"), "{msg}");
    for gone in [&stale, &stale_old, &legacy] {
        assert!(!out.join(gone).exists(), "{gone} was not removed: {msg}");
    }
    assert!(
        msg.contains(&format!("left by pid {dead}, which is no longer running")),
        "{msg}"
    );
    assert!(
        out.join(&live).exists(),
        "a running process's staging was removed"
    );
    assert!(
        msg.contains(&format!(
            "pid {}, which wrote it, is still running",
            std::process::id()
        )),
        "{msg}"
    );
    std::fs::remove_dir_all(out.join(&live)).unwrap();
    assert!(reference == tree(&out), "the aggregates changed");

    // merge cleans up too.
    let stale = plant(&format!(".points.partial-{dead}@{host}-Xy34Zw"));
    let o = out.to_str().unwrap();
    ok(&["merge", o, "--out", o, "--quiet", "--keep-runs"]);
    assert!(!out.join(&stale).exists());
    assert!(reference == tree(&out));
    assert!(named(&out, ".partial-").is_empty());
}

/// `run --out DIR` removes the `.DIR.partial-*` directories of earlier runs whose process
/// is gone (here one killed with SIGKILL), and leaves, saying so, those of a process still
/// running and those whose owner it cannot tell.
#[cfg(unix)]
#[test]
fn stale_run_staging_of_dead_process_is_cleaned() {
    let t = tempfile::tempdir().unwrap();
    let slow = slow_scenario(t.path());
    let out = t.path().join("res");
    let o = out.to_str().unwrap();
    let child = Command::new(BIN)
        .args(["run", slow.to_str().unwrap(), "--quiet", "--out", o])
        .args(["--set", &slow_duration(200)])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let prefix = format!(".res.partial-{pid}@{}-", host());
    let staged = || named(t.path(), &prefix);
    wait_until("the run's staging directory", || !staged().is_empty());
    signal(pid, "KILL");
    let status = child.wait_with_output().unwrap().status;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let left = staged();
    assert_eq!(
        left.len(),
        1,
        "SIGKILL leaves the staging directory: {left:?}"
    );

    let live = format!(".res.partial-{}@{}-Live01", std::process::id(), host());
    let legacy = ".res.partial-Legacy".to_string();
    let elsewhere = ".res.partial-4242@some-other-host-Oth3r0".to_string();
    for d in [&live, &legacy, &elsewhere] {
        std::fs::create_dir(t.path().join(d)).unwrap();
    }
    let (_keep, tiny) = setup();
    let r = bin(&["run", tiny.to_str().unwrap(), "--out", o, "--no-plots"]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{err}");
    assert!(
        staged().is_empty(),
        "the dead run's staging is still there: {err}"
    );
    assert!(
        err.contains(&format!("left by pid {pid}, which is no longer running")),
        "{err}"
    );
    for d in [&live, &legacy, &elsewhere] {
        assert!(t.path().join(d).exists(), "{d} was removed");
    }
    assert!(err.contains("which wrote it, is still running"), "{err}");
    assert!(err.contains("its name records no owner"), "{err}");
    assert!(
        err.contains(
            "pid 4242 on host some-other-host, whose processes cannot be checked from here"
        ),
        "{err}"
    );
    assert!(out.join("summary.json").is_file());
}

/// Signals `signal` to a sweep once its first run is complete, then resumes it: the result
/// is byte for byte that of an uninterrupted sweep, with no staging directory or lock file
/// left. `status` is the expected exit status (`None`: killed by the signal). The resumed
/// sweep takes the shard lock, so the killed one's lock was released by the system.
#[cfg(unix)]
fn interrupt_and_resume(sig: &str, status: Option<i32>) {
    let (t, _) = setup();
    let big = t.path().join("big.toml");
    // Slower runs (a few hundred VMs, two weeks) so that the signal lands mid-sweep.
    std::fs::write(
        &big,
        TINY.replace("duration = \"3d\"", "duration = \"14d\"")
            .replace("count = 30", "count = 600"),
    )
    .unwrap();
    let out = t.path().join("sw");
    let args = [
        "sweep",
        big.to_str().unwrap(),
        "--vary",
        "fleet.db.count=10,20,30",
        "--replications",
        "2",
        "--threads",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    let child = spawn(&args);
    // Wait for the first complete run, then signal.
    let first = out.join("runs/p000/rep-0/summary.json");
    wait_until("the first run", || first.exists());
    signal(child.id(), sig);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    if o.status.success() {
        eprintln!("the sweep finished before SIG{sig}; nothing to check");
        return;
    }
    assert_eq!(o.status.code(), status, "SIG{sig}: {err}");
    if status.is_some() {
        assert!(
            err.contains("runs complete in")
                && err.contains("of 6 runs")
                && err.contains("re-run the same command to resume"),
            "{err}"
        );
    } else {
        // Nothing ran in the killed process: its lock file stays, unlocked.
        assert!(out.join(".lock-shard-0-of-1").exists());
    }
    let o = bin(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "resuming after SIG{sig}: {err}");
    assert!(err.contains("already complete"), "{err}");
    let reference = t.path().join("ref");
    let mut a = args.to_vec();
    let n = a.len();
    a[n - 1] = reference.to_str().unwrap();
    a[n - 3] = "2";
    let o = Command::new(BIN).args(&a).arg("--quiet").output().unwrap();
    assert!(o.status.success());
    assert_same_tree(&reference, &out);
    assert!(
        named(&out, ".partial-").is_empty(),
        "{:?}",
        named(&out, ".partial-")
    );
    assert!(
        named(&out, ".lock-").is_empty(),
        "{:?}",
        named(&out, ".lock-")
    );
}

/// Ctrl-C (SIGINT) stops the sweep, keeps complete runs, says how to resume (exit 130);
/// resuming finishes it with the same results as an uninterrupted sweep.
#[cfg(unix)]
#[test]
fn interrupt_then_resume() {
    interrupt_and_resume("INT", Some(130));
}

/// SIGTERM (what Slurm sends at a time limit or `scancel`): exit 143, then as Ctrl-C.
#[cfg(unix)]
#[test]
fn sigterm_sweep_resumes() {
    interrupt_and_resume("TERM", Some(143));
}

/// SIGKILL leaves staging directories and the lock file behind; resuming removes both.
#[cfg(unix)]
#[test]
fn sigkill_sweep_resumes() {
    interrupt_and_resume("KILL", None);
}

#[test]
fn status_counts_done_and_remaining() {
    let (t, s) = setup();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    let status = |dirs: &[&Path]| -> String {
        let mut args = vec!["status"];
        args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
        let o = bin(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    sweep(&s, &a, &["--shard", "0/2", "--quiet", "--no-plots"]);
    let st = status(&[&a]);
    assert!(
        st.starts_with("sweep tiny: 4 point(s) x 2 replication(s) = 8 runs\n"),
        "{st}"
    );
    assert!(
        st.contains("done: 4\nrunning: 0\nfailed: 0\nremaining: 4\n"),
        "{st}"
    );
    assert!(st.contains("estimated time left: about "), "{st}");
    // A run a killed process left unfinished counts as failed.
    let left = a
        .join("runs/p000")
        .join(format!(".rep-1.partial-{}@{}-Zz9", dead_pid(), host()));
    std::fs::create_dir_all(&left).unwrap();
    let st = status(&[&a]);
    assert!(
        st.contains("done: 4\nrunning: 0\nfailed: 1 (left unfinished"),
        "{st}"
    );
    assert!(st.contains("\nremaining: 3\n"), "{st}");
    sweep(&s, &b, &["--shard", "1/2", "--quiet", "--no-plots"]);
    let st = status(&[&a, &b]);
    assert!(
        st.contains("done: 8\nrunning: 0\nfailed: 0\nremaining: 0\n"),
        "{st}"
    );
    assert!(st.contains("estimated time left: none"), "{st}");

    // While a sweep runs: its run in progress and its lock, with the pid.
    let slow = slow_scenario(t.path());
    let out = t.path().join("running");
    let mut args = slow_args(&slow, &out);
    let three_weeks = slow_duration(21);
    args.extend(["--set", &three_weeks, "--no-plots"]);
    let mut child = spawn(&args);
    let pid = child.id();
    wait_until("a run in progress", || {
        // The first run's staging directory (read_dir tolerates it being renamed meanwhile).
        std::fs::read_dir(out.join("runs/p000")).is_ok_and(|rd| {
            rd.flatten()
                .any(|e| e.file_name().to_string_lossy().contains(".partial-"))
        })
    });
    let st = status(&[&out]);
    // A sweep that finished (and was reaped here) has no pid left to signal.
    let done = child.try_wait().unwrap().is_some();
    if !done {
        signal(pid, "KILL");
    }
    let _ = child.wait();
    if !done {
        assert!(st.contains("running: 1\n"), "{st}");
        assert!(
            st.contains(&format!("shard 0/1 in {}: pid {pid}", out.display())),
            "{st}"
        );
    }
    // Not a sweep directory: exit 2.
    let o = bin(&["status", t.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a sweep directory"));
}

//! `backupsim sweep` and `backupsim merge`, driven through the built binary: the outputs
//! do not depend on threads, sharding or interruption, and every run can be reproduced
//! alone with `backupsim run`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::common::tree;

const BIN: &str = env!("CARGO_BIN_EXE_backupsim");

/// A scenario small enough that a run takes milliseconds: 40 VMs, 3 days.
const TINY: &str = super::common::TINY_SWEEP;

/// The grid used throughout: 2 × 2 points × 2 replications = 8 runs.
const GRID: [&str; 6] = [
    "--vary",
    "fleet.web.count=20,40",
    "--vary",
    "link.wan.bandwidth=1 Gbit/s,100 Mbit/s",
    "--replications",
    "2",
];

fn setup() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let s = t.path().join("tiny.toml");
    std::fs::write(&s, TINY).unwrap();
    (t, s)
}

fn bin(args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        // --shard auto must not pick up a scheduler this test happens to run under.
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    out
}

fn ok(args: &[&str]) -> String {
    let o = bin(args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{args:?} failed: {err}");
    err
}

fn sweep(scenario: &Path, out: &Path, extra: &[&str]) -> String {
    let mut a = vec!["sweep", scenario.to_str().unwrap()];
    a.extend(GRID);
    a.extend(["--out", out.to_str().unwrap()]);
    a.extend(extra);
    ok(&a)
}

fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(
        ta.keys().collect::<Vec<_>>(),
        tb.keys().collect::<Vec<_>>(),
        "file lists differ"
    );
    for (k, v) in &ta {
        assert!(
            v == &tb[k],
            "{k} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

#[test]
fn layout_and_thread_independence() {
    let (t, s) = setup();
    let (one, two) = (t.path().join("one"), t.path().join("two"));
    sweep(&s, &one, &["--threads", "1", "--keep-runs"]);
    sweep(&s, &two, &["--threads", "2", "--keep-runs"]);
    assert_same_tree(&one, &two);

    for f in ["sweep.json", "sweep.csv", "runs.csv", "points.csv"] {
        assert!(one.join(f).is_file(), "{f}");
    }
    // Plots of the default metrics against each varied key (byte-identical across thread
    // counts: checked by assert_same_tree above).
    for m in [
        "backup.success_rate",
        "backup.duration.p99",
        "backup.window.miss_rate",
    ] {
        for k in ["fleet.web.count", "link.wan.bandwidth"] {
            let svg = one.join(format!("plots/sweep_{m}_by_{k}.svg"));
            let text = std::fs::read_to_string(&svg).unwrap();
            assert!(text.contains("</svg>"), "{}", svg.display());
            assert!(text.contains(&format!(
                "{m} vs {k} — tiny (mean, 95% CI over 2 replications)"
            )));
            let png = std::fs::read(svg.with_extension("png")).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        }
    }
    let points = std::fs::read_to_string(one.join("points.csv")).unwrap();
    assert_eq!(
        points,
        "point,fleet.web.count,link.wan.bandwidth\np000,20,1 Gbit/s\np001,20,100 Mbit/s\np002,40,1 Gbit/s\np003,40,100 Mbit/s\n"
    );
    for p in ["p000", "p001", "p002", "p003"] {
        for r in 0..2 {
            let d = one.join("runs").join(p).join(format!("rep-{r}"));
            assert!(d.join("summary.json").is_file());
            assert!(
                !d.join("jobs.csv").exists(),
                "jobs.csv is off by default in sweeps"
            );
        }
        assert!(one
            .join("points")
            .join(p)
            .join("histograms/backup.duration.hdr")
            .is_file());
    }
    let sweep_csv = std::fs::read_to_string(one.join("sweep.csv")).unwrap();
    let head = sweep_csv.lines().next().unwrap();
    assert!(head.starts_with("point,fleet.web.count,link.wan.bandwidth,replications,"));
    assert!(head.contains("backup.success_rate.mean,backup.success_rate.sd,backup.success_rate.ci95_lo,backup.success_rate.ci95_hi"));
    assert_eq!(sweep_csv.lines().count(), 5);
    assert_eq!(
        std::fs::read_to_string(one.join("runs.csv"))
            .unwrap()
            .lines()
            .count(),
        9
    );

    // The merged histogram counts are the sum of the replications' counts.
    let psum: BTreeMap<String, f64> = serde_json::from_str(
        &std::fs::read_to_string(one.join("points/p000/summary.json")).unwrap(),
    )
    .unwrap();
    let rep = |r: u32| -> BTreeMap<String, f64> {
        serde_json::from_str(
            &std::fs::read_to_string(one.join(format!("runs/p000/rep-{r}/summary.json"))).unwrap(),
        )
        .unwrap()
    };
    let attempts = |m: &BTreeMap<String, f64>| m["backup.jobs.succeeded"];
    assert_eq!(
        psum["backup.duration.count"],
        attempts(&rep(0)) + attempts(&rep(1))
    );

    // --jobs-csv on writes each run's jobs.csv.
    let j = t.path().join("jobs");
    ok(&[
        "sweep",
        s.to_str().unwrap(),
        "--replications",
        "1",
        "--out",
        j.to_str().unwrap(),
        "--jobs-csv",
        "on",
        "--quiet",
        "--keep-runs",
    ]);
    assert!(j.join("runs/p000/rep-0/jobs.csv").is_file());
}

#[test]
fn one_run_reproduced_alone_with_its_seed() {
    let (t, s) = setup();
    let out = t.path().join("sw");
    sweep(&s, &out, &["--quiet", "--keep-runs"]);
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(runs.as_bytes());
    let row = rdr.records().nth(5).unwrap().unwrap(); // p002, rep-1
    let (point, rep, seed, count, bw) = (&row[0], &row[1], &row[2], &row[3], &row[4]);
    assert_eq!((point, rep), ("p002", "1"));
    let alone = t.path().join("alone");
    ok(&[
        "run",
        s.to_str().unwrap(),
        "--set",
        &format!("fleet.web.count={count}"),
        "--set",
        &format!("link.wan.bandwidth={bw}"),
        "--set",
        &format!("simulation.seed={seed}"),
        "--out",
        alone.to_str().unwrap(),
        "--quiet",
        "--no-plots",
    ]);
    let a = std::fs::read(alone.join("summary.json")).unwrap();
    let b = std::fs::read(out.join("runs/p002/rep-1/summary.json")).unwrap();
    assert!(
        a == b,
        "summary.json of the lone run differs from the sweep's"
    );
    assert_eq!(
        std::fs::read(alone.join("scenario.resolved.toml")).unwrap(),
        std::fs::read(out.join("runs/p002/rep-1/scenario.resolved.toml")).unwrap()
    );
}

#[test]
fn shards_merge_to_the_single_machine_sweep() {
    let (t, s) = setup();
    let full = t.path().join("full");
    sweep(&s, &full, &["--quiet"]);

    // Separate shard directories, merged into a new one.
    let (a, b, m) = (
        t.path().join("a"),
        t.path().join("b"),
        t.path().join("merged"),
    );
    let msg = sweep(&s, &a, &["--shard", "0/2"]);
    assert!(msg.contains("shard 0/2: 4 of 8 runs"), "{msg}");
    assert!(
        !a.join("sweep.csv").exists(),
        "a shard writes no aggregates"
    );
    assert!(!a.join("plots").exists(), "a shard draws no plots");
    sweep(&s, &b, &["--shard", "1/2", "--quiet"]);

    // A shard missing: exit 2, naming the missing runs.
    let o = bin(&["merge", a.to_str().unwrap(), "--out", m.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("4 of 8 runs are missing: p000/rep-1, p001/rep-1, p002/rep-1, p003/rep-1"),
        "{err}"
    );
    assert!(!m.exists(), "a failed merge writes nothing");

    ok(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
        "--quiet",
    ]);
    assert_same_tree(&full, &m);

    // All shards writing into one directory (a shared filesystem), merged in place.
    let shared = t.path().join("shared");
    sweep(&s, &shared, &["--shard", "1/3", "--quiet"]);
    sweep(&s, &shared, &["--shard", "0/3", "--quiet"]);
    sweep(&s, &shared, &["--shard", "2/3", "--quiet"]);
    ok(&[
        "merge",
        shared.to_str().unwrap(),
        "--out",
        shared.to_str().unwrap(),
        "--quiet",
    ]);
    assert_same_tree(&full, &shared);

    // A plain sweep completes a directory where only some shards ran.
    let partial = t.path().join("partial");
    sweep(&s, &partial, &["--shard", "1/2", "--quiet"]);
    let msg = sweep(&s, &partial, &[]);
    assert!(msg.contains("4 run now, 4 already complete"), "{msg}");
    assert_same_tree(&full, &partial);

    // Shards of a different sweep are refused.
    let other = t.path().join("other");
    ok(&[
        "sweep",
        s.to_str().unwrap(),
        "--vary",
        "fleet.web.count=20,40",
        "--replications",
        "2",
        "--shard",
        "1/2",
        "--out",
        other.to_str().unwrap(),
        "--quiet",
    ]);
    let o = bin(&[
        "merge",
        a.to_str().unwrap(),
        other.to_str().unwrap(),
        "--out",
        t.path().join("m2").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("not shards of the same sweep (they differ in: --vary values)"));
}

#[test]
fn plot_metrics_no_plots_and_replotting() {
    let (t, s) = setup();
    let out = t.path().join("sw");
    let o = out.to_str().unwrap();
    let plots = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d.join("plots"))
            .map(|rd| {
                rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    sweep(&s, &out, &["--no-plots", "--quiet"]);
    assert!(plots(&out).is_empty(), "--no-plots drew plots");
    // merge follows the sweep's recorded choice...
    ok(&["merge", o, "--out", o, "--quiet"]);
    assert!(plots(&out).is_empty());

    // ...and `plot DIR` draws the default plots of a sweep directory.
    let printed = bin(&["plot", o]);
    assert!(printed.status.success());
    assert_eq!(
        String::from_utf8_lossy(&printed.stdout).lines().count(),
        12,
        "3 metrics x 2 keys x (svg, png)"
    );
    assert_eq!(plots(&out).len(), 12);

    // A metric no run writes is refused before anything runs, with the closest names.
    let r = bin(&[
        "sweep",
        s.to_str().unwrap(),
        "--vary",
        "fleet.web.count=20,40",
        "--vary",
        "link.wan.bandwidth=1 Gbit/s,100 Mbit/s",
        "--replications",
        "2",
        "--out",
        o,
        "--plot-metric",
        "backup.jobs.totl",
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("did you mean backup.jobs.total"), "{err}");
    // Chosen metrics (resuming: nothing is re-run) replace the earlier plots.
    let msg = sweep(&s, &out, &["--plot-metric", "backup.jobs.total"]);
    assert!(msg.contains("0 run now, 8 already complete"), "{msg}");
    assert_eq!(
        plots(&out),
        [
            "sweep_backup.jobs.total_by_fleet.web.count.png",
            "sweep_backup.jobs.total_by_fleet.web.count.svg",
            "sweep_backup.jobs.total_by_link.wan.bandwidth.png",
            "sweep_backup.jobs.total_by_link.wan.bandwidth.svg",
        ]
    );
    let before = tree(&out);
    // merge re-draws the metrics recorded in sweep.json, identically.
    ok(&["merge", o, "--out", o, "--quiet"]);
    assert!(before == tree(&out), "merge changed the plots");
    ok(&["merge", o, "--out", o, "--quiet", "--no-plots"]);
    assert!(before == tree(&out));

    // --no-plots and --plot-metric contradict each other.
    let r = bin(&[
        "sweep",
        s.to_str().unwrap(),
        "--no-plots",
        "--plot-metric",
        "x",
        "--out",
        o,
    ]);
    assert_eq!(r.status.code(), Some(2));
}

#[test]
fn resume_redoes_only_missing_runs() {
    let (t, s) = setup();
    let out = t.path().join("sw");
    sweep(&s, &out, &["--quiet", "--keep-runs"]);
    let before = tree(&out);
    let run_json = |p: &str| std::fs::read(out.join(p).join("run.json")).unwrap();
    let kept: Vec<(String, Vec<u8>)> = ["runs/p000/rep-0", "runs/p001/rep-1", "runs/p003/rep-1"]
        .iter()
        .map(|p| (p.to_string(), run_json(p)))
        .collect();

    std::fs::remove_dir_all(out.join("runs/p002/rep-0")).unwrap();
    // A staging directory left by a killed process is cleaned up.
    std::fs::create_dir_all(out.join("runs/p002/.rep-0.partial-zzz")).unwrap();
    std::fs::remove_file(out.join("sweep.csv")).unwrap();
    let msg = sweep(&s, &out, &["--keep-runs"]);
    assert!(msg.contains("1 run now, 7 already complete"), "{msg}");
    for (p, bytes) in kept {
        assert!(run_json(&p) == bytes, "{p} was redone");
    }
    assert!(!out.join("runs/p002/.rep-0.partial-zzz").exists());
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        tree(&out).keys().collect::<Vec<_>>()
    );
    assert!(before == tree(&out), "outputs changed after resuming");

    // Re-running a complete sweep simulates nothing.
    let msg = sweep(&s, &out, &[]);
    assert!(msg.contains("0 run now, 8 already complete"), "{msg}");

    // The same directory with another sweep definition is refused.
    let o = bin(&[
        "sweep",
        s.to_str().unwrap(),
        "--vary",
        "fleet.web.count=20,40",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("holds a different sweep (differs in: --vary values, --replications)"),
        "{err}"
    );
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let (t, s) = setup();
    let sc = s.to_str().unwrap();
    let out = t.path().join("x");
    let o = out.to_str().unwrap();
    let cases: [(&[&str], &str); 10] = [
        (
            &["--vary", "fleet.web.count"],
            "--vary fleet.web.count: expected KEY=V1,V2,...",
        ),
        (&["--vary", "fleet.web.count=1,,2"], "value 2 is empty"),
        (
            &["--vary", "fleet.web.count=1,1"],
            "value \"1\" is given twice",
        ),
        (
            &["--vary", "fleet.nope.count=1,2"],
            "no [[fleet]] named \"nope\" (found: web, db)",
        ),
        (&["--vary", "fleet.web.colour=1,2"], "unknown key `colour`"),
        (
            &["--vary", "fleet.web.count=10,ten"],
            "point p001 (fleet.web.count=ten)",
        ),
        (
            &["--vary", "fleet.web.count=1", "--set", "fleet.web.count=2"],
            "also varied",
        ),
        (&["--shard", "2/2"], "--shard 2/2: expected 0 <= I < N"),
        (&["--shard", "auto"], "found neither"),
        (&["--replications", "0"], "--replications 0"),
    ];
    for (extra, want) in cases {
        let mut a = vec!["sweep", sc, "--out", o];
        a.extend(extra);
        let r = bin(&a);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: expected {want:?} in: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.join("runs").exists(), "{extra:?} ran something");
    }
    let r = bin(&["merge", t.path().to_str().unwrap(), "--out", o]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("not a sweep directory"));
}

// ---------------------------------------------------------------------------------------
// Concurrency, interruption and cleanup.

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
    // Three weeks a run: the first sweep must outlast the four checks below on a loaded
    // machine.
    args.extend(["--set", "simulation.duration=21d"]);
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
        .args(["--set", "simulation.duration=200d"])
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

/// `sweep --dry-run` checks every point and the directory, and writes nothing.
#[test]
fn dry_run_checks_every_point_and_writes_nothing() {
    let (t, s) = setup();
    let sc = s.to_str().unwrap();
    let out = t.path().join("sw");
    let o = out.to_str().unwrap();
    let mut a = vec!["sweep", sc, "--out", o, "--dry-run"];
    a.extend(GRID);
    let err = ok(&a);
    assert!(
        err.contains("4 point(s) x 2 replication(s) = 8 runs; every point's scenario is valid")
            && err.contains("nothing was run (--dry-run)"),
        "{err}"
    );
    assert!(!out.exists(), "a dry run wrote {}", out.display());
    let bad = bin(&[
        "sweep",
        sc,
        "--out",
        o,
        "--dry-run",
        "--vary",
        "fleet.web.count=10,ten",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("point p001 (fleet.web.count=ten)"));

    sweep(&s, &out, &["--quiet", "--shard", "0/2"]);
    let err = ok(&a);
    assert!(
        err.contains("holds this sweep, 4 of 8 runs complete"),
        "{err}"
    );
    let other = bin(&["sweep", sc, "--out", o, "--dry-run"]);
    assert_eq!(other.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&other.stderr).contains("holds a different sweep"));
}

/// Rows of a CSV file as column → cell maps.
fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    csv_rows_of(&std::fs::read_to_string(path).unwrap())
}

/// The text of a gzip-compressed file.
fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut text,
    )
    .unwrap();
    text
}

/// Rows of CSV text as column → cell maps.
fn csv_rows_of(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            head.iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// A metric of runs.csv for one point, by replication.
fn run_values(dir: &Path, point: &str, metric: &str) -> Vec<f64> {
    csv_rows(&dir.join("runs.csv"))
        .iter()
        .filter(|r| r["point"] == point)
        .map(|r| r[metric].parse().unwrap())
        .collect()
}

fn adaptive(scenario: &Path, out: &Path, extra: &[&str]) -> String {
    adaptive_capped(scenario, out, "30", extra)
}

fn adaptive_capped(scenario: &Path, out: &Path, cap: &str, extra: &[&str]) -> String {
    let mut a = vec![
        "sweep",
        scenario.to_str().unwrap(),
        "--vary",
        "fleet.web.count=20,40",
        "--replications",
        "3",
        "--target",
        "backup.duration.mean=20%",
        "--max-replications",
        cap,
        "--no-plots",
        "--out",
        out.to_str().unwrap(),
    ];
    a.extend(extra);
    ok(&a)
}

#[test]
fn adaptive_sweep_stops_within_its_target() {
    use backupsim::outputs::sweeps::rel_halfwidth;
    let (t, s) = setup();
    let out = t.path().join("ad");
    adaptive(&s, &out, &["--quiet"]);
    let def: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(def["targets"][0]["metric"], "backup.duration.mean");
    assert_eq!(def["targets"][0]["rel_halfwidth"], 0.2);
    assert_eq!(def["max_replications"], 30);
    let rows = csv_rows(&out.join("sweep.csv"));
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let p = &row["point"];
        let n: usize = row["replications"].parse().unwrap();
        let xs = run_values(&out, p, "backup.duration.mean");
        assert_eq!(xs.len(), n, "{p}: runs.csv has every replication used");
        assert!(
            n > 3 && n < 30,
            "{p}: {n} replications: neither the start nor the cap"
        );
        // Met at n, and at no earlier count: the sweep stopped as soon as it was.
        let h = rel_halfwidth(&xs).unwrap();
        assert!(h <= 0.2, "{p}: half-width {h} at {n}");
        for m in 3..n {
            let hm = rel_halfwidth(&xs[..m]).unwrap();
            assert!(hm > 0.2, "{p}: already met at {m} ({hm}) but ran {n}");
        }
        assert_eq!(row["target.backup.duration.mean.met"], "true");
        assert_eq!(
            row["target.backup.duration.mean.rel_halfwidth"]
                .parse::<f64>()
                .unwrap(),
            h
        );
        // No run beyond the last one used.
        assert!(!out.join(format!("runs/{p}/rep-{n}")).exists());
    }
    // A cap below what the target needs: stopped at the cap, the target marked unmet.
    let capped = t.path().join("capped");
    adaptive_capped(&s, &capped, "4", &["--quiet"]);
    for row in csv_rows(&capped.join("sweep.csv")) {
        assert_eq!(row["replications"], "4");
        assert_eq!(row["target.backup.duration.mean.met"], "false");
    }
}

#[test]
fn adaptive_sweep_is_thread_independent() {
    let (t, s) = setup();
    let (one, two, shared) = (
        t.path().join("one"),
        t.path().join("two"),
        t.path().join("shared"),
    );
    adaptive(&s, &one, &["--threads", "1", "--quiet"]);
    adaptive(&s, &two, &["--threads", "2", "--quiet"]);
    assert_same_tree(&one, &two);
    // Shards split by point: each runs its points' rounds to the end alone.
    adaptive(&s, &shared, &["--shard", "0/2", "--quiet"]);
    assert!(shared.join("runs/p000").is_dir() && !shared.join("runs/p001").exists());
    adaptive(&s, &shared, &["--shard", "1/2", "--quiet"]);
    let sh = shared.to_str().unwrap();
    ok(&["merge", sh, "--out", sh, "--no-plots", "--quiet"]);
    assert_same_tree(&one, &shared);
}

#[test]
fn target_on_unknown_metric_suggests_names() {
    let (t, s) = setup();
    let out = t.path().join("never");
    let sc = s.to_str().unwrap();
    let o = out.to_str().unwrap();
    let fails = |extra: &[&str], want: &[&str]| {
        let mut a = vec!["sweep", sc, "--out", o];
        a.extend(extra);
        let r = bin(&a);
        let err = String::from_utf8_lossy(&r.stderr).to_string();
        assert_eq!(r.status.code(), Some(2), "{extra:?}: {err}");
        for w in want {
            assert!(err.contains(w), "{extra:?}: expected {w:?} in: {err}");
        }
        assert!(!out.exists(), "{extra:?} wrote {}", out.display());
    };
    fails(
        &["--target", "backup.duraton.p99=2%"],
        &["backup.duraton.p99", "did you mean backup.duration.p99"],
    );
    fails(&["--target", "backup.duration.p99=0%"], &["above 0"]);
    fails(&["--target", "backup.duration.p99=-2%"], &["above 0"]);
    fails(&["--target", "backup.duration.p99=two"], &["half-width"]);
    fails(&["--target", "backup.duration.p99"], &["METRIC=HALFWIDTH"]);
    fails(
        &[
            "--target",
            "backup.duration.p99=2%",
            "--replications",
            "5",
            "--max-replications",
            "4",
        ],
        &["--max-replications 4", "at least --replications (5)"],
    );
    fails(&["--max-replications", "9"], &["only goes with --target"]);
    fails(&["--baseline", "p000"], &["--common-seeds"]);
    fails(
        &[
            "--common-seeds",
            "--baseline",
            "p007",
            "--vary",
            "fleet.web.count=1,2",
        ],
        &["--baseline p007", "p001"],
    );
}

#[test]
fn paired_difference_ci_is_narrower_with_common_seeds() {
    use backupsim::outputs::sweeps::stats;
    let (t, s) = setup();
    let m = "backup.duration.mean";
    let width = |dir: &Path, extra: &[&str]| -> (f64, Vec<BTreeMap<String, String>>) {
        let mut a = vec![
            "sweep",
            s.to_str().unwrap(),
            "--vary",
            "link.wan.bandwidth=1 Gbit/s,800 Mbit/s",
            "--replications",
            "4",
            "--no-plots",
            "--quiet",
            "--out",
            dir.to_str().unwrap(),
        ];
        a.extend(extra);
        ok(&a);
        let (x, y) = (run_values(dir, "p000", m), run_values(dir, "p001", m));
        let d: Vec<f64> = y.iter().zip(&x).map(|(b, a)| b - a).collect();
        let (lo, hi) = stats(&d).unwrap().ci95.unwrap();
        (hi - lo, csv_rows(&dir.join("sweep.csv")))
    };
    let (crn, rows) = width(&t.path().join("crn"), &["--common-seeds"]);
    let (indep, indep_rows) = width(&t.path().join("indep"), &[]);
    assert!(
        crn * 2.0 < indep,
        "common seeds: paired CI width {crn}, independent seeds {indep}"
    );
    // sweep.csv gives the paired difference to the baseline (the first point) and its CI.
    let lo: f64 = rows[1][&format!("{m}.diff_ci95_lo")].parse().unwrap();
    let hi: f64 = rows[1][&format!("{m}.diff_ci95_hi")].parse().unwrap();
    assert!((hi - lo - crn).abs() < 1e-6 * crn, "{lo}..{hi} vs {crn}");
    assert_eq!(rows[0][&format!("{m}.diff")], "0");
    assert!(!indep_rows[0].contains_key(&format!("{m}.diff")));
    // --baseline by values: the other point.
    let (_, rows) = width(
        &t.path().join("base"),
        &[
            "--common-seeds",
            "--baseline",
            "link.wan.bandwidth=800 Mbit/s",
        ],
    );
    assert_eq!(rows[1][&format!("{m}.diff")], "0");
    let d: f64 = rows[0][&format!("{m}.diff")].parse().unwrap();
    assert!(d < 0.0, "the faster link is quicker: {d}");
}

#[test]
fn long_csv_has_one_row_per_run_and_metric() {
    let (t, s) = setup();
    let out = t.path().join("long");
    sweep(&s, &out, &["--no-plots", "--quiet"]);
    let runs = csv_rows(&out.join("runs.csv"));
    let text = gunzip(&out.join("sweep.long.csv.gz"));
    let long = csv_rows_of(&text);
    let head = text;
    assert!(head.starts_with("point,fleet.web.count,link.wan.bandwidth,replication,metric,value\n"));
    let skip = [
        "point",
        "replication",
        "seed",
        "fleet.web.count",
        "link.wan.bandwidth",
    ];
    let metrics: Vec<&String> = runs[0]
        .keys()
        .filter(|k| !skip.contains(&k.as_str()))
        .collect();
    assert_eq!(long.len(), runs.len() * metrics.len());
    // Run order, then metrics by name; the values are runs.csv's.
    let mut i = 0;
    for r in &runs {
        for m in &metrics {
            let l = &long[i];
            assert_eq!(
                (&l["point"], &l["replication"], &l["metric"], &l["value"]),
                (&r["point"], &r["replication"], *m, &r[*m])
            );
            assert_eq!(l["link.wan.bandwidth"], r["link.wan.bandwidth"]);
            i += 1;
        }
    }
    // costs.csv: one row per run, from run.json.
    let costs = csv_rows(&out.join("costs.csv"));
    assert_eq!(costs.len(), runs.len());
    for c in &costs {
        assert!(c["wall_seconds"].parse::<f64>().unwrap() > 0.0);
        assert!(c["events"].parse::<u64>().unwrap() > 0);
    }
    // Percentile columns: the mean over runs of each run's p99, and the p99 of the merged
    // histogram (points/<point>/summary.json), side by side.
    let sw = csv_rows(&out.join("sweep.csv"));
    let merged: BTreeMap<String, f64> = serde_json::from_str(
        &std::fs::read_to_string(out.join("points/p000/summary.json")).unwrap(),
    )
    .unwrap();
    let p99: f64 = sw[0]["backup.duration.p99.merged"].parse().unwrap();
    assert_eq!(p99, merged["backup.duration.p99"]);
    let per_run = run_values(&out, "p000", "backup.duration.p99");
    let mean: f64 = sw[0]["backup.duration.p99.mean"].parse().unwrap();
    assert_eq!(mean, per_run.iter().sum::<f64>() / per_run.len() as f64);
    assert!(!sw[0].contains_key("backup.success_rate.merged"));
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
    args.extend(["--set", "simulation.duration=21d", "--no-plots"]);
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
    let done = child.try_wait().unwrap().is_some();
    signal(pid, "KILL");
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

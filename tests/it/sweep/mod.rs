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

mod interrupt;
mod stats;

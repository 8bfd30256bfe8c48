//! Options for experiments on one run and on sweeps: batch means (`--batches`), the event
//! limit (`--run-max-events`) and the choice of outputs (`--outputs`), with their bad
//! input.

use std::path::Path;

use super::common::{bin, quickstart, stderr};

fn summary(dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn run(args: &[&str]) -> std::process::Output {
    bin().arg("run").args(args).output().unwrap()
}

/// The tiny sweep scenario, written into a new temporary directory.
fn tiny() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let sc = tmp.path().join("tiny.toml");
    std::fs::write(&sc, super::common::TINY_SWEEP).unwrap();
    (tmp, sc)
}

/// `backupsim sweep SCENARIO --no-plots --out OUT ARGS...`, which must succeed; its stderr.
fn sweep_ok(sc: &Path, out: &Path, args: &[&str]) -> String {
    let o = bin()
        .args(["sweep", sc.to_str().unwrap(), "--no-plots", "--out"])
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stderr(&o)
}

#[test]
fn run_batches_writes_batch_means_with_intervals() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = quickstart(tmp.path(), "q.toml", 20, 5, 6);
    let out = tmp.path().join("out");
    let o = run(&[
        sc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-plots",
        "--set",
        "simulation.warmup=\"1d\"",
        "--batches",
        "5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&out);
    let f = |k: &str| s[k].as_f64().unwrap_or_else(|| panic!("{k}"));
    // Five nights after the warm-up, one batch each: every batch has backups.
    let mean = f("batches.backup.duration.mean");
    let half = f("batches.backup.duration.mean.ci95");
    assert!(mean > 0.0 && half > 0.0, "{mean} ± {half}");
    assert!((mean - f("backup.duration.mean")).abs() < 3.0 * half.max(1.0));
    assert!(f("batches.backup.success_rate") > 0.5);
    assert!(s.contains_key("batches.rpo.mean.ci95"));
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["batches"], 5);
    assert!(
        stderr(&o).contains("backup.duration.mean over 5 batches"),
        "{}",
        stderr(&o)
    );
    // Without --batches: no batch keys.
    let plain = tmp.path().join("plain");
    let o = run(&[
        sc.to_str().unwrap(),
        "--out",
        plain.to_str().unwrap(),
        "--no-plots",
        "--quiet",
    ]);
    assert!(o.status.success());
    assert!(!summary(&plain).keys().any(|k| k.starts_with("batches.")));
}

#[test]
fn run_batches_below_two_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = quickstart(tmp.path(), "q.toml", 5, 1, 2);
    let out = tmp.path().join("out");
    for k in ["0", "1", "x"] {
        let o = run(&[
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--batches",
            k,
        ]);
        assert_eq!(o.status.code(), Some(2), "--batches {k}");
        let e = stderr(&o);
        assert!(e.contains("--batches") && e.contains("at least 2"), "{e}");
        assert!(!out.exists());
    }
}

fn files(dir: &Path) -> Vec<String> {
    super::common::tree(dir).into_keys().collect()
}

#[test]
fn run_outputs_pick_the_files_and_jobs_csv_stays_an_alias() {
    let (tmp, sc) = tiny();
    let go = |name: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        let mut a = vec![
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ];
        a.extend(extra);
        let o = run(&a);
        assert!(o.status.success(), "{}", stderr(&o));
        out
    };
    // summary.json, run.json and scenario.resolved.toml are always there.
    let only = go("only", &["--outputs", "summary"]);
    assert_eq!(files(&only), ["scenario.resolved.toml", "summary.json"]);
    assert!(only.join("run.json").is_file());
    let some = go(
        "some",
        &["--outputs", "summary,timeseries,jobs", "--no-plots"],
    );
    assert_eq!(
        files(&some),
        [
            "jobs.csv",
            "scenario.resolved.toml",
            "summary.json",
            "timeseries.csv"
        ]
    );
    // --jobs-csv off wins over jobs in --outputs; --jobs-csv on adds it.
    let off = go("off", &["--outputs", "jobs", "--jobs-csv", "off"]);
    assert!(!off.join("jobs.csv").exists());
    let on = go("on", &["--outputs", "histograms", "--jobs-csv", "on"]);
    assert!(on.join("jobs.csv").is_file() && on.join("histograms").is_dir());
    // The choice changes no metric.
    let all = go("all", &["--no-plots"]);
    assert_eq!(summary(&only), summary(&all));
    assert!(files(&all).contains(&"histograms/rpo.hdr".to_string()));
}

#[test]
fn unknown_output_is_refused_with_the_valid_names() {
    let (tmp, sc) = tiny();
    let out = tmp.path().join("out");
    for cmd in ["run", "sweep"] {
        let o = bin()
            .args([cmd, sc.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .args(["--outputs", "summary,bogus"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        let e = stderr(&o);
        assert!(
            e.contains("\"bogus\"") && e.contains("summary, histograms, timeseries, jobs, nights"),
            "{e}"
        );
        assert!(!out.exists());
    }
}

#[test]
fn sweep_outputs_default_to_what_the_aggregates_read() {
    let (tmp, sc) = tiny();
    let sweep = |name: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        let mut args = vec!["--replications", "2", "--quiet", "--keep-runs"];
        args.extend(extra);
        sweep_ok(&sc, &out, &args);
        out
    };
    let d = sweep("default", &[]);
    let run0: Vec<String> = files(&d.join("runs/p000/rep-0"));
    assert!(run0.iter().all(|f| f.starts_with("histograms/")
        || f == "summary.json"
        || f == "scenario.resolved.toml"));
    assert!(d.join("points/p000/histograms/rpo.hdr").is_file());
    // With the time series: the same aggregates, one more file per run.
    let ts = sweep("ts", &["--outputs", "summary,histograms,timeseries"]);
    assert!(ts.join("runs/p000/rep-1/timeseries.csv").is_file());
    for f in ["sweep.csv", "runs.csv", "sweep.long.csv.gz"] {
        assert_eq!(
            std::fs::read(d.join(f)).unwrap(),
            std::fs::read(ts.join(f)).unwrap(),
            "{f}"
        );
    }
    // Without histograms: no merged histograms, so no .merged columns.
    let bare = sweep("bare", &["--outputs", "summary"]);
    assert!(!bare.join("runs/p000/rep-0/histograms").exists());
    let head = std::fs::read_to_string(bare.join("sweep.csv")).unwrap();
    assert!(!head.lines().next().unwrap().contains(".merged"));
    // Resuming the default sweep with other outputs is another sweep.
    let o = bin()
        .args([
            "sweep",
            sc.to_str().unwrap(),
            "--replications",
            "2",
            "--quiet",
        ])
        .args(["--out", d.to_str().unwrap(), "--outputs", "summary"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--outputs"), "{}", stderr(&o));
}

#[test]
fn run_max_events_cuts_a_run_short_deterministically() {
    let (tmp, sc) = tiny();
    let go = |name: &str, n: &str| {
        let out = tmp.path().join(name);
        let o = run(&[
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-plots",
            "--run-max-events",
            n,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        (out, stderr(&o))
    };
    let (a, err) = go("a", "400");
    let (b, _) = go("b", "400");
    assert!(err.contains("cut short"), "{err}");
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["events"], 400);
    assert_eq!(run_json["cut_short"], true);
    assert_eq!(summary(&a)["run.cut_short"], 1.0);
    assert_eq!(super::common::tree(&a), super::common::tree(&b));
    // A limit the run never reaches changes nothing.
    let (c, _) = go("c", "100000000");
    let (d, _) = go("d", "1");
    assert!(!summary(&c).contains_key("run.cut_short"));
    assert_eq!(summary(&d)["run.cut_short"], 1.0);
    let o = run(&[
        sc.to_str().unwrap(),
        "--out",
        tmp.path().join("z").to_str().unwrap(),
        "--run-max-events",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("positive whole number"),
        "{}",
        stderr(&o)
    );
    assert!(!tmp.path().join("z").exists());
}

#[test]
fn sweep_goes_on_past_runs_cut_short_and_marks_them() {
    let (tmp, sc) = tiny();
    let sweep = |name: &str, threads: &str| {
        let out = tmp.path().join(name);
        let o = bin()
            .args(["sweep", sc.to_str().unwrap(), "--replications", "2"])
            .args([
                "--vary",
                "fleet.web.count=2,30",
                "--no-plots",
                "--threads",
                threads,
            ])
            .args(["--run-max-events", "300", "--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("2 of the 4 runs simulated now were cut short"),
            "{e}"
        );
        out
    };
    let one = sweep("one", "1");
    let two = sweep("two", "2");
    assert_eq!(super::common::tree(&one), super::common::tree(&two));
    let mut r = csv::Reader::from_path(one.join("runs.csv")).unwrap();
    let head = r.headers().unwrap().clone();
    let col = head
        .iter()
        .position(|h| h == "run.cut_short")
        .expect("column");
    let cut: Vec<String> = r.records().map(|x| x.unwrap()[col].to_string()).collect();
    // The small point finishes within the limit, the large one is cut short.
    assert_eq!(cut, ["0", "0", "1", "1"]);
}

/// Apparent bytes of every file under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                bytes_under(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

#[test]
fn finished_sweep_keeps_its_aggregates_and_drops_its_runs() {
    let (tmp, sc) = tiny();
    let sweep = |name: &str, reps: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        let mut args = vec!["--replications", reps, "--threads", "2"];
        args.extend(extra);
        let err = sweep_ok(&sc, &out, &args);
        (out, err)
    };
    let (kept, _) = sweep("kept", "4", &["--keep-runs", "--quiet"]);
    let (dropped, _) = sweep("dropped", "4", &["--quiet"]);
    assert!(kept.join("runs/p000/rep-3/summary.json").is_file());
    assert!(!dropped.join("runs").exists());
    // Dropping the runs changes nothing else, byte for byte.
    let mut a = super::common::tree(&kept);
    a.retain(|k, _| !k.starts_with("runs/"));
    assert!(a == super::common::tree(&dropped), "the aggregates differ");
    // Running it again, merging it onto itself or asking its status: finished.
    let (_, again) = sweep("dropped", "4", &[]);
    assert!(again.contains("0 run now, 4 already complete"), "{again}");
    let d = dropped.to_str().unwrap();
    let o = bin().args(["merge", d, "--out", d]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = bin().args(["status", d]).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("finished") && text.contains("done: 4"),
        "{text}"
    );
    // It holds no runs to merge into another directory.
    let other = tmp.path().join("other");
    let o = bin()
        .args(["merge", d, "--out", other.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no runs to merge"), "{}", stderr(&o));
    assert!(!other.exists());
}

/// Without the run directories, a finished sweep grows by its rows of runs.csv,
/// costs.csv and the compressed sweep.long.csv.gz: under 10 kB a run (so 10 000 runs of
/// a small scenario stay under 100 MB), per-fleet metrics included.
#[test]
fn a_finished_sweep_costs_under_10_kb_a_run() {
    let (tmp, sc) = tiny();
    let size = |reps: &str| {
        let out = tmp.path().join(reps);
        sweep_ok(&sc, &out, &["--replications", reps, "--quiet"]);
        let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
        assert!(runs
            .lines()
            .next()
            .unwrap()
            .contains("fleet.db.backup.success_rate"));
        bytes_under(&out)
    };
    let per_run = (size("30") - size("10")) / 20;
    assert!((1_000..10_000).contains(&per_run), "{per_run} bytes a run");
}

#[test]
fn run_max_wall_stops_a_run_and_marks_it_outside_the_guarantee() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = quickstart(tmp.path(), "q.toml", 240, 60, 14);
    let go = |name: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        let mut args = vec![sc.to_str().unwrap(), "--out", out.to_str().unwrap()];
        args.extend(["--no-plots", "--quiet"]);
        args.extend(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        out
    };
    // A microsecond has passed at the first check, after 16 384 events.
    let cut = go("cut", &["--run-max-wall", "1us"]);
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cut.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["events"], 16_384);
    assert_eq!(run_json["cut_short"], true);
    assert_eq!(run_json["deterministic"], false);
    assert!(run_json["notes"].to_string().contains("--run-max-wall"));
    let s = summary(&cut);
    assert_eq!(s["run.cut_short"], 1.0);
    assert_eq!(s["run.cut_short_wall"], 1.0);
    // A limit the run never reaches changes nothing.
    let (free, limited) = (go("free", &[]), go("limited", &["--run-max-wall", "1h"]));
    assert_eq!(
        std::fs::read(free.join("summary.json")).unwrap(),
        std::fs::read(limited.join("summary.json")).unwrap()
    );
    let o = run(&[sc.to_str().unwrap(), "--run-max-wall", "0s"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("positive wall-clock time"),
        "{}",
        stderr(&o)
    );
}

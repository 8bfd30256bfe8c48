//! The binary end to end: determinism, seeds, results directories and bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_backupsim"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A small, quick scenario with every kind of randomness in play.
fn small_scenario(dir: &Path) -> PathBuf {
    let src = std::fs::read_to_string("scenarios/quickstart.toml")
        .unwrap()
        .replace("count = 240", "count = 40")
        .replace("count = 60", "count = 10")
        .replace("duration = \"7d\"", "duration = \"3d\"")
        .replace("at = \"5d 10h\"", "at = \"2d 10h\"");
    let p = dir.join("small.toml");
    std::fs::write(&p, src).unwrap();
    p
}

fn run_to(scenario: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--no-plots",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "run failed: {}", stderr(&o));
    std::fs::read_to_string(out.join("summary.json")).unwrap()
}

#[test]
fn same_seed_same_bytes_and_set_seed_is_the_same_as_the_file() {
    let t = tempfile::tempdir().unwrap();
    let sc = small_scenario(t.path());
    let a = run_to(&sc, &t.path().join("a"), &[]);
    let b = run_to(&sc, &t.path().join("b"), &[]);
    assert_eq!(
        a, b,
        "same scenario and seed must give identical summary.json"
    );
    let c = run_to(&sc, &t.path().join("c"), &["--set", "simulation.seed=42"]);
    assert_eq!(
        a, c,
        "--set simulation.seed equal to the file's seed changes nothing"
    );
    let d = run_to(&sc, &t.path().join("d"), &["--seed", "42"]);
    assert_eq!(a, d);
    let e = run_to(&sc, &t.path().join("e"), &["--seed", "43"]);
    assert_ne!(a, e, "a different seed gives a different run");
    for f in [
        "summary.json",
        "run.json",
        "scenario.resolved.toml",
        "jobs.csv",
        "timeseries.csv",
        "histograms/backup.duration.hdr",
    ] {
        assert!(t.path().join("a").join(f).exists(), "{f} missing");
    }
    // Identical job logs too.
    let ja = std::fs::read(t.path().join("a/jobs.csv")).unwrap();
    let jb = std::fs::read(t.path().join("b/jobs.csv")).unwrap();
    assert_eq!(ja, jb);
}

#[test]
fn resolved_scenario_reproduces_the_run() {
    let t = tempfile::tempdir().unwrap();
    let sc = small_scenario(t.path());
    let a = run_to(
        &sc,
        &t.path().join("a"),
        &["--set", "fleet.web.count=30", "--seed", "9"],
    );
    let resolved = t.path().join("a/scenario.resolved.toml");
    let b = run_to(&resolved, &t.path().join("b"), &[]);
    assert_eq!(a, b);
    // And it is a fixed point: resolving the resolved file changes nothing.
    let r1 = std::fs::read_to_string(&resolved).unwrap();
    let r2 = std::fs::read_to_string(t.path().join("b/scenario.resolved.toml")).unwrap();
    assert_eq!(r1, r2);
}

#[test]
fn validate_accepts_every_shipped_scenario() {
    for e in std::fs::read_dir("scenarios").unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let o = run(&["validate", p.to_str().unwrap()]);
            assert!(o.status.success(), "{}: {}", p.display(), stderr(&o));
        }
    }
}

/// `:LINE:COL:` of the first line of the quickstart holding `pattern`.
fn at(pattern: &str, col: usize) -> String {
    let src = std::fs::read_to_string("scenarios/quickstart.toml").unwrap();
    let line = src
        .lines()
        .position(|l| l.contains(pattern))
        .expect("pattern in quickstart")
        + 1;
    format!(":{line}:{col}:")
}

/// Writes a broken copy of the quickstart, runs it, and checks the error names the file,
/// the line and column, the key, and what was expected and found; that the exit code is 2;
/// and that no results directory (complete or partial) was left behind.
fn bad(name: &str, from: &str, to: &str, expect: &[&str]) {
    let t = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string("scenarios/quickstart.toml").unwrap();
    assert!(src.contains(from), "{name}: pattern not in quickstart");
    let p = t.path().join(format!("{name}.toml"));
    std::fs::write(&p, src.replacen(from, to, 1)).unwrap();
    let out = t.path().join("out");
    let o = run(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
    let msg = stderr(&o);
    assert!(
        msg.contains(&format!("{name}.toml:")),
        "{name}: no file in {msg}"
    );
    for e in expect {
        assert!(msg.contains(e), "{name}: expected {e:?} in:\n{msg}");
    }
    assert!(!msg.contains("panicked"), "{msg}");
    assert!(!out.exists(), "{name}: results directory left behind");
    let leftovers: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "{name}: partial directory left behind"
    );
    // validate says the same.
    let v = run(&["validate", p.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(2));
}

#[test]
fn bad_toml_syntax() {
    bad(
        "syntax",
        "count = 240",
        "count = 240 x",
        &[&at("count = 240", 13), "invalid TOML"],
    );
}

#[test]
fn bad_unknown_key() {
    bad(
        "unknown",
        "running = 0.95",
        "runing = 0.95",
        &[
            &at("running = 0.95", 1),
            "key `fleet.web.runing`",
            "unknown key `runing`",
            "`running`",
        ],
    );
}

#[test]
fn bad_wrong_unit() {
    bad(
        "unit",
        "disk_size = \"128 GiB\"",
        "disk_size = \"128 parsecs\"",
        &[
            &at("disk_size = \"128 GiB\"", 13),
            "key `fleet.web.disk_size`",
            "expected a size",
            "found \"128 parsecs\"",
        ],
    );
}

#[test]
fn bad_bare_number_where_a_duration_is_expected() {
    bad(
        "bare",
        "start_within = \"2h\"",
        "start_within = 7200",
        &[
            "key `policy.nightly.start_within`",
            "expected a duration",
            "found the number 7200",
        ],
    );
}

#[test]
fn bad_reference() {
    bad(
        "reference",
        "policy = \"nightly\"\npath",
        "policy = \"nighty\"\npath",
        &[
            "key `fleet.web.policy`",
            "expected the name of a [[policy]] (one of: nightly)",
            "found \"nighty\"",
        ],
    );
}

#[test]
fn bad_negative_duration() {
    bad(
        "negative",
        "start_within = \"2h\"",
        "start_within = \"-2h\"",
        &[
            "key `policy.nightly.start_within`",
            "non-negative duration",
            "found \"-2h\"",
        ],
    );
}

#[test]
fn bad_unknown_distribution() {
    bad(
        "dist",
        "dist = \"lognormal\", mean = 0.03",
        "dist = \"lognormall\", mean = 0.03",
        &[
            "key `fleet.web.daily_churn`",
            "expected `dist` to be one of",
            "found \"lognormall\"",
        ],
    );
}

#[test]
fn bad_value_range() {
    bad(
        "range",
        "running = 0.95",
        "running = 1.5",
        &[
            "key `fleet.web.running`",
            "between 0 and 1",
            "found the number 1.5",
        ],
    );
}

#[test]
fn bad_missing_empirical_file() {
    bad(
        "empirical",
        "disk_size = \"128 GiB\"",
        "disk_size = { dist = \"empirical\", file = \"nope.csv\", column = \"size\" }",
        &[
            "key `fleet.web.disk_size.file`",
            "expected a readable CSV file",
            "nope.csv",
        ],
    );
}

#[test]
fn bad_missing_scenario_file() {
    let o = run(&["run", "does/not/exist.toml", "--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("does/not/exist.toml: cannot read the scenario file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_set_overrides() {
    let o = run(&[
        "validate",
        "scenarios/quickstart.toml",
        "--set",
        "fleet.wbe.count=3",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no [[fleet]] named \"wbe\" (found: web, db)"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "validate",
        "scenarios/quickstart.toml",
        "--set",
        "fleet.web.count=abc",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("--set fleet.web.count")
            && e.contains("expected a non-negative integer")
            && e.contains("\"abc\""),
        "{e}"
    );
    let o = run(&["validate", "scenarios/quickstart.toml", "--set", "nonsense"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&[
        "validate",
        "scenarios/quickstart.toml",
        "--set",
        "link.je-storage.bandwidth=2 Gbit/s",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bad_usage_exits_2() {
    let o = run(&["run"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn schema_is_json() {
    let o = run(&["schema"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["properties"]["fleet"].is_object());
}

#[test]
fn bad_negative_count() {
    bad(
        "count",
        "count = 240",
        "count = -5",
        &[
            "key `fleet.web.count`",
            "expected a non-negative integer, found -5",
        ],
    );
}

/// Ctrl-C (SIGINT) and SIGTERM (sent by Slurm and Kubernetes before killing) during a run
/// leave neither a results directory nor a partial one; the status is 128 + the signal.
#[test]
fn interrupted_run_leaves_nothing_behind() {
    for (signal, status) in [("INT", 130), ("TERM", 143)] {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        let child = bin()
            .args([
                "run",
                "scenarios/scale-100k.toml",
                "--out",
                out.to_str().unwrap(),
                "--quiet",
                "--set",
                "simulation.duration=300d",
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the run has created its staging directory, then signal it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::fs::read_dir(t.path()).unwrap().next().is_none()
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        // The shell's builtin `kill`: no dependency on a procps binary.
        let killed = Command::new("sh")
            .args(["-c", &format!("kill -{signal} {}", child.id())])
            .status()
            .unwrap();
        assert!(killed.success());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(status), "SIG{signal}: {}", stderr(&o));
        assert!(stderr(&o).contains("interrupted"), "{}", stderr(&o));
        let left: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "SIG{signal} left behind: {left:?}");
    }
}

#[test]
fn bad_warmup_not_shorter_than_the_run() {
    bad(
        "warmup",
        "duration = \"7d\"",
        "duration = \"7d\"\nwarmup = \"7d\"",
        &[
            "key `simulation.warmup`",
            "expected less than the run's duration (7d), found 7d",
        ],
    );
}

/// A run ending in the middle of the first night's full backups leaves most jobs in
/// flight: the run summary says so and names the remedies; drained, it does not.
#[test]
fn run_warns_when_work_is_in_flight_at_the_end() {
    let t = tempfile::tempdir().unwrap();
    let sc = small_scenario(t.path());
    let summary_of = |out: &str, drain: &str| {
        let out = t.path().join(out);
        let o = run(&[
            "run",
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-plots",
            "--set",
            "simulation.duration=1d",
            "--set",
            &format!("simulation.drain={drain}"),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o)
    };
    let e = summary_of("a", "false");
    let warning = e
        .lines()
        .find(|l| l.starts_with("warning: "))
        .unwrap_or_else(|| panic!("no warning in:\n{e}"));
    assert!(
        warning.contains("still in flight at the end of the run"),
        "{warning}"
    );
    assert!(warning.contains("simulation.drain = true"), "{warning}");
    assert!(warning.contains("simulation.duration"), "{warning}");
    let e = summary_of("b", "true");
    assert!(!e.contains("warning:"), "{e}");
}

/// Drained runs with a warm-up are as reproducible as any: same scenario and seed, same
/// bytes.
#[test]
fn drained_run_with_warm_up_is_byte_identical() {
    let t = tempfile::tempdir().unwrap();
    let sc = small_scenario(t.path());
    let sets = [
        "--set",
        "simulation.drain=true",
        "--set",
        "simulation.warmup=1d",
        "--set",
        "simulation.duration=2d 23h",
    ];
    let a = run_to(&sc, &t.path().join("a"), &sets);
    let b = run_to(&sc, &t.path().join("b"), &sets);
    assert_eq!(a, b);
    assert!(a.contains("\"backup.jobs.in_flight\": 0.0"), "{a}");
    for f in ["jobs.csv", "timeseries.csv"] {
        let read = |d: &str| std::fs::read(t.path().join(d).join(f)).unwrap();
        assert!(read("a") == read("b"), "{f} differs");
    }
}

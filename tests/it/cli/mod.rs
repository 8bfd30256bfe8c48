//! The binary end to end: determinism, seeds, results directories and bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::{bin, quickstart, run_bin as run, stderr};

/// A small, quick scenario with every kind of randomness in play.
fn small_scenario(dir: &Path) -> PathBuf {
    quickstart(dir, "small.toml", 40, 10, 3)
}

/// Runs `scenario` into `out` (with plots when `extra` holds `+plots`); its summary.
fn run_to(scenario: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    if !extra.contains(&"+plots") {
        args.push("--no-plots");
    }
    args.extend(extra.iter().filter(|&&x| x != "+plots"));
    let o = run(&args);
    assert!(o.status.success(), "run failed: {}", stderr(&o));
    std::fs::read_to_string(out.join("summary.json")).unwrap()
}

#[test]
fn same_seed_same_bytes_and_set_seed_is_the_same_as_the_file() {
    let t = tempfile::tempdir().unwrap();
    let sc = small_scenario(t.path());
    let a = run_to(&sc, &t.path().join("a"), &["+plots"]);
    let b = run_to(&sc, &t.path().join("b"), &["+plots"]);
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
    // Every output file is identical, byte for byte (run.json holds wall-clock figures).
    let files = |d: &Path| {
        let mut v = Vec::new();
        let mut stack = vec![d.to_path_buf()];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).unwrap() {
                let e = e.unwrap().path();
                if e.is_dir() {
                    stack.push(e);
                } else {
                    v.push(e.strip_prefix(d).unwrap().to_path_buf());
                }
            }
        }
        v.sort();
        v
    };
    let (fa, fb) = (files(&t.path().join("a")), files(&t.path().join("b")));
    assert_eq!(fa, fb, "the same files");
    assert!(fa.len() > 10, "{fa:?}");
    for f in fa.iter().filter(|f| !f.ends_with("run.json")) {
        let a = std::fs::read(t.path().join("a").join(f)).unwrap();
        let b = std::fs::read(t.path().join("b").join(f)).unwrap();
        assert!(a == b, "{} differs between identical runs", f.display());
    }
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
            // A shipped scenario is an example to copy: it must not warn.
            assert!(
                !stderr(&o).contains("warning:"),
                "{}: {}",
                p.display(),
                stderr(&o)
            );
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
fn schema_is_json() {
    let o = run(&["schema"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["properties"]["fleet"].is_object());
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

/// Runs `args` expecting exit status 2 with every `expect` in the message, no panic, and
/// nothing written in `dir` (neither a results directory nor a partial one).
fn refused(dir: &Path, args: &[&str], expect: &[&str]) -> String {
    let before: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let o = run(args);
    let msg = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {msg}");
    assert!(!msg.contains("panicked"), "{msg}");
    for e in expect {
        assert!(msg.contains(e), "{args:?}: expected {e:?} in:\n{msg}");
    }
    let after: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "{args:?} wrote something");
    msg
}

#[test]
fn jobs_csv_note_gives_the_real_reason() {
    let t = tempfile::tempdir().unwrap();
    let sc = small_scenario(t.path());
    let note = |dir: &Path| -> serde_json::Value {
        let run: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
        run["jobs_csv_note"].clone()
    };
    run_to(
        &sc,
        &t.path().join("a"),
        &["--set", "simulation.jobs_csv=\"off\""],
    );
    let n = note(&t.path().join("a"));
    assert!(
        n.as_str()
            .unwrap()
            .contains("the scenario sets simulation.jobs_csv = \"off\""),
        "{n}"
    );
    run_to(&sc, &t.path().join("b"), &["--jobs-csv", "off"]);
    let n = note(&t.path().join("b"));
    assert!(
        n.as_str().unwrap().contains("--jobs-csv off was given"),
        "{n}"
    );
    run_to(&sc, &t.path().join("c"), &[]);
    assert!(note(&t.path().join("c")).is_null());
    assert!(t.path().join("c/jobs.csv").exists());
    let sweep = t.path().join("s");
    let o = run(&[
        "sweep",
        sc.to_str().unwrap(),
        "--replications",
        "1",
        "--out",
        sweep.to_str().unwrap(),
        "--quiet",
        "--no-plots",
        "--keep-runs",
        "--set",
        "simulation.jobs_csv=\"on\"",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let n = note(&sweep.join("runs/p000/rep-0"));
    assert!(
        n.as_str()
            .unwrap()
            .contains("the runs of a sweep write it only with --jobs-csv on"),
        "{n}"
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
        .find(|l| l.starts_with("warning: ") && l.contains("in flight"))
        .unwrap_or_else(|| panic!("no in-flight warning in:\n{e}"));
    assert!(
        warning.contains("still in flight at the end of the run"),
        "{warning}"
    );
    assert!(warning.contains("simulation.drain = true"), "{warning}");
    assert!(warning.contains("simulation.duration"), "{warning}");
    let e = summary_of("b", "true");
    assert!(!e.contains("in flight"), "{e}");
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

mod bad_input;

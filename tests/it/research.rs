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

//! `backupsim check SCENARIO --pin`: bounds around the current values, written into the
//! scenario file.

use std::path::{Path, PathBuf};

use crate::common::bin;

/// A small scenario from `init`, with a shorter run.
fn scenario(dir: &Path) -> PathBuf {
    let o = bin()
        .current_dir(dir)
        .args(["init", "--vms", "20", "--out", "s.toml"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = dir.join("s.toml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("duration = \"7d\"", "duration = \"4d\"");
    std::fs::write(&file, text).unwrap();
    file
}

fn check(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let o = bin()
        .current_dir(dir)
        .args(["check", "s.toml", "--quiet"])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn pin_then_check_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path());
    let before = std::fs::read_to_string(&file).unwrap();
    let (code, out, err) = check(tmp.path(), &["--pin", "--force", "--tolerance", "5%"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let after = std::fs::read_to_string(&file).unwrap();
    // Comments elsewhere are kept; the new block says when and with which seed.
    assert!(after.contains("# Bounds `backupsim check` holds the results to"));
    assert!(after.contains("seed 1"), "{after}");
    assert!(after.contains("# Pinned by `backupsim check --pin` on "));
    assert!(before.lines().count() > 20);
    let l = backupsim::scenario::load(&file, &[]).unwrap();
    let metrics: Vec<&str> = l
        .scenario
        .expect
        .iter()
        .map(|e| e.metric.as_str())
        .collect();
    for m in backupsim::app::DEFAULT_PIN_METRICS {
        assert_eq!(
            metrics.iter().filter(|x| **x == m).count(),
            1,
            "{m}: {metrics:?}"
        );
    }
    let succ = l
        .scenario
        .expect
        .iter()
        .find(|e| e.metric == "backup.success_rate")
        .unwrap();
    assert!(succ.min.is_some() && succ.max.is_none());
    let p99 = l
        .scenario
        .expect
        .iter()
        .find(|e| e.metric == "backup.duration.p99")
        .unwrap();
    assert!(p99.max.is_some() && p99.min.is_none());
    assert!(after.contains("[[expect]]\nmetric = \"backup.duration.p99\"\nmax = \""));

    let (code, out, err) = check(tmp.path(), &[]);
    assert_eq!(code, Some(0), "{out}{err}");

    // The same values read back from the results directory give the same bounds.
    let again = tmp.path().join("again.toml");
    std::fs::write(&again, &before).unwrap();
    let o = bin()
        .current_dir(tmp.path())
        .args([
            "check",
            "again.toml",
            "--pin",
            "--force",
            "--from",
            "results/s",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let expects = |p: &Path| {
        let l = backupsim::scenario::load(p, &[]).unwrap();
        format!("{:?}", l.scenario.expect)
    };
    assert_eq!(expects(&again), expects(&file));
}

#[test]
fn pin_then_changed_link_fails_naming_the_metric() {
    let tmp = tempfile::tempdir().unwrap();
    scenario(tmp.path());
    let (code, out, err) = check(tmp.path(), &["--pin", "--force"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = check(
        tmp.path(),
        &["--set", "link.storage.bandwidth=\"200 Mbit/s\""],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    let failing: Vec<&str> = out.lines().filter(|l| l.ends_with("FAIL")).collect();
    assert!(
        failing.iter().any(|l| l.starts_with("backup.duration.p99")),
        "{out}"
    );
}

#[test]
fn pin_refuses_existing_bounds_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path());
    let before = std::fs::read_to_string(&file).unwrap();
    // init's bounds cover backup.success_rate, so pinning it needs --force.
    let (code, out, err) = check(tmp.path(), &["--pin", "--metrics", "backup.success_rate"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("- [[expect]] metric = \"backup.success_rate\", min = 0.9"),
        "{err}"
    );
    assert!(
        err.contains("+ [[expect]] metric = \"backup.success_rate\", min = "),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    // A metric without a bound yet is pinned without --force, the rest kept as written.
    let (code, out, err) = check(tmp.path(), &["--pin", "--metrics", "rpo.p99"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(after.starts_with(before.trim_end()));
    assert!(after.contains("metric = \"rpo.p99\""));
}

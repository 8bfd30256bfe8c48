//! `compare` as a what-if report: the scenario difference first, verdicts by direction,
//! counts that follow the workload neutral, appear/vanish never a regression, exit codes for
//! CI and for `--what-if`, JSON for scripts, sweeps point by point, and bad input.

use std::path::{Path, PathBuf};

use super::common::{quickstart, run_bin, stderr, TINY_SWEEP};

fn run_to(s: &Path, out: &Path, sets: &[&str]) {
    let mut args = vec![
        "run",
        s.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--no-plots",
    ];
    for set in sets {
        args.extend(["--set", set]);
    }
    let o = run_bin(&args);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn two_runs(t: &Path, new_sets: &[&str]) -> (PathBuf, PathBuf) {
    let s = quickstart(t, "small.toml", 8, 2, 2);
    let (a, b) = (t.join("a"), t.join("b"));
    run_to(&s, &a, &[]);
    run_to(&s, &b, new_sets);
    (a, b)
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Doubling the fleet is a deliberate what-if: the report names the changed key first,
/// counts that follow the workload are neutral, and `--what-if` exits 0 whatever moved.
#[test]
fn what_if_report_names_the_scenario_change_and_exits_0() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = two_runs(t.path(), &["fleet.web.count=16"]);
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let o = run_bin(&["compare", a, b, "--what-if"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let first: Vec<&str> = text.lines().take(2).collect();
    assert_eq!(
        first,
        ["scenario: 1 key differs", "  fleet.web.count: 8 → 16"],
        "{text}"
    );
    let line = |m: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{m} ")))
            .unwrap_or_else(|| panic!("no {m} in\n{text}"))
            .to_string()
    };
    assert!(line("backup.jobs.total").ends_with("neutral"), "{text}");
    assert!(line("fleet.web.vms").ends_with("neutral"), "{text}");
    assert!(line("backup.attempts").ends_with("neutral"), "{text}");
    assert!(text.contains("the number of jobs changed"), "{text}");
}

/// A slower link on the same fleet is a regression CI must catch: exit 1, durations
/// worse, in human units.
#[test]
fn slower_link_is_a_regression_with_exit_1() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = two_runs(t.path(), &["link.je-storage.bandwidth=200 Mbit/s"]);
    let o = run_bin(&["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    let l = text
        .lines()
        .find(|l| l.starts_with("backup.phase.transfer.mean "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(l.ends_with("worse"), "{l}");
    assert!(
        l.contains(" min") || l.contains(" h") || l.contains(" s"),
        "{l}"
    );
    // The same report as a what-if exits 0.
    let o = run_bin(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--what-if",
    ]);
    assert_eq!(o.status.code(), Some(0));
}

/// `--json` prints one document with the scenario difference and each metric's verdict.
#[test]
fn compare_json_is_one_document() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = two_runs(t.path(), &["link.je-storage.bandwidth=200 Mbit/s"]);
    let o = run_bin(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["kind"], "run");
    assert_eq!(v["scenario"][0]["key"], "link.je-storage.bandwidth");
    // The resolved scenario writes rates in bytes per second.
    assert_eq!(v["scenario"][0]["new"], "\"25 MB/s\"");
    let rows = v["metrics"].as_array().unwrap();
    let t = rows
        .iter()
        .find(|r| r["metric"] == "backup.phase.transfer.mean")
        .unwrap();
    assert_eq!(t["verdict"], "worse");
    assert!(t["base"].as_f64().unwrap() < t["new"].as_f64().unwrap());
    assert!(v["worse"].as_u64().unwrap() >= 1);
}

/// A run against a sweep, or a directory that isn't ours: exit 2 naming what each side is.
#[test]
fn compare_of_different_kinds_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let (a, _) = two_runs(t.path(), &[]);
    let sw = t.path().join("tiny.toml");
    std::fs::write(&sw, TINY_SWEEP).unwrap();
    let s = t.path().join("sw");
    let o = run_bin(&[
        "sweep",
        sw.to_str().unwrap(),
        "--out",
        s.to_str().unwrap(),
        "--quiet",
        "--no-plots",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run_bin(&["compare", a.to_str().unwrap(), s.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("is a run's results directory") && e.contains("is a sweep directory"),
        "{e}"
    );
    let empty = t.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = run_bin(&["compare", a.to_str().unwrap(), empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a results directory"),
        "{}",
        stderr(&o)
    );
}

/// Two sweeps compare point by point; the same sweep against itself has no change, and a
/// different --set shows in the scenario section.
#[test]
fn sweeps_compare_point_by_point() {
    let t = tempfile::tempdir().unwrap();
    let sw = t.path().join("tiny.toml");
    std::fs::write(&sw, TINY_SWEEP).unwrap();
    let sweep = |out: &str, sets: &[&str]| {
        let p = t.path().join(out);
        let mut args = vec![
            "sweep",
            sw.to_str().unwrap(),
            "--out",
            p.to_str().unwrap(),
            "--quiet",
            "--no-plots",
        ];
        for s in sets {
            args.extend(["--set", s]);
        }
        let o = run_bin(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        p
    };
    let a = sweep("a", &[]);
    let b = sweep("b", &["link.wan.bandwidth=100 Mbit/s"]);
    let o = run_bin(&["compare", a.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = run_bin(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--what-if",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with(
            "scenario: 1 key differs\n  link.wan.bandwidth: \"1 Gbit/s\" → \"100 Mbit/s\"\n"
        ),
        "{text}"
    );
    assert!(text.contains("95% CI of new − base"), "{text}");
    let l = text
        .lines()
        .find(|l| l.starts_with("p000") && l.contains(" rpo.mean "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(l.ends_with("worse") && l.contains("paired"), "{l}");
}

/// `validate --json` and `check --json` print one JSON document each.
#[test]
fn validate_and_check_print_json() {
    let t = tempfile::tempdir().unwrap();
    let s = quickstart(t.path(), "small.toml", 8, 2, 2);
    let o = run_bin(&["validate", s.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["vms"], 10);
    assert!(v["warnings"].is_array());
    let text = std::fs::read_to_string(&s).unwrap()
        + "\n[[expect]]\nmetric = \"backup.success_rate\"\nmin = 0.5\n";
    std::fs::write(&s, text).unwrap();
    let o = run_bin(&["check", s.to_str().unwrap(), "--json", "--quiet"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["expectations"][0]["metric"], "backup.success_rate");
    assert_eq!(v["passed"], o.status.code() == Some(0));
}

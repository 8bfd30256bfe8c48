//! A results directory as users consume it: counts agree across files, `check` and
//! `compare` exit codes, plots are real images.

use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_backupsim"))
}

fn small(dir: &Path, extra_expect: &str) -> std::path::PathBuf {
    let src = std::fs::read_to_string("scenarios/quickstart.toml")
        .unwrap()
        .replace("count = 240", "count = 60")
        .replace("count = 60\nregion = \"japan-east\"\npolicy = \"nightly\"\npath = [\"je-storage\"]\nos = \"windows-2012r2\"", "count = 15\nregion = \"japan-east\"\npolicy = \"nightly\"\npath = [\"je-storage\"]\nos = \"windows-2012r2\"")
        .replace("duration = \"7d\"", "duration = \"6d\"")
        + extra_expect;
    let p = dir.join("small.toml");
    std::fs::write(&p, src).unwrap();
    p
}

fn run(scenario: &Path, out: &Path, plots: bool) {
    let mut c = bin();
    c.args([
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    if !plots {
        c.arg("--no-plots");
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn summary(dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn jobs_csv_rows_match_summary_counts() {
    let t = tempfile::tempdir().unwrap();
    let sc = small(t.path(), "");
    let out = t.path().join("r");
    run(&sc, &out, false);
    let s = summary(&out);
    let n = |k: &str| s[k].as_f64().unwrap() as usize;
    let mut rdr = csv::Reader::from_path(out.join("jobs.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    let kind = |r: &csv::StringRecord| r[1].to_string();
    let backups: Vec<_> = rows
        .iter()
        .filter(|r| !kind(r).starts_with("restore"))
        .collect();
    let restores: Vec<_> = rows
        .iter()
        .filter(|r| kind(r).starts_with("restore"))
        .collect();
    assert_eq!(backups.len(), n("backup.attempts"));
    assert_eq!(restores.len(), n("restore.jobs.total"));
    let succeeded = backups.iter().filter(|r| &r[16] == "succeeded").count();
    assert_eq!(succeeded, n("backup.jobs.succeeded"));
    assert_eq!(
        backups.len() - succeeded,
        n("backup.jobs.failed") + n("backup.retries") + n("backup.jobs.in_flight")
    );
    // Without retries, every job in flight at the end has its row.
    let in_flight =
        |rows: &[&csv::StringRecord]| rows.iter().filter(|r| &r[16] == "in-flight").count();
    assert_eq!(in_flight(&backups), n("backup.jobs.in_flight"));
    assert_eq!(in_flight(&restores), n("restore.jobs.in_flight"));
    let misses = backups.iter().filter(|r| &r[19] == "1").count();
    assert_eq!(misses, n("backup.window.misses"));
    // Every time-series row is one sample interval.
    let ts = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    assert_eq!(ts.lines().count() - 1, 6 * 24 * 4);
}

#[test]
fn check_fails_with_exit_1_naming_the_metric() {
    let t = tempfile::tempdir().unwrap();
    let sc = small(
        t.path(),
        "\n[[expect]]\nmetric = \"backup.duration.p50\"\nmax = \"1s\"\n",
    );
    let out = t.path().join("r");
    run(&sc, &out, false);
    let o = bin()
        .args(["check", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("backup.duration.p50") && text.contains("FAIL"),
        "{text}"
    );
    assert!(text.contains("backup.success_rate"), "{text}");
    // A scenario whose bounds hold passes with 0 (run then check).
    let ok = small(t.path(), "");
    let o = bin()
        .args([
            "check",
            ok.to_str().unwrap(),
            "--quiet",
            "--set",
            "simulation.name=okcheck",
        ])
        .current_dir(t.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("backup.success_rate"), "{text}");
}

#[test]
fn compare_flags_regressions() {
    let t = tempfile::tempdir().unwrap();
    let sc = small(t.path(), "");
    let a = t.path().join("a");
    let b = t.path().join("b");
    run(&sc, &a, false);
    run(&sc, &b, false);
    let o = bin()
        .args(["compare", a.to_str().unwrap(), b.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "identical runs compare equal");
    // A slower link is a regression of durations.
    let c = t.path().join("c");
    let o = bin()
        .args([
            "run",
            sc.to_str().unwrap(),
            "--out",
            c.to_str().unwrap(),
            "--quiet",
            "--no-plots",
            "--set",
            "link.je-storage.bandwidth=1 Gbit/s",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = bin()
        .args([
            "compare",
            a.to_str().unwrap(),
            c.to_str().unwrap(),
            "--tolerance",
            "5",
            "--markdown",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("| metric") && text.contains("backup.phase.transfer"),
        "{text}"
    );
}

#[test]
fn plots_are_real_images_and_rerender() {
    let t = tempfile::tempdir().unwrap();
    let sc = small(t.path(), "");
    let out = t.path().join("r");
    run(&sc, &out, true);
    for name in backupsim::plot::PLOT_NAMES {
        let svg = std::fs::read_to_string(out.join(format!("plots/{name}.svg"))).unwrap();
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "{name}.svg"
        );
        let png = std::fs::read(out.join(format!("plots/{name}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}.png");
    }
    std::fs::remove_dir_all(out.join("plots")).unwrap();
    // Re-rendering needs no system fonts: the font is bundled.
    let o = bin()
        .args(["plot", out.to_str().unwrap()])
        .env("FONTCONFIG_FILE", "/nonexistent")
        .env("FONTCONFIG_PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("plots/timeline.png").exists());
    let o = bin()
        .args(["plot", t.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "not a results directory");
}

#[test]
fn histograms_in_the_results_merge_losslessly() {
    let t = tempfile::tempdir().unwrap();
    let sc = small(t.path(), "");
    let a = t.path().join("a");
    run(&sc, &a, false);
    let h = backupsim::histio::read_hdr(&a.join("histograms/backup.duration.hdr")).unwrap();
    let s = summary(&a);
    assert_eq!(h.len() as f64, s["backup.jobs.succeeded"].as_f64().unwrap());
    let mut twice = h.clone();
    twice.add(&h).unwrap();
    assert_eq!(twice.len(), 2 * h.len());
    assert_eq!(twice.value_at_quantile(0.99), h.value_at_quantile(0.99));
}

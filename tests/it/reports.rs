//! Planner reports: per-group metrics against jobs.csv (the same numbers two ways), the
//! per-night table against a hand-computed run, first-wave onboarding, group names.

use std::collections::BTreeMap;
use std::path::Path;

use backupsim::outputs::results::nights::nights_csv;

use super::common::*;

/// Two fleets in two regions, each with its own policy and vault, a shared link small
/// enough to make the first night overrun a 1-hour window, agents that sometimes fail,
/// and a restore drill on one fleet.
const TWO_FLEETS: &str = r#"
[simulation]
name = "two"
seed = 11
duration = "3d"
sample_every = "10m"

[[region]]
name = "east"
[[region]]
name = "west"

[[link]]
name = "wan"
bandwidth = "400 MB/s"

[[vault]]
name = "v1"
region = "east"
create_time = "0s"
[[vault]]
name = "v2"
region = "west"
create_time = "0s"

[[policy]]
name = "nightly"
vault = "v1"
schedule = { daily = "22:00" }
window = "1h"
[[policy]]
name = "early"
vault = "v2"
schedule = { daily = "02:00" }
window = "2h"

[[fleet]]
name = "db"
count = 12
region = "east"
policy = "nightly"
path = ["wan"]
agent = { responsive = 0.85 }
data_disks = 2
disk_size = "200 GB"

[[fleet]]
name = "web"
count = 9
region = "west"
policy = "early"
path = ["wan"]
data_disks = 1
disk_size = "100 GB"

[[restore]]
name = "drill"
fleet = "web"
at = "2d 10h"
count = 3
kind = "create-vm"
point = "latest"
"#;

/// Counts of one group computed from job rows.
#[derive(Default, Debug)]
struct FromRows {
    succeeded: u64,
    failed: u64,
    in_flight: u64,
    misses: u64,
    judged: u64,
    bytes: u64,
    restores_ok: u64,
    failures: BTreeMap<String, u64>,
    durations: Vec<u64>,
}

fn from_rows<'a>(rows: impl Iterator<Item = &'a Row>) -> FromRows {
    let mut g = FromRows::default();
    for r in rows {
        if r.kind.starts_with("restore") {
            g.restores_ok += (r.outcome == "succeeded") as u64;
            continue;
        }
        let scheduled = r.kind == "scheduled";
        match r.outcome.as_str() {
            "succeeded" => {
                g.succeeded += 1;
                g.bytes += r.bytes;
                g.durations.push(r.duration_us());
                g.judged += scheduled as u64;
            }
            "failed" => {
                g.failed += 1;
                *g.failures.entry(r.error.clone()).or_default() += 1;
                g.judged += scheduled as u64;
            }
            _ => {
                g.in_flight += 1;
                g.judged += r.window_miss as u64;
            }
        }
        g.misses += r.window_miss as u64;
    }
    g
}

/// The nearest-rank percentile of µs values, in seconds.
fn percentile(v: &mut [u64], q: f64) -> f64 {
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1] as f64 / 1e6
}

fn check_group(m: &BTreeMap<String, f64>, prefix: &str, mut g: FromRows) {
    let k = |s: &str| format!("{prefix}.{s}");
    assert_eq!(
        get(m, &k("backup.jobs.succeeded")),
        g.succeeded as f64,
        "{prefix}"
    );
    assert_eq!(
        get(m, &k("backup.jobs.failed")),
        g.failed as f64,
        "{prefix}"
    );
    assert_eq!(get(m, &k("backup.jobs.in_flight")), g.in_flight as f64);
    assert_eq!(
        get(m, &k("backup.window.misses")),
        g.misses as f64,
        "{prefix}"
    );
    let rate = (g.misses as f64 / g.judged as f64 * 1e6).round() / 1e6;
    assert_eq!(get(m, &k("backup.window.miss_rate")), rate, "{prefix}");
    let sr = g.succeeded as f64 / (g.succeeded + g.failed) as f64;
    assert_eq!(get(m, &k("backup.success_rate")), (sr * 1e6).round() / 1e6);
    assert_eq!(get(m, &k("backup.bytes")), g.bytes as f64, "{prefix}");
    assert_eq!(get(m, &k("restore.jobs.succeeded")), g.restores_ok as f64);
    for (code, n) in &g.failures {
        assert_eq!(get(m, &k(&format!("backup.failures.{code}"))), *n as f64);
    }
    let codes = m
        .keys()
        .filter(|n| n.starts_with(&k("backup.failures.")))
        .count();
    assert_eq!(
        codes,
        g.failures.len(),
        "{prefix}: only codes that occurred"
    );
    // HDR percentiles are within 0.1 % of the exact ones.
    for (st, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
        let exact = percentile(&mut g.durations, q);
        approx(get(m, &k(&format!("backup.duration.{st}"))), exact, 0.001);
    }
}

/// Every group's metrics equal the numbers computed from the job rows of its jobs: per
/// fleet, per vault (the fleets of its policies), per region (the fleets there) and per
/// policy.
#[test]
fn breakdown_metrics_equal_jobs_csv() {
    let (out, rows, _) = run_sampled(TWO_FLEETS);
    let m = &out.summary;
    assert!(get(m, "fleet.db.backup.jobs.failed") > 0.0, "agents fail");
    assert!(
        get(m, "fleet.db.backup.window.misses") > 0.0,
        "night 0 overruns"
    );
    let of = |f: &'static str| rows.iter().filter(move |r| r.fleet == f);
    for (fleet, groups) in [
        (
            "db",
            ["fleet.db", "vault.v1", "region.east", "policy.nightly"],
        ),
        (
            "web",
            ["fleet.web", "vault.v2", "region.west", "policy.early"],
        ),
    ] {
        for prefix in groups {
            check_group(m, prefix, from_rows(of(fleet)));
        }
    }
    // The groups add up to the run-wide totals.
    for k in [
        "backup.jobs.succeeded",
        "backup.jobs.failed",
        "backup.window.misses",
    ] {
        assert_eq!(
            get(m, &format!("fleet.db.{k}")) + get(m, &format!("fleet.web.{k}")),
            get(m, k)
        );
    }
    assert!(get(m, "fleet.web.rpo.p99") >= get(m, "fleet.web.rpo.p50"));
    assert!(get(m, "fleet.web.rpo.p50") > 0.0);
}

/// Every group metric the run wrote is a name of the catalogue, with a unit: RPO
/// percentiles in seconds, bytes in bytes.
#[test]
fn group_metrics_are_in_the_catalogue() {
    use backupsim::model::metric_names::{catalogue, direction, unit, Direction, Unit};
    let l = backupsim::scenario::load_str(TWO_FLEETS, Path::new("t.toml"), &[]).unwrap();
    let (out, _) = run_src(TWO_FLEETS);
    let names: Vec<String> = catalogue(&l.config).into_iter().map(|n| n.name).collect();
    for k in out.summary.keys() {
        assert!(
            names.binary_search(k).is_ok(),
            "{k} is not in the catalogue"
        );
    }
    assert_eq!(unit("region.east.rpo.p99"), Unit::Seconds);
    assert_eq!(unit("vault.v1.backup.bytes"), Unit::Bytes);
    assert_eq!(
        direction("policy.nightly.backup.window.miss_rate"),
        Direction::LowerIsBetter
    );
    assert_eq!(
        direction("fleet.db.backup.success_rate"),
        Direction::HigherIsBetter
    );
}

/// Two VMs of 200 GB at 50 % use, one link, a 30-minute window at 01:00, samples every
/// 5 minutes. Night 0: two full backups of 100 GB at 2 disks × 20 MB/s (2 500 s) after a
/// 10 s snapshot end at 01:00 + 2 510 s, 710 s after the window's end: two misses; the link
/// carries 80 MB/s of its 1 GB/s (utilisation 0.08 over whole sample intervals). Night 1:
/// two incrementals of 10 GB, 5 GB on each disk at the incremental default of 3.4 MB/s
/// (1 470.588235 s), end at 01:00 + 1 480.588235 s, 319.411765 s before the window's end;
/// four flows of 3.4 MB/s carry 13.6 MB/s (utilisation 0.0136).
#[test]
fn nights_csv_two_night_hand_computed() {
    let src = base("2d", "", "", "")
        .replace("count = 1", "count = 2")
        .replace(
            "start_within = \"0s\"",
            "start_within = \"0s\"\nwindow = \"30m\"",
        )
        .replace(
            "duration = \"2d\"",
            "duration = \"2d\"\nsample_every = \"5m\"",
        );
    let (out, _) = run_src(&src);
    let text = String::from_utf8(nights_csv(&out.nights)).unwrap();
    assert_eq!(
        text,
        "policy,fleet,night,day,weekday,scheduled_s,window_end_s,jobs_scheduled,started,succeeded,met_window,failed,failures,in_flight,window_misses,miss_rate,last_finish_vs_window_end_s,bytes,peak_link_utilization,date\n\
         p,f,0,0,Mon,3600.000000,5400.000000,2,2,2,0,0,,0,2,1.000000,710.000000,200000000000,0.080000,\n\
         p,f,1,1,Tue,90000.000000,91800.000000,2,2,2,2,0,,0,0,0.000000,-319.411764,20000000000,0.013600,\n"
    );
}

/// A night's failures are listed by code, and a job still running when the run stops is
/// in flight. No agent: every job fails after the 5-minute status wait, 5 minutes before
/// its 10-minute window ends. The run stops at 25:03, during night 1's status waits.
#[test]
fn nights_count_failures_and_work_in_flight() {
    let src = base("1d", "agent = { installed = 0.0 }", "", "")
        .replace("count = 1", "count = 3")
        .replace("duration = \"1d\"", "duration = \"1d 1h 3m\"")
        .replace(
            "start_within = \"0s\"",
            "start_within = \"0s\"\nwindow = \"10m\"",
        );
    let (out, rows) = run_src(&src);
    let text = String::from_utf8(nights_csv(&out.nights)).unwrap();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "p,f,0,0,Mon,3600.000000,4200.000000,3,3,0,0,3,UserErrorGuestAgentStatusUnavailable:3,0,3,1.000000,-300.000000,0,0.000000,",
            "p,f,1,1,Tue,90000.000000,90600.000000,3,3,0,0,0,,3,0,0.000000,,0,0.000000,",
        ]
    );
    assert_eq!(rows.len(), 6);
}

/// `onboard = { over = "3d" }` spreads the first backups of 6 VMs over three nights: VM i
/// starts on night floor(i × 3 / 6), so 2, 4 and 6 jobs are scheduled on nights 0, 1, 2 and
/// every VM's first backup is a full one on its own first night.
#[test]
fn onboarding_spreads_first_backups_over_nights() {
    let src = base("4d", "onboard = { over = \"3d\" }", "", "").replace("count = 1", "count = 6");
    let (out, rows) = run_src(&src);
    let scheduled: Vec<u64> = out.nights.iter().map(|n| n.scheduled).collect();
    assert_eq!(scheduled, [2, 4, 6, 6]);
    let day = 86_400 * SEC;
    for vm in 0..6u32 {
        let first = rows.iter().find(|r| r.vm == vm).unwrap();
        assert_eq!(first.scheduled_us / day, u64::from(vm) * 3 / 6, "vm {vm}");
        assert_eq!(first.bytes, 100_000_000_000, "vm {vm}: a full backup first");
    }
    assert_eq!(get(&out.summary, "backup.window.misses"), 0.0);
}

/// A fleet, vault, region or policy name that cannot be a metric-name segment is refused
/// at validation, naming the key.
#[test]
fn group_names_must_be_metric_segments() {
    let src = base("1d", "", "", "").replace("name = \"f\"", "name = \"web tier\"");
    let Err(e) = backupsim::scenario::load_str(&src, Path::new("t.toml"), &[]) else {
        panic!("refused")
    };
    let e = e.to_string();
    assert!(e.contains("fleet.web tier.name"), "{e}");
    assert!(e.contains("letters, digits, '_' and '-'"), "{e}");
    let bad = base("1d", "onboard = { over = \"36h\" }", "", "");
    let Err(e) = backupsim::scenario::load_str(&bad, Path::new("t.toml"), &[]) else {
        panic!("refused")
    };
    let e = e.to_string();
    assert!(
        e.contains("onboard.over") && e.contains("whole number of days"),
        "{e}"
    );
}

/// `run` writes nights.csv beside summary.json, and its stderr summary ends with the
/// worst night (the only one with a miss: night 0 of the hand-computed run above).
#[test]
fn run_writes_nights_csv_and_names_the_worst_night() {
    let dir = tempfile::tempdir().unwrap();
    let scen = dir.path().join("s.toml");
    let src = base("2d", "", "", "")
        .replace("count = 1", "count = 2")
        .replace(
            "start_within = \"0s\"",
            "start_within = \"0s\"\nwindow = \"30m\"",
        );
    std::fs::write(&scen, src).unwrap();
    let out = dir.path().join("out");
    let o = run_bin(&[
        "run",
        scen.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-plots",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = backupsim::outputs::results::nights::read_nights(&out)
        .unwrap()
        .expect("nights.csv written");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].weekday, "Tue");
    assert_eq!((rows[0].met_window, rows[1].met_window), (0, 2));
    let err = stderr(&o);
    let last = err.lines().last().unwrap();
    assert_eq!(
        last,
        "worst night: policy p, fleet f, night 0 (day 0, Mon): 2 of 2 jobs missed the window (100.0 %), 0 failed; last finish 11.8 min after the window",
        "{err}"
    );
    assert_eq!(err.matches("worst night").count(), 1, "{err}");
}

/// Runs `src` into `dir/name` and returns the results directory.
fn run_into(dir: &Path, name: &str, src: &str) -> std::path::PathBuf {
    let scen = dir.join(format!("{name}.toml"));
    std::fs::write(&scen, src).unwrap();
    let out = dir.join(name);
    let o = run_bin(&[
        "run",
        scen.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--no-plots",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

/// `compare --what-if` of a spread first wave (onboarding) against the baseline: the
/// scenario difference first, the miss rate better, workload counts neutral, metrics that
/// appear or vanish never regressions, exit status 0 (whatever got worse: the VMs waiting
/// for their first backup raise the RPO); `--json` the same as one document.
/// Without `--what-if` the same pair is a regression (exit 1): fewer jobs succeeded.
#[test]
fn compare_what_if_reads_as_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let src = base("3d", "", "", "")
        .replace("count = 1", "count = 4")
        .replace("bandwidth = \"1 GB/s\"", "bandwidth = \"50 MB/s\"")
        .replace(
            "start_within = \"0s\"",
            "start_within = \"0s\"\nwindow = \"2h\"",
        );
    let a = run_into(dir.path(), "base", &src);
    let b = run_into(
        dir.path(),
        "new",
        &src.replace(
            "daily_churn = 0.1",
            "daily_churn = 0.1\nonboard = { over = \"2d\" }",
        ),
    );
    let args = |extra: &[&str]| {
        let mut v = vec!["compare", a.to_str().unwrap(), b.to_str().unwrap()];
        v.extend_from_slice(extra);
        run_bin(&v)
    };
    let o = args(&["--what-if"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "scenario: 1 key differs");
    assert_eq!(
        lines[1], "  fleet.f.onboard.over: (none) → \"2d\"",
        "{text}"
    );
    let row = |m: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{m} ")))
            .unwrap_or_else(|| panic!("{m} in {text}"))
            .to_string()
    };
    assert!(row("backup.window.miss_rate").ends_with("better"), "{text}");
    assert!(row("backup.jobs.succeeded").ends_with("neutral"), "{text}");
    assert!(text.contains(" better, "), "{text}");
    let o = args(&["--what-if", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["scenario"][0]["key"], "fleet.f.onboard.over");
    let miss = doc["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "backup.window.miss_rate")
        .unwrap();
    assert_eq!(miss["verdict"], "better");
    // Base: night 0's four full copies (400 GB at 50 MB/s: 8 000 s) miss the 2-hour window.
    assert_eq!(miss["base"], 0.333333);
    assert_eq!(miss["new"], 0.0);
    let o = args(&[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "plain compare: fewer successes regress"
    );
}

/// `validate --json` and `check --json` print one JSON document on stdout.
#[test]
fn check_json_of_a_group_metric() {
    let dir = tempfile::tempdir().unwrap();
    let src = base(
        "2d",
        "",
        "",
        "[[expect]]\nmetric = \"fleet.f.backup.duration.p50\"\nmax = \"1h\"\n",
    );
    let out = run_into(dir.path(), "r", &src);
    let o = run_bin(&[
        "validate",
        dir.path().join("r.toml").to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (doc["ok"].as_bool(), doc["vms"].as_u64()),
        (Some(true), Some(1))
    );
    let o = run_bin(&["check", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["passed"], true);
    let e = &doc["expectations"][0];
    assert_eq!(e["metric"], "fleet.f.backup.duration.p50");
    assert_eq!(e["unit"], "s");
    assert_eq!(e["verdict"], "pass");
    // Night 0's full backup (2 510 s) and night 1's incremental (10 s snapshot, then 5 GB
    // on each disk at 3.4 MB/s: 1 480.59 s): the p50 is the smaller one (HDR precision
    // 0.1 %).
    let v = e["value"].as_f64().unwrap();
    assert!((v - 1480.588).abs() < 1.5, "{v}");
}

//! `backupsim solve` finds answers computable by hand, the same on any thread count.

use std::path::Path;

use super::common::{run_bin, stderr};

/// One VM, no randomness that matters: its first (full) backup moves 130 GB (a 30 GB OS
/// disk and a 100 GB data disk, fully used) and must finish its transfer within 1 h, so
/// the least bandwidth is 130 GB / 3 600 s = 36.11 MB/s = 288.9 Mbit/s.
const HAND: &str = "tests/it/data/solve-hand.toml";
const ANSWER_BPS: f64 = 130e9 / 3600.0;

fn solve(out: &Path, extra: &[&str]) -> (serde_json::Value, String) {
    let mut args = vec![
        "solve",
        HAND,
        "--find",
        "link.wan.bandwidth",
        "--range",
        "100 Mbit/s..10 Gbit/s",
        "--replications",
        "2",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run_bin(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line = String::from_utf8_lossy(&o.stdout).to_string();
    let json =
        serde_json::from_str(&std::fs::read_to_string(out.join("solve.json")).unwrap()).unwrap();
    (json, line)
}

#[test]
fn solve_finds_the_hand_computed_bandwidth() {
    let t = tempfile::tempdir().unwrap();
    let (j, line) = solve(&t.path().join("a"), &["--threads", "1"]);
    let holds = j["bracket"]["holds"]["value"].as_f64().unwrap();
    let fails = j["bracket"]["fails"]["value"].as_f64().unwrap();
    // The answer brackets the hand value (the HDR maximum is within 0.1 %), 1 % wide.
    assert!(
        fails < ANSWER_BPS * 1.001 && ANSWER_BPS * 0.999 < holds,
        "{fails} .. {holds}"
    );
    assert!((holds - fails) / holds <= 0.01, "{fails} .. {holds}");
    assert_eq!(j["value"].as_f64().unwrap(), holds);
    assert!(
        line.starts_with("smallest link.wan.bandwidth meeting the expectation: 2"),
        "{line}"
    );
    assert!(
        line.contains("Mbit/s (±1%)") && line.contains("backup.phase.transfer.max"),
        "{line}"
    );
}

#[test]
fn solve_is_the_same_on_any_thread_count() {
    let t = tempfile::tempdir().unwrap();
    solve(&t.path().join("one"), &["--threads", "1"]);
    solve(&t.path().join("two"), &["--threads", "2"]);
    for f in [
        "solve.csv",
        "solve.json",
        "plots/solve_backup.phase.transfer.max.svg",
    ] {
        let a = std::fs::read(t.path().join("one").join(f)).unwrap();
        let b = std::fs::read(t.path().join("two").join(f)).unwrap();
        assert!(a == b, "{f} differs between thread counts");
    }
}

#[test]
fn solve_counts_end_exactly_and_maximize() {
    // The greatest number of such VMs one 1 Gbit/s link takes with every transfer within
    // 1 h, all starting together: n × 130 GB / 125 MB/s ≤ 3 600 s ⇒ n = 3.
    let t = tempfile::tempdir().unwrap();
    let o = run_bin(&[
        "solve",
        HAND,
        "--find",
        "fleet.one.count",
        "--range",
        "1..12",
        "--maximize",
        "--replications",
        "1",
        "--quiet",
        "--out",
        t.path().join("m").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("m/solve.json")).unwrap())
            .unwrap();
    assert_eq!(j["value"].as_f64(), Some(3.0), "{j}");
    assert_eq!(j["bracket"]["fails"]["value"].as_f64(), Some(4.0), "{j}");
}

#[test]
fn solve_bad_input() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("x");
    let o = out.to_str().unwrap();
    // No value in the range meets the bound: exit 1, with the reason at the best end.
    let none = run_bin(&[
        "solve",
        HAND,
        "--find",
        "link.wan.bandwidth",
        "--range",
        "1 Mbit/s..10 Mbit/s",
        "--replications",
        "1",
        "--quiet",
        "--out",
        o,
    ]);
    assert_eq!(none.status.code(), Some(1), "{}", stderr(&none));
    assert!(String::from_utf8_lossy(&none.stdout).contains("no value of link.wan.bandwidth"));
    for (args, want) in [
        (
            vec![
                "--find",
                "link.nope.bandwidth",
                "--range",
                "1 Mbit/s..10 Mbit/s",
            ],
            "nope",
        ),
        (
            vec!["--find", "link.wan.bandwidth", "--range", "10..5"],
            "LOW below HIGH",
        ),
        (
            vec!["--find", "link.wan.bandwidth", "--range", "1 GB..2 GB"],
            "bandwidth",
        ),
        (
            vec!["--find", "link.wan.bandwidth", "--range", "fast"],
            "LOW..HIGH",
        ),
    ] {
        let mut a = vec!["solve", HAND, "--quiet", "--out", o];
        a.extend(args);
        let r = run_bin(&a);
        assert_eq!(r.status.code(), Some(2), "{a:?}: {}", stderr(&r));
        assert!(stderr(&r).contains(want), "{a:?}: {}", stderr(&r));
    }
    // A scenario without [[expect]]: exit 2.
    let src = std::fs::read_to_string(HAND).unwrap();
    let plain = t.path().join("plain.toml");
    std::fs::write(&plain, &src[..src.find("[[expect]]").unwrap()]).unwrap();
    let r = run_bin(&[
        "solve",
        plain.to_str().unwrap(),
        "--find",
        "link.wan.bandwidth",
        "--range",
        "1 Mbit/s..10 Mbit/s",
        "--quiet",
        "--out",
        o,
    ]);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(stderr(&r).contains("[[expect]]"));
}

/// A solve killed outright (SIGKILL: no handler runs) resumes from its probe cache and
/// writes the same bytes as an uninterrupted one.
#[test]
fn solve_resumes_after_kill() {
    let t = tempfile::tempdir().unwrap();
    let args = |out: &Path| {
        vec![
            "solve".to_string(),
            "scenarios/quickstart.toml".into(),
            "--find".into(),
            "link.je-storage.bandwidth".into(),
            "--range".into(),
            "1 Gbit/s..40 Gbit/s".into(),
            "--set".into(),
            "simulation.duration=2d".into(),
            "--replications".into(),
            "2".into(),
            "--threads".into(),
            "1".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]
    };
    let whole = t.path().join("whole");
    let o = super::common::bin().args(args(&whole)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let cut = t.path().join("cut");
    let mut child = super::common::bin()
        .args(args(&cut))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let cache = cut.join("probes.cache");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&cache).map_or(0, |c| c.lines().count()) < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "no probe finished in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!cut.join("solve.csv").exists(), "killed before the end");

    let o = super::common::bin().args(args(&cut)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("resumed: "), "{}", stderr(&o));
    for f in ["solve.csv", "solve.json"] {
        let a = std::fs::read(whole.join(f)).unwrap();
        let b = std::fs::read(cut.join(f)).unwrap();
        assert!(a == b, "{f} differs after a resume");
    }
    assert!(!cache.exists(), "the cache goes when the search completes");
}

/// One VM of 100 GB used data, no churn: compression c stores 100/c GB. The bound
/// `stored ≤ 60 GB` holds from c = 2 on; the boundary is 2, but the cheapest value meeting
/// it is the range's end, 4: $10 for the instance (100 GB of protected data, the 50–500 GB
/// tier) + 25 GB × $0.024 = $10.60 a month.
#[test]
fn solve_objective_picks_the_cheapest_value_that_holds() {
    let t = tempfile::tempdir().unwrap();
    let scenario = t.path().join("cost.toml");
    std::fs::write(
        &scenario,
        r#"[simulation]
name = "solve-cost"
duration = "2d"
sample_every = "1h"
[[region]]
name = "r1"
[[vault]]
name = "v1"
region = "r1"
redundancy = "LRS"
create_time = "0s"
[[policy]]
name = "nightly"
vault = "v1"
schedule = { daily = "22:00" }
start_within = "0s"
[[fleet]]
name = "one"
count = 1
region = "r1"
policy = "nightly"
os = "ubuntu-14.04"
extension = { installed = 1.0 }
data_disks = 0
os_disk = "100 GB"
used = 1.0
daily_churn = 0.0
[timing]
transient_failure = 0.0
snapshot_task_failure = 0.0
extension_failure = 0.0
extension_upgrade = 0.0
[cost]
currency = "USD"
instance_tiers = [{ up_to = "50 GB", price = 5 }, { up_to = "500 GB", price = 10 }]
storage_grs = 0.048
storage_lrs = 0.024
[[expect]]
metric = "vault.v1.stored_bytes.end"
max = "60 GB"
"#,
    )
    .unwrap();
    let solve = |out: &str, extra: &[&str]| {
        let out = t.path().join(out);
        let mut args = vec![
            "solve",
            scenario.to_str().unwrap(),
            "--find",
            "fleet.one.compression",
            "--range",
            "1..4",
            "--replications",
            "1",
            "--quiet",
            "--no-plots",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = run_bin(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let j: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("solve.json")).unwrap())
                .unwrap();
        (j, String::from_utf8_lossy(&o.stdout).to_string())
    };
    let (plain, _) = solve("plain", &[]);
    assert_eq!(plain["value"].as_f64(), Some(2.0));
    let (cheap, line) = solve("cheap", &["--objective", "cost.monthly"]);
    assert_eq!(cheap["value"].as_f64(), Some(4.0), "{line}");
    assert_eq!(cheap["objective_value"].as_f64(), Some(10.6));
    assert_eq!(cheap["bracket"]["holds"]["value"].as_f64(), Some(2.0));
    assert!(
        line.starts_with("best cost.monthly among the values of fleet.one.compression meeting the expectation: 4 (cost.monthly = 10.60)"),
        "{line}"
    );
    // An objective no run writes is refused before anything runs.
    let o = run_bin(&[
        "solve",
        scenario.to_str().unwrap(),
        "--find",
        "fleet.one.compression",
        "--range",
        "1..4",
        "--objective",
        "cost.totl",
        "--out",
        t.path().join("bad").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cost.total"), "{}", stderr(&o));
}

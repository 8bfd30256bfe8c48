//! Bad input through the binary: each mistake gets a clear message naming the file, line,
//! key, what was expected and found, and exit status 2, with nothing written.

use super::*;

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

#[test]
fn lognormal_tiny_mean_huge_sd_is_rejected() {
    bad(
        "lognormal",
        "daily_churn = { dist = \"lognormal\", mean = 0.03, sd = 0.02 }",
        "daily_churn = { dist = \"lognormal\", mean = 1e-300, sd = 0.5 }",
        &[
            &at("daily_churn = { dist = \"lognormal\", mean = 0.03", 15),
            "key `fleet.web.daily_churn`",
            "sd at most 1e6 × mean",
            "found mean 1e-300 and sd 0.5",
        ],
    );
}

/// A lognormal of mean 0 says what was expected and what was found (it said only
/// "lognormal needs mean > 0").
#[test]
fn a_zero_lognormal_mean_says_what_was_found() {
    bad(
        "lognormal-mean",
        "daily_churn = { dist = \"lognormal\", mean = 0.03, sd = 0.02 }",
        "daily_churn = { dist = \"lognormal\", mean = 0, sd = 0.02 }",
        &[
            &at("daily_churn = { dist = \"lognormal\", mean = 0.03", 15),
            "key `fleet.web.daily_churn`",
            "lognormal needs mean > 0, found 0",
        ],
    );
}

#[test]
fn durations_beyond_the_cap_at_the_median_are_rejected() {
    for (dist, found) in [
        (
            "{ dist = \"gamma\", scale = \"1m\", shape = 1e300 }",
            "found shape 1e300 × scale \"1m\"",
        ),
        (
            "{ dist = \"pareto\", scale = \"1m\", shape = 0.001 }",
            "found scale \"1m\" and shape 0.001",
        ),
    ] {
        bad(
            "cap",
            "[[expect]]\nmetric = \"backup.success_rate\"",
            &format!("[timing]\nsnapshot_per_disk = {dist}\n\n[[expect]]\nmetric = \"backup.success_rate\""),
            &["key `timing.snapshot_per_disk`", "at most 1000 years", found],
        );
    }
}

#[test]
fn heavy_tailed_draws_saturate() {
    let t = tempfile::tempdir().unwrap();
    let sc = small_scenario(t.path());
    let out = t.path().join("out");
    let o = run(&[
        "run",
        sc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-plots",
        "--set",
        "timing.snapshot_per_disk={ dist = \"pareto\", scale = \"1m\", shape = 0.1 }",
    ]);
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(
        e.contains("note: timing.snapshot_per_disk: ") && e.contains("exceeded 1000 years"),
        "{e}"
    );
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    let notes = run["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| {
            let n = n.as_str().unwrap();
            n.starts_with("timing.snapshot_per_disk: ") && n.contains("saturated")
        }),
        "{notes:?}"
    );
}

#[test]
fn empirical_file_from_dev_zero_is_bounded() {
    let t = tempfile::tempdir().unwrap();
    let sc = small_scenario(t.path());
    let out = t.path().join("out");
    for (file, found) in [
        ("/dev/zero", "found /dev/zero, a device"),
        ("/", "found /, a directory"),
    ] {
        refused(
            t.path(),
            &[
                "run",
                sc.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--set",
                &format!("fleet.web.disk_size={{ dist = \"empirical\", file = \"{file}\", column = \"size\" }}"),
            ],
            &["key `fleet.web.disk_size.file`", "expected a regular CSV file", found],
        );
    }
    // The scenario file itself is read only up to a bound.
    refused(
        t.path(),
        &["run", "/dev/zero", "--out", out.to_str().unwrap()],
        &["/dev/zero: expected a scenario file of at most 16 MiB"],
    );
    // Values beyond a unit's range are rejected with the file's line.
    std::fs::write(t.path().join("sizes.csv"), "size\n1 GB\n1e300\n").unwrap();
    refused(
        t.path(),
        &[
            "run",
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--set",
            "fleet.web.disk_size={ dist = \"empirical\", file = \"sizes.csv\", column = \"size\" }",
        ],
        &["sizes.csv line 3", "below 16 EiB", "found \"1e300\""],
    );
}

#[test]
fn expect_min_above_max_is_rejected() {
    bad(
        "minmax",
        "min = 0.9",
        "min = 0.9\nmax = 0.1",
        &[
            &at("min = 0.9", 7),
            "key `expect.0.min`",
            "expected min <= max for metric \"backup.success_rate\"",
            "found min 0.9 > max 0.1",
        ],
    );
    bad(
        "nan",
        "min = 0.9",
        "min = nan",
        &["key `expect.0.min`", "found nan"],
    );
}

#[test]
fn seed_beyond_toml_range_is_explained() {
    bad(
        "seed",
        "seed = 42",
        "seed = 18446744073709551615",
        &[
            &at("seed = 42", 8),
            "invalid TOML",
            "a seed beyond it is written as a quoted string, e.g. seed = \"18446744073709551615\"",
        ],
    );
    bad(
        "seed",
        "seed = 42",
        "seed = \"18446744073709551616\"",
        &[
            "key `simulation.seed`",
            "expected a seed: an integer from 0 to 18446744073709551615",
            "found \"18446744073709551616\"",
        ],
    );
    let t = tempfile::tempdir().unwrap();
    let sc = small_scenario(t.path());
    refused(
        t.path(),
        &[
            "validate",
            sc.to_str().unwrap(),
            "--set",
            "simulation.seed=-1",
        ],
        &[
            "--set simulation.seed=-1: key `simulation.seed`",
            "an integer from 0 to 18446744073709551615",
            "found the number -1",
        ],
    );
    // --seed takes any u64; the resolved scenario writes it as a string and reproduces it.
    let a = run_to(
        &sc,
        &t.path().join("a"),
        &["--seed", "18446744073709551615"],
    );
    let resolved = t.path().join("a/scenario.resolved.toml");
    let text = std::fs::read_to_string(&resolved).unwrap();
    assert!(text.contains("seed = \"18446744073709551615\""), "{text}");
    assert_eq!(a, run_to(&resolved, &t.path().join("b"), &[]));
}

#[test]
fn set_value_errors_point_at_the_set_argument() {
    let t = tempfile::tempdir().unwrap();
    let sc = small_scenario(t.path());
    let sc = sc.to_str().unwrap();
    // The error is at a table around the key the override wrote.
    let msg = refused(
        t.path(),
        &[
            "validate",
            sc,
            "--set",
            "policy.nightly.retention.daily=0",
            "--set",
            "policy.nightly.retention.weekly=0",
        ],
        &[
            "error: --set policy.nightly.retention.weekly=0: key `policy.nightly.retention`",
            "expected at least one tier",
        ],
    );
    assert!(!msg.contains("small.toml"), "{msg}");
    // An error in the file is still located in the file as written, though an override
    // added lines above it.
    let broken = t.path().join("broken.toml");
    let src = std::fs::read_to_string(sc).unwrap();
    std::fs::write(&broken, src.replace("count = 10\nkind", "count = 0\nkind")).unwrap();
    let line = src
        .lines()
        .collect::<Vec<_>>()
        .iter()
        .rposition(|l| *l == "count = 10")
        .expect("the drill's count")
        + 1;
    refused(
        t.path(),
        &[
            "validate",
            broken.to_str().unwrap(),
            "--set",
            "policy.nightly.retries.max=2",
        ],
        &[
            &format!("broken.toml:{line}:9: key `restore.dr-drill.count`"),
            "expected at least 1, found 0",
        ],
    );
}

#[test]
fn huge_fleet_is_refused_by_memory_estimate() {
    // Twenty fleets of 50 million VMs: valid, but about 250 GiB of memory.
    let t = tempfile::tempdir().unwrap();
    let mut src = std::fs::read_to_string("scenarios/quickstart.toml")
        .unwrap()
        .replace("count = 240", "count = 50000000");
    for i in 0..19 {
        src.push_str(&format!(
            "\n[[fleet]]\nname = \"more-{i}\"\ncount = 50000000\nregion = \"japan-east\"\npolicy = \"nightly\"\n"
        ));
    }
    let sc = t.path().join("huge.toml");
    std::fs::write(&sc, src).unwrap();
    let sc = sc.to_str().unwrap();
    let out = t.path().join("out");
    let out = out.to_str().unwrap();
    let expect = [
        "huge.toml: expected the run to fit in memory, found an estimated",
        "for 1000000060 VMs with their jobs",
        "nothing was written",
        "--memory-limit SIZE",
    ];
    refused(
        t.path(),
        &["run", sc, "--out", out, "--memory-limit", "64 GiB"],
        &[
            &expect[..],
            &["above the limit of 64.0 GiB (--memory-limit)"],
        ]
        .concat(),
    );
    // By default the limit is the memory available now.
    if backupsim::scenario::memory::available_memory().is_some_and(|m| m < 200 << 30) {
        refused(
            t.path(),
            &["run", sc, "--out", out],
            &[
                &expect[..],
                &["(the memory available now, MemAvailable in /proc/meminfo)"],
            ]
            .concat(),
        );
        refused(
            t.path(),
            &["check", sc],
            &["expected the run to fit in memory"],
        );
    }
    refused(
        t.path(),
        &["run", sc, "--out", out, "--memory-limit", "lots"],
        &[
            "invalid value 'lots' for '--memory-limit <SIZE>'",
            "expected a size",
        ],
    );
}

#[test]
fn absurd_sweeps_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let sc = small_scenario(t.path());
    let sc = sc.to_str().unwrap();
    let out = t.path().join("sweep");
    let out = out.to_str().unwrap();
    refused(
        t.path(),
        &[
            "sweep",
            sc,
            "--replications",
            "1000000000",
            "--vary",
            "fleet.web.count=10,20",
            "--out",
            out,
        ],
        &[
            "--replications 1000000000: 2 point(s) × 1000000000 replication(s) = 2000000000 runs",
            "expected at most 1000000 runs in a sweep",
        ],
    );
    refused(
        t.path(),
        &[
            "sweep",
            sc,
            "--replications",
            "100",
            "--threads",
            "64",
            "--out",
            out,
            "--memory-limit",
            "100 MiB",
        ],
        &[
            "small.toml: expected the sweep to fit in memory",
            "64 run(s) at once",
            "for the 100 runs",
            "use fewer --threads",
        ],
    );
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

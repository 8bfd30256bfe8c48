//! Property tests: the loader never panics, whatever the input.

use std::path::Path;

use backupsim::scenario::load_str;
use proptest::prelude::*;

const QUICKSTART: &str = include_str!("../../scenarios/quickstart.toml");

fn mutate(src: &str, cut_at: usize, cut_len: usize, insert: &str) -> String {
    let mut at = cut_at % (src.len() + 1);
    while !src.is_char_boundary(at) {
        at -= 1;
    }
    let mut end = (at + cut_len).min(src.len());
    while !src.is_char_boundary(end) {
        end += 1;
    }
    format!("{}{}{}", &src[..at], insert, &src[end..])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,300}") {
        let _ = load_str(&s, Path::new("random.toml"), &[]);
    }

    #[test]
    fn mutated_scenarios_never_panic(
        at in 0usize..4000,
        len in 0usize..40,
        insert in prop::sample::select(vec!["", "=", "\"", "[", "]]", "{", "-1", "0", "1e308", "\"-3s\"", "\"0 B\"", "nan", "{ dist = \"pareto\", shape = 0.5, scale = \"1s\" }", "[[fleet]]\n", "\n", "\"\\u0000\"", "count = 4294967295", "x = 1", "dist = \"empirical\""]),
    ) {
        let src = mutate(QUICKSTART, at, len, insert);
        let _ = load_str(&src, Path::new("mutated.toml"), &[]);
    }

    #[test]
    fn set_overrides_never_panic(key in "[a-z._-]{0,30}", value in "\\PC{0,20}") {
        let _ = load_str(QUICKSTART, Path::new("q.toml"), &[format!("{key}={value}")]);
    }
}

/// Valid scenarios with extreme but accepted values load and run without panicking.
#[test]
fn extreme_values_run() {
    for (from, to) in [
        ("count = 240", "count = 0"),
        ("duration = \"7d\"", "duration = \"2h\""),
        ("sample_every = \"15m\"", "sample_every = \"1d\""),
        (
            "daily_churn = { dist = \"lognormal\", mean = 0.03, sd = 0.02 }",
            "daily_churn = 1.0",
        ),
        ("bandwidth = \"10 Gbit/s\"", "bandwidth = \"1 bit/s\""),
    ] {
        let src = QUICKSTART.replace(from, to);
        let l = load_str(&src, Path::new("x.toml"), &[])
            .unwrap_or_else(|e| panic!("{from} -> {to}: {e}"));
        backupsim::model::run(&l.config).expect("no self-check fails on a valid scenario");
    }
}

/// A small world in which every distribution of the format is drawn: extension installs
/// and upgrades, unresponsive agents, snapshots, transfers, GRS replication, and a
/// PowerShell restore drill of multi-DC domain controllers (VM creation and the extra DC
/// steps).
const EDGE_BASE: &str = r#"
[simulation]
name = "edges"
seed = 3
duration = "2d"
sample_every = "6h"

[[region]]
name = "r"
paired = "r2"

[[region]]
name = "r2"

[[link]]
name = "l"
bandwidth = "1 GB/s"

[[vault]]
name = "v"
region = "r"
create_time = "1m"

[[policy]]
name = "p"
vault = "v"
schedule = { daily = "01:00" }
start_within = "10m"

[[fleet]]
name = "f"
count = 3
region = "r"
policy = "p"
path = ["l"]
extension = { installed = 0.5 }
agent = { responsive = 0.7 }
domain_controller = { choice = { "none" = 0.5, "multi-dc" = 0.5 } }

[timing]
extension_upgrade = 0.5

[[restore]]
name = "drill"
fleet = "f"
at = "1d 12h"
count = 3
kind = "create-vm"
via = "powershell"
"#;

#[derive(Clone, Copy, PartialEq, Debug)]
enum EdgeKind {
    Duration,
    Size,
    Ratio,
    Count,
}

/// Parameter values at the edges, as TOML literals, for a parameter of `kind`: zero, the
/// smallest positive float, a huge magnitude, the largest values the units allow and just
/// beyond, NaN, infinity and a negative.
fn edge_values(kind: EdgeKind) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = match kind {
        EdgeKind::Duration => vec!["\"0s\"", "\"1us\"", "\"366000d\"", "\"366001d\""],
        EdgeKind::Size => vec![
            "\"0 B\"",
            "\"1 B\"",
            "\"16000 PB\"",
            "\"18446744073709551615 B\"",
        ],
        EdgeKind::Ratio => vec!["1", "0.5"],
        EdgeKind::Count => vec!["4294967295", "4294967296"],
    };
    v.extend(["0", "5e-324", "1e-300", "1e300", "nan", "inf", "-1"]);
    v
}

/// Shape parameters: near 0, 1, huge, and invalid.
const SHAPES: [&str; 8] = ["5e-324", "1e-300", "0.05", "0.1", "1", "1e300", "nan", "0"];

/// Bounds of `uniform-int` (integers in base units).
const INTS: [&str; 6] = ["0", "1", "-1", "4294967296", "9223372036854775807", "1.5"];

fn nominal(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Duration => "\"10s\"",
        EdgeKind::Size => "\"1 GB\"",
        EdgeKind::Ratio => "0.5",
        EdgeKind::Count => "1",
    }
}

/// Every distribution kind with each parameter at each edge (the others nominal), and
/// empirical columns holding edge values, for each unit (durations, sizes, ratios,
/// counts). Each variant is loaded: it is accepted or rejected with a message (exit status
/// 2). Then every accepted variant is run at every key that takes a distribution of its
/// unit (all those keys at once, one scenario per variant). Nothing panics.
#[test]
fn distribution_edges_never_panic() {
    use EdgeKind::*;
    let places: Vec<(&str, EdgeKind)> = vec![
        ("vault.v.create_time", Duration),
        ("timing.agent_status_wait", Duration),
        ("timing.extension_install", Duration),
        ("timing.extension_upgrade_time", Duration),
        ("timing.snapshot_per_disk", Duration),
        ("timing.vm_create", Duration),
        ("timing.dc_powershell_extra", Duration),
        ("timing.geo_replication", Duration),
        ("fleet.f.disk_size", Size),
        ("fleet.f.os_disk", Size),
        ("fleet.f.backup_size", Size),
        ("fleet.f.used", Ratio),
        ("fleet.f.daily_churn", Ratio),
        ("fleet.f.data_disks", Count),
        ("fleet.f.nics", Count),
        ("fleet.f.reserved_ips", Count),
        ("fleet.f.endpoints", Count),
    ];
    let dists: [(&str, &[&str]); 10] = [
        ("constant", &["value"]),
        ("uniform", &["min", "max"]),
        ("uniform-int", &["min", "max"]),
        ("exponential", &["mean"]),
        ("normal", &["mean", "sd"]),
        ("lognormal", &["mean", "sd"]),
        ("gamma", &["shape", "scale"]),
        ("weibull", &["shape", "scale"]),
        ("triangular", &["min", "mode", "max"]),
        ("pareto", &["shape", "scale"]),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edges.toml");
    // One empirical file per edge value, in a column named "x".
    let cells = [
        "0",
        "5e-324",
        "1e-300",
        "1e300",
        "nan",
        "inf",
        "-1",
        "4294967296",
        "366000d",
        "366001d",
        "0.5",
        "18446744073709551615",
        "abc",
        "",
    ];
    let mut empirical = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        let name = format!("e{i}.csv");
        std::fs::write(dir.path().join(&name), format!("x\n1\n{c}\n")).unwrap();
        empirical.push(format!(
            "{{ dist = \"empirical\", file = \"{name}\", column = \"x\" }}"
        ));
    }
    let mut variants: Vec<(EdgeKind, String)> = Vec::new();
    for kind in [Duration, Size, Ratio, Count] {
        for v in edge_values(kind) {
            variants.push((kind, v.to_string()));
        }
        for (name, params) in dists {
            let values = |p: &str| -> Vec<&str> {
                match (p, name) {
                    ("shape", _) => SHAPES.to_vec(),
                    (_, "uniform-int") => INTS.to_vec(),
                    _ => edge_values(kind),
                }
            };
            let nominal_of = |p: &str| match (p, name) {
                ("shape", _) => "2",
                (_, "uniform-int") => "1",
                _ => nominal(kind),
            };
            for &p in params {
                for v in values(p) {
                    let body: Vec<String> = params
                        .iter()
                        .map(|&q| format!("{q} = {}", if q == p { v } else { nominal_of(q) }))
                        .collect();
                    variants.push((
                        kind,
                        format!("{{ dist = \"{name}\", {} }}", body.join(", ")),
                    ));
                }
            }
        }
        for e in &empirical {
            variants.push((kind, e.clone()));
        }
    }

    // Panics are caught and listed at the end; their messages would only be noise.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut panicked = Vec::new();
    let mut accepted: Vec<(EdgeKind, String)> = Vec::new();
    for (kind, v) in &variants {
        let key = places.iter().find(|p| p.1 == *kind).unwrap().0;
        let set = format!("{key}={v}");
        let r = std::panic::catch_unwind(|| load_str(EDGE_BASE, &path, std::slice::from_ref(&set)));
        match r {
            Ok(Ok(_)) => accepted.push((*kind, v.clone())),
            Ok(Err(e)) => {
                let msg = e.to_string();
                assert!(
                    e.exit_code() == 2 && (msg.contains("expected") || msg.contains("needs")),
                    "{set}: unclear message: {msg}"
                );
            }
            Err(_) => panicked.push(format!("loading {set}")),
        }
    }
    // Every accepted variant runs at every key of its unit: scenario `r` takes the r-th
    // accepted variant of each unit at once (cycling through the shorter lists).
    let by_kind: Vec<(EdgeKind, Vec<&String>)> = [Duration, Size, Ratio, Count]
        .into_iter()
        .map(|k| {
            (
                k,
                accepted.iter().filter(|a| a.0 == k).map(|a| &a.1).collect(),
            )
        })
        .collect();
    let rounds = by_kind.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
    let scenarios: Vec<Vec<String>> = (0..rounds)
        .map(|r| {
            let mut sets = Vec::new();
            for (kind, list) in &by_kind {
                for (key, _) in places.iter().filter(|p| p.1 == *kind) {
                    sets.push(format!("{key}={}", list[r % list.len()]));
                }
            }
            sets
        })
        .collect();
    let run_all = |part: &[Vec<String>]| -> Vec<String> {
        let mut bad = Vec::new();
        for sets in part {
            let r = std::panic::catch_unwind(|| {
                let l = load_str(EDGE_BASE, &path, sets).expect("each override was accepted alone");
                backupsim::model::run(&l.config)
                    .map(|_| ())
                    .map_err(|f| f.to_string())
            });
            match r {
                Ok(Ok(())) => {}
                Ok(Err(f)) => bad.push(format!("{sets:?}: {f}")),
                Err(_) => bad.push(format!("running {sets:?}")),
            }
        }
        bad
    };
    let half = scenarios.len() / 2;
    std::thread::scope(|sc| {
        let a = sc.spawn(|| run_all(&scenarios[..half]));
        let b = run_all(&scenarios[half..]);
        panicked.extend(a.join().unwrap());
        panicked.extend(b);
    });
    std::panic::set_hook(hook);
    assert!(
        panicked.is_empty(),
        "{} of {} variants failed: {panicked:#?}",
        panicked.len(),
        variants.len()
    );
    assert!(
        accepted.len() > 50 && variants.len() - accepted.len() > 100,
        "{} accepted of {}",
        accepted.len(),
        variants.len()
    );
}

/// Values at their edges elsewhere than in distributions: retention tiers at the integer
/// limit, rates near 0, a path of links whose latencies add up beyond the clock, extreme
/// category weights. Each loads or is rejected with a message, and runs without a panic.
#[test]
fn other_edges_never_panic() {
    let mut links = String::new();
    let mut path = Vec::new();
    for i in 0..700 {
        links.push_str(&format!(
            "\n[[link]]\nname = \"far{i}\"\nbandwidth = \"1 bit/s\"\nlatency = \"366000d\"\n"
        ));
        path.push(format!("\"far{i}\""));
    }
    let far =
        EDGE_BASE.replace("path = [\"l\"]", &format!("path = [{}]", path.join(", "))) + &links;
    let cases: Vec<(String, Vec<&str>)> = vec![
        (EDGE_BASE.into(), vec!["policy.p.retention={ daily = 4294967295, weekly = 4294967295, monthly = 4294967295, yearly = 4294967295 }"]),
        (EDGE_BASE.into(), vec!["policy.p.retention={ yearly = 4294967295 }", "restore.drill.point=\"oldest\""]),
        (
            EDGE_BASE.replace("at = \"1d 12h\"", "rate = { per_day = 5e-324 }"),
            vec!["restore.drill.count=4294967295"],
        ),
        (EDGE_BASE.into(), vec!["fleet.f.on_demand={ per_vm_per_day = 5e-324 }"]),
        (EDGE_BASE.into(), vec!["fleet.f.on_demand={ per_vm_per_day = 1e6 }", "simulation.duration=\"1h\"", "simulation.sample_every=\"1h\""]),
        (EDGE_BASE.into(), vec!["fleet.f.os={ choice = { \"a\" = 1e308, \"b\" = 1e308 } }"]),
        (EDGE_BASE.into(), vec!["fleet.f.os={ choice = { \"a\" = 5e-324 } }"]),
        (EDGE_BASE.into(), vec!["policy.p.retries={ max = 100, delay = \"366000d\" }", "fleet.f.agent={ responsive = 0.0 }"]),
        (EDGE_BASE.into(), vec!["policy.p.start_within=\"366000d\""]),
        (EDGE_BASE.into(), vec!["link.l.outages={ mtbf = \"366000d\", mttr = \"366000d\", windows = [{ at = \"366000d\", duration = \"366000d\" }] }"]),
        (EDGE_BASE.into(), vec!["timing.http_timeout=\"366000d\"", "timing.http_retries=100", "fleet.f.connectivity={ blocked = 1.0 }"]),
        (EDGE_BASE.into(), vec!["fleet.f.max_throughput=\"1 bit/s\"", "fleet.f.backup_size=\"16000 PB\""]),
        (far, vec![]),
    ];
    for (src, sets) in cases {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        match load_str(&src, Path::new("edges.toml"), &sets) {
            Ok(l) => {
                backupsim::model::run(&l.config)
                    .unwrap_or_else(|f| panic!("{sets:?}: self-check failed: {f}"));
            }
            Err(e) => assert!(e.to_string().contains("expected"), "{sets:?}: {e}"),
        }
    }
}

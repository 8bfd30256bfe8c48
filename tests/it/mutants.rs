//! Mutation fuzz of the shipped scenarios: thousands of broken variants (lines and tables
//! deleted or duplicated, values of the wrong type, zero, negative, huge, NaN, midnight and
//! odd times, swapped units, truncated files, random bytes) never panic, never hang, exit
//! only with 0, 1 or 2 and never leave a staging folder behind.
//!
//! Each scenario is first shrunk (a few VMs per fleet, three days) so that the accepted
//! mutants also *run*, in process, and a sample of them runs through the binary.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use backupsim::scenario::load_str;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use super::common::{bin, shipped_scenarios, shrink};

/// Mutants per shipped scenario (nine scenarios: ≥ 2 000 in all).
const PER_SCENARIO: usize = 225;
/// Every this many mutants also run through the binary.
const BINARY_EVERY: usize = 24;

const VALUES: &[&str] = &[
    "\"x\"",
    "true",
    "[1, 2]",
    "{}",
    "{ dist = \"nope\" }",
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "5e-324",
    "1e-300",
    "4294967296",
    "18446744073709551616",
    "\"00:00\"",
    "\"23:59:59\"",
    "\"24:00\"",
    "\"0s\"",
    "\"1000y\"",
    "\"-3h\"",
    "\"5 Gbit/s\"",
    "\"5 GB\"",
    "\"0 B\"",
    "\"1 µs\"",
    "\"3d 25h\"",
    "\"\"",
    "{ dist = \"lognormal\", mean = \"1s\", sd = \"1000d\" }",
    "{ dist = \"pareto\", scale = \"1m\", shape = 0.1 }",
    "{ dist = \"weibull\", scale = \"1m\", shape = 0.05 }",
    "{ dist = \"gamma\", shape = 1e300, scale = \"1s\" }",
    "{ dist = \"uniform\", min = \"2h\", max = \"1h\" }",
    "{ daily = \"00:00\" }",
    "{ weekly = [], at = \"02:00\" }",
];
/// Distribution-valued timing keys, and distributions at the edges of what can be sampled.
const TIMING_KEYS: &[&str] = &[
    "agent_status_wait",
    "extension_install",
    "extension_upgrade_time",
    "snapshot_per_disk",
    "vm_create",
    "dc_powershell_extra",
    "geo_replication",
];
const EDGE_DISTS: &[&str] = &[
    "{ dist = \"pareto\", scale = \"1m\", shape = 0.1 }",
    "{ dist = \"weibull\", scale = \"1m\", shape = 0.05 }",
    "{ dist = \"gamma\", shape = 1e300, scale = \"1s\" }",
    "{ dist = \"gamma\", shape = 5e-324, scale = \"1s\" }",
    "{ dist = \"lognormal\", mean = \"1s\", sd = \"1000d\" }",
    "{ dist = \"normal\", mean = \"1s\", sd = \"100000d\" }",
    "{ dist = \"exponential\", mean = \"1000y\" }",
    "{ dist = \"uniform\", min = \"0s\", max = \"1000y\" }",
    "{ dist = \"triangular\", min = \"0s\", mode = \"0s\", max = \"0s\" }",
    "\"0s\"",
];
const UNITS: &[(&str, &str)] = &[
    ("GB", "s"),
    ("h", "GB"),
    ("Gbit/s", "h"),
    ("GiB", "Mbit/s"),
    ("d", "TB"),
    ("m", "B"),
];

/// Where each `[table]` or `[[array]]` header starts and ends (line ranges).
fn tables(lines: &[&str]) -> Vec<(usize, usize)> {
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim_start().starts_with('['))
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| (s, starts.get(k + 1).copied().unwrap_or(lines.len())))
        .collect()
}

fn mutate(src: &str, rng: &mut Pcg64Mcg) -> String {
    let lines: Vec<&str> = src.lines().collect();
    let n = lines.len().max(1);
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match rng.gen_range(0..9) {
        8 => {
            // A timing distribution at its edge (the scenario may define [timing] already:
            // then the duplicate table is an error, also a fine mutant).
            let key = TIMING_KEYS[rng.gen_range(0..TIMING_KEYS.len())];
            let dist = EDGE_DISTS[rng.gen_range(0..EDGE_DISTS.len())];
            out.push(format!("\n[timing]\n{key} = {dist}"));
        }
        0 => {
            out.remove(rng.gen_range(0..n).min(out.len().saturating_sub(1)));
        }
        1 => {
            let i = rng.gen_range(0..n);
            out.insert(i, lines[i.min(lines.len() - 1)].to_string());
        }
        2 | 3 => {
            let t = tables(&lines);
            if !t.is_empty() {
                let (a, b) = t[rng.gen_range(0..t.len())];
                let block: Vec<String> = out[a..b].to_vec();
                if rng.gen_bool(0.5) {
                    out.drain(a..b);
                } else {
                    for (k, l) in block.into_iter().enumerate() {
                        out.insert(b + k, l);
                    }
                }
            }
        }
        4 | 5 => {
            // Replace the value of a random `key = value` line.
            let keyed: Vec<usize> = (0..out.len())
                .filter(|&i| out[i].contains(" = ") && !out[i].trim_start().starts_with('#'))
                .collect();
            if !keyed.is_empty() {
                let i = keyed[rng.gen_range(0..keyed.len())];
                let key = out[i].split(" = ").next().unwrap().to_string();
                out[i] = format!("{key} = {}", VALUES[rng.gen_range(0..VALUES.len())]);
            }
        }
        6 => {
            let (from, to) = UNITS[rng.gen_range(0..UNITS.len())];
            let i = rng
                .gen_range(0..out.len().max(1))
                .min(out.len().saturating_sub(1));
            if let Some(l) = out.get_mut(i) {
                *l = l.replacen(from, to, 1);
            }
        }
        _ => {
            let mut bytes = out.join("\n").into_bytes();
            if rng.gen_bool(0.5) {
                bytes.truncate(rng.gen_range(0..=bytes.len()));
            } else {
                let at = rng.gen_range(0..=bytes.len());
                let junk: Vec<u8> = (0..rng.gen_range(1..16)).map(|_| rng.gen()).collect();
                bytes.splice(at..at, junk);
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    out.join("\n")
}

#[test]
fn mutated_shipped_scenarios_never_panic_hang_or_leave_staging() {
    let scenarios: Vec<(String, String)> = shipped_scenarios()
        .into_iter()
        .map(|(n, src)| (n, shrink(&src, 6, 3)))
        .collect();
    assert!(scenarios.len() >= 9, "the shipped scenarios");
    let mut rng = Pcg64Mcg::seed_from_u64(0x5eed_f00d);
    let tmp = tempfile::tempdir().unwrap();
    let (mut total, mut accepted, mut through_binary) = (0, 0, 0);
    let mut panics = Vec::new();
    for (name, base) in &scenarios {
        for k in 0..PER_SCENARIO {
            let src = mutate(base, &mut rng);
            total += 1;
            // Relative files (an inventory) are found beside the scenario.
            let path = &Path::new("scenarios").join(name);
            let loaded = catch_unwind(AssertUnwindSafe(|| load_str(&src, path, &[])));
            let loaded = match loaded {
                Err(_) => {
                    panics.push(format!("{name} #{k} (load):\n{src}"));
                    continue;
                }
                Ok(l) => l,
            };
            if let Ok(l) = loaded {
                accepted += 1;
                let ran = catch_unwind(AssertUnwindSafe(|| backupsim::model::run(&l.config)));
                match ran {
                    Err(_) => panics.push(format!("{name} #{k} (run):\n{src}")),
                    Ok(Err(f)) => panics.push(format!("{name} #{k} self-check: {f}\n{src}")),
                    Ok(Ok(_)) => {}
                }
            }
            if k % BINARY_EVERY == 0 {
                through_binary += 1;
                binary_run(tmp.path(), &src, &format!("{name} #{k}"));
            }
        }
    }
    assert!(
        panics.is_empty(),
        "{} of {total} mutants panicked:\n{}",
        panics.len(),
        panics.join("\n---\n")
    );
    assert!(total >= 2_000, "{total} mutants");
    // The mutations must not all be rejected (then the run path would go untested).
    assert!(
        accepted > total / 10,
        "only {accepted} of {total} mutants were valid"
    );
    assert!(through_binary >= 80);
}

/// Runs one mutant through the binary: it ends in time, with 0, 1 or 2, and leaves no
/// staging folder (and no results directory when it fails).
fn binary_run(tmp: &Path, src: &str, what: &str) {
    let file = tmp.join("mutant.toml");
    std::fs::write(&file, src).unwrap();
    let out = tmp.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let mut child = bin()
        .args([
            "run",
            file.to_str().unwrap(),
            "--quiet",
            "--no-plots",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: still running after 60 s:\n{src}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let code = status.code();
    assert!(
        matches!(code, Some(0..=2)),
        "{what}: exit {code:?}: {err}\n{src}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
    if code != Some(0) && code != Some(1) {
        assert!(!out.exists(), "{what}: failed but wrote {}", out.display());
    }
    let staging: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-"))
        .collect();
    assert!(staging.is_empty(), "{what}: left {staging:?}");
}

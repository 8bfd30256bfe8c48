//! A sweep on a real Slurm cluster: `scripts/slurm-sweep.sh` submits a 4-task job array
//! and a dependent merge job; the merged directory must equal a single-machine sweep byte
//! for byte (run.json aside).
//!
//! Runs only where `sbatch` is on PATH and `sinfo` answers; elsewhere it prints why it is
//! skipping and passes. `scripts/ci-slurm.sh` sets up a one-node cluster and runs this test
//! with `BACKUPSIM_SLURM=1`, which turns "Slurm not available" into a failure.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_backupsim");

const SCENARIO: &str = r#"
[simulation]
name = "slurm-tiny"
seed = 11
duration = "3d"
sample_every = "1h"

[[region]]
name = "r1"

[[link]]
name = "wan"
bandwidth = "1 Gbit/s"

[[vault]]
name = "v1"
region = "r1"

[[policy]]
name = "nightly"
vault = "v1"
schedule = { daily = "22:00" }
start_within = "2h"

[[fleet]]
name = "web"
count = 30
region = "r1"
policy = "nightly"
path = ["wan"]
data_disks = { dist = "uniform-int", min = 1, max = 4 }
disk_size = "64 GiB"
"#;

/// Why Slurm cannot be used here, if it cannot.
fn unavailable() -> Option<String> {
    match Command::new("sbatch")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Err(_) => return Some("sbatch is not on PATH".into()),
        Ok(s) if !s.success() => return Some("`sbatch --version` failed".into()),
        Ok(_) => {}
    }
    let mut child = match Command::new("sinfo")
        .arg("-h")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Some(format!("cannot run sinfo: {e}")),
    };
    // sinfo can hang for a long time when slurmctld is down; do not wait for it.
    let t0 = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(s)) if s.success() => return None,
            Ok(Some(_)) => {
                let mut err = String::new();
                use std::io::Read;
                let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
                return Some(format!("sinfo does not answer: {}", err.trim()));
            }
            Ok(None) if t0.elapsed() > Duration::from_secs(10) => {
                let _ = child.kill();
                return Some("sinfo did not answer within 10 s".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Some(format!("sinfo: {e}")),
        }
    }
}

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.file_name().unwrap() != "run.json" {
                out.insert(
                    p.strip_prefix(root).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

#[test]
fn job_array_and_merge_equal_a_single_machine_sweep() {
    if let Some(why) = unavailable() {
        if std::env::var("BACKUPSIM_SLURM").as_deref() == Ok("1") {
            panic!("BACKUPSIM_SLURM=1 but Slurm is not available: {why}");
        }
        eprintln!("skipping: Slurm not available ({why}); run scripts/ci-slurm.sh as root to set up a one-node cluster and run this test");
        return;
    }
    let t0 = Instant::now();
    // Under the target directory rather than /tmp: Slurm jobs must see it, and on a real
    // cluster the build tree is more likely to be on a shared filesystem than /tmp is.
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let tmp = tempfile::tempdir_in(base).unwrap();
    let scenario = tmp.path().join("slurm-tiny.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let sweep_flags = [
        "--vary",
        "fleet.web.count=20,40",
        "--vary",
        "link.wan.bandwidth=1 Gbit/s,200 Mbit/s",
        "--replications",
        "3",
    ];

    let out = tmp.path().join("slurm");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-sweep.sh");
    let o = Command::new(&script)
        .args([
            "-n",
            "4",
            "--wait",
            "--bin",
            BIN,
            "--out",
            out.to_str().unwrap(),
            "--",
            scenario.to_str().unwrap(),
        ])
        .args(sweep_flags)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let logs = tmp.path().join("slurm.slurm");
    let log = |n: &str| std::fs::read_to_string(logs.join(n)).unwrap_or_default();
    assert!(
        o.status.success(),
        "slurm-sweep.sh failed: {stdout}{}\nmerge log: {}",
        String::from_utf8_lossy(&o.stderr),
        log("merge.out")
    );
    eprint!("{stdout}");
    for i in 0..4 {
        let l = log(&format!("shard-{i}.out"));
        assert!(
            l.contains(&format!("shard {i}/4: 3 of 12 runs")),
            "shard {i} log: {l}"
        );
        eprint!("shard-{i}.out: {l}");
    }
    eprint!("merge.out: {}", log("merge.out"));

    let single = tmp.path().join("single");
    let o = Command::new(BIN)
        .args(["sweep", scenario.to_str().unwrap()])
        .args(sweep_flags)
        .args(["--out", single.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let (a, b) = (tree(&single), tree(&out));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "file lists differ"
    );
    for (k, v) in &a {
        assert!(
            v == &b[k],
            "{k} differs between the single-machine and the Slurm sweep"
        );
    }
    eprintln!(
        "slurm: 4-task array + merge == single-machine sweep: {} files compared byte for byte (run.json excluded) in {:.1} s",
        a.len(),
        t0.elapsed().as_secs_f64()
    );
}

//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use backupsim::model::{simulate, simulate_checked, JobRecord, Observer, Outcome, Sample};
use backupsim::scenario::load_str;

/// A finished attempt, owned.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: u64,
    pub kind: String,
    pub fleet: String,
    pub vm: u32,
    pub attempt: u32,
    pub scheduled_us: u64,
    pub started_us: u64,
    pub finished_us: u64,
    pub phases_us: [u64; 5],
    pub bytes: u64,
    pub outcome: String,
    pub error: String,
    pub consistency: String,
    pub window_miss: bool,
}

impl Row {
    pub fn duration_us(&self) -> u64 {
        self.finished_us - self.started_us
    }
}

#[derive(Default)]
pub struct Collect(pub Vec<Row>);

impl Observer for Collect {
    fn wants_jobs(&self) -> bool {
        true
    }
    fn job(&mut self, r: &JobRecord<'_>) {
        self.0.push(Row {
            id: r.id,
            kind: r.kind.into(),
            fleet: r.fleet.into(),
            vm: r.vm,
            attempt: r.attempt,
            scheduled_us: r.scheduled.as_micros(),
            started_us: r.started.as_micros(),
            finished_us: r.finished.as_micros(),
            phases_us: r.phases.map(|p| p.as_micros()),
            bytes: r.bytes,
            outcome: r.outcome.into(),
            error: r.error.into(),
            consistency: r.consistency.into(),
            window_miss: r.window_miss,
        });
    }
}

/// Job rows and the first vault's samples `(time µs, stored bytes, recovery points)`.
#[derive(Default)]
pub struct CollectSamples(pub Vec<Row>, pub Vec<(u64, u64, u64)>);

impl Observer for CollectSamples {
    fn wants_jobs(&self) -> bool {
        true
    }
    fn job(&mut self, r: &JobRecord<'_>) {
        let mut c = Collect::default();
        c.job(r);
        self.0.extend(c.0);
    }
    fn sample(&mut self, s: &Sample<'_>) {
        let (stored, points) = s.vaults[0];
        self.1.push((s.time.as_micros(), stored, points));
    }
}

/// Runs scenario text with every invariant checked after every event, returning the
/// outcome, every job row and the first vault's samples.
pub fn run_sampled(src: &str) -> (Outcome, Vec<Row>, Vec<(u64, u64, u64)>) {
    let loaded = match load_str(src, Path::new("test.toml"), &[]) {
        Ok(l) => l,
        Err(e) => panic!("scenario does not load: {e}\n{src}"),
    };
    let mut c = CollectSamples::default();
    let out = simulate_checked(&loaded.config, &mut c).expect("the simulator's self-checks pass");
    (out, c.0, c.1)
}

/// Runs scenario text, returning the outcome and every job row.
pub fn run_src(src: &str) -> (Outcome, Vec<Row>) {
    let loaded = match load_str(src, Path::new("test.toml"), &[]) {
        Ok(l) => l,
        Err(e) => panic!("scenario does not load: {e}\n{src}"),
    };
    let mut c = Collect::default();
    let out = simulate(&loaded.config, &mut c).expect("the simulator's self-checks pass");
    (out, c.0)
}

pub fn get(m: &BTreeMap<String, f64>, k: &str) -> f64 {
    *m.get(k).unwrap_or_else(|| {
        panic!(
            "metric {k} missing; have: {:?}",
            m.keys().collect::<Vec<_>>()
        )
    })
}

pub const SEC: u64 = 1_000_000;

/// A deterministic one-VM world: every step that can be random is pinned, so timelines
/// can be computed by hand. Callers append or replace lines.
pub fn base(duration: &str, fleet_extra: &str, timing_extra: &str, rest: &str) -> String {
    format!(
        r#"
[simulation]
name = "t"
seed = 7
duration = "{duration}"

[[region]]
name = "r1"
paired = "r2"

[[region]]
name = "r2"

[[link]]
name = "wan"
bandwidth = "1 GB/s"

[[vault]]
name = "v"
region = "r1"
redundancy = "LRS"
create_time = "0s"

[[policy]]
name = "p"
vault = "v"
schedule = {{ daily = "01:00" }}
start_within = "0s"
retention = {{ daily = 30 }}

[[fleet]]
name = "f"
count = 1
region = "r1"
policy = "p"
path = ["wan"]
os = "windows-2012r2"
extension = {{ installed = 1.0 }}
data_disks = 1
disk_size = "100 GB"
os_disk = "100 GB"
used = 0.5
daily_churn = 0.1
{fleet_extra}

[timing]
extension_upgrade = 0.0
extension_failure = 0.0
snapshot_per_disk = "10s"
snapshot_task_failure = 0.0
vss_failure = 0.0
transient_failure = 0.0
extension_install = "3m"
agent_status_wait = "5m"
vm_create = "25m"
dc_powershell_extra = "30m"
{timing_extra}

{rest}
"#
    )
}

/// Asserts `a` is within relative tolerance `rel` of `b`.
pub fn approx(a: f64, b: f64, rel: f64) {
    assert!(
        (a - b).abs() <= rel * b.abs(),
        "{a} is not within {rel} of {b}"
    );
}

/// The `backupsim` binary built for these tests.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_backupsim"))
}

/// Runs the binary with `args` and collects its output.
pub fn run_bin(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

/// The standard error of a finished command, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The quickstart scenario shrunk to `web` + `db` VMs over `days` days (its restore drill
/// moved to 10:00 of the last day), written to `dir/name`.
pub fn quickstart(dir: &Path, name: &str, web: u32, db: u32, days: u32) -> PathBuf {
    let src = std::fs::read_to_string("scenarios/quickstart.toml")
        .unwrap()
        .replace("count = 60\nregion", &format!("count = {db}\nregion"))
        .replace("count = 240", &format!("count = {web}"))
        .replace("duration = \"7d\"", &format!("duration = \"{days}d\""))
        .replace("at = \"5d 10h\"", &format!("at = \"{}d 10h\"", days - 1))
        // The drill restores at most the whole web fleet (more would warn).
        .replace(
            "count = 10\nkind",
            &format!("count = {}\nkind", web.min(10)),
        );
    let p = dir.join(name);
    std::fs::write(&p, src).unwrap();
    p
}

/// A shipped scenario's text shrunk to at most `max_vms` VMs per fleet and `days` days
/// (restore drills moved to 10:00 of day 1), so that it runs in milliseconds.
pub fn shrink(src: &str, max_vms: u64, days: u32) -> String {
    src.lines()
        .map(|l| {
            let t = l.trim_start();
            if let Some(v) = t.strip_prefix("count = ") {
                match v.trim().parse::<u64>() {
                    Ok(n) if n > max_vms => format!("count = {max_vms}"),
                    _ => l.to_string(),
                }
            } else if t.starts_with("duration = ") {
                format!("duration = \"{days}d\"")
            } else if t.starts_with("at = \"") && t.contains('d') {
                "at = \"1d 10h\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The shipped scenarios, `(file name, text)`, in name order.
pub fn shipped_scenarios() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

/// A sweep scenario small enough that a run takes milliseconds (40 VMs, 3 days), shared by
/// the sweep and Slurm tests.
pub const TINY_SWEEP: &str = include_str!("data/tiny-sweep.toml");

/// Every file under `dir` (relative path → bytes), except the wall-clock `run.json` and
/// `costs.csv`: what must be byte-identical between equivalent sweeps.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if !["run.json", "costs.csv"].contains(&p.file_name().unwrap().to_str().unwrap())
            {
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

//! Fleet inventories: a CSV of the fleet's VMs. A row's cells are exactly what its VM's
//! jobs see (disks, used bytes, power, agent, cloud service), blank cells and missing
//! columns keep the fleet's draws, and bad cells are errors at their file, line and
//! column (exit 2). Also the capacity estimate's first night under onboarding.

use std::path::Path;

use backupsim::model::{simulate, Outcome};
use backupsim::scenario::estimate::estimate;
use backupsim::scenario::inventory::parse;
use backupsim::scenario::{load, Loaded};
use proptest::prelude::*;

use super::common::*;

/// Writes `scenario` and `csv` (as `vms.csv`, beside it) into `dir` and loads it.
fn load_in(dir: &Path, scenario: &str, csv: &str) -> backupsim::error::Result<Loaded> {
    std::fs::write(dir.join("vms.csv"), csv).unwrap();
    let path = dir.join("s.toml");
    std::fs::write(&path, scenario).unwrap();
    load(&path, &[])
}

fn run_loaded(l: &Loaded) -> (Outcome, Vec<Row>) {
    let mut c = Collect::default();
    let out = simulate(&l.config, &mut c).expect("the simulator's self-checks pass");
    (out, c.0)
}

/// The one-VM world of `common::base` with its fleet's VMs from `vms.csv`.
fn with_inventory(duration: &str, fleet_extra: &str) -> String {
    base(duration, fleet_extra, "", "").replace("count = 1\n", "inventory = \"vms.csv\"\n")
}

/// The fleet draws 1 data disk of 100 GB and an OS disk of 100 GB, half used; the row says
/// a 1 TB OS disk and three 10 GB data disks holding 1 030 GB. Each disk is its own flow
/// at the full-backup rate of 20 MB/s: the 1 TB disk decides, 10^12 B / 20 MB/s =
/// 50 000 s to the µs, after the 10 s snapshot (disks in parallel).
#[test]
fn an_inventory_rows_disks_are_what_the_job_copies() {
    let t = tempfile::tempdir().unwrap();
    let l = load_in(
        t.path(),
        &with_inventory("2d", ""),
        "name,disks,used\nsql-01,1 TB;10 GB;10 GB;10 GB,1030 GB\n",
    )
    .unwrap();
    assert_eq!(l.config.fleets[0].count, 1);
    let (out, rows) = run_loaded(&l);
    let r = &rows[0];
    assert_eq!((r.vm, r.outcome.as_str()), (0, "succeeded"));
    assert_eq!(r.bytes, 1_030_000_000_000);
    assert_eq!(r.phases_us, [0, 0, 10 * SEC, 50_000 * SEC, 0]);
    assert_eq!(get(&out.summary, "backup.bytes.full"), 1.03e12);
}

/// Eight VMs with drawn disks, used shares, agents and power states; `extra` adds fleet
/// keys.
fn drawn_fleet(extra: &str) -> String {
    base(
        "3d",
        &format!(
            "{extra}\nagent = {{ installed = 0.7 }}\nrunning = 0.8\n\
             data_disks = {{ dist = \"uniform-int\", min = 0, max = 3 }}\n\
             used = {{ dist = \"uniform\", min = 0.2, max = 0.9 }}\n"
        ),
        "",
        "",
    )
    .replace("count = 1\n", "count = 8\n")
    .replace(
        "daily_churn = 0.1\n",
        "daily_churn = { dist = \"uniform\", min = 0.01, max = 0.2 }\n",
    )
    .replace("used = 0.5\n", "")
    .replace("data_disks = 1\n", "")
    .replace("extension = { installed = 1.0 }\n", "")
}

/// An inventory of names only changes nothing: every attribute comes from the same draws,
/// job for job and metric for metric.
#[test]
fn missing_columns_fall_back_to_the_fleets_draws() {
    let t = tempfile::tempdir().unwrap();
    let (out0, rows0) = run_src(&drawn_fleet(""));
    let names: String = (0..8).map(|i| format!("vm-{i}\n")).collect();
    let l = load_in(
        t.path(),
        &drawn_fleet("inventory = \"vms.csv\"").replace("count = 8\n", ""),
        &format!("name\n{names}"),
    )
    .unwrap();
    let (out1, rows1) = run_loaded(&l);
    assert!(rows0.len() > 8, "several nights of jobs");
    assert_eq!(format!("{rows0:?}"), format!("{rows1:?}"));
    assert_eq!(out0.summary, out1.summary);
}

/// Blank cells keep the draws too: only VM 3's row is filled, so every other VM's first
/// backup moves the bytes it moves without an inventory, and VM 3's moves its row's used
/// bytes.
#[test]
fn blank_cells_fall_back_vm_by_vm() {
    let t = tempfile::tempdir().unwrap();
    let (_, rows0) = run_src(&drawn_fleet(""));
    let csv = "disks,used,power,agent\n,,,\n,,,\n,,,\n10 GB;20 GB,6 GB,running,installed\n,,,\n,,,\n,,,\n,,,\n";
    let l = load_in(t.path(), &drawn_fleet("inventory = \"vms.csv\""), csv).unwrap();
    let (_, rows1) = run_loaded(&l);
    let first = |rows: &[Row], vm: u32| {
        rows.iter()
            .find(|r| r.vm == vm && r.outcome == "succeeded")
            .map(|r| r.bytes)
    };
    for vm in (0..8).filter(|&v| v != 3) {
        assert_eq!(first(&rows0, vm), first(&rows1, vm), "vm {vm}");
    }
    assert_eq!(first(&rows1, 3), Some(6_000_000_000));
}

/// Power and agent cells decide the job: a stopped VM that never had the extension
/// cannot take its install (AzureVmOffline), a VM without the agent is never ready
/// (UserErrorGuestAgentStatusUnavailable), a running one with it succeeds.
#[test]
fn stopped_and_agentless_rows_fail_as_the_service_does() {
    let t = tempfile::tempdir().unwrap();
    let src = with_inventory("1d", "").replace("extension = { installed = 1.0 }\n", "");
    let csv = "name,power,agent\nok,running,installed\noff,stopped,\nbare,running,missing\n";
    let l = load_in(t.path(), &src, csv).unwrap();
    let (_, rows) = run_loaded(&l);
    let of = |vm: u32| {
        let r = rows.iter().find(|r| r.vm == vm).expect("a job per VM");
        (r.outcome.as_str(), r.error.as_str())
    };
    assert_eq!(of(0), ("succeeded", ""));
    assert_eq!(of(1), ("failed", "AzureVmOffline"));
    assert_eq!(of(2), ("failed", "UserErrorGuestAgentStatusUnavailable"));
}

/// VMs named in one cloud service share its gate: with one VM of a cloud service at a
/// time, the second and third of "web" wait for the first (the fleet's own grouping is
/// one VM per cloud service, where nobody waits).
#[test]
fn a_cloud_service_column_groups_vms_at_its_gate() {
    let t = tempfile::tempdir().unwrap();
    let src = with_inventory("1d", "max_concurrent_per_cloud_service = 1");
    let queued = |csv: &str| -> Vec<u64> {
        let l = load_in(t.path(), &src, csv).unwrap();
        let (_, rows) = run_loaded(&l);
        let mut q: Vec<u64> = rows.iter().map(|r| r.phases_us[0]).collect();
        q.sort_unstable();
        q
    };
    assert_eq!(queued("name\na\nb\nc\n"), vec![0, 0, 0]);
    let q = queued("name,cloud_service\na,web\nb,web\nc,web\n");
    assert_eq!(q[0], 0);
    assert!(q[1] > 0 && q[2] > q[1], "{q:?}");
}

fn validate_err(scenario: &str, csv: &str) -> (i32, String) {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("vms.csv"), csv).unwrap();
    let path = t.path().join("s.toml");
    std::fs::write(&path, scenario).unwrap();
    let o = run_bin(&["validate", path.to_str().unwrap()]);
    let err = stderr(&o).replace(&format!("{}/", t.path().display()), "");
    (o.status.code().unwrap_or(-1), err)
}

/// A bad cell names the inventory's file, line and column, the column's name, what was
/// expected and what was found; the command exits 2.
#[test]
fn a_bad_cell_is_an_error_at_its_line_and_column() {
    let (code, err) = validate_err(
        &with_inventory("1d", ""),
        "name,os,disks\na,ubuntu,127 GiB\nb,ubuntu,12x\n",
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("vms.csv:3:3: column disks: expected sizes separated by ';' (e.g. \"127 GiB;1 TB\"), the OS disk first, found \"12x\""),
        "{err}"
    );
    let (code, err) = validate_err(&with_inventory("1d", ""), "name,dsks\na,1 GB\n");
    assert_eq!(code, 2);
    assert!(
        err.contains("vms.csv:1:2: unknown column \"dsks\""),
        "{err}"
    );
    assert!(err.contains("did you mean disks?"), "{err}");
}

/// A count that disagrees with the inventory names both; a fleet with neither still
/// needs its count.
#[test]
fn a_count_other_than_the_rows_is_an_error_naming_both() {
    let src = with_inventory("1d", "count = 5");
    let (code, err) = validate_err(&src, "name\na\nb\n");
    assert_eq!(code, 2);
    assert!(err.contains("fleet.f.count"), "{err}");
    assert!(
        err.contains("expected 2 (the VM rows of vms.csv), found 5"),
        "{err}"
    );
    let none = base("1d", "", "", "").replace("count = 1\n", "");
    let (code, err) = validate_err(&none, "");
    assert_eq!(code, 2);
    assert!(err.contains("missing required key count"), "{err}");
}

/// The first night of a fleet onboarded over 4 nights carries VMs `i` with
/// `⌊i × 4 / 10⌋ = 0`, i.e. `⌈10 / 4⌉ = 3` of 10: 0.3 of the first-night bytes and VMs
/// without onboarding; later nights are unchanged.
#[test]
fn the_first_night_estimate_counts_only_the_first_onboarding_wave() {
    let src = base("1d", "", "", "").replace("count = 1\n", "count = 10\n");
    let plain = backupsim::scenario::load_str(&src, Path::new("t.toml"), &[]).unwrap();
    let onboarded = backupsim::scenario::load_str(
        &src.replace("count = 10\n", "count = 10\nonboard = { over = \"4d\" }\n"),
        Path::new("t.toml"),
        &[],
    )
    .unwrap();
    let (a, b) = (estimate(&plain.scenario), estimate(&onboarded.scenario));
    assert_eq!(a.len(), 2, "a link and a vault");
    for (a, b) in a.iter().zip(&b) {
        // 10 VMs × (100 GB + 100 GB) × 0.5 used = 1 TB on the first night.
        assert_eq!(a.first.bytes, 1e12);
        approx(b.first.bytes, 0.3e12, 1e-12);
        approx(b.first_vms, 3.0, 1e-12);
        assert_eq!(a.later.bytes, b.later.bytes);
    }
    assert!(b[1].to_string().contains("~3 of ~10 VMs"), "{}", b[1]);
}

/// The estimate reads an inventory's used bytes (and the disks' total times the mean used
/// share where only disks are given): (300 GB + 0.5 × 200 GB) / 2 VMs.
#[test]
fn the_estimate_reads_an_inventorys_used_bytes() {
    let t = tempfile::tempdir().unwrap();
    let csv = "name,disks,used\na,400 GB,300 GB\nb,100 GB;100 GB,\n";
    let l = load_in(t.path(), &with_inventory("1d", ""), csv).unwrap();
    let e = estimate(&l.scenario);
    approx(e[0].first.bytes, 400e9, 1e-12);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_inventory_parser_never_panics(s in "\\PC{0,300}") {
        let _ = parse(&s, "vms.csv");
    }

    #[test]
    fn inventory_like_text_never_panics(
        cells in prop::collection::vec(
            prop::sample::select(vec![
                "name", "os", "disks", "used", "daily_churn", "power", "agent",
                "connectivity", "cloud_service", "storage_account", ",", "\n", ";", "\"",
                "1 TB", "127 GiB;1 TB", "0", "-1", "nan", "1e308", "18446744073709551615 PB",
                "windows-2016", "windows-", "running", "stopped", "installed", "blocked", "#",
            ]),
            0..40,
        ),
    ) {
        let _ = parse(&cells.concat(), "vms.csv");
    }
}

/// Rows the support rules turn away warn at their cell, as a fleet whose every VM is
/// turned away does: a 2 TB disk (every backup fails), 16 data disks, Windows 2008; and
/// the run agrees.
#[test]
fn rows_over_the_support_limits_warn_at_their_cell() {
    let t = tempfile::tempdir().unwrap();
    let sixteen = vec!["10 GB"; 17].join(";");
    let csv = format!(
        "name,os,disks\nok,,100 GB\nbig,,100 GB;2 TB\nmany,,{sixteen}\nold,windows-2008,\n"
    );
    let l = load_in(t.path(), &with_inventory("1d", ""), &csv).unwrap();
    let w: Vec<String> = l.warnings.iter().map(|w| w.to_string()).collect();
    let file = t.path().join("vms.csv").display().to_string();
    assert_eq!(w.len(), 3, "{w:#?}");
    assert!(w[0].starts_with(&format!("{file}:3:3: key `fleet.f.inventory`: column disks: VM 1 has a disk (number 2) of 2 TB, over support.max_disk_size = 1023 GiB")), "{}", w[0]);
    assert!(
        w[1].starts_with(&format!(
            "{file}:4:3: key `fleet.f.inventory`: column disks: VM 2 has 16 data disks"
        )),
        "{}",
        w[1]
    );
    assert!(
        w[2].starts_with(&format!(
            "{file}:5:2: key `fleet.f.inventory`: column os: VM 3 runs windows-2008"
        )),
        "{}",
        w[2]
    );
    let (out, rows) = run_loaded(&l);
    let err = |vm: u32| rows.iter().find(|r| r.vm == vm).map(|r| r.error.as_str());
    assert_eq!(err(0), Some(""));
    assert_eq!(err(1), Some("UserErrorUnsupportedDiskSize"));
    assert_eq!(get(&out.summary, "backup.jobs.unsupported"), 2.0);
}

/// With an inventory the first onboarding wave is its first rows, as the scheduler takes
/// them: over 2 nights, rows 0 and 1 of 4 (100 GB + 200 GB) on the first night.
#[test]
fn the_first_wave_estimate_of_an_inventory_is_its_first_rows() {
    let t = tempfile::tempdir().unwrap();
    let csv = "name,used\na,100 GB\nb,200 GB\nc,300 GB\nd,400 GB\n";
    let src = with_inventory("1d", "onboard = { over = \"2d\" }");
    let l = load_in(t.path(), &src, csv).unwrap();
    let e = estimate(&l.scenario);
    approx(e[0].first.bytes, 300e9, 1e-12);
    approx(e[0].first_vms, 2.0, 1e-12);
}

//! The service's published limits and timeouts on hand-computed timelines: the presets of
//! `simulation.limits`, the cloud-service gate before the snapshot, a storage account's
//! capacity, vault copies, the freeze and enable timeouts, offline VMs and connectivity,
//! and the counts of VMs per vault and vaults per subscription.

use std::path::Path;

use backupsim::scenario::load_str;

use super::common::*;

const HOUR: u64 = 3600 * SEC;

/// The base world (one 200 GB VM at 50% use: 10 s snapshot, 2 500 s first transfer at
/// 2 × 20 MB/s) with `n` VMs.
fn vms(n: u32, fleet_extra: &str, timing_extra: &str) -> String {
    base("1d", fleet_extra, timing_extra, "").replace("count = 1\n", &format!("count = {n}\n"))
}

/// `src` with `simulation.limits` set.
fn with_limits(src: &str, limits: &str) -> String {
    src.replace("seed = 7\n", &format!("seed = 7\nlimits = \"{limits}\"\n"))
}

/// Five VMs of one cloud service, limit 4 (the 2016 preset): four snapshot at 01:00; the
/// fifth waits at the gate until the first finishes (01:00 + 2 510 s), then snapshots
/// (10 s) and transfers (2 500 s).
#[test]
fn cloud_service_gate_starts_the_fifth_snapshot_when_the_first_finishes() {
    let (out, mut rows, _) = run_sampled(&vms(5, "vms_per_cloud_service = 5", ""));
    rows.sort_by_key(|r| r.vm);
    assert_eq!(rows.len(), 5);
    for r in &rows[..4] {
        assert_eq!(r.phases_us, [0, 0, 10 * SEC, 2500 * SEC, 0], "{r:?}");
    }
    let fifth = &rows[4];
    assert_eq!(fifth.started_us, HOUR);
    assert_eq!(fifth.phases_us, [2510 * SEC, 0, 10 * SEC, 2500 * SEC, 0]);
    assert_eq!(fifth.finished_us, HOUR + 5020 * SEC);
    assert_eq!(get(&out.summary, "backup.jobs.succeeded"), 5.0);
    // Five VMs in cloud services of their own never wait.
    let (_, rows) = run_src(&vms(5, "", ""));
    assert!(rows.iter().all(|r| r.phases_us[0] == 0));
    // The 2018 preset lets 10 of one cloud service back up at once.
    let (_, rows) = run_src(&with_limits(
        &vms(5, "vms_per_cloud_service = 5", ""),
        "2018",
    ));
    assert!(rows.iter().all(|r| r.phases_us[0] == 0));
    // A key written on the fleet overrides the preset; three wait in order (every
    // invariant checked after every event, the gate's waiting list among them).
    let (_, mut rows, _) = run_sampled(&vms(
        5,
        "vms_per_cloud_service = 5\nmax_concurrent_per_cloud_service = 2",
        "",
    ));
    rows.sort_by_key(|r| r.vm);
    let waits: Vec<u64> = rows.iter().map(|r| r.phases_us[0] / SEC).collect();
    assert_eq!(waits, [0, 0, 2510, 2510, 5020]);
}

/// A cloud service's gate drains its waiting jobs on the first night and queues the next
/// night's again: five VMs, two at once, two nights, every invariant checked after every
/// event; on each night three wait, and all ten backups succeed.
#[test]
fn cloud_service_gate_queues_again_after_draining() {
    let src = base(
        "2d",
        "vms_per_cloud_service = 5\nmax_concurrent_per_cloud_service = 2",
        "",
        "",
    )
    .replace("count = 1\n", "count = 5\n");
    let (out, rows, _) = run_sampled(&src);
    assert_eq!(rows.len(), 10);
    assert_eq!(get(&out.summary, "backup.jobs.succeeded"), 10.0);
    for night in 0..2 {
        let waited = rows
            .iter()
            .filter(|r| r.scheduled_us / (24 * HOUR) == night && r.phases_us[0] > 0)
            .count();
        assert_eq!(waited, 3, "night {night}");
    }
}

/// A storage account's capacity is shared by its disks' transfers: two VMs of one account
/// (each capped at 40 MB/s) on a 50 MB/s account get 25 MB/s each: 100 GB in 4 000 s; the
/// third VM, alone in the next account, is not slowed (2 500 s).
#[test]
fn storage_account_capacity_is_shared_by_its_disks() {
    let src = vms(
        3,
        "vms_per_storage_account = 2\nstorage_account_bandwidth = \"50 MB/s\"",
        "",
    );
    let (_, mut rows, _) = run_sampled(&src);
    rows.sort_by_key(|r| r.vm);
    let xfer: Vec<u64> = rows.iter().map(|r| r.phases_us[3]).collect();
    assert_eq!(xfer, [4000 * SEC, 4000 * SEC, 2500 * SEC]);
    // With the preset (2.4 GB/s) the account never binds.
    let (_, rows) = run_src(&vms(3, "vms_per_storage_account = 2", ""));
    assert!(rows.iter().all(|r| r.phases_us[3] == 2500 * SEC));
}

/// `count = 2` on a vault: its four VMs are spread in blocks over two copies, each with its
/// own gate of one transfer: two transfers run at once. The second VM of each copy takes
/// its 10 s snapshot on arrival, then waits for the first's 2 500 s transfer.
#[test]
fn vault_copies_have_a_gate_each() {
    let src = vms(4, "", "").replace(
        "create_time = \"0s\"",
        "create_time = \"0s\"\ncount = 2\nmax_concurrent_jobs = 1",
    );
    let (out, mut rows, _) = run_sampled(&src);
    rows.sort_by_key(|r| r.vm);
    let waits: Vec<u64> = rows.iter().map(|r| r.phases_us[0] / SEC).collect();
    assert_eq!(waits, [0, 2500, 0, 2500]);
    // Its storage is the copies' total, under the vault's name.
    assert_eq!(get(&out.summary, "vault.v.recovery_points.max"), 4.0);
}

/// The vault's preset gate: 40 VMs backing up at once (2016), 100 (2018), none ("none").
#[test]
fn vault_gate_follows_the_preset() {
    let queued = |src: &str| {
        let (_, rows) = run_src(src);
        rows.iter().filter(|r| r.phases_us[0] > 0).count()
    };
    assert_eq!(queued(&vms(41, "", "")), 1);
    assert_eq!(queued(&with_limits(&vms(101, "", ""), "2018")), 1);
    assert_eq!(queued(&with_limits(&vms(101, "", ""), "none")), 0);
}

/// The file-system freeze is limited to 60 s: a snapshot whose slowest disk takes 61 s
/// fails at exactly 60 s into the snapshot; one of exactly 60 s succeeds.
#[test]
fn freeze_timeout_fails_the_snapshot_at_60s() {
    let (out, rows) = run_src(&vms(1, "", "").replace("\"10s\"", "\"61s\""));
    let r = &rows[0];
    assert_eq!(r.error, "GuestAgentSnapshotTaskStatusError");
    assert_eq!(r.phases_us, [0, 0, 60 * SEC, 0, 0]);
    assert_eq!(r.finished_us, HOUR + 60 * SEC);
    assert_eq!(
        get(
            &out.summary,
            "backup.failures.GuestAgentSnapshotTaskStatusError"
        ),
        1.0
    );
    let (_, rows) = run_src(&vms(1, "", "").replace("\"10s\"", "\"60s\""));
    assert_eq!(rows[0].outcome, "succeeded");
    assert_eq!(rows[0].phases_us[2], 60 * SEC);
    // An offline VM has no extension and no freeze: its 61 s snapshot completes.
    let (_, rows) = run_src(&vms(1, "running = 0.0", "").replace("\"10s\"", "\"61s\""));
    assert_eq!(rows[0].consistency, "crash");
    assert_eq!(rows[0].phases_us[2], 61 * SEC);
}

/// The agent kills the extension's enable (here with an upgrade of 301 s) at 300 s.
#[test]
fn extension_enable_is_killed_at_300s() {
    let src = vms(1, "", "extension_upgrade_time = \"301s\"")
        .replace("extension_upgrade = 0.0", "extension_upgrade = 1.0");
    let (_, rows) = run_src(&src);
    assert_eq!(rows[0].error, "ExtensionOperationFailed");
    assert_eq!(rows[0].phases_us, [0, 300 * SEC, 0, 0, 0]);
    let (_, rows) = run_src(&src.replace("\"301s\"", "\"300s\""));
    assert_eq!(rows[0].outcome, "succeeded");
    assert_eq!(rows[0].phases_us[1], 300 * SEC);
}

/// A running VM with no outbound network still gets its extension through the agent
/// (3 min); the extension's snapshot requests then time out: (3 + 1) × 60 s after the
/// snapshot step starts, `ExtensionSnapshotFailedNoNetwork`. The next day's job finds the
/// extension installed and fails the same way after 240 s.
#[test]
fn blocked_vm_gets_the_extension_then_fails_with_no_network() {
    let src = base("2d", "connectivity = { blocked = 1.0 }", "", "")
        .replace("extension = { installed = 1.0 }\n", "");
    let (out, rows) = run_src(&src);
    assert_eq!(rows[0].error, "ExtensionSnapshotFailedNoNetwork");
    assert_eq!(rows[0].phases_us, [0, 180 * SEC, 240 * SEC, 0, 0]);
    assert_eq!(rows[0].finished_us, HOUR + 420 * SEC);
    assert_eq!(rows[1].error, "ExtensionSnapshotFailedNoNetwork");
    assert_eq!(rows[1].phases_us, [0, 0, 240 * SEC, 0, 0]);
    let m = &out.summary;
    let code = "backup.failures.VMAgentStatusCommunicationError";
    assert_eq!(m.get(code).copied().unwrap_or(0.0), 0.0);
}

/// A stopped VM whose extension was never installed would need an install: the job fails
/// at once with `AzureVmOffline`. A stopped VM protected before (extension installed) is
/// backed up offline, crash-consistent (see `domain::stopped_vm_is_backed_up_crash_consistent`).
#[test]
fn offline_vm_without_extension_reports_azure_vm_offline() {
    let src = vms(1, "running = 0.0", "").replace("extension = { installed = 1.0 }\n", "");
    let (out, rows) = run_src(&src);
    assert_eq!(rows[0].error, "AzureVmOffline");
    assert_eq!(rows[0].started_us, HOUR);
    assert_eq!(rows[0].finished_us, HOUR);
    assert_eq!(get(&out.summary, "backup.failures.AzureVmOffline"), 1.0);
}

/// The order of what happens at one instant: a step that ends the instant it begins (an
/// offline VM's retry failing at once) ends after the events already due at that instant.
/// The retry of the 01:00 failure arrives at 01:30 (scheduled at 01:00); the sample of
/// 01:30 was scheduled at 01:15, after it, and the failure at 01:30, after both: the
/// sample sees the retry running. Those steps wait outside the event heap (`Sim::wait`),
/// in the order the heap would give them.
#[test]
fn a_step_ending_as_it_begins_runs_after_the_events_already_due() {
    struct Running(Vec<(u64, u64)>);
    impl backupsim::model::Observer for Running {
        fn sample(&mut self, s: &backupsim::model::Sample<'_>) {
            self.0.push((s.time.as_micros(), s.running_jobs));
        }
    }
    let src = vms(1, "running = 0.0", "")
        .replace("extension = { installed = 1.0 }\n", "")
        .replace(
            "duration = \"1d\"\n",
            "duration = \"1d\"\nsample_every = \"15m\"\n",
        )
        .replace(
            "start_within = \"0s\"\n",
            "start_within = \"0s\"\nretries = { max = 1, delay = \"30m\" }\n",
        );
    let loaded = load_str(&src, Path::new("test.toml"), &[]).expect("loads");
    let mut samples = Running(Vec::new());
    backupsim::model::simulate_checked(&loaded.config, &mut samples).expect("checks pass");
    let at = |t: u64| samples.0.iter().find(|s| s.0 == t).map(|s| s.1);
    // The first attempt arrives and fails at 01:00, after that instant's sample.
    assert_eq!(at(HOUR), Some(0));
    assert_eq!(at(HOUR + 1800 * SEC), Some(1));
    assert_eq!(at(HOUR + 2700 * SEC), Some(0));
    let (_, rows) = run_src(&src);
    let times: Vec<(u64, u64)> = rows.iter().map(|r| (r.started_us, r.finished_us)).collect();
    assert_eq!(
        times,
        [(HOUR, HOUR), (HOUR + 1800 * SEC, HOUR + 1800 * SEC)]
    );
}

/// Two jobs whose path latencies (50 s and 40 s, each its fleet's constant) end at the
/// same instant start their transfers in the order their latencies began, as two queued
/// events at one instant would run: fleet `a` (snapshot done 01:00:10) before fleet `b`
/// (01:00:20), though `b` comes first in the file. Their disks' flows then finish at one
/// instant (01:01:00 + 2 500 s: 50 GB at 20 MB/s), in the order they started, so `a`'s
/// job ends first. Those latencies wait in per-fleet lanes outside the event heap.
#[test]
fn latencies_ending_at_one_instant_end_in_the_order_they_began() {
    let fleet = |name: &str, policy: &str, link: &str| {
        format!(
            "[[fleet]]\nname = \"{name}\"\ncount = 1\nregion = \"r1\"\npolicy = \"{policy}\"\n\
             path = [\"{link}\"]\nos = \"windows-2012r2\"\nextension = {{ installed = 1.0 }}\n\
             data_disks = 1\ndisk_size = \"100 GB\"\nos_disk = \"100 GB\"\nused = 0.5\n"
        )
    };
    let src = base("1d", "", "", "")
        .replace("[[fleet]]\nname = \"f\"", "[[fleet]]\nname = \"unused\"")
        .replace("count = 1\nregion", "count = 0\nregion")
        + "[[link]]\nname = \"la\"\nbandwidth = \"1 GB/s\"\nlatency = \"50s\"\n"
        + "[[link]]\nname = \"lb\"\nbandwidth = \"1 GB/s\"\nlatency = \"40s\"\n"
        + "[[policy]]\nname = \"pb\"\nvault = \"v\"\nschedule = { daily = \"01:00:10\" }\n\
           start_within = \"0s\"\nretention = { daily = 30 }\n"
        + &fleet("b", "pb", "lb")
        + &fleet("a", "p", "la");
    let (_, rows, _) = run_sampled(&src);
    let got: Vec<(&str, u64, u64)> = rows
        .iter()
        .map(|r| (r.fleet.as_str(), r.started_us, r.finished_us))
        .collect();
    let end = HOUR + 60 * SEC + 2500 * SEC;
    assert_eq!(got, [("a", HOUR, end), ("b", HOUR + 10 * SEC, end)]);
}

/// An installed agent that does not answer reports no status:
/// `VMAgentStatusCommunicationError` after the status wait (5 min); a missing agent is
/// `UserErrorGuestAgentStatusUnavailable` (`domain::missing_agent_fails_after_the_status_wait`).
#[test]
fn unresponsive_agent_reports_no_status() {
    let (_, rows) = run_src(&vms(1, "agent = { responsive = 0.0 }", ""));
    assert_eq!(rows[0].error, "VMAgentStatusCommunicationError");
    assert_eq!(rows[0].phases_us, [0, 300 * SEC, 0, 0, 0]);
}

/// The resolved scenario states the limits that applied: the preset's values where no key
/// was written, the written key where one was.
#[test]
fn presets_resolve_to_the_published_numbers() {
    let resolved = |src: &str| {
        let l = load_str(src, Path::new("t.toml"), &[]).expect("loads");
        (l.scenario.to_resolved_toml(), l.config)
    };
    let (t, c) = resolved(&vms(1, "", ""));
    assert!(t.contains("limits = \"2016\""), "{t}");
    assert!(t.contains("max_concurrent_jobs = 40\n"), "{t}");
    assert!(t.contains("max_vms = 200\n"), "{t}");
    assert!(t.contains("max_concurrent_per_cloud_service = 4\n"), "{t}");
    assert!(t.contains("max_disks_per_storage_account = 20\n"), "{t}");
    assert!(
        t.contains("storage_account_bandwidth = \"2400 MB/s\""),
        "{t}"
    );
    assert_eq!(c.vaults[0].max_concurrent_jobs, Some(40));
    assert_eq!(c.fleets[0].cloud_service_limit, Some(4));
    assert_eq!(c.fleets[0].storage_account_bandwidth, Some(2.4e9));
    let (t, c) = resolved(&with_limits(&vms(1, "", ""), "2018"));
    assert!(t.contains("max_concurrent_jobs = 100\n"), "{t}");
    assert!(t.contains("max_vms = 1000\n"), "{t}");
    assert!(t.contains("max_concurrent_per_cloud_service = 10\n"), "{t}");
    assert_eq!(c.fleets[0].cloud_service_limit, Some(10));
    let (t, c) = resolved(&with_limits(&vms(1, "", ""), "none"));
    assert!(!t.contains("max_concurrent_jobs"), "{t}");
    assert!(!t.contains("max_vms"), "{t}");
    assert!(!t.contains("storage_account_bandwidth"), "{t}");
    assert_eq!(c.vaults[0].max_concurrent_jobs, None);
    assert_eq!(c.fleets[0].cloud_service_limit, None);
    // A single key overrides its preset value.
    let src = with_limits(&vms(1, "", ""), "2018").replace(
        "create_time = \"0s\"",
        "create_time = \"0s\"\nmax_concurrent_jobs = 7",
    );
    let (t, c) = resolved(&src);
    assert!(t.contains("max_concurrent_jobs = 7\n"), "{t}");
    assert!(t.contains("max_vms = 1000\n"), "{t}");
    assert_eq!(c.vaults[0].max_concurrent_jobs, Some(7));
    // The resolved file loads to the same configuration.
    let again = load_str(&t, Path::new("r.toml"), &[]).expect("resolved loads");
    assert_eq!(again.scenario.to_resolved_toml(), t);
}

/// `run` writes the limits that applied into `scenario.resolved.toml`.
#[test]
fn run_writes_the_applied_limits() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("s.toml");
    std::fs::write(&p, with_limits(&vms(1, "", ""), "2018")).unwrap();
    let out = t.path().join("out");
    let o = run_bin(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-plots",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = std::fs::read_to_string(out.join("scenario.resolved.toml")).unwrap();
    assert!(r.contains("limits = \"2018\""), "{r}");
    assert!(r.contains("max_concurrent_jobs = 100\n"), "{r}");
}

/// Keys of the warnings of scenario text.
fn warning_keys(src: &str) -> Vec<String> {
    let l = load_str(src, Path::new("t.toml"), &[]).expect("loads");
    l.warnings.into_iter().map(|w| w.key).collect()
}

/// 201 VMs on a vault and 26 vaults in a subscription are warnings by default (200 and 25
/// published); `limits = "strict"` makes them errors (exit 2) naming the key.
#[test]
fn vms_per_vault_and_vaults_per_subscription() {
    let big = vms(201, "", "");
    assert!(warning_keys(&vms(200, "", "")).is_empty());
    assert_eq!(warning_keys(&big), ["vault.v.max_vms"]);
    // Two copies of the vault hold 101 VMs each.
    let spread = big.replace("create_time = \"0s\"", "create_time = \"0s\"\ncount = 2");
    assert!(warning_keys(&spread).is_empty());
    // 26 copies of the vault in the implicit subscription.
    let many = vms(26, "", "").replace("create_time = \"0s\"", "create_time = \"0s\"\ncount = 26");
    assert_eq!(warning_keys(&many), ["simulation.limits"]);
    let subs = format!("{many}\n[[subscription]]\nname = \"s\"\ncount = 2\n");
    assert!(warning_keys(&subs).is_empty());
    let one = format!("{many}\n[[subscription]]\nname = \"s\"\n");
    assert_eq!(warning_keys(&one), ["subscription.s.max_vaults"]);
    assert!(warning_keys(&with_limits(&big, "2018")).is_empty());
    // Strict: errors, exit 2, the key named.
    let t = tempfile::tempdir().unwrap();
    for (src, key) in [
        (with_limits(&big, "strict"), "vault.v.max_vms"),
        (with_limits(&one, "strict"), "subscription.s.max_vaults"),
    ] {
        let p = t.path().join("s.toml");
        std::fs::write(&p, src).unwrap();
        let o = run_bin(&["validate", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(key), "{}", stderr(&o));
    }
}

/// "No more than 20 disks of one storage account per schedule" (2016): 11 VMs of two disks
/// in one account warn; 10 do not.
#[test]
fn disks_per_storage_account_warn() {
    assert!(warning_keys(&vms(20, "", "")).is_empty());
    assert_eq!(
        warning_keys(&vms(20, "vms_per_storage_account = 11", "")),
        ["fleet.f.vms_per_storage_account"]
    );
}

/// Two single-fleet VMs whose disks finish copying at the same instant, and a third
/// waiting for one of the vault's two transfer slots: the job admitted when the first ends
/// starts flows that may take the ids of the flows finished at that instant. Each job
/// still ends once (the in-run checks verify every flow is mapped to its job): the third
/// snapshots on arrival, waits 2 500 s, then copies for 2 500 s.
#[test]
fn flows_finishing_together_never_lose_a_job() {
    let src = vms(3, "", "").replace(
        "create_time = \"0s\"",
        "create_time = \"0s\"\nmax_concurrent_jobs = 2",
    );
    let (out, mut rows, _) = run_sampled(&src);
    rows.sort_by_key(|r| r.vm);
    assert_eq!(
        rows[0].finished_us, rows[1].finished_us,
        "the first two end together"
    );
    assert_eq!(rows[2].phases_us, [2500 * SEC, 0, 10 * SEC, 2500 * SEC, 0]);
    assert_eq!(rows[2].finished_us, HOUR + 5010 * SEC);
    assert_eq!(get(&out.summary, "backup.jobs.succeeded"), 3.0);
}

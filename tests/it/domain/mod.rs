//! Domain rules on small scenarios whose outcome is computed by hand.

use super::common::*;

const HOUR: u64 = 3600 * SEC;

/// The first backup of a 200 GB VM at 50% use: two 50 GB disks copied in parallel at
/// 20 MB/s each = 2 500 s, after a 10 s snapshot; starts at 01:00.
#[test]
fn first_backup_timeline_is_exact() {
    let (out, rows) = run_src(&base("1d", "", "", ""));
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.outcome, "succeeded");
    assert_eq!(r.started_us, HOUR);
    assert_eq!(r.bytes, 100_000_000_000);
    assert_eq!(r.phases_us, [0, 0, 10 * SEC, 2500 * SEC, 0]);
    assert_eq!(r.duration_us(), 2510 * SEC);
    assert_eq!(r.consistency, "application");
    assert_eq!(get(&out.summary, "backup.bytes.full"), 1e11);
    assert_eq!(get(&out.summary, "backup.jobs.succeeded"), 1.0);
}

/// Later backups move the day's churn of the used data (10% of 100 GB), split over the
/// two equal disks, each at the incremental per-disk rate: 5 GB / 3.4 MB/s =
/// 1 470.588236 s (rounded up to the µs).
#[test]
fn incremental_backups_move_the_days_churn() {
    let (out, rows) = run_src(&base("3d", "", "", ""));
    assert_eq!(rows.len(), 3);
    for r in &rows[1..] {
        assert_eq!(r.bytes, 10_000_000_000);
        assert_eq!(r.phases_us[3], 1_470_588_236);
    }
    assert_eq!(get(&out.summary, "backup.bytes.incremental"), 2e10);
}

/// No outbound connectivity: each snapshot request hangs for `http_timeout` and is
/// retried `http_retries` times: (2 + 1) × 45 s = 135 s exactly, then the job fails.
#[test]
fn no_connectivity_burns_exact_http_timeouts() {
    let src = base(
        "1d",
        "connectivity = { blocked = 1.0 }",
        "http_timeout = \"45s\"\nhttp_retries = 2",
        "",
    );
    let (out, rows) = run_src(&src);
    let r = &rows[0];
    assert_eq!(r.outcome, "failed");
    assert_eq!(r.error, "ExtensionSnapshotFailedNoNetwork");
    assert_eq!(r.duration_us(), 135 * SEC);
    assert_eq!(r.phases_us, [0, 0, 135 * SEC, 0, 0]);
    assert_eq!(
        get(
            &out.summary,
            "backup.failures.ExtensionSnapshotFailedNoNetwork"
        ),
        1.0
    );
    assert_eq!(get(&out.summary, "backup.success_rate"), 0.0);
}

/// The first backup of a running VM installs the extension (3 min here); the next reuses it.
#[test]
fn first_backup_installs_the_extension_once() {
    let src = base("2d", "", "", "").replace("extension = { installed = 1.0 }\n", "");
    let (_, rows) = run_src(&src);
    assert_eq!(rows[0].phases_us[1], 180 * SEC);
    assert_eq!(rows[1].phases_us[1], 0);
}

/// A running VM without an agent fails after the agent-status wait.
#[test]
fn missing_agent_fails_after_the_status_wait() {
    let (out, rows) = run_src(&base("1d", "agent = { installed = 0.0 }", "", ""));
    assert_eq!(rows[0].error, "UserErrorGuestAgentStatusUnavailable");
    assert_eq!(rows[0].duration_us(), 300 * SEC);
    assert_eq!(
        get(
            &out.summary,
            "backup.failures.UserErrorGuestAgentStatusUnavailable"
        ),
        1.0
    );
}

/// A stopped VM is backed up offline: no agent needed, no extension, crash-consistent.
#[test]
fn stopped_vm_is_backed_up_crash_consistent() {
    let (out, rows) = run_src(&base(
        "1d",
        "running = 0.0\nagent = { installed = 0.0 }",
        "",
        "",
    ));
    assert_eq!(rows[0].outcome, "succeeded");
    assert_eq!(rows[0].consistency, "crash");
    assert_eq!(rows[0].phases_us[1], 0);
    assert_eq!(get(&out.summary, "backup.consistency.crash"), 1.0);
}

/// Consistency: running Windows with healthy VSS → application; Linux → file system;
/// Windows with failing VSS writers → file system.
#[test]
fn consistency_levels() {
    let (_, rows) = run_src(&base("1d", "", "", "").replace("windows-2012r2", "ubuntu-14.04"));
    assert_eq!(rows[0].consistency, "file_system");
    let (_, rows) =
        run_src(&base("1d", "", "vss_failure = 1.0", "").replace("vss_failure = 0.0\n", ""));
    assert_eq!(rows[0].consistency, "file_system");
}

/// Each support rule makes a VM unsupported under its named reason; it is never backed up.
#[test]
fn unsupported_vms_are_counted_by_reason() {
    for (extra, reason) in [
        (
            "deployment = \"resource-manager\"",
            "ResourceManagerDeployment",
        ),
        ("data_disks = 16", "TooManyDataDisks"),
        ("storage = \"premium\"", "PremiumStorage"),
        ("reserved_ips = 2", "TooManyReservedIps"),
        (
            "reserved_ips = 1\nendpoints = 0",
            "ReservedIpWithoutEndpoint",
        ),
        ("nics = 2", "TooManyNics"),
        ("load_balanced = true", "LoadBalanced"),
        ("os = \"windows-2008\"", "WindowsVersionTooOld"),
    ] {
        let src = base("3d", extra, "", "");
        let src = if extra.starts_with("data_disks") {
            src.replace("data_disks = 1\n", "")
        } else {
            src
        };
        let src = if extra.starts_with("os =") {
            src.replace("os = \"windows-2012r2\"\n", "")
        } else {
            src
        };
        let (out, rows) = run_src(&src);
        assert!(rows.is_empty(), "{reason}");
        assert_eq!(
            get(&out.summary, &format!("unsupported.{reason}")),
            1.0,
            "{reason}"
        );
        assert_eq!(
            get(&out.summary, "backup.jobs.unsupported"),
            3.0,
            "{reason}: one per scheduled run"
        );
    }
    // A vault in another region cannot protect the VM.
    let src = base("1d", "", "", "").replace("region = \"r1\"\npolicy", "region = \"r2\"\npolicy");
    let (out, _) = run_src(&src);
    assert_eq!(get(&out.summary, "unsupported.CrossRegion"), 1.0);
}

/// Jobs wait for their vault to become active: the wait is the queue phase.
#[test]
fn jobs_wait_for_the_vault_to_be_active() {
    let (_, rows) =
        run_src(&base("1d", "", "", "").replace("create_time = \"0s\"", "create_time = \"3h\""));
    assert_eq!(rows[0].phases_us[0], 2 * HOUR);
}

/// `max_concurrent_jobs = 1`: three simultaneous jobs take their snapshots at once, then
/// transfer one after another (FIFO): each waits for the transfers before it (2 500 s each).
#[test]
fn vault_concurrency_limit_queues_fifo() {
    let src = base("1d", "", "", "")
        .replace("count = 1\n", "count = 3\n")
        .replace(
            "create_time = \"0s\"",
            "create_time = \"0s\"\nmax_concurrent_jobs = 1",
        );
    let (_, mut rows) = run_src(&src);
    rows.sort_by_key(|r| r.finished_us);
    let waits: Vec<u64> = rows.iter().map(|r| r.phases_us[0]).collect();
    assert_eq!(waits, vec![0, 2500 * SEC, 5000 * SEC]);
}

/// A job finishing after its window counts as a miss.
#[test]
fn window_misses() {
    let (out, rows) =
        run_src(&base("1d", "", "", "").replace("retention =", "window = \"30m\"\nretention ="));
    assert!(rows[0].window_miss);
    assert_eq!(get(&out.summary, "backup.window.miss_rate"), 1.0);
    let (out, _) =
        run_src(&base("1d", "", "", "").replace("retention =", "window = \"1h\"\nretention ="));
    assert_eq!(get(&out.summary, "backup.window.miss_rate"), 0.0);
}

/// Retryable failures are retried per the policy; attempts and the final outcome are counted.
#[test]
fn retries_of_transient_failures() {
    let src = base("1d", "", "transient_failure = 1.0", "")
        .replace("transient_failure = 0.0\n", "")
        .replace(
            "retention =",
            "retries = { max = 2, delay = \"10m\" }\nretention =",
        );
    let (out, rows) = run_src(&src);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(rows[1].started_us, rows[0].finished_us + 600 * SEC);
    assert_eq!(get(&out.summary, "backup.jobs.failed"), 1.0);
    assert_eq!(get(&out.summary, "backup.attempts"), 3.0);
    assert_eq!(get(&out.summary, "backup.retries"), 2.0);
    // A user error is not retried.
    let src = base("1d", "agent = { installed = 0.0 }", "", "")
        .replace("retention =", "retries = { max = 2 }\nretention =");
    let (_, rows) = run_src(&src);
    assert_eq!(rows.len(), 1);
}

fn restore(kind: &str, extra: &str, at: &str) -> String {
    format!(
        "[[restore]]\nname = \"drill\"\nfleet = \"f\"\nat = \"{at}\"\nkind = \"{kind}\"\n{extra}\n"
    )
}

/// A restore copies the used data back at 2 × 20 MB/s (2 500 s) and creates the VM (25 min).
#[test]
fn restore_create_vm_duration() {
    let (out, rows) = run_src(&base("2d", "", "", &restore("create-vm", "", "1d")));
    let r = rows
        .iter()
        .find(|r| r.kind == "restore:create-vm")
        .expect("restore row");
    assert_eq!(r.duration_us(), 2500 * SEC + 1500 * SEC);
    assert_eq!(get(&out.summary, "restore.jobs.succeeded"), 1.0);
    approx(get(&out.summary, "restore.duration.mean"), 4000.0, 1e-3);
    let (_, rows) = run_src(&base("2d", "", "", &restore("restore-disks", "", "1d")));
    let r = rows
        .iter()
        .find(|r| r.kind == "restore:restore-disks")
        .expect("restore row");
    assert_eq!(r.duration_us(), 2500 * SEC);
}

#[test]
fn restore_rejections() {
    let (out, _) = run_src(&base("2d", "", "", &restore("replace-existing", "", "1d")));
    assert_eq!(
        get(&out.summary, "restore.rejected.ReplaceExistingNotSupported"),
        1.0
    );
    let (out, _) = run_src(&base(
        "2d",
        "",
        "",
        &restore("replace-existing", "disks_deleted = true", "1d"),
    ));
    assert_eq!(get(&out.summary, "restore.jobs.succeeded"), 1.0);
    let (out, _) = run_src(&base(
        "2d",
        "",
        "",
        &restore("create-vm", "target_region = \"r2\"", "1d"),
    ));
    assert_eq!(
        get(
            &out.summary,
            "restore.rejected.CrossRegionRestoreNotSupported"
        ),
        1.0
    );
    let dc = "domain_controller = \"multi-dc\"";
    let (out, _) = run_src(&base("2d", dc, "", &restore("create-vm", "", "1d")));
    assert_eq!(
        get(
            &out.summary,
            "restore.rejected.DomainControllerRequiresPowerShell"
        ),
        1.0
    );
    let (out, rows) = run_src(&base(
        "2d",
        dc,
        "",
        &restore("create-vm", "via = \"powershell\"", "1d"),
    ));
    assert_eq!(get(&out.summary, "restore.jobs.succeeded"), 1.0);
    let r = rows.iter().find(|r| r.kind == "restore:create-vm").unwrap();
    assert_eq!(
        r.duration_us(),
        (2500 + 1500 + 1800) * SEC,
        "PowerShell adds its steps"
    );
}

#[test]
fn restore_without_a_recovery_point_fails() {
    let (out, _) = run_src(&base("1d", "", "", &restore("create-vm", "", "30m")));
    assert_eq!(get(&out.summary, "restore.failures.NoRecoveryPoint"), 1.0);
}

/// One job per VM at a time: a restore while the backup runs is refused.
#[test]
fn one_job_per_vm_at_a_time() {
    let (out, _) = run_src(&base("2d", "", "", &restore("create-vm", "", "1d1h1m")));
    assert_eq!(
        get(
            &out.summary,
            "restore.failures.UserErrorBackupOperationInProgress"
        ),
        1.0
    );
}

/// A link outage during the snapshot cuts connectivity (timeouts); during a transfer it
/// stalls the flow, which finishes later by exactly the outage's length.
#[test]
fn link_outages() {
    let src = base("1d", "", "", "").replace(
        "bandwidth = \"1 GB/s\"",
        "bandwidth = \"1 GB/s\"\noutages = { windows = [{ at = \"59m\", duration = \"1h\" }] }",
    );
    let (_, rows) = run_src(&src);
    assert_eq!(rows[0].error, "ExtensionSnapshotFailedNoNetwork");
    let src = base("1d", "", "", "").replace(
        "bandwidth = \"1 GB/s\"",
        "bandwidth = \"1 GB/s\"\noutages = { windows = [{ at = \"1h10m\", duration = \"30m\" }] }",
    );
    let (out, rows) = run_src(&src);
    assert_eq!(rows[0].outcome, "succeeded");
    assert_eq!(rows[0].phases_us[3], 2500 * SEC + 1800 * SEC);
    assert_eq!(get(&out.summary, "link.wan.outage_seconds"), 1800.0);
    // At 01:10 the transfer (from 01:00:10 at 40 MB/s) had 100 GB − 590 s × 40 MB/s left.
    approx(
        get(&out.summary, "link.wan.stalled_bytes"),
        1e11 - 590.0 * 40e6,
        1e-9,
    );
}

/// Vault names are unique within the subscription.
#[test]
fn duplicate_vault_names_are_an_error() {
    let src = base("1d", "", "", "[[vault]]\nname = \"v\"\nregion = \"r1\"\n");
    let e = backupsim::scenario::load_str(&src, std::path::Path::new("dup.toml"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("vault names are unique within the subscription"),
        "{e}"
    );
    assert!(e.contains("dup.toml:"), "{e}");
}

/// Disks over the size limit (1 023 GB) fail the job.
#[test]
fn oversize_disks_fail() {
    let (out, rows) =
        run_src(&base("1d", "", "", "").replace("disk_size = \"100 GB\"", "disk_size = \"2 TB\""));
    assert_eq!(rows[0].error, "UserErrorUnsupportedDiskSize");
    assert_eq!(
        get(&out.summary, "backup.failures.UserErrorUnsupportedDiskSize"),
        1.0
    );
}

/// The limit is 1 023 GiB (Azure disk sizes are binary): a 1 023 GiB disk is backed up,
/// a 1 024 GiB disk fails.
#[test]
fn disk_size_limit_is_binary() {
    let with = |size: &str| {
        run_src(
            &base("1d", "", "", "")
                .replace("disk_size = \"100 GB\"", &format!("disk_size = \"{size}\"")),
        )
    };
    let (_, rows) = with("1023 GiB");
    assert_eq!(rows[0].error, "", "a 1 023 GiB disk is supported");
    let (_, rows) = with("1024 GiB");
    assert_eq!(rows[0].error, "UserErrorUnsupportedDiskSize");
}

/// A region where the service is not offered cannot host a vault.
#[test]
fn unsupported_region_cannot_host_a_vault() {
    let src = base("1d", "", "", "").replace(
        "name = \"r1\"\npaired = \"r2\"",
        "name = \"r1\"\npaired = \"r2\"\nsupported = false",
    );
    let e = backupsim::scenario::load_str(&src, std::path::Path::new("r.toml"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("key `vault.v.region`") && e.contains("supported = false"),
        "{e}"
    );
}

/// A fleet's own limit (the VMs of one cloud service backing up at once) queues its jobs
/// FIFO before the vault's.
#[test]
fn fleet_concurrency_limit_queues_fifo() {
    let src = base("1d", "max_concurrent_jobs = 1", "", "").replace("count = 1\n", "count = 3\n");
    let (out, mut rows) = run_src(&src);
    rows.sort_by_key(|r| r.finished_us);
    let waits: Vec<u64> = rows.iter().map(|r| r.phases_us[0]).collect();
    assert_eq!(waits, vec![0, 2510 * SEC, 5020 * SEC]);
    approx(get(&out.summary, "backup.phase.queue.max"), 5020.0, 1e-3);
}

/// The first backup (01:00, 10 s snapshot, 100 GB at 40 MB/s until 01:41:50) is still
/// transferring when a 1 h 30 min run ends: it is counted in flight, with its row.
#[test]
fn in_flight_jobs_are_counted() {
    let (out, rows) = run_src(&base("1h30m", "", "", ""));
    let m = &out.summary;
    assert_eq!(get(m, "backup.jobs.in_flight"), 1.0);
    assert_eq!(get(m, "backup.jobs.total"), 1.0);
    assert_eq!(get(m, "backup.jobs.succeeded"), 0.0);
    assert_eq!(get(m, "backup.jobs.failed"), 0.0);
    assert_eq!(get(m, "backup.attempts"), 1.0);
    // Ages count from the scheduled time (01:00).
    assert_eq!(get(m, "backup.in_flight.age.mean"), 1800.0);
    assert_eq!(get(m, "backup.in_flight.age.max"), 1800.0);
    // The window (24 h) is still open: neither a miss nor in the miss rate's denominator.
    assert_eq!(get(m, "backup.window.misses"), 0.0);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.outcome, "in-flight");
    assert_eq!(r.error, "");
    assert_eq!((r.started_us, r.finished_us), (HOUR, 90 * 60 * SEC));
    assert_eq!(r.phases_us, [0, 0, 10 * SEC, 1790 * SEC, 0]);
    assert_eq!(r.bytes, 1790 * 40_000_000, "bytes moved so far");
    assert!(!r.window_miss);
    // Nothing in flight: the metrics are there, at zero.
    let (out, _) = run_src(&base("1d", "", "", ""));
    for k in ["backup", "restore"] {
        assert_eq!(get(&out.summary, &format!("{k}.jobs.in_flight")), 0.0);
        assert_eq!(get(&out.summary, &format!("{k}.in_flight.age.mean")), 0.0);
        assert_eq!(get(&out.summary, &format!("{k}.in_flight.age.max")), 0.0);
    }
}

/// A drill restoring all 50 VMs of a fleet an hour before the end: every restore is
/// still copying (50 × 100 GB over 1 GB/s takes 5 000 s), and every one is counted.
#[test]
fn in_flight_restores_are_counted() {
    let src = base(
        "1d13h",
        "",
        "",
        &restore("create-vm", "count = 50", "1d12h"),
    )
    .replace("count = 1\n", "count = 50\n")
    .replace(
        "create_time = \"0s\"",
        "create_time = \"0s\"\nmax_concurrent_jobs = 50",
    );
    let (out, rows) = run_src(&src);
    let m = &out.summary;
    assert_eq!(get(m, "restore.jobs.total"), 50.0);
    assert_eq!(get(m, "restore.jobs.in_flight"), 50.0);
    assert_eq!(get(m, "restore.jobs.succeeded"), 0.0);
    assert_eq!(get(m, "restore.in_flight.age.mean"), 3600.0);
    assert_eq!(get(m, "restore.in_flight.age.max"), 3600.0);
    let restores: Vec<&Row> = rows
        .iter()
        .filter(|r| r.kind.starts_with("restore"))
        .collect();
    assert_eq!(restores.len(), 50);
    assert!(restores.iter().all(|r| r.outcome == "in-flight"));
    assert!(restores.iter().all(|r| r.finished_us == 37 * HOUR));
    // Each has copied a fiftieth of 1 GB/s for an hour.
    assert!(
        restores.iter().all(|r| r.bytes == 72_000_000_000),
        "{:?}",
        restores[0]
    );
    // In-flight rows come last, by job number.
    let ids: Vec<u64> = rows.iter().map(|r| r.id).collect();
    assert!(ids[100..].windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(rows[..100].iter().all(|r| r.outcome == "succeeded"));
}

/// A job still running after its window's end is a window miss; one whose window is
/// still open at the end is left out of the miss rate.
#[test]
fn in_flight_past_window_is_a_window_miss() {
    let with_window = |w: &str, duration: &str, drain: bool| {
        let src = base(duration, "", "", "")
            .replace("retention =", &format!("window = \"{w}\"\nretention ="))
            .replace("seed = 7\n", &format!("seed = 7\ndrain = {drain}\n"));
        run_src(&src)
    };
    // Window 01:00–01:30, run ends 01:35, job ends 01:41:50.
    let (out, rows) = with_window("30m", "1h35m", false);
    assert_eq!(get(&out.summary, "backup.jobs.in_flight"), 1.0);
    assert_eq!(get(&out.summary, "backup.window.misses"), 1.0);
    assert_eq!(get(&out.summary, "backup.window.miss_rate"), 1.0);
    assert!(rows[0].window_miss && rows[0].outcome == "in-flight");
    // Window until 02:00: still open at the end, so no miss and no denominator.
    let (out, rows) = with_window("1h", "1h35m", false);
    assert_eq!(get(&out.summary, "backup.window.misses"), 0.0);
    assert_eq!(get(&out.summary, "backup.window.miss_rate"), 0.0);
    assert!(!rows[0].window_miss);
    // Drained, the job finishes at 01:41:50: a miss of the 30 min window only.
    let (out, _) = with_window("30m", "1h35m", true);
    assert_eq!(get(&out.summary, "backup.window.miss_rate"), 1.0);
    let (out, _) = with_window("1h", "1h35m", true);
    assert_eq!(get(&out.summary, "backup.window.miss_rate"), 0.0);
    assert_eq!(get(&out.summary, "backup.window.misses"), 0.0);
}

/// With `drain`, no work starts after the end but the work in flight runs to its outcome,
/// waiting out a link outage that outlasts the run; the resource metrics still describe
/// the run up to `duration`.
#[test]
fn drain_gives_every_job_an_outcome() {
    let drained = |src: String| src.replace("seed = 7\n", "seed = 7\ndrain = true\n");
    let (out, rows) = run_src(&drained(base("1h30m", "", "", "")));
    let m = &out.summary;
    assert_eq!(get(m, "backup.jobs.in_flight"), 0.0);
    assert_eq!(get(m, "backup.jobs.succeeded"), 1.0);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome, "succeeded");
    assert_eq!(rows[0].duration_us(), 2510 * SEC);
    // Links and vaults at 01:30, as without the drain.
    assert_eq!(get(m, "link.wan.bytes"), 1790.0 * 40e6);
    assert_eq!(get(m, "vault.v.recovery_points.end"), 0.0);
    approx(
        get(m, "link.wan.utilization.mean"),
        1790.0 * 40e6 / (1e9 * 5400.0),
        1e-4,
    );
    // A link down from 01:20 for 100 days: the transfer waits for it.
    let src = base("1h30m", "", "", "").replace(
        "bandwidth = \"1 GB/s\"",
        "bandwidth = \"1 GB/s\"\noutages = { windows = [{ at = \"1h20m\", duration = \"100d\" }] }",
    );
    let (out, rows) = run_src(&drained(src));
    assert_eq!(get(&out.summary, "backup.jobs.succeeded"), 1.0);
    assert_eq!(rows[0].finished_us, 6110 * SEC + 100 * 24 * HOUR);
    assert_eq!(get(&out.summary, "link.wan.outage_seconds"), 600.0);
    // Random outages keep firing only while work is in flight: the run ends.
    let src = base("1h30m", "", "", "").replace(
        "bandwidth = \"1 GB/s\"",
        "bandwidth = \"1 GB/s\"\noutages = { mtbf = \"1m\", mttr = \"10m\" }",
    );
    let (out, rows) = run_src(&drained(src));
    assert_eq!(
        get(&out.summary, "backup.jobs.total"),
        get(&out.summary, "backup.jobs.succeeded") + get(&out.summary, "backup.jobs.failed")
    );
    assert!(rows.iter().all(|r| r.outcome != "in-flight"));
    // A retry due after the end is not made: the job fails (undrained, it is in flight).
    let retrying = base("1h30m", "", "transient_failure = 1.0", "")
        .replace("transient_failure = 0.0\n", "")
        .replace(
            "retention =",
            "retries = { max = 1, delay = \"30m\" }\nretention =",
        );
    let (out, rows) = run_src(&drained(retrying.clone()));
    assert_eq!(get(&out.summary, "backup.jobs.failed"), 1.0);
    assert_eq!(get(&out.summary, "backup.retries"), 0.0);
    assert_eq!(rows.len(), 1);
    let (out, _) = run_src(&retrying.replace("duration = \"1h30m\"", "duration = \"1h45m\""));
    assert_eq!(get(&out.summary, "backup.jobs.in_flight"), 1.0);
    assert_eq!(get(&out.summary, "backup.jobs.failed"), 0.0);
}

/// Jobs scheduled before the warm-up are simulated (their rows are in jobs.csv and their
/// points in the vault) but left out of the job and RPO metrics.
#[test]
fn warm_up_jobs_are_simulated_but_not_counted() {
    let src = base("3d", "", "", "").replace("seed = 7\n", "seed = 7\nwarmup = \"1d\"\n");
    let (out, rows) = run_src(&src);
    let m = &out.summary;
    assert_eq!(rows.len(), 3);
    assert_eq!(get(m, "backup.jobs.total"), 2.0);
    assert_eq!(get(m, "backup.jobs.succeeded"), 2.0);
    assert_eq!(get(m, "backup.attempts"), 2.0);
    assert_eq!(get(m, "backup.bytes.full"), 0.0);
    assert_eq!(get(m, "backup.bytes.incremental"), 2e10);
    assert_eq!(get(m, "vault.v.stored_bytes.end"), 1e11 + 2e10);
    assert_eq!(get(m, "vault.v.recovery_points.end"), 3.0);
    // Hourly RPO samples from 1d to 3d: the day-0 point (snapshot at 3610 s) at 1d 00:00
    // and 1d 01:00, then the incrementals snapshotted 3610 s into days 1 and 2 (in the
    // vault at 01:24:40.588236, before the 02:00 sample).
    let (p0, p1) = (3610.0, 3610.0);
    let mut ages = vec![86_400.0 - p0, 90_000.0 - p0];
    ages.extend((2..24).map(|h| h as f64 * 3600.0 - p1));
    ages.extend([86_400.0 - p1, 90_000.0 - p1]);
    ages.extend((2..24).map(|h| h as f64 * 3600.0 - p1));
    let mean = ages.iter().sum::<f64>() / ages.len() as f64;
    approx(get(m, "rpo.mean"), mean, 1e-3);
}

/// `backup.jobs.total` = succeeded + failed + unsupported + in flight, with a warm-up,
/// retries (some due after the end) and on-demand jobs, drained or not; restores likewise.
#[test]
fn job_totals_add_up() {
    let quickstart = std::fs::read_to_string("scenarios/quickstart.toml").unwrap();
    for seed in 1..=3 {
        let mut undrained = None;
        for drain in [false, true] {
            let src = quickstart
                .replace("seed = 42", &format!("seed = {seed}"))
                .replace(
                    "duration = \"7d\"",
                    &format!("duration = \"6d 23h\"\nwarmup = \"1d 22h\"\ndrain = {drain}"),
                )
                .replace(
                    "window = \"8h\"",
                    "window = \"8h\"\nretries = { max = 2, delay = \"2h\" }",
                )
                .replace("at = \"5d 10h\"", "at = \"6d 22h 50m\"")
                .replace(
                    "on_demand = { per_vm_per_day = 0.01 }",
                    "on_demand = { per_vm_per_day = 0.5 }",
                )
                + "\n[timing]\ntransient_failure = 0.05\n";
            let (out, rows) = run_src(&src);
            let m = &out.summary;
            let g = |k: &str| get(m, k);
            let what = format!("seed {seed}, drain {drain}");
            assert_eq!(
                g("backup.jobs.total"),
                g("backup.jobs.succeeded")
                    + g("backup.jobs.failed")
                    + g("backup.jobs.unsupported")
                    + g("backup.jobs.in_flight"),
                "{what}"
            );
            assert_eq!(
                g("restore.jobs.total"),
                g("restore.jobs.succeeded")
                    + g("restore.jobs.failed")
                    + g("restore.jobs.rejected")
                    + g("restore.jobs.in_flight"),
                "{what}"
            );
            // Six occurrences after the warm-up (days 1–6 at 22:00, the first exactly at
            // its end).
            assert_eq!(
                g("backup.jobs.unsupported"),
                6.0 * g("unsupported.vms"),
                "{what}"
            );
            // Every counted job has exactly one first-attempt row.
            let firsts = rows
                .iter()
                .filter(|r| {
                    !r.kind.starts_with("restore")
                        && r.attempt == 1
                        && r.scheduled_us >= (46 * 3600) * SEC
                })
                .count() as f64;
            assert_eq!(
                firsts,
                g("backup.jobs.total") - g("backup.jobs.unsupported"),
                "{what}"
            );
            assert!(g("backup.retries") > 0.0, "{what}: retries exercised");
            let in_flight_rows = rows
                .iter()
                .filter(|r| r.outcome == "in-flight" && !r.kind.starts_with("restore"))
                .count() as f64;
            if drain {
                assert_eq!(g("backup.jobs.in_flight"), 0.0, "{what}");
                assert_eq!(g("restore.jobs.in_flight"), 0.0, "{what}");
                assert_eq!(in_flight_rows, 0.0, "{what}");
                // The same jobs as undrained, and the same links, vaults and RPO samples up
                // to the end.
                let before: &std::collections::BTreeMap<String, f64> = undrained.as_ref().unwrap();
                for (k, v) in before {
                    // Group job metrics (`fleet.db.backup.…`) count the drained jobs too.
                    let group_jobs = k.contains(".backup.") || k.contains(".restore.");
                    let resource = ["link.", "fleet.", "unsupported.", "rpo."]
                        .iter()
                        .any(|p| k.starts_with(p) && !group_jobs)
                        || (k.starts_with("vault.") && !k.contains("geo_lag") && !group_jobs)
                        || k.ends_with(".total")
                        || k == "backup.jobs.unsupported";
                    if resource {
                        assert_eq!(g(k), *v, "{what}: {k}");
                    }
                }
            } else {
                // Running attempts have a row; jobs waiting for a retry due after the end
                // are in flight too.
                assert!(g("backup.jobs.in_flight") > in_flight_rows, "{what}");
                assert!(in_flight_rows > 0.0, "{what}");
                assert!(g("backup.jobs.in_flight") > 0.0, "{what}: work in flight");
                // The drill 10 min before the end: restores of VMs busy with their
                // backup fail at once, the others are still copying.
                assert!(g("restore.jobs.in_flight") > 0.0, "{what}");
                undrained = Some(m.clone());
            }
        }
    }
}

mod retention;

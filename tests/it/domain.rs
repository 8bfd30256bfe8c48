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

/// Retention daily = 3: each point is kept 72 h from its own time; stored bytes are the
/// full base (held by the oldest point) plus the incrementals of the later points.
#[test]
fn retention_expires_points_and_storage() {
    let src =
        base("10d", "", "", "").replace("retention = { daily = 30 }", "retention = { daily = 3 }");
    let (out, _) = run_src(&src);
    // Points are timed at their snapshots (01:00:10 every day): day 0's expires at
    // 3d 01:00:10, before day 3's point reaches the vault, so at most 3 are held.
    assert_eq!(get(&out.summary, "vault.v.recovery_points.max"), 3.0);
    // At 10d 00:00 the points of days 7, 8 and 9 remain (day 6's expired at 9d 01:00:10).
    assert_eq!(get(&out.summary, "vault.v.recovery_points.end"), 3.0);
    assert_eq!(
        get(&out.summary, "vault.v.stored_bytes.end"),
        1e11 + 2.0 * 1e10
    );
    assert_eq!(
        get(&out.summary, "vault.v.stored_bytes.max"),
        1e11 + 2.0 * 1e10
    );
}

/// Weekly retention keeps the first point of each week beyond the daily tier.
#[test]
fn weekly_retention_keeps_the_first_point_of_each_week() {
    let src = base("15d", "", "", "").replace(
        "retention = { daily = 30 }",
        "retention = { daily = 2, weekly = 4 }",
    );
    let (out, _) = run_src(&src);
    // Weeks start Monday (day 0, 7, 14): points of days 0, 7, 14 are kept 4 weeks; the
    // daily tier keeps the points of the last 48 h (days 13 and 14) → {0, 7, 13, 14}.
    assert_eq!(get(&out.summary, "vault.v.recovery_points.end"), 4.0);
    let src =
        base("15d", "", "", "").replace("retention = { daily = 30 }", "retention = { daily = 2 }");
    let (out, _) = run_src(&src);
    assert_eq!(get(&out.summary, "vault.v.recovery_points.end"), 2.0);
}

/// The latest point is always kept: a VM backed up weekly with daily = 1 holds its one
/// point all week (it expired 24 h after it was made), and a restore late in the week uses it.
#[test]
fn latest_point_is_never_deleted() {
    let src = base(
        "14d",
        "",
        "",
        &restore("create-vm", "point = \"oldest\"", "6d 12h"),
    )
    .replace(
        "schedule = { daily = \"01:00\" }",
        "schedule = { weekly = [\"mon\"], at = \"01:00\" }",
    )
    .replace("retention = { daily = 30 }", "retention = { daily = 1 }")
    .replace("seed = 7\n", "seed = 7\nsample_every = \"1h\"\n");
    let (out, rows, samples) = run_sampled(&src);
    let backups: Vec<_> = rows.iter().filter(|r| r.kind == "scheduled").collect();
    assert_eq!(backups.len(), 2);
    // The first point at 01:41:50; every sample after it holds exactly one point, whose
    // bytes are the base (day 7's point absorbs it when day 0's goes).
    assert_eq!(backups[0].finished_us, 6110 * SEC);
    let after: Vec<_> = samples.iter().filter(|s| s.0 > 6110 * SEC).collect();
    assert_eq!(after.len(), 14 * 24 - 1);
    assert!(
        after.iter().all(|s| s.2 == 1 && s.1 == 100_000_000_000),
        "{after:?}"
    );
    assert_eq!(get(&out.summary, "restore.jobs.succeeded"), 1.0);
    // Its age counts from its snapshot (01:00:10), not from its arrival in the vault.
    let age = out.histograms["restore.point_age"].max();
    assert!(out.histograms["restore.point_age"].equivalent(age, (6 * 24 + 12) * HOUR - 3610 * SEC));
}

/// A point whose snapshot completed at 22:00:10 with daily = 2 is held until exactly
/// 22:00:10 two days later (not until a midnight), when the next point absorbs its base.
#[test]
fn daily_retention_counts_from_the_point_time() {
    let src = base("5d", "", "", "")
        .replace(
            "schedule = { daily = \"01:00\" }",
            "schedule = { daily = \"22:00\" }",
        )
        .replace("retention = { daily = 30 }", "retention = { daily = 2 }")
        .replace("seed = 7\n", "seed = 7\nsample_every = \"10s\"\n");
    let (_, rows, samples) = run_sampled(&src);
    // 22:00 + 10 s snapshot + 2 500 s transfer.
    assert_eq!(rows[0].finished_us, 22 * HOUR + 2510 * SEC);
    let t0 = 22 * HOUR + 10 * SEC;
    let at = |t: u64| *samples.iter().find(|s| s.0 == t).expect("a sample at t");
    // Two days later the points of days 0 and 1 are held until the instant t0 + 48 h (day
    // 2's point, snapshotted at that instant, is still on its way to the vault).
    let expiry = t0 + 48 * HOUR;
    assert_eq!(
        at(expiry - 10 * SEC),
        (expiry - 10 * SEC, 1e11 as u64 + 1e10 as u64, 2)
    );
    assert_eq!(at(expiry), (expiry, 1e11 as u64, 1));
    // At midnight of day 2, 25 h 59 min after it was made, day 0's point is still held
    // beside day 1's.
    assert_eq!(at(48 * HOUR).2, 2);
}

/// An `oldest` restore uses the oldest point the vault holds: with daily = 2 at 2d 12h,
/// day 1's point (day 0's expired at 2d 01:41:50), not a time 2 days back at which no
/// point was ever made.
#[test]
fn oldest_restore_uses_a_held_point() {
    let src = base(
        "3d",
        "",
        "",
        &restore("create-vm", "point = \"oldest\"", "2d 12h"),
    )
    .replace("retention = { daily = 30 }", "retention = { daily = 2 }");
    let (out, rows, _) = run_sampled(&src);
    let day1 = rows
        .iter()
        .find(|r| r.kind == "scheduled" && r.scheduled_us == 24 * HOUR + HOUR)
        .expect("day 1's backup");
    // Ages count from the point's snapshot, 10 s after the job started.
    let expected = 60 * HOUR - (day1.started_us + 10 * SEC);
    let h = &out.histograms["restore.point_age"];
    assert_eq!(h.len(), 1);
    // The histogram keeps 3 significant digits: the recorded age is the expected one's
    // bucket, and not that of the 48 h the span rule gave.
    assert!(h.equivalent(h.max(), expected), "{} vs {expected}", h.max());
    assert!(!h.equivalent(h.max(), 48 * HOUR));
    // `latest` uses day 2's point.
    let (out, rows, _) = run_sampled(&src.replace("\"oldest\"", "\"latest\""));
    let day2 = rows
        .iter()
        .find(|r| r.kind == "scheduled" && r.scheduled_us == 49 * HOUR)
        .expect("day 2's backup");
    let h = &out.histograms["restore.point_age"];
    assert!(h.equivalent(h.max(), 60 * HOUR - (day2.started_us + 10 * SEC)));
}

/// 90 days with daily = 30: at most 30 points (each expires 30 days after its snapshot,
/// before the next day's point reaches the vault), never 0 after the first, and stored
/// bytes plateau at the base plus 29 incrementals.
#[test]
fn storage_plateaus_under_daily_retention() {
    let src = base("90d", "", "", "").replace("seed = 7\n", "seed = 7\nsample_every = \"1h\"\n");
    let (out, _, samples) = run_sampled(&src);
    let after: Vec<_> = samples.iter().filter(|s| s.0 > 6110 * SEC).collect();
    assert!(after.iter().all(|s| (1..=30).contains(&s.2)));
    // Each sample holds the base plus one incremental per later point.
    assert!(after
        .iter()
        .all(|s| s.1 == 100_000_000_000 + (s.2 - 1) * 10_000_000_000));
    // From day 30 on, 30 points at every hourly sample.
    let late: Vec<_> = after.iter().filter(|s| s.0 >= 30 * 24 * HOUR).collect();
    assert!(!late.is_empty() && late.iter().all(|s| s.2 == 30));
    assert_eq!(get(&out.summary, "vault.v.recovery_points.max"), 30.0);
    assert_eq!(get(&out.summary, "vault.v.stored_bytes.end"), 1e11 + 29e10);
    assert_eq!(get(&out.summary, "vault.v.stored_bytes.max"), 1e11 + 29e10);
}

/// GRS vaults replicate each point with the drawn geo-replication delay.
#[test]
fn grs_geo_lag() {
    let src = base("2d", "", "geo_replication = \"10m\"", "")
        .replace("redundancy = \"LRS\"", "redundancy = \"GRS\"");
    let (out, _) = run_src(&src);
    // Histograms keep 3 significant digits.
    approx(get(&out.summary, "vault.v.geo_lag.mean"), 600.0, 1e-3);
    let (out, _) = run_src(&base("2d", "", "", ""));
    assert!(
        !out.summary.contains_key("vault.v.geo_lag.mean"),
        "LRS has no geo lag"
    );
}

/// RPO: the age of the newest point in the vault sampled hourly, counted from its
/// snapshot. The point is snapshotted at 01:00:10 and reaches the vault at 01:41:50, so the
/// hourly ages are known exactly.
#[test]
fn rpo_is_the_age_of_the_newest_point() {
    let (out, _) = run_src(&base("1d", "", "", ""));
    // Before the first point is in the vault, ages count from t = 0: samples at 0h, 1h
    // (ages 0, 3600); from 2h the point's ages 2h−3610 s ... 23h−3610 s.
    let mut ages: Vec<f64> = vec![0.0, 3600.0];
    ages.extend((2..24).map(|h| (h * 3600 - 3610) as f64));
    let mean = ages.iter().sum::<f64>() / ages.len() as f64;
    assert!(
        (get(&out.summary, "rpo.mean") - mean).abs() < 0.001 * mean,
        "{} vs {mean}",
        get(&out.summary, "rpo.mean")
    );
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

/// `retention.on_demand = "3d"`: an on-demand point is kept 3 × 24 h from its own time,
/// whatever the daily tier (1 day) says. One VM backed up on demand only, about twice a
/// day for 8 days: at the end the vault holds exactly the points of the last 3 days (each
/// job takes seconds, so a point's time is its job's finish within a minute). Without the
/// key the points are kept like scheduled ones: 1 day.
#[test]
fn on_demand_points_have_their_own_retention() {
    let src = base("8d", "on_demand = { per_vm_per_day = 2 }", "", "")
        .replace("schedule = { daily = \"01:00\" }\n", "")
        .replace(
            "retention = { daily = 30 }",
            "retention = { daily = 1, on_demand = \"3d\" }",
        )
        .replace("seed = 7\n", "seed = 7\nsample_every = \"1h\"\n");
    let held_at_end = |src: &str| {
        let (_, rows, samples) = run_sampled(src);
        let end = 8 * 24 * HOUR;
        let ok: Vec<u64> = rows
            .iter()
            .filter(|r| r.outcome == "succeeded")
            .map(|r| r.finished_us)
            .collect();
        assert!(ok.len() >= 10, "enough on-demand points: {}", ok.len());
        let last = samples.last().expect("samples").2;
        (ok, end, last)
    };
    let (ok, end, held) = held_at_end(&src);
    let within = |days: u64| ok.iter().filter(|&&t| t + days * 24 * HOUR > end).count() as u64;
    assert!(
        ok.iter()
            .all(|&t| (t + 3 * 24 * HOUR).abs_diff(end) > 60 * SEC),
        "no point expires within a minute of the end"
    );
    assert_eq!(held, within(3).max(1));
    let plain = src.replace(", on_demand = \"3d\"", "");
    let (ok1, _, held1) = held_at_end(&plain);
    assert_eq!(ok1, ok, "the same backups either way");
    assert_eq!(held1, within(1).max(1));
    assert!(held > held1);
}

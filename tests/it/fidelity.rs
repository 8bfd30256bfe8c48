//! Throughput and phases as the service published them: each disk copied as its own flow,
//! first and incremental rates, and the transfer queue after the snapshot. Every
//! expectation is computed by hand from the published figures.

use super::common::*;

const HOUR: u64 = 3600 * SEC;

/// One VM with an OS disk of 1 TB and three 10 GB data disks, all full, alone on a
/// 1 GB/s link.
fn big_and_small_disks(duration: &str, rest: &str) -> String {
    base(duration, "", "", rest)
        .replace("data_disks = 1\n", "data_disks = 3\n")
        .replace("disk_size = \"100 GB\"", "disk_size = \"10 GB\"")
        .replace("os_disk = \"100 GB\"", "os_disk = \"1 TB\"")
        .replace("used = 0.5", "used = 1.0")
}

/// Each disk is its own flow at 20 MB/s: the 1 TB disk alone decides the transfer,
/// 10^12 B / 20 MB/s = 50 000 s, to the µs (the small disks finish after 500 s and lend
/// the big one nothing; one aggregate flow at 4 × 20 MB/s took 12 875 s).
#[test]
fn each_disk_is_copied_as_its_own_flow() {
    let (out, rows) = run_src(&big_and_small_disks("2d", ""));
    let r = &rows[0];
    assert_eq!(r.outcome, "succeeded");
    assert_eq!(r.bytes, 1_030_000_000_000);
    assert_eq!(r.phases_us, [0, 0, 10 * SEC, 50_000 * SEC, 0]);
    assert_eq!(r.duration_us(), 50_010 * SEC);
    assert_eq!(get(&out.summary, "backup.bytes.full"), 1.03e12);
}

/// A restore copies each disk back in parallel too, at the restore rate (20 MB/s): the
/// same 50 000 s for the 1 TB disk.
#[test]
fn restores_copy_each_disk_as_its_own_flow() {
    let drill =
        "[[restore]]\nname = \"drill\"\nfleet = \"f\"\nat = \"1d\"\nkind = \"restore-disks\"\n";
    let (_, rows) = run_src(&big_and_small_disks("3d", drill));
    let r = rows
        .iter()
        .find(|r| r.kind == "restore:restore-disks")
        .expect("restore row");
    assert_eq!(r.outcome, "succeeded");
    assert_eq!(r.phases_us[3], 50_000 * SEC);
    assert_eq!(r.duration_us(), 50_000 * SEC);
}

/// One VM under a daily 01:00 policy, every timing and limit at its default, for two
/// days; `fleet_extra` adds fleet keys.
fn defaults_world(fleet_extra: &str) -> String {
    format!(
        r#"
[simulation]
name = "defaults"
duration = "2d"
[[region]]
name = "r"
[[vault]]
name = "v"
region = "r"
[[policy]]
name = "p"
vault = "v"
schedule = {{ daily = "01:00" }}
[[fleet]]
name = "f"
count = 1
region = "r"
policy = "p"
{fleet_extra}
"#
    )
}

/// The published bound at the defaults: a first backup of 1 TB (decimal) takes about
/// 14 h (10^12 B / 20 MB/s = 50 000 s = 13.9 h), plus the extension install (3 min on
/// average) and the snapshot (tens of seconds).
#[test]
fn first_backup_of_one_terabyte_takes_about_14_hours() {
    let (_, rows) = run_src(&defaults_world(
        "data_disks = 0\nos_disk = \"1 TB\"\nused = 1.0",
    ));
    let r = rows
        .iter()
        .find(|r| r.outcome == "succeeded")
        .expect("a backup");
    assert_eq!(r.bytes, 1_000_000_000_000);
    assert_eq!(r.phases_us[3], 50_000 * SEC);
    let d = r.duration_us();
    assert!(
        (50_000 * SEC..=50_000 * SEC + 15 * 60 * SEC).contains(&d),
        "1 TB took {} s",
        d / SEC
    );
}

/// The incremental default (3.4 MB/s per disk) holds the published statement that
/// about 200 GB of daily change can push a backup past 8 h: on a default VM (a 127 GiB
/// OS disk and one 128 GiB data disk) the change splits in proportion to the disks'
/// sizes, and the data disk's share, 200 GB × 128/255 = 100.392 GB, takes 29 527 s
/// (8.2 h) at 3.4 MB/s.
#[test]
fn two_hundred_gb_of_change_takes_over_8_hours_at_defaults() {
    let (_, rows) = run_src(&defaults_world("backup_size = \"200 GB\""));
    assert_eq!(rows.len(), 2, "a first and an incremental backup");
    let r = &rows[1];
    assert_eq!(r.outcome, "succeeded");
    let (os, data) = (127u128 << 30, 128u128 << 30);
    let os_share = (200_000_000_000u128 * os / (os + data)) as u64;
    let data_share = 200_000_000_000 - os_share;
    // The OS disk gets ⌊200 GB × 127/255⌋ = 99 607 843 137 B, the data disk the rest.
    assert_eq!(data_share, 100_392_156_863);
    // Rounded up to the µs: 29 527.104959 s.
    let secs = data_share as f64 / 3.4e6;
    assert_eq!(r.phases_us[3], (secs * 1e6).ceil() as u64);
    assert!(r.duration_us() > 8 * HOUR, "{} s", r.duration_us() / SEC);
    assert!(r.duration_us() < 8 * HOUR + 30 * 60 * SEC);
}

/// The transfer queue follows the snapshot. Two VMs arrive at 01:00 at a vault that
/// transfers one at a time: both take their 10 s snapshots at once; the second's data
/// waits 2 500 s for the first's transfer to end (01:41:50), then takes 2 500 s. Both
/// recovery points are timed at their snapshot (01:00:10): a restore of each at 03:00 sees
/// a point 7 190 s old.
#[test]
fn the_transfer_queue_follows_the_snapshot() {
    let drill = "[[restore]]\nname = \"drill\"\nfleet = \"f\"\nat = \"3h\"\ncount = 2\nkind = \"restore-disks\"\n";
    let src = base("1d", "", "", drill)
        .replace("count = 1\n", "count = 2\n")
        .replace(
            "create_time = \"0s\"",
            "create_time = \"0s\"\nmax_concurrent_jobs = 1",
        );
    let (out, mut rows) = run_src(&src);
    rows.retain(|r| r.kind == "scheduled");
    rows.sort_by_key(|r| r.finished_us);
    assert_eq!(rows[0].phases_us, [0, 0, 10 * SEC, 2500 * SEC, 0]);
    assert_eq!(rows[0].finished_us, HOUR + 2510 * SEC);
    let second = &rows[1];
    assert_eq!(second.started_us, HOUR);
    assert_eq!(second.phases_us, [2500 * SEC, 0, 10 * SEC, 2500 * SEC, 0]);
    assert_eq!(second.finished_us, HOUR + 5010 * SEC);
    // Its transfer started when the first's ended: finished − transfer = 01:41:50.
    assert_eq!(
        second.finished_us - second.phases_us[3],
        rows[0].finished_us
    );
    let ages = &out.histograms["restore.point_age"].to_histogram();
    assert_eq!(ages.len(), 2);
    assert!(ages.equivalent(ages.min(), 3 * HOUR - 3610 * SEC));
    assert!(ages.equivalent(ages.max(), 3 * HOUR - 3610 * SEC));
    // The queue phase is measured after the snapshot.
    approx(get(&out.summary, "backup.phase.queue.max"), 2500.0, 1e-3);
}

/// Two single-disk VMs on one link share it max-min fairly: each flow gets
/// min(20 MB/s, bandwidth / 2). At 30 MB/s: 15 MB/s each, 50 GB in 3 333.333334 s; at
/// 100 MB/s the per-disk rate binds: 2 500 s.
#[test]
fn a_shared_link_is_split_max_min_fairly() {
    let two = |bw: &str| {
        base("1d", "", "", "")
            .replace("count = 1\n", "count = 2\n")
            .replace("data_disks = 1\n", "data_disks = 0\n")
            .replace("bandwidth = \"1 GB/s\"", &format!("bandwidth = \"{bw}\""))
    };
    let (_, rows) = run_src(&two("30 MB/s"));
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r.bytes, 50_000_000_000);
        assert_eq!(r.phases_us[3], 3_333_333_334);
    }
    let (_, rows) = run_src(&two("100 MB/s"));
    for r in &rows {
        assert_eq!(r.phases_us[3], 2500 * SEC);
    }
}

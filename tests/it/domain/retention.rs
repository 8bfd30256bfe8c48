//! Retention, storage and RPO: which points are held, for how long, and what they cost
//! in stored bytes, on small scenarios computed by hand.

use super::*;

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
    let ages = out.histograms["restore.point_age"].to_histogram();
    assert!(ages.equivalent(ages.max(), (6 * 24 + 12) * HOUR - 3610 * SEC));
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
    let h = &out.histograms["restore.point_age"].to_histogram();
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
    let h = &out.histograms["restore.point_age"].to_histogram();
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

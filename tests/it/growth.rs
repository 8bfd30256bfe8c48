//! Growing fleets: VMs that join during the run and used data that grows per month,
//! against hand-computed schedules and sizes.

use super::common::*;

const DAY: u64 = 86_400 * SEC;

/// One VM and one more a month for 90 days: VMs join at days 30, 60 and 90 (the last at
/// the end, too late for a backup). Each takes its first (full) backup at the first
/// 01:00 after it joins and a daily one after: 90 + 60 + 30 jobs, full ones on days 0, 30
/// and 60, nothing scheduled (or counted) before a VM joins, and its RPO counts from the
/// day it joins, not from the start.
#[test]
fn one_vm_a_month_joins_on_its_day() {
    let src = base("90d", "growth = { vms_per_month = 1 }", "", "");
    let (out, rows) = run_src(&src);
    assert_eq!(get(&out.summary, "fleet.f.vms"), 4.0);
    let mut per_vm = [0u32; 4];
    for r in &rows {
        per_vm[r.vm as usize] += 1;
        assert!(r.scheduled_us >= u64::from(r.vm) * 30 * DAY, "{r:?}");
    }
    assert_eq!(per_vm, [90, 60, 30, 0]);
    let full: Vec<(u32, u64)> = rows
        .iter()
        .filter(|r| r.bytes == 100_000_000_000)
        .map(|r| (r.vm, r.scheduled_us / DAY))
        .collect();
    assert_eq!(full, [(0, 0), (1, 30), (2, 60)]);
    assert_eq!(get(&out.summary, "backup.jobs.succeeded"), 180.0);
    // Daily points: no VM's recovery point is ever older than a day and its copy.
    assert!(get(&out.summary, "rpo.max") < 1.1 * 86_400.0);
}

/// Used data growing 30 GB a month, linearly: the incremental of day 30 moves 10 % of
/// 100 GB + 30 GB × (30 d 1 h 10 s / 30 d) (the snapshot's time); by day 125 the data has
/// reached the disks' 200 GB and stays there: 20 GB a day.
#[test]
fn used_data_grows_per_month_up_to_the_disks() {
    let src = base("126d", "growth = { used_per_month = \"30 GB\" }", "", "");
    let (_, rows) = run_src(&src);
    let on_day = |d: u64| {
        rows.iter()
            .find(|r| r.scheduled_us / DAY == d)
            .unwrap()
            .bytes
    };
    let months: f64 = (30.0 * 86_400.0 + 3_610.0) / (30.0 * 86_400.0);
    let used = (1e11 + 3e10 * months).round();
    assert_eq!(on_day(30), (used * 0.1).round() as u64);
    assert_eq!(on_day(125), 20_000_000_000);
    // Compounding: 10 % a month on 100 GB, at the first incremental (day 1, 01:00:10).
    let src = base("2d", "growth = { used_per_month = \"10%\" }", "", "");
    let (_, rows) = run_src(&src);
    let months: f64 = (86_400.0 + 3_610.0) / (30.0 * 86_400.0);
    let used = (1e11 * 1.1f64.powf(months)).round();
    assert_eq!(rows[1].bytes, (used * 0.1).round() as u64);
}

/// Without growth nothing moves: the same fleet with `growth = {}` gives the same jobs.
#[test]
fn an_empty_growth_changes_nothing() {
    let (a, ra) = run_src(&base("5d", "", "", ""));
    let (b, rb) = run_src(&base("5d", "growth = {}", "", ""));
    assert_eq!(a.summary, b.summary);
    assert_eq!(ra.len(), rb.len());
}

/// The time series has the stored bytes of each redundancy: the sum of its vaults'.
#[test]
fn stored_bytes_by_redundancy_sum_the_vaults() {
    let t = tempfile::tempdir().unwrap();
    let rest = r#"
[[vault]]
name = "w"
region = "r1"
redundancy = "LRS"
create_time = "0s"

[[policy]]
name = "q"
vault = "w"
schedule = { daily = "02:00" }
retention = { daily = 3 }

[[fleet]]
name = "g"
count = 2
region = "r1"
policy = "q"
path = ["wan"]
os = "windows-2012r2"
extension = { installed = 1.0 }
"#;
    let sc = t.path().join("two.toml");
    std::fs::write(&sc, base("4d", "", "", rest)).unwrap();
    let out = t.path().join("out");
    let o = run_bin(&[
        "run",
        sc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--no-plots",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut r = csv::Reader::from_path(out.join("timeseries.csv")).unwrap();
    let head = r.headers().unwrap().clone();
    let col = |n: &str| {
        head.iter()
            .position(|h| h == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    assert!(!head.iter().any(|h| h == "storage.grs.stored_bytes"));
    let (v, w, lrs) = (
        col("vault.v.stored_bytes"),
        col("vault.w.stored_bytes"),
        col("storage.lrs.stored_bytes"),
    );
    let mut nonzero = false;
    for rec in r.records() {
        let rec = rec.unwrap();
        let n = |i: usize| rec[i].parse::<u64>().unwrap();
        assert_eq!(n(lrs), n(v) + n(w));
        nonzero |= n(v) > 0 && n(w) > 0;
    }
    assert!(nonzero);
}

#[test]
fn bad_growth_is_refused_with_its_place() {
    let t = tempfile::tempdir().unwrap();
    for (growth, key, expected) in [
        (
            "{ vms_per_month = -1 }",
            "fleet.f.growth.vms_per_month",
            "from 0 to 1e6",
        ),
        (
            "{ used_per_month = \"5 parsecs\" }",
            "used_per_month",
            "percentage per month",
        ),
        (
            "{ used_per_month = 5 }",
            "used_per_month",
            "percentage per month",
        ),
        ("{ vms = 3 }", "fleet.f.growth.vms", "unknown key"),
    ] {
        let sc = t.path().join("bad.toml");
        std::fs::write(&sc, base("2d", &format!("growth = {growth}"), "", "")).unwrap();
        let o = run_bin(&["validate", sc.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{growth}");
        let err = stderr(&o);
        assert!(
            err.contains("bad.toml:") && err.contains(key),
            "{growth}: {err}"
        );
        assert!(err.contains(expected), "{growth}: {err}");
    }
}

/// With a calendar start date months are calendar months: from 2023-01-31 the added VMs
/// join on February 28, March 31 and April 30 (days 28, 59 and 89), each taking its first
/// (full) backup at that day's 01:00; nothing is scheduled for a VM before it joins.
#[test]
fn calendar_months_join_on_the_start_dates_months_later() {
    let src = base("90d", "growth = { vms_per_month = 1 }", "", "").replace(
        "duration = \"90d\"",
        "duration = \"90d\"\nstart = \"2023-01-31\"",
    );
    let (out, rows) = run_src(&src);
    assert_eq!(get(&out.summary, "fleet.f.vms"), 4.0);
    let mut per_vm = [0u32; 4];
    for r in &rows {
        per_vm[r.vm as usize] += 1;
    }
    assert_eq!(per_vm, [90, 62, 31, 1]);
    let full: Vec<(u32, u64)> = rows
        .iter()
        .filter(|r| r.bytes == 100_000_000_000)
        .map(|r| (r.vm, r.scheduled_us / DAY))
        .collect();
    assert_eq!(full, [(0, 0), (1, 28), (2, 59), (3, 89)]);
}

/// A VM is priced from its first recovery point, so VMs that join later are not billed
/// before they do: one VM and one a month over 60 days has two protected instances at
/// the end ($10 each, 100 GB), billed from day 0 and day 30 (their first points); the
/// third joins at the end, unprotected and unbilled.
#[test]
fn vms_that_join_later_are_billed_from_their_first_point() {
    let prices = "[cost]\ncurrency = \"USD\"\ninstance_tiers = [{ up_to = \"500 GB\", price = 10 }]\ninstance_per_started = { size = \"500 GB\", price = 10 }\nstorage_grs = 0.048\nstorage_lrs = 0.024\n";
    let src = base("60d", "growth = { vms_per_month = 1 }", "", prices);
    let (out, rows) = run_src(&src);
    let m = &out.summary;
    assert_eq!(get(m, "fleet.f.vms"), 3.0);
    assert_eq!(get(m, "cost.protected_instances.monthly"), 20.0);
    let first = |vm: u32| {
        rows.iter()
            .filter(|r| r.vm == vm && r.outcome == "succeeded")
            .map(|r| r.finished_us)
            .min()
            .unwrap()
    };
    assert!(
        first(1) > 30 * DAY + 3_600 * SEC && first(1) < 30 * DAY + 7_200 * SEC,
        "{} {}",
        first(0),
        first(1)
    );
    let months = |t: u64| (60 * DAY - t) as f64 / (30 * DAY) as f64;
    approx(
        get(m, "cost.protected_instances"),
        10.0 * (months(first(0)) + months(first(1))),
        1e-6,
    );
}

/// The VMs-per-vault limit counts a growing fleet at the end of the run: 190 VMs adding
/// 5 a month for 61 days (joining every 6 days: 10 by day 60) reach 200 (the 2015 limit,
/// no warning); for 67 days, 201 (a warning naming `vault.v.max_vms`).
#[test]
fn the_vault_limit_counts_a_growing_fleet_at_its_end() {
    let keys = |days: &str| {
        let src = base(days, "growth = { vms_per_month = 5 }", "", "")
            .replace("count = 1\n", "count = 190\n");
        let l = backupsim::scenario::load_str(&src, std::path::Path::new("t.toml"), &[])
            .expect("loads");
        l.warnings.into_iter().map(|w| w.key).collect::<Vec<_>>()
    };
    assert!(keys("61d").is_empty(), "{:?}", keys("61d"));
    assert_eq!(keys("67d"), ["vault.v.max_vms"]);
}

/// The capacity estimate sees a growing fleet's busiest nights: 10 VMs adding 10 over 30
/// days (20 at the end) with data growing 10 % a month. The first night is the 10 initial
/// VMs' fulls (10 × 100 GB); the later night the 20 VMs' 10 % churn of 110 GB.
#[test]
fn the_estimate_counts_a_growing_fleet_at_its_end() {
    let src = base(
        "30d",
        "growth = { vms_per_month = 10, used_per_month = \"10%\" }",
        "",
        "",
    )
    .replace("count = 1\n", "count = 10\n");
    let l = backupsim::scenario::load_str(&src, std::path::Path::new("t.toml"), &[]).unwrap();
    let e = backupsim::scenario::estimate::estimate(&l.scenario);
    assert_eq!(e.len(), 2, "a link and a vault");
    for e in &e {
        approx(e.vms, 20.0, 1e-12);
        approx(e.first_vms, 10.0, 1e-12);
        approx(e.first.bytes, 1e12, 1e-12);
        approx(e.later.bytes, 20.0 * 0.1 * 110e9, 1e-9);
    }
    let line = e[1].to_string();
    assert!(line.contains("~10 of ~20 VMs (the first wave"), "{line}");
}

/// A restore drill picks among the VMs that have joined: one VM and one a day (30 a
/// month) for 10 days; a drill of 100 VMs at day 5, 12:00 finds the 6 that have joined
/// (each with its first point from 01:00 of its day) and restores them all, none failing
/// for want of a point.
#[test]
fn restores_pick_only_vms_that_have_joined() {
    let drill = "[[restore]]\nname = \"drill\"\nfleet = \"f\"\nat = \"132h\"\ncount = 100\nkind = \"restore-disks\"\n";
    let (_, rows) = run_src(&base("10d", "growth = { vms_per_month = 30 }", "", drill));
    let restores: Vec<_> = rows
        .iter()
        .filter(|r| r.kind.starts_with("restore"))
        .collect();
    assert_eq!(restores.len(), 6);
    assert!(
        restores
            .iter()
            .all(|r| r.outcome == "succeeded" && r.vm < 6),
        "{restores:?}"
    );
}

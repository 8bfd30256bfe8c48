//! Costs and storage sizing: prices of protected instances by size tier, storage by
//! GB-month, proration by time protected, compression and deduplication.

use crate::common::{base, get, run_sampled, run_src, SEC};

const GB: f64 = 1e9;
const DAY: u64 = 86_400 * SEC;
const MONTH: f64 = 30.0 * DAY as f64;

/// The 2015 model's prices (see docs/domain.md), LRS at half the GRS rate.
const PRICES: &str = r#"
[cost]
currency = "USD"
instance_tiers = [{ up_to = "50 GB", price = 5 }, { up_to = "500 GB", price = 10 }]
instance_per_started = { size = "500 GB", price = 10 }
storage_grs = 0.048
storage_lrs = 0.024
"#;

/// Two more fleets beside the base's one: protected data of 300 GB and 1.2 TB.
fn fleets() -> String {
    let fleet = |name: &str, disks: u32, disk: &str, os: &str| {
        format!(
            "[[fleet]]\nname = \"{name}\"\ncount = 1\nregion = \"r1\"\npolicy = \"p\"\npath = [\"wan\"]\nextension = {{ installed = 1.0 }}\ndata_disks = {disks}\ndisk_size = \"{disk}\"\nos_disk = \"{os}\"\nused = 0.5\ndaily_churn = 0.0\n"
        )
    };
    fleet("mid", 0, "1 GB", "600 GB") + &fleet("big", 2, "1000 GB", "400 GB")
}

/// When each fleet's first recovery point was made (µs).
fn first_points(rows: &[crate::common::Row]) -> std::collections::BTreeMap<String, u64> {
    let mut m = std::collections::BTreeMap::new();
    for r in rows.iter().filter(|r| r.outcome == "succeeded") {
        m.entry(r.fleet.clone()).or_insert(r.finished_us);
    }
    m
}

/// 40 GB, 300 GB and 1.2 TB of protected data cost $5 + $10 + $30 a month (the 2015
/// tiers); over the run each is prorated by the time since its first recovery point, and
/// storage accrues GB-months of the constant full base (no churn) at the LRS price.
#[test]
fn cost_of_a_hand_computed_fleet() {
    let src = base("20d", "", "", &format!("{}\n{PRICES}", fleets()))
        .replace(
            "os_disk = \"100 GB\"\nused = 0.5\ndaily_churn = 0.1",
            "os_disk = \"40 GB\"\nused = 0.5\ndaily_churn = 0.0",
        )
        .replace(
            "data_disks = 1\ndisk_size = \"100 GB\"",
            "data_disks = 1\ndisk_size = \"40 GB\"",
        );
    // With every invariant checked: the fleets' books hold the vault's bytes.
    let (out, rows, _) = run_sampled(&src);
    let m = &out.summary;
    assert_eq!(get(m, "fleet.f.cost.protected_instances.monthly"), 5.0);
    assert_eq!(get(m, "fleet.mid.cost.protected_instances.monthly"), 10.0);
    assert_eq!(get(m, "fleet.big.cost.protected_instances.monthly"), 30.0);
    assert_eq!(get(m, "cost.protected_instances.monthly"), 45.0);
    assert_eq!(get(m, "vault.v.cost.protected_instances.monthly"), 45.0);
    // Stored at the end: the full bases, 40 + 300 + 1 200 GB at $0.024.
    let stored = get(m, "vault.v.stored_bytes.end");
    assert_eq!(stored, 1_540.0 * GB);
    assert_eq!(get(m, "storage.stored_bytes.end"), 1_540.0 * GB);
    assert_eq!(get(m, "storage.stored_bytes.max"), 1_540.0 * GB);
    assert_eq!(get(m, "cost.storage.monthly"), 36.96);
    assert_eq!(get(m, "cost.monthly"), 81.96);
    let end = 20 * DAY;
    let first = first_points(&rows);
    assert_eq!(first.len(), 3);
    let mut total = 0.0;
    for (fleet, price, gb) in [
        ("f", 5.0, 40.0),
        ("mid", 10.0, 300.0),
        ("big", 30.0, 1_200.0),
    ] {
        let months = (end - first[fleet]) as f64 / MONTH;
        let inst = get(m, &format!("fleet.{fleet}.cost.protected_instances"));
        let storage = get(m, &format!("fleet.{fleet}.cost.storage"));
        assert!(
            (inst - price * months).abs() < 1e-6,
            "{fleet}: {inst} vs {}",
            price * months
        );
        assert!(
            (storage - gb * 0.024 * months).abs() < 1e-6,
            "{fleet}: {storage}"
        );
        total += inst + storage;
    }
    assert!((get(m, "cost.total") - total).abs() < 1e-5);
    assert_eq!(get(m, "cost.restore_egress"), 0.0);
}

/// Usage is prorated by the time protected: a VM protected for the last 10 of 30 days is
/// billed a third of a month.
#[test]
fn cost_is_prorated_by_days_protected() {
    // The vault becomes active on day 20, so the first point is made on day 20 at 01:00
    // plus the job's steps.
    let src = base("30d", "", "", PRICES)
        .replace("create_time = \"0s\"", "create_time = \"20d\"")
        .replace("daily_churn = 0.1", "daily_churn = 0.0");
    let (out, rows) = run_src(&src);
    let first = first_points(&rows)["f"];
    assert!(first > 20 * DAY && first < 21 * DAY, "{first}");
    let months = (30 * DAY - first) as f64 / MONTH;
    let inst = get(&out.summary, "cost.protected_instances");
    // 100 GB + 100 GB half used: 100 GB, the $10 tier.
    assert!((inst - 10.0 * months).abs() < 1e-6, "{inst}");
    assert!(inst < 10.0 / 3.0 && inst > 10.0 / 3.0 - 10.0 / 30.0);
}

/// A storage price over a constant stored amount: GB × months × price, exactly, also on a
/// GRS vault.
#[test]
fn storage_accrues_gb_months_of_a_constant_amount() {
    let src = base("31d", "", "", PRICES)
        .replace("redundancy = \"LRS\"", "redundancy = \"GRS\"")
        .replace("daily_churn = 0.1", "daily_churn = 0.0");
    let (out, rows) = run_src(&src);
    let first = first_points(&rows)["f"];
    let months = (31 * DAY - first) as f64 / MONTH;
    let m = &out.summary;
    assert_eq!(get(m, "vault.v.stored_bytes.max"), 100.0 * GB);
    assert_eq!(get(m, "cost.storage.monthly"), 4.8);
    assert!((get(m, "cost.storage") - 100.0 * 0.048 * months).abs() < 1e-6);
}

/// Compression 2 halves the bytes stored, not the bytes transferred; with
/// `reduce_transfer` both.
#[test]
fn compression_halves_stored_bytes() {
    let run = |extra: &str| {
        let src = base("3d", extra, "", "").replace("daily_churn = 0.1", "daily_churn = 0.0");
        run_src(&src).0.summary
    };
    let plain = run("");
    let halved = run("compression = 2.0");
    let both = run("compression = 2.0\ndedup = 1.25\nreduce_transfer = true");
    assert_eq!(get(&plain, "vault.v.stored_bytes.end"), 100.0 * GB);
    assert_eq!(get(&halved, "vault.v.stored_bytes.end"), 50.0 * GB);
    assert_eq!(get(&halved, "backup.bytes.full"), 100.0 * GB);
    assert_eq!(get(&both, "vault.v.stored_bytes.end"), 40.0 * GB);
    assert_eq!(get(&both, "backup.bytes.full"), 40.0 * GB);
}

/// Without `[cost]` no cost metric is written; bad prices are rejected naming the key.
#[test]
fn cost_is_optional_and_validated() {
    let (out, _) = run_src(&base("2d", "", "", ""));
    assert!(out.summary.keys().all(|k| !k.contains("cost")));
    let bad = |cost: &str, key: &str| {
        let src = base("2d", "", "", cost);
        let e = backupsim::scenario::load_str(&src, std::path::Path::new("t.toml"), &[])
            .err()
            .unwrap_or_else(|| panic!("accepted: {cost}"))
            .to_string();
        assert!(e.contains(key), "{e}");
    };
    bad(
        &PRICES.replace("price = 10 }]", "price = -1 }]"),
        "cost.instance_tiers.1.price",
    );
    bad(
        &PRICES.replace("up_to = \"500 GB\"", "up_to = \"20 GB\""),
        "cost.instance_tiers.1.up_to",
    );
    bad(&PRICES.replace("storage_lrs = 0.024\n", ""), "storage_lrs");
    bad(&PRICES.replace("\"USD\"", "\"\""), "cost.currency");
    let src = base("2d", "compression = 0.5", "", "");
    let Err(e) = backupsim::scenario::load_str(&src, std::path::Path::new("t.toml"), &[]) else {
        panic!("a factor below 1 is accepted");
    };
    let e = e.to_string();
    assert!(e.contains("fleet.f.compression"), "{e}");
}

/// Every cost metric a run writes is in the catalogue (so `[[expect]]` and `solve
/// --objective` accept it), marked as always written.
#[test]
fn cost_metrics_are_in_the_catalogue() {
    let src = base("2d", "", "", PRICES);
    let l = backupsim::scenario::load_str(&src, std::path::Path::new("t.toml"), &[]).unwrap();
    let cat = backupsim::model::metric_names::catalogue(&l.config);
    let out = backupsim::model::run(&l.config).unwrap();
    let costs: Vec<&String> = out.summary.keys().filter(|k| k.contains("cost")).collect();
    assert_eq!(
        costs.len(),
        3 * 7,
        "the run, the vault and the fleet: {costs:?}"
    );
    for k in costs {
        assert!(cat.iter().any(|n| &n.name == k && n.always), "{k}");
    }
}

/// The run's storage is the sum over vaults at the end; its peak is the peak of the sum,
/// between the largest vault peak and the sum of the peaks.
#[test]
fn storage_totals_sum_the_vaults() {
    let src = std::fs::read_to_string("scenarios/storage-sizing.toml").unwrap();
    let src = crate::common::shrink(&src, 30, 6);
    let (out, _, _) = run_sampled(&src);
    let m = &out.summary;
    let vaults = ["prod-a", "prod-b", "test"];
    let end: f64 = vaults
        .iter()
        .map(|v| get(m, &format!("vault.{v}.stored_bytes.end")))
        .sum();
    let peaks: Vec<f64> = vaults
        .iter()
        .map(|v| get(m, &format!("vault.{v}.stored_bytes.max")))
        .collect();
    assert!(end > 0.0);
    assert_eq!(get(m, "storage.stored_bytes.end"), end);
    let max = get(m, "storage.stored_bytes.max");
    assert!(max >= end && max <= peaks.iter().sum::<f64>(), "{max}");
    assert!(max >= peaks.iter().cloned().fold(0.0, f64::max));
    // GRS and LRS vaults are priced apart: the test vault at the LRS rate.
    let lrs = get(m, "vault.test.stored_bytes.end") / 1e9 * 0.024;
    assert!((get(m, "vault.test.cost.storage.monthly") - lrs).abs() < 1e-6);
}

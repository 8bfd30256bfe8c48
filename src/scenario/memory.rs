//! How much memory a run or a sweep will need, estimated before it starts.
//!
//! A run's memory is dominated by what it keeps per VM: the VM itself, its place in the
//! arrival batch of each policy occurrence in flight, and the job it may have in flight
//! (queued or running: a slot, its events and its transfer), and its held recovery points
//! (about 10 bytes each, see [`POINT_BYTES`]). Histograms are a fixed size, and
//! `jobs.csv` and `timeseries.csv` are streamed to disk. The estimate adds these up with
//! the sizes of the model's structures, rounded up; against the peaks measured in
//! docs/performance.md (scale-10k, scale-100k, scale-1m) it is within a factor of 2,
//! erring on the high side at scale. `run` and `sweep` refuse, before writing anything, a
//! scenario whose estimate exceeds `--memory-limit` (default: the memory available now).

use super::schema::Scenario;
use crate::engine::dist::Dist;
use crate::engine::time::MICROS_PER_DAY;
use crate::model::metrics::LATENCY_COUNT_BYTES;

/// The process itself before any scenario: code, runtime, I/O buffers.
pub const PROCESS_BYTES: u64 = 6 << 20;
/// One latency histogram (1 µs to 2^45 µs, 3 significant digits: 37 888 counts of
/// [`LATENCY_COUNT_BYTES`], all of them resident at worst). A run keeps 10 (backup and phase durations,
/// restores, RPO) plus one per GRS vault, each twice at the end (the counts and the
/// outcome's copy).
pub const HISTOGRAM_BYTES: u64 = 37_888 * LATENCY_COUNT_BYTES;
/// Per VM: its attributes (64 bytes) and its entry in an arrival batch (16 bytes).
pub const VM_BYTES: u64 = 64 + 16;
/// Per job in flight, at most one per VM: the job slot (136 bytes), its event in the
/// queue (16-byte heap key, 24-byte payload), its place in a FIFO gate and its transfers
/// in the network (one flow per disk).
pub const JOB_BYTES: u64 = 224;
/// Per pending retry (an arrival event waiting for the policy's retry delay).
pub const RETRY_BYTES: u64 = 48;
/// Bytes per recovery point a VM holds: a record of about 10 bytes (a length byte, the
/// time since the previous point with the retention tier, the bytes, each in as few bytes
/// as it needs), with its region's room to grow (up to an eighth) and the arena's
/// reclaimable garbage (a 32nd; at least 4 MiB may wait, which [`PROCESS_BYTES`] covers in
/// small runs), rounded up.
pub const POINT_BYTES: u64 = 14;
/// Per VM, for its points: its place in the point arena (40 bytes) and its region's header
/// (6 bytes).
pub const HELD_BYTES: u64 = 46;
/// The service's limit of recovery points per VM (2015).
pub const MAX_POINTS: u64 = 366;
/// Per run of a sweep, held while the aggregates are written: its summary (about 150
/// metrics by name), its row of `runs.csv` and its entry in the run list.
pub const SWEEP_BYTES_PER_RUN: u64 = 32 << 10;
/// Most runs a sweep may have (points × replications): each writes a results directory.
pub const MAX_SWEEP_RUNS: u64 = 1_000_000;

/// Estimated peak memory of a run of `s`, in bytes, including the process itself.
pub fn memory_bytes(s: &Scenario) -> u64 {
    PROCESS_BYTES.saturating_add(run_bytes(s))
}

/// Estimated memory of the simulation of `s` alone (what each parallel run of a sweep
/// adds), in bytes.
pub fn run_bytes(s: &Scenario) -> u64 {
    let (vms, rest) = run_parts(s);
    vms.saturating_add(rest)
}

/// [`run_bytes`] in two parts: the VMs with their batches and jobs, and the rest.
fn run_parts(s: &Scenario) -> (u64, u64) {
    let sim = &s.simulation;
    let days = sim.duration.0.as_micros().div_ceil(MICROS_PER_DAY).max(1);
    let grs = s
        .vault
        .iter()
        .filter(|v| v.redundancy == super::schema::Redundancy::Grs)
        .count() as u64;
    let mut per_vms = 0u64;
    let all_vms: u64 = s.fleet.iter().map(|f| u64::from(f.count_at_end(sim))).sum();
    let mut total = (10 + grs) * 2 * HISTOGRAM_BYTES;
    for f in &s.fleet {
        let vms = u64::from(f.count_at_end(sim));
        let policy = s.policy.iter().find(|p| p.name == f.policy);
        // A policy's occurrences are at least a day apart; each keeps its batch of
        // arrivals until the last one starts, `start_within` later.
        let batches = policy.filter(|p| p.schedule.is_some()).map_or(0, |p| {
            (p.start_within.0.as_micros() / MICROS_PER_DAY + 1).min(days)
        });
        let retries = policy.map_or(0, |p| {
            let r = &p.retries;
            if r.max == 0 {
                0
            } else {
                (r.max as u64)
                    .min(r.delay.0.as_micros() / MICROS_PER_DAY + 1)
                    .min(days)
            }
        });
        let held = policy.map_or(0, |p| {
            held_points(p, f.on_demand.per_vm_per_day, p.schedule.is_some(), days)
        });
        let per_vm = 64 + 16 * batches + JOB_BYTES + RETRY_BYTES * retries + points_bytes(held);
        per_vms = per_vms.saturating_add(vms.saturating_mul(per_vm));
        let constant = crate::model::vm::constant_disk_sizes(
            f.inventory.is_some() || f.inventory_table.is_some(),
            &f.os_disk,
            &f.disk_size,
        );
        if all_vms <= crate::model::vm::KEEP_DISKS_UP_TO as u64 && constant.is_none() {
            // Its disk sizes, kept: a count and one size per disk, 8 bytes each.
            let disks = super::population::expected(s, f).map_or(1.0, |e| e.data_disks + 1.0);
            let kept = (vms as f64 * 8.0 * (disks + 1.0)).ceil() as u64;
            per_vms = per_vms.saturating_add(kept);
        }
    }
    // Group reports: per fleet a duration and an RPO histogram when there are few fleets
    // (`GROUP_HISTOGRAM_FLEETS`), and the groups summed at the end (as many again); one
    // night row (about 160 bytes) per fleet and day.
    let fleets = s.fleet.len() as u64;
    if s.fleet.len() <= crate::model::metric_names::GROUP_HISTOGRAM_FLEETS {
        let groups = fleets + s.vault.len() as u64 + s.region.len() as u64 + s.policy.len() as u64;
        total = total.saturating_add(groups.saturating_mul(2 * HISTOGRAM_BYTES));
    }
    total = total.saturating_add(fleets.saturating_mul(days).saturating_mul(160));
    // A drill draws its VMs into a map of picks.
    for r in &s.restore {
        let fleet = s
            .fleet
            .iter()
            .find(|f| f.name == r.fleet)
            .map_or(0, |f| f.count_at_end(&s.simulation));
        total = total.saturating_add(r.count.min(fleet) as u64 * 48);
    }
    for (_, d, _) in super::validate::dists(s) {
        if let Dist::Empirical { values, .. } = d {
            total = total.saturating_add(values.len() as u64 * 8);
        }
    }
    (per_vms, total)
}

/// The most recovery points a VM of a policy holds at once in a run of `days` days: the
/// points of the daily span (scheduled and on-demand), one per kept week, month and year,
/// and the newest; at most the service's 366.
fn held_points(p: &super::schema::Policy, on_demand: f64, scheduled: bool, days: u64) -> u64 {
    let per_day = f64::from(u8::from(scheduled)) + on_demand.max(0.0);
    let r = &p.retention;
    let daily = (per_day * (u64::from(r.daily).min(days) + 1) as f64).ceil() as u64;
    let tiers = u64::from(r.weekly).min(days / 7 + 1)
        + u64::from(r.monthly).min(days / 30 + 1)
        + u64::from(r.yearly).min(days / 365 + 1);
    let run = (per_day * days as f64).ceil() as u64 + 1;
    (daily + tiers).min(run).min(MAX_POINTS)
}

/// The memory of a VM's held points.
fn points_bytes(held: u64) -> u64 {
    HELD_BYTES + POINT_BYTES * held
}

/// Estimated peak memory of a sweep whose largest run needs `max_run_bytes`
/// ([`run_bytes`]), with `concurrent` runs at once and `runs` runs in all.
pub fn sweep_bytes(max_run_bytes: u64, concurrent: u64, runs: u64) -> u64 {
    PROCESS_BYTES
        .saturating_add(max_run_bytes.saturating_mul(concurrent.max(1)))
        .saturating_add(runs.saturating_mul(SWEEP_BYTES_PER_RUN))
}

/// The memory available for new work now (`MemAvailable` in `/proc/meminfo`), if known.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// A byte count in binary units with three significant digits: `208 MiB`, `1.50 GiB`.
pub fn fmt_bytes(b: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", UNITS[u])
    } else if v >= 10.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

/// The limit to hold an estimate to: `--memory-limit` when given, else the memory
/// available now; with a phrase saying where it came from. `None` when neither is known.
pub fn limit(flag: Option<u64>) -> Option<(u64, &'static str)> {
    match flag {
        Some(l) => Some((l, "--memory-limit")),
        None => available_memory()
            .map(|l| (l, "the memory available now, MemAvailable in /proc/meminfo")),
    }
}

/// Checks an estimate of `need` bytes for `what` ("the run", "the sweep") against the
/// limit; the error says what was estimated (`detail`), the limit and what to do
/// (`remedy`).
pub fn check(
    need: u64,
    what: &str,
    detail: &str,
    remedy: &str,
    flag: Option<u64>,
) -> Result<(), String> {
    match limit(flag) {
        Some((lim, from)) if need > lim => Err(format!(
            "expected {what} to fit in memory, found an estimated {} ({detail}), above the limit of {} ({from}); nothing was written: {remedy}, or raise the limit with --memory-limit SIZE if this machine can hold it (the estimate errs on the high side: see docs/scenario.md, \"Memory\")",
            fmt_bytes(need),
            fmt_bytes(lim)
        )),
        _ => Ok(()),
    }
}

/// What to do about a run that does not fit, for [`check`].
pub const RUN_REMEDY: &str = "reduce the fleets (count)";
/// What to do about a sweep that does not fit, for [`check`].
pub const SWEEP_REMEDY: &str = "use fewer --threads, fewer runs or smaller fleets";

/// A one-phrase breakdown of [`memory_bytes`] for messages.
pub fn describe(s: &Scenario) -> String {
    let vms: u64 = s
        .fleet
        .iter()
        .map(|f| u64::from(f.count_at_end(&s.simulation)))
        .sum();
    let (per_vms, rest) = run_parts(s);
    format!(
        "{} for {vms} VMs with their jobs, {} for histograms, buffers and the process",
        fmt_bytes(per_vms),
        fmt_bytes(rest.saturating_add(PROCESS_BYTES))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The peak memory measured for each scale scenario, from docs/performance.md's table
    /// (`| scale-1m | ... | 208 MiB |`).
    fn measured() -> Vec<(String, u64)> {
        let doc = std::fs::read_to_string("docs/performance.md").unwrap();
        doc.lines()
            .filter(|l| l.starts_with("| scale-"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let mib: u64 = cells[cells.len() - 2]
                    .strip_suffix(" MiB")
                    .expect("peak memory in MiB")
                    .parse()
                    .unwrap();
                (cells[1].to_string(), mib << 20)
            })
            .collect()
    }

    #[test]
    fn estimate_is_within_2x_of_measured_peaks() {
        let m = measured();
        assert_eq!(m.len(), 3, "{m:?}");
        for (name, peak) in m {
            let l =
                crate::scenario::load(Path::new(&format!("scenarios/{name}.toml")), &[]).unwrap();
            let e = memory_bytes(&l.scenario);
            assert!(
                e >= peak / 2 && e <= peak * 2,
                "{name}: estimate {} vs measured {}",
                fmt_bytes(e),
                fmt_bytes(peak)
            );
        }
    }

    #[test]
    fn histogram_size_is_the_standard_histogram() {
        assert_eq!(
            HISTOGRAM_BYTES,
            crate::outputs::results::histio::new_histogram().distinct_values() as u64
                * LATENCY_COUNT_BYTES
        );
    }

    #[test]
    fn estimate_of_a_huge_fleet_exceeds_the_limit() {
        // Twenty fleets of 50 million VMs each pass validation, but not the estimate.
        let mut src = String::from(
            "[simulation]\nname = \"huge\"\nduration = \"2d\"\n[[region]]\nname = \"r\"\n[[vault]]\nname = \"v\"\nregion = \"r\"\n[[policy]]\nname = \"p\"\nvault = \"v\"\nschedule = { daily = \"22:00\" }\n",
        );
        for i in 0..20 {
            src.push_str(&format!(
                "[[fleet]]\nname = \"f{i}\"\ncount = 50000000\nregion = \"r\"\npolicy = \"p\"\n"
            ));
        }
        let l = crate::scenario::load_str(&src, Path::new("huge.toml"), &[]).unwrap();
        let need = memory_bytes(&l.scenario);
        assert!(need > 200 << 30, "{}", fmt_bytes(need));
        let e = check(
            need,
            "the run",
            &describe(&l.scenario),
            RUN_REMEDY,
            Some(64 << 30),
        )
        .unwrap_err();
        assert!(
            e.contains("above the limit of 64.0 GiB (--memory-limit)"),
            "{e}"
        );
        assert!(e.contains("for 1000000000 VMs with their jobs"), "{e}");
        assert!(check(need, "the run", "", RUN_REMEDY, Some(u64::MAX)).is_ok());
    }

    #[test]
    fn bytes_are_shown_in_binary_units() {
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(208 << 20), "208 MiB");
        assert_eq!(fmt_bytes(3 << 29), "1.50 GiB");
        assert_eq!(fmt_bytes(u64::MAX), "16.0 EiB");
    }
}

//! Capacity estimate before running: per link and per vault, the bytes the first
//! scheduled night offers (every VM's first backup is a full copy of its used data) and
//! those of a typical later night (the day's churn), against what fits in the backup
//! window.
//!
//! It is computed from the scenario's means (VM counts, the share of supported VMs, mean
//! disk counts, sizes, used shares and churn; an inventory's used bytes and churn where
//! its cells give them), not from a run: it ignores failures, retries, outages and
//! queueing detail. A run measures what the estimate predicts. With first-wave onboarding
//! (`onboard = { over = "Nd" }`) the first night carries only the VMs the scheduler
//! starts on it. A growing fleet's later night is its last one (all its VMs at the end of
//! the run, their data grown for the whole run); its first night its initial VMs'.

use std::fmt;

use super::population::{expected, mean, vault_of};
use super::schema::{Fleet, Growth, Scenario, Schedule, Simulation};
use crate::model::config::Inventory;
use crate::units::{fmt_duration as fmt_secs, fmt_rate, fmt_size, Duration};

/// One night's load on a link or a vault.
#[derive(Clone, Debug, PartialEq)]
pub struct Night {
    /// Bytes to move.
    pub bytes: f64,
    /// The rate they can move at (bytes per second).
    pub rate: f64,
    /// What sets that rate.
    pub limit: String,
    /// Hours needed, in seconds: bytes / rate (for a vault, at least the time the last
    /// job to start needs on its own).
    pub secs: f64,
    /// Whether the spread of start times, not the rate, sets `secs`.
    pub spread: bool,
}

/// The estimate for one link or vault.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// `link` or `vault`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// Expected VMs whose backups move data (supported, no disk over the size limit).
    pub vms: f64,
    /// Of those, the VMs whose first backup runs on the first night (all of them, but for
    /// fleets onboarded over several nights).
    pub first_vms: f64,
    /// The first scheduled night: full backups.
    pub first: Night,
    /// A typical later night: incrementals (and the on-demand share of the day); a growing
    /// fleet's last night.
    pub later: Night,
    /// The shortest backup window of the policies involved.
    pub window: Duration,
    /// The latest start after the scheduled time (`start_within`) of those policies.
    pub start_within: Duration,
    /// Whether a weekly schedule is involved ("run" rather than "night").
    pub weekly: bool,
}

impl Estimate {
    fn verdict(&self, n: &Night) -> &'static str {
        if n.secs <= self.window.secs() {
            "fits"
        } else {
            "will not fit"
        }
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (first, later) = if self.weekly {
            ("first run", "later runs")
        } else {
            ("first night", "later nights")
        };
        let (a, b) = (&self.first, &self.later);
        if self.kind == "link" {
            return write!(
                f,
                "link {}: {first} needs {} = {} at {}, window {}: {}; {later} ~{} = {}: {}",
                self.name,
                fmt_size(a.bytes),
                fmt_secs(a.secs),
                fmt_rate(a.rate),
                self.window,
                self.verdict(a),
                fmt_size(b.bytes),
                fmt_secs(b.secs),
                self.verdict(b)
            );
        }
        let night = |n: &Night| {
            if n.spread {
                format!(
                    "~{} (the last jobs start up to {} after the scheduled time)",
                    fmt_secs(n.secs),
                    self.start_within
                )
            } else {
                format!("{} at {} ({})", fmt_secs(n.secs), fmt_rate(n.rate), n.limit)
            }
        };
        let from = if self.first_vms < self.vms {
            format!(
                "~{:.0} of ~{:.0} VMs (the first wave: onboarding, or growth to come)",
                self.first_vms, self.vms
            )
        } else {
            format!("~{:.0} VMs", self.vms)
        };
        write!(
            f,
            "vault {}: {first} {} from {from} = {}, window {}: {}; {later} ~{} = {}: {}",
            self.name,
            fmt_size(a.bytes),
            night(a),
            self.window,
            self.verdict(a),
            fmt_size(b.bytes),
            night(b),
            self.verdict(b)
        )
    }
}

/// One scheduled fleet's expected contribution.
struct FleetLoad<'a> {
    fleet: &'a Fleet,
    vault: String,
    vms: f64,
    /// Share of the VMs whose first backup runs on the first night (first-wave
    /// onboarding), 1 without it.
    first_share: f64,
    /// Bytes per VM: first backup, later run.
    first: f64,
    later: f64,
    /// Per-job read caps (bytes/s): full, incremental.
    cap_first: f64,
    cap_later: f64,
    window: Duration,
    start_within: Duration,
    weekly: bool,
}

/// Mean days between two runs of a schedule.
fn mean_gap_days(sch: &Schedule) -> f64 {
    match &sch.weekly {
        Some(days) if sch.daily.is_none() => {
            let mut d: Vec<u64> = days.iter().map(|d| d.index()).collect();
            d.sort_unstable();
            d.dedup();
            7.0 / d.len().max(1) as f64
        }
        _ => 1.0,
    }
}

fn fleet_load<'a>(s: &'a Scenario, f: &'a Fleet) -> Option<FleetLoad<'a>> {
    let policy = s.policy.iter().find(|p| p.name == f.policy)?;
    let sch = policy.schedule.as_ref()?;
    let vault = vault_of(s, f)?;
    let e = expected(s, f)?;
    let gap = mean_gap_days(sch);
    let on_demand = f.on_demand.per_vm_per_day * gap;
    let (first, later) = match &f.backup_size {
        Some(b) => {
            let m = mean(&b.0)?;
            (m, m * (1.0 + on_demand))
        }
        None => {
            let churn = mean(&f.daily_churn.0)?;
            // The night moves the churn of the days since the newest point; each on-demand
            // backup of the day moves (at least) a day's churn too.
            let moved = |used: f64, churn: f64| {
                let churn = churn.clamp(0.0, 1.0);
                used * ((churn * gap).min(1.0) + on_demand * churn)
            };
            match f.inventory_table.as_deref() {
                None => (e.used_bytes, moved(e.used_bytes, churn)),
                Some(t) => inventory_nights(f, t, e.used_bytes, churn, moved)?,
            }
        }
    };
    let data_disks = match f.inventory_table.as_deref() {
        Some(t) => mean_over(f.count, |i| {
            Inventory::cell(&t.disks, i).map_or(e.data_disks, |d| d.len() as f64 - 1.0)
        }),
        None => e.data_disks,
    };
    let cap = |per_disk: f64| {
        let c = per_disk * (data_disks + 1.0);
        f.max_throughput.map_or(c, |m| c.min(m.0))
    };
    // A growing fleet's last nights are its busiest: all its VMs (the count at the end),
    // their data grown for the whole run (as the initial VMs' has; not capped by the
    // disks' size here, so an upper bound); the first night is its initial VMs' first
    // wave.
    let (initial, at_end) = (f64::from(f.count), f64::from(f.count_at_end(&s.simulation)));
    let later = match (&f.growth, &f.backup_size) {
        (Some(g), None) => later * grown_share(g, &s.simulation, e.used_bytes),
        _ => later,
    };
    Some(FleetLoad {
        fleet: f,
        vault: vault.name.clone(),
        vms: at_end * e.backed_up,
        first_share: first_wave_share(f) * initial / at_end.max(1.0),
        first,
        later,
        cap_first: cap(s.timing.full_throughput_per_disk.0),
        cap_later: cap(s.timing.incremental_throughput_per_disk.0),
        window: policy.window,
        start_within: policy.start_within,
        weekly: sch.weekly.is_some() && sch.daily.is_none(),
    })
}

/// How much a VM's used data (`used` bytes at the start) has grown by the end of the run
/// `sim` under `g`, as a factor (1 without used-data growth).
fn grown_share(g: &Growth, sim: &Simulation, used: f64) -> f64 {
    if used <= 0.0 {
        return 1.0;
    }
    let m = g.to_model(0, sim.start.map(|d| d.days()));
    let grown = m.used_at(
        used.round() as u64,
        crate::engine::SimTime::ZERO,
        crate::engine::SimTime(sim.duration.0.as_micros()),
        u64::MAX,
    );
    grown as f64 / used
}

/// The share of a fleet's VMs whose first scheduled backup runs on the policy's first
/// occurrence: with onboarding over `d` days VM `i` of `n` starts on day `⌊i × d / n⌋`
/// (as the scheduler does), so day 0 has the `⌈n / d⌉` VMs with `i × d < n`.
pub fn first_wave_share(f: &Fleet) -> f64 {
    let days = f.onboard.as_ref().map_or(1, |o| o.days().max(1));
    let n = u64::from(f.count);
    if n == 0 {
        return 1.0;
    }
    n.div_ceil(u64::from(days)) as f64 / n as f64
}

/// An inventoried fleet's bytes per VM: the mean full backup of the first night's VMs
/// (the first wave: rows `i` with `⌊i × days / count⌋ = 0`) and the mean later night over
/// all rows (`moved(used, churn)`). A row's used bytes are its `used` cell, else its
/// `disks` total × the mean `used` share, else `drawn_used`; its churn its `daily_churn`
/// cell, else `churn`.
fn inventory_nights(
    f: &Fleet,
    t: &Inventory,
    drawn_used: f64,
    churn: f64,
    moved: impl Fn(f64, f64) -> f64,
) -> Option<(f64, f64)> {
    let share = mean(&f.used.0)?;
    let used = |i: u32| match (Inventory::cell(&t.used, i), Inventory::cell(&t.disks, i)) {
        (Some(&u), _) => u as f64,
        (None, Some(d)) => d.iter().map(|&b| b as f64).sum::<f64>() * share,
        (None, None) => drawn_used,
    };
    let wave = (first_wave_share(f) * f64::from(f.count)).round() as u32;
    let first = mean_over(wave, used);
    let later = mean_over(f.count, |i| {
        moved(
            used(i),
            Inventory::cell(&t.daily_churn, i).copied().unwrap_or(churn),
        )
    });
    Some((first, later))
}

/// The mean of `value(i)` over `i` in `0..n` (0 when `n` is 0).
fn mean_over(n: u32, value: impl Fn(u32) -> f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    (0..n).map(value).sum::<f64>() / f64::from(n)
}

fn totals(loads: &[&FleetLoad]) -> (f64, f64, f64, Duration, Duration, bool) {
    let vms = loads.iter().map(|l| l.vms).sum();
    let first = loads.iter().map(|l| l.vms * l.first_share * l.first).sum();
    let later = loads.iter().map(|l| l.vms * l.later).sum();
    let window = loads.iter().map(|l| l.window).min().unwrap_or_default();
    let within = loads
        .iter()
        .map(|l| l.start_within)
        .max()
        .unwrap_or_default();
    let weekly = loads.iter().any(|l| l.weekly);
    (vms, first, later, window, within, weekly)
}

/// A vault's night: the tightest of its concurrency limit, its VMs' own read caps and the
/// links its fleets cross; and at least the time the last job to start needs alone.
/// `per_vm` gives a fleet's bytes per VM, read cap per VM and the share of its VMs that
/// back up that night.
fn vault_night(
    s: &Scenario,
    vault: &str,
    loads: &[&FleetLoad],
    bytes: f64,
    per_vm: impl Fn(&FleetLoad) -> (f64, f64, f64),
) -> Night {
    let vms_of = |l: &FleetLoad| l.vms * per_vm(l).2;
    let vms: f64 = loads.iter().map(|l| vms_of(l)).sum();
    let mean_cap = if vms > 0.0 {
        loads.iter().map(|l| vms_of(l) * per_vm(l).1).sum::<f64>() / vms
    } else {
        0.0
    };
    let mut limits: Vec<(f64, String)> = Vec::new();
    let own: f64 = loads
        .iter()
        .map(|l| {
            let on = vms_of(l);
            let at_once = l.fleet.max_concurrent_jobs.map_or(on, |n| on.min(n as f64));
            at_once * per_vm(l).1
        })
        .sum();
    limits.push((
        own,
        format!("every VM at its own read cap of ~{}", fmt_rate(mean_cap)),
    ));
    if let Some((n, copies)) = s
        .vault
        .iter()
        .find(|v| v.name == vault)
        .and_then(|v| v.max_concurrent_jobs.map(|n| (n, v.count.max(1))))
    {
        // Each copy of the vault has its own gate.
        let n = u64::from(n) * u64::from(copies);
        limits.push((
            n as f64 * mean_cap,
            format!("at most {n} jobs at once × ~{} each", fmt_rate(mean_cap)),
        ));
    }
    if loads.iter().all(|l| !l.fleet.path.is_empty()) {
        let bw = |name: &str| {
            s.link
                .iter()
                .find(|k| k.name == name)
                .map_or(f64::INFINITY, |k| k.bandwidth.0)
        };
        let shared: Vec<&String> = loads[0]
            .fleet
            .path
            .iter()
            .filter(|k| loads.iter().all(|l| l.fleet.path.contains(k)))
            .collect();
        if let Some(k) = shared.iter().min_by(|a, b| bw(a).total_cmp(&bw(b))) {
            limits.push((bw(k), format!("link {k}")));
        } else {
            let mut names: Vec<&String> = loads
                .iter()
                .filter_map(|l| l.fleet.path.iter().min_by(|a, b| bw(a).total_cmp(&bw(b))))
                .collect();
            names.sort();
            names.dedup();
            let sum = names.iter().map(|k| bw(k)).sum();
            let list: Vec<&str> = names.iter().map(|k| k.as_str()).collect();
            limits.push((sum, format!("links {}", list.join(" + "))));
        }
    }
    let (rate, limit) = limits
        .into_iter()
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .expect("at least the VMs' own caps");
    let by_rate = if rate > 0.0 { bytes / rate } else { 0.0 };
    let last_job = loads
        .iter()
        .filter(|l| vms_of(l) > 0.0)
        .map(|l| {
            let (b, cap, _) = per_vm(l);
            l.start_within.secs() + if cap > 0.0 { b / cap } else { 0.0 }
        })
        .fold(0.0, f64::max);
    Night {
        bytes,
        rate,
        limit,
        secs: by_rate.max(last_job),
        spread: last_job > by_rate,
    }
}

/// The estimate for every link a scheduled fleet crosses and every vault a scheduled
/// fleet's policy uses, in scenario order.
pub fn estimate(s: &Scenario) -> Vec<Estimate> {
    let loads: Vec<FleetLoad> = s
        .fleet
        .iter()
        .filter_map(|f| fleet_load(s, f))
        .filter(|l| l.vms > 0.0)
        .collect();
    let mut out = Vec::new();
    for link in &s.link {
        let on: Vec<&FleetLoad> = loads
            .iter()
            .filter(|l| l.fleet.path.contains(&link.name))
            .collect();
        if on.is_empty() {
            continue;
        }
        let (vms, first, later, window, start_within, weekly) = totals(&on);
        let first_vms = on.iter().map(|l| l.vms * l.first_share).sum();
        let night = |bytes: f64| Night {
            bytes,
            rate: link.bandwidth.0,
            limit: format!("link {}", link.name),
            secs: bytes / link.bandwidth.0,
            spread: false,
        };
        out.push(Estimate {
            kind: "link",
            name: link.name.clone(),
            vms,
            first_vms,
            first: night(first),
            later: night(later),
            window,
            start_within,
            weekly,
        });
    }
    for v in &s.vault {
        let on: Vec<&FleetLoad> = loads.iter().filter(|l| l.vault == v.name).collect();
        if on.is_empty() {
            continue;
        }
        let (vms, first, later, window, start_within, weekly) = totals(&on);
        out.push(Estimate {
            kind: "vault",
            name: v.name.clone(),
            vms,
            first_vms: on.iter().map(|l| l.vms * l.first_share).sum(),
            first: vault_night(s, &v.name, &on, first, |l| {
                (l.first, l.cap_first, l.first_share)
            }),
            later: vault_night(s, &v.name, &on, later, |l| (l.later, l.cap_later, 1.0)),
            window,
            start_within,
            weekly,
        });
    }
    out
}

/// The estimate as printed by `validate`: a heading and one line per link and vault;
/// empty when no fleet has a scheduled policy.
pub fn report(s: &Scenario) -> String {
    let est = estimate(s);
    if est.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "capacity estimate from the scenario's means (not a simulation: failures, retries, outages and queueing are left out):",
    );
    for e in est {
        out.push_str(&format!("\n  {e}"));
    }
    let skipped: Vec<&str> = s
        .fleet
        .iter()
        .filter(|f| {
            s.policy
                .iter()
                .any(|p| p.name == f.policy && p.schedule.is_some())
                && expected(s, f).is_none()
        })
        .map(|f| f.name.as_str())
        .collect();
    if !skipped.is_empty() {
        out.push_str(&format!(
            "\n  left out: fleet(s) {} (a size, share or churn distribution without a finite mean)",
            skipped.join(", ")
        ));
    }
    out
}

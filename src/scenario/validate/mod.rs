//! Semantic checks: cross-references, ranges, and the service's published limits.
//!
//! Errors name the dotted key of the offending value, which the loader turns into a file,
//! line and column. Limits the service had in 2015 (VMs per vault, vaults per
//! subscription) are not errors, since planners study what-ifs beyond them: they come back
//! as notes.

use crate::model::vm::{classify_os, WINDOWS_VERSIONS};
use std::collections::BTreeSet;

use super::schema::Scenario;
use crate::engine::dist::{Dist, Kind};

mod limits;
use limits::check_subscriptions;
pub use limits::{limit_excesses, Excess};

/// A validation error: the dotted key and what was expected and found.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Dotted key (as in `--set`).
    pub key: String,
    /// Expected / found.
    pub message: String,
}

fn problem(key: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        key: key.into(),
        message: message.into(),
    }
}

fn names<'a>(
    kind: &str,
    items: impl Iterator<Item = &'a String>,
) -> Result<BTreeSet<&'a str>, Problem> {
    let mut seen = BTreeSet::new();
    for n in items {
        if n.is_empty() {
            return Err(problem(
                kind,
                format!("expected every [[{kind}]] to have a non-empty name"),
            ));
        }
        if n.contains('.') {
            return Err(problem(
                format!("{kind}.{n}.name"),
                format!(
                    "expected a name without dots (dots separate keys in --set), found \"{n}\""
                ),
            ));
        }
        if let Some(bad) = n
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Err(problem(
                format!("{kind}.{n}.name"),
                format!(
                    "expected a name of ASCII letters, digits, '_' and '-' (it is a part of metric names such as {kind}.NAME.backup.success_rate), found \"{n}\" with {bad:?}; rename it"
                ),
            ));
        }
        if !seen.insert(n.as_str()) {
            let why = if kind == "vault" {
                " (vault names are unique within the subscription)"
            } else {
                ""
            };
            return Err(problem(
                format!("{kind}.{n}.name"),
                format!("expected a unique name{why}, found a second [[{kind}]] named \"{n}\""),
            ));
        }
    }
    Ok(seen)
}

fn reference(key: String, what: &str, known: &BTreeSet<&str>, found: &str) -> Result<(), Problem> {
    if known.contains(found) {
        Ok(())
    } else {
        let list = if known.is_empty() {
            format!("the scenario defines no [[{what}]]")
        } else {
            format!(
                "one of: {}",
                known.iter().copied().collect::<Vec<_>>().join(", ")
            )
        };
        Err(problem(
            key,
            format!("expected the name of a [[{what}]] ({list}), found \"{found}\""),
        ))
    }
}

/// Most VMs a scenario may hold over all its fleets: VMs are indexed by `u32`, and
/// `u32::MAX` marks "none".
pub const MAX_VMS: u64 = u32::MAX as u64 - 1;

/// Checks a scenario; returns notes on limits of the service it exceeds.
pub fn validate(s: &Scenario) -> Result<Vec<String>, Problem> {
    let notes = Vec::new();
    check_simulation(s)?;
    let n = Names {
        regions: names("region", s.region.iter().map(|r| &r.name))?,
        links: names("link", s.link.iter().map(|l| &l.name))?,
        vaults: names("vault", s.vault.iter().map(|v| &v.name))?,
        policies: names("policy", s.policy.iter().map(|p| &p.name))?,
        fleets: names("fleet", s.fleet.iter().map(|f| &f.name))?,
    };
    names("restore", s.restore.iter().map(|r| &r.name))?;
    let subs = names("subscription", s.subscription.iter().map(|r| &r.name))?;
    check_places(s, &n)?;
    check_subscriptions(s, &subs)?;
    check_policies(s, &n)?;
    check_fleets(s, &n)?;
    check_restores(s, &n)?;
    check_timing_and_support(s)?;
    check_cost(s)?;
    check_expectations(s)?;
    Ok(notes)
}

/// The names of each kind of entity, for references.
struct Names<'a> {
    regions: BTreeSet<&'a str>,
    links: BTreeSet<&'a str>,
    vaults: BTreeSet<&'a str>,
    policies: BTreeSet<&'a str>,
    fleets: BTreeSet<&'a str>,
}

/// `[simulation]`: a usable name, positive and bounded durations, sample intervals that
/// fit the run, a warm-up shorter than it.
fn check_simulation(s: &Scenario) -> Result<(), Problem> {
    let sim = &s.simulation;
    if sim.name.is_empty() || sim.name.contains(['/', '\\']) || sim.name.starts_with('.') {
        return Err(problem(
            "simulation.name",
            format!(
                "expected a name usable as a directory name, found \"{}\"",
                sim.name
            ),
        ));
    }
    for (k, d) in [
        ("duration", sim.duration),
        ("sample_every", sim.sample_every),
        ("rpo_sample_every", sim.rpo_sample_every),
    ] {
        if d.0.as_micros() == 0 {
            return Err(problem(
                format!("simulation.{k}"),
                "expected a positive duration, found 0s",
            ));
        }
    }
    // Floors that keep a run finite in time and output size, whatever the file says.
    for (k, d, floor, what) in [
        ("sample_every", sim.sample_every, 1, "1s"),
        ("rpo_sample_every", sim.rpo_sample_every, 60, "1m"),
    ] {
        if d.0.as_micros() < floor * 1_000_000 {
            return Err(problem(
                format!("simulation.{k}"),
                format!("expected at least {what}, found {d}"),
            ));
        }
    }
    // A sample interval longer than the run gives no sample at all: an empty time series
    // and, for RPO, metrics of 0 that read as a perfect recovery point objective.
    for (k, d) in [
        ("sample_every", sim.sample_every),
        ("rpo_sample_every", sim.rpo_sample_every),
    ] {
        if d.0 > sim.duration.0 {
            return Err(problem(
                format!("simulation.{k}"),
                format!(
                    "expected at most the run's duration ({}), found {d}: the run would take no sample; shorten it or lengthen simulation.duration",
                    sim.duration
                ),
            ));
        }
    }
    if sim.warmup.0 >= sim.duration.0 {
        return Err(problem(
            "simulation.warmup",
            format!(
                "expected less than the run's duration ({}), found {}: no job would be counted; shorten it or lengthen simulation.duration",
                sim.duration, sim.warmup
            ),
        ));
    }
    if sim.duration.0.as_micros() / sim.sample_every.0.as_micros() > 10_000_000 {
        return Err(problem(
            "simulation.sample_every",
            format!(
                "expected at most 10 000 000 samples over the run, found {} every {}",
                sim.duration, sim.sample_every
            ),
        ));
    }
    if sim.duration.0.as_micros() > 3660 * 86_400_000_000 {
        return Err(problem(
            "simulation.duration",
            format!("expected at most 10 years, found {}", sim.duration),
        ));
    }
    Ok(())
}

/// Regions, links (their outage model) and vaults (their region, their job limit).
fn check_places(s: &Scenario, n: &Names<'_>) -> Result<(), Problem> {
    for r in &s.region {
        if let Some(p) = &r.paired {
            if p == &r.name {
                return Err(problem(
                    format!("region.{}.paired", r.name),
                    "expected a different region than itself",
                ));
            }
        }
    }
    for l in &s.link {
        if let Some(o) = &l.outages {
            let k = format!("link.{}.outages", l.name);
            match (o.mtbf, o.mttr) {
                (Some(b), Some(r)) => {
                    if b.0.as_micros() < 60_000_000 || r.0.as_micros() < 1_000_000 {
                        return Err(problem(k, format!("expected mtbf of at least 1m and mttr of at least 1s, found mtbf {b}, mttr {r}")));
                    }
                }
                (None, None) => {}
                _ => return Err(problem(k, "expected both mtbf and mttr, or neither")),
            }
        }
    }
    for v in &s.vault {
        let k = format!("vault.{}", v.name);
        reference(format!("{k}.region"), "region", &n.regions, &v.region)?;
        let region = s
            .region
            .iter()
            .find(|r| r.name == v.region)
            .expect("checked");
        if !region.supported {
            return Err(problem(format!("{k}.region"), format!("expected a region where the backup service is offered, found \"{}\" (supported = false)", v.region)));
        }
        for (key, x) in [
            ("max_concurrent_jobs", v.max_concurrent_jobs),
            ("max_vms", v.max_vms),
            ("count", Some(v.count)),
        ] {
            if x == Some(0) {
                return Err(problem(
                    format!("{k}.{key}"),
                    "expected at least 1, found 0",
                ));
            }
        }
    }
    Ok(())
}

/// Policies: their vault, schedule form, window, retries and retention.
fn check_policies(s: &Scenario, n: &Names<'_>) -> Result<(), Problem> {
    for p in &s.policy {
        let k = format!("policy.{}", p.name);
        reference(format!("{k}.vault"), "vault", &n.vaults, &p.vault)?;
        if let Some(sch) = &p.schedule {
            match (&sch.daily, &sch.weekly, &sch.at) {
                (Some(_), None, None) => {}
                (None, Some(days), Some(_)) if !days.is_empty() => {}
                (None, Some(_), Some(_)) => {
                    return Err(problem(
                        format!("{k}.schedule.weekly"),
                        "expected at least one day, found an empty list",
                    ))
                }
                (None, Some(_), None) => {
                    return Err(problem(
                        format!("{k}.schedule"),
                        "expected `at = \"HH:MM\"` with `weekly`",
                    ))
                }
                _ => return Err(problem(
                    format!("{k}.schedule"),
                    "expected { daily = \"HH:MM\" } or { weekly = [\"sun\", ...], at = \"HH:MM\" }",
                )),
            }
        }
        if p.window.0.as_micros() == 0 {
            return Err(problem(
                format!("{k}.window"),
                "expected a positive duration, found 0s",
            ));
        }
        if p.retries.max > 100 {
            return Err(problem(
                format!("{k}.retries.max"),
                format!("expected at most 100, found {}", p.retries.max),
            ));
        }
        let r = &p.retention;
        if [r.daily, r.weekly, r.monthly, r.yearly]
            .iter()
            .all(|&n| n == 0)
        {
            return Err(problem(
                format!("{k}.retention"),
                "expected at least one tier to keep points (e.g. daily = 30), found none",
            ));
        }
        if let Some(d) = r.on_demand {
            let (us, day) = (d.0.as_micros(), crate::engine::time::MICROS_PER_DAY);
            if us < day || us % day != 0 || us / day > 3650 {
                return Err(problem(
                    format!("{k}.retention.on_demand"),
                    format!(
                        "expected a whole number of days from 1d to 3650d, found {}",
                        crate::units::fmt_duration(d.0.as_secs_f64())
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Fleets (references, categories, counts, VMs per vault), the total of VMs and every
/// distribution's parameters.
fn check_fleets(s: &Scenario, n: &Names<'_>) -> Result<(), Problem> {
    let cats = super::schema::known_categories();
    for f in &s.fleet {
        let k = format!("fleet.{}", f.name);
        reference(format!("{k}.region"), "region", &n.regions, &f.region)?;
        reference(format!("{k}.policy"), "policy", &n.policies, &f.policy)?;
        for (i, l) in f.path.iter().enumerate() {
            reference(format!("{k}.path.{i}"), "link", &n.links, l)?;
            if f.path[..i].contains(l) {
                return Err(problem(
                    format!("{k}.path.{i}"),
                    format!("expected each link once, found \"{l}\" twice"),
                ));
            }
        }
        f.os.check(|n| classify_os(n).is_ok())
            .map_err(|bad| problem(format!("{k}.os"), classify_os(&bad).unwrap_err()))?;
        for (field, choice) in [
            ("deployment", &f.deployment),
            ("storage", &f.storage),
            ("domain_controller", &f.domain_controller),
        ] {
            let allowed = cats[field];
            choice.check(|n| allowed.contains(&n)).map_err(|bad| {
                problem(
                    format!("{k}.{field}"),
                    format!("expected one of {}, found \"{bad}\"", allowed.join(", ")),
                )
            })?;
        }
        let od = f.on_demand.per_vm_per_day;
        if !(od >= 0.0 && od.is_finite() && od <= 1e6) {
            return Err(problem(
                format!("{k}.on_demand.per_vm_per_day"),
                format!("expected a rate between 0 and 1e6 per day, found {od}"),
            ));
        }
        if let Some((key, msg)) = f
            .growth
            .as_ref()
            .and_then(|g| g.problem(f.inventory.is_some()))
        {
            return Err(problem(format!("{k}.growth.{key}"), msg));
        }
        if let Some(o) = &f.onboard {
            let us = o.over.0.as_micros();
            let day = crate::engine::time::MICROS_PER_DAY;
            if us < day || us % day != 0 || us / day > 3650 {
                return Err(problem(
                    format!("{k}.onboard.over"),
                    format!(
                        "expected a whole number of days from 1d to 3650d, found {}",
                        crate::units::fmt_duration(o.over.0.as_secs_f64())
                    ),
                ));
            }
        }
        for (key, x) in [
            ("max_concurrent_jobs", f.max_concurrent_jobs),
            (
                "max_concurrent_per_cloud_service",
                f.max_concurrent_per_cloud_service,
            ),
            (
                "max_disks_per_storage_account",
                f.max_disks_per_storage_account,
            ),
            ("vms_per_cloud_service", Some(f.vms_per_cloud_service)),
            ("vms_per_storage_account", Some(f.vms_per_storage_account)),
        ] {
            if x == Some(0) {
                return Err(problem(
                    format!("{k}.{key}"),
                    "expected at least 1, found 0",
                ));
            }
        }
        if let Some(b) = f.storage_account_bandwidth {
            if !(b.0 > 0.0 && b.0.is_finite()) {
                return Err(problem(
                    format!("{k}.storage_account_bandwidth"),
                    format!("expected a positive bandwidth, found {b}"),
                ));
            }
        }
        // A growing fleet's VMs at the end of the run all exist from its start.
        let n = f.count_at_end(&s.simulation);
        if n > 50_000_000 {
            let grown = if n > f.count {
                " at the end of the run (with its growth)"
            } else {
                ""
            };
            return Err(problem(
                format!("{k}.count"),
                format!("expected at most 50 000 000 VMs, found {n}{grown}"),
            ));
        }
    }
    let vms: u64 = s
        .fleet
        .iter()
        .map(|f| u64::from(f.count_at_end(&s.simulation)))
        .sum();
    if vms > MAX_VMS {
        return Err(problem(
            "fleet",
            format!("expected at most {MAX_VMS} VMs over all fleets, found {vms}"),
        ));
    }
    for (key, d, kind) in dists(s) {
        d.check(kind).map_err(|m| problem(key, m))?;
    }
    Ok(())
}

/// Largest price accepted (per month, per GB-month or per GB): sums over millions of
/// instances stay exact in the model's integer ledger.
pub const MAX_PRICE: f64 = 1e6;

/// `[cost]`: a currency, increasing tiers, prices that are numbers from 0 to
/// [`MAX_PRICE`]; and reduction factors of at least 1 (`fleet.<name>.compression`).
fn check_cost(s: &Scenario) -> Result<(), Problem> {
    for f in &s.fleet {
        for (field, d) in [("compression", &f.compression), ("dedup", &f.dedup)] {
            if let Some(v) = constant_of(&d.0) {
                if !(v >= 1.0 && v.is_finite()) {
                    return Err(problem(
                        format!("fleet.{}.{field}", f.name),
                        format!("expected a reduction factor of at least 1 (1 = none, 2 halves the bytes stored), found {v}"),
                    ));
                }
            }
        }
    }
    let Some(c) = &s.cost else { return Ok(()) };
    if c.currency.trim().is_empty() {
        return Err(problem(
            "cost.currency",
            "expected a currency name such as \"USD\", found an empty string",
        ));
    }
    let price = |key: String, p: f64| {
        if (0.0..=MAX_PRICE).contains(&p) {
            Ok(())
        } else {
            Err(problem(
                key,
                format!("expected a price from 0 to {MAX_PRICE}, found {p}"),
            ))
        }
    };
    if c.instance_tiers.is_empty() {
        return Err(problem(
            "cost.instance_tiers",
            "expected at least one tier, e.g. [{ up_to = \"50 GB\", price = 5 }], found none",
        ));
    }
    let mut prev: Option<u64> = None;
    for (i, t) in c.instance_tiers.iter().enumerate() {
        price(format!("cost.instance_tiers.{i}.price"), t.price)?;
        if prev.is_some_and(|p| t.up_to.0 <= p) {
            return Err(problem(
                format!("cost.instance_tiers.{i}.up_to"),
                format!(
                    "expected tiers in increasing size, found {} after {}",
                    t.up_to,
                    crate::units::Size(prev.unwrap_or(0))
                ),
            ));
        }
        prev = Some(t.up_to.0);
    }
    if let Some(p) = &c.instance_per_started {
        price("cost.instance_per_started.price".into(), p.price)?;
        if p.size.0 == 0 {
            return Err(problem(
                "cost.instance_per_started.size",
                "expected a positive size, e.g. \"500 GB\", found 0",
            ));
        }
    }
    price("cost.storage_grs".into(), c.storage_grs)?;
    price("cost.storage_lrs".into(), c.storage_lrs)?;
    price("cost.restore_egress".into(), c.restore_egress)
}

/// The value of a constant distribution.
fn constant_of(d: &Dist) -> Option<f64> {
    match d {
        Dist::Constant(v) => Some(*v),
        _ => None,
    }
}

/// Restore drills and streams.
fn check_restores(s: &Scenario, n: &Names<'_>) -> Result<(), Problem> {
    for r in &s.restore {
        let k = format!("restore.{}", r.name);
        reference(format!("{k}.fleet"), "fleet", &n.fleets, &r.fleet)?;
        if let Some(t) = &r.target_region {
            reference(format!("{k}.target_region"), "region", &n.regions, t)?;
        }
        match (&r.at, &r.rate) {
            (Some(_), None) => {}
            (None, Some(rate))
                if rate.per_day > 0.0 && rate.per_day.is_finite() && rate.per_day <= 1e6 => {}
            (None, Some(rate)) => {
                return Err(problem(
                    format!("{k}.rate.per_day"),
                    format!("expected a positive rate per day, found {}", rate.per_day),
                ))
            }
            _ => {
                return Err(problem(
                    k,
                    "expected exactly one of `at` (a drill) or `rate` (a Poisson stream)",
                ))
            }
        }
        if r.count == 0 {
            return Err(problem(
                format!("{k}.count"),
                "expected at least 1, found 0",
            ));
        }
    }
    Ok(())
}

/// `[timing]` and `[support]`.
fn check_timing_and_support(s: &Scenario) -> Result<(), Problem> {
    if s.timing.http_retries > 100 {
        return Err(problem(
            "timing.http_retries",
            format!("expected at most 100, found {}", s.timing.http_retries),
        ));
    }
    if classify_os(&format!("windows-{}", s.support.min_windows)).is_err() {
        return Err(problem(
            "support.min_windows",
            format!(
                "expected one of {}, found \"{}\"",
                WINDOWS_VERSIONS.join(", "),
                s.support.min_windows
            ),
        ));
    }
    Ok(())
}

/// `[[expect]]`: a bound on each, numbers, `min` not above `max`.
fn check_expectations(s: &Scenario) -> Result<(), Problem> {
    for (i, e) in s.expect.iter().enumerate() {
        if e.min.is_none() && e.max.is_none() {
            return Err(problem(
                format!("expect.{i}"),
                format!("expected `min` or `max` for metric \"{}\"", e.metric),
            ));
        }
        for (k, b) in [("min", e.min), ("max", e.max)] {
            if let Some(b) = b {
                if b.0.is_nan() {
                    return Err(problem(
                        format!("expect.{i}.{k}"),
                        format!(
                            "expected a number for the bound of metric \"{}\", found nan (a bound that no value meets)",
                            e.metric
                        ),
                    ));
                }
            }
        }
        if let (Some(lo), Some(hi)) = (e.min, e.max) {
            if lo.0 > hi.0 {
                return Err(problem(
                    format!("expect.{i}.min"),
                    format!(
                        "expected min <= max for metric \"{}\", found min {} > max {}: no value can meet both; swap them",
                        e.metric,
                        crate::scenario::dist_format::fmt_f64(lo.0),
                        crate::scenario::dist_format::fmt_f64(hi.0)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Lists every distribution of a scenario with its dotted key and unit kind; `$($m)?` is
/// `mut` for mutable references.
macro_rules! dist_list {
    ($s:expr, $($m:tt)?) => {{
        let s = $s;
        let mut out = Vec::new();
        for v in & $($m)? s.vault {
            out.push((
                format!("vault.{}.create_time", v.name),
                & $($m)? v.create_time.0,
                Kind::Duration,
            ));
        }
        for f in & $($m)? s.fleet {
            let n = f.name.clone();
            out.push((
                format!("fleet.{n}.data_disks"),
                & $($m)? f.data_disks.0,
                Kind::Count,
            ));
            out.push((
                format!("fleet.{n}.disk_size"),
                & $($m)? f.disk_size.0,
                Kind::Size,
            ));
            out.push((format!("fleet.{n}.os_disk"), & $($m)? f.os_disk.0, Kind::Size));
            out.push((format!("fleet.{n}.used"), & $($m)? f.used.0, Kind::Ratio));
            out.push((
                format!("fleet.{n}.daily_churn"),
                & $($m)? f.daily_churn.0,
                Kind::Ratio,
            ));
            if let Some(b) = & $($m)? f.backup_size {
                out.push((format!("fleet.{n}.backup_size"), & $($m)? b.0, Kind::Size));
            }
            out.push((format!("fleet.{n}.nics"), & $($m)? f.nics.0, Kind::Count));
            out.push((
                format!("fleet.{n}.reserved_ips"),
                & $($m)? f.reserved_ips.0,
                Kind::Count,
            ));
            out.push((
                format!("fleet.{n}.endpoints"),
                & $($m)? f.endpoints.0,
                Kind::Count,
            ));
            out.push((format!("fleet.{n}.compression"), & $($m)? f.compression.0, Kind::Count));
            out.push((format!("fleet.{n}.dedup"), & $($m)? f.dedup.0, Kind::Count));
        }
        let t = & $($m)? s.timing;
        for (k, d) in [
            ("agent_status_wait", & $($m)? t.agent_status_wait),
            ("extension_install", & $($m)? t.extension_install),
            ("extension_upgrade_time", & $($m)? t.extension_upgrade_time),
            ("snapshot_per_disk", & $($m)? t.snapshot_per_disk),
            ("vm_create", & $($m)? t.vm_create),
            ("dc_powershell_extra", & $($m)? t.dc_powershell_extra),
            ("geo_replication", & $($m)? t.geo_replication),
        ] {
            out.push((format!("timing.{k}"), & $($m)? d.0, Kind::Duration));
        }
        out
    }};
}

/// Every distribution in the scenario with its dotted key and unit kind.
pub fn dists_mut(s: &mut Scenario) -> Vec<(String, &mut Dist, Kind)> {
    dist_list!(s, mut)
}

/// Every distribution in the scenario with its dotted key and unit kind.
pub fn dists(s: &Scenario) -> Vec<(String, &Dist, Kind)> {
    dist_list!(s,)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_classes() {
        assert_eq!(
            classify_os("windows-2012r2"),
            Ok(crate::model::vm::OsClass::Windows(5))
        );
        assert_eq!(
            classify_os("ubuntu-14.04"),
            Ok(crate::model::vm::OsClass::Linux)
        );
        assert!(classify_os("windows-95").is_err());
    }
}

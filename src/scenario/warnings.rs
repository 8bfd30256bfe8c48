//! Warnings: scenarios that load and run but whose results would be silently
//! meaningless (a fleet that is never backed up, a drill that never happens, a link that
//! carries nothing), and the one such mistake that is an error: an `[[expect]]` bound on a
//! metric no run of the scenario can produce.
//!
//! Each finding names the dotted key to change; the loader turns it into a file, line and
//! column. Every decision is made from the scenario's values (constants, and the bounds of
//! a distribution's support), never from a draw, so a warning does not depend on the seed.

use std::fmt;
use std::ops::Range;

use super::load::Loaded;
use super::locate::{line_col, KeyIndex};
use super::population::{always_oversize, always_unsupported, bounds, rule_key, vault_of};
use super::schema::{Fleet, Limits, Scenario, Schedule};
use super::validate::{limit_excesses, Problem};
use crate::engine::time::MICROS_PER_DAY;
use crate::error::{Error, Result};
use crate::model::config::Inventory;
use crate::model::metric_names::catalogue;
use crate::model::vm::Unsupported;
use crate::model::Config;
use crate::units::fmt_size;

/// A located warning: `FILE:LINE:COL: key `k`: message`.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// The scenario file (or `--set KEY` when an override set the value).
    pub file: String,
    /// 1-based line, where the key (or its nearest written parent) is in the file.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// The dotted key to change.
    pub key: String,
    /// What looks wrong and what it will do to the results.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::error::write_location(f, &self.file, self.line, self.column)?;
        write!(f, ": key `{}`: {}", self.key, self.message)
    }
}

/// A warning before it is located: the dotted key and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Dotted key (as in `--set`).
    pub key: String,
    /// What looks wrong and its consequence.
    pub message: String,
}

impl Finding {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            key: key.into(),
            message: message.into(),
        }
    }

    /// Locates the finding in `text` (the scenario after `--set` edits): at its key, or at
    /// the nearest parent written in the file when the value is a default; at `--set KEY`
    /// when an override set it.
    pub fn locate(self, file: &str, text: &str, index: &KeyIndex, sets: &[String]) -> Warning {
        let set = sets
            .iter()
            .find(|s| self.key == **s || self.key.starts_with(&format!("{s}.")));
        let (file, span) = match set {
            Some(s) => (format!("--set {s}"), None),
            None => (file.to_string(), written_span(index, &self.key)),
        };
        let (line, column) = match span {
            Some(sp) => {
                let (l, c, _) = line_col(text, sp.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        Warning {
            file,
            line,
            column,
            key: self.key,
            message: self.message,
        }
    }
}

/// The span of `key`, or of its nearest parent present in the file; an element of an
/// array of tables (`link.wan`) is located at its `name`.
fn written_span(index: &KeyIndex, key: &str) -> Option<Range<usize>> {
    let mut k = key;
    loop {
        let name = (k.matches('.').count() == 1)
            .then(|| index.span_of(&format!("{k}.name")))
            .flatten();
        if let Some(sp) = name.or_else(|| index.span_of(k)) {
            return Some(sp);
        }
        k = &k[..k.rfind('.')?];
    }
}

/// Prints each warning of `l` on stderr (`warning: FILE:LINE:COL: key ...`); with
/// `deny` (`--deny-warnings`), any warning is an error (exit 2) and nothing runs.
pub fn report(l: &Loaded, deny: bool) -> Result<()> {
    for w in &l.warnings {
        crate::status!("warning: {w}");
    }
    if deny && !l.warnings.is_empty() {
        let n = l.warnings.len();
        return Err(Error::input(
            l.path.display().to_string(),
            format!(
                "expected no warnings (--deny-warnings), found {n}: nothing was simulated or written"
            ),
        ));
    }
    Ok(())
}

/// The time between two runs of a schedule that are closest together.
fn shortest_period(sch: &Schedule) -> Option<u64> {
    if sch.daily.is_some() {
        return Some(MICROS_PER_DAY);
    }
    let mut days: Vec<u64> = sch.weekly.as_ref()?.iter().map(|d| d.index()).collect();
    days.sort_unstable();
    days.dedup();
    let first = *days.first()?;
    let gaps = days
        .windows(2)
        .map(|w| w[1] - w[0])
        .chain([first + 7 - days[days.len() - 1]]);
    gaps.min().map(|d| d * MICROS_PER_DAY)
}

/// Why every VM fails a rule, in words.
fn every_vm(r: Unsupported, s: &Scenario) -> String {
    let sp = &s.support;
    match r {
        Unsupported::ResourceManagerDeployment => {
            "every VM is a resource-manager deployment (supported only with support.resource_manager = true)".into()
        }
        Unsupported::TooManyDataDisks => format!(
            "every VM has more than support.max_data_disks = {} data disks",
            sp.max_data_disks
        ),
        Unsupported::PremiumStorage => {
            "every VM is on premium storage (supported only with support.premium_storage = true)".into()
        }
        Unsupported::TooManyReservedIps => format!(
            "every VM has more than support.max_reserved_ips = {} reserved IPs",
            sp.max_reserved_ips
        ),
        Unsupported::ReservedIpWithoutEndpoint => {
            "every VM has a reserved IP and no endpoint (support.reserved_ip_requires_endpoint = true)".into()
        }
        Unsupported::TooManyNics => format!(
            "every VM has more than support.max_nics = {} NICs",
            sp.max_nics
        ),
        Unsupported::LoadBalanced => {
            "every VM is in a load-balanced set (supported only with support.load_balanced = true)".into()
        }
        Unsupported::WindowsVersionTooOld => format!(
            "every VM runs a Windows Server older than support.min_windows = {}",
            sp.min_windows
        ),
        Unsupported::CrossRegion => "every VM is in another region than its vault".into(),
    }
}

/// Whether fleet `f` has an inventory of which `fills` says yes.
fn inventory_fills(f: &Fleet, fills: impl Fn(&Inventory) -> Option<bool>) -> bool {
    f.inventory_table
        .as_deref()
        .and_then(fills)
        .unwrap_or(false)
}

/// "No more than 20 disks of one storage account per schedule" (2016): a scheduled fleet
/// whose storage account holds more disks than `max_disks_per_storage_account` even at
/// its fewest data disks per VM.
fn storage_account_disks(s: &Scenario, f: &Fleet) -> Option<Finding> {
    let max = f.max_disks_per_storage_account?;
    let scheduled = s
        .policy
        .iter()
        .any(|p| p.name == f.policy && p.schedule.is_some());
    let vms = f.vms_per_storage_account.min(f.count_at_end(&s.simulation));
    let disks = vms as f64 * (bounds(&f.data_disks.0).0 + 1.0);
    (scheduled && disks > max as f64).then(|| {
        Finding::new(
            format!("fleet.{}.vms_per_storage_account", f.name),
            format!(
                "{vms} VMs per storage account put at least {disks} disks of one storage account in one schedule, over the published {max} (2016: spread them over more storage accounts or policies to get the IOPS); their transfers still share the account's storage_account_bandwidth"
            ),
        )
    })
}

/// Every warning of a scenario (the loader locates them and sorts them by position).
pub fn find(s: &Scenario) -> Vec<Finding> {
    let mut out = Vec::new();
    for l in &s.link {
        if !s.fleet.iter().any(|f| f.path.contains(&l.name)) {
            out.push(Finding::new(
                format!("link.{}", l.name),
                "no fleet's `path` crosses this link: it carries nothing and its metrics stay 0; add it to a fleet's path or remove it",
            ));
        }
    }
    for v in &s.vault {
        let used = s
            .fleet
            .iter()
            .any(|f| vault_of(s, f).is_some_and(|fv| fv.name == v.name));
        if !used {
            out.push(Finding::new(
                format!("vault.{}", v.name),
                "no fleet's policy keeps its points in this vault: it stays empty; point a policy of a fleet at it or remove it",
            ));
        }
    }
    for p in &s.policy {
        let k = format!("policy.{}", p.name);
        if !s.fleet.iter().any(|f| f.policy == p.name) {
            out.push(Finding::new(
                k.clone(),
                "no fleet uses this policy: it backs nothing up; name it in a fleet's `policy` or remove it",
            ));
        }
        if let Some(period) = p.schedule.as_ref().and_then(shortest_period) {
            if p.window.0.as_micros() > period {
                out.push(Finding::new(
                    format!("{k}.window"),
                    format!(
                        "the window ({}) is longer than the {} between two runs of the schedule: a backup still running when the next run starts is not yet a window miss, and the next run's job for that VM fails at once with UserErrorBackupOperationInProgress; make the window at most {}",
                        p.window,
                        crate::engine::SimDuration(period),
                        crate::engine::SimDuration(period)
                    ),
                ));
            }
        }
    }
    for f in &s.fleet {
        fleet_findings(s, f, &mut out);
    }
    if s.simulation.limits != Limits::Strict {
        for e in limit_excesses(s) {
            out.push(Finding::new(e.key, e.message));
        }
    }
    restore_findings(s, &mut out);
    out
}

/// The findings of fleet `f`.
fn fleet_findings(s: &Scenario, f: &super::schema::Fleet, out: &mut Vec<Finding>) {
    let k = format!("fleet.{}", f.name);
    // A growing fleet's VMs: its size at the end of the run.
    let n = f.count_at_end(&s.simulation);
    if n == 0 {
        out.push(Finding::new(
            format!("{k}.count"),
            "a fleet of 0 VMs: nothing is simulated for it",
        ));
        return;
    }
    let policy = s.policy.iter().find(|p| p.name == f.policy);
    let restored = s.restore.iter().any(|r| r.fleet == f.name);
    if policy.is_some_and(|p| p.schedule.is_none())
        && f.on_demand.per_vm_per_day == 0.0
        && !restored
    {
        out.push(Finding::new(
            format!("{k}.policy"),
            format!(
                "policy \"{}\" has no schedule and the fleet asks for no on-demand backup (on_demand.per_vm_per_day = 0) and no restore: nothing ever uses its {} VMs",
                f.policy, n
            ),
        ));
    }
    let reasons = always_unsupported(s, f);
    if reasons.contains(&Unsupported::CrossRegion) {
        let v = vault_of(s, f).expect("a vault for a cross-region fleet");
        out.push(Finding::new(
            format!("{k}.region"),
            format!(
                "the fleet is in \"{}\" but its policy \"{}\" keeps points in vault \"{}\" in \"{}\": every VM is unsupported (CrossRegion) and none of its {} VMs is ever backed up; use a vault in \"{}\", or set support.cross_region = true for a what-if",
                f.region, f.policy, v.name, v.region, n, f.region
            ),
        ));
    }
    // An inventory's filled cells replace the draws: "every VM" no longer holds.
    let listed = |r: &Unsupported| match r {
        Unsupported::TooManyDataDisks => inventory_fills(f, |t| {
            t.disks.as_ref().map(|c| c.iter().any(Option::is_some))
        }),
        Unsupported::WindowsVersionTooOld => {
            inventory_fills(f, |t| t.os.as_ref().map(|c| c.iter().any(Option::is_some)))
        }
        _ => false,
    };
    for r in reasons
        .iter()
        .filter(|r| **r != Unsupported::CrossRegion && !listed(r))
    {
        out.push(Finding::new(
            format!("{k}.{}", rule_key(*r)),
            format!(
                "{}: every VM is unsupported ({}) and none of its {} VMs is ever backed up (each scheduled run counts them in backup.jobs.unsupported)",
                every_vm(*r, s),
                r.name(),
                n
            ),
        ));
    }
    let accounts_listed = inventory_fills(f, |t| t.storage_account.as_ref().map(|_| true));
    if let Some(w) = storage_account_disks(s, f).filter(|_| !accounts_listed) {
        out.push(w);
    }
    let disks_listed = inventory_fills(f, |t| {
        t.disks.as_ref().map(|c| c.iter().any(Option::is_some))
    });
    if reasons.is_empty() && !disks_listed {
        if let Some((key, bytes)) = always_oversize(f, &s.support) {
            let what = if key == "os_disk" {
                "an OS disk"
            } else {
                "a data disk"
            };
            out.push(Finding::new(
                format!("{k}.{key}"),
                format!(
                    "every VM has {what} of at least {} ({bytes} bytes), over support.max_disk_size = {}: every backup of the fleet fails with UserErrorUnsupportedDiskSize",
                    fmt_size(bytes as f64),
                    s.support.max_disk_size
                ),
            ));
        }
    }
}

/// The findings of the restores.
fn restore_findings(s: &Scenario, out: &mut Vec<Finding>) {
    let end = s.simulation.duration.0;
    for r in &s.restore {
        let k = format!("restore.{}", r.name);
        if let Some(at) = r.at {
            if at.0 >= end {
                out.push(Finding::new(
                    format!("{k}.at"),
                    format!(
                        "the drill is at {at}, at or after the end of the run ({}): it never happens and no restore metric reports it; move it earlier or lengthen simulation.duration",
                        s.simulation.duration
                    ),
                ));
            }
        }
        if let Some(f) = s.fleet.iter().find(|f| f.name == r.fleet) {
            let n = f.count_at_end(&s.simulation);
            if r.count > n && n > 0 {
                let each = if r.at.is_some() {
                    "the drill"
                } else {
                    "each arrival"
                };
                out.push(Finding::new(
                    format!("{k}.count"),
                    format!(
                        "asks for {} VMs but fleet \"{}\" has {}: {each} restores only {}",
                        r.count, f.name, n, n
                    ),
                ));
            }
        }
    }
}

/// Checks that every `[[expect]]` names a metric a run of `s` (configured as `config`)
/// can produce; the error suggests the closest names.
pub fn check_expect_metrics(s: &Scenario, config: &Config) -> std::result::Result<(), Problem> {
    if s.expect.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = catalogue(config).into_iter().map(|m| m.name).collect();
    for (i, e) in s.expect.iter().enumerate() {
        if names.contains(&e.metric) {
            continue;
        }
        let close = closest(&e.metric, &names);
        return Err(Problem {
            key: format!("expect.{i}.metric"),
            message: format!(
                "expected a metric that a run of this scenario writes to summary.json (docs/metrics.md), found \"{}\": no run can produce it, so the bound could never hold; did you mean {}?",
                e.metric,
                close.join(" or ")
            ),
        });
    }
    Ok(())
}

/// The names nearest to `wanted` by edit distance: the best, and the others at most one
/// edit further (at most three).
pub fn closest(wanted: &str, names: &[String]) -> Vec<String> {
    let mut d: Vec<(usize, &String)> = names.iter().map(|n| (levenshtein(wanted, n), n)).collect();
    d.sort();
    let best = d.first().map_or(0, |x| x.0);
    d.iter()
        .take_while(|(k, _)| *k <= best + 1)
        .take(3)
        .map(|(_, n)| (*n).clone())
        .collect()
}

/// Edit distance (insertions, deletions, substitutions) between two strings, by chars.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("p99", "p999"), 1);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("flaw", "lawn"), 2);
    }

    #[test]
    fn weekly_periods() {
        use crate::scenario::schema::Weekday::*;
        let w = |days: Vec<crate::scenario::schema::Weekday>| Schedule {
            daily: None,
            weekly: Some(days),
            at: Some(crate::units::TimeOfDay(0)),
        };
        assert_eq!(shortest_period(&w(vec![Sun])), Some(7 * MICROS_PER_DAY));
        assert_eq!(shortest_period(&w(vec![Sat, Sun])), Some(MICROS_PER_DAY));
        assert_eq!(
            shortest_period(&w(vec![Mon, Thu])),
            Some(3 * MICROS_PER_DAY)
        );
    }
}

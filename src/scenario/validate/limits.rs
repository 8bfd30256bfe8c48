//! The published limits of the time at validate time: subscriptions and their vaults, the
//! VMs per vault copy and vaults per subscription (warnings, or errors with
//! `limits = "strict"`).

use std::collections::BTreeSet;

use super::{problem, reference, Problem};
use crate::scenario::schema::Scenario;

/// Subscriptions: counts, the vaults' references, and (with `limits = "strict"`) the
/// published counts of VMs per vault and vaults per subscription as errors.
pub(super) fn check_subscriptions(s: &Scenario, subs: &BTreeSet<&str>) -> Result<(), Problem> {
    for sub in &s.subscription {
        for (key, x) in [("count", Some(sub.count)), ("max_vaults", sub.max_vaults)] {
            if x == Some(0) {
                return Err(problem(
                    format!("subscription.{}.{key}", sub.name),
                    "expected at least 1, found 0",
                ));
            }
        }
    }
    for v in &s.vault {
        if let Some(sub) = &v.subscription {
            reference(
                format!("vault.{}.subscription", v.name),
                "subscription",
                subs,
                sub,
            )?;
        }
    }
    if s.simulation.limits == crate::scenario::schema::Limits::Strict {
        if let Some(e) = limit_excesses(s).into_iter().next() {
            return Err(problem(
                e.key,
                format!("{} (simulation.limits = \"strict\" makes it an error; spread the VMs over more vaults, or use limits = \"2016\" for a warning)", e.message),
            ));
        }
    }
    Ok(())
}

/// A published count a scenario exceeds: the key to change and what was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Excess {
    /// Dotted key.
    pub key: String,
    /// Expected / found.
    pub message: String,
}

/// The VMs of the most loaded copy of each vault and the vaults of the most loaded copy of
/// each subscription, against their limits (`max_vms`, `max_vaults`): the excesses, in
/// file order. A fleet's VMs are spread over its vault's copies in blocks by index, so the
/// first copy holds `ceil(count / copies)` of each fleet (a growing fleet's count at the
/// end of the run: the limit binds when the last VMs join).
pub fn limit_excesses(s: &Scenario) -> Vec<Excess> {
    let mut out = Vec::new();
    for v in &s.vault {
        let Some(max) = v.max_vms else { continue };
        let copies = u64::from(v.count.max(1));
        let vms: u64 = s
            .fleet
            .iter()
            .filter(|f| {
                crate::scenario::population::vault_of(s, f).is_some_and(|fv| fv.name == v.name)
            })
            .map(|f| u64::from(f.count_at_end(&s.simulation)).div_ceil(copies))
            .sum();
        if vms > u64::from(max) {
            let each = if copies > 1 {
                " (in each of its copies)"
            } else {
                ""
            };
            out.push(Excess {
                key: format!("vault.{}.max_vms", v.name),
                message: format!(
                    "expected at most {max} VMs per vault (published limit: 200 in 2015-2016, 1 000 from late 2018), found {vms}{each} on vault \"{}\": the service refused more; raise its `count` to spread them",
                    v.name
                ),
            });
        }
    }
    let preset = s.simulation.limits.values().vaults_per_subscription;
    let subs: Vec<(String, u64, Option<u32>, String)> = if s.subscription.is_empty() {
        let n = s.vault.iter().map(|v| u64::from(v.count)).sum();
        vec![(
            "the implicit subscription".into(),
            n,
            preset,
            "simulation.limits".into(),
        )]
    } else {
        s.subscription
            .iter()
            .enumerate()
            .map(|(i, sub)| {
                let vaults: u64 = s
                    .vault
                    .iter()
                    .filter(|v| match &v.subscription {
                        Some(n) => *n == sub.name,
                        None => i == 0,
                    })
                    .map(|v| u64::from(v.count))
                    .sum();
                (
                    format!("subscription \"{}\"", sub.name),
                    vaults.div_ceil(u64::from(sub.count.max(1))),
                    sub.max_vaults,
                    format!("subscription.{}.max_vaults", sub.name),
                )
            })
            .collect()
    };
    for (what, vaults, max, key) in subs {
        if let Some(max) = max.filter(|&m| vaults > u64::from(m)) {
            out.push(Excess {
                key,
                message: format!(
                    "expected at most {max} vaults per subscription (published limit: 25, 2015), found {vaults} in {what}: the service refused more; declare more [[subscription]]s (or raise a subscription's `count`)"
                ),
            });
        }
    }
    out
}

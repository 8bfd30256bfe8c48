//! What a fleet's VMs look like, from the scenario's parameters alone: no VM is drawn.
//!
//! Two kinds of answer: *certain* ones (a support rule every VM fails, a disk every VM has
//! over the size limit), decided from constants and from the bounds of a distribution's
//! support, so that a warning never depends on a seed; and *expected* ones (the share of
//! supported VMs, the mean bytes a backup moves) for the capacity estimate. The support
//! rules themselves are the model's ([`unsupported_reasons`], [`oversize`]).

use super::schema::{Fleet, Scenario, Support, Vault};
use crate::engine::dist::{Choice, Dist};
use crate::model::config::Support as Rules;
use crate::model::vm::{oversize, unsupported_reasons, Attrs, Unsupported};

/// Where a fleet's points go: its policy's vault (validation guarantees both exist).
pub fn vault_of<'a>(s: &'a Scenario, f: &Fleet) -> Option<&'a Vault> {
    let p = s.policy.iter().find(|p| p.name == f.policy)?;
    s.vault.iter().find(|v| v.name == p.vault)
}

/// The smallest and largest value a draw can take (after the clamp at 0); the largest
/// may be infinite.
pub fn bounds(d: &Dist) -> (f64, f64) {
    let (lo, hi) = match d {
        Dist::Constant(v) => (*v, *v),
        Dist::Uniform { min, max } => (*min, max.max(*min)),
        Dist::UniformInt { min, max } => (*min as f64, *max as f64),
        Dist::LogNormal { mean, sd, .. } if *sd == 0.0 => (*mean, *mean),
        Dist::Exponential { .. }
        | Dist::Normal { .. }
        | Dist::LogNormal { .. }
        | Dist::Gamma { .. }
        | Dist::Weibull { .. } => (0.0, f64::INFINITY),
        Dist::Triangular { min, max, .. } => (*min, max.max(*min)),
        Dist::Pareto { scale, .. } => (*scale, f64::INFINITY),
        Dist::Empirical { values, .. } => values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            }),
    };
    (lo.max(0.0), hi.max(0.0))
}

/// The mean of a draw, where it is finite (a normal is truncated at 0).
pub fn mean(d: &Dist) -> Option<f64> {
    match *d {
        Dist::Normal { mean, sd } if sd > 0.0 => {
            let a = -mean / sd;
            let tail = 1.0 - phi(a);
            (tail > 1e-12).then(|| mean + sd * density(a) / tail)
        }
        Dist::Normal { mean, .. } => Some(mean.max(0.0)),
        _ => d.mean().filter(|m| m.is_finite()),
    }
}

/// P(X < x) for a draw X, where known in closed form.
pub fn below(d: &Dist, x: f64) -> Option<f64> {
    let p = match *d {
        Dist::Constant(v) => f64::from(u8::from(v < x)),
        Dist::Uniform { min, max } => {
            if max > min {
                ((x - min) / (max - min)).clamp(0.0, 1.0)
            } else {
                f64::from(u8::from(min < x))
            }
        }
        Dist::UniformInt { min, max } => {
            let below = (x.ceil() as i64 - min).clamp(0, max - min + 1);
            below as f64 / (max - min + 1) as f64
        }
        Dist::Exponential { mean } => 1.0 - (-(x.max(0.0)) / mean).exp(),
        Dist::Normal { mean, sd } if sd > 0.0 => {
            let lo = phi(-mean / sd);
            if x <= 0.0 || lo >= 1.0 {
                0.0
            } else {
                ((phi((x - mean) / sd) - lo) / (1.0 - lo)).clamp(0.0, 1.0)
            }
        }
        Dist::Normal { mean, .. } => f64::from(u8::from(mean.max(0.0) < x)),
        Dist::LogNormal { mean, sd, log } => {
            if sd == 0.0 {
                f64::from(u8::from(mean < x))
            } else if x <= 0.0 {
                0.0
            } else {
                phi((x.ln() - log.mu()) / log.sigma())
            }
        }
        Dist::Weibull { shape, scale } => 1.0 - (-(x.max(0.0) / scale).powf(shape)).exp(),
        Dist::Triangular { min, mode, max } => {
            if x <= min {
                0.0
            } else if x >= max {
                1.0
            } else if x <= mode {
                (x - min).powi(2) / ((max - min) * (mode - min))
            } else {
                1.0 - (max - x).powi(2) / ((max - min) * (max - mode))
            }
        }
        Dist::Pareto { scale, shape } => {
            if x <= scale {
                0.0
            } else {
                1.0 - (scale / x).powf(shape)
            }
        }
        Dist::Empirical { ref values, .. } => {
            values.iter().filter(|&&v| v < x).count() as f64 / values.len() as f64
        }
        Dist::Gamma { .. } => return None,
    };
    Some(p)
}

/// The distribution of a count as drawn (the draw rounded to the nearest integer):
/// `(value, probability)` pairs. Without a closed-form distribution function, the count
/// is taken to be its rounded mean.
pub fn count_pmf(d: &Dist) -> Vec<(u32, f64)> {
    let (lo, hi) = bounds(d);
    let lo = lo.round().min(u32::MAX as f64) as u32;
    let hi = hi.round().min(lo as f64 + 4096.0) as u32;
    if lo == hi {
        return vec![(lo, 1.0)];
    }
    if below(d, 0.0).is_none() {
        let m = mean(d)
            .unwrap_or(lo as f64)
            .round()
            .clamp(lo as f64, hi as f64);
        return vec![(m as u32, 1.0)];
    }
    let mut out = Vec::new();
    let mut prev = 0.0;
    for k in lo..=hi {
        let upto = if k == hi {
            1.0
        } else {
            below(d, k as f64 + 0.5).unwrap_or(1.0)
        };
        if upto > prev {
            out.push((k, upto - prev));
            prev = upto;
        }
        if prev >= 1.0 - 1e-12 {
            break;
        }
    }
    out
}

/// The categories a choice can draw, with their probabilities.
fn categories(c: &Choice) -> Vec<(&str, f64)> {
    c.names()
        .map(|n| (n, c.probability(n)))
        .filter(|&(_, p)| p > 0.0)
        .collect()
}

/// Standard normal distribution function (erfc approximation, relative error < 1.2e-7).
fn phi(z: f64) -> f64 {
    let x = -z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    0.5 * if x >= 0.0 { erfc } else { 2.0 - erfc }
}

fn density(z: f64) -> f64 {
    (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The support rules each attribute of a fleet decides, and the key that sets it.
const RULE_KEYS: [(Unsupported, &str); 9] = [
    (Unsupported::ResourceManagerDeployment, "deployment"),
    (Unsupported::TooManyDataDisks, "data_disks"),
    (Unsupported::PremiumStorage, "storage"),
    (Unsupported::TooManyReservedIps, "reserved_ips"),
    (Unsupported::ReservedIpWithoutEndpoint, "endpoints"),
    (Unsupported::TooManyNics, "nics"),
    (Unsupported::LoadBalanced, "load_balanced"),
    (Unsupported::WindowsVersionTooOld, "os"),
    (Unsupported::CrossRegion, "region"),
];

/// The fleet key whose value decides a support rule (`data_disks` for
/// `TooManyDataDisks`).
pub fn rule_key(r: Unsupported) -> &'static str {
    RULE_KEYS
        .iter()
        .find(|(u, _)| *u == r)
        .map_or("", |(_, k)| k)
}

/// Whether a VM with attributes `a` passes the rules in `rules`.
fn passes(a: &Attrs, support: &Rules, rules: &[Unsupported]) -> bool {
    !unsupported_reasons(a, support)
        .iter()
        .any(|r| rules.contains(r))
}

/// The most favourable VM the fleet can draw: fewest data disks, reserved IPs and NICs,
/// most endpoints, not load balanced when it can be, and for each category one that
/// passes its rule when any does. Each support rule reads its own attributes and fails
/// more often as a count grows, so a rule this VM fails is failed by every VM.
fn best_case<'a>(f: &'a Fleet, support: &Rules, vault_region: &str) -> Attrs<'a> {
    let low = |d: &Dist| bounds(d).0.round().min(u32::MAX as f64) as u32;
    let high = |d: &Dist| bounds(d).1.round().min(u32::MAX as f64) as u32;
    let mut a = Attrs {
        deployment: "classic",
        data_disks: low(&f.data_disks.0),
        storage: "standard",
        reserved_ips: low(&f.reserved_ips.0),
        endpoints: high(&f.endpoints.0),
        nics: low(&f.nics.0),
        load_balanced: f.load_balanced.0 >= 1.0,
        os: "windows-2012r2",
        other_region: f.region != vault_region,
    };
    let pick =
        |c: &'a Choice, set: fn(&mut Attrs<'a>, &'a str), rule: Unsupported, a: &Attrs<'a>| {
            let names = categories(c);
            let fallback = names.first().map_or("", |(n, _)| *n);
            names
                .iter()
                .map(|(n, _)| *n)
                .find(|n| {
                    let mut t = *a;
                    set(&mut t, n);
                    passes(&t, support, &[rule])
                })
                .unwrap_or(fallback)
        };
    a.deployment = pick(
        &f.deployment,
        |a, n| a.deployment = n,
        Unsupported::ResourceManagerDeployment,
        &a,
    );
    a.storage = pick(
        &f.storage,
        |a, n| a.storage = n,
        Unsupported::PremiumStorage,
        &a,
    );
    a.os = pick(
        &f.os,
        |a, n| a.os = n,
        Unsupported::WindowsVersionTooOld,
        &a,
    );
    a
}

/// The support rules every VM of `f` fails, decided without drawing (rule order).
pub fn always_unsupported(s: &Scenario, f: &Fleet) -> Vec<Unsupported> {
    let Some(v) = vault_of(s, f) else {
        return Vec::new();
    };
    let support = super::build::support(&s.support);
    unsupported_reasons(&best_case(f, &support, &v.region), &support)
}

/// The smallest disk size every VM of `f` has at least one of, if it is over the size
/// limit: `(key, bytes)` with `os_disk` or `disk_size`.
pub fn always_oversize(f: &Fleet, support: &Support) -> Option<(&'static str, u64)> {
    let support = &super::build::support(support);
    let low = |d: &Dist| bounds(d).0.round().min(u64::MAX as f64) as u64;
    let os = low(&f.os_disk.0);
    if oversize(os, support) {
        return Some(("os_disk", os));
    }
    let data = low(&f.disk_size.0);
    (bounds(&f.data_disks.0).0.round() >= 1.0 && oversize(data, support))
        .then_some(("disk_size", data))
}

/// Expected figures of one VM of a fleet, from the parameters' means.
#[derive(Clone, Debug, PartialEq)]
pub struct Expected {
    /// Share of the fleet's VMs that are supported and have no disk over the limit: the
    /// VMs whose backups move data.
    pub backed_up: f64,
    /// Mean data disks of those VMs.
    pub data_disks: f64,
    /// Mean bytes in use over all disks of a VM (what a first, full backup moves).
    pub used_bytes: f64,
}

/// The expected share of backed-up VMs and their mean size; `None` when a size has no
/// finite mean (e.g. a Pareto with shape at most 1).
pub fn expected(s: &Scenario, f: &Fleet) -> Option<Expected> {
    let support = &super::build::support(&s.support);
    let region = vault_of(s, f).map_or(f.region.as_str(), |v| v.region.as_str());
    let base = best_case(f, support, region);
    // The share of draws `(value, probability)` that pass `rules` when `set` puts the
    // value into the otherwise most favourable VM.
    fn share<'a, T: Copy>(
        base: &Attrs<'a>,
        items: &[(T, f64)],
        set: impl Fn(&mut Attrs<'a>, T),
        ok: impl Fn(&Attrs<'a>) -> bool,
    ) -> f64 {
        items
            .iter()
            .filter(|&&(v, _)| {
                let mut a = *base;
                set(&mut a, v);
                ok(&a)
            })
            .map(|&(_, q)| q)
            .sum()
    }
    let ok = |rules: &'static [Unsupported]| move |a: &Attrs| passes(a, support, rules);
    // Each rule reads its own, independently drawn attributes: the shares multiply.
    let mut p = share(
        &base,
        &categories(&f.deployment),
        |a, n| a.deployment = n,
        ok(&[Unsupported::ResourceManagerDeployment]),
    );
    p *= share(
        &base,
        &categories(&f.storage),
        |a, n| a.storage = n,
        ok(&[Unsupported::PremiumStorage]),
    );
    p *= share(
        &base,
        &categories(&f.os),
        |a, n| a.os = n,
        ok(&[Unsupported::WindowsVersionTooOld]),
    );
    let disks = count_pmf(&f.data_disks.0);
    let ok_disks = share(
        &base,
        &disks,
        |a, k| a.data_disks = k,
        ok(&[Unsupported::TooManyDataDisks]),
    );
    let ok_disk_sum: f64 = disks
        .iter()
        .map(|&(k, q)| {
            let mut a = base;
            a.data_disks = k;
            let passing = ok(&[Unsupported::TooManyDataDisks])(&a);
            if passing {
                q * k.min(64) as f64
            } else {
                0.0
            }
        })
        .sum();
    p *= ok_disks;
    let pairs: Vec<((u32, u32), f64)> = count_pmf(&f.reserved_ips.0)
        .iter()
        .flat_map(|&(r, qr)| {
            count_pmf(&f.endpoints.0)
                .into_iter()
                .map(move |(e, qe)| ((r, e), qr * qe))
        })
        .collect();
    p *= share(
        &base,
        &pairs,
        |a, (r, e)| {
            a.reserved_ips = r;
            a.endpoints = e;
        },
        ok(&[
            Unsupported::TooManyReservedIps,
            Unsupported::ReservedIpWithoutEndpoint,
        ]),
    );
    p *= share(
        &base,
        &count_pmf(&f.nics.0),
        |a, k| a.nics = k,
        ok(&[Unsupported::TooManyNics]),
    );
    let lb = f.load_balanced.0;
    p *= share(
        &base,
        &[(true, lb), (false, 1.0 - lb)],
        |a, b| a.load_balanced = b,
        ok(&[Unsupported::LoadBalanced]),
    );
    if !ok(&[Unsupported::CrossRegion])(&base) {
        p = 0.0;
    }
    let data_disks = if ok_disks > 0.0 {
        ok_disk_sum / ok_disks
    } else {
        0.0
    };
    // A disk over the limit fails the backup before any byte moves.
    let limit = support.max_disk_size as f64 + 0.5;
    let under = |d: &Dist| {
        below(d, limit).unwrap_or_else(|| f64::from(u8::from(mean(d).unwrap_or(0.0) < limit)))
    };
    let disk_ok = under(&f.disk_size.0);
    let within = under(&f.os_disk.0)
        * disks
            .iter()
            .map(|&(k, q)| q * disk_ok.powi(k.min(64) as i32))
            .sum::<f64>();
    let used = mean(&f.used.0)?.clamp(0.0, 1.0);
    let used_bytes = (mean(&f.os_disk.0)? + data_disks * mean(&f.disk_size.0)?) * used;
    Some(Expected {
        backed_up: p * within,
        data_disks,
        used_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_like_the_draws() {
        assert_eq!(count_pmf(&Dist::Constant(3.0)), vec![(3, 1.0)]);
        let u = count_pmf(&Dist::UniformInt { min: 2, max: 5 });
        assert_eq!(u.len(), 4);
        assert!(u.iter().all(|&(_, p)| (p - 0.25).abs() < 1e-12));
        let c = count_pmf(&Dist::Uniform { min: 0.0, max: 2.0 });
        let p: Vec<f64> = c.iter().map(|x| x.1).collect();
        assert_eq!(c.iter().map(|x| x.0).collect::<Vec<_>>(), [0, 1, 2]);
        assert!((p[0] - 0.25).abs() < 1e-12 && (p[1] - 0.5).abs() < 1e-12);
    }

    /// Draws VMs through the model and checks both kinds of answer against them: a rule
    /// reported as failed by every VM is failed by every drawn VM, and the expected share
    /// of backed-up VMs and their mean size are close to the drawn ones.
    #[test]
    fn answers_agree_with_drawn_vms() {
        use crate::model::vm::{draw_vm, flag};
        let fleets = [
            "",
            "deployment = \"resource-manager\"",
            "data_disks = { dist = \"uniform-int\", min = 2, max = 16 }",
            "data_disks = { dist = \"uniform\", min = 15.5, max = 30 }",
            "storage = { choice = { \"standard\" = 0.7, \"premium\" = 0.3 } }",
            "reserved_ips = 1\nendpoints = { dist = \"uniform-int\", min = 0, max = 1 }",
            "reserved_ips = 1\nendpoints = 0",
            "nics = { dist = \"exponential\", mean = 1.2 }",
            "load_balanced = 0.25",
            "os = { choice = { \"windows-2003\" = 0.5, \"windows-2008\" = 0.5 } }",
            "os = { choice = { \"windows-2008\" = 0.4, \"centos-7\" = 0.6 } }",
            "region = \"b\"",
            "disk_size = { dist = \"uniform\", min = \"900 GB\", max = \"1100 GB\" }",
            "os_disk = \"2 TB\"",
            "used = { dist = \"normal\", mean = 0.3, sd = 0.2 }",
        ];
        for extra in fleets {
            let src = format!(
                "[simulation]\nname = \"t\"\n[[region]]\nname = \"a\"\n[[region]]\nname = \"b\"\n[[vault]]\nname = \"v\"\nregion = \"a\"\n[[policy]]\nname = \"p\"\nvault = \"v\"\n[[fleet]]\nname = \"f\"\ncount = 2000\npolicy = \"p\"\n{}\n",
                if extra.contains("region") {
                    extra.to_string()
                } else {
                    format!("region = \"a\"\n{extra}")
                }
            );
            let s: Scenario = toml::from_str(&src).unwrap();
            let config = crate::scenario::build(&s);
            let f = &s.fleet[0];
            let always = always_unsupported(&s, f);
            let e = expected(&s, f).unwrap();
            let (mut ok, mut bytes) = (0.0, 0.0);
            let n = f.count;
            for i in 0..n {
                let (vm, reasons) = draw_vm(9, 0, &config.fleets[0], i, &config.support, 0);
                assert!(
                    always.iter().all(|r| reasons.contains(r)),
                    "{extra}: {always:?} vs {reasons:?}"
                );
                if reasons.is_empty() && !vm.has(flag::OVERSIZE_DISK) {
                    ok += 1.0;
                }
                bytes += vm.used_bytes as f64;
                if always_oversize(f, &s.support).is_some() {
                    assert!(vm.has(flag::OVERSIZE_DISK), "{extra}");
                }
            }
            let share = ok / n as f64;
            assert!(
                (share - e.backed_up).abs() < 0.04,
                "{extra}: drawn share {share}, expected {}",
                e.backed_up
            );
            if !always.is_empty() {
                assert_eq!(e.backed_up, 0.0, "{extra}");
            }
            // Mean size over all drawn VMs (the expectation is of supported ones).
            if !extra.contains("data_disks") {
                let drawn = bytes / n as f64;
                assert!(
                    (drawn - e.used_bytes).abs() < 0.05 * e.used_bytes,
                    "{extra}: drawn {drawn}, expected {}",
                    e.used_bytes
                );
            }
        }
    }

    #[test]
    fn normal_distribution_function() {
        assert!((phi(0.0) - 0.5).abs() < 1e-7);
        assert!((phi(1.96) - 0.975).abs() < 1e-4);
        assert!((phi(-1.0) - 0.158_655).abs() < 1e-5);
    }
}

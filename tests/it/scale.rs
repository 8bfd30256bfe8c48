//! The fleet-scale scenario, shrunk to 2 000 VMs and 5 days so that it runs in a few
//! seconds in a debug build: it loads, completes, and its counts add up.

use std::path::Path;
use std::time::Instant;

use backupsim::model::run;
use backupsim::scenario::load;

fn sets(vms: [u32; 4], days: u32) -> Vec<String> {
    let mut v = vec![format!("simulation.duration={days}d")];
    for (name, n) in ["web", "app", "db", "linux"].iter().zip(vms) {
        v.push(format!("fleet.{name}.count={n}"));
    }
    v
}

#[test]
fn small_scale_run_completes_with_sane_counts() {
    let vms = [800, 600, 200, 400];
    let total: u32 = vms.iter().sum();
    let days = 5;
    let loaded = load(Path::new("scenarios/scale-100k.toml"), &sets(vms, days))
        .expect("scale-100k.toml loads with --set");
    let start = Instant::now();
    let out = run(&loaded.config).expect("self-checks pass");
    let wall = start.elapsed();
    let m = &out.summary;
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("metric {k} missing"));

    for (name, n) in ["web", "app", "db", "linux"].iter().zip(vms) {
        assert_eq!(get(&format!("fleet.{name}.vms")), n as f64);
    }
    // One scheduled job per VM per day (the policies run between 22:00 and 02:00, so a run
    // of `days` days sees `days` or `days - 1` occurrences of each), plus on-demand jobs.
    let unsupported = get("unsupported.vms");
    assert!(unsupported > 0.0 && unsupported < 0.1 * total as f64);
    let supported = total as f64 - unsupported;
    let attempts = get("backup.attempts");
    let jobs = get("backup.jobs.succeeded") + get("backup.jobs.failed");
    assert!(
        jobs >= (days - 1) as f64 * supported * 0.9,
        "{jobs} jobs for {supported} VMs"
    );
    assert!(jobs <= (days as f64 + 0.5) * supported, "{jobs} jobs");
    assert!(attempts >= jobs);
    assert_eq!(
        get("backup.jobs.total"),
        jobs + get("backup.jobs.unsupported") + get("backup.jobs.in_flight")
    );
    let failures: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("backup.failures."))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(failures, get("backup.jobs.failed"));
    let rate = get("backup.success_rate");
    assert!(rate > 0.7 && rate < 1.0, "success rate {rate}");
    // Every supported VM is sampled every hour for RPO.
    let rpo = &out.histograms["rpo"].to_histogram();
    let hours = (days * 24) as f64;
    assert!(rpo.len() as f64 >= supported * (hours - 1.0));
    assert!(rpo.len() as f64 <= supported * (hours + 1.0));
    // Several events per job, none wasted.
    assert!(out.events as f64 > 3.0 * jobs && (out.events as f64) < 20.0 * jobs);
    eprintln!(
        "{total} VMs × {days} d: {} events in {wall:?} ({jobs} jobs)",
        out.events
    );
}

/// The scale estates respect the published 2016 limits they run under: no vault copy
/// holds more than 200 VMs, no subscription more than 25 vaults, no storage account more
/// than 20 disks per schedule (any of these would warn), and every fleet has a region of
/// its own with its own link.
#[test]
fn scale_estates_respect_the_published_limits() {
    for name in ["scale-10k", "scale-100k", "scale-1m"] {
        let l = load(Path::new(&format!("scenarios/{name}.toml")), &[]).expect("loads");
        assert!(l.warnings.is_empty(), "{name}: {:?}", l.warnings);
        let c = &l.config;
        for f in &c.fleets {
            let v = &c.vaults[c.policies[f.policy].vault];
            assert!(f.count.div_ceil(v.count) <= 200, "{name}: {}", f.name);
            assert_eq!(v.max_concurrent_jobs, Some(40));
            assert_eq!(f.path.len(), 1);
        }
        let mut regions: Vec<usize> = c.fleets.iter().map(|f| f.region).collect();
        regions.dedup();
        assert_eq!(regions.len(), 4, "{name}: four regions");
    }
}

/// The path-heavy benchmark input is scale-100k split tenfold: the same VMs and vault
/// copies per kind, 40 distinct paths of two links, within the published limits.
#[test]
fn path_heavy_bench_is_scale_100k_split_tenfold() {
    let base = load(Path::new("scenarios/scale-100k.toml"), &[]).expect("loads");
    let heavy = load(Path::new("benches/scale-100k-paths.toml"), &[]).expect("loads");
    assert!(heavy.warnings.is_empty(), "{:?}", heavy.warnings);
    let (b, h) = (&base.config, &heavy.config);
    assert_eq!(h.fleets.len(), 10 * b.fleets.len());
    for f in &b.fleets {
        let parts: Vec<_> = h
            .fleets
            .iter()
            .filter(|g| g.name.rsplit_once('-').is_some_and(|(k, _)| k == f.name))
            .collect();
        assert_eq!(parts.len(), 10, "{}", f.name);
        assert_eq!(parts.iter().map(|g| g.count).sum::<u32>(), f.count);
        let copies = |c: &backupsim::model::config::Config, g: &backupsim::model::config::Fleet| {
            c.vaults[c.policies[g.policy].vault].count
        };
        assert_eq!(
            parts.iter().map(|g| copies(h, g)).sum::<u32>(),
            copies(b, f),
            "{}",
            f.name
        );
        for g in parts {
            assert_eq!(g.path.len(), 2);
            assert_eq!(g.path[0], f.path[0]);
        }
    }
    let paths: std::collections::BTreeSet<_> = h.fleets.iter().map(|f| f.path.clone()).collect();
    assert_eq!(paths.len(), 40);
}

/// scale-10m: ten million VMs in eight regions that share nothing, within the published
/// limits; `--partition` splits it into one component per region, two regions to each
/// of four parts with `I/4` (component k to part k mod 4).
#[test]
fn scale_10m_splits_into_one_component_per_region_within_the_limits() {
    use backupsim::model::partition::{assign, components};
    let l = load(Path::new("scenarios/scale-10m.toml"), &[]).expect("loads");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = &l.config;
    assert_eq!(
        c.fleets.iter().map(|f| u64::from(f.count)).sum::<u64>(),
        10_000_000
    );
    for f in &c.fleets {
        let v = &c.vaults[c.policies[f.policy].vault];
        assert!(f.count.div_ceil(v.count) <= 200, "{}", f.name);
        assert_eq!(v.max_concurrent_jobs, Some(40));
    }
    let k = components(c);
    assert_eq!(k.len(), 8);
    for (i, comp) in k.iter().enumerate() {
        assert_eq!(
            comp.fleets,
            vec![i],
            "one fleet per component, in file order"
        );
        assert_eq!((comp.vaults.len(), comp.links.len()), (1, 1));
    }
    let parts = assign(&k, 4);
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part.fleets, vec![i, i + 4]);
    }
}

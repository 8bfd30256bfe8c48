//! Sweep figures from hand-written `sweep.csv` files: numeric, unit and categorical
//! keys, one and two varied keys, and the axes on their own.

use std::path::{Path, PathBuf};

use super::super::{render_sweep, sanitize_name, FONT_FAMILY};
use super::axis::{fmt_tick, metric_unit, nice_ticks, XAxis};

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A `sweep.csv` row's statistics columns for one metric.
fn stats(mean: f64, half: f64) -> String {
    format!("{mean},{},{},{}", half / 2.0, mean - half, mean + half)
}

fn check_files(written: &[PathBuf], title_part: &str) {
    assert!(!written.is_empty());
    for p in written {
        let bytes = std::fs::read(p).unwrap();
        match p.extension().unwrap().to_str().unwrap() {
            "svg" => {
                let text = String::from_utf8(bytes).unwrap();
                assert!(text.trim_start().starts_with("<svg"), "{}", p.display());
                assert!(text.contains("</svg>"), "{}", p.display());
                assert!(text.contains(title_part), "{}", p.display());
                assert!(text.contains(FONT_FAMILY));
                assert!(!text.contains("sans-serif"), "{}", p.display());
            }
            "png" => {
                assert_eq!(&bytes[..8], PNG_SIGNATURE, "{}", p.display());
                assert!(bytes.len() > 10_000, "{} suspiciously small", p.display());
            }
            e => panic!("unexpected extension {e}"),
        }
    }
}

fn names(written: &[PathBuf]) -> Vec<String> {
    written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn metrics(m: &[&str]) -> Vec<String> {
    m.iter().map(|s| s.to_string()).collect()
}

#[test]
fn sweep_plot_one_numeric_key() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("fleet-sweep");
    std::fs::create_dir_all(&dir).unwrap();
    // No sweep.json: keys from the header, scenario from the directory's name. The
    // values are out of numeric order; one point has no p99 (empty cells).
    let csv = format!(
        "point,fleet.web.count,replications,backup.duration.p99.mean,backup.duration.p99.sd,backup.duration.p99.ci95_lo,backup.duration.p99.ci95_hi,backup.success_rate.mean,backup.success_rate.sd,backup.success_rate.ci95_lo,backup.success_rate.ci95_hi\n\
         p000,400,5,{},{}\np001,100,5,{},{}\np002,200,5,,,,,{}\n",
        stats(9000.0, 1200.0),
        stats(0.91, 0.02),
        stats(3000.0, 400.0),
        stats(0.99, 0.005),
        stats(0.97, 0.01),
    );
    std::fs::write(dir.join("sweep.csv"), csv).unwrap();
    let written = render_sweep(
        &dir,
        &metrics(&["backup.success_rate", "backup.duration.p99", "not.a.metric"]),
    )
    .unwrap();
    assert_eq!(
        names(&written),
        [
            "sweep_backup.success_rate_by_fleet.web.count.svg",
            "sweep_backup.success_rate_by_fleet.web.count.png",
            "sweep_backup.duration.p99_by_fleet.web.count.svg",
            "sweep_backup.duration.p99_by_fleet.web.count.png",
        ]
    );
    check_files(&written, "fleet-sweep");
    let svg = std::fs::read_to_string(&written[0]).unwrap();
    assert!(svg.contains(
        "backup.success_rate vs fleet.web.count — fleet-sweep (mean, 95% CI over 5 replications)"
    ));
    assert!(svg.contains("95% CI of the mean"));
    assert!(svg.contains("<polygon"), "a CI band");
    let p99 = std::fs::read_to_string(&written[2]).unwrap();
    assert!(p99.contains("backup.duration.p99 (s)"));

    // The same input gives the same bytes, and stale sweep plots are removed.
    let before: Vec<Vec<u8>> = written.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let again = render_sweep(&dir, &metrics(&["backup.success_rate"])).unwrap();
    assert_eq!(again, written[..2]);
    assert_eq!(std::fs::read(&again[0]).unwrap(), before[0]);
    assert_eq!(std::fs::read(&again[1]).unwrap(), before[1]);
    assert!(!written[2].exists(), "stale plot kept");
    // Nothing to draw: no error, no file.
    assert!(render_sweep(&dir, &metrics(&["nope"])).unwrap().is_empty());
    assert!(!written[0].exists());
}

/// A `sweep.json` varying a bandwidth and a duration, 3 replications.
fn write_two_key_definition(dir: &Path) {
    let def = crate::outputs::sweeps::Definition {
        format: crate::outputs::sweeps::FORMAT,
        scenario_name: "quickstart".into(),
        scenario_hash: "0".into(),
        base_seed: 1,
        sets: vec![],
        vary: vec![
            crate::outputs::sweeps::Vary {
                key: "link.wan.bandwidth".into(),
                values: vec!["1 Gbit/s".into(), "100 Mbit/s".into()],
            },
            crate::outputs::sweeps::Vary {
                key: "policy.nightly.start_within".into(),
                values: vec!["30m".into(), "2h".into(), "6h".into()],
            },
        ],
        replications: 3,
        seeds: crate::outputs::sweeps::SeedMode::PerPoint,
        plot_metrics: None,
        outputs: None,
        run_max_events: None,
        targets: vec![],
        max_replications: None,
        baseline: None,
    };
    std::fs::write(
        dir.join("sweep.json"),
        serde_json::to_string_pretty(&def).unwrap(),
    )
    .unwrap();
}

#[test]
fn sweep_plot_two_keys_with_units() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    write_two_key_definition(dir);
    let mut csv = String::from(
        "point,link.wan.bandwidth,policy.nightly.start_within,replications,\
         backup.bytes.full.mean,backup.bytes.full.sd,backup.bytes.full.ci95_lo,backup.bytes.full.ci95_hi,\
         backup.window.miss_rate.mean,backup.window.miss_rate.sd,backup.window.miss_rate.ci95_lo,backup.window.miss_rate.ci95_hi\n",
    );
    let mut i = 0;
    for bw in ["1 Gbit/s", "100 Mbit/s"] {
        for (j, sw) in ["30m", "2h", "6h"].iter().enumerate() {
            let f = if bw == "1 Gbit/s" { 1.0 } else { 3.0 };
            csv.push_str(&format!(
                "p{i:03},{bw},{sw},3,{},{}\n",
                stats(4e12 * f, 3e11),
                stats(0.05 * f / (j + 1) as f64, 0.01),
            ));
            i += 1;
        }
    }
    std::fs::write(dir.join("sweep.csv"), csv).unwrap();
    let written = render_sweep(
        dir,
        &metrics(&["backup.window.miss_rate", "backup.bytes.full"]),
    )
    .unwrap();
    assert_eq!(
        names(&written),
        [
            "sweep_backup.window.miss_rate_by_link.wan.bandwidth.svg",
            "sweep_backup.window.miss_rate_by_link.wan.bandwidth.png",
            "sweep_backup.window.miss_rate_by_policy.nightly.start_within.svg",
            "sweep_backup.window.miss_rate_by_policy.nightly.start_within.png",
            "sweep_backup.bytes.full_by_link.wan.bandwidth.svg",
            "sweep_backup.bytes.full_by_link.wan.bandwidth.png",
            "sweep_backup.bytes.full_by_policy.nightly.start_within.svg",
            "sweep_backup.bytes.full_by_policy.nightly.start_within.png",
        ]
    );
    check_files(&written, "quickstart (mean, 95% CI over 3 replications)");
    let svg = |i: usize| std::fs::read_to_string(&written[i]).unwrap();
    // One line per value of the other key, labelled key=value.
    let by_bw = svg(0);
    for v in ["30m", "2h", "6h"] {
        assert!(
            by_bw.contains(&format!("policy.nightly.start_within={v}")),
            "{v}"
        );
    }
    assert!(by_bw.contains("link.wan.bandwidth (Gbit/s)"));
    assert!(by_bw.contains("100 Mbit/s"), "ticks labelled as given");
    let by_sw = svg(2);
    assert!(by_sw.contains("link.wan.bandwidth=1 Gbit/s"));
    assert!(by_sw.contains("link.wan.bandwidth=100 Mbit/s"));
    assert!(by_sw.contains("policy.nightly.start_within (h)"));
    assert!(svg(4).contains("backup.bytes.full (GB)"));
}

#[test]
fn sweep_plot_categorical_and_single_replication() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    // Inline-table values (quoted in CSV), one replication: no CI cells.
    std::fs::write(
        dir.join("sweep.csv"),
        "point,policy.p.schedule,replications,backup.success_rate.mean,backup.success_rate.sd,backup.success_rate.ci95_lo,backup.success_rate.ci95_hi\n\
         p000,\"{ daily = \"\"22:00\"\" }\",1,0.9,,,\n\
         p001,\"{ daily = \"\"02:00\"\" }\",1,0.95,,,\n",
    )
    .unwrap();
    let written = render_sweep(dir, &metrics(&["backup.success_rate"])).unwrap();
    assert_eq!(
        names(&written),
        [
            "sweep_backup.success_rate_by_policy.p.schedule.svg",
            "sweep_backup.success_rate_by_policy.p.schedule.png"
        ]
    );
    check_files(&written, "over 1 replication)");
    let svg = std::fs::read_to_string(&written[0]).unwrap();
    assert!(svg.contains("no CI: 1 replication"));
    assert!(!svg.contains("<polygon"));

    // No varied key: nothing to plot against.
    let one = tempfile::tempdir().unwrap();
    std::fs::write(
        one.path().join("sweep.csv"),
        "point,replications,backup.success_rate.mean,backup.success_rate.sd,backup.success_rate.ci95_lo,backup.success_rate.ci95_hi\np000,3,0.9,0.01,0.87,0.93\n",
    )
    .unwrap();
    assert!(render_sweep(one.path(), &metrics(&["backup.success_rate"]))
        .unwrap()
        .is_empty());

    // A malformed cell names the file and column.
    std::fs::write(
        one.path().join("sweep.csv"),
        "point,k,replications,m.mean\np000,1,3,abc\n",
    )
    .unwrap();
    let e = render_sweep(one.path(), &metrics(&["m"])).unwrap_err();
    assert!(e.to_string().contains("sweep.csv"), "{e}");
    assert!(e.to_string().contains("m.mean"), "{e}");
}

#[test]
fn sweep_plot_axes() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let a = XAxis::new("fleet.web.count", &s(&["200", "100", "400"]));
    assert!(a.numeric);
    assert_eq!(a.positions, [200.0, 100.0, 400.0]);
    assert_eq!(a.desc, "fleet.web.count");
    assert_eq!(a.ticks[1], (100.0, "100".to_string()));
    let d = XAxis::new("p.start_within", &s(&["30m", "2h"]));
    assert_eq!(
        (d.positions.clone(), d.desc.as_str()),
        (vec![0.5, 2.0], "p.start_within (h)")
    );
    let d = XAxis::new("p.start_within", &s(&["30s", "5m"]));
    assert_eq!(
        (d.positions.clone(), d.desc.as_str()),
        (vec![0.5, 5.0], "p.start_within (min)")
    );
    let d = XAxis::new("p.start_within", &s(&["0", "1d", "3d"]));
    assert_eq!(d.positions, [0.0, 1.0, 3.0]);
    let z = XAxis::new("f.disk_size", &s(&["64 GiB", "512 GiB"]));
    assert_eq!(z.desc, "f.disk_size (GiB)");
    assert_eq!(z.positions, [64.0, 512.0]);
    let z = XAxis::new("f.disk_size", &s(&["500 GB", "2 TB"]));
    assert_eq!(z.desc, "f.disk_size (TB)");
    assert_eq!(z.positions, [0.5, 2.0]);
    let b = XAxis::new("l.bandwidth", &s(&["400 MB/s", "2 GB/s"]));
    assert_eq!(b.desc, "l.bandwidth (GB/s)");
    assert_eq!(b.positions, [0.4, 2.0]);
    let c = XAxis::new("v.redundancy", &s(&["LRS", "GRS", "ZRS"]));
    assert!(!c.numeric);
    assert_eq!(c.positions, [0.0, 1.0, 2.0]);
    assert_eq!(c.range, (-0.5, 2.5));
    // Mixed kinds are categorical.
    assert!(!XAxis::new("x", &s(&["1h", "1 GB"])).numeric);
    // Many values: round ticks rather than one per value.
    let many: Vec<String> = (1..=20).map(|i| (i * 10).to_string()).collect();
    let m = XAxis::new("n", &many);
    assert!(m.ticks.len() < 20 && m.ticks.iter().all(|t| t.0 % 10.0 == 0.0));

    assert_eq!(
        nice_ticks(0.0, 1.0, 8).0,
        [
            0.0,
            0.1,
            0.2,
            0.30000000000000004,
            0.4,
            0.5,
            0.6000000000000001,
            0.7000000000000001,
            0.8,
            0.9,
            1.0
        ]
    );
    assert_eq!(fmt_tick(0.30000000000000004, 0.1), "0.3");
    assert_eq!(fmt_tick(0.9955, 0.0005), "0.9955");
    assert_eq!(fmt_tick(150000.0, 50000.0), "150k");
    assert_eq!(fmt_tick(12500.0, 500.0), "12500");
    assert_eq!(fmt_tick(2.5e7, 5e6), "25M");
    assert_eq!(fmt_tick(-0.0, 1.0), "0");
    assert_eq!(fmt_tick(-0.001, 0.1), "0.0");

    assert_eq!(metric_unit("backup.duration.p99"), (1.0, " (s)"));
    assert_eq!(metric_unit("restore.duration.mean"), (1.0, " (s)"));
    assert_eq!(metric_unit("backup.phase.queue.p99"), (1.0, " (s)"));
    assert_eq!(metric_unit("rpo.p99"), (1.0, " (s)"));
    assert_eq!(metric_unit("vault.v.geo_lag.p50"), (1.0, " (s)"));
    assert_eq!(metric_unit("vault.v.stored_bytes.end"), (1e9, " (GB)"));
    assert_eq!(metric_unit("link.l.bytes"), (1e9, " (GB)"));
    assert_eq!(metric_unit("backup.bytes.full"), (1e9, " (GB)"));
    assert_eq!(metric_unit("backup.success_rate"), (1.0, ""));
    assert_eq!(metric_unit("backup.window.miss_rate"), (1.0, ""));
    assert_eq!(metric_unit("link.l.utilization.mean"), (1.0, ""));
    assert_eq!(sanitize_name("a.b-c_d/e f"), "a.b-c_d_e_f");
}

//! Rendering a synthetic results directory, partial inputs and errors.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::super::input::Table;
use super::super::{render, PlotError, FONT_FAMILY, PLOT_NAMES};
use super::panels::TimeAxis;
use super::phases::PHASES;
use crate::outputs::results::histio::{new_histogram, write_hdr};

/// Deterministic pseudo-random numbers in [0, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Writes a complete synthetic results directory into `dir`.
fn synthetic_results(dir: &Path) {
    let mut rng = Lcg(42);
    synthetic_summary(dir);
    synthetic_histograms(dir, &mut rng);
    synthetic_timeseries(dir, &mut rng);
}

/// `run.json` and `summary.json`: outcomes of every kind and all four phases.
fn synthetic_summary(dir: &Path) {
    std::fs::write(
        dir.join("run.json"),
        r#"{"scenario": "synthetic-fleet", "seed": 7, "wall_seconds": 1.5, "events": 1000}"#,
    )
    .unwrap();
    let summary = serde_json::json!({
        "backup.jobs.total": 10500,
        "backup.jobs.succeeded": 10000,
        "backup.jobs.failed": 380,
        "backup.jobs.unsupported": 120,
        "backup.success_rate": 0.952,
        "backup.failures.ExtensionTimeout": 250,
        "backup.failures.SnapshotQuotaExceeded": 130,
        "unsupported.EncryptedDiskWithoutKey": 120,
        "restore.rejected.NoRecoveryPoint": 4,
        "restore.jobs.total": 60,
        "restore.jobs.succeeded": 50,
        "restore.failures.BackUpOperationFailed": 3,
        "restore.jobs.in_flight": 3,
        "backup.jobs.in_flight": 0,
        "backup.phase.queue.mean": 1800.0,
        "backup.phase.queue.p99": 9000.0,
        "backup.phase.extension.mean": 45.0,
        "backup.phase.extension.p99": 300.0,
        "backup.phase.snapshot.mean": 120.0,
        "backup.phase.snapshot.p99": 600.0,
        "backup.phase.transfer.mean": 2400.0,
        "backup.phase.transfer.p99": 14000.0,
    });
    std::fs::write(dir.join("summary.json"), summary.to_string()).unwrap();
}

/// Job durations from 30 s to ~5 h, recovery point ages around a day.
fn synthetic_histograms(dir: &Path, rng: &mut Lcg) {
    let hd = dir.join("histograms");
    std::fs::create_dir_all(&hd).unwrap();
    let mut dur = new_histogram();
    let mut rpo = new_histogram();
    for _ in 0..5000 {
        // Log-uniform-ish durations from 30 s to ~5 h.
        let s = 30.0 * (600.0f64).powf(rng.next() * rng.next().sqrt());
        dur.record((s * 1e6) as u64).unwrap();
        let age_h = 24.0 * rng.next() + 6.0 * rng.next().powi(8);
        rpo.record((age_h * 3.6e9) as u64).unwrap();
    }
    write_hdr(&hd.join("backup.duration.hdr"), &dur).unwrap();
    write_hdr(&hd.join("rpo.hdr"), &rpo).unwrap();
}

/// 7 days every 5 minutes, backup window 22:00-04:00.
fn synthetic_timeseries(dir: &Path, rng: &mut Lcg) {
    let mut csv = String::from(
        "time_s,running_jobs,queued_jobs,running_restores,windows_open,\
         link.eu-west.throughput_Bps,link.eu-west.utilization,\
         link.us-east.throughput_Bps,link.us-east.utilization,\
         vault.eu-vault.stored_bytes,vault.eu-vault.recovery_points,\
         vault.us-vault.stored_bytes,vault.us-vault.recovery_points,\
         storage.grs.stored_bytes,storage.lrs.stored_bytes,\
         cost.monthly,cost.monthly.instances,cost.monthly.storage\n",
    );
    let (mut eu, mut us) = (0.0f64, 0.0f64);
    for i in 0..(7 * 288) {
        let t = i as f64 * 300.0;
        let hour = (t / 3600.0) % 24.0;
        let open = !(4.0..22.0).contains(&hour);
        let running = if open {
            40.0 + 20.0 * rng.next()
        } else {
            2.0 * rng.next()
        };
        let queued = if open { 200.0 * rng.next() } else { 0.0 };
        let thr1 = if open {
            9.0e8 * (0.7 + 0.3 * rng.next())
        } else {
            2e6
        };
        let thr2 = if open {
            4.0e8 * (0.5 + 0.5 * rng.next())
        } else {
            1e6
        };
        eu += thr1 * 300.0 * 0.1;
        us += thr2 * 300.0 * 0.1;
        writeln!(
            csv,
            "{t},{running:.0},{queued:.0},{},{},{thr1},{},{thr2},{},{eu},{},{us},{},{eu},{us},{},{},{}",
            (rng.next() * 3.0) as u32,
            u8::from(open),
            thr1 / 1.25e9,
            thr2 / 1.25e9,
            i / 3,
            i / 4,
            (eu + us) * 2e-11 + 500.0,
            500.0,
            (eu + us) * 2e-11
        )
        .unwrap();
    }
    std::fs::write(dir.join("timeseries.csv"), csv).unwrap();
    let mut nights = crate::outputs::results::nights::COLUMNS.join(",") + "\n";
    for (fleet, n) in [
        ("web", 0),
        ("web", 1),
        ("web", 2),
        ("db", 0),
        ("db", 1),
        ("db", 2),
    ] {
        let (met, misses, failed, late) = if n == 0 {
            (40, 60, 3, "8100.5")
        } else {
            (95, 3, 3, "-20000")
        };
        nights.push_str(&format!(
            "nightly,{fleet},{n},{n},Mon,0,0,103,103,{},{met},{failed},X:{failed},0,{misses},0.5,{late},1,0.5,\n",
            met + misses - failed
        ));
    }
    std::fs::write(dir.join("nights.csv"), nights).unwrap();
}

fn names_of(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn render_full_results_dir() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_results(dir.path());
    let written = render(dir.path()).unwrap();
    let expected: Vec<String> = PLOT_NAMES
        .iter()
        .flat_map(|n| [format!("{n}.svg"), format!("{n}.png")])
        .collect();
    assert_eq!(names_of(&written), expected);
    for p in &written {
        assert!(p.starts_with(dir.path().join("plots")));
        let bytes = std::fs::read(p).unwrap();
        if p.extension().unwrap() == "svg" {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.trim_start().starts_with("<svg"), "{}", p.display());
            assert!(text.contains("</svg>"));
            assert!(text.contains("synthetic-fleet"), "title in {}", p.display());
            assert!(text.contains(FONT_FAMILY));
            assert!(
                !text.contains("sans-serif"),
                "default font in {}",
                p.display()
            );
        } else {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", p.display());
            assert!(bytes.len() > 10_000, "{} suspiciously small", p.display());
        }
    }
    let svg = |n: &str| std::fs::read_to_string(dir.path().join("plots").join(n)).unwrap();
    assert!(svg("backup_duration_cdf.svg").contains("job duration (s)"));
    assert!(svg("backup_duration_cdf.svg").contains("fraction of jobs ≤ x"));
    assert!(svg("rpo.svg").contains("recovery point age (hours)"));
    assert!(svg("rpo.svg").contains("fraction of samples ≤ x"));
    assert!(svg("timeline.svg").contains("link throughput (MB/s)"));
    assert!(svg("timeline.svg").contains("time since start (days)"));
    assert!(svg("timeline.svg").contains("backup window open"));
    assert!(svg("vault_storage.svg").contains("stored data (GiB)"));
    assert!(svg("vault_storage.svg").contains("vault us-vault"));
    assert!(svg("vault_storage.svg").contains("stored data by redundancy (GiB)"));
    assert!(svg("vault_storage.svg").contains("GRS"));
    assert!(svg("cost.svg").contains("Monthly cost rate over time"));
    assert!(svg("cost.svg").contains("instances"));
    let outcomes = svg("outcomes.svg");
    for k in [
        "backup.jobs.succeeded",
        "backup.failures.ExtensionTimeout",
        "unsupported.EncryptedDiskWithoutKey",
        "restore.rejected.NoRecoveryPoint",
        "restore.jobs.succeeded",
        "restore.failures.BackUpOperationFailed",
        "restore.jobs.in_flight",
    ] {
        assert!(outcomes.contains(k), "{k}");
    }
    assert!(!outcomes.contains("backup.jobs.total"));
    // Outcomes that did not happen are left out.
    assert!(!outcomes.contains("backup.jobs.in_flight"));
    let phases = svg("phase_breakdown.svg");
    for p in PHASES {
        assert!(phases.contains(&format!(">\n{p}\n</text>")), "{p}");
    }
}

#[test]
fn missing_inputs_skip_plots() {
    let dir = tempfile::tempdir().unwrap();
    assert!(render(dir.path()).unwrap().is_empty());
    assert!(!dir.path().join("plots").exists());

    // Only the RPO histogram: one plot, scenario from the directory name.
    let named = dir.path().join("my-run");
    std::fs::create_dir_all(named.join("histograms")).unwrap();
    let mut h = new_histogram();
    h.record(3_600_000_000).unwrap();
    write_hdr(&named.join("histograms/rpo.hdr"), &h).unwrap();
    let written = render(&named).unwrap();
    assert_eq!(names_of(&written), ["rpo.svg", "rpo.png"]);
    let text = std::fs::read_to_string(&written[0]).unwrap();
    assert!(text.contains("my-run"));

    // An empty histogram is skipped too.
    write_hdr(
        &named.join("histograms/backup.duration.hdr"),
        &new_histogram(),
    )
    .unwrap();
    assert_eq!(render(&named).unwrap().len(), 2);
}

#[test]
fn summary_with_single_entries() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("summary.json"),
        r#"{"backup.jobs.succeeded": 0, "backup.phase.transfer.p99": 12.5}"#,
    )
    .unwrap();
    let written = render(dir.path()).unwrap();
    assert_eq!(
        names_of(&written),
        [
            "phase_breakdown.svg",
            "phase_breakdown.png",
            "outcomes.svg",
            "outcomes.png"
        ]
    );
    let text = std::fs::read_to_string(&written[2]).unwrap();
    assert!(text.contains("backup.jobs.succeeded"));
}

#[test]
fn errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("histograms")).unwrap();
    std::fs::write(dir.path().join("histograms/rpo.hdr"), b"junk").unwrap();
    let e = render(dir.path()).unwrap_err();
    assert!(matches!(e, PlotError::Histogram { .. }));
    assert!(e.to_string().contains("rpo.hdr"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("timeseries.csv"),
        "time_s,running_jobs\n0,x\n",
    )
    .unwrap();
    let e = render(dir.path()).unwrap_err();
    assert!(e.to_string().contains("timeseries.csv"), "{e}");
    assert!(e.to_string().contains("running_jobs"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("timeseries.csv"), "running_jobs\n1\n").unwrap();
    let e = render(dir.path()).unwrap_err();
    assert!(matches!(e, PlotError::MissingColumn { .. }), "{e}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("summary.json"), "{").unwrap();
    let e = render(dir.path()).unwrap_err();
    assert!(e.to_string().contains("summary.json"), "{e}");
}

#[test]
fn columns_found_by_name_not_position() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("timeseries.csv"),
        "vault.v1.recovery_points,time_s,windows_open,vault.v1.stored_bytes,link.l.throughput_Bps\n\
         0,0,1,0,5e6\n3,3600,0,1073741824,0\n",
    )
    .unwrap();
    let t = Table::read(&dir.path().join("timeseries.csv")).unwrap();
    assert_eq!(t.family("vault.", ".stored_bytes")[0].0, "v1");
    assert_eq!(t.family("link.", ".throughput_Bps")[0].1, &[5e6, 0.0]);
    let axis = TimeAxis::new(t.require("time_s").unwrap());
    assert_eq!(axis.label, "time since start (hours)");
    assert_eq!(axis.intervals(t.get("windows_open").unwrap()), [(0.0, 1.0)]);
    let written = render(dir.path()).unwrap();
    assert_eq!(
        names_of(&written),
        [
            "timeline.svg",
            "timeline.png",
            "vault_storage.svg",
            "vault_storage.png"
        ]
    );
}

#[test]
fn number_formats() {
    assert_eq!(crate::units::fmt_compact(0.0), "0");
    assert_eq!(crate::units::fmt_compact(0.001), "0.001");
    assert_eq!(crate::units::fmt_compact(0.0123), "0.0123");
    assert_eq!(crate::units::fmt_compact(1.0), "1");
    assert_eq!(crate::units::fmt_compact(12.5), "12.5");
    assert_eq!(crate::units::fmt_compact(1000.0), "1000");
    assert_eq!(crate::units::fmt_compact(10000.0), "10k");
    assert_eq!(crate::units::fmt_compact(250000.0), "250k");
    assert_eq!(crate::units::fmt_compact(3.5e7), "35M");
    assert_eq!(crate::units::fmt_duration(0.25), "250 ms");
    assert_eq!(crate::units::fmt_duration(45.0), "45 s");
    assert_eq!(crate::units::fmt_duration(1800.0), "30 min");
    assert_eq!(crate::units::fmt_duration(9000.0), "2.5 h");
    assert_eq!(crate::units::fmt_duration(3.0 * 86400.0), "3 d");
}

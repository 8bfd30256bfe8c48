//! What a sweep computes over its replications: adaptive replications, paired
//! differences and the long-format export.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;

/// Rows of a CSV file as column → cell maps.
fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    csv_rows_of(&std::fs::read_to_string(path).unwrap())
}

/// The text of a gzip-compressed file.
fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut text,
    )
    .unwrap();
    text
}

/// Rows of CSV text as column → cell maps.
fn csv_rows_of(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            head.iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// A metric of runs.csv for one point, by replication.
fn run_values(dir: &Path, point: &str, metric: &str) -> Vec<f64> {
    csv_rows(&dir.join("runs.csv"))
        .iter()
        .filter(|r| r["point"] == point)
        .map(|r| r[metric].parse().unwrap())
        .collect()
}

fn adaptive(scenario: &Path, out: &Path, extra: &[&str]) -> String {
    adaptive_capped(scenario, out, "30", extra)
}

fn adaptive_capped(scenario: &Path, out: &Path, cap: &str, extra: &[&str]) -> String {
    let mut a = vec![
        "sweep",
        scenario.to_str().unwrap(),
        "--vary",
        "fleet.web.count=20,40",
        "--replications",
        "3",
        "--target",
        "backup.duration.mean=20%",
        "--max-replications",
        cap,
        "--no-plots",
        "--out",
        out.to_str().unwrap(),
    ];
    a.extend(extra);
    ok(&a)
}

#[test]
fn adaptive_sweep_stops_within_its_target() {
    use backupsim::outputs::sweeps::rel_halfwidth;
    let (t, s) = setup();
    let out = t.path().join("ad");
    adaptive(&s, &out, &["--quiet"]);
    let def: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(def["targets"][0]["metric"], "backup.duration.mean");
    assert_eq!(def["targets"][0]["rel_halfwidth"], 0.2);
    assert_eq!(def["max_replications"], 30);
    let rows = csv_rows(&out.join("sweep.csv"));
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let p = &row["point"];
        let n: usize = row["replications"].parse().unwrap();
        let xs = run_values(&out, p, "backup.duration.mean");
        assert_eq!(xs.len(), n, "{p}: runs.csv has every replication used");
        assert!(
            n > 3 && n < 30,
            "{p}: {n} replications: neither the start nor the cap"
        );
        // Met at n, and at no earlier count: the sweep stopped as soon as it was.
        let h = rel_halfwidth(&xs).unwrap();
        assert!(h <= 0.2, "{p}: half-width {h} at {n}");
        for m in 3..n {
            let hm = rel_halfwidth(&xs[..m]).unwrap();
            assert!(hm > 0.2, "{p}: already met at {m} ({hm}) but ran {n}");
        }
        assert_eq!(row["target.backup.duration.mean.met"], "true");
        assert_eq!(
            row["target.backup.duration.mean.rel_halfwidth"]
                .parse::<f64>()
                .unwrap(),
            h
        );
        // No run beyond the last one used.
        assert!(!out.join(format!("runs/{p}/rep-{n}")).exists());
    }
    // A cap below what the target needs: stopped at the cap, the target marked unmet.
    let capped = t.path().join("capped");
    adaptive_capped(&s, &capped, "4", &["--quiet"]);
    for row in csv_rows(&capped.join("sweep.csv")) {
        assert_eq!(row["replications"], "4");
        assert_eq!(row["target.backup.duration.mean.met"], "false");
    }
}

#[test]
fn adaptive_sweep_is_thread_independent() {
    let (t, s) = setup();
    let (one, two, shared) = (
        t.path().join("one"),
        t.path().join("two"),
        t.path().join("shared"),
    );
    adaptive(&s, &one, &["--threads", "1", "--quiet"]);
    adaptive(&s, &two, &["--threads", "2", "--quiet"]);
    assert_same_tree(&one, &two);
    // Shards split by point: each runs its points' rounds to the end alone.
    adaptive(&s, &shared, &["--shard", "0/2", "--quiet"]);
    assert!(shared.join("runs/p000").is_dir() && !shared.join("runs/p001").exists());
    adaptive(&s, &shared, &["--shard", "1/2", "--quiet"]);
    let sh = shared.to_str().unwrap();
    ok(&["merge", sh, "--out", sh, "--no-plots", "--quiet"]);
    assert_same_tree(&one, &shared);
}

#[test]
fn target_on_unknown_metric_suggests_names() {
    let (t, s) = setup();
    let out = t.path().join("never");
    let sc = s.to_str().unwrap();
    let o = out.to_str().unwrap();
    let fails = |extra: &[&str], want: &[&str]| {
        let mut a = vec!["sweep", sc, "--out", o];
        a.extend(extra);
        let r = bin(&a);
        let err = String::from_utf8_lossy(&r.stderr).to_string();
        assert_eq!(r.status.code(), Some(2), "{extra:?}: {err}");
        for w in want {
            assert!(err.contains(w), "{extra:?}: expected {w:?} in: {err}");
        }
        assert!(!out.exists(), "{extra:?} wrote {}", out.display());
    };
    fails(
        &["--target", "backup.duraton.p99=2%"],
        &["backup.duraton.p99", "did you mean backup.duration.p99"],
    );
    fails(&["--target", "backup.duration.p99=0%"], &["above 0"]);
    fails(&["--target", "backup.duration.p99=-2%"], &["above 0"]);
    fails(&["--target", "backup.duration.p99=two"], &["half-width"]);
    fails(&["--target", "backup.duration.p99"], &["METRIC=HALFWIDTH"]);
    fails(
        &[
            "--target",
            "backup.duration.p99=2%",
            "--replications",
            "5",
            "--max-replications",
            "4",
        ],
        &["--max-replications 4", "at least --replications (5)"],
    );
    fails(&["--max-replications", "9"], &["only goes with --target"]);
    fails(&["--baseline", "p000"], &["--common-seeds"]);
    fails(
        &[
            "--common-seeds",
            "--baseline",
            "p007",
            "--vary",
            "fleet.web.count=1,2",
        ],
        &["--baseline p007", "p001"],
    );
}

#[test]
fn paired_difference_ci_is_narrower_with_common_seeds() {
    use backupsim::outputs::sweeps::stats;
    let (t, s) = setup();
    let m = "backup.duration.mean";
    let width = |dir: &Path, extra: &[&str]| -> (f64, Vec<BTreeMap<String, String>>) {
        let mut a = vec![
            "sweep",
            s.to_str().unwrap(),
            "--vary",
            "link.wan.bandwidth=1 Gbit/s,800 Mbit/s",
            "--replications",
            "4",
            "--no-plots",
            "--quiet",
            "--out",
            dir.to_str().unwrap(),
        ];
        a.extend(extra);
        ok(&a);
        let (x, y) = (run_values(dir, "p000", m), run_values(dir, "p001", m));
        let d: Vec<f64> = y.iter().zip(&x).map(|(b, a)| b - a).collect();
        let (lo, hi) = stats(&d).unwrap().ci95.unwrap();
        (hi - lo, csv_rows(&dir.join("sweep.csv")))
    };
    let (crn, rows) = width(&t.path().join("crn"), &["--common-seeds"]);
    let (indep, indep_rows) = width(&t.path().join("indep"), &[]);
    assert!(
        crn * 2.0 < indep,
        "common seeds: paired CI width {crn}, independent seeds {indep}"
    );
    // sweep.csv gives the paired difference to the baseline (the first point) and its CI.
    let lo: f64 = rows[1][&format!("{m}.diff_ci95_lo")].parse().unwrap();
    let hi: f64 = rows[1][&format!("{m}.diff_ci95_hi")].parse().unwrap();
    assert!((hi - lo - crn).abs() < 1e-6 * crn, "{lo}..{hi} vs {crn}");
    assert_eq!(rows[0][&format!("{m}.diff")], "0");
    assert!(!indep_rows[0].contains_key(&format!("{m}.diff")));
    // --baseline by values: the other point.
    let (_, rows) = width(
        &t.path().join("base"),
        &[
            "--common-seeds",
            "--baseline",
            "link.wan.bandwidth=800 Mbit/s",
        ],
    );
    assert_eq!(rows[1][&format!("{m}.diff")], "0");
    let d: f64 = rows[0][&format!("{m}.diff")].parse().unwrap();
    assert!(d < 0.0, "the faster link is quicker: {d}");
}

#[test]
fn long_csv_has_one_row_per_run_and_metric() {
    let (t, s) = setup();
    let out = t.path().join("long");
    sweep(&s, &out, &["--no-plots", "--quiet"]);
    let runs = csv_rows(&out.join("runs.csv"));
    let text = gunzip(&out.join("sweep.long.csv.gz"));
    let long = csv_rows_of(&text);
    let head = text;
    assert!(head.starts_with("point,fleet.web.count,link.wan.bandwidth,replication,metric,value\n"));
    let skip = [
        "point",
        "replication",
        "seed",
        "fleet.web.count",
        "link.wan.bandwidth",
    ];
    let metrics: Vec<&String> = runs[0]
        .keys()
        .filter(|k| !skip.contains(&k.as_str()))
        .collect();
    assert_eq!(long.len(), runs.len() * metrics.len());
    // Run order, then metrics by name; the values are runs.csv's.
    let mut i = 0;
    for r in &runs {
        for m in &metrics {
            let l = &long[i];
            assert_eq!(
                (&l["point"], &l["replication"], &l["metric"], &l["value"]),
                (&r["point"], &r["replication"], *m, &r[*m])
            );
            assert_eq!(l["link.wan.bandwidth"], r["link.wan.bandwidth"]);
            i += 1;
        }
    }
    // costs.csv: one row per run, from run.json.
    let costs = csv_rows(&out.join("costs.csv"));
    assert_eq!(costs.len(), runs.len());
    for c in &costs {
        assert!(c["wall_seconds"].parse::<f64>().unwrap() > 0.0);
        assert!(c["events"].parse::<u64>().unwrap() > 0);
    }
    // Percentile columns: the mean over runs of each run's p99, and the p99 of the merged
    // histogram (points/<point>/summary.json), side by side.
    let sw = csv_rows(&out.join("sweep.csv"));
    let merged: BTreeMap<String, f64> = serde_json::from_str(
        &std::fs::read_to_string(out.join("points/p000/summary.json")).unwrap(),
    )
    .unwrap();
    let p99: f64 = sw[0]["backup.duration.p99.merged"].parse().unwrap();
    assert_eq!(p99, merged["backup.duration.p99"]);
    let per_run = run_values(&out, "p000", "backup.duration.p99");
    let mean: f64 = sw[0]["backup.duration.p99.mean"].parse().unwrap();
    assert_eq!(mean, per_run.iter().sum::<f64>() / per_run.len() as f64);
    assert!(!sw[0].contains_key("backup.success_rate.merged"));
}

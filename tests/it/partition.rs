//! Partitioned runs: a scenario's independent parts simulated apart and merged give the
//! files of the whole run.

use std::collections::BTreeMap;
use std::path::Path;

use backupsim::model::partition::{assign, components, sub_config};
use backupsim::model::simulate;
use backupsim::scenario::load_str;

use crate::common::*;

/// Three regions with a link, vault and policy each. East has two fleets and a restore
/// drill; its second fleet backs up to the north vault over the north link, so region east
/// spans two components. The north fleet also crosses the west link: north and west are
/// one component.
pub fn regions_src() -> String {
    let region = |r: &str, link: &str, fleets: &[(&str, u32)]| {
        let mut s = format!(
            r#"
[[region]]
name = "{r}"

[[link]]
name = "{link}"
bandwidth = "1 Gbit/s"
latency = "2ms"

[[vault]]
name = "vault-{r}"
region = "{r}"
redundancy = "LRS"
create_time = {{ dist = "uniform", min = "2m", max = "10m" }}
max_concurrent_jobs = 4

[[policy]]
name = "nightly-{r}"
vault = "vault-{r}"
schedule = {{ daily = "22:00" }}
start_within = "1h"
window = "8h"
retention = {{ daily = 7 }}
"#
        );
        for (f, n) in fleets {
            s += &format!(
                r#"
[[fleet]]
name = "{f}"
count = {n}
region = "{r}"
policy = "nightly-{r}"
path = ["{link}"]
os = {{ choice = {{ "windows-2012r2" = 0.7, "ubuntu-14.04" = 0.3 }} }}
running = 0.95
agent = {{ installed = 0.95, responsive = 0.99 }}
data_disks = {{ dist = "uniform-int", min = 1, max = 3 }}
disk_size = "64 GiB"
used = {{ dist = "uniform", min = 0.2, max = 0.6 }}
daily_churn = {{ dist = "lognormal", mean = 0.03, sd = 0.02 }}
on_demand = {{ per_vm_per_day = 0.05 }}
"#
            );
        }
        s
    };
    let mut s = String::from(
        "[simulation]\nname = \"regions\"\nseed = 11\nduration = \"3d\"\nsample_every = \"1h\"\n",
    );
    s += &region("east", "east-link", &[("east-web", 12), ("east-db", 5)]);
    s += &region("west", "west-link", &[("west-web", 10)]);
    s += &region("north", "north-link", &[("north-app", 6)]);
    // The north fleet also crosses the west link: north and west are one component.
    s = s.replace(
        "policy = \"nightly-north\"\npath = [\"north-link\"]",
        "policy = \"nightly-north\"\npath = [\"north-link\", \"west-link\"]",
    );
    s = s.replace(
        "region = \"east\"\npolicy = \"nightly-east\"\npath = [\"east-link\"]",
        "region = \"east\"\npolicy = \"nightly-north\"\npath = [\"north-link\"]",
    );
    // Only the second east fleet: the first keeps its own vault.
    s = s.replacen(
        "region = \"east\"\npolicy = \"nightly-north\"\npath = [\"north-link\"]",
        "region = \"east\"\npolicy = \"nightly-east\"\npath = [\"east-link\"]",
        1,
    );
    s += r#"
[[restore]]
name = "drill"
fleet = "east-web"
at = "2d 10h"
count = 3
kind = "create-vm"
point = "latest"
"#;
    s
}

/// The summary of a configuration, through the model.
fn summary_of(c: &backupsim::model::Config) -> BTreeMap<String, f64> {
    simulate(c, &mut backupsim::model::NoObserver)
        .expect("runs")
        .summary
}

#[test]
fn components_follow_shared_vaults_and_links() {
    let loaded = load_str(&regions_src(), Path::new("regions.toml"), &[]).unwrap();
    let comps = components(&loaded.config);
    let fleets: Vec<Vec<usize>> = comps.iter().map(|c| c.fleets.clone()).collect();
    // east-web | east-db, west-web, north-app (over the north vault and the west link)
    assert_eq!(fleets, vec![vec![0], vec![1, 2, 3]]);
    assert_eq!(comps[0].restores, vec![0]);
    assert_eq!(comps[1].links, vec![1, 2]);
    assert_eq!(comps[1].vaults, vec![1, 2]);
    let parts = assign(&comps, 3);
    assert!(parts[2].fleets.is_empty());
    // Component k goes to part k mod N.
    assert_eq!(assign(&comps, 1)[0].fleets, vec![0, 1, 2, 3]);
}

#[test]
fn each_fleet_draws_the_same_alone_as_in_the_whole_run() {
    let loaded = load_str(&regions_src(), Path::new("regions.toml"), &[]).unwrap();
    let whole = summary_of(&loaded.config);
    let mut seen = 0;
    for comp in components(&loaded.config) {
        let part = summary_of(&sub_config(&loaded.config, &comp));
        for (k, v) in &part {
            let owned = ["fleet.", "vault.", "link.", "policy."]
                .iter()
                .any(|p| k.starts_with(p));
            if owned {
                assert_eq!(whole.get(k), Some(v), "{k}");
                seen += 1;
            }
        }
    }
    assert!(seen > 50, "{seen}");
}

/// The result files of a results directory: summary, histograms, nights and time
/// series.
fn results_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(dir)
        .into_iter()
        .filter(|(k, _)| {
            ["summary.json", "nights.csv", "timeseries.csv"].contains(&k.as_str())
                || k.starts_with("histograms")
        })
        .collect()
}

/// `regions_src` with prices, and points that expire after a day: the vaults' stored bytes
/// rise and fall, each part's peak at its own time.
fn priced_regions_src() -> String {
    regions_src()
        .replace("retention = { daily = 7 }", "retention = { daily = 1 }")
        .replace(
            "name = \"nightly-east\"\nvault = \"vault-east\"\nschedule = { daily = \"22:00\" }",
            "name = \"nightly-east\"\nvault = \"vault-east\"\nschedule = { daily = \"10:00\" }",
        )
        + r#"
[cost]
currency = "USD"
instance_tiers = [{ up_to = "50 GB", price = 5 }, { up_to = "500 GB", price = 10 }]
storage_grs = 0.048
storage_lrs = 0.0237
restore_egress = 0.087
"#
}

fn run_ok(args: &[&str]) {
    let o = run_bin(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
}

/// A temporary directory holding `src` as `regions.toml`, and the scenario's path.
fn scenario_in_tmp(src: &str) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let sc = tmp.path().join("regions.toml");
    std::fs::write(&sc, src).unwrap();
    let sc = sc.to_string_lossy().into_owned();
    (tmp, sc)
}

/// Runs parts 1/2 and 2/2 of `scenario` into `dir/p1` and `dir/p2` with `flags`.
fn run_two_parts(scenario: &str, dir: &Path, flags: &[&str]) -> [std::path::PathBuf; 2] {
    ["1", "2"].map(|i| {
        let out = dir.join(format!("p{i}"));
        let part = format!("{i}/2");
        let head = [
            "run",
            scenario,
            "--out",
            out.to_str().unwrap(),
            "--partition",
            &part,
        ];
        run_ok(&[&head[..], flags].concat());
        out
    })
}

/// Merges `dir/p1` and `dir/p2` into `dir/m` with `flags`.
fn merge_two_parts(dir: &Path, flags: &[&str]) -> std::path::PathBuf {
    let [p1, p2, m] = ["p1", "p2", "m"].map(|n| dir.join(n));
    let head = [
        "merge",
        p1.to_str().unwrap(),
        p2.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
    ];
    run_ok(&[&head[..], flags].concat());
    m
}

#[test]
fn partitioned_runs_merge_into_the_whole_runs_files() {
    let (tmp, sc) = scenario_in_tmp(&priced_regions_src());
    let sc = sc.as_str();
    let d = |n: &str| tmp.path().join(n).to_string_lossy().into_owned();
    let quiet = ["--quiet", "--no-plots", "--batches", "3"];
    run_ok(&[&["run", sc, "--out", &d("whole")][..], &quiet].concat());
    run_ok(
        &[
            &["run", sc, "--out", &d("auto"), "--partition", "auto"][..],
            &quiet,
        ]
        .concat(),
    );
    for i in ["1/2", "2/2"] {
        let out = d(&format!("part{}", &i[..1]));
        run_ok(&[&["run", sc, "--out", &out, "--partition", i][..], &quiet].concat());
    }
    run_ok(&[
        "merge",
        &d("part2"),
        &d("part1"),
        "--out",
        &d("merged"),
        "--quiet",
    ]);
    let whole = results_files(Path::new(&d("whole")));
    assert!(whole.len() > 5, "{:?}", whole.keys());
    for f in ["nights.csv", "timeseries.csv"] {
        assert!(whole.contains_key(f), "{f}");
    }
    let series = String::from_utf8_lossy(&whole["timeseries.csv"]).into_owned();
    assert!(
        series
            .lines()
            .next()
            .unwrap()
            .ends_with("cost.monthly.storage"),
        "{series}"
    );
    // The keys a summary alone cannot give are there, and the peak of the stored bytes
    // is not the sum of the parts' peaks (which the merge used to approximate it with).
    let read_summary = |p: &Path| backupsim::outputs::results::read::read_summary(p).unwrap();
    let summary = read_summary(Path::new(&d("whole")));
    for k in ["cost.total", "batches.rpo.mean", "storage.stored_bytes.max"] {
        assert!(summary.contains_key(k), "{k}");
    }
    let peaks: f64 = ["1", "2"]
        .iter()
        .map(|i| read_summary(Path::new(&d(&format!("part{i}"))))["storage.stored_bytes.max"])
        .sum();
    assert!(summary["storage.stored_bytes.max"] < peaks);
    assert!(summary["storage.stored_bytes.max"] > summary["storage.stored_bytes.end"]);
    for other in ["auto", "merged"] {
        let got = results_files(Path::new(&d(other)));
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            whole.keys().collect::<Vec<_>>()
        );
        // Byte for byte: summary and histograms.
        for (k, v) in &whole {
            assert!(
                &got[k] == v,
                "{other}: {k} differs:\n{}\n{}",
                String::from_utf8_lossy(v),
                String::from_utf8_lossy(&got[k])
            );
        }
        // Nothing approximated.
        let run: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(&d(other)).join("run.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(run["approximate_metrics"], serde_json::json!([]));
    }
    // More parts than components: the empty part merges in as nothing.
    for i in 1..=3 {
        let out = d(&format!("third{i}"));
        let p = format!("{i}/3");
        run_ok(&[&["run", sc, "--out", &out, "--partition", &p][..], &quiet].concat());
    }
    run_ok(&[
        "merge",
        &d("third1"),
        &d("third2"),
        &d("third3"),
        "--out",
        &d("m3"),
        "--quiet",
    ]);
    assert!(results_files(Path::new(&d("m3"))) == whole);
}

#[test]
fn bad_partitions_are_refused_and_write_nothing() {
    let (tmp, sc) = scenario_in_tmp(&regions_src());
    let out = tmp.path().join("out");
    for bad in ["3/2", "0/2", "x", "1/0"] {
        let o = run_bin(&[
            "run",
            &sc,
            "--out",
            out.to_str().unwrap(),
            "--partition",
            bad,
            "--quiet",
        ]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(stderr(&o).contains("auto` or I/N"), "{}", stderr(&o));
        assert!(!out.exists());
    }
}

#[test]
fn merge_refuses_a_missing_part_and_parts_of_other_seeds() {
    let (tmp, sc) = scenario_in_tmp(&regions_src());
    let sc = sc.as_str();
    let d = |n: &str| tmp.path().join(n).to_string_lossy().into_owned();
    let q = ["--quiet", "--no-plots", "--outputs", "histograms"];
    run_ok(
        &[
            &["run", sc, "--out", &d("a1"), "--partition", "1/2"][..],
            &q,
        ]
        .concat(),
    );
    run_ok(
        &[
            &[
                "run",
                sc,
                "--out",
                &d("b2"),
                "--partition",
                "2/2",
                "--seed",
                "5",
            ][..],
            &q,
        ]
        .concat(),
    );
    // A whole run's results directory is no part.
    run_ok(&[&["run", sc, "--out", &d("whole")][..], &q].concat());
    for (dirs, says) in [
        (vec![d("a1")], "part 2/2 of scenario regions is missing"),
        (vec![d("a1"), d("b2")], "are not parts of one run"),
        (vec![d("a1"), d("a1")], "given more than once"),
        (vec![d("whole"), d("a1")], "not a part directory"),
    ] {
        let mut args = vec!["merge".to_string()];
        args.extend(dirs);
        args.extend(["--out".into(), d("m"), "--quiet".into()]);
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let o = run_bin(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
        assert!(!Path::new(&d("m")).exists());
    }
}

/// A part's files that do not fit the others (a time series cut short, a cost column
/// that is not a number, a damaged stored-bytes trace) are errors naming the file, exit 2, and nothing is written.
#[test]
fn merge_refuses_damaged_part_files() {
    let (tmp, sc) = scenario_in_tmp(&priced_regions_src());
    let sc = sc.as_str();
    let d = |n: &str| tmp.path().join(n).to_string_lossy().into_owned();
    let flags = [
        "--quiet",
        "--no-plots",
        "--outputs",
        "histograms,timeseries",
    ];
    run_two_parts(sc, tmp.path(), &flags);
    // Damages `file` with `damage`, checks that the merge refuses it saying `says` and
    // writes nothing, then restores it.
    let refused = |file: &Path, damage: &dyn Fn(&[u8]) -> Vec<u8>, says: &str| {
        let good = std::fs::read(file).unwrap();
        std::fs::write(file, damage(&good)).unwrap();
        let o = run_bin(&["merge", &d("p1"), &d("p2"), "--out", &d("m"), "--quiet"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
        assert!(!Path::new(&d("m")).exists());
        std::fs::write(file, good).unwrap();
    };
    let first_rows = |b: &[u8]| -> Vec<u8> {
        let text = String::from_utf8_lossy(b);
        text.lines()
            .take(5)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .into_bytes()
    };
    refused(
        &Path::new(&d("p2")).join("timeseries.csv"),
        &first_rows,
        "p2/timeseries.csv: 4 rows where the first part has 72",
    );
    // The last column of a priced part's time series is an exact cost sum.
    let last_cell = |b: &[u8]| -> Vec<u8> {
        let text = String::from_utf8_lossy(b);
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let (row, _) = lines[1].rsplit_once(',').unwrap();
        lines[1] = format!("{row},x");
        (lines.join("\n") + "\n").into_bytes()
    };
    refused(
        &Path::new(&d("p1")).join("timeseries.csv"),
        &last_cell,
        "p1/timeseries.csv: row 2: column part.cost.stored_lrs is not a whole number: x",
    );
    refused(
        &Path::new(&d("p1")).join("part-storage.bin"),
        &|b: &[u8]| b[..b.len() - 1].to_vec(),
        "part-storage.bin: its index is cut short or damaged",
    );
    merge_two_parts(tmp.path(), &["--quiet"]);
}

/// A partitioned run draws the plots a whole run draws, from its merged files.
#[test]
fn partitioned_runs_draw_the_whole_runs_plots() {
    let (tmp, sc) = scenario_in_tmp(&regions_src());
    let sc = sc.as_str();
    let d = |n: &str| tmp.path().join(n);
    let plots = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir.join("plots"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    run_ok(&["run", sc, "--out", d("whole").to_str().unwrap(), "--quiet"]);
    // Without --quiet it says how far it got, part by part (two components here).
    let o = run_bin(&[
        "run",
        sc,
        "--out",
        d("auto").to_str().unwrap(),
        "--partition",
        "auto",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (part, vms) in [("1/2", 12), ("2/2", 21)] {
        assert!(
            stderr(&o).contains(&format!("part {part} ({vms} VMs) simulated in")),
            "{}",
            stderr(&o)
        );
    }
    assert!(stderr(&o).contains("2 of 2 done"), "{}", stderr(&o));
    let whole = plots(&d("whole"));
    assert!(whole.iter().any(|p| p == "timeline.png"), "{whole:?}");
    assert_eq!(plots(&d("auto")), whole);
    run_two_parts(sc, tmp.path(), &["--quiet", "--no-plots"]);
    let m = merge_two_parts(tmp.path(), &["--quiet"]);
    assert_eq!(plots(&m), whole);
}

/// Part directories written before parts recorded the whole run's layout, their cost
/// sums and their stored-bytes traces still merge: the summary and histograms, with the
/// keys they cannot determine approximated and listed in `run.json`.
#[test]
fn parts_without_their_records_still_merge_approximately() {
    let (tmp, sc) = scenario_in_tmp(&regions_src());
    let sc = sc.as_str();
    for out in run_two_parts(sc, tmp.path(), &["--quiet", "--no-plots"]) {
        let marker = out.join("partition.json");
        let mut info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&marker).unwrap()).unwrap();
        for k in ["layout", "costs", "batch_sums"] {
            info.as_object_mut().unwrap().remove(k);
        }
        std::fs::write(&marker, info.to_string()).unwrap();
        std::fs::remove_file(out.join("part-storage.bin")).unwrap();
    }
    let m = merge_two_parts(tmp.path(), &["--quiet", "--no-plots"]);
    assert!(m.join("summary.json").is_file());
    assert!(!m.join("nights.csv").exists());
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(m.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        run["approximate_metrics"],
        serde_json::json!(["storage.stored_bytes.max"])
    );
}

/// The `run.json` of a run split into parts, as `run --partition auto` and `merge` wrote
/// it, had only the scenario, seed and number of parts: no events, no outputs, and the
/// notes of the parts' runs (a distribution's draws saturated at their cap) were lost.
#[test]
fn partitioned_run_json_says_what_the_whole_runs_says() {
    let (tmp, sc) = scenario_in_tmp(&regions_src());
    let sc = sc.as_str();
    let d = |n: &str| tmp.path().join(n).to_string_lossy().into_owned();
    // Heavy-tailed snapshot times: both parts saturate draws of this one distribution.
    let heavy = "timing.snapshot_per_disk={ dist = \"pareto\", scale = \"1m\", shape = 0.1 }";
    let flags = ["--quiet", "--no-plots", "--jobs-csv", "off", "--set", heavy];
    let whole = ["run", sc, "--out", &d("whole"), "--partition", "off"];
    run_ok(&[&whole[..], &flags].concat());
    run_ok(
        &[
            &["run", sc, "--out", &d("auto"), "--partition", "auto"][..],
            &flags,
        ]
        .concat(),
    );
    run_two_parts(sc, tmp.path(), &flags);
    merge_two_parts(tmp.path(), &["--quiet", "--no-plots"]);
    let json = |n: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(Path::new(&d(n)).join("run.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let whole = json("whole");
    let notes = whole["notes"].as_array().unwrap();
    assert!(
        notes.len() == 1 && notes[0].as_str().unwrap().contains("saturated to it"),
        "{notes:?}"
    );
    for other in ["auto", "m"] {
        let got = json(other);
        for (k, v) in whole.as_object().unwrap() {
            assert!(got.get(k).is_some(), "{other}: run.json lacks {k}");
            if [
                "notes",
                "outputs",
                "cut_short",
                "deterministic",
                "simulated",
                "seed",
            ]
            .contains(&k.as_str())
            {
                assert_eq!(&got[k], v, "{other}: {k}");
            }
        }
        // Every part samples its own time series: a few more events than the one run.
        let (events, parts) = (
            got["events"].as_u64().unwrap(),
            whole["events"].as_u64().unwrap(),
        );
        assert!(
            events >= parts && events < parts + parts / 2,
            "{other}: {events} vs {parts}"
        );
    }
    assert_eq!(json("auto")["jobs_csv_note"], whole["jobs_csv_note"]);
}

/// `--partition auto` dropped `--jobs-csv on` without a word (the parts' files are
/// scaffolding), and a run stopped at `--run-max-events` lost its cut-short flag in the
/// merge: both are refused before anything runs.
#[test]
fn partition_auto_refuses_what_a_split_cannot_do() {
    let (tmp, sc) = scenario_in_tmp(&regions_src());
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    for (flag, value) in [
        ("--jobs-csv", "on"),
        ("--run-max-events", "1000"),
        ("--run-max-wall", "1h"),
    ] {
        let r = run_bin(&["run", &sc, "--out", o, "--partition", "auto", flag, value]);
        let e = stderr(&r);
        assert_eq!(r.status.code(), Some(2), "{flag}: {e}");
        assert!(
            e.contains("--partition auto cannot") && e.contains("--partition off"),
            "{flag}: {e}"
        );
        assert!(
            !e.contains("capacity estimate"),
            "refused before the run's report: {e}"
        );
        assert!(!out.exists(), "{flag}");
    }
    // The scenario's own jobs.csv setting (written below the automatic limit): the split
    // runs, and says why there is no jobs.csv.
    run_ok(&[
        "run",
        &sc,
        "--out",
        o,
        "--partition",
        "auto",
        "--quiet",
        "--no-plots",
    ]);
    assert!(!out.join("jobs.csv").exists());
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let note = run["jobs_csv_note"].as_str().unwrap();
    assert!(note.contains("--partition off"), "{note}");
}

/// Parts stopped at `--run-max-events` merged into a summary whose `run.cut_short` was
/// the number of parts cut short (2), and a `run.json` that said nothing of it.
#[test]
fn merged_parts_cut_short_stay_cut_short() {
    let (tmp, sc) = scenario_in_tmp(&regions_src());
    let flags = ["--quiet", "--no-plots", "--run-max-events", "300"];
    run_two_parts(&sc, tmp.path(), &flags);
    let m = merge_two_parts(tmp.path(), &["--quiet", "--no-plots"]);
    let summary = backupsim::outputs::results::read::read_summary(&m).unwrap();
    assert_eq!(summary.get("run.cut_short"), Some(&1.0));
    assert_eq!(summary.get("run.cut_short_wall"), None);
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(m.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["cut_short"], true);
    assert_eq!(run["deterministic"], true);
    let notes = run["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("cut short: parts 1, 2 of 2 stopped")),
        "{notes:?}"
    );
}

//! `backupsim init`: the scenario it writes validates and runs, and it never overwrites.

use std::path::Path;

use crate::common::bin;

fn init(dir: &Path, args: &[&str]) -> std::process::Output {
    bin()
        .current_dir(dir)
        .arg("init")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn init_writes_a_scenario_that_validates_and_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let o = init(tmp.path(), &["--vms", "20"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = tmp.path().join("scenario.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    // Every default says where it comes from.
    assert!(text.contains("planning assumption"));
    assert!(text.contains("2015"));
    for table in [
        "[simulation]",
        "[[region]]",
        "[[link]]",
        "[[vault]]",
        "[[policy]]",
    ] {
        assert!(text.contains(table), "{table} missing");
    }
    assert!(text.contains("window = \"8h\""));
    assert!(text.contains("[[restore]]"));
    assert!(text.matches("[[expect]]").count() >= 2);

    let v = bin()
        .current_dir(tmp.path())
        .args(["validate", "scenario.toml", "--deny-warnings"])
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let c = bin()
        .current_dir(tmp.path())
        .args(["check", "scenario.toml", "--quiet", "--deny-warnings"])
        .args(["--set", "simulation.duration=6d"])
        .output()
        .unwrap();
    assert_eq!(
        c.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&c.stdout),
        String::from_utf8_lossy(&c.stderr)
    );
    assert!(tmp.path().join("results/scenario/summary.json").is_file());
}

#[test]
fn init_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("mine.toml");
    std::fs::write(&file, "# my own scenario\n").unwrap();
    let o = init(tmp.path(), &["--out", "mine.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("mine.toml"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "# my own scenario\n"
    );
}

#[test]
fn init_vms_and_region_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let o = init(
        tmp.path(),
        &["--vms", "37", "--region", "west-europe", "--out", "eu.toml"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let l = backupsim::scenario::load(&tmp.path().join("eu.toml"), &[]).unwrap();
    let s = &l.scenario;
    assert_eq!(s.fleet.len(), 1);
    assert_eq!(s.fleet[0].count, 37);
    assert_eq!(s.fleet[0].region, "west-europe");
    assert_eq!(s.vault[0].region, "west-europe");
    let regions: Vec<(&str, Option<&str>)> = s
        .region
        .iter()
        .map(|r| (r.name.as_str(), r.paired.as_deref()))
        .collect();
    assert_eq!(
        regions,
        [
            ("west-europe", Some("north-europe")),
            ("north-europe", Some("west-europe"))
        ]
    );
    assert_eq!(s.simulation.name, "eu");
    // An unknown region is a usage error, and nothing is written.
    let bad = init(tmp.path(), &["--region", "mars-north", "--out", "m.toml"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(!tmp.path().join("m.toml").exists());
}

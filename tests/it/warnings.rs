//! Warnings on scenarios whose results would be silently meaningless, the error on an
//! `[[expect]]` metric no run produces, `--deny-warnings`, the metric catalogue, and the
//! capacity estimate checked against a run.

use std::path::{Path, PathBuf};

use backupsim::model::metric_names::catalogue;
use backupsim::scenario::estimate::estimate;
use backupsim::scenario::load_str;

use super::common;
use super::common::{run_bin as run, stderr};

fn quickstart() -> String {
    std::fs::read_to_string("scenarios/quickstart.toml").unwrap()
}

/// The quickstart with each `(from, to)` replaced once, written to `dir`.
fn variant(dir: &Path, edits: &[(&str, &str)]) -> PathBuf {
    let mut src = quickstart();
    for (from, to) in edits {
        assert!(src.contains(from), "pattern not in quickstart: {from}");
        src = src.replacen(from, to, 1);
    }
    let p = dir.join("variant.toml");
    std::fs::write(&p, src).unwrap();
    p
}

/// `validate` on the file: exit status and the `warning:` lines of stderr.
fn validate(p: &Path, extra: &[&str]) -> (i32, Vec<String>, String) {
    let mut args = vec!["validate", p.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(&args);
    let err = stderr(&o);
    let warnings = err
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .map(String::from)
        .collect();
    (o.status.code().unwrap_or(-1), warnings, err)
}

/// 1-based line of the first line of `p` holding `pattern` at or after the line holding
/// `after`.
fn line_of(p: &Path, after: &str, pattern: &str) -> usize {
    let src = std::fs::read_to_string(p).unwrap();
    let start = src.lines().position(|l| l.contains(after)).expect("after");
    start
        + src
            .lines()
            .skip(start)
            .position(|l| l.contains(pattern))
            .expect("pattern")
        + 1
}

/// Asserts exactly one warning on `key`, located at `line` of `p`, mentioning `words`.
fn warns(warnings: &[String], p: &Path, key: &str, line: usize, words: &[&str]) {
    let hits: Vec<&String> = warnings
        .iter()
        .filter(|w| w.contains(&format!("key `{key}`:")))
        .collect();
    assert_eq!(hits.len(), 1, "one warning on {key}: {warnings:#?}");
    let w = hits[0];
    let at = format!("warning: {}:{line}:", p.display());
    assert!(w.starts_with(&at), "{w}\nexpected to start with {at}");
    for word in words {
        assert!(w.contains(word), "{w}\nmissing: {word}");
    }
}

#[test]
fn fleet_in_wrong_region_warns() {
    let t = tempfile::tempdir().unwrap();
    let p = variant(
        t.path(),
        &[(
            "count = 240\nregion = \"japan-east\"",
            "count = 240\nregion = \"japan-west\"",
        )],
    );
    let (code, w, err) = validate(&p, &[]);
    assert_eq!(code, 0, "a warning is not an error: {err}");
    let line = line_of(&p, "name = \"web\"", "region = \"japan-west\"");
    warns(
        &w,
        &p,
        "fleet.web.region",
        line,
        &[
            "\"japan-west\"",
            "vault \"vault-je\"",
            "CrossRegion",
            "is ever backed up",
        ],
    );
    assert_eq!(w.len(), 1, "{w:#?}");
    // With support.cross_region the same fleet is fine.
    let (_, w, _) = validate(&p, &["--set", "support.cross_region=true"]);
    assert!(w.is_empty(), "{w:#?}");
}

#[test]
fn every_vm_unsupported_warns() {
    let t = tempfile::tempdir().unwrap();
    // A constant: every db VM is on premium storage.
    let premium = "storage = { choice = { \"standard\" = 0.9, \"premium\" = 0.1 } }";
    let p = variant(t.path(), &[(premium, "storage = \"premium\"")]);
    let (code, w, _) = validate(&p, &[]);
    assert_eq!(code, 0);
    let line = line_of(&p, "name = \"db\"", "storage = \"premium\"");
    warns(
        &w,
        &p,
        "fleet.db.storage",
        line,
        &[
            "PremiumStorage",
            "none of its 60 VMs",
            "support.premium_storage",
        ],
    );
    // The model agrees: every one of them is unsupported.
    let src = std::fs::read_to_string(&p)
        .unwrap()
        .replace("duration = \"7d\"", "duration = \"1d\"")
        .replace("at = \"5d 10h\"", "at = \"20h\"");
    let (out, _) = common::run_src(&src);
    assert_eq!(common::get(&out.summary, "fleet.db.unsupported"), 60.0);

    // A distribution whose support lies entirely beyond the limit: 16 to 20 data disks.
    let disks = "data_disks = { dist = \"uniform-int\", min = 2, max = 16 }";
    let p = variant(
        t.path(),
        &[(
            disks,
            "data_disks = { dist = \"uniform-int\", min = 16, max = 20 }",
        )],
    );
    let (_, w, _) = validate(&p, &[]);
    let line = line_of(&p, "name = \"db\"", "min = 16");
    warns(
        &w,
        &p,
        "fleet.db.data_disks",
        line,
        &["TooManyDataDisks", "15"],
    );
    // A value written by --set is located at the --set.
    let p = variant(t.path(), &[]);
    let (_, w, _) = validate(&p, &["--set", "fleet.web.deployment=resource-manager"]);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].starts_with("warning: --set fleet.web.deployment: key `fleet.web.deployment`:")
            && w[0].contains("ResourceManagerDeployment"),
        "{}",
        w[0]
    );
    // A share below 1 leaves some VMs supported: no warning.
    let (_, w, _) = validate(
        &p,
        &[
            "--set",
            "fleet.web.load_balanced=0.99",
            "--set",
            "fleet.web.nics={ dist = \"uniform-int\", min = 1, max = 3 }",
        ],
    );
    assert!(w.is_empty(), "{w:#?}");
}

#[test]
fn oversized_disks_warn() {
    let t = tempfile::tempdir().unwrap();
    let web_disk = "disk_size = \"128 GiB\"";
    let p = variant(
        t.path(),
        &[(
            web_disk,
            "disk_size = { dist = \"uniform\", min = \"1100 GB\", max = \"2 TB\" }",
        )],
    );
    let (code, w, _) = validate(&p, &[]);
    assert_eq!(code, 0);
    let line = line_of(&p, "name = \"web\"", "min = \"1100 GB\"");
    warns(
        &w,
        &p,
        "fleet.web.disk_size",
        line,
        &["1.1 TB", "1023 GiB", "UserErrorUnsupportedDiskSize"],
    );
    // The OS disk counts too.
    let (_, w, _) = validate(&variant(t.path(), &[]), &["--set", "fleet.db.os_disk=2 TB"]);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].contains("key `fleet.db.os_disk`") && w[0].contains("an OS disk"));
    // A distribution that can draw a disk within the limit is no certainty: no warning.
    let p = variant(
        t.path(),
        &[(
            web_disk,
            "disk_size = { dist = \"lognormal\", mean = \"2 TB\", sd = \"1 TB\" }",
        )],
    );
    let (_, w, _) = validate(&p, &[]);
    assert!(w.is_empty(), "{w:#?}");
}

#[test]
fn restore_after_end_warns() {
    let t = tempfile::tempdir().unwrap();
    for at in ["7d", "9d 2h"] {
        let p = variant(t.path(), &[("at = \"5d 10h\"", &format!("at = \"{at}\""))]);
        let (code, w, _) = validate(&p, &[]);
        assert_eq!(code, 0);
        let line = line_of(&p, "name = \"dr-drill\"", "at = ");
        warns(
            &w,
            &p,
            "restore.dr-drill.at",
            line,
            &["at or after the end of the run (7d)", "never happens"],
        );
    }
    let p = variant(t.path(), &[("at = \"5d 10h\"", "at = \"6d 23h\"")]);
    let (_, w, _) = validate(&p, &[]);
    assert!(w.is_empty(), "{w:#?}");
}

#[test]
fn restore_more_vms_than_fleet_warns() {
    let t = tempfile::tempdir().unwrap();
    let p = variant(
        t.path(),
        &[(
            "count = 10\nkind = \"create-vm\"",
            "count = 500\nkind = \"create-vm\"",
        )],
    );
    let (code, w, _) = validate(&p, &[]);
    assert_eq!(code, 0);
    let line = line_of(&p, "name = \"dr-drill\"", "count = 500");
    warns(
        &w,
        &p,
        "restore.dr-drill.count",
        line,
        &["500 VMs", "fleet \"web\" has 240", "restores only 240"],
    );
    // Exactly the fleet's size is fine.
    let (_, w, _) = validate(&p, &["--set", "restore.dr-drill.count=240"]);
    assert!(w.is_empty(), "{w:#?}");
}

#[test]
fn window_longer_than_schedule_period_warns() {
    let t = tempfile::tempdir().unwrap();
    let p = variant(t.path(), &[("window = \"8h\"", "window = \"30h\"")]);
    let (code, w, _) = validate(&p, &[]);
    assert_eq!(code, 0);
    let line = line_of(&p, "name = \"nightly\"", "window = ");
    warns(
        &w,
        &p,
        "policy.nightly.window",
        line,
        &[
            "(1d6h)",
            "1d between two runs",
            "UserErrorBackupOperationInProgress",
        ],
    );
    // Exactly the period is fine; weekly schedules use their closest two days.
    let (_, w, _) = validate(&p, &["--set", "policy.nightly.window=24h"]);
    assert!(w.is_empty(), "{w:#?}");
    let weekly =
        |days: &str| format!("policy.nightly.schedule={{ weekly = [{days}], at = \"22:00\" }}");
    let (_, w, _) = validate(&p, &["--set", &weekly("\"mon\", \"tue\"")]);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].contains("policy.nightly.window"), "{}", w[0]);
    let (_, w, _) = validate(&p, &["--set", &weekly("\"mon\", \"thu\"")]);
    assert!(w.is_empty(), "{w:#?}");
}

#[test]
fn unused_link_vault_fleet_warn() {
    let t = tempfile::tempdir().unwrap();
    let extra = r#"
[[link]]
name = "spare"
bandwidth = "1 Gbit/s"

[[vault]]
name = "idle"
region = "japan-east"

[[policy]]
name = "orphan"
vault = "idle"
schedule = { daily = "01:00" }

[[policy]]
name = "manual"
vault = "vault-je"

[[fleet]]
name = "lab"
count = 5
region = "japan-east"
policy = "manual"

[[fleet]]
name = "empty"
count = 0
region = "japan-east"
policy = "nightly"
"#;
    let p = variant(
        t.path(),
        &[(
            "# A restore drill on day 5",
            &format!("{extra}\n# A restore drill on day 5"),
        )],
    );
    let (code, w, _) = validate(&p, &[]);
    assert_eq!(code, 0);
    warns(
        &w,
        &p,
        "link.spare",
        line_of(&p, "[[link]]", "name = \"spare\""),
        &["no fleet's `path`"],
    );
    warns(
        &w,
        &p,
        "vault.idle",
        line_of(&p, "[[vault]]", "name = \"idle\""),
        &["stays empty"],
    );
    warns(
        &w,
        &p,
        "policy.orphan",
        line_of(&p, "[[policy]]", "name = \"orphan\""),
        &["no fleet uses this policy"],
    );
    warns(
        &w,
        &p,
        "fleet.lab.policy",
        line_of(&p, "name = \"lab\"", "policy = \"manual\""),
        &["no schedule", "nothing ever uses its 5 VMs"],
    );
    warns(
        &w,
        &p,
        "fleet.empty.count",
        line_of(&p, "name = \"empty\"", "count = 0"),
        &["0 VMs"],
    );
    assert_eq!(w.len(), 5, "{w:#?}");
    // Warnings come in file order.
    let lines: Vec<usize> = w
        .iter()
        .map(|l| l.split(':').nth(2).unwrap().parse().unwrap())
        .collect();
    assert!(lines.windows(2).all(|x| x[0] <= x[1]), "{lines:?}");
    // A fleet of an unscheduled policy that a restore or on-demand backups use is in use.
    let (_, w, _) = validate(&p, &["--set", "fleet.lab.on_demand.per_vm_per_day=1"]);
    assert!(!w.iter().any(|l| l.contains("fleet.lab")), "{w:#?}");
}

#[test]
fn unknown_expect_metric_suggests_names() {
    let t = tempfile::tempdir().unwrap();
    let p = variant(
        t.path(),
        &[(
            "metric = \"backup.duration.p99\"",
            "metric = \"backup.duraton.p99\"",
        )],
    );
    let (code, _, err) = validate(&p, &[]);
    assert_eq!(code, 2, "{err}");
    let line = line_of(&p, "[[expect]]", "backup.duraton.p99");
    assert!(
        err.contains(&format!("{}:{line}:", p.display())),
        "file:line in {err}"
    );
    assert!(err.contains("key `expect.1.metric`"), "{err}");
    assert!(err.contains("did you mean backup.duration.p99"), "{err}");
    // `check` refuses it too, before running anything.
    let o = run(&["check", p.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Names made of the scenario's own vaults, links and fleets are valid; other names are
    // not, and restore metrics need a restore.
    let ok = [
        "link.je-storage.bytes",
        "vault.vault-je.geo_lag.p99",
        "fleet.db.unsupported",
    ];
    for m in ok {
        let p = variant(
            t.path(),
            &[(
                "metric = \"backup.duration.p99\"",
                &format!("metric = \"{m}\""),
            )],
        );
        let (code, _, err) = validate(&p, &[]);
        assert_eq!(code, 0, "{m}: {err}");
    }
    let p = variant(
        t.path(),
        &[(
            "metric = \"backup.duration.p99\"",
            "metric = \"link.wan.bytes\"",
        )],
    );
    let (code, _, err) = validate(&p, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("link.je-storage.bytes?"), "{err}");
    let p = variant(
        t.path(),
        &[(
            "metric = \"backup.duration.p99\"",
            "metric = \"restore.duration.p99\"",
        )],
    );
    let (code, _, err) = validate(&p, &["--set", "restore.dr-drill.at=6d"]);
    assert_eq!(code, 0, "{err}");
    let src = std::fs::read_to_string(&p).unwrap();
    let cut = src.find("# A restore drill").unwrap();
    let end = src.find("[[expect]]").unwrap();
    std::fs::write(&p, format!("{}{}", &src[..cut], &src[end..])).unwrap();
    let (code, _, err) = validate(&p, &[]);
    assert_eq!(code, 2, "restore metrics without a restore: {err}");
}

#[test]
fn deny_warnings_exits_2() {
    let t = tempfile::tempdir().unwrap();
    let p = variant(t.path(), &[("at = \"5d 10h\"", "at = \"8d\"")]);
    let ps = p.to_str().unwrap();
    let out = t.path().join("out");
    let outs = out.to_str().unwrap();
    // Without the flag a warning is only printed.
    let (code, w, _) = validate(&p, &[]);
    assert_eq!((code, w.len()), (0, 1));
    for args in [
        vec!["validate", ps, "--deny-warnings"],
        vec!["run", ps, "--out", outs, "--no-plots", "--deny-warnings"],
        vec!["check", ps, "--deny-warnings"],
        vec![
            "sweep",
            ps,
            "--vary",
            "fleet.db.count=60,61",
            "--replications",
            "1",
            "--out",
            outs,
            "--deny-warnings",
        ],
    ] {
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("warning: ") && err.contains("restore.dr-drill.at"),
            "{args:?}: {err}"
        );
        assert!(err.contains("--deny-warnings"), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
    // A sweep point that warns is refused too, before any run.
    let ok = variant(t.path(), &[]);
    let o = run(&[
        "sweep",
        ok.to_str().unwrap(),
        "--vary",
        "restore.dr-drill.count=10,300",
        "--replications",
        "1",
        "--out",
        outs,
        "--deny-warnings",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("restore.dr-drill.count"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // A scenario without warnings passes.
    let o = run(&["validate", "scenarios/quickstart.toml", "--deny-warnings"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn metric_catalogue_covers_every_summary_key() {
    let src = std::fs::read_to_string("scenarios/restore-drill.toml")
        .unwrap()
        .replace(
            "duration = \"11d\"",
            "duration = \"11d\"\nrpo_sample_every = \"1d\"",
        );
    let l = load_str(&src, Path::new("scenarios/restore-drill.toml"), &[]).unwrap();
    let out = backupsim::model::run(&l.config).unwrap();
    let cat = catalogue(&l.config);
    let unknown: Vec<&String> = out
        .summary
        .keys()
        .filter(|k| !cat.iter().any(|m| &m.name == *k))
        .collect();
    assert!(
        unknown.is_empty(),
        "summary keys missing from the catalogue: {unknown:?}"
    );
    let absent: Vec<&str> = cat
        .iter()
        .filter(|m| m.always && !out.summary.contains_key(&m.name))
        .map(|m| m.name.as_str())
        .collect();
    assert!(
        absent.is_empty(),
        "names every run writes, missing from the summary: {absent:?}"
    );
}

/// The estimate of the first night's hours on a slow link, against the last finish of a
/// run's first night. The estimate uses means only; the run draws 40 VMs, so the total
/// bytes vary by a few percent, and the night also holds the extension install and the
/// snapshots of its first jobs: 25% is far above both, and far below the error of a
/// wrong formula (a missing OS disk alone is 33%, a bit/byte slip 8×).
#[test]
fn capacity_estimate_matches_a_run() {
    let src = r#"
[simulation]
name = "estimate"
seed = 3
duration = "2d"

[[region]]
name = "r"

[[link]]
name = "slow"
bandwidth = "1 Gbit/s"

[[vault]]
name = "v"
region = "r"

[[policy]]
name = "nightly"
vault = "v"
schedule = { daily = "20:00" }
window = "8h"

[[fleet]]
name = "f"
count = 40
region = "r"
policy = "nightly"
path = ["slow"]
data_disks = { dist = "uniform-int", min = 1, max = 3 }
disk_size = { dist = "uniform", min = "64 GiB", max = "192 GiB" }
used = { dist = "uniform", min = 0.3, max = 0.7 }
"#;
    let l = load_str(src, Path::new("estimate.toml"), &[]).unwrap();
    let est = estimate(&l.scenario);
    let link = est.iter().find(|e| e.kind == "link").expect("a link line");
    let vault = est
        .iter()
        .find(|e| e.kind == "vault")
        .expect("a vault line");
    assert_eq!(link.name, "slow");
    assert!(link.to_string().contains("will not fit"), "{link}");
    let (_, rows) = common::run_src(src);
    let night0 = 20 * 3600 * common::SEC;
    let last = rows
        .iter()
        .filter(|r| r.kind == "scheduled" && r.scheduled_us == night0)
        .map(|r| r.finished_us)
        .max()
        .expect("night 0 jobs");
    let actual = (last - night0) as f64 / 1e6;
    assert!(
        actual > 8.0 * 3600.0,
        "the first night must overrun: {actual} s"
    );
    for e in [link, vault] {
        let rel = (e.first.secs - actual).abs() / actual;
        assert!(
            rel <= 0.25,
            "{e}: estimated {:.0} s, the run's first night ended after {actual:.0} s ({:.0}% off)",
            e.first.secs,
            rel * 100.0
        );
    }
    // `validate` prints it.
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("estimate.toml");
    std::fs::write(&p, src).unwrap();
    let o = run(&["validate", p.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("capacity estimate") && text.contains("link slow: first night needs"),
        "{text}"
    );
}

//! Stream independence: entities draw from their own streams.

use super::common::*;

/// Adding a second fleet (with its own vault and link, so no shared resource couples
/// them) leaves every draw and every job of the first fleet unchanged.
#[test]
fn adding_a_fleet_does_not_change_another_fleets_draws() {
    let one = base("5d", "count = 20\non_demand = { per_vm_per_day = 0.5 }\nrunning = 0.8\ndaily_churn = { dist = \"lognormal\", mean = 0.05, sd = 0.03 }", "", "")
        .replace("count = 1\n", "")
        .replace("daily_churn = 0.1\n", "")
        .replace("start_within = \"0s\"", "start_within = \"2h\"");
    let extra = r#"
[[link]]
name = "wan2"
bandwidth = "1 GB/s"

[[vault]]
name = "v2"
region = "r1"
create_time = "0s"

[[policy]]
name = "p2"
vault = "v2"
schedule = { daily = "01:00" }

[[fleet]]
name = "g"
count = 50
region = "r1"
policy = "p2"
path = ["wan2"]
running = 0.5
on_demand = { per_vm_per_day = 1.0 }
"#;
    let two = format!("{one}\n{extra}");
    let (_, a) = run_src(&one);
    let (_, b) = run_src(&two);
    let b_f: Vec<_> = b.iter().filter(|r| r.fleet == "f").collect();
    assert!(b.iter().any(|r| r.fleet == "g"));
    assert_eq!(a.len(), b_f.len());
    for (x, y) in a.iter().zip(b_f) {
        assert_eq!(
            (
                x.vm,
                x.started_us,
                x.finished_us,
                x.bytes,
                &x.outcome,
                &x.consistency
            ),
            (
                y.vm,
                y.started_us,
                y.finished_us,
                y.bytes,
                &y.outcome,
                &y.consistency
            )
        );
    }
}

/// VM attributes come from a per-(fleet, VM) stream: growing a fleet keeps the first VMs.
#[test]
fn growing_a_fleet_keeps_existing_vms() {
    use backupsim::model::vm::draw_vm;
    let src = "[simulation]\nname = \"t\"\n[[region]]\nname = \"r\"\n[[vault]]\nname = \"v\"\nregion = \"r\"\n[[policy]]\nname = \"p\"\nvault = \"v\"\n[[fleet]]\nname = \"f\"\ncount = 10\nregion = \"r\"\npolicy = \"p\"\ndata_disks = { dist = \"uniform-int\", min = 1, max = 8 }\nused = { dist = \"uniform\", min = 0.1, max = 0.9 }";
    let c = backupsim::scenario::load_str(src, std::path::Path::new("t.toml"), &[])
        .unwrap()
        .config;
    let f = &c.fleets[0];
    let g = backupsim::model::config::Fleet {
        count: 1000,
        ..f.clone()
    };
    for i in 0..10 {
        let a = draw_vm(3, 0, f, i, &c.support, 0).0;
        let b = draw_vm(3, 5, &g, i, &c.support, 0).0;
        assert_eq!(
            (a.data_disks, a.used_bytes, a.flags),
            (b.data_disks, b.used_bytes, b.flags)
        );
    }
}

/// Bug: the geo-replication delay was drawn from a stream keyed by the global job
/// counter, so another fleet's jobs shifted this fleet's draws.
#[test]
fn geo_lag_draws_do_not_depend_on_other_fleets() {
    let one = base("4d", "count = 20", "", "")
        .replace("count = 1\n", "")
        .replace("redundancy = \"LRS\"", "redundancy = \"GRS\"");
    let extra = r#"
[[link]]
name = "wan2"
bandwidth = "1 GB/s"

[[vault]]
name = "v2"
region = "r1"
redundancy = "LRS"
create_time = "0s"

[[policy]]
name = "p2"
vault = "v2"
schedule = { daily = "00:30" }

[[fleet]]
name = "g"
count = 50
region = "r1"
policy = "p2"
path = ["wan2"]
on_demand = { per_vm_per_day = 1.0 }
"#;
    let (a, _) = run_src(&one);
    let (b, _) = run_src(&format!("{one}\n{extra}"));
    assert!(get(&b.summary, "vault.v.geo_lag.max") > 0.0);
    for stat in ["mean", "p50", "p99", "max"] {
        let k = format!("vault.v.geo_lag.{stat}");
        assert_eq!(get(&a.summary, &k), get(&b.summary, &k), "{k}");
    }
}

/// Bug: a rejected restore took a job number only when jobs.csv was written, so turning
/// jobs.csv on or off changed later draws and therefore summary.json.
#[test]
fn jobs_csv_setting_does_not_change_the_summary() {
    use backupsim::model::{run, simulate};
    let src = base(
        "4d",
        "count = 20",
        "",
        "[[restore]]\nname = \"in-place\"\nfleet = \"f\"\nat = \"1d\"\ncount = 5\nkind = \"replace-existing\"\n",
    )
    .replace("count = 1\n", "")
    .replace("redundancy = \"LRS\"", "redundancy = \"GRS\"");
    let l = backupsim::scenario::load_str(&src, std::path::Path::new("t.toml"), &[]).unwrap();
    let without = run(&l.config).unwrap();
    let with = simulate(&l.config, &mut Collect::default()).unwrap();
    assert_eq!(
        get(
            &with.summary,
            "restore.rejected.ReplaceExistingNotSupported"
        ),
        5.0
    );
    assert_eq!(without.summary, with.summary);
}

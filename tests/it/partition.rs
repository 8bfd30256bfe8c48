//! Partitioned runs: a scenario's independent parts simulated apart and merged give the
//! files of the whole run.

use std::collections::BTreeMap;
use std::path::Path;

use backupsim::model::partition::{assign, components, sub_config};
use backupsim::model::simulate;
use backupsim::scenario::load_str;

use crate::common::*;

/// Three regions: east and west each with their own link, vault, policy and fleet (east
/// with two fleets and a restore drill); a third region's fleet shares the west link.
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
    // east-web, east-db | west-web, north-app
    assert_eq!(fleets, vec![vec![0, 1], vec![2, 3]]);
    assert_eq!(comps[0].restores, vec![0]);
    assert_eq!(comps[1].links, vec![1, 2]);
    let parts = assign(&comps, 3);
    assert!(parts[2].fleets.is_empty());
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

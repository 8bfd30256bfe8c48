//! The run's invariants hold after every event of every shipped scenario (shrunk to a
//! few dozen VMs and a few days): gates within their limits, counters equal to the queues
//! and jobs they count, one job per VM, storage to expire held.

use std::path::Path;

use backupsim::model::{simulate_checked, NoObserver};
use backupsim::scenario::load_str;

use super::common::{shipped_scenarios, shrink};

#[test]
fn invariants_hold_after_every_event_of_every_shipped_scenario() {
    let scenarios = shipped_scenarios();
    assert!(scenarios.len() >= 9);
    for (name, src) in scenarios {
        let small = shrink(&src, 40, 4);
        // Relative files (an inventory) are found beside the scenario.
        let l = load_str(&small, &Path::new("scenarios").join(&name), &[])
            .unwrap_or_else(|e| panic!("{name} (shrunk) does not load: {e}"));
        let out =
            simulate_checked(&l.config, &mut NoObserver).unwrap_or_else(|f| panic!("{name}: {f}"));
        assert!(out.events > 0, "{name} simulated nothing");
    }
}

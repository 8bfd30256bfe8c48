//! A whole-model run: the scale scenario shrunk to 2 000 VMs and 7 days (about 66 000
//! events), with no observer. Measures the cost of everything a run does between loading
//! the scenario and writing results: VM draws, policies, the job state machine, the
//! network, retention and RPO. Reported per run and in events per second.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use backupsim::model::run;
use backupsim::scenario::load;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn model(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/scale-10k.toml");
    let sets: Vec<String> = [
        "simulation.duration=7d",
        "fleet.web.count=800",
        "fleet.app.count=600",
        "fleet.db.count=200",
        "fleet.linux.count=400",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let loaded = load(&path, &sets).expect("the scale scenario loads");
    let events = run(&loaded.config).unwrap().events;
    let mut group = c.benchmark_group("model");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(events));
    group.bench_function("scale-2k-7d", |b| {
        b.iter(|| black_box(run(&loaded.config).unwrap().events))
    });
    group.finish();
}

criterion_group!(benches, model);
criterion_main!(benches);

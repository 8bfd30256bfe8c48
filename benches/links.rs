//! Steady-state churn on the link-sharing model.
//!
//! N concurrent flows over P paths; every path is `[its own access link, one of 4 shared
//! core links]`. One iteration advances to the next completion and starts one new flow
//! per finished one (random path and size, fixed seed), so the time per iteration is the
//! cost of one departure plus one arrival (each with its max-min recompute).

use std::hint::black_box;
use std::time::Duration;

use backupsim::engine::time::SimTime;
use backupsim::model::network::{FlowId, Network, PathId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

struct Churn {
    net: Network,
    paths: Vec<PathId>,
    rng: u64,
    out: Vec<FlowId>,
}

impl Churn {
    fn new(n: usize, p: usize) -> Self {
        let mut net = Network::new();
        let core: Vec<_> = (0..4).map(|_| net.add_link(1.25e9)).collect();
        let paths = (0..p)
            .map(|i| {
                // 1, 2 or 5 Gb/s access links.
                let access = net.add_link([1.25e8, 2.5e8, 6.25e8][i % 3]);
                net.add_path(&[access, core[i % 4]])
            })
            .collect();
        let mut c = Churn {
            net,
            paths,
            rng: 0x2545_f491_4f6c_dd1d,
            out: Vec::new(),
        };
        for i in 0..n {
            let bytes = c.size();
            let path = c.paths[i % p];
            c.net.start_flow(SimTime::ZERO, path, f64::INFINITY, bytes);
        }
        // Mix the synchronized start into a steady state.
        for _ in 0..n.min(20_000) {
            c.step();
        }
        c
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// 1 MB to 100 MB.
    fn size(&mut self) -> u64 {
        1_000_000 + self.next() % 99_000_000
    }

    fn step(&mut self) -> usize {
        let t = self.net.next_completion().expect("flows always progress");
        self.out.clear();
        self.net.advance_into(t, &mut self.out);
        for _ in 0..self.out.len() {
            let i = (self.next() % self.paths.len() as u64) as usize;
            let path = self.paths[i];
            let bytes = self.size();
            self.net.start_flow(t, path, f64::INFINITY, bytes);
        }
        self.out.len()
    }
}

fn churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("links_churn");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for &n in &[10usize, 1_000, 100_000] {
        for &p in &[1usize, 10, 100] {
            let mut churn = Churn::new(n, p);
            group.bench_function(BenchmarkId::new(format!("N={n}"), format!("P={p}")), |b| {
                b.iter(|| black_box(churn.step()))
            });
            assert_eq!(churn.net.active_flows(), n);
        }
    }
    group.finish();
}

criterion_group!(benches, churn);
criterion_main!(benches);

//! The classic *hold* benchmark of a pending-event set.
//!
//! The queue is filled with N events at exponentially distributed times; one operation
//! pops the earliest event and schedules one at `now + Exp(mean)`, so the size stays N.
//! Throughput is reported in operations (= events processed) per second.
//!
//! `EventQueue` (payload slab, O(1) cancellation, insertion-order ties) is compared with
//! the floor of what a queue can do: a plain `std::collections::BinaryHeap` of
//! `Reverse<(time, seq)>` with no payload and no cancellation. The increments are drawn
//! in advance into a table (the same for both) so that random-number generation is not
//! measured.
//!
//! `HOLD_RATIO=1 cargo bench --bench engine` prints only the ratio table that
//! `scripts/bench.sh` reports: at 1 000, 100 000 and 1 000 000 pending, five alternating
//! rounds of each queue, the median throughput of each and the median of the five
//! per-round ratios (the load of a shared machine moves both alike within a round).
//! `HOLD_SIZES=2600,15000` measures those pending counts instead (the scale scenarios'
//! mean pending events: what the queue alone can do at a model's size).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use backupsim::engine::{EventQueue, SimTime};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};

/// Pending events in the benchmark's three sizes.
const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];
/// Operations per measured iteration (amortises the timer).
const OPS: u64 = 10_000;
/// Mean increment in µs: large enough that equal times are rare, as in the model.
const MEAN_US: f64 = 1e6;

/// 2^16 exponential increments from a fixed xorshift stream.
fn increments() -> Vec<u64> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..1 << 16)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let u = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
            (-(1.0 - u).ln() * MEAN_US) as u64
        })
        .collect()
}

/// A payload of the size of the model's event enum.
#[derive(Clone, Copy)]
struct Payload {
    _a: u64,
    _b: u64,
    _c: u64,
}

struct HoldQueue {
    q: EventQueue<Payload>,
    inc: Vec<u64>,
    i: usize,
}

impl HoldQueue {
    fn new(n: usize, inc: &[u64]) -> Self {
        let mut h = HoldQueue {
            q: EventQueue::new(),
            inc: inc.to_vec(),
            i: 0,
        };
        for k in 0..n {
            let t = h.next_inc();
            h.q.schedule(
                SimTime(t),
                Payload {
                    _a: k as u64,
                    _b: 0,
                    _c: 0,
                },
            );
        }
        h
    }
    #[inline]
    fn next_inc(&mut self) -> u64 {
        let d = self.inc[self.i];
        self.i = (self.i + 1) & (self.inc.len() - 1);
        d
    }
    fn ops(&mut self, n: u64) -> u64 {
        let mut acc = 0;
        for _ in 0..n {
            let (t, p) = self.q.pop().expect("never empty");
            acc ^= p._a;
            let d = self.next_inc();
            self.q.schedule(SimTime(t.0 + d), p);
        }
        acc
    }
}

struct HoldStd {
    q: BinaryHeap<Reverse<(u64, u64)>>,
    seq: u64,
    inc: Vec<u64>,
    i: usize,
}

impl HoldStd {
    fn new(n: usize, inc: &[u64]) -> Self {
        let mut h = HoldStd {
            q: BinaryHeap::with_capacity(n),
            seq: 0,
            inc: inc.to_vec(),
            i: 0,
        };
        for _ in 0..n {
            let t = h.next_inc();
            h.q.push(Reverse((t, h.seq)));
            h.seq += 1;
        }
        h
    }
    #[inline]
    fn next_inc(&mut self) -> u64 {
        let d = self.inc[self.i];
        self.i = (self.i + 1) & (self.inc.len() - 1);
        d
    }
    fn ops(&mut self, n: u64) -> u64 {
        let mut acc = 0;
        for _ in 0..n {
            let Reverse((t, s)) = self.q.pop().expect("never empty");
            acc ^= s;
            let d = self.next_inc();
            self.q.push(Reverse((t + d, self.seq)));
            self.seq += 1;
        }
        acc
    }
}

fn hold(c: &mut Criterion) {
    let inc = increments();
    let mut group = c.benchmark_group("hold");
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(OPS));
    for &n in &SIZES {
        let mut q = HoldQueue::new(n, &inc);
        // Warm up into the steady-state time distribution.
        q.ops(2 * n as u64);
        group.bench_function(BenchmarkId::new("EventQueue", n), |b| {
            b.iter(|| black_box(q.ops(OPS)))
        });
        assert_eq!(q.q.len(), n);
        drop(q);
        let mut s = HoldStd::new(n, &inc);
        s.ops(2 * n as u64);
        group.bench_function(BenchmarkId::new("BinaryHeap", n), |b| {
            b.iter(|| black_box(s.ops(OPS)))
        });
    }
    group.finish();
}

/// The median of a few values.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The ratio table (see the module doc): events/s of each queue and their ratio, median
/// of five rounds of 2 000 000 operations each (after a warm-up of 2N).
/// The pending counts of the ratio table: `HOLD_SIZES` (comma-separated) or [`SIZES`].
fn sizes() -> Vec<usize> {
    match std::env::var("HOLD_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("HOLD_SIZES: comma-separated counts")
            })
            .collect(),
        Err(_) => SIZES.to_vec(),
    }
}

fn ratio_table() {
    const ROUNDS: usize = 5;
    const N_OPS: u64 = 2_000_000;
    let inc = increments();
    println!("| pending | EventQueue (M events/s) | BinaryHeap (M/s) | ratio |");
    println!("|---:|---:|---:|---:|");
    for n in sizes() {
        let mut q = HoldQueue::new(n, &inc);
        let mut s = HoldStd::new(n, &inc);
        q.ops(2 * n as u64);
        s.ops(2 * n as u64);
        let (mut rq, mut rs, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let t = Instant::now();
            black_box(q.ops(N_OPS));
            let a = N_OPS as f64 / t.elapsed().as_secs_f64();
            let t = Instant::now();
            black_box(s.ops(N_OPS));
            let b = N_OPS as f64 / t.elapsed().as_secs_f64();
            rq.push(a);
            rs.push(b);
            ratio.push(a / b);
        }
        println!(
            "| {n} | {:.1} | {:.1} | {:.2} |",
            median(rq) / 1e6,
            median(rs) / 1e6,
            median(ratio)
        );
    }
}

criterion_group!(benches, hold);

fn main() {
    if std::env::var_os("HOLD_RATIO").is_some() {
        ratio_table();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

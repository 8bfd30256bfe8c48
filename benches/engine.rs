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

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Duration;

use backupsim::engine::{EventQueue, SimTime};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

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
    for &n in &[10_000usize, 100_000, 1_000_000] {
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

criterion_group!(benches, hold);
criterion_main!(benches);

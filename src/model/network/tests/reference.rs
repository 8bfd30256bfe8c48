//! The network against a naive reference that tracks every flow's remaining bytes and
//! water-fills over individual flows from scratch, on random operations; and the
//! bit-for-bit determinism of completion times.

use std::collections::BTreeMap;

use super::super::clock::finish_time;
use super::super::{FlowId, LinkId, Network, PathId, NEVER};
use super::Lcg;
use crate::engine::time::SimTime;

struct RefFlow {
    path: usize,
    cap: f64,
    rem: f64,
    rate: f64,
}

/// Tracks every flow's remaining bytes; water-fills over individual flows from scratch.
struct RefNet {
    clock: u64,
    caps: Vec<f64>,
    paths: Vec<Vec<usize>>,
    flows: BTreeMap<u32, RefFlow>,
    next_id: u32,
}

impl RefNet {
    fn rates(&mut self) {
        let mut rem = self.caps.clone();
        let mut unfrozen: BTreeMap<u32, ()> = self.flows.keys().map(|&k| (k, ())).collect();
        while !unfrozen.is_empty() {
            let mut cnt = vec![0u64; self.caps.len()];
            for k in unfrozen.keys() {
                for &l in &self.paths[self.flows[k].path] {
                    cnt[l] += 1;
                }
            }
            let mut best: Option<(f64, usize)> = None;
            for l in 0..rem.len() {
                if cnt[l] > 0 {
                    let s = rem[l].max(0.0) / cnt[l] as f64;
                    if best.map_or(true, |(b, _)| s < b) {
                        best = Some((s, l));
                    }
                }
            }
            let min_cap = unfrozen
                .keys()
                .map(|k| self.flows[k].cap)
                .fold(f64::INFINITY, f64::min);
            let freeze: Vec<(u32, f64)> = match best {
                Some((s, l)) if s < min_cap => unfrozen
                    .keys()
                    .filter(|k| self.paths[self.flows[k].path].contains(&l))
                    .map(|&k| (k, s))
                    .collect(),
                _ => unfrozen
                    .keys()
                    .filter(|k| self.flows[k].cap == min_cap)
                    .map(|&k| (k, min_cap))
                    .collect(),
            };
            for (k, r) in freeze {
                unfrozen.remove(&k);
                let f = self.flows.get_mut(&k).unwrap();
                f.rate = r;
                for &l in &self.paths[f.path] {
                    rem[l] -= r;
                }
            }
        }
    }

    fn next(&self) -> u64 {
        self.flows
            .values()
            .map(|f| finish_time(self.clock, f.rem, f.rate))
            .min()
            .unwrap_or(NEVER)
    }

    fn move_to(&mut self, t: u64) {
        let dt = (t - self.clock) as f64;
        for f in self.flows.values_mut() {
            f.rem -= f.rate * dt / 1e6;
        }
        self.clock = t;
    }

    fn advance(&mut self, t: u64, out: &mut Vec<(u64, u32)>) {
        loop {
            let n = self.next();
            if n > t {
                break;
            }
            let due: Vec<u32> = self
                .flows
                .iter()
                .filter(|(_, f)| finish_time(self.clock, f.rem, f.rate) <= n)
                .map(|(&k, _)| k)
                .collect();
            self.move_to(n);
            for k in due {
                self.flows.remove(&k);
                out.push((n, k));
            }
            self.rates();
        }
        self.move_to(t);
    }

    fn start(
        &mut self,
        t: u64,
        path: usize,
        cap: f64,
        bytes: u64,
        out: &mut Vec<(u64, u32)>,
    ) -> u32 {
        self.advance(t, out);
        let id = self.next_id;
        self.next_id += 1;
        self.flows.insert(
            id,
            RefFlow {
                path,
                cap,
                rem: bytes as f64,
                rate: 0.0,
            },
        );
        self.rates();
        id
    }

    fn cancel(&mut self, t: u64, id: u32, out: &mut Vec<(u64, u32)>) -> u64 {
        self.advance(t, out);
        let f = self.flows.remove(&id).unwrap();
        self.rates();
        (f.rem - 1e-3).ceil().max(0.0) as u64
    }

    fn set_cap(&mut self, t: u64, l: usize, c: f64, out: &mut Vec<(u64, u32)>) {
        self.advance(t, out);
        self.caps[l] = c;
        self.rates();
    }
}

/// Link capacities at the start (and after the final drain) of a comparison.
const CAPS0: [f64; 3] = [8e6, 1.2e7, 2e7];
/// Flow caps drawn at random; infinite twice as often as each finite one.
const CAP_CHOICES: [f64; 5] = [f64::INFINITY, f64::INFINITY, 1e6, 3e6, 7.5e6];

/// The network and the reference driven by the same operations, with the bookkeeping
/// that pairs their flows up by arrival index.
struct Twin {
    net: Network,
    rf: RefNet,
    links: Vec<LinkId>,
    path_defs: Vec<Vec<usize>>,
    paths: Vec<PathId>,
    /// Arrival index → ids in both implementations.
    ids: Vec<(FlowId, u32)>,
    /// Unfinished flows: id → arrival index, in each implementation.
    net_idx: BTreeMap<u32, usize>,
    ref_idx: BTreeMap<u32, usize>,
    /// Completed flows: arrival index → finish time, in each implementation.
    net_done: BTreeMap<usize, u64>,
    ref_done: BTreeMap<usize, u64>,
    nout: Vec<(SimTime, FlowId)>,
    rout: Vec<(u64, u32)>,
    cancelled: usize,
    last_bytes: u64,
}

impl Twin {
    fn new() -> Twin {
        let mut net = Network::new();
        let links: Vec<LinkId> = CAPS0.iter().map(|&c| net.add_link(c)).collect();
        let path_defs: Vec<Vec<usize>> =
            vec![vec![0], vec![1], vec![0, 1], vec![1, 2], vec![2, 0], vec![]];
        let paths: Vec<PathId> = path_defs
            .iter()
            .map(|d| net.add_path(&d.iter().map(|&i| links[i]).collect::<Vec<_>>()))
            .collect();
        let rf = RefNet {
            clock: 0,
            caps: CAPS0.to_vec(),
            paths: path_defs.clone(),
            flows: BTreeMap::new(),
            next_id: 0,
        };
        Twin {
            net,
            rf,
            links,
            path_defs,
            paths,
            ids: Vec::new(),
            net_idx: BTreeMap::new(),
            ref_idx: BTreeMap::new(),
            net_done: BTreeMap::new(),
            ref_done: BTreeMap::new(),
            nout: Vec::new(),
            rout: Vec::new(),
            cancelled: 0,
            last_bytes: 1000,
        }
    }

    /// Moves the completions both sides reported into `net_done` / `ref_done`.
    fn collect(&mut self) {
        for &(tt, f) in self.nout.iter() {
            let i = self
                .net_idx
                .remove(&f.0)
                .expect("net reported an unknown flow");
            assert!(self.net_done.insert(i, tt.0).is_none());
        }
        for &(tt, k) in self.rout.iter() {
            let i = self.ref_idx.remove(&k).unwrap();
            assert!(self.ref_done.insert(i, tt).is_none());
        }
        self.nout.clear();
        self.rout.clear();
    }

    /// Brings both to `t`: the network sometimes wake-up by wake-up, sometimes in one jump.
    fn reach(&mut self, rng: &mut Lcg, t: u64) {
        if rng.below(2) == 0 {
            while let Some(n) = self.net.next_completion() {
                if n.0 > t {
                    break;
                }
                self.net.advance_timed_into(n, &mut self.nout);
            }
        }
        self.net.advance_timed_into(SimTime(t), &mut self.nout);
        self.rf.advance(t, &mut self.rout);
        self.collect();
    }

    /// Starts the same random flow in both.
    fn start(&mut self, rng: &mut Lcg, t: u64, max_bytes: u64) {
        let p = rng.below(self.paths.len() as u64) as usize;
        let mut cap = CAP_CHOICES[rng.below(CAP_CHOICES.len() as u64) as usize];
        if self.path_defs[p].is_empty() && cap.is_infinite() {
            cap = 2e6;
        }
        // Zero-byte flows, and repeated sizes (ties inside a class when started at the
        // same instant) on purpose.
        let bytes = match rng.below(20) {
            0 => 0,
            1..=3 => self.last_bytes,
            _ => 1 + rng.below(max_bytes),
        };
        self.last_bytes = bytes;
        let i = self.ids.len();
        let f = self.net.start_flow(SimTime(t), self.paths[p], cap, bytes);
        let k = self.rf.start(t, p, cap, bytes, &mut self.rout);
        self.ids.push((f, k));
        self.net_idx.insert(f.0, i);
        self.ref_idx.insert(k, i);
    }

    /// Cancels a random flow active in both; the returned bytes agree within one.
    fn cancel(&mut self, rng: &mut Lcg, t: u64, step: usize) {
        let both: Vec<usize> = self
            .net_idx
            .values()
            .copied()
            .filter(|i| self.ref_idx.contains_key(&self.ids[*i].1))
            .collect();
        if both.is_empty() {
            return;
        }
        let i = both[rng.below(both.len() as u64) as usize];
        let (f, k) = self.ids[i];
        let a = self.net.cancel_flow(SimTime(t), f);
        let b = self.rf.cancel(t, k, &mut self.rout);
        assert!(a.abs_diff(b) <= 1, "step {step}: cancel {a} vs {b}");
        self.net_idx.remove(&f.0);
        self.ref_idx.remove(&k);
        self.cancelled += 1;
    }

    /// Sets a random link to a random capacity (an outage one time in four) in both.
    fn set_capacity(&mut self, rng: &mut Lcg, t: u64) {
        let l = rng.below(self.links.len() as u64) as usize;
        let c = match rng.below(4) {
            0 => 0.0,
            _ => CAPS0[l] * (0.25 + rng.below(8) as f64 * 0.25),
        };
        self.net.set_capacity(SimTime(t), self.links[l], c);
        self.rf.set_cap(t, l, c, &mut self.rout);
    }

    /// Same rates, flow by flow, and the same number of unfinished flows.
    fn check_rates(&self, step: usize) {
        for (&f, &i) in &self.net_idx {
            let k = self.ids[i].1;
            if let Some(r) = self.rf.flows.get(&k) {
                let a = self.net.flow_rate(FlowId(f));
                assert!(
                    (a - r.rate).abs() <= 1e-6 * r.rate.max(1.0),
                    "step {step}: rate {a} vs {}",
                    r.rate
                );
            }
        }
        assert_eq!(self.net.active_flows(), self.net_idx.len());
    }

    /// Restores every link at `t` and runs both until every flow has finished.
    fn drain(&mut self, t: u64) {
        for (l, &c) in CAPS0.iter().enumerate() {
            self.net.set_capacity(SimTime(t), self.links[l], c);
            self.rf.set_cap(t, l, c, &mut self.rout);
        }
        let end = u64::MAX / 4;
        self.net.advance_timed_into(SimTime(end), &mut self.nout);
        self.rf.advance(end, &mut self.rout);
        self.collect();
        assert!(self.net_idx.is_empty() && self.ref_idx.is_empty());
        assert_eq!(self.net.active_flows(), 0);
        assert_eq!(self.net.next_completion(), None);
    }

    /// The same flows completed, each within a microsecond of the reference; returns the
    /// largest difference.
    fn check_completions(&self) -> u64 {
        let nk: Vec<_> = self.net_done.keys().collect();
        let rk: Vec<_> = self.ref_done.keys().collect();
        assert_eq!(nk, rk, "different sets of completed flows");
        let mut max_diff = 0;
        for (i, &tn) in &self.net_done {
            let d = tn.abs_diff(self.ref_done[i]);
            max_diff = max_diff.max(d);
            assert!(d <= 1, "flow #{i}: net {tn} vs ref {}", self.ref_done[i]);
        }
        max_diff
    }
}

fn compare_with_reference(seed: u64, ops: usize, max_bytes: u64) {
    let mut rng = Lcg(seed);
    let mut twin = Twin::new();
    let mut max_conc = 0;
    let mut t = 0u64;
    for step in 0..ops {
        t += match rng.below(10) {
            0 => 0,
            1..=6 => rng.below(200_000),
            _ => rng.below(2_000_000),
        };
        twin.reach(&mut rng, t);
        match rng.below(10) {
            0..=5 => twin.start(&mut rng, t, max_bytes),
            6..=7 => twin.cancel(&mut rng, t, step),
            _ => twin.set_capacity(&mut rng, t),
        }
        twin.nout.clear(); // nothing is reported by mutations themselves
        twin.collect();
        twin.check_rates(step);
        max_conc = max_conc.max(twin.net_idx.len());
    }
    twin.drain(t);
    let max_diff = twin.check_completions();
    let (completed, cancelled) = (twin.net_done.len(), twin.cancelled);
    // The run's figures go into the failure messages: the model's sources, test files
    // included, print nothing (tests/it/architecture.rs).
    let stats = format!(
        "seed {seed}: {completed} completed, {cancelled} cancelled, max diff {max_diff} us, \
         max concurrent {max_conc}"
    );
    assert!(
        completed > ops / 3,
        "too few completions to be meaningful ({stats})"
    );
    assert!(cancelled > ops / 20, "too few cancellations ({stats})");
}

#[test]
fn matches_naive_reference() {
    for seed in 1..=3 {
        compare_with_reference(seed, 3000, 5_000_000);
    }
    // Long flows: tens of concurrent flows, several per class.
    for seed in 4..=5 {
        compare_with_reference(seed, 3000, 25_000_000);
    }
}

/// Completion times (and link bytes) depend only on the flows and capacities of the
/// links involved: extra `advance` calls in between, and a busy unrelated link with its
/// own flows (which makes the network move its clock at many more instants), change
/// nothing, bit for bit.
#[test]
fn extra_advances_and_unrelated_flows_change_nothing() {
    let run = |noise: bool| {
        let mut net = Network::new();
        let l = net.add_link(1.234_567e8);
        let l2 = net.add_link(7.7e7);
        let other = net.add_link(3.3e7);
        let paths = [
            net.add_path(&[l]),
            net.add_path(&[l, l2]),
            net.add_path(&[l2]),
        ];
        let po = net.add_path(&[other]);
        let mut rng = Lcg(2024);
        let mut noise_rng = Lcg(77);
        // Flow id → index of the studied flow (None: an unrelated one).
        let mut index: BTreeMap<u32, Option<usize>> = BTreeMap::new();
        let mut finished: BTreeMap<usize, u64> = BTreeMap::new();
        let mut out = Vec::new();
        let mut collect = |out: &mut Vec<(SimTime, FlowId)>,
                           index: &mut BTreeMap<u32, Option<usize>>| {
            for (t, f) in out.drain(..) {
                if let Some(i) = index.remove(&f.0).expect("known flow") {
                    finished.insert(i, t.0);
                }
            }
        };
        let mut t = 0u64;
        for i in 0..3000 {
            t += rng.below(50_000);
            if noise {
                let mut u = net.now().0;
                for _ in 0..noise_rng.below(4) {
                    u += noise_rng.below(t - u + 1);
                    net.advance_timed_into(SimTime(u), &mut out);
                    collect(&mut out, &mut index);
                    if noise_rng.below(2) == 0 {
                        let f = net.start_flow(SimTime(u), po, 1e6, 1 + noise_rng.below(3_000_000));
                        index.insert(f.0, None);
                    }
                }
            }
            net.advance_timed_into(SimTime(t), &mut out);
            collect(&mut out, &mut index);
            let p = paths[rng.below(3) as usize];
            let cap = [f64::INFINITY, 2.5e6, 1.1e7][rng.below(3) as usize];
            let f = net.start_flow(SimTime(t), p, cap, 1 + rng.below(20_000_000));
            index.insert(f.0, Some(i));
            if i % 500 == 250 {
                net.set_capacity(SimTime(t), l2, 0.0);
            }
            if i % 500 == 300 {
                net.set_capacity(SimTime(t), l2, 7.7e7);
            }
        }
        let end = SimTime(u64::MAX / 4);
        net.advance_timed_into(end, &mut out);
        collect(&mut out, &mut index);
        assert!(index.is_empty());
        let stats = [l, l2].map(|x| net.link_stats(x, end));
        (finished, stats)
    };
    let (a, sa) = run(false);
    let (b, sb) = run(true);
    assert_eq!(a.len(), 3000);
    assert_eq!(a, b, "a completion time moved");
    for (x, y) in sa.iter().zip(&sb) {
        assert_eq!(x.bytes.to_bits(), y.bytes.to_bits());
        assert_eq!(x.flow_seconds.to_bits(), y.flow_seconds.to_bits());
        assert_eq!(x.busy_seconds.to_bits(), y.busy_seconds.to_bits());
        assert_eq!(x.stalled_bytes.to_bits(), y.stalled_bytes.to_bits());
    }
}

#[test]
fn deterministic() {
    let run = || {
        let mut net = Network::new();
        let mut rng = Lcg(99);
        let ls: Vec<_> = (0..4).map(|i| net.add_link(1e6 * (i + 1) as f64)).collect();
        let ps: Vec<_> = (0..6)
            .map(|i| net.add_path(&[ls[i % 4], ls[(i + 1) % 4]]))
            .collect();
        let mut log = Vec::new();
        let mut t = 0;
        for _ in 0..2000 {
            t += rng.below(100_000);
            net.advance_timed_into(SimTime(t), &mut log);
            let p = ps[rng.below(6) as usize];
            net.start_flow(SimTime(t), p, f64::INFINITY, rng.below(1_000_000));
        }
        net.advance_timed_into(SimTime(u64::MAX / 4), &mut log);
        (log, net.link_stats(ls[0], SimTime(u64::MAX / 4)))
    };
    let (a, sa) = run();
    let (b, sb) = run();
    assert_eq!(a, b);
    assert_eq!(sa.bytes.to_bits(), sb.bytes.to_bits());
}

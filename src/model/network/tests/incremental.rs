//! The incremental recompute (only the components that changed) against a water-filling
//! of the whole network, bit for bit, after every random change.

use proptest::prelude::*;

use super::super::{FlowId, LinkId, Network, PathId};
use crate::engine::time::SimTime;

/// Everything a recompute sets, as bits: per active class its rate, anchor and finish
/// time; per link its throughput and byte anchor; the next completion.
fn state(net: &Network) -> Vec<u64> {
    let mut active: Vec<u32> = net.active_classes.clone();
    active.sort_unstable();
    let mut out = Vec::new();
    for c in active {
        let class = &net.classes[c as usize];
        out.extend([
            u64::from(c),
            class.rate.to_bits(),
            class.v_anchor.to_bits(),
            class.t_anchor,
            net.wake[class.wake_pos as usize].0,
        ]);
    }
    for l in &net.links {
        out.extend([l.throughput.to_bits(), l.bytes.to_bits(), l.bytes_t]);
    }
    out.push(net.next);
    out
}

/// Asserts that refilling the whole network, every component the general (heap) way,
/// changes nothing: the incremental recompute and the one-link way are both checked.
fn assert_matches_full(net: &mut Network, step: usize) {
    // The links counted as binding are those that bind.
    let binds = net.links.iter().filter(|l| l.binds()).count() as u64;
    assert_eq!(net.binding, binds, "binding links after change {step}");
    let before = state(net);
    net.heap_only = true;
    net.touch_all();
    net.recompute();
    net.heap_only = false;
    assert_eq!(before, state(net), "after change {step}");
}

#[derive(Clone, Debug)]
enum Op {
    Start { path: usize, cap: u8, bytes: u64 },
    Cancel(usize),
    Capacity { link: usize, level: u8 },
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..12, 0u8..4, 1u64..5_000_000)
            .prop_map(|(path, cap, bytes)| Op::Start { path, cap, bytes }),
        2 => (0usize..64).prop_map(Op::Cancel),
        1 => (0usize..6, 0u8..4).prop_map(|(link, level)| Op::Capacity { link, level }),
        3 => (0u64..3_000_000).prop_map(Op::Advance),
    ]
}

/// Six links; twelve paths over them (some sharing links, some disjoint, one empty), so
/// changes hit components of every shape, including ones that split and merge.
fn topology(net: &mut Network) -> (Vec<LinkId>, Vec<PathId>) {
    let links: Vec<LinkId> = [1e6, 2e6, 5e5, 3e6, 1e6, 4e6]
        .into_iter()
        .map(|c| net.add_link(c))
        .collect();
    let l = |i: usize| links[i];
    let paths = [
        vec![l(0)],
        vec![l(0), l(1)],
        vec![l(1)],
        vec![l(2)],
        vec![l(2), l(3)],
        vec![l(3), l(1)],
        vec![l(4)],
        vec![l(4), l(5)],
        vec![l(5)],
        vec![],
        vec![l(3)],
        vec![l(5), l(0)],
    ]
    .iter()
    .map(|p| net.add_path(p))
    .collect();
    (links, paths)
}

/// Applies `ops` to `net` (flows on `paths`, capacity changes on `links`), checking it
/// against a full refill after every one.
fn run_ops(net: &mut Network, links: &[LinkId], paths: &[PathId], ops: Vec<Op>) {
    let caps = [f64::INFINITY, 2e5, 7e5, 1.5e6];
    let levels = [0.0, 5e5, 1e6, 2.5e6];
    let mut live: Vec<FlowId> = Vec::new();
    let mut t = 0u64;
    let mut done = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Start { path, cap, bytes } => {
                let path = path % paths.len();
                // A flow on the empty path needs a finite cap.
                let cap = if path == 9 && cap == 0 { 1 } else { cap };
                let f = net.start_flow(SimTime(t), paths[path], caps[cap as usize], bytes);
                live.push(f);
            }
            Op::Cancel(i) if !live.is_empty() => {
                let f = live.swap_remove(i % live.len());
                net.cancel_flow(SimTime(t), f);
            }
            Op::Cancel(_) => {}
            Op::Capacity { link, level } => {
                let link = links[link % links.len()];
                net.set_capacity(SimTime(t), link, levels[level as usize]);
            }
            Op::Advance(dt) => {
                t += dt;
                done.clear();
                net.advance_into(SimTime(t), &mut done);
                live.retain(|f| !done.contains(f));
            }
        }
        assert_matches_full(net, step);
        assert_remaining_by_flow(net, &live);
    }
}

/// Every flow's remaining bytes from the one pass equal the single lookups, bit for bit,
/// and ids not in use have none.
fn assert_remaining_by_flow(net: &Network, live: &[FlowId]) {
    let mut all = vec![Some((f64::NAN, 7, f64::NAN)); 3];
    net.remaining_by_flow(&mut all);
    for (f, r) in all.iter().enumerate() {
        let single = net.flow_remaining(FlowId(f as u32));
        let rate = net.flow_rate(FlowId(f as u32));
        assert_eq!(
            r.map_or(0.0, |(_, _, q)| q).to_bits(),
            rate.to_bits(),
            "flow {f}"
        );
        let r = r.map_or(0.0, |(r, _, _)| r);
        assert_eq!(r.to_bits(), single.to_bits(), "flow {f}");
        if !live.contains(&FlowId(f as u32)) {
            assert_eq!(r, 0.0, "flow {f} is not in use");
        }
    }
    for f in live {
        assert!(
            (f.0 as usize) < all.len(),
            "live flow {f:?} has a remaining count"
        );
    }
}

proptest! {
    /// One link crossed by five paths (up to twenty classes of four caps): the one-link
    /// filling against the general one, including caps equal to the fair share.
    #[test]
    fn one_link_fill_equals_the_heap_fill(ops in prop::collection::vec(op(), 1..120)) {
        let mut net = Network::new();
        let link = net.add_link(1e6);
        let paths: Vec<PathId> = (0..5).map(|_| net.add_path(&[link])).collect();
        run_ops(&mut net, &[link], &paths, ops);
    }

    #[test]
    fn incremental_equals_full_recompute(ops in prop::collection::vec(op(), 1..120)) {
        let mut net = Network::new();
        let (links, paths) = topology(&mut net);
        run_ops(&mut net, &links, &paths, ops);
    }
}

/// What a twin test does next: a flow, a VM's disks, or time passing.
#[derive(Clone, Debug)]
enum DiskOp {
    Start { path: usize, bytes: u64 },
    Disks { path: usize, disks: Vec<u64> },
    Advance(u64),
}

fn disk_op() -> impl Strategy<Value = DiskOp> {
    // Disks of a few bytes finish within the microsecond they start (they must take one
    // refill each); most take seconds.
    let disk = prop_oneof![1 => 0u64..40, 6 => 1u64..3_000_000];
    // Mostly the first path, so that its class is often alone on the shared link.
    let path = prop_oneof![6 => Just(0usize), 1 => Just(1), 1 => Just(2)];
    prop_oneof![
        3 => (path.clone(), 1u64..3_000_000)
            .prop_map(|(path, bytes)| DiskOp::Start { path, bytes }),
        4 => (path, prop::collection::vec(disk, 1..8))
            .prop_map(|(path, disks)| DiskOp::Disks { path, disks }),
        3 => (0u64..2_000_000).prop_map(DiskOp::Advance),
    ]
}

proptest! {
    /// A VM's disks started together (`start_owned_flows`, which joins them with one
    /// refill when their class is alone on its link or no link binds) against one start
    /// each, bit for bit after every step: rates, anchors, finish times, throughputs,
    /// byte counts and every completion. Two of the capacities make the throughput
    /// `n × (capacity / n)` of a bound link move off the capacity and back as `n` grows
    /// (1e6 at 7 flows; 3e6 / 7 at 3, 5, 6, 10, …), so that states between move it and
    /// move it back.
    #[test]
    fn disks_started_together_match_one_start_each(
        capacity in prop::sample::select(vec![1e6, 1.25e9, 3e6 / 7.0]),
        cap in prop::sample::select(vec![f64::INFINITY, 2e5, 3.4e6]),
        other_cap in prop::sample::select(vec![f64::INFINITY, 2e5, 3.4e6, 1.1e5, 3e6 / 7.0]),
        ops in prop::collection::vec(disk_op(), 1..60),
    ) {
        // The second path's flows take their own cap: two classes of different caps
        // on the shared link (a region's full and incremental copies).
        let cap_of = |path: usize| if path == 1 { other_cap } else { cap };
        let build = || {
            let mut net = Network::new();
            let shared = net.add_link(capacity);
            let other = net.add_link(2e6);
            let paths = [
                net.add_path(&[shared]),
                net.add_path(&[shared]),
                net.add_path(&[other, shared]),
            ];
            (net, paths)
        };
        let (mut together, paths) = build();
        let (mut one_by_one, _) = build();
        let mut t = 0u64;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                DiskOp::Start { path, bytes } => {
                    let now = SimTime(t);
                    let x = together.start_owned_flow(now, paths[path], cap_of(path), bytes, 1);
                    let y = one_by_one.start_owned_flow(now, paths[path], cap_of(path), bytes, 1);
                    prop_assert_eq!(x, y);
                }
                DiskOp::Disks { path, disks } => {
                    let now = SimTime(t);
                    together.start_owned_flows(now, paths[path], cap_of(path), &disks, 2);
                    for &d in &disks {
                        one_by_one.start_owned_flow(now, paths[path], cap_of(path), d, 2);
                    }
                }
                DiskOp::Advance(dt) => {
                    t += dt;
                    together.advance_timed_into(SimTime(t), &mut a);
                    one_by_one.advance_timed_into(SimTime(t), &mut b);
                    prop_assert_eq!(&a, &b, "completions, step {}", step);
                }
            }
            prop_assert_eq!(state(&together), state(&one_by_one), "step {}", step);
        }
        let end = SimTime(t + 3_600_000_000);
        together.advance_timed_into(end, &mut a);
        one_by_one.advance_timed_into(end, &mut b);
        prop_assert_eq!(&a, &b);
        for l in 0..2 {
            let (x, y) = (
                together.link_stats(LinkId(l), end),
                one_by_one.link_stats(LinkId(l), end),
            );
            prop_assert_eq!(x.bytes.to_bits(), y.bytes.to_bits());
            prop_assert_eq!(x.flow_seconds.to_bits(), y.flow_seconds.to_bits());
        }
    }
}

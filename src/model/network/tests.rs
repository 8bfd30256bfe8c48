//! Hand-computed cases; the randomized comparison with a naive implementation is in
//! `reference`.

use std::collections::BTreeMap;

use super::{FlowId, Network, PathId};
use crate::engine::time::SimTime;

mod incremental;
mod reference;

const S: u64 = 1_000_000;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// A link binds exactly where the float test of `fill_at_caps` says its flows' whole caps
/// do not fit: a sum at its `limit` fits, one more does not (below 2^53; above, every
/// sum is left to the filling).
#[test]
fn a_links_limit_is_the_float_tests_bound() {
    let mut net = Network::new();
    let big = (1u64 << 53) - 1;
    let down = net.add_link(1e6);
    net.set_capacity(SimTime(0), down, 0.0);
    assert_eq!(net.links[down.0 as usize].limit, 0);
    for c in [
        1e6,
        3e6 / 7.0,
        1.25e9,
        0.5,
        2f64.powi(52) + 3.0,
        2f64.powi(60),
    ] {
        let l = net.add_link(c);
        let link = &net.links[l.0 as usize];
        let bound = c * (1.0 - super::fill::HEADROOM);
        assert!(link.limit as f64 <= bound, "capacity {c}");
        if link.limit < big {
            assert!((link.limit + 1) as f64 > bound, "capacity {c}");
        }
    }
    assert_eq!(net.links.last().unwrap().limit, big);
}

#[test]
fn hand_computed_max_min() {
    let mut net = Network::new();
    let l1 = net.add_link(10.0);
    let l2 = net.add_link(6.0);
    let pa = net.add_path(&[l1]);
    let pb = net.add_path(&[l1, l2]);
    let pc = net.add_path(&[l2]);
    let t = SimTime::ZERO;
    let big = 1 << 40;
    let a = net.start_flow(t, pa, f64::INFINITY, big);
    let b = net.start_flow(t, pb, f64::INFINITY, big);
    let c1 = net.start_flow(t, pc, f64::INFINITY, big);
    // B and C share L2 (3 each); A gets what B leaves of L1.
    assert_eq!(net.flow_rate(a), 7.0);
    assert_eq!(net.flow_rate(b), 3.0);
    assert_eq!(net.flow_rate(c1), 3.0);
    assert_eq!(net.link_throughput(l1), 10.0);
    assert_eq!(net.link_throughput(l2), 6.0);
    // A second flow on C: L2 shared by 3 (2 each), A = 10 − 2.
    let c2 = net.start_flow(t, pc, f64::INFINITY, big);
    assert_eq!(net.active_classes(), 3);
    assert!(close(net.flow_rate(a), 8.0));
    assert!(close(net.flow_rate(b), 2.0));
    assert!(close(net.flow_rate(c1), 2.0));
    assert!(close(net.flow_rate(c2), 2.0));
    assert_eq!(net.link_flows(l1), 2);
    assert_eq!(net.link_flows(l2), 3);
    // Two capped flows on C (cap 1 < share 2) free L2 for B: B = min(4, L1 share 5)
    // = 4, then A = 6.
    let c3 = net.start_flow(t, pc, 1.0, big);
    net.cancel_flow(t, c2);
    net.cancel_flow(t, c1);
    let c4 = net.start_flow(t, pc, 1.0, big);
    assert_eq!(net.flow_rate(c3), 1.0);
    assert_eq!(net.flow_rate(c4), 1.0);
    assert!(close(net.flow_rate(b), 4.0));
    assert!(close(net.flow_rate(a), 6.0));
    assert_eq!(net.active_flows(), 4);
    // A third flow on L1 with a cap that does not bind: L1 (share 10/3) becomes B's
    // bottleneck instead of L2 (share 4 after the capped flows).
    let a2 = net.start_flow(t, pa, 100.0, big);
    for f in [a, a2, b] {
        assert!(close(net.flow_rate(f), 10.0 / 3.0));
    }
    assert!(close(net.link_throughput(l2), 2.0 + 10.0 / 3.0));
    // The same cap, now binding: a2 gets 1, A and B split the rest of L1 (4.5 each),
    // which L2 allows (6 − 2 = 4 < 4.5: no, L2 binds B at 4), so A = 10 − 1 − 4 = 5.
    net.cancel_flow(t, a2);
    let a3 = net.start_flow(t, pa, 1.0, big);
    assert_eq!(net.flow_rate(a3), 1.0);
    assert!(close(net.flow_rate(b), 4.0));
    assert!(close(net.flow_rate(a), 5.0));
}

/// A cap exactly equal to the link's share freezes its class at the cap, as the
/// filling's `cap <= share` says (not the link: which leaves the rates the same but
/// not whether the filling left every class at its cap, which lets a VM's later disks
/// join without a refill). 100 B/s shared by flows capped at 40 and 60: after the first
/// is frozen at 40 the share is 60. Both the filling of a few classes and the heap's.
#[test]
fn a_cap_equal_to_the_share_holds_its_class_at_the_cap() {
    for heap_only in [false, true] {
        let mut net = Network::new();
        net.heap_only = heap_only;
        let l = net.add_link(100.0);
        let p = net.add_path(&[l]);
        let t = SimTime::ZERO;
        let a = net.start_flow(t, p, 40.0, 1 << 30);
        let b = net.start_flow(t, p, 60.0, 1 << 30);
        assert_eq!((net.flow_rate(a), net.flow_rate(b)), (40.0, 60.0));
        assert!(net.at_caps, "heap only: {heap_only}");
        assert_eq!(net.link_throughput(l), 100.0);
        // A third flow (cap 70) makes the link bind: a third of it each.
        let c = net.start_flow(t, p, 70.0, 1 << 30);
        for f in [a, b, c] {
            assert_eq!(net.flow_rate(f), 100.0 / 3.0);
        }
        assert!(!net.at_caps, "heap only: {heap_only}");
    }
}

#[test]
fn exact_completion_times() {
    let mut net = Network::new();
    let l = net.add_link(1e6);
    let p = net.add_path(&[l]);
    let f = net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
    assert_eq!(net.next_completion(), Some(SimTime(S)));
    assert!(net.advance(SimTime(S - 1)).is_empty());
    assert_eq!(net.advance(SimTime(S)), vec![f]);
    assert_eq!(net.next_completion(), None);

    // Processor sharing: 1 MB and 2 MB together on 1 MB/s end at 2 s and 3 s.
    let t0 = SimTime(10 * S);
    let a = net.start_flow(t0, p, f64::INFINITY, 1_000_000);
    let b = net.start_flow(t0, p, f64::INFINITY, 2_000_000);
    assert_eq!(net.flow_rate(a), 5e5);
    assert_eq!(net.next_completion(), Some(SimTime(12 * S)));
    assert_eq!(net.advance(SimTime(12 * S)), vec![a]);
    assert_eq!(net.flow_rate(b), 1e6);
    assert_eq!(net.next_completion(), Some(SimTime(13 * S)));
    assert_eq!(net.advance(SimTime(13 * S)), vec![b]);
    assert_eq!(net.active_flows(), 0);
}

/// Four flows started at 0, owned by 10, 20, 30 and 40: on a 1 MB/s link, 1 MB uncapped,
/// 2 MB uncapped and 1 MB capped at 0.5 MB/s; on the empty path, 2 kB capped at 1 kB/s.
/// Returns the network, the empty path and the flows in that order.
fn four_flows() -> (Network, PathId, [FlowId; 4]) {
    let mut net = Network::new();
    let l = net.add_link(1e6);
    let p = net.add_path(&[l]);
    let q = net.add_path(&[]);
    let flows = [
        net.start_owned_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000, 10),
        net.start_owned_flow(SimTime::ZERO, p, f64::INFINITY, 2_000_000, 20),
        net.start_owned_flow(SimTime::ZERO, p, 5e5, 1_000_000, 30),
        net.start_owned_flow(SimTime::ZERO, q, 1e3, 2_000, 40),
    ];
    (net, q, flows)
}

#[test]
fn advance_past_several_completions_orders_them() {
    let (mut net, _, [a, b, c, d]) = four_flows();
    let mut out = Vec::new();
    net.advance_timed_into(SimTime(100 * S), &mut out);
    // d: 2 s alone. a, c: 1/3 MB/s each → both finish at 3 s (a has lower id); then
    // b has 2e6 − 1e6 left at 1 MB/s → 4 s.
    assert_eq!(
        out,
        vec![
            (SimTime(2 * S), d),
            (SimTime(3 * S), a),
            (SimTime(3 * S), c),
            (SimTime(4 * S), b)
        ]
    );
}

/// The owner named ahead (and its flow) is the one reported next, step after step,
/// including when a completion waits to be collected; none once every flow is reported.
#[test]
fn next_owner_is_the_next_reported() {
    // Finishing at 2 s (owner 40), 3 s (10 and 30, tied: 10 has the lower flow id) and
    // 4 s (20), as in the test above.
    let (mut net, q, _) = four_flows();
    let mut seen = Vec::new();
    while let Some(t) = net.next_completion() {
        let (ahead, flow) = (net.next_owner(), net.next_done().map(|(f, _)| f));
        let mut out = Vec::new();
        net.advance_owned_into(t, &mut out);
        assert_eq!(ahead, out.first().map(|&(_, o)| o), "at {t}");
        // And the flow named with it is the one reported with it.
        assert_eq!(flow, out.first().map(|&(f, _)| f.0), "at {t}");
        seen.extend(out.iter().map(|&(_, o)| o));
    }
    assert_eq!(seen, [40, 10, 30, 20]);
    assert_eq!(net.next_owner(), None);
    // A completion found by another call waits in the buffer: it is the one named (7,
    // done at 6 s, seen when 8 starts at 7 s), though 8 is the only flow still moving.
    let f = net.start_owned_flow(SimTime(5 * S), q, 1e3, 1_000, 7);
    net.start_owned_flow(SimTime(7 * S), q, 1e3, 1_000, 8);
    assert_eq!(net.flow_rate(f), 0.0);
    assert_eq!(net.next_owner(), Some(7));
}

#[test]
fn outage_shifts_finish_exactly() {
    let mut net = Network::new();
    let l = net.add_link(1e6);
    let p = net.add_path(&[l]);
    let f = net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
    net.set_capacity(SimTime(300_000), l, 0.0);
    assert_eq!(net.flow_rate(f), 0.0);
    assert_eq!(net.next_completion(), None);
    assert!(net.advance(SimTime(700_000)).is_empty());
    net.set_capacity(SimTime(800_000), l, 1e6);
    assert_eq!(net.next_completion(), Some(SimTime(1_500_000)));
    assert_eq!(net.advance(SimTime(1_500_000)), vec![f]);
    let st = net.link_stats(l, SimTime(2 * S));
    assert_eq!(st.down_seconds, 0.5);
    assert_eq!(st.busy_seconds, 1.5);
    assert!(close(st.stalled_bytes, 700_000.0));
    assert!(close(st.bytes, 1e6));
    // An outage still running is counted up to `now`.
    net.set_capacity(SimTime(3 * S), l, 0.0);
    assert_eq!(net.link_stats(l, SimTime(5 * S)).down_seconds, 2.5);
}

#[test]
fn cancel_returns_remaining_and_frees_capacity() {
    let mut net = Network::new();
    let l = net.add_link(1e6);
    let p = net.add_path(&[l]);
    let a = net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
    let b = net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
    assert_eq!(net.cancel_flow(SimTime(500_000), a), 750_000);
    assert_eq!(net.flow_rate(b), 1e6);
    // b: 750 000 left at 1 MB/s.
    assert_eq!(net.next_completion(), Some(SimTime(1_250_000)));
    // A freshly started flow returns all its bytes; partial bytes round up.
    let c = net.start_flow(SimTime(1_000_000), p, f64::INFINITY, 10);
    assert_eq!(net.cancel_flow(SimTime(1_000_000), c), 10);
    let d = net.start_flow(SimTime(1_000_000), p, 2.0, 10);
    assert_eq!(net.cancel_flow(SimTime(1_000_001), d), 10); // 9.999998 left
    assert_eq!(net.advance(SimTime(2 * S)), vec![b]);
}

#[test]
fn completions_found_by_other_calls_are_buffered() {
    let mut net = Network::new();
    let l = net.add_link(1e6);
    let p = net.add_path(&[l]);
    let a = net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
    // The caller handles an arrival after a's finish before its wake-up.
    let b = net.start_flow(SimTime(2 * S), p, f64::INFINITY, 0);
    assert_ne!(a, b, "a's id must not be reused before it is reported");
    assert_eq!(net.next_completion(), Some(SimTime(2 * S)));
    let mut out = Vec::new();
    net.advance_timed_into(SimTime(2 * S), &mut out);
    assert_eq!(out, vec![(SimTime(S), a), (SimTime(2 * S), b)]);
    // A flow completed but not yet reported can be cancelled: 0 bytes, not reported.
    let c = net.start_flow(SimTime(2 * S), p, f64::INFINITY, 5);
    assert_eq!(net.cancel_flow(SimTime(3 * S), c), 0);
    assert!(net.advance(SimTime(3 * S)).is_empty());
    assert_eq!(net.active_flows(), 0);
}

/// A network with one flow (id 0) finished at 1 s and reported.
fn one_reported_flow() -> (Network, PathId, FlowId) {
    let mut net = Network::new();
    let l = net.add_link(1e6);
    let p = net.add_path(&[l]);
    let a = net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
    assert_eq!(net.advance(SimTime(S)), vec![a]);
    (net, p, a)
}

/// With no table by flow id, a cancel finds its flow in the heaps or among the
/// completions not yet reported, and still tells an id already reported (not in use)...
#[test]
#[should_panic(expected = "is not in use")]
fn cancelling_a_reported_flow_panics() {
    let (mut net, p, a) = one_reported_flow();
    // The reported id is handed out again, and is then in use.
    let b = net.start_flow(SimTime(S), p, f64::INFINITY, 1_000);
    assert_eq!((b, net.flow_rate(b)), (a, 1e6));
    assert_eq!(net.advance(SimTime(2 * S)), vec![b]);
    net.cancel_flow(SimTime(2 * S), a);
}

/// ... from one never handed out.
#[test]
#[should_panic(expected = "unknown flow")]
fn cancelling_an_unknown_flow_panics() {
    let (mut net, _, _) = one_reported_flow();
    net.cancel_flow(SimTime(S), FlowId(1));
}

#[test]
fn empty_path_is_limited_by_cap() {
    let mut net = Network::new();
    let p = net.add_path(&[]);
    let f = net.start_flow(SimTime::ZERO, p, 1000.0, 3000);
    assert_eq!(net.flow_rate(f), 1000.0);
    assert_eq!(net.next_completion(), Some(SimTime(3 * S)));
}

#[test]
#[should_panic(expected = "empty path needs a finite cap")]
fn empty_path_without_cap_panics() {
    let mut net = Network::new();
    let p = net.add_path(&[]);
    net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1);
}

#[test]
fn long_running_class_rebases_without_drift() {
    // One class kept busy for hours at 10 GB/s: its virtual clock passes 2^40 several
    // times; finish times stay exact.
    let mut net = Network::new();
    let l = net.add_link(1e10);
    let p = net.add_path(&[l]);
    let mut t = 0;
    let mut f = net.start_flow(SimTime(t), p, f64::INFINITY, 5_000_000_000_000);
    let g = net.start_flow(SimTime(t), p, f64::INFINITY, 50_000_000_000_000);
    for _ in 0..5 {
        // f and g share: 5e12 bytes at 5e9 B/s = 1000 s.
        assert_eq!(net.next_completion(), Some(SimTime(t + 1000 * S)));
        t += 1000 * S;
        assert_eq!(net.advance(SimTime(t)), vec![f]);
        f = net.start_flow(SimTime(t), p, f64::INFINITY, 5_000_000_000_000);
    }
    // g received 2.5e13 bytes; 2.5e13 − 5e12·… left: 5e13 − 2.5e13 = 2.5e13 at 5e9 B/s,
    // but f (5e12) finishes first after 1000 s, then g alone at 1e10 B/s.
    t += 1000 * S;
    assert_eq!(net.advance(SimTime(t)), vec![f]);
    assert_eq!(net.next_completion(), Some(SimTime(t + 2000 * S)));
    assert_eq!(net.advance(SimTime(t + 2000 * S)), vec![g]);
}

#[test]
fn link_stats_match_flows() {
    let mut net = Network::new();
    let l = net.add_link(1e6);
    let other = net.add_link(5e5);
    let p = net.add_path(&[l]);
    let q = net.add_path(&[l, other]);
    let mut rng = Lcg(7);
    let mut t = 0u64;
    let mut started: BTreeMap<u32, (u64, u64, bool)> = BTreeMap::new(); // id → (start, bytes, only l)
    let mut sum_bytes = 0u64;
    let mut sum_dur_only_l = 0u64;
    let mut sum_dur_all = 0u64;
    let mut out = Vec::new();
    for _ in 0..200 {
        t += rng.below(300_000);
        out.clear();
        net.advance_timed_into(SimTime(t), &mut out);
        for &(end, f) in &out {
            let (s, b, only) = started.remove(&f.0).unwrap();
            sum_bytes += b;
            sum_dur_all += end.0 - s;
            if only {
                sum_dur_only_l += end.0 - s;
            }
        }
        let only = rng.below(2) == 0;
        let bytes = 1 + rng.below(400_000);
        let f = net.start_flow(SimTime(t), if only { p } else { q }, f64::INFINITY, bytes);
        started.insert(f.0, (t, bytes, only));
    }
    let end = net
        .next_completion()
        .map(|_| SimTime(u64::MAX / 2))
        .unwrap();
    out.clear();
    net.advance_timed_into(end, &mut out);
    for &(e, f) in &out {
        let (s, b, only) = started.remove(&f.0).unwrap();
        sum_bytes += b;
        sum_dur_all += e.0 - s;
        if only {
            sum_dur_only_l += e.0 - s;
        }
    }
    assert!(started.is_empty());
    let st = net.link_stats(l, end);
    assert!((st.bytes - sum_bytes as f64).abs() < 1e-6 * sum_bytes as f64);
    assert_eq!(st.flow_seconds, sum_dur_all as f64 / 1e6);
    let st2 = net.link_stats(other, end);
    assert_eq!(
        st2.flow_seconds,
        (sum_dur_all - sum_dur_only_l) as f64 / 1e6
    );
    assert!(st.busy_seconds <= end.as_secs_f64());
}

#[test]
fn flow_seconds_single_link() {
    let mut net = Network::new();
    let l = net.add_link(1e6);
    let p = net.add_path(&[l]);
    net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
    net.start_flow(SimTime::ZERO, p, f64::INFINITY, 2_000_000);
    net.advance(SimTime(10 * S));
    let st = net.link_stats(l, SimTime(10 * S));
    assert_eq!(st.flow_seconds, 5.0); // 2 s + 3 s
    assert_eq!(st.busy_seconds, 3.0);
    assert!(close(st.bytes, 3e6));
}

/// A VM's disks started together leave the network as one start per disk does, bit for
/// bit (ids, rates, anchors, finish times, completions, link bytes), whether they join
/// with one refill (the caps fit the links) or take one each (a link binds, or a disk
/// is empty and finishes at once).
#[test]
fn a_vms_disks_started_together_match_one_start_each() {
    // (edge capacity, the disks' bytes, whether they should join with one refill)
    let cases: [(f64, &[u64], bool); 4] = [
        (1e7, &[700_000, 1_300_000, 2_100_000, 90_000], true),
        (1e6, &[700_000, 1_300_000, 2_100_000, 90_000], false),
        (1e7, &[700_000, 0, 2_100_000], false),
        (1e7, &[5_000_000], false),
    ];
    for (edge_capacity, disks, joins) in cases {
        let build = || {
            let mut net = Network::new();
            let core = net.add_link(3e6);
            let edge = net.add_link(edge_capacity);
            let p = net.add_path(&[core, edge]);
            let q = net.add_path(&[core]);
            net.start_owned_flow(SimTime::ZERO, q, 4e5, 5_000_000, 9);
            net.start_owned_flow(SimTime(S / 7), p, 3e5, 800_000, 8);
            (net, p, [core, edge])
        };
        let t = SimTime(S / 3);
        let (mut one_by_one, p, links) = build();
        let ids: Vec<FlowId> = disks
            .iter()
            .map(|&b| one_by_one.start_owned_flow(t, p, 3e5, b, 4))
            .collect();
        let (mut together, _, _) = build();
        let epoch = together.epoch;
        together.start_owned_flows(t, p, 3e5, disks, 4);
        let refills = together.epoch - epoch;
        let case = format!("edge {edge_capacity}, disks {disks:?}");
        assert_eq!(
            refills < disks.len() as u64,
            joins,
            "{case}: {refills} refills"
        );
        for f in &ids {
            assert_eq!(
                one_by_one.flow_rate(*f).to_bits(),
                together.flow_rate(*f).to_bits(),
                "{case}"
            );
        }
        assert_eq!(one_by_one.next_completion(), together.next_completion());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        one_by_one.advance_timed_into(SimTime(60 * S), &mut a);
        together.advance_timed_into(SimTime(60 * S), &mut b);
        assert_eq!(a, b, "{case}");
        assert_eq!(a.len(), disks.len() + 2, "{case}: every flow finishes");
        for l in links {
            let (x, y) = (
                one_by_one.link_stats(l, SimTime(60 * S)),
                together.link_stats(l, SimTime(60 * S)),
            );
            assert_eq!(x.bytes.to_bits(), y.bytes.to_bits(), "{case}");
            assert_eq!(x.flow_seconds.to_bits(), y.flow_seconds.to_bits(), "{case}");
        }
    }
}

/// A link whose flows' caps sum to its capacity, to a hair under it and to a hair over
/// it: the caps shortcut must leave each case to the filling proper, which gives the
/// same rates (at the caps, or at the link's fair share just under them).
#[test]
fn caps_at_a_links_capacity_take_the_filling() {
    for capacity in [
        1e6,
        1e6 * (1.0 - 1e-10),
        1e6 * (1.0 + 1e-10),
        1e6 * (1.0 + 2e-9),
    ] {
        let mut shortcut = Network::new();
        let mut general = Network::new();
        general.heap_only = true;
        let mut rates = Vec::new();
        for net in [&mut shortcut, &mut general] {
            // Two links: components of one link take the filling itself.
            let l = net.add_link(capacity);
            let wide = net.add_link(1e9);
            let p = net.add_path(&[wide, l]);
            let f: Vec<FlowId> = (0..5)
                .map(|_| net.start_flow(SimTime::ZERO, p, 2e5, 1_000_000))
                .collect();
            rates.push(
                f.iter()
                    .map(|&f| net.flow_rate(f).to_bits())
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(rates[0], rates[1], "capacity {capacity}");
        let expect = (capacity / 5.0).min(2e5);
        assert_eq!(f64::from_bits(rates[0][0]), expect, "capacity {capacity}");
    }
}

/// A small deterministic generator for the randomized tests.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        crate::engine::rng::mix64(self.0)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

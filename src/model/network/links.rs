//! Links: capacities, outages (capacity 0) and the statistics, anchored so that they
//! move only when a link's throughput or flow count changes (see "Invariants").

use super::{f64_of, LinkId, LinkStats, Network, NOT_LISTED};
use crate::engine::time::SimTime;

/// A link's capacity, the active classes crossing it, its statistics and its
/// water-filling scratch.
pub(super) struct Link {
    pub(super) capacity: f64,
    /// Active classes crossing this link (order irrelevant to results' values except via
    /// float summation order, which is itself deterministic).
    pub(super) classes: Vec<u32>,
    /// Σ flow counts of `classes`.
    pub(super) n_flows: u64,
    /// Σ rates of the flows crossing the link.
    pub(super) throughput: f64,
    /// Position in `Network::active_links`, or `NOT_LISTED`.
    pub(super) active_pos: u32,
    // Statistics, anchored (see the `network` module doc): bytes carried up to `bytes_t`,
    // and the integer statistics up to `stat_t` (`n_flows` has not changed since).
    pub(super) bytes: f64,
    pub(super) bytes_t: u64,
    pub(super) flow_us: u128,
    pub(super) busy_us: u64,
    pub(super) stat_t: u64,
    pub(super) down_us: u64,
    pub(super) down_since: u64,
    pub(super) stalled_bytes: f64,
    // Water-filling scratch.
    pub(super) rem: f64,
    pub(super) unfrozen: u64,
    /// The throughput being summed by the water-filling.
    pub(super) tp_acc: f64,
    /// Recompute epoch at which the link was found in a changed component.
    pub(super) seen: u64,
    /// Whether the last filling of a component listing this link first left every class
    /// at its cap: the next one tries the shortcut first only then (see `fill`).
    pub(super) last_at_caps: bool,
    /// The caps of its flows whose cap is a whole number below 2^32, summed exactly (below
    /// 2^64 for its at most 2^32 flows), and how many others it carries (see
    /// [`Link::binds`]).
    pub(super) cap_sum: u64,
    pub(super) inexact: u64,
    /// The most `cap_sum` may be for its flows to run at their caps: `capacity × (1 −
    /// HEADROOM)` rounded down, below 2^53 (see [`Link::binds`]).
    pub(super) limit: u64,
    /// [`Link::binds`] as last counted in `Network::binding`.
    pub(super) counted: bool,
}

/// Sums of whole numbers below this are exact in `f64`.
const EXACT_BELOW: u64 = 1 << 53;

/// A cap as a whole number of bytes/s below 2^32 (4 GB/s, far above a disk's copy rate),
/// if it is one (the per-disk rates are).
#[inline]
pub(super) fn exact_cap(cap: f64) -> Option<u64> {
    (cap.fract() == 0.0 && (0.0..4_294_967_296.0).contains(&cap)).then_some(cap as u64)
}

impl Link {
    /// Whether its flows' caps might not all be met: unless every one of its flows has a
    /// whole-number cap (below 2^32), their sum below 2^53 (so that `f64` adds them
    /// exactly, in any order) and within `1 − HEADROOM` of its capacity, as
    /// `Network::fill_at_caps` asks. A link without flows binds nothing.
    ///
    /// A whole `cap_sum` below 2^53 converts to `f64` exactly, so it is at most `capacity
    /// × (1 − HEADROOM)` exactly when it is at most that product rounded down (`limit`).
    #[inline]
    pub(super) fn binds(&self) -> bool {
        self.inexact > 0 || self.cap_sum > self.limit
    }

    /// Adds (`add`) or removes `count` flows of whole cap `cap` (`None`: another cap; see
    /// [`exact_cap`]) at `t`: its flow count (its integer statistics brought to `t` first)
    /// and its sums of caps; returns the change of `Network::binding` it makes (see
    /// [`Link::recount`]).
    #[inline(always)]
    pub(super) fn change_flows(&mut self, t: u64, cap: Option<u64>, count: u64, add: bool) -> i64 {
        self.touch_counts(t);
        if add {
            self.n_flows += count;
        } else {
            self.n_flows -= count;
        }
        match (cap, add) {
            (Some(x), true) => self.cap_sum += x * count,
            (Some(x), false) => self.cap_sum -= x * count,
            (None, true) => self.inexact += count,
            (None, false) => self.inexact -= count,
        }
        self.recount()
    }

    /// Notes whether it binds now; returns the change of `Network::binding` (−1, 0 or 1).
    #[inline]
    pub(super) fn recount(&mut self) -> i64 {
        let binds = self.binds();
        let d = i64::from(binds) - i64::from(self.counted);
        self.counted = binds;
        d
    }

    /// Sets the capacity and the `limit` that goes with it.
    pub(super) fn set_limit(&mut self, capacity: f64) {
        self.capacity = capacity;
        let most = (capacity * (1.0 - super::fill::HEADROOM)).floor();
        self.limit = if most < (EXACT_BELOW - 1) as f64 {
            most as u64
        } else {
            EXACT_BELOW - 1
        };
    }

    /// Brings the integer statistics to `t`; call before `n_flows` changes.
    #[inline]
    fn touch_counts(&mut self, t: u64) {
        let dt = t - self.stat_t;
        if self.n_flows > 0 {
            self.flow_us += self.n_flows as u128 * dt as u128;
            self.busy_us += dt;
        }
        self.stat_t = t;
    }

    /// Sets the throughput from `t` on, re-anchoring the byte count only if it changed.
    #[inline]
    pub(super) fn set_throughput(&mut self, t: u64, tp: f64) {
        if tp.to_bits() != self.throughput.to_bits() {
            self.anchor_bytes(t);
            self.throughput = tp;
        }
    }

    /// Brings the byte count to `t` (>= `bytes_t`) at the current throughput. Once
    /// anchored at an instant, anchoring there again changes nothing (`throughput × 0`
    /// adds 0).
    #[inline]
    pub(super) fn anchor_bytes(&mut self, t: u64) {
        self.bytes += self.throughput * f64_of(t - self.bytes_t) / 1e6;
        self.bytes_t = t;
    }
}

impl Network {
    /// Adds a link of `capacity` bytes per second (finite, > 0). Its statistics start at
    /// the current clock.
    pub fn add_link(&mut self, capacity: f64) -> LinkId {
        assert!(
            capacity.is_finite() && capacity > 0.0,
            "link capacity must be finite and > 0, got {capacity}"
        );
        let id = u32::try_from(self.links.len()).expect("more than 2^32 links");
        self.links.push(Link {
            capacity,
            classes: Vec::new(),
            n_flows: 0,
            throughput: 0.0,
            active_pos: NOT_LISTED,
            bytes: 0.0,
            bytes_t: self.clock,
            flow_us: 0,
            busy_us: 0,
            stat_t: self.clock,
            down_us: 0,
            down_since: 0,
            stalled_bytes: 0.0,
            rem: 0.0,
            unfrozen: 0,
            tp_acc: 0.0,
            seen: 0,
            last_at_caps: true,
            cap_sum: 0,
            inexact: 0,
            limit: 0,
            counted: false,
        });
        self.links[id as usize].set_limit(capacity);
        LinkId(id)
    }

    /// Brings `binding` up to date with link `l`'s [`Link::binds`].
    #[inline]
    pub(super) fn recount(&mut self, l: usize) {
        let d = self.links[l].recount();
        self.binding = self.binding.wrapping_add_signed(d);
    }

    /// Sets a link's capacity at `now` (finite, >= 0; 0 is an outage: flows crossing the
    /// link stall at rate 0 until it is raised again).
    pub fn set_capacity(&mut self, now: SimTime, link: LinkId, capacity: f64) {
        assert!(
            capacity.is_finite() && capacity >= 0.0,
            "link capacity must be finite and >= 0, got {capacity}"
        );
        self.progress(now.0);
        let clock = self.clock;
        let l = link.0 as usize;
        let old = self.links[l].capacity;
        if old > 0.0 && capacity == 0.0 {
            let mut stalled = 0.0;
            for &c in &self.links[l].classes {
                let class = &self.classes[c as usize];
                stalled += (class.sum_tags - class.heap.len() as f64 * class.v_at(clock)).max(0.0);
            }
            let link = &mut self.links[l];
            link.stalled_bytes += stalled;
            link.down_since = clock;
        } else if old == 0.0 && capacity > 0.0 {
            let link = &mut self.links[l];
            link.down_us += clock - link.down_since;
        }
        self.links[l].set_limit(capacity);
        self.recount(l);
        if self.links[l].active_pos != NOT_LISTED && old != capacity {
            self.touch_link(link.0);
            self.recompute();
        }
    }

    /// The current sum of the rates of the flows crossing `link`.
    pub fn link_throughput(&self, link: LinkId) -> f64 {
        self.links[link.0 as usize].throughput
    }

    /// The current capacity of `link`.
    pub fn link_capacity(&self, link: LinkId) -> f64 {
        self.links[link.0 as usize].capacity
    }

    /// Statistics of `link` accumulated up to `now` (>= [`Network::now`]), assuming no
    /// change between the last call and `now`.
    pub fn link_stats(&self, link: LinkId, now: SimTime) -> LinkStats {
        assert!(now.0 >= self.clock, "link_stats: {now} is in the past");
        let l = &self.links[link.0 as usize];
        let bytes = l.bytes + l.throughput * f64_of(now.0 - l.bytes_t) / 1e6;
        let dt = now.0 - l.stat_t;
        let (mut flow_us, mut busy_us) = (l.flow_us, l.busy_us);
        if l.n_flows > 0 {
            flow_us += l.n_flows as u128 * dt as u128;
            busy_us += dt;
        }
        let mut down_us = l.down_us;
        if l.capacity == 0.0 {
            down_us += now.0 - l.down_since;
        }
        LinkStats {
            bytes,
            flow_seconds: flow_us as f64 / 1e6,
            busy_seconds: busy_us as f64 / 1e6,
            down_seconds: down_us as f64 / 1e6,
            stalled_bytes: l.stalled_bytes,
        }
    }

    /// The number of unfinished flows crossing `link`.
    pub fn link_flows(&self, link: LinkId) -> usize {
        self.links[link.0 as usize].n_flows as usize
    }
}

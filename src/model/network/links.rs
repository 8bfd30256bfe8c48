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
}

impl Link {
    /// Brings the integer statistics to `t`; call before `n_flows` changes.
    #[inline]
    pub(super) fn touch_counts(&mut self, t: u64) {
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
        });
        LinkId(id)
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
        self.links[l].capacity = capacity;
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

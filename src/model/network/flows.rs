//! Starting and cancelling flows, and what a flow's rate and remaining bytes are.

use super::clock::{finish_from, rebase};
use super::fill::HEADROOM;
use super::heap::Entry;
use super::{FlowId, Network, PathId, REBASE_AT};
use crate::engine::time::SimTime;

impl Network {
    /// Starts a transfer of `bytes` at `now` on `path`, each flow limited to `cap` bytes/s
    /// (`f64::INFINITY` for no cap; otherwise finite and > 0). A zero-byte flow completes at
    /// `now` (collected by the next `advance`).
    ///
    /// Panics if `cap` is infinite and the path is empty: such a flow would have an
    /// unbounded rate, which the caller must avoid.
    pub fn start_flow(&mut self, now: SimTime, path: PathId, cap: f64, bytes: u64) -> FlowId {
        self.start_owned_flow(now, path, cap, bytes, 0)
    }

    /// [`Network::start_flow`] for a flow the caller knows by `owner` (any `u32`, say the
    /// job it moves data for): [`Network::advance_owned_into`] reports it with the flow.
    pub fn start_owned_flow(
        &mut self,
        now: SimTime,
        path: PathId,
        cap: f64,
        bytes: u64,
        owner: u32,
    ) -> FlowId {
        assert!(cap > 0.0, "flow cap must be > 0, got {cap}");
        let p = path.0 as usize;
        assert!(p < self.paths.len(), "start_flow: unknown path {path:?}");
        assert!(
            cap.is_finite() || self.paths[p].1 > 0,
            "start_flow: a flow on an empty path needs a finite cap"
        );
        self.progress(now.0);
        let f = self.add_flow(path.0, cap, bytes, owner);
        self.recompute();
        f
    }

    /// Starts one flow per entry of `bytes` at `now`, all on `path` with `cap` and owned by
    /// `owner` (a VM's disks), ids in that order: the same, bit for bit, as one
    /// [`Network::start_owned_flow`] per entry. The flows after the first join with one
    /// refill instead of one each when no link binds (see `Network::joins_at_caps`) or
    /// when their class is alone on the path's only link (see `Network::joins_alone`).
    pub fn start_owned_flows(
        &mut self,
        now: SimTime,
        path: PathId,
        cap: f64,
        bytes: &[u64],
        owner: u32,
    ) {
        for (i, &b) in bytes.iter().enumerate() {
            self.start_owned_flow(now, path, cap, b, owner);
            let rest = &bytes[i + 1..];
            if rest.is_empty() {
                return;
            }
            if self.joins_at_caps(path.0, cap, rest) {
                for &b in rest {
                    self.add_flow(path.0, cap, b, owner);
                }
                self.recompute();
                return;
            }
            if let Some(tp_moved) = self.joins_alone(path.0, cap, rest) {
                self.join_alone(path.0, cap, rest, owner, tp_moved);
                return;
            }
        }
    }

    /// Whether flows of `bytes` on `path` at `cap` can join (after a recompute that
    /// touched only their class) with one refill for all, as one refill each would leave
    /// them. It is so when the refill just made froze every class at its cap and the
    /// links of `path` keep a margin of twice the filling's headroom with the new flows
    /// at their caps: every state on the way then runs every class at its cap too (a
    /// link's sum of caps only grows with its flows), so no rate or anchor moves but
    /// those of the class itself, which end the same; and nothing completes on the way
    /// (nothing is due now, and each new flow takes at least 2 µs at its cap), since a
    /// completion between two starts would be collected with other rates.
    fn joins_at_caps(&self, path: u32, cap: f64, bytes: &[u64]) -> bool {
        if !self.at_caps || self.next <= self.clock || !cap.is_finite() {
            return false;
        }
        let more = bytes.len() as f64 * cap;
        let (s, n) = self.paths[path as usize];
        bytes.iter().all(|&b| b as f64 * 1e6 / cap >= 2.0)
            && self.path_links[s as usize..(s + n) as usize]
                .iter()
                .all(|&l| {
                    let link = &self.links[l as usize];
                    link.throughput + more <= link.capacity * (1.0 - 2.0 * HEADROOM)
                })
    }

    /// Whether flows of `bytes` on `path` at `cap` can join with one refill when their
    /// class (just started or active) is the only one on the path's only link, as on a
    /// region's link through a night of incrementals; if so, whether one refill each
    /// would have moved the link's throughput on the way.
    ///
    /// One refill each takes the class through `n + 1, …, n + k` flows, each state's rate
    /// and throughput a function of its flow count alone ([`Network::one_class_fill`]):
    /// the last state's are the one refill's. The states between leave a trace in two
    /// ways only. A value that moves re-anchors its clock at this instant (and a clock
    /// anchored at an instant stays put when anchored there again): the rate never moves
    /// back (the share `capacity / n` does not grow with `n`, a correctly rounded
    /// division is monotone, and so is the cap's test), so it moves in the last state if
    /// at all; the throughput `n × rate` can come back to its bits (at a bound link, `n ×
    /// (capacity / n)` is the capacity for most `n`, a hair off for some), so whether it
    /// moved is reported for [`Network::join_alone`] to anchor it. And a flow falling due
    /// now in a state between would be completed before the next flow joins: none may,
    /// checked for every state with its rate, anchor and earliest tag, as the completion
    /// timer would see them.
    fn joins_alone(&self, path: u32, cap: f64, bytes: &[u64]) -> Option<bool> {
        let (s, n) = self.paths[path as usize];
        if n != 1 || self.next <= self.clock {
            return None;
        }
        let link = &self.links[self.path_links[s as usize] as usize];
        let &[c] = link.classes.as_slice() else {
            return None;
        };
        let class = &self.classes[c as usize];
        debug_assert!(class.path == path && class.cap.to_bits() == cap.to_bits());
        let clock = self.clock;
        let v = class.v_at(clock);
        if v > REBASE_AT {
            return None;
        }
        let mut top = class.heap.top().tag;
        let mut flows = class.heap.len() as u64;
        let (mut rate_moved, mut tp_moved) = (false, false);
        for &b in bytes {
            flows += 1;
            top = top.min(v + b as f64);
            let (rate, tp, _) = Network::one_class_fill(link.capacity, flows, cap);
            rate_moved |= rate.to_bits() != class.rate.to_bits();
            tp_moved |= tp.to_bits() != link.throughput.to_bits();
            let (va, ta) = if rate_moved {
                (v, clock)
            } else {
                (class.v_anchor, class.t_anchor)
            };
            if finish_from(va, ta, rate, top, clock) <= clock {
                return None;
            }
        }
        Some(tp_moved)
    }

    /// Adds flows of `bytes` to the class of `(path, cap)`, alone on the path's only link,
    /// with one refill: the state one refill each would leave (see
    /// [`Network::joins_alone`], which tells whether the throughput moved on the way).
    fn join_alone(&mut self, path: u32, cap: f64, bytes: &[u64], owner: u32, tp_moved: bool) {
        if tp_moved {
            let l = self.path_links[self.paths[path as usize].0 as usize] as usize;
            self.links[l].anchor_bytes(self.clock);
        }
        for &b in bytes {
            self.add_flow(path, cap, b, owner);
        }
        self.recompute();
    }

    /// Adds a flow to its class at the clock and marks the class for the next recompute.
    fn add_flow(&mut self, path: u32, cap: f64, bytes: u64, owner: u32) -> FlowId {
        let key = (path, cap.to_bits());
        let c = match self.class_of.get(&key) {
            Some(&c) => c,
            None => {
                let c = self.new_class(path, cap);
                self.class_of.insert(key, c);
                c
            }
        };
        let f = match self.free_flows.pop() {
            Some(f) => f,
            None => {
                let f = self.flow_ids;
                self.flow_ids = f.checked_add(1).expect("more than 2^32 flows");
                f
            }
        };
        let was_empty = self.classes[c as usize].heap.is_empty();
        let clock = self.clock;
        {
            let class = &mut self.classes[c as usize];
            if was_empty {
                class.v_anchor = 0.0;
                class.t_anchor = clock;
                class.rate = 0.0;
            } else if class.v_at(clock) > REBASE_AT {
                rebase(class, clock);
            }
            let tag = class.v_at(clock) + bytes as f64;
            class.sum_tags += tag;
            class.heap.push(Entry {
                tag,
                flow: f,
                owner,
            });
        }
        self.n_active += 1;
        let (s, n) = self.paths[path as usize];
        let whole = self.classes[c as usize].whole_cap;
        let mut binding = 0;
        for &l in &self.path_links[s as usize..(s + n) as usize] {
            binding += self.links[l as usize].change_flows(clock, whole, 1, true);
        }
        self.binding = self.binding.wrapping_add_signed(binding);
        if was_empty {
            self.activate(c);
        }
        self.touch_class(c);
        FlowId(f)
    }

    /// Removes an unfinished flow at `now` and returns the bytes it had not yet transferred,
    /// rounded up. A flow that completed by `now` but was not yet reported by `advance`
    /// returns 0 and will not be reported. Panics on an id that is not in use.
    ///
    /// O(unfinished flows): the flow is found by a scan of the active classes' heaps (see
    /// the `heap` module and `Network::flow_ids`: the simulation never cancels a transfer).
    pub fn cancel_flow(&mut self, now: SimTime, flow: FlowId) -> u64 {
        self.progress(now.0);
        assert!(flow.0 < self.flow_ids, "cancel_flow: unknown flow {flow:?}");
        if let Some(i) = self.done.iter().position(|&(_, d, _)| d == flow.0) {
            self.done.remove(i);
            self.free_flows.push(flow.0);
            return 0;
        }
        let (c, _) = self
            .find_flow(flow.0)
            .unwrap_or_else(|| panic!("cancel_flow: flow {flow:?} is not in use"));
        let clock = self.clock;
        let class = &mut self.classes[c as usize];
        let e = class
            .heap
            .remove_flow(flow.0)
            .expect("active flow missing from its class heap");
        let rem = e.tag - class.v_at(clock);
        class.sum_tags -= e.tag;
        self.free_flows.push(flow.0);
        self.n_active -= 1;
        let (s, n) = self.paths[class.path as usize];
        let mut binding = 0;
        for &l in &self.path_links[s as usize..(s + n) as usize] {
            let link = &mut self.links[l as usize];
            binding += link.change_flows(clock, class.whole_cap, 1, false);
        }
        self.binding = self.binding.wrapping_add_signed(binding);
        if self.classes[c as usize].heap.is_empty() {
            self.deactivate(c);
        }
        self.touch_class(c);
        self.recompute();
        (rem - 1e-3).ceil().max(0.0) as u64
    }

    /// Unfinished flow `f`'s active class and heap entry, if any (a scan).
    fn find_flow(&self, f: u32) -> Option<(u32, &Entry)> {
        self.active_classes.iter().find_map(|&c| {
            let e = self.classes[c as usize].heap.iter().find(|e| e.flow == f)?;
            Some((c, e))
        })
    }

    /// The current rate of a flow in bytes/s (0 for a finished or unknown flow).
    /// O(unfinished flows); [`Network::remaining_by_flow`] gives every flow's at once.
    pub fn flow_rate(&self, flow: FlowId) -> f64 {
        self.find_flow(flow.0)
            .map_or(0.0, |(c, _)| self.classes[c as usize].rate)
    }

    /// The bytes a flow still has to transfer (0 for a finished or unknown flow).
    /// O(unfinished flows); [`Network::remaining_by_flow`] gives every flow's at once.
    pub fn flow_remaining(&self, flow: FlowId) -> f64 {
        self.find_flow(flow.0).map_or(0.0, |(c, e)| {
            (e.tag - self.classes[c as usize].v_at(self.clock)).max(0.0)
        })
    }

    /// [`Network::flow_remaining`] of every unfinished flow with its owner and its rate
    /// ([`Network::flow_rate`]), indexed by flow id (`None` for ids not in use or
    /// finished), into `out` (cleared): one pass over the active classes.
    pub fn remaining_by_flow(&self, out: &mut Vec<Option<(f64, u32, f64)>>) {
        out.clear();
        out.resize(self.flow_ids as usize, None);
        for &c in &self.active_classes {
            let class = &self.classes[c as usize];
            let v = class.v_at(self.clock);
            for e in class.heap.iter() {
                out[e.flow as usize] = Some(((e.tag - v).max(0.0), e.owner, class.rate));
            }
        }
    }

    /// Flows started and not yet reported by an `advance` nor cancelled: the unfinished
    /// ones and those finished but not collected.
    pub fn flows_in_use(&self) -> usize {
        self.n_active + self.done.len()
    }

    /// The number of unfinished flows.
    pub fn active_flows(&self) -> usize {
        self.n_active
    }

    /// The number of active flow classes (distinct (path, cap) pairs with unfinished flows).
    pub fn active_classes(&self) -> usize {
        self.active_classes.len()
    }
}

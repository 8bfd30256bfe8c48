//! Integer time, the classes' virtual clocks and the completion timer: when flows finish,
//! and moving the network's clock to a given instant (see "Integer time and rounding" in
//! the `network` module doc).

use super::classes::Class;
use super::{f64_of, FlowId, Network, NEVER, REBASE_AT};
use crate::engine::time::SimTime;

/// Slack subtracted (in µs) before rounding a finish time up; see the `network` module doc.
const ROUND_SLACK_US: f64 = 1e-3;
/// Finish times this far away are treated as never (a stalled-but-positive rate).
const FAR: f64 = (1u64 << 62) as f64;

/// The finish time of a flow with `rem` bytes left at rate `rate`, seen at `clock`.
/// The single definition used both to report and to decide completions.
#[inline]
pub(super) fn finish_time(clock: u64, rem: f64, rate: f64) -> u64 {
    if rem <= 0.0 {
        return clock;
    }
    if rate <= 0.0 {
        return NEVER;
    }
    let dt = rem * 1e6 / rate - ROUND_SLACK_US;
    if dt <= 0.0 {
        return clock;
    }
    if dt >= FAR {
        return NEVER;
    }
    // ceil without a libm call (0 < dt < 2^62 here, so the signed conversions, one
    // instruction each, give the unsigned ones' values).
    let whole = dt as i64 as u64;
    let up = whole + u64::from(f64_of(whole) < dt);
    clock.saturating_add(up).min(NEVER - 1)
}

/// The finish time of the flow with finish tag `tag` in a class anchored at
/// `(v_anchor, t_anchor)` with `rate`, never before `clock` ([`Class::finish_of`], also
/// for a state a class would pass through).
#[inline]
pub(super) fn finish_from(v_anchor: f64, t_anchor: u64, rate: f64, tag: f64, clock: u64) -> u64 {
    finish_time(t_anchor, tag - v_anchor, rate).max(clock)
}

impl Class {
    /// The virtual clock at `t` (>= `t_anchor`): bytes received by each flow.
    #[inline]
    pub(super) fn v_at(&self, t: u64) -> f64 {
        self.v_anchor + self.rate * f64_of(t - self.t_anchor) / 1e6
    }

    /// The finish time of the flow with finish tag `tag`, at the current rate, computed
    /// from the anchor (so independent of when it is asked), and never before `clock`.
    #[inline]
    pub(super) fn finish_of(&self, tag: f64, clock: u64) -> u64 {
        finish_from(self.v_anchor, self.t_anchor, self.rate, tag, clock)
    }

    /// Sets the rate from `t` on, re-anchoring only if it changed.
    #[inline]
    pub(super) fn set_rate(&mut self, t: u64, rate: f64) {
        if rate.to_bits() != self.rate.to_bits() {
            self.v_anchor = self.v_at(t);
            self.t_anchor = t;
            self.rate = rate;
        }
    }
}

/// Shifts a class's virtual clock back to 0 at `t` (see the `network` module doc).
pub(super) fn rebase(class: &mut Class, t: u64) {
    let v = class.v_at(t);
    class.sum_tags = class.heap.rebase(v);
    class.v_anchor = 0.0;
    class.t_anchor = t;
}

impl Network {
    /// The owner (see [`Network::start_owned_flow`]) of a flow that finishes at
    /// [`Network::next_completion`], or `None` when none is due; with several due at that
    /// instant, one of them. A hint for the caller to load the owner's state ahead: it
    /// reads only the top of the completion timer and of one class's heap.
    #[inline]
    pub fn next_owner(&self) -> Option<u32> {
        self.next_done().map(|(_, owner)| owner)
    }

    /// The flow (and its owner) that [`Network::next_owner`] names.
    #[inline]
    pub(super) fn next_done(&self) -> Option<(u32, u32)> {
        if let Some(&(_, f, owner)) = self.done.first() {
            return Some((f, owner));
        }
        let &(t, c) = self.wake.first()?;
        if t == NEVER {
            return None;
        }
        self.classes[c as usize]
            .heap
            .first()
            .map(|e| (e.flow, e.owner))
    }

    /// The earliest time at which some flow finishes at the current rates (rounded up to
    /// the microsecond), or `None` if no flow can progress. Never earlier than
    /// [`Network::now`]; equal to it when completions are waiting to be collected.
    pub fn next_completion(&self) -> Option<SimTime> {
        if !self.done.is_empty() {
            Some(SimTime(self.clock))
        } else if self.next == NEVER {
            None
        } else {
            Some(SimTime(self.next))
        }
    }

    /// Advances to `now` (>= the last time seen) and returns the flows completed by `now`,
    /// ordered by finish time, ties by id. They are removed (their ids may be reused).
    pub fn advance(&mut self, now: SimTime) -> Vec<FlowId> {
        let mut out = Vec::new();
        self.advance_into(now, &mut out);
        out
    }

    /// [`Network::advance`] appending to a caller-provided buffer (not cleared).
    pub fn advance_into(&mut self, now: SimTime, out: &mut Vec<FlowId>) {
        self.progress(now.0);
        self.drain_done(|_, f, _| out.push(f));
    }

    /// [`Network::advance_into`] also giving each flow's owner (see
    /// [`Network::start_owned_flow`]), appended to `out`.
    pub fn advance_owned_into(&mut self, now: SimTime, out: &mut Vec<(FlowId, u32)>) {
        self.progress(now.0);
        self.drain_done(|_, f, owner| out.push((f, owner)));
    }

    /// [`Network::advance`] also giving each flow's finish time, appended to `out`.
    pub fn advance_timed_into(&mut self, now: SimTime, out: &mut Vec<(SimTime, FlowId)>) {
        self.progress(now.0);
        self.drain_done(|t, f, _| out.push((t, f)));
    }

    /// Brings the clock to `now`, completing (into `done`) every flow finishing by then,
    /// in time order, with a recompute after each batch.
    pub(super) fn progress(&mut self, now: u64) {
        assert!(
            now >= self.clock,
            "network time moved backwards ({} < {})",
            SimTime(now),
            SimTime(self.clock)
        );
        while self.next <= now {
            let t = self.next;
            self.advance_clock(t);
            self.complete_due(t);
            self.recompute();
        }
        self.advance_clock(now);
    }

    /// Moves the clock. Virtual clocks and link statistics are anchored (see the module
    /// doc), so nothing else moves: O(1).
    #[inline]
    fn advance_clock(&mut self, t: u64) {
        if t > self.clock {
            self.clock = t;
        }
    }

    /// Completes the flows due at `t` (== clock): see "Integer time and rounding".
    fn complete_due(&mut self, t: u64) {
        debug_assert_eq!(t, self.clock);
        let mut due = std::mem::take(&mut self.scratch);
        due.clear();
        // The due classes are a subtree at the top of the completion timer's heap; they
        // are handled in the order of `active_classes` (which fixes the order in which
        // emptied classes leave their links' lists, hence later float sums).
        if self
            .wake
            .first()
            .is_some_and(|&(next_finish, _)| next_finish <= t)
        {
            due.push(0);
            let mut i = 0;
            while i < due.len() {
                let pos = due[i] as usize;
                for child in [2 * pos + 1, 2 * pos + 2] {
                    if child < self.wake.len() && self.wake[child].0 <= t {
                        due.push(child as u32);
                    }
                }
                i += 1;
            }
            for d in due.iter_mut() {
                *d = self.wake[*d as usize].1;
            }
            due.sort_unstable_by_key(|&c| self.classes[c as usize].active_pos);
        }
        let batch = self.done.len();
        for &c in &due {
            self.touch_class(c);
            let class = &mut self.classes[c as usize];
            let top = class.heap.pop();
            let mut count = 1u64;
            let mut removed_tags = top.tag;
            self.done.push((t, top.flow, top.owner));
            while let Some(&e) = class.heap.first() {
                if e.tag <= top.tag || class.finish_of(e.tag, t) <= t {
                    class.heap.pop();
                    count += 1;
                    removed_tags += e.tag;
                    self.done.push((t, e.flow, e.owner));
                } else {
                    break;
                }
            }
            class.sum_tags -= removed_tags;
            if !class.heap.is_empty() && class.v_at(t) > REBASE_AT {
                rebase(class, t);
            }
            self.n_active -= count as usize;
            let (s, n) = self.paths[class.path as usize];
            let mut binding = 0;
            for &l in &self.path_links[s as usize..(s + n) as usize] {
                binding += self.links[l as usize].change_flows(t, class.whole_cap, count, false);
            }
            self.binding = self.binding.wrapping_add_signed(binding);
            if self.classes[c as usize].heap.is_empty() {
                self.deactivate(c);
            }
        }
        self.done[batch..].sort_unstable_by_key(|&(_, f, _)| f);
        self.scratch = due;
    }

    fn drain_done(&mut self, mut emit: impl FnMut(SimTime, FlowId, u32)) {
        // Batches are appended in time order and sorted by id, but separate calls at the
        // same instant can append two batches with equal times: sort the whole buffer.
        self.done.sort_unstable();
        for &(t, f, owner) in &self.done {
            self.free_flows.push(f);
            emit(SimTime(t), FlowId(f), owner);
        }
        self.done.clear();
    }
}

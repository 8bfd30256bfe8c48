//! The pending-event set.
//!
//! Events are ordered by `(time, seq)` where `seq` is a counter incremented at every
//! `schedule`: two events at the same instant run in the order they were scheduled, which
//! makes every run a pure function of the scenario and seed. Payloads live in a slab so
//! that the heap moves only 16-byte keys, and so that [`EventQueue::cancel`] is O(1): a
//! cancelled slot is emptied and its heap entry is skipped when it reaches the top.
//!
//! # Layout
//!
//! A heap entry is two words: the time, and `rank << 32 | slot`. The rank is the
//! insertion order *among pending events* in 32 bits: when the counter runs out (every
//! 2^32 schedules) the pending entries are renumbered in their current order, which
//! changes no comparison. So an entry is 16 bytes, the four children of a node fill one
//! 64-byte cache line, and comparing two entries is one 128-bit comparison. Handles carry
//! the full 64-bit schedule counter (`gen`), kept in the slot, so a stale handle never
//! matches a reused slot.
//!
//! # Far entries
//!
//! Entries at or after a horizon, the end of a bucket of 2^36 µs (19 hours), wait in a
//! vector in the order they were scheduled (their rank order). When the heap and the
//! current bucket are both spent (the clock cannot pass the horizon before), the far
//! entries of the next bucket are taken out, sorted by time (a stable radix sort, so
//! ties keep their rank order), and become the run, popped from its end, while entries
//! scheduled meanwhile before the new horizon go to the heap. The next event is the
//! earlier of the heap's top and the run's next. So events far ahead (a VM's next
//! retention expiry, a day or more away) cost a push and their share of a sort instead
//! of a place in every sift of the heap.

use super::time::SimTime;

/// A handle to a scheduled event, used to cancel it. Stale handles (the event already ran
/// or was cancelled) are harmless: cancelling them does nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey {
    slot: u32,
    seq: u64,
}

/// `(time, rank << 32 | slot)`; ordered as one 128-bit number.
#[derive(Clone, Copy, Debug)]
struct Entry {
    time: u64,
    rank_slot: u64,
}

impl Entry {
    #[inline(always)]
    fn key(self) -> u128 {
        (u128::from(self.time) << 64) | u128::from(self.rank_slot)
    }
    #[inline(always)]
    fn slot(self) -> u32 {
        self.rank_slot as u32
    }
}

struct Slot<E> {
    seq: u64,
    event: Option<E>,
}

/// A priority queue of events of type `E`, popped in `(time, insertion order)`.
///
/// The heap is 4-ary: half the depth of a binary heap and its children share a cache
/// line, which is what the engine's hold benchmark rewards.
pub struct EventQueue<E> {
    /// The entries before `horizon` scheduled since their bucket was reached.
    heap: Vec<Entry>,
    /// The entries of the bucket last reached (all before `horizon`), sorted latest
    /// first: the next is last, popped without a sift.
    run: Vec<Entry>,
    /// Whether the earliest entry is the run's next (rather than the heap's top).
    run_first: bool,
    /// The entries at or after `horizon`, in rank order (pushed in it, renumbered in it,
    /// and never reordered otherwise): see `refill`.
    far: Vec<Entry>,
    /// The radix sort's second buffer, kept (see `refill`).
    scratch: Vec<Entry>,
    /// Where the heap's and the run's entries end: the end of the bucket last made the
    /// run.
    horizon: u64,
    slots: Vec<Slot<E>>,
    free: Vec<u32>,
    /// While a drained peak is given back: slots from `trim_at` on are not reused, and
    /// `above` of them are still taken; when none is, the slots are cut to `trim_at`.
    /// `u32::MAX` otherwise.
    trim_at: u32,
    above: u32,
    next_seq: u64,
    next_rank: u32,
    now: SimTime,
    live: usize,
    popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

const ARITY: usize = 4;

/// Entries are kept out of the heap until the clock reaches their bucket of 2^36 µs
/// (about 19 hours, less than a day, so that a retention expiry is always out): a VM's
/// next expiry waits there instead of deepening the heap that every event goes through
/// (a fleet of 20 000 VMs keeps about 17 000 of them pending, against a few thousand
/// steps of running jobs). Tiny in unit tests, so that their short spans cross many
/// buckets.
const FAR_SHIFT: u32 = if cfg!(test) { 3 } else { 36 };

/// Slots the queue keeps however few events are pending: a drained peak above this many
/// is given back. (Small in unit tests, so that they give slots back.)
const KEEP: usize = if cfg!(test) { 8 } else { 4096 };

impl<E> EventQueue<E> {
    /// An empty queue at t = 0.
    pub fn new() -> Self {
        EventQueue {
            heap: Vec::new(),
            run: Vec::new(),
            run_first: false,
            far: Vec::new(),
            scratch: Vec::new(),
            horizon: 1 << FAR_SHIFT,
            slots: Vec::new(),
            free: Vec::new(),
            trim_at: u32::MAX,
            above: 0,
            next_seq: 0,
            next_rank: 0,
            now: SimTime::ZERO,
            live: 0,
            popped: 0,
        }
    }

    /// The time of the last popped event (the simulation clock).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Number of scheduled, not cancelled, events.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no live event is pending.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Number of events popped so far (the "events processed" of a run).
    pub fn events_processed(&self) -> u64 {
        self.popped
    }

    /// Schedules `event` at `time`. Scheduling in the past is a model bug and panics.
    #[inline]
    pub fn schedule(&mut self, time: SimTime, event: E) -> EventKey {
        assert!(
            time >= self.now,
            "event scheduled in the past ({time} < {})",
            self.now
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Slot {
                    seq,
                    event: Some(event),
                };
                s
            }
            None => {
                let s = u32::try_from(self.slots.len()).expect("more than 2^32 pending events");
                if s >= self.trim_at {
                    self.above += 1;
                }
                self.slots.push(Slot {
                    seq,
                    event: Some(event),
                });
                s
            }
        };
        if self.next_rank == u32::MAX {
            self.renumber();
        }
        let rank = self.next_rank;
        self.next_rank += 1;
        let entry = Entry {
            time: time.0,
            rank_slot: (u64::from(rank) << 32) | u64::from(slot),
        };
        if time.0 < self.horizon {
            self.heap.push(entry);
            self.sift_up(self.heap.len() - 1);
            if self.run_first {
                self.choose_first();
            }
        } else {
            self.far.push(entry);
        }
        self.live += 1;
        EventKey { slot, seq }
    }

    /// Makes the earliest bucket's entries the run, once the heap and the run are empty;
    /// false when there are none. A pass over the far entries, at most once per bucket of
    /// time (every 19 hours).
    fn refill(&mut self) -> bool {
        debug_assert!(self.heap.is_empty() && self.run.is_empty());
        let Some(first) = self.far.iter().map(|e| e.time).min() else {
            return false;
        };
        let bucket = first >> FAR_SHIFT;
        // The end of the bucket; the last bucket of time ends at the end of time (its
        // entries are moved by their bucket, so those at `u64::MAX` too).
        self.horizon = if bucket == u64::MAX >> FAR_SHIFT {
            u64::MAX
        } else {
            (bucket + 1) << FAR_SHIFT
        };
        let run = &mut self.run;
        self.far.retain(|&e| {
            let near = e.time >> FAR_SHIFT == bucket;
            if near {
                run.push(e);
            }
            !near
        });
        // The far entries are in rank order, so a stable sort by time alone puts them in
        // (time, rank) order: a radix sort, linear in the entries (a day's retention
        // expiries are tens of thousands of them, on which a comparison sort of the
        // 16-byte keys spent about 150 instructions each). Then latest first.
        debug_assert!(run.windows(2).all(|w| w[0].rank_slot < w[1].rank_slot));
        super::radix::sort_by_key(run, &mut self.scratch, |e| e.time);
        run.reverse();
        self.run_first = true;
        true
    }

    /// Sets `run_first`: whether the run's next is before the heap's top.
    #[inline(always)]
    fn choose_first(&mut self) {
        self.run_first = match (self.heap.first(), self.run.last()) {
            (Some(h), Some(r)) => r.key() < h.key(),
            (None, r) => r.is_some(),
            (Some(_), None) => false,
        };
    }

    /// The earliest entry: the heap's top or the run's next, whichever is earlier.
    #[inline(always)]
    fn top(&self) -> Option<Entry> {
        if self.run_first {
            self.run.last().copied()
        } else {
            self.heap.first().copied()
        }
    }

    /// Hints the slots of the entries that come next and after: the new top's, read at
    /// once by the caller's peek, and the candidates for the one after it (the heap
    /// root's children, the run's next two), so that by the next pop the peek finds
    /// its slot loaded. The slots are read in entry order nowhere else: at scale each
    /// is a cache miss.
    #[inline(always)]
    fn prefetch_next_slots(&self) {
        for e in self.heap.iter().take(1 + ARITY) {
            super::prefetch_at(&self.slots, e.slot() as usize);
        }
        for e in self.run.iter().rev().take(2) {
            super::prefetch_at(&self.slots, e.slot() as usize);
        }
    }

    /// Removes [`EventQueue::top`] (there is one).
    #[inline(always)]
    fn remove_first(&mut self) {
        if self.run_first {
            self.run.pop();
            self.choose_first();
        } else {
            self.remove_top();
            if !self.run.is_empty() {
                self.choose_first();
            }
        }
    }

    /// Cancels a scheduled event. Returns the payload if it was still pending.
    pub fn cancel(&mut self, key: EventKey) -> Option<E> {
        let slot = self.slots.get_mut(key.slot as usize)?;
        if slot.seq != key.seq {
            return None;
        }
        let ev = slot.event.take();
        if ev.is_some() {
            self.live -= 1;
        }
        ev
    }

    /// The time of the next live event, if any.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.live_top().map(|e| SimTime(e.time))
    }

    /// The next live event, if any, without removing it: lets a caller start loading the
    /// state that event will touch while it still handles the current one.
    #[inline]
    pub fn peek(&mut self) -> Option<&E> {
        let top = self.live_top()?;
        self.slots[top.slot() as usize].event.as_ref()
    }

    /// Removes the earliest live event and advances the clock to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_until(SimTime::NEVER)
    }

    /// Pops the earliest event if it is at or before `limit`.
    #[inline]
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        let top = self.live_top().filter(|e| e.time <= limit.0)?;
        self.remove_first();
        self.prefetch_next_slots();
        let ev = self.slots[top.slot() as usize].event.take();
        self.release(top.slot());
        self.live -= 1;
        self.popped += 1;
        self.now = SimTime(top.time);
        Some((self.now, ev.expect("the top is live")))
    }

    /// The `(time, insertion number)` of the next live event, if any: the order in which
    /// [`EventQueue::pop`] would return it, comparable with [`EventQueue::reserve_seq`].
    #[inline]
    pub fn peek_key(&mut self) -> Option<(SimTime, u64)> {
        let top = self.live_top()?;
        Some((SimTime(top.time), self.slots[top.slot() as usize].seq))
    }

    /// Takes the next insertion number for an event the caller keeps outside the queue
    /// (a single, frequently re-armed timer): such an event fires before a queued event
    /// at the same time iff its number is smaller, exactly as if it had been scheduled
    /// now. Keeping it out spares the heap a schedule and a stale entry at every re-arm.
    #[inline]
    pub fn reserve_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Records that an event kept outside the queue fired at `t`: moves the clock and
    /// counts it as processed.
    #[inline]
    pub fn fire_external(&mut self, t: SimTime) {
        assert!(t >= self.now, "clock moved backwards");
        self.now = t;
        self.popped += 1;
    }

    /// Advances the clock without an event (e.g. to the stop time at the end of a run).
    pub fn advance_to(&mut self, t: SimTime) {
        assert!(t >= self.now, "clock moved backwards");
        self.now = t;
    }

    /// The next live event's entry, if any: cancelled entries are dropped from the top,
    /// and the next bucket becomes the run when the heap and the run are spent. Every
    /// peek and pop runs it, and the top is nearly always live: that test is inlined,
    /// the rest is not.
    #[inline(always)]
    fn live_top(&mut self) -> Option<Entry> {
        let top = if self.run_first {
            self.run.last()
        } else {
            self.heap.first()
        };
        match top {
            Some(&top) if self.slots[top.slot() as usize].event.is_some() => Some(top),
            None if self.far.is_empty() => None,
            _ => self.settle(),
        }
    }

    #[inline(never)]
    fn settle(&mut self) -> Option<Entry> {
        loop {
            match self.top() {
                Some(top) if self.slots[top.slot() as usize].event.is_some() => return Some(top),
                Some(top) => {
                    self.remove_first();
                    self.release(top.slot());
                }
                None if self.refill() => {}
                None => return None,
            }
        }
    }

    /// Frees a slot whose heap entry was popped.
    #[inline]
    fn release(&mut self, slot: u32) {
        if slot < self.trim_at {
            self.free.push(slot);
            if self.live * 4 < self.slots.len()
                && self.slots.len() > KEEP
                && self.trim_at == u32::MAX
            {
                self.start_trim();
            }
        } else {
            self.above -= 1;
            if self.above == 0 {
                self.trim();
            }
        }
    }

    /// A quarter of the slots are taken: from now on only the lowest `2 × taken` are
    /// reused, and the rest are cut once their events have left.
    #[cold]
    fn start_trim(&mut self) {
        let keep = KEEP.max(2 * self.live);
        let trim_at = u32::try_from(keep).expect("fewer than 2^32 slots");
        let free = self.free.len();
        self.free.retain(|&s| s < trim_at);
        // The slots from `keep` on that were not free are taken.
        let free_above = free - self.free.len();
        self.trim_at = trim_at;
        self.above = u32::try_from(self.slots.len() - keep - free_above).expect("2^32 slots");
        if self.above == 0 {
            self.trim();
        }
    }

    /// Cuts the slots (and the heap's room) back to `trim_at`.
    #[cold]
    fn trim(&mut self) {
        let keep = self.trim_at as usize;
        self.slots.truncate(keep);
        self.slots.shrink_to_fit();
        self.free.shrink_to(keep);
        self.heap.shrink_to(keep);
        self.trim_at = u32::MAX;
    }

    /// Gives the pending entries ranks `0..n` in their current order (which a sorted
    /// array keeps as a valid heap), so that the rank counter can restart.
    #[cold]
    fn renumber(&mut self) {
        // The heap's and the buckets' entries are ranked together, then put back.
        let mut all = std::mem::take(&mut self.heap);
        all.append(&mut self.run);
        self.run_first = false;
        all.append(&mut self.far);
        all.sort_unstable_by_key(|e| e.key());
        for (r, e) in all.iter_mut().enumerate() {
            e.rank_slot = ((r as u64) << 32) | u64::from(e.slot());
        }
        self.next_rank = u32::try_from(all.len()).expect("more than 2^32 pending events");
        // The entries before the horizon, still in order: a heap.
        let near = all.partition_point(|e| e.time < self.horizon);
        self.far.extend_from_slice(&all[near..]);
        all.truncate(near);
        self.heap = all;
    }

    /// Removes the root: the hole descends along the smaller children to a leaf (no
    /// comparison with the moved element on the way, which usually belongs near the
    /// bottom), then the last element is sifted up from there.
    #[inline]
    fn remove_top(&mut self) {
        let last = self.heap.pop().expect("remove_top on empty heap");
        let n = self.heap.len();
        if n == 0 {
            return;
        }
        let h = &mut self.heap[..];
        let mut i = 0;
        loop {
            let first = i * ARITY + 1;
            if first + ARITY <= n {
                // Full node: the smallest of four children.
                let (a, b, c, d) = (h[first], h[first + 1], h[first + 2], h[first + 3]);
                let (ab, iab) = if b.key() < a.key() {
                    (b, first + 1)
                } else {
                    (a, first)
                };
                let (cd, icd) = if d.key() < c.key() {
                    (d, first + 3)
                } else {
                    (c, first + 2)
                };
                let (m, im) = if cd.key() < ab.key() {
                    (cd, icd)
                } else {
                    (ab, iab)
                };
                h[i] = m;
                i = im;
            } else {
                if first < n {
                    let mut best = first;
                    for c in first + 1..n {
                        if h[c].key() < h[best].key() {
                            best = c;
                        }
                    }
                    h[i] = h[best];
                    i = best;
                }
                break;
            }
        }
        h[i] = last;
        self.sift_up(i);
    }

    #[inline]
    fn sift_up(&mut self, mut i: usize) {
        let h = &mut self.heap[..];
        let e = h[i];
        let k = e.key();
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if h[parent].key() <= k {
                break;
            }
            h[i] = h[parent];
            i = parent;
        }
        h[i] = e;
    }
}

#[cfg(test)]
mod tests;

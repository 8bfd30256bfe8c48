//! The finish heaps of the classes: per class, its flows' finish tags ordered by (tag,
//! flow id), in a binary min-heap of the first ones and, past a bound, the rest unordered
//! ([`FinishHeap`]).
//!
//! The heap does not keep each flow's position: that bookkeeping was a write to a random
//! flow slot at every level an entry moves, on every arrival and completion, to make the
//! removal of a flow from the middle O(log n). Only [`super::Network::cancel_flow`] needs
//! that, and the simulation never cancels a transfer, so a cancel finds its flow by a scan
//! of its class's heap instead.

/// A flow in its class's heap.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    pub(super) tag: f64,
    pub(super) flow: u32,
    /// The caller's owner of the flow (see [`super::Network::start_owned_flow`]), in
    /// what was padding: reported with the completion, so the caller need not look it
    /// up in a table of its own.
    pub(super) owner: u32,
}

/// `(a.tag, a.flow) < (b.tag, b.flow)`, without a branch: which of two children is the
/// smaller is a coin toss to the branch predictor, so the comparison is computed as flags
/// (`|` and `&` on booleans evaluate both sides) for the caller to use as a number.
/// Where `a.tag < b.tag` fails, `a.tag <= b.tag` holds exactly when the tags are equal
/// (for NaN too: both fail), and it is one flag where `==` takes two.
#[inline]
fn before(a: &Entry, b: &Entry) -> bool {
    (a.tag < b.tag) | ((a.tag <= b.tag) & (a.flow < b.flow))
}

/// The (tag, flow) order as an [`Ordering`](std::cmp::Ordering), [`before`]'s (equal tags,
/// and tags that do not compare, by flow): a slice sorted by it is a heap.
fn order(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    a.tag
        .partial_cmp(&b.tag)
        .unwrap_or(std::cmp::Ordering::Equal)
        .then(a.flow.cmp(&b.flow))
}

/// [`before`] as branches: where the children lie outside the caches, a predicted branch
/// lets the processor load the next level while the comparison waits for its operands,
/// where a computed index makes the next load wait for the comparison.
#[inline]
fn before_branchy(a: &Entry, b: &Entry) -> bool {
    a.tag < b.tag || (a.tag == b.tag && a.flow < b.flow)
}

/// Heaps of at most this many entries (128 KiB, within the second-level cache) choose
/// the smaller child without a branch; larger ones, whose lower levels lie outside the
/// caches, with one, as before (at a million VMs the branch-free choice looked slower,
/// in runs too noisy to settle it: see docs/performance.md).
const BRANCH_FREE_UP_TO: usize = 1 << 13;

// The heap operations run on every arrival and completion, from the sibling modules
// (which may land in other codegen units): `#[inline]` keeps them inlinable there.
#[inline]
pub(super) fn sift_up(heap: &mut [Entry], mut i: usize) {
    let e = heap[i];
    while i > 0 {
        let p = (i - 1) / 2;
        if !before(&e, &heap[p]) {
            break;
        }
        heap[i] = heap[p];
        i = p;
    }
    heap[i] = e;
}

#[inline]
pub(super) fn sift_down(heap: &mut [Entry], mut i: usize) {
    let n = heap.len();
    let e = heap[i];
    loop {
        let l = 2 * i + 1;
        if l >= n {
            break;
        }
        // The smaller child: its index computed in a small heap, branched on in a large.
        let c = if l + 1 >= n {
            l
        } else if n <= BRANCH_FREE_UP_TO {
            l + usize::from(before(&heap[l + 1], &heap[l]))
        } else if before_branchy(&heap[l + 1], &heap[l]) {
            l + 1
        } else {
            l
        };
        if !before(&heap[c], &e) {
            break;
        }
        heap[i] = heap[c];
        i = c;
    }
    heap[i] = e;
}

/// Removes the entry at `pos`.
#[inline]
pub(super) fn heap_remove(heap: &mut Vec<Entry>, pos: usize) -> Entry {
    let last = heap.pop().expect("heap_remove on empty heap");
    if pos == heap.len() {
        return last;
    }
    let removed = heap[pos];
    heap[pos] = last;
    if pos > 0 && before(&last, &heap[(pos - 1) / 2]) {
        sift_up(heap, pos);
    } else {
        sift_down(heap, pos);
    }
    removed
}

/// Removes the least entry: the hole at the root descends along the smaller children to
/// a leaf (one comparison a level, where sifting the last entry down from the root takes
/// two), then the last entry rises from there; it came from the bottom, so it seldom
/// rises far.
#[inline]
pub(super) fn pop_least(heap: &mut Vec<Entry>) -> Entry {
    let last = heap.pop().expect("pop_least on empty heap");
    let n = heap.len();
    if n == 0 {
        return last;
    }
    let least = heap[0];
    let mut i = 0;
    let mut l = 1;
    while l + 1 < n {
        let c = if n <= BRANCH_FREE_UP_TO {
            l + usize::from(before(&heap[l + 1], &heap[l]))
        } else if before_branchy(&heap[l + 1], &heap[l]) {
            l + 1
        } else {
            l
        };
        heap[i] = heap[c];
        i = c;
        l = 2 * i + 1;
    }
    if l < n {
        heap[i] = heap[l];
        i = l;
    }
    heap[i] = last;
    sift_up(heap, i);
    least
}

/// Entries a class's heap keeps in its ordered tier however many it holds; more spill to
/// the unordered tier, down to [`NEAR_KEEP`] (a heap of 16 384 entries, 256 KiB, lies
/// within a core's second-level cache). The tests' bounds are small, so that every test
/// crosses them.
#[cfg(not(test))]
const NEAR_SPILL: usize = 1 << 14;
#[cfg(test)]
const NEAR_SPILL: usize = 16;
/// Entries a spill keeps in the ordered tier.
#[cfg(not(test))]
const NEAR_KEEP: usize = 1 << 12;
#[cfg(test)]
const NEAR_KEEP: usize = 4;
/// A far tier of at most this many entries moves whole when the near heap empties.
#[cfg(not(test))]
const NEAR_MIN: usize = 1 << 10;
#[cfg(test)]
const NEAR_MIN: usize = 8;
/// Entries of the far tier a refill samples for its pivot.
#[cfg(not(test))]
const SAMPLE: usize = 64;
#[cfg(test)]
const SAMPLE: usize = 8;
/// A refill moves about this share of the far tier (`1 / REFILL_SHARE` of it) at most,
/// so that its pass over the far tier costs a few entries per pop.
const REFILL_SHARE: usize = 8;
// A refill samples at most the far tier's entries, and moves at least one sampled entry.
const _: () = assert!(SAMPLE <= NEAR_MIN && SAMPLE / REFILL_SHARE >= 1 && NEAR_KEEP < NEAR_SPILL);

/// A class's flows by (finish tag, flow id), in two tiers: the smallest entries in a
/// binary min-heap (`near`), the rest unordered (`far`), every one of them at or after
/// `pivot`, which every near entry precedes. A pop takes the near heap's top; when it
/// empties, the far tier's entries before a new pivot (one pass) become the near heap.
/// At a million VMs a class holds a hundred thousand flows: as one heap, most levels of
/// every pop lay outside the second-level cache; as two tiers, a pop stays within it, and
/// a new flow (whose tag, its bytes ahead of the class's clock, is larger than most)
/// costs one push to the unordered tier.
///
/// Which entries lie where depends only on the operations' order; what any caller sees
/// (the top, the length, the entries as a set) does not depend on it at all, and a
/// [`FinishHeap::rebase`] sums the tags in (tag, id) order.
#[derive(Debug, Default)]
pub(super) struct FinishHeap {
    near: Vec<Entry>,
    far: Vec<Entry>,
    /// At or before every far entry, after every near one (while `far` has any).
    pivot: Entry,
}

impl Default for Entry {
    fn default() -> Self {
        Entry {
            tag: 0.0,
            flow: 0,
            owner: 0,
        }
    }
}

impl FinishHeap {
    /// How many flows it holds.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.near.len() + self.far.len()
    }

    /// Whether it holds none (the near tier is empty only when both are).
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.near.is_empty()
    }

    /// The entry first in (tag, flow) order, if any.
    #[inline]
    pub(super) fn first(&self) -> Option<&Entry> {
        self.near.first()
    }

    /// The entry first in (tag, flow) order.
    ///
    /// # Panics
    /// If it is empty.
    #[inline]
    pub(super) fn top(&self) -> &Entry {
        &self.near[0]
    }

    /// Every entry, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.near.iter().chain(&self.far)
    }

    /// Adds an entry.
    #[inline]
    pub(super) fn push(&mut self, e: Entry) {
        if !self.far.is_empty() && !before(&e, &self.pivot) {
            self.far.push(e);
            return;
        }
        self.near.push(e);
        let last = self.near.len() - 1;
        sift_up(&mut self.near, last);
        if self.near.len() > NEAR_SPILL {
            self.spill();
        }
    }

    /// Removes the first entry.
    ///
    /// # Panics
    /// If it is empty.
    #[inline]
    pub(super) fn pop(&mut self) -> Entry {
        let e = pop_least(&mut self.near);
        if self.near.is_empty() && !self.far.is_empty() {
            self.refill();
        }
        e
    }

    /// Removes flow `flow`'s entry (a scan: see the module doc), if it holds one.
    pub(super) fn remove_flow(&mut self, flow: u32) -> Option<Entry> {
        if let Some(pos) = self.near.iter().position(|e| e.flow == flow) {
            let e = heap_remove(&mut self.near, pos);
            if self.near.is_empty() && !self.far.is_empty() {
                self.refill();
            }
            return Some(e);
        }
        let pos = self.far.iter().position(|e| e.flow == flow)?;
        Some(self.far.swap_remove(pos))
    }

    /// Subtracts `v` from every tag and returns the tags' sum, taken in (tag, flow) order
    /// (a float sum's rounding depends on its order; this one's on nothing else).
    /// Subtraction is monotone but may create ties, so the tiers are rebuilt: sorted in
    /// that order, which is a heap.
    pub(super) fn rebase(&mut self, v: f64) -> f64 {
        let mut all = std::mem::take(&mut self.near);
        all.append(&mut self.far);
        for e in all.iter_mut() {
            e.tag -= v;
        }
        all.sort_unstable_by(order);
        let sum = all.iter().fold(0.0, |s, e| s + e.tag);
        if all.len() > NEAR_KEEP {
            self.far = all.split_off(NEAR_KEEP);
            self.pivot = self.far[0];
        }
        self.near = all;
        sum
    }

    /// Gives back the room of tiers larger than `keep` entries.
    pub(super) fn shrink_to(&mut self, keep: usize) {
        self.near.shrink_to(keep);
        self.far.shrink_to(keep);
    }

    /// The near heap has outgrown its bound: its [`NEAR_KEEP`] first entries stay, the
    /// rest join the far tier, the first of them the new pivot (before the old one, so
    /// still at or before every far entry).
    #[cold]
    fn spill(&mut self) {
        self.near.select_nth_unstable_by(NEAR_KEEP, order);
        self.pivot = self.near[NEAR_KEEP];
        self.far.extend_from_slice(&self.near[NEAR_KEEP..]);
        self.near.truncate(NEAR_KEEP);
        heapify(&mut self.near);
    }

    /// The near heap emptied: the far tier's first entries become it (all of them when
    /// few wait). Which ones: those before a pivot that a sample of the far tier puts near
    /// its first [`REFILL_SHARE`]th, so that one pass over it moves them (the pivot
    /// stays, the first of what stays at or after it).
    fn refill(&mut self) {
        let n = self.far.len();
        if n <= NEAR_MIN {
            std::mem::swap(&mut self.near, &mut self.far);
        } else {
            let mut sample = [Entry::default(); SAMPLE];
            let stride = n / SAMPLE;
            for (k, s) in sample.iter_mut().enumerate() {
                *s = self.far[k * stride];
            }
            sample.sort_unstable_by(order);
            // About a `REFILL_SHARE`th of the far tier, at most about half a near heap's
            // bound; at least the sample's first entry moves, so the near tier is never
            // left empty.
            let at = (SAMPLE * (NEAR_SPILL / 2) / n).clamp(1, SAMPLE / REFILL_SHARE);
            self.pivot = sample[at];
            let pivot = self.pivot;
            let mut kept = 0;
            for i in 0..n {
                let e = self.far[i];
                if before(&e, &pivot) {
                    self.near.push(e);
                } else {
                    self.far[kept] = e;
                    kept += 1;
                }
            }
            self.far.truncate(kept);
        }
        heapify(&mut self.near);
    }
}

/// Orders `heap` as a heap (bottom-up).
fn heapify(heap: &mut [Entry]) {
    for i in (0..heap.len() / 2).rev() {
        sift_down(heap, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    /// Both comparisons are the (tag, flow) order's (the tuples' `partial_cmp`), for equal
    /// tags, signed zeros, infinities and NaN (which is before nothing and after nothing).
    #[test]
    fn before_is_the_tag_then_flow_order() {
        let tags = [-1.0, -0.0, 0.0, 0.5, 1.0, f64::INFINITY, f64::NAN];
        for &ta in &tags {
            for &tb in &tags {
                for (fa, fb) in [(0, 1), (1, 0), (3, 3)] {
                    let a = Entry {
                        tag: ta,
                        flow: fa,
                        owner: 0,
                    };
                    let b = Entry {
                        tag: tb,
                        flow: fb,
                        owner: 0,
                    };
                    let want = (ta, fa).partial_cmp(&(tb, fb)) == Some(Ordering::Less);
                    assert_eq!(before(&a, &b), want, "({ta}, {fa}) < ({tb}, {fb})");
                    assert_eq!(before_branchy(&a, &b), want);
                }
            }
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push(u8),
        Pop,
        Remove(u32),
        Rebase(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            5 => (0u8..40).prop_map(Op::Push),
            3 => Just(Op::Pop),
            1 => (0u32..200).prop_map(Op::Remove),
            1 => (0u8..4).prop_map(Op::Rebase),
        ]
    }

    proptest! {
        /// Under any mix of pushes (many tied tags), pops, removals and rebases, the
        /// tiered heap holds what a sorted set of (tag, flow) holds, its top that set's
        /// first, and a rebase's sum is the set's tags summed in its order: its tiers
        /// spill and refill many times (the tests' bounds are 16 and 8 entries).
        #[test]
        fn the_finish_heap_is_a_sorted_set(ops in proptest::collection::vec(op(), 1..400)) {
            let mut h = FinishHeap::default();
            let mut want: Vec<(f64, u32)> = Vec::new();
            let mut next = 0u32;
            for op in ops {
                match op {
                    Op::Push(t) => {
                        h.push(Entry { tag: f64::from(t), flow: next, owner: next + 1 });
                        want.push((f64::from(t), next));
                        next += 1;
                    }
                    Op::Pop if !want.is_empty() => {
                        let e = h.pop();
                        let w = want.remove(0);
                        prop_assert_eq!((e.tag, e.flow, e.owner), (w.0, w.1, w.1 + 1));
                    }
                    Op::Pop => {}
                    Op::Remove(f) => {
                        let i = want.iter().position(|w| w.1 == f);
                        let got = h.remove_flow(f).map(|e| (e.tag, e.flow));
                        prop_assert_eq!(got, i.map(|i| want.remove(i)));
                    }
                    Op::Rebase(v) => {
                        let v = f64::from(v) * 0.5;
                        for w in want.iter_mut() {
                            w.0 -= v;
                        }
                        want.sort_by(|a, b| a.partial_cmp(b).unwrap());
                        let sum = want.iter().fold(0.0, |s, w| s + w.0);
                        prop_assert_eq!(h.rebase(v).to_bits(), sum.to_bits());
                    }
                }
                want.sort_by(|a, b| a.partial_cmp(b).unwrap());
                prop_assert_eq!(h.len(), want.len());
                prop_assert_eq!(h.is_empty(), want.is_empty());
                prop_assert_eq!(h.first().map(|e| (e.tag, e.flow)), want.first().copied());
                let mut all: Vec<(f64, u32)> = h.iter().map(|e| (e.tag, e.flow)).collect();
                all.sort_by(|a, b| a.partial_cmp(b).unwrap());
                prop_assert_eq!(all, want.clone());
            }
        }
    }
}

//! Values in numbered slots that give memory back after a peak.
//!
//! A simulation's in-flight entities (jobs) are addressed by slot number from events and
//! queues, so a slot cannot move while it is in use. A plain free list reuses slots in
//! whatever order they were freed and keeps every slot of the busiest moment for the rest
//! of the run: a fleet's first night (every VM sending its full copy) would size the slot
//! store for the whole month. [`Slab`] instead reuses the lowest free number first, so
//! live values gather at the bottom; the free slots at the top are dropped as they appear
//! and the storage shrinks once it is mostly unused.
//!
//! Which number a value gets never depends on anything but the order of inserts and
//! removals, so a deterministic caller stays deterministic.

use std::ops::{Index, IndexMut};

/// Bits per word of [`LowestFree`].
const W: usize = 64;

/// A set of slot numbers that yields its lowest member first: a bitmap with one summary
/// level above it (bit `i` of `summary` set iff word `i` of `bits` is non-zero), scanned
/// from the lowest summary word that can be non-zero.
#[derive(Debug, Default)]
struct LowestFree {
    bits: Vec<u64>,
    summary: Vec<u64>,
    /// No summary word below this one is non-zero.
    floor: usize,
}

impl LowestFree {
    fn insert(&mut self, i: usize) {
        let (w, b) = (i / W, i % W);
        if w >= self.bits.len() {
            self.bits.resize(w + 1, 0);
            self.summary.resize(w / W + 1, 0);
        }
        self.bits[w] |= 1 << b;
        self.summary[w / W] |= 1 << (w % W);
        self.floor = self.floor.min(w / W);
    }

    fn remove(&mut self, i: usize) {
        let (w, b) = (i / W, i % W);
        self.bits[w] &= !(1 << b);
        if self.bits[w] == 0 {
            self.summary[w / W] &= !(1 << (w % W));
        }
    }

    fn pop_lowest(&mut self) -> Option<usize> {
        while self.floor < self.summary.len() {
            let s = self.summary[self.floor];
            if s != 0 {
                let w = self.floor * W + s.trailing_zeros() as usize;
                let i = w * W + self.bits[w].trailing_zeros() as usize;
                self.remove(i);
                return Some(i);
            }
            self.floor += 1;
        }
        None
    }

    /// Drops the words of slots at or above `len` (all of which are absent).
    fn truncate(&mut self, len: usize) {
        let words = len.div_ceil(W);
        self.bits.truncate(words);
        give_back(&mut self.bits, W);
        let sw = words.div_ceil(W);
        self.summary.truncate(sw);
        give_back(&mut self.summary, W);
        self.floor = self.floor.min(sw);
    }
}

/// Slots whose room a [`Slab`] keeps however few are in use; also what a store kept beside
/// a slab's slots (indexed by slot number) should keep.
pub const KEEP: usize = 1024;

/// Gives back most of `v`'s room when less than half of it is used, keeping room for half
/// again its length (and for `keep` elements at least); returns whether it did. For a store
/// that shrinks after a peak, as [`Slab`]'s does.
pub fn give_back<T>(v: &mut Vec<T>, keep: usize) -> bool {
    let len = v.len();
    if v.capacity() <= keep.max(2 * len) {
        return false;
    }
    v.shrink_to(keep.max(len + len / 2));
    true
}

/// Values of type `T` in slots numbered from 0: [`Slab::insert`] takes the lowest free
/// number, [`Slab::remove`] frees one. The storage is as long as the highest number in use
/// and its room shrinks when it is less than half used ([`give_back`], never below [`KEEP`]).
#[derive(Debug)]
pub struct Slab<T> {
    slots: Vec<Option<T>>,
    free: LowestFree,
    live: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab::new()
    }
}

impl<T> Slab<T> {
    /// An empty slab (that keeps room for [`KEEP`] slots once it has had them).
    pub fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: LowestFree::default(),
            live: 0,
        }
    }

    /// An empty slab with room for `n` slots: reserved, not touched, so that growing to
    /// them moves nothing (a page is touched when its first slot is).
    pub fn with_capacity(n: usize) -> Self {
        Slab {
            slots: Vec::with_capacity(n),
            ..Slab::new()
        }
    }

    /// Stores `v` in the lowest free slot and returns its number.
    #[inline]
    pub fn insert(&mut self, v: T) -> u32 {
        let i = match self.free.pop_lowest() {
            Some(i) => {
                self.slots[i] = Some(v);
                i
            }
            None => {
                if self.slots.len() == self.slots.capacity() {
                    self.grow();
                }
                self.slots.push(Some(v));
                self.slots.len() - 1
            }
        };
        self.live += 1;
        u32::try_from(i).expect("slot numbers fit in 32 bits")
    }

    /// Doubles the slots' room (as a push into a full vector would), asking for huge
    /// pages once it is large (`engine::pages`); apart, so that `insert` stays small.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        self.slots.reserve(1);
        crate::engine::pages::advise_huge(&self.slots);
    }

    /// Takes the value out of slot `i` and frees the slot.
    ///
    /// # Panics
    /// If slot `i` holds nothing.
    pub fn remove(&mut self, i: u32) -> T {
        let i = i as usize;
        let v = self.slots[i].take().expect("a live slot");
        self.live -= 1;
        if i + 1 < self.slots.len() {
            self.free.insert(i);
            return v;
        }
        // The top slot: drop it and the free ones below it.
        self.slots.pop();
        while let Some(None) = self.slots.last() {
            self.slots.pop();
            self.free.remove(self.slots.len());
        }
        if give_back(&mut self.slots, KEEP) {
            self.free.truncate(self.slots.len());
        }
        v
    }

    /// The value in slot `i`, if any.
    #[inline]
    pub fn get(&self, i: u32) -> Option<&T> {
        self.slots.get(i as usize).and_then(Option::as_ref)
    }

    /// How many values it holds.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Every slot up to the highest in use, free ones as `None`, by number.
    #[inline]
    pub fn slots(&self) -> &[Option<T>] {
        &self.slots
    }

    /// Slots the storage has room for (its memory is this times the slot's size).
    pub fn capacity(&self) -> usize {
        self.slots.capacity()
    }
}

impl<T> Index<u32> for Slab<T> {
    type Output = T;

    /// # Panics
    /// If slot `i` holds nothing.
    #[inline]
    fn index(&self, i: u32) -> &T {
        self.slots[i as usize].as_ref().expect("a live slot")
    }
}

impl<T> IndexMut<u32> for Slab<T> {
    /// # Panics
    /// If slot `i` holds nothing.
    #[inline]
    fn index_mut(&mut self, i: u32) -> &mut T {
        self.slots[i as usize].as_mut().expect("a live slot")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Reserved room holds no slot: the slab numbers and reuses as an empty one does,
    /// and its slots do not move while they fit the reserve.
    #[test]
    fn reserved_room_is_an_empty_slab() {
        let mut s = Slab::with_capacity(16);
        assert!(s.is_empty() && s.slots().is_empty());
        let first = s.insert(0u64);
        let at = s.slots().as_ptr();
        let ids: Vec<u32> = (1..16).map(|v| s.insert(v)).collect();
        assert_eq!(first, 0);
        assert_eq!(ids, (1..16).collect::<Vec<_>>());
        assert_eq!(s.slots().as_ptr(), at, "the slots moved within the reserve");
        assert_eq!(s.remove(3), 3);
        assert_eq!(s.insert(30), 3);
    }

    #[test]
    fn the_lowest_free_number_is_reused_first() {
        let mut s = Slab::new();
        let ids: Vec<u32> = (0..10).map(|v| s.insert(v)).collect();
        assert_eq!(ids, (0..10).collect::<Vec<_>>());
        assert_eq!(s.remove(7), 7);
        assert_eq!(s.remove(2), 2);
        assert_eq!(s.remove(5), 5);
        assert_eq!(s.insert(20), 2);
        assert_eq!(s.insert(21), 5);
        assert_eq!(s.insert(22), 7);
        assert_eq!(s.insert(23), 10);
        assert_eq!(s[5], 21);
        assert_eq!(s.len(), 11);
    }

    #[test]
    fn a_drained_peak_gives_its_memory_back() {
        let mut s = Slab::new();
        let ids: Vec<u32> = (0..100_000u32).map(|v| s.insert(v)).collect();
        assert!(s.capacity() >= 100_000);
        // Everything but the bottom 500 goes, in an order that frees the top last.
        for &i in ids[500..].iter().rev().skip(1).step_by(3) {
            s.remove(i);
        }
        for &i in &ids[500..] {
            if s.get(i).is_some() {
                s.remove(i);
            }
        }
        assert_eq!(s.len(), 500);
        assert_eq!(s.slots().len(), 500);
        assert!(s.capacity() <= KEEP, "capacity {}", s.capacity());
        assert_eq!(s.insert(7), 500);
    }

    #[test]
    #[should_panic(expected = "a live slot")]
    fn removing_a_free_slot_panics() {
        let mut s = Slab::new();
        let a = s.insert(1);
        s.insert(2);
        s.remove(a);
        s.remove(a);
    }

    proptest! {
        /// Against a model: a map of live numbers and the rule "lowest free number, else
        /// the next one".
        #[test]
        fn slab_matches_a_set_of_live_numbers(ops in prop::collection::vec(any::<(bool, u16)>(), 1..3000)) {
            let mut s = Slab::new();
            let mut live = BTreeSet::new();
            for (ins, k) in ops {
                if ins || live.is_empty() {
                    let want = (0u32..).find(|n| !live.contains(n)).expect("a free number");
                    prop_assert_eq!(s.insert(u64::from(want) * 3), want);
                    live.insert(want);
                } else {
                    let n = *live.iter().nth(usize::from(k) % live.len()).expect("member");
                    prop_assert_eq!(s.remove(n), u64::from(n) * 3);
                    live.remove(&n);
                }
                prop_assert_eq!(s.len(), live.len());
                let top = live.iter().next_back().map_or(0, |&n| n as usize + 1);
                prop_assert_eq!(s.slots().len(), top);
                prop_assert!(s.capacity() <= KEEP.max(2 * top));
            }
        }
    }
}

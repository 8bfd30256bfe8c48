//! The finish heaps of the classes: per class, its flows' finish tags ordered by (tag,
//! flow id), in a radix heap ([`FinishHeap`]): a class's tags only grow, which is what a
//! radix heap needs, and its buckets are passed over in sequence where a binary heap's
//! pop waits on one load a level.
//!
//! The heap does not keep each flow's position: that bookkeeping was a write to a random
//! flow slot at every level an entry moves, on every arrival and completion, to make the
//! removal of a flow from the middle O(log n). Only [`super::Network::cancel_flow`] needs
//! that, and the simulation never cancels a transfer, so a cancel finds its flow by a scan
//! of the heaps instead (nor does the network keep a flow's class by its id: see
//! `Network::flow_ids`).

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

/// The (tag, flow) order as an [`Ordering`](std::cmp::Ordering) (equal tags, and tags
/// that do not compare, by flow).
fn order(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    a.tag
        .partial_cmp(&b.tag)
        .unwrap_or(std::cmp::Ordering::Equal)
        .then(a.flow.cmp(&b.flow))
}

/// A tag as an integer of the same order (negative tags below positive ones, both zeros
/// one key, as `<` on the tags has them).
#[inline]
fn key(tag: f64) -> u64 {
    let bits = if tag == 0.0 { 0 } else { tag.to_bits() };
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// Bits of a key per level of buckets: a key sits in the bucket of the highest digit of
/// this many bits in which it differs from the least key (its level) and of its own digit
/// there. An entry moves down at least a level at each move, so at most `64 / DIGIT`
/// times in its life: with 1-bit digits (a bucket per differing bit) a class of a few
/// thousand flows moved each entry 6 to 8 times before it was popped.
const DIGIT: u32 = 4;
/// Digits per level and levels.
const RADIX: usize = 1 << DIGIT;
const LEVELS: usize = 64usize.div_ceil(DIGIT as usize);
/// Buckets (some never used: at each level the digits at or below the least's).
const BUCKETS: usize = LEVELS * RADIX;
/// Words of the occupied buckets' bit set.
const WORDS: usize = BUCKETS.div_ceil(64);

/// The bucket of a key against the least key: `None` if equal, else its level and digit
/// as `level × RADIX + digit`. Buckets in index order hold ever greater keys: a lower
/// level differs from the least only below a higher one's digit, and within a level the
/// digit orders the keys.
#[inline]
fn bucket(k: u64, least: u64) -> Option<usize> {
    let diff = k ^ least;
    if diff == 0 {
        return None;
    }
    let level = (63 - diff.leading_zeros()) / DIGIT;
    let digit = (k >> (level * DIGIT)) as usize & (RADIX - 1);
    Some(level as usize * RADIX + digit)
}

/// Entries of room a bucket keeps when it empties (256 KiB). A million-VM region's class
/// heaps hold a few hundred thousand flows through a seeding night: buckets given back
/// above 4 096 entries grew again (and faulted their pages in) at every pass, a third of
/// scale-1m's page faults. With a bucket per bit, up to 65 536 were kept (about 2 MiB
/// more at the peak); with four times the buckets, that took scale-1m's peak from 366 to
/// 388 MiB, and 16 384 keeps it at 372 MiB.
const KEEP_BUCKET: usize = 1 << 14;

/// A class's flows by (finish tag, flow id): a radix heap. A class's tags only grow
/// (a new flow's tag is the class's clock plus its bytes, and a flow leaves when the
/// clock reaches its tag), so each entry is kept in the bucket of the highest digit in
/// which its tag's key differs from the least key, and of its digit there (see
/// [`bucket`]): `first` holds the entries of the least key itself, in flow order (the
/// last is the least); an entry moves to a lower bucket only when its bucket becomes the
/// lowest, a few times in its life, and every move is a sequential pass. A push before
/// the least key (a completion rounded to the microsecond can take a tag just past the
/// clock) re-buckets everything, rarely.
///
/// Which entries lie where depends only on the operations' order; what any caller sees
/// (the top, the length, the entries as a set) does not depend on it at all, and a
/// [`FinishHeap::rebase`] sums the tags in (tag, flow) order.
#[derive(Debug)]
pub(super) struct FinishHeap {
    /// The entries of key `least`, by flow from the greatest to the least.
    first: Vec<Entry>,
    /// The buckets of keys other than the least, by [`bucket`].
    rest: Vec<Vec<Entry>>,
    /// At or below the least key in each bucket (`u64::MAX` when empty; below it only
    /// after a removal), so that a bucket's least need not be searched for.
    mins: Vec<u64>,
    /// Bit `b % 64` of word `b / 64` set iff `rest[b]` holds an entry.
    occupied: [u64; WORDS],
    /// The least key held (meaningless when empty).
    least: u64,
    len: usize,
}

impl Default for FinishHeap {
    fn default() -> Self {
        FinishHeap {
            first: Vec::new(),
            rest: (0..BUCKETS).map(|_| Vec::new()).collect(),
            mins: vec![u64::MAX; BUCKETS],
            occupied: [0; WORDS],
            least: 0,
            len: 0,
        }
    }
}

impl FinishHeap {
    /// How many flows it holds.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry first in (tag, flow) order, if any.
    #[inline]
    pub(super) fn first(&self) -> Option<&Entry> {
        self.first.last()
    }

    /// The entry first in (tag, flow) order.
    ///
    /// # Panics
    /// If it is empty.
    #[inline]
    pub(super) fn top(&self) -> &Entry {
        self.first.last().expect("top of an empty finish heap")
    }

    /// Every entry, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.first.iter().chain(self.rest.iter().flatten())
    }

    /// Adds an entry.
    #[inline]
    pub(super) fn push(&mut self, e: Entry) {
        let k = key(e.tag);
        if self.len == 0 {
            self.least = k;
            self.first.push(e);
            self.len = 1;
            return;
        }
        if k < self.least {
            self.push_before_least(e);
            return;
        }
        self.len += 1;
        match bucket(k, self.least) {
            None => {
                let at = self.first.partition_point(|x| x.flow > e.flow);
                self.first.insert(at, e);
            }
            Some(b) => self.put(b, k, e),
        }
    }

    #[inline(always)]
    fn put(&mut self, b: usize, k: u64, e: Entry) {
        self.rest[b].push(e);
        self.mins[b] = self.mins[b].min(k);
        self.occupied[b / 64] |= 1 << (b % 64);
    }

    /// The lowest occupied bucket (`rest` not all empty).
    #[inline]
    fn lowest(&self) -> usize {
        let w = self
            .occupied
            .iter()
            .position(|&w| w != 0)
            .expect("an occupied bucket");
        w * 64 + self.occupied[w].trailing_zeros() as usize
    }

    /// Removes the first entry.
    ///
    /// # Panics
    /// If it is empty.
    #[inline]
    pub(super) fn pop(&mut self) -> Entry {
        let e = self.first.pop().expect("pop of an empty finish heap");
        self.len -= 1;
        if self.first.is_empty() && self.len > 0 {
            self.advance();
        }
        e
    }

    /// `first` emptied: the lowest occupied bucket's least key becomes the least, and
    /// that bucket's entries move down (to `first` those of that key).
    fn advance(&mut self) {
        // A bucket's recorded least may lie below its entries after a removal: its
        // entries then all move down and the next bucket is taken.
        while self.first.is_empty() {
            let b = self.lowest();
            self.occupied[b / 64] &= !(1 << (b % 64));
            let least = std::mem::replace(&mut self.mins[b], u64::MAX);
            self.least = least;
            let mut moving = std::mem::take(&mut self.rest[b]);
            for &e in &moving {
                let k = key(e.tag);
                match bucket(k, least) {
                    None => self.first.push(e),
                    Some(c) => self.put(c, k, e),
                }
            }
            // A bucket's room is kept for its next entries, up to `KEEP_BUCKET`; a larger
            // one's is given back (every bucket keeping its peak, scale-1m peaked at 345
            // MiB instead of 323, for no gain in time).
            if moving.capacity() <= KEEP_BUCKET {
                moving.clear();
                self.rest[b] = moving;
            }
        }
        self.order_first();
    }

    /// Puts `first` (entries of one key) in its order: by flow, the least last.
    #[inline]
    fn order_first(&mut self) {
        if self.first.len() > 1 {
            self.first
                .sort_unstable_by_key(|e| std::cmp::Reverse(e.flow));
        }
    }

    /// A push before the least key: every entry is bucketed again around it.
    #[cold]
    fn push_before_least(&mut self, e: Entry) {
        let mut all = self.drain_all();
        all.push(e);
        self.refill_from(all);
    }

    /// Removes and returns every entry, leaving it empty (its buckets' room kept).
    fn drain_all(&mut self) -> Vec<Entry> {
        let mut all = std::mem::take(&mut self.first);
        for r in self.rest.iter_mut() {
            all.append(r);
        }
        self.mins.fill(u64::MAX);
        self.occupied = [0; WORDS];
        self.len = 0;
        all
    }

    /// Buckets `all` (this heap empty), whose room becomes `first`'s.
    fn refill_from(&mut self, mut all: Vec<Entry>) {
        debug_assert!(self.is_empty());
        let least = all.iter().fold(u64::MAX, |m, e| m.min(key(e.tag)));
        self.least = least;
        self.len = all.len();
        all.retain(|&e| {
            let k = key(e.tag);
            match bucket(k, least) {
                None => true,
                Some(b) => {
                    self.put(b, k, e);
                    false
                }
            }
        });
        self.first = all;
        self.order_first();
    }

    /// Removes flow `flow`'s entry (a scan: see the module doc), if it holds one.
    pub(super) fn remove_flow(&mut self, flow: u32) -> Option<Entry> {
        if let Some(pos) = self.first.iter().position(|e| e.flow == flow) {
            let e = self.first.remove(pos);
            self.len -= 1;
            if self.first.is_empty() && self.len > 0 {
                self.advance();
            }
            return Some(e);
        }
        for (b, r) in self.rest.iter_mut().enumerate() {
            if let Some(pos) = r.iter().position(|e| e.flow == flow) {
                let e = r.swap_remove(pos);
                if r.is_empty() {
                    self.occupied[b / 64] &= !(1 << (b % 64));
                    self.mins[b] = u64::MAX;
                }
                self.len -= 1;
                return Some(e);
            }
        }
        None
    }

    /// Subtracts `v` from every tag and returns the tags' sum, taken in (tag, flow) order
    /// (a float sum's rounding depends on its order; this one's on nothing else).
    /// Subtraction is monotone but may create ties, so the buckets are rebuilt.
    pub(super) fn rebase(&mut self, v: f64) -> f64 {
        let mut all = self.drain_all();
        for e in all.iter_mut() {
            e.tag -= v;
        }
        all.sort_unstable_by(order);
        let sum = all.iter().fold(0.0, |s, e| s + e.tag);
        if !all.is_empty() {
            self.refill_from(all);
        }
        sum
    }

    /// Gives back the room of buckets larger than `keep` entries.
    pub(super) fn shrink_to(&mut self, keep: usize) {
        self.first.shrink_to(keep);
        for r in self.rest.iter_mut() {
            r.shrink_to(keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Keys are in the tags' order (`<`), for signed zeros, infinities and subnormals.
    #[test]
    fn keys_are_in_the_tags_order() {
        let tags = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE / 4.0,
            -0.0,
            0.0,
            f64::MIN_POSITIVE / 4.0,
            0.5,
            1.0,
            1e300,
            f64::INFINITY,
        ];
        for &a in &tags {
            for &b in &tags {
                assert_eq!(a < b, key(a) < key(b), "{a} < {b}");
                assert_eq!(a == b, key(a) == key(b), "{a} == {b}");
            }
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push(u8),
        /// A tag this far (in 64ths) after the least held, as a class's new flows have.
        PushAhead(u16),
        Pop,
        Remove(u32),
        Rebase(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..40).prop_map(Op::Push),
            4 => (0u16..4096).prop_map(Op::PushAhead),
            3 => Just(Op::Pop),
            1 => (0u32..200).prop_map(Op::Remove),
            1 => (0u8..4).prop_map(Op::Rebase),
        ]
    }

    proptest! {
        /// Buckets in index order hold ever greater keys (against one least key), the
        /// least alone has none, and every bucket is one of the heap's: what the pops'
        /// order rests on. Keys at every distance from the least, near ones included.
        #[test]
        fn buckets_are_in_key_order(
            least in any::<u64>(),
            a in any::<u64>(),
            b in any::<u64>(),
            shifts in (0u32..64, 0u32..64),
        ) {
            let room = u64::MAX - least;
            let x = least + (a >> shifts.0).min(room);
            let y = x + (b >> shifts.1).min(u64::MAX - x);
            let (bx, by) = (bucket(x, least), bucket(y, least));
            prop_assert_eq!(bx.is_none(), x == least);
            prop_assert!(bx <= by, "{} in {:?}, {} in {:?} against {}", x, bx, y, by, least);
            prop_assert!(by.map_or(true, |b| b < BUCKETS));
        }

        /// Under any mix of pushes (many tied tags, and tags before the least held),
        /// pops, removals and rebases, the heap holds what a sorted set of (tag, flow)
        /// holds, its top that set's first, and a rebase's sum is the set's tags summed
        /// in its order.
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
                    Op::PushAhead(d) => {
                        let t = want.first().map_or(0.0, |w| w.0) + f64::from(d) / 64.0;
                        h.push(Entry { tag: t, flow: next, owner: next + 1 });
                        want.push((t, next));
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

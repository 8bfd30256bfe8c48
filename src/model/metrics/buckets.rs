//! The counts array behind [`super::Latency`]: one count per bucket of the standard
//! layout (about 37 000 buckets of 4 bytes, 0.15 MB), of which a run records into a few
//! pages.
//!
//! The array is allocated zeroed by the system, so a page never recorded into is never
//! touched; the array also keeps which chunks of 1 024 counts (one page, one power of
//! two of values: the layout's buckets above the first) may hold a count, so that
//! reading, adding, copying and clearing visit only those and never touch the others
//! (where touching a page costs a page fault, it costs more than reading its counts).

use std::collections::BTreeMap;
use std::ops::Range;

use super::HIST_MAX_MICROS;

/// The lowest value of the bucket at `idx` and how many values it holds (HdrHistogram's
/// `lowest_equivalent` and `equivalent_range` in the standard layout).
pub(super) fn bucket_span(idx: usize) -> (u64, u64) {
    let half = 1usize << SUB_HALF_MAG;
    let width = if idx < 2 * half {
        1
    } else {
        1u64 << ((idx >> SUB_HALF_MAG) - 1)
    };
    (lowest_value(idx), width)
}

/// log2 of half the sub-buckets per bucket for 3 significant digits (2048 sub-buckets).
const SUB_HALF_MAG: u32 = 10;

/// HdrHistogram's `index_for` specialised to the standard layout (unit 1, mask 2047).
#[inline(always)]
pub(super) fn index(v: u64) -> usize {
    let v = v.min(HIST_MAX_MICROS);
    let bucket = 53 - (v | 2047).leading_zeros();
    let sub = (v >> bucket) as usize;
    (((bucket + 1) as usize) << SUB_HALF_MAG) + sub - (1 << SUB_HALF_MAG)
}

/// The lowest value of the bucket at `idx` (the inverse of [`index`]).
pub(super) fn lowest_value(idx: usize) -> u64 {
    let half = 1usize << SUB_HALF_MAG;
    if idx < 2 * half {
        idx as u64
    } else {
        let bucket = (idx >> SUB_HALF_MAG) - 1;
        let sub = (idx & (half - 1)) + half;
        (sub as u64) << bucket
    }
}

/// For a value `v` within the tracked range: `(base, shift, end)` such that every value
/// `w` in `v..end` has `index(w) == base + (w >> shift)`, `end` being the end of `v`'s
/// power of two (values below 2 048 are their own bucket) or one past the range.
#[inline]
fn segment(v: u64) -> (usize, u32, u64) {
    debug_assert!(v <= HIST_MAX_MICROS);
    let end_of = |top: u64| top.min(HIST_MAX_MICROS + 1);
    if v < 2048 {
        return (0, 0, end_of(2048));
    }
    // v in [2^k, 2^(k+1)), k >= 11: HdrHistogram's bucket k - 10, sub-bucket v >> (k - 10).
    let k = 63 - v.leading_zeros();
    let base = ((k as usize - 9) << SUB_HALF_MAG) - (1 << SUB_HALF_MAG);
    let top = 1u64.checked_shl(k + 1).unwrap_or(u64::MAX);
    (base, k - 10, end_of(top))
}

/// log2 of the counts per chunk: 1 024 counts of 4 bytes, one 4 KiB page, one power of
/// two of values (the layout's buckets above the first). A `u64` of marks covers 64
/// chunks (the standard layout has 37), and marking is one shift and an or per record.
const CHUNK_SHIFT: u32 = 10;

/// The counts array's length: the 64 chunks the marks cover, 256 KiB, which is at
/// malloc's threshold for a mapping of its own (`app::tune_allocator`): the system
/// gives it as zero pages, and pages past the layout's end are never touched.
const COUNTS_LEN: usize = 64 << CHUNK_SHIFT;

/// A count that stands for one of 2^32 − 1 or more, kept in [`Buckets::wide`]. Counts
/// are 4 bytes, so that a run's records touch half the pages 8-byte counts would (a
/// page touched is a page fault); counts that large take billions of records of one
/// bucket.
const WIDE: u32 = u32::MAX;

/// Whether `total` records leave every count below [`WIDE`] (each count is at most the
/// total): then counts are added to without a check.
#[inline(always)]
fn narrow(total: u64) -> bool {
    total < u64::from(WIDE)
}

/// Counts by bucket, with the span of recorded buckets and the chunks that may hold
/// counts.
#[derive(Debug)]
pub(super) struct Buckets {
    /// 4 bytes a count ([`super::LATENCY_COUNT_BYTES`]).
    counts: Vec<u32>,
    /// The counts of the buckets whose count is [`WIDE`] in `counts`.
    wide: BTreeMap<usize, u64>,
    /// The number of records (saturating), a bound on every count: while it is below
    /// [`WIDE`], no count can reach it and a record needs no check.
    total: u64,
    /// Lowest and highest recorded bucket (`lo > hi` while nothing was recorded).
    lo: usize,
    hi: usize,
    /// Bit `k` set: chunk `k` (counts `k × 1024 .. (k + 1) × 1024`) may hold a nonzero
    /// count; every count of a chunk whose bit is clear is zero.
    chunks: u64,
}

impl Buckets {
    /// Zero counts, one per bucket of the standard layout.
    pub(super) fn new() -> Buckets {
        debug_assert!(
            index(HIST_MAX_MICROS) < COUNTS_LEN,
            "the chunk map covers the layout"
        );
        Buckets {
            counts: vec![0; COUNTS_LEN],
            wide: BTreeMap::new(),
            total: 0,
            lo: usize::MAX,
            hi: 0,
            chunks: 0,
        }
    }

    /// The number of records (saturating at `u64::MAX`).
    pub(super) fn total(&self) -> u64 {
        self.total
    }

    /// The count of bucket `i`.
    pub(super) fn get(&self, i: usize) -> u64 {
        self.read(i, self.counts[i])
    }

    /// The count of bucket `i` whose entry in `counts` is `c`.
    #[inline]
    pub(super) fn read(&self, i: usize, c: u32) -> u64 {
        if c == WIDE {
            self.wide[&i]
        } else {
            u64::from(c)
        }
    }

    /// Adds `n` to bucket `i` (saturating), widening the span.
    #[inline(always)]
    pub(super) fn bump(&mut self, i: usize, n: u64) {
        let total = self.total.saturating_add(n);
        if narrow(total) {
            self.counts[i] += n as u32;
        } else {
            self.bump_checked(i, n);
        }
        self.total = total;
        self.chunks |= 1 << (i >> CHUNK_SHIFT);
        self.lo = self.lo.min(i);
        self.hi = self.hi.max(i);
    }

    /// Adds `n` to the count of bucket `i` (saturating), moving it to `wide` when it
    /// reaches [`WIDE`]; leaves the total, marks and span to the caller.
    #[cold]
    fn bump_checked(&mut self, i: usize, n: u64) {
        let c = self.get(i).saturating_add(n);
        if c >= u64::from(WIDE) {
            self.counts[i] = WIDE;
            self.wide.insert(i, c);
        } else {
            self.counts[i] = c as u32;
        }
    }

    /// Adds 1 to the bucket of each of `first`, `first + step`, … below `below` (a
    /// positive `step`; values past the tracked range clamped into it), and returns how
    /// many. The span is widened once, from the first and last value's buckets.
    ///
    /// The values are taken a power of two at a time: within `[2^k, 2^(k+1))` a value's
    /// bucket is a fixed base plus the value shifted by a fixed amount, all in one chunk,
    /// so each value costs a shift and an add (see [`segment`]).
    #[inline]
    pub(super) fn bump_every(&mut self, first: u64, step: u64, below: u64) -> u64 {
        debug_assert!(step > 0);
        if first >= below {
            return 0;
        }
        // Values below `below` (at most `u64::MAX`) are reached without overflow.
        let n = (below - first).div_ceil(step);
        if !narrow(self.total.saturating_add(n)) {
            return self.bump_every_checked(first, step, below);
        }
        self.total += n;
        // Locals, so that the stores to the counts need no reload of the fields.
        let (mut v, mut last, mut chunks) = (first, 0, self.chunks);
        let counts = &mut self.counts[..];
        // Each pass takes the values below `below` in one segment (at least `v`).
        while v < below {
            if v > HIST_MAX_MICROS {
                // Past the tracked range: the rest are all in the last bucket.
                last = index(v);
                counts[last] += (below - v).div_ceil(step) as u32;
                chunks |= 1 << (last >> CHUNK_SHIFT);
                break;
            }
            let (base, shift, end) = segment(v);
            let stop = end.min(below);
            // A segment lies in one chunk, but for the values below 2 048 (two).
            chunks |= 1 << ((base + (v >> shift) as usize) >> CHUNK_SHIFT);
            let (mut at, mut overflow) = (v, false);
            while v < stop {
                at = v;
                counts[base + (v >> shift) as usize] += 1;
                match v.checked_add(step) {
                    Some(next) => v = next,
                    None => {
                        overflow = true;
                        break;
                    }
                }
            }
            last = base + (at >> shift) as usize;
            chunks |= 1 << (last >> CHUNK_SHIFT);
            if overflow {
                // The next value would pass `u64::MAX`: the progression ends here.
                break;
            }
        }
        self.chunks = chunks;
        self.lo = self.lo.min(index(first));
        self.hi = self.hi.max(last);
        n
    }

    /// [`Buckets::bump_every`] one record at a time, for a progression that takes the
    /// total to [`WIDE`] or past it (some count may then reach it).
    #[cold]
    fn bump_every_checked(&mut self, first: u64, step: u64, below: u64) -> u64 {
        let mut n = 0;
        let mut v = first;
        while v < below {
            self.bump(index(v), 1);
            n += 1;
            v = match v.checked_add(step) {
                Some(next) => next,
                None => break,
            };
        }
        n
    }

    /// Hints that bucket `i` will be bumped soon (see `engine::prefetch`).
    #[inline]
    pub(super) fn prefetch(&self, i: usize) {
        crate::engine::prefetch_at(&self.counts, i);
    }

    /// The highest recorded bucket, `None` when nothing was recorded.
    pub(super) fn highest(&self) -> Option<usize> {
        (self.lo <= self.hi).then_some(self.hi)
    }

    /// The index ranges of the chunks that may hold counts, clipped to the span, lowest
    /// first.
    fn marked(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        let (lo, hi) = (self.lo, self.hi);
        (0..64usize)
            .filter(move |k| self.chunks >> k & 1 == 1)
            .map(move |k| (k << CHUNK_SHIFT).max(lo)..((k + 1) << CHUNK_SHIFT).min(hi + 1))
            .filter(|r| r.start < r.end)
    }

    /// The recorded buckets, lowest first, with their counts.
    pub(super) fn nonzero(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.marked().flat_map(move |r| {
            let base = r.start;
            self.counts[r]
                .iter()
                .enumerate()
                .filter(|&(_, &c)| c > 0)
                .map(move |(j, &c)| (base + j, self.read(base + j, c)))
        })
    }

    /// Calls `f` with each recorded bucket and its count, lowest first: as
    /// [`Buckets::nonzero`], by a loop over each marked chunk (for the statistics, which
    /// read every run's histograms).
    #[inline]
    pub(super) fn for_each_nonzero(&self, mut f: impl FnMut(usize, u64)) {
        for r in self.marked() {
            let base = r.start;
            for (j, &c) in self.counts[r].iter().enumerate() {
                if c != 0 {
                    f(base + j, self.read(base + j, c));
                }
            }
        }
    }

    /// Every count from bucket 0 up to and including `hi`, zeros included, as
    /// consecutive slices: an unmarked chunk's are zeros that are not read from it. A
    /// nonzero entry's count is [`Buckets::read`].
    pub(super) fn up_to(&self, hi: usize) -> impl Iterator<Item = &[u32]> + '_ {
        static ZEROS: [u32; 1 << CHUNK_SHIFT] = [0; 1 << CHUNK_SHIFT];
        (0..=hi >> CHUNK_SHIFT).map(move |k| {
            let r = k << CHUNK_SHIFT..((k + 1) << CHUNK_SHIFT).min(hi + 1);
            if self.chunks >> k & 1 == 1 {
                &self.counts[r]
            } else {
                &ZEROS[..r.len()]
            }
        })
    }

    /// Adds every count of `other` to these (saturating).
    pub(super) fn add(&mut self, other: &Buckets) {
        let total = self.total.saturating_add(other.total);
        if narrow(total) {
            for r in other.marked() {
                for (a, b) in self.counts[r.clone()].iter_mut().zip(&other.counts[r]) {
                    *a += *b;
                }
            }
        } else {
            for (i, c) in other.nonzero() {
                self.bump_checked(i, c);
            }
        }
        self.total = total;
        self.chunks |= other.chunks;
        self.lo = self.lo.min(other.lo);
        self.hi = self.hi.max(other.hi);
    }

    /// Sets every count to zero, keeping the memory.
    pub(super) fn clear(&mut self) {
        let marked: Vec<Range<usize>> = self.marked().collect();
        for r in marked {
            self.counts[r].fill(0);
        }
        self.wide.clear();
        self.total = 0;
        self.chunks = 0;
        self.lo = usize::MAX;
        self.hi = 0;
    }
}

/// A copy touches only the marked chunks of the new array.
impl Clone for Buckets {
    fn clone(&self) -> Self {
        let mut out = Buckets::new();
        for r in self.marked() {
            out.counts[r.clone()].copy_from_slice(&self.counts[r]);
        }
        out.wide = self.wide.clone();
        out.total = self.total;
        out.chunks = self.chunks;
        out.lo = self.lo;
        out.hi = self.hi;
        out
    }
}

/// Equal counts (the span and the marks follow from them, up to marks of zeros).
impl PartialEq for Buckets {
    fn eq(&self, other: &Self) -> bool {
        self.nonzero().eq(other.nonzero())
    }
}

impl Eq for Buckets {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The marks never hide a count: after records across chunks, adds, copies and a
    /// clear, the buckets read back equal a plain array given the same operations.
    #[test]
    fn marked_chunks_hold_every_count() {
        let len = index(HIST_MAX_MICROS) + 1;
        let (mut a, mut b) = (Buckets::new(), Buckets::new());
        let (mut pa, mut pb) = (vec![0u64; len], vec![0u64; len]);
        for (k, i) in [3usize, 1_023, 1_024, 1_025, 20_000, 36_864, 4_096]
            .iter()
            .enumerate()
        {
            a.bump(*i, k as u64 + 1);
            pa[*i] += k as u64 + 1;
        }
        // 0, 512, …, 8 704: values in 4 chunks.
        assert_eq!(b.bump_every(0, 512, 9_000), 18);
        for v in (0..9_000).step_by(512) {
            pb[index(v)] += 1;
        }
        a.add(&b);
        for (x, y) in pa.iter_mut().zip(&pb) {
            *x += y;
        }
        let expect = |p: &[u64]| -> Vec<(usize, u64)> {
            p.iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(i, &c)| (i, c))
                .collect()
        };
        assert_eq!(a.nonzero().collect::<Vec<_>>(), expect(&pa));
        assert_eq!(a.clone().nonzero().collect::<Vec<_>>(), expect(&pa));
        let read: Vec<u64> = a.up_to(36_864).flatten().map(|&c| u64::from(c)).collect();
        assert_eq!(read, pa);
        assert_eq!(a.highest(), Some(36_864));
        assert!(a.clone() == a && a != b);
        a.clear();
        assert_eq!(a.nonzero().count(), 0);
        assert_eq!(a.highest(), None);
        assert!(a.up_to(36_864).flatten().all(|&c| c == 0));
        assert!(a == Buckets::new());
    }

    /// Steps that would carry a value past `u64::MAX` end the progression: one record
    /// for a step too large for a second value, and values near the top of `u64` all in
    /// the last bucket.
    #[test]
    fn progressions_at_the_top_of_u64() {
        let mut a = Buckets::new();
        assert_eq!(a.bump_every(5, u64::MAX - 1, u64::MAX), 1);
        assert_eq!(a.nonzero().collect::<Vec<_>>(), [(5, 1)]);
        assert_eq!(a.highest(), Some(5));
        let mut b = Buckets::new();
        assert_eq!(b.bump_every(u64::MAX - 10, 4, u64::MAX), 3);
        let top = index(HIST_MAX_MICROS);
        assert_eq!(b.nonzero().collect::<Vec<_>>(), [(top, 3)]);
        let mut c = Buckets::new();
        // 2^45 − 1 (the range's last value but one), 2^45, then two past the range.
        let first = HIST_MAX_MICROS - 1;
        assert_eq!(c.bump_every(first, 1, first + 4), 4);
        assert_eq!(
            c.nonzero().collect::<Vec<_>>(),
            [(index(first), 1), (top, 3)]
        );
    }

    /// A segment's base and shift give `index` for its first and last values, and the
    /// segments tile the range: each ends where the next begins.
    #[test]
    fn segments_are_index() {
        let mut v = 0u64;
        let mut segments = 0;
        while v <= HIST_MAX_MICROS {
            let (base, shift, end) = segment(v);
            assert!(end > v);
            for w in [v, v + 1, (v + end) / 2, end - 1] {
                assert_eq!(base + (w >> shift) as usize, index(w), "value {w}");
            }
            v = end;
            segments += 1;
        }
        // Below 2 048, then 2^11 .. 2^45, then the range's last value alone.
        assert_eq!(segments, 1 + 34 + 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// A progression bumps the buckets one record of each value would (values past
        /// the range in the last bucket), marks every chunk it records into, and widens
        /// the span to its first and last value's buckets.
        #[test]
        fn prop_progressions_equal_one_bump_each(
            first in 0u64..1 << 47,
            step_log in 0u32..46,
            step_frac in 1u64..1024,
            n in 1u64..3000,
        ) {
            let step = ((step_frac << step_log) >> 10).max(1);
            let below = first.saturating_add(step.saturating_mul(n)).max(first + 1);
            let (mut a, mut b) = (Buckets::new(), Buckets::new());
            let count = a.bump_every(first, step, below);
            // One record each: the path records take once a count may reach `WIDE`.
            let m = b.bump_every_checked(first, step, below);
            proptest::prop_assert_eq!(count, m);
            proptest::prop_assert!(a == b);
            proptest::prop_assert_eq!(a.highest(), b.highest());
            proptest::prop_assert_eq!(a.lo, b.lo);
            // Every chunk recorded into is marked (marks may only be wider).
            proptest::prop_assert_eq!(a.chunks & b.chunks, b.chunks);
            let all: Vec<u32> = a.up_to(b.hi).flatten().copied().collect();
            let expect: Vec<u32> = b.up_to(b.hi).flatten().copied().collect();
            proptest::prop_assert_eq!(all, expect);
        }
    }
}

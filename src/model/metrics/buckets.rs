//! The counts array behind [`super::Latency`]: one count per
//! bucket of the standard layout (about 37 000 buckets, 0.3 MB), of which a run records
//! into a few pages.
//!
//! The array is allocated zeroed by the system, so a page never recorded into is never
//! touched; the array also keeps which chunks of 1 024 counts (two pages, one power of
//! two of values: the layout's buckets above the first) may hold a count, so that
//! reading, adding, copying and clearing visit only those and never touch the others
//! (where touching a page costs a page fault, it costs more than reading its counts).

use std::ops::Range;

/// log2 of the counts per chunk: 1 024 counts of 8 bytes, two 4 KiB pages. A `u64` of
/// marks covers 64 chunks (the standard layout has 37), and marking is one shift and an
/// or per record.
const CHUNK_SHIFT: u32 = 10;

/// Counts by bucket, with the span of recorded buckets and the chunks that may hold
/// counts.
#[derive(Debug)]
pub(super) struct Buckets {
    counts: Vec<u64>,
    /// Lowest and highest recorded bucket (`lo > hi` while nothing was recorded).
    lo: usize,
    hi: usize,
    /// Bit `k` set: chunk `k` (counts `k × 1024 .. (k + 1) × 1024`) may hold a nonzero
    /// count; every count of a chunk whose bit is clear is zero.
    chunks: u64,
}

impl Buckets {
    /// `len` zero counts (at most 64 chunks).
    pub(super) fn new(len: usize) -> Buckets {
        assert!(
            len <= 64 << CHUNK_SHIFT,
            "{len} buckets exceed the chunk map"
        );
        Buckets {
            counts: vec![0; len],
            lo: usize::MAX,
            hi: 0,
            chunks: 0,
        }
    }

    /// Adds `n` to bucket `i` (saturating), widening the span.
    #[inline(always)]
    pub(super) fn bump(&mut self, i: usize, n: u64) {
        let c = &mut self.counts[i];
        *c = c.saturating_add(n);
        self.chunks |= 1 << (i >> CHUNK_SHIFT);
        self.lo = self.lo.min(i);
        self.hi = self.hi.max(i);
    }

    /// Adds 1 to each bucket `index(v)` for `v` = `first`, `first + step`, … below
    /// `below` (`step` > 0; `index` nondecreasing), and returns how many: the span is
    /// widened once, from the first and last bucket.
    #[inline]
    pub(super) fn bump_every(
        &mut self,
        first: u64,
        step: u64,
        below: u64,
        index: impl Fn(u64) -> usize,
    ) -> u64 {
        debug_assert!(step > 0);
        if first >= below {
            return 0;
        }
        // Locals, so that the stores to the counts need no reload of the fields.
        let (mut v, mut last, mut chunks, mut n) = (first, 0, self.chunks, 0);
        let counts = &mut self.counts[..];
        while v < below {
            let i = index(v);
            counts[i] += 1;
            chunks |= 1 << (i >> CHUNK_SHIFT);
            last = i;
            n += 1;
            v += step;
        }
        self.chunks = chunks;
        self.lo = self.lo.min(index(first));
        self.hi = self.hi.max(last);
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
                .map(move |(j, &c)| (base + j, c))
        })
    }

    /// Every count from bucket 0 up to and including `hi`, zeros included, as
    /// consecutive slices: an unmarked chunk's are zeros that are not read from it.
    pub(super) fn up_to(&self, hi: usize) -> impl Iterator<Item = &[u64]> + '_ {
        static ZEROS: [u64; 1 << CHUNK_SHIFT] = [0; 1 << CHUNK_SHIFT];
        (0..=hi >> CHUNK_SHIFT).map(move |k| {
            let r = k << CHUNK_SHIFT..((k + 1) << CHUNK_SHIFT).min(hi + 1);
            if self.chunks >> k & 1 == 1 {
                &self.counts[r]
            } else {
                &ZEROS[..r.len()]
            }
        })
    }

    /// Adds every count of `other` (the same length) to these (saturating).
    pub(super) fn add(&mut self, other: &Buckets) {
        for r in other.marked() {
            for (a, b) in self.counts[r.clone()].iter_mut().zip(&other.counts[r]) {
                *a = a.saturating_add(*b);
            }
        }
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
        self.chunks = 0;
        self.lo = usize::MAX;
        self.hi = 0;
    }
}

/// A copy touches only the marked chunks of the new array.
impl Clone for Buckets {
    fn clone(&self) -> Self {
        let mut out = Buckets::new(self.counts.len());
        for r in self.marked() {
            out.counts[r.clone()].copy_from_slice(&self.counts[r]);
        }
        out.chunks = self.chunks;
        out.lo = self.lo;
        out.hi = self.hi;
        out
    }
}

/// Equal counts (the span and the marks follow from them, up to marks of zeros).
impl PartialEq for Buckets {
    fn eq(&self, other: &Self) -> bool {
        self.counts.len() == other.counts.len() && self.nonzero().eq(other.nonzero())
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
        let len = 37_000;
        let (mut a, mut b) = (Buckets::new(len), Buckets::new(len));
        let (mut pa, mut pb) = (vec![0u64; len], vec![0u64; len]);
        for (k, i) in [3usize, 1_023, 1_024, 1_025, 20_000, 36_999, 4_096]
            .iter()
            .enumerate()
        {
            a.bump(*i, k as u64 + 1);
            pa[*i] += k as u64 + 1;
        }
        // 0, 512, …, 8 704: one count in each half of 9 chunks.
        assert_eq!(b.bump_every(0, 512, 9_000, |v| v as usize), 18);
        for i in (0..9_000).step_by(512) {
            pb[i] += 1;
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
        assert_eq!(a.up_to(36_999).flatten().copied().collect::<Vec<_>>(), pa);
        assert_eq!(a.highest(), Some(36_999));
        assert!(a.clone() == a && a != b);
        a.clear();
        assert_eq!(a.nonzero().count(), 0);
        assert_eq!(a.highest(), None);
        assert!(a.up_to(36_999).flatten().all(|&c| c == 0));
        assert!(a == Buckets::new(len));
    }
}

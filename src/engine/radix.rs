//! A stable sort by a `u64` key in linear time (least-significant-digit radix sort), for
//! the large batches of arrivals the model sorts by time: a night's scheduled starts are
//! tens of thousands of uniformly spread times, where a comparison sort spends about
//! twenty comparisons per item.
//!
//! Stable: items with equal keys keep their order, so sorting items appended in
//! insertion order by time gives the `(time, insertion)` order of the event queue.

/// Most bits per digit: 2^13 32-bit counters (32 KiB) fit the L1 cache. The digits are
/// as even as the key span allows, so a span of 34–39 bits (a night's start window in
/// µs) takes three passes.
const MAX_DIGIT: u32 = 13;
/// Below this many items a comparison sort is as fast and needs no counters.
const SMALL: usize = 256;

/// Sorts `items` by `key`, stably, using `scratch` as the second buffer (its contents are
/// discarded; pass the same one again to reuse its allocation).
pub fn sort_by_key<T: Copy>(items: &mut Vec<T>, scratch: &mut Vec<T>, key: impl Fn(&T) -> u64) {
    if items.len() < SMALL || u32::try_from(items.len()).is_err() {
        items.sort_by_key(|x| key(x));
        return;
    }
    let (lo, hi) = items.iter().fold((u64::MAX, 0), |(lo, hi), x| {
        let k = key(x);
        (lo.min(k), hi.max(k))
    });
    // Only the bits in which the keys differ need passes: sort by `key - lo`.
    let span = hi - lo;
    let bits = u64::BITS - span.leading_zeros();
    let passes = bits.div_ceil(MAX_DIGIT);
    let width = bits.div_ceil(passes.max(1));
    let mask = (1usize << width) - 1;
    let mut counts = [0u32; 1 << MAX_DIGIT];
    // Both buffers hold `len` items from here on; each pass overwrites all of `scratch`.
    scratch.clear();
    scratch.resize(items.len(), items[0]);
    let mut shift = 0;
    while shift < bits {
        let counts = &mut counts[..=mask];
        counts.fill(0);
        let digit = |x: &T| ((key(x) - lo) >> shift) as usize & mask;
        for x in items.iter() {
            counts[digit(x)] += 1;
        }
        let mut at = 0u32;
        for c in counts.iter_mut() {
            let n = *c;
            *c = at;
            at += n;
        }
        for x in items.iter() {
            let d = digit(x);
            scratch[counts[d] as usize] = *x;
            counts[d] += 1;
        }
        std::mem::swap(items, scratch);
        shift += width;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The radix sort equals the standard library's stable sort, whatever the spread
        /// of the keys (narrow, wide, equal ones) and the length (both ways).
        #[test]
        fn equals_the_stable_sort(
            keys in prop::collection::vec(any::<u64>(), 0..2000),
            shift in 0u32..64,
            base in any::<u64>(),
        ) {
            let items: Vec<(u64, u32)> = keys
                .iter()
                .enumerate()
                .map(|(i, &k)| (base.wrapping_add(k >> shift), i as u32))
                .collect();
            let mut expected = items.clone();
            expected.sort_by_key(|x| x.0);
            let mut got = items;
            let mut scratch = Vec::new();
            sort_by_key(&mut got, &mut scratch, |x| x.0);
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn equal_keys_keep_their_order() {
        let items: Vec<(u64, u32)> = (0..1000).map(|i| (u64::from(i % 3), i)).collect();
        let mut got = items.clone();
        sort_by_key(&mut got, &mut Vec::new(), |x| x.0);
        let mut expected = items;
        expected.sort_by_key(|x| x.0);
        assert_eq!(got, expected);
        assert_eq!(&got[..3], &[(0, 0), (0, 3), (0, 6)]);
    }
}

//! Software prefetch: a hint to the CPU that a value will be read soon, so that its cache
//! line is on its way while other work runs. At fleet scale the model's per-entity state
//! (VMs, jobs) is far larger than the caches, and an event handler that touches it would
//! otherwise wait for each line in turn.
//!
//! A hint never changes what a program computes: on targets without the instruction it
//! does nothing.

/// Hints that the cache line holding `value` will be read soon.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    hint((value as *const T).cast::<i8>());
}

/// [`prefetch`] of `items[i]`, when there is such an element.
#[inline(always)]
pub fn prefetch_at<T>(items: &[T], i: usize) {
    if let Some(v) = items.get(i) {
        prefetch(v);
    }
}

/// The cache line size the hints assume (x86-64's).
const LINE: usize = 64;

/// [`prefetch`] of every cache line `items[i]` covers, when there is such an element: for
/// values larger than a line that are read at their far end too (a job's slot, 128 bytes
/// over two or three lines).
#[inline(always)]
pub fn prefetch_lines_at<T>(items: &[T], i: usize) {
    let Some(v) = items.get(i) else { return };
    let start = (v as *const T).cast::<i8>();
    let (first, last) = lines(start as usize, std::mem::size_of::<T>());
    for line in (first..=last).step_by(LINE) {
        // The line's first byte within `v` (`v`'s own first byte for the first line).
        hint(start.wrapping_add(line.max(start as usize) - start as usize));
    }
}

/// The addresses of the first and the last cache line of `size` bytes at `addr` (one
/// line for an empty value).
#[inline(always)]
fn lines(addr: usize, size: usize) -> (usize, usize) {
    (addr & !(LINE - 1), (addr + size.max(1) - 1) & !(LINE - 1))
}

/// The prefetch instruction for the line holding `p`.
#[inline(always)]
fn hint(p: *const i8) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: `prefetch` has no architectural effect (it never faults, even on an
        // invalid address); every caller passes an address within a live value anyway.
        // SSE is part of the x86_64 baseline.
        #[allow(unused_unsafe)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = p;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetch_changes_nothing_and_ignores_out_of_range() {
        let v = vec![1u64, 2, 3];
        prefetch(&v[1]);
        prefetch_at(&v, 2);
        prefetch_at(&v, 3);
        prefetch_at::<u64>(&[], 0);
        assert_eq!(v, [1, 2, 3]);
        let big = vec![[0u8; 144]; 4];
        prefetch_lines_at(&big, 3);
        prefetch_lines_at(&big, 4);
        prefetch_lines_at(&[(); 2], 1);
        assert_eq!(big[3], [0; 144]);
    }

    fn lines_of(addr: usize, size: usize) -> usize {
        let (first, last) = lines(addr, size);
        (last - first) / LINE + 1
    }

    #[test]
    fn every_line_a_value_covers_is_hinted() {
        // A 144-byte value covers three lines at 16-byte alignment, four from late in a
        // line.
        for (addr, n) in [(0, 3), (16, 3), (48, 3), (64 + 32, 3), (60, 4)] {
            assert_eq!(lines_of(addr, 144), n, "at {addr}");
        }
        assert_eq!(lines_of(64, 64), 1);
        assert_eq!(lines_of(8, 64), 2);
        assert_eq!(lines_of(5, 0), 1);
    }
}

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
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = (value as *const T).cast::<i8>();
        // SAFETY: `prefetch` has no architectural effect (it never faults, even on an
        // invalid address); `p` comes from a reference, so it is valid anyway. SSE is
        // part of the x86_64 baseline.
        #[allow(unused_unsafe)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = value;
    }
}

/// [`prefetch`] of `items[i]`, when there is such an element.
#[inline(always)]
pub fn prefetch_at<T>(items: &[T], i: usize) {
    if let Some(v) = items.get(i) {
        prefetch(v);
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
    }
}

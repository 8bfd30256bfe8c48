//! Transparent huge pages for the arrays that outgrow the TLB's reach at fleet scale (the
//! VMs' state, their held points' places, the job slots): each random access to them
//! would otherwise walk the page tables as well. A hint only: it changes nothing a run
//! computes, and where the system does not honour it nothing happens.

/// Arrays below this many bytes keep the system's pages: a small run's arrays fit the
/// TLB's reach anyway, and a huge page is zeroed whole when first touched.
pub const HUGE_FROM: usize = 8 << 20;

/// Asks for huge pages over `v`'s reserved room (its capacity), when that is at least
/// [`HUGE_FROM`] bytes; best before its pages are first touched. Call again after it
/// grows: a move to a new mapping keeps the advice, a new allocation does not. Returns
/// whether the advice was given and taken.
pub fn advise_huge<T>(v: &Vec<T>) -> bool {
    let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
    if bytes < HUGE_FROM {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = v.as_ptr() as usize;
        let first = start.next_multiple_of(PAGE);
        let end = (start + bytes) & !(PAGE - 1);
        // SAFETY: `madvise` with MADV_HUGEPAGE only sets a flag on the pages of the
        // range, which lies within `v`'s own allocation; it reads and writes no memory.
        end > first
            && unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE)
            } == 0
    }
    #[cfg(not(target_os = "linux"))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mapping holding `addr` has the huge-page flag (`hg` in its `VmFlags`).
    #[cfg(target_os = "linux")]
    fn flagged_huge(addr: usize) -> bool {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split_whitespace().next().unwrap_or("");
            if let Some((a, b)) = range.split_once('-') {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    inside = (a..b).contains(&addr);
                    continue;
                }
            }
            if inside && line.starts_with("VmFlags:") {
                return line.split_whitespace().any(|f| f == "hg");
            }
        }
        false
    }

    /// A small array is left alone; a large one's mapping is flagged for huge pages
    /// wherever the system takes the advice.
    #[test]
    fn only_large_arrays_ask_for_huge_pages() {
        let small: Vec<u64> = Vec::with_capacity(1 << 10);
        assert!(!advise_huge(&small));
        let large: Vec<u64> = Vec::with_capacity(HUGE_FROM / 8 * 2);
        let taken = advise_huge(&large);
        #[cfg(target_os = "linux")]
        assert_eq!(flagged_huge(large.as_ptr() as usize + HUGE_FROM), taken);
        #[cfg(not(target_os = "linux"))]
        assert!(!taken);
    }
}

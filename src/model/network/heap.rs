//! The finish heaps of the classes: per class, a binary min-heap of its flows' finish
//! tags, ordered by (tag, flow id).
//!
//! The heap does not keep each flow's position: that bookkeeping was a write to a random
//! flow slot at every level an entry moves, on every arrival and completion, to make the
//! removal of a flow from the middle O(log n). Only [`super::Network::cancel_flow`] needs
//! that, and the simulation never cancels a transfer, so a cancel finds its flow by a scan
//! of its class's heap instead. The heap's layout is the same either way.

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

#[cfg(test)]
mod tests {
    use super::*;
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
}

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

#[inline]
fn before(a: &Entry, b: &Entry) -> bool {
    a.tag < b.tag || (a.tag == b.tag && a.flow < b.flow)
}

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
        let c = if l + 1 < n && before(&heap[l + 1], &heap[l]) {
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

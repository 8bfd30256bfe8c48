//! The finish heaps of the classes: per class, an indexed binary min-heap of its flows'
//! finish tags, ordered by (tag, flow id). Each flow's slot records its position, so that
//! `cancel_flow` removes a flow from the middle in O(log n).

/// A flow in its class's heap.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    pub(super) tag: f64,
    pub(super) flow: u32,
}

#[inline]
fn before(a: &Entry, b: &Entry) -> bool {
    a.tag < b.tag || (a.tag == b.tag && a.flow < b.flow)
}

/// Where a flow is: its class and its position in the class's heap.
#[derive(Clone, Copy, Debug)]
pub(super) struct FlowSlot {
    /// Class id, or `FLOW_FREE` / `FLOW_DONE`.
    pub(super) class: u32,
    /// Position in the class heap (meaningful while active).
    pub(super) pos: u32,
}

// The heap operations run on every arrival and completion, from the sibling modules
// (which may land in other codegen units): `#[inline]` keeps them inlinable there.
#[inline]
pub(super) fn sift_up(heap: &mut [Entry], flows: &mut [FlowSlot], mut i: usize) {
    let e = heap[i];
    while i > 0 {
        let p = (i - 1) / 2;
        if !before(&e, &heap[p]) {
            break;
        }
        heap[i] = heap[p];
        flows[heap[i].flow as usize].pos = i as u32;
        i = p;
    }
    heap[i] = e;
    flows[e.flow as usize].pos = i as u32;
}

#[inline]
pub(super) fn sift_down(heap: &mut [Entry], flows: &mut [FlowSlot], mut i: usize) {
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
        flows[heap[i].flow as usize].pos = i as u32;
        i = c;
    }
    heap[i] = e;
    flows[e.flow as usize].pos = i as u32;
}

/// Removes the entry at `pos`, keeping every moved flow's slot position current.
#[inline]
pub(super) fn heap_remove(heap: &mut Vec<Entry>, flows: &mut [FlowSlot], pos: usize) -> Entry {
    let last = heap.pop().expect("heap_remove on empty heap");
    if pos == heap.len() {
        return last;
    }
    let removed = heap[pos];
    heap[pos] = last;
    if pos > 0 && before(&last, &heap[(pos - 1) / 2]) {
        sift_up(heap, flows, pos);
    } else {
        sift_down(heap, flows, pos);
    }
    removed
}

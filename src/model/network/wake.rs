//! The completion timer: an indexed binary min-heap of the active classes keyed by
//! `(next finish, class id)`, so that the network's next completion and the classes due
//! at an instant are found without visiting every active class (a recompute touches only
//! one component; see `fill`).
//!
//! A class's next finish time (of its heap top at the current rate, or `NEVER`) lives
//! only in its entry: comparisons and the timer's reads stay in the heap's array instead
//! of loading a class per step, and only a moved entry's position is written to its
//! class.

use super::classes::Class;
use super::{NEVER, NOT_LISTED};

/// A heap entry: the class's next finish time, then the class (the order of the key).
pub(super) type WakeEntry = (u64, u32);

/// Inserts class `c` (not yet in the heap), finishing never until its first filling.
pub(super) fn wake_push(heap: &mut Vec<WakeEntry>, classes: &mut [Class], c: u32) {
    debug_assert_eq!(classes[c as usize].wake_pos, NOT_LISTED);
    heap.push((NEVER, c));
    let i = heap.len() - 1;
    classes[c as usize].wake_pos = i as u32;
    sift_up(heap, classes, i);
}

/// Removes class `c` (in the heap).
pub(super) fn wake_remove(heap: &mut Vec<WakeEntry>, classes: &mut [Class], c: u32) {
    let pos = classes[c as usize].wake_pos as usize;
    classes[c as usize].wake_pos = NOT_LISTED;
    let last = heap.pop().expect("wake_remove on an empty heap");
    if pos == heap.len() {
        return;
    }
    heap[pos] = last;
    classes[last.1 as usize].wake_pos = pos as u32;
    restore(heap, classes, pos);
}

/// Sets class `c`'s next finish time (in the heap) to `next`, moving its entry if it
/// changed.
#[inline]
pub(super) fn wake_set(heap: &mut [WakeEntry], classes: &mut [Class], c: u32, next: u64) {
    let i = classes[c as usize].wake_pos as usize;
    if heap[i].0 != next {
        heap[i].0 = next;
        // One active class (a small run's usual case) has no order to restore.
        if heap.len() > 1 {
            restore(heap, classes, i);
        }
    }
}

/// Moves the entry at `i` up or down to its place.
#[inline]
fn restore(heap: &mut [WakeEntry], classes: &mut [Class], i: usize) {
    if i > 0 && heap[i] < heap[(i - 1) / 2] {
        sift_up(heap, classes, i);
    } else {
        sift_down(heap, classes, i);
    }
}

fn sift_up(heap: &mut [WakeEntry], classes: &mut [Class], mut i: usize) {
    let e = heap[i];
    while i > 0 {
        let p = (i - 1) / 2;
        if e >= heap[p] {
            break;
        }
        heap[i] = heap[p];
        classes[heap[i].1 as usize].wake_pos = i as u32;
        i = p;
    }
    heap[i] = e;
    classes[e.1 as usize].wake_pos = i as u32;
}

fn sift_down(heap: &mut [WakeEntry], classes: &mut [Class], mut i: usize) {
    let n = heap.len();
    let e = heap[i];
    loop {
        let l = 2 * i + 1;
        if l >= n {
            break;
        }
        let m = if l + 1 < n && heap[l + 1] < heap[l] {
            l + 1
        } else {
            l
        };
        if heap[m] >= e {
            break;
        }
        heap[i] = heap[m];
        classes[heap[i].1 as usize].wake_pos = i as u32;
        i = m;
    }
    heap[i] = e;
    classes[e.1 as usize].wake_pos = i as u32;
}

//! The completion timer: an indexed binary min-heap of the active classes keyed by
//! `(next_finish, class id)`, so that the network's next completion and the classes due
//! at an instant are found without visiting every active class (a recompute touches only
//! one component; see `fill`).

use super::classes::Class;
use super::NOT_LISTED;

#[inline]
fn key(classes: &[Class], c: u32) -> (u64, u32) {
    (classes[c as usize].next_finish, c)
}

/// Inserts class `c` (not yet in the heap).
pub(super) fn wake_push(heap: &mut Vec<u32>, classes: &mut [Class], c: u32) {
    debug_assert_eq!(classes[c as usize].wake_pos, NOT_LISTED);
    heap.push(c);
    let i = heap.len() - 1;
    classes[c as usize].wake_pos = i as u32;
    sift_up(heap, classes, i);
}

/// Removes class `c` (in the heap).
pub(super) fn wake_remove(heap: &mut Vec<u32>, classes: &mut [Class], c: u32) {
    let pos = classes[c as usize].wake_pos as usize;
    classes[c as usize].wake_pos = NOT_LISTED;
    let last = heap.pop().expect("wake_remove on an empty heap");
    if pos == heap.len() {
        return;
    }
    heap[pos] = last;
    classes[last as usize].wake_pos = pos as u32;
    wake_fix(heap, classes, last);
}

/// Restores the heap order after class `c`'s key changed.
#[inline]
pub(super) fn wake_fix(heap: &mut [u32], classes: &mut [Class], c: u32) {
    let i = classes[c as usize].wake_pos as usize;
    if i > 0 && key(classes, c) < key(classes, heap[(i - 1) / 2]) {
        sift_up(heap, classes, i);
    } else {
        sift_down(heap, classes, i);
    }
}

fn sift_up(heap: &mut [u32], classes: &mut [Class], mut i: usize) {
    let c = heap[i];
    let k = key(classes, c);
    while i > 0 {
        let p = (i - 1) / 2;
        if k >= key(classes, heap[p]) {
            break;
        }
        heap[i] = heap[p];
        classes[heap[i] as usize].wake_pos = i as u32;
        i = p;
    }
    heap[i] = c;
    classes[c as usize].wake_pos = i as u32;
}

fn sift_down(heap: &mut [u32], classes: &mut [Class], mut i: usize) {
    let n = heap.len();
    let c = heap[i];
    let k = key(classes, c);
    loop {
        let l = 2 * i + 1;
        if l >= n {
            break;
        }
        let m = if l + 1 < n && key(classes, heap[l + 1]) < key(classes, heap[l]) {
            l + 1
        } else {
            l
        };
        if key(classes, heap[m]) >= k {
            break;
        }
        heap[i] = heap[m];
        classes[heap[i] as usize].wake_pos = i as u32;
        i = m;
    }
    heap[i] = c;
    classes[c as usize].wake_pos = i as u32;
}

//! Max-min fair rates by progressive filling over the active classes (see the `network`
//! module doc).

use std::cmp::{Ordering, Reverse};
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;

use super::{Network, NEVER};

/// A link's fair share as a totally ordered heap key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Share(pub(super) f64);

impl Eq for Share {}

impl PartialOrd for Share {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Share {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl Network {
    /// Max-min fair rates of all active classes by progressive filling, then their next
    /// finish times.
    pub(super) fn recompute(&mut self) {
        self.epoch += 1;
        let epoch = self.epoch;
        // A link's fair share never decreases during progressive filling (flows leave it
        // frozen at the global minimum, which is at most its share), so heap keys can only
        // be stale from below: build the heap once in O(links), never push, and when the
        // top is stale re-key it in place (sift-down) until a current one surfaces.
        let mut heap = std::mem::take(&mut self.link_heap).into_vec();
        heap.clear();
        for &l in &self.active_links {
            let link = &mut self.links[l as usize];
            link.rem = link.capacity;
            link.unfrozen = link.n_flows;
            link.tp_acc = 0.0;
            heap.push(Reverse((Share(link.rem / link.unfrozen as f64), l)));
        }
        self.link_heap = BinaryHeap::from(heap);
        let mut left = self.active_classes.len();
        let mut cap_i = 0;
        while left > 0 {
            let link_top = loop {
                let Some(mut top) = self.link_heap.peek_mut() else {
                    break None;
                };
                let Reverse((key, l)) = *top;
                let link = &self.links[l as usize];
                if link.unfrozen == 0 {
                    PeekMut::pop(top);
                    continue;
                }
                let share = link.rem.max(0.0) / link.unfrozen as f64;
                if share.to_bits() == key.0.to_bits() {
                    break Some((share, l));
                }
                *top = Reverse((Share(share), l));
            };
            while cap_i < self.capped.len()
                && self.classes[self.capped[cap_i].1 as usize].frozen == epoch
            {
                cap_i += 1;
            }
            let cap_top = self.capped.get(cap_i).map(|&(b, c)| (f64::from_bits(b), c));
            match (link_top, cap_top) {
                (lt, Some((cap, c))) if lt.map_or(true, |(s, _)| cap <= s) => {
                    self.freeze(c, cap, epoch);
                    left -= 1;
                }
                (Some((s, l)), _) => {
                    self.link_heap.pop();
                    let mut i = 0;
                    while i < self.links[l as usize].classes.len() {
                        let c = self.links[l as usize].classes[i];
                        if self.classes[c as usize].frozen != epoch {
                            self.freeze(c, s, epoch);
                            left -= 1;
                        }
                        i += 1;
                    }
                }
                _ => unreachable!("an unfrozen class has neither a link nor a cap"),
            }
        }
        let clock = self.clock;
        for &l in &self.active_links {
            let link = &mut self.links[l as usize];
            link.set_throughput(clock, link.tp_acc);
        }
        let mut next = NEVER;
        for &c in &self.active_classes {
            let class = &mut self.classes[c as usize];
            class.next_finish = class.finish_of(class.heap[0].tag, clock);
            next = next.min(class.next_finish);
        }
        self.next = next;
    }

    fn freeze(&mut self, c: u32, rate: f64, epoch: u64) {
        let clock = self.clock;
        let class = &mut self.classes[c as usize];
        class.frozen = epoch;
        class.set_rate(clock, rate);
        let n = class.heap.len() as u64;
        let nf = n as f64;
        let (s, len) = self.paths[class.path as usize];
        for &l in &self.path_links[s as usize..(s + len) as usize] {
            let link = &mut self.links[l as usize];
            link.rem -= nf * rate;
            link.tp_acc += nf * rate;
            link.unfrozen -= n;
        }
    }
}

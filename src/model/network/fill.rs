//! Max-min fair rates by progressive filling (see the `network` module doc), recomputed
//! only on the connected component of what changed.
//!
//! # Why per component, and why it is exact
//!
//! Links and active classes form a graph (a class joins the links of its path). Rates in
//! one connected component do not depend on any other, so a flow starting or ending, or a
//! capacity changing, only needs the water-filling of the component(s) it touches: the
//! links and classes marked with [`Network::touch_class`] / [`Network::touch_link`] since
//! the last recompute, and everything connected to them.
//!
//! The result is bit for bit the one a water-filling over the whole network would give.
//! Progressive filling processes bottlenecks in increasing order of `(fair share, link
//! id)` (caps ordered by `(cap, class id)`, a cap before a link share it equals); the
//! events of one component keep their relative order whether or not other components are
//! interleaved, since nothing outside a component changes its keys, and each float
//! operation (a link's remaining capacity and throughput, summed in the order of the
//! link's class list) involves only that component. Untouched components keep the rates,
//! throughputs and finish times of their last filling, which a new filling would
//! reproduce exactly. A test (`incremental_equals_full_recompute`) checks this after every
//! random change.
//!
//! Finding a component is itself a search over links and classes. Components change only
//! when a class becomes active or idle (`Network::shape` counts those changes), so a
//! class keeps the component found for it and, when it alone changed and the shape has
//! not, its next recompute skips the search. Most components are one link (a region's
//! egress): those are filled without the link heap, in the same steps, and those of a
//! few classes (full and incremental copies) sort their own caps. And in
//! most refills no link is a bottleneck (the flows are held to their per-disk caps): in a
//! component of several links a sum of the caps per link shows it, and every class then
//! runs at its cap without the filling (see [`Network::fill_at_caps`] for why that is
//! its result bit for bit). Whether the last filling left every class at its cap is
//! kept (`at_caps`): a VM's further disks can then join without a refill each
//! (see `flows`).
//!
//! Each link also keeps the exact sum of its flows' caps (whole numbers of bytes/s, as the
//! per-disk rates are) and whether it could bind (`Link::binds`); the network counts
//! those that could. While none could, nor could any after the last recompute, every
//! class runs at its cap and a refill sets only the classes touched and the links on
//! their paths ([`Network::refill_at_caps`]): a change costs its path's length, not its
//! component's classes.

use std::cmp::{Ordering, Reverse};
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;

use super::wake::wake_set;
use super::{f64_of, Network, NEVER, NOT_LISTED};

/// A component's capped classes are sorted on their own when the network has this many
/// times more capped classes. Both ways give the same order; the tests use a lower
/// threshold so that their small networks take both ways.
const SORT_BELOW: usize = if cfg!(test) { 2 } else { 8 };

/// Components of one link and at most this many classes sort their caps themselves
/// instead of taking the component's list (the tests use a lower threshold so that
/// their small networks take both ways).
const FEW_CLASSES: usize = if cfg!(test) { 3 } else { 8 };

/// The share of a link's capacity its flows' caps must leave free for
/// [`Network::fill_at_caps`] to run every class at its cap without the filling: below it
/// the margin is left to the filling proper.
pub(super) const HEADROOM: f64 = 1e-9;

/// What one filling works on: a component's links, its number of classes, its capped
/// classes in `(cap, class id)` order (possibly with others', skipped: see `in_comp`),
/// the recompute's epoch, and whether the component is every active class.
#[derive(Clone, Copy)]
struct Comp<'a> {
    links: &'a [u32],
    n_classes: usize,
    capped: &'a [(u64, u32)],
    epoch: u64,
    all: bool,
}

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
    /// Marks class `c` (active or not) as changed: its component is refilled by the next
    /// [`Network::recompute`]; an inactive class marks the links of its path instead.
    #[inline]
    pub(super) fn touch_class(&mut self, c: u32) {
        self.classes[c as usize].touched = self.epoch + 1;
        self.dirty_classes.push(c);
    }

    /// Marks link `l` as changed (its capacity).
    #[inline]
    pub(super) fn touch_link(&mut self, l: u32) {
        self.dirty_links.push(l);
    }

    /// Max-min fair rates of the components of everything touched since the last call,
    /// then their classes' next finish times and the network's next completion.
    pub(super) fn recompute(&mut self) {
        self.epoch += 1;
        let epoch = self.epoch;
        if self.binding == 0 && self.all_at_caps && !self.heap_fill() {
            self.refill_at_caps();
        } else if self.spans_all() {
            // One component: the whole network, without growing it class by class.
            self.dirty_classes.clear();
            self.dirty_links.clear();
            let links = std::mem::take(&mut self.active_links);
            let classes = std::mem::take(&mut self.active_classes);
            self.fill(&links, &classes, epoch, true);
            self.active_links = links;
            self.active_classes = classes;
        } else {
            self.recompute_components(epoch);
        }
        self.all_at_caps = self.binding == 0;
        self.next = self
            .wake
            .first()
            .map_or(NEVER, |&(next_finish, _)| next_finish);
    }

    /// The refill when no link binds now nor did after the last recompute: every class
    /// ran at its cap and runs at it still, so only what changed is set: the rates and
    /// finish times of the classes touched (a new class takes its cap), and the
    /// throughputs of the links on their paths, each its exact sum of caps.
    ///
    /// # Why it is the filling's result, bit for bit
    ///
    /// With no link binding (`Link::binds`: whole-number caps, summing below 2^53 and to
    /// within `1 − HEADROOM` of each link's capacity), the filling freezes every class at
    /// its cap, at its cap's bits (see [`Network::fill_at_caps`]), and sums a link's
    /// throughput from `flows × cap` terms that are whole numbers below 2^53: every
    /// partial sum is exact, so any order gives the exact sum. After a recompute with no
    /// link binding, every class is at its cap: a component refilled then was at caps,
    /// and one not refilled has not changed since its last refill, when its links' sums
    /// were what they are now, so it was at caps too. The classes not touched keep their
    /// rates and so their finish times (see `set_finishes`); so do links off the touched
    /// paths, whose sums did not move.
    fn refill_at_caps(&mut self) {
        let clock = self.clock;
        let mut dirty = std::mem::take(&mut self.dirty_classes);
        self.dirty_links.clear();
        for &c in &dirty {
            let class = &mut self.classes[c as usize];
            let (s, n) = self.paths[class.path as usize];
            for &l in &self.path_links[s as usize..(s + n) as usize] {
                let link = &mut self.links[l as usize];
                if link.active_pos != NOT_LISTED {
                    link.set_throughput(clock, link.cap_sum as f64);
                }
            }
            if class.active_pos != NOT_LISTED {
                class.set_rate(clock, class.cap);
                let next = class.finish_of(class.heap.top().tag, clock);
                wake_set(&mut self.wake, &mut self.classes, c, next);
            }
        }
        self.at_caps = true;
        dirty.clear();
        self.dirty_classes = dirty;
    }

    /// Whether a link touched since the last recompute is crossed by every active class,
    /// which makes the whole network one component (every class and every active link is
    /// connected through it): the common case of a shared regional link.
    fn spans_all(&self) -> bool {
        let n = self.active_classes.len();
        let all = |l: &u32| self.links[*l as usize].classes.len() == n;
        n > 0
            && (self.dirty_links.iter().any(all)
                || self.dirty_classes.iter().any(|&c| {
                    let (s, len) = self.paths[self.classes[c as usize].path as usize];
                    self.path_links[s as usize..(s + len) as usize]
                        .iter()
                        .any(all)
                }))
    }

    /// [`Network::recompute`] on the components of the touched classes and links.
    fn recompute_components(&mut self, epoch: u64) {
        let seed = self.one_touched_class();
        if let Some(c) = seed.filter(|&c| self.classes[c as usize].comp_shape == self.shape) {
            self.fill_cached(c, epoch);
            return;
        }
        let mut links = std::mem::take(&mut self.comp_links);
        let mut classes = std::mem::take(&mut self.comp_classes);
        links.clear();
        classes.clear();
        for i in 0..self.dirty_classes.len() {
            let c = self.dirty_classes[i];
            let class = &mut self.classes[c as usize];
            if class.active_pos != NOT_LISTED {
                if class.seen != epoch {
                    class.seen = epoch;
                    classes.push(c);
                }
            } else {
                let (s, n) = self.paths[class.path as usize];
                self.dirty_links
                    .extend_from_slice(&self.path_links[s as usize..(s + n) as usize]);
            }
        }
        for &l in &self.dirty_links {
            let link = &mut self.links[l as usize];
            if link.active_pos != NOT_LISTED && link.seen != epoch {
                link.seen = epoch;
                links.push(l);
            }
        }
        self.dirty_classes.clear();
        self.dirty_links.clear();
        // Grow the seeds to whole components: a class brings its path's links, a link
        // its classes.
        let (mut ci, mut li) = (0, 0);
        while ci < classes.len() || li < links.len() {
            if ci < classes.len() {
                let (s, n) = self.paths[self.classes[classes[ci] as usize].path as usize];
                ci += 1;
                for &l in &self.path_links[s as usize..(s + n) as usize] {
                    let link = &mut self.links[l as usize];
                    if link.seen != epoch {
                        link.seen = epoch;
                        links.push(l);
                    }
                }
            } else {
                let l = links[li] as usize;
                li += 1;
                for &c in &self.links[l].classes {
                    let class = &mut self.classes[c as usize];
                    if class.seen != epoch {
                        class.seen = epoch;
                        classes.push(c);
                    }
                }
            }
        }
        self.fill(&links, &classes, epoch, false);
        if let Some(c) = seed {
            // One class's component: kept for the next change of that class while the
            // active classes stay the same (the common case: flows come and go in
            // classes that stay active).
            let class = &mut self.classes[c as usize];
            class.comp_links.clone_from(&links);
            class.comp_classes.clone_from(&classes);
            class.comp_shape = self.shape;
        }
        self.comp_links = links;
        self.comp_classes = classes;
    }

    /// The class touched since the last recompute if it is the only thing touched and is
    /// active.
    fn one_touched_class(&self) -> Option<u32> {
        let &c = self.dirty_classes.first()?;
        (self.dirty_links.is_empty()
            && self.dirty_classes.iter().all(|&d| d == c)
            && self.classes[c as usize].active_pos != NOT_LISTED)
            .then_some(c)
    }

    /// Refills class `c`'s component as found by an earlier recompute at the same
    /// [`Network::shape`]: the same links and classes the search would find (the filling
    /// does not depend on their order in the lists).
    fn fill_cached(&mut self, c: u32, epoch: u64) {
        self.dirty_classes.clear();
        let links = std::mem::take(&mut self.classes[c as usize].comp_links);
        let classes = std::mem::take(&mut self.classes[c as usize].comp_classes);
        for &k in &classes {
            self.classes[k as usize].seen = epoch;
        }
        self.fill(&links, &classes, epoch, false);
        let class = &mut self.classes[c as usize];
        class.comp_links = links;
        class.comp_classes = classes;
    }

    /// Marks every active class, so that the next recompute refills the whole network.
    #[cfg(test)]
    pub(super) fn touch_all(&mut self) {
        for i in 0..self.active_classes.len() {
            let c = self.active_classes[i];
            self.touch_class(c);
        }
    }

    /// Progressive filling over `links` and `classes` (whole components; `all`: every
    /// active one, so none is marked `seen`), then the classes' finish times.
    fn fill(&mut self, links: &[u32], classes: &[u32], epoch: u64, all: bool) {
        if let &[l] = links {
            if !self.heap_fill() {
                if let &[c] = classes {
                    self.fill_alone(l, c, epoch);
                    return;
                }
                if let &[c1, c2] = classes {
                    // Two classes (a region's full and incremental copies): their caps in
                    // order without the array below, whose 16 stores wait behind the
                    // event's stores that miss (a full store buffer) at a million VMs.
                    let cap_of = |c: u32| {
                        let cap = self.classes[c as usize].cap;
                        cap.is_finite().then_some((cap.to_bits(), c))
                    };
                    let (caps, n) = match (cap_of(c1), cap_of(c2)) {
                        (Some(a), Some(b)) => ([a.min(b), a.max(b)], 2),
                        (Some(a), None) | (None, Some(a)) => ([a, a], 1),
                        (None, None) => ([(0, 0); 2], 0),
                    };
                    self.at_caps = self.fill_one_link(l, &caps[..n], 2, epoch, |_, _| true);
                    self.set_finishes(links, classes, epoch);
                    return;
                }
                if classes.len() <= FEW_CLASSES {
                    // The caps in `(cap, class id)` order, sorted here: no list to take.
                    let mut caps = [(0u64, 0u32); FEW_CLASSES];
                    let mut n = 0;
                    for &c in classes {
                        let cap = self.classes[c as usize].cap;
                        if cap.is_finite() {
                            caps[n] = (cap.to_bits(), c);
                            n += 1;
                        }
                    }
                    caps[..n].sort_unstable();
                    self.at_caps =
                        self.fill_one_link(l, &caps[..n], classes.len(), epoch, |_, _| true);
                    self.set_finishes(links, classes, epoch);
                    return;
                }
            }
        }
        for &l in links {
            let link = &mut self.links[l as usize];
            link.rem = link.capacity;
            link.unfrozen = link.n_flows;
            link.tp_acc = 0.0;
        }
        // The component's capped classes in (cap, class id) order: the network's sorted
        // list when the component is most of it (skipping the others as they come), else
        // sorted here.
        let mut capped = std::mem::take(&mut self.comp_capped);
        capped.clear();
        let small = classes.len() * SORT_BELOW < self.capped.len();
        if small {
            capped.extend(classes.iter().filter_map(|&c| {
                let cap = self.classes[c as usize].cap;
                cap.is_finite().then_some((cap.to_bits(), c))
            }));
            capped.sort_unstable();
        } else {
            std::mem::swap(&mut capped, &mut self.capped);
        }
        // Components of one link take the filling itself: it is about as cheap as the
        // shortcut's pass there, which would be lost whenever the link binds. Elsewhere
        // the shortcut is tried when the component's last filling (as its first link
        // remembers it) left every class at its cap: links bind for hours at a time
        // (a fleet's first copies), during which the pass would be lost at every change.
        let comp = Comp {
            links,
            n_classes: classes.len(),
            capped: &capped,
            epoch,
            all,
        };
        self.at_caps = if self.heap_fill() {
            self.fill_links(comp)
        } else if let &[l] = links {
            self.fill_one_link(l, comp.capped, comp.n_classes, epoch, |net, c| {
                net.in_comp(comp, c)
            })
        } else {
            // (A component of no link: flows on the empty path, held to their caps.)
            let first = links.first().map(|&l| l as usize);
            let at_caps = (first.map_or(true, |l| self.links[l].last_at_caps)
                && self.fill_at_caps(comp))
                || self.fill_links(comp);
            if let Some(l) = first {
                self.links[l].last_at_caps = at_caps;
            }
            at_caps
        };
        if !small {
            std::mem::swap(&mut capped, &mut self.capped);
        }
        self.comp_capped = capped;
        self.set_finishes(links, classes, epoch);
    }

    /// After a filling: the links' throughputs (summed into `tp_acc`) and the classes'
    /// next finish times at their new rates.
    ///
    /// A class whose flows did not change since the last recompute (`touched`) and whose
    /// rate did not either (a new rate re-anchors it at the clock: `set_rate`) keeps its
    /// finish time: it is a function of the anchor, the rate and the first tag alone, and
    /// not before the clock (a flow due by the clock was completed before any change), so
    /// computing it again would give its very bits. In a component of many classes held
    /// to their caps, most refills change one.
    #[inline(always)]
    fn set_finishes(&mut self, links: &[u32], classes: &[u32], epoch: u64) {
        let clock = self.clock;
        for &l in links {
            let link = &mut self.links[l as usize];
            link.set_throughput(clock, link.tp_acc);
        }
        for &c in classes {
            let class = &self.classes[c as usize];
            if class.touched != epoch && class.t_anchor != clock {
                debug_assert_eq!(
                    self.wake[class.wake_pos as usize].0,
                    class.finish_of(class.heap.top().tag, clock),
                    "an unchanged class keeps its finish time"
                );
                continue;
            }
            let next = class.finish_of(class.heap.top().tag, clock);
            wake_set(&mut self.wake, &mut self.classes, c, next);
        }
    }

    /// The filling's result when no link is a bottleneck, as in most refills (a night's
    /// transfers are mostly held to their per-disk caps): if every class of the component
    /// is capped and on every link the flows' caps sum to at most `1 − HEADROOM` of its
    /// capacity, every class runs at its cap. Returns whether it was so (the classes then
    /// run at their caps and the links' throughputs are set); otherwise only the links'
    /// filling state is reset, for the filling proper.
    ///
    /// # Why it is the filling's result, bit for bit
    ///
    /// Progressive filling freezes the capped classes in `(cap, class id)` order; a class
    /// is frozen at its cap when the cap is at most every link's share
    /// `rem / unfrozen`. With the caps summing to at most `(1 − HEADROOM) C` on a link of
    /// capacity `C`, before the `k`-th class is frozen the link still has at least its
    /// unfrozen flows' caps (each at least the `k`-th cap, by the order) plus
    /// `HEADROOM × C`: the rounding of `k` subtractions and one division (below
    /// `k × 2^-51 × C`) cannot take that margin for any `k` under 10^6, so the share stays
    /// above the cap and every class is frozen by its cap, at its cap's very bits. A
    /// link's throughput is the sum of its classes' `flows × rate` in the order the
    /// filling freezes them, which is the order summed here.
    fn fill_at_caps(&mut self, comp: Comp) -> bool {
        let Comp {
            links,
            n_classes,
            capped,
            epoch,
            ..
        } = comp;
        let mut n = 0;
        for &(bits, c) in capped {
            if !self.in_comp(comp, c) {
                continue;
            }
            let class = &self.classes[c as usize];
            n += 1;
            let flow_caps = f64_of(class.heap.len() as u64) * f64::from_bits(bits);
            let (s, len) = self.paths[class.path as usize];
            for &l in &self.path_links[s as usize..(s + len) as usize] {
                self.links[l as usize].tp_acc += flow_caps;
            }
        }
        let fits = n == n_classes
            && links.iter().all(|&l| {
                let link = &self.links[l as usize];
                link.tp_acc <= link.capacity * (1.0 - HEADROOM)
            });
        if !fits {
            for &l in links {
                self.links[l as usize].tp_acc = 0.0;
            }
            return false;
        }
        let clock = self.clock;
        for &(bits, c) in capped {
            if self.in_comp(comp, c) {
                let class = &mut self.classes[c as usize];
                class.frozen = epoch;
                class.set_rate(clock, f64::from_bits(bits));
            }
        }
        true
    }

    /// The first capped class from `*cap_i` on that is in the component and not yet
    /// frozen, as (cap, class id).
    #[inline]
    fn next_cap(&self, comp: Comp, cap_i: &mut usize) -> Option<(f64, u32)> {
        let capped = comp.capped;
        while *cap_i < capped.len() && {
            let c = capped[*cap_i].1;
            self.classes[c as usize].frozen == comp.epoch || !self.in_comp(comp, c)
        } {
            *cap_i += 1;
        }
        capped.get(*cap_i).map(|&(b, c)| (f64::from_bits(b), c))
    }

    /// Whether class `c` of `comp.capped` belongs to the component (that list may be the
    /// network's, with every capped class).
    #[inline]
    fn in_comp(&self, comp: Comp, c: u32) -> bool {
        comp.all || self.classes[c as usize].seen == comp.epoch
    }

    /// The progressive filling of a component of several links: a heap of the links by
    /// `(share, link id)` against the caps in order. Returns whether every class was
    /// frozen at its cap (no link was a bottleneck).
    fn fill_links(&mut self, comp: Comp) -> bool {
        let Comp {
            links,
            n_classes,
            epoch,
            ..
        } = comp;
        // A link's fair share never decreases during progressive filling (flows leave it
        // frozen at the global minimum, which is at most its share), so heap keys can only
        // be stale from below: build the heap once in O(links), never push, and when the
        // top is stale re-key it in place (sift-down) until a current one surfaces.
        let mut heap = std::mem::take(&mut self.link_heap).into_vec();
        heap.clear();
        for &l in links {
            let link = &self.links[l as usize];
            heap.push(Reverse((Share(link.rem / f64_of(link.unfrozen)), l)));
        }
        self.link_heap = BinaryHeap::from(heap);
        let mut left = n_classes;
        let mut cap_i = 0;
        let mut at_caps = true;
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
                let share = link.rem.max(0.0) / f64_of(link.unfrozen);
                if share.to_bits() == key.0.to_bits() {
                    break Some((share, l));
                }
                *top = Reverse((Share(share), l));
            };
            match (link_top, self.next_cap(comp, &mut cap_i)) {
                (lt, Some((cap, c))) if lt.map_or(true, |(s, _)| cap <= s) => {
                    self.freeze(c, cap, epoch);
                    left -= 1;
                }
                (Some((s, l)), _) => {
                    self.link_heap.pop();
                    left -= self.freeze_link(l, s, epoch);
                    at_caps = false;
                }
                _ => unreachable!("an unfrozen class has neither a link nor a cap"),
            }
        }
        at_caps
    }

    /// [`Network::fill_links`] for a component of one link `l` (every class crosses it),
    /// as most are: the same steps in the same order, without the heap, the link's
    /// remaining capacity, unfrozen flows and throughput kept in locals (the throughput
    /// left in its `tp_acc`). `capped` lists the capped classes in `(cap, class id)`
    /// order, those of other components among them where `in_comp` says so; the
    /// component has `n_classes` classes. The share is recomputed before each step, as
    /// the heap's re-keying does; when it binds, the rest are frozen at it in the order
    /// of the link's class list, as [`Network::freeze_link`] does. Returns whether every
    /// class was frozen at its cap.
    fn fill_one_link(
        &mut self,
        l: u32,
        capped: &[(u64, u32)],
        n_classes: usize,
        epoch: u64,
        in_comp: impl Fn(&Self, u32) -> bool,
    ) -> bool {
        let clock = self.clock;
        let link = &self.links[l as usize];
        let (mut rem, mut unfrozen, mut tp) = (link.capacity, link.n_flows, 0.0);
        // The next capped class of the component, from `capped[*i]` on.
        let next_in = |net: &Self, i: &mut usize| {
            while *i < capped.len() && !in_comp(net, capped[*i].1) {
                *i += 1;
            }
            capped.get(*i).copied()
        };
        let mut i = 0;
        let mut next = next_in(self, &mut i);
        let mut left = n_classes;
        let mut at_caps = true;
        while left > 0 {
            debug_assert!(unfrozen > 0, "an unfrozen class crosses the link");
            let share = rem.max(0.0) / f64_of(unfrozen);
            match next {
                Some((bits, c)) if f64::from_bits(bits) <= share => {
                    let (n, sum) =
                        self.classes[c as usize].freeze_at(clock, epoch, f64::from_bits(bits));
                    rem -= sum;
                    tp += sum;
                    unfrozen -= n;
                    left -= 1;
                    i += 1;
                    next = next_in(self, &mut i);
                }
                _ => {
                    at_caps = false;
                    for i in 0..self.links[l as usize].classes.len() {
                        let c = self.links[l as usize].classes[i];
                        let class = &mut self.classes[c as usize];
                        if class.frozen != epoch {
                            tp += class.freeze_at(clock, epoch, share).1;
                            left -= 1;
                        }
                    }
                    debug_assert_eq!(left, 0, "the link's list holds the component's classes");
                    break;
                }
            }
        }
        self.links[l as usize].tp_acc = tp;
        at_caps
    }

    /// The filling of a component of one class on one link (a region's link that
    /// carries one kind of copy, as through a night of incrementals): the class's rate
    /// and the link's throughput by [`Network::one_class_fill`], without the filling's
    /// set-up for components of any size.
    fn fill_alone(&mut self, l: u32, c: u32, epoch: u64) {
        let clock = self.clock;
        let link = &mut self.links[l as usize];
        let class = &mut self.classes[c as usize];
        debug_assert_eq!(link.n_flows, class.heap.len() as u64);
        let (rate, tp, at_cap) = Network::one_class_fill(link.capacity, link.n_flows, class.cap);
        class.frozen = epoch;
        class.set_rate(clock, rate);
        link.set_throughput(clock, tp);
        let next = class.finish_of(class.heap.top().tag, clock);
        wake_set(&mut self.wake, &mut self.classes, c, next);
        self.at_caps = at_cap;
    }

    /// The rate and the link's throughput that progressive filling gives the only class
    /// of a component of one link, `n` flows capped at `cap` (`f64::INFINITY` for none) on
    /// a link of `capacity`, and whether the cap froze it. These are
    /// [`Network::fill_one_link`]'s steps for it, float for float (and `fill_links`'s,
    /// which the tests compare): the share `capacity / n` unless the cap is at most that,
    /// the throughput summed from 0.
    #[inline]
    pub(super) fn one_class_fill(capacity: f64, n: u64, cap: f64) -> (f64, f64, bool) {
        let share = capacity.max(0.0) / f64_of(n);
        let at_cap = cap <= share;
        let rate = if at_cap { cap } else { share };
        (rate, 0.0 + f64_of(n) * rate, at_cap)
    }

    /// Freezes every unfrozen class of link `l` at `share`, in the order of its list;
    /// returns how many.
    fn freeze_link(&mut self, l: u32, share: f64, epoch: u64) -> usize {
        let mut frozen = 0;
        let mut i = 0;
        while i < self.links[l as usize].classes.len() {
            let c = self.links[l as usize].classes[i];
            if self.classes[c as usize].frozen != epoch {
                self.freeze(c, share, epoch);
                frozen += 1;
            }
            i += 1;
        }
        frozen
    }

    /// Whether every filling must take the general (heap) way: set by the tests that
    /// compare the shortcuts (every class at its cap, one link) with it.
    #[inline]
    fn heap_fill(&self) -> bool {
        #[cfg(test)]
        return self.heap_only;
        #[cfg(not(test))]
        false
    }

    fn freeze(&mut self, c: u32, rate: f64, epoch: u64) {
        // (`Class::freeze_at`'s steps, and the link's share of them on every link.)
        let clock = self.clock;
        let class = &mut self.classes[c as usize];
        class.frozen = epoch;
        class.set_rate(clock, rate);
        let n = class.heap.len() as u64;
        let nf = f64_of(n);
        let (s, len) = self.paths[class.path as usize];
        for &l in &self.path_links[s as usize..(s + len) as usize] {
            let link = &mut self.links[l as usize];
            link.rem -= nf * rate;
            link.tp_acc += nf * rate;
            link.unfrozen -= n;
        }
    }
}

impl super::classes::Class {
    /// Freezes the class at `rate` from `clock` on, in filling `epoch`: returns its flow
    /// count and their summed rate (`flows × rate`, the amount a link's remaining capacity
    /// and throughput move by).
    #[inline]
    fn freeze_at(&mut self, clock: u64, epoch: u64, rate: f64) -> (u64, f64) {
        self.frozen = epoch;
        self.set_rate(clock, rate);
        let n = self.heap.len() as u64;
        (n, f64_of(n) * rate)
    }
}

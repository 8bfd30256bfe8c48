//! Paths and flow classes: flows with the same path and cap share a class (see "Why
//! classes" in the `network` module doc); a class is listed on its links, among the
//! active classes, in the completion timer and (if capped) among the capped ones only
//! while it has flows.

use super::heap::FinishHeap;
use super::wake::{wake_push, wake_remove};
use super::{LinkId, Network, PathId, NOT_LISTED};

/// Heap entries an emptied class keeps room for (64 KiB).
const KEEP_HEAP: usize = 4096;

/// The flows of one (path, cap) pair, interchangeable for max-min fairness.
pub(super) struct Class {
    pub(super) path: u32,
    pub(super) cap: f64,
    pub(super) heap: FinishHeap,
    /// Bytes received by each flow of the class since activation (or the last rebase), at
    /// `t_anchor`; see [`Class::v_at`].
    pub(super) v_anchor: f64,
    pub(super) t_anchor: u64,
    /// Σ tags, to know the class's remaining bytes without visiting its flows.
    pub(super) sum_tags: f64,
    /// Current per-flow rate.
    pub(super) rate: f64,
    /// Its cap as a whole number below 2^32, if it is one (`links::exact_cap`).
    pub(super) whole_cap: Option<u64>,
    /// For each link of the path, this class's position in that link's `classes`.
    pub(super) link_pos: Vec<u32>,
    /// Position in `Network::active_classes`, or `NOT_LISTED`.
    pub(super) active_pos: u32,
    /// Water-filling epoch at which the class was frozen.
    pub(super) frozen: u64,
    /// Recompute epoch at which the class was found in a changed component.
    pub(super) seen: u64,
    /// The recompute epoch after its flows last changed (see `Network::touch_class`):
    /// that recompute sets its finish time even if its rate stays.
    pub(super) touched: u64,
    /// Position in `Network::wake`, or `NOT_LISTED`.
    pub(super) wake_pos: u32,
    /// The links and classes of this class's component, found when `Network::shape` was
    /// `comp_shape` (see `fill`).
    pub(super) comp_links: Vec<u32>,
    pub(super) comp_classes: Vec<u32>,
    pub(super) comp_shape: u64,
}

impl Network {
    /// Adds a path over `links`, which must exist and be distinct. An empty path is allowed:
    /// its flows are limited only by their cap (which must then be finite).
    pub fn add_path(&mut self, links: &[LinkId]) -> PathId {
        for (i, l) in links.iter().enumerate() {
            assert!(
                (l.0 as usize) < self.links.len(),
                "add_path: unknown link {l:?}"
            );
            assert!(
                !links[..i].contains(l),
                "add_path: link {l:?} appears twice"
            );
        }
        let id = u32::try_from(self.paths.len()).expect("more than 2^32 paths");
        let start = u32::try_from(self.path_links.len()).expect("too many path links");
        self.path_links.extend(links.iter().map(|l| l.0));
        self.paths.push((start, links.len() as u32));
        PathId(id)
    }

    /// The links of `path`.
    pub fn path_links(&self, path: PathId) -> impl Iterator<Item = LinkId> + '_ {
        let (s, n) = self.paths[path.0 as usize];
        self.path_links[s as usize..(s + n) as usize]
            .iter()
            .map(|&l| LinkId(l))
    }

    pub(super) fn new_class(&mut self, path: u32, cap: f64) -> u32 {
        let plen = self.paths[path as usize].1 as usize;
        if let Some(c) = self.free_classes.pop() {
            let class = &mut self.classes[c as usize];
            class.path = path;
            class.cap = cap;
            class.whole_cap = super::links::exact_cap(cap);
            class.link_pos.clear();
            class.link_pos.resize(plen, 0);
            c
        } else {
            let c = u32::try_from(self.classes.len()).expect("more than 2^32 classes");
            self.classes.push(Class {
                path,
                cap,
                heap: FinishHeap::default(),
                v_anchor: 0.0,
                t_anchor: 0,
                sum_tags: 0.0,
                rate: 0.0,
                whole_cap: super::links::exact_cap(cap),
                link_pos: vec![0; plen],
                active_pos: NOT_LISTED,
                frozen: 0,
                seen: 0,
                touched: 0,
                wake_pos: NOT_LISTED,
                comp_links: Vec::new(),
                comp_classes: Vec::new(),
                comp_shape: 0,
            });
            c
        }
    }

    pub(super) fn activate(&mut self, c: u32) {
        self.shape += 1;
        let class = &mut self.classes[c as usize];
        let (s, n) = self.paths[class.path as usize];
        for (i, &l) in self.path_links[s as usize..(s + n) as usize]
            .iter()
            .enumerate()
        {
            let link = &mut self.links[l as usize];
            class.link_pos[i] = link.classes.len() as u32;
            link.classes.push(c);
            if link.active_pos == NOT_LISTED {
                link.active_pos = self.active_links.len() as u32;
                self.active_links.push(l);
            }
        }
        class.active_pos = self.active_classes.len() as u32;
        self.active_classes.push(c);
        if class.cap.is_finite() {
            let key = (class.cap.to_bits(), c);
            let i = self.capped.binary_search(&key).unwrap_err();
            self.capped.insert(i, key);
        }
        wake_push(&mut self.wake, &mut self.classes, c);
    }

    /// Deactivates class `c` (its heap empty): off its links and the active lists, free
    /// for reuse.
    pub(super) fn deactivate(&mut self, c: u32) {
        self.shape += 1;
        let (path, cap) = {
            let class = &self.classes[c as usize];
            debug_assert!(class.heap.is_empty());
            (class.path, class.cap)
        };
        wake_remove(&mut self.wake, &mut self.classes, c);
        let (s, n) = self.paths[path as usize];
        for i in 0..n as usize {
            let l = self.path_links[s as usize + i];
            let pos = self.classes[c as usize].link_pos[i] as usize;
            let link = &mut self.links[l as usize];
            link.classes.swap_remove(pos);
            if pos < link.classes.len() {
                let moved = link.classes[pos];
                let (ms, mn) = self.paths[self.classes[moved as usize].path as usize];
                let j = self.path_links[ms as usize..(ms + mn) as usize]
                    .iter()
                    .position(|&x| x == l)
                    .expect("class listed on a link not on its path");
                self.classes[moved as usize].link_pos[j] = pos as u32;
            }
            let link = &mut self.links[l as usize];
            if link.classes.is_empty() {
                debug_assert_eq!(link.n_flows, 0);
                link.set_throughput(self.clock, 0.0);
                let ap = link.active_pos as usize;
                link.active_pos = NOT_LISTED;
                self.active_links.swap_remove(ap);
                if ap < self.active_links.len() {
                    let moved = self.active_links[ap];
                    self.links[moved as usize].active_pos = ap as u32;
                }
            }
        }
        let ap = self.classes[c as usize].active_pos as usize;
        self.active_classes.swap_remove(ap);
        if ap < self.active_classes.len() {
            let moved = self.active_classes[ap];
            self.classes[moved as usize].active_pos = ap as u32;
        }
        if cap.is_finite() {
            let i = self
                .capped
                .binary_search(&(cap.to_bits(), c))
                .expect("capped class missing");
            self.capped.remove(i);
        }
        let class = &mut self.classes[c as usize];
        class.active_pos = NOT_LISTED;
        class.v_anchor = 0.0;
        class.sum_tags = 0.0;
        class.rate = 0.0;
        // A fleet's first night can put a large share of its VMs' disks in one class;
        // the heap's memory goes back when the class empties (small heaps keep theirs, so
        // a steady run does not allocate).
        class.heap.shrink_to(KEEP_HEAP);
        self.class_of.remove(&(path, cap.to_bits()));
        self.free_classes.push(c);
    }
}

//! Links shared by concurrent transfers (max-min fair sharing).
//!
//! A [`Network`] is a set of links (capacities in bytes/s), paths (ordered lists of distinct
//! links) and flows (a transfer of a number of bytes along a path, with a per-flow rate
//! cap). Rates are the max-min fair allocation, computed by progressive filling: the most
//! constrained bottleneck (the link with the smallest fair share `remaining capacity /
//! unfrozen flows`, or the smallest per-flow cap if that is lower) freezes its flows at that
//! rate, the rate is subtracted from every link they cross, and so on until all flows are
//! frozen.
//!
//! # Why classes
//!
//! A backup fleet runs 10^5 concurrent transfers over a few hundred paths. Tracking every
//! flow's remaining bytes would make each arrival or departure O(flows). But flows with
//! the same path and the same cap are interchangeable for max-min fairness: they always get
//! the same rate. So flows are grouped into *classes* keyed by `(path, cap bits)`, and the
//! water-filling runs over classes, each weighted by its flow count: a recompute costs
//! O(Σ over active classes of path length × log links), never O(flows).
//!
//! Inside a class we never touch individual flows when time passes. Each class keeps a
//! virtual-work clock `v`: the bytes that *each* of its flows has received since the class
//! last became active. It is not advanced step by step: the class stores an anchor
//! `(v_anchor, t_anchor, rate)` and `v(t) = v_anchor + rate × (t − t_anchor)` is computed on
//! demand; the anchor moves only when the class's rate changes (bitwise). Moving the clock
//! is therefore O(1), and, more importantly, every float result is a function of the
//! class's own rate history only: how many unrelated events (another fleet on another
//! link) split an interval cannot shift a finish time by a rounding. A flow joining at
//! virtual time `v0` with `b` bytes gets the
//! finish tag `v0 + b`; its remaining bytes are `tag − v`, and since all flows of the class
//! progress at the same rate, the finish order inside a class is the tag order and never
//! changes. The tags live in an indexed binary min-heap per class (indexed so that
//! `cancel_flow` is O(log n)); a class's next finisher is its heap top.
//!
//! # Invariants
//!
//! - A class is *active* iff its heap is non-empty. Active classes are listed in
//!   `active_classes`, in the `classes` list of every link on their path, and (if their cap
//!   is finite) in `capped`, sorted by cap. An emptied class is removed from all of them,
//!   its key is dropped and its slot (with its heap allocation) is recycled, so idle classes
//!   cost nothing in the water-filling, and `v` restarts at 0 (bounding float growth).
//! - A link is *active* iff at least one active class crosses it; `n_flows` is the sum of
//!   the flow counts of those classes. Only active links take part in the water-filling.
//! - Rates, throughputs and `next` (the minimum over active classes of the finish time of
//!   their heap top) are always those of the current flow set at `clock`: every mutation
//!   first moves the clock (completing whatever finishes on the way, in time order), then
//!   changes the flow set, then recomputes. Queries are therefore `&self` and O(1).
//! - To keep `v` precise, a class whose `v` exceeds 2^40 bytes is rebased (all its tags
//!   shifted by `−v`, heap rebuilt, anchor reset to `(0, now)`): rare, and it keeps the
//!   absolute error of `tag − v` below ~10^-3 byte for flows up to ~2^46 bytes. The test
//!   is made only when the class itself is touched (a flow joins or completes), so that
//!   it too is independent of unrelated events.
//! - Link statistics are anchored the same way: bytes carried are
//!   `bytes_anchor + throughput × (t − t_anchor)`, re-anchored only when the throughput
//!   changes (bitwise); the integer statistics (flow·µs, busy µs) are brought up to date
//!   only when the link's flow count changes (integer sums do not depend on the split).
//!
//! # Integer time and rounding
//!
//! The clock is integer microseconds; rates are f64. A flow's finish time is computed from
//! its class's anchor, `t_anchor + ceil((tag − v_anchor) / rate in µs − 10^-3)` (never
//! before the clock): the small slack absorbs float noise so
//! that exact cases come out exact (1 MB at 1 MB/s finishes at exactly 1 s), at the cost of
//! completing a flow at most 1 ns early. [`Network::next_completion`] reports the minimum
//! of these. At a due time, the completion rule is deliberately *not* a re-test of the
//! remaining bytes (which float noise could leave a hair above zero, giving a wake-up that
//! completes nothing and a livelock or a flow "almost done"): the heap top of every class
//! whose reported finish is due is completed unconditionally, together with its exact ties
//! and any flow of the class that would finish within the same microsecond. Hence every
//! flow whose reported finish is `<= now` is completed by `advance(now)`, each processing
//! step completes at least one flow, and `next_completion` is never before the clock.
//!
//! Flows discovered complete while processing `start_flow`, `cancel_flow` or
//! `set_capacity` (the caller handled another event at the same instant before its
//! network wake-up, or is late) are completed at their true time and buffered until the
//! next `advance`; their ids are not reused until reported, and `next_completion` returns
//! the current clock while any are buffered so that the caller wakes up to collect them.
//!
//! # Determinism
//!
//! Everything is stored in vectors indexed by ids; the only hash map maps a class key to
//! its id and is never iterated. Ties are broken by ids (links in the water-filling heap,
//! flows in the finish heaps and in the output of `advance`). Same calls ⇒ same results,
//! bit for bit.
//!
//! # Costs
//!
//! An arrival or departure costs O(log flows) in its class heap plus one recompute,
//! O(Σ_active classes (path length × log links)) — independent of the number of flows. No
//! allocation happens in the steady state (all scratch buffers are kept and reused).
//! Memory per flow: a 16-byte heap entry and an 8-byte slot.

use std::cmp::{Ordering, Reverse};
use std::collections::binary_heap::PeekMut;
use std::collections::{BinaryHeap, HashMap};

use crate::engine::time::SimTime;

/// A link (a shared bottleneck with a capacity in bytes/s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u32);

/// A path: an ordered list of distinct links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathId(pub u32);

/// A transfer. Ids are reused once a flow has been reported finished by
/// [`Network::advance`] or cancelled, so a caller must forget an id at that point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowId(pub u32);

/// Statistics of a link accumulated from its creation up to some instant.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkStats {
    /// Bytes carried: ∫ throughput dt.
    pub bytes: f64,
    /// ∫ (number of flows crossing the link) dt, in flow·seconds; divided by the elapsed
    /// time it is the mean number of flows in the link (Little's law).
    pub flow_seconds: f64,
    /// Seconds during which at least one flow crossed the link.
    pub busy_seconds: f64,
    /// Seconds during which the capacity was 0.
    pub down_seconds: f64,
    /// For every transition of the capacity to 0, the bytes that flows crossing the link
    /// still had to transfer at that moment, summed (flows started on an already-down link
    /// are not counted).
    pub stalled_bytes: f64,
}

/// Slack subtracted (in µs) before rounding a finish time up; see the module doc.
const ROUND_SLACK_US: f64 = 1e-3;
/// A class's virtual clock is rebased past this many bytes; see the module doc.
const REBASE_AT: f64 = (1u64 << 40) as f64;
/// Sentinel for "no finish time".
const NEVER: u64 = u64::MAX;
/// Finish times this far away are treated as never (a stalled-but-positive rate).
const FAR: f64 = (1u64 << 62) as f64;
/// Flow slot states (stored in `FlowSlot::class`).
const FLOW_FREE: u32 = u32::MAX;
const FLOW_DONE: u32 = u32::MAX - 1;
const NOT_LISTED: u32 = u32::MAX;

/// The finish time of a flow with `rem` bytes left at rate `rate`, seen at `clock`.
/// The single definition used both to report and to decide completions.
#[inline]
fn finish_time(clock: u64, rem: f64, rate: f64) -> u64 {
    if rem <= 0.0 {
        return clock;
    }
    if rate <= 0.0 {
        return NEVER;
    }
    let dt = rem * 1e6 / rate - ROUND_SLACK_US;
    if dt <= 0.0 {
        return clock;
    }
    if dt >= FAR {
        return NEVER;
    }
    // ceil without a libm call (0 < dt < 2^62 here).
    let whole = dt as u64;
    let up = whole + u64::from((whole as f64) < dt);
    clock.saturating_add(up).min(NEVER - 1)
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    tag: f64,
    flow: u32,
}

#[inline]
fn before(a: &Entry, b: &Entry) -> bool {
    a.tag < b.tag || (a.tag == b.tag && a.flow < b.flow)
}

#[derive(Clone, Copy, Debug)]
struct FlowSlot {
    /// Class id, or `FLOW_FREE` / `FLOW_DONE`.
    class: u32,
    /// Position in the class heap (meaningful while active).
    pos: u32,
}

fn sift_up(heap: &mut [Entry], flows: &mut [FlowSlot], mut i: usize) {
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

fn sift_down(heap: &mut [Entry], flows: &mut [FlowSlot], mut i: usize) {
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

fn heap_remove(heap: &mut Vec<Entry>, flows: &mut [FlowSlot], pos: usize) -> Entry {
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

struct Link {
    capacity: f64,
    /// Active classes crossing this link (order irrelevant to results' values except via
    /// float summation order, which is itself deterministic).
    classes: Vec<u32>,
    /// Σ flow counts of `classes`.
    n_flows: u64,
    /// Σ rates of the flows crossing the link.
    throughput: f64,
    /// Position in `Network::active_links`, or `NOT_LISTED`.
    active_pos: u32,
    // Statistics, anchored (see the module doc): bytes carried up to `bytes_t`, and the
    // integer statistics up to `stat_t` (`n_flows` has not changed since).
    bytes: f64,
    bytes_t: u64,
    flow_us: u128,
    busy_us: u64,
    stat_t: u64,
    down_us: u64,
    down_since: u64,
    stalled_bytes: f64,
    // Water-filling scratch.
    rem: f64,
    unfrozen: u64,
    /// The throughput being summed by the water-filling.
    tp_acc: f64,
}

impl Link {
    /// Brings the integer statistics to `t`; call before `n_flows` changes.
    #[inline]
    fn touch_counts(&mut self, t: u64) {
        let dt = t - self.stat_t;
        if self.n_flows > 0 {
            self.flow_us += self.n_flows as u128 * dt as u128;
            self.busy_us += dt;
        }
        self.stat_t = t;
    }

    /// Sets the throughput from `t` on, re-anchoring the byte count only if it changed.
    #[inline]
    fn set_throughput(&mut self, t: u64, tp: f64) {
        if tp.to_bits() != self.throughput.to_bits() {
            self.bytes += self.throughput * (t - self.bytes_t) as f64 / 1e6;
            self.bytes_t = t;
            self.throughput = tp;
        }
    }
}

struct Class {
    path: u32,
    cap: f64,
    heap: Vec<Entry>,
    /// Bytes received by each flow of the class since activation (or the last rebase), at
    /// `t_anchor`; see [`Class::v_at`].
    v_anchor: f64,
    t_anchor: u64,
    /// Σ tags, to know the class's remaining bytes without visiting its flows.
    sum_tags: f64,
    /// Current per-flow rate.
    rate: f64,
    /// For each link of the path, this class's position in that link's `classes`.
    link_pos: Vec<u32>,
    /// Position in `Network::active_classes`, or `NOT_LISTED`.
    active_pos: u32,
    /// Finish time of the heap top under the current rate, or `NEVER`.
    next_finish: u64,
    /// Water-filling epoch at which the class was frozen.
    frozen: u64,
}

impl Class {
    /// The virtual clock at `t` (>= `t_anchor`): bytes received by each flow.
    #[inline]
    fn v_at(&self, t: u64) -> f64 {
        self.v_anchor + self.rate * (t - self.t_anchor) as f64 / 1e6
    }

    /// The finish time of the flow with finish tag `tag`, at the current rate, computed
    /// from the anchor (so independent of when it is asked), and never before `clock`.
    #[inline]
    fn finish_of(&self, tag: f64, clock: u64) -> u64 {
        finish_time(self.t_anchor, tag - self.v_anchor, self.rate).max(clock)
    }

    /// Sets the rate from `t` on, re-anchoring only if it changed.
    #[inline]
    fn set_rate(&mut self, t: u64, rate: f64) {
        if rate.to_bits() != self.rate.to_bits() {
            self.v_anchor = self.v_at(t);
            self.t_anchor = t;
            self.rate = rate;
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Share(f64);

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

/// A set of links shared max-min fairly by flows; see the module documentation.
pub struct Network {
    clock: u64,
    links: Vec<Link>,
    active_links: Vec<u32>,
    /// Path `p` is `path_links[paths[p].0 .. paths[p].0 + paths[p].1]`.
    paths: Vec<(u32, u32)>,
    path_links: Vec<u32>,
    classes: Vec<Class>,
    /// Lookup only, never iterated, so its order cannot reach any output.
    class_of: HashMap<(u32, u64), u32>,
    free_classes: Vec<u32>,
    active_classes: Vec<u32>,
    /// Active classes with a finite cap, sorted by (cap, class id).
    capped: Vec<(u64, u32)>,
    flows: Vec<FlowSlot>,
    free_flows: Vec<u32>,
    n_active: usize,
    /// Completed flows not yet reported by `advance`: (finish time, flow).
    done: Vec<(u64, u32)>,
    /// Min over active classes of `next_finish`.
    next: u64,
    epoch: u64,
    link_heap: BinaryHeap<Reverse<(Share, u32)>>,
    scratch: Vec<u32>,
}

impl Default for Network {
    fn default() -> Self {
        Self::new()
    }
}

impl Network {
    /// An empty network at t = 0.
    pub fn new() -> Self {
        Network {
            clock: 0,
            links: Vec::new(),
            active_links: Vec::new(),
            paths: Vec::new(),
            path_links: Vec::new(),
            classes: Vec::new(),
            class_of: HashMap::new(),
            free_classes: Vec::new(),
            active_classes: Vec::new(),
            capped: Vec::new(),
            flows: Vec::new(),
            free_flows: Vec::new(),
            n_active: 0,
            done: Vec::new(),
            next: NEVER,
            epoch: 0,
            link_heap: BinaryHeap::new(),
            scratch: Vec::new(),
        }
    }

    /// The last instant the network was brought to (the latest `now` passed in).
    pub fn now(&self) -> SimTime {
        SimTime(self.clock)
    }

    /// Adds a link of `capacity` bytes per second (finite, > 0). Its statistics start at
    /// the current clock.
    pub fn add_link(&mut self, capacity: f64) -> LinkId {
        assert!(
            capacity.is_finite() && capacity > 0.0,
            "link capacity must be finite and > 0, got {capacity}"
        );
        let id = u32::try_from(self.links.len()).expect("more than 2^32 links");
        self.links.push(Link {
            capacity,
            classes: Vec::new(),
            n_flows: 0,
            throughput: 0.0,
            active_pos: NOT_LISTED,
            bytes: 0.0,
            bytes_t: self.clock,
            flow_us: 0,
            busy_us: 0,
            stat_t: self.clock,
            down_us: 0,
            down_since: 0,
            stalled_bytes: 0.0,
            rem: 0.0,
            unfrozen: 0,
            tp_acc: 0.0,
        });
        LinkId(id)
    }

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

    /// Starts a transfer of `bytes` at `now` on `path`, each flow limited to `cap` bytes/s
    /// (`f64::INFINITY` for no cap; otherwise finite and > 0). A zero-byte flow completes at
    /// `now` (collected by the next `advance`).
    ///
    /// Panics if `cap` is infinite and the path is empty: such a flow would have an
    /// unbounded rate, which the caller must avoid.
    pub fn start_flow(&mut self, now: SimTime, path: PathId, cap: f64, bytes: u64) -> FlowId {
        assert!(cap > 0.0, "flow cap must be > 0, got {cap}");
        let p = path.0 as usize;
        assert!(p < self.paths.len(), "start_flow: unknown path {path:?}");
        assert!(
            cap.is_finite() || self.paths[p].1 > 0,
            "start_flow: a flow on an empty path needs a finite cap"
        );
        self.progress(now.0);

        let key = (path.0, cap.to_bits());
        let c = match self.class_of.get(&key) {
            Some(&c) => c,
            None => {
                let c = self.new_class(path.0, cap);
                self.class_of.insert(key, c);
                c
            }
        };
        let f = match self.free_flows.pop() {
            Some(f) => f,
            None => {
                let f = u32::try_from(self.flows.len()).expect("more than 2^32 flows");
                assert!(f < FLOW_DONE, "too many flows");
                self.flows.push(FlowSlot {
                    class: FLOW_FREE,
                    pos: 0,
                });
                f
            }
        };
        let was_empty = self.classes[c as usize].heap.is_empty();
        let clock = self.clock;
        {
            let class = &mut self.classes[c as usize];
            if was_empty {
                class.v_anchor = 0.0;
                class.t_anchor = clock;
                class.rate = 0.0;
            } else if class.v_at(clock) > REBASE_AT {
                rebase(class, &mut self.flows, clock);
            }
            let tag = class.v_at(clock) + bytes as f64;
            class.sum_tags += tag;
            self.flows[f as usize] = FlowSlot { class: c, pos: 0 };
            class.heap.push(Entry { tag, flow: f });
            let last = class.heap.len() - 1;
            sift_up(&mut class.heap, &mut self.flows, last);
        }
        self.n_active += 1;
        let (s, n) = self.paths[p];
        for &l in &self.path_links[s as usize..(s + n) as usize] {
            let link = &mut self.links[l as usize];
            link.touch_counts(clock);
            link.n_flows += 1;
        }
        if was_empty {
            self.activate(c);
        }
        self.recompute();
        FlowId(f)
    }

    /// Removes an unfinished flow at `now` and returns the bytes it had not yet transferred,
    /// rounded up. A flow that completed by `now` but was not yet reported by `advance`
    /// returns 0 and will not be reported. Panics on an id that is not in use.
    pub fn cancel_flow(&mut self, now: SimTime, flow: FlowId) -> u64 {
        self.progress(now.0);
        let f = flow.0 as usize;
        let slot = *self
            .flows
            .get(f)
            .unwrap_or_else(|| panic!("cancel_flow: unknown flow {flow:?}"));
        match slot.class {
            FLOW_FREE => panic!("cancel_flow: flow {flow:?} is not in use"),
            FLOW_DONE => {
                let i = self
                    .done
                    .iter()
                    .position(|&(_, d)| d == flow.0)
                    .expect("done flow missing from the done buffer");
                self.done.remove(i);
                self.flows[f].class = FLOW_FREE;
                self.free_flows.push(flow.0);
                0
            }
            c => {
                let clock = self.clock;
                let class = &mut self.classes[c as usize];
                let e = heap_remove(&mut class.heap, &mut self.flows, slot.pos as usize);
                let rem = e.tag - class.v_at(clock);
                class.sum_tags -= e.tag;
                self.flows[f].class = FLOW_FREE;
                self.free_flows.push(flow.0);
                self.n_active -= 1;
                let (s, n) = self.paths[class.path as usize];
                for &l in &self.path_links[s as usize..(s + n) as usize] {
                    let link = &mut self.links[l as usize];
                    link.touch_counts(clock);
                    link.n_flows -= 1;
                }
                if self.classes[c as usize].heap.is_empty() {
                    self.deactivate(c);
                }
                self.recompute();
                (rem - 1e-3).ceil().max(0.0) as u64
            }
        }
    }

    /// Sets a link's capacity at `now` (finite, >= 0; 0 is an outage: flows crossing the
    /// link stall at rate 0 until it is raised again).
    pub fn set_capacity(&mut self, now: SimTime, link: LinkId, capacity: f64) {
        assert!(
            capacity.is_finite() && capacity >= 0.0,
            "link capacity must be finite and >= 0, got {capacity}"
        );
        self.progress(now.0);
        let clock = self.clock;
        let l = link.0 as usize;
        let old = self.links[l].capacity;
        if old > 0.0 && capacity == 0.0 {
            let mut stalled = 0.0;
            for &c in &self.links[l].classes {
                let class = &self.classes[c as usize];
                stalled += (class.sum_tags - class.heap.len() as f64 * class.v_at(clock)).max(0.0);
            }
            let link = &mut self.links[l];
            link.stalled_bytes += stalled;
            link.down_since = clock;
        } else if old == 0.0 && capacity > 0.0 {
            let link = &mut self.links[l];
            link.down_us += clock - link.down_since;
        }
        self.links[l].capacity = capacity;
        if self.links[l].active_pos != NOT_LISTED && old != capacity {
            self.recompute();
        }
    }

    /// The earliest time at which some flow finishes at the current rates (rounded up to
    /// the microsecond), or `None` if no flow can progress. Never earlier than
    /// [`Network::now`]; equal to it when completions are waiting to be collected.
    pub fn next_completion(&self) -> Option<SimTime> {
        if !self.done.is_empty() {
            Some(SimTime(self.clock))
        } else if self.next == NEVER {
            None
        } else {
            Some(SimTime(self.next))
        }
    }

    /// Advances to `now` (>= the last time seen) and returns the flows completed by `now`,
    /// ordered by finish time, ties by id. They are removed (their ids may be reused).
    pub fn advance(&mut self, now: SimTime) -> Vec<FlowId> {
        let mut out = Vec::new();
        self.advance_into(now, &mut out);
        out
    }

    /// [`Network::advance`] appending to a caller-provided buffer (not cleared).
    pub fn advance_into(&mut self, now: SimTime, out: &mut Vec<FlowId>) {
        self.progress(now.0);
        self.drain_done(|_, f| out.push(f));
    }

    /// [`Network::advance`] also giving each flow's finish time, appended to `out`.
    pub fn advance_timed_into(&mut self, now: SimTime, out: &mut Vec<(SimTime, FlowId)>) {
        self.progress(now.0);
        self.drain_done(|t, f| out.push((t, f)));
    }

    /// The current rate of a flow in bytes/s (0 for a finished or unknown flow).
    pub fn flow_rate(&self, flow: FlowId) -> f64 {
        match self.flows.get(flow.0 as usize) {
            Some(s) if s.class != FLOW_FREE && s.class != FLOW_DONE => {
                self.classes[s.class as usize].rate
            }
            _ => 0.0,
        }
    }

    /// The bytes a flow still has to transfer (0 for a finished or unknown flow).
    pub fn flow_remaining(&self, flow: FlowId) -> f64 {
        match self.flows.get(flow.0 as usize) {
            Some(s) if s.class != FLOW_FREE && s.class != FLOW_DONE => {
                let class = &self.classes[s.class as usize];
                (class.heap[s.pos as usize].tag - class.v_at(self.clock)).max(0.0)
            }
            _ => 0.0,
        }
    }

    /// The current sum of the rates of the flows crossing `link`.
    pub fn link_throughput(&self, link: LinkId) -> f64 {
        self.links[link.0 as usize].throughput
    }

    /// The current capacity of `link`.
    pub fn link_capacity(&self, link: LinkId) -> f64 {
        self.links[link.0 as usize].capacity
    }

    /// Statistics of `link` accumulated up to `now` (>= [`Network::now`]), assuming no
    /// change between the last call and `now`.
    pub fn link_stats(&self, link: LinkId, now: SimTime) -> LinkStats {
        assert!(now.0 >= self.clock, "link_stats: {now} is in the past");
        let l = &self.links[link.0 as usize];
        let bytes = l.bytes + l.throughput * (now.0 - l.bytes_t) as f64 / 1e6;
        let dt = now.0 - l.stat_t;
        let (mut flow_us, mut busy_us) = (l.flow_us, l.busy_us);
        if l.n_flows > 0 {
            flow_us += l.n_flows as u128 * dt as u128;
            busy_us += dt;
        }
        let mut down_us = l.down_us;
        if l.capacity == 0.0 {
            down_us += now.0 - l.down_since;
        }
        LinkStats {
            bytes,
            flow_seconds: flow_us as f64 / 1e6,
            busy_seconds: busy_us as f64 / 1e6,
            down_seconds: down_us as f64 / 1e6,
            stalled_bytes: l.stalled_bytes,
        }
    }

    /// The number of unfinished flows.
    pub fn active_flows(&self) -> usize {
        self.n_active
    }

    /// The number of unfinished flows crossing `link`.
    pub fn link_flows(&self, link: LinkId) -> usize {
        self.links[link.0 as usize].n_flows as usize
    }

    /// The number of active flow classes (distinct (path, cap) pairs with unfinished flows).
    pub fn active_classes(&self) -> usize {
        self.active_classes.len()
    }

    // ---- internals ----

    fn new_class(&mut self, path: u32, cap: f64) -> u32 {
        let plen = self.paths[path as usize].1 as usize;
        if let Some(c) = self.free_classes.pop() {
            let class = &mut self.classes[c as usize];
            class.path = path;
            class.cap = cap;
            class.link_pos.clear();
            class.link_pos.resize(plen, 0);
            c
        } else {
            let c = u32::try_from(self.classes.len()).expect("more than 2^32 classes");
            self.classes.push(Class {
                path,
                cap,
                heap: Vec::new(),
                v_anchor: 0.0,
                t_anchor: 0,
                sum_tags: 0.0,
                rate: 0.0,
                link_pos: vec![0; plen],
                active_pos: NOT_LISTED,
                next_finish: NEVER,
                frozen: 0,
            });
            c
        }
    }

    fn activate(&mut self, c: u32) {
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
    }

    fn deactivate(&mut self, c: u32) {
        let (path, cap) = {
            let class = &self.classes[c as usize];
            debug_assert!(class.heap.is_empty());
            (class.path, class.cap)
        };
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
        class.next_finish = NEVER;
        self.class_of.remove(&(path, cap.to_bits()));
        self.free_classes.push(c);
    }

    /// Brings the clock to `now`, completing (into `done`) every flow finishing by then,
    /// in time order, with a recompute after each batch.
    fn progress(&mut self, now: u64) {
        assert!(
            now >= self.clock,
            "network time moved backwards ({} < {})",
            SimTime(now),
            SimTime(self.clock)
        );
        while self.next <= now {
            let t = self.next;
            self.advance_clock(t);
            self.complete_due(t);
            self.recompute();
        }
        self.advance_clock(now);
    }

    /// Moves the clock. Virtual clocks and link statistics are anchored (see the module
    /// doc), so nothing else moves: O(1).
    #[inline]
    fn advance_clock(&mut self, t: u64) {
        if t > self.clock {
            self.clock = t;
        }
    }

    /// Completes the flows due at `t` (== clock): see "Integer time and rounding".
    fn complete_due(&mut self, t: u64) {
        debug_assert_eq!(t, self.clock);
        let mut due = std::mem::take(&mut self.scratch);
        due.clear();
        due.extend(
            self.active_classes
                .iter()
                .copied()
                .filter(|&c| self.classes[c as usize].next_finish <= t),
        );
        let batch = self.done.len();
        for &c in &due {
            let class = &mut self.classes[c as usize];
            let top = heap_remove(&mut class.heap, &mut self.flows, 0);
            let mut count = 1u64;
            let mut removed_tags = top.tag;
            self.flows[top.flow as usize].class = FLOW_DONE;
            self.done.push((t, top.flow));
            while let Some(&e) = class.heap.first() {
                if e.tag <= top.tag || class.finish_of(e.tag, t) <= t {
                    heap_remove(&mut class.heap, &mut self.flows, 0);
                    count += 1;
                    removed_tags += e.tag;
                    self.flows[e.flow as usize].class = FLOW_DONE;
                    self.done.push((t, e.flow));
                } else {
                    break;
                }
            }
            class.sum_tags -= removed_tags;
            if !class.heap.is_empty() && class.v_at(t) > REBASE_AT {
                rebase(class, &mut self.flows, t);
            }
            self.n_active -= count as usize;
            let (s, n) = self.paths[class.path as usize];
            for &l in &self.path_links[s as usize..(s + n) as usize] {
                let link = &mut self.links[l as usize];
                link.touch_counts(t);
                link.n_flows -= count;
            }
            if self.classes[c as usize].heap.is_empty() {
                self.deactivate(c);
            }
        }
        self.done[batch..].sort_unstable_by_key(|&(_, f)| f);
        self.scratch = due;
    }

    fn drain_done(&mut self, mut emit: impl FnMut(SimTime, FlowId)) {
        // Batches are appended in time order and sorted by id, but separate calls at the
        // same instant can append two batches with equal times: sort the whole buffer.
        self.done.sort_unstable();
        for &(t, f) in &self.done {
            self.flows[f as usize].class = FLOW_FREE;
            self.free_flows.push(f);
            emit(SimTime(t), FlowId(f));
        }
        self.done.clear();
    }

    /// Max-min fair rates of all active classes by progressive filling, then their next
    /// finish times.
    fn recompute(&mut self) {
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

/// Shifts a class's virtual clock back to 0 at `t` (see the module doc). Subtraction is
/// monotone but may create ties, so the heap is rebuilt to keep the (tag, id) order exact.
fn rebase(class: &mut Class, flows: &mut [FlowSlot], t: u64) {
    let v = class.v_at(t);
    let mut sum = 0.0;
    for e in class.heap.iter_mut() {
        e.tag -= v;
        sum += e.tag;
    }
    class.sum_tags = sum;
    class.v_anchor = 0.0;
    class.t_anchor = t;
    let n = class.heap.len();
    for (i, e) in class.heap.iter().enumerate() {
        flows[e.flow as usize].pos = i as u32;
    }
    for i in (0..n / 2).rev() {
        sift_down(&mut class.heap, flows, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const S: u64 = 1_000_000;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn hand_computed_max_min() {
        let mut net = Network::new();
        let l1 = net.add_link(10.0);
        let l2 = net.add_link(6.0);
        let pa = net.add_path(&[l1]);
        let pb = net.add_path(&[l1, l2]);
        let pc = net.add_path(&[l2]);
        let t = SimTime::ZERO;
        let big = 1 << 40;
        let a = net.start_flow(t, pa, f64::INFINITY, big);
        let b = net.start_flow(t, pb, f64::INFINITY, big);
        let c1 = net.start_flow(t, pc, f64::INFINITY, big);
        // B and C share L2 (3 each); A gets what B leaves of L1.
        assert_eq!(net.flow_rate(a), 7.0);
        assert_eq!(net.flow_rate(b), 3.0);
        assert_eq!(net.flow_rate(c1), 3.0);
        assert_eq!(net.link_throughput(l1), 10.0);
        assert_eq!(net.link_throughput(l2), 6.0);
        // A second flow on C: L2 shared by 3 (2 each), A = 10 − 2.
        let c2 = net.start_flow(t, pc, f64::INFINITY, big);
        assert_eq!(net.active_classes(), 3);
        assert!(close(net.flow_rate(a), 8.0));
        assert!(close(net.flow_rate(b), 2.0));
        assert!(close(net.flow_rate(c1), 2.0));
        assert!(close(net.flow_rate(c2), 2.0));
        assert_eq!(net.link_flows(l1), 2);
        assert_eq!(net.link_flows(l2), 3);
        // Two capped flows on C (cap 1 < share 2) free L2 for B: B = min(4, L1 share 5)
        // = 4, then A = 6.
        let c3 = net.start_flow(t, pc, 1.0, big);
        net.cancel_flow(t, c2);
        net.cancel_flow(t, c1);
        let c4 = net.start_flow(t, pc, 1.0, big);
        assert_eq!(net.flow_rate(c3), 1.0);
        assert_eq!(net.flow_rate(c4), 1.0);
        assert!(close(net.flow_rate(b), 4.0));
        assert!(close(net.flow_rate(a), 6.0));
        assert_eq!(net.active_flows(), 4);
        // A third flow on L1 with a cap that does not bind: L1 (share 10/3) becomes B's
        // bottleneck instead of L2 (share 4 after the capped flows).
        let a2 = net.start_flow(t, pa, 100.0, big);
        for f in [a, a2, b] {
            assert!(close(net.flow_rate(f), 10.0 / 3.0));
        }
        assert!(close(net.link_throughput(l2), 2.0 + 10.0 / 3.0));
        // The same cap, now binding: a2 gets 1, A and B split the rest of L1 (4.5 each),
        // which L2 allows (6 − 2 = 4 < 4.5: no, L2 binds B at 4), so A = 10 − 1 − 4 = 5.
        net.cancel_flow(t, a2);
        let a3 = net.start_flow(t, pa, 1.0, big);
        assert_eq!(net.flow_rate(a3), 1.0);
        assert!(close(net.flow_rate(b), 4.0));
        assert!(close(net.flow_rate(a), 5.0));
    }

    #[test]
    fn exact_completion_times() {
        let mut net = Network::new();
        let l = net.add_link(1e6);
        let p = net.add_path(&[l]);
        let f = net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
        assert_eq!(net.next_completion(), Some(SimTime(S)));
        assert!(net.advance(SimTime(S - 1)).is_empty());
        assert_eq!(net.advance(SimTime(S)), vec![f]);
        assert_eq!(net.next_completion(), None);

        // Processor sharing: 1 MB and 2 MB together on 1 MB/s end at 2 s and 3 s.
        let t0 = SimTime(10 * S);
        let a = net.start_flow(t0, p, f64::INFINITY, 1_000_000);
        let b = net.start_flow(t0, p, f64::INFINITY, 2_000_000);
        assert_eq!(net.flow_rate(a), 5e5);
        assert_eq!(net.next_completion(), Some(SimTime(12 * S)));
        assert_eq!(net.advance(SimTime(12 * S)), vec![a]);
        assert_eq!(net.flow_rate(b), 1e6);
        assert_eq!(net.next_completion(), Some(SimTime(13 * S)));
        assert_eq!(net.advance(SimTime(13 * S)), vec![b]);
        assert_eq!(net.active_flows(), 0);
    }

    #[test]
    fn advance_past_several_completions_orders_them() {
        let mut net = Network::new();
        let l = net.add_link(1e6);
        let p = net.add_path(&[l]);
        let q = net.add_path(&[]);
        let a = net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
        let b = net.start_flow(SimTime::ZERO, p, f64::INFINITY, 2_000_000);
        let c = net.start_flow(SimTime::ZERO, p, 5e5, 1_000_000);
        let d = net.start_flow(SimTime::ZERO, q, 1e3, 2_000);
        let mut out = Vec::new();
        net.advance_timed_into(SimTime(100 * S), &mut out);
        // d: 2 s alone. a, c: 1/3 MB/s each → both finish at 3 s (a has lower id); then
        // b has 2e6 − 1e6 left at 1 MB/s → 4 s.
        assert_eq!(
            out,
            vec![
                (SimTime(2 * S), d),
                (SimTime(3 * S), a),
                (SimTime(3 * S), c),
                (SimTime(4 * S), b)
            ]
        );
    }

    #[test]
    fn outage_shifts_finish_exactly() {
        let mut net = Network::new();
        let l = net.add_link(1e6);
        let p = net.add_path(&[l]);
        let f = net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
        net.set_capacity(SimTime(300_000), l, 0.0);
        assert_eq!(net.flow_rate(f), 0.0);
        assert_eq!(net.next_completion(), None);
        assert!(net.advance(SimTime(700_000)).is_empty());
        net.set_capacity(SimTime(800_000), l, 1e6);
        assert_eq!(net.next_completion(), Some(SimTime(1_500_000)));
        assert_eq!(net.advance(SimTime(1_500_000)), vec![f]);
        let st = net.link_stats(l, SimTime(2 * S));
        assert_eq!(st.down_seconds, 0.5);
        assert_eq!(st.busy_seconds, 1.5);
        assert!(close(st.stalled_bytes, 700_000.0));
        assert!(close(st.bytes, 1e6));
        // An outage still running is counted up to `now`.
        net.set_capacity(SimTime(3 * S), l, 0.0);
        assert_eq!(net.link_stats(l, SimTime(5 * S)).down_seconds, 2.5);
    }

    #[test]
    fn cancel_returns_remaining_and_frees_capacity() {
        let mut net = Network::new();
        let l = net.add_link(1e6);
        let p = net.add_path(&[l]);
        let a = net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
        let b = net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
        assert_eq!(net.cancel_flow(SimTime(500_000), a), 750_000);
        assert_eq!(net.flow_rate(b), 1e6);
        // b: 750 000 left at 1 MB/s.
        assert_eq!(net.next_completion(), Some(SimTime(1_250_000)));
        // A freshly started flow returns all its bytes; partial bytes round up.
        let c = net.start_flow(SimTime(1_000_000), p, f64::INFINITY, 10);
        assert_eq!(net.cancel_flow(SimTime(1_000_000), c), 10);
        let d = net.start_flow(SimTime(1_000_000), p, 2.0, 10);
        assert_eq!(net.cancel_flow(SimTime(1_000_001), d), 10); // 9.999998 left
        assert_eq!(net.advance(SimTime(2 * S)), vec![b]);
    }

    #[test]
    fn completions_found_by_other_calls_are_buffered() {
        let mut net = Network::new();
        let l = net.add_link(1e6);
        let p = net.add_path(&[l]);
        let a = net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
        // The caller handles an arrival after a's finish before its wake-up.
        let b = net.start_flow(SimTime(2 * S), p, f64::INFINITY, 0);
        assert_ne!(a, b, "a's id must not be reused before it is reported");
        assert_eq!(net.next_completion(), Some(SimTime(2 * S)));
        let mut out = Vec::new();
        net.advance_timed_into(SimTime(2 * S), &mut out);
        assert_eq!(out, vec![(SimTime(S), a), (SimTime(2 * S), b)]);
        // A flow completed but not yet reported can be cancelled: 0 bytes, not reported.
        let c = net.start_flow(SimTime(2 * S), p, f64::INFINITY, 5);
        assert_eq!(net.cancel_flow(SimTime(3 * S), c), 0);
        assert!(net.advance(SimTime(3 * S)).is_empty());
        assert_eq!(net.active_flows(), 0);
    }

    #[test]
    fn empty_path_is_limited_by_cap() {
        let mut net = Network::new();
        let p = net.add_path(&[]);
        let f = net.start_flow(SimTime::ZERO, p, 1000.0, 3000);
        assert_eq!(net.flow_rate(f), 1000.0);
        assert_eq!(net.next_completion(), Some(SimTime(3 * S)));
    }

    #[test]
    #[should_panic(expected = "empty path needs a finite cap")]
    fn empty_path_without_cap_panics() {
        let mut net = Network::new();
        let p = net.add_path(&[]);
        net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1);
    }

    #[test]
    fn long_running_class_rebases_without_drift() {
        // One class kept busy for hours at 10 GB/s: its virtual clock passes 2^40 several
        // times; finish times stay exact.
        let mut net = Network::new();
        let l = net.add_link(1e10);
        let p = net.add_path(&[l]);
        let mut t = 0;
        let mut f = net.start_flow(SimTime(t), p, f64::INFINITY, 5_000_000_000_000);
        let g = net.start_flow(SimTime(t), p, f64::INFINITY, 50_000_000_000_000);
        for _ in 0..5 {
            // f and g share: 5e12 bytes at 5e9 B/s = 1000 s.
            assert_eq!(net.next_completion(), Some(SimTime(t + 1000 * S)));
            t += 1000 * S;
            assert_eq!(net.advance(SimTime(t)), vec![f]);
            f = net.start_flow(SimTime(t), p, f64::INFINITY, 5_000_000_000_000);
        }
        // g received 2.5e13 bytes; 2.5e13 − 5e12·… left: 5e13 − 2.5e13 = 2.5e13 at 5e9 B/s,
        // but f (5e12) finishes first after 1000 s, then g alone at 1e10 B/s.
        t += 1000 * S;
        assert_eq!(net.advance(SimTime(t)), vec![f]);
        assert_eq!(net.next_completion(), Some(SimTime(t + 2000 * S)));
        assert_eq!(net.advance(SimTime(t + 2000 * S)), vec![g]);
    }

    #[test]
    fn link_stats_match_flows() {
        let mut net = Network::new();
        let l = net.add_link(1e6);
        let other = net.add_link(5e5);
        let p = net.add_path(&[l]);
        let q = net.add_path(&[l, other]);
        let mut rng = Lcg(7);
        let mut t = 0u64;
        let mut started: BTreeMap<u32, (u64, u64, bool)> = BTreeMap::new(); // id → (start, bytes, only l)
        let mut sum_bytes = 0u64;
        let mut sum_dur_only_l = 0u64;
        let mut sum_dur_all = 0u64;
        let mut out = Vec::new();
        for _ in 0..200 {
            t += rng.below(300_000);
            out.clear();
            net.advance_timed_into(SimTime(t), &mut out);
            for &(end, f) in &out {
                let (s, b, only) = started.remove(&f.0).unwrap();
                sum_bytes += b;
                sum_dur_all += end.0 - s;
                if only {
                    sum_dur_only_l += end.0 - s;
                }
            }
            let only = rng.below(2) == 0;
            let bytes = 1 + rng.below(400_000);
            let f = net.start_flow(SimTime(t), if only { p } else { q }, f64::INFINITY, bytes);
            started.insert(f.0, (t, bytes, only));
        }
        let end = net
            .next_completion()
            .map(|_| SimTime(u64::MAX / 2))
            .unwrap();
        out.clear();
        net.advance_timed_into(end, &mut out);
        for &(e, f) in &out {
            let (s, b, only) = started.remove(&f.0).unwrap();
            sum_bytes += b;
            sum_dur_all += e.0 - s;
            if only {
                sum_dur_only_l += e.0 - s;
            }
        }
        assert!(started.is_empty());
        let st = net.link_stats(l, end);
        assert!((st.bytes - sum_bytes as f64).abs() < 1e-6 * sum_bytes as f64);
        assert_eq!(st.flow_seconds, sum_dur_all as f64 / 1e6);
        let st2 = net.link_stats(other, end);
        assert_eq!(
            st2.flow_seconds,
            (sum_dur_all - sum_dur_only_l) as f64 / 1e6
        );
        assert!(st.busy_seconds <= end.as_secs_f64());
    }

    #[test]
    fn flow_seconds_single_link() {
        let mut net = Network::new();
        let l = net.add_link(1e6);
        let p = net.add_path(&[l]);
        net.start_flow(SimTime::ZERO, p, f64::INFINITY, 1_000_000);
        net.start_flow(SimTime::ZERO, p, f64::INFINITY, 2_000_000);
        net.advance(SimTime(10 * S));
        let st = net.link_stats(l, SimTime(10 * S));
        assert_eq!(st.flow_seconds, 5.0); // 2 s + 3 s
        assert_eq!(st.busy_seconds, 3.0);
        assert!(close(st.bytes, 3e6));
    }

    // ---- randomized comparison against a naive per-flow implementation ----

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            crate::engine::rng::mix64(self.0)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    struct RefFlow {
        path: usize,
        cap: f64,
        rem: f64,
        rate: f64,
    }

    /// Tracks every flow's remaining bytes; water-fills over individual flows from scratch.
    struct RefNet {
        clock: u64,
        caps: Vec<f64>,
        paths: Vec<Vec<usize>>,
        flows: BTreeMap<u32, RefFlow>,
        next_id: u32,
    }

    impl RefNet {
        fn rates(&mut self) {
            let mut rem = self.caps.clone();
            let mut unfrozen: BTreeMap<u32, ()> = self.flows.keys().map(|&k| (k, ())).collect();
            while !unfrozen.is_empty() {
                let mut cnt = vec![0u64; self.caps.len()];
                for k in unfrozen.keys() {
                    for &l in &self.paths[self.flows[k].path] {
                        cnt[l] += 1;
                    }
                }
                let mut best: Option<(f64, usize)> = None;
                for l in 0..rem.len() {
                    if cnt[l] > 0 {
                        let s = rem[l].max(0.0) / cnt[l] as f64;
                        if best.map_or(true, |(b, _)| s < b) {
                            best = Some((s, l));
                        }
                    }
                }
                let min_cap = unfrozen
                    .keys()
                    .map(|k| self.flows[k].cap)
                    .fold(f64::INFINITY, f64::min);
                let freeze: Vec<(u32, f64)> = match best {
                    Some((s, l)) if s < min_cap => unfrozen
                        .keys()
                        .filter(|k| self.paths[self.flows[k].path].contains(&l))
                        .map(|&k| (k, s))
                        .collect(),
                    _ => unfrozen
                        .keys()
                        .filter(|k| self.flows[k].cap == min_cap)
                        .map(|&k| (k, min_cap))
                        .collect(),
                };
                for (k, r) in freeze {
                    unfrozen.remove(&k);
                    let f = self.flows.get_mut(&k).unwrap();
                    f.rate = r;
                    for &l in &self.paths[f.path] {
                        rem[l] -= r;
                    }
                }
            }
        }

        fn next(&self) -> u64 {
            self.flows
                .values()
                .map(|f| finish_time(self.clock, f.rem, f.rate))
                .min()
                .unwrap_or(NEVER)
        }

        fn move_to(&mut self, t: u64) {
            let dt = (t - self.clock) as f64;
            for f in self.flows.values_mut() {
                f.rem -= f.rate * dt / 1e6;
            }
            self.clock = t;
        }

        fn advance(&mut self, t: u64, out: &mut Vec<(u64, u32)>) {
            loop {
                let n = self.next();
                if n > t {
                    break;
                }
                let due: Vec<u32> = self
                    .flows
                    .iter()
                    .filter(|(_, f)| finish_time(self.clock, f.rem, f.rate) <= n)
                    .map(|(&k, _)| k)
                    .collect();
                self.move_to(n);
                for k in due {
                    self.flows.remove(&k);
                    out.push((n, k));
                }
                self.rates();
            }
            self.move_to(t);
        }

        fn start(
            &mut self,
            t: u64,
            path: usize,
            cap: f64,
            bytes: u64,
            out: &mut Vec<(u64, u32)>,
        ) -> u32 {
            self.advance(t, out);
            let id = self.next_id;
            self.next_id += 1;
            self.flows.insert(
                id,
                RefFlow {
                    path,
                    cap,
                    rem: bytes as f64,
                    rate: 0.0,
                },
            );
            self.rates();
            id
        }

        fn cancel(&mut self, t: u64, id: u32, out: &mut Vec<(u64, u32)>) -> u64 {
            self.advance(t, out);
            let f = self.flows.remove(&id).unwrap();
            self.rates();
            (f.rem - 1e-3).ceil().max(0.0) as u64
        }

        fn set_cap(&mut self, t: u64, l: usize, c: f64, out: &mut Vec<(u64, u32)>) {
            self.advance(t, out);
            self.caps[l] = c;
            self.rates();
        }
    }

    fn compare_with_reference(seed: u64, ops: usize, max_bytes: u64) {
        let mut rng = Lcg(seed);
        let mut net = Network::new();
        let caps0 = [8e6, 1.2e7, 2e7];
        let links: Vec<LinkId> = caps0.iter().map(|&c| net.add_link(c)).collect();
        let path_defs: Vec<Vec<usize>> =
            vec![vec![0], vec![1], vec![0, 1], vec![1, 2], vec![2, 0], vec![]];
        let paths: Vec<PathId> = path_defs
            .iter()
            .map(|d| net.add_path(&d.iter().map(|&i| links[i]).collect::<Vec<_>>()))
            .collect();
        let mut rf = RefNet {
            clock: 0,
            caps: caps0.to_vec(),
            paths: path_defs.clone(),
            flows: BTreeMap::new(),
            next_id: 0,
        };
        let cap_choices = [f64::INFINITY, f64::INFINITY, 1e6, 3e6, 7.5e6];

        // Arrival index ↔ ids in both implementations.
        let mut net_idx: BTreeMap<u32, usize> = BTreeMap::new();
        let mut ref_idx: BTreeMap<u32, usize> = BTreeMap::new();
        let mut ids: Vec<(FlowId, u32)> = Vec::new();
        let mut net_done: BTreeMap<usize, u64> = BTreeMap::new();
        let mut ref_done: BTreeMap<usize, u64> = BTreeMap::new();
        let mut cancelled = 0;
        let mut max_conc = 0;
        let mut t = 0u64;
        let mut last_bytes = 1000;
        let mut nout = Vec::new();
        let mut rout = Vec::new();

        let mut collect = |nout: &mut Vec<(SimTime, FlowId)>,
                           rout: &mut Vec<(u64, u32)>,
                           net_idx: &mut BTreeMap<u32, usize>,
                           ref_idx: &mut BTreeMap<u32, usize>| {
            for &(tt, f) in nout.iter() {
                let i = net_idx.remove(&f.0).expect("net reported an unknown flow");
                assert!(net_done.insert(i, tt.0).is_none());
            }
            for &(tt, k) in rout.iter() {
                let i = ref_idx.remove(&k).unwrap();
                assert!(ref_done.insert(i, tt).is_none());
            }
            nout.clear();
            rout.clear();
        };

        for step in 0..ops {
            t += match rng.below(10) {
                0 => 0,
                1..=6 => rng.below(200_000),
                _ => rng.below(2_000_000),
            };
            // Reach t: sometimes wake-up by wake-up, sometimes in one jump.
            if rng.below(2) == 0 {
                while let Some(n) = net.next_completion() {
                    if n.0 > t {
                        break;
                    }
                    net.advance_timed_into(n, &mut nout);
                }
            }
            net.advance_timed_into(SimTime(t), &mut nout);
            rf.advance(t, &mut rout);
            collect(&mut nout, &mut rout, &mut net_idx, &mut ref_idx);

            match rng.below(10) {
                0..=5 => {
                    let p = rng.below(paths.len() as u64) as usize;
                    let mut cap = cap_choices[rng.below(cap_choices.len() as u64) as usize];
                    if path_defs[p].is_empty() && cap.is_infinite() {
                        cap = 2e6;
                    }
                    // Zero-byte flows, and repeated sizes (ties inside a class when started
                    // at the same instant) on purpose.
                    let bytes = match rng.below(20) {
                        0 => 0,
                        1..=3 => last_bytes,
                        _ => 1 + rng.below(max_bytes),
                    };
                    last_bytes = bytes;
                    let i = ids.len();
                    let f = net.start_flow(SimTime(t), paths[p], cap, bytes);
                    let k = rf.start(t, p, cap, bytes, &mut rout);
                    ids.push((f, k));
                    net_idx.insert(f.0, i);
                    ref_idx.insert(k, i);
                }
                6..=7 => {
                    // Cancel a flow active in both.
                    let both: Vec<usize> = net_idx
                        .values()
                        .copied()
                        .filter(|i| ref_idx.contains_key(&ids[*i].1))
                        .collect();
                    if !both.is_empty() {
                        let i = both[rng.below(both.len() as u64) as usize];
                        let (f, k) = ids[i];
                        let a = net.cancel_flow(SimTime(t), f);
                        let b = rf.cancel(t, k, &mut rout);
                        assert!(a.abs_diff(b) <= 1, "step {step}: cancel {a} vs {b}");
                        net_idx.remove(&f.0);
                        ref_idx.remove(&k);
                        cancelled += 1;
                    }
                }
                _ => {
                    let l = rng.below(links.len() as u64) as usize;
                    let c = match rng.below(4) {
                        0 => 0.0,
                        _ => caps0[l] * (0.25 + rng.below(8) as f64 * 0.25),
                    };
                    net.set_capacity(SimTime(t), links[l], c);
                    rf.set_cap(t, l, c, &mut rout);
                }
            }
            nout.clear(); // nothing is reported by mutations themselves
            collect(&mut nout, &mut rout, &mut net_idx, &mut ref_idx);

            // Same rates, flow by flow, and same link throughputs.
            for (&f, &i) in &net_idx {
                let k = ids[i].1;
                if let Some(r) = rf.flows.get(&k) {
                    let a = net.flow_rate(FlowId(f));
                    assert!(
                        (a - r.rate).abs() <= 1e-6 * r.rate.max(1.0),
                        "step {step}: rate {a} vs {}",
                        r.rate
                    );
                }
            }
            assert_eq!(net.active_flows(), net_idx.len());
            max_conc = max_conc.max(net_idx.len());
        }
        // Drain: restore all links.
        for (l, &c) in caps0.iter().enumerate() {
            net.set_capacity(SimTime(t), links[l], c);
            rf.set_cap(t, l, c, &mut rout);
        }
        let end = u64::MAX / 4;
        net.advance_timed_into(SimTime(end), &mut nout);
        rf.advance(end, &mut rout);
        collect(&mut nout, &mut rout, &mut net_idx, &mut ref_idx);
        assert!(net_idx.is_empty() && ref_idx.is_empty());
        assert_eq!(net.active_flows(), 0);
        assert_eq!(net.next_completion(), None);

        let nk: Vec<_> = net_done.keys().collect();
        let rk: Vec<_> = ref_done.keys().collect();
        assert_eq!(nk, rk, "different sets of completed flows");
        let mut max_diff = 0;
        for (i, &tn) in &net_done {
            let d = tn.abs_diff(ref_done[i]);
            max_diff = max_diff.max(d);
            assert!(d <= 1, "flow #{i}: net {tn} vs ref {}", ref_done[i]);
        }
        eprintln!(
            "seed {seed}: {} completed, {cancelled} cancelled, max diff {max_diff} us, \
             max concurrent {max_conc}",
            net_done.len()
        );
        assert!(
            net_done.len() > ops / 3,
            "too few completions to be meaningful"
        );
        assert!(cancelled > ops / 20);
    }

    #[test]
    fn matches_naive_reference() {
        for seed in 1..=3 {
            compare_with_reference(seed, 3000, 5_000_000);
        }
        // Long flows: tens of concurrent flows, several per class.
        for seed in 4..=5 {
            compare_with_reference(seed, 3000, 25_000_000);
        }
    }

    /// Completion times (and link bytes) depend only on the flows and capacities of the
    /// links involved: extra `advance` calls in between, and a busy unrelated link with its
    /// own flows (which makes the network move its clock at many more instants), change
    /// nothing, bit for bit.
    #[test]
    fn extra_advances_and_unrelated_flows_change_nothing() {
        let run = |noise: bool| {
            let mut net = Network::new();
            let l = net.add_link(1.234_567e8);
            let l2 = net.add_link(7.7e7);
            let other = net.add_link(3.3e7);
            let paths = [
                net.add_path(&[l]),
                net.add_path(&[l, l2]),
                net.add_path(&[l2]),
            ];
            let po = net.add_path(&[other]);
            let mut rng = Lcg(2024);
            let mut noise_rng = Lcg(77);
            // Flow id → index of the studied flow (None: an unrelated one).
            let mut index: BTreeMap<u32, Option<usize>> = BTreeMap::new();
            let mut finished: BTreeMap<usize, u64> = BTreeMap::new();
            let mut out = Vec::new();
            let mut collect =
                |out: &mut Vec<(SimTime, FlowId)>, index: &mut BTreeMap<u32, Option<usize>>| {
                    for (t, f) in out.drain(..) {
                        if let Some(i) = index.remove(&f.0).expect("known flow") {
                            finished.insert(i, t.0);
                        }
                    }
                };
            let mut t = 0u64;
            for i in 0..3000 {
                t += rng.below(50_000);
                if noise {
                    let mut u = net.now().0;
                    for _ in 0..noise_rng.below(4) {
                        u += noise_rng.below(t - u + 1);
                        net.advance_timed_into(SimTime(u), &mut out);
                        collect(&mut out, &mut index);
                        if noise_rng.below(2) == 0 {
                            let f =
                                net.start_flow(SimTime(u), po, 1e6, 1 + noise_rng.below(3_000_000));
                            index.insert(f.0, None);
                        }
                    }
                }
                net.advance_timed_into(SimTime(t), &mut out);
                collect(&mut out, &mut index);
                let p = paths[rng.below(3) as usize];
                let cap = [f64::INFINITY, 2.5e6, 1.1e7][rng.below(3) as usize];
                let f = net.start_flow(SimTime(t), p, cap, 1 + rng.below(20_000_000));
                index.insert(f.0, Some(i));
                if i % 500 == 250 {
                    net.set_capacity(SimTime(t), l2, 0.0);
                }
                if i % 500 == 300 {
                    net.set_capacity(SimTime(t), l2, 7.7e7);
                }
            }
            let end = SimTime(u64::MAX / 4);
            net.advance_timed_into(end, &mut out);
            collect(&mut out, &mut index);
            assert!(index.is_empty());
            let stats = [l, l2].map(|x| net.link_stats(x, end));
            (finished, stats)
        };
        let (a, sa) = run(false);
        let (b, sb) = run(true);
        assert_eq!(a.len(), 3000);
        assert_eq!(a, b, "a completion time moved");
        for (x, y) in sa.iter().zip(&sb) {
            assert_eq!(x.bytes.to_bits(), y.bytes.to_bits());
            assert_eq!(x.flow_seconds.to_bits(), y.flow_seconds.to_bits());
            assert_eq!(x.busy_seconds.to_bits(), y.busy_seconds.to_bits());
            assert_eq!(x.stalled_bytes.to_bits(), y.stalled_bytes.to_bits());
        }
    }

    #[test]
    fn deterministic() {
        let run = || {
            let mut net = Network::new();
            let mut rng = Lcg(99);
            let ls: Vec<_> = (0..4).map(|i| net.add_link(1e6 * (i + 1) as f64)).collect();
            let ps: Vec<_> = (0..6)
                .map(|i| net.add_path(&[ls[i % 4], ls[(i + 1) % 4]]))
                .collect();
            let mut log = Vec::new();
            let mut t = 0;
            for _ in 0..2000 {
                t += rng.below(100_000);
                net.advance_timed_into(SimTime(t), &mut log);
                let p = ps[rng.below(6) as usize];
                net.start_flow(SimTime(t), p, f64::INFINITY, rng.below(1_000_000));
            }
            net.advance_timed_into(SimTime(u64::MAX / 4), &mut log);
            (log, net.link_stats(ls[0], SimTime(u64::MAX / 4)))
        };
        let (a, sa) = run();
        let (b, sb) = run();
        assert_eq!(a, b);
        assert_eq!(sa.bytes.to_bits(), sb.bytes.to_bits());
    }
}

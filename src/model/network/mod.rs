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
//! changes. The tags live in a finish heap per class (`heap::FinishHeap`: a radix heap,
//! since a class's tags only grow); a class's next finisher is its top.
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
//! An arrival or departure costs O(log flows) in its class heap (amortised: the unordered
//! tier of a large class is passed over once per few thousand pops) plus one recompute,
//! O(Σ_active classes (path length × log links)) — independent of the number of flows. No
//! allocation happens in the steady state (all scratch buffers are kept and reused).
//! Memory per flow: a 16-byte heap entry.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use crate::engine::time::SimTime;

mod classes;
mod clock;
mod fill;
mod flows;
mod heap;
mod links;
#[cfg(test)]
mod tests;
mod wake;

use classes::Class;
use fill::Share;
use links::Link;

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

/// `x as f64` for the network's flow counts and microsecond spans (far below 2^63; not
/// for a flow's bytes, which may be any `u64`), by way of `i64`: the same value (both
/// conversions round to nearest), in one instruction where the unsigned one takes a
/// branch and several.
#[inline]
fn f64_of(x: u64) -> f64 {
    debug_assert!(x < 1 << 63, "{x} is not below 2^63");
    x as i64 as f64
}

/// A class's virtual clock is rebased past this many bytes; see the module doc.
const REBASE_AT: f64 = (1u64 << 40) as f64;
/// Sentinel for "no finish time".
const NEVER: u64 = u64::MAX;
const NOT_LISTED: u32 = u32::MAX;

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
    class_of: HashMap<(u32, u64), u32, BuildHasherDefault<KeyHasher>>,
    free_classes: Vec<u32>,
    active_classes: Vec<u32>,
    /// Active classes with a finite cap, sorted by (cap, class id).
    capped: Vec<(u64, u32)>,
    /// Active classes as a min-heap on `(next finish, class id)`: the one place a class's
    /// next finish time is kept (see `wake`).
    wake: Vec<wake::WakeEntry>,
    /// Flow ids handed out so far: each id below is unfinished (in its class's heap),
    /// finished and not yet reported (in `done`), or free (in `free_flows`). No table by
    /// flow id: a completion would write a line of it that is rarely in cache at fleet
    /// scale, and only `cancel_flow` and the single-flow queries, which the simulation
    /// does not make per event, need a flow's class (they scan the active classes).
    flow_ids: u32,
    free_flows: Vec<u32>,
    n_active: usize,
    /// Completed flows not yet reported by `advance`: (finish time, flow, owner).
    done: Vec<(u64, u32, u32)>,
    /// Min over active classes of their next finish time (the top of `wake`).
    next: u64,
    epoch: u64,
    link_heap: BinaryHeap<Reverse<(Share, u32)>>,
    scratch: Vec<u32>,
    /// Classes and links changed since the last recompute (see `fill`).
    dirty_classes: Vec<u32>,
    dirty_links: Vec<u32>,
    /// The recompute's scratch: the component's links, classes, and capped classes sorted
    /// by (cap, class id).
    comp_links: Vec<u32>,
    comp_classes: Vec<u32>,
    comp_capped: Vec<(u64, u32)>,
    /// Whether the last filling froze every class of its component(s) at its cap (no
    /// link was a bottleneck); see `flows::start_owned_flows`.
    at_caps: bool,
    /// Counts the changes of the set of active classes, which alone decides the
    /// components: a component found at one count is still the same at that count.
    shape: u64,
    /// Active links on which the flows' caps may not all be met (`Link::binds`): while
    /// there are none, every class runs at its cap (see `fill::refill_at_caps`).
    binding: u64,
    /// Whether `binding` was 0 after the last recompute (every class then at its cap).
    all_at_caps: bool,
    /// Tests only: fill every component the general way, without the shortcuts (see
    /// `fill`).
    #[cfg(test)]
    heap_only: bool,
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
            class_of: HashMap::default(),
            free_classes: Vec::new(),
            active_classes: Vec::new(),
            capped: Vec::new(),
            wake: Vec::new(),
            flow_ids: 0,
            free_flows: Vec::new(),
            n_active: 0,
            done: Vec::new(),
            next: NEVER,
            epoch: 0,
            link_heap: BinaryHeap::new(),
            scratch: Vec::new(),
            dirty_classes: Vec::new(),
            dirty_links: Vec::new(),
            comp_links: Vec::new(),
            comp_classes: Vec::new(),
            comp_capped: Vec::new(),
            at_caps: false,
            shape: 1,
            binding: 0,
            all_at_caps: true,
            #[cfg(test)]
            heap_only: false,
        }
    }

    /// The last instant the network was brought to (the latest `now` passed in).
    pub fn now(&self) -> SimTime {
        SimTime(self.clock)
    }
}

/// The hasher of `class_of`: a lookup on every flow start, where the default SipHash (built
/// against untrusted keys, which a path id and a cap are not) showed in the profiles.
/// Words are folded with a multiply and finished with `mix64`, so that every key bit
/// reaches the low bits (the bucket) and the high ones (the tag).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    #[inline]
    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }
    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    #[inline]
    fn finish(&self) -> u64 {
        crate::engine::rng::mix64(self.0)
    }
}

//! The recovery points each VM's vault holds, as variable-length records in one arena.
//!
//! At fleet scale the held points are much of a run's memory (tens per VM under a month
//! of daily retention), so they are stored exactly in as few bytes as they need: a record
//! is a length byte, then the time since the VM's previous point in µs with the retention
//! tier in its low three bits, then the point's bytes, both little-endian (a nightly
//! point is 10 bytes instead of a 16-byte [`Point`] in a ring rounded up to a power of
//! two).
//! Removing a point re-encodes the records after it in place (the next one's time delta
//! grows by the removed one's); nothing is ever rounded. Points are added in time order
//! (a VM runs one job at a time).

use crate::engine::time::MICROS_PER_DAY;
use crate::engine::{prefetch_at, SimDuration, SimTime};

/// One recovery point held in the vault: its time in µs with its retention tier in the
/// top three bits, and its bytes. The expiry is not stored: it is the point's time plus
/// its tier's days of the VM's policy (the policy never changes during a run), so the same
/// value as if it were.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Point {
    stamp: u64,
    /// The bytes it holds: the oldest held point holds the full base, each later one
    /// its incremental.
    pub bytes: u64,
}

/// The low 61 bits of `Point::stamp`: the time (73 000 years of µs).
pub(super) const TIME_BITS: u64 = (1 << 61) - 1;

/// Retention tiers: daily, weekly, monthly, yearly, and on-demand points' own.
pub(super) const TIERS: usize = 5;

/// The tier of an on-demand point kept by `retention.on_demand`.
pub(super) const ON_DEMAND_TIER: usize = 4;

impl Point {
    /// A point made at `time` whose retention is tier `tier` of `retention::tier_days`.
    pub fn new(time: SimTime, tier: usize, bytes: u64) -> Point {
        assert!(
            time.as_micros() <= TIME_BITS && tier < TIERS,
            "point out of range"
        );
        Point {
            stamp: time.as_micros() | (tier as u64) << 61,
            bytes,
        }
    }

    /// Its retention tier: 0 daily, 1 weekly, 2 monthly, 3 yearly, 4 on-demand.
    pub fn tier(&self) -> usize {
        (self.stamp >> 61) as usize
    }

    /// Its snapshot time.
    pub fn time(&self) -> SimTime {
        SimTime(self.stamp & TIME_BITS)
    }

    /// When retention lets it go (unless it is then the VM's newest point), given its
    /// policy's tier days: its tier's days × 24 h after its time.
    pub fn expires(&self, days: &[u64; TIERS]) -> SimTime {
        days[self.tier()]
            .checked_mul(MICROS_PER_DAY)
            .and_then(|d| self.time().checked_add(SimDuration(d)))
            .unwrap_or(SimTime::NEVER)
    }
}

/// The arena is compacted when more than one part in this many is garbage: at fleet scale
/// the arena is most of the run's peak (its pages, once touched, stay with the process),
/// while a compaction is one pass over it with the VMs' places loaded ahead.
const GARBAGE_SHARE: usize = 32;

/// Below this many bytes of garbage the arena is not compacted, whatever its share. A
/// compaction is a pass over every VM's region: at a 32nd, a 100k-VM arena (tens of MB)
/// was compacted every megabyte of garbage, 5 % of the run's time; 4 MiB more at most is
/// little next to such a run's memory, and at 1M VMs a 32nd of the arena is more anyway.
const GARBAGE_FLOOR: usize = 4 << 20;

/// The arena's room reserved up front: per VM, within bounds. Reserved, not touched (a
/// page is touched when the arena first grows into it), so that a small run's arena never
/// moves: a block of at least 256 KiB gets its own mapping (see `app::tune_allocator`),
/// which grows in place, where a smaller one would be copied at every doubling, each copy
/// touching new pages. Large runs grow past the reserve as before.
const ARENA_RESERVE_PER_VM: usize = 64;
/// See [`ARENA_RESERVE_PER_VM`].
const ARENA_RESERVE_MIN: usize = 256 << 10;
/// See [`ARENA_RESERVE_PER_VM`].
const ARENA_RESERVE_MAX: usize = 4 << 20;

/// How many regions ahead compaction loads the VM's place.
const COMPACT_AHEAD: usize = 8;

/// A VM's region is grown to the room its points may take by the end of the run (see
/// [`PointStore::push`]) once it holds this many: sooner, the regions of a whole fleet
/// would take their month's room in its first night, when a large run's working set
/// peaks (a seeding night's flows and jobs), and at a mean record size of fewer records.
const ROOM_FROM: usize = 4;

/// The longest record: the length byte and two full 8-byte fields.
const MAX_RECORD: usize = 17;

/// Before each VM's region in the arena: the VM's index (4 bytes) and the region's size
/// (2 bytes), so that compaction can walk the arena.
const REGION_HEADER: usize = 6;

/// A VM's place in the [`PointStore`] and the time its expiry event is armed for: 40 bytes
/// (and a 6-byte header before its region in the arena).
#[derive(Debug)]
pub(super) struct Held {
    /// Its records are `used` bytes of the arena from `at`, in a region of `cap` bytes (none
    /// before its first point).
    at: usize,
    cap: u16,
    used: u16,
    len: u16,
    /// The newest point's stamp (time and tier): the base of the next record's delta and
    /// the point whose expiry becomes due when a newer one arrives.
    newest: u64,
    /// The earliest expiry of the points other than the newest (never if none), exact, or
    /// `SimTime(0)` when a removal left it unknown: while it is in the future nothing can
    /// expire, so most calls of [`PointStore::expire`] read no record.
    min_expiry: SimTime,
    /// The time the VM's expiry event is armed for.
    pub next_expiry: SimTime,
}

impl Default for Held {
    fn default() -> Held {
        Held {
            at: 0,
            cap: 0,
            used: 0,
            len: 0,
            newest: 0,
            min_expiry: SimTime::NEVER,
            next_expiry: SimTime::NEVER,
        }
    }
}

/// Every VM's held points, oldest first: one arena of records in which each VM has a
/// region, and each VM's [`Held`]. A VM whose region is full moves to the end of the arena
/// with room for a few more records, or, past [`ROOM_FROM`] records, for the points it may
/// hold by the end of the run (so that most VMs move a few times a run, not at every few
/// points); when the regions left behind add up to a 32nd of the
/// arena ([`GARBAGE_SHARE`]) and more than 4 MiB ([`GARBAGE_FLOOR`]), the regions slide
/// down over them in arena order. So the arena stays within about 32/31 of the regions
/// (plus 4 MiB), and a point costs no allocation (a
/// buffer per VM would leave the allocator every size it once had, unused: all VMs grow
/// on the same nights).
#[derive(Debug)]
pub(super) struct PointStore {
    arena: Vec<u8>,
    vms: Vec<Held>,
    /// Bytes of the arena in no VM's region.
    garbage: usize,
    /// Garbage below this is never compacted ([`GARBAGE_FLOOR`]; tests lower it).
    floor: usize,
}

/// How many bytes `v` needs (0 for 0).
fn width(v: u64) -> usize {
    (64 - v.leading_zeros() as usize).div_ceil(8)
}

/// Writes the record of a point `delta` µs after the previous one into `out`; returns
/// its length.
fn encode(out: &mut [u8; MAX_RECORD], delta: u64, tier: usize, bytes: u64) -> usize {
    debug_assert!(delta <= TIME_BITS);
    let t = delta << 3 | tier as u64;
    let (tw, bw) = (width(t), width(bytes));
    out[0] = (tw | bw << 4) as u8;
    out[1..9].copy_from_slice(&t.to_le_bytes());
    out[1 + tw..1 + tw + 8].copy_from_slice(&bytes.to_le_bytes());
    1 + tw + bw
}

// `put_record`'s three moves (bytes 0..8, 8..16 when longer than 16, the last 8) cover
// every record up to 24 bytes.
const _: () = assert!(MAX_RECORD <= 24, "put_record's moves cover a record");

/// Copies a record of `dst.len()` bytes from the front of `rec` into `dst`. A record of
/// 8 bytes or more (most: a time and a size of 4 to 5 bytes each) is copied by moves of
/// 8 bytes, overlapping at its end, instead of a call to copy a length known only here.
#[inline]
fn put_record(dst: &mut [u8], rec: &[u8; MAX_RECORD]) {
    let n = dst.len();
    if n < 8 {
        dst.copy_from_slice(&rec[..n]);
        return;
    }
    dst[..8].copy_from_slice(&rec[..8]);
    if n > 16 {
        dst[8..16].copy_from_slice(&rec[8..16]);
    }
    dst[n - 8..].copy_from_slice(&rec[n - 8..n]);
}

/// Reads `n` (at most 8) little-endian bytes at `at`.
#[inline]
fn read(buf: &[u8], at: usize, n: usize) -> u64 {
    match buf.get(at..at + 8) {
        Some(b) => {
            let v = u64::from_le_bytes(b.try_into().expect("8 bytes"));
            if n == 8 {
                v
            } else {
                v & ((1u64 << (8 * n)) - 1)
            }
        }
        None => buf[at..at + n]
            .iter()
            .rev()
            .fold(0, |v, &b| v << 8 | u64::from(b)),
    }
}

/// Reads the record at `at` of a point after one at `prev` µs: the point and the
/// record's length.
#[inline]
fn decode(buf: &[u8], at: usize, prev: u64) -> (Point, usize) {
    let h = buf[at] as usize;
    let (tw, bw) = (h & 15, h >> 4);
    let t = read(buf, at + 1, tw);
    let bytes = read(buf, at + 1 + tw, bw);
    let stamp = (prev + (t >> 3)) | (t & 7) << 61;
    (Point { stamp, bytes }, 1 + tw + bw)
}

/// The held points in order, oldest first.
pub(super) struct Iter<'a> {
    /// The whole buffer: a field is read 8 bytes at a time where there are 8 to read.
    buf: &'a [u8],
    end: usize,
    at: usize,
    prev: u64,
}

impl Iterator for Iter<'_> {
    type Item = Point;

    #[inline]
    fn next(&mut self) -> Option<Point> {
        if self.at >= self.end {
            return None;
        }
        let (p, n) = decode(self.buf, self.at, self.prev);
        self.at += n;
        self.prev = p.time().as_micros();
        Some(p)
    }
}

impl PointStore {
    /// The store of `vms` VMs holding no point.
    pub fn new(vms: usize) -> PointStore {
        // Advised before it is touched, so that its pages are huge from the start.
        let mut places = Vec::with_capacity(vms);
        crate::engine::pages::advise_huge(&places);
        places.resize_with(vms, Held::default);
        PointStore {
            arena: Vec::with_capacity(
                ARENA_RESERVE_PER_VM
                    .saturating_mul(vms)
                    .clamp(ARENA_RESERVE_MIN, ARENA_RESERVE_MAX),
            ),
            vms: places,
            garbage: 0,
            floor: GARBAGE_FLOOR,
        }
    }

    /// Hints that VM `vi`'s place will be read soon (see `engine::prefetch`).
    #[inline]
    pub fn prefetch_vm(&self, vi: usize) {
        crate::engine::prefetch::prefetch_at(&self.vms, vi);
    }

    /// Where VM `vi`'s records start in the arena (until its region moves).
    pub fn records_at(&self, vi: usize) -> usize {
        self.vms[vi].at
    }

    /// Hints that the arena's bytes at `at` (a [`PointStore::records_at`], perhaps out of
    /// date) will be read soon.
    #[inline]
    pub fn prefetch_arena(&self, at: usize) {
        crate::engine::prefetch::prefetch_at(&self.arena, at);
    }

    /// Hints that VM `vi`'s records will be read soon: the first (the oldest, which may
    /// expire) and the end of its region (where a new one goes). Reads its place, so
    /// issue [`PointStore::prefetch_vm`] well before.
    #[inline]
    pub fn prefetch_records(&self, vi: usize) {
        let h = &self.vms[vi];
        self.prefetch_arena(h.at);
        self.prefetch_arena(h.at + usize::from(h.used));
    }

    /// VM `vi`'s place, with its armed expiry.
    pub fn vm(&mut self, vi: usize) -> &mut Held {
        &mut self.vms[vi]
    }

    /// How many points VM `vi` holds.
    pub fn len(&self, vi: usize) -> usize {
        usize::from(self.vms[vi].len)
    }

    /// Whether VM `vi` holds none.
    pub fn is_empty(&self, vi: usize) -> bool {
        self.vms[vi].len == 0
    }

    /// VM `vi`'s points, oldest first.
    pub fn iter(&self, vi: usize) -> Iter<'_> {
        let h = &self.vms[vi];
        Iter {
            buf: &self.arena[h.at..],
            end: usize::from(h.used),
            at: 0,
            prev: 0,
        }
    }

    /// VM `vi`'s newest point's time, if any.
    pub fn newest_time(&self, vi: usize) -> Option<SimTime> {
        let h = &self.vms[vi];
        (h.len > 0).then_some(SimTime(h.newest & TIME_BITS))
    }

    /// Adds `p`, not older than VM `vi`'s newest point, as its newest; `expires` gives a
    /// point's expiry (the one of the point it succeeds as the newest becomes due).
    /// `room` tells, from the points the VM holds with `p`, how many it may hold at most
    /// by the end of the run: asked when its region, past [`ROOM_FROM`] records, is full,
    /// so that it grows once to fit them (at its records' mean size) instead of an eighth
    /// at a time.
    pub fn push(
        &mut self,
        vi: usize,
        p: Point,
        room: impl FnOnce(usize) -> usize,
        expires: impl Fn(&Point) -> SimTime,
    ) {
        let h = &mut self.vms[vi];
        let prev = SimTime(h.newest & TIME_BITS);
        assert!(p.time() >= prev, "points are added in time order");
        if h.len > 0 {
            let was = Point {
                stamp: h.newest,
                bytes: 0,
            };
            h.min_expiry = h.min_expiry.min(expires(&was));
        }
        let mut rec = [0; MAX_RECORD];
        let n = encode(&mut rec, p.time().since(prev).0, p.tier(), p.bytes);
        let used = usize::from(h.used);
        if used + n > usize::from(h.cap) {
            let len = usize::from(h.len) + 1;
            let want = if len >= ROOM_FROM {
                room(len).saturating_mul((used + n).div_ceil(len))
            } else {
                0
            };
            self.grow(vi, used + n, want);
        }
        let h = &mut self.vms[vi];
        put_record(&mut self.arena[h.at + used..h.at + used + n], &rec);
        h.used = (used + n) as u16;
        h.len += 1;
        h.newest = p.stamp;
    }

    /// Gives VM `vi` a region of at least `need` bytes with room for a few more records
    /// (an eighth more, at least 16 bytes), or of `want` bytes if more (at most 64 KiB):
    /// in place when its region ends the arena, else at the end of the arena.
    #[cold]
    fn grow(&mut self, vi: usize, need: usize, want: usize) {
        let cap = (need + (need / 8).max(16)).max(want.min(usize::from(u16::MAX)));
        assert!(cap <= usize::from(u16::MAX), "a VM's points fit in 64 KiB");
        let h = &mut self.vms[vi];
        let (at, used) = (h.at, usize::from(h.used));
        if h.cap == 0 || at + usize::from(h.cap) != self.arena.len() {
            if h.cap > 0 {
                self.garbage += REGION_HEADER + usize::from(h.cap);
            }
            let vm = u32::try_from(vi).expect("VM indices fit in 32 bits");
            self.arena.extend_from_slice(&vm.to_le_bytes());
            self.arena.extend_from_slice(&[0, 0]);
            h.at = self.arena.len();
            self.arena.extend_from_within(at..at + used);
        }
        h.cap = cap as u16;
        self.arena[h.at - 2..h.at].copy_from_slice(&h.cap.to_le_bytes());
        self.arena.resize(h.at + cap, 0);
        if self.garbage > (self.arena.len() / GARBAGE_SHARE).max(self.floor) {
            self.compact();
        }
    }

    /// Slides every VM's region down over the regions left behind, in arena order: each
    /// region's header names its VM, whose place says whether the region is still its own.
    /// The regions are in arena order, their VMs' places anywhere: the place of the VM
    /// [`COMPACT_AHEAD`] regions on is loaded while this one moves.
    #[cold]
    fn compact(&mut self) {
        let (mut x, mut w, mut y) = (0, 0, 0);
        for _ in 0..COMPACT_AHEAD {
            y = self.prefetch_region(y);
        }
        while x < self.arena.len() {
            y = self.prefetch_region(y);
            let (vi, cap) = self.region_at(x);
            let start = x + REGION_HEADER;
            let h = &mut self.vms[vi];
            if h.at == start {
                let end = start + usize::from(h.used);
                self.arena.copy_within(x..end, w);
                h.at = w + REGION_HEADER;
                w += REGION_HEADER + cap;
            }
            x = start + cap;
        }
        self.arena.truncate(w);
        self.garbage = 0;
    }

    /// The VM and size in the header of the region at `x`.
    #[inline]
    fn region_at(&self, x: usize) -> (usize, usize) {
        let head = &self.arena[x..x + REGION_HEADER];
        let vi = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        (vi, usize::from(u16::from_le_bytes([head[4], head[5]])))
    }

    /// Starts loading the place of the VM whose region's header is at `y` (if any);
    /// returns where the next region's header is. (Compaction writes only below the
    /// region it moves, so the headers ahead are intact.)
    #[inline]
    fn prefetch_region(&self, y: usize) -> usize {
        if y >= self.arena.len() {
            return y;
        }
        let (vi, cap) = self.region_at(y);
        prefetch_at(&self.vms, vi);
        y + REGION_HEADER + cap
    }

    /// Removes VM `vi`'s point at `i` (never the newest) and returns the bytes that leave
    /// the vault. The incremental chain: when the oldest goes, the next point absorbs the
    /// base and its own incremental leaves; any other point takes its incremental along.
    pub fn remove(&mut self, vi: usize, i: usize) -> u64 {
        assert!(i + 1 < self.len(vi), "the newest point is never removed");
        let (bytes, _) = self.retain(vi, |k, _| k != i);
        self.vms[vi].min_expiry = SimTime(0);
        bytes
    }

    /// Removes VM `vi`'s points (other than the newest) whose expiry by `expires` is at or
    /// before `now`, as [`PointStore::remove`] would one by one from the oldest; returns
    /// the bytes and points removed and the earliest expiry of the points left other than
    /// the newest (never if none). `in_order`: the caller knows that points expire oldest
    /// first (a policy keeping every point one span: `expires` then grows with the time).
    pub fn expire(
        &mut self,
        vi: usize,
        now: SimTime,
        expires: impl Fn(&Point) -> SimTime,
        in_order: bool,
    ) -> (u64, u64, SimTime) {
        let min = self.vms[vi].min_expiry;
        if min > now {
            return (0, 0, min);
        }
        if in_order {
            return self.expire_oldest(vi, now, expires);
        }
        let mut next = SimTime::NEVER;
        let (bytes, points) = self.retain(vi, |_, p| {
            let e = expires(p);
            if e > now {
                next = next.min(e);
            }
            e > now
        });
        self.vms[vi].min_expiry = next;
        (bytes, points, next)
    }

    /// [`PointStore::expire`] of points that expire oldest first: the records are read up
    /// to the first point kept, which takes the base of those removed before it (its
    /// record written anew, as `retain` writes it); the ones after it move down unchanged
    /// (their deltas and bytes are the same), and expire no sooner than it.
    fn expire_oldest(
        &mut self,
        vi: usize,
        now: SimTime,
        expires: impl Fn(&Point) -> SimTime,
    ) -> (u64, u64, SimTime) {
        let h = &mut self.vms[vi];
        let buf = &mut self.arena[h.at..h.at + usize::from(h.used)];
        let n = usize::from(h.len);
        let (mut r, mut prev, mut removed) = (0, 0u64, 0usize);
        // The base of the oldest point removed, and the bytes leaving (as in `retain`).
        let (mut base, mut bytes) = (0u64, 0u64);
        let (first, len) = loop {
            let (p, len) = decode(buf, r, prev);
            if removed > 0 {
                bytes = bytes.saturating_add(p.bytes);
            }
            if removed + 1 == n || expires(&p) > now {
                break (p, len);
            }
            if removed == 0 {
                base = p.bytes;
            }
            removed += 1;
            r += len;
            prev = p.time().as_micros();
        };
        let next = if removed + 1 < n {
            expires(&first)
        } else {
            SimTime::NEVER
        };
        h.min_expiry = next;
        if removed == 0 {
            return (0, 0, next);
        }
        let mut rec = [0; MAX_RECORD];
        let m = encode(&mut rec, first.time().as_micros(), first.tier(), base);
        debug_assert!(m <= r + len);
        put_record(&mut buf[..m], &rec);
        buf.copy_within(r + len.., m);
        h.used = (m + buf.len() - r - len) as u16;
        h.len = (n - removed) as u16;
        (bytes, removed as u64, next)
    }

    /// Keeps VM `vi`'s points other than the newest for which `keep(index, point)` holds
    /// (asked once each, oldest first) and the newest, re-encoding the records after the
    /// first removed one in place; returns the bytes leaving the vault (the incremental
    /// chain of [`PointStore::remove`]) and the points removed.
    fn retain(&mut self, vi: usize, mut keep: impl FnMut(usize, &Point) -> bool) -> (u64, u64) {
        let h = &mut self.vms[vi];
        let buf = &mut self.arena[h.at..];
        let n = usize::from(h.len);
        let (mut r, mut w) = (0, 0);
        let (mut read_prev, mut write_prev) = (0u64, 0u64);
        // The base of a removed oldest point, which the next point takes.
        let mut carry = None;
        let (mut bytes, mut points, mut kept) = (0u64, 0u64, 0usize);
        let mut rec = [0; MAX_RECORD];
        for k in 0..n {
            let (p, len) = decode(buf, r, read_prev);
            r += len;
            let time = p.time().as_micros();
            read_prev = time;
            let held = match carry.take() {
                Some(base) => {
                    bytes = bytes.saturating_add(p.bytes);
                    base
                }
                None => p.bytes,
            };
            if k + 1 < n && !keep(k, &p) {
                points += 1;
                if kept == 0 {
                    carry = Some(held);
                } else {
                    bytes = bytes.saturating_add(held);
                }
                continue;
            }
            kept += 1;
            if points == 0 {
                // Nothing removed yet: the record stays as it is.
                w = r;
            } else {
                let m = encode(&mut rec, time - write_prev, p.tier(), held);
                // A removed record frees at least what the delta and the carried base
                // add to a later one.
                debug_assert!(w + m <= r);
                buf[w..w + m].copy_from_slice(&rec[..m]);
                w += m;
            }
            write_prev = time;
        }
        h.used = w as u16;
        h.len = kept as u16;
        (bytes, points)
    }
}

#[cfg(test)]
mod tests;

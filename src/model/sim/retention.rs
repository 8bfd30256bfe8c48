//! Recovery points: the points each VM's vault holds (the oldest holds the full base,
//! each later one its incremental), retention expiry counted from each point's own time
//! (the newest point is always kept), geo-replication lag and RPO ages.

use super::*;

impl Sim<'_, '_> {
    pub(super) fn new_point(&mut self, vi: usize, v: usize, now: SimTime, job: &mut Job) {
        let (bytes, full) = (job.bytes, job.full);
        let every = self.rpo_every;
        let vm = &mut self.vms[vi];
        // RPO: the age of the newest point at every sample time since the previous one
        // (sample times after the warm-up and up to the end: a drained run's late points
        // change no sample).
        let until = now.min(self.end);
        record_ages(&mut self.st.rpo, vm.last_point, until, self.warmup, every);
        let (since, from) = (vm.last_point.as_micros(), self.warmup.as_micros());
        self.st.batches.rpo(since, until.as_micros(), from, every);
        vm.last_point = now;
        if vm.first_point == SimTime::NEVER {
            vm.first_point = now;
        }
        let day = day_of(now);
        let dow = u64::from(self.c.simulation.start_weekday);
        let periods = [
            ((day + dow) / 7) as u32,
            (day / 30) as u32,
            (day / 365) as u32,
        ];
        let pol = &self.c.policies[self.fleets[vm.fleet as usize].policy as usize].retention;
        let mut keep_days = pol.daily as u64;
        for (k, (&period, span)) in periods
            .iter()
            .zip([(pol.weekly, 7u64), (pol.monthly, 30), (pol.yearly, 365)])
            .enumerate()
        {
            if vm.last_periods[k] != period {
                vm.last_periods[k] = period;
                keep_days = keep_days.max(span.0 as u64 * span.1);
            }
        }
        // Each point is kept `keep_days` × 24 h from its own time.
        let expires = keep_days
            .checked_mul(MICROS_PER_DAY)
            .and_then(|d| now.checked_add(SimDuration(d)))
            .unwrap_or(SimTime::NEVER);
        if full {
            vm.flags |= flag::HAS_BASE;
        }
        let held = &mut self.held[vi];
        held.pts.push_back(Point {
            time: now,
            expires,
            bytes,
        });
        let vs = &mut self.vaults[v];
        // Byte counts saturate: sizes may be drawn up to 16 EiB.
        vs.stored = vs.stored.checked_add(bytes).unwrap_or_else(|| {
            vs.saturated = true;
            u64::MAX
        });
        vs.points += 1;
        // The service's limit: 366 points per VM; beyond it the oldest goes.
        if held.pts.len() > MAX_POINTS {
            let b = held.remove(0);
            vs.stored = vs.stored.saturating_sub(b);
            vs.points -= 1;
        }
        // The previous newest point may now expire (at once, if its time has passed).
        self.expire_points(vi, now);
        let vs = &mut self.vaults[v];
        vs.stored_max = vs.stored_max.max(vs.stored);
        vs.points_max = vs.points_max.max(vs.points);
        if vs.geo {
            // From the job's own stream: a global counter (the job id) would let other
            // fleets' jobs shift this draw.
            let lag = self
                .st
                .capped(self.c.timing.geo_replication.draw(&mut job.rng), || {
                    "timing.geo_replication".into()
                });
            if job.scheduled >= self.warmup {
                vs.geo_lag.record(lag);
            }
        }
    }

    /// Removes VM `vi`'s points whose retention has run out by `now`, except its newest,
    /// and arms the event of its next expiry. Idempotent: a stale event removes nothing.
    pub(super) fn expire_points(&mut self, vi: usize, now: SimTime) {
        let v = self.fleets[self.vms[vi].fleet as usize].vault as usize;
        let held = &mut self.held[vi];
        let (mut bytes, mut points) = (0u64, 0u64);
        let mut i = 0;
        while i + 1 < held.pts.len() {
            if held.pts[i].expires <= now {
                bytes = bytes.saturating_add(held.remove(i));
                points += 1;
            } else {
                i += 1;
            }
        }
        let n = held.pts.len();
        let next = held
            .pts
            .iter()
            .take(n.saturating_sub(1))
            .map(|p| p.expires)
            .min()
            .unwrap_or(SimTime::NEVER);
        let arm = next != SimTime::NEVER && (held.next_expiry <= now || next < held.next_expiry);
        if arm {
            held.next_expiry = next;
        }
        let vs = &mut self.vaults[v];
        vs.stored = vs.stored.saturating_sub(bytes);
        vs.points -= points;
        if arm {
            self.at(next, Ev::Expire(vi as u32));
        }
    }
}

/// The most recovery points the service keeps per VM (2015).
pub(super) const MAX_POINTS: usize = 366;

/// One recovery point held in the vault.
#[derive(Clone, Copy, Debug)]
pub(super) struct Point {
    /// Its snapshot time.
    pub time: SimTime,
    /// When retention lets it go (unless it is then the VM's newest point).
    pub expires: SimTime,
    /// The bytes it holds: the oldest held point holds the full base, each later one
    /// its incremental.
    pub bytes: u64,
}

/// A VM's held points, oldest first, and the time its expiry event is armed for.
#[derive(Debug)]
pub(super) struct Held {
    pub pts: VecDeque<Point>,
    pub next_expiry: SimTime,
}

impl Default for Held {
    fn default() -> Held {
        Held {
            pts: VecDeque::new(),
            next_expiry: SimTime::NEVER,
        }
    }
}

impl Held {
    /// Removes the point at `i` (never the newest) and returns the bytes that leave the
    /// vault. The incremental chain: when the oldest goes, the next point absorbs the
    /// base and its own incremental leaves; any other point takes its incremental along.
    pub fn remove(&mut self, i: usize) -> u64 {
        debug_assert!(i + 1 < self.pts.len());
        let gone = if i == 0 {
            let base = self.pts[0].bytes;
            std::mem::replace(&mut self.pts[1].bytes, base)
        } else {
            self.pts[i].bytes
        };
        self.pts.remove(i);
        gone
    }
}

/// Records the age of a point made at `since` at every multiple of `every` in
/// `[max(since, from), until)`: the arithmetic progression `g0, g0 + every, ...` below
/// `until − since`. `from` is the end of the warm-up.
pub(super) fn record_ages(
    h: &mut BulkCounts,
    since: SimTime,
    until: SimTime,
    from: SimTime,
    every: u64,
) {
    let (a, b) = (since.as_micros(), until.as_micros());
    let mut age = a.max(from.as_micros()).div_ceil(every) * every - a;
    let span = b.saturating_sub(a);
    while age < span {
        h.record(age);
        age += every;
    }
}

//! Recovery points: vault storage (a full base plus retained incrementals), retention
//! expiry at the daily clean-up, geo-replication lag and RPO ages.

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
        let vs = &mut self.vaults[v];
        // Storage: the first full backup is the base that stays while the VM is
        // protected; each later point adds its incremental bytes until it expires.
        let (add, expiring_bytes) = if full { (bytes, 0) } else { (bytes, bytes) };
        if full {
            vm.flags |= flag::HAS_BASE;
        }
        // Byte counts saturate: sizes may be drawn up to 16 EiB.
        vs.stored = vs.stored.saturating_add(add);
        vs.points += 1;
        vs.stored_max = vs.stored_max.max(vs.stored);
        vs.points_max = vs.points_max.max(vs.points);
        let expiry_day = day + keep_days;
        if expiry_day
            .checked_mul(MICROS_PER_DAY)
            .is_some_and(|t| t <= self.end.as_micros())
        {
            let e = vs.expiring.entry(expiry_day).or_insert((0, 0));
            e.0 = e.0.saturating_add(expiring_bytes);
            e.1 += 1;
        }
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

    pub(super) fn cleanup(&mut self, now: SimTime) {
        let day = day_of(now);
        for vs in &mut self.vaults {
            while let Some((&d, &(b, p))) = vs.expiring.iter().next() {
                if d > day {
                    break;
                }
                vs.expiring.remove(&d);
                vs.stored = vs.stored.saturating_sub(b);
                vs.points -= p;
            }
        }
        self.at(now + SimDuration::from_days(1), Ev::Cleanup);
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

//! Scheduled and on-demand arrivals: policy occurrences, their spread start times, and
//! each fleet's Poisson stream of on-demand requests.

use super::*;
use crate::model::config::Schedule;

/// Arrivals a spent batch's (or the sort's) buffer may hold and still be kept for the
/// next night (1 MiB): a fleet's larger buffers go back between its nights, at one
/// allocation a night, instead of adding up with its recovery points in the run's peak.
const KEEP_ITEMS: usize = 1 << 16;

impl Sim<'_, '_> {
    pub(super) fn policy_run(&mut self, p: u32, now: SimTime) {
        let pol = &self.c.policies[p as usize];
        self.policy_window_end[p as usize] = now + pol.window;
        self.night_open(p as usize, now);
        let within = pol.start_within.as_micros();
        let day = day_of(now);
        let mut items = self.spare_items.pop().unwrap_or_default();
        items.clear();
        let mut base = None;
        for k in 0..self.policy_fleets[p as usize].len() {
            let fi = self.policy_fleets[p as usize][k];
            let f = &self.fleets[fi as usize];
            let (first, count, key) = (f.first_vm, f.count, f.start_key);
            for i in 0..count {
                let vm = first + i;
                if self.onboard_waits(fi as usize, i, now) {
                    continue;
                }
                if !self.vms[vm as usize].has(flag::SUPPORTED) {
                    if now >= self.warmup {
                        self.st.unsupported_jobs += 1;
                    }
                    continue;
                }
                let offset = if within > 0 {
                    stream_of_key(fold_key(key, &[i as u64, day])).gen_range(0..within)
                } else {
                    0
                };
                let t = now + SimDuration(offset);
                if t <= self.end {
                    let seq = self.q.reserve_seq();
                    let base = *base.get_or_insert(seq);
                    let o = u32::try_from(seq - base).expect("at most 2^32 VMs per policy");
                    items.push((t.as_micros(), o, vm));
                }
            }
        }
        if items.is_empty() {
            self.spare_items.push(items);
        } else {
            // Appended in insertion order (`o` increases), so a stable sort by time is
            // the (time, insertion) order.
            crate::engine::radix::sort_by_key(&mut items, &mut self.sort_scratch, |x| x.0);
            if self.sort_scratch.capacity() > KEEP_ITEMS {
                self.sort_scratch = Vec::new();
            }
            let base = base.expect("items were added");
            let head = (SimTime(items[0].0), base + u64::from(items[0].1));
            let batch = Some(Batch {
                scheduled: now,
                base,
                items,
                next: 0,
            });
            let b = match self.batches.iter().position(Option::is_none) {
                Some(b) => {
                    self.batches[b] = batch;
                    b
                }
                None => {
                    self.batches.push(batch);
                    self.batches.len() - 1
                }
            };
            self.batch_heads.push(Reverse((head.0, head.1, b as u32)));
        }
        if let Some(t) = self.next_occurrence(p as usize, now) {
            self.at(t, Ev::PolicyRun(p));
        }
    }

    /// The next scheduled arrival of batch `b` fires at `now`.
    pub(super) fn batch_arrival(&mut self, b: u32, now: SimTime) {
        self.batch_heads.pop();
        let slot = &mut self.batches[b as usize];
        let batch = slot.as_mut().expect("live batch");
        let (_, _, vm) = batch.items[batch.next];
        let scheduled = batch.scheduled;
        batch.next += 1;
        if let Some(&(t, o, next_vm)) = batch.items.get(batch.next) {
            // The batch's next VM is usually needed a few events from now; the items
            // themselves are read in order, a few lines ahead.
            prefetch_at(&self.vms, next_vm as usize);
            prefetch_at(&batch.items, batch.next + 16);
            let head = (SimTime(t), batch.base + u64::from(o), b);
            self.batch_heads.push(Reverse(head));
        } else {
            let done = slot.take().expect("live batch");
            if done.items.capacity() <= KEEP_ITEMS {
                self.spare_items.push(done.items);
            }
        }
        self.night_arrival(vm, scheduled);
        self.arrive(vm, Kind::Scheduled, scheduled, 1, now);
    }

    /// The first scheduled time of policy `p` strictly after `after`.
    pub(super) fn next_occurrence(&self, p: usize, after: SimTime) -> Option<SimTime> {
        let sch = self.c.policies[p].schedule.as_ref()?;
        let start_dow = u64::from(self.c.simulation.start_weekday);
        occurrence_at_or_after(sch, start_dow, after + SimDuration(1))
    }

    /// The first scheduled time of policy `p` at or after `t` (the run's first occurrence
    /// may be at t = 0 itself).
    pub(super) fn first_occurrence(&self, p: usize, t: SimTime) -> Option<SimTime> {
        let sch = self.c.policies[p].schedule.as_ref()?;
        let start_dow = u64::from(self.c.simulation.start_weekday);
        occurrence_at_or_after(sch, start_dow, t)
    }

    /// Fleet `fi`'s next on-demand request: a VM picked at random asks for a backup (if
    /// it is supported and has joined), and the next request is scheduled.
    pub(super) fn on_demand(&mut self, fi: u32, now: SimTime) {
        let f = &mut self.fleets[fi as usize];
        let (first, count) = (f.first_vm, f.count);
        let pick = f.on_demand.as_mut().map(|(_, rng)| rng.gen_range(0..count));
        if let Some(i) = pick {
            let vm = first + i;
            if self.vms[vm as usize].has(flag::SUPPORTED) && !self.not_joined(fi as usize, i, now) {
                self.arrive(vm, Kind::OnDemand, now, 1, now);
            }
        }
        self.schedule_on_demand(fi, now);
    }

    pub(super) fn schedule_on_demand(&mut self, fi: u32, now: SimTime) {
        if let Some((exp, rng)) = &mut self.fleets[fi as usize].on_demand {
            let gap = exp.sample(rng).ceil().max(1.0);
            if gap < 1e18 {
                self.at(now + SimDuration(gap as u64), Ev::OnDemand(fi));
            }
        }
    }
}

/// The first occurrence of `sch` at or after `t`, for a run whose day 0 is weekday
/// `start_dow` (0 = Monday). `None` for a schedule that never fires (no weekday).
///
/// The schedule's days and time are in its local time (`sch.offset` ahead of UTC, the run's
/// clock): local day `d` starts at `d × 24 h − offset` UTC, and its weekday is
/// `start_dow + d` (a negative offset makes local day −1 the day before the run starts).
///
/// Callers wanting the occurrence strictly after an instant pass the next microsecond: an
/// occurrence at exactly `after` (a policy at "00:00" firing at t = 0) must never be
/// returned again, or the run would re-fire it forever at the same instant.
pub(crate) fn occurrence_at_or_after(
    sch: &Schedule,
    start_dow: u64,
    t: SimTime,
) -> Option<SimTime> {
    if sch.days == 0 {
        return None;
    }
    let day = MICROS_PER_DAY as i128;
    let t_utc = i128::from(t.0);
    let first_day = (t_utc + i128::from(sch.offset)).div_euclid(day);
    // Eight days cover every weekday, including the rest of today when its time has passed.
    (first_day..first_day + 8).find_map(|d| {
        let on = sch.on((i128::from(start_dow) + d).rem_euclid(7) as u64);
        let at = d * day + i128::from(sch.at.0) - i128::from(sch.offset);
        (on && at >= t_utc)
            .then(|| u64::try_from(at).ok().map(SimTime))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SUN: u8 = 6;

    fn schedule(tod: u32, weekly: Option<Vec<u8>>) -> Schedule {
        let at = SimDuration::from_secs(u64::from(tod));
        match weekly {
            None => Schedule::daily(at),
            Some(days) => Schedule::weekly(days, at),
        }
    }

    #[test]
    fn midnight_schedule_terminates() {
        let sch = schedule(0, None);
        let first = occurrence_at_or_after(&sch, 0, SimTime::ZERO).unwrap();
        assert_eq!(first, SimTime::ZERO);
        let next = occurrence_at_or_after(&sch, 0, first + SimDuration(1)).unwrap();
        assert_eq!(next, SimTime(MICROS_PER_DAY));
    }

    #[test]
    fn weekly_schedule_hand_computed() {
        // Day 0 is a Monday; "sun at 23:59:59" first fires on day 6.
        let sch = schedule(86_399, Some(vec![SUN]));
        let t = occurrence_at_or_after(&sch, 0, SimTime::ZERO).unwrap();
        assert_eq!(t, SimTime(6 * MICROS_PER_DAY + 86_399_000_000));
        let t2 = occurrence_at_or_after(&sch, 0, t + SimDuration(1)).unwrap();
        assert_eq!(t2, SimTime(13 * MICROS_PER_DAY + 86_399_000_000));
    }

    /// Local times: 22:00 at +09:00 is 13:00 UTC; Sunday 02:00 at −05:00 is Sunday
    /// 07:00 UTC; 22:00 at −05:00 first fires at 03:00 UTC of day 0 (local day −1).
    #[test]
    fn local_time_schedules_hand_computed() {
        let h = |x: u64| x * 3_600_000_000;
        let tokyo = Schedule::daily(SimDuration(h(22))).with_offset(9 * h(1) as i64);
        assert_eq!(
            occurrence_at_or_after(&tokyo, 0, SimTime::ZERO),
            Some(SimTime(h(13)))
        );
        let ny = Schedule::weekly([SUN], SimDuration(h(2))).with_offset(-5 * h(1) as i64);
        assert_eq!(
            occurrence_at_or_after(&ny, 0, SimTime::ZERO),
            Some(SimTime(6 * MICROS_PER_DAY + h(7)))
        );
        let ny_daily = Schedule::daily(SimDuration(h(22))).with_offset(-5 * h(1) as i64);
        assert_eq!(
            occurrence_at_or_after(&ny_daily, 0, SimTime::ZERO),
            Some(SimTime(h(3)))
        );
    }

    proptest! {
        /// In any local time, an occurrence is at the scheduled local time of day, on a
        /// scheduled local weekday, strictly later than asked and at most a week later.
        #[test]
        fn local_occurrence_is_at_the_local_time(
            tod in 0u32..86_400,
            mask in 1u8..128,
            start_dow in 0u64..7,
            offset_min in -720i64..=840,
            after in 0u64..30 * MICROS_PER_DAY,
        ) {
            let days: Vec<u8> = (0..7).filter(|i| mask & (1 << i) != 0).collect();
            let off = offset_min * 60_000_000;
            let sch = schedule(tod, Some(days.clone())).with_offset(off);
            let t = occurrence_at_or_after(&sch, start_dow, SimTime(after) + SimDuration(1)).unwrap();
            prop_assert!(t.as_micros() > after);
            prop_assert!(t.as_micros() - after <= 7 * MICROS_PER_DAY);
            let local = t.as_micros() as i64 + off;
            let day = MICROS_PER_DAY as i64;
            prop_assert_eq!(local.rem_euclid(day), i64::from(tod) * 1_000_000);
            let dow = (start_dow as i64 + local.div_euclid(day)).rem_euclid(7);
            prop_assert!(days.iter().any(|&d| i64::from(d) == dow));
        }

        /// The next occurrence is strictly later than the instant it is asked after, for
        /// every schedule form and time of day (including 00:00 and 23:59:59), at most a
        /// week later, and on a scheduled weekday at the scheduled time.
        #[test]
        fn next_occurrence_is_strictly_later(
            tod in prop_oneof![Just(0u32), Just(86_399u32), 0u32..86_400],
            mask in 0u8..128,
            weekly in any::<bool>(),
            start_dow in 0u64..7,
            after in prop_oneof![Just(0u64), 0u64..400 * MICROS_PER_DAY],
        ) {
            let days: Vec<u8> = (0..7).filter(|i| mask & (1 << i) != 0).collect();
            let sch = schedule(tod, weekly.then_some(days.clone()));
            let after = SimTime(after);
            match occurrence_at_or_after(&sch, start_dow, after + SimDuration(1)) {
                Some(t) => {
                    prop_assert!(t > after);
                    prop_assert!(t.as_micros() - after.as_micros() <= 7 * MICROS_PER_DAY);
                    prop_assert_eq!(t.as_micros() % MICROS_PER_DAY, u64::from(tod) * 1_000_000);
                    if weekly {
                        let dow = (start_dow + day_of(t)) % 7;
                        prop_assert!(days.iter().any(|&d| u64::from(d) == dow));
                    }
                }
                None => prop_assert!(weekly && days.is_empty()),
            }
        }
    }
}

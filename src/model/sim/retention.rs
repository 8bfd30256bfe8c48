//! Recovery points: the points each VM's vault holds (the oldest holds the full base,
//! each later one its incremental), retention expiry counted from each point's own time
//! (the newest point is always kept), geo-replication lag and RPO ages.

use super::points::{Point, ON_DEMAND_TIER, TIERS};
use super::*;
use crate::engine::calendar::Date;

impl Sim<'_, '_> {
    /// A backup's data reached the vault at `arrived`: VM `vi` gets a recovery point
    /// whose time is the job's snapshot time (retention and RPO count from it).
    pub(super) fn new_point(&mut self, vi: usize, v: usize, arrived: SimTime, job: &mut Job) {
        let fi = self.vms[vi].fleet as usize;
        // The bytes stored: reduced here unless the transfer already was.
        let bytes = if self.c.fleets[fi].reduce_transfer {
            job.bytes
        } else {
            self.reduced_bytes(vi, job.bytes)
        };
        let (full, now) = (job.full, job.snapshot_at);
        // The vault's bytes change when the data arrives.
        self.books_accrue(fi, arrived);
        if self.vms[vi].first_point == SimTime::NEVER {
            self.books_protect(vi, arrived);
        }
        let every = self.rpo_every;
        let vm = &mut self.vms[vi];
        // RPO: the age of the newest point in the vault at every sample time since the
        // previous point arrived (sample times after the warm-up and up to the end: a
        // drained run's late points change no sample), into the fleet's counts when groups
        // keep histograms (merged into the run's at the end), else into the run's.
        let until = arrived.min(self.end);
        let from = vm.point_arrived.max(self.warmup);
        let h = match self.rep.fleets[vm.fleet as usize].rpo.as_mut() {
            Some(h) => h,
            None => &mut self.st.rpo,
        };
        record_ages(h, vm.last_point, from, until, every);
        let (since, from) = (vm.last_point.as_micros(), from.as_micros());
        self.st.batches.rpo(since, until.as_micros(), from, every);
        vm.last_point = now;
        vm.point_arrived = arrived;
        if vm.first_point == SimTime::NEVER {
            vm.first_point = now;
        }
        let pol = &self.c.policies[self.fleets[vm.fleet as usize].policy as usize].retention;
        let (periods, spans) = tier_periods(&self.c.simulation, day_of(now), pol);
        let days = [u64::from(pol.daily), spans[0], spans[1], spans[2]];
        // The point is kept for the longest tier it opens (a new week, month or year),
        // at least the daily span; the tier is stored, its days are the policy's. An
        // on-demand point under `retention.on_demand` is kept its own span and opens no
        // tier.
        let mut tier = 0;
        if job.kind == Kind::OnDemand && pol.on_demand.is_some() {
            tier = ON_DEMAND_TIER;
        } else {
            for (k, &period) in periods.iter().enumerate() {
                if vm.last_periods[k] != period {
                    vm.last_periods[k] = period;
                    if days[k + 1] > days[tier] {
                        tier = k + 1;
                    }
                }
            }
        }
        if full {
            vm.flags |= flag::HAS_BASE;
        }
        self.storage_changes(arrived);
        let c = self.c;
        let fixed = tier_days(pol);
        let held = &mut self.held;
        let (room, end) = (self.fleets[fi].point_room, self.end);
        held.push(
            vi,
            Point::new(now, tier, bytes),
            |n| room.by(n, now, end),
            |p| point_expiry(p, &c.simulation, pol, &fixed),
        );
        let vs = &mut self.vaults[v];
        // Byte counts saturate: sizes may be drawn up to 16 EiB.
        vs.stored = vs.stored.checked_add(bytes).unwrap_or_else(|| {
            vs.saturated = true;
            u64::MAX
        });
        vs.points += 1;
        let books = &mut self.books[fi];
        books.stored = books.stored.saturating_add(bytes);
        let total = &mut self.storage.total;
        *total = total.saturating_add(bytes);
        // The service's limit: 366 points per VM; beyond it the oldest goes.
        if held.len(vi) > MAX_POINTS {
            let b = held.remove(vi, 0);
            vs.stored = vs.stored.saturating_sub(b);
            vs.points -= 1;
            books.stored = books.stored.saturating_sub(b);
            *total = total.saturating_sub(b);
        }
        // The previous newest point may now expire (at once, if its time has passed).
        self.expire_points(vi, arrived);
        let vs = &mut self.vaults[v];
        // As two comparisons, not one 16-byte load of both counts: `expire_points` has
        // just stored them 8 bytes at a time, and a wider load of two recent stores waits
        // for them to reach the cache instead of taking their values on the way.
        if vs.stored > vs.stored_max {
            vs.stored_max = vs.stored;
        }
        if vs.points > vs.points_max {
            vs.points_max = vs.points;
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

    /// Removes VM `vi`'s points whose retention has run out by `now`, except its newest,
    /// and arms the event of its next expiry. Idempotent: a stale event removes nothing.
    pub(super) fn expire_points(&mut self, vi: usize, now: SimTime) {
        let fi = self.vms[vi].fleet as usize;
        let v = self.fleets[fi].vault as usize;
        self.books_accrue(fi, now);
        let c = self.c;
        let pol = &c.policies[self.fleets[fi].policy as usize].retention;
        let fixed = tier_days(pol);
        let expires = |p: &Point| point_expiry(p, &c.simulation, pol, &fixed);
        let (bytes, points, next) = self.held.expire(vi, now, expires, one_span(pol));
        let held = self.held.vm(vi);
        let arm = next != SimTime::NEVER && (held.next_expiry <= now || next < held.next_expiry);
        if arm {
            held.next_expiry = next;
        }
        if bytes > 0 {
            self.storage_changes(now);
        }
        let vs = &mut self.vaults[v];
        vs.stored = vs.stored.saturating_sub(bytes);
        vs.points -= points;
        let books = &mut self.books[fi];
        books.stored = books.stored.saturating_sub(bytes);
        self.storage.total = self.storage.total.saturating_sub(bytes);
        if arm {
            let records = u32::try_from(self.held.records_at(vi)).unwrap_or(u32::MAX);
            self.at(
                next,
                Ev::Expire {
                    vm: vi as u32,
                    records,
                },
            );
        }
    }
}

/// The most recovery points the service keeps per VM (2015).
pub(super) const MAX_POINTS: usize = 366;

/// When retention lets point `p` of a VM under `pol` go: [`Point::expires`] with the
/// policy's tier days `fixed`, except that with a calendar start a monthly or yearly point
/// is kept whole calendar months or years from its own date.
fn point_expiry(
    p: &Point,
    sim: &crate::model::config::Simulation,
    pol: &crate::model::config::Retention,
    fixed: &[u64; TIERS],
) -> SimTime {
    if sim.start_date.is_none() || !(2..=3).contains(&p.tier()) {
        return p.expires(fixed);
    }
    let (_, spans) = tier_periods(sim, day_of(p.time()), pol);
    p.expires(&[fixed[0], spans[0], spans[1], spans[2], fixed[4]])
}

/// Whether every point of a VM under `pol` is kept one span (only daily retention, and
/// on-demand points kept as long): its points then expire oldest first. (A point takes a
/// weekly, monthly or yearly tier only when that tier keeps it longer: see `new_point`.)
fn one_span(pol: &crate::model::config::Retention) -> bool {
    pol.weekly == 0
        && pol.monthly == 0
        && pol.yearly == 0
        && pol.on_demand.map_or(true, |d| d == pol.daily)
}

/// How many points a VM under a policy may hold by the end of the run, as far as its
/// schedule and retention tell (the room its region in the point store grows to; a VM
/// holding more grows it further).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct PointRoom {
    /// The most points its tiers keep at once in the run: the occurrences in the daily
    /// span, one per weekly, monthly and yearly period the run spans (at most the
    /// tier's count), and the newest. 0: no room asked (no schedule: on-demand points
    /// are few and irregular).
    kept: u16,
    /// The schedule's occurrences a week.
    per_week: u8,
}

impl PointRoom {
    /// The room under `policy` in the run of `c`.
    pub(super) fn of(
        c: &crate::model::config::Config,
        policy: &crate::model::config::Policy,
    ) -> PointRoom {
        let Some(schedule) = policy.schedule else {
            return PointRoom::default();
        };
        let per_week = schedule.days.count_ones() as u8;
        let run_days = c.simulation.duration.as_micros().div_ceil(MICROS_PER_DAY);
        let r = &policy.retention;
        // A tier keeps at most its count, and one point per period the run reaches into
        // (months counted at 28 days, the shortest calendar month: never too few).
        let tier = |count: u32, period: u64| u64::from(count).min(run_days.div_ceil(period) + 1);
        let kept = fires(u64::from(r.daily), per_week)
            + tier(r.weekly, 7)
            + tier(r.monthly, 28)
            + tier(r.yearly, 365)
            + 1;
        PointRoom {
            kept: kept.min(MAX_POINTS as u64 + 1) as u16,
            per_week,
        }
    }

    /// The points a VM holding `held` at `now` may hold by `end`: those and the
    /// schedule's occurrences left, at most what the tiers keep.
    pub(super) fn by(&self, held: usize, now: SimTime, end: SimTime) -> usize {
        let days = end
            .as_micros()
            .saturating_sub(now.as_micros())
            .div_ceil(MICROS_PER_DAY);
        let more = usize::try_from(fires(days, self.per_week)).unwrap_or(usize::MAX);
        held.saturating_add(more).min(usize::from(self.kept))
    }
}

/// At most how many times a schedule firing `per_week` days a week fires in `days` days.
fn fires(days: u64, per_week: u8) -> u64 {
    days.saturating_mul(u64::from(per_week)).div_ceil(7) + 1
}

/// Days a point is kept by retention tier: daily, weekly, monthly, yearly, on-demand
/// (`retention.on_demand`; unset, on-demand points are kept like scheduled ones).
pub(super) fn tier_days(r: &crate::model::config::Retention) -> [u64; TIERS] {
    [
        u64::from(r.daily),
        u64::from(r.weekly) * 7,
        u64::from(r.monthly) * 30,
        u64::from(r.yearly) * 365,
        u64::from(r.on_demand.unwrap_or(r.daily)),
    ]
}

/// Records the age of a point made at `since` at every multiple of `every` in
/// `[from, until)`: the arithmetic progression `g0, g0 + every, ...` below `until − since`.
/// `from` (at least `since`) is when the point became the newest in the vault, or the end
/// of the warm-up if later.
pub(super) fn record_ages(
    h: &mut Latency,
    since: SimTime,
    from: SimTime,
    until: SimTime,
    every: u64,
) {
    let (a, b) = (since.as_micros(), until.as_micros());
    let age = a.max(from.as_micros()).div_ceil(every) * every - a;
    h.record_every(age, every, b.saturating_sub(a));
}

/// The weekly, monthly and yearly period a point made on `day` falls in (a point is the
/// tier's point when it is the first of its period), and how many days each tier keeps it.
///
/// Weeks start on Monday. With a calendar start date, months and years are calendar months
/// and years, and a monthly point is kept `monthly` calendar months (January 31 + 1 month
/// = February 28 or 29); without one, months are 30 days and years 365, counted from day 0.
pub(super) fn tier_periods(
    sim: &crate::model::config::Simulation,
    day: u64,
    pol: &crate::model::config::Retention,
) -> ([u32; 3], [u64; 3]) {
    let dow = u64::from(sim.start_weekday);
    let week = ((day + dow) / 7) as u32;
    let weekly = 7 * u64::from(pol.weekly);
    match sim.start_date {
        Some(d0) => {
            let date = Date::from_days(d0 + day as i64);
            let start = date.to_days().expect("a date from days is valid");
            let later = |months: u64| {
                let months = u32::try_from(months).unwrap_or(u32::MAX / 2);
                (date.plus_months(months).to_days().expect("valid") - start) as u64
            };
            (
                [week, date.month_index() as u32, date.year as u32],
                [
                    weekly,
                    later(u64::from(pol.monthly)),
                    later(12 * u64::from(pol.yearly)),
                ],
            )
        }
        None => (
            [week, (day / 30) as u32, (day / 365) as u32],
            [
                weekly,
                30 * u64::from(pol.monthly),
                365 * u64::from(pol.yearly),
            ],
        ),
    }
}

#[cfg(test)]
mod calendar_tests {
    use super::tier_periods;
    use crate::engine::SimDuration;
    use crate::model::config::{Retention, Simulation};

    fn sim(start_date: Option<i64>) -> Simulation {
        Simulation {
            seed: 1,
            duration: SimDuration::from_days(1),
            warmup: SimDuration::ZERO,
            drain: false,
            sample_every: SimDuration::from_secs(3600),
            rpo_sample_every: SimDuration::from_secs(3600),
            start_weekday: 0,
            start_date,
            batches: 0,
            max_events: 0,
        }
    }

    /// From 2016-01-31 (day 0), one month is 29 days (to 2016-02-29), twelve are 366 (a
    /// leap year); day 1 (2016-02-01) is a new month. Without a date: 30 and 365 days.
    #[test]
    fn calendar_months_and_years_hand_computed() {
        let r = Retention {
            daily: 1,
            weekly: 2,
            monthly: 1,
            yearly: 1,
            on_demand: None,
        };
        let d0 = crate::engine::calendar::Date::parse("2016-01-31")
            .unwrap()
            .to_days();
        let (p0, spans) = tier_periods(&sim(d0), 0, &r);
        assert_eq!(spans, [14, 29, 366]);
        let (p1, _) = tier_periods(&sim(d0), 1, &r);
        assert_eq!(p1[1], p0[1] + 1, "February is a new month");
        assert_eq!(p1[2], p0[2], "same year");
        assert_eq!(tier_periods(&sim(None), 0, &r).1, [14, 30, 365]);
    }
}

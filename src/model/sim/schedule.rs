//! Scheduled and on-demand arrivals: policy occurrences, their spread start times, and
//! each fleet's Poisson stream of on-demand requests.

use super::*;

impl Sim<'_, '_> {
    pub(super) fn policy_run(&mut self, p: u32, now: SimTime) {
        let pol = &self.s.policy[p as usize];
        self.policy_window_end[p as usize] = now + pol.window.0;
        let within = pol.start_within.0.as_micros();
        let day = day_of(now);
        let mut items = self.spare_items.pop().unwrap_or_default();
        items.clear();
        let mut base = None;
        for fi in self.policy_fleets[p as usize].clone() {
            let f = &self.fleets[fi as usize];
            let (first, count, key) = (f.first_vm, f.count, f.key);
            for i in 0..count {
                let vm = first + i;
                if !self.vms[vm as usize].has(flag::SUPPORTED) {
                    self.st.unsupported_jobs += 1;
                    continue;
                }
                let offset = if within > 0 {
                    stream(self.seed, &[purpose::START, key, i as u64, day]).gen_range(0..within)
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
            items.sort_unstable_by_key(|&(t, o, _)| (t, o));
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
        if let Some(&(t, o, _)) = batch.items.get(batch.next) {
            let head = (SimTime(t), batch.base + u64::from(o), b);
            self.batch_heads.push(Reverse(head));
        } else {
            let done = slot.take().expect("live batch");
            self.spare_items.push(done.items);
        }
        self.arrive(vm, Kind::Scheduled, scheduled, 1, now);
    }

    /// The first scheduled time of policy `p` strictly after `after` (or at 0 for t=0).
    pub(super) fn next_occurrence(&self, p: usize, after: SimTime) -> Option<SimTime> {
        let sch = self.s.policy[p].schedule.as_ref()?;
        let start_dow = self.s.simulation.start_weekday.index();
        let first_day = if after == SimTime::ZERO {
            0
        } else {
            day_of(after)
        };
        for day in first_day..first_day + 8 {
            let (ok, tod) = match (&sch.daily, &sch.weekly, &sch.at) {
                (Some(t), _, _) => (true, *t),
                (None, Some(days), Some(t)) => {
                    (days.iter().any(|d| d.index() == (start_dow + day) % 7), *t)
                }
                _ => return None,
            };
            let t = SimTime(day * MICROS_PER_DAY) + tod.offset();
            if ok && (t > after || (after == SimTime::ZERO && t >= after)) {
                return Some(t);
            }
        }
        None
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

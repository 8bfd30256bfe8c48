//! Output of a run: time-series samples as it goes, and the summary at the end.

use super::*;
use crate::model::metric_names::{
    CONSISTENCY, LINK_METRICS, RESTORE_TOTALS, STORAGE_METRICS, VAULT_METRICS,
};

impl Sim<'_, '_> {
    /// The `kind` column of a job's row.
    pub(super) fn kind_name(&self, kind: Kind) -> &'static str {
        match kind {
            Kind::Scheduled => "scheduled",
            Kind::OnDemand => "on-demand",
            Kind::Restore(r) => restore_kind_name(self.c.restores[r as usize].kind),
        }
    }

    /// Counts the jobs and restores still in flight when the run stops (at its end, or
    /// after a drain) and reports each to the observer with outcome `in-flight`, in job
    /// number order. A scheduled backup still running after its window's end is a miss.
    pub(super) fn count_in_flight(&mut self) {
        let now = self.q.now();
        let mut live: Vec<(u64, u32)> = self
            .jobs
            .slots()
            .iter()
            .enumerate()
            .filter_map(|(j, job)| job.as_ref().map(|job| (job.id, j as u32)))
            .collect();
        live.sort_unstable();
        // Bytes each job's disk flows still have to move.
        let ahead = now.since(self.net.now()).as_secs_f64();
        let mut left = vec![0.0f64; self.jobs.slots().len()];
        let mut remaining = Vec::new();
        self.net.remaining_by_flow(&mut remaining);
        // By flow id, as the sums always were (a flow finished but not yet collected adds
        // nothing).
        for &(r, j, rate) in remaining.iter().flatten() {
            let l = r - rate * ahead;
            left[j as usize] += l.max(0.0);
        }
        // Out of `self` while their records are made (which needs `self`); none is freed.
        let jobs = std::mem::take(&mut self.jobs);
        for (_, j) in live {
            let job = &jobs[j];
            let fi = job.fleet as usize;
            let pol = &self.c.policies[self.fleets[fi].policy as usize];
            let window_miss = job.kind == Kind::Scheduled && now > job.scheduled + pol.window;
            let is_restore = matches!(job.kind, Kind::Restore(_));
            if job.scheduled >= self.warmup {
                self.st.in_flight[is_restore as usize].add(now.since(job.scheduled));
                if !is_restore {
                    self.st.attempts += 1;
                    if window_miss {
                        self.st.window_jobs += 1;
                        self.st.window_misses += 1;
                    }
                }
            }
            self.report_in_flight(job, window_miss);
            if !self.wants_jobs {
                continue;
            }
            let mut phases = job.phases;
            phases[usize::from(job.phase)] += now.since(job.phase_start);
            // Bytes moved so far: all of them once the transfer is over (a restore creating
            // its VM), its flows' progress during it.
            let bytes = match job.step {
                Step::Create => job.bytes,
                Step::Transfer => (job.bytes as f64 - left[j as usize]).round().max(0.0) as u64,
                _ => 0,
            };
            let rec = JobRecord {
                id: job.id,
                kind: self.kind_name(job.kind),
                fleet: &self.c.fleets[fi].name,
                vm: self.vms[job.vm as usize].index,
                vault: &self.c.vaults[self.fleets[fi].vault as usize].name,
                attempt: job.attempt,
                scheduled: job.scheduled,
                started: job.arrived(),
                finished: now,
                phases,
                bytes: bytes.min(job.bytes),
                outcome: "in-flight",
                error: "",
                consistency: "",
                window_miss,
            };
            self.obs.job(&rec);
        }
        self.jobs = jobs;
    }

    pub(super) fn sample(&mut self, now: SimTime) {
        let dt = now.since(self.last_sample).as_secs_f64();
        for (l, link) in self.c.links.iter().enumerate() {
            let bytes = self.net.link_stats(self.link_ids[l], now).bytes;
            let thr = if dt > 0.0 {
                (bytes - self.link_last_bytes[l]) / dt
            } else {
                0.0
            };
            self.link_last_bytes[l] = bytes;
            let util = thr / link.bandwidth;
            self.link_util_max[l] = self.link_util_max[l].max(util);
            self.sample_buf_links[l] = (thr, util);
        }
        for (v, vs) in self.vaults.iter().enumerate() {
            self.sample_buf_vaults[v] = (vs.stored, vs.points);
        }
        let windows_open = self
            .policy_window_end
            .iter()
            .zip(&self.c.policies)
            .filter(|(&end, p)| {
                p.schedule.is_some()
                    && end > now
                    && now.as_micros() + p.window.as_micros() >= end.as_micros()
            })
            .count() as u64;
        let cost_now = self.cost_now();
        let sample = Sample {
            time: now,
            running_jobs: self.running_backups,
            queued_jobs: self.queued,
            running_restores: self.running_restores,
            windows_open,
            links: &self.sample_buf_links,
            vaults: &self.sample_buf_vaults,
            cost_monthly: self
                .c
                .cost
                .as_ref()
                .zip(cost_now)
                .map(|(c, n)| n.monthly(&c.data_prices())),
            cost_now,
        };
        self.obs.sample(&sample);
        self.night_sample(now);
        self.last_sample = now;
        self.at(now + self.c.simulation.sample_every, Ev::Sample);
    }

    pub(super) fn into_outcome(self) -> Outcome {
        let Sim {
            c,
            mut st,
            vms,
            vaults,
            mut books,
            storage,
            end,
            warmup,
            horizon_links,
            horizon_vaults,
            link_util_max,
            q,
            mut rep,
            policy_fleets,
            cut_short,
            held,
            jobs,
            ..
        } = self;
        // The held points and the job slots are a large run's largest structures, and the
        // outcome needs neither: freed before the histograms and group sums below are
        // built, they do not add up with them in the run's peak memory.
        drop(held);
        drop(jobs);
        let mut m: BTreeMap<String, f64> = BTreeMap::new();
        // A run cut short has RPO samples only up to its last event.
        let rpo_end = if cut_short { q.now() } else { end };
        for vm in &vms {
            if vm.has(flag::SUPPORTED) {
                let h = match rep.fleets[vm.fleet as usize].rpo.as_mut() {
                    Some(h) => h,
                    None => &mut st.rpo,
                };
                let every = c.simulation.rpo_sample_every.as_micros();
                let from = vm.point_arrived.max(warmup);
                record_ages(h, vm.last_point, from, rpo_end, every);
                let since = vm.last_point.as_micros();
                st.batches
                    .rpo(since, rpo_end.as_micros(), from.as_micros(), every);
            }
        }
        let mut partials = crate::model::Partials::default();
        Sim::group_metrics(c, &rep, &mut m, &mut partials);
        // When the fleets keep their own RPO counts, the run's are their sum: the first
        // fleet's are taken, not copied.
        for g in &mut rep.fleets {
            if let Some(r) = g.rpo.take() {
                if st.rpo.count() == 0 {
                    st.rpo = r;
                } else {
                    st.rpo.add(&r);
                }
            }
        }
        partials
            .values
            .insert("backup.window.jobs".into(), st.window_jobs as f64);
        for (kind, w) in ["backup", "restore"].iter().zip(&st.in_flight) {
            partials
                .values
                .insert(format!("{kind}.in_flight.age.sum"), w.age_sum as f64);
        }
        let nights = Sim::nights_table(c, &rep, &policy_fleets);
        outcome_counts(&st, &mut m);
        zero_fill(&mut m, st.restore_bytes);
        in_flight_metrics(&st, &mut m);
        let total_secs = end.as_secs_f64();
        let mut hists: BTreeMap<String, Latency> = BTreeMap::new();
        let mut put = |name: String, l: Latency, m: &mut BTreeMap<String, f64>| {
            l.summarize(&name, m);
            hists.insert(name, l);
        };
        put("backup.duration".into(), st.duration, &mut m);
        put("backup.failed_duration".into(), st.failed_duration, &mut m);
        for (l, name) in st.phase.into_iter().zip(PHASES) {
            put(format!("backup.phase.{name}"), l, &mut m);
        }
        put("restore.duration".into(), st.restore_duration, &mut m);
        put("restore.point_age".into(), st.restore_point_age, &mut m);
        put("rpo".into(), std::mem::take(&mut st.rpo), &mut m);
        for ((i, v), vs) in c.vaults.iter().enumerate().zip(vaults) {
            let [stored, points, stored_max, points_max] = horizon_vaults[i];
            let values = [stored, stored_max, points, points_max];
            for (name, x) in VAULT_METRICS.iter().zip(values) {
                m.insert(format!("vault.{}.{name}", v.name), x as f64);
            }
            if vs.geo {
                put(format!("vault.{}.geo_lag", v.name), vs.geo_lag, &mut m);
            }
        }
        for (name, x) in STORAGE_METRICS.iter().zip(storage.horizon) {
            m.insert((*name).into(), x as f64);
        }
        if let Some(cost) = &c.cost {
            partials.costs = Some(super::cost::cost_metrics(c, cost, &mut books, end, &mut m));
        }
        for (i, l) in c.links.iter().enumerate() {
            let ls = horizon_links[i];
            let values = [
                ls.bytes.round(),
                round6(ls.bytes / (l.bandwidth * total_secs)),
                round6(link_util_max[i]),
                round6(ls.flow_seconds / total_secs),
                round6(ls.down_seconds),
                ls.stalled_bytes.round(),
            ];
            for (name, x) in LINK_METRICS.iter().zip(values) {
                m.insert(format!("link.{}.{name}", l.name), x);
            }
        }
        partials.batch_sums = st.batches.sums().to_vec();
        Outcome {
            summary: m,
            histograms: hists,
            events: q.events_processed(),
            link_names: c.links.iter().map(|l| l.name.clone()).collect(),
            vault_names: c.vaults.iter().map(|v| v.name.clone()).collect(),
            saturated: st.saturated,
            nights,
            batches: st.batches.values(),
            cut_short,
            partials,
        }
    }
}

/// Outcome counters: named counters, failures by code, consistency levels, the job
/// totals and rates.
fn outcome_counts(st: &Stats, m: &mut BTreeMap<String, f64>) {
    for (k, v) in &st.counts.0 {
        m.insert(k.clone(), *v as f64);
    }
    // As with named counters, a key exists once its count is non-zero.
    for c in Code::ALL {
        for (prefix, n) in [
            ("backup.failures", st.failures[c as usize]),
            ("restore.failures", st.restore_failures[c as usize]),
        ] {
            if n > 0 {
                m.insert(format!("{prefix}.{}", c.name()), n as f64);
            }
        }
    }
    for c in CONSISTENCY {
        let n = st.consistency[c as usize];
        if n > 0 {
            m.insert(format!("backup.consistency.{}", c.name()), n as f64);
        }
    }
    if st.retries > 0 {
        m.insert("backup.retries".into(), st.retries as f64);
    }
    let finals = st.succeeded + st.failed;
    // Counted as jobs are created, so that the identity below checks that every job
    // ends in exactly one outcome.
    debug_assert_eq!(st.jobs, finals + st.in_flight[0].count, "job outcomes");
    m.insert(
        "backup.jobs.total".into(),
        (st.jobs + st.unsupported_jobs) as f64,
    );
    m.insert("backup.jobs.succeeded".into(), st.succeeded as f64);
    m.insert("backup.jobs.failed".into(), st.failed as f64);
    m.insert("backup.jobs.unsupported".into(), st.unsupported_jobs as f64);
    m.insert("backup.attempts".into(), st.attempts as f64);
    m.insert(
        "backup.success_rate".into(),
        if finals > 0 {
            round6(st.succeeded as f64 / finals as f64)
        } else {
            0.0
        },
    );
    m.insert(
        "backup.window.miss_rate".into(),
        if st.window_jobs > 0 {
            round6(st.window_misses as f64 / st.window_jobs as f64)
        } else {
            0.0
        },
    );
    m.insert("backup.window.misses".into(), st.window_misses as f64);
    m.insert("backup.bytes.full".into(), st.bytes_full as f64);
    m.insert(
        "backup.bytes.incremental".into(),
        st.bytes_incremental as f64,
    );
}

/// Every known code, reason and total is present (zero when it never happened), so that
/// runs compare metric for metric.
fn zero_fill(m: &mut BTreeMap<String, f64>, restore_bytes: u64) {
    // Every known code and reason is present (zero when it never happened), so that
    // runs compare metric for metric.
    for c in Code::ALL {
        if c != Code::NoRecoveryPoint {
            m.entry(format!("backup.failures.{}", c.name()))
                .or_insert(0.0);
        }
    }
    for r in Unsupported::ALL {
        m.entry(format!("unsupported.{}", r.name())).or_insert(0.0);
        m.entry(format!("unsupported.any.{}", r.name()))
            .or_insert(0.0);
    }
    m.entry("unsupported.vms".into()).or_insert(0.0);
    m.entry("backup.retries".into()).or_insert(0.0);
    for r in Rejection::ALL {
        m.entry(format!("restore.rejected.{}", r.name()))
            .or_insert(0.0);
    }
    for c in CONSISTENCY {
        m.entry(format!("backup.consistency.{}", c.name()))
            .or_insert(0.0);
    }
    for k in RESTORE_TOTALS {
        m.entry(k.into()).or_insert(0.0);
    }
    m.insert("restore.bytes".into(), restore_bytes as f64);
}

/// Work still in flight at the end: counts and ages, always present.
fn in_flight_metrics(st: &Stats, m: &mut BTreeMap<String, f64>) {
    // Always present (zeros), so that runs compare metric for metric.
    for (kind, w) in ["backup", "restore"].iter().zip(&st.in_flight) {
        m.insert(format!("{kind}.jobs.in_flight"), w.count as f64);
        let mean = if w.count > 0 {
            w.age_sum as f64 / w.count as f64 / 1e6
        } else {
            0.0
        };
        m.insert(format!("{kind}.in_flight.age.mean"), round6(mean));
        m.insert(
            format!("{kind}.in_flight.age.max"),
            round6(w.age_max as f64 / 1e6),
        );
    }
}

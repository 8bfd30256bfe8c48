//! Planner reports kept during a run: the core metrics per fleet (summed into per-vault,
//! per-region and per-policy metrics at the end, since a fleet has exactly one of each),
//! the per-night table, and first-wave onboarding.
//!
//! Memory stays bounded: counters per fleet always; the duration and RPO histograms per
//! fleet only when the scenario has at most
//! [`GROUP_HISTOGRAM_FLEETS`](crate::model::metric_names::GROUP_HISTOGRAM_FLEETS) fleets (each pair
//! costs about 0.6 MB). With more fleets the group metrics carry no percentiles.

use std::borrow::Cow;

use super::*;
use crate::model::config::Fleet;
use crate::model::metric_names::{GROUP_DURATION_STATS, GROUP_METRICS, GROUP_RPO_STATS};
use crate::model::nights::Night;

/// Statistics of one group of jobs (a fleet, or the sum of several).
#[derive(Default)]
pub(super) struct GroupStat {
    succeeded: u64,
    failed: u64,
    in_flight: u64,
    failures: [u64; Code::ALL.len()],
    window_jobs: u64,
    window_misses: u64,
    bytes: u64,
    restores: [u64; 2],
    duration: Option<Latency>,
    pub(super) rpo: Option<Latency>,
}

impl GroupStat {
    fn with_histograms() -> GroupStat {
        GroupStat {
            duration: Some(Latency::default()),
            rpo: Some(Latency::default()),
            ..GroupStat::default()
        }
    }

    /// Makes these statistics the sum of `members`' (in their order), keeping the
    /// histograms' memory: counts are cleared where they were recorded, then added.
    fn set_sum<'a>(&mut self, members: impl Iterator<Item = &'a GroupStat>) {
        let (mut duration, mut rpo) = (self.duration.take(), self.rpo.take());
        *self = GroupStat::default();
        if let Some(d) = duration.as_mut() {
            d.clear();
        }
        if let Some(r) = rpo.as_mut() {
            r.clear();
        }
        for o in members {
            self.succeeded += o.succeeded;
            self.failed += o.failed;
            self.in_flight += o.in_flight;
            for (a, b) in self.failures.iter_mut().zip(o.failures) {
                *a += b;
            }
            self.window_jobs += o.window_jobs;
            self.window_misses += o.window_misses;
            self.bytes = self.bytes.saturating_add(o.bytes);
            self.restores[0] += o.restores[0];
            self.restores[1] += o.restores[1];
            if let (Some(a), Some(b)) = (duration.as_mut(), o.duration.as_ref()) {
                a.add(b);
            }
            if let (Some(a), Some(b)) = (rpo.as_mut(), o.rpo.as_ref()) {
                a.add(b);
            }
        }
        self.duration = duration;
        self.rpo = rpo;
    }

    /// The group's metrics, named as the run-wide ones (`backup.succeeded`, …), to be
    /// put under a group's prefix with [`put_metrics`]: computed once for a fleet, they
    /// serve every group of that one fleet (its vault, region or policy).
    fn metrics(&self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        let mut put = |k: &str, v: f64| out.push((k.to_string(), v));
        // In the order of GROUP_METRICS.
        let values = [
            self.succeeded as f64,
            self.failed as f64,
            self.in_flight as f64,
            ratio(self.succeeded, self.succeeded + self.failed),
            self.window_misses as f64,
            ratio(self.window_misses, self.window_jobs),
            self.bytes as f64,
            self.restores[0] as f64,
            self.restores[1] as f64,
        ];
        for (k, v) in GROUP_METRICS.iter().zip(values) {
            put(k, v);
        }
        for c in Code::ALL {
            if self.failures[c as usize] > 0 {
                put(
                    &format!("backup.failures.{}", c.name()),
                    self.failures[c as usize] as f64,
                );
            }
        }
        if let Some(d) = self.duration.as_ref().filter(|d| d.count() > 0) {
            let s = d.stats();
            for st in GROUP_DURATION_STATS {
                put(&format!("backup.duration.{st}"), s[st]);
            }
        }
        if let Some(r) = self.rpo.as_ref().filter(|r| r.count() > 0) {
            let s = r.stats();
            for st in GROUP_RPO_STATS {
                put(&format!("rpo.{st}"), s[st]);
            }
        }
        out
    }
}

/// Puts a group's [`GroupStat::metrics`] under `prefix` (`fleet.db`).
fn put_metrics(prefix: &str, metrics: &[(String, f64)], m: &mut BTreeMap<String, f64>) {
    for (k, v) in metrics {
        m.insert(format!("{prefix}.{k}"), *v);
    }
}

impl GroupStat {
    /// What merging the group over the parts of a partitioned run needs (a region's
    /// fleets may be in several parts): the miss rate's denominator and the histograms.
    fn partials(&self, prefix: &str, p: &mut crate::model::Partials) {
        p.values.insert(
            format!("{prefix}.backup.window.jobs"),
            self.window_jobs as f64,
        );
        if let Some(d) = &self.duration {
            p.histograms
                .insert(format!("{prefix}.backup.duration"), d.clone());
        }
        if let Some(r) = &self.rpo {
            p.histograms.insert(format!("{prefix}.rpo"), r.clone());
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b > 0 {
        round6(a as f64 / b as f64)
    } else {
        0.0
    }
}

/// One (fleet, night) row while the run goes.
#[derive(Clone, Default)]
pub(super) struct NightStat {
    scheduled: u64,
    started: u64,
    succeeded: u64,
    met: u64,
    failed: u64,
    failures: [u64; Code::ALL.len()],
    in_flight: u64,
    misses: u64,
    last_finish: Option<SimTime>,
    bytes: u64,
    peak_util: f64,
}

/// The reports' state: per-fleet statistics, each policy's occurrences, each fleet's nights.
pub(super) struct Reports {
    pub(super) fleets: Vec<GroupStat>,
    occurrences: Vec<Vec<SimTime>>,
    nights: Vec<Vec<NightStat>>,
}

impl Reports {
    /// A fleet's empty statistics: with histograms when the scenario's groups keep them.
    fn fleet_stat(c: &Config) -> GroupStat {
        if c.group_histograms {
            GroupStat::with_histograms()
        } else {
            GroupStat::default()
        }
    }

    pub(super) fn new(c: &Config) -> Reports {
        Reports {
            fleets: (0..c.fleets.len())
                .map(|_| Reports::fleet_stat(c))
                .collect(),
            // Room for every night of the run up front (at most one occurrence a day), so
            // that a night's row never allocates while the run is under way.
            occurrences: (0..c.policies.len())
                .map(|_| Vec::with_capacity(nights_in(c)))
                .collect(),
            nights: (0..c.fleets.len())
                .map(|_| Vec::with_capacity(nights_in(c)))
                .collect(),
        }
    }
}

/// The most policy occurrences a run can hold: one a day, plus the first and the last.
fn nights_in(c: &Config) -> usize {
    let days = c.simulation.duration.as_micros() / crate::engine::time::MICROS_PER_DAY;
    usize::try_from(days).unwrap_or(usize::MAX / 2).min(1 << 16) + 2
}

/// What becomes of a failed backup attempt.
pub(super) enum Fate {
    /// Retried at this time.
    Retry(SimTime),
    /// Its retry is due after the end of a run that does not drain: in flight.
    InFlight,
    /// Final: the job failed.
    Final,
}

impl Sim<'_, '_> {
    /// What becomes of a backup attempt of `job` failing with `code` at `now`.
    pub(super) fn fate(&self, job: &Job, code: Code, now: SimTime) -> Fate {
        let fi = job.fleet as usize;
        let retries = &self.c.policies[self.fleets[fi].policy as usize].retries;
        let retry_at = now + retries.delay;
        let retried = code.retryable() && job.attempt <= retries.max;
        if retried && retry_at <= self.end {
            Fate::Retry(retry_at)
        } else if retried && !self.drain {
            Fate::InFlight
        } else {
            Fate::Final
        }
    }

    /// A policy occurrence at `now`: a new night for each of its fleets.
    pub(super) fn night_open(&mut self, p: usize, now: SimTime) {
        self.rep.occurrences[p].push(now);
        for &fi in &self.policy_fleets[p] {
            self.rep.nights[fi as usize].push(NightStat::default());
        }
    }

    /// Whether VM `i` of fleet `fi` waits for a later night (first-wave onboarding): its
    /// first scheduled backup is `floor(i × days / count)` days after the policy's first
    /// occurrence; earlier occurrences skip it (not scheduled, not a miss).
    /// A VM that joins later (a growing fleet) waits for its join date too.
    pub(super) fn onboard_waits(&self, fi: usize, i: u32, now: SimTime) -> bool {
        if self.not_joined(fi, i, now) {
            return true;
        }
        let f = &self.c.fleets[fi];
        let Some(days) = f.onboard_days else {
            return false;
        };
        // Onboarding spreads the VMs there are at the start.
        let count = f.growth.as_ref().map_or(f.count, |g| g.initial);
        if i >= count {
            return false;
        }
        let first = self.rep.occurrences[f.policy][0];
        let day = u64::from(i) * u64::from(days) / u64::from(count.max(1));
        now.as_micros() < first.as_micros() + day * MICROS_PER_DAY
    }

    /// Whether VM `i` of fleet `fi` (a growing fleet's) has not joined yet at `now`.
    #[inline]
    pub(super) fn not_joined(&self, fi: usize, i: u32, now: SimTime) -> bool {
        self.c.fleets[fi]
            .growth
            .as_ref()
            .is_some_and(|g| now < g.join_time(i))
    }

    /// The VMs of fleet `fi` that have joined by `now`: VMs `0..n` (join times grow with
    /// the index); all of them without growth.
    pub(super) fn joined_count(&self, fi: usize, now: SimTime) -> u32 {
        let f = &self.c.fleets[fi];
        f.growth
            .as_ref()
            .map_or(f.count, |g| g.count_at(now.as_micros()).min(f.count))
    }

    /// VM `vi`'s used bytes at `now` (growing from its join date in a growing fleet, at
    /// most its disks' size).
    pub(super) fn used_now(&mut self, vi: usize, now: SimTime) -> u64 {
        let vm = &self.vms[vi];
        let f = &self.c.fleets[vm.fleet as usize];
        match f.growth.as_ref().filter(|g| g.used.is_some()) {
            None => vm.used_bytes,
            Some(g) => {
                // The disks' size caps the growth: replayed into the job's scratch buffer
                // (no allocation per job).
                let sizes = self.disks.get(self.seed, f, vm, &mut self.disk_buf);
                let cap = sizes.iter().sum();
                g.used_at(vm.used_bytes, g.join_time(vm.index), now, cap)
            }
        }
    }

    /// The night of a scheduled job of fleet `fi`, by its scheduled time: most jobs are
    /// of the policy's latest occurrence, asked first (a search's chain of dependent
    /// loads, twice a job, otherwise).
    fn night(&mut self, fi: usize, scheduled: SimTime) -> Option<&mut NightStat> {
        let p = self.c.fleets[fi].policy;
        let occ = &self.rep.occurrences[p];
        let n = match occ.last() {
            Some(&t) if t == scheduled => occ.len() - 1,
            _ => occ.binary_search(&scheduled).ok()?,
        };
        self.rep.nights[fi].get_mut(n)
    }

    /// A scheduled job arrived for VM `vm` (its first attempt).
    pub(super) fn night_arrival(&mut self, vm: u32, scheduled: SimTime) {
        let fi = self.vms[vm as usize].fleet as usize;
        if let Some(n) = self.night(fi, scheduled) {
            n.scheduled += 1;
        }
    }

    /// A finished attempt (`finish`): its fleet's metrics and its night's row.
    pub(super) fn report_attempt(
        &mut self,
        job: &Job,
        result: Result<(), Code>,
        window_miss: bool,
        now: SimTime,
    ) {
        let fi = job.fleet as usize;
        let counted = job.scheduled >= self.warmup;
        if let Kind::Restore(_) = job.kind {
            if counted {
                self.rep.fleets[fi].restores[result.is_err() as usize] += 1;
            }
            return;
        }
        let fate = match result {
            Ok(()) => None,
            Err(c) => Some((c, self.fate(job, c, now))),
        };
        let scheduled = job.kind == Kind::Scheduled;
        if counted {
            let g = &mut self.rep.fleets[fi];
            match fate {
                None => {
                    g.succeeded += 1;
                    g.bytes = g.bytes.saturating_add(job.bytes);
                    if let Some(d) = g.duration.as_mut() {
                        d.record(now.since(job.arrived()));
                    }
                }
                Some((_, Fate::Retry(_))) => {}
                Some((_, Fate::InFlight)) => g.in_flight += 1,
                Some((c, Fate::Final)) => {
                    g.failed += 1;
                    g.failures[c as usize] += 1;
                }
            }
            // As the run-wide counts: every outcome is judged against the window, a job
            // in flight only once it missed it.
            let judged = match fate {
                None | Some((_, Fate::Final)) => true,
                Some((_, Fate::InFlight)) => window_miss,
                Some((_, Fate::Retry(_))) => false,
            };
            if scheduled && judged {
                g.window_jobs += 1;
                g.window_misses += window_miss as u64;
            }
        }
        if !scheduled {
            return;
        }
        let first = job.attempt == 1 && job.phase != Q;
        let Some(n) = self.night(fi, job.scheduled) else {
            return;
        };
        n.started += first as u64;
        match fate {
            None => {
                n.succeeded += 1;
                n.met += !window_miss as u64;
                n.bytes = n.bytes.saturating_add(job.bytes);
                n.last_finish = Some(n.last_finish.map_or(now, |t| t.max(now)));
            }
            Some((_, Fate::Retry(_))) => return,
            Some((_, Fate::InFlight)) => n.in_flight += 1,
            Some((c, Fate::Final)) => {
                n.failed += 1;
                n.failures[c as usize] += 1;
                n.last_finish = Some(n.last_finish.map_or(now, |t| t.max(now)));
            }
        }
        n.misses += window_miss as u64;
    }

    /// A job still open when the run stops (`count_in_flight`).
    pub(super) fn report_in_flight(&mut self, job: &Job, window_miss: bool) {
        if matches!(job.kind, Kind::Restore(_)) {
            return;
        }
        let fi = job.fleet as usize;
        if job.scheduled >= self.warmup {
            let g = &mut self.rep.fleets[fi];
            g.in_flight += 1;
            if window_miss {
                g.window_jobs += 1;
                g.window_misses += 1;
            }
        }
        if job.kind != Kind::Scheduled {
            return;
        }
        let started = job.attempt == 1 && job.step != Step::Queued;
        if let Some(n) = self.night(fi, job.scheduled) {
            n.started += started as u64;
            n.in_flight += 1;
            n.misses += window_miss as u64;
        }
    }

    /// A time-series sample at `now` (link utilisations in `sample_buf_links`): the peak
    /// utilisation of each open night's links.
    pub(super) fn night_sample(&mut self, now: SimTime) {
        let since = self.last_sample;
        for (fi, f) in self.c.fleets.iter().enumerate() {
            let window = self.c.policies[f.policy].window;
            let occ = &self.rep.occurrences[f.policy];
            let peak = self.fleets[fi]
                .links
                .iter()
                .map(|&l| self.sample_buf_links[l as usize].1)
                .fold(0.0, f64::max);
            // Nights whose window (occurrence, occurrence + window] overlaps the
            // sample's interval (since, now], newest first.
            for (n, &at) in occ.iter().enumerate().rev() {
                if at + window <= since {
                    break;
                }
                if at < now {
                    let row = &mut self.rep.nights[fi][n];
                    row.peak_util = row.peak_util.max(peak);
                }
            }
        }
    }

    /// The per-group metrics (fleets, then their sums per vault, region and policy).
    pub(super) fn group_metrics(
        c: &Config,
        rep: &Reports,
        m: &mut BTreeMap<String, f64>,
        partials: &mut crate::model::Partials,
    ) {
        // A fleet's metrics (the statistics of its histograms) are computed once: a group
        // of that one fleet has the same.
        let fleet_metrics: Vec<Vec<(String, f64)>> =
            rep.fleets.iter().map(GroupStat::metrics).collect();
        for (f, fm) in c.fleets.iter().zip(&fleet_metrics) {
            put_metrics(&format!("fleet.{}", f.name), fm, m);
        }
        // A group of one fleet is that fleet's metrics (no copy of its histograms); a
        // group of several is summed into one reused scratch, whose histograms' pages
        // are touched once for all groups. The scratch keeps histograms when the fleets
        // do (and a group without fleets has none).
        let empty = GroupStat::default();
        let empty_metrics = empty.metrics();
        let mut sum = Reports::fleet_stat(c);
        type Of = fn(&Config, &Fleet) -> usize;
        let groups: [(&str, Vec<&str>, Of); 3] = [
            (
                "vault",
                c.vaults.iter().map(|v| v.name.as_str()).collect(),
                |c, f| c.policies[f.policy].vault,
            ),
            (
                "region",
                c.regions.iter().map(String::as_str).collect(),
                |_, f| f.region,
            ),
            (
                "policy",
                c.policies.iter().map(|p| p.name.as_str()).collect(),
                |_, f| f.policy,
            ),
        ];
        for (kind, names, of) in groups {
            let mut members: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
            for (fi, f) in c.fleets.iter().enumerate() {
                members[of(c, f)].push(fi);
            }
            for (name, ms) in names.iter().zip(&members) {
                let (g, metrics) = match ms.as_slice() {
                    [] => (&empty, Cow::Borrowed(&empty_metrics)),
                    [one] => (&rep.fleets[*one], Cow::Borrowed(&fleet_metrics[*one])),
                    many => {
                        sum.set_sum(many.iter().map(|&fi| &rep.fleets[fi]));
                        (&sum, Cow::Owned(sum.metrics()))
                    }
                };
                let prefix = format!("{kind}.{name}");
                put_metrics(&prefix, &metrics, m);
                // Only a part's are merged; a whole run would copy the histograms for
                // nothing.
                if kind == "region" && c.part {
                    g.partials(&prefix, partials);
                }
            }
        }
    }

    /// The per-night table: policies in scenario order, then nights, then the policy's
    /// fleets in scenario order.
    pub(super) fn nights_table(c: &Config, rep: &Reports, fleets_of: &[Vec<u32>]) -> Vec<Night> {
        let mut out = Vec::new();
        let dow0 = u64::from(c.simulation.start_weekday);
        for (p, pol) in c.policies.iter().enumerate() {
            for (n, &at) in rep.occurrences[p].iter().enumerate() {
                for &fi in &fleets_of[p] {
                    let s = &rep.nights[fi as usize][n];
                    out.push(Night {
                        policy: pol.name.clone(),
                        fleet: c.fleets[fi as usize].name.clone(),
                        night: n as u32,
                        scheduled_at: at,
                        weekday: ((dow0 + day_of(at)) % 7) as u8,
                        date: c.simulation.start_date.map(|d0| d0 + day_of(at) as i64),
                        window_end: at + pol.window,
                        scheduled: s.scheduled,
                        started: s.started,
                        succeeded: s.succeeded,
                        met_window: s.met,
                        failed: s.failed,
                        failures: Code::ALL
                            .iter()
                            .filter(|&&c| s.failures[c as usize] > 0)
                            .map(|&c| (c.name(), s.failures[c as usize]))
                            .collect(),
                        in_flight: s.in_flight,
                        window_misses: s.misses,
                        last_finish: s.last_finish,
                        bytes: s.bytes,
                        peak_utilization: round6(s.peak_util),
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(durations_s: &[u64], rpo_s: &[u64], succeeded: u64) -> GroupStat {
        let mut g = GroupStat::with_histograms();
        g.succeeded = succeeded;
        for &d in durations_s {
            g.duration
                .as_mut()
                .unwrap()
                .record(SimDuration::from_secs(d));
        }
        for &a in rpo_s {
            g.rpo.as_mut().unwrap().record(SimDuration::from_secs(a));
        }
        g
    }

    fn summary(g: &GroupStat) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        put_metrics("g", &g.metrics(), &mut m);
        m
    }

    /// A group's sum reuses one scratch: summed twice over different fleets, each sum
    /// is exactly the one a fresh group gets (nothing of the first sum is left in the
    /// second), and it equals the statistics of all the fleets' values recorded at once.
    #[test]
    fn a_reused_group_sum_equals_a_fresh_one() {
        let (a, b) = (
            fleet(&[60, 7_200], &[3_600], 2),
            fleet(&[90_000], &[10, 86_400], 1),
        );
        let c = fleet(&[5], &[1], 1);
        let mut sum = GroupStat::with_histograms();
        sum.set_sum([&a, &b].into_iter());
        let first = summary(&sum);
        assert_eq!(
            first,
            summary(&fleet(&[60, 7_200, 90_000], &[3_600, 10, 86_400], 3))
        );
        // The median, 7 200 s, lies in a bucket 2^22 µs wide (values of 2^32 to 2^33
        // µs): its highest value is (⌊7.2e9 / 2^22⌋ + 1) × 2^22 − 1 = 7 201 619 967 µs.
        assert_eq!(first["g.backup.duration.p50"], 7_201.619_967);
        sum.set_sum([&c, &a].into_iter());
        assert_eq!(
            summary(&sum),
            summary(&fleet(&[5, 60, 7_200], &[1, 3_600], 3))
        );
    }
}

//! Output of a run: time-series samples as it goes, and the summary at the end.

use super::*;
use crate::model::metric_names::{CONSISTENCY, LINK_METRICS, RESTORE_TOTALS, VAULT_METRICS};

impl Sim<'_, '_> {
    pub(super) fn sample(&mut self, now: SimTime) {
        let dt = now.since(self.last_sample).as_secs_f64();
        for (l, link) in self.s.link.iter().enumerate() {
            let bytes = self.net.link_stats(self.link_ids[l], now).bytes;
            let thr = if dt > 0.0 {
                (bytes - self.link_last_bytes[l]) / dt
            } else {
                0.0
            };
            self.link_last_bytes[l] = bytes;
            let util = thr / link.bandwidth.0;
            self.link_util_max[l] = self.link_util_max[l].max(util);
            self.sample_buf_links[l] = (thr, util);
        }
        for (v, vs) in self.vaults.iter().enumerate() {
            self.sample_buf_vaults[v] = (vs.stored, vs.points);
        }
        let windows_open = self
            .policy_window_end
            .iter()
            .zip(&self.s.policy)
            .filter(|(&end, p)| {
                p.schedule.is_some()
                    && end > now
                    && now.as_micros() + p.window.0.as_micros() >= end.as_micros()
            })
            .count() as u64;
        let sample = Sample {
            time: now,
            running_jobs: self.running_backups,
            queued_jobs: self.queued,
            running_restores: self.running_restores,
            windows_open,
            links: &self.sample_buf_links,
            vaults: &self.sample_buf_vaults,
        };
        self.obs.sample(&sample);
        self.last_sample = now;
        self.at(now + self.s.simulation.sample_every.0, Ev::Sample);
    }

    pub(super) fn into_outcome(self) -> Outcome {
        let Sim {
            s,
            mut st,
            vms,
            vaults,
            net,
            end,
            link_ids,
            link_util_max,
            q,
            ..
        } = self;
        let mut m: BTreeMap<String, f64> = BTreeMap::new();
        for vm in &vms {
            if vm.has(flag::SUPPORTED) {
                record_ages(
                    &mut st.rpo,
                    vm.last_point,
                    end,
                    s.simulation.rpo_sample_every.0.as_micros(),
                );
            }
        }
        let total_secs = end.as_secs_f64();
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
        m.insert(
            "backup.jobs.total".into(),
            (finals + st.unsupported_jobs) as f64,
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
        m.insert("restore.bytes".into(), st.restore_bytes as f64);
        let mut hists: BTreeMap<String, hdrhistogram::Histogram<u64>> = BTreeMap::new();
        let mut put = |name: String, l: &Latency, m: &mut BTreeMap<String, f64>| {
            l.summarize(&name, m);
            hists.insert(name, l.0.clone());
        };
        put("backup.duration".into(), &st.duration, &mut m);
        put("backup.failed_duration".into(), &st.failed_duration, &mut m);
        for (p, name) in PHASES.iter().enumerate() {
            put(format!("backup.phase.{name}"), &st.phase[p], &mut m);
        }
        put("restore.duration".into(), &st.restore_duration, &mut m);
        put("restore.point_age".into(), &st.restore_point_age, &mut m);
        let mut rpo = Latency::default();
        st.rpo.add_to(&mut rpo);
        put("rpo".into(), &rpo, &mut m);
        for (i, v) in s.vault.iter().enumerate() {
            let vs = &vaults[i];
            let values = [vs.stored, vs.stored_max, vs.points, vs.points_max];
            for (name, x) in VAULT_METRICS.iter().zip(values) {
                m.insert(format!("vault.{}.{name}", v.name), x as f64);
            }
            if vs.geo {
                put(format!("vault.{}.geo_lag", v.name), &vs.geo_lag, &mut m);
            }
        }
        for (i, l) in s.link.iter().enumerate() {
            let ls = net.link_stats(link_ids[i], end);
            let values = [
                ls.bytes.round(),
                round6(ls.bytes / (l.bandwidth.0 * total_secs)),
                round6(link_util_max[i]),
                round6(ls.flow_seconds / total_secs),
                round6(ls.down_seconds),
                ls.stalled_bytes.round(),
            ];
            for (name, x) in LINK_METRICS.iter().zip(values) {
                m.insert(format!("link.{}.{name}", l.name), x);
            }
        }
        Outcome {
            summary: m,
            histograms: hists,
            events: q.events_processed(),
            link_names: s.link.iter().map(|l| l.name.clone()).collect(),
            vault_names: s.vault.iter().map(|v| v.name.clone()).collect(),
            saturated: st.saturated,
        }
    }
}

//! Restores: drills and Poisson streams, the service's rejections, and the choice of
//! recovery point. Admitted restores then share the backup job machinery (vault queue,
//! transfer over the fleet's path) and end with VM creation.

use super::*;
use crate::model::config::RestoreWhen;

impl Sim<'_, '_> {
    pub(super) fn schedule_restore_stream(&mut self, i: usize) {
        let RestoreWhen::PerDay(rate) = self.c.restores[i].when else {
            return;
        };
        let u: f64 = self.restore_rng[i].gen();
        let gap = SimDuration::from_secs_f64(-(1.0 - u).ln() / rate * 86_400.0);
        // A tiny rate can draw a gap beyond the clock's range: then it never fires.
        if let Some(t) = self.q.now().checked_add(gap) {
            self.at(t, Ev::Restore(i as u32));
        }
    }

    pub(super) fn restore_fire(&mut self, r: usize, now: SimTime) {
        let spec = &self.c.restores[r];
        let fi = spec.fleet;
        // A growing fleet's restores pick among the VMs that have joined.
        let (first, count) = (self.fleets[fi].first_vm, self.joined_count(fi, now));
        self.restore_fired[r] += 1;
        let n = spec.count.min(count);
        // VMs drawn without replacement (partial Fisher-Yates over the fleet's indices).
        let mut picks: Vec<u32> = Vec::with_capacity(n as usize);
        {
            let rng = &mut self.restore_rng[r];
            let mut chosen = std::collections::BTreeMap::new();
            for k in 0..n {
                let x = rng.gen_range(k..count);
                let vx = *chosen.get(&x).unwrap_or(&x);
                let vk = *chosen.get(&k).unwrap_or(&k);
                chosen.insert(x, vk);
                picks.push(vx);
            }
        }
        let vault_region = self.c.vaults[self.fleets[fi].vault as usize].region;
        for i in picks {
            let vm = first + i;
            self.restore_one(r, vm, vault_region, now);
        }
        if matches!(spec.when, RestoreWhen::PerDay(_)) {
            self.schedule_restore_stream(r);
        }
    }

    pub(super) fn restore_one(&mut self, r: usize, vm: u32, vault_region: usize, now: SimTime) {
        let spec = &self.c.restores[r];
        // Requests during the warm-up are simulated but not counted.
        let counted = now >= self.warmup;
        if counted {
            self.st.counts.add("restore.jobs.total", 1);
        }
        let v = self.vms[vm as usize].clone();
        let rejection = if spec.kind == RestoreKind::ReplaceExisting && !spec.disks_deleted {
            Some(Rejection::ReplaceExistingNotSupported)
        } else if spec.target_region != vault_region {
            Some(Rejection::CrossRegionRestoreNotSupported)
        } else if v.has(flag::MULTI_DC) && spec.via == Via::Portal {
            Some(Rejection::DomainControllerRequiresPowerShell)
        } else {
            None
        };
        if let Some(rej) = rejection {
            if counted {
                self.st.counts.add("restore.jobs.rejected", 1);
                self.st
                    .counts
                    .add(&format!("restore.rejected.{}", rej.name()), 1);
            }
            // Every request takes a job number, whether or not jobs.csv is written: the
            // numbering must not depend on the output settings.
            let id = self.next_job_id;
            self.next_job_id += 1;
            if self.wants_jobs {
                let fi = v.fleet as usize;
                let rec = JobRecord {
                    id,
                    kind: restore_kind_name(spec.kind),
                    fleet: &self.c.fleets[fi].name,
                    vm: v.index,
                    vault: &self.c.vaults[self.fleets[fi].vault as usize].name,
                    attempt: 1,
                    scheduled: now,
                    started: now,
                    finished: now,
                    phases: [SimDuration::ZERO; 5],
                    bytes: 0,
                    outcome: "rejected",
                    error: rej.name(),
                    consistency: "",
                    window_miss: false,
                };
                self.obs.job(&rec);
            }
            return;
        }
        let j = self.new_job(vm, Kind::Restore(r as u32), now, 1, now);
        // The point used, among those the vault holds: the newest, the oldest, or one
        // drawn uniformly.
        let vi = vm as usize;
        let Some(newest) = self.held.newest_time(vi) else {
            self.finish(j, now, Err(Code::NoRecoveryPoint));
            return;
        };
        let nth = |held: &points::PointStore, k| held.iter(vi).nth(k).expect("held").time();
        let point = match spec.point {
            PointChoice::Latest => newest,
            PointChoice::Oldest => nth(&self.held, 0),
            PointChoice::Random => {
                let n = self.held.len(vi);
                let k = self.job(j).rng.gen_range(0..n);
                nth(&self.held, k)
            }
        };
        if counted {
            self.st.restore_point_age.record(now.since(point));
        }
        if self.vms[vm as usize].busy != NONE {
            self.finish(j, now, Err(Code::UserErrorBackupOperationInProgress));
            return;
        }
        self.vms[vm as usize].busy = j;
        self.enqueue(j, now);
    }
}

pub(super) fn restore_kind_name(k: RestoreKind) -> &'static str {
    match k {
        RestoreKind::CreateVm => "restore:create-vm",
        RestoreKind::RestoreDisks => "restore:restore-disks",
        RestoreKind::ReplaceExisting => "restore:replace-existing",
    }
}

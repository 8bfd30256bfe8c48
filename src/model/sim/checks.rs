//! Invariants checked during a run (TigerBeetle-style checkers), not only on the summary:
//! after every event when the run is built with [`super::simulate_checked`], which the
//! tests use on small scenarios. A broken invariant is a simulator bug: the run stops with
//! [`Failure::Invariant`] naming it, the simulated time and the entity.

use super::*;

impl Sim<'_, '_> {
    /// Checks every invariant of the run's state at `now`.
    pub(super) fn check_invariants(&self, now: SimTime) -> Result<(), Failure> {
        let queued = self.check_gates();
        let checks = queued
            .and_then(|q| self.check_counters(q))
            .and_then(|()| self.check_queues())
            .and_then(|()| self.check_vm_owners())
            .and_then(|()| self.check_storage())
            .and_then(|()| self.check_lanes(now));
        checks.map_err(|what| Failure::Invariant(format!("{what} (at t = {} µs)", now.as_micros())))
    }

    /// No vault, fleet or cloud service runs more jobs than its limit, and no cloud service
    /// keeps jobs waiting with a slot free; returns the jobs waiting in their queues.
    fn check_gates(&self) -> Result<u64, String> {
        // Gates: no vault or fleet runs more jobs than its limit.
        let mut queued = 0u64;
        for (v, vs) in self.gates.iter().enumerate() {
            if vs.running > vs.limit {
                return Err(format!(
                    "vault #{v} runs {} jobs, above its limit {}",
                    vs.running, vs.limit
                ));
            }
            queued += vs.queue.len() as u64;
        }
        queued += self
            .vaults
            .iter()
            .map(|v| v.pending.len() as u64)
            .sum::<u64>();
        for (f, fr) in self.fleets.iter().enumerate() {
            if fr.running > fr.limit {
                return Err(format!(
                    "fleet #{f} runs {} jobs, above its limit {}",
                    fr.running, fr.limit
                ));
            }
            queued += fr.queue.len() as u64;
            for (g, gate) in fr.cs.iter().enumerate() {
                let n = gate.running;
                if n > fr.cs_limit {
                    return Err(format!(
                        "cloud service #{g} of fleet #{f} runs {n} jobs, above its limit {}",
                        fr.cs_limit
                    ));
                }
                let waiting = self.cs_waiting(f, g).count();
                if waiting > 0 && n < fr.cs_limit {
                    return Err(format!(
                        "cloud service #{g} of fleet #{f} has {waiting} jobs waiting with a slot free"
                    ));
                }
                queued += waiting as u64;
            }
        }
        Ok(queued)
    }

    /// The counters agree with the slots the live jobs hold, their flows, and `queued`;
    /// each slot's entry of `job_net` names its job's VM.
    fn check_counters(&self, queued: u64) -> Result<(), String> {
        // Counters agree with the slots the live jobs hold and with their flows.
        let (mut vault_slots, mut fleet_slots) = (0u64, 0u64);
        let (mut backups, mut restores, mut flows) = (0u64, 0u64, 0u64);
        if self.job_net.len() != self.jobs.slots().len() {
            return Err(format!(
                "{} job slots but {} flow counts",
                self.jobs.slots().len(),
                self.job_net.len()
            ));
        }
        for (job, &JobNet { flows: n, vm }) in self.jobs.slots().iter().zip(&self.job_net) {
            let Some(job) = job else { continue };
            if vm != job.vm {
                return Err(format!(
                    "job {} of VM {} has VM {vm} beside its slot",
                    job.id, job.vm
                ));
            }
            let restore = matches!(job.kind, Kind::Restore(_));
            vault_slots += u64::from(job.vault_slot);
            fleet_slots += u64::from(job.fleet_slot);
            backups += u64::from(!restore && job.fleet_slot && job.step != Step::Queued);
            restores += u64::from(restore && job.vault_slot);
            flows += u64::from(n);
        }
        let vaults_running: u64 = self.gates.iter().map(|v| u64::from(v.running)).sum();
        let fleets_running: u64 = self.fleets.iter().map(|f| u64::from(f.running)).sum();
        if vaults_running != vault_slots || fleets_running != fleet_slots {
            return Err(format!(
                "vaults run {vaults_running} and fleets {fleets_running} jobs but live jobs hold {vault_slots} and {fleet_slots} slots"
            ));
        }
        if (backups, restores) != (self.running_backups, self.running_restores) {
            return Err(format!(
                "{backups} backups and {restores} restores run but {} and {} are counted",
                self.running_backups, self.running_restores
            ));
        }
        // (A flow that completed but whose completion was not collected yet is in use.)
        let live_flows = self.net.flows_in_use() as u64;
        if flows != live_flows || live_flows < self.net.active_flows() as u64 {
            return Err(format!(
                "jobs count {flows} disk flows, the network has {live_flows} in use and runs {}",
                self.net.active_flows()
            ));
        }
        if queued != self.queued {
            return Err(format!(
                "{queued} jobs wait in the queues but {} are counted",
                self.queued
            ));
        }
        Ok(())
    }

    fn check_queues(&self) -> Result<(), String> {
        // Queued jobs are live and still in their queue phase.
        let cs_waiting = (0..self.fleets.len())
            .flat_map(|f| (0..self.fleets[f].cs.len()).flat_map(move |g| self.cs_waiting(f, g)));
        let queues = self
            .gates
            .iter()
            .flat_map(|v| v.queue.iter().map(|&(j, _)| j))
            .chain(self.vaults.iter().flat_map(|v| v.pending.iter().copied()))
            .chain(self.fleets.iter().flat_map(|f| f.queue.iter().copied()))
            .chain(cs_waiting);
        for j in queues {
            match self.jobs.get(j) {
                None => return Err(format!("job slot {j} waits in a queue but is not live")),
                Some(job) if job.phase != Q => {
                    return Err(format!(
                        "job {} waits in a queue in phase {}",
                        job.id, job.phase
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn check_vm_owners(&self) -> Result<(), String> {
        // One job per VM: a VM marked busy is owned by a live job of that VM.
        for (i, vm) in self.vms.iter().enumerate() {
            if vm.busy == NONE {
                continue;
            }
            match self.jobs.get(vm.busy) {
                Some(job) if job.vm as usize == i => {}
                Some(job) => {
                    return Err(format!(
                        "VM #{i} is owned by job {}, which belongs to VM #{}",
                        job.id, job.vm
                    ))
                }
                None => return Err(format!("VM #{i} is owned by a finished job slot")),
            }
        }
        Ok(())
    }

    fn check_storage(&self) -> Result<(), String> {
        // Storage: each vault's totals are the sums over the points its VMs hold, and a
        // VM that ever had a point still holds one.
        let mut sums = vec![(0u128, 0u64); self.vaults.len()];
        let held = &self.held;
        for (i, vm) in self.vms.iter().enumerate() {
            if vm.first_point != SimTime::NEVER && held.is_empty(i) {
                return Err(format!("VM #{i} had a recovery point but holds none"));
            }
            let s = &mut sums[self.fleets[vm.fleet as usize].vault as usize];
            s.0 += held.iter(i).map(|p| u128::from(p.bytes)).sum::<u128>();
            s.1 += held.len(i) as u64;
        }
        for (v, (vs, &(bytes, points))) in self.vaults.iter().zip(&sums).enumerate() {
            // Saturated byte counts (sizes drawn up to 16 EiB) are no longer exact.
            let exact = !vs.saturated;
            if points != vs.points || (exact && bytes != u128::from(vs.stored)) {
                return Err(format!(
                    "vault #{v} counts {} bytes in {} points but its VMs hold {bytes} bytes in {points} points",
                    vs.stored, vs.points
                ));
            }
        }
        // The books: each fleet's and the run's stored bytes are the same points' sums.
        if self.vaults.iter().all(|v| !v.saturated) {
            let vaults: u128 = sums.iter().map(|s| s.0).sum();
            let fleets: u128 = self.books.iter().map(|b| u128::from(b.stored)).sum();
            if fleets != vaults || u128::from(self.storage.total) != vaults {
                return Err(format!(
                    "the vaults hold {vaults} bytes but the fleets' books count {fleets} and the total {}",
                    self.storage.total
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NoObserver;
    use crate::scenario::load_str;

    const SMALL: &str = r#"
[simulation]
name = "checks"
duration = "2d"
sample_every = "1h"
[[region]]
name = "r"
[[link]]
name = "l"
bandwidth = "1 Gbit/s"
[[vault]]
name = "v"
region = "r"
max_concurrent_jobs = 2
[[policy]]
name = "p"
vault = "v"
schedule = { daily = "22:00" }
[[fleet]]
name = "f"
count = 10
region = "r"
policy = "p"
path = ["l"]
"#;

    #[test]
    fn each_invariant_can_fail() {
        let l = load_str(SMALL, std::path::Path::new("checks.toml"), &[]).unwrap();
        let mut obs = NoObserver;
        let mut sim = Sim::new(&l.config, &mut obs).unwrap();
        assert!(sim.check_invariants(SimTime::ZERO).is_ok());
        let broken = |sim: &Sim<'_, '_>| match sim.check_invariants(SimTime(7)) {
            Err(Failure::Invariant(m)) => m,
            other => panic!("expected a broken invariant, found {other:?}"),
        };
        sim.gates[0].running = 3;
        assert!(broken(&sim).contains("vault #0 runs 3 jobs, above its limit 2"));
        sim.gates[0].running = 1;
        assert!(broken(&sim).contains("vaults run 1 and fleets 0 jobs but live jobs hold 0"));
        sim.gates[0].running = 0;
        sim.running_backups = 1;
        assert!(broken(&sim).contains("0 backups and 0 restores run but 1 and 0"));
        sim.running_backups = 0;
        sim.queued = 1;
        assert!(broken(&sim).contains("0 jobs wait in the queues but 1 are counted"));
        sim.queued = 0;
        sim.vms[3].busy = 5;
        assert!(broken(&sim).contains("VM #3 is owned by a finished job slot"));
        sim.vms[3].busy = NONE;
        sim.vaults[0].points += 1;
        assert!(broken(&sim).contains("vault #0 counts 0 bytes in 1 points"));
    }
}

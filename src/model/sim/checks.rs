//! Invariants checked during a run (TigerBeetle-style checkers), not only on the summary:
//! after every event when the run is built with [`super::simulate_checked`], which the
//! tests use on small scenarios. A broken invariant is a simulator bug: the run stops with
//! [`Failure::Invariant`] naming it, the simulated time and the entity.

use super::*;

impl Sim<'_, '_> {
    /// Checks every invariant of the run's state at `now`.
    pub(super) fn check_invariants(&self, now: SimTime) -> Result<(), Failure> {
        let fail = |what: String| {
            Err(Failure::Invariant(format!(
                "{what} (at t = {} µs)",
                now.as_micros()
            )))
        };
        // Gates: no vault or fleet runs more jobs than its limit.
        let mut running = 0u64;
        let mut queued = 0u64;
        for (v, vs) in self.gates.iter().enumerate() {
            if vs.running > vs.limit {
                return fail(format!(
                    "vault #{v} runs {} jobs, above its limit {}",
                    vs.running, vs.limit
                ));
            }
            running += u64::from(vs.running);
            queued += vs.queue.len() as u64;
        }
        for (f, fr) in self.fleets.iter().enumerate() {
            if fr.running > fr.limit {
                return fail(format!(
                    "fleet #{f} runs {} jobs, above its limit {}",
                    fr.running, fr.limit
                ));
            }
            queued += fr.queue.len() as u64;
            for (g, (&n, q)) in fr.cs_running.iter().zip(&fr.cs_queue).enumerate() {
                if n > fr.cs_limit {
                    return fail(format!(
                        "cloud service #{g} of fleet #{f} runs {n} jobs, above its limit {}",
                        fr.cs_limit
                    ));
                }
                queued += q.len() as u64;
            }
        }
        // Counters agree with the gates.
        if running != self.running_backups + self.running_restores {
            return fail(format!(
                "vaults run {running} jobs but {} backups and {} restores are counted",
                self.running_backups, self.running_restores
            ));
        }
        if queued != self.queued {
            return fail(format!(
                "{queued} jobs wait in the queues but {} are counted",
                self.queued
            ));
        }
        // Queued jobs are live and still in their queue phase.
        let queues = self
            .gates
            .iter()
            .flat_map(|v| v.queue.iter())
            .chain(self.fleets.iter().flat_map(|f| f.queue.iter()))
            .chain(self.fleets.iter().flat_map(|f| f.cs_queue.iter().flatten()));
        for &j in queues {
            match self.jobs.get(j as usize).and_then(Option::as_ref) {
                None => return fail(format!("job slot {j} waits in a queue but is not live")),
                Some(job) if job.phase != Q => {
                    return fail(format!(
                        "job {} waits in a queue in phase {}",
                        job.id, job.phase
                    ))
                }
                Some(_) => {}
            }
        }
        // One job per VM: a VM marked busy is owned by a live job of that VM.
        for (i, vm) in self.vms.iter().enumerate() {
            if vm.busy == NONE {
                continue;
            }
            match self.jobs.get(vm.busy as usize).and_then(Option::as_ref) {
                Some(job) if job.vm as usize == i => {}
                Some(job) => {
                    return fail(format!(
                        "VM #{i} is owned by job {}, which belongs to VM #{}",
                        job.id, job.vm
                    ))
                }
                None => return fail(format!("VM #{i} is owned by a finished job slot")),
            }
        }
        // Storage: each vault's totals are the sums over the points its VMs hold, and a
        // VM that ever had a point still holds one.
        let mut sums = vec![(0u128, 0u64); self.vaults.len()];
        for (i, (vm, held)) in self.vms.iter().zip(&self.held).enumerate() {
            if vm.first_point != SimTime::NEVER && held.pts.is_empty() {
                return fail(format!("VM #{i} had a recovery point but holds none"));
            }
            let s = &mut sums[self.fleets[vm.fleet as usize].vault as usize];
            s.0 += held.pts.iter().map(|p| u128::from(p.bytes)).sum::<u128>();
            s.1 += held.pts.len() as u64;
        }
        for (v, (vs, &(bytes, points))) in self.vaults.iter().zip(&sums).enumerate() {
            // Saturated byte counts (sizes drawn up to 16 EiB) are no longer exact.
            let exact = !vs.saturated;
            if points != vs.points || (exact && bytes != u128::from(vs.stored)) {
                return fail(format!(
                    "vault #{v} counts {} bytes in {} points but its VMs hold {bytes} bytes in {points} points",
                    vs.stored, vs.points
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
        assert!(broken(&sim).contains("vaults run 1 jobs but 0 backups"));
        sim.gates[0].running = 0;
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

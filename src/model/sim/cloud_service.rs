//! The cloud-service gate: at most `cloud_service_limit` VMs of one cloud service back up
//! at once (4 in 2016, then 10). It gates the start of the snapshot: a job whose extension
//! step is done waits here (FIFO per cloud service, in its queue phase) and holds its slot
//! until it finishes. Also where a VM's vault gate (its vault copy) and its network path
//! (its storage account's) are found.

use super::*;

impl Sim<'_, '_> {
    /// The vault gate of job `j`'s VM.
    pub(super) fn gate_of(&self, j: u32) -> usize {
        self.jobs[j].gate as usize
    }

    /// The vault gate of VM `vi`: its fleet's VMs are spread over the vault's copies in
    /// blocks by index.
    pub(super) fn vm_gate(&self, vi: usize) -> usize {
        let vm = &self.vms[vi];
        let f = &self.fleets[vm.fleet as usize];
        let copy = u64::from(vm.index) * u64::from(f.gates) / u64::from(f.count.max(1));
        f.gate as usize + copy as usize
    }

    /// The network path of VM `vi`'s transfers: its fleet's links, and its storage
    /// account's when that can bind.
    pub(super) fn vm_path(&self, vm_index: usize) -> PathId {
        let vm = &self.vms[vm_index];
        let f = &self.fleets[vm.fleet as usize];
        if f.sa_paths.is_empty() {
            f.path
        } else {
            f.sa_paths[self.c.fleets[vm.fleet as usize].storage_account_of(vm.index) as usize]
        }
    }

    /// Job `j`'s extension step is done: it takes a slot of its cloud service and starts
    /// its snapshot, or waits for a slot.
    pub(super) fn cloud_service_enter(&mut self, j: u32, now: SimTime) {
        let vi = vm_idx(self, j);
        let vm = &self.vms[vi];
        let g = self.c.fleets[vm.fleet as usize].cloud_service_of(vm.index) as usize;
        let f = &mut self.fleets[vm.fleet as usize];
        if f.cs_running.is_empty() {
            // The gate cannot bind (a cloud service has no more VMs than the limit).
            self.snapshot(j, now);
            return;
        }
        // Jobs wait here only while every slot is taken (`cloud_service_release` hands a
        // freed slot to the next waiting job at once; `check_gates` asserts it), so a free
        // slot means nobody waits and the queue is not read: at fleet scale it is a cache
        // miss a job.
        if f.cs_running[g] < f.cs_limit {
            debug_assert!(f.cs_queue[g].is_empty());
            f.cs_running[g] += 1;
            self.job(j).cs_slot = true;
            self.snapshot(j, now);
        } else {
            f.cs_queue[g].push_back(j);
            self.queued += 1;
            // A backup waiting here is not counted as running (as at the vault's gate).
            self.running_backups -= 1;
            self.set_phase(j, Q, now);
            self.job(j).step = Step::Queued;
        }
    }

    /// A job of VM `vi` holding a slot of its cloud service finished: the slot goes to the
    /// next job waiting there, whose snapshot starts now.
    pub(super) fn cloud_service_release(&mut self, vi: usize, now: SimTime) {
        let vm = &self.vms[vi];
        let g = self.c.fleets[vm.fleet as usize].cloud_service_of(vm.index) as usize;
        let f = &mut self.fleets[vm.fleet as usize];
        // Only a full cloud service can have jobs waiting (see `cloud_service_enter`).
        let was_full = f.cs_running[g] == f.cs_limit;
        f.cs_running[g] -= 1;
        if !was_full {
            return;
        }
        if let Some(next) = f.cs_queue[g].pop_front() {
            f.cs_running[g] += 1;
            self.queued -= 1;
            self.running_backups += 1;
            self.job(next).cs_slot = true;
            self.snapshot(next, now);
        }
    }
}

//! The cloud-service gate: at most `cloud_service_limit` VMs of one cloud service back up
//! at once (4 in 2016, then 10). It gates the start of the snapshot: a job whose extension
//! step is done waits here (FIFO per cloud service, in its queue phase) and holds its slot
//! until it finishes.

use super::*;

impl Sim<'_, '_> {
    /// Job `j`'s extension step is done: it takes a slot of its cloud service and starts
    /// its snapshot, or waits for a slot.
    pub(super) fn cloud_service_enter(&mut self, j: u32, now: SimTime) {
        let vi = vm_idx(self, j);
        let vm = &self.vms[vi];
        let f = &mut self.fleets[vm.fleet as usize];
        if f.cs_running.is_empty() {
            // The gate cannot bind (a cloud service has no more VMs than the limit).
            self.snapshot(j, now);
            return;
        }
        let g = (vm.index / f.cs_size) as usize;
        if f.cs_running[g] < f.cs_limit && f.cs_queue[g].is_empty() {
            f.cs_running[g] += 1;
            self.job(j).cs_slot = true;
            self.snapshot(j, now);
        } else {
            f.cs_queue[g].push_back(j);
            self.queued += 1;
            self.set_phase(j, Q, now);
            self.job(j).step = Step::Queued;
        }
    }

    /// A job of VM `vi` holding a slot of its cloud service finished: the slot goes to the
    /// next job waiting there, whose snapshot starts now.
    pub(super) fn cloud_service_release(&mut self, vi: usize, now: SimTime) {
        let vm = &self.vms[vi];
        let f = &mut self.fleets[vm.fleet as usize];
        let g = (vm.index / f.cs_size) as usize;
        f.cs_running[g] -= 1;
        if let Some(next) = f.cs_queue[g].pop_front() {
            f.cs_running[g] += 1;
            self.queued -= 1;
            self.job(next).cs_slot = true;
            self.snapshot(next, now);
        }
    }
}

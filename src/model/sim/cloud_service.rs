//! The cloud-service gate: at most `cloud_service_limit` VMs of one cloud service back up
//! at once (4 in 2016, then 10). It gates the start of the snapshot: a job whose extension
//! step is done waits here (FIFO per cloud service, in its queue phase) and holds its slot
//! until it finishes. Also where a VM's vault gate (its vault copy) and its network path
//! (its storage account's) are found.

use super::*;

/// One cloud service's gate: the jobs past it, and the FIFO of those waiting as a list of
/// their VMs linked through `Sim::cs_next` (a VM has one job at a time, `Vm::busy`): 12
/// bytes a service, one cache line for what a release reads first, where a queue of its
/// own took a header and a buffer elsewhere.
#[derive(Clone, Copy, Debug)]
pub(super) struct CsGate {
    /// Jobs holding a slot.
    pub(super) running: u32,
    /// The first and last VM waiting (`NONE` when none waits).
    head: u32,
    tail: u32,
}

impl Default for CsGate {
    fn default() -> Self {
        CsGate {
            running: 0,
            head: NONE,
            tail: NONE,
        }
    }
}

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
        let (vi, fi) = (vm_idx(self, j), self.jobs[j].fleet as usize);
        let f = &mut self.fleets[fi];
        if f.cs.is_empty() {
            // The gate cannot bind (a cloud service has no more VMs than the limit).
            self.snapshot(j, now);
            return;
        }
        // Jobs wait here only while every slot is taken (`cloud_service_release` hands a
        // freed slot to the next waiting job at once; `check_gates` asserts it).
        let g = self.cloud_service_of_vm(fi, vi);
        let f = &mut self.fleets[fi];
        let gate = &mut f.cs[g];
        if gate.running < f.cs_limit {
            debug_assert_eq!(gate.head, NONE);
            gate.running += 1;
            self.job(j).cs_slot = true;
            self.snapshot(j, now);
        } else {
            // At the end of the gate's list.
            match gate.tail {
                NONE => gate.head = vi as u32,
                t => self.cs_next[t as usize] = vi as u32,
            }
            gate.tail = vi as u32;
            self.cs_next[vi] = NONE;
            self.queued += 1;
            // A backup waiting here is not counted as running (as at the vault's gate).
            self.running_backups -= 1;
            self.set_phase(j, Q, now);
            self.job(j).step = Step::Queued;
        }
    }

    /// The cloud service of VM `vi` of fleet `fi`, found without loading the VM: a
    /// fleet's VMs lie in index order from its first (`draw_fleet`).
    pub(super) fn cloud_service_of_vm(&self, fi: usize, vi: usize) -> usize {
        let index = vi as u32 - self.fleets[fi].first_vm;
        debug_assert_eq!(
            self.vms[vi].index, index,
            "a fleet's VMs lie in index order"
        );
        self.c.fleets[fi].cloud_service_of(index) as usize
    }

    /// Hints fleet `fi`'s cloud service `g`'s gate (see `engine::prefetch`): a release
    /// reads it, and at fleet scale it is rarely in cache.
    pub(super) fn prefetch_cloud_service(&self, fi: usize, g: usize) {
        prefetch_at(&self.fleets[fi].cs, g);
    }

    /// A job of fleet `fi`'s cloud service `g` holding a slot of its gate finished: the
    /// slot goes to the next job waiting there, whose snapshot starts now.
    pub(super) fn cloud_service_release(&mut self, fi: usize, g: usize, now: SimTime) {
        let f = &mut self.fleets[fi];
        let gate = &mut f.cs[g];
        gate.running -= 1;
        // Only a full cloud service has jobs waiting (see `cloud_service_enter`).
        let v = gate.head;
        if v == NONE {
            return;
        }
        let after = self.cs_next[v as usize];
        gate.head = after;
        if after == NONE {
            gate.tail = NONE;
        }
        gate.running += 1;
        let next = self.vms[v as usize].busy;
        self.queued -= 1;
        self.running_backups += 1;
        self.job(next).cs_slot = true;
        self.snapshot(next, now);
    }

    /// The jobs waiting at fleet `fi`'s cloud service `g`, first to last (for the checks;
    /// at most one a VM, so a list that loops is cut past the fleet's size).
    pub(super) fn cs_waiting(&self, fi: usize, g: usize) -> impl Iterator<Item = u32> + '_ {
        let f = &self.fleets[fi];
        waiting(f.cs[g].head, &self.cs_next, &self.vms, f.count as usize + 1)
    }
}

/// The jobs of the VMs listed from `first` through `next`, at most `cap` of them.
fn waiting<'a>(
    first: u32,
    next: &'a [u32],
    vms: &'a [Vm],
    cap: usize,
) -> impl Iterator<Item = u32> + 'a {
    std::iter::successors(Some(first).filter(|&v| v != NONE), move |&v| {
        Some(next[v as usize]).filter(|&n| n != NONE)
    })
    .take(cap)
    .map(move |v| vms[v as usize].busy)
}

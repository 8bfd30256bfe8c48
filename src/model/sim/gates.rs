//! The FIFO gates a job passes: its vault must be active, then its fleet's gate (its own
//! start gate), then — after the snapshot for a backup, at once for a restore — a transfer
//! slot of its vault copy. (The cloud-service gate before the snapshot is in
//! `cloud_service.rs`.)

use super::*;

/// Waiting jobs an emptied gate queue keeps room for.
const KEEP_QUEUE: usize = 4096;

impl Sim<'_, '_> {
    pub(super) fn vault_of(&self, j: u32) -> u32 {
        let fi = self.jobs[j].fleet;
        self.fleets[fi as usize].vault
    }

    /// A job waits for its vault to be active, then passes its fleet's FIFO gate and
    /// starts; a backup meets its vault's transfer gate only after its snapshot
    /// ([`Sim::vault_enqueue`]), a restore right away.
    pub(super) fn enqueue(&mut self, j: u32, now: SimTime) {
        let v = self.vault_of(j) as usize;
        if !self.vaults[v].active {
            self.vaults[v].pending.push_back(j);
            self.queued += 1;
            return;
        }
        let fi = self.jobs[j].fleet;
        let f = &mut self.fleets[fi as usize];
        if f.running < f.limit && f.queue.is_empty() {
            f.running += 1;
            self.fleet_start(j, now);
        } else {
            f.queue.push_back(j);
            self.queued += 1;
        }
    }

    pub(super) fn fleet_admit_waiting(&mut self, fi: usize, now: SimTime) {
        loop {
            let f = &mut self.fleets[fi];
            if f.running >= f.limit {
                return;
            }
            let Some(j) = f.queue.pop_front() else {
                return;
            };
            if f.queue.is_empty() {
                f.queue.shrink_to(KEEP_QUEUE);
            }
            f.running += 1;
            self.queued -= 1;
            self.fleet_start(j, now);
        }
    }

    /// A job passed its fleet's gate: a backup starts (extension, snapshot), a restore
    /// queues for its copy.
    pub(super) fn fleet_start(&mut self, j: u32, now: SimTime) {
        self.job(j).fleet_slot = true;
        if let Kind::Restore(_) = self.job(j).kind {
            self.vault_enqueue(j, now);
        } else {
            self.running_backups += 1;
            self.admit(j, now);
        }
    }

    /// The vault's transfer gate: a backup after its snapshot, a restore before its copy,
    /// waits FIFO for one of the vault's `max_concurrent_jobs` transfer slots (the queue
    /// phase). A backup waiting here is not counted as running.
    pub(super) fn vault_enqueue(&mut self, j: u32, now: SimTime) {
        let g = self.gate_of(j);
        let vs = &mut self.gates[g];
        if vs.running < vs.limit && vs.queue.is_empty() {
            self.vault_admit(j, now);
        } else {
            let vm = self.jobs[j].vm;
            self.gates[g].queue.push_back((j, vm));
            self.queued += 1;
            // A restore only counts as running once admitted.
            if !matches!(self.job(j).kind, Kind::Restore(_)) {
                self.running_backups -= 1;
            }
            self.set_phase(j, Q, now);
            self.job(j).step = Step::Queued;
        }
    }

    /// Vault `v` (all its copies) becomes active.
    pub(super) fn vault_active(&mut self, v: u32) {
        let now = self.q.now();
        self.vaults[v as usize].active = true;
        while let Some(j) = self.vaults[v as usize].pending.pop_front() {
            self.queued -= 1;
            self.enqueue(j, now);
        }
    }

    pub(super) fn admit_waiting(&mut self, g: u32, now: SimTime) {
        loop {
            let vs = &mut self.gates[g as usize];
            if vs.running >= vs.limit {
                return;
            }
            let Some((j, _)) = vs.queue.pop_front() else {
                return;
            };
            if vs.queue.is_empty() {
                // A first night's backlog gives its room back once it has drained.
                vs.queue.shrink_to(KEEP_QUEUE);
            }
            // The job waiting next is admitted when a slot frees again: start its load.
            if let Some(&(w, _)) = vs.queue.front() {
                prefetch_lines_at(self.jobs.slots(), w as usize);
            }
            self.queued -= 1;
            if !matches!(self.job(j).kind, Kind::Restore(_)) {
                self.running_backups += 1;
            }
            self.vault_admit(j, now);
        }
    }
}

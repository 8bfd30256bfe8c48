//! The network side of the run: the completion timer (kept outside the event heap), the
//! jobs whose flows finished, and link failures and recoveries.

use super::*;

impl Sim<'_, '_> {
    /// The network's completion timer fired.
    pub(super) fn net_wake_up(&mut self, now: SimTime) {
        // The job whose transfer ends now, if this is its last flow: its slot loads while
        // the network moves on (its VM, named by the network, was hinted when the timer
        // was armed).
        if let Some(vi) = self.net.next_owner() {
            if let Some(vm) = self.vms.get(vi as usize).filter(|vm| vm.flows == 1) {
                prefetch_lines_at(self.jobs.slots(), vm.busy as usize);
            }
        }
        // The network reports each finished flow with its VM (its owner), all of them
        // before any job moves on: a job admitted by one that finishes starts flows that
        // may reuse the ids of the others finished now.
        let mut done = std::mem::take(&mut self.done_buf);
        self.net.advance_owned_into(now, &mut done);
        for &(_, vi) in &done {
            let vm = &mut self.vms[vi as usize];
            vm.flows -= 1;
            // The VM's transfer ends when its last disk's does; the job is the VM's
            // running one (a VM runs one job at a time: `Sim::arrive`).
            if vm.flows == 0 {
                let j = vm.busy;
                self.transfer_done(j, now);
            }
        }
        done.clear();
        self.done_buf = done;
        self.resched_net();
    }

    /// Re-arms the network timer at the next completion (only pops whose time is at most
    /// the end run, as for queued events).
    pub(super) fn resched_net(&mut self) {
        self.net_wake = None;
        if let Some(t) = self.net.next_completion() {
            let t = t.max(self.q.now());
            if t <= self.end || self.drain {
                self.net_wake = Some((t, self.q.reserve_seq()));
            }
            // The VM whose transfer ends next: its state and its held points load while
            // other events run (see `engine::prefetch`); the timer, when it fires, reads
            // the VM for its job, whose slot loads while the network moves on. Reading
            // the VM here would wait for it.
            if let Some(vi) = self.net.next_owner() {
                prefetch_at(&self.vms, vi as usize);
                self.held.prefetch_vm(vi as usize);
            }
        }
    }

    pub(super) fn path_up(&self, fi: u32) -> bool {
        self.fleets[fi as usize]
            .links
            .iter()
            .all(|&l| self.link_down[l as usize] == 0)
    }

    pub(super) fn link_event(&mut self, link: u32, down: bool, random: bool, now: SimTime) {
        let l = link as usize;
        let was_down = self.link_down[l] > 0;
        if down {
            self.link_down[l] += 1;
        } else {
            self.link_down[l] = self.link_down[l].saturating_sub(1);
        }
        let is_down = self.link_down[l] > 0;
        if was_down != is_down {
            let cap = if is_down {
                0.0
            } else {
                self.c.links[l].bandwidth
            };
            self.net.set_capacity(now, self.link_ids[l], cap);
            self.resched_net();
        }
        // Random events come only from a link with random outages.
        if let Some(o) = self.c.links[l].outages.random.filter(|_| random) {
            let mean = if down { o.mttr } else { o.mtbf };
            let d = self.exp_draw(l, mean);
            self.at_resource(
                now + d,
                Ev::Link {
                    link,
                    down: !down,
                    random: true,
                },
            );
        }
    }
}

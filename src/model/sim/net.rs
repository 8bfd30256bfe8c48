//! The network side of the run: the completion timer (kept outside the event heap), the
//! jobs whose flows finished, and link failures and recoveries.

use super::*;

impl Sim<'_, '_> {
    /// The network's completion timer fired.
    pub(super) fn net_wake_up(&mut self, now: SimTime) {
        // The job finishing now: its VM and held points load while the network moves on
        // (hinted already when the timer was armed, if the same job finishes first).
        if let Some(j) = self.net.next_owner() {
            self.prefetch_vm_of(j);
        }
        // The network reports each finished flow with its job (its owner), all of them
        // before any job moves on: a job admitted by one that finishes starts flows that
        // may reuse the ids of the others finished now.
        let mut done = std::mem::take(&mut self.done_buf);
        self.net.advance_owned_into(now, &mut done);
        for &(_, j) in &done {
            let flows = &mut self.job_net[j as usize].flows;
            *flows -= 1;
            // The VM's transfer ends when its last disk's does.
            if *flows == 0 {
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
            // The job whose transfer ends next: its slot and its entry of the dense
            // `job_net` load while other events run (see `engine::prefetch`); the timer,
            // when it fires, reads that entry for the VM and its held points, which load
            // while the network moves on. Reading the entry here would wait for it.
            if let Some(j) = self.net.next_owner() {
                prefetch_lines_at(self.jobs.slots(), j as usize);
                prefetch_at(&self.job_net, j as usize);
            }
        }
    }

    /// Hints job `j`'s VM and held points, the VM read from the dense `job_net` (not
    /// from the job's slot, which may not have arrived).
    #[inline]
    fn prefetch_vm_of(&self, j: u32) {
        if let Some(n) = self.job_net.get(j as usize) {
            prefetch_at(&self.vms, n.vm as usize);
            self.held.prefetch_vm(n.vm as usize);
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

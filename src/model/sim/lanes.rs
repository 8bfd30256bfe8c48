//! The timers kept outside the event heap besides the network's and the arrival
//! batches': steps that end the instant they begin (`now_steps`) and each fleet's path
//! latency (`latency_lanes`). Each is in order by itself (all at the current instant; a
//! fleet's latency is one constant), so a queue per kind replaces a heap entry per event;
//! each takes the insertion number `EventQueue::schedule` would have given it, so that
//! it fires exactly where the heap would have popped it.

use super::*;

impl Sim<'_, '_> {
    /// The earliest of the timers kept outside the event heap, by `(time, insertion
    /// number)`: the network's completion, the arrival batches' heads, the latency lanes'
    /// heads, the steps ending now.
    #[inline]
    pub(super) fn next_external(&self) -> Option<((SimTime, u64), External)> {
        // Written out rather than through a closure over `ext`, which the profile showed
        // compiled to more work on every event.
        let mut ext = self.net_wake.map(|w| (w, External::Net));
        if let Some(&Reverse((t, seq, b))) = self.batch_heads.peek() {
            if ext.map_or(true, |(e, _)| (t, seq) < e) {
                ext = Some(((t, seq), External::Batch(b)));
            }
        }
        if let Some(&Reverse((t, seq, _))) = self.lane_heads.peek() {
            if ext.map_or(true, |(e, _)| (t, seq) < e) {
                ext = Some(((t, seq), External::Lane));
            }
        }
        if let Some(&(seq, j)) = self.now_steps.front() {
            let k = (self.q.now(), seq);
            if ext.map_or(true, |(e, _)| k < e) {
                ext = Some((k, External::Step(j)));
            }
        }
        ext
    }

    /// Job `j` waits out its fleet's path latency `d` (see `latency_lanes`).
    pub(super) fn wait_latency(&mut self, j: u32, fleet: u32, d: SimDuration, now: SimTime) {
        let job = self.job(j);
        job.step = Step::Latency;
        let vm = job.vm;
        let seq = self.q.reserve_seq();
        let lane = &mut self.latency_lanes[fleet as usize];
        debug_assert!(lane.back().map_or(true, |b| b.0 <= now + d));
        if lane.is_empty() {
            self.lane_heads.push(Reverse((now + d, seq, fleet)));
        }
        lane.push_back((now + d, seq, j, vm));
    }

    /// Takes the first job of the lane whose first is the earliest; hints the next one's
    /// slot and VM.
    pub(super) fn lane_pop(&mut self) -> u32 {
        let Reverse((_, _, f)) = self.lane_heads.pop().expect("a lane's head");
        let lane = &mut self.latency_lanes[f as usize];
        let (_, _, j, _) = lane.pop_front().expect("a lane's head");
        if let Some(&(t, seq, next, vm)) = lane.front() {
            self.lane_heads.push(Reverse((t, seq, f)));
            prefetch_lines_at(self.jobs.slots(), next as usize);
            prefetch_at(&self.vms, vm as usize);
        }
        j
    }

    /// The timers kept outside the heap are each in `(time, insertion number)` order, no
    /// lane's first before the clock, and every non-empty lane's first is among the
    /// lanes' heads, once.
    pub(super) fn check_lanes(&self, now: SimTime) -> Result<(), String> {
        for (f, lane) in self.latency_lanes.iter().enumerate() {
            let keys: Vec<(SimTime, u64)> = lane.iter().map(|e| (e.0, e.1)).collect();
            if keys.windows(2).any(|w| w[0] >= w[1]) || keys.first().is_some_and(|k| k.0 < now) {
                return Err(format!("fleet #{f}'s latency lane is out of order"));
            }
        }
        let mut heads: Vec<(SimTime, u64, u32)> = self.lane_heads.iter().map(|h| h.0).collect();
        heads.sort_unstable();
        let mut want: Vec<(SimTime, u64, u32)> = (self.latency_lanes.iter().enumerate())
            .filter_map(|(f, l)| l.front().map(|e| (e.0, e.1, f as u32)))
            .collect();
        want.sort_unstable();
        if heads != want {
            return Err(format!(
                "the latency lanes' heads {heads:?} are not their firsts {want:?}"
            ));
        }
        let seqs: Vec<u64> = self.now_steps.iter().map(|e| e.0).collect();
        if seqs.windows(2).any(|w| w[0] >= w[1]) {
            return Err("the steps ending now are out of order".into());
        }
        Ok(())
    }
}

//! The liveness guard: a run whose simulated time stops advancing (a timer or schedule
//! re-firing at one instant) fails with a message naming the event kinds that kept it
//! there, instead of hanging.

use super::{Ev, External};
use crate::engine::time::{SimTime, MICROS_PER_DAY};
use crate::model::Failure;

/// Events a run may process at one simulated instant before it is declared stuck: a fixed
/// base plus a generous allowance per VM (a policy with no start spread puts every VM's
/// arrival and its zero-length steps at one instant). A correct model never comes near it;
/// a schedule or timer that re-fires at the same instant reaches it in seconds.
pub const LIVENESS_BASE_EVENTS: u64 = 10_000_000;
/// Per-VM allowance of events at one instant (see [`LIVENESS_BASE_EVENTS`]).
pub const LIVENESS_EVENTS_PER_VM: u64 = 64;
/// How many of the last events before the bound are tallied by kind for the message.
const LIVENESS_TALLY: u64 = 4_096;

/// Names of the event kinds, for the liveness message.
const EVENT_KINDS: [&str; 11] = [
    "vault-active",
    "policy-run",
    "arrive",
    "on-demand",
    "step",
    "link",
    "sample",
    "cleanup",
    "restore",
    "network-completion",
    "scheduled-arrival",
];

/// The liveness check's state: how many events ran at the current instant.
pub(super) struct Liveness {
    time: SimTime,
    count: u64,
    bound: u64,
    kinds: [u64; EVENT_KINDS.len()],
}

impl Liveness {
    /// The guard of a run of `vms` VMs.
    pub(super) fn new(vms: u64) -> Liveness {
        Liveness {
            time: SimTime::ZERO,
            count: 0,
            bound: LIVENESS_BASE_EVENTS.saturating_add(vms.saturating_mul(LIVENESS_EVENTS_PER_VM)),
            kinds: [0; EVENT_KINDS.len()],
        }
    }

    /// Counts one event of `kind` at `now`; an error once too many ran at one instant.
    #[inline]
    pub(super) fn tick(&mut self, now: SimTime, kind: usize) -> Result<(), Failure> {
        if now != self.time {
            self.time = now;
            self.count = 0;
            return Ok(());
        }
        self.count += 1;
        if self.count + LIVENESS_TALLY > self.bound {
            return self.tally(now, kind);
        }
        Ok(())
    }

    /// The events near the bound at one instant: tallied by kind, and an error past it.
    /// Apart from [`Liveness::tick`], which every event runs, so that it stays small
    /// enough to be inlined.
    #[cold]
    #[inline(never)]
    fn tally(&mut self, now: SimTime, kind: usize) -> Result<(), Failure> {
        self.kinds[kind] += 1;
        if self.count > self.bound {
            let mut kinds: Vec<String> = EVENT_KINDS
                .iter()
                .zip(self.kinds)
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| format!("{k} ×{n}"))
                .collect();
            kinds.sort();
            return Err(Failure::Liveness(format!(
                "simulated time stopped advancing: {} events ran at t = {} µs ({:.3} days) without time moving (the bound is {}); the last {} were: {}",
                self.count,
                now.as_micros(),
                now.as_micros() as f64 / MICROS_PER_DAY as f64,
                self.bound,
                self.kinds.iter().sum::<u64>(),
                kinds.join(", ")
            )));
        }
        Ok(())
    }
}

impl Ev {
    /// Its index in [`EVENT_KINDS`].
    pub(super) fn kind(&self) -> usize {
        match self {
            Ev::VaultActive(_) => 0,
            Ev::PolicyRun(_) => 1,
            Ev::Arrive { .. } => 2,
            Ev::OnDemand(_) => 3,
            Ev::Step { .. } => 4,
            Ev::Link { .. } => 5,
            Ev::Sample => 6,
            Ev::Expire { .. } => 7,
            Ev::Restore(_) => 8,
        }
    }
}

impl External {
    /// Its index in [`EVENT_KINDS`]: a step kept outside the heap counts as the queued
    /// step it stands for.
    pub(super) fn kind(&self) -> usize {
        match self {
            External::Step(_) | External::Lane => 4,
            External::Net => 9,
            External::Batch(_) => 10,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_guard_stops_a_run_stuck_at_one_instant() {
        let mut live = Liveness::new(0);
        let t = SimTime(86_400_000_000);
        let mut err = None;
        for i in 0..=LIVENESS_BASE_EVENTS + 1 {
            let kind = if i % 2 == 0 { 1 } else { 9 };
            if let Err(e) = live.tick(t, kind) {
                err = Some((i, e));
                break;
            }
        }
        let (at, Failure::Liveness(msg)) = err.expect("the guard trips") else {
            panic!("a liveness failure");
        };
        assert_eq!(at, LIVENESS_BASE_EVENTS + 1, "trips just past the bound");
        assert!(msg.contains("t = 86400000000 µs (1.000 days)"), "{msg}");
        assert!(
            msg.contains("the last 4097 were: network-completion ×2049, policy-run ×2048"),
            "{msg}"
        );
    }

    #[test]
    fn liveness_guard_resets_when_time_advances() {
        let mut live = Liveness::new(1);
        for i in 0..3 * (LIVENESS_BASE_EVENTS + LIVENESS_EVENTS_PER_VM) {
            // A new instant every million events: never stuck.
            live.tick(SimTime(i / 1_000_000), 4).expect("time advances");
        }
    }
}

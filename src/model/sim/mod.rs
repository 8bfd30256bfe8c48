//! The event loop and the job state machine.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use rand::Rng;
use rand_distr::{Distribution, Exp};

use super::codes::{Code, Consistency, Rejection};
use super::metric_names::PHASES;
use super::network::{FlowId, LinkId, LinkStats, Network, PathId};
use super::vm::{draw_vm_counting, flag, purpose, Unsupported, Vm};
use super::{Failure, JobRecord, Observer, Outcome, Sample};
use crate::engine::rng::{fold_key, name_key, stream, stream_key, stream_of_key, Chance};
use crate::engine::time::MICROS_PER_DAY;
use crate::engine::{
    prefetch_at, prefetch_lines_at, slab, EventQueue, SimDuration, SimTime, Slab, Stream,
};
use crate::model::config::{Config, PointChoice, Redundancy, RestoreKind, Via};
use crate::model::metrics::{round6, Batches, Counters, Latency};

mod checks;
mod cloud_service;
mod cost;
mod gates;
mod groups;
mod lanes;
mod liveness;
mod net;
mod points;
mod restore;
mod results;
mod retention;
mod schedule;
mod setup;
mod steps;
#[cfg(test)]
mod tests_ages;

pub use cost::CostSums;

use liveness::Liveness;
pub use liveness::{LIVENESS_BASE_EVENTS, LIVENESS_EVENTS_PER_VM};
use restore::restore_kind_name;
use retention::record_ages;

const NONE: u32 = u32::MAX;

/// The closed set of events.
#[derive(Clone, Copy, Debug)]
enum Ev {
    /// A vault becomes active.
    VaultActive(u32),
    /// A policy's scheduled occurrence: every VM under it gets a job start.
    PolicyRun(u32),
    /// A job arrives for a VM.
    Arrive {
        vm: u32,
        kind: Kind,
        scheduled: SimTime,
        attempt: u32,
    },
    /// The next on-demand request of a fleet.
    OnDemand(u32),
    /// A job's current step finished: the job's slot, and its VM (carried so that the
    /// VM's state can be prefetched with the slot before the step's end is handled).
    Step { job: u32, vm: u32 },
    /// A link fails (`true`) or recovers (`false`).
    Link { link: u32, down: bool, random: bool },
    /// A time-series sample.
    Sample,
    /// A VM's next recovery point expiry (retention), by VM index, with where its held
    /// points' records were in the point store when it was armed (a hint only: to load
    /// them ahead; `u32::MAX` for none).
    Expire { vm: u32, records: u32 },
    /// A restore drill fires (or the next arrival of a restore stream).
    Restore(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Scheduled,
    OnDemand,
    Restore(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Queued,
    /// Waiting, then failing with the code.
    Failing(Code),
    Extension,
    Snapshot,
    Latency,
    Transfer,
    Create,
}

/// One policy occurrence's scheduled arrivals, kept outside the event heap (which would
/// otherwise hold one entry per VM for hours): `(time, insertion number − base, vm)`,
/// sorted, consumed from the front. Insertion numbers are reserved from the queue in VM
/// order, so arrivals interleave with queued events exactly as if each had been scheduled.
struct Batch {
    scheduled: SimTime,
    base: u64,
    items: Vec<(u64, u32, u32)>,
    next: usize,
}

/// Which timer kept outside the heap fires next.
#[derive(Clone, Copy)]
enum External {
    Net,
    Batch(u32),
    /// The first of [`Sim::now_steps`]: a job's step ending now.
    Step(u32),
    /// The first of the latency lane whose first is the earliest ([`Sim::lane_heads`]):
    /// a job's path latency passed.
    Lane,
}

/// An in-flight job.
struct Job {
    vm: u32,
    /// Its VM's fleet and vault gate, carried so that later steps need not load the VM
    /// (a cache miss at fleet scale) to find them.
    fleet: u32,
    gate: u32,
    kind: Kind,
    attempt: u32,
    id: u64,
    scheduled: SimTime,
    /// When its current phase began: when it arrived, plus its earlier phases' spans.
    phase_start: SimTime,
    /// Its current phase ([`Q`] … [`CREATE`]): a byte, so that a slot stays within two
    /// cache lines.
    phase: u8,
    /// The time spent in each phase, its current one up to `phase_start`.
    phases: [SimDuration; 5],
    step: Step,
    running: bool,
    consistency: Consistency,
    bytes: u64,
    full: bool,
    /// Holds a slot of its fleet's gate (from its start to its end).
    fleet_slot: bool,
    /// Holds a slot of its vault's transfer gate (from its transfer to its end).
    vault_slot: bool,
    /// When its snapshot completed: the time of the recovery point it makes.
    snapshot_at: SimTime,
    /// Whether it holds a slot of its cloud service's gate (released when it finishes).
    cs_slot: bool,
    rng: Stream,
}

// A job slot (an `Option<Job>`, in the job slab) in 128 bytes. Not aligned to cache
// lines: the allocator's aligned reallocation copies (and holds both copies at once)
// where the plain one remaps.
const _: () = assert!(std::mem::size_of::<Option<Job>>() == 128);

impl Job {
    /// When it arrived: its phases are consecutive from then to `phase_start` (a slot
    /// keeps the sum rather than the instant).
    fn arrived(&self) -> SimTime {
        let before = self.phases.iter().fold(0, |a, p| a + p.as_micros());
        SimTime(self.phase_start.as_micros() - before)
    }
}

// A job's phases, its index into `Job::phases` and `Stats::phase` (stored in a byte).
const Q: u8 = 0;
const EXT: u8 = 1;
const SNAP: u8 = 2;
const XFER: u8 = 3;
const CREATE: u8 = 4;

/// One vault's concurrency gate (a vault with `count` copies has one per copy).
struct Gate {
    /// Jobs holding a transfer slot.
    running: u32,
    limit: u32,
    /// Jobs waiting for a transfer slot (backups after their snapshot, restores before
    /// their copy), each with its VM, a hint only: the job admitted next and its VM load
    /// together when a slot is about to free (`Sim::finish`), where the VM's index would
    /// be in the job's slot, one load behind it.
    queue: VecDeque<(u32, u32)>,
}

/// What the network's side of the simulation keeps of a job slot (see `Sim::job_net`).
#[derive(Clone, Copy, Debug)]
struct JobNet {
    /// Disk transfers still running (one flow per disk with bytes to move).
    flows: u32,
    /// The job's VM.
    vm: u32,
}

/// A vault's activation and storage (over all its copies).
struct VaultState {
    /// Whether the vault exists yet (all its copies are created together).
    active: bool,
    /// Jobs that arrived before the vault was active, waiting to start.
    pending: VecDeque<u32>,
    stored: u64,
    points: u64,
    stored_max: u64,
    points_max: u64,
    /// `stored` saturated once (sizes drawn up to 16 EiB): it is no longer exact.
    saturated: bool,
    geo_lag: Latency,
    geo: bool,
}

struct FleetRt {
    vault: u32,
    policy: u32,
    path: PathId,
    links: Vec<u32>,
    latency: SimDuration,
    first_vm: u32,
    count: u32,
    key: u64,
    /// The stream keys of the fleet's jobs, daily churn and nightly start offsets up to
    /// the fleet (`stream_key(seed, [purpose, key])`): each job's, VM's and night's
    /// stream folds on from them (`fold_key`), the same streams for fewer mixes.
    job_key: u64,
    churn_key: u64,
    start_key: u64,
    /// The chances that its VM is running and that its agent answers, at a job's start.
    p_running: Chance,
    p_responsive: Chance,
    on_demand: Option<(Exp<f64>, Stream)>,
    /// The fleet's own concurrency gate: a job holds a slot from its start (before the
    /// extension and snapshot) to its end.
    limit: u32,
    running: u32,
    queue: VecDeque<u32>,
    /// Index of the first gate of its vault, and how many copies the vault has.
    gate: u32,
    gates: u32,
    /// The cloud-service gate before the snapshot (cloud services from
    /// `Fleet::cloud_service_of`): per cloud service the jobs past the gate and those
    /// waiting (empty when the gate cannot bind).
    cs_limit: u32,
    cs: Vec<cloud_service::CsGate>,
    /// The points a VM's region in the point store is given room for.
    point_room: retention::PointRoom,
    /// Each storage account's path (accounts from `Fleet::storage_account_of`; empty:
    /// the fleet's path).
    sa_paths: Vec<PathId>,
}

/// Work without an outcome at the end of the run: how much, and how long since it was
/// scheduled (µs).
#[derive(Default)]
struct InFlight {
    count: u64,
    age_sum: u128,
    age_max: u64,
}

impl InFlight {
    fn add(&mut self, age: SimDuration) {
        self.count += 1;
        self.age_sum += u128::from(age.as_micros());
        self.age_max = self.age_max.max(age.as_micros());
    }
}

#[derive(Default)]
struct Stats {
    duration: Latency,
    failed_duration: Latency,
    phase: [Latency; 4],
    restore_duration: Latency,
    restore_point_age: Latency,
    /// RPO ages: by far the most recorded values (one per protected VM per sample time).
    rpo: Latency,
    counts: Counters,
    /// Per-job outcome counts indexed by `Code as usize` / `Consistency as usize`, named
    /// only in `into_outcome` (no string is built per job).
    failures: [u64; Code::ALL.len()],
    restore_failures: [u64; Code::ALL.len()],
    consistency: [u64; 3],
    retries: u64,
    attempts: u64,
    succeeded: u64,
    failed: u64,
    /// Backup jobs counted (first attempts of jobs scheduled after the warm-up): each ends
    /// as exactly one of succeeded, failed or in flight.
    jobs: u64,
    /// Backup jobs and restores without an outcome at the end (`[backup, restore]`).
    in_flight: [InFlight; 2],
    unsupported_jobs: u64,
    window_jobs: u64,
    window_misses: u64,
    bytes_full: u64,
    bytes_incremental: u64,
    restore_bytes: u64,
    /// Draws saturated at their type's cap, by distribution key (rare: a string per hit).
    saturated: BTreeMap<String, u64>,
    /// Per-batch sums for batch means (`simulation.batches`; empty when off).
    batches: Batches,
}

impl Stats {
    /// Counts a draw of the distribution at `key` if it was saturated (`hit`).
    fn capped<T>(&mut self, (v, hit): (T, bool), key: impl FnOnce() -> String) -> T {
        if hit {
            *self.saturated.entry(key()).or_default() += 1;
        }
        v
    }
}

struct Sim<'s, 'o> {
    c: &'s Config,
    seed: u64,
    q: EventQueue<Ev>,
    /// `simulation.duration`: no work is created after it.
    end: SimTime,
    /// Jobs and restores scheduled before it are left out of the job metrics.
    warmup: SimTime,
    /// Whether work in flight at `end` runs to its outcome.
    drain: bool,
    /// Link statistics and vault storage `(stored, points, stored max, points max)` at
    /// `end`: the resource metrics describe `[0, end]` whether or not the run drains.
    horizon_links: Vec<LinkStats>,
    horizon_vaults: Vec<[u64; 4]>,
    vms: Vec<Vm>,
    /// The recovery points each VM's vault holds, by VM index.
    held: points::PointStore,
    fleets: Vec<FleetRt>,
    /// The run's chances a job draws (`Timing`'s), thresholds computed once.
    chances: steps::Chances,
    /// Each fleet's stored bytes and protected instances over time (costs).
    books: Vec<cost::Books>,
    /// Bytes held over every vault.
    storage: cost::Storage,
    vaults: Vec<VaultState>,
    /// Vault concurrency gates, `FleetRt::gate ..` for each fleet's vault.
    gates: Vec<Gate>,
    policy_fleets: Vec<Vec<u32>>,
    policy_window_end: Vec<SimTime>,
    /// Jobs in flight by slot (the lowest free slot is reused first, so the store shrinks
    /// back after a night with every VM in flight).
    jobs: Slab<Job>,
    /// Each job slot's disk transfers still running and its VM, apart from the slots: a
    /// finished flow touches only this dense array unless it is its job's last, and the
    /// VM of the job whose flow ends next is found here without waiting for its slot.
    job_net: Vec<JobNet>,
    /// Per VM, the next VM whose job waits at the same cloud service's gate (`NONE`: the
    /// last), when some fleet's gate can bind (empty otherwise): a gate's queue is linked
    /// through its VMs, each with one job at a time (`cloud_service`).
    cs_next: Vec<u32>,
    next_job_id: u64,
    net: Network,
    /// The network's next transfer completion as `(time, insertion number)`: a timer kept
    /// outside the queue (see `EventQueue::reserve_seq`) because it is re-armed at every
    /// flow start and end.
    net_wake: Option<(SimTime, u64)>,
    /// The VMs' disk sizes, kept after their first replay in small runs.
    disks: crate::model::vm::DiskSizes,
    /// Scratch buffers of a job's disk sizes and per-disk bytes (no allocation per job).
    disk_buf: Vec<u64>,
    part_buf: Vec<u64>,
    link_down: Vec<u32>,
    link_outage_rng: Vec<Stream>,
    link_ids: Vec<LinkId>,
    link_last_bytes: Vec<f64>,
    /// Largest interval utilisation seen per link.
    link_util_max: Vec<f64>,
    sample_buf_links: Vec<(f64, f64)>,
    sample_buf_vaults: Vec<(u64, u64)>,
    last_sample: SimTime,
    running_backups: u64,
    queued: u64,
    running_restores: u64,
    restore_rng: Vec<Stream>,
    restore_fired: Vec<u64>,
    rpo_every: u64,
    st: Stats,
    obs: &'o mut dyn Observer,
    /// The event count at which the observer was last asked to go on.
    polled_at: u64,
    wants_jobs: bool,
    /// The flows finished at one instant, with their jobs (kept to reuse its allocation).
    done_buf: Vec<(FlowId, u32)>,
    /// Arrival batches by slot (`None`: free slot, reused).
    batches: Vec<Option<Batch>>,
    /// `(time, insertion number, slot)` of the head of every non-empty batch: many
    /// policies may overlap, so the earliest head is found in O(log batches).
    batch_heads: BinaryHeap<Reverse<(SimTime, u64, u32)>>,
    /// Steps that end the instant they begin (an extension already installed, an offline
    /// VM's immediate failure): `(insertion number, job)`, all at the current time, in
    /// order. Kept outside the event heap, where each would be sifted to the top and
    /// popped at once; they fire exactly when a queued event would (see `process`).
    now_steps: std::collections::VecDeque<(u64, u32)>,
    /// Per fleet, the jobs waiting out its path's latency (a constant of the fleet, so
    /// they end in the order they began): `(end, insertion number, job, VM)`. Kept
    /// outside the event heap as `now_steps` are, one a backup.
    latency_lanes: Vec<std::collections::VecDeque<(SimTime, u64, u32, u32)>>,
    /// `(end, insertion number, fleet)` of the first of every non-empty latency lane.
    lane_heads: BinaryHeap<Reverse<(SimTime, u64, u32)>>,
    /// Emptied batch buffers, reused (no allocation per policy occurrence).
    spare_items: Vec<Vec<(u64, u32, u32)>>,
    /// The second buffer of the arrivals' sort (`engine::radix`).
    sort_scratch: Vec<(u64, u32, u32)>,
    /// Watches that simulated time keeps advancing.
    live: Liveness,
    /// Check every invariant after every event (`simulate_checked`).
    checked: bool,
    /// Per-group metrics and the per-night table.
    rep: groups::Reports,
    /// The run stopped at `simulation.max_events` before its end.
    cut_short: bool,
}

/// Runs a configuration to its end, streaming jobs and samples to `obs`.
///
/// An error means the simulator itself failed a run-time check (a bug, not bad input), or
/// the memory for the scenario's VMs could not be allocated.
pub fn simulate(c: &Config, obs: &mut dyn Observer) -> Result<Outcome, Failure> {
    let mut sim = Sim::new(c, obs)?;
    sim.run()?;
    Ok(sim.into_outcome())
}

/// [`simulate`] with every invariant of the run checked after every event (gates within
/// their limits, counters equal to the queues and jobs they count, one job per VM, storage
/// to expire held): slower, for tests and for reproducing a suspected bug.
pub fn simulate_checked(c: &Config, obs: &mut dyn Observer) -> Result<Outcome, Failure> {
    let mut sim = Sim::new(c, obs)?;
    sim.checked = true;
    sim.check_invariants(SimTime::ZERO)?;
    sim.run()?;
    Ok(sim.into_outcome())
}

fn day_of(t: SimTime) -> u64 {
    t.as_micros() / MICROS_PER_DAY
}

impl<'s, 'o> Sim<'s, 'o> {
    /// Schedules an event that creates work or samples the run: only up to the end.
    fn at(&mut self, t: SimTime, ev: Ev) {
        if t <= self.end {
            self.q.schedule(t, ev);
        }
    }

    /// Schedules a change of a resource (a link's state, a vault becoming active): also
    /// after the end when the run drains, since work in flight may wait for it. The drain
    /// stops as soon as no work is in flight, so such events fire only while there is.
    fn at_resource(&mut self, t: SimTime, ev: Ev) {
        if t <= self.end || self.drain {
            self.q.schedule(t, ev);
        }
    }

    fn exp_draw(&mut self, link: usize, mean: SimDuration) -> SimDuration {
        let u: f64 = self.link_outage_rng[link].gen();
        SimDuration::from_secs_f64(-(1.0 - u).ln() * mean.as_secs_f64()).max(SimDuration(1))
    }

    /// Runs to the end; then, when the run drains, until no work is in flight. Work still
    /// in flight after that is counted (and reported to the observer) as such.
    fn run(&mut self) -> Result<(), Failure> {
        self.process(self.end, false)?;
        // A run cut short describes the resources up to its last event.
        let horizon = if self.cut_short {
            self.q.now()
        } else {
            self.q.advance_to(self.end);
            self.end
        };
        self.horizon_links = self
            .link_ids
            .iter()
            .map(|&l| self.net.link_stats(l, horizon))
            .collect();
        self.horizon_vaults = self
            .vaults
            .iter()
            .map(|v| [v.stored, v.points, v.stored_max, v.points_max])
            .collect();
        self.storage_settle();
        self.storage.horizon = [self.storage.total, self.storage.max];
        // Only changes up to the end are reported: the drain's are not in the metrics.
        self.storage.trace = false;
        if self.drain && !self.cut_short {
            self.process(SimTime::NEVER, true)?;
        }
        self.count_in_flight();
        Ok(())
    }

    /// Processes events up to `limit`; with `until_idle`, stops as soon as no job or
    /// restore is in flight.
    fn process(&mut self, limit: SimTime, until_idle: bool) -> Result<(), Failure> {
        let max_events = self.c.simulation.max_events;
        loop {
            if until_idle && self.jobs.is_empty() {
                break;
            }
            // The event limit (`--run-max-events`): counted in events, so deterministic.
            if max_events > 0 && self.q.events_processed() >= max_events {
                self.cut_short = true;
                break;
            }
            // A limit outside the model (`--run-max-wall`), asked now and then.
            let n = self.q.events_processed();
            if n % crate::model::POLL_EVERY_EVENTS == 0 && n != self.polled_at {
                self.polled_at = n;
                if !self.obs.keep_going() {
                    self.cut_short = true;
                    break;
                }
            }
            // The earliest of the timers kept outside the heap, if it precedes the heap's.
            let ext = self.next_external();
            if let Some((k, src)) = ext.filter(|((t, _), _)| *t <= limit) {
                if self.q.peek_key().map_or(true, |top| k < top) {
                    self.q.fire_external(k.0);
                    self.live.tick(k.0, src.kind())?;
                    match src {
                        External::Net => {
                            self.net_wake = None;
                            self.net_wake_up(k.0);
                        }
                        External::Batch(b) => self.batch_arrival(b, k.0),
                        External::Step(j) => {
                            self.now_steps.pop_front();
                            self.step_done(j, k.0);
                        }
                        External::Lane => {
                            let j = self.lane_pop();
                            self.step_done(j, k.0);
                        }
                    }
                    if self.checked {
                        self.check_invariants(k.0)?;
                    }
                    continue;
                }
            }
            let Some((now, ev)) = self.q.pop_until(limit) else {
                break;
            };
            self.live.tick(now, ev.kind())?;
            if let Some(&next) = self.q.peek() {
                self.prefetch_event(next);
            }
            self.dispatch(ev, now);
            if self.checked {
                self.check_invariants(now)?;
            }
        }
        Ok(())
    }

    /// Handles one event of the queue.
    fn dispatch(&mut self, ev: Ev, now: SimTime) {
        match ev {
            Ev::VaultActive(v) => self.vault_active(v),
            Ev::PolicyRun(p) => self.policy_run(p, now),
            Ev::Arrive {
                vm,
                kind,
                scheduled,
                attempt,
            } => self.arrive(vm, kind, scheduled, attempt, now),
            Ev::OnDemand(fi) => self.on_demand(fi, now),
            Ev::Step { job, .. } => self.step_done(job, now),
            Ev::Link { link, down, random } => self.link_event(link, down, random, now),
            Ev::Sample => self.sample(now),
            Ev::Expire { vm, .. } => self.expire_points(vm as usize, now),
            Ev::Restore(r) => self.restore_fire(r as usize, now),
        }
    }

    /// Starts loading the per-VM or per-job state event `ev` will touch (see
    /// `engine::prefetch`): at fleet scale it is rarely in cache, and it arrives while the
    /// current event runs. Changes nothing the run computes.
    #[inline]
    fn prefetch_event(&self, ev: Ev) {
        match ev {
            // The slot's address only: reading it (even its `Some`) would wait for it.
            Ev::Step { job, vm } => {
                prefetch_lines_at(self.jobs.slots(), job as usize);
                prefetch_at(&self.vms, vm as usize);
            }
            Ev::Arrive { vm, .. } => prefetch_at(&self.vms, vm as usize),
            Ev::Expire { vm, records } => {
                prefetch_at(&self.vms, vm as usize);
                self.held.prefetch_vm(vm as usize);
                // The oldest records, which the expiry decodes first: where they were
                // when it was armed (a VM's region seldom moves since it took its room).
                self.held.prefetch_arena(records as usize);
            }
            _ => {}
        }
    }

    // ---- policies and arrivals -----------------------------------------------------

    fn new_job(
        &mut self,
        vm: u32,
        kind: Kind,
        scheduled: SimTime,
        attempt: u32,
        now: SimTime,
    ) -> u32 {
        let gate = self.vm_gate(vm as usize) as u32;
        let v = &self.vms[vm as usize];
        let f = &self.fleets[v.fleet as usize];
        let fleet = v.fleet;
        let kind_tag = match kind {
            Kind::Scheduled => 0,
            Kind::OnDemand => 1,
            Kind::Restore(r) => 2 + r as u64,
        };
        let rng = stream_of_key(fold_key(
            f.job_key,
            &[
                v.index as u64,
                scheduled.as_micros(),
                kind_tag,
                attempt as u64,
            ],
        ));
        let id = self.next_job_id;
        self.next_job_id += 1;
        if attempt == 1 && !matches!(kind, Kind::Restore(_)) && scheduled >= self.warmup {
            self.st.jobs += 1;
        }
        let job = Job {
            vm,
            fleet,
            gate,
            kind,
            attempt,
            id,
            scheduled,
            phase_start: now,
            phase: Q,
            phases: [SimDuration::ZERO; 5],
            step: Step::Queued,
            running: true,
            consistency: Consistency::Crash,
            bytes: 0,
            full: false,
            fleet_slot: false,
            vault_slot: false,
            snapshot_at: now,
            cs_slot: false,
            rng,
        };
        let j = self.jobs.insert(job);
        let net = JobNet { flows: 0, vm };
        match self.job_net.get_mut(j as usize) {
            Some(n) => *n = net,
            None => self.job_net.push(net),
        }
        j
    }

    /// Frees job `j`'s slot and returns the job.
    fn free_job(&mut self, j: u32) -> Job {
        let job = self.jobs.remove(j);
        // The slab drops free slots at its top: the flow counts follow it.
        let len = self.jobs.slots().len();
        if len < self.job_net.len() {
            self.job_net.truncate(len);
            slab::give_back(&mut self.job_net, slab::KEEP);
        }
        job
    }

    fn job(&mut self, j: u32) -> &mut Job {
        &mut self.jobs[j]
    }

    fn arrive(&mut self, vm: u32, kind: Kind, scheduled: SimTime, attempt: u32, now: SimTime) {
        let j = self.new_job(vm, kind, scheduled, attempt, now);
        if self.vms[vm as usize].busy != NONE {
            self.finish(j, now, Err(Code::UserErrorBackupOperationInProgress));
            return;
        }
        self.vms[vm as usize].busy = j;
        self.enqueue(j, now);
    }

    #[inline]
    fn set_phase(&mut self, j: u32, phase: u8, now: SimTime) {
        let job = self.job(j);
        let spent = now.since(job.phase_start);
        job.phases[usize::from(job.phase)] += spent;
        job.phase = phase;
        job.phase_start = now;
    }

    /// Job `j` is in `step` until `d` from `now`: an event of the heap, or, for a step
    /// that ends as it begins, one of `now_steps` (see `lanes`).
    fn wait(&mut self, j: u32, step: Step, d: SimDuration, now: SimTime) {
        let job = self.job(j);
        job.step = step;
        let vm = job.vm;
        if d == SimDuration::ZERO {
            // Its insertion number taken as `schedule` would take it, so that it runs
            // after the events already due now and before those scheduled after it.
            debug_assert_eq!(now, self.q.now());
            let seq = self.q.reserve_seq();
            self.now_steps.push_back((seq, j));
            return;
        }
        self.q.schedule(now + d, Ev::Step { job: j, vm });
    }
}

fn vm_idx(sim: &Sim<'_, '_>, j: u32) -> usize {
    sim.jobs[j].vm as usize
}

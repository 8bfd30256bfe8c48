//! A job's steps once started: extension (agent, install or upgrade), snapshot, the wait
//! for a transfer slot, the transfer (one flow per disk), VM creation (restores), and its
//! outcome (retries, window misses, the job record).

use super::groups::Fate;
use super::*;
use crate::engine::num::round;
use crate::model::config::Inventory;
use crate::model::vm::split_bytes;

/// The chances of `Timing` a job draws, each drawn as `gen_bool` of its probability.
pub(super) struct Chances {
    extension_upgrade: Chance,
    extension_failure: Chance,
    snapshot_task_failure: Chance,
    vss_failure: Chance,
    transient_failure: Chance,
}

impl Chances {
    pub(super) fn of(t: &crate::model::config::Timing) -> Chances {
        Chances {
            extension_upgrade: Chance::new(t.extension_upgrade),
            extension_failure: Chance::new(t.extension_failure),
            snapshot_task_failure: Chance::new(t.snapshot_task_failure),
            vss_failure: Chance::new(t.vss_failure),
            transient_failure: Chance::new(t.transient_failure),
        }
    }
}

impl Sim<'_, '_> {
    /// A backup passed its fleet's gate: the extension step (agent, install or upgrade).
    pub(super) fn admit(&mut self, j: u32, now: SimTime) {
        self.set_phase(j, EXT, now);
        let t = &self.c.timing;
        let vm = self.vms[vm_idx(self, j)].clone();
        let fleet = &self.c.fleets[vm.fleet as usize];
        let rt = &self.fleets[vm.fleet as usize];
        let job = &mut self.jobs[j];
        let r = &mut job.rng;
        let drawn = rt.p_running.draw(r);
        // An inventory's power state replaces the draw (made all the same: the job's
        // later draws keep their stream positions).
        job.running = fleet
            .inventory
            .as_deref()
            .and_then(|v| Inventory::cell(&v.running, vm.index))
            .map_or(drawn, |&on| on);
        if !job.running {
            // Offline VM: a protected one (extension installed earlier) is backed up
            // without the agent, crash-consistent; one that never had the extension
            // would need an install, which a stopped VM cannot take.
            if vm.has(flag::EXTENSION) {
                self.wait(j, Step::Extension, SimDuration::ZERO, now);
            } else {
                self.wait(
                    j,
                    Step::Failing(Code::AzureVmOffline),
                    SimDuration::ZERO,
                    now,
                );
            }
            return;
        }
        let responsive = rt.p_responsive.draw(r);
        if !vm.has(flag::AGENT) || !responsive {
            let d = self.st.capped(t.agent_status_wait.draw(r), || {
                "timing.agent_status_wait".into()
            });
            // No agent: not ready; an agent that is there but does not answer: no status.
            let code = if vm.has(flag::AGENT) {
                Code::VmAgentStatusCommunicationError
            } else {
                Code::UserErrorGuestAgentStatusUnavailable
            };
            self.wait(j, Step::Failing(code), d, now);
            return;
        }
        if !vm.has(flag::EXTENSION) {
            self.install_extension(j, now);
            return;
        }
        let job = &mut self.jobs[j];
        let d = if self.chances.extension_upgrade.draw(&mut job.rng) {
            self.st
                .capped(t.extension_upgrade_time.draw(&mut job.rng), || {
                    "timing.extension_upgrade_time".into()
                })
        } else {
            SimDuration::ZERO
        };
        if d > t.extension_enable_timeout {
            // The agent kills the extension's enable (with its upgrade) at the timeout.
            let code = Step::Failing(Code::ExtensionOperationFailed);
            self.wait(j, code, t.extension_enable_timeout, now);
        } else {
            self.wait(j, Step::Extension, d, now);
        }
    }

    /// The first backup of a running VM with a working agent installs the extension through
    /// the agent, whatever the VM's outbound network (only the extension's own requests to
    /// the storage endpoint need it); the agent kills an install after its timeout.
    fn install_extension(&mut self, j: u32, now: SimTime) {
        let t = &self.c.timing;
        let job = &mut self.jobs[j];
        let d = self.st.capped(t.extension_install.draw(&mut job.rng), || {
            "timing.extension_install".into()
        });
        let fails = self.chances.extension_failure.draw(&mut job.rng);
        if d > t.extension_install_timeout {
            self.wait(
                j,
                Step::Failing(Code::ExtensionOperationFailed),
                t.extension_install_timeout,
                now,
            );
        } else if fails {
            self.wait(j, Step::Failing(Code::ExtensionOperationFailed), d, now);
        } else {
            let vi = vm_idx(self, j);
            self.vms[vi].flags |= flag::EXTENSION;
            self.wait(j, Step::Extension, d, now);
        }
    }

    pub(super) fn step_done(&mut self, j: u32, now: SimTime) {
        match self.job(j).step {
            Step::Failing(code) => self.finish(j, now, Err(code)),
            Step::Extension => self.cloud_service_enter(j, now),
            Step::Snapshot => {
                // The recovery point's time; its data now waits for a transfer slot.
                self.job(j).snapshot_at = now;
                self.vault_enqueue(j, now);
            }
            Step::Latency => self.start_flow(j, now),
            Step::Create => self.finish(j, now, Ok(())),
            Step::Queued | Step::Transfer => unreachable!("no timer in this step"),
        }
    }

    pub(super) fn snapshot(&mut self, j: u32, now: SimTime) {
        self.set_phase(j, SNAP, now);
        let t = &self.c.timing;
        let vm = self.vms[vm_idx(self, j)].clone();
        if vm.has(flag::OVERSIZE_DISK) {
            self.finish(j, now, Err(Code::UserErrorUnsupportedDiskSize));
            return;
        }
        let running = self.job(j).running;
        if running && (vm.has(flag::BLOCKED) || !self.path_up(vm.fleet)) {
            self.wait(
                j,
                Step::Failing(Code::ExtensionSnapshotFailedNoNetwork),
                t.http_burn(),
                now,
            );
            return;
        }
        let job = &mut self.jobs[j];
        // Disks are snapshotted in parallel: the phase lasts as long as the slowest.
        let mut d = SimDuration::ZERO;
        for _ in 0..=vm.data_disks {
            let x = self.st.capped(t.snapshot_per_disk.draw(&mut job.rng), || {
                "timing.snapshot_per_disk".into()
            });
            d = d.max(x);
        }
        // The file-system freeze lasts as long as the slowest disk: past the limit the
        // extension gives up (an offline VM has no extension and no freeze).
        if running
            && (d > t.snapshot_timeout || self.chances.snapshot_task_failure.draw(&mut job.rng))
        {
            self.wait(
                j,
                Step::Failing(Code::GuestAgentSnapshotTaskStatusError),
                t.snapshot_timeout,
                now,
            );
            return;
        }
        job.consistency = if !running {
            Consistency::Crash
        } else if vm.has(flag::WINDOWS) && !self.chances.vss_failure.draw(&mut job.rng) {
            Consistency::Application
        } else {
            Consistency::FileSystem
        };
        self.wait(j, Step::Snapshot, d, now);
    }

    /// A job got one of its vault's transfer slots: its transfer starts.
    pub(super) fn vault_admit(&mut self, j: u32, now: SimTime) {
        let g = self.gate_of(j);
        self.gates[g].running += 1;
        self.job(j).vault_slot = true;
        if let Kind::Restore(_) = self.job(j).kind {
            self.running_restores += 1;
        }
        self.set_phase(j, XFER, now);
        self.start_transfer(j, now);
    }

    pub(super) fn start_transfer(&mut self, j: u32, now: SimTime) {
        let vi = vm_idx(self, j);
        let vm = self.vms[vi].clone();
        // The disks' sizes are read when the bytes are drawn (and any latency has
        // passed): start their load now.
        self.disks.prefetch(&vm);
        // The VM's data as of the snapshot (a backup) or now (a restore).
        let used = match &self.jobs[j] {
            job if matches!(job.kind, Kind::Restore(_)) => self.used_now(vi, now),
            job => self.used_now(vi, job.snapshot_at),
        };
        let fleet = &self.c.fleets[vm.fleet as usize];
        let job = &mut self.jobs[j];
        let bytes = match job.kind {
            Kind::Restore(_) => used,
            _ => {
                job.full = !vm.has(flag::HAS_BASE);
                if let Some(sz) = &fleet.backup_size {
                    self.st.capped(sz.draw(&mut job.rng), || {
                        format!("fleet.{}.backup_size", fleet.name)
                    })
                } else if job.full {
                    used
                } else {
                    // The day's churn, drawn per VM per day, once per calendar day from
                    // the newest point's snapshot to this one's (at least one; at most all
                    // of the data).
                    let snap = job.snapshot_at;
                    let mut cr = stream_of_key(fold_key(
                        self.fleets[vm.fleet as usize].churn_key,
                        &[vm.index as u64, day_of(snap)],
                    ));
                    let churn = match fleet
                        .inventory
                        .as_deref()
                        .and_then(|v| Inventory::cell(&v.daily_churn, vm.index))
                    {
                        Some(&c) => c,
                        None => fleet.daily_churn.sample(&mut cr),
                    };
                    let days = (day_of(snap) - day_of(vm.last_point)).max(1) as f64;
                    round(used as f64 * (churn * days).min(1.0)) as u64
                }
            }
        };
        job.bytes = bytes;
        if fleet.reduce_transfer && !matches!(job.kind, Kind::Restore(_)) {
            let reduced = self.reduced_bytes(vi, bytes);
            self.jobs[j].bytes = reduced;
        }
        let latency = self.fleets[vm.fleet as usize].latency;
        if latency > SimDuration::ZERO {
            self.wait_latency(j, vm.fleet, latency, now);
        } else {
            self.start_flow(j, now);
        }
    }

    /// Starts one flow per disk with bytes to move, in parallel on the VM's path: the
    /// job's bytes split over its disks in proportion to their sizes (every disk is used
    /// to the VM's one share, so this is in proportion to their used bytes), each flow
    /// capped at the per-disk rate. A fleet's `max_throughput` is shared equally by the
    /// flows. The transfer ends when the last flow does.
    pub(super) fn start_flow(&mut self, j: u32, now: SimTime) {
        let vi = vm_idx(self, j);
        let fleet_idx = self.vms[vi].fleet as usize;
        let fleet = &self.c.fleets[fleet_idx];
        let t = &self.c.timing;
        let job = &self.jobs[j];
        let per_disk = match job.kind {
            Kind::Restore(_) => t.restore_throughput_per_disk,
            _ if job.full => t.full_throughput_per_disk,
            _ => t.incremental_throughput_per_disk,
        };
        let bytes = job.bytes;
        self.job(j).step = Step::Transfer;
        if bytes == 0 {
            self.transfer_done(j, now);
            return;
        }
        let mut parts = std::mem::take(&mut self.part_buf);
        let sizes = self
            .disks
            .get(self.seed, fleet, &self.vms[vi], &mut self.disk_buf);
        split_bytes(bytes, sizes, &mut parts);
        parts.retain(|&b| b > 0);
        let n = parts.len();
        let cap = match fleet.max_throughput {
            Some(m) => per_disk.min(m / n as f64),
            None => per_disk,
        };
        let path = self.vm_path(vi);
        self.net.start_owned_flows(now, path, cap, &parts, j);
        self.job_net[j as usize].flows = n as u32;
        self.part_buf = parts;
        self.resched_net();
    }

    pub(super) fn transfer_done(&mut self, j: u32, now: SimTime) {
        let kind = self.job(j).kind;
        if let Kind::Restore(r) = kind {
            let spec = &self.c.restores[r as usize];
            let vm = self.vms[vm_idx(self, j)].clone();
            self.set_phase(j, CREATE, now);
            let t = &self.c.timing;
            let job = &mut self.jobs[j];
            let mut d = SimDuration::ZERO;
            if spec.kind != RestoreKind::RestoreDisks {
                d += self
                    .st
                    .capped(t.vm_create.draw(&mut job.rng), || "timing.vm_create".into());
            }
            if vm.has(flag::MULTI_DC) && spec.via == Via::Powershell {
                d += self
                    .st
                    .capped(t.dc_powershell_extra.draw(&mut job.rng), || {
                        "timing.dc_powershell_extra".into()
                    });
            }
            self.wait(j, Step::Create, d, now);
            return;
        }
        if self.chances.transient_failure.draw(&mut self.jobs[j].rng) {
            self.finish(j, now, Err(Code::BackUpOperationFailed));
        } else {
            self.finish(j, now, Ok(()));
        }
    }

    pub(super) fn finish(&mut self, j: u32, now: SimTime, result: Result<(), Code>) {
        let job = self.job(j);
        let (phase, vi, g) = (job.phase, job.vm as usize, job.gate as usize);
        let (fi, cs_slot) = (job.fleet as usize, job.cs_slot);
        // The cloud service whose slot it frees, found once (without the VM's line).
        let cs = cs_slot.then(|| self.cloud_service_of_vm(fi, vi));
        // Issued together, the loads of the VM, its held points, its cloud service's gate
        // and the job waiting next for the transfer slot it frees overlap instead of
        // stalling one after the other.
        prefetch_at(&self.vms, vi);
        self.held.prefetch_vm(vi);
        if let Some(g) = cs {
            self.prefetch_cloud_service(fi, g);
        }
        if let Some(&(w, wvm)) = self.gates[g].queue.front() {
            prefetch_lines_at(self.jobs.slots(), w as usize);
            prefetch_at(&self.vms, wvm as usize);
        }
        self.set_phase(j, phase, now);
        self.prefetch_metrics(j, result.is_ok(), now);
        let mut job = self.free_job(j);
        let fi = job.fleet as usize;
        let is_restore = matches!(job.kind, Kind::Restore(_));
        self.release(j, &job, fi, cs, now);
        if result.is_ok() && !is_restore {
            // The new point goes after the VM's newest and the oldest may expire: their
            // lines load while the metrics are recorded (the held points' header, asked
            // for above, arrived during the release).
            self.held.prefetch_records(vi);
        }
        let duration = now.since(job.arrived());
        let consistency = if result.is_ok() && !is_restore {
            job.consistency.name()
        } else {
            ""
        };
        // Jobs scheduled during the warm-up are simulated (and listed in jobs.csv) but
        // left out of the job metrics.
        let counted = job.scheduled >= self.warmup;
        let window_miss = if is_restore {
            if result.is_ok() {
                self.books_egress(fi, job.bytes, now);
            }
            self.record_restore(result, counted, duration, job.bytes);
            false
        } else {
            self.record_backup(&mut job, result, counted, duration, now)
        };
        self.report_attempt(&job, result, window_miss, now);
        if self.wants_jobs {
            self.emit_record(&job, result, consistency, window_miss, now);
        }
    }

    /// Hints the counts a finished backup attempt of job `j` will record (its duration and
    /// its phases): each histogram is far larger than the caches'
    /// share of it, and the loads overlap the release of the job's slots.
    fn prefetch_metrics(&self, j: u32, ok: bool, now: SimTime) {
        let job = &self.jobs[j];
        if matches!(job.kind, Kind::Restore(_)) {
            return;
        }
        let d = now.since(job.arrived());
        if !ok {
            self.st.failed_duration.prefetch(d);
            return;
        }
        self.st.duration.prefetch(d);
        for (l, &p) in self.st.phase.iter().zip(&job.phases) {
            l.prefetch(p);
        }
    }

    /// Frees the VM and, when the job held them, its vault's transfer slot and its fleet's
    /// slot (admitting the next jobs: those waiting at the vault first, then the fleet's).
    fn release(&mut self, j: u32, job: &Job, fi: usize, cs: Option<usize>, now: SimTime) {
        let vi = job.vm as usize;
        let g = job.gate as usize;
        if self.vms[vi].busy == j {
            self.vms[vi].busy = NONE;
        }
        let restore = matches!(job.kind, Kind::Restore(_));
        if job.vault_slot {
            self.gates[g].running -= 1;
            if restore {
                self.running_restores -= 1;
            }
        }
        if job.fleet_slot {
            if !restore {
                self.running_backups -= 1;
            }
            self.fleets[fi].running -= 1;
        }
        if let Some(g) = cs {
            self.cloud_service_release(fi, g, now);
        }
        if job.vault_slot {
            self.admit_waiting(g as u32, now);
        }
        if job.fleet_slot {
            self.fleet_admit_waiting(fi, now);
        }
    }

    /// A finished restore's metrics.
    fn record_restore(
        &mut self,
        result: Result<(), Code>,
        counted: bool,
        duration: SimDuration,
        bytes: u64,
    ) {
        match result {
            Ok(()) if counted => {
                self.st.counts.add("restore.jobs.succeeded", 1);
                self.st.restore_duration.record(duration);
                self.st.restore_bytes = self.st.restore_bytes.saturating_add(bytes);
            }
            Err(c) if counted => {
                self.st.counts.add("restore.jobs.failed", 1);
                self.st.restore_failures[c as usize] += 1;
            }
            _ => {}
        }
    }

    /// A finished backup attempt's metrics and recovery point (or its retry); whether it
    /// missed its window.
    fn record_backup(
        &mut self,
        job: &mut Job,
        result: Result<(), Code>,
        counted: bool,
        duration: SimDuration,
        now: SimTime,
    ) -> bool {
        let vi = job.vm as usize;
        let fi = job.fleet as usize;
        let v = self.fleets[fi].vault as usize;
        let pol = self.fleets[fi].policy as usize;
        let window_end = job.scheduled + self.c.policies[pol].window;
        let scheduled = job.kind == Kind::Scheduled;
        if counted {
            self.st.attempts += 1;
        }
        let Err(code) = result else {
            let window_miss = scheduled && now > window_end;
            if counted {
                self.st.succeeded += 1;
                self.st.duration.record(duration);
                let at = job.scheduled.as_micros();
                self.st.batches.succeeded(at, duration.as_micros());
                for p in 0..4 {
                    self.st.phase[p].record(job.phases[p]);
                }
                self.st.consistency[job.consistency as usize] += 1;
                if job.full {
                    self.st.bytes_full = self.st.bytes_full.saturating_add(job.bytes);
                } else {
                    self.st.bytes_incremental = self.st.bytes_incremental.saturating_add(job.bytes);
                }
                if scheduled {
                    self.st.window_jobs += 1;
                    self.st.window_misses += window_miss as u64;
                }
            }
            self.new_point(vi, v, now, job);
            return window_miss;
        };
        if counted {
            self.st.failed_duration.record(duration);
        }
        self.backup_failed(job, code, counted, window_end, now)
    }

    /// A failed backup attempt: retried, in flight (its retry is due after the end) or
    /// final; whether it missed its window.
    fn backup_failed(
        &mut self,
        job: &Job,
        code: Code,
        counted: bool,
        window_end: SimTime,
        now: SimTime,
    ) -> bool {
        let scheduled = job.kind == Kind::Scheduled;
        let fate = self.fate(job, code, now);
        if let Fate::Retry(retry_at) = fate {
            if counted {
                self.st.retries += 1;
            }
            let ev = Ev::Arrive {
                vm: job.vm,
                kind: job.kind,
                scheduled: job.scheduled,
                attempt: job.attempt + 1,
            };
            self.at(retry_at, ev);
            false
        } else if let Fate::InFlight = fate {
            // The retry is due after the end: the job has no outcome yet, it is in flight
            // (a job still open past its window's end is a miss).
            let window_miss = scheduled && self.end > window_end;
            if counted {
                self.st.in_flight[0].add(self.end.since(job.scheduled));
                if window_miss {
                    self.st.window_jobs += 1;
                    self.st.window_misses += 1;
                }
            }
            window_miss
        } else {
            // Final (a drained run makes no retry after the end either). A failed
            // scheduled backup misses its window by definition.
            if counted {
                self.st.failed += 1;
                self.st.failures[code as usize] += 1;
                self.st.batches.failed(job.scheduled.as_micros());
                if scheduled {
                    self.st.window_jobs += 1;
                    self.st.window_misses += 1;
                }
            }
            scheduled
        }
    }

    /// The attempt's row for the observer (`jobs.csv`).
    fn emit_record(
        &mut self,
        job: &Job,
        result: Result<(), Code>,
        consistency: &'static str,
        window_miss: bool,
        now: SimTime,
    ) {
        let vi = job.vm as usize;
        let fi = job.fleet as usize;
        let v = self.fleets[fi].vault as usize;
        let f = &self.c.fleets[fi];
        let kind = self.kind_name(job.kind);
        let rec = JobRecord {
            id: job.id,
            kind,
            fleet: &f.name,
            vm: self.vms[vi].index,
            vault: &self.c.vaults[v].name,
            attempt: job.attempt,
            scheduled: job.scheduled,
            started: job.arrived(),
            finished: now,
            phases: job.phases,
            bytes: job.bytes,
            outcome: if result.is_ok() {
                "succeeded"
            } else {
                "failed"
            },
            error: result.err().map_or("", |c| c.name()),
            consistency,
            window_miss,
        };
        self.obs.job(&rec);
    }
}

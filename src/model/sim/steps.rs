//! A job's steps once admitted: extension (agent, install or upgrade), snapshot, transfer,
//! VM creation (restores), and its outcome (retries, window misses, the job record).

use super::*;

impl Sim<'_, '_> {
    pub(super) fn admit(&mut self, j: u32, now: SimTime) {
        let v = self.vault_of(j) as usize;
        self.vaults[v].running += 1;
        let kind = self.job(j).kind;
        if let Kind::Restore(_) = kind {
            self.running_restores += 1;
            self.set_phase(j, XFER, now);
            self.start_transfer(j, now);
            return;
        }
        self.running_backups += 1;
        self.set_phase(j, EXT, now);
        let t = &self.c.timing;
        let vm = self.vms[vm_idx(self, j)].clone();
        let fleet = &self.c.fleets[vm.fleet as usize];
        let job = self.jobs[j as usize].as_mut().expect("live");
        let r = &mut job.rng;
        job.running = r.gen_bool(fleet.running);
        if !job.running {
            // Offline VM: no agent, no extension; the snapshot is crash-consistent.
            self.wait(j, Step::Extension, SimDuration::ZERO, now);
            return;
        }
        let responsive = r.gen_bool(fleet.agent_responsive);
        if !vm.has(flag::AGENT) || !responsive {
            let d = self.st.capped(t.agent_status_wait.draw(r), || {
                "timing.agent_status_wait".into()
            });
            self.wait(
                j,
                Step::Failing(Code::UserErrorGuestAgentStatusUnavailable),
                d,
                now,
            );
            return;
        }
        let connected = !vm.has(flag::BLOCKED) && self.path_up(vm.fleet);
        let http_burn = t.http_burn();
        if !vm.has(flag::EXTENSION) {
            if !connected {
                self.wait(
                    j,
                    Step::Failing(Code::VmAgentStatusCommunicationError),
                    http_burn,
                    now,
                );
                return;
            }
            let job = self.jobs[j as usize].as_mut().expect("live");
            let d = self.st.capped(t.extension_install.draw(&mut job.rng), || {
                "timing.extension_install".into()
            });
            let fails = job.rng.gen_bool(t.extension_failure);
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
            return;
        }
        let job = self.jobs[j as usize].as_mut().expect("live");
        let d = if job.rng.gen_bool(t.extension_upgrade) {
            self.st
                .capped(t.extension_upgrade_time.draw(&mut job.rng), || {
                    "timing.extension_upgrade_time".into()
                })
        } else {
            SimDuration::ZERO
        };
        self.wait(j, Step::Extension, d, now);
    }

    pub(super) fn step_done(&mut self, j: u32, now: SimTime) {
        match self.job(j).step {
            Step::Failing(code) => self.finish(j, now, Err(code)),
            Step::Extension => self.snapshot(j, now),
            Step::Snapshot => {
                self.set_phase(j, XFER, now);
                self.start_transfer(j, now);
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
        let job = self.jobs[j as usize].as_mut().expect("live");
        // Disks are snapshotted in parallel: the phase lasts as long as the slowest.
        let mut d = SimDuration::ZERO;
        for _ in 0..=vm.data_disks {
            let x = self.st.capped(t.snapshot_per_disk.draw(&mut job.rng), || {
                "timing.snapshot_per_disk".into()
            });
            d = d.max(x);
        }
        if running && job.rng.gen_bool(t.snapshot_task_failure) {
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
        } else if vm.has(flag::WINDOWS) && !job.rng.gen_bool(t.vss_failure) {
            Consistency::Application
        } else {
            Consistency::FileSystem
        };
        self.wait(j, Step::Snapshot, d, now);
    }

    pub(super) fn start_transfer(&mut self, j: u32, now: SimTime) {
        let vi = vm_idx(self, j);
        let vm = self.vms[vi].clone();
        let fleet = &self.c.fleets[vm.fleet as usize];
        let job = self.jobs[j as usize].as_mut().expect("live");
        let bytes = match job.kind {
            Kind::Restore(_) => vm.used_bytes,
            _ => {
                job.full = !vm.has(flag::HAS_BASE);
                if let Some(sz) = &fleet.backup_size {
                    self.st.capped(sz.draw(&mut job.rng), || {
                        format!("fleet.{}.backup_size", fleet.name)
                    })
                } else if job.full {
                    vm.used_bytes
                } else {
                    // The day's churn, drawn per VM per day, once per calendar day since
                    // the newest point (at least one; at most all of the data).
                    let mut cr = stream(
                        self.seed,
                        &[
                            purpose::CHURN,
                            self.fleets[vm.fleet as usize].key,
                            vm.index as u64,
                            day_of(now),
                        ],
                    );
                    let churn = fleet.daily_churn.sample(&mut cr);
                    let days = (day_of(now) - day_of(vm.last_point)).max(1) as f64;
                    (vm.used_bytes as f64 * (churn * days).min(1.0)).round() as u64
                }
            }
        };
        job.bytes = bytes;
        let latency = self.fleets[vm.fleet as usize].latency;
        if latency > SimDuration::ZERO {
            self.wait(j, Step::Latency, latency, now);
        } else {
            self.start_flow(j, now);
        }
    }

    pub(super) fn start_flow(&mut self, j: u32, now: SimTime) {
        let vi = vm_idx(self, j);
        let vm = &self.vms[vi];
        let fleet = &self.c.fleets[vm.fleet as usize];
        let t = &self.c.timing;
        let job = self.jobs[j as usize].as_ref().expect("live");
        let per_disk = match job.kind {
            Kind::Restore(_) => t.restore_throughput_per_disk,
            _ if job.full => t.full_throughput_per_disk,
            _ => t.incremental_throughput_per_disk,
        };
        let mut cap = per_disk * (vm.data_disks as f64 + 1.0);
        if let Some(m) = fleet.max_throughput {
            cap = cap.min(m);
        }
        let bytes = job.bytes;
        let path = self.fleets[vm.fleet as usize].path;
        self.job(j).step = Step::Transfer;
        if bytes == 0 {
            self.transfer_done(j, now);
            return;
        }
        let f = self.net.start_flow(now, path, cap, bytes);
        self.job(j).flow = f.0;
        let fi = f.0 as usize;
        if self.flow_job.len() <= fi {
            self.flow_job.resize(fi + 1, NONE);
        }
        self.flow_job[fi] = j;
        self.resched_net();
    }

    pub(super) fn transfer_done(&mut self, j: u32, now: SimTime) {
        let kind = self.job(j).kind;
        if let Kind::Restore(r) = kind {
            let spec = &self.c.restores[r as usize];
            let vm = self.vms[vm_idx(self, j)].clone();
            self.set_phase(j, CREATE, now);
            let t = &self.c.timing;
            let job = self.jobs[j as usize].as_mut().expect("live");
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
        let fails = {
            let p = self.c.timing.transient_failure;
            self.job(j).rng.gen_bool(p)
        };
        if fails {
            self.finish(j, now, Err(Code::BackUpOperationFailed));
        } else {
            self.finish(j, now, Ok(()));
        }
    }

    pub(super) fn finish(&mut self, j: u32, now: SimTime, result: Result<(), Code>) {
        let phase = self.job(j).phase;
        self.set_phase(j, phase, now);
        let mut job = self.jobs[j as usize].take().expect("live job");
        self.free_jobs.push(j);
        let fi = self.vms[job.vm as usize].fleet as usize;
        let is_restore = matches!(job.kind, Kind::Restore(_));
        self.release(j, &job, fi, result.is_ok(), now);
        let duration = now.since(job.arrived);
        let consistency = if result.is_ok() && !is_restore {
            job.consistency.name()
        } else {
            ""
        };
        // Jobs scheduled during the warm-up are simulated (and listed in jobs.csv) but
        // left out of the job metrics.
        let counted = job.scheduled >= self.warmup;
        let window_miss = if is_restore {
            self.record_restore(result, counted, duration, job.bytes);
            false
        } else {
            self.record_backup(&mut job, result, counted, duration, now)
        };
        if self.wants_jobs {
            self.emit_record(&job, result, consistency, window_miss, now);
        }
    }

    /// Frees the VM and, when the job held them, its fleet's and vault's slots (admitting
    /// the next jobs: those already waiting at the vault first, then the fleet's next).
    fn release(&mut self, j: u32, job: &Job, fi: usize, ok: bool, now: SimTime) {
        let vi = job.vm as usize;
        let v = self.fleets[fi].vault;
        let admitted = job.phase != Q || ok;
        let was_busy_owner = self.vms[vi].busy == j;
        if was_busy_owner {
            self.vms[vi].busy = NONE;
        }
        if admitted && was_busy_owner {
            self.vaults[v as usize].running -= 1;
            if matches!(job.kind, Kind::Restore(_)) {
                self.running_restores -= 1;
            } else {
                self.running_backups -= 1;
            }
            self.fleets[fi].running -= 1;
            self.admit_waiting(v, now);
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
        let fi = self.vms[vi].fleet as usize;
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
        let fi = self.vms[job.vm as usize].fleet as usize;
        let pol = self.fleets[fi].policy as usize;
        let scheduled = job.kind == Kind::Scheduled;
        let retries = &self.c.policies[pol].retries;
        let retry_at = now + retries.delay;
        let retried = code.retryable() && job.attempt <= retries.max;
        if retried && retry_at <= self.end {
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
        } else if retried && !self.drain {
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
        let fi = self.vms[vi].fleet as usize;
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
            started: job.arrived,
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

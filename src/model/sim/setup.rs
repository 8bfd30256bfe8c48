//! Building a run from its configuration: the network's links and paths, VMs drawn fleet
//! by fleet, the fleets' and vaults' state, and the first events.

use super::*;
use crate::model::config::{Fleet, RestoreWhen};
use crate::model::vm::DiskSizes;

/// Job slots reserved up front (at most one per VM): a small run's night fits, and its
/// slots never move as they grow in number (each move would copy them into new pages).
/// 16 384 slots are 2.3 MiB of address space, touched only as slots are used.
const JOB_SLOTS_RESERVED: usize = 1 << 14;

impl<'s, 'o> Sim<'s, 'o> {
    pub(super) fn new(c: &'s Config, obs: &'o mut dyn Observer) -> Result<Self, Failure> {
        let seed = c.simulation.seed;
        let mut net = Network::new();
        let link_ids: Vec<LinkId> = c.links.iter().map(|l| net.add_link(l.bandwidth)).collect();
        let mut st = Stats {
            batches: Batches::new(
                c.simulation.batches,
                c.simulation.warmup.as_micros(),
                c.simulation.duration.as_micros(),
            ),
            ..Stats::default()
        };
        let mut vms = reserve_vms(c)?;
        let mut disks = DiskSizes::for_run(&c.fleets);
        let mut fleets = Vec::with_capacity(c.fleets.len());
        let mut policy_fleets = vec![Vec::new(); c.policies.len()];
        let mut gates = Vec::new();
        let mut vault_gate = Vec::with_capacity(c.vaults.len());
        for v in &c.vaults {
            vault_gate.push(gates.len() as u32);
            gates.extend((0..v.count.max(1)).map(|_| Gate {
                running: 0,
                limit: v.max_concurrent_jobs.unwrap_or(u32::MAX),
                queue: VecDeque::new(),
            }));
        }
        for (fi, f) in c.fleets.iter().enumerate() {
            let first_vm = vms.len() as u32;
            draw_fleet(c, fi, &mut vms, &mut disks, &mut st);
            policy_fleets[f.policy].push(fi as u32);
            let mut rt = fleet_state(c, f, first_vm, &mut net, &link_ids);
            rt.gate = vault_gate[f_vault(c, f)];
            cloud_services(f, &mut rt);
            let drawn = &vms[first_vm as usize..];
            storage_accounts(c, f, &mut rt, &mut net, &link_ids, drawn);
            fleets.push(rt);
        }
        let n_links = c.links.len();
        let wants_jobs = obs.wants_jobs();
        let n_vms = vms.len();
        let cs_next = if fleets.iter().any(|f: &FleetRt| !f.cs.is_empty()) {
            vec![NONE; n_vms]
        } else {
            Vec::new()
        };
        let mut sim = Sim {
            c,
            seed,
            q: EventQueue::new(),
            end: SimTime::ZERO + c.simulation.duration,
            warmup: SimTime::ZERO + c.simulation.warmup,
            drain: c.simulation.drain,
            horizon_links: Vec::new(),
            horizon_vaults: Vec::new(),
            held: points::PointStore::new(n_vms),
            vms,
            books: vec![cost::Books::default(); fleets.len()],
            storage: cost::Storage {
                trace: obs.wants_storage(),
                ..cost::Storage::default()
            },
            fleets,
            chances: super::steps::Chances::of(&c.timing),
            vaults: c.vaults.iter().map(vault_state).collect(),
            gates,
            policy_window_end: vec![SimTime::ZERO; c.policies.len()],
            policy_fleets,
            // Room for a small run's peak of jobs, reserved (see `Slab::with_capacity`).
            jobs: Slab::with_capacity(n_vms.min(JOB_SLOTS_RESERVED)),
            job_net: Vec::new(),
            cs_next,
            next_job_id: 0,
            net,
            net_wake: None,
            disks,
            disk_buf: Vec::new(),
            part_buf: Vec::new(),
            link_down: vec![0; n_links],
            link_outage_rng: c
                .links
                .iter()
                .map(|l| stream(seed, &[purpose::OUTAGE, name_key(&l.name)]))
                .collect(),
            link_ids,
            link_last_bytes: vec![0.0; n_links],
            link_util_max: vec![0.0; n_links],
            sample_buf_links: vec![(0.0, 0.0); n_links],
            sample_buf_vaults: vec![(0, 0); c.vaults.len()],
            last_sample: SimTime::ZERO,
            running_backups: 0,
            queued: 0,
            running_restores: 0,
            restore_rng: c
                .restores
                .iter()
                .map(|r| stream(seed, &[purpose::RESTORE, name_key(&r.name)]))
                .collect(),
            restore_fired: vec![0; c.restores.len()],
            rpo_every: c.simulation.rpo_sample_every.as_micros(),
            st,
            obs,
            polled_at: 0,
            wants_jobs,
            done_buf: Vec::new(),
            batches: Vec::new(),
            batch_heads: BinaryHeap::new(),
            now_steps: Default::default(),
            latency_lanes: vec![Default::default(); c.fleets.len()],
            lane_heads: BinaryHeap::new(),
            spare_items: Vec::new(),
            sort_scratch: Vec::new(),
            live: Liveness::new(n_vms as u64),
            checked: false,
            rep: groups::Reports::new(c),
            cut_short: false,
        };
        sim.prime();
        Ok(sim)
    }

    /// The first events: vaults becoming active, policies' first occurrences, on-demand
    /// streams, link outages, restores, the first sample and the first clean-up.
    fn prime(&mut self) {
        let c = self.c;
        for (i, v) in c.vaults.iter().enumerate() {
            let mut r = stream(self.seed, &[purpose::VAULT, name_key(&v.name)]);
            let d = self.st.capped(v.create_time.draw(&mut r), || {
                format!("vault.{}.create_time", v.name)
            });
            let t = SimTime::ZERO + d;
            self.at_resource(t, Ev::VaultActive(i as u32));
        }
        for (i, p) in c.policies.iter().enumerate() {
            if p.schedule.is_some() {
                if let Some(t) = self.first_occurrence(i, SimTime::ZERO) {
                    self.at(t, Ev::PolicyRun(i as u32));
                }
            }
        }
        for fi in 0..self.fleets.len() {
            self.schedule_on_demand(fi as u32, SimTime::ZERO);
        }
        for i in 0..c.links.len() {
            self.prime_outages(i);
        }
        for (i, r) in c.restores.iter().enumerate() {
            match r.when {
                RestoreWhen::At(at) => self.at(SimTime::ZERO + at, Ev::Restore(i as u32)),
                RestoreWhen::PerDay(_) => self.schedule_restore_stream(i),
            }
        }
        let every = c.simulation.sample_every;
        self.at(SimTime::ZERO + every, Ev::Sample);
    }

    /// Link `i`'s fixed outage windows and its first random failure.
    fn prime_outages(&mut self, i: usize) {
        let o = &self.c.links[i].outages;
        let link = i as u32;
        for w in &o.windows {
            let start = SimTime::ZERO + w.at;
            let (down, up) = (start, start + w.duration);
            self.at_resource(
                down,
                Ev::Link {
                    link,
                    down: true,
                    random: false,
                },
            );
            self.at_resource(
                up,
                Ev::Link {
                    link,
                    down: false,
                    random: false,
                },
            );
        }
        if let Some(r) = o.random {
            let d = self.exp_draw(i, r.mtbf);
            self.at_resource(
                SimTime::ZERO + d,
                Ev::Link {
                    link,
                    down: true,
                    random: true,
                },
            );
        }
    }
}

/// The VM array, its memory reserved up front (a failure to get it is reported, not a
/// crash).
fn reserve_vms(c: &Config) -> Result<Vec<Vm>, Failure> {
    let vm_total: usize = c.fleets.iter().map(|f| f.count as usize).sum();
    let mut vms = Vec::new();
    vms.try_reserve_exact(vm_total).map_err(|_| {
        Failure::OutOfMemory(format!(
            "cannot allocate {} bytes for {vm_total} VMs",
            vm_total.saturating_mul(std::mem::size_of::<Vm>())
        ))
    })?;
    crate::engine::pages::advise_huge(&vms);
    Ok(vms)
}

/// Draws the VMs of fleet `fi` onto `vms`, counting saturated draws and the VMs the
/// support rules exclude.
fn draw_fleet(c: &Config, fi: usize, vms: &mut Vec<Vm>, disks: &mut DiskSizes, st: &mut Stats) {
    let f = &c.fleets[fi];
    let vault_region = c.vaults[c.policies[f.policy].vault].region;
    let mut capped = Vec::new();
    let mut sizes = Vec::new();
    let mut unsupported = 0u64;
    for i in 0..f.count {
        let (vm, reasons) = draw_vm_counting(
            c.simulation.seed,
            fi as u32,
            f,
            i,
            &c.support,
            vault_region,
            &mut capped,
            &mut sizes,
        );
        for key in capped.drain(..) {
            st.capped(((), true), || format!("fleet.{}.{key}", f.name));
        }
        // A VM that joins later counts its RPO from the day it joins.
        let mut vm = vm;
        disks.keep(&mut vm, &sizes);
        if let Some(g) = &f.growth {
            vm.last_point = g.join_time(i);
            vm.point_arrived = vm.last_point;
        }
        if let Some(first) = reasons.first() {
            unsupported += 1;
            st.counts.add(&format!("unsupported.{}", first.name()), 1);
            for r in &reasons {
                st.counts.add(&format!("unsupported.any.{}", r.name()), 1);
            }
        }
        vms.push(vm);
    }
    st.counts
        .add(&format!("fleet.{}.vms", f.name), f.count as u64);
    st.counts
        .add(&format!("fleet.{}.unsupported", f.name), unsupported);
    st.counts.add("unsupported.vms", unsupported);
}

/// A fleet's run-time state: its vault and policy, its network path and the path's
/// latency, its on-demand stream and its concurrency gate.
fn fleet_state(
    c: &Config,
    f: &Fleet,
    first_vm: u32,
    net: &mut Network,
    link_ids: &[LinkId],
) -> FleetRt {
    let links: Vec<u32> = f.path.iter().map(|&l| l as u32).collect();
    let path = net.add_path(&f.path.iter().map(|&l| link_ids[l]).collect::<Vec<_>>());
    // Each link's latency is at most 1 000 years, but not their sum: a path that long
    // never delivers within a run (at most 10 years), capped or not.
    let latency = f
        .path
        .iter()
        .fold(SimDuration::ZERO, |a, &l| {
            SimDuration(a.0.saturating_add(c.links[l].latency.0))
        })
        .min(crate::engine::dist::MAX_DRAW_DURATION);
    let key = name_key(&f.name);
    let on_demand = (f.on_demand_per_vm_per_day > 0.0 && f.count > 0).then(|| {
        let rate_per_us = f.on_demand_per_vm_per_day * f.count as f64 / MICROS_PER_DAY as f64;
        (
            Exp::new(rate_per_us).expect("positive rate"),
            stream(c.simulation.seed, &[purpose::ON_DEMAND, key]),
        )
    });
    FleetRt {
        vault: c.policies[f.policy].vault as u32,
        policy: f.policy as u32,
        path,
        links,
        latency,
        first_vm,
        count: f.count,
        key,
        job_key: stream_key(c.simulation.seed, &[purpose::JOB, key]),
        churn_key: stream_key(c.simulation.seed, &[purpose::CHURN, key]),
        start_key: stream_key(c.simulation.seed, &[purpose::START, key]),
        p_running: Chance::new(f.running),
        p_responsive: Chance::new(f.agent_responsive),
        on_demand,
        limit: f.max_concurrent_jobs.unwrap_or(u32::MAX),
        running: 0,
        queue: VecDeque::new(),
        gate: 0,
        gates: c.vaults[c.policies[f.policy].vault].count.max(1),
        cs_limit: u32::MAX,
        cs: Vec::new(),
        point_room: super::retention::PointRoom::of(c, &c.policies[f.policy]),
        sa_paths: Vec::new(),
    }
}

/// Index of fleet `f`'s vault.
fn f_vault(c: &Config, f: &Fleet) -> usize {
    c.policies[f.policy].vault
}

/// Fleet `f`'s cloud-service gate, only where it can bind (a cloud service with more VMs
/// than the limit).
fn cloud_services(f: &Fleet, rt: &mut FleetRt) {
    if let Some(limit) = f.cloud_service_limit {
        let sizes = f.cloud_service_sizes();
        if sizes.iter().any(|&n| n > limit) {
            let groups = sizes.len();
            rt.cs_limit = limit;
            rt.cs = vec![super::cloud_service::CsGate::default(); groups];
        }
    }
}

/// Fleet `f`'s storage accounts: an account whose disks could together read faster than
/// its capacity (each VM at most `(data_disks + 1)` × the largest per-disk rate) gets a
/// link of that capacity on its VMs' path; the others could never bind and keep the
/// fleet's path, at no cost.
fn storage_accounts(
    c: &Config,
    f: &Fleet,
    rt: &mut FleetRt,
    net: &mut Network,
    ids: &[LinkId],
    vms: &[Vm],
) {
    let Some(bw) = f.storage_account_bandwidth else {
        return;
    };
    let t = &c.timing;
    let per_disk = t
        .full_throughput_per_disk
        .max(t.incremental_throughput_per_disk)
        .max(t.restore_throughput_per_disk);
    let vm_rate = |vm: &Vm| {
        let r = per_disk * (f64::from(vm.data_disks) + 1.0);
        f.max_throughput.map_or(r, |m| r.min(m))
    };
    let links: Vec<LinkId> = f.path.iter().map(|&l| ids[l]).collect();
    let mut paths = Vec::new();
    let mut any = false;
    let mut peaks: Vec<f64> = Vec::new();
    for vm in vms {
        let g = f.storage_account_of(vm.index) as usize;
        if peaks.len() <= g {
            peaks.resize(g + 1, 0.0);
        }
        peaks[g] += vm_rate(vm);
    }
    for peak in peaks {
        if peak > bw {
            let mut p = vec![net.add_link(bw)];
            p.extend(&links);
            paths.push(net.add_path(&p));
            any = true;
        } else {
            paths.push(rt.path);
        }
    }
    if any {
        rt.sa_paths = paths;
    }
}

fn vault_state(v: &crate::model::config::Vault) -> VaultState {
    VaultState {
        active: false,
        pending: VecDeque::new(),
        stored: 0,
        points: 0,
        stored_max: 0,
        points_max: 0,
        saturated: false,
        geo_lag: Latency::default(),
        geo: v.redundancy == Redundancy::Grs,
    }
}

//! From a validated scenario to the model's configuration: names resolved to indices,
//! units to plain values, the file format's enums to the model's.
//!
//! [`build`] runs after `validate`, which guarantees that every reference resolves; a
//! reference that did not would be a validation bug, and resolves to index 0 here rather
//! than panicking.

use crate::model::config::{
    self, Config, OutageWindow, Outages, PointChoice, RandomOutages, Redundancy, RestoreKind,
    RestoreWhen, Retention, Retries, Via,
};
use crate::model::vm::WINDOWS_VERSIONS;

use super::schema::{self, Scenario};

/// The model's configuration of a validated scenario.
pub fn build(s: &Scenario) -> Config {
    let region = |name: &str| index(s.region.iter().map(|r| r.name.as_str()), name);
    Config {
        simulation: simulation(&s.simulation),
        links: s.link.iter().map(link).collect(),
        vaults: s
            .vault
            .iter()
            .map(|v| vault(v, region(&v.region)))
            .collect(),
        policies: s.policy.iter().map(|p| policy(s, p)).collect(),
        fleets: s.fleet.iter().map(|f| fleet(s, f)).collect(),
        restores: s.restore.iter().map(|r| restore(s, r)).collect(),
        regions: s.region.iter().map(|r| r.name.clone()).collect(),
        group_histograms: s.fleet.len() <= crate::model::metric_names::GROUP_HISTOGRAM_FLEETS,
        part: false,
        timing: timing(&s.timing),
        support: support(&s.support),
        cost: s.cost.as_ref().map(cost),
    }
}

fn cost(c: &schema::Cost) -> config::Cost {
    config::Cost {
        currency: c.currency.trim().to_string(),
        instance_tiers: c
            .instance_tiers
            .iter()
            .map(|t| (t.up_to.0, t.price))
            .collect(),
        instance_per_started: c.instance_per_started.as_ref().map(|p| (p.size.0, p.price)),
        storage_lrs: c.storage_lrs,
        storage_grs: c.storage_grs,
        restore_egress: c.restore_egress,
    }
}

/// Position of `name` among `names` (0 if absent, which validation rules out).
fn index<'a>(mut names: impl Iterator<Item = &'a str>, name: &str) -> usize {
    names.position(|n| n == name).unwrap_or(0)
}

fn simulation(s: &schema::Simulation) -> config::Simulation {
    config::Simulation {
        seed: s.seed,
        duration: s.duration.0,
        warmup: s.warmup.0,
        drain: s.drain,
        sample_every: s.sample_every.0,
        rpo_sample_every: s.rpo_sample_every.0,
        start_weekday: s.start_weekday.index() as u8,
        start_date: s.start.map(|d| d.days()),
        // Options of a run (`run --batches`, `--run-max-events`), not of the scenario.
        batches: 0,
        max_events: 0,
    }
}

fn link(l: &schema::Link) -> config::Link {
    let outages = l
        .outages
        .as_ref()
        .map_or_else(Outages::default, |o| Outages {
            random: match (o.mtbf, o.mttr) {
                (Some(mtbf), Some(mttr)) => Some(RandomOutages {
                    mtbf: mtbf.0,
                    mttr: mttr.0,
                }),
                _ => None,
            },
            windows: o
                .windows
                .iter()
                .map(|w| OutageWindow {
                    at: w.at.0,
                    duration: w.duration.0,
                })
                .collect(),
        });
    config::Link {
        name: l.name.clone(),
        bandwidth: l.bandwidth.0,
        latency: l.latency.0,
        outages,
    }
}

fn vault(v: &schema::Vault, region: usize) -> config::Vault {
    config::Vault {
        name: v.name.clone(),
        region,
        redundancy: match v.redundancy {
            schema::Redundancy::Lrs => Redundancy::Lrs,
            schema::Redundancy::Grs => Redundancy::Grs,
        },
        create_time: v.create_time.clone(),
        max_concurrent_jobs: v.max_concurrent_jobs,
        count: v.count,
    }
}

fn policy(s: &Scenario, p: &schema::Policy) -> config::Policy {
    let r = &p.retention;
    config::Policy {
        name: p.name.clone(),
        vault: index(s.vault.iter().map(|v| v.name.as_str()), &p.vault),
        schedule: p.schedule.as_ref().map(|sch| {
            // The policy's own offset, else its vault's region's, else UTC.
            let region = s
                .vault
                .iter()
                .find(|v| v.name == p.vault)
                .and_then(|v| s.region.iter().find(|r| r.name == v.region));
            let offset = p.utc_offset.or(region.and_then(|r| r.utc_offset));
            schedule(sch).with_offset(offset.map_or(0, |o| o.micros()))
        }),
        start_within: p.start_within.0,
        window: p.window.0,
        retention: Retention {
            daily: r.daily,
            weekly: r.weekly,
            monthly: r.monthly,
            yearly: r.yearly,
            on_demand: r
                .on_demand
                .map(|d| (d.0.as_micros() / crate::engine::time::MICROS_PER_DAY) as u32),
        },
        retries: Retries {
            max: p.retries.max,
            delay: p.retries.delay.0,
        },
    }
}

/// `daily` wins over `weekly`; a weekly schedule without days or time never fires.
fn schedule(sch: &schema::Schedule) -> config::Schedule {
    match (&sch.daily, &sch.weekly, &sch.at) {
        (Some(tod), _, _) => config::Schedule::daily(tod.offset()),
        (None, Some(days), Some(tod)) => {
            config::Schedule::weekly(days.iter().map(|d| d.index() as u8), tod.offset())
        }
        _ => config::Schedule::weekly([], Default::default()),
    }
}

fn fleet(s: &Scenario, f: &schema::Fleet) -> config::Fleet {
    let link = |name: &String| index(s.link.iter().map(|l| l.name.as_str()), name);
    // With growth, the model's fleet is its size at the end; the added VMs join on dates.
    let start = s.simulation.start.map(|d| d.days());
    let growth = f.growth.as_ref().map(|g| g.to_model(f.count, start));
    config::Fleet {
        name: f.name.clone(),
        count: f.count_at_end(&s.simulation),
        region: index(s.region.iter().map(|r| r.name.as_str()), &f.region),
        policy: index(s.policy.iter().map(|p| p.name.as_str()), &f.policy),
        path: f.path.iter().map(link).collect(),
        os: f.os.clone(),
        deployment: f.deployment.clone(),
        running: f.running.0,
        agent_installed: f.agent.installed.0,
        agent_responsive: f.agent.responsive.0,
        connectivity_blocked: f.connectivity.blocked.0,
        extension_installed: f.extension.installed.0,
        data_disks: f.data_disks.clone(),
        disk_size: f.disk_size.clone(),
        os_disk: f.os_disk.clone(),
        used: f.used.clone(),
        daily_churn: f.daily_churn.clone(),
        backup_size: f.backup_size.clone(),
        max_concurrent_jobs: f.max_concurrent_jobs,
        vms_per_cloud_service: f.vms_per_cloud_service,
        cloud_service_limit: f.max_concurrent_per_cloud_service,
        vms_per_storage_account: f.vms_per_storage_account,
        storage_account_bandwidth: f.storage_account_bandwidth.map(|b| b.0),
        max_throughput: f.max_throughput.map(|b| b.0),
        storage: f.storage.clone(),
        nics: f.nics.clone(),
        reserved_ips: f.reserved_ips.clone(),
        endpoints: f.endpoints.clone(),
        load_balanced: f.load_balanced.0,
        domain_controller: f.domain_controller.clone(),
        on_demand_per_vm_per_day: f.on_demand.per_vm_per_day,
        compression: f.compression.clone(),
        dedup: f.dedup.clone(),
        reduce_transfer: f.reduce_transfer,
        onboard_days: f.onboard.as_ref().map(|o| o.days()),
        inventory: f.inventory_table.clone(),
        growth,
    }
}

fn restore(s: &Scenario, r: &schema::Restore) -> config::Restore {
    let region = |name: &str| index(s.region.iter().map(|r| r.name.as_str()), name);
    let fleet = index(s.fleet.iter().map(|f| f.name.as_str()), &r.fleet);
    let target = match (&r.target_region, s.fleet.get(fleet)) {
        (Some(t), _) => region(t),
        (None, Some(f)) => region(&f.region),
        (None, None) => 0,
    };
    config::Restore {
        name: r.name.clone(),
        fleet,
        when: match (r.at, &r.rate) {
            (Some(at), _) => RestoreWhen::At(at.0),
            (None, Some(rate)) => RestoreWhen::PerDay(rate.per_day),
            // Validation requires one of the two; a drill that never fires otherwise.
            (None, None) => RestoreWhen::At(crate::engine::SimDuration(u64::MAX)),
        },
        count: r.count,
        kind: match r.kind {
            schema::RestoreKind::CreateVm => RestoreKind::CreateVm,
            schema::RestoreKind::RestoreDisks => RestoreKind::RestoreDisks,
            schema::RestoreKind::ReplaceExisting => RestoreKind::ReplaceExisting,
        },
        target_region: target,
        point: match r.point {
            schema::PointChoice::Latest => PointChoice::Latest,
            schema::PointChoice::Oldest => PointChoice::Oldest,
            schema::PointChoice::Random => PointChoice::Random,
        },
        via: match r.via {
            schema::Via::Portal => Via::Portal,
            schema::Via::Powershell => Via::Powershell,
        },
        disks_deleted: r.disks_deleted,
    }
}

fn timing(t: &schema::Timing) -> config::Timing {
    config::Timing {
        agent_status_wait: t.agent_status_wait.clone(),
        extension_install: t.extension_install.clone(),
        extension_install_timeout: t.extension_install_timeout.0,
        extension_failure: t.extension_failure.0,
        extension_enable_timeout: t.extension_enable_timeout.0,
        extension_upgrade: t.extension_upgrade.0,
        extension_upgrade_time: t.extension_upgrade_time.clone(),
        snapshot_per_disk: t.snapshot_per_disk.clone(),
        snapshot_timeout: t.snapshot_timeout.0,
        snapshot_task_failure: t.snapshot_task_failure.0,
        vss_failure: t.vss_failure.0,
        http_timeout: t.http_timeout.0,
        http_retries: t.http_retries,
        transient_failure: t.transient_failure.0,
        full_throughput_per_disk: t.full_throughput_per_disk.0,
        incremental_throughput_per_disk: t.incremental_throughput_per_disk.0,
        restore_throughput_per_disk: t.restore_throughput_per_disk.0,
        vm_create: t.vm_create.clone(),
        dc_powershell_extra: t.dc_powershell_extra.clone(),
        geo_replication: t.geo_replication.clone(),
    }
}

/// The model's support rules of `[support]` (the oldest Windows version as an index:
/// 2008 R2 if the name is not one of the versions, as validation requires).
pub fn support(s: &schema::Support) -> config::Support {
    config::Support {
        max_data_disks: s.max_data_disks,
        resource_manager: s.resource_manager,
        premium_storage: s.premium_storage,
        max_reserved_ips: s.max_reserved_ips,
        reserved_ip_requires_endpoint: s.reserved_ip_requires_endpoint,
        max_nics: s.max_nics,
        load_balanced: s.load_balanced,
        min_windows: WINDOWS_VERSIONS
            .iter()
            .position(|v| *v == s.min_windows)
            .unwrap_or(3) as u8,
        cross_region: s.cross_region,
        max_disk_size: s.max_disk_size.0,
    }
}

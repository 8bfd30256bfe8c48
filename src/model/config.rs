//! The resolved configuration of a run: what the model simulates, as plain values.
//!
//! `scenario::build` fills it from a validated scenario file. Every reference between
//! entities is an index into the lists here (a fleet's policy, its path of links, a
//! policy's vault, a restore's fleet, regions); names are kept only where they reach the
//! output or key a random stream (fleets, vaults, links, restores, policies, regions). Durations are
//! [`SimDuration`]s, sizes bytes, bandwidths bytes per second, probabilities `f64`s.

use crate::engine::dist::{Choice, CountDist, DurationDist, FactorDist, RatioDist, SizeDist};
use crate::engine::SimDuration;

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Run-wide settings.
    pub simulation: Simulation,
    /// Shared network links, in scenario order.
    pub links: Vec<Link>,
    /// Backup vaults, in scenario order.
    pub vaults: Vec<Vault>,
    /// Backup policies, in scenario order.
    pub policies: Vec<Policy>,
    /// Fleets of similar VMs, in scenario order.
    pub fleets: Vec<Fleet>,
    /// Restore drills and streams, in scenario order.
    pub restores: Vec<Restore>,
    /// Region names, in scenario order (fleets and vaults refer to them by index; the
    /// per-region metrics are named after them).
    pub regions: Vec<String>,
    /// Per-step durations and probabilities.
    pub timing: Timing,
    /// The service's support rules.
    pub support: Support,
    /// Prices, when the scenario states them (no cost metrics otherwise).
    pub cost: Option<Cost>,
    /// Whether the per-group metrics carry percentiles (a duration and an RPO histogram
    /// per fleet): when the scenario has at most `metric_names::GROUP_HISTOGRAM_FLEETS`
    /// fleets. Decided for the whole scenario, so that a part of a partitioned run
    /// (`partition::sub_config`) writes the same keys as the whole run.
    pub group_histograms: bool,
    /// Whether the run is a part of a partitioned run (set by `partition::sub_config`):
    /// only then does its outcome carry the per-region partials a merge needs (in
    /// [`crate::model::Partials`]; the histograms among them are copies a whole run would
    /// discard).
    pub part: bool,
}

impl Config {
    /// VMs over all fleets.
    pub fn vm_count(&self) -> u64 {
        self.fleets.iter().map(|f| u64::from(f.count)).sum()
    }
}

/// Run-wide settings.
#[derive(Clone, Debug)]
pub struct Simulation {
    /// Seed of every random stream.
    pub seed: u64,
    /// Simulated time; t = 0 is 00:00 of day 0.
    pub duration: SimDuration,
    /// Jobs and restores scheduled before it are left out of the job metrics.
    pub warmup: SimDuration,
    /// Whether work in flight at `duration` runs to its outcome.
    pub drain: bool,
    /// Resolution of the time series.
    pub sample_every: SimDuration,
    /// Resolution at which recovery point ages are sampled.
    pub rpo_sample_every: SimDuration,
    /// Weekday of day 0: 0 = Monday .. 6 = Sunday.
    pub start_weekday: u8,
    /// The calendar date of day 0 as days since 1970-01-01, when the run has one: monthly
    /// and yearly retention then count calendar months and years (else 30 and 365 days).
    pub start_date: Option<i64>,
    /// Batch means: the span after the warm-up is split into this many equal batches of
    /// simulated time, each with its own sums of the steady-state metrics (0: off).
    pub batches: u32,
    /// A run stops after this many events and is marked cut short (0: no limit).
    pub max_events: u64,
}

/// A shared network link.
#[derive(Clone, Debug)]
pub struct Link {
    /// Link name (metric names, time-series columns, its outage stream).
    pub name: String,
    /// Capacity, bytes per second.
    pub bandwidth: f64,
    /// One-way latency added to the start of each transfer.
    pub latency: SimDuration,
    /// Failures of the link.
    pub outages: Outages,
}

/// A link's failures: fixed windows, and exponential up/down times.
#[derive(Clone, Debug, Default)]
pub struct Outages {
    /// Random failures, if any.
    pub random: Option<RandomOutages>,
    /// Fixed outage windows.
    pub windows: Vec<OutageWindow>,
}

/// Exponential up and down times.
#[derive(Clone, Copy, Debug)]
pub struct RandomOutages {
    /// Mean time between failures.
    pub mtbf: SimDuration,
    /// Mean time to repair.
    pub mttr: SimDuration,
}

/// A fixed outage.
#[derive(Clone, Copy, Debug)]
pub struct OutageWindow {
    /// Start, from t = 0.
    pub at: SimDuration,
    /// Length.
    pub duration: SimDuration,
}

/// Storage redundancy of a vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redundancy {
    /// Locally redundant.
    Lrs,
    /// Geo-redundant: each recovery point is replicated to the paired region.
    Grs,
}

/// A backup vault.
#[derive(Clone, Debug)]
pub struct Vault {
    /// Vault name (metric names, job records, its creation stream).
    pub name: String,
    /// Index of its region.
    pub region: usize,
    /// LRS or GRS.
    pub redundancy: Redundancy,
    /// Time from t = 0 until the vault is active.
    pub create_time: DurationDist,
    /// Jobs running at once; `None` = unlimited.
    pub max_concurrent_jobs: Option<u32>,
    /// Identical copies of the vault (each with its own gate); its policies' fleets spread
    /// their VMs over them in blocks by index.
    pub count: u32,
}

/// A backup policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Policy name (per-policy metrics, `nights.csv`).
    pub name: String,
    /// Index of the vault the policy lives in.
    pub vault: usize,
    /// When scheduled backups run; `None` = on-demand backups only.
    pub schedule: Option<Schedule>,
    /// Jobs start uniformly spread over this span after the scheduled time.
    pub start_within: SimDuration,
    /// Backup window from the scheduled time.
    pub window: SimDuration,
    /// Recovery points kept per tier.
    pub retention: Retention,
    /// Retries of retryable failures.
    pub retries: Retries,
}

/// When a policy fires: at one time of day, on some weekdays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Bit `d` set: the policy fires on weekday `d` (0 = Monday .. 6 = Sunday). No bit
    /// set: it never fires.
    pub days: u8,
    /// Time of day, from 00:00, in the schedule's local time.
    pub at: SimDuration,
    /// Local time minus UTC, µs (a fixed offset: no daylight-saving shifts). The run's
    /// clock is UTC; a policy at 22:00 with offset +09:00 fires at 13:00 UTC.
    pub offset: i64,
}

impl Schedule {
    /// Every day at `at`.
    pub fn daily(at: SimDuration) -> Schedule {
        Schedule {
            days: 0x7f,
            at,
            offset: 0,
        }
    }

    /// On the weekdays `days` (0 = Monday) at `at`.
    pub fn weekly(days: impl IntoIterator<Item = u8>, at: SimDuration) -> Schedule {
        let days = days.into_iter().fold(0u8, |m, d| m | (1 << (d % 7)));
        Schedule {
            days,
            at,
            offset: 0,
        }
    }

    /// The same schedule in local time `offset` µs ahead of UTC.
    pub fn with_offset(self, offset: i64) -> Schedule {
        Schedule { offset, ..self }
    }

    /// Whether the schedule fires on weekday `dow` (0 = Monday).
    pub fn on(&self, dow: u64) -> bool {
        self.days & (1 << (dow % 7)) != 0
    }
}

/// Recovery points kept per tier.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// Daily points kept (days).
    pub daily: u32,
    /// Weekly points kept (weeks).
    pub weekly: u32,
    /// Monthly points kept (calendar months with a start date, else 30-day months).
    pub monthly: u32,
    /// Yearly points kept (calendar years with a start date, else 365-day years).
    pub yearly: u32,
    /// Days an on-demand point is kept, apart from the tiers (`None`: like a scheduled
    /// point, counting toward them).
    pub on_demand: Option<u32>,
}

/// Retries of retryable failures.
#[derive(Clone, Copy, Debug)]
pub struct Retries {
    /// Retries after the first attempt.
    pub max: u32,
    /// Delay between a failure and the retry.
    pub delay: SimDuration,
}

/// A fleet: a group of similar VMs whose attributes may be distributions.
#[derive(Clone, Debug)]
pub struct Fleet {
    /// Fleet name (metric names, job records, its random streams).
    pub name: String,
    /// Number of VMs.
    pub count: u32,
    /// Index of the VMs' region.
    pub region: usize,
    /// Index of the policy applied to every VM.
    pub policy: usize,
    /// Indices of the links a transfer crosses, in order.
    pub path: Vec<usize>,
    /// Operating system names.
    pub os: Choice,
    /// `classic` or `resource-manager`.
    pub deployment: Choice,
    /// Probability a VM is running when its job starts.
    pub running: f64,
    /// Share of VMs provisioned with the VM agent.
    pub agent_installed: f64,
    /// Probability an installed agent answers when a job needs it.
    pub agent_responsive: f64,
    /// Share of VMs with no outbound internet access.
    pub connectivity_blocked: f64,
    /// Share of VMs whose backup extension is installed at t = 0.
    pub extension_installed: f64,
    /// Data disks per VM.
    pub data_disks: CountDist,
    /// Size of each data disk.
    pub disk_size: SizeDist,
    /// Size of the OS disk.
    pub os_disk: SizeDist,
    /// Share of each disk holding data.
    pub used: RatioDist,
    /// Share of the used data changed per day.
    pub daily_churn: RatioDist,
    /// Overrides the bytes of every backup with this draw.
    pub backup_size: Option<SizeDist>,
    /// Jobs of this fleet running at once; `None` = unlimited.
    pub max_concurrent_jobs: Option<u32>,
    /// VMs per cloud service (VM `i` is in cloud service `i / vms_per_cloud_service`).
    pub vms_per_cloud_service: u32,
    /// VMs of one cloud service past the gate before the snapshot at once; `None` =
    /// unlimited.
    pub cloud_service_limit: Option<u32>,
    /// VMs per storage account (VM `i` is in account `i / vms_per_storage_account`).
    pub vms_per_storage_account: u32,
    /// Read capacity of one storage account, bytes per second, shared by its disks'
    /// transfers; `None` = unlimited.
    pub storage_account_bandwidth: Option<f64>,
    /// Per-VM read throughput cap, bytes per second.
    pub max_throughput: Option<f64>,
    /// `standard` or `premium`.
    pub storage: Choice,
    /// NICs per VM.
    pub nics: CountDist,
    /// Reserved IPs per VM.
    pub reserved_ips: CountDist,
    /// Endpoints per VM.
    pub endpoints: CountDist,
    /// Probability a VM is in a load-balanced set.
    pub load_balanced: f64,
    /// `none`, `single` or `multi-dc`.
    pub domain_controller: Choice,
    /// Poisson rate of on-demand backups per VM per day.
    pub on_demand_per_vm_per_day: f64,
    /// Compression factor of the bytes a recovery point stores (1 = none).
    pub compression: FactorDist,
    /// Deduplication factor of the bytes a recovery point stores (1 = none).
    pub dedup: FactorDist,
    /// Whether compression and deduplication also shrink the bytes transferred (the
    /// reduction happens at the source), not only the bytes stored.
    pub reduce_transfer: bool,
    /// First-wave onboarding: the VMs' first scheduled backups are spread over this many
    /// whole days (VM `i` of `count` starts on day `floor(i × days / count)` after the
    /// policy's first occurrence); `None` = every VM from the first occurrence.
    pub onboard_days: Option<u32>,
    /// Per-VM values read from an inventory (row `i` is VM `i`); `None` = every attribute
    /// drawn from the distributions above.
    pub inventory: Option<std::sync::Arc<Inventory>>,
    /// VMs added and used data growing per month; `None` = constant (then `count` VMs from
    /// the start). With growth, `count` is the size at the end of the run.
    pub growth: Option<crate::model::growth::Growth>,
}

impl Fleet {
    /// The cloud service of VM `i` (an index within the fleet).
    pub fn cloud_service_of(&self, i: u32) -> u32 {
        match self
            .inventory
            .as_deref()
            .and_then(|v| v.cloud_service.as_ref())
        {
            Some(groups) => groups[i as usize],
            None => i / self.vms_per_cloud_service.max(1),
        }
    }

    /// The storage account of VM `i` (an index within the fleet).
    pub fn storage_account_of(&self, i: u32) -> u32 {
        match self
            .inventory
            .as_deref()
            .and_then(|v| v.storage_account.as_ref())
        {
            Some(groups) => groups[i as usize],
            None => i / self.vms_per_storage_account.max(1),
        }
    }

    /// The VMs of each cloud service, by cloud service index.
    pub fn cloud_service_sizes(&self) -> Vec<u32> {
        self.group_sizes(|i| self.cloud_service_of(i))
    }

    fn group_sizes(&self, of: impl Fn(u32) -> u32) -> Vec<u32> {
        let mut sizes = Vec::new();
        for i in 0..self.count {
            let g = of(i) as usize;
            if sizes.len() <= g {
                sizes.resize(g + 1, 0);
            }
            sizes[g] += 1;
        }
        sizes
    }
}

/// A fleet's VMs as listed in an inventory file: row `i` is VM `i`. A column the file
/// does not have is `None`; within a column a blank cell is `None`, and that VM draws the
/// attribute from its fleet's distribution (from the same random stream position as
/// without an inventory, so the other attributes do not move).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inventory {
    /// Operating system names.
    pub os: Option<Vec<Option<Box<str>>>>,
    /// Disk sizes in bytes, the OS disk first, then the data disks.
    pub disks: Option<Vec<Option<Box<[u64]>>>>,
    /// Bytes in use over all the VM's disks.
    pub used: Option<Vec<Option<u64>>>,
    /// Share of the used data changed per day.
    pub daily_churn: Option<Vec<Option<f64>>>,
    /// Whether the VM is running (`false`: stopped, backed up offline).
    pub running: Option<Vec<Option<bool>>>,
    /// Whether the VM agent is installed.
    pub agent: Option<Vec<Option<bool>>>,
    /// Whether outbound connectivity is blocked.
    pub blocked: Option<Vec<Option<bool>>>,
    /// Cloud service index of every VM (blank cells already resolved to the fleet's
    /// grouping by index, numbered after the named ones).
    pub cloud_service: Option<Vec<u32>>,
    /// Storage account index of every VM, resolved like `cloud_service`.
    pub storage_account: Option<Vec<u32>>,
}

impl Inventory {
    /// VM `i`'s cell of a column, when the column exists and the cell is not blank.
    pub fn cell<T>(column: &Option<Vec<Option<T>>>, i: u32) -> Option<&T> {
        column.as_ref()?.get(i as usize)?.as_ref()
    }
}

/// Kind of restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreKind {
    /// Create a new VM from the recovery point.
    CreateVm,
    /// Restore the disks only.
    RestoreDisks,
    /// Restore over the existing VM.
    ReplaceExisting,
}

/// Which recovery point a restore uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointChoice {
    /// The newest point.
    Latest,
    /// The oldest retained point.
    Oldest,
    /// A uniformly chosen retained point.
    Random,
}

/// The restore workflow used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The portal's restore workflow.
    Portal,
    /// PowerShell (required for multi-DC domain controllers).
    Powershell,
}

/// When restores are requested.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RestoreWhen {
    /// A one-off drill at this time from t = 0.
    At(SimDuration),
    /// A Poisson stream with this rate per day.
    PerDay(f64),
}

/// A restore drill or stream.
#[derive(Clone, Debug)]
pub struct Restore {
    /// Drill name (its random stream).
    pub name: String,
    /// Index of the fleet whose VMs are restored.
    pub fleet: usize,
    /// A drill or a stream.
    pub when: RestoreWhen,
    /// VMs restored per drill (or per arrival of the stream).
    pub count: u32,
    /// What is restored.
    pub kind: RestoreKind,
    /// Index of the region restored into.
    pub target_region: usize,
    /// Recovery point used.
    pub point: PointChoice,
    /// Workflow used.
    pub via: Via,
    /// For `ReplaceExisting`: the VM's disks are deleted first.
    pub disks_deleted: bool,
}

/// Per-step durations and probabilities.
#[derive(Clone, Debug)]
pub struct Timing {
    /// Wait for an agent status before failing.
    pub agent_status_wait: DurationDist,
    /// Backup extension install through the agent.
    pub extension_install: DurationDist,
    /// The agent kills an install that runs longer.
    pub extension_install_timeout: SimDuration,
    /// Probability an install fails.
    pub extension_failure: f64,
    /// The agent kills the extension's enable (with an automatic upgrade before it) after
    /// this long.
    pub extension_enable_timeout: SimDuration,
    /// Probability a backup first upgrades the extension.
    pub extension_upgrade: f64,
    /// Duration of an automatic upgrade.
    pub extension_upgrade_time: DurationDist,
    /// Snapshot of one disk (disks are snapshotted in parallel).
    pub snapshot_per_disk: DurationDist,
    /// File-system freeze limit: a snapshot (its slowest disk) running longer fails at
    /// this time.
    pub snapshot_timeout: SimDuration,
    /// Probability the snapshot task fails at the timeout for another reason (what-if).
    pub snapshot_task_failure: f64,
    /// Probability some VSS writers fail on Windows.
    pub vss_failure: f64,
    /// HTTP request timeout to the storage endpoint.
    pub http_timeout: SimDuration,
    /// Retries of a timed-out HTTP request.
    pub http_retries: u32,
    /// Probability of a transient internal error at the end of the transfer.
    pub transient_failure: f64,
    /// Read throughput per disk of a first (full) backup, bytes per second.
    pub full_throughput_per_disk: f64,
    /// Read throughput per disk of an incremental backup, bytes per second.
    pub incremental_throughput_per_disk: f64,
    /// Read throughput per disk of a restore, bytes per second.
    pub restore_throughput_per_disk: f64,
    /// VM creation after a restore copies its data.
    pub vm_create: DurationDist,
    /// Extra PowerShell steps of a multi-DC domain controller restore.
    pub dc_powershell_extra: DurationDist,
    /// Geo-replication delay of a GRS recovery point.
    pub geo_replication: DurationDist,
}

impl Timing {
    /// The time a storage request that never answers costs: the first try and every retry
    /// each wait the full `http_timeout`.
    pub fn http_burn(&self) -> SimDuration {
        self.http_timeout.times(self.http_retries as u64 + 1)
    }
}

/// The service's support rules.
#[derive(Clone, Debug)]
pub struct Support {
    /// Most data disks supported.
    pub max_data_disks: u32,
    /// Whether resource-manager VMs are supported.
    pub resource_manager: bool,
    /// Whether premium storage VMs are supported.
    pub premium_storage: bool,
    /// Most reserved IPs supported.
    pub max_reserved_ips: u32,
    /// Whether a reserved IP needs an endpoint.
    pub reserved_ip_requires_endpoint: bool,
    /// Most NICs supported.
    pub max_nics: u32,
    /// Whether load-balanced VMs are supported.
    pub load_balanced: bool,
    /// Oldest Windows Server version supported, by index into
    /// [`WINDOWS_VERSIONS`](super::vm::WINDOWS_VERSIONS).
    pub min_windows: u8,
    /// Whether a vault may protect VMs of another region.
    pub cross_region: bool,
    /// Largest disk supported, bytes.
    pub max_disk_size: u64,
}

/// A billing month: 30 days of simulated time (prices are per month, usage is prorated by
/// the time protected within it).
pub const BILLING_MONTH: SimDuration = SimDuration(30 * 86_400 * 1_000_000);

/// Bytes in the GB of a price per GB (decimal, as the scenario format's `GB`).
pub const BYTES_PER_PRICED_GB: f64 = 1e9;

/// Prices of the service, in one currency.
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    /// Currency name (informational: every cost metric is in it).
    pub currency: String,
    /// Monthly price of a protected instance by size: `(up to bytes, price)`, sizes
    /// increasing; an instance takes the first tier it fits.
    pub instance_tiers: Vec<(u64, f64)>,
    /// Above the last tier: `(size, price)` per started `size` of protected data. `None`:
    /// the last tier's price applies to every larger instance.
    pub instance_per_started: Option<(u64, f64)>,
    /// Storage per GB-month, locally redundant vaults.
    pub storage_lrs: f64,
    /// Storage per GB-month, geo-redundant vaults.
    pub storage_grs: f64,
    /// Restored data leaving the vault, per GB.
    pub restore_egress: f64,
}

/// The prices of data stored and restored: with the exact sums of bytes and instance
/// prices (`model::CostSums`), all the run-wide costs need.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DataPrices {
    /// Storage per GB-month, geo-redundant vaults.
    pub storage_grs: f64,
    /// Storage per GB-month, locally redundant vaults.
    pub storage_lrs: f64,
    /// Restored data leaving the vault, per GB.
    pub restore_egress: f64,
}

impl Cost {
    /// The prices of data stored and restored.
    pub fn data_prices(&self) -> DataPrices {
        DataPrices {
            storage_grs: self.storage_grs,
            storage_lrs: self.storage_lrs,
            restore_egress: self.restore_egress,
        }
    }

    /// Monthly price of one protected instance holding `used` bytes of data.
    pub fn instance_price(&self, used: u64) -> f64 {
        if let Some(&(_, p)) = self.instance_tiers.iter().find(|(up_to, _)| used <= *up_to) {
            return p;
        }
        match self.instance_per_started {
            Some((size, p)) => used.div_ceil(size.max(1)) as f64 * p,
            None => self.instance_tiers.last().map_or(0.0, |t| t.1),
        }
    }

    /// Storage price per GB-month of a vault with redundancy `r`.
    pub fn storage_price(&self, r: Redundancy) -> f64 {
        match r {
            Redundancy::Lrs => self.storage_lrs,
            Redundancy::Grs => self.storage_grs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 2015 model: up to 50 GB $5, up to 500 GB $10, then $10 per started 500 GB.
    fn model_2015() -> Cost {
        Cost {
            currency: "USD".into(),
            instance_tiers: vec![(50_000_000_000, 5.0), (500_000_000_000, 10.0)],
            instance_per_started: Some((500_000_000_000, 10.0)),
            storage_lrs: 0.024,
            storage_grs: 0.048,
            restore_egress: 0.0,
        }
    }

    #[test]
    fn instance_tiers_of_the_2015_model() {
        let c = model_2015();
        let gb = 1_000_000_000u64;
        // The published examples: 50 GB → $5, 500 GB → $10, 2 000 GB → $40.
        assert_eq!(c.instance_price(50 * gb), 5.0);
        assert_eq!(c.instance_price(50 * gb + 1), 10.0);
        assert_eq!(c.instance_price(500 * gb), 10.0);
        assert_eq!(c.instance_price(500 * gb + 1), 20.0);
        assert_eq!(c.instance_price(1_200 * gb), 30.0);
        assert_eq!(c.instance_price(2_000 * gb), 40.0);
        let open = Cost {
            instance_per_started: None,
            ..c
        };
        assert_eq!(open.instance_price(2_000 * gb), 10.0);
    }
}

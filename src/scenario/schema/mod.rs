//! The scenario file format: typed structs that serde fills from TOML.
//!
//! Every field has its default here (`#[serde(default)]`), so a deserialized [`Scenario`]
//! is complete, and serializing it back gives `scenario.resolved.toml`: the same run with
//! every default written out. Defaults cite `docs/parameters.md`; values marked
//! "planning assumption" were not published by the service.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::engine::dist::{Choice, CountDist, Dist, DurationDist, FactorDist, RatioDist, SizeDist};
use crate::engine::SimDuration;
use crate::units::{Bandwidth, CalendarDate, Duration, TimeOfDay, UtcOffset};

mod cost;
mod growth;
mod limits;
mod service;
mod values;

pub use cost::{Cost, InstancePerStarted, InstanceTier};
pub use growth::{Growth, UsedPerMonth};
pub use limits::{LimitValues, Limits, STORAGE_ACCOUNT_BANDWIDTH};
pub use service::{Support, Timing};
pub use values::{Bound, Prob, Weekday};

/// The whole scenario file.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Run-wide settings.
    pub simulation: Simulation,
    /// Regions (with their geo-redundancy pair).
    #[serde(default)]
    pub region: Vec<Region>,
    /// Shared network links.
    #[serde(default)]
    pub link: Vec<Link>,
    /// Backup vaults.
    #[serde(default)]
    pub vault: Vec<Vault>,
    /// Backup policies.
    #[serde(default)]
    pub policy: Vec<Policy>,
    /// Groups of similar VMs.
    #[serde(default)]
    pub fleet: Vec<Fleet>,
    /// Restore drills and streams.
    #[serde(default)]
    pub restore: Vec<Restore>,
    /// Per-step durations and probabilities.
    #[serde(default)]
    pub timing: Timing,
    /// The service's support rules, switchable for what-if studies.
    #[serde(default)]
    pub support: Support,
    /// Prices (optional: without it a run reports no cost metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    /// Regression bounds checked by `backupsim check`.
    #[serde(default)]
    pub expect: Vec<Expect>,
    /// Subscriptions holding the vaults (none: one implicit subscription).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscription: Vec<Subscription>,
}

/// `[simulation]`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Simulation {
    /// Scenario name: names the default results directory.
    pub name: String,
    /// Seed of every random stream: any integer from 0 to 18446744073709551615 (2^64 − 1).
    /// TOML integers stop at 9223372036854775807, so larger seeds are written as a quoted
    /// decimal string (`seed = "18446744073709551615"`).
    #[serde(
        default = "default_seed",
        deserialize_with = "de_seed",
        serialize_with = "ser_seed"
    )]
    #[schemars(schema_with = "seed_schema")]
    pub seed: u64,
    /// Simulated time; t = 0 is 00:00 of day 0.
    #[serde(default = "default_duration")]
    pub duration: Duration,
    /// Jobs and restores scheduled before this time are simulated but left out of the job
    /// metrics (`backup.*`, `restore.*`, `rpo.*`); storage, links and the time series stay
    /// complete. Must be shorter than `duration`.
    #[serde(default = "default_warmup")]
    pub warmup: Duration,
    /// Whether the run stops creating work at `duration` and continues until every job and
    /// restore in flight has finished (otherwise they are counted as in flight).
    #[serde(default)]
    pub drain: bool,
    /// Resolution of `timeseries.csv`.
    #[serde(default = "default_sample_every")]
    pub sample_every: Duration,
    /// Resolution at which recovery point age (RPO) is sampled for every protected VM.
    #[serde(default = "default_rpo_every")]
    pub rpo_sample_every: Duration,
    /// Weekday of day 0 (weekly schedules and weekly retention use it). With `start`, it is
    /// the start date's weekday.
    #[serde(default = "default_weekday")]
    pub start_weekday: Weekday,
    /// The calendar date of day 0 ("2015-11-02"): nights get dates, and monthly and yearly
    /// retention count calendar months and years (without it, 30 and 365 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<CalendarDate>,
    /// Whether to write `jobs.csv`: "auto" (on up to 2 million expected jobs), "on", "off".
    #[serde(default)]
    pub jobs_csv: JobsCsv,
    /// The set of the service's published limits that applies: "2016" (the earliest
    /// published set, the default), "2018", "none" (lifted) or "strict" (the 2016 set with
    /// VMs per vault and vaults per subscription as errors). Each limit key written on a
    /// vault, fleet or subscription overrides its preset value.
    #[serde(default)]
    pub limits: Limits,
}

/// `[[subscription]]`: vaults are grouped in subscriptions (one implicit subscription when
/// none is declared), for the vaults-per-subscription limit.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// Subscription name.
    pub name: String,
    /// Identical subscriptions this entry stands for; the vaults naming it are spread
    /// evenly over them.
    #[serde(default = "one_u32")]
    pub count: u32,
    /// Vaults per subscription (preset: 25, azure-backup-limits.md 2015).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vaults: Option<u32>,
}

/// When `jobs.csv` is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobsCsv {
    /// On when the scenario expects at most [`JOBS_CSV_AUTO_LIMIT`] jobs.
    #[default]
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

/// Expected job count above which `jobs_csv = "auto"` turns the file off.
pub const JOBS_CSV_AUTO_LIMIT: u64 = 2_000_000;

fn default_seed() -> u64 {
    1
}

/// What a seed may be, for messages.
pub const SEED_RANGE: &str = "an integer from 0 to 18446744073709551615 (above 9223372036854775807, TOML's largest integer, write it as a quoted string, e.g. seed = \"18446744073709551615\")";

fn de_seed<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = toml::Value::deserialize(d)?;
    match &v {
        toml::Value::Integer(i) if *i >= 0 => Ok(*i as u64),
        toml::Value::String(s)
            if !s.trim().is_empty() && s.trim().bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.trim().parse::<u64>().map_err(|_| {
                de::Error::custom(format!(
                    "expected a seed: {SEED_RANGE}; found \"{s}\", beyond the range"
                ))
            })
        }
        other => Err(de::Error::custom(format!(
            "expected a seed: {SEED_RANGE}; found {}",
            crate::scenario::dist_format::describe(other)
        ))),
    }
}

/// Seeds TOML can hold are written as integers, larger ones as decimal strings.
fn ser_seed<S: Serializer>(seed: &u64, s: S) -> Result<S::Ok, S::Error> {
    if *seed <= i64::MAX as u64 {
        s.serialize_u64(*seed)
    } else {
        s.serialize_str(&seed.to_string())
    }
}

fn seed_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
    serde_json::from_value(serde_json::json!({
        "description": "an integer from 0 to 2^64 - 1; above 2^63 - 1 as a quoted decimal string",
        "anyOf": [
            {"type": "integer", "minimum": 0},
            {"type": "string", "pattern": "^[0-9]+$"}
        ]
    }))
    .expect("static schema")
}
fn default_duration() -> Duration {
    Duration(SimDuration::from_days(7))
}
fn default_warmup() -> Duration {
    Duration(SimDuration::ZERO)
}
fn default_sample_every() -> Duration {
    Duration(SimDuration::from_secs(900))
}
fn default_rpo_every() -> Duration {
    Duration(SimDuration::from_secs(3600))
}
fn default_weekday() -> Weekday {
    Weekday::Mon
}

/// `[[region]]`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Region name.
    pub name: String,
    /// Paired region that geo-redundant vaults replicate to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired: Option<String>,
    /// Whether the backup service is offered here (a vault needs a supported region).
    #[serde(default = "yes")]
    pub supported: bool,
    /// Local time of the region ("+09:00"): schedules of policies in its vaults run in it.
    /// A fixed offset: no daylight-saving shifts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<UtcOffset>,
}

fn yes() -> bool {
    true
}

/// `[[link]]`: a shared network resource.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Link name.
    pub name: String,
    /// Capacity shared max-min fairly by the transfers crossing it.
    pub bandwidth: Bandwidth,
    /// One-way latency added to the start of each transfer.
    #[serde(default)]
    pub latency: Duration,
    /// Optional fault model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outages: Option<Outages>,
}

/// Link failures: exponential up/down times, fixed windows, or both.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outages {
    /// Mean time between failures (exponential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtbf: Option<Duration>,
    /// Mean time to repair (exponential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mttr: Option<Duration>,
    /// Fixed outage windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<OutageWindow>,
}

/// A fixed outage.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutageWindow {
    /// Start, from t = 0.
    pub at: Duration,
    /// Length.
    pub duration: Duration,
}

/// Storage redundancy of a vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
pub enum Redundancy {
    /// Locally redundant.
    #[serde(rename = "LRS")]
    Lrs,
    /// Geo-redundant (the service default): each recovery point is replicated to the
    /// paired region.
    #[default]
    #[serde(rename = "GRS")]
    Grs,
}

/// `[[vault]]`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vault {
    /// Display name, unique within the subscription.
    pub name: String,
    /// Region; must be supported, and the region of every VM the vault protects.
    pub region: String,
    /// LRS or GRS (default GRS, the service default).
    #[serde(default)]
    pub redundancy: Redundancy,
    /// Time from t = 0 until the vault is active (planning assumption: uniform 2–10 min).
    #[serde(default = "default_create_time")]
    pub create_time: DurationDist,
    /// Identical vaults this entry stands for (same settings, each with its own
    /// concurrency gate and VM limit); the VMs of its policies' fleets are spread evenly
    /// over them, and its metrics are their totals.
    #[serde(default = "one_u32")]
    pub count: u32,
    /// Subscription holding the vault (default: the first `[[subscription]]`, or the
    /// implicit one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    /// VMs backing up at once (excess jobs queue FIFO); absent = the preset of
    /// `simulation.limits` (40 in 2016, 100 in 2018, unlimited with "none").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_jobs: Option<u32>,
    /// VMs the vault protects; more is a warning ("strict": an error). Absent = the preset
    /// (200 in 2016, 1 000 in 2018).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vms: Option<u32>,
}

fn default_create_time() -> DurationDist {
    DurationDist(Dist::Uniform {
        min: 120.0,
        max: 600.0,
    })
}

/// `[[policy]]`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Policy name.
    pub name: String,
    /// Vault the policy lives in.
    pub vault: String,
    /// When scheduled backups run; absent = on-demand backups only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// Jobs start uniformly spread over this span after the scheduled time (2 h, FAQ 2019).
    #[serde(default = "default_start_within")]
    pub start_within: Duration,
    /// Backup window from the scheduled time; a job finishing later is a window miss
    /// (24 h: "a daily backup normally completes within 24 h").
    #[serde(default = "default_window")]
    pub window: Duration,
    /// Recovery points kept per tier.
    #[serde(default)]
    pub retention: Retention,
    /// Retries of failures the service retries (what-if; default none, as documented).
    #[serde(default)]
    pub retries: Retries,
    /// Local time of the schedule ("-05:00"); default: the vault's region's `utc_offset`,
    /// else UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<UtcOffset>,
}

fn default_start_within() -> Duration {
    Duration(SimDuration::from_secs(7200))
}
fn default_window() -> Duration {
    Duration(SimDuration::from_days(1))
}

/// A schedule: `{ daily = "22:00" }` or `{ weekly = ["sun"], at = "02:00" }`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Daily at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<TimeOfDay>,
    /// Weekly on these days (with `at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<Vec<Weekday>>,
    /// Time of day for weekly schedules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<TimeOfDay>,
}

/// Recovery points kept per tier (default: daily 30, the default policy of new vaults).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Daily points kept (days).
    #[serde(default)]
    pub daily: u32,
    /// Weekly points kept (weeks): the first point of each week.
    #[serde(default)]
    pub weekly: u32,
    /// Monthly points kept (30-day months): the first point of each month.
    #[serde(default)]
    pub monthly: u32,
    /// Yearly points kept (365-day years): the first point of each year.
    #[serde(default)]
    pub yearly: u32,
    /// How long an on-demand ("back up now") point is kept, in whole days, apart from the
    /// tiers (it opens no week, month or year). Unset: like a scheduled point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_demand: Option<Duration>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            daily: 30,
            weekly: 0,
            monthly: 0,
            yearly: 0,
            on_demand: None,
        }
    }
}

/// Retries of retryable failures.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retries {
    /// Retries after the first attempt.
    #[serde(default)]
    pub max: u32,
    /// Delay between a failure and the retry.
    #[serde(default = "default_retry_delay")]
    pub delay: Duration,
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            max: 0,
            delay: default_retry_delay(),
        }
    }
}

fn default_retry_delay() -> Duration {
    Duration(SimDuration::from_secs(1800))
}

/// `[[fleet]]`: a group of similar VMs whose attributes may be distributions.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// Fleet name.
    pub name: String,
    /// Number of VMs (required, unless an `inventory` gives them: then its rows).
    #[serde(default)]
    pub count: u32,
    /// Region of the VMs.
    pub region: String,
    /// Backup policy applied to every VM.
    pub policy: String,
    /// Links a transfer crosses, in order.
    #[serde(default)]
    pub path: Vec<String>,
    /// Operating system: `windows-<version>` (2003, 2008, 2008r2, 2012, 2012r2, 2016) or a
    /// Linux distribution name.
    #[serde(default = "default_os")]
    pub os: Choice,
    /// `classic` or `resource-manager`.
    #[serde(default = "default_deployment")]
    pub deployment: Choice,
    /// Probability a VM is running when its job starts (else backed up offline).
    #[serde(default = "one")]
    pub running: Prob,
    /// VM agent presence and health.
    #[serde(default)]
    pub agent: Agent,
    /// Outbound connectivity.
    #[serde(default)]
    pub connectivity: Connectivity,
    /// Backup extension state at t = 0.
    #[serde(default)]
    pub extension: Extension,
    /// Data disks per VM (fewer than 16 are supported).
    #[serde(default = "default_data_disks")]
    pub data_disks: CountDist,
    /// Size of each data disk (at most 1 023 GB).
    #[serde(default = "default_disk_size")]
    pub disk_size: SizeDist,
    /// Size of the OS disk (127 GiB: the platform images' default, planning assumption).
    #[serde(default = "default_os_disk")]
    pub os_disk: SizeDist,
    /// Share of each disk holding data (planning assumption 0.5).
    #[serde(default = "default_used")]
    pub used: RatioDist,
    /// Share of the used data changed per day (planning assumption 0.03).
    #[serde(default = "default_churn")]
    pub daily_churn: RatioDist,
    /// Overrides the bytes of every backup (full or incremental) with this draw: for
    /// studies of transfer sizes alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_size: Option<SizeDist>,
    /// Jobs of this fleet running at once (e.g. the VMs of one cloud service: 4 in mid-2016,
    /// then 10); excess jobs queue FIFO before the vault's own limit. Absent = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_jobs: Option<u32>,
    /// VMs sharing one cloud service (planning assumption: 1, each VM its own); VMs are
    /// grouped by index (VM `i` is in cloud service `i / vms_per_cloud_service`).
    #[serde(default = "one_u32")]
    pub vms_per_cloud_service: u32,
    /// VMs of one cloud service backing up at once: the gate before the snapshot. Absent =
    /// the preset (4 in 2016, 10 in 2018).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_per_cloud_service: Option<u32>,
    /// VMs whose disks share one storage account (planning assumption: 10, i.e. 20 disks at
    /// the default of one data disk); grouped by index like cloud services.
    #[serde(default = "ten_u32")]
    pub vms_per_storage_account: u32,
    /// Read capacity of one storage account, shared by its disks' transfers. Absent = the
    /// preset (2.4 GB/s: 20 000 IOPS / 500 requests/s per disk × 60 MB/s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_account_bandwidth: Option<Bandwidth>,
    /// Disks of one storage account per schedule; more is a warning. Absent = the preset
    /// (20, 2016).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_disks_per_storage_account: Option<u32>,
    /// Per-VM read throughput cap on top of the per-disk caps of `[timing]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_throughput: Option<Bandwidth>,
    /// `standard` or `premium`.
    #[serde(default = "default_storage")]
    pub storage: Choice,
    /// NICs per VM.
    #[serde(default = "one_count")]
    pub nics: CountDist,
    /// Reserved IPs per VM.
    #[serde(default = "zero_count")]
    pub reserved_ips: CountDist,
    /// Endpoints per VM.
    #[serde(default = "one_count")]
    pub endpoints: CountDist,
    /// Probability a VM is in a load-balanced set.
    #[serde(default)]
    pub load_balanced: Prob,
    /// `none`, `single` or `multi-dc`.
    #[serde(default = "default_dc")]
    pub domain_controller: Choice,
    /// Ad-hoc "back up now" requests.
    #[serde(default)]
    pub on_demand: OnDemand,
    /// Compression factor of the bytes stored: 2 halves them (default 1 = none, planning
    /// assumption); a distribution is drawn per VM.
    #[serde(default = "no_reduction")]
    pub compression: FactorDist,
    /// Deduplication factor of the bytes stored, on top of compression (default 1 = none,
    /// planning assumption); a distribution is drawn per VM.
    #[serde(default = "no_reduction")]
    pub dedup: FactorDist,
    /// Whether compression and deduplication happen at the source, so that they also
    /// shrink the bytes transferred (default: only the bytes stored).
    #[serde(default)]
    pub reduce_transfer: bool,
    /// First-wave onboarding: spread the VMs' first (full) backups over several nights
    /// instead of running them all on the first one (`{ over = "4d" }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onboard: Option<Onboard>,
    /// VMs added and used data growing per 30-day month (`{ vms_per_month = 20 }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth: Option<Growth>,
    /// A CSV file of the fleet's VMs, one row each (path relative to the scenario file):
    /// its cells replace the distributions above, VM by VM (see docs/scenario.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<String>,
    /// The inventory as read by the loader.
    #[serde(skip)]
    #[schemars(skip)]
    pub inventory_table: Option<std::sync::Arc<crate::model::config::Inventory>>,
}

fn no_reduction() -> FactorDist {
    FactorDist::constant(1.0)
}

fn default_os() -> Choice {
    Choice::single("windows-2012r2")
}
fn default_deployment() -> Choice {
    Choice::single("classic")
}
fn default_storage() -> Choice {
    Choice::single("standard")
}
fn default_dc() -> Choice {
    Choice::single("none")
}
fn one() -> Prob {
    Prob(1.0)
}
fn default_data_disks() -> CountDist {
    CountDist::constant(1)
}
fn one_count() -> CountDist {
    CountDist::constant(1)
}
fn zero_count() -> CountDist {
    CountDist::constant(0)
}
fn default_disk_size() -> SizeDist {
    SizeDist::constant(128 << 30)
}
fn default_os_disk() -> SizeDist {
    SizeDist::constant(127 << 30)
}
fn default_used() -> RatioDist {
    RatioDist::constant(0.5)
}
fn default_churn() -> RatioDist {
    RatioDist::constant(0.03)
}

/// `agent = { installed, responsive }`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Share of VMs provisioned with the VM agent.
    #[serde(default = "one")]
    pub installed: Prob,
    /// Probability an installed agent answers when a job needs it.
    #[serde(default = "one")]
    pub responsive: Prob,
}

impl Default for Agent {
    fn default() -> Self {
        Agent {
            installed: one(),
            responsive: one(),
        }
    }
}

/// `connectivity = { blocked }`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connectivity {
    /// Share of VMs with no outbound internet access.
    #[serde(default)]
    pub blocked: Prob,
}

/// `extension = { installed }`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// Share of VMs whose backup extension is already installed at t = 0 (protected
    /// before the simulated period).
    #[serde(default)]
    pub installed: Prob,
}

/// `on_demand = { per_vm_per_day }`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnDemand {
    /// Poisson rate of on-demand backups per VM per day.
    #[serde(default)]
    pub per_vm_per_day: f64,
}

/// `onboard = { over }`: first backups spread over whole days.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Onboard {
    /// Span over which the first scheduled backups are spread (whole days, at least 1 d):
    /// VM `i` of `count` (in VM order) gets its first scheduled backup `floor(i × days /
    /// count)` days after the policy's first occurrence.
    pub over: Duration,
}

impl Onboard {
    /// The span in whole days (validation requires a whole number of at least one).
    pub fn days(&self) -> u32 {
        (self.over.0.as_micros() / crate::engine::time::MICROS_PER_DAY).min(u32::MAX as u64) as u32
    }
}

/// Kind of restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestoreKind {
    /// Create a new VM from the recovery point.
    CreateVm,
    /// Restore the disks only.
    RestoreDisks,
    /// Restore over the existing VM (not supported unless its disks are deleted first).
    ReplaceExisting,
}

/// Which recovery point a restore uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PointChoice {
    /// The newest point.
    #[default]
    Latest,
    /// The oldest retained point.
    Oldest,
    /// A uniformly chosen retained point.
    Random,
}

/// The restore workflow used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The portal's restore workflow.
    #[default]
    Portal,
    /// PowerShell (required for multi-DC domain controllers).
    Powershell,
}

/// `rate = { per_day }`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Poisson rate per day.
    pub per_day: f64,
}

/// `[[restore]]`: a drill at a time, or a Poisson stream.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Restore {
    /// Drill name.
    pub name: String,
    /// Fleet whose VMs are restored.
    pub fleet: String,
    /// Time of a one-off drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Duration>,
    /// Poisson stream of restores instead of a drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// VMs restored per drill (or per arrival of the stream).
    #[serde(default = "one_u32")]
    pub count: u32,
    /// `create-vm`, `restore-disks` or `replace-existing`.
    pub kind: RestoreKind,
    /// Region to restore into (default: the fleet's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_region: Option<String>,
    /// Recovery point used.
    #[serde(default)]
    pub point: PointChoice,
    /// Workflow used.
    #[serde(default)]
    pub via: Via,
    /// For `replace-existing`: the VM's disks are deleted first, so the restore proceeds
    /// into the freed VM.
    #[serde(default)]
    pub disks_deleted: bool,
}

fn one_u32() -> u32 {
    1
}
fn ten_u32() -> u32 {
    10
}

/// `[[expect]]`: a bound on a metric.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Dotted metric name, as in `summary.json`.
    pub metric: String,
    /// Lower bound (number, or a duration/size string in the metric's base unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Bound>,
    /// Upper bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Bound>,
}

/// The JSON Schema of the scenario format.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).expect("schema serializes")
}

/// Names that categories may take, for validation messages.
pub fn known_categories() -> BTreeMap<&'static str, &'static [&'static str]> {
    let mut m: BTreeMap<&'static str, &'static [&'static str]> = BTreeMap::new();
    m.insert("deployment", &["classic", "resource-manager"]);
    m.insert("storage", &["standard", "premium"]);
    m.insert("domain_controller", &["none", "single", "multi-dc"]);
    m
}

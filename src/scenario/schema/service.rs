//! `[timing]` and `[support]`: the service's step durations, probabilities, throughputs
//! and support rules, each default with its published source or "planning assumption".

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::engine::dist::{Dist, DurationDist};
use crate::engine::SimDuration;
use crate::units::{Bandwidth, Duration, Size};

use super::Prob;

/// `[timing]`: per-step durations and probabilities. See `docs/parameters.md` for sources.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Timing {
    /// Wait for an agent status before failing with `UserErrorGuestAgentStatusUnavailable`
    /// (planning assumption: 5 min).
    pub agent_status_wait: DurationDist,
    /// Backup extension install through the agent (planning assumption: lognormal mean
    /// 3 min, sd 1 min).
    pub extension_install: DurationDist,
    /// The agent kills an install that runs longer (900 s, Linux agent code, 2016).
    pub extension_install_timeout: Duration,
    /// Probability an install fails (`ExtensionOperationFailed`; planning assumption 1%).
    pub extension_failure: Prob,
    /// The agent kills the extension's enable command (the per-backup extension step,
    /// with an automatic upgrade before it) after this long: `ExtensionOperationFailed`
    /// (300 s, Linux agent code, 2016).
    pub extension_enable_timeout: Duration,
    /// Probability a backup first upgrades the extension (planning assumption 2%).
    pub extension_upgrade: Prob,
    /// Duration of an automatic upgrade (planning assumption: lognormal 1 min, sd 30 s).
    pub extension_upgrade_time: DurationDist,
    /// Snapshot of one disk; disks are snapshotted in parallel, under one file-system
    /// freeze (planning assumption: lognormal mean 25 s, sd 7.5 s, so that a freeze
    /// outlasting `snapshot_timeout` is a tail event: about 0.2–0.4% of VMs with 2–5 disks).
    pub snapshot_per_disk: DurationDist,
    /// File-system freeze limit: a running VM's snapshot whose slowest disk takes longer
    /// fails at this time with `GuestAgentSnapshotTaskStatusError` (60 s, Linux backup
    /// extension code).
    pub snapshot_timeout: Duration,
    /// Probability the snapshot task fails at `snapshot_timeout` for another reason
    /// (`GuestAgentSnapshotTaskStatusError`; a what-if, default 0: the timeout itself is
    /// modelled from the drawn durations).
    pub snapshot_task_failure: Prob,
    /// Probability some VSS writers fail on Windows (point is then file-system
    /// consistent; planning assumption 5%).
    pub vss_failure: Prob,
    /// HTTP request timeout to the storage endpoint (planning assumption 60 s).
    pub http_timeout: Duration,
    /// Retries of a timed-out HTTP request (planning assumption 3).
    pub http_retries: u32,
    /// Probability of a transient internal error at the end of the transfer
    /// (`BackUpOperationFailed`; planning assumption 0.2%).
    pub transient_failure: Prob,
    /// Read throughput per disk of a first (full) backup (20 MB/s: "160 Mbps best case").
    pub full_throughput_per_disk: Bandwidth,
    /// Read throughput per disk of an incremental backup (planning assumption 3.4 MB/s:
    /// scattered changes copy far below the 60 MB/s per-disk cap; at this rate 200 GB of
    /// daily change on a default VM takes just over 8 h, as the service said it could).
    pub incremental_throughput_per_disk: Bandwidth,
    /// Read throughput per disk of a restore (planning assumption: first-backup speed).
    pub restore_throughput_per_disk: Bandwidth,
    /// VM creation after a restore copies its data (~25 min reported; lognormal, sd
    /// 5 min planning assumption).
    pub vm_create: DurationDist,
    /// Extra PowerShell steps of a multi-DC domain controller restore (planning
    /// assumption 30 min).
    pub dc_powershell_extra: DurationDist,
    /// Geo-replication delay of a GRS recovery point (planning assumption: lognormal
    /// mean 15 min, sd 10 min).
    pub geo_replication: DurationDist,
}

impl Timing {
    /// The time a storage request that never answers costs: the first try and every retry
    /// each wait the full `http_timeout`.
    pub fn http_burn(&self) -> SimDuration {
        self.http_timeout.0.times(self.http_retries as u64 + 1)
    }
}

fn lognormal(mean: f64, sd: f64) -> DurationDist {
    DurationDist(Dist::lognormal(mean, sd))
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            agent_status_wait: DurationDist::constant(SimDuration::from_secs(300)),
            extension_install: lognormal(180.0, 60.0),
            extension_install_timeout: Duration(SimDuration::from_secs(900)),
            extension_failure: Prob(0.01),
            extension_enable_timeout: Duration(SimDuration::from_secs(300)),
            extension_upgrade: Prob(0.02),
            extension_upgrade_time: lognormal(60.0, 30.0),
            snapshot_per_disk: lognormal(25.0, 7.5),
            snapshot_timeout: Duration(SimDuration::from_secs(60)),
            snapshot_task_failure: Prob(0.0),
            vss_failure: Prob(0.05),
            http_timeout: Duration(SimDuration::from_secs(60)),
            http_retries: 3,
            transient_failure: Prob(0.002),
            full_throughput_per_disk: Bandwidth(20e6),
            incremental_throughput_per_disk: Bandwidth(3.4e6),
            restore_throughput_per_disk: Bandwidth(20e6),
            vm_create: lognormal(1500.0, 300.0),
            dc_powershell_extra: DurationDist::constant(SimDuration::from_secs(1800)),
            geo_replication: lognormal(900.0, 600.0),
        }
    }
}

/// `[support]`: the seed's limitations. Each switch set to its permissive value lifts the
/// limitation, for what-if studies.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Support {
    /// Most data disks supported (fewer than 16).
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
    /// Oldest Windows Server version supported.
    pub min_windows: String,
    /// Whether a vault may protect VMs of another region.
    pub cross_region: bool,
    /// Largest disk supported (1 023 GB, azure-backup-limits 2018); larger disks fail the
    /// job with `UserErrorUnsupportedDiskSize`.
    pub max_disk_size: Size,
}

impl Default for Support {
    fn default() -> Self {
        Support {
            max_data_disks: 15,
            resource_manager: false,
            premium_storage: false,
            max_reserved_ips: 1,
            reserved_ip_requires_endpoint: true,
            max_nics: 1,
            load_balanced: false,
            min_windows: "2008r2".into(),
            cross_region: false,
            // 1 023 GiB: Azure disk sizes are binary (a "1 023 GB" data disk is 1 023 GiB).
            max_disk_size: Size(1_023 * (1 << 30)),
        }
    }
}

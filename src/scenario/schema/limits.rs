//! `simulation.limits`: the service's published limits from one period, and how a preset
//! fills the limit keys a scenario leaves unset.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Scenario;
use crate::units::Bandwidth;

/// A set of the service's published limits (`simulation.limits`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Limits {
    /// The earliest published set (2016): 40 VMs backing up at once per vault, 4 VMs of
    /// one cloud service at once, 20 disks of one storage account per schedule, a
    /// storage account's 20 000 IOPS, 200 VMs per vault, 25 vaults per subscription.
    #[default]
    #[serde(rename = "2016")]
    Y2016,
    /// The later set (2018): 100 per vault at once, 10 per cloud service, 1 000 VMs per
    /// vault (the rest as in 2016).
    #[serde(rename = "2018")]
    Y2018,
    /// No limit applies (what-if).
    #[serde(rename = "none")]
    None,
    /// The 2016 set with VMs per vault and vaults per subscription as errors.
    #[serde(rename = "strict")]
    Strict,
}

/// The values of a limits preset; `None` = unlimited.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LimitValues {
    /// VMs backing up at once per vault (`vault.max_concurrent_jobs`).
    pub vault_concurrent_jobs: Option<u32>,
    /// VMs of one cloud service backing up at once (`fleet.max_concurrent_per_cloud_service`).
    pub cloud_service_concurrent_jobs: Option<u32>,
    /// Disks of one storage account per schedule (`fleet.max_disks_per_storage_account`).
    pub disks_per_storage_account: Option<u32>,
    /// A storage account's read capacity (`fleet.storage_account_bandwidth`), bytes/s.
    pub storage_account_bandwidth: Option<f64>,
    /// VMs a vault protects (`vault.max_vms`).
    pub vms_per_vault: Option<u32>,
    /// Vaults per subscription (`subscription.max_vaults`).
    pub vaults_per_subscription: Option<u32>,
}

/// A standard storage account's 20 000 IOPS at 500 requests/s per disk carry 40 disks at
/// the 60 MB/s per-disk cap: 2.4 GB/s (azure-subscription-service-limits.md, 2015).
pub const STORAGE_ACCOUNT_BANDWIDTH: f64 = 20_000.0 / 500.0 * 60e6;

impl Limits {
    /// The preset's values.
    pub fn values(self) -> LimitValues {
        match self {
            Limits::Y2016 | Limits::Strict => LimitValues {
                vault_concurrent_jobs: Some(40),
                cloud_service_concurrent_jobs: Some(4),
                disks_per_storage_account: Some(20),
                storage_account_bandwidth: Some(STORAGE_ACCOUNT_BANDWIDTH),
                vms_per_vault: Some(200),
                vaults_per_subscription: Some(25),
            },
            Limits::Y2018 => LimitValues {
                vault_concurrent_jobs: Some(100),
                cloud_service_concurrent_jobs: Some(10),
                disks_per_storage_account: Some(20),
                storage_account_bandwidth: Some(STORAGE_ACCOUNT_BANDWIDTH),
                vms_per_vault: Some(1000),
                vaults_per_subscription: Some(25),
            },
            Limits::None => LimitValues {
                vault_concurrent_jobs: None,
                cloud_service_concurrent_jobs: None,
                disks_per_storage_account: None,
                storage_account_bandwidth: None,
                vms_per_vault: None,
                vaults_per_subscription: None,
            },
        }
    }

    /// The name written in the file.
    pub fn name(self) -> &'static str {
        match self {
            Limits::Y2016 => "2016",
            Limits::Y2018 => "2018",
            Limits::None => "none",
            Limits::Strict => "strict",
        }
    }
}

impl Scenario {
    /// Writes the preset of `simulation.limits` into every limit key left unset, so that
    /// the scenario (and `scenario.resolved.toml`) states the limits that apply.
    pub fn resolve_limits(&mut self) {
        let p = self.simulation.limits.values();
        for v in &mut self.vault {
            v.max_concurrent_jobs = v.max_concurrent_jobs.or(p.vault_concurrent_jobs);
            v.max_vms = v.max_vms.or(p.vms_per_vault);
        }
        for f in &mut self.fleet {
            f.max_concurrent_per_cloud_service = f
                .max_concurrent_per_cloud_service
                .or(p.cloud_service_concurrent_jobs);
            f.storage_account_bandwidth = f
                .storage_account_bandwidth
                .or(p.storage_account_bandwidth.map(Bandwidth));
            f.max_disks_per_storage_account = f
                .max_disks_per_storage_account
                .or(p.disks_per_storage_account);
        }
        for s in &mut self.subscription {
            s.max_vaults = s.max_vaults.or(p.vaults_per_subscription);
        }
    }
}

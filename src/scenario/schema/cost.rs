//! `[cost]`: the service's prices, stated by the scenario (no price is a default: prices
//! change, and a run without `[cost]` reports no cost metrics).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::units::Size;

/// `[cost]`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    /// Currency every price is in (e.g. "USD"); cost metrics are in it.
    pub currency: String,
    /// Monthly price of a protected instance by the size of its protected (used) data:
    /// `[{ up_to = "50 GB", price = 5 }, { up_to = "500 GB", price = 10 }]`, sizes
    /// increasing; an instance takes the first tier it fits.
    pub instance_tiers: Vec<InstanceTier>,
    /// Above the last tier: `{ size = "500 GB", price = 10 }` per started `size`. Absent:
    /// the last tier's price applies to every larger instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_per_started: Option<InstancePerStarted>,
    /// Storage of a geo-redundant vault, per GB-month (GB = 10^9 bytes).
    pub storage_grs: f64,
    /// Storage of a locally redundant vault, per GB-month (GB = 10^9 bytes).
    pub storage_lrs: f64,
    /// Restored data leaving the vault, per GB (default 0: no charge in 2015).
    #[serde(default)]
    pub restore_egress: f64,
}

/// One size tier of the protected-instance price.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceTier {
    /// Largest protected data size of the tier (inclusive).
    pub up_to: Size,
    /// Price per month.
    pub price: f64,
}

/// The price of instances above the last tier, per started block of data.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstancePerStarted {
    /// The block of protected data.
    pub size: Size,
    /// Price per month of each started block.
    pub price: f64,
}

//! The run's books: each fleet's protected instances and stored bytes as exact
//! piecewise-constant integrals over time (O(1) per change), priced at the end when the
//! scenario states prices (`Config::cost`); and the bytes a recovery point stores after
//! compression and deduplication.
//!
//! A VM is a protected instance from its first recovery point on; its size is its used
//! data (not its provisioned disks). Usage is prorated by the time protected: a month is
//! [`BILLING_MONTH`] (30 days) of simulated time. Costs cover `[0, end]`, warm-up
//! included; the monthly rates are those at `end`.

use super::*;
use crate::engine::num::round;
use crate::model::config::{Cost, DataPrices, BILLING_MONTH, BYTES_PER_PRICED_GB};

/// Instance prices are summed in nano-units of the currency, as integers (exact).
const NANO: f64 = 1e9;

/// The integral over `[0, end]` of a piecewise-constant quantity, accrued before each
/// change; the value at `end` is kept when the quantity changes after it (a drained run).
#[derive(Clone, Debug, Default)]
pub(super) struct Area {
    area: u128,
    at: u64,
    at_end: Option<u128>,
}

impl Area {
    /// Accrues `value`, the quantity held since the previous call, up to `now` (at most
    /// `end`).
    pub fn accrue(&mut self, now: SimTime, end: SimTime, value: u128) {
        let t = now.min(end).as_micros();
        if t > self.at {
            let dt = u128::from(t - self.at);
            self.area = self.area.saturating_add(value.saturating_mul(dt));
            self.at = t;
        }
        if now > end && self.at_end.is_none() {
            self.at_end = Some(value);
        }
    }

    /// The integral over `[0, end]` (value × µs) and the value at `end`, `value` being the
    /// quantity now.
    pub fn close(&mut self, end: SimTime, value: u128) -> (u128, u128) {
        self.accrue(end, end, value);
        (self.area, self.at_end.unwrap_or(value))
    }
}

/// One fleet's books.
#[derive(Clone, Debug, Default)]
pub(super) struct Books {
    /// Bytes the fleet's recovery points hold in its vault (after reduction).
    pub stored: u64,
    stored_area: Area,
    /// Monthly price of the fleet's protected instances, nano-units.
    instances: u128,
    instances_area: Area,
    /// Bytes restored from the vault up to `end`.
    egress: u64,
}

/// The bytes held over every vault: now, the peak so far, and both at `end`. The peak is
/// taken over the values held from each instant on (after every change at that instant),
/// so that it is the peak of the sum of any split of the vaults: a partitioned run's parts
/// report those values (`trace`) and the merge finds the same peak.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Storage {
    pub total: u64,
    pub max: u64,
    pub horizon: [u64; 2],
    /// The instant of the last change.
    pub at: SimTime,
    /// Whether `total` changed at `at` and is not yet in `max`.
    pub pending: bool,
    /// Whether the observer wants each instant's value.
    pub trace: bool,
}

impl Sim<'_, '_> {
    /// Call before the stored bytes change at `now`: the value held since the previous
    /// change is final once time has moved on.
    pub(super) fn storage_changes(&mut self, now: SimTime) {
        if now > self.storage.at {
            self.storage_settle();
            self.storage.at = now;
        }
        self.storage.pending = true;
    }

    /// The value held since the last change is final (time moved on, or the run ends).
    pub(super) fn storage_settle(&mut self) {
        let st = &mut self.storage;
        if st.pending {
            st.pending = false;
            st.max = st.max.max(st.total);
            if st.trace {
                self.obs.storage(st.at, st.total);
            }
        }
    }
}

/// One scope's costs (the run, a vault or a fleet).
#[derive(Clone, Copy, Debug, Default)]
struct Costs {
    instances: f64,
    instances_monthly: f64,
    storage: f64,
    storage_monthly: f64,
    egress: f64,
}

impl Costs {
    fn add(&mut self, o: &Costs) {
        self.instances += o.instances;
        self.instances_monthly += o.instances_monthly;
        self.storage += o.storage;
        self.storage_monthly += o.storage_monthly;
        self.egress += o.egress;
    }

    /// `<prefix>cost.*` metrics (names as in `metric_names::COST_METRICS`).
    fn put(&self, prefix: &str, m: &mut BTreeMap<String, f64>) {
        let values = [
            self.instances + self.storage + self.egress,
            self.instances_monthly + self.storage_monthly,
            self.instances,
            self.instances_monthly,
            self.storage,
            self.storage_monthly,
            self.egress,
        ];
        for (name, x) in crate::model::metric_names::COST_METRICS.iter().zip(values) {
            m.insert(format!("{prefix}{name}"), round6(x));
        }
    }
}

impl Sim<'_, '_> {
    /// Accrues fleet `fi`'s books up to `now`: call before any change to them.
    pub(super) fn books_accrue(&mut self, fi: usize, now: SimTime) {
        let end = self.end;
        let b = &mut self.books[fi];
        b.stored_area.accrue(now, end, u128::from(b.stored));
        b.instances_area.accrue(now, end, b.instances);
    }

    /// VM `vi` becomes a protected instance (its first recovery point) at `now`.
    pub(super) fn books_protect(&mut self, vi: usize, now: SimTime) {
        let Some(cost) = &self.c.cost else { return };
        let fi = self.vms[vi].fleet as usize;
        let price = round(cost.instance_price(self.vms[vi].used_bytes) * NANO) as u128;
        self.books_accrue(fi, now);
        let b = &mut self.books[fi];
        b.instances = b.instances.saturating_add(price);
    }

    /// A restore of fleet `fi` moved `bytes` out of the vault at `now`.
    pub(super) fn books_egress(&mut self, fi: usize, bytes: u64, now: SimTime) {
        if now <= self.end {
            let b = &mut self.books[fi];
            b.egress = b.egress.saturating_add(bytes);
        }
    }

    /// The bytes VM `vi`'s `bytes` of data take after its fleet's compression and
    /// deduplication (a distribution is drawn once per VM, from its own stream).
    pub(super) fn reduced_bytes(&self, vi: usize, bytes: u64) -> u64 {
        let vm = &self.vms[vi];
        let f = &self.c.fleets[vm.fleet as usize];
        let factor = match (f.compression.as_constant(), f.dedup.as_constant()) {
            (Some(c), Some(d)) => c * d,
            _ => {
                let key = self.fleets[vm.fleet as usize].key;
                let mut r = stream(self.seed, &[purpose::REDUCE, key, u64::from(vm.index)]);
                f.compression.sample(&mut r) * f.dedup.sample(&mut r)
            }
        };
        if factor > 1.0 {
            round(bytes as f64 / factor) as u64
        } else {
            bytes
        }
    }

    /// The exact sums behind the monthly rate of every fleet's instances and storage now
    /// (the time series), when the scenario has prices.
    pub(super) fn cost_now(&self) -> Option<CostSums> {
        self.c.cost.as_ref()?;
        let mut now = CostSums::default();
        for (fi, b) in self.books.iter().enumerate() {
            let v = self.fleets[fi].vault as usize;
            let k = tier(self.c.vaults[v].redundancy);
            now.instances = now.instances.saturating_add(b.instances);
            now.stored[k] = now.stored[k].saturating_add(u128::from(b.stored));
        }
        Some(now)
    }
}

/// The exact integer sums behind the run-wide costs: the parts of a partitioned run add
/// theirs (as integers, so in any order) and price the total as the whole run does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CostSums {
    /// The integral of the protected instances' monthly price (nano-units × µs).
    pub instances_area: u128,
    /// The protected instances' monthly price (nano-units): now, or at the end.
    pub instances: u128,
    /// The integral of the stored bytes (byte × µs), geo-redundant vaults then locally
    /// redundant ones.
    pub stored_area: [u128; 2],
    /// The stored bytes, geo-redundant then locally redundant: now, or at the end.
    pub stored: [u128; 2],
    /// Bytes restored from the vaults.
    pub egress: u128,
}

/// The index of a redundancy in [`CostSums`]' pairs.
fn tier(r: crate::model::config::Redundancy) -> usize {
    match r {
        crate::model::config::Redundancy::Grs => 0,
        crate::model::config::Redundancy::Lrs => 1,
    }
}

impl CostSums {
    /// Adds `o` (saturating: sums of 16 EiB sizes do not wrap).
    pub fn add(&mut self, o: &CostSums) {
        self.instances_area = self.instances_area.saturating_add(o.instances_area);
        self.instances = self.instances.saturating_add(o.instances);
        for k in 0..2 {
            self.stored_area[k] = self.stored_area[k].saturating_add(o.stored_area[k]);
            self.stored[k] = self.stored[k].saturating_add(o.stored[k]);
        }
        self.egress = self.egress.saturating_add(o.egress);
    }

    /// The costs these sums come to at `prices`: integer division first (byte-months and
    /// nano-unit months, exact but for the remainder below one), then one price per
    /// redundancy.
    fn costs(&self, p: &DataPrices) -> Costs {
        let month = u128::from(BILLING_MONTH.as_micros());
        let prices = [p.storage_grs, p.storage_lrs];
        let priced = |bytes: [u128; 2]| -> f64 {
            bytes
                .iter()
                .zip(prices)
                .map(|(&b, p)| b as f64 / BYTES_PER_PRICED_GB * p)
                .sum()
        };
        Costs {
            instances: (self.instances_area / month) as f64 / NANO,
            instances_monthly: self.instances as f64 / NANO,
            storage: priced(self.stored_area.map(|a| a / month)),
            storage_monthly: priced(self.stored),
            egress: self.egress as f64 / BYTES_PER_PRICED_GB * p.restore_egress,
        }
    }

    /// The run-wide cost metrics (`cost.*`) of these sums, into `m`.
    pub fn put_metrics(&self, prices: &DataPrices, m: &mut BTreeMap<String, f64>) {
        self.costs(prices).put("", m);
    }

    /// The monthly rate of these sums now (the time series): `[total, instances,
    /// storage]`.
    pub fn monthly(&self, prices: &DataPrices) -> [f64; 3] {
        let c = self.costs(prices);
        [
            round6(c.instances_monthly + c.storage_monthly),
            round6(c.instances_monthly),
            round6(c.storage_monthly),
        ]
    }
}

/// Closes the books at `end` and writes the cost metrics of each fleet, of each vault
/// and of the run (from the exact sums over every fleet, which it returns).
pub(super) fn cost_metrics(
    c: &Config,
    cost: &Cost,
    books: &mut [Books],
    end: SimTime,
    m: &mut BTreeMap<String, f64>,
) -> CostSums {
    let prices = cost.data_prices();
    let mut total = CostSums::default();
    let mut vaults = vec![Costs::default(); c.vaults.len()];
    for (fi, b) in books.iter_mut().enumerate() {
        let v = c.policies[c.fleets[fi].policy].vault;
        let k = tier(c.vaults[v].redundancy);
        let (stored_area, stored_end) = b.stored_area.close(end, u128::from(b.stored));
        let (inst_area, inst_end) = b.instances_area.close(end, b.instances);
        let mut sums = CostSums {
            instances_area: inst_area,
            instances: inst_end,
            egress: u128::from(b.egress),
            ..CostSums::default()
        };
        sums.stored_area[k] = stored_area;
        sums.stored[k] = stored_end;
        let f = sums.costs(&prices);
        f.put(&format!("fleet.{}.", c.fleets[fi].name), m);
        vaults[v].add(&f);
        total.add(&sums);
    }
    for (v, costs) in c.vaults.iter().zip(&vaults) {
        costs.put(&format!("vault.{}.", v.name), m);
    }
    total.put_metrics(&prices, m);
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_integrates_exactly_and_keeps_the_value_at_the_end() {
        let end = SimTime::ZERO + SimDuration::from_secs(100);
        let at = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
        let mut a = Area::default();
        a.accrue(at(10), end, 0);
        // 7 from 10 s to 40 s, then 3 until after the end.
        a.accrue(at(40), end, 7);
        a.accrue(at(150), end, 3);
        a.accrue(at(160), end, 9);
        let (area, value) = a.close(end, 1);
        assert_eq!(area, (7 * 30 + 3 * 60) * 1_000_000);
        assert_eq!(value, 3, "the value held at the end");
    }
}

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
use crate::model::config::{Cost, BILLING_MONTH, BYTES_PER_PRICED_GB};

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

/// The bytes held over every vault: now, the peak so far, and both at `end`.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Storage {
    pub total: u64,
    pub max: u64,
    pub horizon: [u64; 2],
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
        let price = (cost.instance_price(self.vms[vi].used_bytes) * NANO).round() as u128;
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
            (bytes as f64 / factor).round() as u64
        } else {
            bytes
        }
    }

    /// The monthly rate of every fleet's instances and storage now (the time series):
    /// `[total, instances, storage]`.
    pub(super) fn cost_monthly(&self) -> Option<[f64; 3]> {
        let cost = self.c.cost.as_ref()?;
        let (mut total, mut instances, mut storage) = (0.0, 0.0, 0.0);
        for (fi, b) in self.books.iter().enumerate() {
            let v = self.fleets[fi].vault as usize;
            let price = cost.storage_price(self.c.vaults[v].redundancy);
            let (i, s) = (
                b.instances as f64 / NANO,
                b.stored as f64 / BYTES_PER_PRICED_GB * price,
            );
            total += i + s;
            instances += i;
            storage += s;
        }
        Some([round6(total), round6(instances), round6(storage)])
    }
}

/// Closes the books at `end` and writes the cost metrics of the run, of each vault and of
/// each fleet.
pub(super) fn cost_metrics(
    c: &Config,
    cost: &Cost,
    books: &mut [Books],
    end: SimTime,
    m: &mut BTreeMap<String, f64>,
) {
    let month = u128::from(BILLING_MONTH.as_micros());
    let mut total = Costs::default();
    let mut vaults = vec![Costs::default(); c.vaults.len()];
    for (fi, b) in books.iter_mut().enumerate() {
        let v = c.policies[c.fleets[fi].policy].vault;
        let price = cost.storage_price(c.vaults[v].redundancy);
        let (stored_area, stored_end) = b.stored_area.close(end, u128::from(b.stored));
        let (inst_area, inst_end) = b.instances_area.close(end, b.instances);
        // Integer division first: byte-months and nano-unit months, exact but for the
        // remainder below one byte-month or one nano-unit.
        let f = Costs {
            instances: (inst_area / month) as f64 / NANO,
            instances_monthly: inst_end as f64 / NANO,
            storage: (stored_area / month) as f64 / BYTES_PER_PRICED_GB * price,
            storage_monthly: stored_end as f64 / BYTES_PER_PRICED_GB * price,
            egress: b.egress as f64 / BYTES_PER_PRICED_GB * cost.restore_egress,
        };
        f.put(&format!("fleet.{}.", c.fleets[fi].name), m);
        vaults[v].add(&f);
        total.add(&f);
    }
    for (v, costs) in c.vaults.iter().zip(&vaults) {
        costs.put(&format!("vault.{}.", v.name), m);
    }
    total.put("", m);
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

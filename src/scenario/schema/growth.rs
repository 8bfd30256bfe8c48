//! `growth = { vms_per_month, used_per_month }` on a fleet: VMs added and used data
//! growing per 30-day month (model::growth holds the rules).

use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::units::Size;

/// A fleet's growth per 30-day month.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Growth {
    /// VMs added per month, joining at even steps (two a month: one every 15 days); the
    /// fleet's `count` is its size at the start. Default 0.
    #[serde(default)]
    pub vms_per_month: f64,
    /// Growth of each VM's used data per month since it joined: a percentage, compounding
    /// ("2%"), or a size added each month ("20 GB"); at most the VM's disks' size. A
    /// planning assumption of the scenario. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_per_month: Option<UsedPerMonth>,
}

/// `used_per_month`: "2%" (compounding) or a size per month ("20 GB").
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UsedPerMonth {
    /// A fraction per month (2% = 0.02).
    Percent(f64),
    /// Bytes per month.
    Bytes(Size),
}

const EXPECTED: &str =
    "a percentage per month such as \"2%\" or a size per month such as \"20 GB\"";

impl UsedPerMonth {
    fn parse(s: &str) -> Result<UsedPerMonth, String> {
        match s.trim().strip_suffix('%') {
            Some(p) => match p.trim().parse::<f64>() {
                Ok(x) if x.is_finite() && (0.0..=1000.0).contains(&x) => {
                    Ok(UsedPerMonth::Percent(x / 100.0))
                }
                _ => Err(format!("expected {EXPECTED} (0% to 1000%), found \"{s}\"")),
            },
            None => Size::parse(s).map(UsedPerMonth::Bytes).map_err(|e| {
                let size = e.trim_start_matches("expected ");
                format!("expected a percentage per month such as \"2%\", or {size}")
            }),
        }
    }
}

impl<'de> Deserialize<'de> for UsedPerMonth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => UsedPerMonth::parse(&s).map_err(de::Error::custom),
            other => Err(de::Error::custom(format!(
                "expected {EXPECTED}, found {}",
                crate::scenario::dist_format::describe(&other)
            ))),
        }
    }
}

impl Serialize for UsedPerMonth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            UsedPerMonth::Percent(p) => s.serialize_str(&format!("{}%", p * 100.0)),
            UsedPerMonth::Bytes(b) => s.serialize_str(&b.to_string()),
        }
    }
}

impl JsonSchema for UsedPerMonth {
    fn schema_name() -> String {
        "UsedPerMonth".into()
    }
    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        serde_json::from_value(serde_json::json!({"type": "string", "description": EXPECTED}))
            .expect("static schema")
    }
}

impl Growth {
    /// The model's growth of a fleet of `count` VMs at the start of a run that starts on
    /// `start_date` (days since 1970-01-01; months are then calendar months).
    pub fn to_model(&self, count: u32, start_date: Option<i64>) -> crate::model::growth::Growth {
        use crate::model::growth::UsedGrowth;
        crate::model::growth::Growth {
            initial: count,
            vms_per_month: self.vms_per_month,
            used: self.used_per_month.map(|u| match u {
                UsedPerMonth::Percent(p) => UsedGrowth::Percent(p),
                UsedPerMonth::Bytes(b) => UsedGrowth::Bytes(b.0),
            }),
            start_date,
        }
    }

    /// What is wrong with it: (key below `growth`, message).
    pub fn problem(&self, has_inventory: bool) -> Option<(&'static str, String)> {
        let v = self.vms_per_month;
        if !(v.is_finite() && (0.0..=1e6).contains(&v)) {
            return Some((
                "vms_per_month",
                format!("expected a number of VMs per month from 0 to 1e6, found {v}"),
            ));
        }
        if v > 0.0 && has_inventory {
            return Some((
                "vms_per_month",
                "a fleet read from an inventory has its rows' VMs: add the new VMs to the inventory, or grow another fleet".into(),
            ));
        }
        None
    }
}

impl super::Fleet {
    /// The fleet's VMs at the end of the run `sim`: `count`, plus those a growth adds by
    /// then (what the run holds in memory).
    pub fn count_at_end(&self, sim: &super::Simulation) -> u32 {
        self.growth.as_ref().map_or(self.count, |g| {
            g.to_model(self.count, sim.start.map(|d| d.days()))
                .count_at(sim.duration.0.as_micros())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn used_per_month_reads_percentages_and_sizes() {
        assert_eq!(UsedPerMonth::parse("2%"), Ok(UsedPerMonth::Percent(0.02)));
        assert_eq!(
            UsedPerMonth::parse("20 GB"),
            Ok(UsedPerMonth::Bytes(Size(20_000_000_000)))
        );
        for bad in ["-2%", "x%", "20 parsecs", "1e9%"] {
            let e = UsedPerMonth::parse(bad).unwrap_err();
            assert!(e.contains("percentage per month"), "{bad}: {e}");
        }
    }
}

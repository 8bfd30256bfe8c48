//! The scenario format's value types: durations, sizes, bandwidths and times of day as
//! strings with units, probabilities, weekdays, and `[[expect]]` bounds.

use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::units::{Bandwidth, CalendarDate, Duration, Size, TimeOfDay, UtcOffset};

macro_rules! string_unit {
    ($t:ty, $parse:path, $desc:literal) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = toml::Value::deserialize(d)?;
                match &v {
                    toml::Value::String(s) => $parse(s).map_err(de::Error::custom),
                    toml::Value::Integer(0) => $parse("0").map_err(de::Error::custom),
                    other => Err(de::Error::custom(format!(
                        "expected {}, found {}",
                        $desc,
                        crate::scenario::dist_format::describe(other)
                    ))),
                }
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string())
            }
        }
        impl JsonSchema for $t {
            fn schema_name() -> String {
                stringify!($t).into()
            }
            fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
                serde_json::from_value(serde_json::json!({"type": "string", "description": $desc}))
                    .expect("static schema")
            }
        }
    };
}

string_unit!(
    Duration,
    Duration::parse,
    "a duration such as \"40s\" or \"1h30m\""
);
string_unit!(
    Size,
    Size::parse,
    "a size such as \"128 GiB\" or \"1.5 TB\""
);
string_unit!(
    Bandwidth,
    Bandwidth::parse,
    "a bandwidth such as \"400 MB/s\" or \"2 Gbit/s\""
);
string_unit!(
    TimeOfDay,
    TimeOfDay::parse,
    "a time of day such as \"22:00\""
);
string_unit!(
    CalendarDate,
    CalendarDate::parse,
    "a calendar date such as \"2015-11-02\""
);
string_unit!(
    UtcOffset,
    UtcOffset::parse,
    "a UTC offset such as \"+09:00\" or \"-05:00\""
);

/// A probability in [0, 1]; `true`/`false` mean 1 and 0.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
pub struct Prob(pub f64);

impl<'de> Deserialize<'de> for Prob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = toml::Value::deserialize(d)?;
        match v {
            toml::Value::Boolean(b) => Ok(Prob(if b { 1.0 } else { 0.0 })),
            toml::Value::Float(f) if (0.0..=1.0).contains(&f) => Ok(Prob(f)),
            toml::Value::Integer(i) if (0..=1).contains(&i) => Ok(Prob(i as f64)),
            other => Err(de::Error::custom(format!(
                "expected a probability between 0 and 1 (or true/false), found {}",
                crate::scenario::dist_format::describe(&other)
            ))),
        }
    }
}

impl Serialize for Prob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

impl JsonSchema for Prob {
    fn schema_name() -> String {
        "Prob".into()
    }
    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        serde_json::from_value(serde_json::json!({
            "description": "a probability between 0 and 1, or true/false",
            "anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "boolean"}]
        }))
        .expect("static schema")
    }
}

/// Day of the week.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    /// 0 for Monday .. 6 for Sunday.
    pub fn index(self) -> u64 {
        self as u64
    }

    /// The weekday of index `i` (0 = Monday, taken modulo 7).
    pub fn from_index(i: u64) -> Weekday {
        [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ][(i % 7) as usize]
    }

    /// The lower-case name, as the file writes it.
    pub fn name(self) -> &'static str {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][self as usize]
    }
}

/// A bound value: a number, or a duration (seconds) or size (bytes) written with units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bound(pub f64);

impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = toml::Value::deserialize(d)?;
        match &v {
            toml::Value::Float(f) => Ok(Bound(*f)),
            toml::Value::Integer(i) => Ok(Bound(*i as f64)),
            toml::Value::String(s) => Duration::parse(s)
                .map(|d| Bound(d.secs()))
                .or_else(|_| Size::parse(s).map(|s| Bound(s.0 as f64)))
                .map_err(|_| {
                    de::Error::custom(format!(
                        "expected a number, a duration such as \"6h\" or a size such as \"10 TB\", found \"{s}\""
                    ))
                }),
            other => Err(de::Error::custom(format!(
                "expected a number, duration or size, found {}",
                crate::scenario::dist_format::describe(other)
            ))),
        }
    }
}

impl Serialize for Bound {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

impl JsonSchema for Bound {
    fn schema_name() -> String {
        "Bound".into()
    }
    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        serde_json::from_value(serde_json::json!({
            "description": "a number, or a duration (\"6h\") or size (\"10 TB\")",
            "type": ["number", "string"]
        }))
        .expect("static schema")
    }
}

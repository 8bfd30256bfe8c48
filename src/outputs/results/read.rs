//! The one reader of each results file a run writes (`summary.json`; the `.hdr` files are
//! read by [`super::histio`]). Every error names the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Error reading a `summary.json`. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("{} is not valid JSON: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// The JSON is not a flat object of numbers.
    #[error("{}: {what}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

/// Reads `dir/summary.json`: a flat JSON object, metric name → number.
///
/// A `null` value (how JSON writers encode a NaN, e.g. the mean of nothing) is
/// treated as an absent metric. Any other non-number value, or a top level
/// that is not an object, is an error.
pub fn read_summary(dir: &Path) -> Result<BTreeMap<String, f64>, ReadError> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|source| ReadError::Io {
        path: path.clone(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| ReadError::Json {
            path: path.clone(),
            source,
        })?;
    let serde_json::Value::Object(map) = value else {
        return Err(ReadError::Format {
            path,
            what: "top level is not a JSON object".into(),
        });
    };
    let mut out = BTreeMap::new();
    for (key, v) in map {
        if key == super::MODEL_VERSION_KEY {
            // The model version is not a metric (see `model_version`).
            continue;
        }
        match v {
            serde_json::Value::Null => {}
            serde_json::Value::Number(n) => {
                let x = n.as_f64().ok_or_else(|| ReadError::Format {
                    path: path.clone(),
                    what: format!("metric {key:?} is not representable as f64"),
                })?;
                out.insert(key, x);
            }
            other => {
                return Err(ReadError::Format {
                    path,
                    what: format!("metric {key:?} is not a number: {other}"),
                })
            }
        }
    }
    Ok(out)
}

impl From<ReadError> for Error {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Io { path, source } => Error::io(path, source),
            other => Error::input(
                other.path().display().to_string(),
                format!("expected a summary written by backupsim: {other}"),
            ),
        }
    }
}

impl ReadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::Json { path, .. }
            | ReadError::Format { path, .. } => path,
        }
    }
}

/// The model version recorded in `dir/summary.json` (or, for results written before it
/// was recorded there, in `dir/run.json`), if any: older results have none.
pub fn model_version(dir: &Path) -> Option<u64> {
    ["summary.json", "run.json"].iter().find_map(|f| {
        let text = std::fs::read_to_string(dir.join(f)).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v.get(super::MODEL_VERSION_KEY)?.as_u64()
    })
}

/// The scenario as run, `dir/scenario.resolved.toml` (every default written out).
pub fn resolved_scenario(dir: &Path) -> Result<String, ReadError> {
    let path = dir.join("scenario.resolved.toml");
    std::fs::read_to_string(&path).map_err(|source| ReadError::Io { path, source })
}

/// Day 0's calendar date (days since 1970-01-01) from `dir/scenario.resolved.toml`'s
/// `simulation.start`, when the run has one (`None` also when the file is unreadable: plots
/// then label time from the start).
pub fn start_date(dir: &Path) -> Option<i64> {
    let text = resolved_scenario(dir).ok()?;
    let table = text.parse::<toml::Table>().ok()?;
    let start = table.get("simulation")?.get("start")?.as_str()?;
    crate::units::CalendarDate::parse(start)
        .ok()
        .map(|d| d.days())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, f64)]) -> BTreeMap<String, f64> {
        kv.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn read_summary_ok_and_null_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("summary.json"),
            r#"{"a.b": 1, "c": 2.5, "d": null, "e": -3e2}"#,
        )
        .unwrap();
        let s = read_summary(dir.path()).unwrap();
        assert_eq!(s, map(&[("a.b", 1.0), ("c", 2.5), ("e", -300.0)]));
    }

    #[test]
    fn read_summary_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_summary(dir.path()).unwrap_err();
        assert!(matches!(e, ReadError::Io { .. }));
        assert!(e.to_string().contains("summary.json"), "{e}");

        let p = dir.path().join("summary.json");
        std::fs::write(&p, "{not json").unwrap();
        let e = read_summary(dir.path()).unwrap_err();
        assert!(matches!(e, ReadError::Json { .. }));
        assert!(e.to_string().contains("summary.json"));

        std::fs::write(&p, "[1, 2]").unwrap();
        assert!(matches!(
            read_summary(dir.path()).unwrap_err(),
            ReadError::Format { .. }
        ));

        std::fs::write(&p, r#"{"x": "fast"}"#).unwrap();
        let e = read_summary(dir.path()).unwrap_err();
        assert!(e.to_string().contains("\"x\""), "{e}");
    }

    #[test]
    fn summary_records_the_model_version_apart_from_the_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("summary.json");
        crate::outputs::results::write_summary(&p, &map(&[("a.b", 1.0)])).unwrap();
        assert_eq!(read_summary(dir.path()).unwrap(), map(&[("a.b", 1.0)]));
        assert_eq!(
            model_version(dir.path()),
            Some(u64::from(crate::model::MODEL_VERSION))
        );
        // Older results: the version only in run.json, or nowhere.
        std::fs::write(&p, r#"{"a.b": 1}"#).unwrap();
        assert_eq!(model_version(dir.path()), None);
        std::fs::write(dir.path().join("run.json"), r#"{"model_version": 2}"#).unwrap();
        assert_eq!(model_version(dir.path()), Some(2));
    }

    /// A vault's stored bytes of scale-100k (4 176 520 354 676 450, where doubles are
    /// half a byte apart) came back from `summary.json` half a byte short: the JSON
    /// parser's fast float path is not correctly rounded. A run split into parts merges
    /// the parts' summaries as read back, so its `summary.json` differed from one run's.
    #[test]
    fn summary_values_read_back_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("summary.json");
        let x = 4_176_520_354_676_450.0;
        crate::outputs::results::write_summary(&p, &map(&[("v", x)])).unwrap();
        assert_eq!(
            read_summary(dir.path()).unwrap()["v"].to_bits(),
            x.to_bits()
        );
    }

    proptest::proptest! {
        #[test]
        fn every_finite_value_reads_back_bit_for_bit(bits in proptest::prelude::any::<u64>()) {
            let x = f64::from_bits(bits);
            proptest::prop_assume!(x.is_finite());
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("summary.json");
            crate::outputs::results::write_summary(&p, &map(&[("v", x)])).unwrap();
            let back = read_summary(dir.path()).unwrap()["v"];
            proptest::prop_assert_eq!(back.to_bits(), x.to_bits(), "{} read back as {}", x, back);
        }
    }
}

//! What differs between two runs' scenarios: the keys of their `scenario.resolved.toml`
//! (every default written out) that differ, named as `--set` names them.

use std::collections::BTreeMap;

/// One scenario key that differs between the base and the new run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// The key as `--set` names it: `link.wan.bandwidth`, `fleet.web.count`,
    /// `simulation.seed`.
    pub key: String,
    /// Its value in the base run, as written in the file (`None`: absent).
    pub base: Option<String>,
    /// Its value in the new run (`None`: absent).
    pub new: Option<String>,
}

impl KeyChange {
    /// `key: base → new`, with `(none)` for an absent side.
    pub fn text(&self) -> String {
        let side = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        format!("{}: {} → {}", self.key, side(&self.base), side(&self.new))
    }
}

/// The keys whose values differ between two resolved scenario texts, sorted by key.
///
/// Tables flatten to dotted keys; an array of tables whose entries have a `name` (`[[link]]`,
/// `[[fleet]]`, …) flattens as `link.<name>.<key>`, any other array is one value. Text that
/// is not TOML gives an error naming which side.
pub fn scenario_diff(base: &str, new: &str) -> Result<Vec<KeyChange>, String> {
    let parse = |text: &str, side: &str| {
        text.parse::<toml::Table>()
            .map_err(|e| format!("the {side} run's scenario.resolved.toml is not TOML: {e}"))
    };
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", &toml::Value::Table(parse(base, "base")?), &mut a);
    flatten("", &toml::Value::Table(parse(new, "new")?), &mut b);
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    Ok(keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| KeyChange {
            key: k.clone(),
            base: a.get(k).cloned(),
            new: b.get(k).cloned(),
        })
        .collect())
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten(&join(k), v, out);
            }
        }
        toml::Value::Array(items) if !items.is_empty() && items.iter().all(named) => {
            for item in items {
                let name = item.get("name").and_then(|n| n.as_str()).unwrap_or("");
                let toml::Value::Table(t) = item else {
                    continue;
                };
                for (k, v) in t.iter().filter(|(k, _)| *k != "name") {
                    flatten(&join(&format!("{name}.{k}")), v, out);
                }
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// An entry of an array of tables with a string `name`.
fn named(v: &toml::Value) -> bool {
    v.get("name").is_some_and(|n| n.is_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[simulation]
seed = 1
duration = "7d"

[[link]]
name = "wan"
bandwidth = "10 Gbit/s"

[[fleet]]
name = "web"
count = 10
os = { choice = { ubuntu = 0.5, windows = 0.5 } }
"#;

    #[test]
    fn changed_added_and_removed_keys_are_named_as_set_names_them() {
        let new = BASE
            .replace("10 Gbit/s", "20 Gbit/s")
            .replace("windows = 0.5", "windows = 0.5, centos = 0.1")
            .replace("seed = 1\n", "");
        let d = scenario_diff(BASE, &new).unwrap();
        let text: Vec<String> = d.iter().map(KeyChange::text).collect();
        assert_eq!(
            text,
            [
                "fleet.web.os.choice.centos: (none) → 0.1",
                "link.wan.bandwidth: \"10 Gbit/s\" → \"20 Gbit/s\"",
                "simulation.seed: 1 → (none)",
            ]
        );
    }

    #[test]
    fn identical_scenarios_have_no_difference() {
        assert!(scenario_diff(BASE, BASE).unwrap().is_empty());
    }

    #[test]
    fn text_that_is_not_toml_names_its_side() {
        let e = scenario_diff(BASE, "[[[").unwrap_err();
        assert!(e.contains("new run"), "{e}");
    }
}

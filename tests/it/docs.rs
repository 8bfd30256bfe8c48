//! The documentation and the schema are kept in step with the code.

use std::path::Path;

use backupsim::scenario::load;

fn shipped_scenarios() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

/// Turns a documented pattern such as `vault.<name>.stored_bytes.end` into a matcher.
fn matches(pattern: &str, metric: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let m: Vec<&str> = metric.split('.').collect();
    p.len() == m.len() && p.iter().zip(&m).all(|(a, b)| a.starts_with('<') || a == b)
}

#[test]
fn every_metric_is_documented() {
    let doc = std::fs::read_to_string("docs/metrics.md").unwrap();
    let patterns: Vec<&str> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.contains('.') && !s.contains(' '))
        .collect();
    let src = std::fs::read_to_string("scenarios/restore-drill.toml")
        .unwrap()
        .replace(
            "duration = \"11d\"",
            "duration = \"11d\"\nrpo_sample_every = \"1d\"",
        );
    let l = backupsim::scenario::load_str(&src, Path::new("scenarios/restore-drill.toml"), &[])
        .unwrap();
    let out = backupsim::model::run(&l.config).unwrap();
    let mut missing = Vec::new();
    for k in out.summary.keys() {
        let known = patterns
            .iter()
            .any(|p| matches(p, k) || p.split(',').any(|alt| matches(alt.trim(), k)));
        // `backup.consistency.{application,...}`-style lists are written out one per row.
        if !known {
            missing.push(k.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "metrics missing from docs/metrics.md: {missing:?}"
    );
}

#[test]
fn every_scenario_key_is_documented() {
    let doc = std::fs::read_to_string("docs/scenario.md").unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(&backupsim::scenario::schema::json_schema()).unwrap();
    let mut keys = Vec::new();
    let mut collect = |props: &serde_json::Value| {
        if let Some(o) = props.as_object() {
            keys.extend(o.keys().cloned());
        }
    };
    collect(&schema["properties"]);
    for def in schema["definitions"].as_object().unwrap().values() {
        collect(&def["properties"]);
    }
    keys.sort();
    keys.dedup();
    let missing: Vec<_> = keys
        .iter()
        .filter(|k| {
            !doc.contains(&format!("`{k}`"))
                && !doc.contains(&format!("[[{k}]]"))
                && !doc.contains(&format!("[{k}]"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "scenario keys missing from docs/scenario.md: {missing:?}"
    );
}

#[test]
fn shipped_scenarios_validate_against_the_json_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&backupsim::scenario::schema::json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    for p in shipped_scenarios() {
        let text = std::fs::read_to_string(&p).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        let json = serde_json::to_value(&value).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", p.display());
        // And the simulator accepts it.
        load(&p, &[]).unwrap_or_else(|e| panic!("{e}"));
    }
    // The schema rejects what the loader rejects, at least for structure.
    let bad = serde_json::json!({"simulation": {"name": "x", "sede": 3}});
    assert!(!validator.is_valid(&bad), "unknown keys are rejected");
}

#[test]
fn every_shipped_scenario_documents_its_question() {
    for p in shipped_scenarios() {
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with('#'),
            "{} must open with a comment stating its planning question",
            p.display()
        );
    }
}

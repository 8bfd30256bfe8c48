//! The wings and their one-way imports (ARCHITECTURE.md), checked on the source text:
//! `app → outputs → scenario → model → engine`, over a ground floor (`error`, `units`, the
//! crate root's macros) that every wing may use; inside `outputs`, `plots` and `compare`
//! above `sweeps` above `results`. A `crate::` path that runs against the arrows fails here.

use std::path::{Path, PathBuf};

/// Imports against the arrows that are known and still to be removed, as
/// `(file, imported module)`. Every entry must still occur (so the list only shrinks).
const KNOWN_EXCEPTIONS: &[(&str, &str)] = &[
    // None left: the model reads the configuration `scenario::build` resolves, never the
    // scenario's serde structs.
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The wing (and, in outputs, the room) a module path belongs to.
fn place(path: &[&str]) -> (&'static str, u32, Option<(&'static str, u32)>) {
    let room = |r: &str| match r {
        "results" => Some(("results", 0)),
        "sweeps" => Some(("sweeps", 1)),
        "compare" => Some(("compare", 2)),
        "plots" => Some(("plots", 2)),
        _ => None,
    };
    match path.first().copied().unwrap_or("") {
        "engine" => ("engine", 0, None),
        "model" => ("model", 1, None),
        "scenario" => ("scenario", 2, None),
        "outputs" => ("outputs", 3, path.get(1).and_then(|r| room(r))),
        "app" => ("app", 4, None),
        // error, units, lib.rs's macros (`crate::status!`): the ground floor.
        _ => ("ground", 0, None),
    }
}

/// Module path of a source file, e.g. `src/outputs/plots/mod.rs` → `[outputs, plots]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix("src").unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts
}

/// Every `crate::a::b` path in code (comments and unit-test modules skipped: a test may
/// build its input with any part of the crate).
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines().take_while(|l| !l.starts_with("#[cfg(test)]")) {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let tail = &rest[i + "crate::".len()..];
            let segs: Vec<String> = tail
                .split("::")
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect()
                })
                .take_while(|s: &String| !s.is_empty())
                .take(2)
                .collect();
            out.push(segs);
            rest = tail;
        }
    }
    out
}

/// Whether a file in `from` may import `to`.
fn allowed(from: &[String], to: &[String]) -> bool {
    let f: Vec<&str> = from.iter().map(String::as_str).collect();
    let t: Vec<&str> = to.iter().map(String::as_str).collect();
    let (fw, fr, froom) = place(&f);
    let (tw, tr, troom) = place(&t);
    if tw == "ground" {
        return true;
    }
    if fw == "ground" {
        // units parses into the engine's integer time and calendar dates; nothing else
        // below is used.
        return f.first() == Some(&"units")
            && (t == ["engine", "time"] || t == ["engine", "calendar"]);
    }
    if fw == tw {
        return match (froom, troom) {
            (Some((fname, frank)), Some((tname, trank))) => fname == tname || trank < frank,
            _ => true,
        };
    }
    tr < fr
}

#[test]
fn imports_run_one_way() {
    let mut files = Vec::new();
    sources(Path::new("src"), &mut files);
    files.sort();
    assert!(files.len() > 20, "found the sources");
    let mut violations = Vec::new();
    let mut seen_exceptions = Vec::new();
    for file in &files {
        if file.ends_with("main.rs") && file.parent() == Some(Path::new("src")) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let from = module_of(file);
        let name = file.to_string_lossy().replace('\\', "/");
        for to in crate_paths(&text) {
            if allowed(&from, &to) {
                continue;
            }
            let key = (name.as_str(), to[0].as_str());
            if let Some(k) = KNOWN_EXCEPTIONS.iter().find(|k| (k.0, k.1) == key) {
                seen_exceptions.push(*k);
            } else {
                violations.push(format!("{name}: crate::{}", to.join("::")));
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "imports against the arrows (app → outputs → scenario → model → engine; in outputs: plots, compare → sweeps → results):\n{}",
        violations.join("\n")
    );
    for k in KNOWN_EXCEPTIONS {
        assert!(
            seen_exceptions.contains(k),
            "{k:?} no longer occurs: remove it from KNOWN_EXCEPTIONS"
        );
    }
}

#[test]
fn the_arrow_rule_can_fail() {
    let p = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    assert!(!allowed(&p("model::sim"), &p("outputs::results")));
    assert!(!allowed(&p("model::sim"), &p("scenario::schema")));
    assert!(!allowed(&p("model"), &p("scenario")));
    assert!(!allowed(&p("engine"), &p("model::vm")));
    assert!(!allowed(&p("outputs::results"), &p("outputs::plots")));
    assert!(!allowed(&p("outputs::plots"), &p("outputs::compare")));
    assert!(!allowed(&p("outputs::sweeps"), &p("app::run")));
    assert!(!allowed(&p("units"), &p("model::vm")));
    assert!(allowed(&p("app::run"), &p("outputs::plots")));
    assert!(allowed(&p("outputs::plots"), &p("outputs::sweeps")));
    assert!(allowed(&p("model::sim"), &p("engine::queue")));
    assert!(allowed(&p("engine::dist"), &p("units")));
    assert!(allowed(&p("units"), &p("engine::time")));
    assert!(allowed(&p("units"), &p("engine::calendar")));
    assert!(!allowed(&p("units"), &p("engine::queue")));
}

#[test]
fn main_only_calls_app() {
    let text = std::fs::read_to_string("src/main.rs").unwrap();
    assert!(text.lines().count() <= 120, "main.rs stays thin");
    let paths: Vec<&str> = text.matches("backupsim::").collect();
    assert!(!paths.is_empty());
    for line in text.lines().filter(|l| l.contains("backupsim::")) {
        assert!(
            line.contains("backupsim::app"),
            "main.rs reaches past app: {line}"
        );
    }
}

/// Checkable absences: outputs never run a simulation; the engine and the model never do
/// file I/O or print.
#[test]
fn outputs_never_simulate_and_the_core_does_no_io() {
    let mut files = Vec::new();
    sources(Path::new("src"), &mut files);
    for file in files {
        let name = file.to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(&file).unwrap();
        let code: String = text
            .lines()
            .take_while(|l| !l.starts_with("#[cfg(test)]"))
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        if name.starts_with("src/outputs/") {
            for bad in ["simulate(", "model::run("] {
                assert!(!code.contains(bad), "{name} runs a simulation ({bad})");
            }
        }
        if name.starts_with("src/model/") || name.starts_with("src/engine/") {
            for bad in [
                "std::fs",
                "File::",
                "println!",
                "eprintln!",
                "status!",
                "Instant::now",
                "SystemTime",
            ] {
                assert!(
                    !code.contains(bad),
                    "{name} does I/O or reads the clock ({bad})"
                );
            }
        }
    }
}

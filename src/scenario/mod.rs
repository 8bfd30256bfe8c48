//! Scenario files: parsing, defaults, validation and `--set` overrides.
//!
//! The pipeline is [`load()`]: text → `--set` edits (on a format-preserving TOML document)
//! → serde into [`Scenario`] (defaults filled) → empirical data files → [`validate`] →
//! [`build()`] of the model's configuration. Every error carries the file, line, column
//! and dotted key of the offending value.

pub mod build;
pub mod dist_format;
pub mod estimate;
pub mod inventory;
pub mod load;
pub mod locate;
pub mod memory;
pub mod population;
pub mod schema;
pub mod validate;
pub mod warnings;

pub use build::build;
pub use load::{load, load_str, Loaded};
pub use schema::Scenario;

impl Scenario {
    /// The scenario as TOML with every default written out: `scenario.resolved.toml`.
    pub fn to_resolved_toml(&self) -> String {
        let body = toml::to_string(self).expect("a scenario always serializes");
        format!(
            "# The scenario as run: every default written out, overrides and seed applied.\n# `backupsim run` on this file reproduces the run.\n\n{body}"
        )
    }
}

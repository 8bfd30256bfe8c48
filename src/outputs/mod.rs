//! What a simulation leaves behind, and everything that reads it back: results
//! directories (one atomic writer, one reader per file), sweeps, checks and comparisons,
//! and plots. Nothing in here runs a simulation: `app` runs one and hands the outcome to
//! `results`.
//!
//! Inside, imports run one way too: `plots` and `compare` above `sweeps` above `results`.

pub mod compare;
pub mod plots;
pub mod results;
pub mod sweeps;

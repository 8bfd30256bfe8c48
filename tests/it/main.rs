//! The integration tests: one binary, one module per concern, helpers shared in
//! `common`. Each module keeps within a few seconds in CI (small fleets, few days).

mod architecture;
mod cli;
mod common;
mod determinism;
mod docs;
mod domain;
mod fuzz_scenario;
mod golden;
mod init;
mod invariants;
mod mutants;
mod pin;
mod results;
mod scale;
mod slurm;
mod solve;
mod sweep;
mod theory;
mod trust;
mod warnings;

//! The integration tests: one binary, one module per concern, helpers shared in
//! `common`. Simulated fleets stay small (tens of VMs, a few days) so that the whole
//! suite fits CI's budget on 2 cores. Each module's time budget in a debug build on 2
//! cores (CPU seconds, alongside the others): `mutants` 30 s (2 025 mutants, every 24th
//! through the binary), `theory` 45 s (800 seeds of the warm-up reduction, 1 000 of the
//! coverage one), `sweep` 40 s (real interrupts, locks and adaptive rounds), `slurm` 20 s
//! (a real one-node cluster in CI), `research` 15 s (runs and sweeps through the binary),
//! `solve` 10 s, `warnings` 10 s, every other module under 5 s. A module that outgrows
//! its budget shrinks its scenario rather than the assertion.

mod architecture;
mod calendar;
mod cli;
mod common;
mod compare;
mod cost;
mod determinism;
mod docs;
mod domain;
mod fidelity;
mod fuzz_scenario;
mod golden;
mod growth;
mod init;
mod invariants;
mod inventory;
mod limits;
mod mutants;
mod partition;
mod pin;
mod reports;
mod research;
mod results;
mod scale;
mod slurm;
mod solve;
mod sweep;
mod theory;
mod trust;
mod warnings;

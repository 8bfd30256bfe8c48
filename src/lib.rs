//! backupsim: a deterministic discrete-event simulator of a cloud VM backup fleet.

pub mod app;
pub mod compare;
pub mod dist;
pub mod engine;
pub mod error;
pub mod histio;
pub mod metrics;
pub mod model;
pub mod plot;
pub mod report;
pub mod scenario;
pub mod sweep;

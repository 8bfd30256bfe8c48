//! backupsim: a deterministic discrete-event simulator of a cloud VM backup fleet.

pub mod compare;
pub mod engine;
pub mod histio;
pub mod model;
pub mod plot;

//! The backup model: VMs, vaults, policies, links, backup and restore jobs.
//!
//! The model knows nothing of files: it takes a validated scenario and returns metrics.

pub mod network;

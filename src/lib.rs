//! backupsim: a deterministic discrete-event simulator of a cloud VM backup fleet.

/// Writes one line to stderr and ignores a failure: a closed or full stderr must never turn
/// a finished run into a panic (`eprintln!` panics there).
#[macro_export]
macro_rules! status {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

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

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

// Wings whose imports run one way: app → outputs → scenario → model → engine, over a
// ground floor (error, units) that every wing may use. tests/it/architecture.rs enforces it.
pub mod app;
pub mod engine;
pub mod error;
pub mod model;
pub mod outputs;
pub mod scenario;
pub mod units;

//! Parameter sweeps: a grid of `--vary` values × replications, run in parallel, sharded
//! across machines, merged, and resumed after an interruption.
//!
//! While it runs, a sweep directory holds one ordinary results directory per run
//! (`runs/<point>/rep-<r>/`); the aggregates are computed *only from those files on disk*
//! (`sweep.csv`, `runs.csv`, `points.csv`, `points/<point>/`), after which the run
//! directories are removed unless kept (`keep`). Because the aggregates
//! never depend on which process produced a run, in which order, or on how many threads,
//! a single-machine sweep, a resumed sweep and a merge of shards write the same bytes.
//!
//! The sweep's definition (scenario hash, `--set`, `--vary`, replications, seed mode) is
//! recorded in `sweep.json`; resuming and merging refuse directories of another sweep.
//! Advisory locks (`lock`) keep two processes from writing the same runs.
//! See `docs/sweeps.md` for the user-facing description.

mod adaptive;
mod aggregate;
mod definition;
mod keep;
mod lock;
mod runs_table;
mod shard;
mod stats;

pub use adaptive::*;
pub use aggregate::*;
pub use definition::*;
pub use keep::*;
pub use lock::*;
pub use runs_table::*;
pub use shard::*;
pub use stats::*;

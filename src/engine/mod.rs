//! The discrete-event engine: simulated time, the event queue and random streams.
//!
//! Nothing in here knows about backups. The model (`crate::model`) defines its own closed
//! event enum and drives [`EventQueue`] with it; the engine only guarantees ordering,
//! cancellation and reproducible randomness.

pub mod calendar;
pub mod dist;
pub mod num;
pub mod pages;
pub mod prefetch;
pub mod queue;
pub mod radix;
pub mod rng;
pub mod slab;
pub mod time;

pub use prefetch::{prefetch, prefetch_at, prefetch_lines_at};
pub use queue::{EventKey, EventQueue};
pub use rng::{stream_key, Stream};
pub use slab::Slab;
pub use time::{SimDuration, SimTime};

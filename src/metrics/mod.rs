//! What a run measures and how: operation and failure kinds, per-VU recording, one aggregator task that
//! merges everything each tick, and the live snapshot every view reads.

pub mod kinds;

pub use kinds::{FailureKind, Op};

//! What a run measures and how: operation and failure kinds, per-VU recording into sharded event
//! buffers, one aggregator that owns every histogram, the generator's self-check, and the live
//! snapshot every view reads.
//!
//! Flow of data: VU → [`Recorder`] (event push, gauges) → [`Hub`] buffers → [`Aggregator`] (drains on
//! every tick, closes seconds and levels) → [`Snapshot`] for views and [`TeamResult`] at the end.
//! [`exposition`] renders a snapshot as Prometheus text for `--metrics-listen`.

pub mod aggregate;
pub mod exposition;
pub mod health;
pub mod recorder;
pub mod snapshot;

pub use crate::base::kinds::{FailureKind, Op};
pub use aggregate::{Aggregator, TeamInfo, TeamResult};
pub use recorder::{GaugeValues, Hub, Recorder};
pub use snapshot::Snapshot;

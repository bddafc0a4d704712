//! Runs a [`LoadPlan`](plan::LoadPlan): the ramp controller starts VUs on schedule, each VU is one task
//! walking its flow, and cancellation stops everything in an orderly way so results are always written.
//! The engine never touches the terminal; views read its [`Snapshot`](crate::metrics::Snapshot)s.

pub mod delivery;
pub mod plan;
pub mod rooms;
pub mod run;
pub mod vu;

pub use run::{EngineError, EngineOptions, RunOutcome, Target, run};

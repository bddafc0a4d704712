//! Runs a [`LoadPlan`](plan::LoadPlan): the ramp controller starts VUs on schedule, each VU is one task
//! walking its flow, and cancellation stops everything in an orderly way so results are always written:
//! the load stops, what other members still await is waited for and judged, then sockets close.
//! The engine never touches the terminal; views read its [`Snapshot`](crate::metrics::Snapshot)s.

pub mod delivery;
pub mod expect;
pub mod plan;
pub mod receipts;
pub mod rooms;
pub mod run;
pub mod segment;
pub mod vu;

pub use run::{EngineError, EngineOptions, RunOutcome, StopControl, Target, run};

//! What a plan says that reports and scoring read too: the user levels of a run and the
//! thresholds that decide its exit code. The engine's load plan holds them and summaries carry
//! them; they live here so that neither has to import the other.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A period during which the load shape holds one user level.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelSpan {
    /// Position in the plan's list of levels.
    pub index: u32,
    /// Users the shape aims to have active during this span (for arrival-rate phases: users started
    /// so far when the span ends).
    pub target_users: u32,
    /// Start offset.
    pub start: Duration,
    /// End offset (exclusive).
    pub end: Duration,
    /// Name of the phase it belongs to.
    pub phase: String,
}

/// A rule that decides the exit code (1 when any is broken).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "metric", rename_all = "snake_case")]
pub enum Threshold {
    /// Failed VUs / started VUs must not exceed `max`.
    VuFailureRatio {
        /// Largest allowed ratio, 0.0..=1.0.
        max: f64,
    },
    /// Failed requests / all requests must not exceed `max`.
    RequestFailureRatio {
        /// Largest allowed ratio, 0.0..=1.0.
        max: f64,
    },
    /// The given percentile of an operation's latency must not exceed `max_ms`.
    Latency {
        /// Operation name as in reports (e.g. `delivery`, `join_room`).
        op: String,
        /// Percentile, e.g. 99.0.
        percentile: f64,
        /// Largest allowed value in milliseconds.
        max_ms: f64,
    },
    /// Messages not delivered to some member must not exceed `max` in count.
    DeliveryMissing {
        /// Largest allowed count.
        max: u64,
    },
    /// Read receipts that never reached some member must not exceed `max` in count.
    ReceiptMissing {
        /// Largest allowed count.
        max: u64,
    },
    /// Reactions some member never saw must not exceed `max` in count.
    ReactionMissing {
        /// Largest allowed count.
        max: u64,
    },
}

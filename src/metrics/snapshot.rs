//! `Snapshot`: the live view of a run, published by the aggregator over a `tokio::sync::watch` channel.
//!
//! Views (the terminal scoreboard, the progress bar) only ever read snapshots; they never reach into
//! the engine. A snapshot is self-contained and cheap to clone at a few frames per second.

use std::time::Duration;

use super::recorder::GaugeValues;
use crate::base::kinds::{FailureKind, Op};
use crate::base::summary::{LevelRow, ReactionTotals, ReceiptTotals, RequestTotals, TimelineRow};

/// How many timeline rows a snapshot carries (the most recent ones), for charts.
pub const SNAPSHOT_HISTORY: usize = 300;

/// The state of a run at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Planned run time.
    pub planned: Duration,
    /// Index of the level in force.
    pub level: u32,
    /// Number of levels in the plan.
    pub levels: u32,
    /// Users the shape aims for now.
    pub target_users: u32,
    /// Phase in force.
    pub phase: String,
    /// One entry per team (one for a plain run).
    pub teams: Vec<TeamSnapshot>,
    /// The generator's own health.
    pub generator: GeneratorSnapshot,
    /// True once the load has stopped and the run waits for what is still awaited (deliveries,
    /// receipts, reaction updates within their deadline) before judging and closing sockets.
    pub draining: bool,
    /// True in the last snapshot of a run.
    pub done: bool,
}

/// One team's live figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TeamSnapshot {
    /// Team name (the target's host:port for a plain run).
    pub name: String,
    /// Target base URL.
    pub target: String,
    /// VU gauges.
    pub gauges: GaugeValues,
    /// Requests so far.
    pub requests: RequestTotals,
    /// Chat messages sent so far.
    pub messages_sent: u64,
    /// Deliveries verified so far.
    pub delivered: u64,
    /// Deliveries missing so far.
    pub missing: u64,
    /// Deliveries so far slower than the late bound.
    pub late: u64,
    /// Deliveries, receipts and reaction updates still awaited within their deadline.
    pub pending: u64,
    /// Expectations the run could not judge (it was cut short while they were awaited).
    pub unjudged: u64,
    /// Read receipts so far.
    pub receipts: ReceiptTotals,
    /// Reaction updates so far.
    pub reactions: ReactionTotals,
    /// Messages sent per second over the last interval.
    pub messages_per_sec: f64,
    /// Deliveries verified per second over the last interval.
    pub deliveries_per_sec: f64,
    /// Failures so far by kind (only kinds that occurred, in report order).
    pub failures: Vec<(FailureKind, u64)>,
    /// Delivery latency over the last interval.
    pub delivery: Percentiles,
    /// Latency of each operation seen so far, over the whole run.
    pub ops: Vec<OpStat>,
    /// The most recent timeline rows, oldest first (at most [`SNAPSHOT_HISTORY`]).
    pub history: Vec<TimelineRow>,
    /// Levels finished so far; a row whose `pending` is not 0 is provisional (still being judged).
    pub levels: Vec<LevelRow>,
}

impl TeamSnapshot {
    /// VUs started without a failure so far.
    pub fn passed(&self) -> u64 {
        self.gauges.started.saturating_sub(self.gauges.failed)
    }
}

/// Three percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    /// Samples behind them.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// Latency of one operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpStat {
    /// The operation.
    pub op: Op,
    /// Percentiles over the whole run.
    pub total: Percentiles,
    /// Percentiles over the last interval.
    pub recent: Percentiles,
}

/// The generator's health at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeneratorSnapshot {
    /// CPU use over the last interval, percent of one core.
    pub cpu_percent: f64,
    /// Cores available.
    pub cores: u32,
    /// Worst scheduler lag over the last interval, ms.
    pub scheduler_lag_ms: f64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// True while the generator may be limiting the results.
    pub bottleneck: bool,
}

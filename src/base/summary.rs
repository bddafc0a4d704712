//! `RunSummary`: the one model of a finished (or interrupted) run against one target.
//!
//! Everything downstream reads this and nothing else: the JSON/CSV/text renderers, scoring, matches and
//! brackets (which re-score saved summaries offline). It is serialized once, snake_case, with a
//! `schema_version` bumped on any incompatible change; `schema/run-summary.schema.json` describes it
//! and a test checks real output against that schema.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::kinds::{FailureKind, Op};
use super::spec::Threshold;

/// Version of the [`RunSummary`] layout. Bump on incompatible changes.
///
/// Version 2: per-level delivery figures belong to the level each message was *sent* in (version 1
/// charged latency to the level a copy arrived in); read receipts and reaction updates are verified
/// (`receipts`, `reactions`, per-level columns); what a cut run could not judge is `unjudged`; late
/// deliveries are counted; `verify` records the deadlines. Version 1 files still load (the new
/// fields read as zero).
pub const SCHEMA_VERSION: u32 = 2;

/// The oldest [`SCHEMA_VERSION`] this build reads. Version 1 lacks the receipt, late and unjudged
/// counts (they load as 0) and charged each delivery to the level it arrived in rather than the
/// one it was sent in; rescoring such a file judges it as it was measured.
pub const OLDEST_READABLE: u32 = 1;

/// A finished run against one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Layout version, [`SCHEMA_VERSION`] when written by this build.
    pub schema_version: u32,
    /// Which tool and version produced it.
    pub tool: ToolInfo,
    /// Scenario name.
    pub scenario: String,
    /// Base URL of the target (`http://host:port`).
    pub target: String,
    /// Team name in a match; `None` for a plain run.
    pub team: Option<String>,
    /// Seed of the run.
    pub seed: u64,
    /// Time scale the plan was lowered with.
    pub time_scale: f64,
    /// Wall-clock start, RFC 3339 UTC.
    pub started_at: String,
    /// Seconds the run lasted.
    pub duration_secs: f64,
    /// Seconds the plan asked for.
    pub planned_duration_secs: f64,
    /// True when the run was interrupted (Ctrl-C, `q`) and the figures cover only part of the plan.
    pub partial: bool,
    /// Why the run ended early, when it did.
    pub stop_reason: Option<String>,
    /// VU totals.
    pub users: UserTotals,
    /// Request totals (every [`Op::is_request`] operation, each expected delivery counting once).
    pub requests: RequestTotals,
    /// Chat message totals and delivery verification.
    pub messages: MessageTotals,
    /// Read receipts (`markMessagesAsRead` → `messagesRead` at every other member), verified.
    #[serde(default)]
    pub receipts: ReceiptTotals,
    /// Reaction updates (a reaction → `messageReactionUpdate` at every other member), verified.
    #[serde(default)]
    pub reactions: ReactionTotals,
    /// The deadlines and bounds verification used.
    #[serde(default)]
    pub verify: VerifySettings,
    /// Latency per operation over the whole run.
    pub latency: Vec<OpLatency>,
    /// One row per user level of the ramp.
    pub levels: Vec<LevelRow>,
    /// One row per second.
    pub timeline: Vec<TimelineRow>,
    /// Failures per (kind, operation) with a bounded sample of messages.
    pub failures: Vec<FailureRow>,
    /// How the load generator itself fared.
    pub generator: GeneratorHealth,
    /// Each threshold of the scenario and whether it held.
    pub thresholds: Vec<ThresholdResult>,
    /// How latency was measured (coordinated omission correction), in words, for readers of the JSON.
    pub measurement_notes: Vec<String>,
    /// A fingerprint of the plan that was run (every segment of a split plan has the same one).
    #[serde(default)]
    pub plan_hash: String,
    /// When this run was one segment of a plan split over several processes: which, and how it
    /// started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentInfo>,
    /// When this summary was merged from segments: each of them, with its own generator health.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<SegmentInfo>,
}

/// One segment of a plan split over several processes or machines.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentInfo {
    /// Which segment, counted from 0.
    pub index: u32,
    /// Of how many.
    pub count: u32,
    /// The start time every segment was given (RFC 3339 UTC).
    pub start_at: String,
    /// How late this segment actually started, ms (more than 1,000 is also a generator warning).
    pub started_late_ms: f64,
    /// Users of the plan this segment starts.
    pub users_planned: u64,
    /// Whether this segment's run was partial.
    pub partial: bool,
    /// Why it ended early, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// The segment's own generator health (in a merged summary; `None` in the segment's own, where
    /// it is the summary's `generator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<GeneratorHealth>,
}

/// Tool identification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// Always `stampede`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

/// VU totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTotals {
    /// VUs the plan would start.
    pub planned: u64,
    /// VUs actually started.
    pub started: u64,
    /// Most VUs holding an open socket at once.
    pub peak_connected: u64,
    /// VUs that finished (or were still running at the end) without any failure.
    pub passed: u64,
    /// VUs with at least one failure.
    pub failed: u64,
}

/// Request totals of a run or a level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestTotals {
    /// Successful requests.
    pub ok: u64,
    /// Failed requests.
    pub failed: u64,
}

/// Chat message totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageTotals {
    /// `chatMessage` emits.
    pub sent: u64,
    /// Sends whose own echo came back.
    pub echoed: u64,
    /// (message, other member) pairs that should have been delivered.
    pub deliveries_expected: u64,
    /// Of those, delivered within the deadline.
    pub delivered: u64,
    /// Of those, never delivered within the deadline.
    pub missing: u64,
    /// Extra copies received.
    pub duplicate: u64,
    /// Deliveries that arrived out of the sender's order (delivered, and counted in `delivered`).
    pub reordered: u64,
    /// Of the delivered, those slower than `verify.late_after_ms`.
    #[serde(default)]
    pub late: u64,
    /// (message, other member) pairs the run could not judge: it was cut short (a second Ctrl-C or
    /// SIGTERM) while they were awaited and within their deadline. Not in `deliveries_expected`.
    #[serde(default)]
    pub unjudged: u64,
    /// Sends whose own echo was still awaited, within the step budget, when the run ended.
    #[serde(default)]
    pub echoes_unjudged: u64,
    /// In a segment of a split plan: copies of messages other segments sent, received by this
    /// segment's members in rooms that span segments. Their senders' segments verify them; here
    /// they are only counted (never missing, duplicate or unexpected).
    #[serde(default)]
    pub foreign: u64,
    /// `resync` events received: a server (the reference server on Redis) telling a member that it
    /// skipped room events the member will never get live. Counted, not a failure; the messages
    /// they held are still judged (usually `missing`).
    #[serde(default)]
    pub resyncs: u64,
}

/// Read receipt totals: one expected receipt is one (`markMessagesAsRead`, other member) pair.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptTotals {
    /// `markMessagesAsRead` emits.
    pub marks: u64,
    /// (mark, other member) pairs that should have been told: `delivered + missing`.
    pub expected: u64,
    /// Of those, told within the receipt deadline (every id of the mark covered).
    pub delivered: u64,
    /// Of those, not told within the deadline.
    pub missing: u64,
    /// `messagesRead` events that told a member only what it had been told already.
    pub duplicate: u64,
    /// Pairs the run could not judge (cut short while they were awaited).
    pub unjudged: u64,
}

/// Reaction update totals: one expected update is one (reaction, other member) pair.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionTotals {
    /// (reaction, other member) pairs that should have seen it: `delivered + missing`.
    pub expected: u64,
    /// Of those, seen within the receipt deadline.
    pub delivered: u64,
    /// Of those, not seen within the deadline.
    pub missing: u64,
    /// Pairs the run could not judge (cut short while they were awaited).
    pub unjudged: u64,
}

/// The deadlines verification used, in milliseconds (none is time-scaled).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerifySettings {
    /// A chat message must reach every other member within this.
    pub delivery_deadline_ms: f64,
    /// A read receipt or reaction update must reach every other member within this.
    pub receipt_deadline_ms: f64,
    /// A delivery slower than this counts as late.
    pub late_after_ms: f64,
}

/// Latency statistics of one operation, in milliseconds (recorded in microseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpLatency {
    /// The operation.
    pub op: Op,
    /// Samples.
    pub count: u64,
    /// Smallest.
    pub min_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// The full histogram (HdrHistogram V2 + DEFLATE, base64), so percentiles can be recomputed and
    /// merged offline.
    pub histogram: String,
}

/// Everything counted while the ramp held one user level: "successes and failures at the same number
/// of users".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelRow {
    /// Position in the plan's level list.
    pub index: u32,
    /// Phase name.
    pub phase: String,
    /// Users the shape aimed for.
    pub target_users: u32,
    /// Start offset, seconds.
    pub start_secs: f64,
    /// End offset, seconds (where the run stopped, for the last level of a partial run).
    pub end_secs: f64,
    /// True when the run ended before this level did.
    pub incomplete: bool,
    /// VUs started so far at the end of the level.
    pub users_started: u64,
    /// VUs running (started, not finished, not failed) at the end of the level.
    pub users_active: u64,
    /// VUs holding an open socket at the end of the level.
    pub users_connected: u64,
    /// VUs started so far without any failure, at the end of the level.
    pub vus_passed: u64,
    /// VUs failed so far, at the end of the level.
    pub vus_failed: u64,
    /// VUs that failed during this level.
    pub vus_failed_in_level: u64,
    /// Requests that completed during this level.
    pub requests: RequestTotals,
    /// Messages sent during this level.
    pub messages_sent: u64,
    /// Deliveries of messages sent during this level, wherever they arrived.
    pub deliveries: u64,
    /// Deliveries of messages sent during this level that never arrived within the deadline.
    pub deliveries_missing: u64,
    /// Of `deliveries`, those slower than the late bound (`verify.late_after_ms`).
    #[serde(default)]
    pub deliveries_late: u64,
    /// Delivery latency of messages sent during this level.
    pub delivery_p50_ms: f64,
    /// Delivery latency of messages sent during this level.
    pub delivery_p95_ms: f64,
    /// Delivery latency of messages sent during this level.
    pub delivery_p99_ms: f64,
    /// Read receipts of marks sent during this level, told to a member in time.
    #[serde(default)]
    pub receipts: u64,
    /// Read receipts of marks sent during this level never told to a member in time.
    #[serde(default)]
    pub receipts_missing: u64,
    /// Receipt latency of marks sent during this level.
    #[serde(default)]
    pub receipt_p99_ms: f64,
    /// Reaction updates of reactions made during this level, seen by a member in time.
    #[serde(default)]
    pub reaction_updates: u64,
    /// Reaction updates of reactions made during this level never seen by a member in time.
    #[serde(default)]
    pub reactions_missing: u64,
    /// Deliveries, receipts and reaction updates of this level the run could not judge (it was cut
    /// short while they were awaited). 0 in every level of a run that ended normally.
    #[serde(default)]
    pub unjudged: u64,
    /// Deliveries, receipts and reaction updates of this level still awaited, within their deadline,
    /// when the row was made: a row with any is provisional (only in live views; a finished run's
    /// rows are final and have none).
    #[serde(default)]
    pub pending: u64,
    /// Latency of every request operation except delivery, during this level.
    pub request_p99_ms: f64,
    /// Failures during this level by kind name (only kinds that occurred).
    pub failures: BTreeMap<String, u64>,
    /// Delivery histogram of the level (same encoding as [`OpLatency::histogram`]); empty when none.
    pub delivery_histogram: String,
    /// Receipt histogram of the level (same encoding); empty when none.
    #[serde(default)]
    pub receipt_histogram: String,
    /// Histogram of every request operation except delivery during this level (what
    /// `request_p99_ms` is read from; same encoding); empty when none. Segments' levels merge
    /// exactly through it.
    #[serde(default)]
    pub request_histogram: String,
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineRow {
    /// Seconds since the start (end of the interval).
    pub t_secs: f64,
    /// Level in force.
    pub level: u32,
    /// Users the shape aimed for.
    pub target_users: u32,
    /// VUs running.
    pub active_users: u64,
    /// VUs holding an open socket.
    pub connected_users: u64,
    /// VUs failed so far.
    pub vus_failed: u64,
    /// Requests completed in this interval.
    pub requests_ok: u64,
    /// Requests failed in this interval.
    pub requests_failed: u64,
    /// Messages sent in this interval.
    pub messages_sent: u64,
    /// Deliveries that arrived in this interval (timed by arrival, unlike the level rows, which
    /// charge each delivery to the level its message was sent in).
    pub messages_delivered: u64,
    /// Failures in this interval by kind name (only kinds that occurred).
    pub failures: BTreeMap<String, u64>,
    /// Latency of the deliveries that arrived in this interval.
    pub delivery_p50_ms: f64,
    /// Latency of the deliveries that arrived in this interval.
    pub delivery_p95_ms: f64,
    /// Latency of the deliveries that arrived in this interval.
    pub delivery_p99_ms: f64,
    /// Latency of requests other than delivery in this interval.
    pub request_p99_ms: f64,
    /// Worst scheduler lag of the generator in this interval.
    pub scheduler_lag_ms: f64,
    /// Generator CPU use in this interval, percent of one core.
    pub cpu_percent: f64,
}

/// Failures of one kind in one operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRow {
    /// What went wrong.
    pub kind: FailureKind,
    /// Where.
    pub op: Op,
    /// How often.
    pub count: u64,
    /// The first few messages (bounded).
    pub samples: Vec<String>,
}

/// The load generator's view of itself. A run where the generator may have been the bottleneck says so,
/// and a match played on an unhealthy generator is void.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorHealth {
    /// Mean CPU use, percent of one core.
    pub cpu_percent_mean: f64,
    /// Highest one-second CPU use, percent of one core.
    pub cpu_percent_max: f64,
    /// Cores available to the generator.
    pub cores: u32,
    /// 99th percentile of scheduler lag (how late a 100 ms timer fired), ms.
    pub scheduler_lag_p99_ms: f64,
    /// Worst scheduler lag, ms.
    pub scheduler_lag_max_ms: f64,
    /// Peak resident memory, bytes.
    pub peak_rss_bytes: u64,
    /// True when the generator may have limited the results.
    pub bottleneck: bool,
    /// Why it may have, in words.
    pub warnings: Vec<String>,
}

/// Outcome of one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The rule.
    pub threshold: Threshold,
    /// The measured value it was compared with (a ratio, milliseconds or a count, as the rule says);
    /// `None` when the run could not measure it (a latency rule on an operation that never ran), in
    /// which case the rule did not pass. An `Option` rather than NaN because JSON has no NaN and the
    /// summary must load back.
    pub actual: Option<f64>,
    /// True when the rule held.
    pub passed: bool,
    /// Why the rule could not be judged, when it could not.
    pub note: Option<String>,
}

impl MessageTotals {
    /// Adds another part's counts (of another segment of the same run).
    pub fn add(&mut self, n: &MessageTotals) {
        self.sent += n.sent;
        self.echoed += n.echoed;
        self.deliveries_expected += n.deliveries_expected;
        self.delivered += n.delivered;
        self.missing += n.missing;
        self.duplicate += n.duplicate;
        self.reordered += n.reordered;
        self.late += n.late;
        self.unjudged += n.unjudged;
        self.echoes_unjudged += n.echoes_unjudged;
        self.foreign += n.foreign;
        self.resyncs += n.resyncs;
    }
}

impl ReceiptTotals {
    /// Adds another part's counts.
    pub fn add(&mut self, q: &ReceiptTotals) {
        self.marks += q.marks;
        self.expected += q.expected;
        self.delivered += q.delivered;
        self.missing += q.missing;
        self.duplicate += q.duplicate;
        self.unjudged += q.unjudged;
    }
}

impl ReactionTotals {
    /// Adds another part's counts.
    pub fn add(&mut self, b: &ReactionTotals) {
        self.expected += b.expected;
        self.delivered += b.delivered;
        self.missing += b.missing;
        self.unjudged += b.unjudged;
    }
}

/// Adds the counts of one failures map into another.
pub fn add_failures(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_insert(0) += v;
    }
}

impl LevelRow {
    /// Adds the counts and gauges of the same level of another part of the run (another segment,
    /// another worker); the end is the later one, incomplete when either is. Latency is left to
    /// the caller: merged from the histograms where they are kept, or an approximation.
    pub fn add_counts(&mut self, o: &LevelRow) {
        self.end_secs = self.end_secs.max(o.end_secs);
        self.incomplete |= o.incomplete;
        self.users_started += o.users_started;
        self.users_active += o.users_active;
        self.users_connected += o.users_connected;
        self.vus_passed += o.vus_passed;
        self.vus_failed += o.vus_failed;
        self.vus_failed_in_level += o.vus_failed_in_level;
        self.requests.ok += o.requests.ok;
        self.requests.failed += o.requests.failed;
        self.messages_sent += o.messages_sent;
        self.deliveries += o.deliveries;
        self.deliveries_missing += o.deliveries_missing;
        self.deliveries_late += o.deliveries_late;
        self.receipts += o.receipts;
        self.receipts_missing += o.receipts_missing;
        self.reaction_updates += o.reaction_updates;
        self.reactions_missing += o.reactions_missing;
        self.unjudged += o.unjudged;
        self.pending += o.pending;
        add_failures(&mut self.failures, &o.failures);
    }
}

impl TimelineRow {
    /// Adds the gauges of another part of the run (users running, connected, failed so far; the
    /// larger level and target), not its counts: a part that has no row for this second is still
    /// running with the gauges of its last one.
    pub fn add_gauges(&mut self, o: &TimelineRow) {
        self.level = self.level.max(o.level);
        self.target_users = self.target_users.max(o.target_users);
        self.active_users += o.active_users;
        self.connected_users += o.connected_users;
        self.vus_failed += o.vus_failed;
    }

    /// Adds the counts and gauges of the same second of another part of the run; the level and
    /// target are the larger, the scheduler lag the worst, CPU the sum (percent of one core over
    /// every process). Latency is left to the caller.
    pub fn add_counts(&mut self, o: &TimelineRow) {
        self.add_gauges(o);
        self.requests_ok += o.requests_ok;
        self.requests_failed += o.requests_failed;
        self.messages_sent += o.messages_sent;
        self.messages_delivered += o.messages_delivered;
        add_failures(&mut self.failures, &o.failures);
        self.scheduler_lag_ms = self.scheduler_lag_ms.max(o.scheduler_lag_ms);
        self.cpu_percent += o.cpu_percent;
    }
}

impl RunSummary {
    /// A summary of a run against `target` with nothing in it yet, written by this build: the
    /// measurements are filled in by whoever measured them (the aggregator), what the run was
    /// (scenario, seed, times, thresholds) by whoever ran it (the runner).
    pub fn empty(target: &str) -> RunSummary {
        RunSummary {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo {
                name: "stampede".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            scenario: String::new(),
            target: target.to_owned(),
            team: None,
            seed: 0,
            time_scale: 1.0,
            started_at: String::new(),
            duration_secs: 0.0,
            planned_duration_secs: 0.0,
            partial: false,
            stop_reason: None,
            users: UserTotals::default(),
            requests: RequestTotals::default(),
            messages: MessageTotals::default(),
            receipts: ReceiptTotals::default(),
            reactions: ReactionTotals::default(),
            verify: VerifySettings::default(),
            latency: Vec::new(),
            levels: Vec::new(),
            timeline: Vec::new(),
            failures: Vec::new(),
            generator: GeneratorHealth::default(),
            thresholds: Vec::new(),
            measurement_notes: Vec::new(),
            plan_hash: String::new(),
            segment: None,
            segments: Vec::new(),
        }
    }

    /// Latency of `op`, if any sample was recorded.
    pub fn latency_of(&self, op: Op) -> Option<&OpLatency> {
        self.latency.iter().find(|l| l.op == op)
    }

    /// True when every threshold held.
    pub fn thresholds_passed(&self) -> bool {
        self.thresholds.iter().all(|t| t.passed)
    }
}

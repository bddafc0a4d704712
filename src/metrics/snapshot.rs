//! `Snapshot`: the live view of a run, published by the aggregator over a `tokio::sync::watch` channel.
//!
//! Views (the terminal scoreboard, the progress bar) only ever read snapshots; they never reach into
//! the engine. A snapshot is self-contained and cheap to clone at a few frames per second.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::recorder::GaugeValues;
use crate::base::kinds::{FailureKind, Op};
use crate::base::summary::{LevelRow, ReactionTotals, ReceiptTotals, RequestTotals, TimelineRow};

/// How many timeline rows a snapshot carries (the most recent ones), for charts.
pub const SNAPSHOT_HISTORY: usize = 300;

/// The state of a run at one instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OpStat {
    /// The operation.
    pub op: Op,
    /// Percentiles over the whole run.
    pub total: Percentiles,
    /// Percentiles over the last interval.
    pub recent: Percentiles,
}

/// The generator's health at one instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

/// One live view of a run split over several processes: the processes' latest snapshots added up.
/// Counts and gauges are summed; latency percentiles cannot be added, so the view shows the worst
/// process's (the results merged at the end are exact: they merge the histograms).
pub fn combine(parts: &[Snapshot]) -> Snapshot {
    let Some(first) = parts.first() else {
        return Snapshot::default();
    };
    let mut all = Snapshot {
        teams: Vec::new(),
        generator: GeneratorSnapshot::default(),
        ..first.clone()
    };
    all.elapsed = parts.iter().map(|p| p.elapsed).max().unwrap_or_default();
    all.level = parts.iter().map(|p| p.level).max().unwrap_or_default();
    all.draining = parts.iter().any(|p| p.draining);
    all.done = parts.iter().all(|p| p.done);
    for p in parts {
        let g = &mut all.generator;
        g.cpu_percent += p.generator.cpu_percent;
        g.cores += p.generator.cores;
        g.scheduler_lag_ms = g.scheduler_lag_ms.max(p.generator.scheduler_lag_ms);
        g.rss_bytes += p.generator.rss_bytes;
        g.bottleneck |= p.generator.bottleneck;
        for (i, t) in p.teams.iter().enumerate() {
            if all.teams.len() <= i {
                all.teams.push(TeamSnapshot {
                    name: t.name.clone(),
                    target: t.target.clone(),
                    ..TeamSnapshot::default()
                });
            }
            add_team(&mut all.teams[i], t);
        }
    }
    all
}

fn max_pct(a: &mut Percentiles, b: &Percentiles) {
    a.count += b.count;
    a.p50_ms = a.p50_ms.max(b.p50_ms);
    a.p95_ms = a.p95_ms.max(b.p95_ms);
    a.p99_ms = a.p99_ms.max(b.p99_ms);
}

fn add_team(a: &mut TeamSnapshot, b: &TeamSnapshot) {
    let (g, h) = (&mut a.gauges, &b.gauges);
    g.started += h.started;
    g.active += h.active;
    g.connected += h.connected;
    g.failed += h.failed;
    g.peak_connected += h.peak_connected;
    a.requests.ok += b.requests.ok;
    a.requests.failed += b.requests.failed;
    a.messages_sent += b.messages_sent;
    a.delivered += b.delivered;
    a.missing += b.missing;
    a.late += b.late;
    a.pending += b.pending;
    a.unjudged += b.unjudged;
    a.receipts.add(&b.receipts);
    a.reactions.add(&b.reactions);
    a.messages_per_sec += b.messages_per_sec;
    a.deliveries_per_sec += b.deliveries_per_sec;
    for &(kind, n) in &b.failures {
        match a.failures.iter_mut().find(|(k, _)| *k == kind) {
            Some(slot) => slot.1 += n,
            None => a.failures.push((kind, n)),
        }
    }
    a.failures.sort_by_key(|(k, _)| *k);
    max_pct(&mut a.delivery, &b.delivery);
    for op in &b.ops {
        match a.ops.iter_mut().find(|o| o.op == op.op) {
            Some(slot) => {
                max_pct(&mut slot.total, &op.total);
                max_pct(&mut slot.recent, &op.recent);
            }
            None => a.ops.push(*op),
        }
    }
    a.ops.sort_by_key(|o| o.op);
    for row in &b.history {
        let second = row.t_secs.round();
        match a.history.iter_mut().find(|r| r.t_secs.round() == second) {
            Some(r) => {
                r.add_counts(row);
                r.delivery_p50_ms = r.delivery_p50_ms.max(row.delivery_p50_ms);
                r.delivery_p95_ms = r.delivery_p95_ms.max(row.delivery_p95_ms);
                r.delivery_p99_ms = r.delivery_p99_ms.max(row.delivery_p99_ms);
                r.request_p99_ms = r.request_p99_ms.max(row.request_p99_ms);
            }
            None => a.history.push(row.clone()),
        }
    }
    a.history.sort_by(|x, y| x.t_secs.total_cmp(&y.t_secs));
    let keep = a.history.len().saturating_sub(SNAPSHOT_HISTORY);
    a.history.drain(..keep);
    for level in &b.levels {
        match a.levels.iter_mut().find(|l| l.index == level.index) {
            Some(l) => {
                l.add_counts(level);
                l.delivery_p50_ms = l.delivery_p50_ms.max(level.delivery_p50_ms);
                l.delivery_p95_ms = l.delivery_p95_ms.max(level.delivery_p95_ms);
                l.delivery_p99_ms = l.delivery_p99_ms.max(level.delivery_p99_ms);
                l.receipt_p99_ms = l.receipt_p99_ms.max(level.receipt_p99_ms);
                l.request_p99_ms = l.request_p99_ms.max(level.request_p99_ms);
            }
            None => a.levels.push(level.clone()),
        }
    }
    a.levels.sort_by_key(|l| l.index);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_add_up_and_the_worst_latency_shows() {
        let part = |connected, p99, done| Snapshot {
            elapsed: Duration::from_secs(5),
            teams: vec![TeamSnapshot {
                name: "a".into(),
                gauges: GaugeValues {
                    connected,
                    ..GaugeValues::default()
                },
                messages_sent: 10,
                failures: vec![(FailureKind::Timeout, 1)],
                delivery: Percentiles {
                    count: 5,
                    p99_ms: p99,
                    ..Percentiles::default()
                },
                ..TeamSnapshot::default()
            }],
            generator: GeneratorSnapshot {
                cpu_percent: 40.0,
                rss_bytes: 100,
                ..GeneratorSnapshot::default()
            },
            done,
            ..Snapshot::default()
        };
        let all = combine(&[part(3, 20.0, true), part(4, 50.0, false)]);
        let t = &all.teams[0];
        assert_eq!(t.gauges.connected, 7);
        assert_eq!(t.messages_sent, 20);
        assert_eq!(t.failures, vec![(FailureKind::Timeout, 2)]);
        assert_eq!((t.delivery.count, t.delivery.p99_ms), (10, 50.0));
        assert_eq!(all.generator.cpu_percent, 80.0);
        assert_eq!(all.generator.rss_bytes, 200);
        assert!(!all.done, "done only when every part is");
        assert_eq!(combine(&[]), Snapshot::default());
    }
}

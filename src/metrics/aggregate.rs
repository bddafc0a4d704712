//! The aggregator: the one owner of every histogram and counter of a run.
//!
//! It drains the recorders' event buffers on every tick, closes a timeline interval every second,
//! closes a user level whenever the ramp controller says so, publishes a [`Snapshot`], and at the end
//! turns everything into one [`RunSummary`] per team. Nothing here is shared: the aggregator is
//! owned by a single task, so it needs no locks of its own.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::health::{HealthVerdict, IntervalHealth};
use super::recorder::{Event, FailureSample, GaugeValues, Hub, SAMPLES_PER_KEY, What};
use super::snapshot::{
    GeneratorSnapshot, OpStat, Percentiles, SNAPSHOT_HISTORY, Snapshot, TeamSnapshot,
};
use crate::base::hist::{Hist, HlogEntry, encode_hist, ms, new_hist};
use crate::base::kinds::{FailureKind, Op};
use crate::base::spec::LevelSpan;
use crate::base::summary::{
    FailureRow, GeneratorHealth, LevelRow, MessageTotals, OpLatency, ReactionTotals, ReceiptTotals,
    RequestTotals, RunSummary, TimelineRow, UserTotals,
};

fn percentiles(h: &Hist) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p95_ms: ms(h.value_at_quantile(0.95)),
        p99_ms: ms(h.value_at_quantile(0.99)),
    }
}

fn p99_ms(h: &Hist) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        ms(h.value_at_quantile(0.99))
    }
}

/// Who a team is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamInfo {
    /// Team name.
    pub name: String,
    /// Target base URL.
    pub target: String,
}

/// Counters of one interval or one level.
#[derive(Debug, Clone, Default)]
struct Counters {
    ok: u64,
    failed: u64,
    sent: u64,
    marks: u64,
    delivered: u64,
    missing: u64,
    late: u64,
    receipts: u64,
    reaction_updates: u64,
    foreign: u64,
    resyncs: u64,
    failures: [u64; FailureKind::COUNT],
    unjudged: [u64; Op::COUNT],
}

impl Counters {
    fn failures_of(&self, kind: FailureKind) -> u64 {
        self.failures[kind.index()]
    }

    fn unjudged_total(&self) -> u64 {
        self.unjudged.iter().sum()
    }

    fn failures_map(&self) -> BTreeMap<String, u64> {
        FailureKind::ALL
            .iter()
            .filter(|k| self.failures[k.index()] > 0)
            .map(|k| (k.name().to_string(), self.failures[k.index()]))
            .collect()
    }
}

#[derive(Debug)]
struct LevelAgg {
    counters: Counters,
    delivery: Hist,
    receipt: Hist,
    requests: Hist,
    /// When the level ended, the gauges at that instant, and whether the run cut it short.
    closed: Option<(Duration, GaugeValues, bool)>,
    failed_at_start: u64,
}

impl LevelAgg {
    fn new() -> Self {
        LevelAgg {
            counters: Counters::default(),
            delivery: new_hist(),
            receipt: new_hist(),
            requests: new_hist(),
            closed: None,
            failed_at_start: 0,
        }
    }
}

#[derive(Debug)]
struct TeamAgg {
    info: TeamInfo,
    total: Vec<Hist>,
    interval: Vec<Hist>,
    interval_requests: Hist,
    iv: Counters,
    all: Counters,
    echoed: u64,
    duplicate: u64,
    reordered: u64,
    failures: BTreeMap<(FailureKind, Op), (u64, Vec<String>)>,
    levels: Vec<LevelAgg>,
    timeline: Vec<TimelineRow>,
    last_rates: (f64, f64),
    last_interval: [Percentiles; Op::COUNT],
    hlog: Vec<HlogEntry>,
}

impl TeamAgg {
    fn new(info: TeamInfo, levels: usize) -> Self {
        TeamAgg {
            info,
            total: (0..Op::COUNT).map(|_| new_hist()).collect(),
            interval: (0..Op::COUNT).map(|_| new_hist()).collect(),
            interval_requests: new_hist(),
            iv: Counters::default(),
            all: Counters::default(),
            echoed: 0,
            duplicate: 0,
            reordered: 0,
            failures: BTreeMap::new(),
            levels: (0..levels.max(1)).map(|_| LevelAgg::new()).collect(),
            timeline: Vec::new(),
            last_rates: (0.0, 0.0),
            last_interval: [Percentiles::default(); Op::COUNT],
            hlog: Vec::new(),
        }
    }

    /// Applies one event to its level (`level`), the current interval and the run's totals.
    fn apply(&mut self, level: usize, what: What, late_after_micros: u64) {
        let level = level.min(self.levels.len() - 1);
        let lv = &mut self.levels[level];
        let counters = [&mut self.iv, &mut self.all, &mut lv.counters];
        match what {
            What::Ok { op, micros } => {
                let _ = self.total[op.index()].record(micros);
                let _ = self.interval[op.index()].record(micros);
                match op {
                    Op::Delivery => {
                        let _ = lv.delivery.record(micros);
                        let late = u64::from(micros > late_after_micros);
                        for c in counters {
                            c.delivered += 1;
                            c.late += late;
                            c.ok += 1;
                        }
                    }
                    // Receipts and reaction updates are verified but are not requests.
                    Op::Receipt => {
                        let _ = lv.receipt.record(micros);
                        for c in counters {
                            c.receipts += 1;
                        }
                    }
                    Op::ReactionUpdate => {
                        for c in counters {
                            c.reaction_updates += 1;
                        }
                    }
                    _ => {
                        let _ = lv.requests.record(micros);
                        let _ = self.interval_requests.record(micros);
                        if op == Op::SendAck {
                            self.echoed += 1;
                        }
                        for c in counters {
                            c.ok += 1;
                        }
                    }
                }
            }
            What::Done { .. } => {
                for c in counters {
                    c.ok += 1;
                }
            }
            What::Failed { op, kind } => {
                // Every failure is counted by kind; only failed requests count in the request ratio
                // (a dropped session fails its VU, which is counted there; a reordered copy was
                // delivered and is judged by its latency).
                let request = u64::from(op.is_request() && kind.fails_request());
                for c in counters {
                    c.failed += request;
                    c.failures[kind.index()] += 1;
                    if kind == FailureKind::DeliveryMissing {
                        c.missing += 1;
                    }
                }
                match kind {
                    FailureKind::DeliveryDuplicate => self.duplicate += 1,
                    FailureKind::DeliveryReordered => self.reordered += 1,
                    _ => {}
                }
                self.failures.entry((kind, op)).or_default().0 += 1;
            }
            What::Sent { op } => {
                let mark = op == Op::MarkRead;
                for c in counters {
                    if mark {
                        c.marks += 1;
                    } else {
                        c.sent += 1;
                    }
                }
            }
            What::Foreign => {
                for c in counters {
                    c.foreign += 1;
                }
            }
            What::Resync => {
                for c in counters {
                    c.resyncs += 1;
                }
            }
            What::Unjudged { op, count } => {
                for c in counters {
                    c.unjudged[op.index()] += u64::from(count);
                }
            }
        }
    }

    fn add_sample(&mut self, s: FailureSample) {
        let entry = self.failures.entry((s.kind, s.op)).or_default();
        if entry.1.len() < SAMPLES_PER_KEY as usize {
            entry.1.push(s.message);
        }
    }
}

/// The one owner of a run's measurements.
#[derive(Debug)]
pub struct Aggregator {
    hub: Arc<Hub>,
    teams: Vec<TeamAgg>,
    levels: Vec<LevelSpan>,
    planned: Duration,
    late_after_micros: u64,
    buf: Vec<Event>,
    interval_start: Duration,
    last_health: IntervalHealth,
    cores: u32,
    bottleneck: bool,
}

impl Aggregator {
    /// An aggregator for the teams and levels of a plan; deliveries slower than `late_after` are
    /// counted as late.
    pub fn new(
        hub: Arc<Hub>,
        teams: Vec<TeamInfo>,
        levels: Vec<LevelSpan>,
        planned: Duration,
        late_after: Duration,
    ) -> Self {
        let n = levels.len();
        Aggregator {
            hub,
            teams: teams.into_iter().map(|t| TeamAgg::new(t, n)).collect(),
            levels,
            planned,
            late_after_micros: late_after.as_micros() as u64,
            buf: Vec::new(),
            interval_start: Duration::ZERO,
            last_health: IntervalHealth::default(),
            cores: super::health::available_cores(),
            bottleneck: false,
        }
    }

    /// Applies every event recorded since the last drain.
    pub fn drain(&mut self) {
        self.hub.drain_into(&mut self.buf);
        for ev in self.buf.drain(..) {
            if let Some(team) = self.teams.get_mut(ev.team as usize) {
                team.apply(ev.level as usize, ev.what, self.late_after_micros);
            }
        }
        for s in self.hub.take_samples() {
            if let Some(team) = self.teams.get_mut(s.team as usize) {
                team.add_sample(s);
            }
        }
    }

    /// Marks the start of a level: remembers how many VUs had failed before it.
    pub fn open_level(&mut self, index: u32) {
        for (i, team) in self.teams.iter_mut().enumerate() {
            let failed = self.hub.gauges(i).read().failed;
            if let Some(l) = team.levels.get_mut(index as usize) {
                l.failed_at_start = failed;
            }
        }
    }

    /// Closes a level at offset `at` with the gauges the ramp controller read at that instant;
    /// `incomplete` when the run was interrupted before the level's planned end.
    pub fn close_level(
        &mut self,
        index: u32,
        at: Duration,
        gauges: &[GaugeValues],
        incomplete: bool,
    ) {
        for (team, g) in self.teams.iter_mut().zip(gauges) {
            if let Some(l) = team.levels.get_mut(index as usize)
                && l.closed.is_none()
            {
                l.closed = Some((at, *g, incomplete));
            }
        }
    }

    /// Closes the current one-second interval at offset `now`.
    pub fn close_interval(&mut self, now: Duration, health: IntervalHealth, bottleneck: bool) {
        self.drain();
        self.last_health = health;
        self.bottleneck = bottleneck;
        let start = self.interval_start;
        let length = now.saturating_sub(start).as_secs_f64().max(1e-3);
        let level = self.hub.level();
        let target = self
            .levels
            .get(level as usize)
            .map_or(0, |l| l.target_users);
        for (i, team) in self.teams.iter_mut().enumerate() {
            let g = self.hub.gauges(i).read();
            let delivery = &team.interval[Op::Delivery.index()];
            let d = percentiles(delivery);
            team.timeline.push(TimelineRow {
                t_secs: now.as_secs_f64(),
                level,
                target_users: target,
                active_users: g.active,
                connected_users: g.connected,
                vus_failed: g.failed,
                requests_ok: team.iv.ok,
                requests_failed: team.iv.failed,
                messages_sent: team.iv.sent,
                messages_delivered: team.iv.delivered,
                failures: team.iv.failures_map(),
                delivery_p50_ms: d.p50_ms,
                delivery_p95_ms: d.p95_ms,
                delivery_p99_ms: d.p99_ms,
                request_p99_ms: p99_ms(&team.interval_requests),
                scheduler_lag_ms: health.lag_ms,
                cpu_percent: health.cpu_percent,
            });
            team.last_rates = (
                team.iv.sent as f64 / length,
                team.iv.delivered as f64 / length,
            );
            for op in Op::ALL {
                let h = &mut team.interval[op.index()];
                team.last_interval[op.index()] = percentiles(h);
                if !h.is_empty() {
                    team.hlog.push(HlogEntry {
                        start_secs: start.as_secs_f64(),
                        length_secs: length,
                        op,
                        max_ms: ms(h.max()),
                        encoded: encode_hist(h),
                    });
                    h.reset();
                }
            }
            team.interval_requests.reset();
            team.iv = Counters::default();
        }
        self.interval_start = now;
    }

    /// The live view at offset `now`.
    pub fn snapshot(&self, now: Duration, done: bool) -> Snapshot {
        let level = self.hub.level();
        let span = self.levels.get(level as usize);
        let teams = self
            .teams
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let recent = t.timeline.len().saturating_sub(SNAPSHOT_HISTORY);
                let last_delivery = t
                    .timeline
                    .last()
                    .map(|r| Percentiles {
                        count: r.messages_delivered,
                        p50_ms: r.delivery_p50_ms,
                        p95_ms: r.delivery_p95_ms,
                        p99_ms: r.delivery_p99_ms,
                    })
                    .unwrap_or_default();
                TeamSnapshot {
                    name: t.info.name.clone(),
                    target: t.info.target.clone(),
                    gauges: self.hub.gauges(i).read(),
                    requests: RequestTotals {
                        ok: t.all.ok,
                        failed: t.all.failed,
                    },
                    messages_sent: t.all.sent,
                    delivered: t.all.delivered,
                    missing: t.all.missing,
                    late: t.all.late,
                    pending: self.hub.pending_total(i),
                    unjudged: t.all.unjudged_total(),
                    receipts: receipt_totals(&t.all),
                    reactions: reaction_totals(&t.all),
                    messages_per_sec: t.last_rates.0,
                    deliveries_per_sec: t.last_rates.1,
                    failures: FailureKind::ALL
                        .iter()
                        .filter(|k| t.all.failures[k.index()] > 0)
                        .map(|k| (*k, t.all.failures[k.index()]))
                        .collect(),
                    delivery: last_delivery,
                    ops: Op::ALL
                        .iter()
                        .filter(|op| !t.total[op.index()].is_empty())
                        .map(|op| OpStat {
                            op: *op,
                            total: percentiles(&t.total[op.index()]),
                            recent: t.last_interval[op.index()],
                        })
                        .collect(),
                    history: t.timeline[recent..].to_vec(),
                    levels: self.level_rows(i, t, None),
                }
            })
            .collect();
        Snapshot {
            elapsed: now,
            planned: self.planned,
            level,
            levels: self.levels.len() as u32,
            target_users: span.map_or(0, |l| l.target_users),
            phase: span.map(|l| l.phase.clone()).unwrap_or_default(),
            teams,
            draining: self.hub.draining(),
            generator: GeneratorSnapshot {
                cpu_percent: self.last_health.cpu_percent,
                cores: self.cores,
                scheduler_lag_ms: self.last_health.lag_ms,
                rss_bytes: self.last_health.rss_bytes,
                bottleneck: self.bottleneck,
            },
            done,
        }
    }

    /// Level rows of team `i`: closed levels, plus (at the end of a run) the level cut short at
    /// `end`. A closed level whose expectations are still awaited is provisional (`pending`).
    fn level_rows(
        &self,
        i: usize,
        team: &TeamAgg,
        end: Option<(Duration, &GaugeValues)>,
    ) -> Vec<LevelRow> {
        let mut rows = Vec::new();
        for (span, agg) in self.levels.iter().zip(&team.levels) {
            let (at, g, incomplete) = match (agg.closed, end) {
                (Some(closed), _) => closed,
                (None, Some((end, g))) if span.start <= end => (end, *g, true),
                _ => continue,
            };
            let c = &agg.counters;
            let d = percentiles(&agg.delivery);
            rows.push(LevelRow {
                index: span.index,
                phase: span.phase.clone(),
                target_users: span.target_users,
                start_secs: span.start.as_secs_f64(),
                end_secs: at.as_secs_f64(),
                incomplete,
                users_started: g.started,
                users_active: g.active,
                users_connected: g.connected,
                vus_passed: g.started.saturating_sub(g.failed),
                vus_failed: g.failed,
                vus_failed_in_level: g.failed.saturating_sub(agg.failed_at_start),
                requests: RequestTotals {
                    ok: c.ok,
                    failed: c.failed,
                },
                messages_sent: c.sent,
                deliveries: c.delivered,
                deliveries_missing: c.missing,
                deliveries_late: c.late,
                delivery_p50_ms: d.p50_ms,
                delivery_p95_ms: d.p95_ms,
                delivery_p99_ms: d.p99_ms,
                receipts: c.receipts,
                receipts_missing: c.failures_of(FailureKind::ReceiptMissing),
                receipt_p99_ms: p99_ms(&agg.receipt),
                reaction_updates: c.reaction_updates,
                reactions_missing: c.failures_of(FailureKind::ReactionMissing),
                unjudged: c.unjudged_total(),
                pending: self.hub.pending(i, span.index as usize),
                request_p99_ms: p99_ms(&agg.requests),
                failures: c.failures_map(),
                delivery_histogram: encode_nonempty(&agg.delivery),
                receipt_histogram: encode_nonempty(&agg.receipt),
                request_histogram: encode_nonempty(&agg.requests),
            });
        }
        rows
    }

    /// Ends the run at offset `end`: a final drain and interval, then one result per team.
    pub fn finish(
        mut self,
        end: Duration,
        health: IntervalHealth,
        verdict: &HealthVerdict,
    ) -> Vec<TeamResult> {
        self.close_interval(end, health, verdict.bottleneck);
        let generator = GeneratorHealth {
            cpu_percent_mean: verdict.cpu_percent_mean,
            cpu_percent_max: verdict.cpu_percent_max,
            cores: verdict.cores,
            scheduler_lag_p99_ms: verdict.lag_p99_ms,
            scheduler_lag_max_ms: verdict.lag_max_ms,
            peak_rss_bytes: verdict.peak_rss_bytes,
            bottleneck: verdict.bottleneck,
            warnings: verdict.warnings.clone(),
        };
        let mut out = Vec::new();
        for (i, team) in self.teams.iter().enumerate() {
            let g = self.hub.gauges(i).read();
            let levels = self.level_rows(i, team, Some((end, &g)));
            let latency = Op::ALL
                .iter()
                .filter(|op| !team.total[op.index()].is_empty())
                .map(|&op| {
                    let h = &team.total[op.index()];
                    OpLatency {
                        op,
                        count: h.len(),
                        min_ms: ms(h.min()),
                        mean_ms: h.mean() / 1000.0,
                        p50_ms: ms(h.value_at_quantile(0.50)),
                        p90_ms: ms(h.value_at_quantile(0.90)),
                        p95_ms: ms(h.value_at_quantile(0.95)),
                        p99_ms: ms(h.value_at_quantile(0.99)),
                        p999_ms: ms(h.value_at_quantile(0.999)),
                        max_ms: ms(h.max()),
                        histogram: encode_hist(h),
                    }
                })
                .collect();
            let failures = team
                .failures
                .iter()
                .map(|(&(kind, op), (count, samples))| FailureRow {
                    kind,
                    op,
                    count: *count,
                    samples: samples.clone(),
                })
                .collect();
            let mut summary = RunSummary::empty(&team.info.target);
            summary.users = UserTotals {
                planned: 0,
                started: g.started,
                peak_connected: g.peak_connected,
                passed: g.started.saturating_sub(g.failed),
                failed: g.failed,
            };
            summary.requests = RequestTotals {
                ok: team.all.ok,
                failed: team.all.failed,
            };
            summary.messages = MessageTotals {
                sent: team.all.sent,
                echoed: team.echoed,
                deliveries_expected: team.all.delivered + team.all.missing,
                delivered: team.all.delivered,
                missing: team.all.missing,
                duplicate: team.duplicate,
                reordered: team.reordered,
                late: team.all.late,
                unjudged: team.all.unjudged[Op::Delivery.index()],
                echoes_unjudged: team.all.unjudged[Op::SendAck.index()]
                    + team.all.unjudged[Op::FileMessage.index()],
                foreign: team.all.foreign,
                resyncs: team.all.resyncs,
            };
            summary.receipts = receipt_totals(&team.all);
            summary.reactions = reaction_totals(&team.all);
            summary.latency = latency;
            summary.levels = levels;
            summary.timeline = team.timeline.clone();
            summary.failures = failures;
            summary.generator = generator.clone();
            out.push(TeamResult {
                info: team.info.clone(),
                summary,
                hlog: team.hlog.clone(),
            });
        }
        out
    }
}

fn encode_nonempty(h: &Hist) -> String {
    if h.is_empty() {
        String::new()
    } else {
        encode_hist(h)
    }
}

fn receipt_totals(c: &Counters) -> ReceiptTotals {
    let missing = c.failures_of(FailureKind::ReceiptMissing);
    ReceiptTotals {
        marks: c.marks,
        expected: c.receipts + missing,
        delivered: c.receipts,
        missing,
        duplicate: c.failures_of(FailureKind::ReceiptDuplicate),
        unjudged: c.unjudged[Op::Receipt.index()],
    }
}

fn reaction_totals(c: &Counters) -> ReactionTotals {
    let missing = c.failures_of(FailureKind::ReactionMissing);
    ReactionTotals {
        expected: c.reaction_updates + missing,
        delivered: c.reaction_updates,
        missing,
        unjudged: c.unjudged[Op::ReactionUpdate.index()],
    }
}

/// Everything measured for one team: its measurements in the summary model (what the run was —
/// scenario, seed, times, thresholds — is the runner's to fill in), and the interval histograms
/// for the HdrHistogram log.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamResult {
    /// The team.
    pub info: TeamInfo,
    /// Its measurements (`users.planned` is the runner's to fill in: it knows the plan).
    pub summary: RunSummary,
    /// Interval histograms for the HdrHistogram log.
    pub hlog: Vec<HlogEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::hist::decode_hist;
    use crate::metrics::health::HealthTracker;

    fn spans() -> Vec<LevelSpan> {
        (0..3)
            .map(|i| LevelSpan {
                index: i,
                target_users: (i + 1) * 10,
                start: Duration::from_secs(i as u64 * 10),
                end: Duration::from_secs(i as u64 * 10 + 10),
                phase: "ramp".into(),
            })
            .collect()
    }

    #[test]
    fn events_land_in_their_level_and_interval() {
        let hub = Hub::new(1);
        let info = TeamInfo {
            name: "a".into(),
            target: "http://127.0.0.1:1".into(),
        };
        let mut agg = Aggregator::new(
            hub.clone(),
            vec![info],
            spans(),
            Duration::from_secs(30),
            Duration::from_millis(4),
        );
        let mut r = hub.recorder(0, 0);
        r.mark_started();
        agg.open_level(0);
        r.ok(Op::Login, 2_000);
        r.sent(Op::SendAck);
        r.ok(Op::Delivery, 5_000);
        agg.close_level(0, Duration::from_secs(10), &[hub.gauges(0).read()], false);
        hub.set_level(1);
        agg.open_level(1);
        r.failure(Op::JoinRoom, FailureKind::Timeout, true, || {
            "join timed out".into()
        });
        r.finding(Op::Delivery, FailureKind::DeliveryMissing, || {
            "m1 to vu2".into()
        });
        agg.close_interval(Duration::from_secs(1), IntervalHealth::default(), false);

        let snap = agg.snapshot(Duration::from_secs(1), false);
        assert_eq!(snap.teams[0].requests.ok, 2);
        assert_eq!(snap.teams[0].requests.failed, 2);
        assert_eq!(snap.teams[0].history.len(), 1);
        assert_eq!(snap.teams[0].levels.len(), 1);

        let verdict = HealthTracker::new().verdict();
        let res = agg.finish(Duration::from_secs(15), IntervalHealth::default(), &verdict);
        let t = &res[0].summary;
        assert_eq!(t.levels.len(), 2);
        let l0 = &t.levels[0];
        assert_eq!(
            (l0.requests.ok, l0.requests.failed, l0.deliveries),
            (2, 0, 1)
        );
        assert_eq!(
            (l0.users_started, l0.vus_failed, l0.incomplete),
            (1, 0, false)
        );
        assert!((l0.delivery_p99_ms - 5.0).abs() < 0.01);
        let l1 = &t.levels[1];
        assert_eq!(
            (
                l1.requests.failed,
                l1.deliveries_missing,
                l1.vus_failed_in_level
            ),
            (2, 1, 1)
        );
        assert!(l1.incomplete);
        assert_eq!(l1.end_secs, 15.0);
        assert_eq!(t.messages.missing, 1);
        assert_eq!(t.messages.deliveries_expected, 2);
        let timeout = t
            .failures
            .iter()
            .find(|f| f.kind == FailureKind::Timeout)
            .unwrap();
        assert_eq!(timeout.samples, vec!["join timed out".to_string()]);
        let login = t.latency.iter().find(|l| l.op == Op::Login).unwrap();
        assert!((login.p50_ms - 2.0).abs() < 0.01);
        let decoded = decode_hist(&login.histogram).unwrap();
        assert_eq!(decoded.len(), 1);
        assert!(res[0].hlog.iter().any(|e| e.op == Op::Delivery));
    }
}

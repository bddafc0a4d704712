//! A realistic [`RunSummary`] and interval log for the renderers' tests: every field filled, a
//! partial three-level ramp with failures, so a renderer that drops or mangles something shows it.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::base::hist::{Hist, HlogEntry, encode_hist};
use crate::base::kinds::{FailureKind, Op};
use crate::base::spec::Threshold;
use crate::base::summary::{
    FailureRow, GeneratorHealth, LevelRow, MessageTotals, OpLatency, ReactionTotals, ReceiptTotals,
    RequestTotals, RunSummary, SCHEMA_VERSION, ThresholdResult, TimelineRow, ToolInfo, UserTotals,
    VerifySettings,
};

/// A histogram of `n` samples spread evenly over `lo_ms..=hi_ms`.
pub(crate) fn hist(n: u64, lo_ms: u64, hi_ms: u64) -> Hist {
    let mut h: Hist = Histogram::new(3).unwrap();
    for i in 0..n {
        let ms = lo_ms + (hi_ms - lo_ms) * i / n.max(2).saturating_sub(1).max(1);
        h.record(ms * 1000 + 250).unwrap();
    }
    h
}

fn op_latency(op: Op, h: &Hist) -> OpLatency {
    let q = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    OpLatency {
        op,
        count: h.len(),
        min_ms: h.min() as f64 / 1000.0,
        mean_ms: h.mean() / 1000.0,
        p50_ms: q(0.5),
        p90_ms: q(0.9),
        p95_ms: q(0.95),
        p99_ms: q(0.99),
        p999_ms: q(0.999),
        max_ms: h.max() as f64 / 1000.0,
        histogram: encode_hist(h),
    }
}

fn failures(pairs: &[(FailureKind, u64)]) -> BTreeMap<String, u64> {
    pairs
        .iter()
        .map(|(k, n)| (k.name().to_string(), *n))
        .collect()
}

/// A partial run of three levels (100, 200, 300 users) interrupted in the third.
pub(crate) fn summary() -> RunSummary {
    let delivery = hist(2_000, 3, 180);
    let levels = (0..3u32)
        .map(|i| {
            let lh = hist(
                200 * (u64::from(i) + 1),
                3 + u64::from(i) * 20,
                60 + 60 * u64::from(i),
            );
            LevelRow {
                index: i,
                phase: "ramp".into(),
                target_users: 100 * (i + 1),
                start_secs: f64::from(i) * 30.0,
                end_secs: if i == 2 {
                    71.5
                } else {
                    f64::from(i + 1) * 30.0
                },
                incomplete: i == 2,
                users_started: 100 * (u64::from(i) + 1),
                users_active: 100 * (u64::from(i) + 1) - 3 * u64::from(i),
                users_connected: 100 * (u64::from(i) + 1) - 4 * u64::from(i),
                vus_passed: 100 * (u64::from(i) + 1) - 3 * u64::from(i),
                vus_failed: 3 * u64::from(i),
                vus_failed_in_level: if i == 0 { 0 } else { 3 },
                requests: RequestTotals {
                    ok: 1_500 * (u64::from(i) + 1),
                    failed: 7 * u64::from(i),
                },
                messages_sent: 300 * (u64::from(i) + 1),
                deliveries: lh.len(),
                deliveries_missing: u64::from(i),
                delivery_p50_ms: lh.value_at_quantile(0.5) as f64 / 1000.0,
                delivery_p95_ms: lh.value_at_quantile(0.95) as f64 / 1000.0,
                delivery_p99_ms: lh.value_at_quantile(0.99) as f64 / 1000.0,
                request_p99_ms: 40.0 + 10.0 * f64::from(i),
                failures: match i {
                    0 => BTreeMap::new(),
                    1 => failures(&[(FailureKind::Timeout, 4), (FailureKind::HttpStatus, 2)]),
                    _ => failures(&[
                        (FailureKind::Timeout, 9),
                        (FailureKind::DeliveryMissing, 2),
                        (FailureKind::PingTimeout, 1),
                    ]),
                },
                delivery_histogram: encode_hist(&lh),
                deliveries_late: u64::from(i),
                receipts: 180 * (u64::from(i) + 1),
                receipts_missing: u64::from(i == 2),
                receipt_p99_ms: 120.0 + 10.0 * f64::from(i),
                reaction_updates: 90 * (u64::from(i) + 1),
                reactions_missing: 0,
                unjudged: 0,
                pending: 0,
                receipt_histogram: String::new(),
                request_histogram: String::new(),
            }
        })
        .collect();
    let timeline = (1..=5u32)
        .map(|t| TimelineRow {
            t_secs: f64::from(t),
            level: 0,
            target_users: 100,
            active_users: u64::from(t) * 20,
            connected_users: u64::from(t) * 19,
            vus_failed: u64::from(t / 4),
            requests_ok: 50 + u64::from(t),
            requests_failed: u64::from(t % 2),
            messages_sent: 10 * u64::from(t),
            messages_delivered: 90 * u64::from(t),
            failures: if t % 2 == 1 {
                failures(&[(FailureKind::ConnectRefused, 1)])
            } else {
                BTreeMap::new()
            },
            delivery_p50_ms: 4.5,
            delivery_p95_ms: 12.25,
            delivery_p99_ms: 30.0 + f64::from(t),
            request_p99_ms: 25.5,
            scheduler_lag_ms: 1.25,
            cpu_percent: 35.0 + f64::from(t),
        })
        .collect();
    RunSummary {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: "stampede".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        scenario: "competition".into(),
        target: "http://127.0.0.1:5000".into(),
        team: Some("team-a".into()),
        seed: 42,
        time_scale: 1.0,
        started_at: "2024-12-06T09:30:00.250Z".into(),
        duration_secs: 71.5,
        planned_duration_secs: 90.0,
        partial: true,
        stop_reason: Some("interrupted (Ctrl-C)".into()),
        users: UserTotals {
            planned: 300,
            started: 300,
            peak_connected: 292,
            passed: 294,
            failed: 6,
        },
        requests: RequestTotals {
            ok: 9_000,
            failed: 21,
        },
        messages: MessageTotals {
            sent: 1_800,
            echoed: 1_797,
            deliveries_expected: 2_003,
            delivered: 2_000,
            missing: 3,
            duplicate: 1,
            reordered: 2,
            late: 3,
            unjudged: 0,
            echoes_unjudged: 0,
            foreign: 0,
            resyncs: 0,
        },
        receipts: ReceiptTotals {
            marks: 300,
            expected: 1_081,
            delivered: 1_080,
            missing: 1,
            duplicate: 0,
            unjudged: 0,
        },
        reactions: ReactionTotals {
            expected: 540,
            delivered: 540,
            missing: 0,
            unjudged: 0,
        },
        verify: VerifySettings {
            delivery_deadline_ms: 10_000.0,
            receipt_deadline_ms: 20_000.0,
            late_after_ms: 1_000.0,
        },
        latency: vec![
            op_latency(Op::Register, &hist(300, 20, 90)),
            op_latency(Op::Login, &hist(300, 15, 70)),
            op_latency(Op::JoinRoom, &hist(300, 2, 25)),
            op_latency(Op::SendAck, &hist(1_797, 2, 40)),
            op_latency(Op::Delivery, &delivery),
        ],
        levels,
        timeline,
        failures: vec![
            FailureRow {
                kind: FailureKind::Timeout,
                op: Op::JoinRoom,
                count: 13,
                samples: vec![
                    "joinRoom: no joinRoomSuccess within 30s".into(),
                    "joinRoom: no joinRoomSuccess within 30s (room r-7)".into(),
                ],
            },
            FailureRow {
                kind: FailureKind::HttpStatus,
                op: Op::Login,
                count: 2,
                samples: vec!["POST /api/auth/login: 503 Service Unavailable".into()],
            },
            FailureRow {
                kind: FailureKind::DeliveryMissing,
                op: Op::Delivery,
                count: 3,
                samples: vec!["message m-17 from vu 4 never reached vu 9".into()],
            },
            FailureRow {
                kind: FailureKind::PingTimeout,
                op: Op::Hold,
                count: 1,
                samples: vec![],
            },
        ],
        generator: GeneratorHealth {
            cpu_percent_mean: 38.5,
            cpu_percent_max: 97.0,
            cores: 2,
            scheduler_lag_p99_ms: 4.5,
            scheduler_lag_max_ms: 61.0,
            peak_rss_bytes: 180 * 1024 * 1024,
            bottleneck: true,
            warnings: vec!["CPU at or above 90% of all cores in 12% of seconds".into()],
        },
        thresholds: vec![
            ThresholdResult {
                threshold: Threshold::VuFailureRatio { max: 0.05 },
                actual: Some(0.02),
                passed: true,
                note: None,
            },
            ThresholdResult {
                threshold: Threshold::Latency {
                    op: "delivery".into(),
                    percentile: 99.0,
                    max_ms: 100.0,
                },
                actual: Some(178.2),
                passed: false,
                note: None,
            },
            ThresholdResult {
                threshold: Threshold::Latency {
                    op: "upload".into(),
                    percentile: 95.0,
                    max_ms: 1_000.0,
                },
                actual: None,
                passed: false,
                note: Some("not measured: `upload` recorded no samples".into()),
            },
            ThresholdResult {
                threshold: Threshold::RequestFailureRatio { max: 0.01 },
                actual: Some(0.0023),
                passed: true,
                note: None,
            },
            ThresholdResult {
                threshold: Threshold::DeliveryMissing { max: 0 },
                actual: Some(3.0),
                passed: false,
                note: None,
            },
        ],
        measurement_notes: vec![
            "Latency of paced actions is measured from the intended send time (corrected for \
             coordinated omission)."
                .into(),
        ],
        plan_hash: "00c0ffee00c0ffee".into(),
        segment: None,
        segments: Vec::new(),
    }
}

/// Interval histograms for three one-second intervals of two operations.
pub(crate) fn hlog() -> Vec<HlogEntry> {
    let mut out = Vec::new();
    for i in 0..3u64 {
        for (op, n) in [(Op::Login, 10 + i), (Op::Delivery, 100 * (i + 1))] {
            let h = hist(n, 2 + i, 50 + 10 * i);
            out.push(HlogEntry {
                start_secs: i as f64,
                length_secs: 1.0,
                op,
                max_ms: h.max() as f64 / 1000.0,
                encoded: encode_hist(&h),
            });
        }
    }
    out
}

//! Writes synthetic segment results, for measuring what `stampede merge` costs at a scale this
//! machine cannot run for real (a million users over many pods).
//!
//!   cargo run --release --example synthetic_segments -- OUT_DIR SEGMENTS USERS_PER_SEGMENT [SECONDS]
//!
//! Each segment is shaped like one pod of the competition ramp: 30 levels, one timeline row and one
//! interval histogram per operation per second (SECONDS, default 1,020: the ramp to 3,000 plus its
//! hold), latency histograms for every operation the competition user times, with
//! USERS_PER_SEGMENT users' worth of samples spread over realistic values. The histograms are
//! random but seeded, so every run writes the same files.

use std::path::PathBuf;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use stampede::base::hist::{Hist, HlogEntry, encode_hist, new_hist};
use stampede::base::kinds::{FailureKind, Op};
use stampede::base::summary::{
    FailureRow, GeneratorHealth, LevelRow, MessageTotals, OpLatency, RequestTotals, RunSummary,
    SCHEMA_VERSION, SegmentInfo, TimelineRow, ToolInfo, UserTotals,
};

const LEVELS: u32 = 30;

/// The operations a competition user times, with a typical latency in ms.
const OPS: [(Op, f64); 12] = [
    (Op::Register, 40.0),
    (Op::Login, 30.0),
    (Op::ListRooms, 8.0),
    (Op::EnterRoom, 9.0),
    (Op::WsConnect, 3.0),
    (Op::SioConnect, 4.0),
    (Op::JoinRoom, 6.0),
    (Op::History, 7.0),
    (Op::SendAck, 5.0),
    (Op::Delivery, 6.0),
    (Op::Receipt, 9.0),
    (Op::Upload, 20.0),
];

fn hist(rng: &mut SmallRng, n: u64, typical_ms: f64) -> Hist {
    let mut h = new_hist();
    for _ in 0..n {
        // A long tail: mostly near the typical value, now and then ten times it.
        let tail = if rng.random::<f64>() < 0.02 {
            10.0
        } else {
            1.0
        };
        let micros = (typical_ms * 1000.0 * tail * (0.5 + rng.random::<f64>())) as u64;
        let _ = h.record(micros.max(1));
    }
    h
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: synthetic_segments OUT_DIR SEGMENTS USERS_PER_SEGMENT [SECONDS]");
        return std::process::ExitCode::from(2);
    }
    let out = PathBuf::from(&args[1]);
    let segments: u32 = args[2].parse().expect("SEGMENTS is a number");
    let users: u64 = args[3].parse().expect("USERS_PER_SEGMENT is a number");
    let seconds: u32 = args
        .get(4)
        .map_or(1020, |s| s.parse().expect("SECONDS is a number"));
    for index in 0..segments {
        let mut rng = SmallRng::seed_from_u64(u64::from(index));
        let level_secs = f64::from(seconds) / f64::from(LEVELS);
        let levels: Vec<LevelRow> = (0..LEVELS)
            .map(|i| {
                let started = users * u64::from(i + 1) / u64::from(LEVELS);
                let delivery = hist(&mut rng, started * 9 / 4, 6.0);
                let requests = hist(&mut rng, started * 2, 10.0);
                LevelRow {
                    index: i,
                    phase: "ramp".into(),
                    target_users: (i + 1) * 100 * segments,
                    start_secs: f64::from(i) * level_secs,
                    end_secs: f64::from(i + 1) * level_secs,
                    users_started: started,
                    users_active: started,
                    users_connected: started,
                    vus_passed: started,
                    requests: RequestTotals {
                        ok: started * 20,
                        failed: 0,
                    },
                    messages_sent: started / 4,
                    deliveries: delivery.len(),
                    delivery_p50_ms: delivery.value_at_quantile(0.5) as f64 / 1000.0,
                    delivery_p95_ms: delivery.value_at_quantile(0.95) as f64 / 1000.0,
                    delivery_p99_ms: delivery.value_at_quantile(0.99) as f64 / 1000.0,
                    request_p99_ms: requests.value_at_quantile(0.99) as f64 / 1000.0,
                    delivery_histogram: encode_hist(&delivery),
                    request_histogram: encode_hist(&requests),
                    ..LevelRow::default()
                }
            })
            .collect();
        let mut hlog = Vec::new();
        let mut timeline = Vec::new();
        for s in 0..seconds {
            for (op, ms) in OPS {
                let h = hist(&mut rng, users / 50, ms);
                hlog.push(HlogEntry {
                    start_secs: f64::from(s),
                    length_secs: 1.0,
                    op,
                    max_ms: h.max() as f64 / 1000.0,
                    encoded: encode_hist(&h),
                });
            }
            timeline.push(TimelineRow {
                t_secs: f64::from(s + 1),
                level: (s as f64 / level_secs) as u32,
                active_users: users,
                connected_users: users,
                requests_ok: users / 5,
                messages_sent: users / 50,
                messages_delivered: users * 9 / 50,
                cpu_percent: 40.0,
                ..TimelineRow::default()
            });
        }
        let latency = OPS
            .iter()
            .map(|&(op, ms)| {
                let h = hist(&mut rng, users * 3, ms);
                OpLatency {
                    op,
                    count: h.len(),
                    min_ms: h.min() as f64 / 1000.0,
                    mean_ms: h.mean() / 1000.0,
                    p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
                    p90_ms: h.value_at_quantile(0.9) as f64 / 1000.0,
                    p95_ms: h.value_at_quantile(0.95) as f64 / 1000.0,
                    p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
                    p999_ms: h.value_at_quantile(0.999) as f64 / 1000.0,
                    max_ms: h.max() as f64 / 1000.0,
                    histogram: encode_hist(&h),
                }
            })
            .collect();
        let summary = RunSummary {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo {
                name: "stampede".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            scenario: "synthetic".into(),
            target: "http://chat.example:5000".into(),
            team: None,
            seed: 1,
            time_scale: 1.0,
            started_at: "2026-12-05T10:00:00.000Z".into(),
            duration_secs: f64::from(seconds),
            planned_duration_secs: f64::from(seconds),
            partial: false,
            stop_reason: None,
            users: UserTotals {
                planned: users,
                started: users,
                peak_connected: users,
                passed: users,
                failed: 0,
            },
            requests: RequestTotals {
                ok: users * 20,
                failed: 0,
            },
            messages: MessageTotals {
                sent: users * 3,
                delivered: users * 27,
                deliveries_expected: users * 27,
                ..MessageTotals::default()
            },
            receipts: Default::default(),
            reactions: Default::default(),
            verify: Default::default(),
            latency,
            levels,
            timeline,
            failures: vec![FailureRow {
                kind: FailureKind::Timeout,
                op: Op::JoinRoom,
                count: 3,
                samples: vec!["joinRoom took longer than 30000 ms".into()],
            }],
            generator: GeneratorHealth {
                cpu_percent_mean: 40.0,
                cpu_percent_max: 80.0,
                cores: 2,
                peak_rss_bytes: users * 17 * 1024,
                ..GeneratorHealth::default()
            },
            thresholds: Vec::new(),
            measurement_notes: Vec::new(),
            plan_hash: "5e9e7a1c5e9e7a1c".into(),
            segment: Some(SegmentInfo {
                index,
                count: segments,
                start_at: "2026-12-05T10:00:00.000Z".into(),
                users_planned: users,
                ..SegmentInfo::default()
            }),
            segments: Vec::new(),
        };
        let dir = out.join(format!("segment-{index}"));
        stampede::report::write_run(&dir, &summary, &hlog).expect("segment written");
        eprintln!("wrote {}", dir.display());
    }
    std::process::ExitCode::SUCCESS
}

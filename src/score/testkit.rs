//! Test-only builders of [`RunSummary`] values with realistic, self-consistent level rows.

use std::collections::BTreeMap;

use crate::base::hist::{Hist, encode_hist};
use crate::base::summary::{
    GeneratorHealth, LevelRow, MessageTotals, RequestTotals, RunSummary, ToolInfo, UserTotals,
};

/// A histogram (µs) of the given latencies.
pub(crate) fn hist_of(latencies_us: &[u64]) -> Hist {
    let mut h = Hist::new(3).unwrap();
    for &v in latencies_us {
        h.record(v.max(1)).unwrap();
    }
    h
}

/// One level, described by what a test cares about.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lvl {
    pub target: u32,
    /// VUs running at the end of the level.
    pub active: u64,
    pub failed_in_level: u64,
    pub ok: u64,
    pub failed: u64,
    pub sent: u64,
    pub delivered: u64,
    pub missing: u64,
    /// Delivery latencies as (µs, count); must add up to `delivered`.
    pub hist: Vec<(u64, u64)>,
    pub request_p99: f64,
    pub incomplete: bool,
}

impl Lvl {
    /// A level every rule is happy with: everyone active, 10 requests per user all fine, one message
    /// per user delivered to 9 others in 20 ms.
    pub fn clean(target: u32) -> Lvl {
        let t = u64::from(target);
        Lvl {
            target,
            active: t,
            failed_in_level: 0,
            ok: t * 10,
            failed: 0,
            sent: t,
            delivered: t * 9,
            missing: 0,
            hist: vec![(20_000, t * 9)],
            request_p99: 50.0,
            incomplete: false,
        }
    }

    /// A clean level where `n` of its users failed.
    pub fn vu_failures(target: u32, n: u64) -> Lvl {
        Lvl {
            active: u64::from(target).saturating_sub(n),
            failed_in_level: n,
            ..Lvl::clean(target)
        }
    }

    /// A clean level whose deliveries are exactly `latencies_us`, plus `missing` lost ones.
    pub fn with_deliveries(target: u32, latencies_us: &[u64], missing: u64) -> Lvl {
        let delivered = latencies_us.len() as u64;
        Lvl {
            delivered,
            missing,
            sent: delivered / 9 + 1,
            ok: delivered + 1000,
            failed: missing,
            hist: latencies_us.iter().map(|&v| (v, 1)).collect(),
            ..Lvl::clean(target)
        }
    }

    fn histogram(&self) -> (String, f64, f64, f64) {
        let mut h = Hist::new(3).unwrap();
        for &(v, n) in &self.hist {
            h.record_n(v.max(1), n).unwrap();
        }
        if h.is_empty() {
            return (String::new(), 0.0, 0.0, 0.0);
        }
        let q = |q| h.value_at_quantile(q) as f64 / 1000.0;
        (encode_hist(&h), q(0.5), q(0.95), q(0.99))
    }

    /// The level as a row at plan position `index`, failures counted from this level only.
    pub fn row(&self, index: u32) -> LevelRow {
        let (histogram, p50, p95, p99) = self.histogram();
        let started = (u64::from(self.target)).max(self.active + self.failed_in_level);
        let mut failures = BTreeMap::new();
        if self.missing > 0 {
            failures.insert("delivery_missing".to_string(), self.missing);
        }
        LevelRow {
            index,
            phase: "ramp".into(),
            target_users: self.target,
            start_secs: f64::from(index) * 30.0,
            end_secs: f64::from(index + 1) * 30.0,
            incomplete: self.incomplete,
            users_started: started,
            users_active: self.active,
            users_connected: self.active,
            vus_passed: started - self.failed_in_level,
            vus_failed: self.failed_in_level,
            vus_failed_in_level: self.failed_in_level,
            requests: RequestTotals {
                ok: self.ok,
                failed: self.failed,
            },
            messages_sent: self.sent,
            deliveries: self.delivered,
            deliveries_missing: self.missing,
            delivery_p50_ms: p50,
            delivery_p95_ms: p95,
            delivery_p99_ms: p99,
            request_p99_ms: self.request_p99,
            failures,
            delivery_histogram: histogram,
            ..LevelRow::default()
        }
    }
}

/// A run made of these levels, with cumulative VU failures carried from level to level.
pub(crate) fn summary(levels: Vec<Lvl>) -> RunSummary {
    let mut rows = Vec::new();
    let mut failed_so_far = 0;
    for (i, l) in levels.iter().enumerate() {
        let mut row = l.row(i as u32);
        failed_so_far += l.failed_in_level;
        row.vus_failed = failed_so_far;
        row.vus_passed = row.users_started.saturating_sub(failed_so_far);
        rows.push(row);
    }
    let last = rows.last().cloned().unwrap_or_default();
    RunSummary {
        schema_version: crate::base::summary::SCHEMA_VERSION,
        tool: ToolInfo {
            name: "stampede".into(),
            version: "test".into(),
        },
        scenario: "test".into(),
        target: "http://127.0.0.1:1".into(),
        team: None,
        seed: 1,
        time_scale: 1.0,
        started_at: "2024-12-01T00:00:00Z".into(),
        duration_secs: last.end_secs,
        planned_duration_secs: last.end_secs,
        partial: false,
        stop_reason: None,
        users: UserTotals {
            planned: last.users_started,
            started: last.users_started,
            peak_connected: last.users_connected,
            passed: last.vus_passed,
            failed: last.vus_failed,
        },
        requests: RequestTotals {
            ok: rows.iter().map(|r| r.requests.ok).sum(),
            failed: rows.iter().map(|r| r.requests.failed).sum(),
        },
        messages: MessageTotals {
            sent: rows.iter().map(|r| r.messages_sent).sum(),
            delivered: rows.iter().map(|r| r.deliveries).sum(),
            missing: rows.iter().map(|r| r.deliveries_missing).sum(),
            ..MessageTotals::default()
        },
        receipts: Default::default(),
        reactions: Default::default(),
        verify: Default::default(),
        latency: Vec::new(),
        levels: rows,
        timeline: Vec::new(),
        failures: Vec::new(),
        generator: GeneratorHealth {
            cores: 2,
            ..GeneratorHealth::default()
        },
        thresholds: Vec::new(),
        measurement_notes: Vec::new(),
        plan_hash: String::new(),
        segment: None,
        segments: Vec::new(),
    }
}

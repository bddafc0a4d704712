//! From a summary's rows to chart series: the per-second timeline merged into at most
//! [`MAX_POINTS`] buckets, and per-operation percentiles over time from the interval histograms of
//! `latency.hlog` (merged per bucket, so a bucket's p99 is the p99 of every sample in it, not an
//! average of p99s).

use std::collections::BTreeMap;

use super::chart::{MAX_POINTS, Marker, buckets};
use crate::base::hist::{Hist, HlogEntry, decode_hist};
use crate::base::kinds::{FailureKind, Op};
use crate::base::summary::{LevelRow, TimelineRow};

/// How the seconds of one bucket make one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    /// The mean (per-second counts become a rate per second; gauges a mean level).
    Mean,
    /// The largest (percentiles, lag: a spike stays visible).
    Max,
    /// The last (gauges read at the end of the bucket).
    Last,
}

/// One point per bucket of `rows`, at the bucket's last second. `value` returns `None` for a second
/// without samples; a bucket without any has no point (a gap).
pub fn timeline(
    rows: &[TimelineRow],
    agg: Agg,
    value: impl Fn(&TimelineRow) -> Option<f64>,
) -> Vec<(f64, Option<f64>)> {
    buckets(rows.len(), MAX_POINTS)
        .into_iter()
        .map(|range| {
            let bucket = &rows[range];
            let x = bucket.last().map_or(0.0, |r| r.t_secs);
            let values: Vec<f64> = bucket.iter().filter_map(&value).collect();
            let y = if values.is_empty() {
                None
            } else {
                Some(match agg {
                    Agg::Mean => values.iter().sum::<f64>() / bucket.len() as f64,
                    Agg::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    Agg::Last => values[values.len() - 1],
                })
            };
            (x, y)
        })
        .collect()
}

/// Failure kind names in report order: the kinds this build knows first ([`FailureKind::ALL`]), then
/// any other name (from a newer summary) alphabetically, keeping only those `present` says occurred.
pub fn kind_names<'a>(present: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let present: std::collections::BTreeSet<&String> = present.into_iter().collect();
    let mut out: Vec<String> = FailureKind::ALL
        .iter()
        .map(|k| k.name().to_string())
        .filter(|n| present.contains(n))
        .collect();
    for name in present {
        if FailureKind::ALL.iter().all(|k| k.name() != name) {
            out.push(name.clone());
        }
    }
    out
}

/// Level boundaries as chart markers, labelled with the users each level aims for.
pub fn level_markers(levels: &[LevelRow]) -> Vec<Marker> {
    levels
        .iter()
        .map(|l| Marker {
            x: l.start_secs,
            label: format!("{} users", l.target_users),
        })
        .collect()
}

/// Points of a line over time: seconds since the start, and a value where there is one.
pub type Series = Vec<(f64, Option<f64>)>;

/// p50, p95 and p99 over time of each operation in `intervals`, in [`Op::ALL`] order, buckets of
/// whole seconds so that there are at most [`MAX_POINTS`] over `duration_secs`.
pub fn op_percentiles(intervals: &[HlogEntry], duration_secs: f64) -> Vec<(Op, [Series; 3])> {
    let seconds = duration_secs.max(1.0).ceil() as usize;
    let size = seconds.div_ceil(MAX_POINTS).max(1) as f64;
    let mut merged: BTreeMap<(Op, u64), Hist> = BTreeMap::new();
    for e in intervals {
        let Some(h) = decode_hist(&e.encoded) else {
            continue;
        };
        let bucket = (e.start_secs.max(0.0) / size).floor() as u64;
        match merged.get_mut(&(e.op, bucket)) {
            Some(m) => {
                // Same precision and auto-resize: adding cannot fail.
                let _ = m.add(&h);
            }
            None => {
                merged.insert((e.op, bucket), h);
            }
        }
    }
    let mut out = Vec::new();
    for op in Op::ALL {
        let mut lines: [Vec<(f64, Option<f64>)>; 3] = Default::default();
        let mut any = false;
        for ((o, bucket), h) in merged.range((op, 0)..=(op, u64::MAX)) {
            debug_assert_eq!(*o, op);
            if h.is_empty() {
                continue;
            }
            any = true;
            let x = ((*bucket as f64) + 1.0) * size;
            for (line, q) in lines.iter_mut().zip([0.5, 0.95, 0.99]) {
                line.push((x, Some(h.value_at_quantile(q) as f64 / 1000.0)));
            }
        }
        if any {
            out.push((op, lines));
        }
    }
    out
}

/// The histogram of `op` over the seconds `from..to` of `intervals` (merged), if any.
pub fn merged(intervals: &[HlogEntry], op: Op, from: f64, to: f64) -> Option<Hist> {
    let mut out: Option<Hist> = None;
    for e in intervals
        .iter()
        .filter(|e| e.op == op && e.start_secs >= from && e.start_secs < to)
    {
        let Some(h) = decode_hist(&e.encoded) else {
            continue;
        };
        match &mut out {
            Some(m) => {
                let _ = m.add(&h);
            }
            None => out = Some(h),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn timelines_bucket_and_keep_gaps() {
        let rows: Vec<TimelineRow> = (1..=1000)
            .map(|t| TimelineRow {
                t_secs: f64::from(t),
                messages_sent: 2,
                delivery_p99_ms: if t > 500 { 0.0 } else { f64::from(t) },
                messages_delivered: u64::from(t <= 500),
                ..TimelineRow::default()
            })
            .collect();
        let rate = timeline(&rows, Agg::Mean, |r| Some(r.messages_sent as f64));
        assert!(rate.len() <= MAX_POINTS);
        assert!(
            rate.iter().all(|(_, y)| *y == Some(2.0)),
            "a rate stays a rate per second"
        );
        let p99 = timeline(&rows, Agg::Max, |r| {
            (r.messages_delivered > 0).then_some(r.delivery_p99_ms)
        });
        assert_eq!(p99[0], (3.0, Some(3.0)));
        assert_eq!(
            p99.last().unwrap().1,
            None,
            "seconds without deliveries are a gap"
        );
    }

    #[test]
    fn unknown_kinds_come_after_known_ones() {
        let names = ["zeta", "timeout", "connect_refused"].map(String::from);
        assert_eq!(kind_names(&names), ["connect_refused", "timeout", "zeta"]);
    }

    #[test]
    fn op_percentiles_come_from_merged_intervals() {
        let s = fixture::summary();
        let lines = op_percentiles(&fixture::hlog(), s.duration_secs);
        assert!(!lines.is_empty());
        for (_, [p50, p95, p99]) in &lines {
            for ((a, b), c) in p50.iter().zip(p95).zip(p99) {
                assert!(a.1 <= b.1 && b.1 <= c.1);
            }
        }
    }
}

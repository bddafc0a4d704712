//! Judging a scenario's thresholds against a finished [`RunSummary`].
//!
//! Pure: the same summary always gives the same verdicts, so a saved `summary.json` can be re-judged
//! offline. The exit-code policy that acts on the verdicts lives in the CLI, not here.
//!
//! What each rule compares (a rule holds when `actual <= max`):
//! - `vu_failure_ratio`: `users.failed / users.started`, 0 when no VU started.
//! - `request_failure_ratio`: `requests.failed / (requests.ok + requests.failed)`, 0 when there were
//!   no requests.
//! - `latency`: the requested percentile of the operation's whole-run histogram
//!   ([`OpLatency::histogram`](super::summary::OpLatency::histogram)), in ms. HdrHistogram reports
//!   the highest value equivalent to the percentile's bucket, so the figure errs high, never low.
//! - `delivery_missing`: `messages.missing`, a count; `receipt_missing` and `reaction_missing`:
//!   `receipts.missing` and `reactions.missing`, counts.
//!
//! A latency rule that cannot be measured does **not** pass: an operation that never ran (no
//! samples), an operation name this build does not know, a percentile outside 0–100, or a histogram
//! that does not decode. Its `actual` is `None` and `note` says why. Passing a latency bound because
//! nothing was measured would reward a server that failed every request of that kind.

use crate::base::hist::decode_hist;
use crate::base::kinds::Op;
use crate::base::spec::Threshold;
use crate::base::summary::{RunSummary, ThresholdResult};

/// Judges every threshold against `summary`, in the order given.
pub fn evaluate(thresholds: &[Threshold], summary: &RunSummary) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| evaluate_one(t, summary))
        .collect()
}

fn evaluate_one(threshold: &Threshold, summary: &RunSummary) -> ThresholdResult {
    let measured = match threshold {
        Threshold::VuFailureRatio { max } => {
            let u = &summary.users;
            Ok((ratio(u.failed, u.started), *max))
        }
        Threshold::RequestFailureRatio { max } => {
            let r = &summary.requests;
            Ok((ratio(r.failed, r.ok.saturating_add(r.failed)), *max))
        }
        Threshold::Latency {
            op,
            percentile,
            max_ms,
        } => latency_ms(summary, op, *percentile).map(|v| (v, *max_ms)),
        // A count compared as f64 is exact up to 2^53 missing deliveries.
        Threshold::DeliveryMissing { max } => Ok((summary.messages.missing as f64, *max as f64)),
        Threshold::ReceiptMissing { max } => Ok((summary.receipts.missing as f64, *max as f64)),
        Threshold::ReactionMissing { max } => Ok((summary.reactions.missing as f64, *max as f64)),
    };
    match measured {
        Ok((actual, max)) => ThresholdResult {
            threshold: threshold.clone(),
            actual: Some(actual),
            // `<=` is false for a NaN bound, so a malformed rule fails rather than passes.
            passed: actual <= max,
            note: None,
        },
        Err(note) => ThresholdResult {
            threshold: threshold.clone(),
            actual: None,
            passed: false,
            note: Some(note),
        },
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The `percentile` of `op`'s whole-run latency in ms, or why it cannot be measured.
fn latency_ms(summary: &RunSummary, op: &str, percentile: f64) -> Result<f64, String> {
    let Some(known) = Op::from_name(op) else {
        return Err(format!("unknown operation `{op}`"));
    };
    if !(0.0..=100.0).contains(&percentile) {
        return Err(format!("percentile {percentile} is outside 0–100"));
    }
    let Some(lat) = summary.latency_of(known).filter(|l| l.count > 0) else {
        return Err(format!("not measured: `{op}` recorded no samples"));
    };
    let Some(hist) = decode_hist(&lat.histogram).filter(|h| !h.is_empty()) else {
        return Err(format!(
            "not measured: the `{op}` histogram does not decode"
        ));
    };
    Ok(hist.value_at_quantile(percentile / 100.0) as f64 / 1000.0)
}

/// The rule in words, for the text report: `latency p99 of delivery <= 500 ms`.
pub fn describe(threshold: &Threshold) -> String {
    match threshold {
        Threshold::VuFailureRatio { max } => format!("vu_failure_ratio <= {max}"),
        Threshold::RequestFailureRatio { max } => format!("request_failure_ratio <= {max}"),
        Threshold::Latency {
            op,
            percentile,
            max_ms,
        } => format!("latency p{percentile} of {op} <= {max_ms} ms"),
        Threshold::DeliveryMissing { max } => format!("delivery_missing <= {max}"),
        Threshold::ReceiptMissing { max } => format!("receipt_missing <= {max}"),
        Threshold::ReactionMissing { max } => format!("reaction_missing <= {max}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::hist::{Hist, encode_hist};
    use crate::base::summary::OpLatency;
    use crate::report::fixture;

    fn latency(op: &str, percentile: f64, max_ms: f64) -> Threshold {
        Threshold::Latency {
            op: op.into(),
            percentile,
            max_ms,
        }
    }

    /// A summary whose only latency is `op` with 1..=100 ms, one sample each.
    fn with_latency(op: Op) -> RunSummary {
        let mut s = fixture::summary();
        let mut h = Hist::new(3).unwrap();
        for ms in 1..=100u64 {
            h.record(ms * 1000).unwrap();
        }
        s.latency = vec![OpLatency {
            op,
            count: h.len(),
            min_ms: 1.0,
            mean_ms: 50.5,
            p50_ms: 50.0,
            p90_ms: 90.0,
            p95_ms: 95.0,
            p99_ms: 99.0,
            p999_ms: 100.0,
            max_ms: 100.0,
            histogram: encode_hist(&h),
        }];
        s
    }

    #[test]
    fn vu_failure_ratio_is_failed_over_started() {
        let mut s = fixture::summary();
        s.users.started = 200;
        s.users.failed = 10;
        let r = evaluate(
            &[
                Threshold::VuFailureRatio { max: 0.05 },
                Threshold::VuFailureRatio { max: 0.049 },
            ],
            &s,
        );
        assert_eq!(r[0].actual, Some(0.05));
        assert!(r[0].passed, "equal to the bound holds");
        assert!(!r[1].passed);
        assert_eq!(r[1].note, None);
    }

    #[test]
    fn vu_failure_ratio_is_zero_when_nobody_started() {
        let mut s = fixture::summary();
        s.users.started = 0;
        s.users.failed = 0;
        let r = evaluate(&[Threshold::VuFailureRatio { max: 0.0 }], &s);
        assert_eq!(r[0].actual, Some(0.0));
        assert!(r[0].passed);
    }

    #[test]
    fn request_failure_ratio_counts_ok_and_failed() {
        let mut s = fixture::summary();
        s.requests.ok = 750;
        s.requests.failed = 250;
        let r = evaluate(
            &[
                Threshold::RequestFailureRatio { max: 0.3 },
                Threshold::RequestFailureRatio { max: 0.2 },
            ],
            &s,
        );
        assert_eq!(r[0].actual, Some(0.25));
        assert!(r[0].passed);
        assert!(!r[1].passed);

        s.requests.ok = 0;
        s.requests.failed = 0;
        let r = evaluate(&[Threshold::RequestFailureRatio { max: 0.0 }], &s);
        assert_eq!(r[0].actual, Some(0.0));
        assert!(r[0].passed);
    }

    #[test]
    fn latency_uses_the_full_histogram() {
        let s = with_latency(Op::Delivery);
        let r = evaluate(
            &[
                latency("delivery", 99.0, 100.0),
                latency("delivery", 99.0, 98.0),
                latency("delivery", 50.0, 50.1),
                latency("delivery", 100.0, 100.1),
            ],
            &s,
        );
        // 3 significant figures: 99 ms lands in a bucket whose highest value is 99.007 ms.
        let p99 = r[0].actual.unwrap();
        assert!((99.0..99.1).contains(&p99), "p99 = {p99}");
        assert!(r[0].passed);
        assert!(!r[1].passed);
        let p50 = r[2].actual.unwrap();
        assert!((50.0..50.1).contains(&p50), "p50 = {p50}");
        assert!(r[2].passed);
        assert!(r[3].passed, "p100 is the max: {:?}", r[3].actual);
    }

    #[test]
    fn latency_of_an_operation_that_never_ran_does_not_pass() {
        let s = with_latency(Op::Delivery);
        let r = evaluate(&[latency("join_room", 99.0, 1e9)], &s);
        assert_eq!(r[0].actual, None);
        assert!(!r[0].passed);
        assert!(r[0].note.as_deref().unwrap().contains("no samples"));

        // Present with a zero count is the same as absent.
        let mut s = with_latency(Op::JoinRoom);
        s.latency[0].count = 0;
        let r = evaluate(&[latency("join_room", 99.0, 1e9)], &s);
        assert!(!r[0].passed);
        assert_eq!(r[0].actual, None);
    }

    #[test]
    fn latency_rules_that_cannot_be_judged_say_why() {
        let mut s = with_latency(Op::Delivery);
        let r = evaluate(
            &[
                latency("teleport", 99.0, 1e9),
                latency("delivery", 101.0, 1e9),
                latency("delivery", f64::NAN, 1e9),
            ],
            &s,
        );
        assert!(r.iter().all(|r| !r.passed && r.actual.is_none()));
        assert!(r[0].note.as_deref().unwrap().contains("unknown operation"));
        assert!(r[1].note.as_deref().unwrap().contains("outside"));
        assert!(r[2].note.as_deref().unwrap().contains("outside"));

        s.latency[0].histogram = "not base64!".into();
        let r = evaluate(&[latency("delivery", 99.0, 1e9)], &s);
        assert!(!r[0].passed);
        assert!(r[0].note.as_deref().unwrap().contains("does not decode"));
    }

    #[test]
    fn delivery_missing_is_a_count() {
        let mut s = fixture::summary();
        s.messages.missing = 3;
        let r = evaluate(
            &[
                Threshold::DeliveryMissing { max: 3 },
                Threshold::DeliveryMissing { max: 0 },
            ],
            &s,
        );
        assert_eq!(r[0].actual, Some(3.0));
        assert!(r[0].passed);
        assert!(!r[1].passed);
    }

    #[test]
    fn a_nan_bound_fails() {
        let s = fixture::summary();
        let r = evaluate(&[Threshold::VuFailureRatio { max: f64::NAN }], &s);
        assert!(!r[0].passed);
    }

    #[test]
    fn results_keep_the_rules_in_order() {
        let s = fixture::summary();
        let rules = [
            Threshold::DeliveryMissing { max: 1 },
            Threshold::VuFailureRatio { max: 1.0 },
        ];
        let r = evaluate(&rules, &s);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].threshold, rules[0]);
        assert_eq!(r[1].threshold, rules[1]);
        assert_eq!(
            describe(&latency("delivery", 99.0, 500.0)),
            "latency p99 of delivery <= 500 ms"
        );
    }
}

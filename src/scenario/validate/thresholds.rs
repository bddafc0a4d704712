//! `[[threshold]]`: the pass/fail rules of a run — a ratio of failed VUs or requests, a count of
//! missing deliveries, receipts or reaction updates, or a latency percentile of one operation.
//! Judging a run against them is `report`'s.

use super::{Problems, check_ratio};
use crate::base::kinds::Op;
use crate::engine::plan::Threshold;
use crate::scenario::model::ThresholdFile;

/// The metrics a threshold may name, as problems list them.
const METRICS: &str = "vu_failure_ratio, request_failure_ratio, latency, delivery_missing, \
                       receipt_missing, reaction_missing";

/// One `[[threshold]]`, or `None` once the reason is reported. Each metric takes only its own keys:
/// a `max_ms` on a failure ratio would be ignored, and the author would believe latency is judged.
pub(super) fn threshold(file: &ThresholdFile, path: &str, p: &mut Problems) -> Option<Threshold> {
    let Some(metric) = &file.metric else {
        p.push(
            format!("{path}.metric"),
            format!("missing; allowed: {METRICS}"),
        );
        return None;
    };
    let ratio_or_count = "(it takes max)";
    match metric.as_str() {
        "vu_failure_ratio"
        | "request_failure_ratio"
        | "delivery_missing"
        | "receipt_missing"
        | "reaction_missing" => {
            let ctx = format!("by metric = {metric:?} {ratio_or_count}");
            p.not_used(path, "op", file.op.is_some(), &ctx);
            p.not_used(path, "percentile", file.percentile.is_some(), &ctx);
            p.not_used(path, "max_ms", file.max_ms.is_some(), &ctx);
            let max = p.required(
                file.max,
                format!("{path}.max"),
                &format!("metric = {metric:?} needs max"),
            )?;
            if metric.ends_with("_missing") {
                // These are counts of findings; a fraction would be rounded one way or the other
                // without the author knowing which.
                if !(max >= 0.0 && max.fract() == 0.0 && max <= u64::MAX as f64) {
                    p.push(
                        format!("{path}.max"),
                        format!("must be a whole number (a count), 0 or more, got {max}"),
                    );
                    return None;
                }
                let max = max as u64;
                return Some(match metric.as_str() {
                    "delivery_missing" => Threshold::DeliveryMissing { max },
                    "receipt_missing" => Threshold::ReceiptMissing { max },
                    _ => Threshold::ReactionMissing { max },
                });
            }
            check_ratio(max, &format!("{path}.max"), p);
            Some(if metric == "vu_failure_ratio" {
                Threshold::VuFailureRatio { max }
            } else {
                Threshold::RequestFailureRatio { max }
            })
        }
        "latency" => {
            p.not_used(
                path,
                "max",
                file.max.is_some(),
                "by metric = \"latency\" (it takes op, percentile, max_ms)",
            );
            let needs = r#"a latency threshold needs op, percentile and max_ms, e.g. op = "delivery", percentile = 99.0, max_ms = 200"#;
            let op = p.required(file.op.as_ref(), format!("{path}.op"), needs);
            let percentile = p.required(file.percentile, format!("{path}.percentile"), needs);
            let max_ms = p.required(file.max_ms, format!("{path}.max_ms"), needs);
            // An operation the run never records has no samples, and a threshold on it would pass
            // every run.
            if let Some(op) = op
                && Op::from_name(op).is_none()
            {
                let names: Vec<&str> = Op::ALL.iter().map(|op| op.name()).collect();
                p.push(
                    format!("{path}.op"),
                    format!("unknown operation {op:?}; allowed: {}", names.join(", ")),
                );
            }
            // Percentiles of the recorded histogram: p0 is not one, and none lies above p100.
            if let Some(pct) = percentile
                && !(pct > 0.0 && pct <= 100.0)
            {
                p.push(
                    format!("{path}.percentile"),
                    format!("must be above 0 and at most 100 (e.g. 99.0), got {pct}"),
                );
            }
            if let Some(ms) = max_ms
                && !(ms.is_finite() && ms > 0.0)
            {
                p.push(
                    format!("{path}.max_ms"),
                    format!("must be a number of milliseconds above 0, got {ms}"),
                );
            }
            Some(Threshold::Latency {
                op: op?.clone(),
                percentile: percentile?,
                max_ms: max_ms?,
            })
        }
        other => {
            p.push(
                format!("{path}.metric"),
                format!("unknown metric {other:?}; allowed: {METRICS}"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::validate::tests::{BASE, assert_error};

    #[test]
    fn ranges_say_what_is_allowed() {
        assert_error(
            &format!("{BASE}\n[[threshold]]\nmetric = \"vu_failure_ratio\"\nmax = 2\n"),
            "threshold[0].max",
            &["ratio from 0.0 to 1.0", "got 2"],
        );
        assert_error(
            &format!("{BASE}\n[[threshold]]\nmetric = \"delivery_missing\"\nmax = 0.5\n"),
            "threshold[0].max",
            &["whole number (a count)"],
        );
        assert_error(
            &format!(
                "{BASE}\n[[threshold]]\nmetric = \"latency\"\nop = \"delivery\"\npercentile = 101.0\nmax_ms = 200\n"
            ),
            "threshold[0].percentile",
            &["at most 100", "got 101"],
        );
    }

    #[test]
    fn closed_sets_list_their_members() {
        assert_error(
            &format!("{BASE}\n[[threshold]]\nmetric = \"p99\"\nmax = 1\n"),
            "threshold[0].metric",
            &[
                "allowed: vu_failure_ratio, request_failure_ratio, latency, delivery_missing, receipt_missing, reaction_missing",
            ],
        );
        assert_error(
            &format!(
                "{BASE}\n[[threshold]]\nmetric = \"latency\"\nop = \"deliver\"\npercentile = 99.0\nmax_ms = 200\n"
            ),
            "threshold[0].op",
            &[
                r#"unknown operation "deliver""#,
                "allowed: register, login,",
                "delivery",
                "hold",
            ],
        );
    }
}

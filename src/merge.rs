//! Merging the segments of a split run into one result, in exactly the format of a single run.
//!
//! Counts are added, histograms are merged (never percentiles averaged): every latency figure of
//! the merged summary — per operation, per level, per second — is recomputed from the segments'
//! HdrHistograms, so a merged p99 is the p99 of every sample of every segment. Levels are matched
//! by index, the timeline by second, failures by (kind, operation) with samples kept to the usual
//! cap, the interval log by (operation, second). Each segment's generator health is kept; one
//! unhealthy segment marks the merged run unhealthy.
//!
//! Merging refuses, before writing anything, segments of different plans (their fingerprints
//! differ), the same segment twice, a missing segment (unless told to merge what there is, which
//! marks the result partial), a directory that is not a segment, and a summary that does not load.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::base::hist::{Hist, HlogEntry, decode_hist, encode_hist, ms, new_hist};
use crate::base::kinds::Op;
use crate::base::summary::{
    FailureRow, GeneratorHealth, LevelRow, OpLatency, RunSummary, SCHEMA_VERSION, TimelineRow,
};
use crate::report::hlog::read_hlog;
use crate::report::write::{LATENCY_HLOG, SUMMARY_JSON};
use crate::report::{ReportError, evaluate};

/// Failure messages kept per (kind, operation) in a merged summary, as in a single run.
const SAMPLES_PER_KEY: usize = crate::metrics::recorder::SAMPLES_PER_KEY as usize;

/// One segment's saved results.
#[derive(Debug, Clone)]
pub struct SegmentRun {
    /// Where they were read from.
    pub dir: PathBuf,
    /// Its summary.
    pub summary: RunSummary,
    /// Its interval histograms.
    pub hlog: Vec<HlogEntry>,
}

/// Why segments could not be merged. Nothing is written when merging fails.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A file could not be read or does not parse.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A directory holds no segment's results.
    #[error("{}: {reason}", dir.display())]
    NotASegment {
        /// The directory.
        dir: PathBuf,
        /// What it is instead.
        reason: String,
    },
    /// The segments were cut from different plans.
    #[error(
        "{} and {} are segments of different plans (fingerprints {a} and {b}): merge only the \
         segments of one run (same scenario, seed, time scale, user cap and start time)",
        first.display(),
        second.display()
    )]
    DifferentPlans {
        /// One directory.
        first: PathBuf,
        /// A directory of another plan.
        second: PathBuf,
        /// The first's fingerprint.
        a: String,
        /// The second's.
        b: String,
    },
    /// One segment was given twice.
    #[error(
        "segment {index} is given twice: {} and {}; each segment counts once",
        first.display(),
        second.display()
    )]
    Twice {
        /// The segment.
        index: u32,
        /// One directory.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// Segments are missing.
    #[error(
        "segments {missing:?} of {count} are missing; give every segment's directory, or \
         --allow-missing to merge the others into a partial result"
    )]
    Missing {
        /// The missing indexes.
        missing: Vec<u32>,
        /// How many there are.
        count: u32,
    },
    /// Nothing to merge.
    #[error("no segment directory given")]
    Nothing,
}

/// Reads one segment's `summary.json` and `latency.hlog` from `dir`.
pub fn load_segment(dir: &Path) -> Result<SegmentRun, MergeError> {
    let summary_path = dir.join(SUMMARY_JSON);
    if !summary_path.exists() {
        return Err(MergeError::NotASegment {
            dir: dir.to_path_buf(),
            reason: format!("no {SUMMARY_JSON}: not the results of a run"),
        });
    }
    let summary = RunSummary::load(&summary_path)?;
    if summary.segment.is_none() {
        return Err(MergeError::NotASegment {
            dir: dir.to_path_buf(),
            reason: "the results of a whole run, not of a segment (run with --segment I/N)".into(),
        });
    }
    let hlog_path = dir.join(LATENCY_HLOG);
    let bytes = std::fs::read(&hlog_path).map_err(|source| ReportError::Read {
        path: hlog_path.clone(),
        source,
    })?;
    let hlog = read_hlog(&bytes).map_err(|e| ReportError::Encode {
        path: hlog_path,
        message: e.to_string(),
    })?;
    Ok(SegmentRun {
        dir: dir.to_path_buf(),
        summary,
        hlog,
    })
}

/// Checks that `runs` are distinct segments of one plan, all of them unless `allow_missing`;
/// returns them in segment order and the indexes that are missing.
pub fn check_segments(
    mut runs: Vec<SegmentRun>,
    allow_missing: bool,
) -> Result<(Vec<SegmentRun>, Vec<u32>), MergeError> {
    let first = runs.first().ok_or(MergeError::Nothing)?;
    let (hash, count, first_dir) = (
        first.summary.plan_hash.clone(),
        first.summary.segment.as_ref().map_or(0, |s| s.count),
        first.dir.clone(),
    );
    for r in &runs {
        let seg = r.summary.segment.as_ref().expect("checked when loaded");
        if r.summary.plan_hash != hash || seg.count != count {
            return Err(MergeError::DifferentPlans {
                first: first_dir,
                second: r.dir.clone(),
                a: hash,
                b: format!("{} in {} segments", r.summary.plan_hash, seg.count),
            });
        }
    }
    runs.sort_by_key(|r| r.summary.segment.as_ref().map_or(0, |s| s.index));
    for pair in runs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let index = a.summary.segment.as_ref().map_or(0, |s| s.index);
        if Some(index) == b.summary.segment.as_ref().map(|s| s.index) {
            return Err(MergeError::Twice {
                index,
                first: a.dir.clone(),
                second: b.dir.clone(),
            });
        }
    }
    let present: Vec<u32> = runs
        .iter()
        .filter_map(|r| r.summary.segment.as_ref().map(|s| s.index))
        .collect();
    let missing: Vec<u32> = (0..count).filter(|i| !present.contains(i)).collect();
    if !missing.is_empty() && !allow_missing {
        return Err(MergeError::Missing { missing, count });
    }
    Ok((runs, missing))
}

/// Merges checked segments (see [`check_segments`]) into one summary and interval log, thresholds
/// judged again on the merged figures.
pub fn merge_runs(runs: &[SegmentRun], missing: &[u32]) -> (RunSummary, Vec<HlogEntry>) {
    let summaries: Vec<&RunSummary> = runs.iter().map(|r| &r.summary).collect();
    let hlog = merge_hlog(runs.iter().flat_map(|r| r.hlog.iter()));
    let first = summaries[0];
    let mut s = first.clone();
    s.schema_version = SCHEMA_VERSION;
    s.segment = None;
    s.segments = summaries
        .iter()
        .map(|x| {
            let mut info = x.segment.clone().unwrap_or_default();
            info.partial = x.partial;
            info.stop_reason = x.stop_reason.clone();
            info.generator = Some(x.generator.clone());
            info
        })
        .collect();
    let mut targets: Vec<&str> = Vec::new();
    for x in &summaries {
        if !targets.contains(&x.target.as_str()) {
            targets.push(&x.target);
        }
    }
    s.target = targets.join(",");
    s.duration_secs = summaries
        .iter()
        .map(|x| x.duration_secs)
        .fold(0.0, f64::max);
    s.partial = !missing.is_empty() || summaries.iter().any(|x| x.partial);
    s.stop_reason = stop_reason(&summaries, missing);

    s.users = Default::default();
    s.requests = Default::default();
    s.messages = Default::default();
    s.receipts = Default::default();
    s.reactions = Default::default();
    for x in &summaries {
        add_totals(&mut s, x);
    }
    s.latency = merge_latency(&summaries);
    s.levels = merge_levels(&summaries);
    s.timeline = merge_timeline(&summaries, &hlog);
    s.users.peak_connected = s
        .timeline
        .iter()
        .map(|t| t.connected_users)
        .max()
        .unwrap_or(s.users.peak_connected)
        .max(
            summaries
                .iter()
                .map(|x| x.users.peak_connected)
                .max()
                .unwrap_or(0),
        );
    s.failures = merge_failures(&summaries);
    s.generator = merge_generator(&summaries);
    let rules: Vec<_> = first
        .thresholds
        .iter()
        .map(|t| t.threshold.clone())
        .collect();
    s.thresholds = evaluate(&rules, &s);
    s.measurement_notes.push(format!(
        "Merged from {} of {} segments of one plan (fingerprint {}): counts added, histograms \
         merged and every percentile recomputed from them; users.peak_connected is the highest \
         per-second sum of connected users, a segment that skipped a second counted with its last \
         row (and at least each segment's own peak).",
        summaries.len(),
        summaries.len() + missing.len(),
        s.plan_hash
    ));
    (s, hlog)
}

fn stop_reason(summaries: &[&RunSummary], missing: &[u32]) -> Option<String> {
    let mut parts: Vec<String> = summaries
        .iter()
        .filter_map(|x| {
            let seg = x.segment.as_ref()?;
            x.stop_reason
                .as_ref()
                .map(|r| format!("segment {}: {r}", seg.index))
        })
        .collect();
    if !missing.is_empty() {
        parts.insert(0, format!("segments {missing:?} are missing"));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn add_totals(s: &mut RunSummary, x: &RunSummary) {
    let (u, v) = (&mut s.users, &x.users);
    u.planned += v.planned;
    u.started += v.started;
    u.passed += v.passed;
    u.failed += v.failed;
    s.requests.ok += x.requests.ok;
    s.requests.failed += x.requests.failed;
    s.messages.add(&x.messages);
    s.receipts.add(&x.receipts);
    s.reactions.add(&x.reactions);
}

/// The sum of the encoded histograms given; empty ones and ones that do not decode are skipped.
fn merged<'a>(encoded: impl IntoIterator<Item = &'a str>) -> Hist {
    let mut total = new_hist();
    for h in encoded.into_iter().filter_map(decode_hist) {
        let _ = total.add(&h);
    }
    total
}

fn quantile_ms(h: &Hist, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        ms(h.value_at_quantile(q))
    }
}

fn encoded_or_empty(h: &Hist) -> String {
    if h.is_empty() {
        String::new()
    } else {
        encode_hist(h)
    }
}

fn merge_latency(summaries: &[&RunSummary]) -> Vec<OpLatency> {
    Op::ALL
        .iter()
        .filter_map(|&op| {
            let h = merged(
                summaries
                    .iter()
                    .filter_map(|x| x.latency_of(op))
                    .map(|l| l.histogram.as_str()),
            );
            (!h.is_empty()).then(|| OpLatency {
                op,
                count: h.len(),
                min_ms: ms(h.min()),
                mean_ms: h.mean() / 1000.0,
                p50_ms: quantile_ms(&h, 0.50),
                p90_ms: quantile_ms(&h, 0.90),
                p95_ms: quantile_ms(&h, 0.95),
                p99_ms: quantile_ms(&h, 0.99),
                p999_ms: quantile_ms(&h, 0.999),
                max_ms: ms(h.max()),
                histogram: encode_hist(&h),
            })
        })
        .collect()
}

fn merge_levels(summaries: &[&RunSummary]) -> Vec<LevelRow> {
    let mut by_index: BTreeMap<u32, Vec<&LevelRow>> = BTreeMap::new();
    for x in summaries {
        for l in &x.levels {
            by_index.entry(l.index).or_default().push(l);
        }
    }
    by_index
        .into_values()
        .map(|rows| {
            let mut m = rows[0].clone();
            for r in &rows[1..] {
                m.add_counts(r);
            }
            let delivery = merged(rows.iter().map(|r| r.delivery_histogram.as_str()));
            m.delivery_p50_ms = quantile_ms(&delivery, 0.50);
            m.delivery_p95_ms = quantile_ms(&delivery, 0.95);
            m.delivery_p99_ms = quantile_ms(&delivery, 0.99);
            m.delivery_histogram = encoded_or_empty(&delivery);
            let receipt = merged(rows.iter().map(|r| r.receipt_histogram.as_str()));
            m.receipt_p99_ms = quantile_ms(&receipt, 0.99);
            m.receipt_histogram = encoded_or_empty(&receipt);
            let requests = merged(rows.iter().map(|r| r.request_histogram.as_str()));
            m.request_p99_ms = quantile_ms(&requests, 0.99);
            m.request_histogram = encoded_or_empty(&requests);
            m
        })
        .collect()
}

/// The second an interval or timeline row belongs to: its end, rounded (segments started at the
/// same instant close their seconds a few milliseconds apart).
fn second_of(t_secs: f64) -> i64 {
    t_secs.round() as i64
}

fn merge_hlog<'a>(entries: impl Iterator<Item = &'a HlogEntry>) -> Vec<HlogEntry> {
    let mut by_key: BTreeMap<(i64, Op), (f64, f64, Hist)> = BTreeMap::new();
    for e in entries {
        let Some(h) = decode_hist(&e.encoded) else {
            continue;
        };
        let key = (second_of(e.start_secs), e.op);
        let slot = by_key
            .entry(key)
            .or_insert_with(|| (e.start_secs, e.length_secs, new_hist()));
        slot.0 = slot.0.min(e.start_secs);
        slot.1 = slot.1.max(e.length_secs);
        let _ = slot.2.add(&h);
    }
    by_key
        .into_iter()
        .map(|((_, op), (start_secs, length_secs, h))| HlogEntry {
            start_secs,
            length_secs,
            op,
            max_ms: ms(h.max()),
            encoded: encode_hist(&h),
        })
        .collect()
}

/// The merged timeline: per second, counts added over the segments that closed that second, and the
/// gauges (users running, connected, failed so far) of every segment running then. A segment whose
/// aggregator fell behind skips seconds (a busy machine, a stalled process); for those its last
/// gauges still count, so the sum of connected users never drops because a row is missing.
fn merge_timeline(summaries: &[&RunSummary], hlog: &[HlogEntry]) -> Vec<TimelineRow> {
    let mut by_second: BTreeMap<i64, TimelineRow> = BTreeMap::new();
    for x in summaries {
        for t in &x.timeline {
            by_second
                .entry(second_of(t.t_secs))
                .or_insert_with(|| TimelineRow {
                    t_secs: t.t_secs,
                    ..TimelineRow::default()
                })
                .add_counts(t);
        }
    }
    let seconds: Vec<i64> = by_second.keys().copied().collect();
    for x in summaries {
        let mut rows = x.timeline.iter().peekable();
        let mut last: Option<&TimelineRow> = None;
        let end = x.timeline.last().map_or(i64::MIN, |t| second_of(t.t_secs));
        for &second in &seconds {
            let mut own = false;
            while let Some(row) = rows.next_if(|t| second_of(t.t_secs) <= second) {
                own |= second_of(row.t_secs) == second;
                last = Some(row);
            }
            if let Some(last) = last
                && !own
                && second < end
                && let Some(merged) = by_second.get_mut(&second)
            {
                merged.add_gauges(last);
            }
        }
    }
    // Latency per second from the merged interval histograms: the interval that ends at a row's
    // second is the one that starts a second before.
    let mut delivery: HashMap<i64, Hist> = HashMap::new();
    let mut requests: HashMap<i64, Hist> = HashMap::new();
    for e in hlog {
        let Some(h) = decode_hist(&e.encoded) else {
            continue;
        };
        let second = second_of(e.start_secs + e.length_secs);
        let into = match e.op {
            Op::Delivery => &mut delivery,
            op if op.is_request() => &mut requests,
            _ => continue,
        };
        let _ = into.entry(second).or_insert_with(new_hist).add(&h);
    }
    by_second
        .into_iter()
        .map(|(second, mut row)| {
            if let Some(h) = delivery.get(&second) {
                row.delivery_p50_ms = quantile_ms(h, 0.50);
                row.delivery_p95_ms = quantile_ms(h, 0.95);
                row.delivery_p99_ms = quantile_ms(h, 0.99);
            }
            if let Some(h) = requests.get(&second) {
                row.request_p99_ms = quantile_ms(h, 0.99);
            }
            row
        })
        .collect()
}

fn merge_failures(summaries: &[&RunSummary]) -> Vec<FailureRow> {
    let mut by_key: BTreeMap<(crate::base::kinds::FailureKind, Op), FailureRow> = BTreeMap::new();
    for x in summaries {
        for f in &x.failures {
            let row = by_key.entry((f.kind, f.op)).or_insert_with(|| FailureRow {
                kind: f.kind,
                op: f.op,
                count: 0,
                samples: Vec::new(),
            });
            row.count += f.count;
            for sample in &f.samples {
                if row.samples.len() < SAMPLES_PER_KEY {
                    row.samples.push(sample.clone());
                }
            }
        }
    }
    by_key.into_values().collect()
}

/// The merged run's generator: the worst of each figure over the segments (their memory added),
/// unhealthy when any segment was, its warnings saying which segment.
fn merge_generator(summaries: &[&RunSummary]) -> GeneratorHealth {
    let mut g = GeneratorHealth::default();
    for x in summaries {
        let h = &x.generator;
        let index = x.segment.as_ref().map_or(0, |s| s.index);
        g.cpu_percent_mean = g.cpu_percent_mean.max(h.cpu_percent_mean);
        g.cpu_percent_max = g.cpu_percent_max.max(h.cpu_percent_max);
        g.cores = g.cores.max(h.cores);
        g.scheduler_lag_p99_ms = g.scheduler_lag_p99_ms.max(h.scheduler_lag_p99_ms);
        g.scheduler_lag_max_ms = g.scheduler_lag_max_ms.max(h.scheduler_lag_max_ms);
        g.peak_rss_bytes += h.peak_rss_bytes;
        g.bottleneck |= h.bottleneck;
        g.warnings
            .extend(h.warnings.iter().map(|w| format!("segment {index}: {w}")));
    }
    g
}

/// What [`merge_dirs`] wrote.
#[derive(Debug)]
pub struct Merged {
    /// The merged summary, thresholds judged.
    pub summary: RunSummary,
    /// The files written.
    pub files: crate::report::WrittenFiles,
}

/// Loads the segment results in `dirs`, checks them and writes their merge into `out`, in the
/// layout of a single run. Nothing is written unless every check passes.
pub fn merge_dirs(out: &Path, dirs: &[PathBuf], allow_missing: bool) -> Result<Merged, MergeError> {
    let runs = dirs
        .iter()
        .map(|d| load_segment(d))
        .collect::<Result<Vec<_>, _>>()?;
    let (runs, missing) = check_segments(runs, allow_missing)?;
    let (summary, hlog) = merge_runs(&runs, &missing);
    let files = crate::report::write_run(out, &summary, &hlog)?;
    Ok(Merged { summary, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t_secs: f64, connected: u64, requests_ok: u64) -> TimelineRow {
        TimelineRow {
            t_secs,
            active_users: connected,
            connected_users: connected,
            requests_ok,
            ..TimelineRow::default()
        }
    }

    /// A segment whose aggregator skipped seconds 2 and 3 still holds its users then: the merged
    /// gauges carry its last row, its counts are not repeated, and after its last row it counts
    /// no more.
    #[test]
    fn a_skipped_second_keeps_the_segments_users() {
        let mut a = RunSummary::empty("http://127.0.0.1:1");
        a.timeline = (1..=5).map(|t| row(t as f64, 100, 10)).collect();
        let mut b = RunSummary::empty("http://127.0.0.1:1");
        b.timeline = vec![row(1.0, 50, 5), row(4.0, 70, 5)];
        let merged = merge_timeline(&[&a, &b], &[]);
        let connected: Vec<u64> = merged.iter().map(|t| t.connected_users).collect();
        let requests: Vec<u64> = merged.iter().map(|t| t.requests_ok).collect();
        assert_eq!(connected, [150, 150, 150, 170, 100]);
        assert_eq!(requests, [15, 10, 10, 15, 10]);
    }
}

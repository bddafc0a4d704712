//! Two runs of the same scenario side by side (`stampede compare A B`): per operation and per level,
//! the differences in users held, failures, deliveries and latency percentiles, and for every p99
//! whether the difference is beyond run-to-run noise.
//!
//! # The noise method
//! A p99 is measured once per run, so run-to-run noise has to be estimated from inside each run. It
//! is estimated from the run's own per-second HDR histograms (`latency.hlog`) by a **block
//! bootstrap**: the seconds of one run (of one level, for a per-level figure) are cut into blocks of
//! [`BLOCK_SECS`] consecutive seconds (so bursts that last a few seconds stay together), and
//! [`RESAMPLES`] times a run of the same length is rebuilt by drawing blocks with replacement,
//! merging their histograms and taking the p99. Doing that for A and B independently gives a
//! distribution of the ratio p99(B) / p99(A); its 2.5th and 97.5th percentiles are the 95 %
//! interval. B is **worse beyond noise** when the whole interval is above 1, better when it is below
//! 1; otherwise the difference is within noise. Percentiles of resamples are read from a shared grid
//! of bins 1 % wide, so the interval is good to about 1 %.
//!
//! What it assumes: that blocks of seconds are exchangeable, i.e. that the variation of latency
//! from one stretch of a run to another is what a second run would vary by. Within a level of a
//! ramp that is close to true; over a whole ramp it mixes light and heavy load and so widens the
//! interval (a cautious answer, not a wrong one). It does not see what differs between two runs
//! only (another machine, another build of the generator). Fewer than [`MIN_SECONDS`] seconds or
//! [`MIN_SAMPLES`] samples on either side are too few to tell, and the comparison says so.
//!
//! Failure ratios are compared with a two-proportion z-test (one-sided, 95 %), which treats requests
//! as independent: failures that come in bursts make it readier to call a difference real, so a
//! failure finding is only reported when it is also larger than the `--fail-if-worse` margin.
//! Sustained users come from the scoring rules and have no noise model: the score is the verdict.

use std::fmt::Write as _;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::base::hist::{HlogEntry, decode_hist};
use crate::base::kinds::Op;
use crate::base::summary::RunSummary;

/// Requests ok and failed.
pub type OkFailed = (u64, u64);

/// Seconds per bootstrap block.
pub const BLOCK_SECS: usize = 5;
/// Resamples per side.
pub const RESAMPLES: usize = 400;
/// Fewest seconds with samples either side needs for a noise estimate.
pub const MIN_SECONDS: usize = 10;
/// Fewest samples either side needs for a noise estimate.
pub const MIN_SAMPLES: u64 = 100;
/// Bins of the bootstrap grid are this much wider than the one before (1 %).
const BIN_GROWTH: f64 = 1.01;
/// The bootstrap is seeded: the same two runs always give the same interval.
const BOOTSTRAP_SEED: u64 = 0x5eed_c0de;

/// One side of a comparison.
#[derive(Debug, Clone)]
pub struct Side {
    /// How the side is named (its directory, with the team for a match).
    pub label: String,
    /// Its summary.
    pub summary: RunSummary,
    /// Its per-second histograms (`latency.hlog`); empty when there is none, and then no noise
    /// estimate is made.
    pub intervals: Vec<HlogEntry>,
    /// Its score under the scoring rules, when known.
    pub sustained_users: Option<u32>,
}

/// Whether B differs from A beyond noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// B is worse, and the 95 % interval says it is not noise.
    Worse,
    /// B is better, beyond noise.
    Better,
    /// The interval includes no change.
    WithinNoise,
    /// Too few seconds or samples on a side to estimate noise.
    TooFewSamples,
}

impl Verdict {
    /// In words.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Worse => "worse beyond noise",
            Verdict::Better => "better beyond noise",
            Verdict::WithinNoise => "within noise",
            Verdict::TooFewSamples => "too few samples to tell",
        }
    }
}

/// p99 of A and B and what the bootstrap says of their ratio.
#[derive(Debug, Clone, PartialEq)]
pub struct P99Diff {
    /// A's p99, ms (`None`: no samples).
    pub a_ms: Option<f64>,
    /// B's p99, ms.
    pub b_ms: Option<f64>,
    /// 95 % interval of p99(B) / p99(A), when it could be estimated.
    pub interval: Option<(f64, f64)>,
    /// The verdict.
    pub verdict: Verdict,
}

impl P99Diff {
    /// p99(B) / p99(A).
    pub fn ratio(&self) -> Option<f64> {
        match (self.a_ms, self.b_ms) {
            (Some(a), Some(b)) if a > 0.0 => Some(b / a),
            _ => None,
        }
    }
}

/// One operation's latency in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct OpDiff {
    /// The operation.
    pub op: Op,
    /// Samples in A and B.
    pub count: (u64, u64),
    /// p50 in A and B, ms.
    pub p50: (Option<f64>, Option<f64>),
    /// p95 in A and B, ms.
    pub p95: (Option<f64>, Option<f64>),
    /// p99 and its noise.
    pub p99: P99Diff,
}

/// One user level in both runs (matched by its index in the plan).
#[derive(Debug, Clone, PartialEq)]
pub struct LevelDiff {
    /// Index in the plan.
    pub index: u32,
    /// Users the level aimed for.
    pub target_users: u32,
    /// Users connected at its end, A and B (`None`: the run has no such level).
    pub connected: (Option<u64>, Option<u64>),
    /// VUs failed during it.
    pub vus_failed: (Option<u64>, Option<u64>),
    /// Requests ok and failed, A and B.
    pub requests: (Option<OkFailed>, Option<OkFailed>),
    /// Deliveries missing.
    pub missing: (Option<u64>, Option<u64>),
    /// Delivery p99 and its noise (over the level's seconds).
    pub delivery_p99: P99Diff,
}

/// A headline figure of both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// What it is.
    pub name: &'static str,
    /// A's value.
    pub a: Option<f64>,
    /// B's value.
    pub b: Option<f64>,
    /// True when more is better.
    pub higher_is_better: bool,
}

/// Two runs compared.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// A's name.
    pub a: String,
    /// B's name.
    pub b: String,
    /// Things a reader should know first (different scenarios, seeds, partial runs).
    pub notes: Vec<String>,
    /// Headline figures.
    pub figures: Vec<Figure>,
    /// Every operation either run timed, in [`Op::ALL`] order.
    pub ops: Vec<OpDiff>,
    /// Every level of either run.
    pub levels: Vec<LevelDiff>,
    /// Request failure ratios of A and B, and whether B's is higher beyond noise.
    pub failure_ratio: (f64, f64, bool),
}

/// Compares `a` (the baseline) with `b`.
pub fn compare(a: &Side, b: &Side) -> Comparison {
    let (sa, sb) = (&a.summary, &b.summary);
    let mut notes = Vec::new();
    if sa.scenario != sb.scenario {
        notes.push(format!(
            "different scenarios ({} and {}): the figures may not be comparable",
            sa.scenario, sb.scenario
        ));
    }
    if sa.seed != sb.seed || sa.time_scale != sb.time_scale {
        notes.push(format!(
            "different plans: seed {} at time scale {} and seed {} at time scale {}",
            sa.seed, sa.time_scale, sb.seed, sb.time_scale
        ));
    }
    for (side, s) in [(&a.label, sa), (&b.label, sb)] {
        if s.partial {
            notes.push(format!("{side} is a partial run"));
        }
        if s.generator.bottleneck {
            notes.push(format!(
                "{side}: the generator may have been the bottleneck"
            ));
        }
    }
    for side in [a, b] {
        if side.intervals.is_empty() && !side.summary.latency.is_empty() {
            notes.push(format!(
                "{} has no per-second histograms (latency.hlog): no noise estimate",
                side.label
            ));
        }
    }
    let ratio = |s: &RunSummary| {
        let all = s.requests.ok + s.requests.failed;
        if all == 0 {
            0.0
        } else {
            s.requests.failed as f64 / all as f64
        }
    };
    let figures = vec![
        Figure {
            name: "sustained users",
            a: a.sustained_users.map(f64::from),
            b: b.sustained_users.map(f64::from),
            higher_is_better: true,
        },
        Figure {
            name: "users started",
            a: Some(sa.users.started as f64),
            b: Some(sb.users.started as f64),
            higher_is_better: true,
        },
        Figure {
            name: "peak connected",
            a: Some(sa.users.peak_connected as f64),
            b: Some(sb.users.peak_connected as f64),
            higher_is_better: true,
        },
        Figure {
            name: "VUs failed",
            a: Some(sa.users.failed as f64),
            b: Some(sb.users.failed as f64),
            higher_is_better: false,
        },
        Figure {
            name: "requests failed",
            a: Some(sa.requests.failed as f64),
            b: Some(sb.requests.failed as f64),
            higher_is_better: false,
        },
        Figure {
            name: "request failure %",
            a: Some(100.0 * ratio(sa)),
            b: Some(100.0 * ratio(sb)),
            higher_is_better: false,
        },
        Figure {
            name: "deliveries missing",
            a: Some(sa.messages.missing as f64),
            b: Some(sb.messages.missing as f64),
            higher_is_better: false,
        },
        Figure {
            name: "messages sent",
            a: Some(sa.messages.sent as f64),
            b: Some(sb.messages.sent as f64),
            higher_is_better: true,
        },
    ];
    let mut rng = SmallRng::seed_from_u64(BOOTSTRAP_SEED);
    let ops = Op::ALL
        .iter()
        .filter_map(|op| {
            let (la, lb) = (sa.latency_of(*op), sb.latency_of(*op));
            if la.is_none() && lb.is_none() {
                return None;
            }
            let wa = window(&a.intervals, *op, 0.0, f64::INFINITY);
            let wb = window(&b.intervals, *op, 0.0, f64::INFINITY);
            Some(OpDiff {
                op: *op,
                count: (la.map_or(0, |l| l.count), lb.map_or(0, |l| l.count)),
                p50: (la.map(|l| l.p50_ms), lb.map(|l| l.p50_ms)),
                p95: (la.map(|l| l.p95_ms), lb.map(|l| l.p95_ms)),
                p99: p99_diff(
                    la.map(|l| l.p99_ms),
                    lb.map(|l| l.p99_ms),
                    &wa,
                    &wb,
                    &mut rng,
                ),
            })
        })
        .collect();
    let max_levels = sa.levels.len().max(sb.levels.len());
    let levels = (0..max_levels)
        .map(|i| {
            let (la, lb) = (sa.levels.get(i), sb.levels.get(i));
            let any = la.or(lb).expect("one of them has it");
            let window_of = |side: &Side, l: Option<&crate::base::summary::LevelRow>| match l {
                Some(l) => window(&side.intervals, Op::Delivery, l.start_secs, l.end_secs),
                None => Vec::new(),
            };
            let p99 = |l: Option<&crate::base::summary::LevelRow>| {
                l.and_then(|l| (l.deliveries > 0).then_some(l.delivery_p99_ms))
            };
            LevelDiff {
                index: any.index,
                target_users: any.target_users,
                connected: (la.map(|l| l.users_connected), lb.map(|l| l.users_connected)),
                vus_failed: (
                    la.map(|l| l.vus_failed_in_level),
                    lb.map(|l| l.vus_failed_in_level),
                ),
                requests: (
                    la.map(|l| (l.requests.ok, l.requests.failed)),
                    lb.map(|l| (l.requests.ok, l.requests.failed)),
                ),
                missing: (
                    la.map(|l| l.deliveries_missing),
                    lb.map(|l| l.deliveries_missing),
                ),
                delivery_p99: p99_diff(
                    p99(la),
                    p99(lb),
                    &window_of(a, la),
                    &window_of(b, lb),
                    &mut rng,
                ),
            }
        })
        .collect();
    let failure_ratio = (ratio(sa), ratio(sb), proportion_higher(sa, sb));
    Comparison {
        a: a.label.clone(),
        b: b.label.clone(),
        notes,
        figures,
        ops,
        levels,
        failure_ratio,
    }
}

impl Comparison {
    /// What B does worse than A by more than `pct` percent, beyond noise: p99s whose whole 95 %
    /// interval lies above 1 + `pct`/100 (per operation and per level), fewer sustained users than
    /// A's less `pct` percent, a request failure ratio above A's by more than `pct` percent of it and
    /// beyond the z-test. Each finding in words.
    pub fn worse_than(&self, pct: f64) -> Vec<String> {
        let margin = 1.0 + pct / 100.0;
        let mut out = Vec::new();
        for f in &self.figures {
            if f.name == "sustained users"
                && let (Some(a), Some(b)) = (f.a, f.b)
                && b < a * (1.0 - pct / 100.0)
            {
                out.push(format!(
                    "sustained users {} → {} ({})",
                    a,
                    b,
                    change(Some(a), Some(b))
                ));
            }
        }
        let (ra, rb, beyond) = self.failure_ratio;
        if beyond && rb > ra * margin {
            out.push(format!(
                "request failure ratio {:.3} % → {:.3} %",
                ra * 100.0,
                rb * 100.0
            ));
        }
        for o in &self.ops {
            if let Some((lo, _)) = o.p99.interval
                && lo > margin
            {
                out.push(format!("{} p99 {}", o.op.name(), p99_words(&o.p99)));
            }
        }
        for l in &self.levels {
            if let Some((lo, _)) = l.delivery_p99.interval
                && lo > margin
            {
                out.push(format!(
                    "delivery p99 at the {}-user level {}",
                    l.target_users,
                    p99_words(&l.delivery_p99)
                ));
            }
        }
        out
    }
}

fn p99_words(d: &P99Diff) -> String {
    let (lo, hi) = d.interval.unwrap_or((f64::NAN, f64::NAN));
    format!(
        "{} → {} (×{:.2}, 95 % interval ×{:.2}–×{:.2})",
        ms(d.a_ms),
        ms(d.b_ms),
        d.ratio().unwrap_or(f64::NAN),
        lo,
        hi
    )
}

/// B's change from A in percent: `+12.5 %`, `−3.0 %`, `=`; `–` when either is missing.
pub fn change(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a == b => "=".into(),
        (Some(a), Some(b)) if a != 0.0 => {
            let pct = (b - a) / a * 100.0;
            if pct >= 0.0 {
                format!("+{pct:.1} %")
            } else {
                format!("−{:.1} %", -pct)
            }
        }
        (Some(_), Some(_)) => "new".into(),
        _ => "–".into(),
    }
}

fn ms(v: Option<f64>) -> String {
    crate::report::html::format::ms(v)
}

/// One second of one operation on the bootstrap grid: (bin, count) pairs.
type Sparse = Vec<(u32, u64)>;

fn bin_of(micros: u64) -> u32 {
    ((micros.max(1) as f64).ln() / BIN_GROWTH.ln()).floor() as u32
}

fn value_of(bin: u32) -> f64 {
    // The bin's geometric middle, in ms.
    BIN_GROWTH.powf(f64::from(bin) + 0.5) / 1000.0
}

/// The per-second histograms of `op` starting in `from..to`, in time order, on the grid.
fn window(intervals: &[HlogEntry], op: Op, from: f64, to: f64) -> Vec<Sparse> {
    let mut picked: Vec<&HlogEntry> = intervals
        .iter()
        .filter(|e| e.op == op && e.start_secs >= from && e.start_secs < to)
        .collect();
    picked.sort_by(|x, y| x.start_secs.total_cmp(&y.start_secs));
    picked
        .into_iter()
        .filter_map(|e| decode_hist(&e.encoded))
        .filter(|h| !h.is_empty())
        .map(|h| {
            let mut bins: Sparse = Vec::new();
            for v in h.iter_recorded() {
                let bin = bin_of(v.value_iterated_to());
                match bins.last_mut() {
                    Some((b, n)) if *b == bin => *n += v.count_at_value(),
                    _ => bins.push((bin, v.count_at_value())),
                }
            }
            bins
        })
        .collect()
}

/// Merges every [`BLOCK_SECS`] consecutive seconds into one block.
fn blocks(seconds: &[Sparse]) -> Vec<Sparse> {
    seconds
        .chunks(BLOCK_SECS)
        .map(|chunk| {
            let mut all: Vec<(u32, u64)> = chunk.iter().flatten().copied().collect();
            all.sort_unstable_by_key(|(b, _)| *b);
            let mut merged: Sparse = Vec::new();
            for (b, n) in all {
                match merged.last_mut() {
                    Some((mb, mn)) if *mb == b => *mn += n,
                    _ => merged.push((b, n)),
                }
            }
            merged
        })
        .collect()
}

/// [`RESAMPLES`] bootstrap p99s (ms) of a run made of `seconds`, or `None` when there are too few.
fn bootstrap(seconds: &[Sparse], rng: &mut SmallRng) -> Option<Vec<f64>> {
    let samples: u64 = seconds.iter().flatten().map(|(_, n)| n).sum();
    if seconds.len() < MIN_SECONDS || samples < MIN_SAMPLES {
        return None;
    }
    let blocks = blocks(seconds);
    let lo = blocks.iter().flatten().map(|(b, _)| *b).min()?;
    let hi = blocks.iter().flatten().map(|(b, _)| *b).max()?;
    let mut dense = vec![0u64; (hi - lo + 1) as usize];
    let mut out = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        dense.iter_mut().for_each(|c| *c = 0);
        let mut total = 0u64;
        for _ in 0..blocks.len() {
            for (b, n) in &blocks[rng.random_range(0..blocks.len())] {
                dense[(b - lo) as usize] += n;
                total += n;
            }
        }
        // The bin holding the sample at rank ⌈0.99 n⌉, as HdrHistogram's value_at_quantile does.
        let rank = ((total as f64) * 0.99).ceil().max(1.0) as u64;
        let mut seen = 0;
        let mut bin = hi;
        for (i, c) in dense.iter().enumerate() {
            seen += c;
            if seen >= rank {
                bin = lo + i as u32;
                break;
            }
        }
        out.push(value_of(bin));
    }
    Some(out)
}

fn p99_diff(
    a_ms: Option<f64>,
    b_ms: Option<f64>,
    wa: &[Sparse],
    wb: &[Sparse],
    rng: &mut SmallRng,
) -> P99Diff {
    let (Some(ra), Some(rb)) = (bootstrap(wa, rng), bootstrap(wb, rng)) else {
        return P99Diff {
            a_ms,
            b_ms,
            interval: None,
            verdict: Verdict::TooFewSamples,
        };
    };
    let mut ratios: Vec<f64> = ra.iter().zip(&rb).map(|(x, y)| y / x).collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    let (lo, hi) = (at(0.025), at(0.975));
    let verdict = if lo > 1.0 {
        Verdict::Worse
    } else if hi < 1.0 {
        Verdict::Better
    } else {
        Verdict::WithinNoise
    };
    P99Diff {
        a_ms,
        b_ms,
        interval: Some((lo, hi)),
        verdict,
    }
}

/// One-sided two-proportion z-test at 95 %: is B's request failure ratio higher than A's?
fn proportion_higher(a: &RunSummary, b: &RunSummary) -> bool {
    let (na, nb) = (
        (a.requests.ok + a.requests.failed) as f64,
        (b.requests.ok + b.requests.failed) as f64,
    );
    if na == 0.0 || nb == 0.0 {
        return false;
    }
    let (fa, fb) = (a.requests.failed as f64, b.requests.failed as f64);
    let (pa, pb) = (fa / na, fb / nb);
    let pooled = (fa + fb) / (na + nb);
    let se = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    if se == 0.0 {
        return pb > pa;
    }
    (pb - pa) / se > 1.645
}

/// The comparison as text, at most 100 columns.
pub fn render_text(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "A (baseline) {}\nB            {}", c.a, c.b);
    for n in &c.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let _ = writeln!(out, "\n{:<22} {:>14} {:>14} {:>10}", "", "A", "B", "change");
    for f in &c.figures {
        let v = |x: Option<f64>| {
            x.map_or("–".to_string(), |x| {
                crate::report::html::format::num(x, 3)
            })
        };
        let _ = writeln!(
            out,
            "{:<22} {:>14} {:>14} {:>10}",
            f.name,
            v(f.a),
            v(f.b),
            change(f.a, f.b)
        );
    }
    let _ = writeln!(
        out,
        "\nlatency by operation: p99(B)/p99(A) with its 95 % interval from a block bootstrap over\n\
         {BLOCK_SECS}-second blocks of each run's per-second histograms ({RESAMPLES} resamples)"
    );
    let _ = writeln!(
        out,
        "{:<15} {:>9} {:>9} {:>10} {:>10} {:>7} {:>15}  verdict",
        "operation", "n A", "n B", "p99 A", "p99 B", "B/A", "95 % interval"
    );
    for o in &c.ops {
        let _ = writeln!(
            out,
            "{:<15} {:>9} {:>9} {:>10} {:>10} {:>7} {:>15}  {}",
            o.op.name(),
            o.count.0,
            o.count.1,
            ms(o.p99.a_ms),
            ms(o.p99.b_ms),
            o.p99.ratio().map_or("–".into(), |r| format!("×{r:.2}")),
            interval(&o.p99),
            o.p99.verdict.words()
        );
    }
    let _ = writeln!(
        out,
        "\nper level (connected at its end, VUs failed in it, requests failed, missing, delivery p99)"
    );
    let _ = writeln!(
        out,
        "{:>5} {:>7} {:>13} {:>11} {:>13} {:>11} {:>19} {:>15}  verdict",
        "level",
        "users",
        "connected",
        "VUs failed",
        "req failed",
        "missing",
        "delivery p99",
        "95 % interval",
    );
    let pair = |x: Option<u64>, y: Option<u64>| {
        format!(
            "{}/{}",
            x.map_or("–".into(), |v| v.to_string()),
            y.map_or("–".into(), |v| v.to_string())
        )
    };
    for l in &c.levels {
        let _ = writeln!(
            out,
            "{:>5} {:>7} {:>13} {:>11} {:>13} {:>11} {:>19} {:>15}  {}",
            l.index,
            l.target_users,
            pair(l.connected.0, l.connected.1),
            pair(l.vus_failed.0, l.vus_failed.1),
            pair(l.requests.0.map(|r| r.1), l.requests.1.map(|r| r.1)),
            pair(l.missing.0, l.missing.1),
            format!("{}/{}", ms(l.delivery_p99.a_ms), ms(l.delivery_p99.b_ms)),
            interval(&l.delivery_p99),
            l.delivery_p99.verdict.words()
        );
    }
    out
}

fn interval(d: &P99Diff) -> String {
    d.interval
        .map_or("–".into(), |(lo, hi)| format!("×{lo:.2}–×{hi:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::hist::{Hist, encode_hist};
    use crate::report::fixture;

    /// `seconds` one-second histograms of `op`, each of 200 samples around `ms` with a per-second
    /// wobble of ±20 % drawn from `seed`.
    fn seconds(op: Op, seconds: u32, ms: f64, seed: u64) -> Vec<HlogEntry> {
        let mut rng = SmallRng::seed_from_u64(seed);
        (0..seconds)
            .map(|t| {
                let mut h: Hist = Hist::new(3).unwrap();
                let wobble = 1.0 + rng.random_range(-0.2..0.2);
                for _ in 0..200 {
                    let v = ms * wobble * rng.random_range(0.5..1.5) * 1000.0;
                    h.record(v as u64).unwrap();
                }
                HlogEntry {
                    start_secs: f64::from(t),
                    length_secs: 1.0,
                    op,
                    max_ms: 0.0,
                    encoded: encode_hist(&h),
                }
            })
            .collect()
    }

    fn side(label: &str, p99_ms: f64, intervals: Vec<HlogEntry>) -> Side {
        let mut summary = fixture::summary();
        for l in &mut summary.latency {
            l.p99_ms = p99_ms;
        }
        Side {
            label: label.into(),
            summary,
            intervals,
            sustained_users: Some(200),
        }
    }

    #[test]
    fn the_same_server_twice_is_within_noise_and_a_slower_one_is_worse() {
        let a = side("a", 10.0, seconds(Op::Delivery, 120, 10.0, 1));
        let same = side("same", 10.2, seconds(Op::Delivery, 120, 10.0, 2));
        let c = compare(&a, &same);
        let d = c.ops.iter().find(|o| o.op == Op::Delivery).unwrap();
        assert_eq!(d.p99.verdict, Verdict::WithinNoise, "{:?}", d.p99);
        assert!(c.worse_than(10.0).is_empty(), "{:?}", c.worse_than(10.0));

        let slow = side("slow", 30.0, seconds(Op::Delivery, 120, 30.0, 3));
        let c = compare(&a, &slow);
        let d = c.ops.iter().find(|o| o.op == Op::Delivery).unwrap();
        assert_eq!(d.p99.verdict, Verdict::Worse);
        let (lo, hi) = d.p99.interval.unwrap();
        assert!(lo > 2.0 && hi < 4.0, "about ×3: {lo}–{hi}");
        let worse = c.worse_than(10.0);
        assert!(
            worse.iter().any(|w| w.starts_with("delivery p99")),
            "{worse:?}"
        );
        assert!(
            c.worse_than(500.0)
                .iter()
                .all(|w| !w.starts_with("delivery p99")),
            "not ×6 worse"
        );
        // Reversed, the faster run is better.
        let c = compare(&slow, &a);
        assert_eq!(
            c.ops
                .iter()
                .find(|o| o.op == Op::Delivery)
                .unwrap()
                .p99
                .verdict,
            Verdict::Better
        );
    }

    #[test]
    fn few_seconds_are_too_few_to_tell() {
        let a = side("a", 10.0, seconds(Op::Delivery, 4, 10.0, 1));
        let b = side("b", 50.0, seconds(Op::Delivery, 4, 50.0, 2));
        let c = compare(&a, &b);
        let d = c.ops.iter().find(|o| o.op == Op::Delivery).unwrap();
        assert_eq!(d.p99.verdict, Verdict::TooFewSamples);
        assert!(render_text(&c).contains("too few samples to tell"));
    }

    #[test]
    fn failures_and_sustained_users() {
        let a = side("a", 10.0, Vec::new());
        let mut b = side("b", 10.0, Vec::new());
        b.summary.requests.failed = 500;
        b.sustained_users = Some(100);
        let c = compare(&a, &b);
        let worse = c.worse_than(10.0);
        assert!(
            worse
                .iter()
                .any(|w| w.starts_with("sustained users 200 → 100")),
            "{worse:?}"
        );
        assert!(
            worse.iter().any(|w| w.starts_with("request failure ratio")),
            "{worse:?}"
        );
        assert!(compare(&a, &a).worse_than(0.0).is_empty());
        assert_eq!(change(Some(200.0), Some(100.0)), "−50.0 %");
        assert_eq!(change(Some(0.0), Some(3.0)), "new");
    }
}

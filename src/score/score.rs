//! One team's score: the highest user level it sustained without problems, and why.
//!
//! [`score`] judges every [`LevelRow`] of a saved [`RunSummary`] against the [`ScoringRules`] and
//! keeps the figures tie-breaks compare ([`LevelMeasures`]). It reads nothing but the summary; ranking
//! teams against each other is [`verdict`](super::verdict).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::rules::{DELIVERY_PERCENTILE, ScoringRules, TieBreak};
use super::words;
use crate::base::hist::decode_hist;
use crate::base::summary::{LevelRow, RunSummary};

/// A rule a level can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The level aimed for users but none was active in it. `actual` 0, `limit` 1.
    NoActiveUsers,
    /// Too many VUs failed during the level. `actual` and `limit` are ratios.
    VuFailureRatio,
    /// Too many requests (deliveries included) failed during the level. Ratios.
    RequestFailureRatio,
    /// Delivery p99 above the SLO. Milliseconds.
    DeliveryP99,
    /// More deliveries missing than the p99 can absorb, so the p99 is a lost message. `actual` is
    /// the missing share of expected deliveries, `limit` the 1 % a p99 tolerates.
    DeliveryP99Missing,
    /// Chat messages were sent but no delivery was measured at all. `actual` is the number of
    /// messages sent, `limit` 0.
    NoDeliveries,
    /// p99 of the other requests above [`ScoringRules::request_p99_slo_ms`]. Milliseconds.
    RequestP99,
    /// Read receipt p99 above [`ScoringRules::receipt_p99_slo_ms`]. Milliseconds.
    ReceiptP99,
    /// More read receipts missing than the receipt p99 can absorb. `actual` is the missing share
    /// of expected receipts, `limit` the 1 % a p99 tolerates.
    ReceiptP99Missing,
    /// The run ended before the level did and incomplete levels do not count. `actual` and
    /// `limit` are 0.
    Incomplete,
}

impl Rule {
    /// The rule in words, as verdicts name it.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::NoActiveUsers => "no active users",
            Rule::VuFailureRatio => "VU failure ratio",
            Rule::RequestFailureRatio => "request failure ratio",
            Rule::DeliveryP99 => "delivery p99",
            Rule::DeliveryP99Missing => "delivery p99 lost to missing messages",
            Rule::NoDeliveries => "no deliveries measured",
            Rule::RequestP99 => "request p99",
            Rule::ReceiptP99 => "receipt p99",
            Rule::ReceiptP99Missing => "receipt p99 lost to missing receipts",
            Rule::Incomplete => "level cut short",
        }
    }
}

/// One rule a level broke, with the measured value and the limit it exceeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrokenRule {
    /// Which rule.
    pub rule: Rule,
    /// What was measured (unit per [`Rule`]).
    pub actual: f64,
    /// The limit it exceeded (unit per [`Rule`]).
    pub limit: f64,
}

impl fmt::Display for BrokenRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.rule.describe();
        match self.rule {
            Rule::VuFailureRatio | Rule::RequestFailureRatio => {
                let (a, l) = words::pct_pair(self.actual, self.limit);
                write!(f, "{name} {a} > {l}")
            }
            Rule::DeliveryP99 | Rule::RequestP99 | Rule::ReceiptP99 => {
                let (a, l) = words::ms_pair(self.actual, self.limit);
                write!(f, "{name} {a} > {l}")
            }
            Rule::DeliveryP99Missing => {
                let (a, l) = words::pct_pair(self.actual, self.limit);
                write!(f, "delivery p99 unbounded: {a} of deliveries missing > {l}")
            }
            Rule::ReceiptP99Missing => {
                let (a, l) = words::pct_pair(self.actual, self.limit);
                write!(
                    f,
                    "receipt p99 unbounded: {a} of read receipts missing > {l}"
                )
            }
            Rule::NoDeliveries => write!(
                f,
                "no delivery measured for {} messages sent",
                words::int(self.actual as u64)
            ),
            Rule::NoActiveUsers => f.write_str("no VU was active in the level"),
            Rule::Incomplete => f.write_str("the run ended before the level did"),
        }
    }
}

/// The figures of one level that rules and tie-breaks read, derived from its [`LevelRow`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelMeasures {
    /// VUs active in the level: running at its end plus those that failed during it. (VUs that
    /// finished cleanly during the level are not known and not counted, which can only raise the
    /// failure ratio.)
    pub vus_active: u64,
    /// VUs that failed during the level.
    pub vus_failed_in_level: u64,
    /// `vus_failed_in_level / vus_active` (0 when nobody was active).
    pub vu_failure_ratio: f64,
    /// VUs failed so far at the end of the level (cumulative).
    pub vus_failed: u64,
    /// VUs started so far without any failure, at the end of the level.
    pub vus_passed: u64,
    /// Successful requests in the level (delivered messages included, and receipts and reaction
    /// updates told in time when the rules count them).
    pub requests_ok: u64,
    /// Failed requests in the level (missing deliveries included, and missing receipts and reaction
    /// updates when the rules count them).
    pub requests_failed: u64,
    /// `requests_failed / (requests_ok + requests_failed)` (0 without requests).
    pub request_failure_ratio: f64,
    /// Deliveries expected in the level: delivered plus missing.
    pub deliveries_expected: u64,
    /// Deliveries found missing in the level.
    pub deliveries_missing: u64,
    /// Delivery p99 over every expected delivery, a missing one counting as infinitely late. `None`
    /// when that is unbounded: more than 1 % missing, or messages sent with no delivery measured.
    /// 0 for a level without chat traffic.
    pub delivery_p99_ms: Option<f64>,
    /// p99 of every other request in the level.
    pub request_p99_ms: f64,
    /// Read receipts expected in the level: told in time plus missing.
    #[serde(default)]
    pub receipts_expected: u64,
    /// Read receipts found missing in the level.
    #[serde(default)]
    pub receipts_missing: u64,
    /// Receipt p99 over every expected receipt, a missing one counting as infinitely late; `None`
    /// when unbounded (more than 1 % missing). 0 for a level without receipts.
    #[serde(default)]
    pub receipt_p99_ms: Option<f64>,
}

impl LevelMeasures {
    /// The value a tie-break criterion compares; `None` is unbounded (worse than any value).
    pub fn value(&self, criterion: TieBreak) -> Option<f64> {
        match criterion {
            TieBreak::VusFailed => Some(self.vus_failed as f64),
            TieBreak::RequestsFailed => Some(self.requests_failed as f64),
            TieBreak::RequestsOk => Some(self.requests_ok as f64),
            TieBreak::VusPassed => Some(self.vus_passed as f64),
            TieBreak::DeliveryP99 => self.delivery_p99_ms,
            TieBreak::RequestP99 => Some(self.request_p99_ms),
        }
    }
}

/// The judgement of one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelJudgement {
    /// The level's index in the plan ([`LevelRow::index`]).
    pub index: u32,
    /// Users the level aimed for.
    pub target_users: u32,
    /// True when the run ended before the level did.
    pub incomplete: bool,
    /// True when the level held: no rule broken.
    pub ok: bool,
    /// Every rule it broke, in [`Rule`] order.
    pub broken_rules: Vec<BrokenRule>,
    /// The figures the rules were applied to.
    pub measures: LevelMeasures,
}

impl LevelJudgement {
    /// The broken rules joined for a sentence: `VU failure ratio 3.2% > 1.0%, …`.
    pub fn broken_text(&self) -> String {
        let parts: Vec<String> = self.broken_rules.iter().map(|b| b.to_string()).collect();
        parts.join(", ")
    }
}

/// One team's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamScore {
    /// The primary score: users of the highest level sustained without problems (0 for none).
    pub sustained_users: u32,
    /// [`LevelRow::index`] of that level.
    pub sustained_level: Option<u32>,
    /// [`LevelRow::index`] of the level that capped the score: with contiguous levels the first
    /// level that broke, otherwise the first broken level above the sustained one. `None` when every
    /// level that mattered held.
    pub broke_at: Option<u32>,
    /// Every level's judgement, in plan order.
    pub levels: Vec<LevelJudgement>,
    /// True when the load generator reported itself as a possible bottleneck during the run.
    pub generator_bottleneck: bool,
    /// The generator's own words about it.
    pub generator_warnings: Vec<String>,
    /// True when the run was interrupted before the end of its plan.
    pub partial: bool,
    /// One line saying what the score is and which level and rule decided it.
    pub explanation: String,
}

impl TeamScore {
    /// The judgement of the level with plan index `index`.
    pub fn level(&self, index: u32) -> Option<&LevelJudgement> {
        self.levels.iter().find(|l| l.index == index)
    }
}

/// Scores one saved run. Pure: the same summary and rules always give the same score.
pub fn score(summary: &RunSummary, rules: &ScoringRules) -> TeamScore {
    let levels: Vec<LevelJudgement> = summary
        .levels
        .iter()
        .map(|row| judge_level(row, rules))
        .collect();
    // Positions into `levels` of the sustained level and of the level that capped it.
    let held = if rules.require_contiguous {
        let prefix = levels.iter().take_while(|l| l.ok).count();
        best(levels[..prefix].iter().enumerate())
    } else {
        best(levels.iter().enumerate().filter(|(_, l)| l.ok))
    };
    let sustained_users = held.map_or(0, |i| levels[i].target_users);
    let broke_at = levels.iter().position(|l| {
        !l.ok && (rules.require_contiguous || held.is_none() || l.target_users > sustained_users)
    });
    let explanation = explain(
        &levels,
        held.map(|i| &levels[i]),
        broke_at.map(|i| &levels[i]),
        rules,
        summary,
    );
    TeamScore {
        sustained_users,
        sustained_level: held.map(|i| levels[i].index),
        broke_at: broke_at.map(|i| levels[i].index),
        generator_bottleneck: summary.generator.bottleneck,
        generator_warnings: summary.generator.warnings.clone(),
        partial: summary.partial,
        explanation,
        levels,
    }
}

/// Position of the level with the most users; of equals (a ramp's top step and its hold) the last
/// one, so the sustained level says how far into the plan the team held.
fn best<'a>(levels: impl Iterator<Item = (usize, &'a LevelJudgement)>) -> Option<usize> {
    let mut best: Option<(usize, u32)> = None;
    for (i, l) in levels {
        if best.is_none_or(|(_, users)| l.target_users >= users) {
            best = Some((i, l.target_users));
        }
    }
    best.map(|(i, _)| i)
}

/// Judges one level against the rules.
pub fn judge_level(row: &LevelRow, rules: &ScoringRules) -> LevelJudgement {
    let m = measure(row, rules);
    let mut broken = Vec::new();
    let mut brk = |rule, actual, limit| {
        broken.push(BrokenRule {
            rule,
            actual,
            limit,
        })
    };
    if m.vus_active == 0 && row.target_users > 0 {
        brk(Rule::NoActiveUsers, 0.0, 1.0);
    }
    if m.vu_failure_ratio > rules.max_vu_failure_ratio {
        brk(
            Rule::VuFailureRatio,
            m.vu_failure_ratio,
            rules.max_vu_failure_ratio,
        );
    }
    if m.request_failure_ratio > rules.max_request_failure_ratio {
        brk(
            Rule::RequestFailureRatio,
            m.request_failure_ratio,
            rules.max_request_failure_ratio,
        );
    }
    match m.delivery_p99_ms {
        Some(p99) if p99 > rules.delivery_p99_slo_ms => {
            brk(Rule::DeliveryP99, p99, rules.delivery_p99_slo_ms)
        }
        Some(_) => {}
        None if m.deliveries_expected == 0 => {
            brk(Rule::NoDeliveries, row.messages_sent as f64, 0.0)
        }
        None => brk(
            Rule::DeliveryP99Missing,
            m.deliveries_missing as f64 / m.deliveries_expected as f64,
            (100 - DELIVERY_PERCENTILE) as f64 / 100.0,
        ),
    }
    if let Some(slo) = rules.request_p99_slo_ms
        && m.request_p99_ms > slo
    {
        brk(Rule::RequestP99, m.request_p99_ms, slo);
    }
    if let Some(slo) = rules.receipt_p99_slo_ms {
        match m.receipt_p99_ms {
            Some(p99) if p99 > slo => brk(Rule::ReceiptP99, p99, slo),
            Some(_) => {}
            None => brk(
                Rule::ReceiptP99Missing,
                m.receipts_missing as f64 / m.receipts_expected.max(1) as f64,
                (100 - DELIVERY_PERCENTILE) as f64 / 100.0,
            ),
        }
    }
    if row.incomplete && !rules.count_incomplete_levels {
        brk(Rule::Incomplete, 0.0, 0.0);
    }
    LevelJudgement {
        index: row.index,
        target_users: row.target_users,
        incomplete: row.incomplete,
        ok: broken.is_empty(),
        broken_rules: broken,
        measures: m,
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The figures of a level. `requests` already counts every expected delivery (the aggregator records
/// a delivered message as a successful request and a missing one as a failed request), so deliveries
/// are not added again here; receipts and reaction updates are added when the rules count them.
fn measure(row: &LevelRow, rules: &ScoringRules) -> LevelMeasures {
    let vus_active = row.users_active + row.vus_failed_in_level;
    let (mut ok, mut failed) = (row.requests.ok, row.requests.failed);
    if rules.count_receipts {
        ok += row.receipts + row.reaction_updates;
        failed += row.receipts_missing + row.reactions_missing;
    }
    let expected = row.deliveries + row.deliveries_missing;
    LevelMeasures {
        vus_active,
        vus_failed_in_level: row.vus_failed_in_level,
        vu_failure_ratio: ratio(row.vus_failed_in_level, vus_active),
        vus_failed: row.vus_failed,
        vus_passed: row.vus_passed,
        requests_ok: ok,
        requests_failed: failed,
        request_failure_ratio: ratio(failed, ok + failed),
        deliveries_expected: expected,
        deliveries_missing: row.deliveries_missing,
        delivery_p99_ms: delivery_p99(row),
        request_p99_ms: row.request_p99_ms,
        receipts_expected: row.receipts + row.receipts_missing,
        receipts_missing: row.receipts_missing,
        receipt_p99_ms: p99_with_missing(
            &row.receipt_histogram,
            row.receipts,
            row.receipts_missing,
            row.receipt_p99_ms,
        )
        .or((row.receipts + row.receipts_missing == 0).then_some(0.0)),
    }
}

/// Delivery p99 over every expected delivery of the level, a missing one counting as infinitely
/// late: the value at rank ⌈0.99·expected⌉ of the delivered latencies, or unbounded (`None`) when that
/// rank falls among the missing ones. Read from the level's histogram; a summary without one falls back
/// to the level's own p99 of delivered messages (which ignores missing ones below the 1 %).
fn delivery_p99(row: &LevelRow) -> Option<f64> {
    let hist = decode_hist(&row.delivery_histogram).filter(|h| !h.is_empty());
    let delivered = hist.as_ref().map_or(row.deliveries, |h| h.len());
    if delivered + row.deliveries_missing == 0 {
        // Nothing was expected: fine when nothing was sent, unmeasured (unbounded) otherwise.
        return if row.messages_sent == 0 {
            Some(0.0)
        } else {
            None
        };
    }
    p99_with_missing(
        &row.delivery_histogram,
        row.deliveries,
        row.deliveries_missing,
        row.delivery_p99_ms,
    )
}

/// The p99 over `delivered + missing` expected copies, a missing one counting as infinitely late:
/// the value at rank ⌈0.99·expected⌉ of the encoded histogram, `None` when that rank falls among the
/// missing ones (or nothing was expected). Without a histogram, `fallback` (the p99 of the delivered
/// ones only) stands in when the rank is among them.
fn p99_with_missing(encoded: &str, delivered: u64, missing: u64, fallback: f64) -> Option<f64> {
    let hist = decode_hist(encoded).filter(|h| !h.is_empty());
    let delivered = hist.as_ref().map_or(delivered, |h| h.len());
    let expected = delivered + missing;
    if expected == 0 {
        return None;
    }
    let rank = (expected * DELIVERY_PERCENTILE).div_ceil(100).max(1);
    if rank > delivered {
        return None;
    }
    let Some(hist) = hist else {
        return Some(fallback);
    };
    let mut seen = 0;
    for v in hist.iter_recorded() {
        seen += v.count_at_value();
        if seen >= rank {
            return Some(hist.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0);
        }
    }
    Some(hist.max() as f64 / 1000.0)
}

fn users(n: u32) -> String {
    format!("{} users", words::int(u64::from(n)))
}

/// The one-line explanation of a score.
fn explain(
    levels: &[LevelJudgement],
    held: Option<&LevelJudgement>,
    broke: Option<&LevelJudgement>,
    rules: &ScoringRules,
    summary: &RunSummary,
) -> String {
    let mut text = match (held, broke) {
        (_, _) if levels.is_empty() => "no user level was measured".to_string(),
        (None, Some(b)) => format!(
            "sustained no level: the first level ({}) broke: {}",
            users(b.target_users),
            b.broken_text()
        ),
        (None, None) => "sustained no level".to_string(),
        (Some(h), Some(b)) => {
            let head = format!("sustained {} without problems", users(h.target_users));
            let why = if b.broken_rules.iter().all(|r| r.rule == Rule::Incomplete) {
                format!(
                    "the {}-user level was cut short by the end of the run",
                    words::int(u64::from(b.target_users))
                )
            } else {
                format!(
                    "the {}-user level broke: {}",
                    words::int(u64::from(b.target_users)),
                    b.broken_text()
                )
            };
            format!("{head}; {why}")
        }
        (Some(h), None) => {
            let held_count = levels.iter().filter(|l| l.ok).count();
            if held_count == levels.len() {
                format!(
                    "sustained {} without problems: all {} levels held",
                    users(h.target_users),
                    levels.len()
                )
            } else {
                format!(
                    "sustained {} without problems: the highest of {} levels that held",
                    users(h.target_users),
                    held_count
                )
            }
        }
    };
    if !rules.require_contiguous
        && let Some(h) = held
        && let Some(first) = levels
            .iter()
            .find(|l| !l.ok && l.target_users < h.target_users)
    {
        text.push_str(&format!(
            " (levels need not be contiguous; {}-user level broke earlier: {})",
            words::int(u64::from(first.target_users)),
            first.broken_text()
        ));
    }
    if summary.partial {
        text.push_str(" [partial run]");
    }
    if summary.generator.bottleneck {
        text.push_str(" [load generator may have been the bottleneck]");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::testkit::{Lvl, hist_of, summary};

    fn rules() -> ScoringRules {
        ScoringRules::default()
    }

    fn one(l: Lvl) -> LevelJudgement {
        judge_level(&l.row(0), &rules())
    }

    fn broken(j: &LevelJudgement) -> Vec<Rule> {
        j.broken_rules.iter().map(|b| b.rule).collect()
    }

    #[test]
    fn clean_level_holds() {
        let j = one(Lvl::clean(1000));
        assert!(j.ok, "{:?}", j.broken_rules);
        assert_eq!(j.target_users, 1000);
    }

    #[test]
    fn vu_failure_ratio_is_failed_over_active_in_level() {
        // 10 failed of (990 still running + 10 failed) = 1.0 %: within the limit.
        let at_limit = one(Lvl {
            active: 990,
            failed_in_level: 10,
            ..Lvl::clean(1000)
        });
        assert!(at_limit.ok, "{:?}", at_limit.broken_rules);
        assert_eq!(at_limit.measures.vu_failure_ratio, 0.01);
        let over = one(Lvl {
            active: 989,
            failed_in_level: 11,
            ..Lvl::clean(1000)
        });
        assert_eq!(broken(&over), vec![Rule::VuFailureRatio]);
        assert_eq!(
            over.broken_rules[0].to_string(),
            "VU failure ratio 1.1% > 1.0%"
        );
    }

    #[test]
    fn request_failure_ratio_counts_lost_messages() {
        // 10,000 requests of which 9,950 ok; 50 failed, all of them lost deliveries: 0.5 % holds.
        let fine = one(Lvl {
            ok: 9950,
            failed: 50,
            missing: 50,
            delivered: 9000,
            ..Lvl::clean(1000)
        });
        assert!(!broken(&fine).contains(&Rule::RequestFailureRatio));
        let bad = one(Lvl {
            ok: 9800,
            failed: 200,
            ..Lvl::clean(1000)
        });
        assert_eq!(broken(&bad), vec![Rule::RequestFailureRatio]);
        assert_eq!(
            bad.broken_rules[0].to_string(),
            "request failure ratio 2.0% > 1.0%"
        );
    }

    #[test]
    fn receipts_are_judged_only_when_the_rules_say_so() {
        // 1,000 receipts expected, 150 missing, the rest told in 3 s; 100 reaction updates, 10
        // missing.
        let mut row = Lvl::clean(1000).row(0);
        let mut h = crate::base::hist::Hist::new(3).unwrap();
        h.record_n(3_000_000, 850).unwrap();
        row.receipts = 850;
        row.receipts_missing = 150;
        row.receipt_histogram = crate::base::hist::encode_hist(&h);
        row.reaction_updates = 90;
        row.reactions_missing = 10;
        let lenient = judge_level(&row, &rules());
        assert!(lenient.ok, "{:?}", lenient.broken_rules);
        assert_eq!(lenient.measures.requests_failed, 0);
        assert_eq!(lenient.measures.receipts_missing, 150);

        let counted = ScoringRules {
            count_receipts: true,
            ..rules()
        };
        let j = judge_level(&row, &counted);
        assert_eq!(j.measures.requests_failed, 160);
        assert_eq!(j.measures.requests_ok, 10_000 + 850 + 90);
        assert_eq!(broken(&j), vec![Rule::RequestFailureRatio]);

        let slo = ScoringRules {
            receipt_p99_slo_ms: Some(2000.0),
            ..rules()
        };
        let j = judge_level(&row, &slo);
        assert_eq!(broken(&j), vec![Rule::ReceiptP99Missing], "15 % missing");
        assert_eq!(
            j.broken_rules[0].to_string(),
            "receipt p99 unbounded: 15.0% of read receipts missing > 1.0%"
        );
        row.receipts_missing = 5;
        let j = judge_level(&row, &slo);
        assert_eq!(broken(&j), vec![Rule::ReceiptP99]);
        assert!(j.broken_rules[0].to_string().starts_with("receipt p99 3,0"));
        row.receipts = 0;
        row.receipts_missing = 0;
        row.receipt_histogram.clear();
        assert!(judge_level(&row, &slo).ok, "no receipts, nothing to judge");
    }

    #[test]
    fn delivery_p99_over_slo_breaks() {
        let mut lat = vec![20_000u64; 990];
        lat.extend([1_500_000u64; 10]); // 1 % at 1.5 s: p99 is still 20 ms
        let fine = one(Lvl::with_deliveries(1000, &lat, 0));
        assert!(fine.ok, "{:?}", fine.broken_rules);
        assert!((fine.measures.delivery_p99_ms.unwrap() - 20.0).abs() < 0.1);
        lat.push(1_500_000); // now 11 of 1001 are slow: p99 lands on 1.5 s
        let slow = one(Lvl::with_deliveries(1000, &lat, 0));
        assert_eq!(broken(&slow), vec![Rule::DeliveryP99]);
        assert!(
            slow.broken_rules[0]
                .to_string()
                .starts_with("delivery p99 1,50"),
            "{}",
            slow.broken_rules[0]
        );
    }

    #[test]
    fn missing_deliveries_count_as_infinitely_late() {
        let lat = vec![5_000u64; 980];
        // 980 delivered fast, 20 missing: 2 % missing, so the p99 is a lost message.
        let j = one(Lvl::with_deliveries(1000, &lat, 20));
        assert_eq!(j.measures.delivery_p99_ms, None);
        assert!(broken(&j).contains(&Rule::DeliveryP99Missing));
        let b = j
            .broken_rules
            .iter()
            .find(|b| b.rule == Rule::DeliveryP99Missing)
            .unwrap();
        assert_eq!(
            b.to_string(),
            "delivery p99 unbounded: 2.0% of deliveries missing > 1.0%"
        );
        // 990 delivered and 10 missing is exactly 1 %: the p99 is the slowest delivered message.
        let lat = vec![5_000u64; 990];
        let j = one(Lvl::with_deliveries(1000, &lat, 10));
        assert!(j.measures.delivery_p99_ms.is_some());
        assert!(!broken(&j).contains(&Rule::DeliveryP99Missing));
    }

    #[test]
    fn chat_traffic_without_deliveries_breaks() {
        let j = one(Lvl {
            sent: 300,
            delivered: 0,
            missing: 0,
            hist: Vec::new(),
            ..Lvl::clean(1000)
        });
        assert_eq!(broken(&j), vec![Rule::NoDeliveries]);
        assert_eq!(
            j.broken_rules[0].to_string(),
            "no delivery measured for 300 messages sent"
        );
        // Without chat traffic there is nothing to deliver, and nothing breaks.
        let quiet = one(Lvl {
            sent: 0,
            delivered: 0,
            hist: Vec::new(),
            ..Lvl::clean(1000)
        });
        assert!(quiet.ok);
        assert_eq!(quiet.measures.delivery_p99_ms, Some(0.0));
    }

    #[test]
    fn summary_without_histogram_falls_back_to_the_level_p99() {
        let mut row = Lvl::clean(100).row(0);
        row.delivery_histogram.clear();
        row.delivery_p99_ms = 1234.0;
        let j = judge_level(&row, &rules());
        assert_eq!(j.measures.delivery_p99_ms, Some(1234.0));
        assert_eq!(broken(&j), vec![Rule::DeliveryP99]);
    }

    #[test]
    fn request_p99_slo_applies_only_when_set() {
        let l = Lvl {
            request_p99: 5000.0,
            ..Lvl::clean(100)
        };
        assert!(one(l.clone()).ok);
        let strict = ScoringRules {
            request_p99_slo_ms: Some(2000.0),
            ..rules()
        };
        let j = judge_level(&l.row(0), &strict);
        assert_eq!(broken(&j), vec![Rule::RequestP99]);
        assert_eq!(
            j.broken_rules[0].to_string(),
            "request p99 5,000 ms > 2,000 ms"
        );
    }

    #[test]
    fn nobody_active_breaks() {
        let j = one(Lvl {
            active: 0,
            failed_in_level: 0,
            ..Lvl::clean(100)
        });
        assert_eq!(broken(&j), vec![Rule::NoActiveUsers]);
    }

    #[test]
    fn incomplete_levels_count_only_when_allowed() {
        let l = Lvl {
            incomplete: true,
            ..Lvl::clean(100)
        };
        assert_eq!(broken(&one(l.clone())), vec![Rule::Incomplete]);
        let lenient = ScoringRules {
            count_incomplete_levels: true,
            ..rules()
        };
        assert!(judge_level(&l.row(0), &lenient).ok);
    }

    #[test]
    fn sustained_is_the_last_level_of_the_unbroken_prefix() {
        let s = summary(vec![
            Lvl::clean(100),
            Lvl::clean(200),
            Lvl::vu_failures(300, 10),
            Lvl::clean(400),
        ]);
        let t = score(&s, &rules());
        assert_eq!(t.sustained_users, 200);
        assert_eq!(t.sustained_level, Some(1));
        assert_eq!(t.broke_at, Some(2));
        assert_eq!(
            t.explanation,
            "sustained 200 users without problems; the 300-user level broke: \
             VU failure ratio 3.3% > 1.0%"
        );
        // Not contiguous: the 400-user level counts.
        let loose = ScoringRules {
            require_contiguous: false,
            ..rules()
        };
        let t = score(&s, &loose);
        assert_eq!(t.sustained_users, 400);
        assert_eq!(t.broke_at, None);
        assert!(
            t.explanation.contains("300-user level broke earlier"),
            "{}",
            t.explanation
        );
    }

    #[test]
    fn every_level_held() {
        let s = summary(vec![Lvl::clean(100), Lvl::clean(200)]);
        let t = score(&s, &rules());
        assert_eq!(t.sustained_users, 200);
        assert_eq!(t.broke_at, None);
        assert_eq!(
            t.explanation,
            "sustained 200 users without problems: all 2 levels held"
        );
    }

    #[test]
    fn first_level_broken_scores_zero() {
        let s = summary(vec![Lvl::vu_failures(100, 50), Lvl::clean(200)]);
        let t = score(&s, &rules());
        assert_eq!(t.sustained_users, 0);
        assert_eq!(t.sustained_level, None);
        assert_eq!(t.broke_at, Some(0));
        assert!(
            t.explanation
                .starts_with("sustained no level: the first level (100 users) broke"),
            "{}",
            t.explanation
        );
        assert_eq!(
            score(&summary(vec![]), &rules()).explanation,
            "no user level was measured"
        );
    }

    #[test]
    fn cut_short_level_is_explained_as_such() {
        let mut s = summary(vec![
            Lvl::clean(100),
            Lvl {
                incomplete: true,
                ..Lvl::clean(200)
            },
        ]);
        s.partial = true;
        let t = score(&s, &rules());
        assert_eq!(t.sustained_users, 100);
        assert!(t.partial);
        assert_eq!(
            t.explanation,
            "sustained 100 users without problems; the 200-user level was cut short by the end \
             of the run [partial run]"
        );
    }

    #[test]
    fn generator_bottleneck_is_carried_into_the_score() {
        let mut s = summary(vec![Lvl::clean(100)]);
        s.generator.bottleneck = true;
        s.generator.warnings = vec!["CPU at 99% of 2 cores".into()];
        let t = score(&s, &rules());
        assert!(t.generator_bottleneck);
        assert_eq!(
            t.generator_warnings,
            vec!["CPU at 99% of 2 cores".to_string()]
        );
        assert!(
            t.explanation
                .ends_with("[load generator may have been the bottleneck]")
        );
    }

    #[test]
    fn histogram_rank_matches_hdr_p99_without_missing() {
        let lat: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        let h = hist_of(&lat);
        let j = one(Lvl::with_deliveries(1000, &lat, 0));
        let hdr = h.value_at_quantile(0.99) as f64 / 1000.0;
        assert_eq!(j.measures.delivery_p99_ms, Some(hdr));
    }
}

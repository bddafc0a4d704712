//! A match verdict: teams ranked by sustained users, ties broken at equal user levels, one sentence
//! saying which level and rule decided it, and whether the match is void.
//!
//! [`judge`] scores each team's saved [`RunSummary`] and ranks them; [`judge_scores`] ranks scores
//! already computed. Both are pure and do not depend on the order teams are listed in. What happens
//! to a verdict in a bracket is [`bracket`](super::bracket).
//!
//! # Ranking
//! 1. More sustained users ranks higher.
//! 2. Teams with equal sustained users (a *tie group*) are compared at the user levels every one of
//!    them completed (complete levels, or incomplete ones too when the rules count them), matched by
//!    user count, from the highest down. At each level the [`ScoringRules::tie_break`] criteria are
//!    compared in order; the first difference decides.
//! 3. Teams equal on all of that share a rank; nothing else (not the order they were listed in)
//!    separates them.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::rules::{ScoringRules, TieBreak};
use super::score::{LevelJudgement, LevelMeasures, TeamScore, score};
use super::words;
use crate::base::summary::RunSummary;

/// One team's place in a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    /// 1-based; teams equal on everything share a rank (1, 1, 3).
    pub rank: u32,
    /// Team name.
    pub team: String,
    /// The team's score.
    pub score: TeamScore,
    /// Why the team is below the one listed before it (or that it ties with it); `None` for the
    /// first.
    pub behind: Option<String>,
}

/// What decided a match, for machines; [`MatchVerdict::reason`] says it for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decision {
    /// Nobody played.
    NoTeams,
    /// One team played; it wins by default.
    Uncontested,
    /// The match is void (see [`MatchVerdict::void`]).
    Void,
    /// The winner sustained more users than the runner-up.
    Sustained {
        /// Winner's sustained users.
        users: u32,
        /// Runner-up's sustained users.
        runner_up_users: u32,
    },
    /// Equal sustained users; a tie-break at a user level both completed decided.
    TieBreak {
        /// Sustained users of both.
        users: u32,
        /// User count of the level where the criterion differed.
        level_users: u32,
        /// The criterion that differed.
        criterion: TieBreak,
        /// Winner's value (`None`: unbounded).
        winner_value: Option<f64>,
        /// Runner-up's value (`None`: unbounded).
        runner_up_value: Option<f64>,
    },
    /// The top teams are equal on everything the rules compare.
    Tie {
        /// Sustained users of the tied teams.
        users: u32,
    },
}

/// The verdict of one match. Serialized into `match.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchVerdict {
    /// Every team, best first; equal ranks are listed by name.
    pub ranking: Vec<Ranked>,
    /// The winner; `None` when the match is void, a tie, or had no teams.
    pub winner: Option<String>,
    /// Why the match is void, when it is. A void match has no winner and can be replayed; its
    /// ranking is kept for information only.
    pub void: Option<String>,
    /// What decided it.
    pub decision: Decision,
    /// One sentence naming the deciding level and rule.
    pub reason: String,
    /// The rules it was judged by.
    pub rules: ScoringRules,
}

impl MatchVerdict {
    /// The rank entry of `team`.
    pub fn team(&self, team: &str) -> Option<&Ranked> {
        self.ranking.iter().find(|r| r.team == team)
    }
}

/// Scores every team's run and ranks them. Team names should be unique.
pub fn judge(teams: &[(String, RunSummary)], rules: &ScoringRules) -> MatchVerdict {
    let scored = teams
        .iter()
        .map(|(name, summary)| (name.clone(), score(summary, rules)))
        .collect();
    judge_scores(scored, rules)
}

/// Ranks teams already scored with `rules` (e.g. scores read back from a `match.json`).
pub fn judge_scores(teams: Vec<(String, TeamScore)>, rules: &ScoringRules) -> MatchVerdict {
    let ranking = rank(teams, rules);
    let void = void_reason(&ranking, rules);
    let (decision, reason, winner) = match ranking.as_slice() {
        [] => (Decision::NoTeams, "no teams played".to_string(), None),
        _ if void.is_some() => (
            Decision::Void,
            format!(
                "void: {}; replay the match",
                void.as_deref().unwrap_or_default()
            ),
            None,
        ),
        [only] => (
            Decision::Uncontested,
            format!("{} wins uncontested: {}", only.team, only.score.explanation),
            Some(only.team.clone()),
        ),
        [first, second, ..] => {
            let levels = common_levels(
                ranking
                    .iter()
                    .filter(|r| r.score.sustained_users == first.score.sustained_users)
                    .map(|r| &r.score),
                rules,
            );
            let cmp = explain_pair(first, second, &levels, rules);
            if matches!(cmp.decision, Decision::Tie { .. }) {
                let tied: Vec<&str> = ranking
                    .iter()
                    .filter(|r| r.rank == 1)
                    .map(|r| r.team.as_str())
                    .collect();
                let reason = format!("{} tie: {}", join_names(&tied), cmp.text);
                (cmp.decision, reason, None)
            } else {
                let reason = format!("{} wins: {}", first.team, cmp.text);
                (cmp.decision, reason, Some(first.team.clone()))
            }
        }
    };
    MatchVerdict {
        ranking,
        winner,
        void,
        decision,
        reason,
        rules: rules.clone(),
    }
}

/// Orders teams and fills in ranks and `behind` sentences.
fn rank(teams: Vec<(String, TeamScore)>, rules: &ScoringRules) -> Vec<Ranked> {
    let mut by_users: BTreeMap<u32, Vec<(String, TeamScore)>> = BTreeMap::new();
    for (name, s) in teams {
        by_users
            .entry(s.sustained_users)
            .or_default()
            .push((name, s));
    }
    let mut out: Vec<Ranked> = Vec::new();
    // Highest sustained users first; within a tie group, by the tie-break key, then by name.
    for (_, group) in by_users.into_iter().rev() {
        let levels = common_levels(group.iter().map(|(_, s)| s), rules);
        let mut keyed: Vec<(Vec<f64>, String, TeamScore)> = group
            .into_iter()
            .map(|(name, s)| (key(&s, &levels, rules), name, s))
            .collect();
        keyed.sort_by(|a, b| cmp_key(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
        let first_of_group = out.len();
        for (i, (k, name, s)) in keyed.iter().enumerate() {
            let tied_with_prev = i > 0 && cmp_key(&keyed[i - 1].0, k) == Ordering::Equal;
            let rank = if tied_with_prev {
                out[first_of_group + i - 1].rank
            } else {
                out.len() as u32 + 1
            };
            let behind = out.last().map(|prev: &Ranked| {
                let levels = if i == 0 { Vec::new() } else { levels.clone() };
                let cmp = explain_pair(
                    prev,
                    &Ranked {
                        rank,
                        team: name.clone(),
                        score: s.clone(),
                        behind: None,
                    },
                    &levels,
                    rules,
                );
                if tied_with_prev {
                    format!("tied with {}: {}", prev.team, cmp.text)
                } else {
                    format!("below {}: {}", prev.team, cmp.text)
                }
            });
            out.push(Ranked {
                rank,
                team: name.clone(),
                score: s.clone(),
                behind,
            });
        }
    }
    out
}

/// A level as matched between teams: its user count and which occurrence of that count it is in
/// the team's plan (a ramp's top step and its hold share a count).
type LevelKey = (u32, u32);

/// The levels of a score that tie-breaks may compare, with their keys.
fn comparable<'a>(s: &'a TeamScore, rules: &ScoringRules) -> Vec<(LevelKey, &'a LevelJudgement)> {
    let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
    let mut out = Vec::new();
    for l in &s.levels {
        let n = seen.entry(l.target_users).or_default();
        *n += 1;
        if !l.incomplete || rules.count_incomplete_levels {
            out.push(((l.target_users, *n), l));
        }
    }
    out
}

/// Keys of the levels every one of `scores` can compare, highest first.
fn common_levels<'a>(
    scores: impl Iterator<Item = &'a TeamScore>,
    rules: &ScoringRules,
) -> Vec<LevelKey> {
    let mut common: Option<BTreeSet<LevelKey>> = None;
    for s in scores {
        let keys: BTreeSet<LevelKey> = comparable(s, rules).into_iter().map(|(k, _)| k).collect();
        common = Some(match common {
            None => keys,
            Some(c) => c.intersection(&keys).copied().collect(),
        });
    }
    common.unwrap_or_default().into_iter().rev().collect()
}

fn measures_at<'a>(s: &'a TeamScore, key: LevelKey, rules: &ScoringRules) -> &'a LevelMeasures {
    comparable(s, rules)
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| &l.measures)
        .expect("common levels are comparable in every score of the group")
}

/// A criterion's value oriented so that smaller is better: negated where more is better,
/// unbounded as +∞. `0.0 - v` rather than `-v` so that zero stays +0.0 for `total_cmp`.
fn badness(m: &LevelMeasures, criterion: TieBreak) -> f64 {
    match m.value(criterion) {
        None => f64::INFINITY,
        Some(v) if criterion.higher_is_better() => 0.0 - v,
        Some(v) => v,
    }
}

/// The tie-break key of a team: for each common level from the top, each criterion in order.
fn key(s: &TeamScore, levels: &[LevelKey], rules: &ScoringRules) -> Vec<f64> {
    let mut k = Vec::with_capacity(levels.len() * rules.tie_break.len());
    for &level in levels {
        let m = measures_at(s, level, rules);
        k.extend(rules.tie_break.iter().map(|&c| badness(m, c)));
    }
    k
}

fn cmp_key(a: &[f64], b: &[f64]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.total_cmp(y))
        .find(|o| o.is_ne())
        .unwrap_or_else(|| a.len().cmp(&b.len()))
}

struct PairExplanation {
    decision: Decision,
    text: String,
}

/// Why `upper` ranks above (or ties with) `lower`, comparing at `levels` when their sustained users
/// are equal.
fn explain_pair(
    upper: &Ranked,
    lower: &Ranked,
    levels: &[LevelKey],
    rules: &ScoringRules,
) -> PairExplanation {
    let (u, l) = (&upper.score, &lower.score);
    if u.sustained_users != l.sustained_users {
        return PairExplanation {
            decision: Decision::Sustained {
                users: u.sustained_users,
                runner_up_users: l.sustained_users,
            },
            text: format!(
                "sustained {} users without problems vs {} {} ({})",
                words::int(u64::from(u.sustained_users)),
                lower.team,
                words::int(u64::from(l.sustained_users)),
                capped_by(&lower.team, l)
            ),
        };
    }
    let users = u.sustained_users;
    let at = if users == 0 {
        "tie with no level sustained".to_string()
    } else {
        format!("tie at {} users", words::int(u64::from(users)))
    };
    for &level in levels {
        let (mu, ml) = (measures_at(u, level, rules), measures_at(l, level, rules));
        for &c in &rules.tie_break {
            if badness(mu, c).total_cmp(&badness(ml, c)).is_ne() {
                return PairExplanation {
                    decision: Decision::TieBreak {
                        users,
                        level_users: level.0,
                        criterion: c,
                        winner_value: mu.value(c),
                        runner_up_value: ml.value(c),
                    },
                    text: format!(
                        "{at} broken by {} at equal user levels: {} at the {}-user level",
                        c.family(),
                        compare_values(c, &upper.team, mu.value(c), &lower.team, ml.value(c)),
                        words::int(u64::from(level.0)),
                    ),
                };
            }
        }
    }
    let each = if users == 0 {
        "sustained no level".to_string()
    } else {
        format!("sustained {} users each", words::int(u64::from(users)))
    };
    let text = if levels.is_empty() {
        format!("{each}, with no user level completed by all of them to compare")
    } else {
        format!(
            "{each} and equal on every tie-break ({}) at every user level all of them completed",
            rules
                .tie_break
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    PairExplanation {
        decision: Decision::Tie { users },
        text,
    }
}

/// What capped a lower score, for the parenthesis of a verdict.
fn capped_by(team: &str, s: &TeamScore) -> String {
    let level =
        |l: &LevelJudgement| format!("{}-user level", words::int(u64::from(l.target_users)));
    match s.broke_at.and_then(|i| s.level(i)) {
        Some(b)
            if b.broken_rules
                .iter()
                .all(|r| r.rule == super::Rule::Incomplete) =>
        {
            format!("{team}'s {} was cut short by the end of the run", level(b))
        }
        Some(b) => format!("{team}'s {} broke: {}", level(b), b.broken_text()),
        None => match s.levels.last() {
            Some(last) => format!("{team}'s run ended after its {}", level(last)),
            None => format!("{team} measured no level"),
        },
    }
}

/// `alpha 12 failed VUs vs beta 40`, `alpha delivery p99 120 ms vs beta 340 ms`.
fn compare_values(c: TieBreak, a: &str, va: Option<f64>, b: &str, vb: Option<f64>) -> String {
    let count = |v: Option<f64>| words::int(v.unwrap_or(0.0) as u64);
    match c {
        TieBreak::VusFailed => format!("{a} {} failed VUs vs {b} {}", count(va), count(vb)),
        TieBreak::RequestsFailed => {
            format!("{a} {} failed requests vs {b} {}", count(va), count(vb))
        }
        TieBreak::RequestsOk => {
            format!("{a} {} successful requests vs {b} {}", count(va), count(vb))
        }
        TieBreak::VusPassed => format!("{a} {} passed VUs vs {b} {}", count(va), count(vb)),
        TieBreak::DeliveryP99 | TieBreak::RequestP99 => {
            let name = if c == TieBreak::DeliveryP99 {
                "delivery p99"
            } else {
                "request p99"
            };
            let unbounded = "unbounded (messages lost or unmeasured)";
            let (x, y) = match (va, vb) {
                (Some(x), Some(y)) => words::ms_pair(x, y),
                (Some(x), None) => (words::ms_pair(x, x).0, unbounded.to_string()),
                (None, Some(y)) => (unbounded.to_string(), words::ms_pair(y, y).0),
                (None, None) => (unbounded.to_string(), unbounded.to_string()),
            };
            format!("{a} {name} {x} vs {b} {y}")
        }
    }
}

fn join_names(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Why the match is void under the rules, if it is.
fn void_reason(ranking: &[Ranked], rules: &ScoringRules) -> Option<String> {
    let mut parts = Vec::new();
    if rules.void_on_generator_bottleneck {
        let teams: Vec<&str> = ranking
            .iter()
            .filter(|r| r.score.generator_bottleneck)
            .map(|r| r.team.as_str())
            .collect();
        if !teams.is_empty() {
            let warnings: BTreeSet<&str> = ranking
                .iter()
                .filter(|r| r.score.generator_bottleneck)
                .flat_map(|r| r.score.generator_warnings.iter().map(String::as_str))
                .collect();
            let mut text = format!(
                "the load generator may have been the bottleneck during the run of {}",
                join_names(&teams)
            );
            if !warnings.is_empty() {
                text.push_str(&format!(
                    " ({})",
                    warnings.into_iter().collect::<Vec<_>>().join("; ")
                ));
            }
            parts.push(text);
        }
    }
    if rules.void_on_partial_run {
        let teams: Vec<&str> = ranking
            .iter()
            .filter(|r| r.score.partial)
            .map(|r| r.team.as_str())
            .collect();
        if !teams.is_empty() {
            parts.push(format!(
                "the run of {} was interrupted before the end of its plan",
                join_names(&teams)
            ));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::testkit::{Lvl, summary};

    fn rules() -> ScoringRules {
        ScoringRules::default()
    }

    fn ramp(top: u32, f: impl Fn(u32) -> Lvl) -> RunSummary {
        summary((1..=top / 100).map(|i| f(i * 100)).collect())
    }

    fn team(name: &str, s: RunSummary) -> (String, RunSummary) {
        (name.to_string(), s)
    }

    #[test]
    fn more_sustained_users_wins_and_says_which_level_broke() {
        let alpha = ramp(2500, |u| {
            if u == 2500 {
                Lvl::vu_failures(u, 100)
            } else {
                Lvl::clean(u)
            }
        });
        let beta = ramp(2500, |u| {
            if u >= 2000 {
                Lvl::vu_failures(u, u64::from(u) * 32 / 1000)
            } else {
                Lvl::clean(u)
            }
        });
        let v = judge(&[team("beta", beta), team("alpha", alpha)], &rules());
        assert_eq!(v.winner.as_deref(), Some("alpha"));
        assert_eq!(
            v.decision,
            Decision::Sustained {
                users: 2400,
                runner_up_users: 1900
            }
        );
        assert_eq!(
            v.reason,
            "alpha wins: sustained 2,400 users without problems vs beta 1,900 \
             (beta's 2,000-user level broke: VU failure ratio 3.2% > 1.0%)"
        );
        assert_eq!(v.ranking[0].rank, 1);
        assert_eq!(v.ranking[1].rank, 2);
        assert!(
            v.ranking[1]
                .behind
                .as_deref()
                .unwrap()
                .starts_with("below alpha: sustained 2,400 users"),
            "{:?}",
            v.ranking[1].behind
        );
    }

    /// Both teams hold 3,000 users, then both break at 3,100–3,400 (2 % of requests fail) while
    /// losing `failed` VUs per level: the competition final's situation.
    fn final_at_3400(failed: u64) -> RunSummary {
        ramp(3400, |u| {
            if u > 3000 {
                Lvl {
                    ok: u64::from(u) * 10 - u64::from(u) / 5,
                    failed: u64::from(u) / 5,
                    ..Lvl::vu_failures(u, failed)
                }
            } else {
                Lvl::clean(u)
            }
        })
    }

    #[test]
    fn tie_broken_by_failed_vus_at_the_highest_common_level() {
        let v = judge(
            &[
                team("beta", final_at_3400(10)),
                team("alpha", final_at_3400(3)),
            ],
            &rules(),
        );
        assert_eq!(v.winner.as_deref(), Some("alpha"));
        // Cumulative VU failures at 3,400 users: 4 levels × 3 vs 4 × 10.
        assert_eq!(
            v.reason,
            "alpha wins: tie at 3,000 users broken by failures at equal user levels: \
             alpha 12 failed VUs vs beta 40 at the 3,400-user level"
        );
        assert_eq!(
            v.decision,
            Decision::TieBreak {
                users: 3000,
                level_users: 3400,
                criterion: TieBreak::VusFailed,
                winner_value: Some(12.0),
                runner_up_value: Some(40.0),
            }
        );
    }

    #[test]
    fn tie_break_compares_only_levels_every_tied_team_completed() {
        // beta's run was cut short in its 3,400-user level, where it did badly; alpha's was not.
        // The comparison happens at 3,300 users, where alpha failed more.
        let alpha = final_at_3400(5);
        let mut beta = final_at_3400(3);
        let top = beta.levels.last_mut().unwrap();
        top.incomplete = true;
        top.vus_failed += 500;
        let v = judge(
            &[team("alpha", alpha), team("beta", beta)],
            &ScoringRules {
                void_on_partial_run: false,
                ..rules()
            },
        );
        assert_eq!(v.winner.as_deref(), Some("beta"), "{}", v.reason);
        assert!(
            v.reason.ends_with("at the 3,300-user level"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn then_request_failures_then_successes() {
        let base = |failed: u64, ok: u64| {
            ramp(300, |u| Lvl {
                failed,
                ok,
                ..Lvl::clean(u)
            })
        };
        let v = judge(
            &[team("a", base(5, 3000)), team("b", base(7, 3000))],
            &rules(),
        );
        assert_eq!(v.winner.as_deref(), Some("a"));
        assert!(
            v.reason
                .contains("broken by failures at equal user levels: a 5 failed requests vs b 7"),
            "{}",
            v.reason
        );
        let v = judge(
            &[team("a", base(5, 3000)), team("b", base(5, 3100))],
            &rules(),
        );
        assert_eq!(v.winner.as_deref(), Some("b"));
        assert!(
            v.reason.contains(
                "broken by successes at equal user levels: b 3,100 successful requests vs a 3,000"
            ),
            "{}",
            v.reason
        );
    }

    #[test]
    fn then_delivery_latency_then_request_latency() {
        let with = |delivery_us: u64, request_p99: f64| {
            ramp(200, |u| Lvl {
                hist: vec![(delivery_us, u64::from(u) * 9)],
                request_p99,
                ..Lvl::clean(u)
            })
        };
        let v = judge(
            &[team("a", with(30_000, 10.0)), team("b", with(20_000, 99.0))],
            &rules(),
        );
        assert_eq!(v.winner.as_deref(), Some("b"));
        assert!(
            v.reason.contains(
                "broken by latency at equal user levels: b delivery p99 20.0 ms vs a 30.0 ms"
            ),
            "{}",
            v.reason
        );
        let v = judge(
            &[team("a", with(20_000, 10.0)), team("b", with(20_000, 99.0))],
            &rules(),
        );
        assert_eq!(v.winner.as_deref(), Some("a"));
        assert!(
            v.reason.contains("a request p99 10.0 ms vs b 99.0 ms"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn tie_break_order_is_configurable() {
        // a failed more VUs, b is slower: the default order picks b, latency first picks a.
        let a = ramp(200, |u| Lvl {
            hist: vec![(10_000, u64::from(u) * 9)],
            ..Lvl::vu_failures(u, 1)
        });
        let b = ramp(200, |u| Lvl {
            hist: vec![(90_000, u64::from(u) * 9)],
            ..Lvl::clean(u)
        });
        let teams = [team("a", a), team("b", b)];
        assert_eq!(judge(&teams, &rules()).winner.as_deref(), Some("b"));
        let latency_first = ScoringRules {
            tie_break: vec![TieBreak::DeliveryP99, TieBreak::VusFailed],
            ..rules()
        };
        assert_eq!(judge(&teams, &latency_first).winner.as_deref(), Some("a"));
        let none = ScoringRules {
            tie_break: vec![],
            ..rules()
        };
        let v = judge(&teams, &none);
        assert_eq!(v.winner, None);
        assert_eq!(v.decision, Decision::Tie { users: 200 });
    }

    #[test]
    fn equal_on_everything_is_a_tie_with_shared_rank() {
        let v = judge(
            &[
                team("b", final_at_3400(3)),
                team("a", final_at_3400(3)),
                team("c", final_at_3400(4)),
            ],
            &rules(),
        );
        assert_eq!(v.winner, None);
        assert_eq!(v.decision, Decision::Tie { users: 3000 });
        assert_eq!(
            v.reason,
            "a and b tie: sustained 3,000 users each and equal on every tie-break (vus_failed, \
             requests_failed, requests_ok, delivery_p99, request_p99) at every user level all of \
             them completed"
        );
        let ranks: Vec<(u32, &str)> = v
            .ranking
            .iter()
            .map(|r| (r.rank, r.team.as_str()))
            .collect();
        assert_eq!(ranks, vec![(1, "a"), (1, "b"), (3, "c")]);
        assert!(
            v.ranking[1]
                .behind
                .as_deref()
                .unwrap()
                .starts_with("tied with a")
        );
    }

    #[test]
    fn generator_bottleneck_voids_the_match_when_the_rules_say_so() {
        let mut beta = final_at_3400(3);
        beta.generator.bottleneck = true;
        beta.generator.warnings = vec!["scheduler lag p99 120 ms > 50 ms".into()];
        let teams = [team("alpha", final_at_3400(1)), team("beta", beta)];
        let v = judge(&teams, &rules());
        assert_eq!(v.winner, None);
        assert_eq!(v.decision, Decision::Void);
        assert_eq!(
            v.void.as_deref(),
            Some(
                "the load generator may have been the bottleneck during the run of beta \
                 (scheduler lag p99 120 ms > 50 ms)"
            )
        );
        assert!(
            v.reason.starts_with("void: the load generator"),
            "{}",
            v.reason
        );
        assert!(v.reason.ends_with("; replay the match"));
        assert_eq!(v.ranking.len(), 2, "the ranking is kept for information");
        let lenient = ScoringRules {
            void_on_generator_bottleneck: false,
            ..rules()
        };
        let v = judge(&teams, &lenient);
        assert_eq!(v.void, None);
        assert_eq!(v.winner.as_deref(), Some("alpha"));
    }

    #[test]
    fn interrupted_run_voids_the_match_when_the_rules_say_so() {
        let mut a = final_at_3400(1);
        a.partial = true;
        let teams = [team("a", a), team("b", final_at_3400(2))];
        let v = judge(&teams, &rules());
        assert_eq!(
            v.void.as_deref(),
            Some("the run of a was interrupted before the end of its plan")
        );
        let lenient = ScoringRules {
            void_on_partial_run: false,
            ..rules()
        };
        assert_eq!(judge(&teams, &lenient).winner.as_deref(), Some("a"));
    }

    #[test]
    fn no_teams_and_one_team() {
        let v = judge(&[], &rules());
        assert_eq!(v.decision, Decision::NoTeams);
        assert_eq!(v.winner, None);
        let v = judge(&[team("solo", final_at_3400(0))], &rules());
        assert_eq!(v.decision, Decision::Uncontested);
        assert_eq!(v.winner.as_deref(), Some("solo"));
        assert!(
            v.reason
                .starts_with("solo wins uncontested: sustained 3,000 users"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn unbounded_delivery_p99_loses_to_any_measured_one() {
        // Both sustain 100 users; at 200 both break, a by losing 5 % of its deliveries.
        let a = summary(vec![
            Lvl::clean(100),
            Lvl::with_deliveries(200, &[900_000; 95], 5),
        ]);
        let b = summary(vec![
            Lvl::clean(100),
            Lvl {
                failed: 5,
                ok: 1095,
                ..Lvl::with_deliveries(200, &[900_000; 100], 0)
            },
        ]);
        let v = judge(
            &[team("a", a), team("b", b)],
            &ScoringRules {
                tie_break: vec![TieBreak::DeliveryP99],
                max_request_failure_ratio: 0.001,
                ..rules()
            },
        );
        assert_eq!(v.winner.as_deref(), Some("b"), "{}", v.reason);
        assert!(
            v.reason.contains("b delivery p99 900") && v.reason.contains("vs a unbounded"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn verdict_serializes_for_match_json() {
        let v = judge(
            &[team("a", final_at_3400(3)), team("b", final_at_3400(9))],
            &rules(),
        );
        let json = serde_json::to_string(&v).unwrap();
        let back: MatchVerdict = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v);
        assert!(json.contains("\"kind\":\"tie_break\""), "{json}");
    }
}

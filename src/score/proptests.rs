//! Properties of scoring and verdicts over generated runs: more failures never help, the order teams
//! are listed in never matters, and re-scoring saved results gives the same verdict.

use proptest::prelude::*;

use super::bracket::{Bracket, Format, MatchResult, MatchScore, Outcome};
use super::journal::{Journal, Seeding};
use super::rules::{ScoringRules, TieBreak};
use super::score::score;
use super::testkit::{Lvl, summary};
use super::verdict::{MatchVerdict, judge, judge_scores};
use crate::base::hist::{Hist, decode_hist, encode_hist};
use crate::base::summary::RunSummary;

/// A level of `target` users. Each figure is usually within its rule's limit and sometimes across
/// it, so generated runs hold some levels and break others.
fn level(target: u32) -> impl Strategy<Value = Lvl> {
    let t = u64::from(target);
    let per_mille = || prop_oneof![3 => 0u64..=10, 1 => 0u64..=60];
    let latency = prop_oneof![3 => 1_000u64..900_000, 1 => 1_000u64..1_500_000];
    (
        (per_mille(), 0..=t / 10),
        (500u64..3000, per_mille()),
        proptest::collection::vec((latency, 1u64..200), 0..4),
        (per_mille(), 0u64..8),
        (1.0f64..3000.0, proptest::bool::weighted(0.1)),
    )
        .prop_map(
            move |((vu_pm, gone), (ok, req_pm), hist, (miss_pm, sent), (p99, inc))| {
                let failed_in_level = t * vu_pm / 1000;
                let delivered: u64 = hist.iter().map(|(_, n)| n).sum();
                let missing = delivered * miss_pm / 1000;
                Lvl {
                    target,
                    // Some VUs may have finished or failed before: fewer than `target` running.
                    active: (t - gone).saturating_sub(failed_in_level),
                    failed_in_level,
                    ok: ok + delivered,
                    failed: ok * req_pm / 1000 + missing,
                    sent: if delivered + missing > 0 {
                        delivered / 9 + 1
                    } else {
                        sent
                    },
                    delivered,
                    missing,
                    hist,
                    request_p99: p99,
                    incomplete: inc,
                }
            },
        )
}

/// A run of `levels` levels (100, 200, … users); only the last one may be incomplete.
fn run(levels: usize) -> impl Strategy<Value = RunSummary> {
    (1..=levels as u32)
        .map(|i| level(i * 100))
        .collect::<Vec<_>>()
        .prop_map(|mut lv| {
            let n = lv.len();
            for l in &mut lv[..n - 1] {
                l.incomplete = false;
            }
            summary(lv)
        })
}

fn rules() -> impl Strategy<Value = ScoringRules> {
    let every = vec![
        TieBreak::VusFailed,
        TieBreak::RequestsFailed,
        TieBreak::RequestsOk,
        TieBreak::VusPassed,
        TieBreak::DeliveryP99,
        TieBreak::RequestP99,
    ];
    (
        any::<bool>(),
        any::<bool>(),
        proptest::sample::subsequence(every, 0..=6).prop_shuffle(),
        prop_oneof![Just(None), (100.0f64..3000.0).prop_map(Some)],
    )
        .prop_map(
            |(require_contiguous, count_incomplete_levels, tie_break, slo)| ScoringRules {
                require_contiguous,
                count_incomplete_levels,
                tie_break,
                request_p99_slo_ms: slo,
                ..ScoringRules::default()
            },
        )
}

/// Ways to make one level of a run worse.
#[derive(Debug, Clone)]
enum Worse {
    /// `k` more VUs fail during the level (counted cumulatively from there on).
    VuFailures(u64),
    /// `k` more failed requests.
    RequestFailures(u64),
    /// `k` successful requests turn into failures.
    OkToFailed(u64),
    /// `k` more deliveries go missing.
    Missing(u64),
    /// Every delivery takes `factor` times as long, and requests get `ms` slower.
    Slower { factor: u64, ms: f64 },
}

fn worse() -> impl Strategy<Value = Worse> {
    prop_oneof![
        (1u64..200).prop_map(Worse::VuFailures),
        (1u64..500).prop_map(Worse::RequestFailures),
        (1u64..500).prop_map(Worse::OkToFailed),
        (1u64..50).prop_map(Worse::Missing),
        (1u64..20, 0.0f64..2000.0).prop_map(|(factor, ms)| Worse::Slower { factor, ms }),
    ]
}

fn make_worse(s: &mut RunSummary, at: usize, how: &Worse) {
    let at = at % s.levels.len();
    match *how {
        Worse::VuFailures(k) => {
            let row = &mut s.levels[at];
            let k = k.min(row.users_active);
            row.users_active -= k;
            row.vus_failed_in_level += k;
            for row in &mut s.levels[at..] {
                row.vus_failed += k;
                row.vus_passed = row.vus_passed.saturating_sub(k);
            }
        }
        Worse::RequestFailures(k) => s.levels[at].requests.failed += k,
        Worse::OkToFailed(k) => {
            let r = &mut s.levels[at].requests;
            let k = k.min(r.ok);
            r.ok -= k;
            r.failed += k;
        }
        Worse::Missing(k) => {
            let row = &mut s.levels[at];
            row.deliveries_missing += k;
            row.requests.failed += k;
        }
        Worse::Slower { factor, ms } => {
            let row = &mut s.levels[at];
            row.request_p99_ms += ms;
            if let Some(h) = decode_hist(&row.delivery_histogram) {
                let mut slow = Hist::new(3).unwrap();
                for v in h.iter_recorded() {
                    slow.record_n(v.value_iterated_to() * factor, v.count_at_value())
                        .unwrap();
                }
                row.delivery_p99_ms = slow.value_at_quantile(0.99) as f64 / 1000.0;
                row.delivery_histogram = encode_hist(&slow);
            }
        }
    }
}

fn teams(summaries: Vec<RunSummary>) -> Vec<(String, RunSummary)> {
    summaries
        .into_iter()
        .enumerate()
        .map(|(i, s)| (format!("team{i}"), s))
        .collect()
}

fn rank_of(v: &MatchVerdict, team: &str) -> u32 {
    v.team(team).expect("every team is ranked").rank
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn more_failures_never_raise_a_score(
        s in run(6),
        rules in rules(),
        at in 0usize..6,
        how in worse(),
    ) {
        let before = score(&s, &rules).sustained_users;
        let mut w = s.clone();
        make_worse(&mut w, at, &how);
        let after = score(&w, &rules).sustained_users;
        prop_assert!(after <= before, "{how:?} at {at}: {before} -> {after}");
    }

    #[test]
    fn more_failures_never_improve_a_rank(
        runs in proptest::collection::vec(run(5), 2..5),
        rules in rules(),
        who in 0usize..4,
        at in 0usize..5,
        how in proptest::collection::vec(worse(), 1..3),
    ) {
        let who = who % runs.len();
        let mut worse_runs = runs.clone();
        for h in &how {
            make_worse(&mut worse_runs[who], at, h);
        }
        let name = format!("team{who}");
        let before = judge(&teams(runs), &rules);
        let after = judge(&teams(worse_runs), &rules);
        prop_assert!(
            rank_of(&after, &name) >= rank_of(&before, &name),
            "{how:?}: rank {} -> {}\nbefore: {}\nafter: {}",
            rank_of(&before, &name), rank_of(&after, &name), before.reason, after.reason
        );
    }

    #[test]
    fn verdict_does_not_depend_on_team_order(
        runs in proptest::collection::vec(run(5), 1..5),
        rules in rules(),
        seed in any::<u64>(),
    ) {
        let listed = teams(runs);
        let mut shuffled = listed.clone();
        // A seeded Fisher–Yates shuffle, so a failure reproduces.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(judge(&listed, &rules), judge(&shuffled, &rules));
    }

    #[test]
    fn identical_runs_tie_and_share_a_rank(s in run(5), rules in rules()) {
        let v = judge(&teams(vec![s.clone(), s]), &rules);
        prop_assert_eq!(v.ranking[0].rank, 1);
        prop_assert_eq!(v.ranking[1].rank, 1);
        prop_assert!(v.winner.is_none());
    }

    #[test]
    fn ranks_are_competition_ranks_and_the_winner_is_the_sole_first(
        runs in proptest::collection::vec(run(4), 1..6),
        rules in rules(),
    ) {
        let v = judge(&teams(runs), &rules);
        for (i, r) in v.ranking.iter().enumerate() {
            let better = v.ranking.iter().filter(|o| o.rank < r.rank).count();
            prop_assert_eq!(r.rank as usize, better + 1);
            prop_assert!(i == 0 || v.ranking[i - 1].rank <= r.rank);
            prop_assert!(i == 0 || v.ranking[i - 1].score.sustained_users >= r.score.sustained_users);
            prop_assert_eq!(r.behind.is_some(), i > 0);
        }
        let firsts = v.ranking.iter().filter(|r| r.rank == 1).count();
        let expect_winner = firsts == 1 && v.void.is_none();
        prop_assert_eq!(v.winner.is_some(), expect_winner, "{}", v.reason);
        if let Some(w) = &v.winner {
            prop_assert_eq!(w, &v.ranking[0].team);
            prop_assert!(v.reason.starts_with(&format!("{w} wins")), "{}", v.reason);
        }
    }

    #[test]
    fn scoring_is_deterministic_and_rescoring_saved_results_agrees(
        runs in proptest::collection::vec(run(5), 1..4),
        rules in rules(),
    ) {
        let listed = teams(runs);
        let live = judge(&listed, &rules);
        prop_assert_eq!(&judge(&listed, &rules), &live);
        // Offline: summaries read back from their JSON, rules from their TOML.
        let saved: Vec<(String, RunSummary)> = listed
            .iter()
            .map(|(n, s)| {
                let json = serde_json::to_string(s).unwrap();
                (n.clone(), serde_json::from_str(&json).unwrap())
            })
            .collect();
        let rules_back = ScoringRules::from_toml_str(&rules.to_toml_string()).unwrap();
        prop_assert_eq!(&judge(&saved, &rules_back), &live);
        // From the scores kept in match.json.
        let json = serde_json::to_string(&live).unwrap();
        let back: MatchVerdict = serde_json::from_str(&json).unwrap();
        let scores = back.ranking.iter().map(|r| (r.team.clone(), r.score.clone())).collect();
        prop_assert_eq!(&judge_scores(scores, &back.rules), &live);
    }

    #[test]
    fn sustained_level_held_and_every_level_below_it_held_when_contiguous(
        s in run(8),
        rules in rules(),
    ) {
        let t = score(&s, &rules);
        match t.sustained_level {
            Some(i) => {
                let l = t.level(i).unwrap();
                prop_assert!(l.ok);
                prop_assert_eq!(l.target_users, t.sustained_users);
                if rules.require_contiguous {
                    prop_assert!(t.levels.iter().take_while(|x| x.index != i).all(|x| x.ok));
                }
                if !rules.require_contiguous {
                    let highest = t.levels.iter().filter(|x| x.ok).map(|x| x.target_users).max();
                    prop_assert_eq!(highest, Some(t.sustained_users));
                }
            }
            None => prop_assert_eq!(t.sustained_users, 0),
        }
        for l in &t.levels {
            prop_assert_eq!(l.ok, l.broken_rules.is_empty());
        }
    }
}

/// A deterministic referee for generated brackets: from `seed` and a match's name it decides
/// whether the match is void this time, drawn, or won by one side.
pub(crate) fn referee(seed: u64, id: &str, attempt: u32, teams: &[String; 2]) -> MatchResult {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for b in id.bytes().chain(attempt.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let outcome = match h % 10 {
        0 => Outcome::Void,
        1 => Outcome::Draw,
        x => Outcome::Won {
            winner: teams[(x % 2) as usize].clone(),
        },
    };
    MatchResult {
        outcome,
        scores: teams
            .iter()
            .enumerate()
            .map(|(i, t)| MatchScore {
                team: t.clone(),
                sustained_users: ((h >> (8 * i)) % 30) as u32 * 100,
            })
            .collect(),
        reason: format!("referee {h:x}"),
    }
}

/// Plays every next match until the bracket is finished; returns how many results (void ones
/// included) were recorded.
pub(crate) fn play_out(b: &mut Bracket, seed: u64) -> usize {
    let mut recorded = 0;
    while let Some(m) = b.next_matches().into_iter().next() {
        let attempt = b
            .matches()
            .iter()
            .find(|x| x.id == m.id)
            .unwrap()
            .voids
            .len() as u32;
        b.record(&m.id, referee(seed, &m.id.0, attempt, &m.teams))
            .unwrap();
        recorded += 1;
        assert!(recorded < 10_000, "bracket does not finish");
    }
    recorded
}

fn format() -> impl Strategy<Value = Format> {
    prop_oneof![
        Just(Format::Single),
        Just(Format::Double),
        Just(Format::RoundRobin)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_bracket_plays_out_to_one_champion_and_complete_standings(
        n in 1usize..=17,
        format in format(),
        seed in any::<u64>(),
    ) {
        let teams: Vec<String> = (1..=n).map(|i| format!("t{i}")).collect();
        let mut b = Bracket::new(format, teams.clone()).unwrap();
        play_out(&mut b, seed);
        prop_assert!(b.is_finished());
        let played = b.matches().iter().filter(|m| m.result.is_some()).count();
        let expected = match format {
            Format::Single => vec![n - 1],
            // One match eliminates one team, twice over for everyone but the champion, who may have
            // lost once (the reset).
            Format::Double if n == 1 => vec![0],
            Format::Double => vec![2 * n - 2, 2 * n - 1],
            Format::RoundRobin => vec![n * (n - 1) / 2],
        };
        prop_assert!(expected.contains(&played), "{played} matches for {n} teams, {format}");
        let st = b.standings();
        prop_assert!(st.finished);
        let mut listed: Vec<String> = st.rows.iter().map(|r| r.team.clone()).collect();
        listed.sort();
        let mut all = teams.clone();
        all.sort();
        prop_assert_eq!(listed, all);
        prop_assert!(st.rows.windows(2).all(|w| w[0].place <= w[1].place));
        for (i, r) in st.rows.iter().enumerate() {
            let better = st.rows.iter().filter(|o| o.place < r.place).count();
            prop_assert_eq!(r.place as usize, better + 1, "row {}", i);
        }
        if format == Format::RoundRobin {
            let games: u32 = st.rows.iter().map(|r| r.wins + r.draws + r.losses).sum();
            prop_assert_eq!(games as usize, n * n.saturating_sub(1));
        } else {
            let champion = st.champion.clone().expect("elimination always crowns someone");
            prop_assert_eq!(&st.rows[0].team, &champion);
            prop_assert_eq!(st.rows.iter().filter(|r| r.place == 1).count(), 1);
            // Everyone but the champion was knocked out exactly once.
            prop_assert_eq!(st.rows.iter().filter(|r| r.eliminated_in.is_none()).count(), 1);
            if format == Format::Single && n >= 2 {
                prop_assert_eq!(st.rows[1].place, 2);
            }
        }
        // next_matches never offers a finished match, and a finished bracket offers none.
        prop_assert!(b.next_matches().is_empty());
    }

    #[test]
    fn next_matches_only_offers_playable_matches_in_a_stable_order(
        n in 2usize..=12,
        format in format(),
        seed in any::<u64>(),
        steps in 0usize..20,
    ) {
        let teams: Vec<String> = (1..=n).map(|i| format!("t{i}")).collect();
        let mut b = Bracket::new(format, teams).unwrap();
        for _ in 0..steps {
            let next = b.next_matches();
            prop_assert_eq!(&next, &b.clone().next_matches());
            let Some(m) = next.into_iter().next() else { break };
            let attempt = b.matches().iter().find(|x| x.id == m.id).unwrap().voids.len() as u32;
            b.record(&m.id, referee(seed, &m.id.0, attempt, &m.teams)).unwrap();
        }
        for m in b.next_matches() {
            let found = b.matches().iter().find(|x| x.id == m.id).unwrap();
            prop_assert!(found.result.is_none());
            prop_assert_ne!(&m.teams[0], &m.teams[1]);
        }
    }
}

/// Plays a journaled bracket to the end; returns the journal text as it grew.
fn play_journaled(j: &mut Journal, text: &mut String, seed: u64) {
    while let Some(m) = j.bracket().next_matches().into_iter().next() {
        let attempt = j
            .bracket()
            .matches()
            .iter()
            .find(|x| x.id == m.id)
            .unwrap()
            .voids
            .len() as u32;
        let line = j
            .record(&m.id, referee(seed, &m.id.0, attempt, &m.teams), None)
            .unwrap();
        text.push_str(&line);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn resuming_after_a_crash_anywhere_ends_with_the_same_standings(
        n in 1usize..=10,
        format in format(),
        seed in any::<u64>(),
        cut in any::<proptest::sample::Index>(),
    ) {
        let teams: Vec<String> = (1..=n).map(|i| format!("t{i}")).collect();
        let (mut full, mut text) =
            Journal::create(format, teams, Seeding::FileOrder, ScoringRules::default()).unwrap();
        let first_line = text.len();
        play_journaled(&mut full, &mut text, seed);
        prop_assert!(full.bracket().is_finished());
        // The whole journal replays to the finished bracket.
        let whole = Journal::replay(&text).unwrap();
        prop_assert_eq!(&whole.journal, &full);

        // Crash after any byte past the first line; the first line is written before any match.
        let at = first_line + cut.index(text.len() - first_line + 1);
        let crashed = &text[..at];
        let r = Journal::replay(crashed).unwrap();
        prop_assert_eq!(r.torn_tail, !crashed.is_empty() && !crashed.ends_with('\n'));
        prop_assert!(crashed[..r.valid_len].ends_with('\n'));
        let mut resumed = r.journal;
        // Matches finished before the crash keep their results and are not offered again.
        for m in resumed.bracket().matches() {
            if let Some(result) = &m.result {
                let same = full.bracket().matches().iter().find(|x| x.id == m.id).unwrap();
                prop_assert_eq!(Some(result), same.result.as_ref());
                prop_assert!(resumed.bracket().next_matches().iter().all(|x| x.id != m.id));
            }
        }
        let mut resumed_text = crashed[..r.valid_len].to_string();
        play_journaled(&mut resumed, &mut resumed_text, seed);
        prop_assert_eq!(resumed.bracket().standings(), full.bracket().standings());
        prop_assert_eq!(Journal::replay(&resumed_text).unwrap().journal.bracket().standings(),
            full.bracket().standings());
    }
}
